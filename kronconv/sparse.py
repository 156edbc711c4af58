"""The sparse chain: every stage of a convolutional layer is the product with its operator.

Each function is one equation of the slides, computed by multiplying the operators of
:mod:`kronconv.operators` exactly as the public functions return them (numbers and index
orders: the conventions page of the documentation). The instances are the columns of a
C-ordered ``(n, N)`` array, column i holding ``vec(M^i)`` ("instance columns",
:mod:`kronconv.layout`), so an operator shared by the instances acts on the whole batch in
one sparse-times-dense product; max pooling's ``P_pool``, which differs per instance, acts
as the block diagonal of the instances' operators on the vec of the whole batch.

:mod:`kronconv.dense` offers the same layer functions under the same names, computing the
same numbers without building the operators (the pooling's pair differs in what it carries:
here the ``P_pool`` built, there the index of each window's first maximum).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .activations import Activation
from .cache import LayerCache
from .layout import batch_from_columns, columns_from_vec
from .operators import P_pad, P_phi, build_I_kron_W, build_P_pool, build_phiT_kron_I, ones_kron_I
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
    "pool_pattern",
    "to_columns",
]

NAME = "sparse"


def from_columns(C: np.ndarray, a: int, b: int, d: int) -> np.ndarray:
    """Instance columns are this backend's layout: ``C`` itself."""
    return C


def to_columns(X: np.ndarray) -> np.ndarray:
    """Instance columns are this backend's layout: ``X`` itself."""
    return X


