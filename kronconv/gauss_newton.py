"""Jacobian products Jv, J^T u and the Gauss-Newton product Gv, through the layers' chains.

For instance i, ``J_i = ∂z^{L+1,i}/∂theta^T`` (convention (4)). ``Jv`` is the forward
R-operator pass: with ``v`` split like theta into ``(V_W, v_b)`` per layer,

    R(vec S) = (I ⊗ W) P_phi P_pad R(vec Z) + (phi^T ⊗ I) vec(V_W) + (1 ⊗ I) v_b,
    R(vec sigma(S)) = vec(sigma'(S)) ⊙ R(vec S),   R(vec Z^{m+1}) = P_pool R(vec sigma(S)),

then ``R(s) = W R(z) + V_W z + v_b``, ``R(z') = sigma'(s) ⊙ R(s)`` for the fully-connected
layers. ``J^T u`` is the backward pass of the gradient with ``∂ξ/∂z^{L+1}`` replaced by ``u``.
The Gauss-Newton matrix of f on a subsample S of the ``l`` instances is

    G = I / (C l) + (1/|S|) sum_{i in S} J_i^T B_i J_i,

``B = 2I`` for the squared loss and ``diag(p) - p p^T`` (``p = softmax(z)``) for
cross-entropy. Every product reuses the forward pass's caches (phi, sigma', P_pool).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse.linalg import LinearOperator

from ._validate import check_int
from .architecture import Architecture
from .layer import Backend, _check_backend, _leave, _R_forward_layer
from .losses import LOSSES, check_labels
from .network import NetworkCache, _check, _check_C, _run, backward_network
from .parameters import unpack_params

__all__ = ["GaussNewton", "jacobian_T_vector", "jacobian_vector"]


def _R_network(theta: np.ndarray, v: np.ndarray, arch: Architecture,
               cache: NetworkCache, backend: str) -> np.ndarray:
    """``J v`` for every instance, from the forward pass's cache."""
    params, directions = unpack_params(theta, arch), unpack_params(v, arch)
    n_conv = len(arch.conv_shapes)
    RX = None                                             # R(Z^1) = 0: the images are data
    for m in range(n_conv):
        (VW, vb), W = directions[m], params[m][0]
        RX = _R_forward_layer(RX, VW, vb, W, cache.conv[m])
    Rz = _leave(RX, backend) if n_conv else None          # R(z) = vec(R(Z^{L_c+1}))
    for m, fc in enumerate(cache.full):
        (W, _), (VW, vb) = params[n_conv + m], directions[n_conv + m]
        Rs = VW @ fc.z + vb[:, None]
        if Rz is not None:
            Rs += W @ Rz
        Rz = fc.dsigma_s * Rs
    return Rz


def _check_direction(v: object, theta: np.ndarray, name: str) -> np.ndarray:
    v = np.asarray(v)
    if v.shape != theta.shape:
        raise ValueError(f"{name} must have the shape of theta, (n_params,) = {theta.shape}, "
                         f"got shape {v.shape}")
    return v.astype(theta.dtype, copy=False)


def jacobian_vector(theta: np.ndarray, arch: Architecture, Z: np.ndarray, v: np.ndarray,
                    backend: Backend = "sparse") -> np.ndarray:
    """``J_i v`` for every instance i: the directional derivative of the outputs.

    Parameters
    ----------
    theta : ndarray of shape (arch.n_params,)
    arch : Architecture
    Z : ndarray of shape (d, a*b*N)
    v : ndarray of shape (arch.n_params,)
        A direction in theta-space.
    backend : {"sparse", "dense"}, default "sparse"

    Returns
    -------
    Jv : ndarray of shape (n_classes, N)
        Column i is ``J_i v``.

    Examples
    --------
    >>> from kronconv import Architecture, init_params
    >>> arch = Architecture.preset("digits")
    >>> theta = init_params(arch)
    >>> jacobian_vector(theta, arch, np.ones((1, 64 * 2)), theta).shape
    (10, 2)
    """
    theta, params, Z, _ = _check(theta, arch, Z)
    v = _check_direction(v, theta, "v")
    _, cache = _run(params, arch, Z, True, backend)
    return _R_network(theta, v, arch, cache, backend)


