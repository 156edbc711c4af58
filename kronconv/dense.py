"""The dense fast path: the same numbers as the sparse chain, the way simpleNN computes them.

:mod:`kronconv.sparse` and this module offer the same layer functions (the stages the
profiler times, the equations of :mod:`kronconv.backends`) under the same names; here every
operator of :mod:`kronconv.operators` is replaced by what it does to
the data, in matrix-free pairs (each checked against its transpose by the adjoint test):

- :func:`pad` / :func:`pad_T` (``P_pad``): the interior of a zero buffer, and back out.
- :func:`im2col` / :func:`col2im` (``P_phi``): one copy of the padded images' window view
  (checked once per shape against the operator ``P_phi`` itself), and ``h*h`` strided
  slice-adds (measured faster than ``np.add.at`` and ``np.bincount``, which also accumulates float32
  in float64).
- :func:`pool_apply` / :func:`pool_T` (``P_pool``): ``h_pool**2`` strided slices; max
  pooling keeps the index of the first maximum in the window order ``i + h_pool*j`` (the
  tie rule of the conventions, :func:`kronconv.pooling.first_max`) and routes through it.
- max pooling after a ReLU pools ``S`` first: ``max_e relu(S_e) = relu(max_e S_e)``, the
  same first maximum where it is > 0, and where it is <= 0 every ``sigma'`` of the window is
  0 (the index is -1 there: nothing is routed back, and :func:`pool_pattern` reports entry 0,
  the conventions' choice); the activation then runs on the pooled outputs, and no
  ``sigma'`` is computed (every entry routed back has ``sigma'`` 1).
- ``I ⊗ W``: one matrix product ``W phi`` for the whole batch (BLAS), and likewise
  ``dS phi^T`` for (1) and ``W^T dS`` for (9).

Layout: channel first (:mod:`kronconv.layout`), a C-ordered ``X[c, q, r, i]``, so ``phi``
is the matrix ``(h*h*d, a_conv*b_conv*N)`` with the rows in the conventions' order and each
product is one large GEMM; every slice moves runs of contiguous numbers. No Python loop
runs over instances or entries; the loops below run over the ``h*h`` window offsets.

The large arrays (``phi``, ``S``, ``W^T dS``, the padded and col2im buffers, ``P_pool^T``'s
output) come from :mod:`kronconv.scratch`: new arrays the caller owns, except inside a block
of :func:`kronconv.objective` and its kin, where they are written into buffers kept from the
previous block (``out=``), the same numbers without fresh pages.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import scratch
from ._deprecated import moved
from .activations import ACTIVATIONS, Activation
from .cache import LayerCache
from .layout import channel_first_from_columns, columns_from_channel_first
from .memory import cached
from .operators import P_phi
from .pooling import first_max, offsets, window_entries
from .shapes import LayerShape

__all__ = [
    "R_forward",
    "col2im",
    "conv_S",
    "forward",
    "from_columns",
    "grad_S",
    "grad_W",
    "grad_Z",
    "grad_b",
    "im2col",
    "pad",
    "pad_T",
    "phi_pad",
    "pool",
    "pool_T",
    "pool_apply",
    "pool_pattern",
    "to_columns",
]

NAME = "dense"


def from_columns(C: np.ndarray, a: int, b: int, d: int) -> np.ndarray:
    """Instance columns of ``(d, a, b)`` images to this backend's channel-first layout."""
    return channel_first_from_columns(C, a, b, d)


def to_columns(X: np.ndarray) -> np.ndarray:
    """This backend's channel-first layout back to instance columns."""
    return columns_from_channel_first(X)


def _only(form: str, computed: str = "vec") -> None:
    """Refuse a form this backend does not compute (the sparse chain computes both)."""
    if form != computed:
        raise ValueError(f"form={form!r} is the sparse chain's: the dense backend computes "
                         f"form={computed!r}")


