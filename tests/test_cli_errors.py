"""The command line's one error path: every bad command line ends with one line on stderr naming
the option or file, exit status 2 (refused before any work) or 1 (the work failed), no
traceback, and no file left behind; Ctrl-C ends with 130 and how to resume."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kronconv
import kronconv.__main__
from kronconv import Architecture, cli, init_params, set_memory_limit
from kronconv.cli import EXTRAS, build_parser, main
from kronconv.data import Scaling
from kronconv.model import Model, load_model, save_model
from kronconv.parallel import machine_cores
from kronconv.train import AdamOptions, NewtonOptions, SGOptions, TrainState
from kronconv.train_cli import natural_int, number, positive_int

ROOT = Path(kronconv.__file__).resolve().parent.parent
DIGITS = Architecture.preset("digits")
TINY = "20000"          # bytes: KRONCONV_MEMORY_LIMIT below any run of the digits network


def _files(root: Path) -> set[Path]:
    """Every file and directory under ``root``, hidden ones included."""
    return set(root.rglob("*"))


@pytest.fixture
def paths(tmp_path):
    """Files the bad command lines point at: ``{name: path}`` for the templates' fields."""
    (tmp_path / "dir").mkdir()
    (tmp_path / "file.txt").write_text("not a directory\n")
    (tmp_path / "empty.npz").write_bytes(b"")
    (tmp_path / "damaged.npz").write_bytes(b"PK\x03\x04" + bytes(60))
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "narrow.npz", x=rng.normal(size=(4, 1, 5, 5)), y=np.arange(4) % 2)
    (tmp_path / "list.json").write_text("[]")
    (tmp_path / "full.json").write_text(Architecture.from_dict(
        {"input": {"a": 8, "b": 8, "d": 1}, "full": [{"n_out": 10}]}).to_json())
    (tmp_path / "digits.json").write_text(DIGITS.to_json())
    (tmp_path / "wide.json").write_text(Architecture.from_dict(      # one image: 1.6 MB
        {"input": {"a": 200, "b": 500, "d": 2}, "full": [{"n_out": 2}]}).to_json())
    scaling = Scaling(16.0, np.zeros((1, 8, 8)))
    state = TrainState(init_params(DIGITS, 0))
    save_model(tmp_path / "model.npz", Model(DIGITS, scaling, {"data": "digits"}, state))
    options = {"backend": "dense", "seed": 0, "data": str(tmp_path / "gone.npz"),
               "val_data": None, "input_format": "row", "optimizer": "newton", "C": 1.0,
               "loss": "squared", "dtype": "float64", "train_options": asdict(NewtonOptions())}
    save_model(tmp_path / "filemodel.npz", Model(DIGITS, scaling, options, state))
    exports = tmp_path / "exports"
    (exports / "conv1.P_pad.npz").mkdir(parents=True)       # one target taken by a directory
    return {"tmp": str(tmp_path), "dir": str(tmp_path / "dir"),
            "file": str(tmp_path / "file.txt"), "out": str(tmp_path / "out.npz"),
            **{p.stem: str(p) for p in tmp_path.iterdir() if p.is_file()},
            "exports": str(exports), "cores": str(max(2, machine_cores()))}


@pytest.fixture
def memory_env(monkeypatch):
    """Set ``KRONCONV_MEMORY_LIMIT`` for one test; the limit is read again when next needed."""
    def setenv(value: str) -> None:
        monkeypatch.setenv("KRONCONV_MEMORY_LIMIT", value)
        set_memory_limit(None)

    yield setenv
    set_memory_limit(None)


