"""Jacobian products Jv, J^T u and the Gauss-Newton product Gv, through the layers' chains.

For instance i, ``J_i = ∂z^{L+1,i}/∂theta^T`` (convention (4)). ``Jv`` is the forward
R-operator pass: with ``v`` split like theta into ``(V_W, v_b)`` per layer, ::

    R(vec S) = (I ⊗ W) P_phi P_pad R(vec Z) + (phi^T ⊗ I) vec(V_W) + (1 ⊗ I) v_b,
    R(vec sigma(S)) = vec(sigma'(S)) ⊙ R(vec S),   R(vec Z^{m+1}) = P_pool R(vec sigma(S)),

then ``R(s) = W R(z) + V_W z + v_b``, ``R(z') = sigma'(s) ⊙ R(s)`` for the fully-connected
layers. ``J^T u`` is the backward pass of the gradient with ``∂ξ/∂z^{L+1}`` replaced by ``u``.
The Gauss-Newton matrix of f on a subsample S of the ``l`` instances is ::

    G = I / (C l) + (1/|S|) sum_{i in S} J_i^T B_i J_i,

``B_i`` the loss's Hessian at ``z^{L+1,i}`` (:func:`~kronconv.loss_hessian_vector`: ``2I``
for the squared loss, ``diag(p) - p p^T`` with ``p = softmax(z)`` for cross-entropy). The
passes are those of :mod:`kronconv.network` (:func:`~kronconv.network.R_network` and
:func:`~kronconv.backward_network`); every product reuses the forward pass's caches (phi,
sigma', P_pool, I ⊗ W).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse.linalg import LinearOperator

from ._docstrings import fill_docstrings
from ._validate import Array, check_shape, validate_params
from .architecture import Architecture
from .backends import Backend
from .losses import OUTPUTS, check_labels, hessian_vector
from .memory import check_memory, forward_bytes
from .network import R_network, check_network_args, run_backward, run_forward
from .objective_function import (
    EVALUATION_ARGS,
    OUTPUT_ARGS,
    add_regularization,
    chunks,
    regularization,
    total_instances,
)
from .parallel import map_blocks, resolve_threads
from .parameters import THETA, param_views

__all__ = ["GaussNewton", "GaussNewtonBlock", "add_products", "jacobian_T_vector",
           "jacobian_vector"]


def _check_direction(v: np.ndarray, theta: np.ndarray, name: str) -> np.ndarray:
    """The checked ``v`` in theta's dtype, once its shape is seen to be theta's."""
    if v.shape != theta.shape:
        raise ValueError(f"{name} must have the shape of theta, (n_params,) = {theta.shape}, "
                         f"got shape {v.shape}")
    return v.astype(theta.dtype, copy=False)


class GaussNewtonBlock:
    """One block's part of the Gauss-Newton products, from its forward caches.

    ``product(v) = sum_{i in block} J_i^T B_i J_i v``: the R-operator pass (``J v``), the
    loss's Hessian ``B``, the backward pass (``J^T``). Built from checked arguments, by
    :class:`GaussNewton` for each block of its subsample, or on the worker that holds the
    block (:mod:`kronconv.distributed`).
    """

    def __init__(self, theta: np.ndarray, arch: Architecture, Z: np.ndarray, y: np.ndarray,
                 loss: str, backend: str) -> None:
        self.theta, self.arch, self.y, self.loss = theta, arch, y, loss
        self.z, self.cache = run_forward(param_views(theta, arch), arch, Z, True, backend)

    def product(self, v: np.ndarray) -> np.ndarray:
        """``sum_{i in block} J_i^T B_i J_i v``."""
        Jv = R_network(self.theta, v, self.arch, self.cache)
        BJv = hessian_vector(self.z, Jv, self.loss)
        return run_backward(BJv, self.theta, self.arch, self.cache)


def _forward_blocks(theta: np.ndarray, arch: Architecture, Z: np.ndarray, backend: str,
                    chunk_size: int | None, threads: int) -> list:
    """``(instances, outputs, cache)`` of every block's forward pass (checked arguments)."""
    params, N = check_network_args(theta, arch, Z)
    blocks = chunks(Z, N, arch, chunk_size, backend)
    check_memory(forward_bytes(arch.conv_shapes, N, Z.dtype, True),
                 f"the forward caches of {N} instances", "use a smaller subsample or batch")

    def forward(item: tuple[slice, np.ndarray]) -> tuple[slice, np.ndarray, object]:
        rows, Zc = item
        z, cache = run_forward(params, arch, Zc, True, backend)
        return rows, z, cache

    return map_blocks(forward, blocks, threads)


