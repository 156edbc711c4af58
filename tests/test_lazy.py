"""kronconv's public names load lazily (kronconv/_lazy.py) from the stub that declares them."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kronconv
from kronconv._lazy import stub_names
from kronconv.golden import golden_arrays

STUB = Path(kronconv.__file__).with_suffix(".pyi")


def test_every_public_name_is_its_modules_object():
    # the stub run as ordinary, eager Python inside the package: the names it binds must be
    # the very objects the lazy package serves (not read back through kronconv._lazy)
    eager = {"__name__": "kronconv._eager_stub", "__package__": "kronconv"}
    exec(compile(STUB.read_text(), str(STUB), "exec"), eager)
    assert eager["__all__"] == kronconv.__all__
    assert len(kronconv.__all__) == len(set(kronconv.__all__)) >= 70
    for name in [*kronconv.__all__, "__version__"]:
        assert getattr(kronconv, name) is eager[name], name
    assert set(kronconv.__all__) <= set(dir(kronconv))
    assert kronconv.__version__ == importlib.import_module("kronconv._version").VERSION


def test_submodules_and_unknown_names():
    assert kronconv.operators is importlib.import_module("kronconv.operators")
    with pytest.raises(AttributeError, match="module 'kronconv' has no attribute 'P_sigma'"):
        kronconv.P_sigma  # noqa: B018
    with pytest.warns(DeprecationWarning, match="use kronconv.cache.LayerCache"):
        assert kronconv.DenseCache is kronconv.LayerCache


def test_star_import_gives_every_name_in_a_fresh_interpreter():
    code = ("import sys; from kronconv import *; import kronconv; "
            "print(all(n in globals() for n in kronconv.__all__), 'numpy' in sys.modules)")
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=STUB.parent.parent)
    assert ran.stdout == "True True\n"


def test_a_stub_whose_all_names_a_missing_import_is_refused(tmp_path):
    stub = tmp_path / "__init__.pyi"
    stub.write_text("from .layer import forward\n__all__ = ['forward', 'backward']\n")
    with pytest.raises(ImportError, match=r"__all__ names \['backward'\] that no import line"):
        stub_names(str(stub))


def test_the_installed_command_runs_from_anywhere(tmp_path):
    # the console script of this environment: the installed wheel in CI (its stub included),
    # run outside the source tree
    script = Path(sys.executable).parent / "kronconv"
    if not script.exists():
        pytest.skip("kronconv is not installed in this environment")
    ran = subprocess.run([str(script), "golden", "--arch", "digits", "--batch", "1", "--out",
                          "g.npz"], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert ran.returncode == 0, ran.stderr
    with np.load(tmp_path / "g.npz", allow_pickle=False) as saved:
        expected = golden_arrays(kronconv.Architecture.preset("digits"), batch=1)
        assert sorted(saved.files) == sorted(expected)
        np.testing.assert_array_equal(saved["conv1.Z_next"], expected["conv1.Z_next"])