def _run(argv: list[str], capsys) -> tuple[int, str]:
    """The exit status of ``main(argv)`` and its stderr, which must be one line."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    return info.value.code, err


def case(command: str, status: int, fragment: str, env: str | None = None,
         without: str | None = None, needs: str | None = None):
    """A bad command line (fields in braces are files of the ``paths`` fixture), its exit
    status, a fragment of its message, ``KRONCONV_MEMORY_LIMIT``, a module made missing, and
    an optional dependency without which the command is refused earlier (for needing it)."""
    marks = () if needs is None else pytest.mark.skipif(
        importlib.util.find_spec(needs) is None, reason=f"the message comes after {needs}'s")
    return pytest.param(command, status, fragment, env, without, marks=marks,
                        id=f"{command} {env or ''}")


BAD_COMMAND_LINES = [
    # verify
    case("verify --batch 0", 2, "--batch: expected a positive integer, got 0"),
    case("verify --batch -3", 2, "--batch: expected a positive integer, got -3"),
    case("verify --batch 1e3", 2, "--batch: expected a positive integer, got '1e3'"),
    case("verify --seed -1", 2, "--seed: expected an integer >= 0, got -1"),
    case("verify --seed x", 2, "--seed: expected an integer >= 0, got 'x'"),
    case("verify --dtype float16", 2, "--dtype: invalid choice: 'float16'"),
    case("verify --activation swish", 2, "--activation: invalid choice: 'swish'"),
    case("verify --arch nope", 2, "--arch: 'nope' is neither a preset"),
    case("verify --arch {dir}", 2, "is neither a preset"),
    case("verify --arch {list}", 2, "--arch: {list}: an architecture must be a mapping"),
    case("verify --threads 0", 2, "--threads: expected a positive integer, got 0"),
    case("verify --bogus", 2, "unrecognized arguments: --bogus"),
    case("verify", 2, "KRONCONV_MEMORY_LIMIT must be a whole number of bytes >= 1", env="abc"),
    case("verify --arch digits --batch 1", 1, "raise the limit with KRONCONV_MEMORY_LIMIT",
         env=TINY),
    # bench
    case("bench --backends gpu", 2, "--backends: choose among sparse, dense, torch"),
    case("bench --backends ,", 2, "--backends: choose among sparse, dense, torch, got ','"),
    case("bench --repeat 0", 2, "--repeat: expected a positive integer, got 0"),
    case("bench --repeat x", 2, "--repeat: expected a positive integer, got 'x'"),
    case("bench --batch -1", 2, "--batch: expected a positive integer, got -1"),
    case("bench --chunk-size 0", 2, "--chunk-size: expected a positive integer, got 0"),
    case("bench --arch nope", 2, "--arch: 'nope' is neither a preset"),
    case("bench --threads x", 2, "--threads: expected a positive integer, got 'x'"),
    case("bench --arch digits", 2, "kronconv bench (its report of the BLAS libraries) needs "
         "threadpoolctl: pip install \"threadpoolctl\" (kronconv's 'bench' extra)",
         without="threadpoolctl"),
    case("bench --arch digits --batch 64 --chunk-size 64 --backends dense --repeat 1", 1,
         "evaluate in smaller chunks (--chunk-size)", env="200000"),
    case("bench --arch digits --batch 64 --backends dense --repeat 1", 1,
         "the random images of 64 instances needs about 64.0 KiB", env=TINY),
    case("bench", 2, "KRONCONV_MEMORY_LIMIT must be a whole number of bytes >= 1", env="-1"),
    case("golden --out {out} --arch {wide} --batch 1", 1, "the direction v and the random images "
         "of one instance needs about", env=TINY),
    case("bench --arch {wide} --batch 1", 1, "use an architecture with smaller inputs or fewer "
         "parameters (--arch)", env=TINY),
    # train: outputs
    case("train --out {dir}", 2, "--out: {dir} is a directory"),
    case("train --out {file}/m.npz", 2, "--out: {file}/m.npz: {file} is not a directory"),
    case("train --out {tmp}/missing/m.npz", 2, "directory {tmp}/missing does not exist"),
    case("train --out {file}/a/m.npz", 2, "--out: {file}/a/m.npz: {file} is not a directory"),
    case("train --out=", 2, "--out: expected a file name, got ''"),
    case("train --out {out} --plot {dir}", 2, "--plot: {dir} is a directory"),
    case("train --out {out} --plot {tmp}/missing/p.png", 2, "--plot: {tmp}/missing/p.png"),
    case("train --out {tmp}/m.png --plot {tmp}/m.png", 2, "--plot: {tmp}/m.png is also --out's "
         "file", needs="matplotlib"),
    case("train --out {narrow} --data {narrow}", 2, "--out: {narrow} is also --data's file"),
    case("train --out {digits} --arch {digits}", 2, "--out: {digits} is also --arch's file"),
    case("train --out {out} --plot {tmp}/p.png", 2, "--plot needs matplotlib: pip install "
         "\"matplotlib\" (kronconv's 'plot' extra)", without="matplotlib"),
    # train: values the library refuses
    case("train --out {out} --C 0", 2, "--C: C must be > 0 (inf for no regularization)"),
    case("train --out {out} --C -1", 2, "--C: C must be > 0"),
    case("train --out {out} --C nan", 2, "--C: C must be > 0 (inf for no regularization), "
         "got nan"),
    case("train --out {out} --C 1e999", 2, "--C: expected a number, got '1e999', which is "
         "beyond the range of float64"),
    case("train --out {out} --C abc", 2, "--C: expected a number, got 'abc'"),
    case("train --out {out} --optimizer sg --lr 0", 2, "--lr: lr must be > 0, got 0.0"),
    case("train --out {out} --optimizer sg --lr -0.1", 2, "--lr: lr must be > 0, got -0.1"),
    case("train --out {out} --optimizer sg --lr nan", 2, "--lr: lr must be > 0, got nan"),
    case("train --out {out} --optimizer adam --lr inf", 2, "--lr: lr must be > 0, got inf"),
    case("train --out {out} --optimizer sg --momentum 1", 2,
         "--momentum: momentum must be in [0, 1), got 1.0"),
    case("train --out {out} --optimizer adam --momentum 0.5", 2,
         "--momentum: not an option of --optimizer adam"),
    case("train --out {out} --optimizer sg --gn-size 10", 2,
         "--gn-size: not an option of --optimizer sg"),
    case("train --out {out} --optimizer sg --lr-decay 0", 2, "--lr-decay: lr_decay must be > 0"),
    case("train --out {out} --optimizer sg --decay -1", 2, "--decay: decay must be >= 0"),
    case("train --out {out} --optimizer sg --batch-size 0", 2,
         "--batch-size: expected a positive integer, got 0"),
    case("train --out {out} --seed -1", 2, "--seed: expected an integer >= 0, got -1"),
    case("train --out {out} --subsample 2", 2, "--subsample: subsample must be in (0, 1]"),
    case("train --out {out} --subsample 0", 2, "--subsample: subsample must be in (0, 1]"),
    case("train --out {out} --lambda -1", 2, "--lambda: lam must be >= 0, got -1.0"),
    case("train --out {out} --drop 2", 2, "--drop: drop must be in (0, 1], got 2.0"),
    case("train --out {out} --boost 0.5", 2, "--boost: boost must be >= 1, got 0.5"),
    case("train --out {out} --eta 0", 2, "--eta: eta must be in (0, 1], got 0.0"),
    case("train --out {out} --xi 0", 2, "--xi: cg_rtol must be > 0, got 0.0"),
    case("train --out {out} --cg-max 0", 2, "--cg-max: expected a positive integer, got 0"),
    case("train --out {out} --iterations 0", 2, "--iterations: expected a positive integer"),
    case("train --out {out} --time-limit 0", 2, "--time-limit: expected a number of seconds"),
    case("train --out {out} --time-limit nan", 2, "--time-limit: expected a number of seconds"),
    case("train --out {out} --optimizer lbfgs", 2, "--optimizer: invalid choice: 'lbfgs'"),
    case("train --out {out} --backend gpu", 2, "--backend: invalid choice: 'gpu'"),
    case("train --out {out} --loss hinge", 2, "--loss: invalid choice: 'hinge'"),
    case("train --out {out} --simplenn-options '-s 9'", 2,
         "--simplenn-options: simpleNN option -s: 1 (Newton), 2 (SG) or 3 (Adam), got 9"),
    case("train --out {out} --simplenn-options '-C 0'", 2,
         "--simplenn-options: simpleNN option -C: must be > 0"),
    case("train --out {out} --simplenn-options '-s 2' --lr 0.1", 2, "not combined with --lr"),
    case("train --out {out} --arch nope", 2, "--arch: 'nope' is neither a preset"),
    case("train --out {out} --arch {list}", 2, "--arch: {list}: an architecture must be"),
    # train: inputs, dependencies, the environment
    case("train --out {out} --data {tmp}/missing.npz", 2,
         "--data: {tmp}/missing.npz does not exist"),
    case("train --out {out} --data {dir}", 2, "--data: {dir} is a directory"),
    case("train --out {out} --data {tmp}/im.idx:{tmp}/lab.idx", 2,
         "--data: {tmp}/im.idx does not exist"),
    case("train --out {out} --val-data {tmp}/missing.npz", 2,
         "--val-data: {tmp}/missing.npz does not exist"),
    case("train --out {out}", 2, "--data digits needs scikit-learn: pip install \"scikit-learn\" "
         "(kronconv's 'data' extra)", without="sklearn"),
    case("train --out {out} --workers 2 --scheduler tcp://127.0.0.1:1", 2,
         "--workers and --scheduler: give one"),
    case("train --out {out} --workers 2", 2, "--workers needs dask[distributed]",
         without="distributed"),
    case("train --out {out} --workers 100000", 2,      # a local cluster: processes on this machine
         "--workers: workers must be an integer from 1 to {cores} (one per core"),
    case("train --out {out} --scheduler nowhere", 2,
         "--scheduler: missing port number in address 'nowhere'"),
    case("train --out {out} --scheduler ftp://host:21", 2,
         "--scheduler: unknown address scheme 'ftp'"),
    case("train --out {out} --threads 2", 2, "--threads: threads=2 needs threadpoolctl",
         without="threadpoolctl"),
    case("train --out {out} --resume", 2, "--resume: {out} does not exist"),
    case("train --out {model}", 2, "--out: {model} exists: add --force to overwrite it (or "
         "--resume to continue its run)"),
    case("train --out {model} --optimizer sg --iterations 1", 2, "--out: {model} exists"),
    case("train --resume --out no/such/model.npz", 2, "--resume: no/such/model.npz does not "
         "exist"),
    case("train --out {damaged} --resume", 2, "--resume: {damaged}: not a readable kronconv"),
    case("train --out {filemodel} --resume", 2,
         "--resume: {filemodel}'s --data: {tmp}/gone.npz does not exist"),
    case("train --out {out}", 2, "KRONCONV_MEMORY_LIMIT must be a whole number of bytes >= 1 "
         "(such as 4e9), got '-1'", env="-1"),
    case("train --out {out}", 2, "got '1e999'", env="1e999"),
    case("train --out {out}", 2, "got 'nan'", env="nan"),
    case("train --out {out}", 2, "got '0'", env="0"),
    case("train --out {out} --data {empty} --quiet", 1, "--data: {empty}"),
    case("train --out {out} --data {damaged} --quiet", 1, "--data: {damaged}"),
    case("train --out {out} --data {narrow} --quiet", 2,
         "--data: {narrow}: images of shape (d, a, b) = (1, 5, 5), the network takes (1, 8, 8)"),
    case("train --out {out} --iterations 1 --chunk-size 500 --quiet", 1,
         "evaluate in smaller chunks (--chunk-size)", env="200000"),
    case("train --out {out} --iterations 1 --quiet", 1,
         "theta of 3658 parameters (float64, drawn in float64) needs about 89.2 KiB", env=TINY),
    # predict
    case("predict", 2, "the following arguments are required: --model"),
    case("predict --model {tmp}/missing.npz", 2, "--model: {tmp}/missing.npz does not exist"),
    case("predict --model {dir}", 2, "--model: {dir} is a directory"),
    case("predict --model {damaged}", 2, "--model: {damaged}: not a readable kronconv model"),
    case("predict --model {empty}", 2, "--model: {empty}: not a readable kronconv model"),
    case("predict --model {model} --out {dir}", 2, "--out: {dir} is a directory"),
    case("predict --model {model} --out {file}/p.txt", 2, "{file} is not a directory"),
    case("predict --model {model} --out {model}", 2, "--out: {model} is also --model's file"),
    case("predict --model {model} --data {tmp}/missing.npz", 2, "--data: {tmp}/missing.npz"),
    case("predict --model {filemodel}", 2, "--data: the model was trained on a file"),
    case("predict --model {model} --threads 0", 2, "--threads: expected a positive integer"),
    case("predict --model {model}", 2, "--data digits needs scikit-learn", without="sklearn"),
    case("predict --model {model} --data {empty}", 1, "--data: {empty}"),
    case("predict --model {model} --data {damaged}", 1, "--data: {damaged}"),
    case("predict --model {model} --data {narrow}", 2,
         "--data: {narrow}: images of shape (d, a, b) = (1, 5, 5)"),
    # golden
    case("golden", 2, "the following arguments are required: --out"),
    case("golden --out {dir}", 2, "--out: {dir} is a directory"),
    case("golden --out {tmp}/missing/g.npz", 2, "directory {tmp}/missing does not exist"),
    case("golden --out {out} --C 0", 2, "--C: C must be > 0"),
    case("golden --out {out} --C -1", 2, "--C: C must be > 0"),
    case("golden --out {out} --C nan", 2, "--C: C must be > 0 (inf for no regularization), "
         "got nan"),
    case("golden --out {out} --C 1e999", 2, "--C: expected a number, got '1e999'"),
    case("golden --out {out} --seed -1", 2, "--seed: expected an integer >= 0, got -1"),
    case("golden --out {out} --batch 0", 2, "--batch: expected a positive integer, got 0"),
    case("golden --out {out} --loss hinge", 2, "--loss: invalid choice: 'hinge'"),
    case("golden --out {out} --dtype int8", 2, "--dtype: invalid choice: 'int8'"),
    case("golden --out {out} --arch nope", 2, "--arch: 'nope' is neither a preset"),
    case("golden --out {digits} --arch {digits}", 2, "--out: {digits} is also --arch's file"),
    case("golden --out {out}", 2, "got 'abc'", env="abc"),
    case("golden --out {out} --batch 100", 1, "above kronconv's memory limit", env=TINY),
    # ops
    case("ops --seed -1", 2, "--seed: expected an integer >= 0, got -1"),
    case("ops --layer 9", 2, "--layer: layer must be in 1..2, got 9"),
    case("ops --layer 0", 2, "--layer: expected a positive integer, got 0"),
    case("ops --format csv", 2, "--format: invalid choice: 'csv'"),
    case("ops --arch nope", 2, "--arch: 'nope' is neither a preset"),
    case("ops --arch {full}", 2, "--arch: the architecture has no convolutional layer"),
    case("ops --export {file}", 2, "--export: {file} is not a directory"),
    case("ops --export {tmp}/missing/sub", 2, "--export: {tmp}/missing/sub: directory "
         "{tmp}/missing does not exist"),
    case("ops --export {exports}", 2, "--export: {exports}/conv1.P_pad.npz is a directory"),
    case("ops --export {exports} --format mtx --plot {dir}", 2, "--plot: {dir} is a directory"),
    case("ops --plot {tmp}/ops.png", 2, "--plot needs matplotlib", without="matplotlib"),
    case("ops", 2, "KRONCONV_MEMORY_LIMIT", env="-5"),
    case("ops --export {tmp}/new", 1, "above kronconv's memory limit", env=TINY),
    case("ops --export {tmp}/same.svg --plot {tmp}/same.svg", 2, "--export: {tmp}/same.svg is "
         "also --plot's", needs="matplotlib"),
    case("ops --plot {tmp}/ops.jpg", 2, "--plot: {tmp}/ops.jpg: the picture's format is named "
         "by its extension, one of .png, .pdf, .svg"),
    case("ops --chain {tmp}/chain", 2, "--chain: {tmp}/chain: the picture's format is named"),
    case("ops --chain {dir}", 2, "--chain: {dir} is a directory"),
    case("ops --dpi 0 --plot {tmp}/ops.png", 2, "--dpi: expected an integer from 20 to 600, "
         "got 0"),
    case("ops --dpi 1 --chain {tmp}/c.png", 2, "--dpi: expected an integer from 20 to 600, got 1"),
    case("ops --dpi 601 --plot {tmp}/ops.png", 2, "--dpi: expected an integer from 20 to 600"),
    case("ops --plot {tmp}/same.png --chain {tmp}/same.png", 2,
         "--chain: {tmp}/same.png is also --plot's file"),
    # plot
    case("plot --out {tmp}/p.png", 2, "the following arguments are required: RUN.npz"),
    case("plot {model}", 2, "the following arguments are required: --out"),
    case("plot {tmp}/gone.npz --out {tmp}/p.png", 2, "RUN.npz: {tmp}/gone.npz does not exist"),
    case("plot {empty} --out {tmp}/p.png", 2, "{empty}: not a readable kronconv model"),
    case("plot {model} --out {tmp}/p.png", 2, "{model}: a model without a training log: "
         "nothing to draw"),
    case("plot {model} --out {tmp}/p.gif", 2, "--out: {tmp}/p.gif: the picture's format is "
         "named by its extension"),
    case("plot {model} --out {model}", 2, "--out: {model}: the picture's format is named"),
    case("plot {model} --out {dir}", 2, "--out: {dir} is a directory"),
    case("plot {model} --out {tmp}/p.png --dpi x", 2, "--dpi: expected an integer from 20 to "
         "600, got 'x'"),
    case("plot {model} --out {tmp}/p.png", 2, "--out needs matplotlib: pip install "
         "\"matplotlib\" (kronconv's 'plot' extra)", without="matplotlib"),
    case("train --out {out} --plot {tmp}/p.jpeg", 2, "--plot: {tmp}/p.jpeg: the picture's "
         "format is named by its extension"),
    # no command
    case("frobnicate", 2, "invalid choice: 'frobnicate'"),
    case("", 2, "the following arguments are required: command"),
]


@pytest.mark.parametrize(("command", "status", "fragment", "env", "without"),
                         BAD_COMMAND_LINES)
def test_main_bad_command_line(command, status, fragment, env, without, paths, memory_env,
                               monkeypatch, capsys):
    tmp = Path(paths["tmp"])
    before = _files(tmp)
    if env is not None:
        memory_env(env)
    if without is not None:                  # the optional dependency is not installed
        monkeypatch.setitem(sys.modules, without, None)
    argv = [word.format(**paths) for word in shlex.split(command)]
    code, err = _run(argv, capsys)
    assert code == status, err
    assert fragment.format(**paths) in err
    prog = f"kronconv {argv[0]}" if argv and argv[0] in build_parser()[1] else "kronconv"
    assert err.startswith(f"{prog}: error: ")
    assert _files(tmp) == before               # nothing written, no temporary left


def test_main_every_command_has_bad_command_lines():
    _, commands = build_parser()
    counts = {name: sum(p.values[0].split(" ")[0] == name for p in BAD_COMMAND_LINES)
              for name in commands}
    assert min(counts.values()) >= 5, counts
    assert len(BAD_COMMAND_LINES) >= 70


UNWRITABLE = ["train --out {ro}/m.npz", "golden --out {ro}/g.npz",
              "predict --model {model} --out {ro}/p.txt", "ops --export {ro}/ops",
              "ops --plot {ro}/ops.png", "ops --chain {ro}/chain.pdf",
              "plot {model} --out {ro}/runs.png"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root may write anywhere, whatever the permissions say")
@pytest.mark.parametrize("command", UNWRITABLE)
def test_main_refuses_an_unwritable_directory(command, paths, capsys):
    ro = Path(paths["tmp"]) / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        code, err = _run([w.format(ro=ro, **paths) for w in shlex.split(command)], capsys)
    finally:
        ro.chmod(0o700)
    assert code == 2
    assert f"directory {ro} is not writable" in err
    assert not list(ro.iterdir())


@pytest.mark.parametrize("command", UNWRITABLE)
def test_main_refuses_a_directory_os_access_calls_unwritable(command, paths, monkeypatch,
                                                             capsys):
    """As the test above, for root too: the permissions as ``os.access`` reports them."""
    ro = Path(paths["tmp"]) / "ro"
    ro.mkdir()
    access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: access(path, mode) and not (
        Path(path) == ro and mode & os.W_OK))
    code, err = _run([w.format(ro=ro, **paths) for w in shlex.split(command)], capsys)
    assert code == 2
    assert f"directory {ro} is not writable" in err
    assert not list(ro.iterdir())


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
@pytest.mark.parametrize("command", UNWRITABLE)
def test_main_refuses_a_directory_where_no_file_can_be_created(command, paths, capsys):
    """/proc passes os.access as root, yet no file can be created in it: refused before work."""
    code, err = _run([w.format(ro="/proc", **paths) for w in shlex.split(command)], capsys)
    assert code == 2
    assert "no file can be created in directory /proc" in err


def test_main_export_leaves_no_partial_set_and_overwrites_files(paths, capsys):
    exports = Path(paths["exports"])
    code, _ = _run(["ops", "--export", str(exports)], capsys)
    assert code == 2
    assert [p.name for p in exports.iterdir()] == ["conv1.P_pad.npz"]   # the directory only
    (exports / "conv1.P_pad.npz").rmdir()
    (exports / "conv1.P_pad.npz").write_bytes(b"old")                  # a file is replaced
    assert main(["ops", "--export", str(exports)]) == 0
    written = sorted(p.name for p in exports.iterdir())
    assert len(written) == 12
    assert not [name for name in written if name.startswith(".")]
    assert (exports / "conv1.P_pad.npz").read_bytes()[:2] == b"PK"


def test_main_optimizer_flags_have_their_fields_as_dest():
    """A refused optimizer setting is named by the flag whose dest starts the library's
    message: so every optimizer flag's dest is a field of an options class."""
    fields = {f for kind in (NewtonOptions, SGOptions, AdamOptions)
              for f in kind.__dataclass_fields__}
    groups = {g.title: g for g in build_parser()[1]["train"]._action_groups}
    dests = {a.dest for title in ("Newton-CG", "SG and Adam")
             for a in groups[title]._group_actions}
    assert len(dests) == 17
    assert dests <= fields, dests - fields


