"""A whole network: ∇f by finite differences and PyTorch, chunks, dtypes, predictions, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _networks import ACTIVATION_NAMES, random_data, random_network
from _reference import assert_rel_close

from kronconv import (
    LOSSES,
    Activation,
    Architecture,
    ConvSpec,
    FullSpec,
    accuracy,
    backward_network,
    forward_network,
    loss_value,
    network_output,
    objective,
    objective_and_gradient,
    predict,
)
from kronconv.testing import activation_pattern, same_pattern

FD_EPS = 1e-5


def f_by_definition(theta, arch, Z, y, C, loss, backend="sparse") -> float:
    """f = theta^T theta / (2 C l) + (1/l) sum_i ξ_i, from the outputs (docs/conventions.rst)."""
    z, _ = forward_network(theta, arch, Z, backend)
    n = z.shape[1]
    reg = 0.0 if math.isinf(C) else theta @ theta / (2 * C * n)
    return reg + loss_value(z, y, loss).mean()


def finite_difference_gradient(theta, arch, Z, y, C, loss, backend="sparse"):
    """Central differences of f in every coordinate; NaN where the step crosses a kink."""
    pattern = activation_pattern(forward_network(theta, arch, Z, backend)[1], arch)
    fd = np.full_like(theta, np.nan)
    for j in range(theta.size):
        ends = []
        for sign in (1, -1):
            t = theta.copy()
            t[j] += sign * FD_EPS
            if not same_pattern(activation_pattern(forward_network(t, arch, Z, backend)[1],
                                                   arch), pattern):
                break
            ends.append(f_by_definition(t, arch, Z, y, C, loss, backend))
        if len(ends) == 2:
            fd[j] = (ends[0] - ends[1]) / (2 * FD_EPS)
    return fd


def test_random_network_covers_every_case():
    nets = [random_network(seed) for seed in range(12)]
    shapes = [s for arch, _, _ in nets for s in arch.conv_shapes]
    assert {s.stride for s in shapes} == {1, 2}
    assert 0 in {s.padding for s in shapes}
    assert max(s.padding for s in shapes) > 0
    assert {s.pool for s in shapes} == {"max", "average", "none"}
    assert {arch.activations[0].name for arch, _, _ in nets} == set(ACTIVATION_NAMES)
    assert {loss for _, loss, _ in nets} == set(LOSSES)
    assert {math.isinf(C) for _, _, C in nets} == {True, False}
    assert all(arch.input[0] != arch.input[1] for arch, _, _ in nets)
    assert all(len(arch.conv_shapes) >= 2 for arch, _, _ in nets)


@pytest.mark.parametrize("seed", range(12))
def test_objective_and_gradient_equals_finite_differences(seed, backend):
    arch, loss, C = random_network(seed)
    theta, Z, y = random_data(arch, N=3, seed=seed)
    f, grad = objective_and_gradient(theta, arch, Z, y, C, loss, backend=backend)
    assert f == pytest.approx(f_by_definition(theta, arch, Z, y, C, loss, backend), rel=1e-13)
    fd = finite_difference_gradient(theta, arch, Z, y, C, loss, backend)
    assert np.mean(np.isnan(fd)) < 0.05, "too many coordinates next to a kink"
    start = 0
    names = [f"conv{m}" for m in range(len(arch.conv_shapes))]
    names += [f"full{m}" for m in range(len(arch.full_shapes))]
    for name, ((rows, cols), n_b) in zip(names, arch.layer_param_shapes, strict=True):
        for block, size in ((f"{name}.W", rows * cols), (f"{name}.b", n_b)):
            sl = slice(start, start + size)
            ok = ~np.isnan(fd[sl])
            assert_rel_close(grad[sl][ok], fd[sl][ok], 1e-6, f"seed {seed}, {block}")
            start += size


def test_objective_and_gradient_user_activation_and_full_only_equal_finite_differences():
    softsign = Activation("softsign", lambda s: s / (1 + np.abs(s)),
                          lambda s: 1 / (1 + np.abs(s)) ** 2)
    for arch in (Architecture((5, 6, 2), [ConvSpec(3, 2, pool="average", activation=softsign),
                                          ConvSpec(2, 2, stride=2, activation=softsign)],
                              [FullSpec(3)]),
                 Architecture((3, 4, 1), [], [FullSpec(4, activation=softsign), FullSpec(2)])):
        theta, Z, y = random_data(arch, N=2, seed=7)
        _, grad = objective_and_gradient(theta, arch, Z, y, 2.0, "cross_entropy")
        fd = finite_difference_gradient(theta, arch, Z, y, 2.0, "cross_entropy")
        assert_rel_close(grad, fd, 1e-6, f"∇f, {(arch.conv_shapes and 'conv') or 'full only'}")


def test_objective_and_gradient_kron_and_vec_forms_agree():
    arch, loss, C = random_network(3)
    theta, Z, y = random_data(arch, N=4, seed=3)
    _, g_vec = objective_and_gradient(theta, arch, Z, y, C, loss, form="vec")
    _, g_kron = objective_and_gradient(theta, arch, Z, y, C, loss, form="kron")
    assert_rel_close(g_kron, g_vec, 1e-12, "∇f kron vs vec")


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 5, 100])
def test_objective_and_gradient_chunked_equals_one_batch(chunk_size, backend):
    arch = Architecture.preset("digits")
    theta, Z, y = random_data(arch, N=5, seed=1)
    f, grad = objective_and_gradient(theta, arch, Z, y, 0.3, "cross_entropy", backend=backend)
    fc, gc = objective_and_gradient(theta, arch, Z, y, 0.3, "cross_entropy",
                                    chunk_size=chunk_size, backend=backend)
    assert fc == pytest.approx(f, rel=1e-12)
    assert_rel_close(gc, grad, 1e-12, "chunked ∇f")
    assert objective(theta, arch, Z, y, 0.3, "cross_entropy", chunk_size=chunk_size,
                     backend=backend) == pytest.approx(f, rel=1e-12)
    assert_rel_close(network_output(theta, arch, Z, chunk_size, backend),
                     network_output(theta, arch, Z, backend=backend), 1e-12, "chunked outputs")


def test_objective_equals_definition_and_objective_and_gradient():
    arch, loss, C = random_network(5)
    theta, Z, y = random_data(arch, N=4, seed=5)
    f, _ = objective_and_gradient(theta, arch, Z, y, C, loss)
    f_obj = objective(theta, arch, Z, y, C, loss)
    assert f_obj == pytest.approx(f_by_definition(theta, arch, Z, y, C, loss), rel=1e-13)
    assert f_obj == f


def test_objective_and_gradient_regularization_term_and_its_gradient():
    arch = Architecture.preset("digits")
    theta, Z, y = random_data(arch, N=4, seed=2)
    f_inf, g_inf = objective_and_gradient(theta, arch, Z, y, math.inf)
    f_c, g_c = objective_and_gradient(theta, arch, Z, y, 0.25)
    assert f_c - f_inf == pytest.approx(theta @ theta / (2 * 0.25 * 4), rel=1e-12)
    assert_rel_close(g_c - g_inf, theta / (0.25 * 4), 1e-12, "θ / (C l)")


def test_objective_and_gradient_float32_matches_float64(backend):
    arch = Architecture.preset("digits")
    theta, Z, y = random_data(arch, N=3, seed=4)
    f, grad = objective_and_gradient(theta.astype(np.float32), arch, Z.astype(np.float32), y,
                                     1.0, backend=backend)
    assert grad.dtype == np.float32
    assert network_output(theta.astype(np.float32), arch, Z.astype(np.float32),
                          backend=backend).dtype == np.float32
    f64, g64 = objective_and_gradient(theta, arch, Z, y, 1.0)
    assert f == pytest.approx(f64, rel=1e-5)
    assert_rel_close(grad, g64, 1e-4, "float32 vs float64")


def test_predict_is_argmax_of_outputs_and_accuracy_counts_hits():
    arch = Architecture.preset("digits")
    theta, Z, _ = random_data(arch, N=6, seed=8)
    z = network_output(theta, arch, Z)
    pred = predict(theta, arch, Z, chunk_size=4)
    np.testing.assert_array_equal(pred, z.argmax(axis=0))
    y = pred.copy()
    y[:2] = (y[:2] + 1) % 10
    assert accuracy(theta, arch, Z, y) == pytest.approx(4 / 6)


def test_backward_network_sums_over_instances():
    arch = Architecture.preset("digits")
    theta, Z, _ = random_data(arch, N=3, seed=9)
    z, cache = forward_network(theta, arch, Z)
    dz = np.random.default_rng(0).normal(size=z.shape)
    total = backward_network(dz, theta, arch, cache)
    parts = sum(backward_network(dz[:, [i]], theta, arch,
                                 forward_network(theta, arch, Z[:, 64 * i:64 * (i + 1)])[1])
                for i in range(3))
    assert_rel_close(total, parts, 1e-13, "Σ_i ∂ξ_i/∂θ")


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda t, a, Z, y: objective(t[:-1], a, Z, y), ValueError,
     r"theta must have shape \(n_params,\) = \(3658,\), got shape \(3657,\)"),
    (lambda t, a, Z, y: objective(t.astype(np.float32), a, Z, y), TypeError,
     "theta must have dtype float64 like the other inputs, got dtype float32"),
    (lambda t, a, Z, y: objective(t, a, Z[:, :-1], y), ValueError,
     r"Z must have shape \(d, a\*b\*N\) = \(1, 64\*N\) with N >= 1, got shape \(1, 191\)"),
    (lambda t, a, Z, y: objective(t, a, Z, y[:2]), ValueError,
     r"y must have shape \(N,\) = \(3,\)"),
    (lambda t, a, Z, y: objective(t, a, Z, y + 10), ValueError,
     r"y must hold classes in \[0, 10\)"),
    (lambda t, a, Z, y: objective(t, a, Z, y, C=0), ValueError, r"C must be > 0"),
    (lambda t, a, Z, y: objective(t, a, Z, y, C="big"), TypeError, "C must be a positive number"),
    (lambda t, a, Z, y: objective(t, a, Z, y, loss="hinge"), ValueError, "loss must be one of"),
    (lambda t, a, Z, y: objective_and_gradient(t, a, Z, y, chunk_size=0), ValueError,
     "chunk_size must be >= 1, got 0"),
    (lambda t, a, Z, y: objective_and_gradient(t, a, Z, y, form="dense"), ValueError,
     r"form must be one of \('kron', 'vec'\)"),
    (lambda t, a, Z, y: predict(t, "digits", Z), TypeError, "arch must be an Architecture"),
    (lambda t, a, Z, y: backward_network(np.zeros((10, 2)), t, a,
                                         forward_network(t, a, Z)[1]), ValueError,
     r"dz must have shape \(n_classes, N\) = \(10, 3\)"),
])
def test_objective_and_gradient_reject_bad_inputs(call, error, message):
    arch = Architecture.preset("digits")
    theta, Z, y = random_data(arch, N=3, seed=0)
    with pytest.raises(error, match=message):
        call(theta, arch, Z, y)
