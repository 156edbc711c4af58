"""Tools for checking numbers: kronconv's own tests, ``kronconv verify``, ``kronconv bench``,
:mod:`kronconv.check`, and your tests of your own kernels use the same ones.

- :func:`max_relative_error` and :func:`assert_relative_close`: ``max|x - ref| / max|ref|``,
  with a report like PyTorch's ``gradcheck`` (the index and both values).
- :func:`numerical_jacobian`: central differences in the Jacobian convention (4).
- Kinks: ReLU and max pooling make the network piecewise smooth. :func:`kink_margin` says how
  far a layer is from a kink, :func:`activation_pattern` which piece a forward pass is on,
  and :func:`central_difference` differences only along steps that stay on that piece.
- :func:`direct_conv`: the convolution computed without any kronconv operator.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import replace

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._validate import Array, IsCallable, Real, validate_params
from .activations import Activation, get_activation
from .architecture import Architecture
from .backends import backend_of
from .layout import Z_from_nchw, nchw_from_Z, oihw_from_W
from .network import NetworkCache
from .operators import P_pool
from .shapes import LayerShape

__all__ = [
    "activation_pattern",
    "assert_relative_close",
    "central_difference",
    "direct_conv",
    "kink_margin",
    "max_relative_error",
    "numerical_jacobian",
    "same_pattern",
]


# --- relative errors -------------------------------------------------------------------------


def max_relative_error(x: np.ndarray, reference: np.ndarray) -> float:
    """``max|x - reference| / max|reference|`` (0 when both are zero, inf on a shape mismatch
    or a non-finite entry).

    Examples
    --------
    >>> import numpy as np
    >>> max_relative_error(np.array([1.0, 2.5]), np.array([1.0, 2.0]))
    0.25
    """
    x, reference = np.asarray(x), np.asarray(reference)
    if x.shape != reference.shape or not np.all(np.isfinite(x)):
        return float("inf")
    diff = np.max(np.abs(x - reference), initial=0.0)
    scale = np.max(np.abs(reference), initial=0.0)
    if diff == 0:
        return 0.0
    return float(diff / scale) if scale > 0 else float("inf")


def assert_relative_close(actual: object, desired: object, rtol: float, what: str = "") -> None:
    """Raise ``AssertionError`` unless ``max|actual - desired| <= rtol * max|desired|``.

    The message names ``what``, the max relative error, the first index beyond the
    tolerance and both values there (a shape mismatch or a NaN fails too). Comparisons are
    made in float64.

    Examples
    --------
    >>> import numpy as np
    >>> assert_relative_close([1.0, 2.0 + 1e-13], [1.0, 2.0], 1e-12, "x")
    >>> assert_relative_close([1.0, 2.5], [1.0, 2.0], 1e-12, "x")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    AssertionError: x: max relative error 2.500e-01 > 1e-12; first differing index (1,): ...
    """
    actual, desired = np.asarray(actual), np.asarray(desired)
    if actual.shape != desired.shape:
        raise AssertionError(f"{what}: shape {actual.shape}, expected {desired.shape}")
    scale = max(float(np.max(np.abs(desired), initial=0.0)), np.finfo(np.float64).tiny)
    diff = np.abs(actual.astype(np.float64) - desired.astype(np.float64))
    bad = ~(diff <= rtol * scale)                        # NaN counts as beyond
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        worst = np.inf if np.isnan(diff).any() else diff.max() / scale
        raise AssertionError(
            f"{what}: max relative error {worst:.3e} > {rtol:.0e}; first differing index {index}: "
            f"got {actual[index].item()!r}, expected {desired[index].item()!r}")


# --- finite differences ----------------------------------------------------------------------


@validate_params({"f": IsCallable(), "x": Array("(...)"), "eps": Real(0)})
def numerical_jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                       eps: float = 1e-6) -> np.ndarray:
    """Central-difference Jacobian in the convention (4): ``J[r, c] = ∂y_r / ∂x_c``.

    Matrix arguments and values are read through ``vec`` (column-major), so for a scalar
    ``ξ(W)`` the result is the row vector ``∂ξ/∂vec(W)^T`` of shape ``(1, |W|)``.

    Parameters
    ----------
    f : callable
        Maps an array shaped like ``x`` to an array (or a scalar) ``y``.
    x : ndarray
        The point; it is not modified.
    eps : float, default 1e-6
        The step: ``J[:, c] = (f(x + eps e_c) - f(x - eps e_c)) / (2 eps)``.

    Returns
    -------
    ndarray of shape (|y|, |x|)

    Raises
    ------
    ValueError
        If ``x`` is not finite or ``eps`` is not a positive finite number.
    TypeError
        If ``f`` is not callable or ``x`` is not real floating point.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    >>> np.round(numerical_jacobian(lambda x: A @ x, np.zeros(2)), 6)   # y = Ax gives A
    array([[1., 2.],
           [3., 4.],
           [5., 6.]])
    """
    flat = x.reshape(-1, order="F").copy()

    def at(v: np.ndarray) -> np.ndarray:
        return np.asarray(f(v.reshape(x.shape, order="F"))).reshape(-1, order="F")

    columns = []
    for c in range(flat.size):
        step = np.zeros_like(flat)
        step[c] = eps
        columns.append((at(flat + step) - at(flat - step)) / (2 * eps))
    return np.stack(columns, axis=1) if columns else np.zeros((at(flat).size, 0))


def central_difference(f: Callable[[np.ndarray], tuple[np.ndarray, Hashable]], x: np.ndarray,
                       v: np.ndarray, eps: float) -> np.ndarray | None:
    """``(f(x + eps v) - f(x - eps v)) / (2 eps)``, or ``None`` if a step leaves the piece.

    ``f`` returns ``(value, pattern)``; the difference is taken only when both ends have the
    pattern of ``x`` itself (:func:`activation_pattern`), so it never crosses a kink.

    Examples
    --------
    >>> import numpy as np
    >>> def relu(x):
    ...     return np.maximum(x, 0), tuple(x > 0)
    >>> central_difference(relu, np.array([1.0]), np.array([1.0]), 1e-3)
    array([1.])
    >>> central_difference(relu, np.array([1e-4]), np.array([1.0]), 1e-3) is None
    True
    """
    _, pattern = f(x)
    (plus, p_plus), (minus, p_minus) = f(x + eps * v), f(x - eps * v)
    if not (same_pattern(p_plus, pattern) and same_pattern(p_minus, pattern)):
        return None
    return (np.asarray(plus) - np.asarray(minus)) / (2 * eps)


# --- kinks -----------------------------------------------------------------------------------

_KINKED = ("relu", "leaky_relu")     # activations whose derivative jumps at 0


def kink_margin(S: np.ndarray, activation: str | Activation,
                shape: LayerShape | None = None) -> float:
    """How far a layer's pre-activations ``S`` are from a point of non-differentiability.

    The smallest ``|S|`` for ReLU-like activations, and, for a convolutional layer with max
    pooling, the smallest gap between a window's largest and second-largest entry of
    ``sigma(S)`` (among windows whose maximum carries gradient). Finite differences with
    a step well below this margin see the same ``P_pool`` and the same ``sigma'``.

    Parameters
    ----------
    S : ndarray
        Pre-activations: ``(d_out, a_conv*b_conv*N)`` for a convolutional layer.
    activation : str or Activation
    shape : LayerShape, optional
        The convolutional layer's shape; needed for the max-pooling gaps.

    Returns
    -------
    float
        ``inf`` where nothing is near a kink.

    Examples
    --------
    >>> import numpy as np
    >>> kink_margin(np.array([[0.5, -0.25]]), "relu")
    0.25
    """
    act = get_activation(activation)
    margin = np.inf
    if act.name in _KINKED:
        margin = float(np.min(np.abs(S), initial=np.inf))
    if shape is not None and shape.pool == "max" and shape.pool_size > 1:
        sigma_S = act.sigma(S)
        # each row of P_pool's average counterpart lists one window: its column indices
        win = P_pool(replace(shape, pool="average")).indices.reshape(shape.n_out, -1)
        vals = sigma_S.reshape(shape.n_S, -1, order="F")[win]          # (n_out, k*k, N)
        slopes = act.dsigma(S).reshape(shape.n_S, -1, order="F")[win]
        top2 = np.sort(vals, axis=1)[:, -2:, :]
        live = np.take_along_axis(slopes, vals.argmax(axis=1)[:, None, :], axis=1)[:, 0] != 0
        gaps = (top2[:, 1] - top2[:, 0])[live]
        margin = min(margin, float(gaps.min(initial=np.inf)))
    return margin


def activation_pattern(cache: NetworkCache, arch: Architecture) -> list[np.ndarray]:
    """Which piece of the piecewise-smooth network a forward pass is on: same pattern, same piece.

    ``sigma'`` of every layer with a ReLU-like activation and the chosen entry of every
    max-pooling window, from the cache of :func:`~kronconv.forward_network`. Finite
    differences are valid along a step whose two ends have the pattern of the point itself.
    """
    acts = arch.activations
    pattern = []
    for c, act in zip(cache.conv, acts, strict=False):
        if act.name in _KINKED:
            pattern.append(c.dsigma_S)
        if c.shape.pool == "max":
            pattern.append(backend_of(c).pool_pattern(c))
    for c, act in zip(cache.full, acts[len(cache.conv):], strict=True):
        if act.name in _KINKED:
            pattern.append(c.dsigma_s)
    return pattern


def same_pattern(p: object, q: object) -> bool:
    """Whether two :func:`activation_pattern` results (or any sequences of arrays) are equal."""
    return len(p) == len(q) and all(np.array_equal(x, y) for x, y in zip(p, q, strict=True))


# --- a direct convolution --------------------------------------------------------------------


def direct_conv(Z: np.ndarray, W: np.ndarray, b: np.ndarray, shape: LayerShape) -> np.ndarray:
    """``S`` computed without any kronconv operator: numpy windows on the NCHW image.

    Parameters
    ----------
    Z : ndarray of shape (d, a*b*N)
    W : ndarray of shape (d_out, h*h*d)
    b : ndarray of shape (d_out,)
    shape : LayerShape

    Returns
    -------
    S : ndarray of shape (d_out, a_conv*b_conv*N)

    Examples
    --------
    >>> import numpy as np
    >>> s = LayerShape(a=2, b=2, d=1, d_out=1, h=2)
    >>> direct_conv(np.ones((1, 4)), np.array([[1.0, 2.0, 3.0, 4.0]]), np.array([0.5]), s)
    array([[10.5]])
    """
    p, s = shape.padding, shape.stride
    x = np.pad(nchw_from_Z(Z, shape.a, shape.b), ((0, 0), (0, 0), (p, p), (p, p)))
    win = sliding_window_view(x, (shape.h, shape.h), axis=(2, 3))[:, :, ::s, ::s]
    out = np.einsum("ncuwij,ocij->nouw", win, oihw_from_W(W, shape.h)) + b[:, None, None]
    return Z_from_nchw(out)