def test_main_debug_prints_the_traceback_and_keeps_the_status(paths, capsys):
    for argv in (["--debug", "golden", "--out", paths["out"], "--C", "0"],
                 ["golden", "--out", paths["out"], "--C", "0", "--debug"]):   # after the command
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2                                # refused, as without --debug
        err = capsys.readouterr().err
        assert err.startswith("Traceback (most recent call last):")
        assert err.endswith("kronconv golden: error: --C: C must be > 0 (inf for no "
                            "regularization), got 0.0\n")


def test_main_unexpected_exception_is_an_internal_error(paths, monkeypatch, capsys):
    import kronconv.cli as cli

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli, "write_golden", broken)
    code, err = _run(["golden", "--out", paths["out"]], capsys)
    assert code == 1
    assert err == ("kronconv golden: error: internal error: RuntimeError: a bug; rerun with "
                   "--debug for the traceback\n")
    with pytest.raises(SystemExit) as info:
        main(["golden", "--out", paths["out"], "--debug"])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last):" in err
    assert 'raise RuntimeError("a bug")' in err


def test_main_ctrl_c_outside_training_exits_130(paths, monkeypatch, capsys):
    import kronconv.cli as cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "write_golden", interrupted)
    code, err = _run(["golden", "--out", paths["out"]], capsys)
    assert (code, err) == (130, "kronconv golden: interrupted\n")


