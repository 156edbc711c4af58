"""Numerical checks of every equation on one layer: what ``kronconv verify`` reports.

Each check compares two independent computations of the same quantity: the two forms
of an equation, or an equation against central finite differences (float64), or the
sparse chain against a direct numpy convolution. The error is the max relative error
``max|x - y| / max|y|`` with ``y`` the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .activations import Activation, get_activation
from .identities import identity2, identity3, numerical_jacobian
from .layer import _apply, conv_S, forward, grad_b, grad_S, grad_W, grad_Z, layer_output
from .layout import Z_from_nchw, nchw_from_Z, oihw_from_W
from .operators import P_pool, _pool_windows
from .shapes import LayerShape

__all__ = ["DEFAULT_SHAPE", "Check", "kink_margin", "max_relative_error", "run_checks"]

#: The default layer: stride 2, padding 1, a non-square image, overlapping max pooling.
DEFAULT_SHAPE = LayerShape(a=7, b=6, d=3, d_out=4, h=3, stride=2, padding=1,
                           pool="max", pool_size=2, pool_stride=1)

FORMS_TOL = 1e-12   # two forms of one equation, float64
FD_TOL = 1e-6       # an equation against central finite differences, float64
FD_EPS = 1e-6


@dataclass(frozen=True)
class Check:
    """One row of the report: ``equation``, ``compared``, ``error`` against ``tolerance``."""

    equation: str
    compared: str
    error: float
    tolerance: float

    @property
    def passed(self) -> bool:
        return bool(self.error <= self.tolerance)


def max_relative_error(x: np.ndarray, reference: np.ndarray) -> float:
    """``max|x - reference| / max|reference|`` (0 when both are zero, inf on a shape mismatch).

    Examples
    --------
    >>> import numpy as np
    >>> max_relative_error(np.array([1.0, 2.5]), np.array([1.0, 2.0]))
    0.25
    """
    x, reference = np.asarray(x), np.asarray(reference)
    if x.shape != reference.shape:
        return float("inf")
    diff = np.max(np.abs(x - reference), initial=0.0)
    scale = np.max(np.abs(reference), initial=0.0)
    if diff == 0:
        return 0.0
    return float(diff / scale) if scale > 0 else float("inf")


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
    """
    act = get_activation(activation)
    margin = np.inf
    if act.name in ("relu", "leaky_relu"):
        margin = float(np.min(np.abs(S), initial=np.inf))
    if shape is not None and shape.pool == "max" and shape.pool_size > 1:
        sigma_S = act.sigma(S)
        win = _pool_windows(shape)
        vals = sigma_S.reshape(shape.n_S, -1, order="F")[win]          # (n_out, k*k, N)
        slopes = act.dsigma(S).reshape(shape.n_S, -1, order="F")[win]
        top2 = np.sort(vals, axis=1)[:, -2:, :]
        live = np.take_along_axis(slopes, vals.argmax(axis=1)[:, None, :], axis=1)[:, 0] != 0
        gaps = (top2[:, 1] - top2[:, 0])[live]
        margin = min(margin, float(gaps.min(initial=np.inf)))
    return margin


def _xi(Z_next: np.ndarray, G: np.ndarray) -> float:
    """The test loss ``ξ = <G, Z^{m+1}> + ||Z^{m+1}||^2 / 2``; ``∂ξ/∂Z^{m+1} = G + Z^{m+1}``."""
    return float(np.sum(G * Z_next) + 0.5 * np.sum(Z_next**2))


def _direct_conv(Z: np.ndarray, W: np.ndarray, b: np.ndarray, shape: LayerShape) -> np.ndarray:
    """``S`` computed without any kronconv operator: numpy windows on the NCHW image."""
    p, s = shape.padding, shape.stride
    x = np.pad(nchw_from_Z(Z, shape.a, shape.b), ((0, 0), (0, 0), (p, p), (p, p)))
    win = sliding_window_view(x, (shape.h, shape.h), axis=(2, 3))[:, :, ::s, ::s]
    out = np.einsum("ncuwij,ocij->nouw", win, oihw_from_W(W, shape.h)) + b[:, None, None]
    return Z_from_nchw(out)


