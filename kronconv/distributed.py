"""Many machines: the same sums over the same blocks, on the workers of a Dask cluster.

:class:`DistributedProblem` stands in for a :class:`~kronconv.train.Problem` in
:func:`~kronconv.train.newton_cg`, :func:`~kronconv.train.sg` and :func:`~kronconv.train.adam`.
The training data is cut into the blocks an in-process run uses
(:func:`~kronconv.objective_function.chunks`) and each block is sent once to one worker, where
it stays (its shard). Per evaluation, theta goes to every worker once and each block returns
its :func:`~kronconv.objective_function.block_sums`; the client adds them in block order, as
the in-process run does. For the Gauss-Newton matrix, the subsample's instances of each block
are run forward on the worker holding the block, and the caches stay there
(:class:`~kronconv.gauss_newton.GaussNewtonBlock`): a CG step sends v and receives one
partial product per block.

Faults: when a worker is lost (its process killed, its machine gone), the blocks it held are
sent again from the client's copy to the workers left, the Gauss-Newton caches it held are
rebuilt, and the evaluation that failed is repeated. Every block's result is a function of
theta (or v) and the block alone, and the blocks are added in a fixed order, so the run goes
on with the numbers an undisturbed run has: the same theta.

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
from .objective_function import add_block_sums, block_sums, chunks, regularization
from .parallel import one_blas_thread
from .train import Problem

__all__ = ["DistributedGaussNewton", "DistributedProblem", "connect", "disconnect"]

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


def connect(workers: int | None = None, scheduler: str | None = None):
    """A ``distributed.Client``: of a new local cluster of ``workers`` processes (one thread
    each), or of the scheduler at ``scheduler`` (``tcp://HOST:8786``)."""
    distributed = _distributed()
    if scheduler is not None:
        return distributed.Client(scheduler)
    cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                       processes=True, dashboard_address=None)
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


def _sums(theta: np.ndarray, shard: tuple, arch: Any, loss: str, backend: str,
          form: str | None) -> tuple[float, np.ndarray | None]:
    theta, Z, y = _aligned(theta, *shard)
    with one_blas_thread():
        return block_sums(theta, arch, Z, y, loss, backend, form)


def _gn_block(theta: np.ndarray, shard: tuple, index: np.ndarray, arch: Any, loss: str,
              backend: str) -> GaussNewtonBlock:
    theta, Z, y = _aligned(theta, *shard)
    a, b, _ = arch.input
    cols = (index[:, None] * (a * b) + np.arange(a * b)).ravel()
    with one_blas_thread():
        return GaussNewtonBlock(theta, arch, Z[:, cols], y[index], loss, backend)


def _product(block: GaussNewtonBlock, v: np.ndarray) -> np.ndarray:
    with one_blas_thread():
        return block.product(*_aligned(v))


# --- the client's side --------------------------------------------------------------------------


class DistributedProblem:
    """A :class:`~kronconv.train.Problem` evaluated on a Dask cluster, block by block.

    Parameters
    ----------
    problem : Problem
        The data and the settings; its blocks (``chunk_size``) are the shards.
    client : distributed.Client

    Examples
    --------
    >>> from kronconv.distributed import DistributedProblem, connect   # doctest: +SKIP
    >>> client = connect(workers=2)                                   # doctest: +SKIP
    >>> state = newton_cg(DistributedProblem(problem, client), state) # doctest: +SKIP
    """

    def __init__(self, problem: Problem, client: Any) -> None:
        self._distributed = _distributed()
        self.problem, self.client = problem, client
        blocks = chunks(problem.Z, problem.l, problem.arch, problem.chunk_size, problem.backend)
        self.rows = [rows for rows, _ in blocks]
        self._data = [(Zc, problem.y[rows]) for rows, Zc in blocks]     # the client's copy
        self._shards: list[Any] = [None] * len(blocks)
        self._gn: DistributedGaussNewton | None = None
        self.recoveries = 0
        self._send(range(len(blocks)))

    # the Problem interface ------------------------------------------------------------------

    def __getattr__(self, name: str) -> Any:          # arch, y, l, C, loss, backend, ...
        return getattr(self.problem, name)

    def f_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        return self._evaluate(theta, "vec", self.l)

    def f(self, theta: np.ndarray) -> float:
        return self._evaluate(theta, None, self.l)[0]

    def val_accuracy(self, theta: np.ndarray) -> float | None:
        return self.problem.val_accuracy(theta)

    def batch_gradient(self, theta: np.ndarray, batch: np.ndarray) -> np.ndarray:
        """A mini-batch's gradient: each block's instances of the batch on its worker."""
        G = DistributedGaussNewton(self, theta, batch, forward_only=True)
        return G.gradient()

    def gauss_newton(self, theta: np.ndarray, S: np.ndarray) -> DistributedGaussNewton:
        return DistributedGaussNewton(self, theta, S)

    # shards and faults ----------------------------------------------------------------------

    def _workers(self) -> list[str]:
        workers = sorted(self.client.scheduler_info()["workers"])
        if not workers:
            self.client.wait_for_workers(1, timeout=60)
            workers = sorted(self.client.scheduler_info()["workers"])
        return workers

    def _send(self, blocks: Any) -> None:
        """Send blocks to workers, round robin over the workers alive now."""
        workers = self._workers()
        for j in blocks:
            self._shards[j], = self.client.scatter([self._data[j]],     # one future a block
                                                   workers=[workers[j % len(workers)]],
                                                   hash=False)

    def _recover(self) -> None:
        """Send again the blocks whose worker was lost."""
        self.recoveries += 1
        self._send([j for j, shard in enumerate(self._shards) if shard.status != "finished"])

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

    def _lost_worker(self, exc: BaseException) -> bool:
        """Whether ``exc`` says a worker (or the data it held) was lost."""
        lost = (self._distributed.KilledWorker, concurrent.futures.CancelledError,
                asyncio.CancelledError, OSError, TimeoutError)
        return isinstance(exc, lost) or type(exc).__module__.startswith("distributed")

    def _evaluate(self, theta: np.ndarray, form: str | None,
                  n_total: int) -> tuple[float, np.ndarray | None]:
        def work() -> tuple[float, np.ndarray | None]:
            th = self.client.scatter(theta, broadcast=True, hash=False)
            futures = [self.client.submit(_sums, th, shard, self.arch, self.loss, self.backend,
                                          form, pure=False) for shard in self._shards]
            return add_block_sums(theta, self.client.gather(futures), self.l,
                                  regularization(self.C, n_total))

        return self.run(work)


