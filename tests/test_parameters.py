"""theta: the stacking order, views, and He initialization."""

from __future__ import annotations

import numpy as np
import pytest

from kronconv import Architecture, init_params, pack_params, unpack_params, vec


def test_unpack_params_reads_vec_W_then_b_layer_by_layer():
    arch = Architecture.preset("digits")
    theta = np.arange(arch.n_params, dtype=float)
    layers = unpack_params(theta, arch)
    start = 0
    for (W, b), ((rows, cols), n_b) in zip(layers, arch.layer_param_shapes, strict=True):
        assert W.shape == (rows, cols)
        np.testing.assert_array_equal(vec(W), theta[start:start + rows * cols])
        start += rows * cols
        np.testing.assert_array_equal(b, theta[start:start + n_b])
        start += n_b
    assert start == arch.n_params
    np.testing.assert_array_equal(pack_params(layers), theta)


def test_unpack_params_returns_views():
    arch = Architecture.preset("digits")
    theta = np.zeros(arch.n_params)
    W, b = unpack_params(theta, arch)[1]
    W[2, 3] = 7.0
    b[1] = 5.0
    assert theta[2 + W.shape[0] * 3 + 8 * 9 + 8] == 7.0      # after conv1's W and b
    assert theta[8 * 9 + 8 + W.size + 1] == 5.0


def test_init_params_is_he_normal_with_zero_biases_and_reproducible():
    arch = Architecture.preset("mnist-3layer")
    theta = init_params(arch, seed=3)
    np.testing.assert_array_equal(theta, init_params(arch, seed=3))
    assert not np.array_equal(theta, init_params(arch, seed=4))
    # the documented scheme: default_rng(seed), layer by layer, N(0, 2 / fan_in)
    rng = np.random.default_rng(3)
    first_W, first_b = unpack_params(theta, arch)[0]
    np.testing.assert_array_equal(first_W, rng.standard_normal((32, 25)) * np.sqrt(2 / 25))
    assert not np.any(first_b)
    for W, b in unpack_params(theta, arch):
        assert not np.any(b)
        if W.size > 10_000:     # enough draws for the spread to be within a few percent
            assert abs(W.std() / np.sqrt(2 / W.shape[1]) - 1) < 0.03
            assert abs(W.mean()) < 0.03 * W.std()


def test_init_params_float32_is_the_float64_draw_rounded():
    arch = Architecture.preset("digits")
    theta32 = init_params(arch, seed=1, dtype=np.float32)
    assert theta32.dtype == np.float32
    np.testing.assert_array_equal(theta32, init_params(arch, seed=1).astype(np.float32))


def test_unpack_params_init_params_pack_params_reject_bad_inputs():
    arch = Architecture.preset("digits")
    with pytest.raises(ValueError, match=r"theta must have shape \(n_params,\) = \(3658,\)"):
        unpack_params(np.zeros(3657), arch)
    with pytest.raises(TypeError, match="arch must be an Architecture, got str"):
        unpack_params(np.zeros(3658), "digits")
    with pytest.raises(TypeError, match="dtype must be float32 or float64, got int32"):
        init_params(arch, dtype=np.int32)
    with pytest.raises(ValueError, match="seed must be >= 0, got -1"):
        init_params(arch, seed=-1)
    with pytest.raises(ValueError, match=r"b of layer 1 must have shape \(rows of W,\)"):
        pack_params([(np.zeros((2, 3)), np.zeros(3))])