# --- the operators, as what they do ----------------------------------------------------------


def pad(X: np.ndarray, shape: LayerShape) -> np.ndarray:
    """``P_pad``: the image in the interior of a zero buffer."""
    p = shape.padding
    if p == 0:
        return X
    out = scratch.zeros((shape.d, shape.b_pad, shape.a_pad, X.shape[-1]), X.dtype)
    out[:, p:p + shape.b, p:p + shape.a] = X
    return out


def pad_T(G: np.ndarray, shape: LayerShape) -> np.ndarray:
    """``P_pad^T``: the interior of the padded gradient."""
    p = shape.padding
    if p == 0:
        return G
    out = scratch.empty((shape.d, shape.b, shape.a, G.shape[-1]), G.dtype)
    np.copyto(out, G[:, p:p + shape.b, p:p + shape.a])
    return out


def _windows(X: np.ndarray, shape: LayerShape) -> np.ndarray:
    """The padded images' windows as a view ``V[c, j, i, w, u, n] = X[c, j + s*w, i + s*u, n]``
    (``s`` the stride): phi's rows in P_phi's order, without copying."""
    c, q, r, n = X.strides
    s = shape.stride
    return as_strided(X, (shape.d, shape.h, shape.h, shape.b_conv, shape.a_conv, X.shape[-1]),
                      (c, q, r, q * s, r * s, n), writeable=False)


@cached
def _check_windows(shape: LayerShape) -> bool:
    """``True`` once :func:`_windows` is seen to read what ``P_phi`` reads, on the image of
    flat positions (the operator is the one source of truth for the index order; checked once
    per shape, cached); an ``AssertionError`` otherwise."""
    positions = np.arange(shape.d * shape.b_pad * shape.a_pad, dtype=np.float64).reshape(
        shape.d, shape.b_pad, shape.a_pad, 1)
    expected = P_phi(shape) @ columns_from_channel_first(positions)    # rows k + K*window
    seen = _windows(positions, shape).reshape(shape.W_shape[1], -1).T.ravel()
    if not np.array_equal(seen, expected.ravel()):
        raise AssertionError(f"the window view disagrees with P_phi's index for {shape}")
    return True


def im2col(X: np.ndarray, shape: LayerShape) -> np.ndarray:
    """``P_phi`` (im2col): one copy of the windows' strided view (``_windows``, checked
    against ``P_phi`` once per shape), moving runs of ``a_conv * N`` numbers (1.2-2.3 times
    faster than a gather of rows through the index on cifar10-3layer's layers, 13-32
    instances, on a Xeon)."""
    _check_windows(shape)
    N = X.shape[-1]
    out = scratch.empty((shape.d, shape.h, shape.h, shape.b_conv, shape.a_conv, N), X.dtype)
    np.copyto(out, _windows(X, shape))
    return out.reshape(shape.W_shape[1], -1)


def col2im(G: np.ndarray, shape: LayerShape) -> np.ndarray:
    """``P_phi^T`` (col2im): ``h*h`` strided slice-adds into the padded buffer."""
    h, N = shape.h, G.shape[-1] // shape.n_windows
    out = scratch.zeros((shape.d, shape.b_pad, shape.a_pad, N), G.dtype)
    G6 = G.reshape(shape.d, h, h, shape.b_conv, shape.a_conv, N)
    rows, cols = offsets(shape.stride, shape.a_conv, h), offsets(shape.stride, shape.b_conv, h)
    for j in range(h):
        for i in range(h):
            window = out[:, cols[j], rows[i]]
            np.add(window, G6[:, j, i], out=window)     # one subscript, not `+=`'s two
    return out


