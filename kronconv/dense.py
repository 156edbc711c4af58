"""The dense fast path: the same numbers as the sparse chain, the way simpleNN computes them.

Every operator of :mod:`kronconv.operators` is replaced by what it does to the data:

- ``P_pad v``: the interior of a zero buffer; ``P_pad^T v``: the interior sliced back out.
- ``P_phi v`` (im2col): a gather through P_phi's row -> column index (measured faster
  than ``h*h`` strided slice copies); ``v^T P_phi`` (col2im): ``h*h`` strided slice-adds
  (measured faster than ``np.add.at`` and ``np.bincount``, which also accumulates float32
  in float64).
- ``(I ⊗ W) vec(phi)``: one matrix product ``W phi`` for the whole batch (BLAS), and
  likewise ``dS phi^T`` for (1) and ``W^T dS`` for (9).
- ``P_pool``: ``h_pool**2`` strided slices; max pooling keeps the index of the first
  maximum in the window order ``i + h_pool*j`` (NOTATION.md's tie rule) and routes the
  gradient through it.

Layout: channel first, instance last. A layer's input is the 4-d array ``X[c, q, r, n]``
(channel, image column, image row, instance), C-ordered, so ``phi`` comes out as the
matrix ``(h*h*d, a_conv*b_conv*N)`` with the window offsets and channels in NOTATION.md's
row order and each product is one large GEMM; every slice moves runs of contiguous
numbers. The network converts from and to the sparse chain's instance columns once, at
the first layer and at the first fully-connected layer. No Python loop runs over
instances or entries; the loops below run over the ``h*h`` window offsets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import Activation
from .memory import cached
from .operators import P_phi
from .shapes import LayerShape

__all__ = ["DenseCache", "cm_from_cols", "cols_from_cm"]


@dataclass(frozen=True)
class DenseCache:
    """What the dense backward pass needs; the counterpart of :class:`~kronconv.LayerCache`.

    Attributes
    ----------
    shape : LayerShape
    phi : ndarray of shape (h*h*d, a_conv*b_conv*N)
        ``phi(pad(Z))`` of every instance, window ``u + a_conv*w`` of instance n in column
        ``(w*a_conv + u)*N + n``.
    dsigma_S : ndarray of shape (d_out, b_conv, a_conv, N)
        ``sigma'(S)``, channel first.
    pool_index : ndarray of int8 (int32 beyond 127 window entries) or None
        For max pooling, shape (d_out, b_out, a_out, N): the window entry (in the order
        ``i + h_pool*j``) that holds the first maximum.
    """

    shape: LayerShape
    phi: np.ndarray
    dsigma_S: np.ndarray
    pool_index: np.ndarray | None

    @property
    def N(self) -> int:
        return self.dsigma_S.shape[-1]


# --- layouts ---------------------------------------------------------------------------------


def cm_from_cols(Zc: np.ndarray, a: int, b: int, d: int) -> np.ndarray:
    """Instance columns ``(d*a*b, N)``, entry ``(c, r, q)`` at ``c + d*(r + a*q)``, to
    ``X[c, q, r, n]``."""
    return np.ascontiguousarray(Zc.reshape(b, a, d, -1).transpose(2, 0, 1, 3))


def cols_from_cm(X: np.ndarray) -> np.ndarray:
    """Inverse of :func:`cm_from_cols`."""
    d, b, a, N = X.shape
    return np.ascontiguousarray(X.transpose(1, 2, 0, 3)).reshape(d * a * b, N)


def _offsets(stride: int, count: int, size: int) -> list[slice]:
    """For each offset ``k < size``, the slice ``k, k + stride, ..., k + (count-1)*stride``."""
    return [slice(k, k + stride * (count - 1) + 1, stride) for k in range(size)]


# --- the operators, as what they do ----------------------------------------------------------


def _pad(X: np.ndarray, shape: LayerShape) -> np.ndarray:
    """``P_pad``: the image in the interior of a zero buffer."""
    p = shape.padding
    if p == 0:
        return X
    out = np.zeros((shape.d, shape.b_pad, shape.a_pad, X.shape[-1]), dtype=X.dtype)
    out[:, p:p + shape.b, p:p + shape.a] = X
    return out


def _pad_T(G: np.ndarray, shape: LayerShape) -> np.ndarray:
    """``P_pad^T``: the interior of the padded gradient."""
    p = shape.padding
    return G if p == 0 else np.ascontiguousarray(G[:, p:p + shape.b, p:p + shape.a])


@cached
def _gather_index(shape: LayerShape) -> np.ndarray:
    """P_phi's row -> column index, renumbered for the channel-first layout.

    Row ``(c, j, i, w, u)`` of phi (window offset (i, j), channel c, window (u, w)) reads
    the padded image at ``(c, q, r)``, the column ``c + d*(r + a_pad*q)`` that ``P_phi``
    holds for its row ``(i + h*j + h*h*c) + h*h*d*(u + a_conv*w)``.
    """
    h, d = shape.h, shape.d
    c, j, i, w, u = np.ix_(range(d), range(h), range(h), range(shape.b_conv),
                           range(shape.a_conv))
    sparse_rows = (i + h * j + h * h * c) + h * h * d * (u + shape.a_conv * w)
    cols = P_phi(shape).indices[sparse_rows.ravel()].astype(np.intp)
    channel, position = cols % d, cols // d
    index = (channel * shape.b_pad + position // shape.a_pad) * shape.a_pad + position % shape.a_pad
    index.flags.writeable = False
    return index


def _phi(X: np.ndarray, shape: LayerShape) -> np.ndarray:
    """``P_phi`` (im2col): a gather of rows through P_phi's row -> column index."""
    N = X.shape[-1]
    return np.take(X.reshape(-1, N), _gather_index(shape), axis=0).reshape(shape.W_shape[1], -1)


