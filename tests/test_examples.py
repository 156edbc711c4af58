"""Every script in examples/ runs as a user would run it, in an empty directory, and its own
checks of a real value against an independent reference hold (each ends by saying so)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import kronconv

ROOT = Path(kronconv.__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
#: what the examples show (README.md's list): one script each
SUBJECTS = ("first_layer", "network_gradient", "gauss_newton", "check_your_conv",
            "read_golden", "short_training")
#: the optional dependencies a script needs (kronconv's extras)
NEEDS = {"06_short_training.py": "sklearn"}


def test_examples_cover_every_subject_in_order():
    assert [path.stem.split("_", 1)[1] for path in EXAMPLES] == list(SUBJECTS)
    assert [path.stem.split("_", 1)[0] for path in EXAMPLES] == [
        f"{k:02d}" for k in range(1, len(SUBJECTS) + 1)]


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda path: path.name)
def test_example_runs_and_its_checks_hold(script, tmp_path):
    if script.name in NEEDS:
        pytest.importorskip(NEEDS[script.name])
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    assert done.stdout.splitlines()[-1].startswith("checked: ")
    assert not list(tmp_path.iterdir())               # nothing left behind