def pool(A: np.ndarray, shape: LayerShape) -> tuple[np.ndarray, np.ndarray | None]:
    """``P_pool``, and for max pooling the index of each window's first maximum (``None``
    otherwise): ``(Z^{m+1}, the pooling chosen)`` like :func:`kronconv.sparse.pool`."""
    if shape.pool == "none":
        return A, None
    if shape.pool == "max":
        return first_max(A, shape)
    entries = window_entries(shape)
    _, r0, c0 = entries[0]
    out = A[:, c0, r0].copy()
    for _, r, c in entries[1:]:
        out += A[:, c, r]
    out /= len(entries)
    return out, None


def pool_apply(A: np.ndarray, shape: LayerShape, index: np.ndarray | None) -> np.ndarray:
    """``P_pool`` as the forward pass chose it (max: the stored entries), applied to ``A``."""
    if shape.pool != "max":
        return pool(A, shape)[0]
    out = np.zeros((shape.d_out, shape.b_out, shape.a_out, A.shape[-1]), dtype=A.dtype)
    for e, r, c in window_entries(shape):
        out += A[:, c, r] * (index == e)
    return out


def pool_T(G: np.ndarray, shape: LayerShape, index: np.ndarray | None) -> np.ndarray:
    """``P_pool^T``: each output's gradient back to its window's entries."""
    if shape.pool == "none":
        return G
    # windows that neither overlap nor leave a row or column out are written, not added
    tiles = (shape.pool_stride == shape.pool_size and shape.a_out * shape.pool_size == shape.a_conv
             and shape.b_out * shape.pool_size == shape.b_conv)
    out = (scratch.empty if tiles else scratch.zeros)(
        (shape.d_out, shape.b_conv, shape.a_conv, G.shape[-1]), G.dtype)
    entries = window_entries(shape)
    if shape.pool == "average":
        share = G / len(entries)
        for _, r, c in entries:
            if tiles:
                out[:, c, r] = share
            else:
                np.add(out[:, c, r], share, out=out[:, c, r])
        return out
    for e, r, c in entries:
        if tiles:
            np.multiply(G, index == e, out=out[:, c, r])
        else:
            np.add(out[:, c, r], G * (index == e), out=out[:, c, r])
    return out


# --- one layer ---------------------------------------------------------------------------------


def phi_pad(Z: np.ndarray, shape: LayerShape) -> np.ndarray:
    """``phi(pad(Z))`` for every instance: ``im2col(pad(Z))``, shape (h*h*d, b_conv, a_conv, N)."""
    return im2col(pad(Z, shape), shape).reshape(-1, shape.b_conv, shape.a_conv, Z.shape[-1])


def conv_S(phi: np.ndarray, W: np.ndarray, b: np.ndarray, shape: LayerShape,
           form: str = "I_kron_W") -> np.ndarray:
    """The convolution ``S = W phi + b 1^T``: one matrix product for the whole batch."""
    _only(form, "I_kron_W")
    phi2 = phi.reshape(shape.W_shape[1], -1)
    S = np.matmul(W, phi2, out=scratch.empty((shape.d_out, phi2.shape[1]), np.result_type(W, phi)))
    S = S.reshape(shape.d_out, *phi.shape[1:])
    S += b[:, None, None, None]
    return S


def _pools_first(shape: LayerShape, act: Activation) -> bool:
    """Whether max pooling runs before the activation: a ReLU (see the module's notes)."""
    return shape.pool == "max" and act is ACTIVATIONS["relu"]


def forward(Z: np.ndarray, W: np.ndarray, b: np.ndarray, shape: LayerShape, act: Activation,
            keep: bool) -> tuple[np.ndarray, LayerCache | None]:
    """One layer's forward pass: ``phi = im2col(pad(Z))``, ``S = W phi + b 1^T``,
    ``Z^{m+1} = pool(sigma(S))`` (``sigma(pool(S))`` after a ReLU); with ``keep``, the cache
    for the backward pass."""
    phi = phi_pad(Z, shape)
    S = conv_S(phi, W, b, shape)
    if _pools_first(shape, act):
        maximum, index = pool(S, shape)
        index = np.where(maximum > 0, index, index.dtype.type(-1))   # relu' 0 in the window
        Z_next = act(maximum)
    else:
        Z_next, index = pool(act(S), shape)
    return Z_next, (LayerCache(shape, NAME, phi, S, act, index) if keep else None)


