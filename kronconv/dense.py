"""The dense fast path: the same numbers as the sparse chain, the way simpleNN computes them.

Every operator of :mod:`kronconv.operators` is replaced by what it does to the data:

- ``P_pad v``: an interior slice of a zero buffer; ``P_pad^T v``: the interior slice back.
- ``P_phi v``: a gather through ``P_phi``'s row -> column index (``P_phi(shape).indices``);
  ``v^T P_phi``: ``h*h`` strided slice-adds into the padded buffer (``np.add.at`` and
  ``np.bincount`` measured slower, and ``bincount`` accumulates float32 in float64).
- ``(I ⊗ W) v``: one matrix product per window for the whole batch (BLAS).
- ``P_pool``: ``h_pool**2`` strided slices; max pooling keeps the index of the first
  maximum in the window order ``i + h_pool*j`` (NOTATION.md's tie rule) and routes the
  gradient through it.

The data layout is the chain's: instance columns, C-ordered ``(n, N)``, which as a 4-d
array is ``(b, a, d, N)`` (column, row, channel, instance), so every slice moves runs of
``N`` contiguous numbers. No Python loop runs over instances or entries; the loops below
run over the ``h*h`` window offsets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import Activation
from .operators import P_phi
from .shapes import LayerShape

__all__ = ["DenseCache"]


@dataclass(frozen=True)
class DenseCache:
    """What the dense backward pass needs; the counterpart of :class:`~kronconv.LayerCache`.

    Attributes
    ----------
    shape : LayerShape
    phi : ndarray of shape (h*h*d*a_conv*b_conv, N)
        Column i is ``vec(phi(pad(Z^i)))``.
    dsigma_S : ndarray of shape (d_out*a_conv*b_conv, N)
        Column i is ``vec(sigma'(S^i))``.
    pool_index : ndarray of int8 or None
        For max pooling, shape (b_out, a_out, d_out, N): the window entry (in the order
        ``i + h_pool*j``) that holds the first maximum.
    """

    shape: LayerShape
    phi: np.ndarray
    dsigma_S: np.ndarray
    pool_index: np.ndarray | None

    @property
    def N(self) -> int:
        return self.phi.shape[1]


def _window_slices(stride: int, count: int, size: int) -> list[slice]:
    """For each offset ``k < size``, the slice ``k, k + stride, ..., k + (count-1)*stride``."""
    return [slice(k, k + stride * (count - 1) + 1, stride) for k in range(size)]


def _pad(Zc: np.ndarray, shape: LayerShape) -> np.ndarray:
    """``P_pad vec(Z^i)`` for every column: the image in the interior of a zero buffer."""
    p, N = shape.padding, Zc.shape[1]
    if p == 0:
        return Zc
    out = np.zeros((shape.b_pad, shape.a_pad, shape.d, N), dtype=Zc.dtype)
    out[p:p + shape.b, p:p + shape.a] = Zc.reshape(shape.b, shape.a, shape.d, N)
    return out.reshape(shape.n_pad, N)


def _pad_T(G: np.ndarray, shape: LayerShape) -> np.ndarray:
    """``P_pad^T`` for every column: the interior of the padded gradient."""
    p, N = shape.padding, G.shape[1]
    if p == 0:
        return G
    G4 = G.reshape(shape.b_pad, shape.a_pad, shape.d, N)
    return np.ascontiguousarray(G4[p:p + shape.b, p:p + shape.a]).reshape(shape.n_in, N)


def _phi(X: np.ndarray, shape: LayerShape) -> np.ndarray:
    """``P_phi vec(pad(Z^i))`` for every column: a gather of rows through P_phi's index."""
    return np.take(X, P_phi(shape).indices, axis=0)


def _phi_T(G: np.ndarray, shape: LayerShape) -> np.ndarray:
    """``P_phi^T`` for every column: ``h*h`` strided slice-adds (col2im)."""
    h, N = shape.h, G.shape[1]
    out = np.zeros((shape.b_pad, shape.a_pad, shape.d, N), dtype=G.dtype)
    G6 = G.reshape(shape.b_conv, shape.a_conv, shape.d, h, h, N)      # (w, u, c, j, i, N)
    rows = _window_slices(shape.stride, shape.a_conv, h)
    cols = _window_slices(shape.stride, shape.b_conv, h)
    for j in range(h):
        for i in range(h):
            out[cols[j], rows[i]] += G6[:, :, :, j, i, :]
    return out.reshape(shape.n_pad, N)


def _pool(sigma: np.ndarray, shape: LayerShape) -> tuple[np.ndarray, np.ndarray | None]:
    """``P_pool vec(sigma(S^i))`` for every column, and the first-maximum index for max."""
    N = sigma.shape[1]
    if shape.pool == "none":
        return sigma, None
    k = shape.pool_size
    A = sigma.reshape(shape.b_conv, shape.a_conv, shape.d_out, N)
    rows = _window_slices(shape.pool_stride, shape.a_out, k)
    cols = _window_slices(shape.pool_stride, shape.b_out, k)
    order = [(i, j) for j in range(k) for i in range(k)]             # i + k*j
    i0, j0 = order[0]
    out = A[cols[j0], rows[i0]].copy()
    if shape.pool == "average":
        for i, j in order[1:]:
            out += A[cols[j], rows[i]]
        out /= k * k
        return out.reshape(shape.n_out, N), None
    index = np.zeros(out.shape, dtype=np.int8)
    for e, (i, j) in enumerate(order[1:], 1):
        window_entry = A[cols[j], rows[i]]
        larger = window_entry > out                                   # strict: ties keep the first
        np.copyto(out, window_entry, where=larger)
        index[larger] = e
    return out.reshape(shape.n_out, N), index


def _pool_T(G: np.ndarray, shape: LayerShape, index: np.ndarray | None) -> np.ndarray:
    """``P_pool^T`` for every column: each output's gradient back to its window entries."""
    N = G.shape[1]
    if shape.pool == "none":
        return G
    k = shape.pool_size
    G4 = G.reshape(shape.b_out, shape.a_out, shape.d_out, N)
    out = np.zeros((shape.b_conv, shape.a_conv, shape.d_out, N), dtype=G.dtype)
    rows = _window_slices(shape.pool_stride, shape.a_out, k)
    cols = _window_slices(shape.pool_stride, shape.b_out, k)
    order = [(i, j) for j in range(k) for i in range(k)]
    if shape.pool == "average":
        share = G4 / (k * k)
        for i, j in order:
            out[cols[j], rows[i]] += share
    else:
        for e, (i, j) in enumerate(order):
            out[cols[j], rows[i]] += np.where(index == e, G4, 0)
    return out.reshape(shape.n_S, N)


def forward_cols(Zc: np.ndarray, W: np.ndarray, b: np.ndarray, shape: LayerShape,
                 act: Activation, keep: bool) -> tuple[np.ndarray, DenseCache | None]:
    """Equation (6) on instance columns: ``Z^{m+1}`` and, with ``keep``, the cache."""
    N = Zc.shape[1]
    phi = _phi(_pad(Zc, shape), shape)
    S = np.matmul(W, phi.reshape(shape.n_windows, -1, N))                # (I ⊗ W) vec(phi)
    S += b[:, None]
    S = S.reshape(shape.n_S, N)
    Z_next, index = _pool(act(S), shape)
    return Z_next, (DenseCache(shape, phi, act.derivative(S), index) if keep else None)


def grad_S_cols(dZc: np.ndarray, cache: DenseCache) -> np.ndarray:
    """(7): ``P_pool^T vec(dZ^{m+1,i}) ⊙ vec(sigma'(S^i))`` for every column."""
    return _pool_T(dZc, cache.shape, cache.pool_index) * cache.dsigma_S


def grad_W_cols(dS: np.ndarray, phi: np.ndarray, shape: LayerShape) -> np.ndarray:
    """(1) as ``vec(dS phi^T)``: per window, ``dS_w (d_out, N)`` times ``phi_w^T (N, h*h*d)``,
    summed over the windows (and so over the instances)."""
    N = dS.shape[1]
    return np.matmul(dS.reshape(shape.n_windows, shape.d_out, N),
                     phi.reshape(shape.n_windows, -1, N).transpose(0, 2, 1)).sum(axis=0)


def grad_b_cols(dS: np.ndarray, shape: LayerShape) -> np.ndarray:
    """(5) as ``dS 1``, summed over the instances."""
    return dS.reshape(shape.n_windows, shape.d_out, -1).sum(axis=(0, 2))


def WT_dS_cols(W: np.ndarray, dS: np.ndarray, shape: LayerShape) -> np.ndarray:
    """``vec(W^T dS^i)`` for every column: one matrix product per window (the start of (9))."""
    return np.matmul(W.T, dS.reshape(shape.n_windows, shape.d_out, -1)).reshape(shape.n_phi, -1)


def backward_cols(dZc: np.ndarray, W: np.ndarray,
                  cache: DenseCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(7), then (1) and (5), then (9), on instance columns."""
    shape = cache.shape
    dS = grad_S_cols(dZc, cache)                                             # (7)
    return (grad_W_cols(dS, cache.phi, shape),                               # (1)
            grad_b_cols(dS, shape),                                          # (5)
            _pad_T(_phi_T(WT_dS_cols(W, dS, shape), shape), shape))          # (9)