def test_main_train_overflow_fails_with_the_model_of_the_last_iteration_saved(paths, capsys):
    rng = np.random.default_rng(0)
    data = Path(paths["tmp"]) / "tiny.npz"
    np.savez(data, x=rng.integers(0, 17, size=(12, 1, 8, 8)), y=np.arange(12) % 10)
    code, err = _run(["train", "--data", str(data), "--optimizer", "sg", "--lr", "1e5",
                      "--dtype", "float32", "--iterations", "5", "--out", paths["out"],
                      "--quiet"], capsys)
    assert code == 1
    assert err.startswith("kronconv train: error: f is not finite in float32: the network "
                          "overflowed")
    assert err.endswith("steps; the steps diverged: use a smaller learning rate (--lr); "
                        f"{paths['out']} holds the run after epoch 1\n")       # SG
    assert load_model(paths["out"]).state.iteration == 1      # saved before the overflow


def test_main_a_failed_write_is_a_runtime_error_naming_the_file(paths, monkeypatch, capsys):
    import kronconv.golden as golden

    def full_disk(path, write):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(golden, "atomic_write", full_disk)
    code, err = _run(["golden", "--out", paths["out"], "--batch", "1"], capsys)
    assert (code, err) == (1, f"kronconv golden: error: {paths['out']}: No space left on "
                              "device\n")


