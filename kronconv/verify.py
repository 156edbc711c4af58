"""Numerical checks of every equation and of a whole network: what ``kronconv verify`` reports.

Each check compares two independent computations of the same quantity: the two forms
of an equation, or an equation against central finite differences (float64), or the
sparse chain against a direct numpy convolution, or the network against PyTorch. The
error is the max relative error ``max|x - y| / max|y|`` with ``y`` the reference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .activations import Activation, get_activation
from .architecture import Architecture, load_architecture
from .backends import BACKENDS
from .gauss_newton import GaussNewton, jacobian_T_vector, jacobian_vector
from .layer import (
    conv_S,
    forward,
    grad_b,
    grad_S,
    grad_W,
    grad_Z,
    layer_output,
    phi_pad,
    pool,
)
from .layout import vec
from .losses import loss_value
from .memory import check_memory, forward_bytes
from .network import forward_network
from .objective_function import objective_and_gradient, regularization
from .operators import I_kron_W, phiT_kron_I
from .parameters import init_params
from .shapes import LayerShape
from .testing import (
    activation_pattern,
    direct_conv,
    kink_margin,
    max_relative_error,
    numerical_jacobian,
    same_pattern,
)
from .torch_reference import (
    torch_available,
    torch_gauss_newton_vector,
    torch_objective_and_gradient,
)

__all__ = ["DEFAULT_NETWORK", "DEFAULT_SHAPE", "Check", "run_checks", "run_network_checks"]

#: The default layer: stride 2, padding 1, a non-square image, overlapping max pooling.
DEFAULT_SHAPE = LayerShape(a=7, b=6, d=3, d_out=4, h=3, stride=2, padding=1,
                           pool="max", pool_size=2, pool_stride=1)

#: The default network of the network section.
DEFAULT_NETWORK = "mnist-3layer"

FORMS_TOL = 1e-12   # two forms of one equation, float64
TORCH_TOL = 1e-10   # kronconv against PyTorch autograd, float64
FD_TOL = 1e-6       # an equation against central finite differences, float64
FD_EPS = 1e-6
# A network's f sums many terms, so its rounding error is larger: a longer step keeps the
# differences' error (rounding ~ 1e-16 |f| / step, truncation ~ step^2) near 1e-8.
FD_EPS_NETWORK = 1e-5


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


def _xi(Z_next: np.ndarray, G: np.ndarray) -> float:
    """The test loss ``ξ = <G, Z^{m+1}> + ||Z^{m+1}||^2 / 2``; ``∂ξ/∂Z^{m+1} = G + Z^{m+1}``."""
    return float(np.sum(G * Z_next) + 0.5 * np.sum(Z_next**2))


def _check_batch(shapes: list[LayerShape], batch: int, dtype: np.dtype) -> None:
    """The memory guard before the random data of ``batch`` instances is drawn."""
    check_memory(forward_bytes(shapes, batch, dtype, True),
                 f"checking a forward pass of {batch} instances", "use a smaller batch (batch)")


def run_checks(shape: LayerShape = DEFAULT_SHAPE, batch: int = 2, seed: int = 0,
               activation: str | Activation = "relu",
               report: Callable[[Check], None] | None = None) -> list[Check]:
    """Check equations (1)-(9) numerically on one layer with random float64 data.

    Parameters
    ----------
    shape : LayerShape, default DEFAULT_SHAPE
    batch : int, default 2
    seed : int, default 0
        Seeds the data; data too close to a kink of ReLU or max pooling for finite
        differences is redrawn from the same generator.
    activation : str or Activation, default "relu"
    report : callable, optional
        ``report(check)`` as soon as each check is made (``kronconv verify`` prints it then).

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
    _check_batch([shape], batch, np.float64)
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
        return _xi(pool(act(S_), shape), G)

    def fd(f, x):
        return numerical_jacobian(f, x, FD_EPS).reshape(x.shape, order="F")

    checks = []

    def add(eq: str, compared: str, x: np.ndarray, ref: np.ndarray, tol: float) -> None:
        checks.append(Check(eq, compared, max_relative_error(x, ref), tol))
        if report is not None:
            report(checks[-1])

    S_phi = conv_S(Z, W, b, shape, form="phiT_kron_I")
    add("fwd", "vec(S): (I⊗W) P_phi P_pad vec(Z) vs (phi^T⊗I) vec(W)", S, S_phi, FORMS_TOL)
    add("fwd", "S: sparse chain vs direct numpy convolution", S, direct_conv(Z, W, b, shape),
        FORMS_TOL)
    # (2) and (3) as kronconv builds them: its operators I ⊗ W and phi^T ⊗ I against vec(W phi)
    phi = phi_pad(Z, shape)
    vec_W_phi = vec(W @ phi)
    IW_phi = I_kron_W(W, shape) @ vec(phi).reshape(shape.n_phi, -1, order="F")  # per instance
    add("(2)", "(I⊗W) vec(phi) vs vec(W phi), kronconv's I_kron_W",
        IW_phi.ravel(order="F"), vec_W_phi, FORMS_TOL)
    add("(3)", "(phi^T⊗I) vec(W) vs vec(W phi), kronconv's phiT_kron_I",
        phiT_kron_I(phi, shape.d_out) @ vec(W), vec_W_phi, FORMS_TOL)
    # (4): the Jacobian ∂vec(S)/∂vec(W)^T by differences is the operator phi^T ⊗ I
    add("(4)", "∂vec(S)/∂vec(W)^T by differences vs phi^T⊗I",
        numerical_jacobian(lambda W_: conv_S(Z, W_, b, shape), W),
        phiT_kron_I(phi, shape.d_out).toarray(), FD_TOL)

    dS = grad_S(dZ_next, cache)
    add("(7)", "∂ξ/∂S vs finite differences", dS, fd(xi_of_S, S), FD_TOL)
    dW = {form: grad_W(dS, phi, shape, form) for form in ("kron", "vec")}
    db = {form: grad_b(dS, shape, form) for form in ("kron", "vec")}
    dZ = {form: grad_Z(dS, W, shape, form) for form in ("kron", "vec")}
    add("(1)", "∂ξ/∂W: Kronecker form vs vec form", dW["kron"], dW["vec"], FORMS_TOL)
    add("(1)", "∂ξ/∂W vs finite differences", dW["kron"], fd(lambda W_: xi_of(W_=W_), W), FD_TOL)
    add("(5)", "∂ξ/∂b: Kronecker form vs vec form", db["kron"], db["vec"], FORMS_TOL)
    add("(5)", "∂ξ/∂b vs finite differences", db["kron"], fd(lambda b_: xi_of(b_=b_), b), FD_TOL)
    add("(8)(9)", "∂ξ/∂Z: (8) Kronecker form vs (9) vec form", dZ["kron"], dZ["vec"], FORMS_TOL)
    add("(8)", "∂ξ/∂Z vs finite differences", dZ["kron"], fd(lambda Z_: xi_of(Z_=Z_), Z), FD_TOL)
    return checks


