"""Losses: values from their formulas, gradients by differences, stability, labels."""

from __future__ import annotations

import numpy as np
import pytest
from _reference import assert_rel_close

from kronconv import loss_and_grad, loss_value


@pytest.mark.parametrize("loss", ["squared", "cross_entropy"])
def test_loss_and_grad_equals_formulas_and_finite_differences(loss):
    rng = np.random.default_rng(0)
    z, y = rng.normal(size=(4, 6)), rng.integers(0, 4, size=6)
    xi, dz = loss_and_grad(z, y, loss)
    for i in range(6):
        if loss == "squared":                          # ||z - e_y||^2, no 1/2
            expected = sum((z[k, i] - (k == y[i])) ** 2 for k in range(4))
        else:                                          # -log softmax(z)_y
            expected = -np.log(np.exp(z[y[i], i]) / np.exp(z[:, i]).sum())
        assert xi[i] == pytest.approx(expected, rel=1e-14)
    np.testing.assert_array_equal(loss_value(z, y, loss), xi)
    eps, fd = 1e-6, np.zeros_like(z)
    for k in np.ndindex(z.shape):
        zp, zm = z.copy(), z.copy()
        zp[k] += eps
        zm[k] -= eps
        fd[k] = (loss_value(zp, y, loss)[k[1]] - loss_value(zm, y, loss)[k[1]]) / (2 * eps)
    assert_rel_close(dz, fd, 1e-8, f"∂ξ/∂z, {loss}")


def test_loss_and_grad_cross_entropy_is_stable_for_large_logits():
    z = np.array([[1000.0, -1000.0], [0.0, 0.0], [-1000.0, 1000.0]])
    xi, dz = loss_and_grad(z, np.array([0, 0]), "cross_entropy")
    assert np.all(np.isfinite(xi))
    assert np.all(np.isfinite(dz))
    assert xi[0] == pytest.approx(0.0, abs=1e-300)
    assert xi[1] == pytest.approx(2000.0)
    np.testing.assert_allclose(dz[:, 1], [-1.0, 0.0, 1.0], atol=1e-300)
    z32 = z.astype(np.float32)
    xi32, dz32 = loss_and_grad(z32, np.array([0, 0]), "cross_entropy")
    assert xi32.dtype == dz32.dtype == np.float32
    assert np.all(np.isfinite(xi32))


@pytest.mark.parametrize(("y", "error", "message"), [
    (np.array([0, 3]), ValueError, r"y must hold classes in \[0, 3\), got 3"),
    (np.array([-1, 0]), ValueError, r"y must hold classes in \[0, 3\), got -1"),
    (np.array([0, 1, 2]), ValueError, r"y must have shape \(N,\) = \(2,\), one label per instance"),
    (np.array([0.5, 1.0]), TypeError, "y must hold integer class labels, got dtype float64"),
    (np.array(["a", "b"]), TypeError, "y must hold integer class labels"),
])
def test_loss_and_grad_rejects_bad_labels(y, error, message):
    with pytest.raises(error, match=message):
        loss_and_grad(np.zeros((3, 2)), y)


def test_loss_and_grad_accepts_integral_float_labels_and_loss_value_rejects_unknown_loss():
    xi, _ = loss_and_grad(np.zeros((3, 2)), np.array([2.0, 0.0]))
    np.testing.assert_array_equal(xi, [1.0, 1.0])
    with pytest.raises(ValueError, match=r"loss must be one of \('squared', 'cross_entropy'\)"):
        loss_value(np.zeros((3, 2)), np.array([0, 1]), "hinge")
