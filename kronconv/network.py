"""A whole CNN on one batch: the forward pass, the backward pass and the R-operator pass.

The convolutional layers run on a backend (:mod:`kronconv.backends`), in its own layout
from the first layer to the last; the transition to the fully-connected layers
(:mod:`kronconv.full`) is ``z = vec(Z^{L_c+1,i})`` for every instance i, the instance
columns; the last layer is linear. Over a data set, in chunks,
:mod:`kronconv.objective_function` adds these passes up into ``f``, ``∇f`` and predictions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import full
from ._deprecated import moved
from ._docstrings import fill_docstrings
from ._validate import InstanceOf, batch_size, check_shape, validate_params
from .architecture import Architecture
from .backends import BACKEND, FORM, Backend, BackwardForm, backend_of, backward, get_backend
from .cache import LayerCache
from .full import FullCache
from .layout import columns_from_batch
from .losses import OUTPUTS
from .memory import check_memory, forward_bytes
from .parameters import ARCH, THETA, param_views
from .shapes import IMAGES

__all__ = [
    "NETWORK_CACHE",
    "FullCache",
    "NetworkCache",
    "R_network",
    "backward_network",
    "check_network_args",
    "forward_network",
    "run_backward",
    "run_forward",
]


@dataclass(frozen=True)
class NetworkCache:
    """Every layer's cache from :func:`~kronconv.forward_network`, convolutional layers first."""

    conv: tuple[LayerCache, ...]
    full: tuple[FullCache, ...]

    @property
    def N(self) -> int:
        """The number of instances in the batch."""
        return self.full[0].z.shape[1]

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the forward pass (and of its backward pass)."""
        return self.full[0].z.dtype


NETWORK_CACHE = InstanceOf(NetworkCache, "the NetworkCache from forward_network()")


def check_network_args(theta: np.ndarray, arch: Architecture, Z: np.ndarray) -> tuple[list, int]:
    """``(params, N)`` once the checked ``theta`` and ``Z`` are seen to fit ``arch``.

    ``params`` is :func:`~kronconv.unpack_params`'s list of views into ``theta``.
    """
    a, b, d = arch.input
    N = batch_size(Z, d, a * b, "Z", IMAGES.shape)
    check_shape(theta, (arch.n_params,), "theta", "(n_params,)")
    return param_views(theta, arch), N


def run_forward(params: list, arch: Architecture, Z: np.ndarray, keep: bool,
                backend: str) -> tuple[np.ndarray, NetworkCache | None]:
    """The forward pass of checked arguments; with ``keep``, every layer's cache.

    Refuses (:class:`~kronconv.MemoryLimitError`) before allocating when the pass would
    not fit the memory limit.
    """
    be = get_backend(backend)
    n_conv = len(arch.conv_shapes)
    a, b, d = arch.input
    N = Z.shape[1] // (a * b)
    check_memory(forward_bytes(arch.conv_shapes, N, Z.dtype, keep),
                 f"the forward pass of {N} instances",
                 "evaluate in chunks (chunk_size) or use a smaller batch")
    X = be.from_columns(columns_from_batch(Z, a * b * d), a, b, d)
    conv_caches, full_caches = [], []
    for (W, b_), shape, act in zip(params[:n_conv], arch.conv_shapes, arch.activations[:n_conv],
                                   strict=True):
        X, cache = be.forward(X, W, b_, shape, act, keep)
        conv_caches.append(cache)
    z = be.to_columns(X)           # column i is z = vec(Z^{L_c+1,i}), the first full layer's input
    for (W, b_), act in zip(params[n_conv:], arch.activations[n_conv:], strict=True):
        z, cache = full.forward(z, W, b_, act, keep)
        full_caches.append(cache)
    return z, (NetworkCache(tuple(conv_caches), tuple(full_caches)) if keep else None)


@validate_params({"theta": THETA, "arch": ARCH, "Z": IMAGES, "backend": BACKEND},
                 same_dtype=("Z", "theta"))
def forward_network(theta: np.ndarray, arch: Architecture, Z: np.ndarray,
                    backend: Backend = "sparse") -> tuple[np.ndarray, NetworkCache]:
    """The network's outputs ``z^{L+1,i}`` and what :func:`~kronconv.backward_network` needs.

    Parameters
    ----------
    theta : ndarray of shape (arch.n_params,)
        In the dtype of ``Z``.
    arch : Architecture
    Z : ndarray of shape (d, a*b*N)
        The input images side by side (see :func:`~kronconv.Z_from_nchw`).
    backend : {"sparse", "dense"}, default "sparse"
        How the convolutional layers compute (see :func:`~kronconv.forward`); the caches
        record it.

    Returns
    -------
    z : ndarray of shape (n_classes, N)
    cache : NetworkCache

    Raises
    ------
    %(raises_network)s

    Examples
    --------
    >>> from kronconv import init_params
    >>> arch = Architecture.preset("digits")
    >>> z, cache = forward_network(init_params(arch), arch, np.ones((1, 64 * 5)))
    >>> z.shape, len(cache.conv), len(cache.full)
    ((10, 5), 2, 2)
    """
    params, _ = check_network_args(theta, arch, Z)
    return run_forward(params, arch, Z, True, backend)


@validate_params({"dz": OUTPUTS, "theta": THETA, "arch": ARCH, "cache": NETWORK_CACHE,
                  "form": FORM}, same_dtype=("cache", "theta", "dz"))
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
        From :func:`~kronconv.forward_network` on the same batch.
    form : {"vec", "kron"}, default "vec"
        The form of the convolutional layers' equations (see :func:`~kronconv.backward`).

    Returns
    -------
    grad : ndarray of shape (arch.n_params,)
        Summed over the instances, in the order of theta.

    Raises
    ------
    %(raises_network)s

    Examples
    --------
    >>> from kronconv import init_params
    >>> arch = Architecture.preset("digits")
    >>> theta = init_params(arch)
    >>> z, cache = forward_network(theta, arch, np.ones((1, 64 * 2)))
    >>> backward_network(np.ones_like(z), theta, arch, cache).shape
    (3658,)
    """
    check_shape(theta, (arch.n_params,), "theta", "(n_params,)")
    check_shape(dz, (arch.n_classes, cache.N), "dz", "(n_classes, N)")
    return run_backward(dz, theta, arch, cache, form)