def test_main_inputs_may_coincide(paths, capsys):
    rng = np.random.default_rng(0)
    data = Path(paths["tmp"]) / "tiny.npz"
    np.savez(data, x=rng.integers(0, 17, size=(12, 1, 8, 8)), y=np.arange(12) % 10)
    assert main(["train", "--data", str(data), "--val-data", str(data), "--iterations", "1",
                 "--out", paths["out"], "--quiet"]) == 0
    assert load_model(paths["out"]).state.history[0]["val_accuracy"] is not None


def test_main_a_preset_name_is_no_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)                 # --out digits is not --arch digits's file
    assert main(["golden", "--arch", "digits", "--out", "digits", "--batch", "1"]) == 0
    assert (tmp_path / "digits").read_bytes()[:2] == b"PK"


def test_main_golden_accepts_C_inf(paths, capsys):
    assert main(["golden", "--out", paths["out"], "--C", "inf", "--batch", "2"]) == 0
    assert "C = None" in capsys.readouterr().out           # no regularization, stored as null


def test_main_extras_are_pyprojects():
    tomllib = pytest.importorskip("tomllib")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    for extra, (package, _) in EXTRAS.items():
        assert any(req.startswith(package) for req in extras[extra]), (extra, package)


# --- KRONCONV_MEMORY_LIMIT -------------------------------------------------------------------

