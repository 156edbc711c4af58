"""Building the operators of every layer of each preset: time, peak memory, nnz and bytes."""

import numpy as np
import scipy.sparse as sp

import kronconv as kc

from .common import PRESETS, clear_operator_caches, instance_independent_operators

LAYERS = [0, 1, 2]
OPERATORS = ["P_pad", "P_phi", "ones_kron_I", "I_kron_W"]


def _layer(preset, layer):
    shape = kc.Architecture.preset(preset).conv_shapes[layer]
    return shape, np.random.default_rng(0).standard_normal(shape.W_shape)


class BuildLayer:
    """All operators of one convolutional layer, from cold caches."""

    params = (PRESETS, LAYERS)
    param_names = ("preset", "layer")

    def setup(self, preset, layer):
        self.shape, self.W = _layer(preset, layer)

    def time_build_cold(self, preset, layer):
        clear_operator_caches()
        instance_independent_operators(self.shape, self.W)

    def peakmem_build_cold(self, preset, layer):
        clear_operator_caches()
        instance_independent_operators(self.shape, self.W)


class BuildNetwork:
    """Every instance-independent operator of a preset (target for cifar10: <= 50 ms)."""

    params = PRESETS
    param_names = ("preset",)

    def setup(self, preset):
        arch = kc.Architecture.preset(preset)
        self.layers = [(s, np.random.default_rng(0).standard_normal(s.W_shape))
                       for s in arch.conv_shapes]

    def time_build_all_cold(self, preset):
        clear_operator_caches()
        for shape, W in self.layers:
            instance_independent_operators(shape, W)


class IKronW:
    """I ⊗ W with the cached index structure, against a generic scipy.sparse.kron."""

    def setup(self):
        self.shape, self.W = _layer("cifar10-3layer", 2)       # 64 -> 64 channels, 8 x 8
        kc.I_kron_W(self.W, self.shape)

    def time_I_kron_W(self):
        kc.I_kron_W(self.W, self.shape)

    def time_scipy_kron(self):
        sp.kron(sp.eye_array(self.shape.n_windows), self.W, format="csr")


class OperatorSize:
    """Stored entries and bytes (data + indices + indptr) of each operator."""

    params = (PRESETS, LAYERS, OPERATORS)
    param_names = ("preset", "layer", "operator")

    def setup(self, preset, layer, operator):
        shape, W = _layer(preset, layer)
        self.op = instance_independent_operators(shape, W)[operator]

    def track_nnz(self, preset, layer, operator):
        return self.op.nnz

    def track_bytes(self, preset, layer, operator):
        return self.op.data.nbytes + self.op.indices.nbytes + self.op.indptr.nbytes

    track_bytes.unit = "bytes"
