"""Hypothesis strategies for layer shapes and the named edge cases every test must cover."""

from __future__ import annotations

from hypothesis import example
from hypothesis import strategies as st

from kronconv import POOL_KINDS, LayerShape


@st.composite
def layer_shapes(draw, max_side: int = 7, max_channels: int = 3) -> LayerShape:
    """Small valid layers: any stride, padding, filter up to the padded size, any pooling."""
    a = draw(st.integers(1, max_side))
    b = draw(st.integers(1, max_side))
    padding = draw(st.integers(0, 2))
    h = draw(st.integers(1, min(a, b) + 2 * padding))
    stride = draw(st.integers(1, 3))
    a_conv = (a + 2 * padding - h) // stride + 1
    b_conv = (b + 2 * padding - h) // stride + 1
    pool = draw(st.sampled_from(POOL_KINDS))
    pool_size = draw(st.integers(1, min(a_conv, b_conv)))
    pool_stride = draw(st.integers(1, 3))
    return LayerShape(a=a, b=b, d=draw(st.integers(1, max_channels)),
                      d_out=draw(st.integers(1, max_channels)), h=h, stride=stride,
                      padding=padding, pool=pool, pool_size=pool_size, pool_stride=pool_stride)


# Named cases the issue asks for, added to every property test with @example.
EDGE_SHAPES = {
    "stride2_pad1_nonsquare_maxpool_leftover": LayerShape(
        a=7, b=5, d=2, d_out=3, h=3, stride=2, padding=1, pool="max", pool_size=2),
    "pad0_h_equals_a_pad_d1": LayerShape(a=4, b=6, d=1, d_out=2, h=4, pool="none"),
    "overlapping_average_pool": LayerShape(
        a=6, b=5, d=2, d_out=2, h=2, pool="average", pool_size=3, pool_stride=1),
    "overlapping_max_pool_stride3": LayerShape(
        a=9, b=8, d=1, d_out=2, h=2, stride=3, padding=2, pool="max", pool_size=2,
        pool_stride=1),
    "one_by_one": LayerShape(a=1, b=1, d=1, d_out=1, h=1),
}


def with_edge_shapes(**fixed):
    """Decorator: run a hypothesis test on every named edge shape too (other arguments fixed)."""
    def decorate(test):
        for shape in EDGE_SHAPES.values():
            test = example(shape=shape, **fixed)(test)
        return test
    return decorate