def _python(code: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
                               **env}, check=False, timeout=120)


@pytest.mark.parametrize("value", ["abc", "-1", "0", "nan", "inf", "1e999", "0.5", "1.5",
                                   "4 GB"])
def test_get_memory_limit_refuses_a_bad_environment_value(value, memory_env):
    memory_env(value)
    with pytest.raises(ValueError, match=r"KRONCONV_MEMORY_LIMIT must be a whole number of "
                                         r"bytes >= 1 \(such as 4e9\), got "
                                         rf"{re.escape(repr(value))}"):
        kronconv.get_memory_limit()


@pytest.mark.parametrize(("value", "limit"), [("4e9", 4 * 10**9), (" 65536 ", 65536),
                                              ("2.0", 2)])
def test_get_memory_limit_reads_the_environment(value, limit, memory_env):
    memory_env(value)
    assert kronconv.get_memory_limit() == limit


def test_set_memory_limit_takes_a_whole_number_of_bytes_as_the_environment_does(memory_env,
                                                                             memory_limit):
    cache_limit = kronconv.cache_info()["max_bytes"]
    try:
        memory_limit(4e9)
        assert kronconv.get_memory_limit() == 4 * 10**9
        for bad in (1.5, float("nan"), float("inf"), 0.0):
            with pytest.raises(ValueError, match=r"nbytes must be a whole number of bytes >= 1 "
                                                 r"\(such as 4e9\), got"):
                memory_limit(bad)
        kronconv.set_cache_limit(2.5e8)             # the same constraint, from 0
        assert kronconv.cache_info()["max_bytes"] == 250_000_000
    finally:
        kronconv.set_cache_limit(cache_limit)


