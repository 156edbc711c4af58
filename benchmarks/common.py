"""Shared set-up for the asv benchmarks: presets, data, and one BLAS thread."""

import numpy as np

import kronconv as kc
from kronconv import memory

PRESETS = ["mnist-3layer", "cifar10-3layer"]


def one_blas_thread():
    """Pin BLAS to one thread for the rest of the process (threadpoolctl, if installed)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=1)


def problem(preset, batch, dtype):
    """theta, Z and labels for a preset, reproducible from seed 0."""
    arch = kc.Architecture.preset(preset)
    rng = np.random.default_rng(0)
    a, b, d = arch.input
    theta = kc.init_params(arch, 0, dtype)
    Z = rng.standard_normal((d, a * b * batch)).astype(dtype)
    return arch, theta, Z, rng.integers(0, arch.n_classes, size=batch)


def clear_operator_caches():
    """Forget every cached operator, so that the next build is a cold one."""
    memory.clear_cache()


def instance_independent_operators(shape, W):
    """Every operator of one layer that kronconv builds: the cached ones and I ⊗ W."""
    ops = {"P_pad": kc.P_pad(shape), "P_phi": kc.P_phi(shape),
           "ones_kron_I": kc.ones_kron_I(shape), "I_kron_W": kc.I_kron_W(W, shape)}
    if shape.pool != "max":
        ops["P_pool"] = kc.P_pool(shape)
    return ops
