"""The sparse operators of one convolutional layer, each a ``scipy.sparse.csr_array``.

Every operator is built from index arrays (``np.arange`` and broadcasting), never from a
Python loop over its entries. Those that do not depend on the instance (``P_pad``,
``P_phi``, average pooling, no pooling, ``1 ⊗ I``, and the index structure of ``I ⊗ W``)
are built once per (layer shape, dtype) and cached; a cached operator's arrays are
read-only, so it cannot be changed behind the cache's back.

Index convention (:ref:`conventions-image`, :ref:`conventions-phi`): ``vec`` is column-major;
``vec(Z)`` holds entry ``(c, r, q)`` at ``c + d*r + d*a*q``; inside a column of
``phi(pad(Z))`` the entry for window offset ``(i, j)`` and channel ``c`` is at row
``i + h*j + h*h*c``.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp

from ._docstrings import fill_docstrings
from ._validate import (
    Array,
    DType,
    Integer,
    Optional,
    batch_size,
    check_shape,
    validate_params,
)
from .memory import cached, cached_for_last, check_memory, csr_bytes
from .pooling import first_max
from .shapes import CONV_OUTPUT, SHAPE, WEIGHTS, LayerShape

__all__ = ["I_kron_W", "P_pad", "P_phi", "P_pool", "build_I_kron_W", "build_P_pool",
           "build_phiT_kron_I", "ones_kron_I", "phiT_kron_I"]

_INT32_MAX = np.iinfo(np.int32).max


def _index_dtype(*sizes: int) -> type:
    """int32 while every index and count fits, int64 beyond 2**31 - 1."""
    return np.int32 if max(sizes) <= _INT32_MAX else np.int64


def _csr(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray,
         shape: tuple[int, int]) -> sp.csr_array:
    """Wrap ready CSR arrays (sorted column indices, no duplicates) without copying."""
    A = sp.csr_array((data, indices, indptr), shape=shape)
    A.has_sorted_indices = True
    A.has_canonical_format = True
    return A


def _one_per_row(cols: np.ndarray, shape: tuple[int, int], dtype: np.dtype) -> sp.csr_array:
    """0/1 CSR matrix with exactly one 1 per row ``r``, at column ``cols[r]``."""
    itype = _index_dtype(*shape, cols.size)
    indptr = np.arange(shape[0] + 1, dtype=itype)
    return _csr(np.ones(shape[0], dtype=dtype), cols.astype(itype), indptr, shape)


def _frozen(A: sp.csr_array) -> sp.csr_array:
    """Make a cached operator's arrays read-only."""
    for arr in (A.data, A.indices, A.indptr):
        arr.flags.writeable = False
    return A


#: The constraints of the arguments of the operators, declared once.
SHAPE_AND_DTYPE = {"shape": SHAPE, "dtype": DType()}


def _guard(what: str, rows: int, nnz: int, dtype: object) -> None:
    """Refuse, before allocating, an operator above the memory limit (kronconv.memory)."""
    check_memory(csr_bytes(rows, nnz, np.dtype(dtype).itemsize), what,
                 "use a smaller layer or batch (chunk_size), or the dense backend")


# --- P_pad --------------------------------------------------------------------------------


@validate_params(SHAPE_AND_DTYPE)
def P_pad(shape: LayerShape, dtype: object = np.float64) -> sp.csr_array:
    """Padding matrix: ``vec(pad(Z)) = P_pad vec(Z)``.

    A partial identity: column ``c + d*(r + a*q)`` has its single 1 in row
    ``c + d*((r + p) + a_pad*(q + p))``; the rows of the zero border are empty.

    Parameters
    ----------
    shape : LayerShape
    dtype : float32 or float64, default float64

    Returns
    -------
    csr_array of shape (d*a_pad*b_pad, d*a*b)
        ``d*a*b`` nonzeros, all 1. Cached per (shape, dtype); read-only.

    Raises
    ------
    %(raises_operator)s

    Examples
    --------
    >>> import numpy as np
    >>> s = LayerShape(a=2, b=2, d=1, d_out=1, h=1, padding=1)
    >>> P_pad(s).toarray().sum(axis=1).reshape(4, 4, order="F").astype(int)
    array([[0, 0, 0, 0],
           [0, 1, 1, 0],
           [0, 1, 1, 0],
           [0, 0, 0, 0]])
    """
    _guard(f"P_pad for {shape}", shape.n_pad, shape.n_in, dtype)
    return _P_pad(shape, dtype)


