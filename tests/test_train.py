"""Training: accuracy on digits, backends agree, kill and resume, model files, data loaders."""

from __future__ import annotations

import gzip
import os
import re
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest

import kronconv.train as train_module
from kronconv import Architecture, Z_from_nchw, init_params, objective
from kronconv.cli import main
from kronconv.data import Scaling, digits_split, load_data, load_idx
from kronconv.model import load_model
from kronconv.train import NewtonOptions, Problem, TrainState, newton_cg

pytest.importorskip("sklearn")          # the digits data ships with scikit-learn (test extra)


@pytest.mark.slow
def test_train_newton_reaches_97_percent_on_digits(tmp_path, capsys):
    out = tmp_path / "newton.npz"
    assert main(["train", "--optimizer", "newton", "--out", str(out), "--quiet"]) == 0
    accuracy = float(capsys.readouterr().out.split("validation accuracy ")[1].split("%")[0])
    assert accuracy >= 97.0
    model = load_model(out)
    assert model.state.iteration == 200
    assert model.options["loss"] == "squared"
    assert main(["predict", "--model", str(out), "--out", str(tmp_path / "p.txt")]) == 0
    assert f"accuracy {accuracy:.2f}% on 359 instances" in capsys.readouterr().out
    predictions = np.loadtxt(tmp_path / "p.txt", dtype=int)
    assert predictions.shape == (359,)
    assert 100 * np.mean(predictions == digits_split()[1].y) == pytest.approx(accuracy, abs=0.01)


@pytest.mark.slow
def test_train_sg_reaches_97_percent_on_digits(tmp_path, capsys):
    out = tmp_path / "sg.npz"
    assert main(["train", "--optimizer", "sg", "--out", str(out), "--quiet"]) == 0
    accuracy = float(capsys.readouterr().out.split("validation accuracy ")[1].split("%")[0])
    assert accuracy >= 97.0
    model = load_model(out)
    assert model.state.iteration == 60                  # SG's default number of epochs
    assert model.options["loss"] == "cross_entropy"     # SG's default loss
    assert model.state.velocity.shape == model.theta.shape
    assert np.any(model.state.velocity)


def _digits_problem(backend):
    train, _ = digits_split()
    scaling = Scaling.fit(train.x)
    arch = Architecture.preset("digits")
    return arch, Problem(arch, Z_from_nchw(scaling(train.x)), train.y, 1.0, "squared", backend)


@pytest.mark.slow
def test_newton_cg_backends_give_the_same_first_iterations():
    fs = {}
    for backend in ("sparse", "dense"):
        arch, problem = _digits_problem(backend)
        state = newton_cg(problem, TrainState(init_params(arch, 3)), NewtonOptions(iterations=3),
                          seed=3)
        fs[backend] = [row["f"] for row in state.history]
    assert len(fs["dense"]) == 3
    np.testing.assert_allclose(fs["dense"], fs["sparse"], rtol=1e-10)


def test_newton_cg_line_search_gives_up_with_a_reason():
    class Rising(Problem):
        def f(self, theta):                        # every step looks worse
            return super().f(theta) + 100.0

    arch, problem = _digits_problem("dense")
    rising = Rising(**{k: getattr(problem, k) for k in problem.__dataclass_fields__})
    state = newton_cg(rising, TrainState(init_params(arch, 0)),
                      NewtonOptions(iterations=3, max_halvings=5))
    assert state.iteration == 0
    assert state.stop_reason == "line search: no sufficient decrease after 5 halvings"


def test_train_resume_continues_like_an_uninterrupted_run(tmp_path):
    full, split = str(tmp_path / "full.npz"), str(tmp_path / "split.npz")
    assert main(["train", "--iterations", "3", "--out", full, "--quiet"]) == 0
    assert main(["train", "--iterations", "2", "--out", split, "--quiet"]) == 0
    stopped = load_model(split).state
    assert stopped.iteration == 2
    assert stopped.lam != 1.0            # lambda has moved: the resumed run must pick it up
    assert main(["train", "--iterations", "3", "--out", split, "--quiet", "--resume"]) == 0
    resumed, reference = load_model(split), load_model(full)
    assert resumed.state.iteration == 3
    np.testing.assert_array_equal(resumed.theta, reference.theta)
    assert resumed.state.lam == reference.state.lam
    assert [r["f"] for r in resumed.state.history] == [r["f"] for r in reference.state.history]


