"""Identities (2), (3) and the Jacobian convention (4)."""

from __future__ import annotations

import numpy as np
import pytest
from _reference import assert_rel_close
from hypothesis import given, settings
from hypothesis import strategies as st

from kronconv import identity2, identity3, numerical_jacobian, vec

sizes = st.integers(1, 6)


@settings(max_examples=50, deadline=None)
@given(p=sizes, q=sizes, r=sizes, seed=st.integers(0, 2**32 - 1))
def test_identities_2_and_3_hold_on_random_matrices(p, q, r, seed):
    rng = np.random.default_rng(seed)
    A, B = rng.normal(size=(p, q)), rng.normal(size=(q, r))
    expected = vec(A @ B)
    # written out with dense numpy Kronecker products, independent of the implementation
    assert_rel_close(vec(B) @ np.kron(np.eye(r), A.T), expected, 1e-12, "(2) dense")
    assert_rel_close(vec(A) @ np.kron(B, np.eye(p)), expected, 1e-12, "(3) dense")
    assert_rel_close(identity2(A, B), expected, 1e-12, "(2)")
    assert_rel_close(identity3(A, B), expected, 1e-12, "(3)")


def test_identities_reject_mismatched_factors():
    with pytest.raises(ValueError, match=r"B must have shape \(q, r\) with q = A.shape\[1\] = 3"):
        identity2(np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"A must have shape \(p, q\), got shape \(3,\)"):
        identity3(np.zeros(3), np.zeros((3, 2)))


def test_jacobian_convention_rows_are_outputs():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(3, 5))
    J = numerical_jacobian(lambda x: A @ x, rng.normal(size=5))
    assert J.shape == (3, 5)                       # |y| x |x|: y = Ax gives A
    assert_rel_close(J, A, 1e-8, "∂(Ax)/∂x^T")


def test_jacobian_of_matrix_function_reads_through_vec():
    rng = np.random.default_rng(1)
    A, X = rng.normal(size=(2, 3)), rng.normal(size=(3, 4))
    # vec(AX) = (I ⊗ A) vec(X): the Jacobian with respect to vec(X)^T is I ⊗ A
    J = numerical_jacobian(lambda X_: A @ X_, X)
    assert_rel_close(J, np.kron(np.eye(4), A), 1e-8, "∂vec(AX)/∂vec(X)^T")
    # a scalar function gives the row vector ∂ξ/∂vec(X)^T
    g = numerical_jacobian(lambda X_: np.sum(X_**3), X)
    assert g.shape == (1, 12)
    assert_rel_close(g[0], vec(3 * X**2), 1e-8, "∂ξ/∂vec(X)^T")


def test_jacobian_rejects_bad_step():
    with pytest.raises(ValueError, match="eps must be > 0, got 0"):
        numerical_jacobian(np.sin, np.zeros(2), eps=0)
