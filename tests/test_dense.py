"""The dense fast path gives the sparse chain's numbers, on every test shape."""

from __future__ import annotations

import numpy as np
import pytest
from _networks import random_data, random_network
from _reference import assert_rel_close
from _strategies import layer_shapes, with_edge_shapes
from hypothesis import given, settings
from hypothesis import strategies as st

from kronconv import (
    ACTIVATIONS,
    Architecture,
    LayerShape,
    P_phi,
    backward,
    conv_S,
    dense,
    forward,
    grad_b,
    grad_W,
    grad_Z,
    layer_output,
    objective_and_gradient,
    phi_pad,
    pool,
)
from kronconv.layout import columns_from_channel_first


@settings(max_examples=60, deadline=None)
@given(shape=layer_shapes(), seed=st.integers(0, 2**32 - 1),
       act=st.sampled_from(sorted(ACTIVATIONS)))
@with_edge_shapes(seed=0, act="relu")
def test_forward_and_backward_dense_equal_sparse_on_one_layer(shape, seed, act):
    rng = np.random.default_rng(seed)
    N = 3
    Z = rng.normal(size=(shape.d, shape.a * shape.b * N))
    W, b = rng.normal(size=shape.W_shape), rng.normal(size=shape.d_out)
    out_s, cache_s = forward(Z, W, b, shape, act, "sparse")
    out_d, cache_d = forward(Z, W, b, shape, act, "dense")
    assert_rel_close(out_d, out_s, 1e-12, "Z^{m+1}")
    assert_rel_close(layer_output(Z, W, b, shape, act, "dense"), out_s, 1e-12, "layer_output")
    # the same phi and sigma'(S), read in the one public layout
    assert (cache_s.backend, cache_d.backend) == ("sparse", "dense")
    assert_rel_close(cache_d.phi_matrix(), cache_s.phi_matrix(), 0, "phi")
    assert_rel_close(cache_d.dsigma_S_matrix(), cache_s.dsigma_S_matrix(), 1e-12, "sigma'(S)")
    G = rng.normal(size=out_s.shape)
    for name, x, y in zip(("dW", "db", "dZ"), backward(G, W, cache_d), backward(G, W, cache_s),
                          strict=True):
        assert_rel_close(x, y, 1e-12, name)


