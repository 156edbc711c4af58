"""Forward and value-and-gradient per backend, preset, batch and dtype (one BLAS thread)."""

import kronconv as kc

from .common import PRESETS, one_blas_thread, problem

BACKENDS = ["sparse", "dense"]
BATCHES = [1, 32, 128]
DTYPES = ["float64", "float32"]


class Network:
    params = (BACKENDS, PRESETS, BATCHES, DTYPES)
    param_names = ("backend", "preset", "batch", "dtype")
    timeout = 300

    def setup(self, backend, preset, batch, dtype):
        self.limit = one_blas_thread()
        self.arch, self.theta, self.Z, self.y = problem(preset, batch, dtype)
        kc.objective_and_gradient(self.theta, self.arch, self.Z[:, :self.Z.shape[1] // batch],
                                  self.y[:1], backend=backend)      # build the operators

    def time_forward(self, backend, preset, batch, dtype):
        kc.network_output(self.theta, self.arch, self.Z, backend=backend)

    def time_value_and_gradient(self, backend, preset, batch, dtype):
        kc.objective_and_gradient(self.theta, self.arch, self.Z, self.y, C=0.01,
                                  loss="cross_entropy", backend=backend)

    def peakmem_value_and_gradient(self, backend, preset, batch, dtype):
        kc.objective_and_gradient(self.theta, self.arch, self.Z, self.y, C=0.01,
                                  loss="cross_entropy", backend=backend)