@cached
def _P_pad(shape: LayerShape, dtype: np.dtype) -> sp.csr_array:
    d, a, b, p = shape.d, shape.a, shape.b, shape.padding
    c, r, q = np.arange(d), np.arange(a), np.arange(b)
    # rows in increasing order of the column index c + d*(r + a*q): q, then r, then c
    rows = c[None, None, :] + d * ((r[None, :, None] + p) + shape.a_pad * (q[:, None, None] + p))
    rows = rows.ravel()
    n_rows, n_cols = shape.n_pad, shape.n_in
    itype = _index_dtype(n_rows, n_cols)
    counts = np.zeros(n_rows + 1, dtype=itype)
    counts[rows + 1] = 1
    indptr = np.cumsum(counts, dtype=itype)
    A = _csr(np.ones(n_cols, dtype=dtype), np.arange(n_cols, dtype=itype), indptr,
             (n_rows, n_cols))
    return _frozen(A)


# --- P_phi --------------------------------------------------------------------------------


@validate_params(SHAPE_AND_DTYPE)
def P_phi(shape: LayerShape, dtype: object = np.float64) -> sp.csr_array:
    """Window-gathering matrix: ``vec(phi(pad(Z))) = P_phi vec(pad(Z))``.

    Row ``(i + h*j + h*h*c) + h*h*d*(u + a_conv*w)`` (window ``u + a_conv*w``, offset
    ``(i, j)``, channel ``c``) has its single 1 in column
    ``c + d*((u*s + i) + a_pad*(w*s + j))`` of ``vec(pad(Z))``.

    Parameters
    ----------
    shape : LayerShape
    dtype : float32 or float64, default float64

    Returns
    -------
    csr_array of shape (h*h*d*a_conv*b_conv, d*a_pad*b_pad)
        Exactly one 1 per row. Cached per (shape, dtype); read-only.

    Raises
    ------
    %(raises_operator)s

    Examples
    --------
    >>> s = LayerShape(a=3, b=3, d=1, d_out=1, h=2)
    >>> P_phi(s).shape, P_phi(s).nnz
    ((16, 9), 16)
    """
    _guard(f"P_phi for {shape}", shape.n_phi, shape.n_phi, dtype)
    return _P_phi(shape, dtype)


@cached
def _P_phi(shape: LayerShape, dtype: np.dtype) -> sp.csr_array:
    h, d, s, a_pad = shape.h, shape.d, shape.stride, shape.a_pad
    i, j, c = np.arange(h), np.arange(h), np.arange(d)
    u, w = np.arange(shape.a_conv), np.arange(shape.b_conv)
    # axes (w, u, c, j, i): C order over them is the row order of P_phi
    cols = (c[None, None, :, None, None]
            + d * ((u[None, :, None, None, None] * s + i[None, None, None, None, :])
                   + a_pad * (w[:, None, None, None, None] * s + j[None, None, None, :, None])))
    return _frozen(_one_per_row(cols.ravel(), (shape.n_phi, shape.n_pad), dtype))


# --- P_pool -------------------------------------------------------------------------------


@cached
def _pool_windows(shape: LayerShape) -> np.ndarray:
    """Column indices in ``vec(sigma(S))`` of every pooling window, shape (n_out, h_pool**2).

    Row ``c + d_out*(r + a_out*q)`` lists output entry ``(c, r, q)``'s window in the
    order ``i + h_pool*j``; the columns are ``c + d_out*((r*s_pool + i) + a_conv*(q*s_pool + j))``.
    """
    k, t, dd = shape.pool_size, shape.pool_stride, shape.d_out
    c, r, q = np.arange(dd), np.arange(shape.a_out), np.arange(shape.b_out)
    i, j = np.arange(k), np.arange(k)
    # axes (q, r, c, j, i): rows in C order over (q, r, c), window order i + k*j
    win = (c[None, None, :, None, None]
           + dd * ((r[None, :, None, None, None] * t + i[None, None, None, None, :])
                   + shape.a_conv * (q[:, None, None, None, None] * t
                                     + j[None, None, None, :, None])))
    win = win.reshape(shape.n_out, k * k)
    win.flags.writeable = False
    return win


@validate_params({"shape": SHAPE, "sigma_S": Optional(CONV_OUTPUT),
                  "dtype": DType()})
