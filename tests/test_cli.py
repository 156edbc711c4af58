"""The command line's own output: ``--version``, the defaults and presets of every ``--help``,
``verify``'s rows as its checks end, ``train --force``, and SG's and Adam's epochs called
epochs. (Bad command lines: tests/test_cli_errors.py.)"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import kronconv
import kronconv.architecture as architecture
import kronconv.train_cli as train_cli
from kronconv import Architecture, init_params
from kronconv.cli import build_parser, main
from kronconv.data import Scaling
from kronconv.model import Model, load_model, save_model
from kronconv.train import TrainState
from kronconv.verify import run_checks

ROOT = Path(kronconv.__file__).resolve().parent.parent
DIGITS = Architecture.preset("digits")
#: options that do nothing unless given (a picture, a Dask cluster): no default to show
NOTHING_UNLESS_GIVEN = {"--plot", "--chain", "--workers", "--scheduler"}


@pytest.fixture
def tiny(tmp_path):
    """12 digits-sized images with labels."""
    rng = np.random.default_rng(0)
    path = tmp_path / "tiny.npz"
    np.savez(path, x=rng.integers(0, 17, size=(12, 1, 8, 8)), y=np.arange(12) % 10)
    return path


def _help_entries(parser) -> dict[str, str]:
    """``{first option string: its entry in --help, whitespace collapsed}``."""
    entries: dict[str, str] = {}
    current = None
    for line in parser.format_help().splitlines():
        start = re.match(r"  (-[\w-]+)", line)
        if start:
            current = start[1]
            entries[current] = line
        elif current is not None and line.startswith("   "):
            entries[current] += " " + line
        else:
            current = None
    return {option: " ".join(text.split()) for option, text in entries.items()}


def _options(command):
    return [a for a in command._actions if a.option_strings]


def test_version_prints_the_installed_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"kronconv {kronconv.__version__}\n"


def test_version_matches_pyproject_when_installed():
    tomllib = pytest.importorskip("tomllib")
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    if kronconv.__version__ == "0+unknown":
        pytest.skip("kronconv is not installed: a source tree has no version")
    assert kronconv.__version__ == version


@pytest.mark.parametrize("name", sorted(build_parser()[1]))
def test_help_shows_every_options_default(name):
    command = build_parser()[1][name]
    entries = _help_entries(command)
    for action in _options(command):
        entry = entries[action.option_strings[0]]
        assert "(default: None)" not in entry
        if action.nargs == 0 or action.required or action.dest == "help":
            continue
        if action.option_strings[0] in NOTHING_UNLESS_GIVEN:
            continue
        assert "(default: " in entry, entry
        if action.default is not None:               # argparse's own default, shown as it is
            assert f"(default: {action.default})" in entry, entry


@pytest.mark.parametrize("name", ["verify", "bench", "train", "golden", "ops"])
def test_help_lists_the_presets_of_Architecture(name, monkeypatch):
    monkeypatch.setitem(architecture.PRESETS, "zz-new-preset", architecture.PRESETS["digits"])
    entry = _help_entries(build_parser()[1][name])["--arch"]
    for preset in architecture.PRESETS:               # the presets of today, not a copied list
        assert preset in entry, entry
    assert re.search(r"\(default: [\w-]+\)$", entry), entry


@pytest.mark.parametrize("optimizer", ["newton", "sg", "adam"])
def test_train_help_defaults_are_what_a_run_uses(optimizer, tiny, tmp_path, capsys):
    """The defaults the help shows for an optimizer's settings are those a run without the
    flags saves in its model."""
    out = tmp_path / "m.npz"
    assert main(["train", "--data", str(tiny), "--optimizer", optimizer, "--iterations", "1",
                 "--out", str(out), "--quiet"]) == 0
    used = load_model(out).options["train_options"]
    command = build_parser()[1]["train"]
    entries = _help_entries(command)
    compared = 0
    for action in _options(command):
        if action.dest not in used or action.dest == "subsample_size":   # from --subsample
            continue
        shown = re.search(r"\(default: ([^)]*)\)$", entries[action.option_strings[0]])[1]
        per_optimizer = dict(part.split(" for ")[::-1] for part in shown.split(", ")
                             if " for " in part)
        value = used[action.dest]
        expected = f"{value:g}" if isinstance(value, float) else str(value)
        assert per_optimizer.get(optimizer, shown) == expected, (action.dest, shown)
        compared += 1
    assert compared >= {"newton": 9, "sg": 7, "adam": 5}[optimizer]


# --- verify: a row as each check ends -----------------------------------------------------

def test_verify_prints_each_row_when_its_check_ends(tmp_path):
    """stdout to a file (block-buffered): when the network's checks start, the layer's rows
    and the network's header are already in the file."""
    log, seen = tmp_path / "out.txt", tmp_path / "seen.txt"
    script = textwrap.dedent(f"""
        import sys
        import kronconv.verify as verify
        from kronconv.cli import main
        real = verify.objective_and_gradient

        def spy(*args, **kwargs):                 # the network section's first computation
            with open({str(seen)!r}, "a") as f:
                f.write(open({str(log)!r}).read() + "\\f")
            return real(*args, **kwargs)

        verify.objective_and_gradient = spy
        sys.exit(main(["verify", "--arch", "digits", "--batch", "1"]))
    """)
    with log.open("w") as stdout:
        done = subprocess.run([sys.executable, "-c", script], stdout=stdout,
                              stderr=subprocess.PIPE, text=True, timeout=300, check=False,
                              env={**os.environ, "PYTHONPATH": str(ROOT),
                                   "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    at_start = seen.read_text().split("\f")[0]
    rows = [line for line in at_start.splitlines() if line.endswith("pass")]
    assert len(rows) == len(run_checks(batch=1))        # every check of the layer
    assert at_start.rstrip().splitlines()[-2].startswith("The network digits")
    final = log.read_text().splitlines()
    assert final[:len(at_start.splitlines())] == at_start.splitlines()
    assert final[-1] == f"{sum(line.endswith('pass') for line in final)} passed, 0 failed"


# --- train: --force, and epochs -----------------------------------------------------------

@pytest.fixture
def saved(tmp_path):
    """A model file, as a previous run left it."""
    path = tmp_path / "model.npz"
    state = TrainState(init_params(DIGITS, 0))
    save_model(path, Model(DIGITS, Scaling(16.0, np.zeros((1, 8, 8))), {"data": "digits"},
                           state))
    return path


def test_train_out_refuses_an_existing_model_and_leaves_it_as_it_was(saved, tiny, capsys):
    before = saved.read_bytes()
    with pytest.raises(SystemExit) as info:
        main(["train", "--data", str(tiny), "--iterations", "1", "--out", str(saved)])
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""                            # refused before any work
    assert captured.err == (f"kronconv train: error: --out: {saved} exists: add --force to "
                            "overwrite it (or --resume to continue its run)\n")
    assert saved.read_bytes() == before


def test_train_force_overwrites_an_existing_model(saved, tiny, capsys):
    assert main(["train", "--data", str(tiny), "--iterations", "1", "--out", str(saved),
                 "--force", "--quiet"]) == 0
    model = load_model(saved)
    assert model.state.iteration == 1                   # the new run, not the saved state
    assert model.options["data"] == str(tiny)


def test_train_resume_into_the_same_file_needs_no_force(tmp_path, tiny, capsys):
    out = tmp_path / "m.npz"
    argv = ["train", "--data", str(tiny), "--out", str(out), "--quiet", "--force"]
    assert main([*argv, "--iterations", "1"]) == 0          # --force: also a new file
    assert main([*argv[:-1], "--iterations", "2", "--resume"]) == 0
    assert load_model(out).state.iteration == 2
    assert main([*argv, "--iterations", "3", "--resume"]) == 0   # --force changes nothing
    assert load_model(out).state.iteration == 3


@pytest.mark.parametrize(("optimizer", "unit"), [("sg", "epoch"), ("adam", "epoch"),
                                                 ("newton", "iteration")])
def test_train_counts_epochs_or_iterations(optimizer, unit, tmp_path, tiny, capsys):
    for iterations, counted in (("1", f"1 {unit}"), ("2", f"2 {unit}s")):
        out = tmp_path / f"{iterations}.npz"
        assert main(["train", "--data", str(tiny), "--val-data", str(tiny), "--optimizer",
                     optimizer, "--iterations", iterations, "--out", str(out)]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[1].split()[0] == ("iter" if unit == "iteration" else "epoch")
        assert re.fullmatch(rf"validation accuracy [\d.]+% after {counted}, [\d.]+ s; model "
                            rf"saved to {re.escape(str(out))}", lines[-1]), lines[-1]


def test_train_ctrl_c_of_sg_names_the_epoch(tmp_path, tiny, monkeypatch, capsys):
    real, calls = train_cli.save_model, []

    def interrupted_at_the_second_save(*args):
        calls.append(args)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real(*args)

    monkeypatch.setattr(train_cli, "save_model", interrupted_at_the_second_save)
    out = tmp_path / "m.npz"
    argv = ["train", "--data", str(tiny), "--optimizer", "sg", "--iterations", "5",
            "--out", str(out), "--quiet"]
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 130
    assert capsys.readouterr().err == (
        f"kronconv train: interrupted; {out} holds the run after epoch 1; continue it with: "
        f"kronconv {shlex.join([*argv, '--resume'])}\n")
    assert load_model(out).state.iteration == 1
