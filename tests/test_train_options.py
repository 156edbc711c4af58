"""simpleNN's optimizers and options: each checked against a plain re-implementation of its
definition (simpleNN's newton.m, sgd.m, adam.m) on a small problem."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kronconv import Architecture, ConvSpec, FullSpec, init_params, objective_and_gradient
from kronconv.cli import main
from kronconv.model import Model, load_model, save_model
from kronconv.train import (
    AdamOptions,
    NewtonOptions,
    Problem,
    SGOptions,
    TrainState,
    adam,
    newton_cg,
    sg,
    simplenn_options,
)

ARCH = Architecture(input=(6, 5, 1), conv=[ConvSpec(d_out=3, h=3, padding=1, pool="max")],
                    full=[FullSpec(4)], name="tiny")


def _problem(l=13, val=False, seed=0):  # noqa: E741
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(1, 30 * l))
    y = rng.integers(0, 4, size=l)
    Zv, yv = (rng.normal(size=(1, 30 * 7)), rng.integers(0, 4, size=7)) if val else (None, None)
    return Problem(ARCH, Z, y, 0.5, "squared", "sparse", None, Zv, yv)


def _batch_grad(problem, theta, batch):
    """simpleNN's mini-batch gradient: sum of ∂ξ over B / |B| + theta / (C l)."""
    Zb = problem.Z.reshape(1, problem.l, 30)[:, batch].reshape(1, -1)
    _, g = objective_and_gradient(theta, ARCH, Zb, problem.y[batch], math.inf, "squared")
    return g + theta / (problem.C * problem.l)


# --- Newton-CG ----------------------------------------------------------------------------------


def test_newton_cg_cycle_schedule_is_simpleNN_assign_inst_idx():
    # l = 10, GNsize 4: a permutation p cut into [p0..p3], [p4..p7], [p8, p9, p0, p1], then a
    # new permutation (simpleNN's newton.m/assign_inst_idx), drawn from the run's generator
    problem, n = _problem(l=10), 4
    options = NewtonOptions(iterations=4, subsample_size=n, subsample_schedule="cycle")
    theta0 = init_params(ARCH, 1)
    run = newton_cg(problem, TrainState(theta0.copy()), options, seed=7)
    rng = np.random.default_rng(7)
    blocks = []
    for _ in range(2):
        p = rng.permutation(10)
        p = np.concatenate([p, p[:n]])
        blocks += [p[k * n:(k + 1) * n] for k in range(3)]
    replay = newton_cg(problem, TrainState(theta0.copy()), options, seed=123,
                       subsamples=lambda k: blocks[k])
    np.testing.assert_array_equal(replay.theta, run.theta)
    assert [r["f"] for r in replay.history] == [r["f"] for r in run.history]


def test_newton_cg_log_has_simpleNN_columns_and_lambda_rule():
    problem = _problem()
    options = NewtonOptions(iterations=4, subsample_size=5, drop=0.5, boost=4.0, lam=2.0)
    state = newton_cg(problem, TrainState(init_params(ARCH, 2)), options)
    lam, f_prev = 2.0, problem.f(init_params(ARCH, 2))
    for row in state.history:
        assert row["rho"] == pytest.approx(row["actred"] / row["prered"], rel=1e-15)
        assert row["actred"] == pytest.approx(row["f"] - f_prev, rel=1e-9, abs=1e-14)
        lam *= 4.0 if row["rho"] < 0.25 else (0.5 if row["rho"] >= 0.75 else 1.0)
        assert row["lam"] == pytest.approx(lam, rel=1e-15)
        f_prev = row["f"]


def test_newton_cg_subsample_size_overrides_the_fraction():
    assert NewtonOptions(subsample=0.5, subsample_size=3).subsample_count(100) == 3
    assert NewtonOptions(subsample=0.05).subsample_count(2000) == 100
    assert NewtonOptions(subsample_size=500).subsample_count(20) == 20
    with pytest.raises(ValueError, match="subsample_schedule must be one of"):
        NewtonOptions(subsample_schedule="sometimes")
    with pytest.raises(ValueError, match=r"drop must be in \(0, 1\], got 2"):
        NewtonOptions(drop=2)


# --- SG and Adam --------------------------------------------------------------------------------