def run_checks(shape: LayerShape = DEFAULT_SHAPE, batch: int = 2, seed: int = 0,
               activation: str | Activation = "relu") -> list[Check]:
    """Check equations (1)-(9) numerically on one layer with random float64 data.

    Parameters
    ----------
    shape : LayerShape, default DEFAULT_SHAPE
    batch : int, default 2
    seed : int, default 0
        Seeds the data; data too close to a kink of ReLU or max pooling for finite
        differences is redrawn from the same generator.
    activation : str or Activation, default "relu"

    Returns
    -------
    list of Check
        One row per check; all pass when the implementation is right.

    Examples
    --------
    >>> all(check.passed for check in run_checks())
    True
    """
    act = get_activation(activation)
    rng = np.random.default_rng(seed)
    for _ in range(100):
        Z = rng.normal(size=(shape.d, shape.a * shape.b * batch))
        W = rng.normal(size=shape.W_shape) / np.sqrt(shape.W_shape[1])
        b = rng.normal(size=shape.d_out) * 0.1
        S = conv_S(Z, W, b, shape)
        if kink_margin(S, act, shape) > 1e3 * FD_EPS:
            break
    Z_next, cache = forward(Z, W, b, shape, act)
    G = rng.normal(size=Z_next.shape)
    dZ_next = G + Z_next

    def xi_of(Z_=Z, W_=W, b_=b):
        return _xi(layer_output(Z_, W_, b_, shape, act), G)

    def xi_of_S(S_):
        sigma_S = act.sigma(S_)
        return _xi(_apply(P_pool(shape, sigma_S), sigma_S, shape.d_out), G)

    def fd(f, x):
        return numerical_jacobian(f, x, FD_EPS).reshape(x.shape, order="F")

    checks = []

    def add(eq: str, compared: str, x: np.ndarray, ref: np.ndarray, tol: float) -> None:
        checks.append(Check(eq, compared, max_relative_error(x, ref), tol))

    S_phi = conv_S(Z, W, b, shape, form="phiT_kron_I")
    add("fwd", "vec(S): (I⊗W) P_phi P_pad vec(Z) vs (phi^T⊗I) vec(W)", S, S_phi, FORMS_TOL)
    add("fwd", "S: sparse chain vs direct numpy convolution", S, _direct_conv(Z, W, b, shape),
        FORMS_TOL)
    A, B = rng.normal(size=(3, 4)), rng.normal(size=(4, 5))
    vec_AB = (A @ B).reshape(-1, order="F")
    add("(2)", "vec(B)^T (I⊗A^T) vs vec(AB)", identity2(A, B), vec_AB, FORMS_TOL)
    add("(3)", "vec(A)^T (B⊗I) vs vec(AB)", identity3(A, B), vec_AB, FORMS_TOL)
    add("(4)", "∂(Ax)/∂x^T by differences vs A",
        numerical_jacobian(lambda v: A @ v, rng.normal(size=4)), A, FD_TOL)

    dS = grad_S(dZ_next, cache)
    add("(7)", "∂ξ/∂S vs finite differences", dS, fd(xi_of_S, S), FD_TOL)
    dW = {form: grad_W(dS, cache.phi, shape, form) for form in ("kron", "vec")}
    db = {form: grad_b(dS, shape, form) for form in ("kron", "vec")}
    dZ = {form: grad_Z(dS, W, shape, form) for form in ("kron", "vec")}
    add("(1)", "∂ξ/∂W: Kronecker form vs vec form", dW["kron"], dW["vec"], FORMS_TOL)
    add("(1)", "∂ξ/∂W vs finite differences", dW["kron"], fd(lambda W_: xi_of(W_=W_), W), FD_TOL)
    add("(5)", "∂ξ/∂b: Kronecker form vs vec form", db["kron"], db["vec"], FORMS_TOL)
    add("(5)", "∂ξ/∂b vs finite differences", db["kron"], fd(lambda b_: xi_of(b_=b_), b), FD_TOL)
    add("(8)(9)", "∂ξ/∂Z: (8) Kronecker form vs (9) vec form", dZ["kron"], dZ["vec"], FORMS_TOL)
    add("(8)", "∂ξ/∂Z vs finite differences", dZ["kron"], fd(lambda Z_: xi_of(Z_=Z_), Z), FD_TOL)
    return checks
