"""Gauss-Newton products and Newton-CG iterations (one BLAS thread)."""

import kronconv as kc
from kronconv.train import NewtonOptions, Problem, TrainState, newton_cg

from .common import PRESETS, one_blas_thread, problem


class GaussNewtonProduct:
    """One G v on a subsample, against one value-and-gradient of the same subsample."""

    params = (["sparse", "dense"], PRESETS, [32, 128])
    param_names = ("backend", "preset", "subsample")

    def setup(self, backend, preset, subsample):
        self.limit = one_blas_thread()
        self.arch, self.theta, self.Z, self.y = problem(preset, subsample, "float64")
        self.G = kc.GaussNewton(self.theta, self.arch, self.Z, self.y, C=0.01,
                                loss="cross_entropy", backend=backend)
        self.G.matvec(self.theta)
        self.backend = backend

    def time_Gv(self, backend, preset, subsample):
        self.G.matvec(self.theta)

    def time_value_and_gradient_same_subsample(self, backend, preset, subsample):
        kc.objective_and_gradient(self.theta, self.arch, self.Z, self.y, C=0.01,
                                  loss="cross_entropy", backend=backend)


class NewtonIteration:
    """One Newton-CG iteration (f and grad on 512 instances, CG on a 5% subsample)."""

    params = ("sparse", "dense")
    param_names = ("backend",)
    timeout = 300

    def setup(self, backend):
        self.limit = one_blas_thread()
        arch, theta, Z, y = problem("mnist-3layer", 512, "float64")
        self.problem = Problem(arch, Z, y, C=0.01, loss="squared", backend=backend)
        self.theta = theta

    def time_one_iteration(self, backend):
        newton_cg(self.problem, TrainState(self.theta.copy()), NewtonOptions(iterations=1))