def P_pool(shape: LayerShape, sigma_S: np.ndarray | None = None, *,
           dtype: object = np.float64) -> sp.csr_array:
    """Pooling matrix: ``Z^{m+1} = mat(P_pool vec(sigma(S)))`` (:ref:`conventions-pooling`).

    - ``"max"``: one 1 per row, at the largest entry of that channel's window in
      ``sigma(S)``; ties go to the first entry in the window's ``i + h_pool*j`` order.
      It depends on the instance: for a batch ``sigma_S`` of ``N`` instances side by side
      the result is the block-diagonal ``diag(P_pool^1, ..., P_pool^N)`` acting on
      ``vec`` of the whole batch.
    - ``"average"``: ``h_pool**2`` entries ``1/h_pool**2`` per row, the same for every
      instance (``sigma_S`` is not needed; the one-instance operator is returned).
    - ``"none"``: the identity.

    Parameters
    ----------
    shape : LayerShape
    sigma_S : ndarray of shape (d_out, a_conv*b_conv*N), optional
        ``sigma(S)`` of one instance or a batch; required for max pooling, checked for
        its shape and otherwise unused by average and no pooling.
    dtype : float32 or float64, default float64
        The operator's dtype for average and no pooling; max pooling takes
        ``sigma_S.dtype``.

    Returns
    -------
    csr_array
        ``"max"``: shape (N*d_out*a_out*b_out, N*d_out*a_conv*b_conv), ``N*n_out``
        nonzeros. ``"average"``/``"none"``: shape (d_out*a_out*b_out, d_out*a_conv*b_conv),
        cached per (shape, dtype) and read-only.

    Raises
    ------
    ValueError
        If ``sigma_S`` is missing for max pooling or has the wrong shape.

    Examples
    --------
    >>> import numpy as np
    >>> s = LayerShape(a=2, b=2, d=1, d_out=1, h=1, pool="max", pool_size=2)
    >>> P_pool(s, np.array([[1.0, 4.0, 3.0, 2.0]])).toarray()
    array([[0., 1., 0., 0.]])
    """
    if sigma_S is not None:
        batch_size(sigma_S, shape.d_out, shape.n_windows, "sigma_S", CONV_OUTPUT.shape)
    elif shape.pool == "max":
        raise ValueError("sigma_S is required for max pooling: P_pool depends on the instance")
    return build_P_pool(shape, sigma_S, dtype)


def build_P_pool(shape: LayerShape, sigma_S: np.ndarray | None, dtype: np.dtype
                 ) -> sp.csr_array:
    """:func:`~kronconv.P_pool` of checked arguments (the sparse chain's, whose ``sigma(S)``
    may have overflowed: the objective reports that)."""
    if shape.pool != "max":
        _guard(f"P_pool for {shape}", shape.n_out, shape.n_out * shape.pool_size**2, dtype)
        return _P_pool_fixed(shape, dtype)
    N = sigma_S.shape[1] // shape.n_windows
    _guard(f"P_pool for {N} instances of {shape}", N * shape.n_out, N * shape.n_out * 4,
           sigma_S.dtype)
    cols = (_first_max(shape, sigma_S.reshape(shape.n_S, N, order="F"))
            + shape.n_S * np.arange(N)).ravel(order="F")               # block n: + n*n_S
    return _one_per_row(cols, (N * shape.n_out, N * shape.n_S), sigma_S.dtype)


def _first_max(shape: LayerShape, sigma_cols: np.ndarray) -> np.ndarray:
    """For every output entry and instance, the column of its window's first maximum.

    ``sigma_cols`` holds ``vec(sigma(S^i))`` in column i, shape (n_S, N); the result,
    shape (n_out, N), indexes ``vec(sigma(S^i))`` (ties: the first in ``i + h_pool*j``).
    """
    N = sigma_cols.shape[1]
    # vec(sigma(S^i)) holds (c, r, q) at c + d_out*(r + a_conv*q): a (q, r, c) array per column
    A = sigma_cols.reshape(shape.b_conv, shape.a_conv, shape.d_out, N).transpose(2, 0, 1, 3)
    index = first_max(A, shape)[1].transpose(1, 2, 0, 3).reshape(shape.n_out, N)
    return _pool_windows(shape)[np.arange(shape.n_out)[:, None], index]     # entry -> column