class DistributedGaussNewton:
    """The Gauss-Newton matrix on a subsample S, its blocks' caches on the workers.

    ``matvec(v)`` sends ``v`` and adds the blocks' partial products in block order, as
    :class:`~kronconv.GaussNewton` does in-process; the blocks are the data's blocks (each
    block's instances of S, on the worker holding the block).
    """

    def __init__(self, problem: DistributedProblem, theta: np.ndarray, S: np.ndarray,
                 forward_only: bool = False) -> None:
        self.problem, self.theta = problem, theta
        S = np.asarray(S)
        self.N = S.size
        self.reg = regularization(problem.C, problem.l)
        self._index = []                            # (block, its local indices of S)
        for j, rows in enumerate(problem.rows):
            inside = S[(rows.start <= S) & (rows.stop > S)] - rows.start
            if inside.size:
                self._index.append((j, inside))
        self._forward_only = forward_only
        self._blocks: list[Any] = []
        problem.run(self._build)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.theta.size, self.theta.size)

    def _build(self) -> None:
        p = self.problem
        if self._forward_only:
            self._blocks = []
            return
        th = p.client.scatter(self.theta, broadcast=True, hash=False)
        self._blocks = [p.client.submit(_gn_block, th, p._shards[j], index, p.arch, p.loss,
                                        p.backend, pure=False) for j, index in self._index]
        p.client.gather(self._blocks)              # built (and kept) before the CG steps

    def gradient(self) -> np.ndarray:
        """The gradient of ``theta^T theta / (2 C l) + (1/|S|) sum_{i in S} ξ_i``."""
        p = self.problem

        def work() -> np.ndarray:
            th = p.client.scatter(self.theta, broadcast=True, hash=False)
            parts = [p.client.submit(_batch_sums, th, p._shards[j], index, p.arch, p.loss,
                                     p.backend, pure=False) for j, index in self._index]
            return add_block_sums(self.theta, p.client.gather(parts), self.N, self.reg)[1]

        return p.run(work)

    def matvec(self, v: np.ndarray) -> np.ndarray:
        """``G v = v / (C l) + (1/|S|) sum_i J_i^T B_i J_i v``."""
        p = self.problem

        def work() -> np.ndarray:
            vf = p.client.scatter(v, broadcast=True, hash=False)
            parts = [p.client.submit(_product, block, vf, pure=False) for block in self._blocks]
            return add_products(p.client.gather(parts), self.N, self.reg, v)

        return p.run(work, rebuild=self._build)


def _batch_sums(theta: np.ndarray, shard: tuple, index: np.ndarray, arch: Any, loss: str,
                backend: str) -> tuple[float, np.ndarray | None]:
    Z, y = _aligned(*shard)
    a, b, _ = arch.input
    cols = (index[:, None] * (a * b) + np.arange(a * b)).ravel()
    return _sums(theta, (Z[:, cols], y[index]), arch, loss, backend, "vec")