def test_forward_max_pool_ties_and_overlaps_route_like_the_sparse_operator():
    # integer-valued inputs tie often; overlapping windows share entries
    shape = LayerShape(a=7, b=6, d=2, d_out=2, h=2, pool="max", pool_size=3, pool_stride=1)
    rng = np.random.default_rng(0)
    Z = rng.integers(-2, 3, size=(2, 42 * 4)).astype(float)
    W = rng.integers(-1, 2, size=shape.W_shape).astype(float)
    b = np.zeros(2)
    out_s, cache_s = forward(Z, W, b, shape, "relu", "sparse")
    out_d, cache_d = forward(Z, W, b, shape, "relu", "dense")
    np.testing.assert_array_equal(out_d, out_s)
    G = rng.normal(size=out_s.shape)
    for x, y in zip(backward(G, W, cache_d), backward(G, W, cache_s), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_objective_and_gradient_backends_agree_on_networks(seed):
    arch, loss, C = random_network(seed)
    theta, Z, y = random_data(arch, N=5, seed=seed)
    f_s, g_s = objective_and_gradient(theta, arch, Z, y, C, loss, backend="sparse")
    f_d, g_d = objective_and_gradient(theta, arch, Z, y, C, loss, backend="dense",
                                      chunk_size=2)
    assert f_d == pytest.approx(f_s, rel=1e-12)
    assert_rel_close(g_d, g_s, 1e-12, "∇f dense vs sparse")


@pytest.mark.parametrize("name", ["mnist-3layer", "cifar10-3layer"])
def test_objective_and_gradient_backends_agree_on_presets_in_both_dtypes(name):
    arch = Architecture.preset(name)
    theta, Z, y = random_data(arch, N=3, seed=1)
    f_s, g_s = objective_and_gradient(theta, arch, Z, y, 0.1, "cross_entropy")
    f_d, g_d = objective_and_gradient(theta, arch, Z, y, 0.1, "cross_entropy", backend="dense")
    assert f_d == pytest.approx(f_s, rel=1e-12)
    assert_rel_close(g_d, g_s, 1e-12, f"{name} ∇f")
    f32, g32 = objective_and_gradient(theta.astype(np.float32), arch, Z.astype(np.float32), y,
                                      0.1, "cross_entropy", backend="dense")
    assert g32.dtype == np.float32
    assert f32 == pytest.approx(f_s, rel=1e-5)
    assert_rel_close(g32, g_s, 1e-4, f"{name} ∇f float32")


def test_backward_dense_rejects_the_kronecker_form():
    shape = LayerShape(a=3, b=3, d=1, d_out=1, h=2)
    out, cache = forward(np.ones((1, 9)), np.ones((1, 4)), np.zeros(1), shape, backend="dense")
    with pytest.raises(ValueError, match="form='kron' is the sparse chain's"):
        backward(out, np.ones((1, 4)), cache, form="kron")
    with pytest.raises(ValueError, match=r"backend must be one of \('sparse', 'dense'\)"):
        forward(np.ones((1, 9)), np.ones((1, 4)), np.zeros(1), shape, backend="gpu")


def test_forward_large_pooling_windows_keep_their_index():
    # 12 x 12 = 144 window entries do not fit int8: the first maximum must still be found
    shape = LayerShape(a=12, b=12, d=1, d_out=1, h=1, pool="max", pool_size=12)
    Z = np.zeros((1, 144 * 2))
    Z[0, 140], Z[0, 144 + 5] = 3.0, 2.0              # instance 1's max at entry 140, 2's at 5
    W, b = np.ones((1, 1)), np.zeros(1)
    out_d, cache_d = forward(Z, W, b, shape, "identity", "dense")
    _, cache_s = forward(Z, W, b, shape, "identity", "sparse")
    np.testing.assert_array_equal(out_d, [[3.0, 2.0]])
    np.testing.assert_array_equal(backward(np.ones((1, 2)), W, cache_d)[2],
                                  backward(np.ones((1, 2)), W, cache_s)[2])


@settings(max_examples=40, deadline=None)
@given(shape=layer_shapes(), seed=st.integers(0, 2**32 - 1))
@with_edge_shapes(seed=0)
def test_conv_S_and_every_equation_function_dense_equal_sparse(shape, seed):
    # every per-equation function, run on both backends from the same batch matrices
    rng = np.random.default_rng(seed)
    N = 2
    Z = rng.normal(size=(shape.d, shape.a * shape.b * N))
    W, b = rng.normal(size=shape.W_shape), rng.normal(size=shape.d_out)
    dS = rng.normal(size=(shape.d_out, shape.n_windows * N))
    phi = phi_pad(Z, shape)
    assert_rel_close(phi_pad(Z, shape, backend="dense"), phi, 0, "phi_pad")
    assert_rel_close(conv_S(Z, W, b, shape, backend="dense"), conv_S(Z, W, b, shape), 1e-12,
                     "conv_S")
    assert_rel_close(pool(dS, shape, backend="dense"), pool(dS, shape), 1e-12, "pool")
    assert_rel_close(grad_W(dS, phi, shape, backend="dense"), grad_W(dS, phi, shape, "kron"),
                     1e-12, "grad_W")
    assert_rel_close(grad_b(dS, shape, backend="dense"), grad_b(dS, shape, "kron"), 1e-12,
                     "grad_b")
    assert_rel_close(grad_Z(dS, W, shape, backend="dense"), grad_Z(dS, W, shape, "kron"),
                     1e-12, "grad_Z")


def _inner(x, y):
    return float(np.sum(x * y))


@settings(max_examples=60, deadline=None)
@given(shape=layer_shapes(), seed=st.integers(0, 2**32 - 1))
@with_edge_shapes(seed=0)
def test_dense_pad_im2col_pool_apply_are_adjoint_to_their_transposes(shape, seed):
    # <A x, y> = <x, A^T y> for each matrix-free pair: pad/pad_T, im2col/col2im, pool/pool_T
    rng = np.random.default_rng(seed)
    N = 2
    X = rng.normal(size=(shape.d, shape.b, shape.a, N))
    Xp = rng.normal(size=(shape.d, shape.b_pad, shape.a_pad, N))
    cols = rng.normal(size=(shape.W_shape[1], shape.n_windows * N))
    tol = 1e-12 * (1 + np.abs(X).sum() + np.abs(Xp).sum() + np.abs(cols).sum())
    assert abs(_inner(dense.pad(X, shape), Xp) - _inner(X, dense.pad_T(Xp, shape))) < tol
    assert abs(_inner(dense.im2col(Xp, shape), cols) - _inner(Xp, dense.col2im(cols, shape))) < tol
    A = rng.normal(size=(shape.d_out, shape.b_conv, shape.a_conv, N))
    Y = rng.normal(size=(shape.d_out, shape.b_out, shape.a_out, N))
    _, index = dense.pool(A, shape)               # max pooling: the choice made on A
    B = rng.normal(size=A.shape)                  # the same (linear) pooling applied to B
    lhs = _inner(dense.pool_apply(B, shape, index), Y)
    assert abs(lhs - _inner(B, dense.pool_T(Y, shape, index))) < 1e-12 * (
        1 + np.abs(B).sum() * np.abs(Y).max())
    # and the pair is the public operator: pool_apply is P_pool of the choice made on A
    from kronconv import P_pool
    from kronconv.layout import batch_from_columns, columns_from_channel_first
    A_batch = batch_from_columns(columns_from_channel_first(A), shape.d_out)
    B_cols = columns_from_channel_first(B)
    P = P_pool(shape, A_batch) if shape.pool == "max" else P_pool(shape)
    expected = (P @ B_cols.ravel(order="F") if shape.pool == "max" else P @ B_cols)
    got = columns_from_channel_first(dense.pool_apply(B, shape, index))
    assert_rel_close(got.ravel(order="F") if shape.pool == "max" else got, expected, 1e-12,
                     "pool_apply vs P_pool")


@settings(max_examples=60, deadline=None)
@given(shape=layer_shapes(), seed=st.integers(0, 2**32 - 1))
@with_edge_shapes(seed=0)
def test_im2col_is_P_phi_applied_to_each_instance(shape, seed):
    # the window view's copy against the operator itself, column by column (any stride,
    # padding 0 included), on a non-contiguous padded batch
    rng = np.random.default_rng(seed)
    N = 3
    Xp = rng.normal(size=(shape.d, shape.b_pad, shape.a_pad, 2 * N))[..., ::2]
    phi = dense.im2col(Xp, shape).reshape(shape.W_shape[1], shape.n_windows, N)
    expected = P_phi(shape) @ columns_from_channel_first(np.ascontiguousarray(Xp))
    # P_phi's rows per instance: (i + h*j + h*h*c) + h*h*d*(u + a_conv*w), window-major
    np.testing.assert_array_equal(phi.transpose(1, 0, 2).reshape(-1, N), expected)


def test_a_window_view_that_disagrees_with_P_phi_is_refused(monkeypatch):
    shape = LayerShape(a=5, b=4, d=2, d_out=1, h=3, stride=2, padding=1)
    monkeypatch.setattr(dense, "_windows",
                        lambda X, s: np.swapaxes(_true_windows(X, s), 1, 2))   # j and i swapped
    dense._check_windows.cache_clear()
    try:
        with pytest.raises(AssertionError, match="disagrees with P_phi's index"):
            dense.im2col(np.zeros((2, shape.b_pad, shape.a_pad, 1)), shape)
    finally:
        dense._check_windows.cache_clear()


_true_windows = dense._windows
