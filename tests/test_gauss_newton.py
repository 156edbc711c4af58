"""Jv, J^T u and Gv: finite differences (of the outputs and of the loss), adjointness, PyTorch."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from _networks import random_data, random_network
from _reference import assert_rel_close
from scipy.sparse.linalg import cg

from kronconv import (
    Architecture,
    ConvSpec,
    FullSpec,
    GaussNewton,
    forward_network,
    jacobian_T_vector,
    jacobian_vector,
    loss_and_grad,
    network_output,
)
from kronconv.testing import activation_pattern, same_pattern

FD_EPS = 1e-6


def _direction_off_kinks(theta, arch, Z, backend, rng):
    """A random direction along which +-FD_EPS stays on the same piece of the network."""
    pattern = activation_pattern(forward_network(theta, arch, Z, backend)[1], arch)
    for _ in range(20):
        v = rng.normal(size=theta.size)
        ends = [activation_pattern(forward_network(theta + s * FD_EPS * v, arch, Z, backend)[1],
                                   arch) for s in (1, -1)]
        if all(same_pattern(p, pattern) for p in ends):
            return v
    raise AssertionError("no direction away from the kinks")


@pytest.mark.parametrize("seed", range(12))
def test_jacobian_vector_equals_the_directional_derivative(seed, backend):
    arch, _, _ = random_network(seed)
    theta, Z, _ = random_data(arch, N=3, seed=seed)
    rng = np.random.default_rng(seed)
    v = _direction_off_kinks(theta, arch, Z, backend, rng)
    Jv = jacobian_vector(theta, arch, Z, v, backend)
    fd = (network_output(theta + FD_EPS * v, arch, Z, backend=backend)
          - network_output(theta - FD_EPS * v, arch, Z, backend=backend)) / (2 * FD_EPS)
    assert_rel_close(Jv, fd, 1e-6, "Jv vs finite differences")
    u = rng.normal(size=Jv.shape)
    lhs, rhs = np.sum(u * Jv), jacobian_T_vector(theta, arch, Z, u, backend) @ v
    assert abs(lhs - rhs) <= 1e-12 * max(abs(lhs), 1.0)


def _tiny():
    return Architecture((8, 7, 2), [ConvSpec(2, 2, padding=1, pool="max", activation="tanh"),
                                    ConvSpec(2, 2, stride=2, pool="average")],
                        [FullSpec(3, activation="sigmoid"), FullSpec(3)])


# A step of 1e-5 balances the central differences' truncation error (~ eps^2 times third
# derivatives) against their rounding error (~ 1e-16 / eps); see the tolerance below.
FD_EPS_G = 1e-5


def _fd_output_jacobian(theta, arch, Z, backend):
    """``J[:, i, j] = ∂z_i/∂theta_j`` by central differences of :func:`network_output`.

    Asserts that every step stays on theta's piece of the network (same ReLU signs and
    max-pooling choices), where the outputs are smooth and the differences converge.
    """
    pattern = activation_pattern(forward_network(theta, arch, Z, backend)[1], arch)
    columns = []
    for j in range(theta.size):
        step = np.zeros_like(theta)
        step[j] = FD_EPS_G
        ends = [theta + step, theta - step]
        for t in ends:
            assert same_pattern(activation_pattern(forward_network(t, arch, Z, backend)[1], arch),
                                pattern), f"the step along theta[{j}] crosses a kink"
        z_plus, z_minus = (network_output(t, arch, Z, backend=backend) for t in ends)
        columns.append((z_plus - z_minus) / (2 * FD_EPS_G))
    return np.stack(columns, axis=-1)                               # (n_classes, N, n_params)


def _fd_loss_hessian(z, y, loss):
    """``B = ∂²ξ/∂z∂z^T`` of one instance by central differences of ``loss_and_grad``'s ∂ξ/∂z."""
    columns = []
    for k in range(z.size):
        step = np.zeros_like(z)
        step[k] = FD_EPS_G
        g_plus, g_minus = (loss_and_grad(t[:, None], np.array([y]), loss)[1][:, 0]
                           for t in (z + step, z - step))
        columns.append((g_plus - g_minus) / (2 * FD_EPS_G))
    return np.stack(columns, axis=1)


@pytest.mark.parametrize(("loss", "C"), [("squared", math.inf), ("cross_entropy", 0.5),
                                         ("squared", 2.0), ("cross_entropy", math.inf)])