def P_pool_batch_last(shape: LayerShape, sigma_cols: np.ndarray) -> sp.csr_array:
    """Deprecated: max pooling for a batch stored instance-fastest.

    The sparse chain now multiplies :func:`~kronconv.P_pool` itself (the block diagonal
    acting on the vec of the whole batch); this reordering of it will be removed.

    The same per-instance operators as :func:`~kronconv.P_pool`, ordered for vectors whose entry
    ``(p, i)`` (position p of instance i) sits at ``p*N + i`` (a C-ordered (n, N) array
    with ``vec(sigma(S^i))`` in column i): row ``r*N + i`` has its 1 in column
    ``c*N + i`` where ``c`` is the first maximum of instance i's window r.

    Parameters
    ----------
    shape : LayerShape
        With ``pool="max"``.
    sigma_cols : ndarray of shape (d_out*a_conv*b_conv, N)

    Returns
    -------
    csr_array of shape (n_out*N, n_S*N)
    """
    warnings.warn("P_pool_batch_last is deprecated: use P_pool(shape, sigma_S)",
                  DeprecationWarning, stacklevel=2)
    N = sigma_cols.shape[1]
    cols = (_first_max(shape, sigma_cols) * N + np.arange(N)).ravel()
    return _one_per_row(cols, (shape.n_out * N, shape.n_S * N), sigma_cols.dtype)


@cached
def _P_pool_fixed(shape: LayerShape, dtype: np.dtype) -> sp.csr_array:
    if shape.pool == "none":
        return _frozen(sp.eye_array(shape.n_S, dtype=dtype, format="csr"))
    win = _pool_windows(shape)
    k2 = win.shape[1]
    itype = _index_dtype(shape.n_S, win.size)
    indptr = np.arange(0, win.size + 1, k2, dtype=itype)
    data = np.full(win.size, 1.0 / k2, dtype=dtype)
    return _frozen(_csr(data, win.ravel().astype(itype), indptr, (shape.n_out, shape.n_S)))


# --- I ⊗ W, 1 ⊗ I, phi^T ⊗ I ---------------------------------------------------------------


@cached
def _block_diagonal_structure(n_blocks: int, rows: int, cols: int) -> tuple[np.ndarray, ...]:
    """CSR ``indices``/``indptr`` of ``I_{n_blocks} ⊗ B`` for a dense ``rows x cols`` block B."""
    itype = _index_dtype(n_blocks * rows * cols, n_blocks * cols)
    block_cols = np.arange(n_blocks, dtype=itype)[:, None, None] * cols + np.arange(
        cols, dtype=itype)
    indices = np.broadcast_to(block_cols, (n_blocks, rows, cols)).ravel()
    indptr = np.arange(0, n_blocks * rows * cols + 1, cols, dtype=itype)
    indices.flags.writeable = False
    indptr.flags.writeable = False
    return indices, indptr


@validate_params({"W": WEIGHTS, "shape": SHAPE})
def I_kron_W(W: np.ndarray, shape: LayerShape) -> sp.csr_array:
    """Block-diagonal ``I_{a_conv b_conv} ⊗ W``: ``vec(W phi) = (I ⊗ W) vec(phi)``.

    Only the values depend on ``W``; the index structure is cached per layer shape, so
    building it costs one copy of ``W`` per window (no generic ``scipy.sparse.kron``).

    Parameters
    ----------
    W : ndarray of shape (d_out, h*h*d)
    shape : LayerShape

    Returns
    -------
    csr_array of shape (d_out*a_conv*b_conv, h*h*d*a_conv*b_conv)
        ``a_conv*b_conv*d_out*h*h*d`` stored entries (zeros of ``W`` included), dtype of ``W``.

    Raises
    ------
    ValueError
        If ``W`` does not have shape ``shape.W_shape``.

    Examples
    --------
    >>> import numpy as np
    >>> s = LayerShape(a=2, b=2, d=1, d_out=1, h=1)
    >>> I_kron_W(np.array([[3.0]]), s).toarray()
    array([[3., 0., 0., 0.],
           [0., 3., 0., 0.],
           [0., 0., 3., 0.],
           [0., 0., 0., 3.]])
    """
    check_shape(W, shape.W_shape, "W", WEIGHTS.shape)
    return _I_kron_W(W, shape)


