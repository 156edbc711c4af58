"""Checking your own convolution and pooling kernels with kronconv.check.

Your functions take PyTorch's NCHW/OIHW layouts. check_conv2d and check_pool run them on a
battery of cases (stride > 1, padding, d = 1, non-square images, h = a_pad, batch 1 and 3,
float64 and float32) against kronconv's operator chain and raise an AssertionError naming
the first failing case: in a test suite, call them inside a test function.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from kronconv.check import check_conv2d, check_pool


def windows(x, h, stride, padding):
    """Every h x h window of the zero-padded x: (N, d, a_conv, b_conv, h, h)."""
    p = padding
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    return sliding_window_view(xp, (h, h), axis=(2, 3))[:, :, ::stride, ::stride]


def my_conv2d(x, w, b, stride, padding):
    return np.einsum("ncuvij,ocij->nouv", windows(x, w.shape[2], stride, padding), w) \
        + b[:, None, None]


def my_conv2d_backward(x, w, b, stride, padding, grad_y):
    h, p = w.shape[2], padding
    grad_w = np.einsum("nouv,ncuvij->ocij", grad_y, windows(x, h, stride, padding))
    a_conv, b_conv = grad_y.shape[2:]
    grad_xp = np.zeros((x.shape[0], x.shape[1], x.shape[2] + 2 * p, x.shape[3] + 2 * p),
                       dtype=x.dtype)
    for i in range(h):                           # each filter tap sends grad_y back
        for j in range(h):
            grad_xp[:, :, i:i + stride * (a_conv - 1) + 1:stride,
                    j:j + stride * (b_conv - 1) + 1:stride] += np.einsum(
                "nouv,oc->ncuv", grad_y, w[:, :, i, j])
    grad_x = grad_xp[:, :, p:p + x.shape[2], p:p + x.shape[3]]
    return grad_x, grad_w, grad_y.sum(axis=(0, 2, 3))


def my_pool(x, kind, size, stride):
    win = sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]
    return win.max(axis=(4, 5)) if kind == "max" else win.mean(axis=(4, 5))


passed = check_conv2d(my_conv2d, my_conv2d_backward)
print(f"my_conv2d and its backward pass: {len(passed)} cases passed, e.g. {passed[0]!r}")
passed = check_pool(my_pool)
print(f"my_pool: {len(passed)} cases passed")


def flipped_conv2d(x, w, b, stride, padding):    # a true convolution: the kernel flipped
    return my_conv2d(x, w[:, :, ::-1, ::-1], b, stride, padding)


try:
    check_conv2d(flipped_conv2d)
except AssertionError as report:
    print(f"flipped_conv2d is caught: {str(report).splitlines()[0]}")
else:
    raise SystemExit("check_conv2d did not catch a flipped kernel")
print("checked: both kernels agree with kronconv on every case; a flipped kernel does not")
