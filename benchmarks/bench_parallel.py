"""Threads and Dask workers: f and ∇f over 6,000 Fashion-MNIST images (mnist-3layer) on 1 and
2 threads, and on a local cluster of 1 and 2 workers (the full 60,000: benchmarks/scaling.py);
one batch of 32 random images (cifar10-3layer) on 1 and 2 threads. Skipped where Debian's
dataset-fashion-mnist, or dask.distributed, is missing."""

import itertools

import kronconv as kc

from .common import problem

IMAGES = 6000


def _fashion():
    from kronconv.data import Scaling, fashion_mnist

    try:
        train = fashion_mnist("train")
    except FileNotFoundError as exc:
        raise NotImplementedError(str(exc)) from None
    x = train.x[:IMAGES]
    return kc.Z_from_nchw(Scaling.fit(x)(x)), train.y[:IMAGES]


class Threads:
    """f and ∇f on 1 and 2 threads (BLAS one per block)."""

    params = (["sparse", "dense"], [1, 2])
    param_names = ("backend", "threads")
    timeout = 600
    number = 1
    repeat = 2

    def setup(self, backend, threads):
        self.Z, self.y = _fashion()
        self.arch = kc.Architecture.preset("mnist-3layer")
        self.theta = kc.init_params(self.arch, 0)

    def time_objective_and_gradient(self, backend, threads):
        kc.objective_and_gradient(self.theta, self.arch, self.Z, self.y, 0.01,
                                  backend=backend, threads=threads)

    def peakmem_objective_and_gradient(self, backend, threads):
        kc.objective_and_gradient(self.theta, self.arch, self.Z, self.y, 0.01,
                                  backend=backend, threads=threads)


class BatchThreads:
    """f and ∇f of one batch of 32 (cifar10-3layer) on 1 and 2 threads, called back to back
    as an optimizer does: a regression of the threads' scaling on small batches shows here
    (an OpenBLAS thread woken between the calls, spinning on the other core, once made two
    threads no faster than one)."""

    params = (["sparse", "dense"], [1, 2])
    param_names = ("backend", "threads")
    timeout = 300
    number = 5

    def setup(self, backend, threads):
        self.arch, theta, self.Z, self.y = problem("cifar10-3layer", 32, "float64")
        # new weights every call, as an optimizer's: the sparse chain builds I ⊗ W each time
        self.thetas = itertools.cycle([theta * (1 + 1e-3 * k) for k in range(3)])
        self.time_objective_and_gradient(backend, threads)       # the operators of the shapes

    def time_objective_and_gradient(self, backend, threads):
        kc.objective_and_gradient(next(self.thetas), self.arch, self.Z, self.y, 0.01,
                                  backend=backend, threads=threads)


class DaskWorkers:
    """f and ∇f on a local Dask cluster of 1 and 2 worker processes (dense path)."""

    params = (1, 2)
    param_names = ("workers",)
    timeout = 600
    number = 1
    repeat = 2

    def setup(self, workers):
        try:
            from kronconv.distributed import DistributedProblem, connect
        except ImportError as exc:
            raise NotImplementedError(str(exc)) from None
        from kronconv.train import Problem

        Z, y = _fashion()
        arch = kc.Architecture.preset("mnist-3layer")
        self.theta = kc.init_params(arch, 0)
        self.client = connect(workers)
        self.problem = DistributedProblem(Problem(arch, Z, y, 0.01, "squared", "dense"),
                                          self.client)
        self.problem.f_and_grad(self.theta)                 # warm the workers up

    def teardown(self, workers):
        from kronconv.distributed import disconnect

        disconnect(self.client)

    def time_objective_and_gradient(self, workers):
        self.problem.f_and_grad(self.theta)



