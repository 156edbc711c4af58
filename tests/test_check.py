"""The check harness: passes correct kernels, catches each deliberately wrong one with a report."""

from __future__ import annotations

import os

import numpy as np
import pytest

from kronconv import Z_from_nchw, backward, forward, nchw_from_Z
from kronconv.check import CONV_CASES, check_conv2d, check_pool
from kronconv.layout import W_from_oihw, oihw_from_W

if os.environ.get("KRONCONV_REQUIRE_TORCH"):
    import torch
else:
    torch = pytest.importorskip("torch")
F = torch.nn.functional


def torch_conv(x, w, b, stride, padding):
    return F.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), stride=stride,
                    padding=padding).numpy()


def torch_conv_backward(x, w, b, stride, padding, grad_y):
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    F.conv2d(xt, wt, bt, stride=stride, padding=padding).backward(torch.tensor(grad_y))
    return xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


def torch_pool(x, kind, size, stride):
    fn = F.max_pool2d if kind == "max" else F.avg_pool2d
    return fn(torch.tensor(x), size, stride).numpy()


def torch_pool_backward(x, kind, size, stride, grad_y):
    xt = torch.tensor(x, requires_grad=True)
    fn = F.max_pool2d if kind == "max" else F.avg_pool2d
    fn(xt, size, stride).backward(torch.tensor(grad_y))
    return xt.grad.numpy()


def test_check_conv2d_and_check_pool_pass_pytorch_kernels():
    passed = check_conv2d(torch_conv, torch_conv_backward)
    assert len(passed) == 2 * len(CONV_CASES)
    assert any("float32" in p for p in passed)
    assert len(check_pool(torch_pool, torch_pool_backward)) == 24


def test_check_conv2d_passes_kronconv_dense_backend():
    from kronconv.shapes import LayerShape

    def shape_of(x, w, stride, padding):
        _, d, a, b = x.shape
        return LayerShape(a, b, d, w.shape[0], w.shape[2], stride, padding)

    def dense_conv(x, w, b, stride, padding):
        s = shape_of(x, w, stride, padding)
        S, _ = forward(Z_from_nchw(x), W_from_oihw(w), b, s, "identity", backend="dense")
        return nchw_from_Z(S, s.a_conv, s.b_conv)

    def dense_backward(x, w, b, stride, padding, grad_y):
        s = shape_of(x, w, stride, padding)
        W = W_from_oihw(w)
        _, cache = forward(Z_from_nchw(x), W, b, s, "identity", backend="dense")
        dW, db, dZ = backward(Z_from_nchw(grad_y), W, cache)
        return nchw_from_Z(dZ, s.a, s.b), oihw_from_W(dW, s.h), db

    assert check_conv2d(dense_conv, dense_backward)


def flipped_kernel(x, w, b, stride, padding):
    return torch_conv(x, np.ascontiguousarray(w[:, :, ::-1, ::-1]), b, stride, padding)


def padding_off_by_one(x, w, b, stride, padding):
    return torch_conv(x, w, b, stride, padding + 1)


def h_and_w_swapped(x, w, b, stride, padding):
    xt = np.ascontiguousarray(x.transpose(0, 1, 3, 2))
    return np.ascontiguousarray(torch_conv(xt, w, b, stride, padding).transpose(0, 1, 3, 2))


def stride_ignored_in_backward(x, w, b, stride, padding, grad_y):
    _, gw, gb = torch_conv_backward(x, w, b, stride, padding, grad_y)
    # grad_x as a transposed convolution that forgets the stride
    gx = F.conv_transpose2d(torch.tensor(grad_y), torch.tensor(w), padding=padding).numpy()
    return gx, gw, gb


def bias_gradient_wrong_axis(x, w, b, stride, padding, grad_y):
    gx, gw, _ = torch_conv_backward(x, w, b, stride, padding, grad_y)
    return gx, gw, grad_y.sum(axis=(0, 2))[:, 0]          # summed over H, not over W


@pytest.mark.parametrize(("conv", "conv_backward", "message"), [
    (flipped_kernel, None, r"conv2d forward y: max relative error .* first differing index "
                           r"\(0, 0, 0, 0\): got"),
    (padding_off_by_one, None, r"conv2d forward y: shape \(1, 4, 5, 4\), expected \(1, 4, 4, 3\)"),
    (h_and_w_swapped, None, r"case 'stride 2, padding 1, non-square image' \(batch 1, float64\), "
                            r"conv2d forward y: max relative error .* > 1e-10; first differing"),
    (torch_conv, stride_ignored_in_backward,
     r"case 'stride 2, padding 1, non-square image' .* conv2d backward grad_x: shape "
     r"\(1, 3, 4, 3\), expected \(1, 3, 7, 5\)"),
    (torch_conv, bias_gradient_wrong_axis, r"conv2d backward grad_b: max relative error"),
])
def test_check_conv2d_catches_wrong_kernels_with_a_report(conv, conv_backward, message):
    with pytest.raises(AssertionError, match=message):
        check_conv2d(conv, conv_backward)


def test_check_conv2d_catches_h_and_w_swapped_on_square_images():
    square = tuple(c for c in CONV_CASES if c.shape.a == c.shape.b)
    with pytest.raises(AssertionError, match=r"conv2d forward y: max relative error .* > 1e-10"):
        check_conv2d(h_and_w_swapped, cases=square)


def test_check_conv2d_reports_a_raising_kernel():
    def broken(x, w, b, stride, padding):
        raise RuntimeError("out of cheese")

    with pytest.raises(AssertionError, match=r"conv2d raised RuntimeError: out of cheese"):
        check_conv2d(broken)


def test_check_pool_catches_wrong_tie_free_values():
    def max_as_average(x, kind, size, stride):
        return torch_pool(x, "average", size, stride)

    with pytest.raises(AssertionError, match=r"case 'max 2x2, stride 2, 6x5' .* pool forward y"):
        check_pool(max_as_average)
