"""Max pooling's first maximum (kronconv.pooling), and the dense path's max pooling before a
ReLU, against the definition: P_pool built from sigma(S), ties to the first entry."""

from __future__ import annotations

import numpy as np
import pytest
from _reference import P_pool_loop, assert_rel_close

from kronconv import LayerShape, backward, forward
from kronconv.backends import backend_of, get_backend
from kronconv.layout import channel_first_from_columns
from kronconv.pooling import first_max

SHAPES = [LayerShape(a=4, b=4, d=1, d_out=2, h=1, pool="max", pool_size=2),
          LayerShape(a=5, b=4, d=2, d_out=2, h=1, pool="max", pool_size=2),      # a row left
          LayerShape(a=5, b=5, d=1, d_out=1, h=1, pool="max", pool_size=3, pool_stride=1)]


def first_max_loop(A: np.ndarray, shape: LayerShape) -> tuple[np.ndarray, np.ndarray]:
    """The definition, window by window: the largest entry and the first e = i + k*j holding it."""
    k, t = shape.pool_size, shape.pool_stride
    d, _, _, N = A.shape
    top = np.empty((d, shape.b_out, shape.a_out, N))
    index = np.empty(top.shape, dtype=int)
    for c, q, r, n in np.ndindex(top.shape):
        window = [A[c, q * t + j, r * t + i, n] for j in range(k) for i in range(k)]
        top[c, q, r, n] = max(window)
        index[c, q, r, n] = window.index(max(window))
    return top, index


@pytest.mark.parametrize("shape", SHAPES)
def test_first_max_equals_the_loop_on_ties_and_negative_values(shape):
    rng = np.random.default_rng(0)
    A = rng.integers(-3, 2, size=(shape.d_out, shape.b_conv, shape.a_conv, 4)).astype(float)
    top, index = first_max(A, shape)
    top_ref, index_ref = first_max_loop(A, shape)
    np.testing.assert_array_equal(top, top_ref)
    np.testing.assert_array_equal(index, index_ref)


def _layer_with_ties(shape: LayerShape, N: int, seed: int):
    """1x1 filters on small integers: many tied windows, windows <= 0 (a last image of 0s)."""
    rng = np.random.default_rng(seed)
    Z = rng.integers(-2, 3, size=(shape.d, shape.a * shape.b * N)).astype(float)
    Z[:, -shape.a * shape.b:] = 0
    W = rng.integers(-1, 2, size=shape.W_shape).astype(float)
    return Z, W, np.array([0.0, -1.0][:shape.d_out])


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dense_pooling_before_relu_equals_the_definition(shape, seed):
    Z, W, b = _layer_with_ties(shape, 3, seed)
    out_s, cache_s = forward(Z, W, b, shape, "relu", "sparse")    # P_pool from relu(S)
    out_d, cache_d = forward(Z, W, b, shape, "relu", "dense")
    np.testing.assert_array_equal(out_d, out_s)
    S = channel_first_from_columns(cache_s.S, shape.a_conv, shape.b_conv, shape.d_out)
    assert (S <= 0).any()
    assert (first_max_loop(np.maximum(S, 0), shape)[0] == 0).any()
    pattern_ref = first_max_loop(np.maximum(S, 0), shape)[1]
    relu_S = np.maximum(cache_s.S, 0)          # instance columns: vec(relu(S^n)) in column n
    columns_ref = np.concatenate([   # P_pool's 1 in every row, from the loop definition
        P_pool_loop(shape, relu_S[:, n].reshape(shape.d_out, -1, order="F")).argmax(axis=1)
        + n * shape.n_S for n in range(relu_S.shape[1])])
    np.testing.assert_array_equal(backend_of(cache_s).pool_pattern(cache_s), columns_ref)
    np.testing.assert_array_equal(backend_of(cache_d).pool_pattern(cache_d), pattern_ref)
    dZ_next = np.random.default_rng(seed).normal(size=out_s.shape)
    for got, want in zip(backward(dZ_next, W, cache_d), backward(dZ_next, W, cache_s),
                         strict=True):
        assert_rel_close(got, want, 1e-14, "dW, db, dZ")
    VW, vb = np.random.default_rng(seed + 1).normal(size=W.shape), np.array([0.5, -0.5])[:len(b)]
    R_s = get_backend("sparse").R_forward(None, VW, vb, W, cache_s)
    R_d = get_backend("dense").R_forward(None, VW, vb, W, cache_d)
    assert_rel_close(get_backend("dense").to_columns(R_d), R_s, 1e-14, "R(Z_next)")
