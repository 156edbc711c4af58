"""``kronconv verify``: every equation checked, failures detected, exit status."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import kronconv.verify as verify_module
from kronconv import LayerShape
from kronconv.cli import main
from kronconv.verify import max_relative_error, run_checks, run_network_checks


def test_max_relative_error_values():
    assert max_relative_error(np.array([1.0, 2.1]), np.array([1.0, 2.0])) == pytest.approx(0.05)
    assert max_relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert max_relative_error(np.ones(3), np.zeros(3)) == float("inf")
    assert max_relative_error(np.ones(3), np.ones(4)) == float("inf")


def test_run_checks_covers_every_equation_and_passes():
    checks = run_checks()
    equations = " ".join(c.equation for c in checks)
    for eq in ("(1)", "(2)", "(3)", "(4)", "(5)", "(7)", "(8)", "(9)", "fwd"):
        assert eq in equations
    failed = [c for c in checks if not c.passed]
    assert not failed, failed
    fd = [c for c in checks if "finite differences" in c.compared]
    assert len(fd) == 4                       # (7), (1), (5), (8)
    assert all(0 < c.error < 1e-6 for c in fd)   # differences are never exact


@pytest.mark.parametrize("activation", ["tanh", "softplus", "leaky_relu"])
def test_run_checks_pass_on_other_layers(activation):
    shape = LayerShape(a=5, b=8, d=1, d_out=2, h=3, pool="average", pool_size=2, pool_stride=1)
    checks = run_checks(shape, batch=3, seed=4, activation=activation)
    assert [c.equation for c in checks] == [c.equation for c in run_checks()]
    failed = [c for c in checks if not c.passed]
    assert not failed, failed
    fd = [c for c in checks if "finite differences" in c.compared]
    assert all(0 < c.error < 1e-6 for c in fd)   # compared for real: differences are inexact


def test_verify_detects_a_wrong_gradient(monkeypatch, capsys):
    real = verify_module.grad_W

    def off_by_a_little(dS, phi, shape, form="kron"):
        dW = real(dS, phi, shape, form)
        return dW * (1 + 1e-5) if form == "vec" else dW

    monkeypatch.setattr(verify_module, "grad_W", off_by_a_little)
    assert main(["verify", "--arch", "digits"]) == 1
    out = capsys.readouterr().out
    failing = [line for line in out.splitlines() if line.endswith("FAIL")]
    assert len(failing) == 1
    assert failing[0].startswith("(1)")
    assert "Kronecker form vs vec form" in failing[0]


def test_verify_prints_one_row_per_check(capsys):
    assert main(["verify", "--arch", "digits", "--seed", "3", "--batch", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [line for line in out if line.endswith(("pass", "FAIL"))]
    expected = run_checks(seed=3, batch=1) + run_network_checks("digits", seed=3, batch=1)
    assert len(rows) == len(expected)
    assert [row.split()[0] for row in rows] == [c.equation for c in expected]
    assert out[-1] == f"{len(rows)} passed, 0 failed"


def test_run_network_checks_pass_and_cover_every_layer():
    checks = run_network_checks("digits", batch=3, seed=1, loss="squared", C=1.0)
    assert all(c.passed for c in checks), [c for c in checks if not c.passed]
    compared = " ".join(c.compared for c in checks)
    for layer in ("conv1", "conv2", "full1", "full2"):
        assert f"∇f of {layer} (W, b) vs finite differences, 8 coordinates" in compared


def test_run_network_checks_detect_a_wrong_gradient(monkeypatch):
    import kronconv.sparse as sparse_module

    real = sparse_module.grad_b

    def wrong_bias(dS, shape, form="vec"):
        return real(dS, shape, form) * 1.001

    monkeypatch.setattr(sparse_module, "grad_b", wrong_bias)
    failed = [c.compared for c in run_network_checks("digits", batch=2) if not c.passed]
    assert any("∇f of conv1" in c for c in failed)
    assert any("∇f of conv2" in c for c in failed)
    assert not any("full2" in c for c in failed)        # the full layers are not touched


def test_verify_says_when_torch_checks_are_skipped(monkeypatch, capsys):
    import kronconv.cli as cli_module
    import kronconv.verify as verify

    monkeypatch.setattr(cli_module, "torch_available", lambda: False)
    monkeypatch.setattr(verify, "torch_available", lambda: False)
    assert main(["verify", "--arch", "digits"]) == 0
    out = capsys.readouterr().out
    assert "PyTorch is not installed: the PyTorch checks were skipped" in out
    assert "vs PyTorch" not in out


@pytest.mark.parametrize("argv", [["verify", "--batch", "0"], ["verify", "--seed", "x"],
                                  ["verify", "--activation", "swish"], ["frobnicate"], []])
def test_main_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "usage: kronconv" in capsys.readouterr().err


@pytest.mark.slow
def test_verify_runs_as_python_m_kronconv_with_its_defaults():
    result = subprocess.run([sys.executable, "-m", "kronconv", "verify"], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed, 0 failed" in result.stdout


def test_verify_other_network_and_dtype(capsys):
    assert main(["verify", "--arch", "digits", "--dtype", "float32", "--batch", "3"]) == 0
    out = capsys.readouterr().out
    assert "The network digits: batch 3" in out
    assert "float32" in out
    for what in ("Jv vs finite differences", "<u, Jv> vs <J^T u, v>", "G symmetric",
                 "Gv: dense path vs sparse chain"):
        assert what in out


def test_verify_bad_arch_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["verify", "--arch", "nope"])
    assert info.value.code == 2
    assert "--arch: 'nope' is neither a preset" in capsys.readouterr().err
