"""Check your own convolution (and pooling) kernels against kronconv, e.g. inside pytest.

Your functions use the NCHW/OIHW conventions of PyTorch and most frameworks:

- ``conv2d(x, w, b, stride, padding) -> y``: ``x`` (N, d, a, b), ``w`` (d_out, d, h, h),
  ``b`` (d_out,), ``y`` (N, d_out, a_conv, b_conv); cross-correlation, zero padding.
- ``conv2d_backward(x, w, b, stride, padding, grad_y) -> (grad_x, grad_w, grad_b)``.
- ``pool(x, kind, size, stride) -> y`` with ``kind`` "max" or "average", and
  ``pool_backward(x, kind, size, stride, grad_y) -> grad_x``.

Each is run on a battery of cases (stride > 1, padding, d = 1, non-square images,
h = a_pad, batch 1 and > 1, float64 and float32) and compared with kronconv's sparse
chain, to ``1e-10`` relative in float64 and ``1e-4`` in float32. The first failing case
raises an ``AssertionError`` that names the case, the quantity, the max relative error and
the first differing index.

Examples
--------
>>> import numpy as np
>>> from numpy.lib.stride_tricks import sliding_window_view
>>> def my_conv(x, w, b, stride, padding):
...     p = padding
...     xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
...     win = sliding_window_view(xp, w.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
...     return np.einsum("ncuvij,ocij->nouv", win, w) + b[:, None, None]
>>> len(check_conv2d(my_conv)) > 0
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._validate import (
    InstanceOf,
    Integer,
    IsCallable,
    Optional,
    Options,
    SequenceOf,
    validate_params,
)
from .layer import backward, conv_S, forward, grad_b, grad_W, grad_Z, phi_pad, pool
from .layout import W_from_oihw, Z_from_nchw, nchw_from_Z, oihw_from_W
from .shapes import LayerShape
from .testing import assert_relative_close

__all__ = ["CONV_CASES", "POOL_CASES", "check_conv2d", "check_pool"]

TOLERANCE = {"float64": 1e-10, "float32": 1e-4}


@dataclass(frozen=True)
class Case:
    """One test case: a layer shape and a batch size."""

    name: str
    shape: LayerShape
    batch: int


def _cases(named: dict[str, LayerShape]) -> tuple[Case, ...]:
    return tuple(Case(name, shape, n) for name, shape in named.items() for n in (1, 3))


CONV_CASES = _cases({
    "stride 2, padding 1, non-square image": LayerShape(7, 5, 3, 4, 3, stride=2, padding=1),
    "d = 1, padding 0, h = a_pad": LayerShape(4, 6, 1, 2, 4),
    "stride 3, padding 2, h = 2": LayerShape(9, 8, 2, 3, 2, stride=3, padding=2),
    "1 x 1 filter": LayerShape(5, 3, 3, 2, 1),
    "h = a_pad = b_pad with padding 1": LayerShape(3, 3, 2, 2, 5, padding=1),
})
#: The constraints of the arguments of the checks (the kernels, the cases, the dtypes).
KERNEL = IsCallable()
CASES = SequenceOf(InstanceOf(Case, "a Case"))
DTYPES = SequenceOf(Options(tuple(TOLERANCE)))
SEED = Integer(0)

POOL_CASES = _cases({
    f"{kind} {size}x{size}, stride {stride}, {a}x{b}": LayerShape(
        a, b, 3, 3, 1, pool=kind, pool_size=size, pool_stride=stride)
    for kind in ("max", "average")
    for size, stride, a, b in ((2, 2, 6, 5), (3, 1, 7, 6), (3, 2, 8, 8))
})


def _compare(what: str, case: Case, dtype: str, got: object, expected: np.ndarray) -> None:
    """Raise an AssertionError with the report if ``got`` is not ``expected``."""
    where = f"case {case.name!r} (batch {case.batch}, {dtype}), {what}"
    assert_relative_close(got, expected, TOLERANCE[dtype], where)


def _battery(cases: tuple[Case, ...], dtypes: tuple[str, ...], seed: int, passed: list[str]):
    """``(case, dtype, rng)`` for every case and dtype; a case that returns without raising
    is recorded in ``passed``."""
    rng = np.random.default_rng(seed)
    for dtype in dtypes:
        for case in cases:
            yield case, dtype, rng
            passed.append(f"{case.name} (batch {case.batch}, {dtype})")


def _call(what: str, case: Case, dtype: str, fn: Callable, *args):
    try:
        return fn(*args)
    except Exception as exc:   # a user's function: report whatever it raised, with the case
        raise AssertionError(f"case {case.name!r} (batch {case.batch}, {dtype}), {what} "
                             f"raised {type(exc).__name__}: {exc}") from exc


@validate_params({"conv2d": KERNEL, "conv2d_backward": Optional(KERNEL), "cases": CASES,
                  "dtypes": DTYPES, "seed": SEED})
def check_conv2d(conv2d: Callable, conv2d_backward: Callable | None = None, *,
                 cases: tuple[Case, ...] = CONV_CASES,
                 dtypes: tuple[str, ...] = ("float64", "float32"),
                 seed: int = 0) -> list[str]:
    """Check a convolution (and its backward pass) against kronconv on every case.

    Parameters
    ----------
    conv2d : callable
        ``conv2d(x, w, b, stride, padding) -> y`` in NCHW/OIHW (see the module docstring).
    conv2d_backward : callable, optional
        ``conv2d_backward(x, w, b, stride, padding, grad_y) -> (grad_x, grad_w, grad_b)``.
    cases : tuple of Case, default CONV_CASES
    dtypes : tuple of {"float64", "float32"}
    seed : int, default 0

    Returns
    -------
    list of str
        The cases that passed, all of them (a failure raises).

    Raises
    ------
    AssertionError
        At the first failing case, with the report.
    TypeError, ValueError
        If an argument is not what is described above (naming it: ``dtypes[0] must be one
        of ('float64', 'float32'), got 'float16'``).
    """
    passed: list[str] = []
    for case, dtype, rng in _battery(cases, dtypes, seed, passed):
        s = case.shape
        x = rng.standard_normal((case.batch, s.d, s.a, s.b)).astype(dtype)
        w = rng.standard_normal((s.d_out, s.d, s.h, s.h)).astype(dtype)
        b = rng.standard_normal(s.d_out).astype(dtype)
        Z, W = Z_from_nchw(x), W_from_oihw(w)
        S = conv_S(Z, W, b, s)
        y = _call("conv2d", case, dtype, conv2d, x, w, b, s.stride, s.padding)
        _compare("conv2d forward y", case, dtype, y, nchw_from_Z(S, s.a_conv, s.b_conv))
        if conv2d_backward is not None:
            gy = rng.standard_normal((case.batch, s.d_out, s.a_conv, s.b_conv)).astype(dtype)
            dS = Z_from_nchw(gy)
            got = _call("conv2d_backward", case, dtype, conv2d_backward, x, w, b, s.stride,
                        s.padding, gy)
            if not isinstance(got, tuple | list) or len(got) != 3:
                raise AssertionError(f"case {case.name!r}: conv2d_backward must return "
                                     f"(grad_x, grad_w, grad_b)")
            expected = (nchw_from_Z(grad_Z(dS, W, s), s.a, s.b),
                        oihw_from_W(grad_W(dS, phi_pad(Z, s), s), s.h), grad_b(dS, s))
            for name, g, e in zip(("grad_x", "grad_w", "grad_b"), got, expected,
                                  strict=True):
                _compare(f"conv2d backward {name}", case, dtype, g, e)
    return passed


@validate_params({"pool_fn": KERNEL, "pool_backward": Optional(KERNEL), "cases": CASES,
                  "dtypes": DTYPES, "seed": SEED})
def check_pool(pool_fn: Callable, pool_backward: Callable | None = None, *,
               cases: tuple[Case, ...] = POOL_CASES,
               dtypes: tuple[str, ...] = ("float64", "float32"), seed: int = 0) -> list[str]:
    """Check a pooling function (and its backward pass) against kronconv's ``P_pool``.

    Parameters
    ----------
    pool_fn : callable
        ``pool(x, kind, size, stride) -> y``, ``kind`` "max" or "average".
    pool_backward : callable, optional
        ``pool_backward(x, kind, size, stride, grad_y) -> grad_x``.
    cases, dtypes, seed
        As for :func:`check_conv2d`.

    Returns
    -------
    list of str

    Raises
    ------
    AssertionError
        At the first failing case, with the report.
    TypeError, ValueError
        If an argument is not what is described above, naming it.
    """
    passed: list[str] = []
    for case, dtype, rng in _battery(cases, dtypes, seed, passed):
        s = case.shape
        x = rng.standard_normal((case.batch, s.d_out, s.a, s.b)).astype(dtype)
        Z = Z_from_nchw(x)
        y = _call("pool", case, dtype, pool_fn, x, s.pool, s.pool_size, s.pool_stride)
        _compare("pool forward y", case, dtype, y,
                 nchw_from_Z(pool(Z, s), s.a_out, s.b_out))
        if pool_backward is not None:
            gy = rng.standard_normal((case.batch, s.d_out, s.a_out, s.b_out)).astype(dtype)
            eye = np.eye(s.d_out, dtype=dtype)   # a 1 x 1 identity convolution: S = Z
            _, cache = forward(Z, eye, np.zeros(s.d_out, dtype), s, "identity")
            expected = nchw_from_Z(backward(Z_from_nchw(gy), eye, cache)[2], s.a, s.b)
            got = _call("pool_backward", case, dtype, pool_backward, x, s.pool,
                        s.pool_size, s.pool_stride, gy)
            _compare("pool backward grad_x", case, dtype, got, expected)
    return passed