def _phi_T(G: np.ndarray, shape: LayerShape) -> np.ndarray:
    """``P_phi^T`` (col2im): ``h*h`` strided slice-adds into the padded buffer."""
    h, N = shape.h, G.shape[-1] // shape.n_windows
    out = np.zeros((shape.d, shape.b_pad, shape.a_pad, N), dtype=G.dtype)
    G6 = G.reshape(shape.d, h, h, shape.b_conv, shape.a_conv, N)
    rows, cols = _offsets(shape.stride, shape.a_conv, h), _offsets(shape.stride, shape.b_conv, h)
    for j in range(h):
        for i in range(h):
            out[:, cols[j], rows[i]] += G6[:, j, i]
    return out


def _window_entries(shape: LayerShape):
    """``(e, row slice, column slice)`` of every pooling-window entry, in the order i + k*j."""
    k = shape.pool_size
    rows = _offsets(shape.pool_stride, shape.a_out, k)
    cols = _offsets(shape.pool_stride, shape.b_out, k)
    return [(i + k * j, rows[i], cols[j]) for j in range(k) for i in range(k)]


def _pool(A: np.ndarray, shape: LayerShape) -> tuple[np.ndarray, np.ndarray | None]:
    """``P_pool``, and for max pooling the index of each window's first maximum."""
    if shape.pool == "none":
        return A, None
    entries = _window_entries(shape)
    _, r0, c0 = entries[0]
    out = A[:, c0, r0].copy()
    if shape.pool == "average":
        for _, r, c in entries[1:]:
            out += A[:, c, r]
        out /= len(entries)
        return out, None
    itype = np.int8 if len(entries) <= np.iinfo(np.int8).max else np.int32
    index = np.zeros(out.shape, dtype=itype)
    larger = np.empty(out.shape, dtype=bool)
    step = np.empty(out.shape, dtype=itype)
    for e, r, c in entries[1:]:
        entry = A[:, c, r]
        np.greater(entry, out, out=larger)           # strict: a tie keeps the earlier entry
        np.maximum(out, entry, out=out)
        # e grows along the window order, so a new maximum's e exceeds the index so far
        np.multiply(larger, itype(e), out=step)
        np.maximum(index, step, out=index)
    return out, index