def _times(P: sp.csr_array, C: np.ndarray, transpose: bool = False) -> np.ndarray:
    """``P C`` (or ``P^T C``) on instance columns: an operator shared by the instances acts on
    every column; a block-diagonal one (max pooling's) acts on the vec of the whole batch."""
    A = P.T if transpose else P
    if A.shape[1] == C.shape[0]:
        return A @ C
    return columns_from_vec(A @ C.ravel(order="F"), A.shape[0] // C.shape[1])


# --- the operators, as products ------------------------------------------------------------


def pad(Z: np.ndarray, shape: LayerShape) -> np.ndarray:
    """``vec(pad(Z)) = P_pad vec(Z)`` for every instance."""
    return P_pad(shape, Z.dtype) @ Z


def pad_T(G: np.ndarray, shape: LayerShape) -> np.ndarray:
    """``P_pad^T G`` for every instance."""
    return P_pad(shape, G.dtype).T @ G


def im2col(X: np.ndarray, shape: LayerShape) -> np.ndarray:
    """``vec(phi) = P_phi vec(pad(Z))`` for every instance."""
    return P_phi(shape, X.dtype) @ X


def col2im(G: np.ndarray, shape: LayerShape) -> np.ndarray:
    """``P_phi^T G`` for every instance."""
    return P_phi(shape, G.dtype).T @ G


def pool_T(G: np.ndarray, P: sp.csr_array) -> np.ndarray:
    """``P_pool^T G``: the gradient of the pooling's output back to its input."""
    return _times(P, G, transpose=True)


# --- forward --------------------------------------------------------------------------------


def phi_pad(Z: np.ndarray, shape: LayerShape) -> np.ndarray:
    """``vec(phi(pad(Z))) = P_phi P_pad vec(Z)`` for every instance."""
    return im2col(pad(Z, shape), shape)


def _bias(b: np.ndarray, shape: LayerShape, dtype: np.dtype) -> np.ndarray:
    """``(1 ⊗ I) b``, the bias term of ``vec(S)``, as a column shared by every instance."""
    return (ones_kron_I(shape, dtype) @ b)[:, None]


def _convolve(IW: sp.csr_array, phi: np.ndarray, b: np.ndarray, shape: LayerShape) -> np.ndarray:
    """``vec(S) = (I ⊗ W) vec(phi) + (1 ⊗ I) b`` for every instance, given ``I ⊗ W``."""
    return IW @ phi + _bias(b, shape, phi.dtype)


def conv_S(phi: np.ndarray, W: np.ndarray, b: np.ndarray, shape: LayerShape,
           form: str = "I_kron_W") -> np.ndarray:
    """The convolution ``vec(S) = (I ⊗ W) vec(phi) + (1 ⊗ I) b``, or with
    ``form="phiT_kron_I"`` ``vec(S) = (phi^T ⊗ I) vec(W) + (1 ⊗ I) b``, for every instance."""
    if form == "I_kron_W":
        return _convolve(build_I_kron_W(W, shape), phi, b, shape)
    phi_batch = batch_from_columns(phi, shape.W_shape[1])        # phi^T ⊗ I acts on vec(W)
    S = build_phiT_kron_I(phi_batch, shape.d_out) @ W.reshape(-1, order="F")
    return columns_from_vec(S, shape.n_S) + _bias(b, shape, phi.dtype)


def pool(sigma_S: np.ndarray, shape: LayerShape) -> tuple[np.ndarray, sp.csr_array]:
    """``vec(Z^{m+1}) = P_pool vec(sigma(S))`` for every instance, and the ``P_pool`` used."""
    P = build_P_pool(shape, batch_from_columns(sigma_S, shape.d_out), sigma_S.dtype)
    return _times(P, sigma_S), P


def forward(Z: np.ndarray, W: np.ndarray, b: np.ndarray, shape: LayerShape, act: Activation,
            keep: bool) -> tuple[np.ndarray, LayerCache | None]:
    """One layer's forward pass: ``vec(phi) = P_phi P_pad vec(Z)``,
    ``vec(S) = (I ⊗ W) vec(phi) + (1 ⊗ I) b``, ``vec(Z^{m+1}) = P_pool vec(sigma(S))``;
    with ``keep``, the cache for the backward pass."""
    phi = phi_pad(Z, shape)
    IW = build_I_kron_W(W, shape)
    S = _convolve(IW, phi, b, shape)
    Z_next, P = pool(act(S), shape)
    if not keep:
        return Z_next, None
    return Z_next, LayerCache(shape, NAME, phi, S, act, P, IW)


# --- backward -------------------------------------------------------------------------------


def grad_S(dZ_next: np.ndarray, cache: LayerCache) -> np.ndarray:
    """(7): ``∂ξ/∂vec(S)^T = (∂ξ/∂vec(Z^{m+1})^T P_pool) ⊙ vec(sigma'(S))^T``."""
    return pool_T(dZ_next, cache.pool) * cache.dsigma_S


def grad_W(dS: np.ndarray, phi: np.ndarray, shape: LayerShape, form: str = "vec") -> np.ndarray:
    """(1), summed over the instances: ``∂ξ/∂vec(W)^T = ∂ξ/∂vec(S)^T (phi^T ⊗ I)`` (``"kron"``)
    or ``vec(∂ξ/∂S phi^T)^T`` (``"vec"``)."""
    if form == "kron":
        phi_batch = batch_from_columns(phi, shape.W_shape[1])
        dW = build_phiT_kron_I(phi_batch, shape.d_out).T @ dS.ravel(order="F")
        return dW.reshape(shape.W_shape, order="F")
    n, N = shape.n_windows, dS.shape[1]
    # dS phi^T: the sum over every window w of every instance of dS_w phi_w^T
    return np.tensordot(dS.reshape(n, shape.d_out, N), phi.reshape(n, -1, N),
                        axes=([0, 2], [0, 2]))


def grad_b(dS: np.ndarray, shape: LayerShape, form: str = "vec") -> np.ndarray:
    """(5), summed over the instances: ``∂ξ/∂b^T = ∂ξ/∂vec(S)^T (1 ⊗ I)`` (``"kron"``) or
    ``vec(∂ξ/∂S 1)^T`` (``"vec"``)."""
    if form == "kron":
        return (ones_kron_I(shape, dS.dtype).T @ dS).sum(axis=1)
    return dS.reshape(shape.n_windows, shape.d_out, -1).sum(axis=(0, 2))


def grad_Z(dS: np.ndarray, W: np.ndarray, shape: LayerShape, form: str = "vec") -> np.ndarray:
    """(8) ``∂ξ/∂vec(Z)^T = ∂ξ/∂vec(S)^T (I ⊗ W) P_phi P_pad`` (``"kron"``) or
    (9) ``vec(W^T ∂ξ/∂S)^T P_phi P_pad`` (``"vec"``)."""
    if form == "kron":
        g_phi = build_I_kron_W(W, shape).T @ dS
    else:
        g_phi = np.matmul(W.T, dS.reshape(shape.n_windows, shape.d_out, -1))
    return pad_T(col2im(g_phi.reshape(shape.n_phi, -1), shape), shape)


# --- the R-operator (Jacobian-vector products) ------------------------------------------------


def R_forward(RZ: np.ndarray | None, VW: np.ndarray, vb: np.ndarray, W: np.ndarray,
              cache: LayerCache) -> np.ndarray:
    """``R(vec Z^{m+1})`` along ``(V_W, v_b)`` given ``R(vec Z^m)`` (``None``: zero, the images).

    ``R(vec S) = (I ⊗ W) P_phi P_pad R(vec Z) + (phi^T ⊗ I) vec(V_W) + (1 ⊗ I) v_b``, the
    middle term computed as ``(I ⊗ V_W) vec(phi)`` (identities (2), (3)); then
    ``R(vec sigma(S)) = vec(sigma'(S)) ⊙ R(vec S)`` and the forward pass's ``P_pool``.
    """
    shape = cache.shape
    RS = conv_S(cache.phi, VW, vb, shape)
    if RZ is not None:
        RS += cache.I_kron_W @ phi_pad(RZ, shape)
    return _times(cache.pool, cache.dsigma_S * RS)


def pool_pattern(cache: LayerCache) -> np.ndarray | None:
    """Which entry max pooling chose in every window (``None`` for other pooling)."""
    return cache.pool.indices if cache.shape.pool == "max" else None