# Tolerances by dtype: (two kronconv computations, against differences, against PyTorch).
# In float32 the references (differences, PyTorch) are computed in float64.
TOLERANCES = {"float64": (FORMS_TOL, FD_TOL, TORCH_TOL), "float32": (1e-4, 1e-3, 1e-4)}


def run_network_checks(arch: str | Architecture = DEFAULT_NETWORK, batch: int = 2,
                       seed: int = 0, loss: str = "cross_entropy", C: float = 0.1,
                       samples: int = 6, dtype: str = "float64",
                       report: Callable[[Check], None] | None = None) -> list[Check]:
    """Check a whole network's objective, gradient and Gauss-Newton products numerically.

    The gradient against central differences of ``f`` on ``samples`` sampled weight
    coordinates and two bias coordinates per layer (coordinates whose difference step
    would cross a kink of ReLU or max pooling are sampled again); ``J v`` against the
    differences of the outputs along ``v``; ``<u, J v> = <J^T u, v>``; the symmetry of ``G``;
    the Kronecker and vec forms; the dense path against the sparse chain; evaluation in
    chunks of one instance against the whole batch; and, when PyTorch is installed, ``f``,
    ``∇f``, the outputs and ``G v`` against PyTorch (autograd, torch.func).

    Parameters
    ----------
    arch : str or Architecture, default "mnist-3layer"
    batch : int, default 2
    seed : int, default 0
        Seeds theta (He initialization), the data, the labels, the directions and the
        coordinates.
    loss : {"cross_entropy", "squared"}, default "cross_entropy"
    C : float, default 0.1
    samples : int, default 6
    dtype : {"float64", "float32"}, default "float64"
        kronconv computes in this dtype; the references stay in float64.
    report : callable, optional
        ``report(check)`` as soon as each check is made.

    Returns
    -------
    list of Check
    """
    arch = load_architecture(arch) if not isinstance(arch, Architecture) else arch
    forms_tol, fd_tol, torch_tol = TOLERANCES[dtype]
    _check_batch(arch.conv_shapes, batch, np.dtype(dtype))
    rng = np.random.default_rng(seed)
    a, b, d = arch.input
    theta = init_params(arch, seed)
    Z = rng.normal(size=(d, a * b * batch))
    y = rng.integers(0, arch.n_classes, size=batch)
    theta_t, Z_t = theta.astype(dtype), Z.astype(dtype)          # what kronconv computes in
    f, grad = objective_and_gradient(theta_t, arch, Z_t, y, C, loss)
    pattern = activation_pattern(forward_network(theta, arch, Z)[1], arch)
    checks = []

    def add(compared: str, x, ref, tol: float) -> None:
        checks.append(Check("net", compared, max_relative_error(x, ref), tol))
        if report is not None:
            report(checks[-1])

    def off_kinks(t: np.ndarray) -> tuple[np.ndarray, bool]:
        z, cache = forward_network(t, arch, Z)
        return z, same_pattern(activation_pattern(cache, arch), pattern)

    def difference(j: int) -> float | None:
        """Central difference of f along coordinate j, or None if it would cross a kink."""
        ends = []
        for sign in (1, -1):
            t = theta.copy()
            t[j] += sign * FD_EPS_NETWORK
            z, same = off_kinks(t)
            if not same:
                return None
            ends.append(regularization(C, batch) * (t @ t) / 2 + loss_value(z, y, loss).mean())
        return (ends[0] - ends[1]) / (2 * FD_EPS_NETWORK)

    names = [f"conv{m}" for m in range(1, len(arch.conv_shapes) + 1)]
    names += [f"full{m}" for m in range(1, len(arch.full_shapes) + 1)]
    start = 0
    for name, ((rows, cols), n_b) in zip(names, arch.layer_param_shapes, strict=True):
        w_idx = start + rng.permutation(rows * cols)
        b_idx = start + rows * cols + rng.permutation(n_b)
        coords, fd = [], []
        for candidates, want in ((w_idx, samples), (b_idx, 2)):
            taken = 0
            for j in candidates:
                if taken == want:
                    break
                value = difference(int(j))
                if value is not None:
                    coords.append(int(j))
                    fd.append(value)
                    taken += 1
        add(f"∇f of {name} (W, b) vs finite differences, {len(coords)} coordinates",
            grad[coords], np.array(fd), fd_tol)
        start += rows * cols + n_b

    for _ in range(20):                  # a direction whose difference step stays off kinks
        v = rng.normal(size=theta.size)
        v /= np.linalg.norm(v)                                   # a unit step of FD_EPS
        (z_plus, same_plus), (z_minus, same_minus) = (off_kinks(theta + s * FD_EPS_NETWORK * v)
                                                      for s in (1, -1))
        if same_plus and same_minus:
            break
    Jv = jacobian_vector(theta_t, arch, Z_t, v)
    add("Jv vs finite differences of the outputs", Jv,
        (z_plus - z_minus) / (2 * FD_EPS_NETWORK), fd_tol)
    u = rng.normal(size=Jv.shape).astype(dtype)
    add("<u, Jv> vs <J^T u, v>", np.array(np.sum(u * Jv)),
        np.array(jacobian_T_vector(theta_t, arch, Z_t, u) @ v), forms_tol)
    G = {be: GaussNewton(theta_t, arch, Z_t, y, C, loss, backend=be) for be in BACKENDS}
    Gv = G["sparse"].matvec(v)
    w = rng.normal(size=theta.size)
    add("G symmetric: <w, Gv> vs <Gw, v>", np.array(w @ Gv),
        np.array(G["sparse"].matvec(w) @ v), forms_tol)
    add("Gv: dense path vs sparse chain", G["dense"].matvec(v), Gv, forms_tol)
    _, grad_kron = objective_and_gradient(theta_t, arch, Z_t, y, C, loss, form="kron")
    add("∇f: Kronecker forms vs vec forms of (1), (5), (8)/(9)", grad_kron, grad, forms_tol)
    f_dense, grad_dense = objective_and_gradient(theta_t, arch, Z_t, y, C, loss, backend="dense")
    add("f: dense path vs sparse chain", np.array(f_dense), np.array(f), forms_tol)
    add("∇f: dense path vs sparse chain", grad_dense, grad, forms_tol)
    f1, grad1 = objective_and_gradient(theta_t, arch, Z_t, y, C, loss, chunk_size=1)
    add("f: chunks of one instance vs one batch", np.array(f1), np.array(f), forms_tol)
    add("∇f: chunks of one instance vs one batch", grad1, grad, forms_tol)
    if torch_available():
        f_t, grad_t, z_t = torch_objective_and_gradient(theta, arch, Z, y, C, loss)
        z, _ = forward_network(theta_t, arch, Z_t)
        add("network outputs z vs PyTorch", z, z_t, torch_tol)
        add("f vs PyTorch", np.array(f), np.array(f_t), torch_tol)
        add("∇f vs PyTorch autograd", grad, grad_t, torch_tol)
        add("Gv vs PyTorch torch.func (jvp, vjp)", Gv,
            torch_gauss_newton_vector(theta, arch, Z, y, v, C, loss), torch_tol)
    return checks
