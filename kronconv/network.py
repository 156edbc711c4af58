"""A whole CNN: the objective f(theta), its gradient, and predictions, over a batch.

The convolutional layers are the sparse chains of :mod:`kronconv.layer`; the transition to
the fully-connected layers is ``z = vec(Z^{L_c+1,i})`` for every instance i (NOTATION.md);
a fully-connected layer is ``s = W z + b``, ``z' = sigma(s)``, the last one linear.

    f(theta) = theta^T theta / (2 C l) + (1/l) sum_i ξ_i,     C = inf drops the first term,

over the ``l`` instances given. A data set larger than memory allows is evaluated in
chunks of ``chunk_size`` instances whose sums are added, so memory stays bounded by the
chunk, not the data set.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ._validate import (
    as_float_array,
    batch_size,
    check_int,
    check_shape,
    require_finite,
    require_finite_result,
)
from .architecture import Architecture
from .layer import (
    Backend,
    BackwardForm,
    DenseCache,
    LayerCache,
    _backward_layer,
    _check_backend,
    _check_form,
    _cols,
    _enter,
    _forward_layer,
    _leave,
)
from .losses import check_labels, loss_and_grad
from .memory import check_memory
from .parameters import unpack_params

__all__ = [
    "FullCache",
    "NetworkCache",
    "accuracy",
    "backward_network",
    "forward_network",
    "network_output",
    "objective",
    "objective_and_gradient",
    "predict",
]


@dataclass(frozen=True)
class FullCache:
    """What a fully-connected layer's backward pass needs: its input ``z`` and ``sigma'(s)``."""

    z: np.ndarray
    dsigma_s: np.ndarray


@dataclass(frozen=True)
class NetworkCache:
    """Every layer's cache from :func:`forward_network`, convolutional layers first."""

    conv: tuple[LayerCache | DenseCache, ...]
    full: tuple[FullCache, ...]


# --- argument checks -----------------------------------------------------------------------


def _check(theta: object, arch: object,
           Z: object) -> tuple[np.ndarray, list, np.ndarray, int]:
    """``(theta, params, Z, N)`` after checking that they fit each other and share a dtype."""
    if not isinstance(arch, Architecture):
        raise TypeError(f"arch must be an Architecture, got {type(arch).__name__}")
    Z = as_float_array(Z, "Z")
    a, b, d = arch.input
    N = batch_size(Z, d, a * b, "Z", "(d, a*b*N)")
    theta = as_float_array(theta, "theta", Z.dtype)
    params = unpack_params(theta, arch)
    require_finite(Z, "Z")
    require_finite(theta, "theta")
    return theta, params, Z, N


def _check_C(C: float) -> float:
    if isinstance(C, bool) or not isinstance(C, (int, float, np.floating, np.integer)):
        raise TypeError(f"C must be a positive number or inf, got {C!r}")
    if not C > 0:
        raise ValueError(f"C must be > 0 (inf for no regularization), got {C}")
    return float(C)


# The dense path runs fastest on chunks whose largest phi is a few MB (measured with
# kronconv bench on cifar10-3layer: 16 instances in float64, 32 in float32, ~15% faster
# than the whole batch of 128); the sparse chain gains nothing from chunks.
DENSE_CHUNK_BYTES = 8 * 2**20


