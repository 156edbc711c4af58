"""Cross-check against PyTorch: conv2d + activation + pooling, and autograd (float64).

Skipped where torch is not installed; CI installs torch==2.13.0 so these run there.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from _reference import assert_rel_close
from _strategies import EDGE_SHAPES, layer_shapes, with_edge_shapes
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kronconv import (
    W_from_oihw,
    Z_from_nchw,
    backward,
    conv_S,
    forward,
    nchw_from_Z,
    oihw_from_W,
)
from kronconv.testing import kink_margin

if os.environ.get("KRONCONV_REQUIRE_TORCH"):     # set by .ci/run: a missing torch fails
    import torch
else:
    torch = pytest.importorskip("torch")
F = torch.nn.functional

TORCH_ACTIVATIONS = {
    "relu": torch.relu,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.01),
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "softplus": F.softplus,
    "identity": lambda x: x,
}


def torch_layer(x, w, b, shape, activation):
    """The same layer in PyTorch: conv2d (cross-correlation) -> activation -> pooling."""
    S = F.conv2d(x, w, b, stride=shape.stride, padding=shape.padding)
    A = TORCH_ACTIVATIONS[activation](S)
    if shape.pool == "max":
        return F.max_pool2d(A, shape.pool_size, shape.pool_stride)
    if shape.pool == "average":
        return F.avg_pool2d(A, shape.pool_size, shape.pool_stride)
    return A


@settings(max_examples=40, deadline=None)
@given(shape=layer_shapes(), seed=st.integers(0, 2**32 - 1),
       activation=st.sampled_from(sorted(TORCH_ACTIVATIONS)))
@with_edge_shapes(seed=0, activation="relu")
def test_forward_and_backward_equal_torch(shape, seed, activation, backend):
    rng = np.random.default_rng(seed)
    N = 3
    x = rng.normal(size=(N, shape.d, shape.a, shape.b))
    w = rng.normal(size=(shape.d_out, shape.d, shape.h, shape.h)) / shape.h
    b = rng.normal(size=shape.d_out)
    Z, W = Z_from_nchw(x), W_from_oihw(w)

    Z_next, cache = forward(Z, W, b, shape, activation, backend)
    # at an exact kink (ReLU at 0 or a max-pool tie with gradient) the two libraries may
    # pick different one-sided derivatives; away from them they must agree
    assume(kink_margin(conv_S(Z, W, b, shape), activation, shape) > 1e-9)

    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    out = torch_layer(xt, wt, bt, shape, activation)
    assert_rel_close(Z_next, Z_from_nchw(out.detach().numpy()), 1e-12, "Z^{m+1} vs torch")

    G = rng.normal(size=out.shape)
    (out * torch.tensor(G)).sum().backward()
    dW, db, dZ = backward(Z_from_nchw(G), W, cache)
    assert_rel_close(dW, W_from_oihw(wt.grad.numpy()), 1e-10, "dW vs autograd")
    assert_rel_close(db, bt.grad.numpy(), 1e-10, "db vs autograd")
    assert_rel_close(dZ, Z_from_nchw(xt.grad.numpy()), 1e-10, "dZ vs autograd")


def test_Z_from_nchw_and_W_from_oihw_agree_with_torch_conv2d():
    """Z and W from torch's NCHW/OIHW give torch's conv2d through the sparse chain."""
    shape = EDGE_SHAPES["stride2_pad1_nonsquare_maxpool_leftover"]
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, shape.d, shape.a, shape.b))
    w = rng.normal(size=(shape.d_out, shape.d, shape.h, shape.h))
    S = conv_S(Z_from_nchw(x), W_from_oihw(w), np.zeros(shape.d_out), shape)
    ref = F.conv2d(torch.tensor(x), torch.tensor(w), stride=2, padding=1).numpy()
    np.testing.assert_allclose(nchw_from_Z(S, shape.a_conv, shape.b_conv), ref, rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_array_equal(oihw_from_W(W_from_oihw(w), shape.h), w)
