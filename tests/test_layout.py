"""Layout converters: round trips, and each pinned to the index formulas of docs/conventions.rst."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kronconv import (
    W_from_hwio,
    W_from_nchw_flat,
    W_from_nhwc_flat,
    W_from_oihw,
    Z_from_chw,
    Z_from_hwc,
    Z_from_nchw,
    Z_from_nhwc,
    chw_from_Z,
    hwc_from_Z,
    hwio_from_W,
    mat,
    nchw_flat_from_W,
    nchw_from_Z,
    nhwc_flat_from_W,
    nhwc_from_Z,
    oihw_from_W,
    vec,
)

dims = st.integers(1, 5)


def test_vec_is_column_major_and_mat_inverts_it():
    A = np.arange(12.0).reshape(3, 4)
    v = vec(A)
    for i in range(3):
        for j in range(4):
            assert v[i + 3 * j] == A[i, j]
    np.testing.assert_array_equal(mat(v, 3, 4), A)
    with pytest.raises(ValueError, match=r"v must have shape \(12,\) to form a 4 x 3 matrix"):
        mat(v[:-1], 4, 3)
    with pytest.raises(ValueError, match=r"A must have shape \(r, c\)"):
        vec(np.zeros(3))


@settings(max_examples=25, deadline=None)
@given(N=dims, d=dims, a=dims, b=dims)
def test_Z_from_nchw_and_image_converters_match_index_formulas(N, d, a, b):
    x = np.random.default_rng(N * 1000 + d * 100 + a * 10 + b).normal(size=(N, d, a, b))
    Z = Z_from_nchw(x)
    Zh = Z_from_nhwc(x.transpose(0, 2, 3, 1))
    assert Z.shape == (d, a * b * N)
    for n in range(N):
        Zi, Zhi = Z_from_chw(x[n]), Z_from_hwc(x[n].transpose(1, 2, 0))
        for c in range(d):
            for r in range(a):
                for q in range(b):
                    # Z[c, r + a*q] = x[c, r, q]; instance n adds n*a*b (docs/conventions.rst)
                    assert Zi[c, r + a * q] == x[n, c, r, q]
                    assert Zhi[c, r + a * q] == x[n, c, r, q]
                    assert Z[c, n * a * b + r + a * q] == x[n, c, r, q]
                    assert Zh[c, n * a * b + r + a * q] == x[n, c, r, q]
                    # vec(Z) holds (c, r, q) at c + d*r + d*a*q
                    assert vec(Zi)[c + d * r + d * a * q] == x[n, c, r, q]


@settings(max_examples=25, deadline=None)
@given(N=dims, d=dims, a=dims, b=dims)
def test_nchw_from_Z_and_image_converters_round_trip(N, d, a, b):
    x = np.random.default_rng(a + 7 * b).normal(size=(N, d, a, b))
    np.testing.assert_array_equal(nchw_from_Z(Z_from_nchw(x), a, b), x)
    np.testing.assert_array_equal(chw_from_Z(Z_from_chw(x[0]), a, b), x[0])
    xh = x.transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(nhwc_from_Z(Z_from_nhwc(xh), a, b), xh)
    np.testing.assert_array_equal(hwc_from_Z(Z_from_hwc(xh[0]), a, b), xh[0])
    Z = Z_from_nchw(x)
    np.testing.assert_array_equal(Z_from_nchw(nchw_from_Z(Z, a, b)), Z)


@settings(max_examples=25, deadline=None)
@given(o=dims, d=dims, h=st.integers(1, 4))
def test_W_from_oihw_and_hwio_match_index_formulas_and_round_trip(o, d, h):
    w = np.random.default_rng(o + 10 * d + 100 * h).normal(size=(o, d, h, h))
    W = W_from_oihw(w)
    Wh = W_from_hwio(w.transpose(2, 3, 1, 0))
    assert W.shape == (o, h * h * d)
    for oo in range(o):
        for c in range(d):
            for i in range(h):
                for j in range(h):
                    assert W[oo, i + h * j + h * h * c] == w[oo, c, i, j]
                    assert Wh[oo, i + h * j + h * h * c] == w[oo, c, i, j]
    np.testing.assert_array_equal(oihw_from_W(W, h), w)
    np.testing.assert_array_equal(hwio_from_W(W, h), w.transpose(2, 3, 1, 0))


def test_Z_from_nchw_and_converters_return_new_arrays():
    x = np.ones((1, 1, 1, 1))
    for out in (Z_from_nchw(x), Z_from_nhwc(x), Z_from_chw(x[0]), Z_from_hwc(x[0]),
                W_from_oihw(x), W_from_hwio(x), nchw_from_Z(x[0, 0], 1, 1),
                oihw_from_W(x[0, 0], 1)):
        assert not np.shares_memory(out, x)


def test_Z_from_nchw_and_W_from_oihw_keep_dtype():
    x = np.arange(24, dtype=np.uint8).reshape(2, 3, 2, 2)
    assert Z_from_nchw(x).dtype == np.uint8
    assert W_from_oihw(x.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize(("call", "message"), [
    (lambda: Z_from_chw(np.zeros((2, 3))), r"x must have shape \(d, a, b\), got shape \(2, 3\)"),
    (lambda: Z_from_nchw(np.zeros((2, 3, 4))), r"x must have shape \(N, d, a, b\)"),
    (lambda: Z_from_hwc(np.zeros(3)), r"x must have shape \(a, b, d\)"),
    (lambda: Z_from_nhwc(np.zeros((1, 2, 3))), r"x must have shape \(N, a, b, d\)"),
    (lambda: nchw_from_Z(np.zeros((2, 7)), 2, 2),
     r"Z must have shape \(d, a\*b\*N\) = \(2, 4\*N\) with N >= 1, got shape \(2, 7\)"),
    (lambda: chw_from_Z(np.zeros((2, 8)), 2, 2), r"Z must have shape \(d, a\*b\) = \(2, 4\)"),
    (lambda: hwc_from_Z(np.zeros((2, 0)), 2, 2), r"with N >= 1, got shape \(2, 0\)"),
    (lambda: W_from_oihw(np.zeros((1, 1, 2, 3))), r"square filters, got \(1, 1, 2, 3\)"),
    (lambda: W_from_hwio(np.zeros((2, 3, 1, 1))), r"square filters, got \(2, 3, 1, 1\)"),
    (lambda: oihw_from_W(np.zeros((2, 5)), 2),
     r"W must have shape \(d_out, h\*h\*d\) = \(d_out, 4\*d\) for h=2, got shape \(2, 5\)"),
    (lambda: hwio_from_W(np.zeros(5), 1), r"W must have shape \(d_out, h\*h\*d\)"),
    (lambda: nhwc_from_Z(np.zeros((1, 4)), 0, 4), r"a must be >= 1, got 0"),
])
def test_Z_from_chw_and_converters_reject_bad_shapes(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_nchw_from_Z_and_oihw_from_W_reject_non_integer_sizes():
    with pytest.raises(TypeError, match=r"b must be an integer, got 2\.0 of type float"):
        nchw_from_Z(np.zeros((1, 4)), 2, 2.0)
    with pytest.raises(TypeError, match="h must be an integer"):
        oihw_from_W(np.zeros((1, 4)), True)


@settings(max_examples=20, deadline=None)
@given(n=dims, d=dims, a=dims, b=dims)
def test_W_from_nchw_flat_and_nhwc_flat_match_the_frameworks_flatten(n, d, a, b):
    w = np.random.default_rng(n + 10 * d + 100 * a + 1000 * b).normal(size=(n, d * a * b))
    W, Wh = W_from_nchw_flat(w, d, a, b), W_from_nhwc_flat(w, d, a, b)
    for c in range(d):
        for r in range(a):
            for q in range(b):
                # kronconv's z = vec(Z) holds (c, r, q) at c + d*r + d*a*q
                assert np.array_equal(W[:, c + d * r + d * a * q], w[:, c * a * b + r * b + q])
                assert np.array_equal(Wh[:, c + d * r + d * a * q], w[:, r * b * d + q * d + c])
    np.testing.assert_array_equal(nchw_flat_from_W(W, d, a, b), w)
    np.testing.assert_array_equal(nhwc_flat_from_W(Wh, d, a, b), w)
    # the same linear map: W vec(Z) equals w applied to the framework's flatten
    x = np.random.default_rng(0).normal(size=(1, d, a, b))
    np.testing.assert_allclose(W @ vec(Z_from_nchw(x)), w @ x.reshape(-1), rtol=1e-12)
    np.testing.assert_allclose(Wh @ vec(Z_from_nchw(x)), w @ x.transpose(0, 2, 3, 1).reshape(-1),
                               rtol=1e-12)


def test_W_from_nchw_flat_and_nhwc_flat_reject_bad_shapes():
    with pytest.raises(ValueError, match=r"w must have shape \(n_out, d\*a\*b\) = \(2, 12\)"):
        W_from_nchw_flat(np.zeros((2, 10)), 3, 2, 2)
    with pytest.raises(ValueError, match=r"W must have shape \(n_out, d\*a\*b\)"):
        nhwc_flat_from_W(np.zeros(12), 3, 2, 2)
    with pytest.raises(ValueError, match="d must be >= 1, got 0"):
        W_from_nhwc_flat(np.zeros((2, 12)), 0, 2, 2)
