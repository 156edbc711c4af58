"""Many machines: the same sums over the same blocks, on the workers of a Dask cluster.

:class:`DistributedProblem` stands in for a :class:`~kronconv.train.Problem` in
:func:`~kronconv.train.newton_cg`, :func:`~kronconv.train.sg` and :func:`~kronconv.train.adam`.
The training data is cut into the blocks an in-process run uses
(:func:`~kronconv.objective_function.chunks`), the blocks into as many shards of consecutive
blocks as there are workers, and each shard is sent once to one worker, where it stays. Per
evaluation, theta goes to every worker once and each shard returns the sum of its blocks'
:func:`~kronconv.objective_function.block_sums`, added in block order; the client adds the
shards' sums in shard order. For the Gauss-Newton matrix, each shard's instances of the
subsample are run forward on its worker and the caches stay there
(:class:`~kronconv.gauss_newton.GaussNewtonBlock`): a CG step sends v and receives one partial
product per shard. What moves per evaluation is one vector of ``n_params`` numbers each way
per shard: no images, no caches.

Faults: when a worker is lost (its process killed, its machine gone), the shards it held are
sent again from the client's copy to the workers left, the Gauss-Newton caches it held are
rebuilt, and the evaluation that failed is repeated. A shard's result depends on theta (or v)
and the shard alone, and the shards are added in a fixed order, so the run goes on with the
numbers of an undisturbed run: the same theta. The results equal an in-process run's to
rounding (the same blocks, grouped by shard).

Needs the ``distributed`` extra (``dask[distributed]``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .gauss_newton import GaussNewtonBlock, add_products
from .layout import select_instances
from .objective_function import (
    add_block_sums,
    block_size,
    block_sums,
    chunks,
    regularization,
)
from .parallel import machine_cores, one_blas_thread
from .train import Problem

__all__ = ["DistributedGaussNewton", "DistributedProblem", "check_workers", "connect",
           "disconnect"]

#: How often a failed evaluation is repeated after recovering from lost workers.
RETRIES = 3


def _distributed():
    try:
        import distributed
    except ImportError:
        raise ImportError("kronconv on a Dask cluster needs dask.distributed: "
                          "pip install 'dask[distributed]' (kronconv's 'distributed' extra)"
                          ) from None
    return distributed


def check_workers(workers: object) -> int:
    """``workers`` for a local cluster, else ``ValueError``: an integer from 1 to this machine's
    cores (each worker is a process of its own, with one thread; two are allowed on one core,
    to try sharding out)."""
    most = max(2, machine_cores())
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) \
            or not 1 <= workers <= most:
        raise ValueError(f"workers must be an integer from 1 to {most} (one per core: a local "
                         f"cluster runs on this machine; join a larger one with its scheduler), "
                         f"got {workers!r}")
    return int(workers)


def connect(workers: int | None = None, scheduler: str | None = None):
    """A ``distributed.Client``: of a new local cluster of ``workers`` processes (one thread
    each, at most this machine's cores; default: one per core), or of the scheduler at
    ``scheduler`` (``tcp://HOST:8786``)."""
    distributed = _distributed()
    if scheduler is not None:
        return distributed.Client(scheduler)
    workers = check_workers(machine_cores() if workers is None else workers)
    cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                       processes=True, dashboard_address=":0")
    return distributed.Client(cluster)


def disconnect(client: Any) -> None:
    """Close ``client``, and the local cluster :func:`connect` started for it."""
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


# --- what runs on the workers ------------------------------------------------------------------
# Arrays arrive in the buffers Dask received them in, which need not be aligned; numpy then
# multiplies them without BLAS, in another order of additions. Aligned copies keep every
# block's numbers those of an in-process run.


def _aligned(*arrays: np.ndarray) -> list[np.ndarray]:
    return [np.require(a, requirements=("A", "C")) for a in arrays]


def _aligned_shard(shard: tuple) -> tuple:
    """The shard as it stays on its worker: aligned once, when it arrives."""
    return tuple(_aligned(*shard))


def _instances(shard: tuple, index: np.ndarray | None, arch: Any) -> tuple:
    """A shard's images and labels, or those of its instances ``index``."""
    Z, y = _aligned(*shard)
    if index is None:
        return Z, y
    return select_instances(Z, index, arch.input[0] * arch.input[1]), y[index]


def _blocks(Z: np.ndarray, y: np.ndarray, size: int, arch: Any) -> list[tuple]:
    """Consecutive blocks of ``size`` instances, as in-process (:func:`chunks`)."""
    return [(Zc, y[rows]) for rows, Zc in chunks(Z, y.size, arch, size, "sparse")]


def _add(parts: list[tuple[float, np.ndarray | None]]) -> tuple[float, np.ndarray | None]:
    """Block sums added in block order."""
    total, grad = 0.0, None
    for xi, g in parts:
        total += xi
        if g is not None:
            grad = g.copy() if grad is None else grad + g
    return total, grad


def _shard_sums(theta: np.ndarray, shard: tuple, index: np.ndarray | None, size: int,
                arch: Any, loss: str, backend: str,
                form: str | None) -> tuple[float, np.ndarray | None]:
    (theta,) = _aligned(theta)
    Z, y = _instances(shard, index, arch)
    with one_blas_thread():
        return _add([block_sums(theta, arch, Zb, yb, loss, backend, form)
                     for Zb, yb in _blocks(Z, y, size, arch)])


def _shard_gauss_newton(theta: np.ndarray, shard: tuple, index: np.ndarray, size: int,
                        arch: Any, loss: str, backend: str) -> list[GaussNewtonBlock]:
    (theta,) = _aligned(theta)
    Z, y = _instances(shard, index, arch)
    with one_blas_thread():
        return [GaussNewtonBlock(theta, arch, Zb, yb, loss, backend)
                for Zb, yb in _blocks(Z, y, size, arch)]


def _shard_product(blocks: list[GaussNewtonBlock], v: np.ndarray) -> np.ndarray:
    (v,) = _aligned(v)
    with one_blas_thread():
        total = np.zeros_like(v)
        for block in blocks:
            total += block.product(v)
        return total


# --- the client's side --------------------------------------------------------------------------


class DistributedProblem:
    """A :class:`~kronconv.train.Problem` evaluated on a Dask cluster, shard by shard.

    Parameters
    ----------
    problem : Problem
        The data and the settings; its blocks (``chunk_size``) make up the shards.
    client : distributed.Client
    shards : int, optional
        Shards of consecutive blocks (default: the workers there are now). The results do not
        depend on which worker holds which shard.

    Examples
    --------
    On a local cluster of two worker processes (tests/test_distributed.py runs this)::

        client = connect(workers=2)
        state = newton_cg(DistributedProblem(problem, client), state)
        disconnect(client)
    """

    def __init__(self, problem: Problem, client: Any, shards: int | None = None) -> None:
        self._distributed = _distributed()
        self.problem, self.client = problem, client
        l = problem.l  # noqa: E741
        self.size = block_size(problem.arch, problem.Z.dtype, problem.backend, l,
                               problem.chunk_size)
        n_blocks = -(-l // self.size)
        groups = np.array_split(np.arange(n_blocks), shards or len(self._workers()))
        cols = problem.arch.input[0] * problem.arch.input[1]
        self.rows = [slice(g[0] * self.size, min((g[-1] + 1) * self.size, l))
                     for g in groups if g.size]
        self._data = [(problem.Z[:, r.start * cols:r.stop * cols], problem.y[r])
                      for r in self.rows]                         # the client's copy
        self._shards: list[Any] = [None] * len(self.rows)
        self.recoveries = 0
        self._send(range(len(self.rows)))

    # the Problem interface ------------------------------------------------------------------

    def __getattr__(self, name: str) -> Any:          # arch, y, l, C, loss, backend, ...
        return getattr(self.problem, name)

    def f_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        return self._sums(theta, "vec", None)

    def f(self, theta: np.ndarray) -> float:
        return self._sums(theta, None, None)[0]

    def val_accuracy(self, theta: np.ndarray) -> float | None:
        return self.problem.val_accuracy(theta)

    def batch_gradient(self, theta: np.ndarray, batch: np.ndarray) -> np.ndarray:
        """The gradient of ``theta^T theta / (2 C l) + (1/|B|) sum_{i in B} ξ_i``, each
        shard's instances of the batch on its worker."""
        return self._sums(theta, "vec", np.asarray(batch))[1]

    def gauss_newton(self, theta: np.ndarray, S: np.ndarray) -> DistributedGaussNewton:
        return DistributedGaussNewton(self, theta, S)

    # shards and faults ----------------------------------------------------------------------

    def local(self, S: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """``(shard, its local indices)`` of the instances ``S``, in shard order."""
        out = []
        for k, rows in enumerate(self.rows):
            inside = S[(rows.start <= S) & (rows.stop > S)] - rows.start
            if inside.size:
                out.append((k, inside))
        return out

    def _workers(self) -> list[str]:
        workers = sorted(self.client.scheduler_info()["workers"])
        if not workers:
            self.client.wait_for_workers(1, timeout=60)
            workers = sorted(self.client.scheduler_info()["workers"])
        return workers

    def _send(self, shards: Any) -> None:
        """Send shards to workers, round robin over the workers alive now."""
        workers = self._workers()
        for k in shards:
            where = [workers[k % len(workers)]]
            sent, = self.client.scatter([self._data[k]], workers=where, hash=False)
            self._shards[k] = self.client.submit(_aligned_shard, sent, workers=where,
                                                 pure=False)
        self._distributed.wait([self._shards[k] for k in shards])

    def _recover(self) -> None:
        """Send again the shards whose worker was lost."""
        self.recoveries += 1
        self._send([k for k, shard in enumerate(self._shards) if shard.status != "finished"])

    def _lost_worker(self, exc: BaseException) -> bool:
        """Whether ``exc`` says a worker (or the data it held) was lost."""
        lost = (self._distributed.KilledWorker, concurrent.futures.CancelledError,
                asyncio.CancelledError, OSError, TimeoutError)
        return isinstance(exc, lost) or type(exc).__module__.startswith("distributed")

    def run(self, work: Callable[[], Any], rebuild: Callable[[], None] | None = None) -> Any:
        """``work()``, repeated after recovering when a worker was lost meanwhile."""
        for attempt in range(RETRIES + 1):
            try:
                return work()
            except Exception as exc:
                if attempt == RETRIES or not self._lost_worker(exc):
                    raise
                time.sleep(0.5)
                self._recover()
                if rebuild is not None:
                    rebuild()
        raise AssertionError("unreachable")

    def broadcast(self, array: np.ndarray) -> Any:
        return self.client.scatter(array, broadcast=True, hash=False)

    def _sums(self, theta: np.ndarray, form: str | None,
              batch: np.ndarray | None) -> tuple[float, np.ndarray | None]:
        parts = (self.local(batch) if batch is not None
                 else [(k, None) for k in range(len(self.rows))])
        n = self.l if batch is None else batch.size

        def work() -> tuple[float, np.ndarray | None]:
            th = self.broadcast(theta)
            futures = [self.client.submit(_shard_sums, th, self._shards[k], index, self.size,
                                          self.arch, self.loss, self.backend, form, pure=False)
                       for k, index in parts]
            return add_block_sums(theta, self.client.gather(futures), n,
                                  regularization(self.C, self.l))

        return self.run(work)


class DistributedGaussNewton:
    """The Gauss-Newton matrix on a subsample S, each shard's caches on its worker.

    ``matvec(v)`` sends ``v`` and adds the shards' partial products in shard order.
    """

    def __init__(self, problem: DistributedProblem, theta: np.ndarray, S: np.ndarray) -> None:
        self.problem, self.theta = problem, theta
        S = np.asarray(S)
        self.N = S.size
        self.reg = regularization(problem.C, problem.l)
        self._local = problem.local(S)
        self._blocks: list[Any] = []
        problem.run(self._build)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.theta.size, self.theta.size)

    def _build(self) -> None:
        p = self.problem
        th = p.broadcast(self.theta)
        self._blocks = [p.client.submit(_shard_gauss_newton, th, p._shards[k], index, p.size,
                                        p.arch, p.loss, p.backend, pure=False)
                        for k, index in self._local]
        p.client.gather(self._blocks)              # built (and kept) before the CG steps

    def matvec(self, v: np.ndarray) -> np.ndarray:
        """``G v = v / (C l) + (1/|S|) sum_i J_i^T B_i J_i v``."""
        p = self.problem

        def work() -> np.ndarray:
            vf = p.broadcast(v)
            parts = [p.client.submit(_shard_product, b, vf, pure=False) for b in self._blocks]
            return add_products(p.client.gather(parts), self.N, self.reg, v)

        return p.run(work, rebuild=self._build)