def _default_chunk(arch: Architecture, dtype: np.dtype, backend: str, N: int) -> int:
    if backend != "dense" or not arch.conv_shapes:
        return N
    phi_bytes = max(s.n_phi for s in arch.conv_shapes) * np.dtype(dtype).itemsize
    return max(1, min(N, DENSE_CHUNK_BYTES // phi_bytes))


def _chunks(Z: np.ndarray, N: int, arch: Architecture, chunk_size: int | None,
            backend: str) -> Iterator[tuple[slice, np.ndarray]]:
    """``(instances, Z of those instances)`` for consecutive chunks of the batch."""
    if chunk_size is None:
        size = _default_chunk(arch, Z.dtype, backend, N)
    else:
        size = check_int(chunk_size, "chunk_size", 1)
    cols = arch.input[0] * arch.input[1]
    for start in range(0, N, size):
        stop = min(start + size, N)
        yield slice(start, stop), Z[:, start * cols:stop * cols]


# --- forward and backward on one batch -----------------------------------------------------


def _run(params: list, arch: Architecture, Z: np.ndarray, keep: bool,
         backend: str) -> tuple[np.ndarray, NetworkCache | None]:
    """The forward pass on instance columns; with ``keep``, every layer's cache."""
    n_conv = len(arch.conv_shapes)
    conv_caches, full_caches = [], []
    a, b, d = arch.input
    N = Z.shape[1] // (a * b)
    check_memory(_forward_bytes(arch, N, Z.dtype, keep), f"the forward pass of {N} instances",
                 "evaluate in chunks (chunk_size) or use a smaller batch")
    z = _cols(Z, a * b * d)              # column i is vec(Z^{1,i})
    X = _enter(z, a, b, d, backend)      # the backend's layout, kept from layer to layer
    for (W, b_), shape, act in zip(params[:n_conv], arch.conv_shapes, arch.activations[:n_conv],
                                   strict=True):
        X, cache = _forward_layer(X, W, b_, shape, act, keep, backend)
        conv_caches.append(cache)
    z = _leave(X, backend)
    # z = vec(Z^{L_c+1,i}) is column i: the input of the first fully-connected layer
    for (W, b_), act in zip(params[n_conv:], arch.activations[n_conv:], strict=True):
        s = W @ z + b_[:, None]
        if keep:
            full_caches.append(FullCache(z, act.derivative(s)))
        z = act(s)
    return z, (NetworkCache(tuple(conv_caches), tuple(full_caches)) if keep else None)


def _forward_bytes(arch: Architecture, N: int, dtype: np.dtype, keep: bool) -> int:
    """Bytes a forward pass of N instances allocates: the caches it keeps for backward
    (phi and sigma'(S) per layer), plus the largest layer's temporaries (phi, S, sigma(S))."""
    item = np.dtype(dtype).itemsize
    sizes = [(s.n_phi, s.n_S) for s in arch.conv_shapes] or [(0, 0)]
    kept = sum(n_phi + n_S for n_phi, n_S in sizes) if keep else 0
    return (kept + max(n_phi + 2 * n_S for n_phi, n_S in sizes)) * N * item


def forward_network(theta: np.ndarray, arch: Architecture, Z: np.ndarray,
                    backend: Backend = "sparse") -> tuple[np.ndarray, NetworkCache]:
    """The network's outputs ``z^{L+1,i}`` and what :func:`backward_network` needs.

    Parameters
    ----------
    theta : ndarray of shape (arch.n_params,)
        In the dtype of ``Z``.
    arch : Architecture
    Z : ndarray of shape (d, a*b*N)
        The input images side by side (see :func:`~kronconv.Z_from_nchw`).
    backend : {"sparse", "dense"}, default "sparse"
        How the convolutional layers compute (see :func:`~kronconv.forward`).

    Returns
    -------
    z : ndarray of shape (n_classes, N)
    cache : NetworkCache

    Examples
    --------
    >>> from kronconv import init_params
    >>> arch = Architecture.preset("digits")
    >>> z, cache = forward_network(init_params(arch), arch, np.ones((1, 64 * 5)))
    >>> z.shape, len(cache.conv), len(cache.full)
    ((10, 5), 2, 2)
    """
    _check_backend(backend)
    _, params, Z, _ = _check(theta, arch, Z)
    return _run(params, arch, Z, True, backend)


def backward_network(dz: np.ndarray, theta: np.ndarray, arch: Architecture,
                     cache: NetworkCache, form: BackwardForm = "vec") -> np.ndarray:
    """``sum_i ∂ξ_i/∂theta`` given ``∂ξ_i/∂z^{L+1,i}`` for every instance.

    The fully-connected layers first (``ds = dz ⊙ sigma'(s)``, ``dW = ds z^T``,
    ``db = ds 1``, ``dz = W^T ds``), then ``∂ξ/∂Z^{L_c+1} = mat(∂ξ/∂z)`` and every
    convolutional layer's equations (7), (1), (5), (9), last layer first.

    Parameters
    ----------
    dz : ndarray of shape (n_classes, N)
    theta : ndarray of shape (arch.n_params,)
    arch : Architecture
    cache : NetworkCache
        From :func:`forward_network` on the same batch.
    form : {"vec", "kron"}, default "vec"
        The form of the convolutional layers' equations (see :func:`~kronconv.backward`).

    Returns
    -------
    grad : ndarray of shape (arch.n_params,)
        Summed over the instances, in the order of theta.

    Examples
    --------
    >>> from kronconv import init_params
    >>> arch = Architecture.preset("digits")
    >>> theta = init_params(arch)
    >>> z, cache = forward_network(theta, arch, np.ones((1, 64 * 2)))
    >>> backward_network(np.ones_like(z), theta, arch, cache).shape
    (3658,)
    """
    if not isinstance(cache, NetworkCache):
        raise TypeError(f"cache must be the NetworkCache from forward_network(), "
                        f"got {type(cache).__name__}")
    _check_form(form, ("kron", "vec"))
    theta = as_float_array(theta, "theta")
    params = unpack_params(theta, arch)
    grad = np.zeros_like(theta)
    grads = unpack_params(grad, arch)
    n_conv = len(arch.conv_shapes)
    dz = as_float_array(dz, "dz", theta.dtype)
    check_shape(dz, (arch.n_classes, cache.full[0].z.shape[1]), "dz", "(n_classes, N)")
    for m in reversed(range(len(cache.full))):
        (W, _), (gW, gb), fc = params[n_conv + m], grads[n_conv + m], cache.full[m]
        ds = dz * fc.dsigma_s
        gW[...] = ds @ fc.z.T
        gb[...] = ds.sum(axis=1)
        dz = W.T @ ds
    if n_conv:                             # dz = ∂ξ/∂vec(Z^{L_c+1,i}), instance columns
        last = arch.conv_shapes[-1]
        backend = "dense" if isinstance(cache.conv[0], DenseCache) else "sparse"
        dX = _enter(dz, last.a_out, last.b_out, last.d_out, backend)
        for m in reversed(range(n_conv)):
            gW, gb = grads[m]
            # the first layer's ∂ξ/∂Z^1 (the images) is not part of the gradient: skip (9)
            gW[...], gb[...], dX = _backward_layer(dX, params[m][0], cache.conv[m], form,
                                                   need_dZ=m > 0)
    return grad


# --- objective over a data set -------------------------------------------------------------


def objective(theta: np.ndarray, arch: Architecture, Z: np.ndarray, y: np.ndarray,
              C: float = math.inf, loss: str = "squared", chunk_size: int | None = None,
              backend: Backend = "sparse") -> float:
    """``f(theta) = theta^T theta / (2 C l) + (1/l) sum_i ξ_i``, without any backward state.

    Parameters
    ----------
    theta : ndarray of shape (arch.n_params,)
    arch : Architecture
    Z : ndarray of shape (d, a*b*l)
    y : ndarray of shape (l,)
        Integer classes.
    C : float, default inf
        Regularization constant; ``inf`` drops the regularization term.
    loss : {"squared", "cross_entropy"}, default "squared"
    chunk_size : int, optional
        Evaluate this many instances at a time. Default: all at once for the sparse
        backend; for the dense backend, chunks whose largest ``phi`` is about 8 MB (faster).
    backend : {"sparse", "dense"}, default "sparse"

    Returns
    -------
    float

    Examples
    --------
    >>> from kronconv import init_params
    >>> arch = Architecture.preset("digits")
    >>> f = objective(np.zeros(arch.n_params), arch, np.ones((1, 64 * 3)), [0, 1, 2])
    >>> f      # all outputs 0: ||0 - e_y||^2 = 1 for every instance
    1.0
    """
    C = _check_C(C)
    _check_backend(backend)
    theta, params, Z, N = _check(theta, arch, Z)
    y = check_labels(y, arch.n_classes, N)
    total = 0.0
    with np.errstate(over="ignore", invalid="ignore"):     # reported below, not warned
        for rows, Zc in _chunks(Z, N, arch, chunk_size, backend):
            z, _ = _run(params, arch, Zc, False, backend)
            total += float(loss_and_grad(z, y[rows], loss)[0].sum())
    f = _regularization(theta, C, N) + total / N
    require_finite_result(np.asarray(f, dtype=theta.dtype), "f")
    return f


def _regularization(theta: np.ndarray, C: float, n: int) -> float:
    """theta^T theta / (2 C l) with l = n instances; 0 for C = inf."""
    return 0.0 if math.isinf(C) else float(theta @ theta) / (2 * C * n)


def objective_and_gradient(theta: np.ndarray, arch: Architecture, Z: np.ndarray,
                           y: np.ndarray, C: float = math.inf, loss: str = "squared",
                           chunk_size: int | None = None, form: BackwardForm = "vec",
                           backend: Backend = "sparse") -> tuple[float, np.ndarray]:
    """``f(theta)`` and ``∇f(theta) = theta / (C l) + (1/l) sum_i ∂ξ_i/∂theta``.

    Parameters
    ----------
    theta, arch, Z, y, C, loss, chunk_size
        As for :func:`objective`; memory is bounded by ``chunk_size`` instances.
    form : {"vec", "kron"}, default "vec"
        The form of the convolutional layers' backward equations (sparse backend).
    backend : {"sparse", "dense"}, default "sparse"

    Returns
    -------
    f : float
    grad : ndarray of shape (arch.n_params,)
        In the dtype of ``Z``.

    Examples
    --------
    >>> from kronconv import init_params
    >>> arch = Architecture.preset("digits")
    >>> theta = init_params(arch, seed=0)
    >>> Z = np.random.default_rng(0).normal(size=(1, 64 * 4))
    >>> f, g = objective_and_gradient(theta, arch, Z, [3, 1, 4, 1], C=0.01)
    >>> g.shape, bool(np.isclose(f, objective(theta, arch, Z, [3, 1, 4, 1], C=0.01)))
    ((3658,), True)
    """
    C = _check_C(C)
    _check_backend(backend)
    _check_form(form, ("kron", "vec"))
    theta, params, Z, N = _check(theta, arch, Z)
    y = check_labels(y, arch.n_classes, N)
    total, grad = 0.0, np.zeros_like(theta)
    with np.errstate(over="ignore", invalid="ignore"):     # reported below, not warned
        for rows, Zc in _chunks(Z, N, arch, chunk_size, backend):
            z, cache = _run(params, arch, Zc, True, backend)
            xi, dz = loss_and_grad(z, y[rows], loss)
            total += float(xi.sum())
            grad += backward_network(dz, theta, arch, cache, form)
        grad /= N
        if not math.isinf(C):
            grad += theta / (C * N)
    f = _regularization(theta, C, N) + total / N
    require_finite_result(np.asarray(f, dtype=theta.dtype), "f")
    require_finite_result(grad, "the gradient")
    return f, grad


# --- predictions ---------------------------------------------------------------------------


def network_output(theta: np.ndarray, arch: Architecture, Z: np.ndarray,
                   chunk_size: int | None = None, backend: Backend = "sparse") -> np.ndarray:
    """The last layer's outputs ``z^{L+1,i}`` for every instance, with no backward state.

    Parameters
    ----------
    theta, arch, Z, chunk_size, backend
        As for :func:`objective`.

    Returns
    -------
    ndarray of shape (n_classes, N)

    Examples
    --------
    >>> arch = Architecture.preset("digits")
    >>> network_output(np.zeros(arch.n_params), arch, np.ones((1, 64 * 3)))
    array([[0., 0., 0.],
           [0., 0., 0.],
           [0., 0., 0.],
           [0., 0., 0.],
           [0., 0., 0.],
           [0., 0., 0.],
           [0., 0., 0.],
           [0., 0., 0.],
           [0., 0., 0.],
           [0., 0., 0.]])
    """
    _check_backend(backend)
    _, params, Z, N = _check(theta, arch, Z)
    with np.errstate(over="ignore", invalid="ignore"):     # reported below, not warned
        z = np.concatenate([_run(params, arch, Zc, False, backend)[0]
                            for _, Zc in _chunks(Z, N, arch, chunk_size, backend)], axis=1)
    require_finite_result(z, "the network's outputs")
    return z


def predict(theta: np.ndarray, arch: Architecture, Z: np.ndarray,
            chunk_size: int | None = None, backend: Backend = "sparse") -> np.ndarray:
    """The predicted class of every instance: the index of its largest output.

    Parameters
    ----------
    theta, arch, Z, chunk_size, backend
        As for :func:`objective`.

    Returns
    -------
    ndarray of shape (N,), int64

    Examples
    --------
    >>> from kronconv import init_params
    >>> arch = Architecture.preset("digits")
    >>> predict(init_params(arch), arch, np.ones((1, 64 * 4))).shape
    (4,)
    """
    return network_output(theta, arch, Z, chunk_size, backend).argmax(axis=0).astype(np.int64)


def accuracy(theta: np.ndarray, arch: Architecture, Z: np.ndarray, y: np.ndarray,
             chunk_size: int | None = None, backend: Backend = "sparse") -> float:
    """The fraction of instances whose predicted class equals the label ``y``.

    Parameters
    ----------
    theta, arch, Z, chunk_size, backend
        As for :func:`objective`.
    y : ndarray of shape (N,)
        Integer classes.

    Returns
    -------
    float

    Examples
    --------
    >>> arch = Architecture.preset("digits")
    >>> accuracy(np.zeros(arch.n_params), arch, np.ones((1, 64 * 2)), [0, 5])   # all argmax 0
    0.5
    """
    pred = predict(theta, arch, Z, chunk_size, backend)
    return float(np.mean(pred == check_labels(y, arch.n_classes, pred.size)))
