"""Every stage of every convolutional layer of each preset, per backend (one BLAS thread), so a
regression shows in the stage where it happens: the stage functions of kronconv.sparse and
kronconv.dense (the names of kronconv.profiler.STAGES) on a block of 16 instances."""

import numpy as np

import kronconv as kc
from kronconv import dense
from kronconv.backends import backward, get_backend

from .common import PRESETS, one_blas_thread

BACKENDS = ["sparse", "dense"]
LAYERS = [0, 1, 2]
BLOCK = 16


class Stages:
    params = (BACKENDS, PRESETS, LAYERS)
    param_names = ("backend", "preset", "layer")

    def setup(self, backend, preset, layer):
        self.limit = one_blas_thread()
        arch = kc.Architecture.preset(preset)
        self.shape = s = arch.conv_shapes[layer]
        self.act = arch.activations[layer]
        self.be = be = get_backend(backend)
        self.pools_first = backend == "dense" and dense._pools_first(s, self.act)
        rng = np.random.default_rng(0)
        self.W = rng.standard_normal(s.W_shape) / np.sqrt(s.W_shape[1])
        self.b = rng.standard_normal(s.d_out) * 0.1
        self.Z = be.from_columns(rng.standard_normal((s.n_in, BLOCK)), s.a, s.b, s.d)
        self.X = be.pad(self.Z, s)
        self.phi = be.phi_pad(self.Z, s)
        self.S = be.conv_S(self.phi, self.W, self.b, s)
        Z_next, self.cache = be.forward(self.Z, self.W, self.b, s, self.act, True)
        self.dZ_next = np.ones_like(Z_next)
        self.dS = be.grad_S(self.dZ_next, self.cache)
        self.g_phi = np.ones_like(self.phi).reshape(self.phi.shape[0], -1)

    def time_pad(self, backend, preset, layer):
        self.be.pad(self.Z, self.shape)

    def time_im2col(self, backend, preset, layer):
        self.be.im2col(self.X, self.shape)

    def time_forward_product(self, backend, preset, layer):
        self.be.conv_S(self.phi, self.W, self.b, self.shape)

    def time_sigma_and_pool(self, backend, preset, layer):
        # as forward runs it: the dense path pools S first where a ReLU precedes max pooling
        if self.pools_first:
            self.act(self.be.pool(self.S, self.shape)[0])
        else:
            self.be.pool(self.act(self.S), self.shape)

    def time_forward(self, backend, preset, layer):
        self.be.forward(self.Z, self.W, self.b, self.shape, self.act, True)

    def time_grad_S(self, backend, preset, layer):
        self.be.grad_S(self.dZ_next, self.cache)

    def time_grad_W(self, backend, preset, layer):
        self.be.grad_W(self.dS, self.phi, self.shape)

    def time_grad_b(self, backend, preset, layer):
        self.be.grad_b(self.dS, self.shape)

    def time_col2im(self, backend, preset, layer):
        self.be.col2im(self.g_phi, self.shape)

    def time_grad_Z(self, backend, preset, layer):
        self.be.grad_Z(self.dS, self.W, self.shape)

    def time_backward(self, backend, preset, layer):
        backward(self.dZ_next, self.W, self.cache)