def test_GaussNewton_matvec_equals_finite_difference_J_B_J(loss, C, backend):
    arch, N, n_total = _tiny(), 3, 7                 # l = 7 != |S| = 3: I/(C l), not I/(C |S|)
    theta, Z, y = random_data(arch, N=N, seed=2)
    n = theta.size
    # G by its definition, G = (1/|S|) sum_i J_i^T B_i J_i + I/(C l), from finite differences
    # of the outputs (J_i) and of the loss's gradient (B_i): nothing of kronconv's R-operator,
    # backward pass or B is used.
    J = _fd_output_jacobian(theta, arch, Z, backend)
    z = network_output(theta, arch, Z, backend=backend)
    G = sum(J[:, i, :].T @ _fd_loss_hessian(z[:, i], y[i], loss) @ J[:, i, :]
            for i in range(N)) / N
    if not math.isinf(C):
        G += np.eye(n) / (C * n_total)
    op = GaussNewton(theta, arch, Z, y, C, loss, n_total=n_total, backend=backend)
    G_op = np.stack([op.matvec(e) for e in np.eye(n)], axis=1)    # kronconv's G, column by column
    v = np.random.default_rng(0).normal(size=n)
    # Tolerance: a central difference with step eps errs by ~ eps^2 * (third derivative) / 6
    # (truncation) plus ~ u * |value| / eps (rounding, u = 2.2e-16). On this network, with
    # eps going from 1e-3 down to 1e-7, max|G_fd - G| / max|G| falls as eps^2 (3.5e-8 at
    # 1e-3, 3.5e-10 at 1e-4) to <= 2e-11 at 1e-5, then rises as 1/eps (~1e-10 at 1e-6,
    # ~1e-9 at 1e-7): both terms are ~1e-11 at FD_EPS_G, for both losses and backends.
    # 1e-9 leaves a ~50x margin over that and is still ~1e8 times smaller than the error
    # of a wrong factor (the squared loss's 2, 1/|S|, 1/(C l)) or a wrong B.
    fd_tol = 1e-9
    assert_rel_close(G_op, G, fd_tol, "G e_j vs finite-difference (1/N) J^T B J + I/(C l)")
    assert_rel_close(op.matvec(v), G @ v, fd_tol, "Gv vs finite-difference G v")
    # kronconv's own G: symmetric, positive semidefinite, definite for finite C
    assert_rel_close(G_op, G_op.T, 1e-14, "G symmetric")
    eigenvalues = np.linalg.eigvalsh(G_op)
    assert eigenvalues.min() > -1e-12 * eigenvalues.max()
    if not math.isinf(C):
        assert eigenvalues.min() >= 1 / (C * n_total) * (1 - 1e-9)


def test_GaussNewton_as_linear_operator_solves_with_scipy_cg(backend):
    arch = Architecture.preset("digits")
    theta, Z, y = random_data(arch, N=8, seed=4)
    op = GaussNewton(theta, arch, Z, y, C=0.1, loss="cross_entropy", n_total=100,
                     backend=backend).as_linear_operator()
    assert op.shape == (arch.n_params, arch.n_params)
    g = np.random.default_rng(1).normal(size=arch.n_params)
    d, info = cg(op, -g, rtol=1e-10, maxiter=2000)
    assert info == 0
    assert_rel_close(op @ d, -g, 1e-8, "(G) d = -g solved by scipy's CG")


def test_GaussNewton_matvec_dense_equals_sparse():
    arch, loss, C = random_network(7)
    theta, Z, y = random_data(arch, N=5, seed=7)
    v = np.random.default_rng(2).normal(size=theta.size)
    a = GaussNewton(theta, arch, Z, y, C, loss, backend="sparse").matvec(v)
    b = GaussNewton(theta, arch, Z, y, C, loss, backend="dense").matvec(v)
    assert_rel_close(b, a, 1e-12, "Gv dense vs sparse")


def test_jacobian_vector_and_GaussNewton_reject_bad_inputs():
    arch = Architecture.preset("digits")
    theta, Z, y = random_data(arch, N=2, seed=0)
    with pytest.raises(ValueError, match=r"v must have the shape of theta, \(n_params,\) = "):
        jacobian_vector(theta, arch, Z, theta[:-1])
    with pytest.raises(ValueError, match="loss must be one of"):
        GaussNewton(theta, arch, Z, y, loss="hinge")
    with pytest.raises(ValueError, match="n_total must be >= 1"):
        GaussNewton(theta, arch, Z, y, n_total=0)


def _require_torch():
    if os.environ.get("KRONCONV_REQUIRE_TORCH"):
        import torch  # noqa: F401
    else:
        pytest.importorskip("torch")


@pytest.mark.parametrize("seed", range(8))
def test_GaussNewton_matvec_equals_torch_func(seed, backend):
    _require_torch()
    from kronconv.torch_reference import torch_gauss_newton_vector

    arch, loss, C = random_network(seed)
    theta, Z, y = random_data(arch, N=4, seed=seed)
    v = np.random.default_rng(seed).normal(size=theta.size)
    ours = GaussNewton(theta, arch, Z, y, C, loss, n_total=20, backend=backend).matvec(v)
    theirs = torch_gauss_newton_vector(theta, arch, Z, y, v, C, loss, n_total=20)
    assert_rel_close(ours, theirs, 1e-10,
                     "Gv vs torch.func: jvp, the loss's Hessian-vector product, vjp")
