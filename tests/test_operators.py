"""Each operator against a loop implementation of its definition in docs/conventions.rst."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from _reference import P_pad_loop, P_phi_loop, P_pool_loop
from _strategies import EDGE_SHAPES, layer_shapes, with_edge_shapes
from hypothesis import given, settings
from hypothesis import strategies as st

from kronconv import (
    I_kron_W,
    LayerShape,
    P_pad,
    P_phi,
    P_pool,
    ones_kron_I,
    phi_pad,
    phiT_kron_I,
)


def _assert_csr(A, shape, dtype=np.float64):
    assert isinstance(A, sp.csr_array)
    assert A.shape == shape
    assert A.dtype == dtype


@settings(max_examples=60, deadline=None)
@given(shape=layer_shapes())
@with_edge_shapes()
def test_P_pad_equals_loop_definition(shape):
    A = P_pad(shape)
    _assert_csr(A, (shape.n_pad, shape.n_in))
    np.testing.assert_array_equal(A.toarray(), P_pad_loop(shape))
    assert A.nnz == shape.d * shape.a * shape.b
    # a partial identity: one 1 per column, at most one per row, and P^T P = I
    dense = A.toarray()
    np.testing.assert_array_equal(dense.sum(axis=0), 1)
    assert dense.sum(axis=1).max() == 1
    np.testing.assert_array_equal((A.T @ A).toarray(), np.eye(shape.n_in))


@settings(max_examples=60, deadline=None)
@given(shape=layer_shapes())
@with_edge_shapes()
def test_P_phi_equals_loop_definition(shape):
    A = P_phi(shape)
    _assert_csr(A, (shape.n_phi, shape.n_pad))
    np.testing.assert_array_equal(A.toarray(), P_phi_loop(shape))
    np.testing.assert_array_equal(np.diff(A.indptr), 1)       # exactly one nonzero per row
    np.testing.assert_array_equal(A.data, 1)
    assert A.nnz == shape.h**2 * shape.d * shape.a_conv * shape.b_conv


@settings(max_examples=60, deadline=None)
@given(shape=layer_shapes(), seed=st.integers(0, 2**32 - 1))
@with_edge_shapes(seed=0)
def test_P_pool_equals_loop_definition(shape, seed):
    rng = np.random.default_rng(seed)
    N = 3
    sigma_S = rng.normal(size=(shape.d_out, shape.n_windows * N))
    A = P_pool(shape, sigma_S)
    per_instance = [sigma_S[:, n * shape.n_windows:(n + 1) * shape.n_windows] for n in range(N)]
    if shape.pool == "max":
        _assert_csr(A, (N * shape.n_out, N * shape.n_S))
        expected = sp.block_diag([P_pool_loop(shape, x) for x in per_instance]).toarray()
        np.testing.assert_array_equal(A.toarray(), expected)
        np.testing.assert_array_equal(np.diff(A.indptr), 1)
        assert A.nnz == N * shape.n_out
        for x in per_instance:                   # one instance gives that instance's block
            np.testing.assert_array_equal(P_pool(shape, x).toarray(), P_pool_loop(shape, x))
    else:
        _assert_csr(A, (shape.n_out, shape.n_S))
        np.testing.assert_allclose(A.toarray(), P_pool_loop(shape), rtol=0, atol=1e-15)
        k2 = shape.pool_size**2
        assert A.nnz == shape.n_out * k2
        np.testing.assert_allclose(A.sum(axis=1), 1.0, rtol=1e-15)


def test_P_pool_max_ties_go_to_first_in_column_major_window_order():
    # one 3x3 window, values tied at positions (i, j) = (2, 0) and (0, 1): in the order
    # i + 3*j these are entries 2 and 3, so the tie goes to (2, 0), not to the row-major
    # first (0, 1) that PyTorch would choose.
    shape = LayerShape(a=3, b=3, d=1, d_out=1, h=1, pool="max", pool_size=3)
    sigma = np.zeros((3, 3))
    sigma[2, 0] = sigma[0, 1] = 5.0
    A = P_pool(shape, sigma.reshape(1, 9, order="F"))
    assert A.indices.tolist() == [2]          # vec index of (2, 0) is 2 + 3*0
    # all-equal window (e.g. ReLU zeros): the first entry, (0, 0)
    assert P_pool(shape, np.zeros((1, 9))).indices.tolist() == [0]
    np.testing.assert_array_equal(
        P_pool(shape, sigma.reshape(1, 9, order="F")).toarray(),
        P_pool_loop(shape, sigma.reshape(1, 9, order="F")))


def test_P_pool_max_needs_sigma_S():
    shape = LayerShape(a=2, b=2, d=1, d_out=1, h=1, pool="max")
    with pytest.raises(ValueError, match="sigma_S is required for max pooling"):
        P_pool(shape)
    with pytest.raises(ValueError, match=r"sigma_S must have shape \(d_out, a_conv\*b_conv\*N\)"):
        P_pool(shape, np.zeros((1, 3)))


@settings(max_examples=40, deadline=None)
@given(shape=layer_shapes(), seed=st.integers(0, 2**32 - 1))
@with_edge_shapes(seed=0)
def test_I_kron_W_and_ones_kron_I_phiT_kron_I_equal_np_kron(shape, seed):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=shape.W_shape)
    IW = I_kron_W(W, shape)
    _assert_csr(IW, (shape.n_S, shape.n_phi))
    np.testing.assert_array_equal(IW.toarray(), np.kron(np.eye(shape.n_windows), W))
    assert IW.nnz == shape.n_windows * shape.d_out * shape.h**2 * shape.d

    OI = ones_kron_I(shape)
    _assert_csr(OI, (shape.n_S, shape.d_out))
    np.testing.assert_array_equal(OI.toarray(),
                                  np.kron(np.ones((shape.n_windows, 1)), np.eye(shape.d_out)))
    assert OI.nnz == shape.n_windows * shape.d_out

    N = 2
    phi = phi_pad(rng.normal(size=(shape.d, shape.a * shape.b * N)), shape)
    PI = phiT_kron_I(phi, shape.d_out)
    _assert_csr(PI, (shape.n_S * N, shape.W_shape[1] * shape.d_out))
    np.testing.assert_array_equal(PI.toarray(), np.kron(phi.T, np.eye(shape.d_out)))
    assert PI.nnz == N * shape.n_windows * shape.h**2 * shape.d * shape.d_out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_P_pad_and_every_operator_keep_dtype(dtype):
    shape = EDGE_SHAPES["stride2_pad1_nonsquare_maxpool_leftover"]
    rng = np.random.default_rng(1)
    sigma_S = rng.normal(size=(shape.d_out, shape.n_windows)).astype(dtype)
    W = rng.normal(size=shape.W_shape).astype(dtype)
    for A in (P_pad(shape, dtype), P_phi(shape, dtype), P_pool(shape, sigma_S),
              I_kron_W(W, shape), ones_kron_I(shape, dtype), phiT_kron_I(W.T, 2)):
        assert A.dtype == dtype


def test_I_kron_W_and_P_pad_P_phi_reject_bad_inputs():
    shape = EDGE_SHAPES["one_by_one"]
    with pytest.raises(TypeError, match="dtype must be float32 or float64, got int64"):
        P_pad(shape, np.int64)
    with pytest.raises(TypeError, match="W must be a float32 or float64 array, got dtype complex"):
        I_kron_W(np.ones((1, 1), dtype=complex), shape)
    with pytest.raises(ValueError, match=r"W must have shape \(d_out, h\*h\*d\) = \(1, 1\)"):
        I_kron_W(np.ones((1, 2)), shape)
    with pytest.raises(TypeError, match="shape must be a LayerShape, got tuple"):
        P_phi((1, 1, 1, 1, 1))


def test_P_phi_and_instance_independent_operators_are_cached_and_read_only():
    shape = EDGE_SHAPES["overlapping_average_pool"]
    for build in (P_pad, P_phi, P_pool, ones_kron_I):
        A = build(shape)
        assert build(shape) is A                               # built once per shape
        assert build(shape, dtype=np.float32) is not A              # and per dtype
        with pytest.raises(ValueError, match="read-only"):
            A.data[0] = 7.0
    # equal shapes built separately share the cache entry
    twin = LayerShape(a=6, b=5, d=2, d_out=2, h=2, pool="average", pool_size=3, pool_stride=1)
    assert P_phi(twin) is P_phi(shape)


def test_I_kron_W_shares_cached_structure_and_copies_W():
    shape = EDGE_SHAPES["stride2_pad1_nonsquare_maxpool_leftover"]
    W = np.ones(shape.W_shape)
    A, B = I_kron_W(W, shape), I_kron_W(2 * W, shape)
    assert A.indices is B.indices or np.shares_memory(A.indices, B.indices)
    W[0, 0] = 100.0                                            # the operator holds a copy
    assert A.data.max() == 1.0
    np.testing.assert_array_equal(B.toarray(), 2 * A.toarray())



def test_build_I_kron_W_is_built_once_for_the_last_W_and_rebuilt_when_W_changes():
    from kronconv.operators import build_I_kron_W

    shape = LayerShape(a=3, b=2, d=2, d_out=3, h=2, padding=1)
    W = np.random.default_rng(0).normal(size=shape.W_shape)
    first = build_I_kron_W(W, shape)
    assert build_I_kron_W(W.copy(), shape) is first            # same values: the same operator
    assert not first.data.flags.writeable
    np.testing.assert_array_equal(first.toarray(), np.kron(np.eye(shape.n_windows), W))
    W[0, 0] += 1.0                                               # changed in place
    second = build_I_kron_W(W, shape)
    assert second is not first
    np.testing.assert_array_equal(second.toarray(), np.kron(np.eye(shape.n_windows), W))
    assert I_kron_W(W, shape).data.flags.writeable               # the public one: a fresh matrix
