"""Argument checks shared by the public functions: one message template each."""

from __future__ import annotations

import numbers

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_int(value: object, name: str, minimum: int) -> int:
    """Return ``value`` as an ``int`` if it is an integer ``>= minimum``, else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} of type {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def require_ndim(A: np.ndarray, ndim: int, name: str, expected: str) -> None:
    """Raise ``ValueError`` unless ``A`` has ``ndim`` dimensions."""
    if A.ndim != ndim:
        raise ValueError(f"{name} must have shape {expected}, got shape {A.shape}")


def as_float_array(x: object, name: str, dtype: np.dtype | None = None) -> np.ndarray:
    """``x`` as a float32/float64 array (integers become float64, or ``dtype`` if given).

    Complex, object, string and other floating types (float16, longdouble) are refused
    with a ``TypeError``: kronconv computes in float32 or float64 only.
    """
    arr = np.asarray(x)
    kind = arr.dtype.kind
    if kind in "iub":
        return arr.astype(dtype or np.float64)
    if arr.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be a float32 or float64 array, got dtype {arr.dtype}")
    if dtype is not None and arr.dtype != dtype:
        raise TypeError(f"{name} must have dtype {np.dtype(dtype)} like the other inputs, "
                        f"got dtype {arr.dtype}")
    return arr


def check_shape(A: np.ndarray, expected: tuple[int, ...], name: str, meaning: str) -> None:
    """Raise ``ValueError`` unless ``A.shape == expected``; ``meaning`` spells the symbols."""
    if A.shape != expected:
        raise ValueError(f"{name} must have shape {meaning} = {expected}, got shape {A.shape}")


def batch_size(M: np.ndarray, rows: int, cols_per_instance: int, name: str,
               expected: str) -> int:
    """The batch size N of ``M`` of shape (rows, cols_per_instance*N), N >= 1, else raise."""
    require_ndim(M, 2, name, expected)
    if M.shape[0] != rows or M.shape[1] == 0 or M.shape[1] % cols_per_instance:
        raise ValueError(
            f"{name} must have shape {expected} = ({rows}, {cols_per_instance}*N) with N >= 1, "
            f"got shape {M.shape}"
        )
    return M.shape[1] // cols_per_instance


_CHECK_FINITE = {"on": True}


def set_check_finite(flag: bool) -> None:
    """Turn the check that inputs and parameters are finite on (default) or off.

    Parameters
    ----------
    flag : bool

    Returns
    -------
    None

    Examples
    --------
    >>> set_check_finite(False); set_check_finite(True)
    """
    _CHECK_FINITE["on"] = bool(flag)


def require_finite(A: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` at the first NaN or infinity of ``A`` (unless switched off)."""
    if _CHECK_FINITE["on"] and A.size and not np.isfinite(A).all():
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(A))[0])
        raise ValueError(f"{name} contains {A[index]} at index {index}: kronconv needs finite "
                         "inputs and parameters (kronconv.set_check_finite(False) skips this "
                         "check)")


def require_finite_result(value: np.ndarray, name: str) -> None:
    """Raise ``FloatingPointError`` if a computed result overflowed (NaN or infinity)."""
    if not np.isfinite(value).all():
        info = np.finfo(value.dtype)
        raise FloatingPointError(
            f"{name} is not finite in {value.dtype}: the network overflowed ({value.dtype} "
            f"holds magnitudes up to {info.max:.1e}); use float64, or smaller weights or inputs")
