"""Random small networks for the network tests: every case the issue names, by seed."""

from __future__ import annotations

import math

import numpy as np

from kronconv import ACTIVATIONS, LOSSES, Architecture, ConvSpec, FullSpec, init_params

ACTIVATION_NAMES = sorted(ACTIVATIONS)


def random_network(seed: int) -> tuple[Architecture, str, float]:
    """A small random CNN with >= 2 conv layers on a non-square input, a loss and a C.

    Activation, loss, C, strides, paddings and pooling kinds cycle with the seed, so any
    12 consecutive seeds cover every activation, both losses, C finite and infinite,
    stride 1 and 2, padding 0 and > 0, and max/average/no pooling.
    """
    rng = np.random.default_rng(seed)
    activation = ACTIVATION_NAMES[seed % len(ACTIVATION_NAMES)]
    loss = LOSSES[seed % 2]
    C = (math.inf, 0.5)[(seed // 2) % 2]
    pools = ("max", "average", "none")
    while True:
        a = int(rng.integers(6, 10))
        b = a + int(rng.integers(1, 4))                      # never square
        conv = [ConvSpec(d_out=int(rng.integers(1, 4)), h=int(rng.integers(2, 4)),
                         stride=1 + (seed + m) % 2, padding=(seed + m) % 3 // 2 + m % 2,
                         pool=pools[(seed + m) % 3], pool_size=2,
                         pool_stride=int(rng.integers(1, 3)), activation=activation)
                for m in range(2 + seed % 2)]
        full = [FullSpec(int(rng.integers(2, 6)), activation=activation), FullSpec(3)]
        try:
            return Architecture((a, b, int(rng.integers(1, 3))), conv, full), loss, C
        except ValueError:          # an output became empty: draw again
            continue


def random_data(arch: Architecture, N: int, seed: int):
    rng = np.random.default_rng(seed)
    a, b, d = arch.input
    theta = init_params(arch, seed)
    theta += 0.1 * rng.standard_normal(theta.size)           # nonzero biases too
    return theta, rng.normal(size=(d, a * b * N)), rng.integers(0, arch.n_classes, size=N)
