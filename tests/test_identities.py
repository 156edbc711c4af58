"""Identities (2), (3) and the Jacobian convention (4)."""

from __future__ import annotations

import numpy as np
import pytest
from _reference import assert_rel_close
from hypothesis import given, settings
from hypothesis import strategies as st

from kronconv import identity2, identity3, numerical_jacobian

sizes = st.integers(1, 6)


def vec_of_product(A, B):
    """vec(AB) entry by entry: entry (i, j) of AB at i + p*j (column-major), by sums."""
    p, r = A.shape[0], B.shape[1]
    out = np.empty(p * r)
    for i in range(p):
        for j in range(r):
            out[i + p * j] = sum(A[i, k] * B[k, j] for k in range(A.shape[1]))
    return out


def _factors(p, q, r, seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(p, q)), rng.normal(size=(q, r))


@settings(max_examples=50, deadline=None)
@given(p=sizes, q=sizes, r=sizes, seed=st.integers(0, 2**32 - 1))
def test_identity2_equals_vec_of_the_product(p, q, r, seed):
    A, B = _factors(p, q, r, seed)
    result = identity2(A, B)
    assert result.shape == (p * r,)
    assert_rel_close(result, vec_of_product(A, B), 1e-12, "(2)")


@settings(max_examples=50, deadline=None)
@given(p=sizes, q=sizes, r=sizes, seed=st.integers(0, 2**32 - 1))
def test_identity3_equals_vec_of_the_product(p, q, r, seed):
    A, B = _factors(p, q, r, seed)
    result = identity3(A, B)
    assert result.shape == (p * r,)
    assert_rel_close(result, vec_of_product(A, B), 1e-12, "(3)")


def test_identity2_and_identity3_read_integer_factors_as_float64():
    A, B = np.arange(6).reshape(2, 3), np.arange(12).reshape(3, 4)
    for identity in (identity2, identity3):
        result = identity(A, B)
        assert result.dtype == np.float64
        np.testing.assert_array_equal(result, vec_of_product(A, B))


def test_identity2_rejects_mismatched_factors():
    with pytest.raises(ValueError, match=r"B must have shape \(q, r\) with q = A.shape\[1\] = 3"):
        identity2(np.zeros((2, 3)), np.zeros((2, 2)))


def test_identity3_rejects_a_vector_factor():
    with pytest.raises(ValueError, match=r"A must have shape \(p, q\), got shape \(3,\)"):
        identity3(np.zeros(3), np.zeros((3, 2)))


def test_numerical_jacobian_rows_are_outputs():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(3, 5))
    J = numerical_jacobian(lambda x: A @ x, rng.normal(size=5))
    assert J.shape == (3, 5)                       # |y| x |x|: y = Ax gives A
    assert_rel_close(J, A, 1e-8, "∂(Ax)/∂x^T")


def test_numerical_jacobian_reads_matrices_through_vec():
    rng = np.random.default_rng(1)
    A, X = rng.normal(size=(2, 3)), rng.normal(size=(3, 4))
    # vec(AX) = (I ⊗ A) vec(X): the Jacobian with respect to vec(X)^T is I ⊗ A
    J = numerical_jacobian(lambda X_: A @ X_, X)
    assert_rel_close(J, np.kron(np.eye(4), A), 1e-8, "∂vec(AX)/∂vec(X)^T")
    # a scalar function gives the row vector ∂ξ/∂vec(X)^T
    g = numerical_jacobian(lambda X_: np.sum(X_**3), X)
    assert g.shape == (1, 12)
    assert_rel_close(g[0], (3 * X**2).reshape(-1, order="F"), 1e-8, "∂ξ/∂vec(X)^T")


def test_numerical_jacobian_rejects_bad_step():
    with pytest.raises(ValueError, match="eps must be > 0, got 0"):
        numerical_jacobian(np.sin, np.zeros(2), eps=0)