@pytest.mark.slow
def test_train_resume_after_a_kill_gives_the_same_theta(tmp_path):
    iterations = 12
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "kronconv", "train", "--iterations", str(iterations)]
    full, killed = tmp_path / "full.npz", tmp_path / "killed.npz"
    subprocess.run([*command, "--quiet", "--out", str(full)], env=env, check=True,
                   capture_output=True)
    # train prints an iteration's row only once that iteration is saved: block on the rows
    # (no polling) and kill the run right after iteration 3's; a watchdog ends a hung run.
    process = subprocess.Popen([*command, "--out", str(killed)], env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    watchdog = threading.Timer(120, process.kill)
    watchdog.start()
    try:
        for line in process.stdout:
            fields = line.split()
            if fields and fields[0].isdigit() and int(fields[0]) >= 3:
                break
        else:
            pytest.fail(f"the run ended (status {process.wait()}) before saving iteration 3")
        process.send_signal(signal.SIGKILL)            # while iteration 4 runs or is saved
        process.wait()
    finally:
        watchdog.cancel()
        process.stdout.close()
    stopped_at = load_model(killed).state.iteration        # the last save is whole
    assert 3 <= stopped_at < iterations, "the run was not stopped mid-way"
    subprocess.run([*command, "--quiet", "--out", str(killed), "--resume"], env=env, check=True,
                   capture_output=True)
    resumed, reference = load_model(killed), load_model(full)
    assert resumed.state.iteration == iterations
    np.testing.assert_array_equal(resumed.theta, reference.theta)
    assert [r["f"] for r in resumed.state.history] == [r["f"] for r in reference.state.history]


def test_load_model_rejects_truncated_and_foreign_files(tmp_path, capsys):
    out = tmp_path / "m.npz"
    assert main(["train", "--iterations", "2", "--out", str(out), "--quiet"]) == 0
    raw = out.read_bytes()
    (tmp_path / "truncated.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"truncated\.npz: not a readable kronconv model"):
        load_model(tmp_path / "truncated.npz")
    np.savez(tmp_path / "other.npz", meta=np.array('{"format_version": 99}'))
    with pytest.raises(ValueError, match=r"other\.npz: model format version 99"):
        load_model(tmp_path / "other.npz")
    with pytest.raises(SystemExit):
        main(["predict", "--model", str(tmp_path / "truncated.npz")])
    assert "--model:" in capsys.readouterr().err
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no temp files left


def test_train_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "log.png"
    assert main(["train", "--iterations", "3", "--out", str(tmp_path / "m.npz"), "--quiet",
                 "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _idx(path, array, gz):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    with (gzip.open if gz else open)(path, "wb") as f:
        f.write(data)


@pytest.mark.parametrize("gz", [False, True])
def test_load_idx_reads_plain_and_gzipped_files(tmp_path, gz):
    x = np.random.default_rng(0).integers(0, 256, size=(5, 4, 3))
    y = np.arange(5) % 3
    suffix = ".gz" if gz else ""
    _idx(tmp_path / f"img{suffix}", x, gz)
    _idx(tmp_path / f"lab{suffix}", y, gz)
    data = load_idx(tmp_path / f"img{suffix}", tmp_path / f"lab{suffix}")
    np.testing.assert_array_equal(data.x[:, 0], x)
    np.testing.assert_array_equal(data.y, y)
    assert Scaling.fit(data.x).divisor == 255.0
    (tmp_path / "bad").write_bytes(b"\x00\x00\x08\x03" + (9).to_bytes(4, "big"))
    with pytest.raises(ValueError, match="bad: not an IDX file"):
        load_idx(tmp_path / "bad", tmp_path / f"lab{suffix}")


def test_load_data_reads_npz_files(tmp_path):
    # simpleNN's .mat files are tested in test_data.py
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6, 2, 3, 4)), rng.integers(0, 5, size=6)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    data = load_data(tmp_path / "d.npz")
    np.testing.assert_array_equal(data.x, x)
    np.testing.assert_array_equal(data.y, y)
    np.savez(tmp_path / "noy.npz", x=x)
    with pytest.raises(ValueError, match=r"noy\.npz: .*y"):
        load_data(tmp_path / "noy.npz")
    with pytest.raises(ValueError, match=r"expected a \.npz or \.mat file"):
        load_data(tmp_path / "d.csv")


class _Clock:
    """A stand-in for ``time.perf_counter`` that moves only when told."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now


@pytest.mark.parametrize("optimizer", ["newton", "sg"])
def test_time_limit_stops_between_iterations_with_the_theta_of_a_shorter_run(
        optimizer, monkeypatch):
    import kronconv.train as train

    clock = _Clock()
    monkeypatch.setattr(train, "time", clock)
    arch, problem = _digits_problem("dense")
    run, options = ((newton_cg, NewtonOptions) if optimizer == "newton"
                    else (train.sg, lambda iterations: train.SGOptions(iterations=iterations,
                                                                       batch_size=256)))

    def ten_seconds_an_iteration(state, row):
        clock.now += 10.0

    limited = run(problem, TrainState(init_params(arch, 0)), options(iterations=50),
                  callback=ten_seconds_an_iteration, time_limit=25)
    assert limited.iteration == 3                  # started at 0, 10 and 20 s; not at 30 s
    assert limited.stop_reason == "time limit: 25 s"
    assert limited.elapsed == 30.0
    three = run(problem, TrainState(init_params(arch, 0)), options(iterations=3))
    np.testing.assert_array_equal(limited.theta, three.theta)
    assert three.stop_reason is None


@pytest.mark.parametrize(("value", "error"), [(0, ValueError), (-1.0, ValueError),
                                              (float("nan"), ValueError), ("60", TypeError),
                                              (True, TypeError)])
def test_time_limit_rejects_what_is_not_a_positive_number(value, error):
    arch, problem = _digits_problem("dense")
    with pytest.raises(error, match="time_limit"):
        newton_cg(problem, TrainState(init_params(arch, 0)), time_limit=value)


@pytest.mark.parametrize("text", ["0", "-5", "soon", "inf"])
def test_train_cli_rejects_a_bad_time_limit(text, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--time-limit", text, "--quiet"])
    assert exit_info.value.code == 2
    assert "--time-limit" in capsys.readouterr().err


def test_newton_cg_stops_with_an_error_when_the_objective_overflows():
    arch, problem = _digits_problem("dense")
    tiny_C = Problem(**{**{k: getattr(problem, k) for k in problem.__dataclass_fields__},
                        "C": 1e-300})
    f, g = tiny_C.f_and_grad(init_params(arch, 0))
    assert np.isfinite(f)                    # finite entries, an overflowing norm
    assert np.isfinite(g).all()
    with np.errstate(over="ignore"):
        assert not np.isfinite(np.linalg.norm(g))
    with pytest.raises(FloatingPointError, match=r"^\|\|grad f\|\| is not finite \(f = .*\); use a "
                                                 r"larger C \(C\)$"):
        newton_cg(tiny_C, TrainState(init_params(arch, 0)), NewtonOptions(iterations=2))


def test_an_overflowing_regularization_term_asks_for_a_larger_C():
    arch, problem = _digits_problem("dense")
    theta = init_params(arch, 0)
    C = 4 / float(np.finfo(np.float64).max) / problem.l   # 1/(C l) finite, theta^T theta/(2Cl) not
    assert np.isfinite(1 / (C * problem.l))
    with np.errstate(over="ignore"):
        assert not np.isfinite(theta @ theta / 2 / (C * problem.l))
    with pytest.raises(FloatingPointError, match=r"^the regularization term theta\^T theta / "
                                                 r"\(2 C l\) is not finite \(1/\(C l\) = "
                                                 r"4\.49e\+307\); use a larger C \(C\)$"):
        objective(theta, arch, problem.Z, problem.y, C=C)


def test_predict_maps_a_mat_files_labels_as_the_training_file_did(tmp_path, capsys):
    from scipy.io import savemat

    from kronconv import predict

    rng = np.random.default_rng(0)
    savemat(tmp_path / "train.mat", {"Z": rng.random((60, 64)),
                                     "y": rng.choice([3, 5, 8], size=(60, 1))})
    test_y = rng.choice([5, 8], size=(20, 1))              # no 3: unique(y) alone gives 0, 1
    savemat(tmp_path / "test.mat", {"Z": rng.random((20, 64)), "y": test_y})
    out = str(tmp_path / "m.npz")
    assert main(["train", "--data", str(tmp_path / "train.mat"), "--out", out,
                 "--iterations", "2", "--quiet"]) == 0
    model = load_model(out)
    assert model.options["labels"] == [3, 5, 8]
    assert main(["predict", "--model", out, "--data", str(tmp_path / "test.mat"),
                 "--out", str(tmp_path / "p.txt")]) == 0
    reported = capsys.readouterr().out
    x = load_data(tmp_path / "test.mat", (8, 8, 1), labels=np.array([3, 5, 8])).x
    expected = predict(model.theta, model.arch, Z_from_nchw(model.scaling(x)), backend="dense")
    np.testing.assert_array_equal(np.loadtxt(tmp_path / "p.txt", dtype=int), expected)
    classes = np.searchsorted([3, 5, 8], test_y.ravel())   # 5 -> 1, 8 -> 2
    assert f"accuracy {100 * np.mean(expected == classes):.2f}% on 20 instances" in reported


def _run_settings():
    """Every option of ``train`` that is a setting of the run, with a value argparse takes."""
    from kronconv.cli import build_parser
    from kronconv.train_cli import _PER_SESSION

    _, commands = build_parser()
    return [(a.option_strings[0], a.choices[-1] if a.choices else "2")   # not the saved run's
            for a in commands["train"]._actions
            if a.option_strings and a.dest not in (*_PER_SESSION, "help")]


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "m.npz"
    assert main(["train", "--iterations", "1", "--out", str(out), "--quiet"]) == 0
    return out


@pytest.mark.parametrize(("flag", "value"), _run_settings())
def test_train_resume_refuses_a_setting_given_anew(saved_run, tmp_path, capsys, flag, value):
    out = tmp_path / "m.npz"
    out.write_bytes(saved_run.read_bytes())
    with pytest.raises(SystemExit) as info:
        main(["train", "--resume", "--out", str(out), "--iterations", "2", "--quiet",
              flag, value])
    assert info.value.code == 2
    assert f"{flag}: --resume continues {out}'s run with its own settings" in (
        capsys.readouterr().err)
    assert out.read_bytes() == saved_run.read_bytes()


def test_train_resume_refusals_cover_the_settings():
    flags = {flag for flag, _ in _run_settings()}
    assert {"--lr", "--seed", "--backend", "--C", "--optimizer", "--lambda", "--val-data",
            "--input-format", "--simplenn-options"} <= flags
    assert not {"--threads", "--iterations", "--time-limit", "--workers"} & flags


def test_train_resume_accepts_a_setting_repeated_at_its_saved_value(saved_run, tmp_path):
    out = tmp_path / "m.npz"
    out.write_bytes(saved_run.read_bytes())
    assert main(["train", "--resume", "--out", str(out), "--iterations", "2", "--quiet",
                 "--seed", "0", "--C", "1", "--optimizer", "newton", "--backend", "dense"]) == 0
    assert load_model(out).state.iteration == 2


@pytest.mark.parametrize(("call", "error", "fragment"), [
    (lambda p, s: newton_cg(p, s, train_module.SGOptions()), TypeError,
     "options must be a NewtonOptions, got SGOptions"),
    (lambda p, s: train_module.sg(p, s, NewtonOptions()), TypeError,
     "options must be an SGOptions, got NewtonOptions"),
    (lambda p, s: train_module.adam(p, s, {"iterations": 1}), TypeError,
     "options must be an AdamOptions, got dict"),
    (lambda p, s: newton_cg(p, s, seed=-1), ValueError, "seed must be >= 0, got -1"),
    (lambda p, s: newton_cg(p, s, callback=5), TypeError, "callback must be a callable"),
    (lambda p, s: train_module.sg(p, s, batches="all"), TypeError, "batches must be a callable"),
    (lambda p, s: newton_cg(p, s.theta), TypeError, "state must be a TrainState, got ndarray"),
])
def test_training_runs_check_their_arguments_before_any_iteration(call, error, fragment):
    arch, problem = _digits_problem("dense")
    state = TrainState(init_params(arch, 0))
    with pytest.raises(error, match=re.escape(fragment)):
        call(problem, state)
    assert state.iteration == 0
    assert state.history == []


@pytest.mark.parametrize(("index", "error", "fragment"), [
    (np.array([0, 1438]), ValueError, "subsamples must give indices in 0..1437, got 0..1438"),
    (np.array([-1, 3]), ValueError, "subsamples must give indices in 0..1437, got -1..3"),
    (np.array([0.0, 3.0]), TypeError, "subsamples must give a non-empty vector of instance"),
    (np.array([], dtype=int), TypeError, "subsamples must give a non-empty vector"),
])
def test_newton_cg_checks_the_replayed_subsamples(index, error, fragment):
    arch, problem = _digits_problem("dense")
    with pytest.raises(error, match=re.escape(fragment)):
        newton_cg(problem, TrainState(init_params(arch, 0)), NewtonOptions(iterations=1),
                  subsamples=lambda i: index)


def test_sg_checks_the_replayed_batches():
    arch, problem = _digits_problem("dense")
    with pytest.raises(ValueError, match=re.escape("batches must give indices in 0..1437")):
        train_module.sg(problem, TrainState(init_params(arch, 0)),
                        train_module.SGOptions(iterations=1), batches=lambda e, j: [7, 5000])


def test_problem_refuses_validation_images_without_labels():
    arch, problem = _digits_problem("dense")
    with pytest.raises(ValueError, match="Z_val is given without y_val: validation needs both"):
        Problem(arch, problem.Z, problem.y, Z_val=problem.Z)
    with pytest.raises(ValueError, match="y_val is given without Z_val"):
        Problem(arch, problem.Z, problem.y, y_val=problem.y)
    with pytest.raises(TypeError, match=r"y must be a vector of labels \(ndarray of shape"):
        Problem(arch, problem.Z, list(problem.y))


STATE = init_params(Architecture.preset("digits"), 0)


@pytest.mark.parametrize(("field", "value", "error", "message"), [
    ("iteration", -1, ValueError, r"state\.iteration must be >= 0, got -1"),
    ("iteration", "1", TypeError, r"state\.iteration must be an integer, got '1'"),
    ("step", -5, ValueError, r"state\.step must be >= 0, got -5"),
    ("lam", float("nan"), ValueError, r"state\.lam must be a number >= 0 or None, got nan"),
    ("lam", -1.0, ValueError, r"state\.lam must be a number >= 0 or None, got -1\.0"),
    ("elapsed", float("inf"), ValueError, r"state\.elapsed must be a number of seconds >= 0"),
    ("elapsed", None, ValueError, r"state\.elapsed must be a number of seconds >= 0"),
    ("best_val_accuracy", 2.0, ValueError, r"state\.best_val_accuracy must be a number in "
                                           r"\[0, 1\] or None, got 2\.0"),
    ("rng_state", {"bit_generator": "MT19937"}, ValueError, r"state\.rng_state must be None or "
                                                            r"a state of numpy's PCG64"),
    ("velocity", np.zeros(3), ValueError, r"state\.velocity must have theta's shape \(3658,\), "
                                          r"got \(3,\)"),
    ("buffers", {"m": np.zeros((3658, 1))}, ValueError,
     r"state\.buffers\['m'\] must have theta's shape \(3658,\), got \(3658, 1\)"),
    ("buffers", [np.zeros(3658)], TypeError, r"state\.buffers must be a dict of arrays, got list"),
    ("theta", np.full(3658, np.nan), ValueError, r"state\.theta contains nan at index \(0,\)"),
])
def test_a_train_state_names_the_field_that_cannot_be_continued(field, value, error, message):
    with pytest.raises(error, match=message):
        TrainState(**{"theta": STATE.copy(), field: value})
    state = TrainState(STATE.copy(), iteration=3, step=40, lam=0.5, elapsed=1.5,  # a valid one
                       best_val_accuracy=1.0, velocity=np.zeros(3658),
                       rng_state=np.random.default_rng(0).bit_generator.state,
                       buffers={"m": np.zeros(3658), "cycle": np.arange(5)})
    assert (state.iteration, state.lam, state.buffers["cycle"].size) == (3, 0.5, 5)
