"""The identities (2) and (3) of the slides, written with explicit Kronecker products.

The Jacobian convention (4) is :func:`kronconv.testing.numerical_jacobian`'s.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._deprecated import moved
from ._docstrings import fill_docstrings
from ._validate import Array, validate_params

__all__ = ["identity2", "identity3"]


FACTORS = {"A": Array("(p, q)"), "B": Array("(q, r)")}


def _check_product(A: np.ndarray, B: np.ndarray) -> None:
    if A.shape[1] != B.shape[0]:
        raise ValueError(f"B must have shape (q, r) with q = A.shape[1] = {A.shape[1]}, "
                         f"got shape {B.shape}")


@validate_params(FACTORS)
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

    Raises
    ------
    %(raises_identity)s

    Examples
    --------
    >>> import numpy as np
    >>> A, B = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    >>> bool(np.allclose(identity2(A, B), (A @ B).reshape(-1, order="F")))
    True
    """
    _check_product(A, B)
    return B.reshape(-1, order="F") @ sp.kron(sp.eye_array(B.shape[1]), A.T, format="csr")


@validate_params(FACTORS)
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

    Raises
    ------
    %(raises_identity)s

    Examples
    --------
    >>> import numpy as np
    >>> A, B = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    >>> bool(np.allclose(identity3(A, B), (A @ B).reshape(-1, order="F")))
    True
    """
    _check_product(A, B)
    return A.reshape(-1, order="F") @ sp.kron(B, sp.eye_array(A.shape[0]), format="csr")


__getattr__ = moved('kronconv.identities', {
    'numerical_jacobian': 'testing:numerical_jacobian',
})

fill_docstrings(globals())