def grad_S(dZ_next: np.ndarray, cache: LayerCache) -> np.ndarray:
    """(7): ``P_pool^T vec(dZ^{m+1}) ⊙ vec(sigma'(S))``, channel first (after a ReLU pooled
    first, ``sigma'`` of every routed entry is 1)."""
    dS = pool_T(dZ_next, cache.shape, cache.pool)
    if _pools_first(cache.shape, cache.act):
        return dS
    dsigma = cache.dsigma_S
    return np.multiply(dS, dsigma, out=scratch.empty(dS.shape, np.result_type(dS, dsigma)))


def grad_W(dS: np.ndarray, phi: np.ndarray, shape: LayerShape, form: str = "vec") -> np.ndarray:
    """(1), summed over the instances: ``vec(dS phi^T)``, one matrix product."""
    _only(form)
    dS2, phi2 = dS.reshape(shape.d_out, -1), phi.reshape(shape.W_shape[1], -1)
    if dS2.dtype == np.float32:
        # (phi dS^T)^T: OpenBLAS's sgemm runs this long reduction 1.3-1.8 times faster with
        # phi's rows as the output's rows (measured on a Xeon; in float64 neither order leads)
        return (phi2 @ dS2.T).T
    return dS2 @ phi2.T


def grad_b(dS: np.ndarray, shape: LayerShape, form: str = "vec") -> np.ndarray:
    """(5), summed over the instances: ``vec(dS 1)``."""
    _only(form)
    return dS.reshape(shape.d_out, -1).sum(axis=1)


def grad_Z(dS: np.ndarray, W: np.ndarray, shape: LayerShape, form: str = "vec") -> np.ndarray:
    """(9): ``vec(W^T dS)^T P_phi P_pad`` as ``pad_T(col2im(W^T dS))``."""
    _only(form)
    dS2 = dS.reshape(shape.d_out, -1)
    WT_dS = np.matmul(W.T, dS2, out=scratch.empty((W.shape[1], dS2.shape[1]),
                                                    np.result_type(W, dS)))
    return pad_T(col2im(WT_dS, shape), shape)


def R_forward(RZ: np.ndarray | None, VW: np.ndarray, vb: np.ndarray, W: np.ndarray,
              cache: LayerCache) -> np.ndarray:
    """``R(Z^{m+1})`` along ``(V_W, v_b)`` given ``R(Z^m)`` (``None``: zero, the images).

    ``R(S) = W R(phi) + V_W phi + v_b 1^T``, ``R(sigma(S)) = sigma'(S) ⊙ R(S)``, then the
    pooling chosen by the forward pass.
    """
    shape = cache.shape
    RS = conv_S(cache.phi, VW, vb, shape)
    if RZ is not None:
        RS += (W @ im2col(pad(RZ, shape), shape)).reshape(RS.shape)
    if _pools_first(shape, cache.act):
        return pool_apply(RS, shape, cache.pool)
    return pool_apply(RS * cache.dsigma_S, shape, cache.pool)


def pool_pattern(cache: LayerCache) -> np.ndarray | None:
    """Which entry max pooling chose in every window (``None`` for other pooling)."""
    if _pools_first(cache.shape, cache.act):
        return np.maximum(cache.pool, 0)
    return cache.pool


__getattr__ = moved('kronconv.dense', {
    'DenseCache': 'cache:LayerCache',
    'cm_from_cols': 'layout:channel_first_from_columns',
    'cols_from_cm': 'layout:columns_from_channel_first',
    'forward_cm': 'dense:forward',
    'grad_S_cm': 'dense:grad_S',
    'R_forward_cm': 'dense:R_forward',
})
