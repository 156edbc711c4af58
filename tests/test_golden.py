"""Golden files: byte-identical, self-consistent, and recomputed by PyTorch from their contents."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
from _reference import assert_rel_close

from kronconv import (
    Architecture,
    GaussNewton,
    W_from_nchw_flat,
    W_from_oihw,
    Z_from_nchw,
    jacobian_vector,
    nchw_flat_from_W,
    network_output,
    objective_and_gradient,
    pack_params,
)
from kronconv.cli import main
from kronconv.golden import golden_arrays, write_golden


def test_write_golden_same_arguments_give_byte_identical_files(tmp_path):
    arch = Architecture.preset("digits")
    write_golden(tmp_path / "a.npz", arch, batch=3, seed=5)
    assert main(["golden", "--arch", "digits", "--batch", "3", "--seed", "5",
                 "--out", str(tmp_path / "b.npz")]) == 0
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    write_golden(tmp_path / "c.npz", arch, batch=3, seed=6)
    assert (tmp_path / "a.npz").read_bytes() != (tmp_path / "c.npz").read_bytes()


def test_write_golden_contents_and_consistency(tmp_path):
    arch = Architecture.preset("digits")
    path = tmp_path / "g.npz"
    write_golden(path, arch, batch=2, dtype="float32", loss="squared", C=float("inf"))
    with np.load(path, allow_pickle=False) as g:
        meta = json.loads(str(g["meta"]))
        assert meta["format_version"] == 1
        assert meta["dtype"] == "float32"
        assert meta["C"] is None
        assert Architecture.from_dict(meta["arch"]) == arch
        for m in (1, 2):
            for key in ("w_oihw", "b", "Z", "phi", "S", "Z_next", "grad_w_oihw", "grad_b"):
                assert f"conv{m}.{key}" in g.files
            assert g[f"conv{m}.S"].dtype == np.float32
        np.testing.assert_array_equal(g["conv1.Z_next"], g["conv2.Z"])
        assert {"full1.W", "full2.b", "full1.grad_W", "full2.grad_b"} <= set(g.files)
        # the stored results are those of the stored inputs: S = W phi + b 1^T, and z_out,
        # grad, Jv, Gv as kronconv computes them in float64 from the file's x, y, weights, v
        np.testing.assert_array_equal(g["conv1.Z"], Z_from_nchw(g["x_nchw"]))
        for m in (1, 2):
            S = W_from_oihw(g[f"conv{m}.w_oihw"]) @ g[f"conv{m}.phi"] + g[f"conv{m}.b"][:, None]
            assert_rel_close(g[f"conv{m}.S"], S, 1e-5, f"conv{m}.S")
        layers = [(W_from_oihw(g[f"conv{m}.w_oihw"]), g[f"conv{m}.b"]) for m in (1, 2)]
        layers += [(g[f"full{m}.W"], g[f"full{m}.b"]) for m in (1, 2)]
        theta = pack_params(layers).astype(np.float64)
        Z, y, v = Z_from_nchw(g["x_nchw"]).astype(np.float64), g["y"], g["v"].astype(np.float64)
        _, grad = objective_and_gradient(theta, arch, Z, y, math.inf, "squared")
        assert_rel_close(g["z_out"], network_output(theta, arch, Z).T, 1e-5, "z_out")
        assert_rel_close(g["grad"], grad, 1e-4, "grad")
        assert_rel_close(g["Jv"], jacobian_vector(theta, arch, Z, v).T, 1e-4, "Jv")
        assert_rel_close(g["Gv"], GaussNewton(theta, arch, Z, y, math.inf, "squared").matvec(v),
                         1e-4, "Gv")


def _require_torch():
    if os.environ.get("KRONCONV_REQUIRE_TORCH"):
        import torch
    else:
        torch = pytest.importorskip("torch")
    return torch


@pytest.mark.parametrize(("preset", "loss"), [("digits", "cross_entropy"),
                                              ("mnist-3layer", "squared")])
def test_write_golden_gradients_equal_pytorch_recomputed_from_the_file(tmp_path, preset, loss):
    torch = _require_torch()
    F = torch.nn.functional
    path = tmp_path / "g.npz"
    write_golden(path, Architecture.preset(preset), batch=3, seed=2, loss=loss, C=0.5)
    g = dict(np.load(path, allow_pickle=False))
    meta = json.loads(str(g["meta"]))
    spec = meta["arch"]
    x = torch.tensor(g["x_nchw"])
    tensors = {}

    def param(key, array):
        tensors[key] = torch.tensor(array, requires_grad=True)
        return tensors[key]

    act = {"relu": torch.relu, "identity": lambda t: t}
    for m, layer in enumerate(spec["conv"], 1):
        x = act[layer["activation"]](F.conv2d(x, param(f"conv{m}.w", g[f"conv{m}.w_oihw"]),
                                              param(f"conv{m}.b", g[f"conv{m}.b"]),
                                              stride=layer["stride"], padding=layer["padding"]))
        if layer["pool"] == "max":
            x = F.max_pool2d(x, layer["pool_size"], layer["pool_stride"])
    d, a, b = x.shape[1:]
    z = x.reshape(x.shape[0], -1)
    for m, layer in enumerate(spec["full"], 1):
        W = g[f"full{m}.W"] if m > 1 else nchw_flat_from_W(g["full1.W"], d, a, b)
        z = act[layer["activation"]](F.linear(z, param(f"full{m}.W", W),
                                              param(f"full{m}.b", g[f"full{m}.b"])))
    y = torch.tensor(g["y"])
    if meta["loss"] == "squared":
        xi = ((z - F.one_hot(y, z.shape[1]).to(z.dtype)) ** 2).sum(dim=1)
    else:
        xi = F.cross_entropy(z, y, reduction="none")
    f = xi.mean() + sum((t * t).sum() for t in tensors.values()) / (2 * meta["C"] * len(y))
    f.backward()
    assert_rel_close(z.detach().numpy(), g["z_out"], 1e-10, "z_out")
    assert_rel_close(np.array(f.item()), g["f"], 1e-10, "f")
    for m in range(1, len(spec["conv"]) + 1):
        assert_rel_close(tensors[f"conv{m}.w"].grad.numpy(), g[f"conv{m}.grad_w_oihw"], 1e-10,
                         f"conv{m}.grad_w_oihw")
        assert_rel_close(tensors[f"conv{m}.b"].grad.numpy(), g[f"conv{m}.grad_b"], 1e-10,
                         f"conv{m}.grad_b")
    gW1 = tensors["full1.W"].grad.numpy()
    assert_rel_close(W_from_nchw_flat(gW1, d, a, b), g["full1.grad_W"], 1e-10, "full1.grad_W")
    assert_rel_close(tensors["full1.b"].grad.numpy(), g["full1.grad_b"], 1e-10, "full1.grad_b")


def test_golden_arrays_match_written_file(tmp_path):
    arch = Architecture.preset("digits")
    arrays = golden_arrays(arch, batch=2)
    write_golden(tmp_path / "g.npz", arch, batch=2)
    with np.load(tmp_path / "g.npz", allow_pickle=False) as g:
        assert list(g.files) == list(arrays)
        for key in arrays:
            np.testing.assert_array_equal(g[key], arrays[key])
