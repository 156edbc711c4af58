"""LayerShape: derived sizes, and the bad-input cases generated from its constraint table."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from _strategies import layer_shapes
from hypothesis import given

from kronconv import LayerShape
from kronconv.shapes import INT_MINIMUM

GOOD = {"a": 7, "b": 6, "d": 3, "d_out": 4, "h": 3, "stride": 2, "padding": 1,
        "pool": "max", "pool_size": 2, "pool_stride": 1}


def test_LayerShape_derived_sizes_follow_notation():
    s = LayerShape(**GOOD)
    assert (s.a_pad, s.b_pad) == (9, 8)
    assert (s.a_conv, s.b_conv) == ((9 - 3) // 2 + 1, (8 - 3) // 2 + 1) == (4, 3)
    assert (s.a_out, s.b_out) == ((4 - 2) // 1 + 1, (3 - 2) // 1 + 1) == (3, 2)
    assert s.W_shape == (4, 27)
    assert (s.n_in, s.n_pad, s.n_phi, s.n_S, s.n_out) == (126, 216, 27 * 12, 48, 24)


def test_LayerShape_pool_stride_defaults_to_pool_size_and_leftover_is_dropped():
    s = LayerShape(a=7, b=7, d=1, d_out=1, h=2, pool="average", pool_size=3)
    assert s.pool_stride == 3
    assert s.a_conv == 6
    assert s.a_out == 2
    s = LayerShape(a=8, b=8, d=1, d_out=1, h=2, pool="max", pool_size=3)
    assert s.a_conv == 7
    assert s.a_out == 2


def test_LayerShape_no_pooling_ignores_pool_size():
    s = LayerShape(a=5, b=5, d=1, d_out=1, h=5, pool="none", pool_size=9)
    assert (s.pool_size, s.pool_stride, s.a_out, s.b_out) == (1, 1, 1, 1)
    assert s == LayerShape(a=5, b=5, d=1, d_out=1, h=5)


def test_LayerShape_is_immutable_and_hashable():
    s = LayerShape(**GOOD)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.a = 3
    assert {s: 1}[LayerShape(**GOOD)] == 1


def _windows_that_fit(size: int, window: int, step: int) -> int:
    """How many windows of ``window`` entries, started every ``step``, fit in ``size``."""
    return sum(1 for start in range(0, size, step) if start + window <= size)


@given(layer_shapes())
def test_LayerShape_output_sizes_count_the_windows_that_fit(s):
    # the floor formulas against counting window positions, and never empty
    a_conv = _windows_that_fit(s.a + 2 * s.padding, s.h, s.stride)
    b_conv = _windows_that_fit(s.b + 2 * s.padding, s.h, s.stride)
    assert (s.a_conv, s.b_conv) == (a_conv, b_conv)
    assert (s.a_out, s.b_out) == (_windows_that_fit(a_conv, s.pool_size, s.pool_stride),
                                  _windows_that_fit(b_conv, s.pool_size, s.pool_stride))
    assert min(s.a_out, s.b_out) >= 1


@pytest.mark.parametrize(("field", "minimum"), INT_MINIMUM.items())
def test_LayerShape_rejects_sizes_below_minimum_naming_the_argument(field, minimum):
    with pytest.raises(ValueError, match=rf"^{field} must be >= {minimum}, got {minimum - 1}$"):
        LayerShape(**{**GOOD, field: minimum - 1})


@pytest.mark.parametrize(("field", "bad"), [
    (field, bad) for field in INT_MINIMUM for bad in (2.0, "3", None, True)
    if (field, bad) != ("pool_stride", None)          # None means 'same as pool_size'
])
def test_LayerShape_rejects_non_integer_sizes(field, bad):
    with pytest.raises(TypeError, match=rf"^{field} must be an integer, got "):
        LayerShape(**{**GOOD, field: bad})


@pytest.mark.parametrize(("change", "message"), [
    ({"h": 10}, r"h must be <= a_pad = a \+ 2\*padding = 9, got h=10"),
    ({"a": 9, "h": 9, "padding": 0}, r"h must be <= b_pad = b \+ 2\*padding = 6, got h=9"),
    ({"pool_size": 5}, r"pool_size must be <= a_conv = 4 .* the pooled output would be empty"),
    ({"pool_size": 4}, r"pool_size must be <= b_conv = 3"),
    ({"pool": "min"}, r"pool must be one of \('max', 'average', 'none'\), got 'min'"),
    ({"pool": None}, r"pool must be one of"),
])
def test_LayerShape_rejects_inconsistent_sizes(change, message):
    with pytest.raises(ValueError, match=message):
        LayerShape(**{**GOOD, **change})


def test_LayerShape_stores_numpy_integers_as_int():
    s = LayerShape(**{**GOOD, "a": np.int64(7)})
    assert type(s.a) is int
    assert s == LayerShape(**GOOD)
