"""Jv, J^T u and Gv: finite differences, adjointness, explicit assembly, PyTorch."""

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
    network_output,
)
from kronconv.verify import activation_pattern, same_pattern

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
def test_Jv_equals_the_directional_derivative(seed, backend):
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


@pytest.mark.parametrize(("loss", "C"), [("squared", math.inf), ("cross_entropy", 0.5),
                                         ("squared", 2.0)])
def test_Gv_equals_the_assembled_matrix(loss, C, backend):
    arch = _tiny()
    theta, Z, y = random_data(arch, N=3, seed=2)
    n = theta.size
    # J_i column by column from unit directions; B_i from the loss; G by its definition
    J = np.stack([jacobian_vector(theta, arch, Z, e, backend) for e in np.eye(n)], axis=-1)
    z = network_output(theta, arch, Z, backend=backend)
    G = np.zeros((n, n))
    for i in range(3):
        if loss == "squared":
            B = 2 * np.eye(3)
        else:
            p = np.exp(z[:, i]) / np.exp(z[:, i]).sum()
            B = np.diag(p) - np.outer(p, p)
        G += J[:, i, :].T @ B @ J[:, i, :] / 3
    if not math.isinf(C):
        G += np.eye(n) / (C * 7)
    op = GaussNewton(theta, arch, Z, y, C, loss, n_total=7, backend=backend)
    v = np.random.default_rng(0).normal(size=n)
    assert_rel_close(op.matvec(v), G @ v, 1e-12, "Gv vs assembled G v")
    assert_rel_close(G, G.T, 1e-14, "G symmetric")
    eigenvalues = np.linalg.eigvalsh(G)
    assert eigenvalues.min() > -1e-12 * eigenvalues.max()          # positive semidefinite
    if not math.isinf(C):
        assert eigenvalues.min() >= 1 / (C * 7) * (1 - 1e-9)          # definite for finite C


def test_gauss_newton_as_a_scipy_linear_operator(backend):
    arch = Architecture.preset("digits")
    theta, Z, y = random_data(arch, N=8, seed=4)
    op = GaussNewton(theta, arch, Z, y, C=0.1, loss="cross_entropy", n_total=100,
                     backend=backend).as_linear_operator()
    assert op.shape == (arch.n_params, arch.n_params)
    g = np.random.default_rng(1).normal(size=arch.n_params)
    d, info = cg(op, -g, rtol=1e-10, maxiter=2000)
    assert info == 0
    assert_rel_close(op @ d, -g, 1e-8, "(G) d = -g solved by scipy's CG")


def test_backends_give_the_same_Gv():
    arch, loss, C = random_network(7)
    theta, Z, y = random_data(arch, N=5, seed=7)
    v = np.random.default_rng(2).normal(size=theta.size)
    a = GaussNewton(theta, arch, Z, y, C, loss, backend="sparse").matvec(v)
    b = GaussNewton(theta, arch, Z, y, C, loss, backend="dense").matvec(v)
    assert_rel_close(b, a, 1e-12, "Gv dense vs sparse")


def test_bad_directions():
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
def test_Gv_equals_torch_func(seed, backend):
    _require_torch()
    from kronconv.torch_reference import torch_gauss_newton_vector

    arch, loss, C = random_network(seed)
    theta, Z, y = random_data(arch, N=4, seed=seed)
    v = np.random.default_rng(seed).normal(size=theta.size)
    ours = GaussNewton(theta, arch, Z, y, C, loss, n_total=20, backend=backend).matvec(v)
    theirs = torch_gauss_newton_vector(theta, arch, Z, y, v, C, loss, n_total=20)
    assert_rel_close(ours, theirs, 1e-10, "Gv vs torch.func jvp/vjp")