def test_import_kronconv_with_a_bad_memory_limit_and_the_cli_exit_2():
    imported = _python("import kronconv; print('imported')", {"KRONCONV_MEMORY_LIMIT": "-1"})
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout == "imported\n"
    ran = _python("from kronconv.cli import main; main()", {"KRONCONV_MEMORY_LIMIT": "-1"},
                  "golden", "--out", "never.npz")
    assert ran.returncode == 2
    assert ran.stderr == ("kronconv golden: error: KRONCONV_MEMORY_LIMIT must be a whole number "
                          "of bytes >= 1 (such as 4e9), got '-1'\n")
    assert not Path("never.npz").exists()


# --- Ctrl-C while starting --------------------------------------------------------------------

STARTING = "kronconv: interrupted while starting; nothing was done\n"


def test_the_command_starts_without_numpy_so_ctrl_c_finds_its_error_path():
    # the entry point (pyproject's [project.scripts]) and `import kronconv` load no NumPy/SciPy
    ran = _python("import sys, kronconv, kronconv.__main__; "
                  "print(sorted(m for m in ('numpy', 'scipy') if m in sys.modules))", {})
    assert (ran.returncode, ran.stdout) == (0, "[]\n"), ran.stderr
    tomllib = pytest.importorskip("tomllib")
    entry = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entry == {"kronconv": "kronconv.__main__:main"}


@pytest.mark.parametrize("module", ["numpy", "scipy.sparse", "kronconv.layer"])
def test_ctrl_c_while_the_library_loads_is_one_line_and_130(module):
    # Ctrl-C arrives while `module` is imported: the first half second of every command
    code = ("import builtins, sys\n"
            "real = builtins.__import__\n"
            "def interrupted(name, *args, **kwargs):\n"
            f"    if name == {module!r} or name == {module.rsplit('.', 1)[-1]!r}:\n"
            "        raise KeyboardInterrupt\n"
            "    return real(name, *args, **kwargs)\n"
            "builtins.__import__ = interrupted\n"
            "from kronconv.__main__ import main\n"
            "main(sys.argv[1:])\n")
    ran = _python(code, {}, "golden", "--out", "never.npz")
    assert (ran.returncode, ran.stderr) == (130, STARTING)
    assert not Path("never.npz").exists()


def test_ctrl_c_while_the_parser_is_built_is_one_line_and_130(monkeypatch, capsys):
    def interrupted():
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "build_parser", interrupted)
    with pytest.raises(SystemExit) as exit_:
        main(["golden"])
    assert (exit_.value.code, capsys.readouterr().err) == (130, STARTING)


@pytest.mark.parametrize("delay", [0.25, 0.5, 1.0])
def test_a_real_ctrl_c_at_any_moment_of_the_start_is_one_line_and_130(tmp_path, delay):
    # (the interpreter's own start, its first ~30 ms before any of kronconv runs, is out of reach)
    proc = _train_process(["verify"], tmp_path)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == cli.INTERRUPTED == kronconv.__main__.INTERRUPTED == 130, err
    assert "Traceback" not in err
    assert err in (STARTING, "kronconv verify: interrupted\n")
    assert not list(tmp_path.iterdir())


# --- Ctrl-C during training ------------------------------------------------------------------

def _train_process(argv: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kronconv", *argv], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})


def test_train_ctrl_c_after_an_iteration_says_how_to_resume(tmp_path, monkeypatch):
    pytest.importorskip("sklearn")
    argv = ["train", "--arch", "digits", "--iterations", "100", "--out", "m.npz"]
    proc = _train_process(argv, tmp_path)
    for line in proc.stdout:                      # the log's row of iteration 1
        if re.match(r"\s+1 ", line):
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    match = re.fullmatch(r"kronconv train: interrupted; m\.npz holds the run after iteration "
                         r"(\d+); continue it with: kronconv (.*)\n", err)
    assert match, err
    assert match[2] == shlex.join([*argv, "--resume"])
    saved = int(match[1])
    assert load_model(tmp_path / "m.npz").state.iteration == saved >= 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]        # no temporary
    # the command given continues the run (here for one more iteration)
    monkeypatch.chdir(tmp_path)
    assert main([*shlex.split(match[2]), "--iterations", str(saved + 1), "--quiet"]) == 0
    assert load_model(tmp_path / "m.npz").state.iteration == saved + 1


def test_train_ctrl_c_before_the_first_iteration_says_nothing_was_saved(tmp_path):
    # mnist-demo's 2,000 images: the first iteration takes seconds
    proc = _train_process(["train", "--data", "mnist-demo", "--arch", "mnist-3layer",
                           "--out", "m.npz"], tmp_path)
    for line in proc.stdout:                      # the log's header: training starts
        if line.startswith("iter "):
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err == ("kronconv train: interrupted before the first iteration finished; nothing "
                   "was saved to m.npz\n")
    assert not list(tmp_path.iterdir())