def jacobian_T_vector(theta: np.ndarray, arch: Architecture, Z: np.ndarray, u: np.ndarray,
                      backend: Backend = "sparse") -> np.ndarray:
    """``sum_i J_i^T u_i``: the backward pass with ``u`` in place of ``∂ξ/∂z``.

    Parameters
    ----------
    theta, arch, Z, backend
        As for :func:`jacobian_vector`.
    u : ndarray of shape (n_classes, N)
        Column i is ``u_i``.

    Returns
    -------
    ndarray of shape (arch.n_params,)

    Examples
    --------
    >>> from kronconv import Architecture, init_params
    >>> arch = Architecture.preset("digits")
    >>> theta, Z = init_params(arch), np.ones((1, 64 * 2))
    >>> v, u = np.ones(arch.n_params), np.ones((10, 2))
    >>> lhs = np.sum(u * jacobian_vector(theta, arch, Z, v))
    >>> bool(np.isclose(lhs, jacobian_T_vector(theta, arch, Z, u) @ v))     # <u, Jv> = <J^T u, v>
    True
    """
    theta, params, Z, _ = _check(theta, arch, Z)
    _, cache = _run(params, arch, Z, True, backend)
    return backward_network(u, theta, arch, cache)


class GaussNewton:
    """The Gauss-Newton matrix of f at theta on a subsample, as products ``G v``.

    The forward pass over the subsample runs once, here; every :meth:`matvec` is one
    R-operator pass (``J v``), the loss's ``B``, and one backward pass (``J^T``).

    Parameters
    ----------
    theta : ndarray of shape (arch.n_params,)
    arch : Architecture
    Z : ndarray of shape (d, a*b*|S|)
        The subsample's images.
    y : ndarray of shape (|S|,)
        Its labels (unused by the squared loss's B, checked all the same).
    C : float, default inf
    loss : {"squared", "cross_entropy"}, default "squared"
    n_total : int, optional
        ``l``, the number of instances of the whole objective (for ``I / (C l)``);
        default ``|S|``.
    backend : {"sparse", "dense"}, default "sparse"

    Examples
    --------
    >>> from kronconv import Architecture, init_params
    >>> arch = Architecture.preset("digits")
    >>> theta = init_params(arch)
    >>> G = GaussNewton(theta, arch, np.ones((1, 64 * 3)), [1, 2, 3], C=1.0, loss="cross_entropy")
    >>> v = np.ones(arch.n_params)
    >>> bool(v @ G.matvec(v) > 0)
    True
    """

    def __init__(self, theta: np.ndarray, arch: Architecture, Z: np.ndarray, y: np.ndarray,
                 C: float = math.inf, loss: str = "squared", n_total: int | None = None,
                 backend: Backend = "sparse") -> None:
        C = _check_C(C)
        _check_backend(backend)
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        self.theta, params, Z, N = _check(theta, arch, Z)
        check_labels(y, arch.n_classes, N)
        n_all = N if n_total is None else check_int(n_total, "n_total", 1)
        self.arch, self.loss, self.backend, self.N = arch, loss, backend, N
        self.reg = 0.0 if math.isinf(C) else 1.0 / (C * n_all)
        z, self.cache = _run(params, arch, Z, True, backend)
        if loss == "cross_entropy":
            e = np.exp(z - z.max(axis=0, keepdims=True))
            self.p = e / e.sum(axis=0, keepdims=True)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.theta.size, self.theta.size)

    def _B(self, Jv: np.ndarray) -> np.ndarray:
        if self.loss == "squared":
            return 2.0 * Jv
        p = self.p
        return p * Jv - p * (p * Jv).sum(axis=0, keepdims=True)   # (diag(p) - p p^T) Jv

    def matvec(self, v: np.ndarray) -> np.ndarray:
        """``G v = v / (C l) + (1/|S|) sum_i J_i^T B_i J_i v``."""
        v = _check_direction(v, self.theta, "v")
        Jv = _R_network(self.theta, v, self.arch, self.cache, self.backend)
        JtBJv = backward_network(self._B(Jv), self.theta, self.arch, self.cache)
        return JtBJv / self.N + self.reg * v

    def as_linear_operator(self) -> LinearOperator:
        """``G`` as a symmetric :class:`scipy.sparse.linalg.LinearOperator`."""
        return LinearOperator(self.shape, matvec=self.matvec, rmatvec=self.matvec,
                              dtype=self.theta.dtype)
