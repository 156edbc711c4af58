"""The identities (2), (3) and the Jacobian convention (4) of the slides."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from ._validate import as_float_array, require_ndim

__all__ = ["identity2", "identity3", "numerical_jacobian"]


def _check_product(A: object, B: object) -> tuple[np.ndarray, np.ndarray]:
    A, B = as_float_array(A, "A"), as_float_array(B, "B")
    require_ndim(A, 2, "A", "(p, q)")
    require_ndim(B, 2, "B", "(q, r)")
    if A.shape[1] != B.shape[0]:
        raise ValueError(f"B must have shape (q, r) with q = A.shape[1] = {A.shape[1]}, "
                         f"got shape {B.shape}")
    return A, B


def identity2(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Right-hand side of identity (2): ``vec(AB)^T = vec(B)^T (I_r ⊗ A^T)``.

    Parameters
    ----------
    A : ndarray of shape (p, q)
    B : ndarray of shape (q, r)

    Returns
    -------
    ndarray of shape (p*r,)
        ``vec(B)^T (I_r ⊗ A^T)``, equal to ``vec(A @ B)``.

    Examples
    --------
    >>> import numpy as np
    >>> A, B = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    >>> bool(np.allclose(identity2(A, B), (A @ B).reshape(-1, order="F")))
    True
    """
    A, B = _check_product(A, B)
    return B.reshape(-1, order="F") @ sp.kron(sp.eye_array(B.shape[1]), A.T, format="csr")


def identity3(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Right-hand side of identity (3): ``vec(AB)^T = vec(A)^T (B ⊗ I_p)``.

    Parameters
    ----------
    A : ndarray of shape (p, q)
    B : ndarray of shape (q, r)

    Returns
    -------
    ndarray of shape (p*r,)
        ``vec(A)^T (B ⊗ I_p)``, equal to ``vec(A @ B)``.

    Examples
    --------
    >>> import numpy as np
    >>> A, B = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    >>> bool(np.allclose(identity3(A, B), (A @ B).reshape(-1, order="F")))
    True
    """
    A, B = _check_product(A, B)
    return A.reshape(-1, order="F") @ sp.kron(B, sp.eye_array(A.shape[0]), format="csr")


def numerical_jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                       eps: float = 1e-6) -> np.ndarray:
    """Central-difference Jacobian in the convention (4): ``J[r, c] = ∂y_r / ∂x_c``.

    Matrix arguments and values are read through ``vec`` (column-major), so for a scalar
    ``ξ(W)`` the result is the row vector ``∂ξ/∂vec(W)^T`` of shape ``(1, |W|)``.

    Parameters
    ----------
    f : callable
        Maps an array shaped like ``x`` to an array (or a scalar) ``y``.
    x : ndarray
        The point; it is not modified.
    eps : float, default 1e-6
        The step: ``J[:, c] = (f(x + eps e_c) - f(x - eps e_c)) / (2 eps)``.

    Returns
    -------
    ndarray of shape (|y|, |x|)

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    >>> np.round(numerical_jacobian(lambda x: A @ x, np.zeros(2)), 6)   # y = Ax gives A
    array([[1., 2.],
           [3., 4.],
           [5., 6.]])
    """
    x = as_float_array(x, "x")
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    flat = x.reshape(-1, order="F").copy()

    def at(v: np.ndarray) -> np.ndarray:
        return np.asarray(f(v.reshape(x.shape, order="F"))).reshape(-1, order="F")

    columns = []
    for c in range(flat.size):
        step = np.zeros_like(flat)
        step[c] = eps
        columns.append((at(flat + step) - at(flat - step)) / (2 * eps))
    return np.stack(columns, axis=1) if columns else np.zeros((at(flat).size, 0))
