"""A whole network against PyTorch autograd (float64), over random architectures and presets."""

from __future__ import annotations

import os

import numpy as np
import pytest
from _networks import random_data, random_network
from _reference import assert_rel_close

from kronconv import LOSSES, Architecture, network_output, objective_and_gradient

if os.environ.get("KRONCONV_REQUIRE_TORCH"):     # set by .ci/run: a missing torch fails
    import torch  # noqa: F401
else:
    pytest.importorskip("torch")

from kronconv.torch_reference import torch_objective_and_gradient


@pytest.mark.parametrize("seed", range(100, 124))
def test_objective_and_gradient_equals_torch_autograd_on_random_networks(seed, backend):
    arch, loss, C = random_network(seed)
    theta, Z, y = random_data(arch, N=4, seed=seed)
    f, grad = objective_and_gradient(theta, arch, Z, y, C, loss, backend=backend)
    f_t, grad_t, z_t = torch_objective_and_gradient(theta, arch, Z, y, C, loss)
    assert_rel_close(network_output(theta, arch, Z, backend=backend), z_t, 1e-10,
                     "outputs vs torch")
    assert_rel_close(np.array(f), np.array(f_t), 1e-10, "f vs torch")
    assert_rel_close(grad, grad_t, 1e-10, "∇f vs torch autograd")


@pytest.mark.parametrize("name", ["mnist-3layer", "cifar10-3layer"])
def test_objective_and_gradient_equals_torch_autograd_on_presets(name, backend):
    arch = Architecture.preset(name)
    theta, Z, y = random_data(arch, N=2, seed=0)
    for loss in LOSSES:
        f, grad = objective_and_gradient(theta, arch, Z, y, 0.1, loss, backend=backend)
        f_t, grad_t, _ = torch_objective_and_gradient(theta, arch, Z, y, 0.1, loss)
        assert_rel_close(np.array(f), np.array(f_t), 1e-10, f"{name} f vs torch")
        assert_rel_close(grad, grad_t, 1e-10, f"{name} ∇f vs torch")