def test_sg_random_sampling_and_inverse_schedule_match_sgd_m():
    problem = _problem()
    options = SGOptions(iterations=2, batch_size=4, lr=0.05, momentum=0.7, decay=0.3,
                        lr_schedule="inverse", sampling="random")
    theta0 = init_params(ARCH, 3)
    state = sg(problem, TrainState(theta0.copy()), options, seed=5)
    # sgd.m: ceil(l / bsize) steps an epoch, each on randperm(l, bsize); lr / (1 + decay*step)
    rng, theta, v, step = np.random.default_rng(5), theta0.copy(), 0.0, 0
    for _ in range(2):
        for batch in [rng.choice(13, size=4, replace=False) for _ in range(4)]:
            v = 0.7 * v - 0.05 / (1 + 0.3 * step) * _batch_grad(problem, theta, batch)
            theta = theta + v
            step += 1
    np.testing.assert_allclose(state.theta, theta, rtol=1e-12, atol=1e-14)
    assert state.step == 8


@pytest.mark.parametrize("bias_correction", ["step", "epoch"])
def test_adam_equals_the_definition(bias_correction):
    problem = _problem()
    batches = [[np.array([0, 5, 7]), np.array([1, 2, 12]), np.array([3, 4, 6])],
               [np.array([8, 9, 10]), np.array([11, 0, 1]), np.array([2, 3, 4])]]
    options = AdamOptions(iterations=2, batch_size=5, lr=0.01, bias_correction=bias_correction)
    theta0 = init_params(ARCH, 4)
    state = adam(problem, TrainState(theta0.copy()), options,
                 batches=lambda epoch, j: batches[epoch][j % 3])
    theta, m, v, t = theta0.copy(), 0.0, 0.0, 0
    for epoch in range(2):
        for j in range(3):                         # ceil(13 / 5) = 3 steps an epoch
            g = _batch_grad(problem, theta, batches[epoch][j])
            t += 1
            k = t if bias_correction == "step" else epoch + 1
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            theta = theta - 0.01 * (m / (1 - 0.9**k)) / (np.sqrt(v / (1 - 0.999**k)) + 1e-8)
    np.testing.assert_allclose(state.theta, theta, rtol=1e-12, atol=1e-14)


def test_adam_resumed_from_a_saved_model_continues_exactly(tmp_path):
    problem, options = _problem(), AdamOptions(iterations=3, batch_size=4, sampling="random")
    theta0 = init_params(ARCH, 5)
    straight = adam(problem, TrainState(theta0.copy()), options, seed=9)
    first = adam(problem, TrainState(theta0.copy()), AdamOptions(iterations=1, batch_size=4,
                                                               sampling="random"), seed=9)
    save_model(tmp_path / "m.npz", Model(ARCH, _identity_scaling(), {}, first))
    resumed = adam(problem, load_model(tmp_path / "m.npz").state, options, seed=9)
    np.testing.assert_array_equal(resumed.theta, straight.theta)


def _identity_scaling():
    from kronconv.data import Scaling

    return Scaling(1.0, np.zeros((1, 6, 5)))


def test_best_theta_is_the_iterate_with_the_best_validation_accuracy(tmp_path, capsys):
    problem = _problem(val=True)
    kept = []
    state = sg(problem, TrainState(init_params(ARCH, 6)), SGOptions(iterations=6, lr=0.05),
               callback=lambda st, row: kept.append(st.theta.copy()))
    accuracies = [row["val_accuracy"] for row in state.history]
    best = int(np.argmax(accuracies))                    # the first of the best, as simpleNN
    assert accuracies[best] > 0                          # else the initial theta is kept
    np.testing.assert_array_equal(state.best_theta, kept[best])
    assert state.best_val_accuracy == accuracies[best]
    save_model(tmp_path / "m.npz", Model(ARCH, _identity_scaling(), {}, state))
    np.testing.assert_array_equal(load_model(tmp_path / "m.npz").state.best_theta,
                                  state.best_theta)
    # kronconv predict --best uses it: its accuracy on the validation data is the best one
    np.savez(tmp_path / "val.npz", x=problem.Z_val.reshape(1, 7, 5, 6).transpose(1, 0, 3, 2),
             y=problem.y_val)
    assert main(["predict", "--model", str(tmp_path / "m.npz"), "--data",
                 str(tmp_path / "val.npz"), "--best"]) == 0
    assert f"accuracy {100 * accuracies[best]:.2f}%" in capsys.readouterr().out


# --- simpleNN's option string -------------------------------------------------------------------


