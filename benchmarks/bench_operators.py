"""Building the operators of one layer (asv). The full suite comes with the benchmark issue."""

import numpy as np
import scipy.sparse as sp

from kronconv import I_kron_W, LayerShape, P_phi
from kronconv.operators import _block_diagonal_structure, _P_phi

# cifar10-3layer's second and third convolutions: 64 -> 64 channels on 16x16, 3x3, pad 1
CIFAR_64 = LayerShape(a=16, b=16, d=64, d_out=64, h=3, padding=1, pool="max", pool_size=2)


class IKronW:
    """I ⊗ W for the CIFAR-size layer (9.4 M nonzeros): kronconv vs generic scipy.sparse.kron."""

    def setup(self):
        self.W = np.random.default_rng(0).normal(size=CIFAR_64.W_shape)
        I_kron_W(self.W, CIFAR_64)              # the index structure is cached per shape

    def time_I_kron_W(self):
        I_kron_W(self.W, CIFAR_64)

    def time_scipy_kron(self):
        sp.kron(sp.eye_array(CIFAR_64.n_windows), self.W, format="csr")

    def time_I_kron_W_cold(self):
        _block_diagonal_structure.cache_clear()
        I_kron_W(self.W, CIFAR_64)

    def track_I_kron_W_nnz(self):
        return I_kron_W(self.W, CIFAR_64).nnz


class PPhi:
    """P_phi for the CIFAR-size layer, built from index arrays (cold cache)."""

    def time_P_phi_cold(self):
        _P_phi.cache_clear()
        P_phi(CIFAR_64)

    def peakmem_P_phi_cold(self):
        _P_phi.cache_clear()
        P_phi(CIFAR_64)