def run_backward(dz: np.ndarray, theta: np.ndarray, arch: Architecture, cache: NetworkCache,
                 form: str = "vec") -> np.ndarray:
    """:func:`~kronconv.backward_network` on checked arguments (``dz`` may be the result of an
    overflow: the callers report that)."""
    params = param_views(theta, arch)
    grad = np.zeros_like(theta)
    grads = param_views(grad, arch)
    n_conv = len(arch.conv_shapes)
    for m in reversed(range(len(cache.full))):
        gW, gb = grads[n_conv + m]
        gW[...], gb[...], dz = full.backward(dz, params[n_conv + m][0], cache.full[m],
                                             need_dz=n_conv + m > 0)
    if n_conv:                 # dz = ∂ξ/∂vec(Z^{L_c+1,i}) in instance columns
        be, last = backend_of(cache.conv[-1]), arch.conv_shapes[-1]
        dX = be.from_columns(dz, last.a_out, last.b_out, last.d_out)
        for m in reversed(range(n_conv)):
            gW, gb = grads[m]
            # the first layer's ∂ξ/∂Z^1 (the images) is not part of the gradient: skip (9)
            gW[...], gb[...], dX = backward(dX, params[m][0], cache.conv[m], form,
                                            need_dZ=m > 0)
    return grad


def R_network(theta: np.ndarray, v: np.ndarray, arch: Architecture,
              cache: NetworkCache) -> np.ndarray:
    """``J_i v`` for every instance: the R-operator pass through the forward pass's caches.

    Layer by layer, ``R(Z^{m+1})`` from ``R(Z^m)`` (``R(Z^1) = 0``: the images are data)
    along the part ``(V_W, v_b)`` of ``v`` that belongs to the layer, on the caches'
    backend; then the fully-connected layers.

    Parameters
    ----------
    theta, v : ndarray of shape (arch.n_params,)
        Checked, in one dtype.
    arch : Architecture
    cache : NetworkCache
        From :func:`~kronconv.forward_network` at ``theta``.

    Returns
    -------
    ndarray of shape (n_classes, N)
    """
    params, directions = param_views(theta, arch), param_views(v, arch)
    n_conv = len(arch.conv_shapes)
    RX = None
    for m in range(n_conv):
        (VW, vb), W, c = directions[m], params[m][0], cache.conv[m]
        RX = backend_of(c).R_forward(RX, VW, vb, W, c)
    Rz = backend_of(cache.conv[-1]).to_columns(RX) if n_conv else None
    for m, c in enumerate(cache.full):
        (W, _), (VW, vb) = params[n_conv + m], directions[n_conv + m]
        Rz = full.R_forward(Rz, VW, vb, W, c)
    return Rz


__getattr__ = moved('kronconv.network', {
    'accuracy': 'objective_function:accuracy',
    'network_output': 'objective_function:network_output',
    'objective': 'objective_function:objective',
    'objective_and_gradient': 'objective_function:objective_and_gradient',
    'predict': 'objective_function:predict',
    'DENSE_CHUNK_BYTES': 'cpu_caches:FALLBACK_BLOCK_BYTES',
})

fill_docstrings(globals())
