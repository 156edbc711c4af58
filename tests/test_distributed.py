"""A Dask cluster of two worker processes gives the in-process numbers, and a worker killed in
the middle of a run costs nothing: the run completes with the theta of an undisturbed run."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest
from _networks import random_data

import kronconv as kc
from kronconv.testing import assert_relative_close
from kronconv.train import NewtonOptions, Problem, SGOptions, TrainState, newton_cg, sg

distributed = pytest.importorskip("distributed")
pytest.importorskip("threadpoolctl")

from kronconv.distributed import DistributedProblem, connect  # noqa: E402
from kronconv.parallel import machine_cores  # noqa: E402

ARCH = kc.Architecture(input=(7, 6, 2), conv=[kc.ConvSpec(d_out=3, h=3, padding=1, pool="max")],
                       full=[kc.FullSpec(4)], name="small")


@pytest.fixture(scope="module")
def client():
    with connect(workers=2) as c:
        yield c
        c.cluster.close()


@pytest.fixture
def problems(client):
    theta, Z, y = random_data(ARCH, N=40, seed=6)
    local = Problem(ARCH, Z, y, 0.5, "squared", "dense", 7)
    return theta, local, DistributedProblem(local, client)


def test_DistributedProblem_equals_the_in_process_problem(problems):
    theta, local, remote = problems
    f, g = remote.f_and_grad(theta)
    f0, g0 = local.f_and_grad(theta)
    # the same blocks, their sums grouped by shard: equal to rounding
    assert f == pytest.approx(f0, rel=1e-14)
    assert_relative_close(g, g0, 1e-14, "∇f")
    assert remote.f(theta) == pytest.approx(local.f(theta), rel=1e-14)
    # and deterministic: again, the same bits
    f2, g2 = remote.f_and_grad(theta)
    assert f2 == f
    np.testing.assert_array_equal(g2, g)
    S, v = np.arange(3, 40, 3), np.random.default_rng(0).normal(size=theta.size)
    assert_relative_close(remote.gauss_newton(theta, S).matvec(v),
                          local.gauss_newton(theta, S).matvec(v), 1e-13, "Gv")
    batch = np.array([1, 5, 8, 13, 21, 34])
    assert_relative_close(remote.batch_gradient(theta, batch), local.batch_gradient(theta, batch),
                          1e-13, "mini-batch gradient")


def test_DistributedProblem_keeps_each_shard_on_one_worker(problems, client):
    _, local, remote = problems
    who_has = client.who_has(remote._shards)
    holders = [tuple(who_has[f.key]) for f in remote._shards]
    assert len(holders) == 2                                      # a shard a worker
    assert all(len(h) == 1 for h in holders)                     # each shard sent once
    assert len(set(holders)) == 2
    # the bytes of the data each worker holds: its blocks, every block on one worker only
    keys = [f.key for f in remote._shards]

    def held(dask_worker, keys=keys):
        return sum(dask_worker.data[k][0].nbytes + dask_worker.data[k][1].nbytes
                   for k in keys if k in dask_worker.data)

    held_bytes = client.run(held)
    assert sum(held_bytes.values()) == local.Z.nbytes + local.y.nbytes
    per_instance = (local.Z.nbytes + local.y.nbytes) / local.l
    assert max(held_bytes.values()) == 3 * 7 * per_instance       # blocks 0-2 of 7 each


def test_newton_cg_on_the_cluster_equals_in_process_and_is_deterministic(problems):
    theta, local, remote = problems
    options = NewtonOptions(iterations=3, subsample=0.3)
    here = newton_cg(local, TrainState(theta.copy()), options, seed=1)
    runs = [newton_cg(remote, TrainState(theta.copy()), options, seed=1) for _ in range(2)]
    np.testing.assert_array_equal(runs[0].theta, runs[1].theta)
    assert_relative_close(runs[0].theta, here.theta, 1e-12, "theta")


def test_sg_on_the_cluster_equals_in_process(problems):
    theta, local, remote = problems
    options = SGOptions(iterations=2, batch_size=16)
    here = sg(local, TrainState(theta.copy()), options, seed=2)
    there = sg(remote, TrainState(theta.copy()), options, seed=2)
    assert_relative_close(there.theta, here.theta, 1e-12, "theta")


@pytest.mark.slow
def test_a_worker_killed_mid_iteration_leaves_theta_unchanged(problems, client):
    theta, _, remote = problems
    options = NewtonOptions(iterations=3, subsample=0.3)
    undisturbed = newton_cg(remote, TrainState(theta.copy()), options, seed=1)
    products = {"n": 0}
    gauss_newton = remote.gauss_newton

    def killing_gauss_newton(th, S):
        G = gauss_newton(th, S)
        matvec = G.matvec

        def killing_matvec(v):
            products["n"] += 1
            if products["n"] == 4:                   # a CG step of the second iteration
                pid = next(iter(client.run(os.getpid).values()))
                os.kill(pid, signal.SIGKILL)
                time.sleep(0.5)
            return matvec(v)

        G.matvec = killing_matvec
        return G

    remote.gauss_newton = killing_gauss_newton
    before = remote.recoveries
    disturbed = newton_cg(remote, TrainState(theta.copy()), options, seed=1)
    assert remote.recoveries > before                 # the loss was seen and mended
    np.testing.assert_array_equal(disturbed.theta, undisturbed.theta)
    client.wait_for_workers(2, timeout=60)            # the nanny restarted the worker


@pytest.mark.slow
def test_train_workers_flag_gives_the_in_process_model(tmp_path):
    pytest.importorskip("sklearn")
    from kronconv.cli import main
    from kronconv.model import load_model

    for flags, name in (([], "here"), (["--workers", "2"], "there")):
        assert main(["train", "--iterations", "2", "--out", str(tmp_path / f"{name}.npz"),
                     "--quiet", *flags]) == 0
    here, there = (load_model(tmp_path / f"{n}.npz") for n in ("here", "there"))
    assert_relative_close(there.theta, here.theta, 1e-12, "theta")
    # resumed with workers, the run continues: one more iteration
    assert main(["train", "--iterations", "3", "--out", str(tmp_path / "there.npz"), "--quiet",
                 "--resume", "--workers", "2"]) == 0
    assert load_model(tmp_path / "there.npz").state.iteration == 3


@pytest.mark.parametrize("workers", [0, -1, max(2, machine_cores()) + 1, 10**6, 2.0, True, "2"])
def test_connect_refuses_more_local_workers_than_cores_before_starting_any(workers):
    with pytest.raises(ValueError, match=rf"workers must be an integer from 1 to "
                                         rf"{max(2, machine_cores())} \(one per core"):
        connect(workers=workers)