@cached_for_last
def build_I_kron_W(W: np.ndarray, shape: LayerShape) -> sp.csr_array:
    """:func:`~kronconv.I_kron_W` of checked arguments, the sparse chain's: built once for
    the last ``W`` of each layer shape (every block of an evaluation shares it), read-only."""
    return _frozen(_I_kron_W(W, shape))


def _I_kron_W(W: np.ndarray, shape: LayerShape) -> sp.csr_array:
    n = shape.n_windows
    _guard(f"I ⊗ W for {shape} (and its cached index structure)", shape.n_S,
           2 * n * W.size, W.dtype)
    indices, indptr = _block_diagonal_structure(n, *shape.W_shape)
    data = np.tile(W, (n, 1)).ravel()
    return _csr(data, indices, indptr, (shape.n_S, shape.n_phi))


@validate_params(SHAPE_AND_DTYPE)
def ones_kron_I(shape: LayerShape, dtype: object = np.float64) -> sp.csr_array:
    """``1_{a_conv b_conv} ⊗ I_{d_out}``: ``vec(b 1^T) = (1 ⊗ I) b``, the bias broadcast.

    Parameters
    ----------
    shape : LayerShape
    dtype : float32 or float64, default float64

    Returns
    -------
    csr_array of shape (d_out*a_conv*b_conv, d_out)
        Row ``o + d_out*k`` has its 1 in column ``o``. Cached per (shape, dtype); read-only.

    Raises
    ------
    %(raises_operator)s

    Examples
    --------
    >>> s = LayerShape(a=2, b=1, d=1, d_out=2, h=1)
    >>> ones_kron_I(s).toarray()
    array([[1., 0.],
           [0., 1.],
           [1., 0.],
           [0., 1.]])
    """
    _guard(f"1 ⊗ I for {shape}", shape.n_S, shape.n_S, dtype)
    return _ones_kron_I(shape, dtype)


@cached
def _ones_kron_I(shape: LayerShape, dtype: np.dtype) -> sp.csr_array:
    cols = np.tile(np.arange(shape.d_out), shape.n_windows)
    return _frozen(_one_per_row(cols, (shape.n_S, shape.d_out), dtype))


@validate_params({"phi": Array("(h*h*d, M)"), "d_out": Integer(1)})
def phiT_kron_I(phi: np.ndarray, d_out: int) -> sp.csr_array:
    """``phi(pad(Z))^T ⊗ I_{d_out}``: ``vec(W phi) = (phi^T ⊗ I) vec(W)``.

    For a batch, ``phi`` holds the instances' ``phi`` side by side, and the result maps
    ``vec(W)`` to ``vec(S)`` of the whole batch (before the bias).

    Parameters
    ----------
    phi : ndarray of shape (h*h*d, M)
        ``phi(pad(Z))``; ``M = a_conv*b_conv`` for one instance, ``M*N`` for a batch.
    d_out : int

    Returns
    -------
    csr_array of shape (M*d_out, h*h*d*d_out)
        Row ``o + d_out*k`` holds ``phi[:, k]`` at columns ``o + d_out*j``; ``M*d_out*h*h*d``
        stored entries (zeros of ``phi`` included), dtype of ``phi``.

    Raises
    ------
    %(raises_operator)s

    Examples
    --------
    >>> import numpy as np
    >>> phiT_kron_I(np.array([[1.0, 2.0]]), 2).toarray()
    array([[1., 0.],
           [0., 1.],
           [2., 0.],
           [0., 2.]])
    """
    return build_phiT_kron_I(phi, d_out)


def build_phiT_kron_I(phi: np.ndarray, d_out: int) -> sp.csr_array:
    """:func:`~kronconv.phiT_kron_I` of checked arguments (the sparse chain's)."""
    K, M = phi.shape
    _guard(f"phi^T ⊗ I for phi of shape {phi.shape} and d_out={d_out}", M * d_out,
           M * d_out * K, phi.dtype)
    itype = _index_dtype(M * d_out * K, K * d_out)
    o, j = np.arange(d_out, dtype=itype), np.arange(K, dtype=itype)
    indices = np.broadcast_to(o[None, :, None] + d_out * j[None, None, :], (M, d_out, K)).ravel()
    indptr = np.arange(0, M * d_out * K + 1, K, dtype=itype)
    data = np.broadcast_to(phi.T[:, None, :], (M, d_out, K)).ravel()
    return _csr(data, indices, indptr, (M * d_out, K * d_out))

fill_docstrings(globals())