def _pool_again(A: np.ndarray, shape: LayerShape, index: np.ndarray | None) -> np.ndarray:
    """``P_pool`` as the forward pass chose it (max: the stored entries), applied to ``A``."""
    if shape.pool != "max":
        return _pool(A, shape)[0]
    out = np.zeros((shape.d_out, shape.b_out, shape.a_out, A.shape[-1]), dtype=A.dtype)
    for e, r, c in _window_entries(shape):
        out += A[:, c, r] * (index == e)
    return out


def _pool_T(G: np.ndarray, shape: LayerShape, index: np.ndarray | None) -> np.ndarray:
    """``P_pool^T``: each output's gradient back to its window's entries."""
    if shape.pool == "none":
        return G
    out = np.zeros((shape.d_out, shape.b_conv, shape.a_conv, G.shape[-1]), dtype=G.dtype)
    entries = _window_entries(shape)
    if shape.pool == "average":
        share = G / len(entries)
        for _, r, c in entries:
            out[:, c, r] += share
    else:
        routed = np.empty_like(G)
        for e, r, c in entries:
            np.multiply(G, index == e, out=routed)
            out[:, c, r] += routed
    return out


# --- one layer -------------------------------------------------------------------------------


def forward_cm(X: np.ndarray, W: np.ndarray, b: np.ndarray, shape: LayerShape,
               act: Activation, keep: bool) -> tuple[np.ndarray, DenseCache | None]:
    """Equation (6): ``X`` (d, b, a, N) to ``Z^{m+1}`` (d_out, b_out, a_out, N), and the cache."""
    N = X.shape[-1]
    phi = _phi(_pad(X, shape), shape)
    S = (W @ phi).reshape(shape.d_out, shape.b_conv, shape.a_conv, N)   # (I ⊗ W) vec(phi)
    S += b[:, None, None, None]
    Y, index = _pool(act(S), shape)
    return Y, (DenseCache(shape, phi, act.derivative(S), index) if keep else None)


def grad_S_cm(dY: np.ndarray, cache: DenseCache) -> np.ndarray:
    """(7): ``P_pool^T vec(dZ^{m+1}) ⊙ vec(sigma'(S))``, channel first."""
    return _pool_T(dY, cache.shape, cache.pool_index) * cache.dsigma_S


def backward_cm(dY: np.ndarray, W: np.ndarray, cache: DenseCache, need_dX: bool = True
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(7), then (1) and (5), then (9); ``dX`` channel first like the layer's input.

    ``need_dX=False`` skips (9), which the first layer of a network does not need.
    """
    shape = cache.shape
    dS = grad_S_cm(dY, cache).reshape(shape.d_out, -1)                  # (7)
    dW = dS @ cache.phi.T                                                 # (1) vec(dS phi^T)
    db = dS.sum(axis=1)                                                   # (5) vec(dS 1)
    if not need_dX:
        return dW, db, None
    return dW, db, _pad_T(_phi_T(W.T @ dS, shape), shape)                # (9) vec(W^T dS)


def R_forward_cm(RX: np.ndarray | None, VW: np.ndarray, vb: np.ndarray, W: np.ndarray,
                 cache: DenseCache) -> np.ndarray:
    """The R-operator of one layer: ``R(Z^{m+1})`` along ``(V_W, v_b)`` given ``R(Z^m)``.

    ``R(S) = W R(phi) + V_W phi + v_b 1^T``, ``R(sigma(S)) = sigma'(S) ⊙ R(S)``, then the
    pooling chosen by the forward pass. ``RX=None`` means ``R(Z^m) = 0`` (the images).
    """
    shape = cache.shape
    RS = VW @ cache.phi
    if RX is not None:
        RS += W @ _phi(_pad(RX, shape), shape)
    RS = RS.reshape(cache.dsigma_S.shape)
    RS += vb[:, None, None, None]
    return _pool_again(RS * cache.dsigma_S, shape, cache.pool_index)
