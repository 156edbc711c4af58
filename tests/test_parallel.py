"""Threads share out fixed blocks of instances: every result is the same, bit for bit, for
every thread count, and a training run resumed on another thread count continues exactly."""

from __future__ import annotations

import numpy as np
import pytest
from _networks import random_data

import kronconv as kc
from kronconv import parallel
from kronconv.model import Model, load_model, save_model
from kronconv.train import NewtonOptions, Problem, SGOptions, TrainState, newton_cg, sg

pytest.importorskip("threadpoolctl")

ARCH = kc.Architecture(input=(7, 6, 2), conv=[kc.ConvSpec(d_out=3, h=3, padding=1, pool="max"),
                                              kc.ConvSpec(d_out=4, h=2, pool="average")],
                       full=[kc.FullSpec(5), kc.FullSpec(4)], name="small")
THREADS = (1, 2, 3)


@pytest.fixture(scope="module")
def data():
    theta, Z, y = random_data(ARCH, N=10, seed=3)
    return theta, Z, y, np.random.default_rng(4).normal(size=theta.shape)


@pytest.mark.parametrize("backend", kc.BACKENDS)
def test_objective_and_gradient_is_the_same_for_every_thread_count(data, backend):
    theta, Z, y, _ = data
    runs = [kc.objective_and_gradient(theta, ARCH, Z, y, 0.5, "cross_entropy", chunk_size=3,
                                      backend=backend, threads=t) for t in THREADS]
    for f, g in runs[1:]:
        assert f == runs[0][0]
        np.testing.assert_array_equal(g, runs[0][1])
    # and the blocks add up to the whole batch's f and gradient (to rounding)
    f1, g1 = kc.objective_and_gradient(theta, ARCH, Z, y, 0.5, "cross_entropy", chunk_size=10,
                                       backend=backend, threads=1)
    kc.testing.assert_relative_close(runs[0][1], g1, 1e-13, "blocks vs one block")
    assert runs[0][0] == pytest.approx(f1, rel=1e-14)


@pytest.mark.parametrize("backend", kc.BACKENDS)
def test_products_are_the_same_for_every_thread_count(data, backend):
    theta, Z, y, v = data
    u = np.random.default_rng(5).normal(size=(4, 10))
    results = []
    for t in THREADS:
        G = kc.GaussNewton(theta, ARCH, Z, y, 0.5, "cross_entropy", n_total=40,
                           backend=backend, chunk_size=3, threads=t)
        results.append([G.matvec(v),
                        kc.jacobian_vector(theta, ARCH, Z, v, backend, chunk_size=3, threads=t),
                        kc.jacobian_T_vector(theta, ARCH, Z, u, backend, chunk_size=3,
                                             threads=t),
                        kc.network_output(theta, ARCH, Z, 3, backend, threads=t),
                        kc.objective(theta, ARCH, Z, y, 0.5, "squared", 3, backend, threads=t)])
    for other in results[1:]:
        for x, ref in zip(other, results[0], strict=True):
            np.testing.assert_array_equal(x, ref)
    # <u, Jv> = <J^T u, v> across the blocks
    Jv, JTu = results[0][1], results[0][2]
    assert np.sum(u * Jv) == pytest.approx(JTu @ v, rel=1e-12)


def _problem(threads, backend="dense"):
    theta, Z, y = random_data(ARCH, N=24, seed=6)
    return theta, Problem(ARCH, Z, y, 0.5, "squared", backend, 5, threads=threads)


@pytest.mark.parametrize("backend", kc.BACKENDS)
def test_newton_cg_gives_the_same_theta_for_every_thread_count(backend):
    thetas = []
    for t in THREADS:
        theta, problem = _problem(t, backend)
        state = newton_cg(problem, TrainState(theta), NewtonOptions(iterations=3, subsample=0.5),
                          seed=1)
        thetas.append(state.theta)
    for th in thetas[1:]:
        np.testing.assert_array_equal(th, thetas[0])


def test_newton_cg_resumed_on_another_thread_count_continues_exactly(tmp_path):
    theta, problem1 = _problem(1)
    straight = newton_cg(problem1, TrainState(theta.copy()),
                         NewtonOptions(iterations=4, subsample=0.5), seed=2)
    first = newton_cg(problem1, TrainState(theta.copy()),
                      NewtonOptions(iterations=2, subsample=0.5), seed=2)
    scaling = kc.data.Scaling(1.0, np.zeros((2, 7, 6)))
    save_model(tmp_path / "m.npz", Model(ARCH, scaling, {}, first))
    _, problem3 = _problem(3)
    resumed = newton_cg(problem3, load_model(tmp_path / "m.npz").state,
                        NewtonOptions(iterations=4, subsample=0.5), seed=2)
    np.testing.assert_array_equal(resumed.theta, straight.theta)


def test_sg_gives_the_same_theta_for_every_thread_count():
    thetas = []
    for t in THREADS:
        theta, problem = _problem(t)
        thetas.append(sg(problem, TrainState(theta), SGOptions(iterations=2, batch_size=12),
                         seed=3).theta)
    for th in thetas[1:]:
        np.testing.assert_array_equal(th, thetas[0])


def test_map_blocks_holds_blas_to_one_thread_and_keeps_order():
    from threadpoolctl import threadpool_info

    def blas_threads(_):
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    seen = parallel.map_blocks(blas_threads, range(4), threads=2)
    assert all(n == [1] * len(n) and n for n in seen)
    assert parallel.map_blocks(lambda k: k * 10, list(range(7)), threads=3) == [
        0, 10, 20, 30, 40, 50, 60]
    # a block that maps blocks itself runs them in its own thread, not on the busy pool
    nested = parallel.map_blocks(lambda k: parallel.map_blocks(lambda j: j + k, [1, 2], 2),
                                 [10, 20], threads=2)
    assert nested == [[11, 12], [21, 22]]


def test_threads_are_checked():
    with pytest.raises(ValueError, match="threads must be >= 1, got 0"):
        kc.objective(np.zeros(ARCH.n_params), ARCH, np.zeros((2, 42)), [0], threads=0)
    with pytest.raises(TypeError, match="threads must be an integer"):
        parallel.set_threads(1.5)
    parallel.set_threads(3)
    try:
        assert parallel.get_threads() == 3
    finally:
        parallel.set_threads(None)
    assert parallel.get_threads() == parallel.machine_cores()


def test_more_threads_without_threadpoolctl_is_refused(monkeypatch):
    monkeypatch.setattr(parallel, "_threadpoolctl", lambda: None)
    with pytest.raises(ImportError, match="threads=2 needs threadpoolctl"):
        parallel.resolve_threads(2)
    assert parallel.get_threads() == 1


def test_train_threads_flag_gives_the_same_model(tmp_path):
    pytest.importorskip("sklearn")
    from kronconv.cli import main

    thetas = []
    for t in (1, 2):
        out = tmp_path / f"m{t}.npz"
        assert main(["train", "--iterations", "2", "--out", str(out), "--quiet",
                     "--threads", str(t)]) == 0
        thetas.append(load_model(out).theta)
    np.testing.assert_array_equal(thetas[0], thetas[1])
    with pytest.raises(SystemExit):
        main(["predict", "--model", str(tmp_path / "m1.npz"), "--threads", "0"])