@validate_params({**OUTPUT_ARGS, "v": THETA}, same_dtype=("Z", "theta"))
def jacobian_vector(theta: np.ndarray, arch: Architecture, Z: np.ndarray, v: np.ndarray,
                    backend: Backend = "sparse", chunk_size: int | None = None,
                    threads: int | None = None) -> np.ndarray:
    """``J_i v`` for every instance i: the directional derivative of the outputs.

    Parameters
    ----------
    theta : ndarray of shape (arch.n_params,)
    arch : Architecture
    Z : ndarray of shape (d, a*b*N)
    v : ndarray of shape (arch.n_params,)
        A direction in theta-space; any float dtype, cast to theta's.
    backend : {"sparse", "dense"}, default "sparse"
    chunk_size, threads : int, optional
        Blocks of instances and the threads that share them out (see
        :func:`~kronconv.objective`); the result does not depend on ``threads``.

    Returns
    -------
    Jv : ndarray of shape (n_classes, N)
        Column i is ``J_i v``.

    Raises
    ------
    %(raises_network)s

    Examples
    --------
    >>> from kronconv import Architecture, init_params
    >>> arch = Architecture.preset("digits")
    >>> theta = init_params(arch)
    >>> jacobian_vector(theta, arch, np.ones((1, 64 * 2)), theta).shape
    (10, 2)
    """
    v = _check_direction(v, theta, "v")
    threads = resolve_threads(threads)
    blocks = _forward_blocks(theta, arch, Z, backend, chunk_size, threads)
    return np.concatenate(map_blocks(lambda b: R_network(theta, v, arch, b[2]), blocks,
                                     threads), axis=1)


