"""Max pooling's choice in every window, with the tie rule of the conventions, in one place.

``P_pool`` has its 1 at the first maximum of each window in the order ``i + h_pool*j``
(:ref:`conventions-pooling`). :func:`first_max` finds it with ``h_pool**2`` strided slices of
an array whose axes 1 and 2 are the columns and rows of ``sigma(S)``: the dense path's
channel-first array, or a view of the sparse chain's instance columns, from which
:func:`kronconv.P_pool` builds its operator. Both backends choose the same entries.
"""

from __future__ import annotations

import functools

import numpy as np

from .shapes import LayerShape

__all__ = ["first_max", "offsets", "window_entries"]


@functools.cache
def offsets(stride: int, count: int, size: int) -> tuple[slice, ...]:
    """For each offset ``k < size``, the slice ``k, k + stride, ..., k + (count-1)*stride``
    (computed once per arguments)."""
    return tuple(slice(k, k + stride * (count - 1) + 1, stride) for k in range(size))


@functools.cache
def window_entries(shape: LayerShape) -> tuple[tuple[int, slice, slice], ...]:
    """``(e, row slice, column slice)`` of every pooling-window entry, in the order i + k*j
    (computed once per shape)."""
    k = shape.pool_size
    rows = offsets(shape.pool_stride, shape.a_out, k)
    cols = offsets(shape.pool_stride, shape.b_out, k)
    return tuple((i + k * j, rows[i], cols[j]) for j in range(k) for i in range(k))


def first_max(A: np.ndarray, shape: LayerShape) -> tuple[np.ndarray, np.ndarray]:
    """Every window's maximum and the entry ``e = i + h_pool*j`` of its first maximum.

    Parameters
    ----------
    A : ndarray of shape (d_out, b_conv, a_conv, N), any strides
        ``A[c, q, r, n]`` is entry ``(c, r, q)`` of instance n.
    shape : LayerShape

    Returns
    -------
    maximum : ndarray of shape (d_out, b_out, a_out, N)
    index : ndarray of shape (d_out, b_out, a_out, N), int8 (int32 beyond 127 entries)

    Examples
    --------
    >>> s = LayerShape(a=2, b=2, d=1, d_out=1, h=1, pool="max", pool_size=2)
    >>> A = np.array([1.0, 3.0, 3.0, 2.0]).reshape(1, 2, 2, 1)    # a tie: the first wins
    >>> [x.ravel().tolist() for x in first_max(A, s)]
    [[3.0], [1]]
    """
    entries = window_entries(shape)
    _, r0, c0 = entries[0]
    out = A[:, c0, r0].copy()
    itype = np.int8 if len(entries) <= 127 else np.int32        # int8 holds 0..127
    index = np.zeros(out.shape, dtype=itype)
    larger = np.empty(out.shape, dtype=bool)
    step = np.empty(out.shape, dtype=itype)
    for e, r, c in entries[1:]:           # arithmetic: np.copyto(..., where=) is slower
        entry = A[:, c, r]
        np.greater(entry, out, out=larger)           # strict: a tie keeps the earlier entry
        np.maximum(out, entry, out=out)
        # e grows along the window order, so a new maximum's e exceeds the index so far
        np.multiply(larger, itype(e), out=step)
        np.maximum(index, step, out=index)
    return out, index