def test_train_whose_reader_goes_away_ends_quietly(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "tiny.npz", x=rng.integers(0, 17, size=(12, 1, 8, 8)),
             y=np.arange(12) % 10)
    proc = _train_process(["train", "--data", "tiny.npz", "--iterations", "500", "--out",
                           "m.npz"], tmp_path)
    assert proc.stdout.readline().startswith("kronconv train: digits")
    proc.stdout.close()                           # as `| head -1` does
    _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (1, "")


# --- random command lines --------------------------------------------------------------------

_COMMANDS = build_parser()[1]
# options drawn for each command: not those starting a cluster
_SKIPPED = {"-h", "--help", "--debug", "--workers", "--scheduler"}
# settings that keep an example cheap; drawn options come after them and override them
_CHEAP = {"verify": ["--arch", "digits", "--batch", "1"],
          "bench": ["--arch", "digits", "--batch", "2"],
          "train": ["--arch", "digits", "--data", "{tiny}", "--out", "{tmp}/m.npz", "--quiet"],
          "predict": ["--model", "{model}"],
          "golden": ["--batch", "2", "--out", "{tmp}/g.npz"],
          "ops": [], "plot": ["{model}", "--out", "{tmp}/runs.png"]}
# settings that bound an example's time, after the drawn options so that they hold
_LAST = {"train": ["--iterations", "1"], "bench": ["--repeat", "1"]}
# verify and bench would run for seconds: a memory limit ends them at their first operator
_LIMIT = {"verify": TINY, "bench": TINY}
_GARBAGE = st.one_of(
    st.integers(-3, 5).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "nan", "inf", "-inf", "1e999", "-1", "0", "x", "99999999999",
                     "{dir}", "{file}", "{tmp}/new.npz", "{tmp}/no/such.npz", "{model}",
                     "digits", "mnist-demo", "a:b", "-s 2", "dense,torch"]))
# values an option's type accepts, so that examples also get past the checks into the work
_VALID = {positive_int: st.integers(1, 3).map(str), natural_int: st.integers(0, 3).map(str),
          number: st.floats(0.01, 0.99).map(str),
          None: st.sampled_from(["{tmp}/new.npz", "{tmp}/new.png", "{tiny}", "{model}",
                                 "digits"])}


@st.composite
def _command_lines(draw) -> list[str]:
    name = draw(st.sampled_from(sorted(_COMMANDS)))
    actions = [a for a in _COMMANDS[name]._actions
               if a.option_strings and not set(a.option_strings) & _SKIPPED]
    argv = [name, *_CHEAP[name]]
    for action in draw(st.lists(st.sampled_from(actions), max_size=3)):
        argv.append(action.option_strings[-1])
        if action.nargs == 0:                     # a flag
            continue
        valid = (st.sampled_from(list(action.choices)) if action.choices
                 else _VALID.get(action.type, _VALID[None]))
        argv.append(draw(valid | _GARBAGE))
    return [*argv, *_LAST.get(name, [])]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Tiny training data (12 digits-sized images) and a model trained on it."""
    folder = tmp_path_factory.mktemp("trained")
    rng = np.random.default_rng(0)
    np.savez(folder / "tiny.npz", x=rng.integers(0, 17, size=(12, 1, 8, 8)),
             y=np.arange(12) % 10)
    assert main(["train", "--arch", "digits", "--data", str(folder / "tiny.npz"),
                 "--iterations", "1", "--out", str(folder / "model.npz"), "--quiet"]) == 0
    return folder


@settings(max_examples=40, deadline=None)
@given(argv=_command_lines())
def test_main_random_command_lines_never_show_a_traceback(argv, trained):
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "dir").mkdir()
        (tmp_path / "file.txt").write_text("x")
        (tmp_path / "model.npz").write_bytes((trained / "model.npz").read_bytes())
        fields = {"tmp": tmp, "dir": str(tmp_path / "dir"), "file": str(tmp_path / "file.txt"),
                  "tiny": str(trained / "tiny.npz"), "model": str(tmp_path / "model.npz")}
        argv = [word.format(**fields) for word in argv]
        limit = _LIMIT.get(argv[0], str(256 * 2**20))
        out, err = io.StringIO(), io.StringIO()
        old, cwd = os.environ.get("KRONCONV_MEMORY_LIMIT"), os.getcwd()
        os.environ["KRONCONV_MEMORY_LIMIT"] = limit
        set_memory_limit(None)
        os.chdir(tmp)                       # a relative path drawn ("5") is written in tmp
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    status = main(argv)
                except SystemExit as exc:
                    status = exc.code
        finally:
            os.chdir(cwd)
            if old is None:
                del os.environ["KRONCONV_MEMORY_LIMIT"]
            else:
                os.environ["KRONCONV_MEMORY_LIMIT"] = old
            set_memory_limit(None)
            kronconv.parallel.set_threads(None)
    message = err.getvalue()
    assert status in (0, 1, 2), (argv, status, message)
    assert "Traceback" not in message, (argv, message)
    assert "internal error" not in message, (argv, message)
    assert len(message.splitlines()) <= 1, (argv, message)