@validate_params({**OUTPUT_ARGS, "u": OUTPUTS}, same_dtype=("Z", "theta", "u"))
def jacobian_T_vector(theta: np.ndarray, arch: Architecture, Z: np.ndarray, u: np.ndarray,
                      backend: Backend = "sparse", chunk_size: int | None = None,
                      threads: int | None = None) -> np.ndarray:
    """``sum_i J_i^T u_i``: the backward pass with ``u`` in place of ``∂ξ/∂z``.

    Parameters
    ----------
    theta, arch, Z, backend, chunk_size, threads
        As for :func:`jacobian_vector`.
    u : ndarray of shape (n_classes, N)
        Column i is ``u_i``; in the dtype of theta.

    Returns
    -------
    ndarray of shape (arch.n_params,)

    Raises
    ------
    %(raises_network)s

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
    _, N = check_network_args(theta, arch, Z)
    check_shape(u, (arch.n_classes, N), "u", "(n_classes, N)")
    threads = resolve_threads(threads)
    blocks = _forward_blocks(theta, arch, Z, backend, chunk_size, threads)
    parts = map_blocks(lambda b: run_backward(u[:, b[0]], theta, arch, b[2]), blocks, threads)
    total = np.zeros_like(theta)
    for part in parts:                           # in block order: the same for any threads
        total += part
    return total


def add_products(parts: list, N: int, reg: float, v: np.ndarray) -> np.ndarray:
    """``G v = v reg + (1/N) sum_blocks part``, the blocks' parts added in block order."""
    JtBJv = np.zeros_like(v)
    for part in parts:
        JtBJv += part
    JtBJv /= N
    return add_regularization(JtBJv, reg, v)


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
    chunk_size, threads : int, optional
        Blocks of the subsample and the threads that share them out; every product adds the
        blocks' parts in block order, so ``G v`` does not depend on ``threads``.

    Raises
    ------
    ValueError, TypeError, ~kronconv.MemoryLimitError
        As for :func:`~kronconv.objective`.

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

    @validate_params(EVALUATION_ARGS, same_dtype=("Z", "theta"))
    def __init__(self, theta: np.ndarray, arch: Architecture, Z: np.ndarray, y: np.ndarray,
                 C: float = math.inf, loss: str = "squared", n_total: int | None = None,
                 backend: Backend = "sparse", chunk_size: int | None = None,
                 threads: int | None = None) -> None:
        self.threads = resolve_threads(threads)
        _, N = check_network_args(theta, arch, Z)
        self.theta = theta
        y = check_labels(y, arch.n_classes, N)
        self.arch, self.loss, self.backend, self.N = arch, loss, backend, N
        self.reg = regularization(C, total_instances(n_total, N))
        check_memory(forward_bytes(arch.conv_shapes, N, Z.dtype, True),
                     f"the forward caches of {N} instances", "use a smaller subsample")
        self.blocks = map_blocks(
            lambda b: GaussNewtonBlock(self.theta, arch, b[1], y[b[0]], loss, backend),
            chunks(Z, N, arch, chunk_size, backend), self.threads)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.theta.size, self.theta.size)

    def _product(self, v: np.ndarray) -> np.ndarray:
        """``G v`` of a checked vector in theta's dtype."""
        return add_products(map_blocks(lambda b: b.product(v), self.blocks, self.threads),
                            self.N, self.reg, v)

    @validate_params({"v": Array("(n_params,) or (n_params, 1)", ndim=(1, 2))})
    def matvec(self, v: np.ndarray) -> np.ndarray:
        """``G v = v / (C l) + (1/|S|) sum_i J_i^T B_i J_i v``.

        Parameters
        ----------
        v : ndarray of shape (n_params,) or (n_params, 1)
            Any float dtype, cast to theta's.

        Returns
        -------
        ndarray of the shape of ``v``, in theta's dtype

        Raises
        ------
        ValueError
            If ``v`` does not have one of those shapes, or is not finite.
        TypeError
            If ``v`` is not real floating point.
        """
        if v.ndim == 2 and v.shape[1] != 1:
            raise ValueError(f"v must have shape (n_params,) or (n_params, 1) = "
                             f"({self.theta.size}, 1), got shape {v.shape}")
        return self._product(_check_direction(v.reshape(-1), self.theta, "v")).reshape(v.shape)

    @validate_params({"V": Array("(n_params, k)")})
    def matmat(self, V: np.ndarray) -> np.ndarray:
        """``G V``, column by column: column j is ``matvec(V[:, j])``.

        Parameters
        ----------
        V : ndarray of shape (n_params, k)
            Any float dtype, cast to theta's.

        Returns
        -------
        ndarray of shape (n_params, k), in theta's dtype

        Raises
        ------
        ValueError
            If ``V`` does not have ``n_params`` rows, or is not finite.
        TypeError
            If ``V`` is not real floating point.
        """
        if V.shape[0] != self.theta.size:
            raise ValueError(f"V must have shape (n_params, k) = ({self.theta.size}, k), "
                             f"got shape {V.shape}")
        V = V.astype(self.theta.dtype, copy=False)
        GV = np.empty_like(V)
        for j in range(V.shape[1]):
            GV[:, j] = self._product(np.ascontiguousarray(V[:, j]))
        return GV

    def as_linear_operator(self) -> LinearOperator:
        """``G`` as a symmetric :class:`scipy.sparse.linalg.LinearOperator`.

        It takes vectors of shape (n_params,) or (n_params, 1) and matrices (n_params, k)
        (``op @ V``), as scipy's contract allows.
        """
        return LinearOperator(self.shape, matvec=self.matvec, rmatvec=self.matvec,
                              matmat=self.matmat, rmatmat=self.matmat, dtype=self.theta.dtype)

fill_docstrings(globals())