def test_simplenn_options_defaults_are_cnn_train_parameter():
    s = simplenn_options("", 2000)
    assert (s["optimizer"], s["C"], s["loss"], s["dtype"]) == (
        "newton", 0.01, "squared", "float64")
    t = s["train_options"]
    assert (t["iterations"], t["subsample_size"], t["cg_rtol"], t["cg_maxiter"], t["lam"],
            t["drop"], t["boost"], t["eta"], t["subsample_schedule"]) == (
        100, 100, 0.1, 250, 1.0, 2 / 3, 3 / 2, 1e-4, "cycle")
    assert simplenn_options("", 2001)["train_options"]["subsample_size"] == 101   # ceil
    sgd = simplenn_options("-s 2 -lr 0.1 -decay 0.5 -momentum 0.9 -bsize 64", 100)
    assert sgd["optimizer"] == "sg"
    assert {k: sgd["train_options"][k] for k in ("lr", "decay", "momentum", "batch_size",
                                                 "iterations", "lr_schedule", "sampling")} == {
        "lr": 0.1, "decay": 0.5, "momentum": 0.9, "batch_size": 64, "iterations": 500,
        "lr_schedule": "inverse", "sampling": "random"}
    a = simplenn_options("-s 3 -ftype 0", 100)
    assert (a["optimizer"], a["dtype"], a["train_options"]["lr"],
            a["train_options"]["bias_correction"], a["train_options"]["batch_size"]) == (
        "adam", "float32", 0.01, "epoch", 128)     # simpleNN's Adam runs at 0.01 (see train.py)


@pytest.mark.parametrize(("text", "message"), [
    ("-s", "each option is a name and a value"),
    ("-optimizer 1", "-optimizer is not supported"),
    ("-C x", "-C: expected a number, got 'x'"),
    ("-C -1", "-C: must be > 0"),
    ("-s 4", "-s: 1 .Newton., 2 .SG. or 3 .Adam., got 4"),
    ("-GNsize 2.5", "-GNsize: expected an integer"),
    ("-gpu_use 1", "-gpu_use: kronconv runs on the CPU"),
    ("-drop 3", "drop must be in"),
    ("-lr nan", "-lr: expected a finite number"),
])
def test_simplenn_options_rejects_bad_strings(text, message):
    with pytest.raises(ValueError, match=message):
        simplenn_options(text, 100)


def test_train_cli_simplenn_options(tmp_path, capsys):
    out = tmp_path / "m.npz"
    arch = tmp_path / "tiny.json"
    arch.write_text(ARCH.to_json())
    data = tmp_path / "d.npz"
    rng = np.random.default_rng(0)
    np.savez(data, x=rng.normal(size=(20, 1, 6, 5)), y=np.arange(20) % 4)
    assert main(["train", "--data", str(data), "--arch", str(arch), "--out", str(out),
                 "--simplenn-options", "-s 1 -iter_max 2 -GNsize 5 -C 0.1", "--quiet"]) == 0
    model = load_model(out)
    assert model.options["optimizer"] == "newton"
    assert model.options["train_options"]["subsample_schedule"] == "cycle"
    assert model.state.iteration == 2
    with pytest.raises(SystemExit) as info:
        main(["train", "--data", str(data), "--arch", str(arch), "--out", str(out),
              "--simplenn-options", "-s 1 -bogus 2"])
    assert info.value.code == 2
    assert "--simplenn-options: simpleNN option -bogus is not supported" in (
        capsys.readouterr().err)
    with pytest.raises(SystemExit):
        main(["train", "--simplenn-options", "-s 2", "--lr", "0.1"])
    assert "not combined with --lr" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--optimizer", "sg", "--gn-size", "10"])
    assert "--gn-size: not an option of --optimizer sg" in capsys.readouterr().err



@pytest.mark.slow
def test_predict_defaults_to_the_test_split_of_the_models_builtin_data(tmp_path, capsys):
    from kronconv import Z_from_nchw, predict
    from kronconv.data import Scaling, mnist_demo

    arch = Architecture.preset("mnist-3layer")
    train, test = mnist_demo("train"), mnist_demo("test")
    scaling = Scaling.fit(train.x)
    theta = init_params(arch, 0)
    save_model(tmp_path / "m.npz", Model(arch, scaling, {"data": "mnist-demo"},
                                         TrainState(theta)))
    assert main(["predict", "--model", str(tmp_path / "m.npz")]) == 0
    expected = np.mean(predict(theta, arch, Z_from_nchw(scaling(test.x))) == test.y)
    assert f"accuracy {100 * expected:.2f}% on 1000 instances" in capsys.readouterr().out
    # a model trained on a file names no data to predict on: a usage error, not a guess
    save_model(tmp_path / "f.npz", Model(arch, scaling, {"data": "x.npz"}, TrainState(theta)))
    with pytest.raises(SystemExit):
        main(["predict", "--model", str(tmp_path / "f.npz")])
    assert "--data: the model was trained on a file" in capsys.readouterr().err
