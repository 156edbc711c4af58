"""The docs' golden-file reader (docs/golden_reader.py, plain numpy) recomputes what a freshly
written golden file stores: f, the outputs, Jv, every layer's intermediates, grad . v, v . Gv."""

from __future__ import annotations

import ast
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

import kronconv as kc
from kronconv.golden import read_golden, write_golden

READER_PATH = Path(__file__).resolve().parent.parent / "docs" / "golden_reader.py"
_spec = importlib.util.spec_from_file_location("golden_reader", READER_PATH)
reader = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reader)

# Beside the digits preset: stride 2, overlapping average pooling, a non-square 3-channel
# input, a pool-less layer, every activation but ReLU; and a network without conv layers.
ODD = kc.Architecture.from_dict({
    "input": {"a": 11, "b": 9, "d": 3},
    "conv": [{"d_out": 4, "h": 3, "stride": 2, "padding": 1, "pool": "average",
              "pool_size": 2, "pool_stride": 1, "activation": "tanh"},
             {"d_out": 5, "h": 2, "activation": "leaky_relu"},
             {"d_out": 3, "h": 2, "padding": 1, "pool": "max", "pool_size": 2,
              "activation": "softplus"}],
    "full": [{"n_out": 6, "activation": "sigmoid"}, {"n_out": 3}]})
FULL_ONLY = kc.Architecture((4, 3, 2), (), ({"n_out": 5}, {"n_out": 4}))
ARCHS = {"digits": kc.Architecture.preset("digits"), "odd": ODD, "full-only": FULL_ONLY}


def test_golden_reader_imports_numpy_and_the_standard_library_only():
    tree = ast.parse(READER_PATH.read_text(encoding="utf-8"))
    modules = {alias.name.split(".")[0] for node in ast.walk(tree)
               if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom)}
    assert modules == {"json", "sys", "numpy"}


@pytest.mark.parametrize("C", [0.01, math.inf])
@pytest.mark.parametrize("loss", ["squared", "cross_entropy"])
@pytest.mark.parametrize("name", sorted(ARCHS))
def test_golden_reader_recomputes_the_file(tmp_path, name, loss, C):
    path = tmp_path / "golden.npz"
    write_golden(path, ARCHS[name], batch=3, seed=1, loss=loss, C=C)
    errors = reader.differences(path)
    stored = read_golden(path)
    intermediates = {f"conv{m}.{key}" for m in range(1, len(ARCHS[name].conv_shapes) + 1)
                     for key in ("Z", "phi", "S", "Z_next")}
    assert set(errors) == {"f", "z_out", "Jv", "grad . v", "v . Gv"} | intermediates
    assert errors["f"] <= 1e-12, errors
    assert max(errors.values()) <= 1e-12, errors
    ours = reader.recompute(reader.read(path))
    assert ours["f"] == pytest.approx(float(stored["f"]), rel=1e-12, abs=0)


def test_golden_reader_notices_a_wrong_file(tmp_path):
    """A file whose stored f or v order were off is caught (the reader is not circular)."""
    path = tmp_path / "golden.npz"
    write_golden(path, ARCHS["digits"], batch=2, loss="squared")
    g = reader.read(path)
    g["conv1.b"] = g["conv1.b"] + 1e-6
    ours = reader.recompute(g)
    assert abs(ours["f"] - float(np.load(path)["f"])) > 1e-10
    g = reader.read(path)
    n = g["conv1.w_oihw"].size
    g["v"] = np.concatenate([g["v"][:n].reshape(g["conv1.w_oihw"].shape).ravel(order="F"),
                             g["v"][n:]])          # vec(W) in another order: Jv changes
    assert np.max(np.abs(reader.recompute(g)["Jv"] - g["Jv"])) > 1e-6
