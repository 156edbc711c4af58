"""The dense path's scratch arenas: the same numbers, bit for bit, and never a caller's array."""

from __future__ import annotations

import contextlib
import importlib.util

import numpy as np
import pytest
from _networks import random_data, random_network

import kronconv as kc
from kronconv import dense, scratch
from kronconv.objective_function import block_sums

NEEDS_THREADS = pytest.mark.skipif(importlib.util.find_spec("threadpoolctl") is None,
                                   reason="threads > 1 need threadpoolctl")


def _conv(**kw) -> kc.ConvSpec:
    return kc.ConvSpec(**{"d_out": 3, "h": 3, "padding": 1, "activation": "relu", **kw})


#: stride 2, average pooling, no pooling, overlapping max pooling (pool_T adds), a tanh after
#: max pooling (sigma' multiplies), padding 0 (pad is the identity): every branch of dense.py.
ARCHITECTURES = {
    "stride2-average-none": kc.Architecture(
        (9, 8, 2), [_conv(stride=2, pool="average", pool_size=2), _conv(pool="none")],
        [kc.FullSpec(4, activation="relu"), kc.FullSpec(3)]),
    "overlapping-max-tanh-pad0": kc.Architecture(
        (8, 7, 1), [_conv(pool="max", pool_size=3, pool_stride=1, activation="tanh",
                          padding=0),
                    _conv(pool="max", pool_size=2)],
        [kc.FullSpec(3)]),
    "digits": kc.Architecture.preset("digits"),
}


def _data(arch: kc.Architecture, N: int, dtype: type, seed: int = 0):
    theta, Z, y = random_data(arch, N, seed)
    return theta.astype(dtype), Z.astype(dtype), y


@pytest.fixture
def poisoned(monkeypatch):
    """Every slot handed out filled with NaN (or 0x7f bytes) first, so a slot read before it
    is written changes the result; the arrays handed out are recorded."""
    handed = []
    take = scratch.Arena.take

    def poisoned_take(self, shape, dtype):
        out = take(self, shape, dtype)
        out.view(np.uint8).fill(0x7F) if out.dtype.kind != "f" else out.fill(np.nan)
        handed.append(out)
        return out

    monkeypatch.setattr(scratch.Arena, "take", poisoned_take)
    return handed


def _without_arena(monkeypatch) -> None:
    monkeypatch.setattr(scratch, "reuse", contextlib.nullcontext)


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("threads", [1, pytest.param(2, marks=NEEDS_THREADS)])
def test_reuse_objective_and_gradient_equal_without_arena_bit_for_bit(name, dtype, threads,
                                                                      poisoned, monkeypatch):
    arch = ARCHITECTURES[name]
    theta, Z, y = _data(arch, 7, dtype)
    args = (theta, arch, Z, y, 0.5, "cross_entropy")
    kw = {"chunk_size": 3, "backend": "dense", "threads": threads}   # blocks of 3, 3 and 1
    with_arena = [kc.objective_and_gradient(*args, **kw) for _ in range(2)]
    f_only, out = kc.objective(*args, **kw), kc.network_output(theta, arch, Z, **kw)
    assert poisoned                                       # the arenas served the passes
    _without_arena(monkeypatch)
    f, g = kc.objective_and_gradient(*args, **kw)
    for f_a, g_a in with_arena:
        assert f_a == f
        np.testing.assert_array_equal(g_a, g)
    assert f_only == kc.objective(*args, **kw)
    np.testing.assert_array_equal(out, kc.network_output(theta, arch, Z, **kw))


@pytest.mark.parametrize("seed", range(12))
def test_reuse_random_networks_equal_without_arena_bit_for_bit(seed, poisoned, monkeypatch):
    arch, loss, C = random_network(seed)                 # every activation, stride, pooling
    theta, Z, y = random_data(arch, N=5, seed=seed)
    kw = {"chunk_size": 2, "backend": "dense", "threads": 1}
    f_a, g_a = kc.objective_and_gradient(theta, arch, Z, y, C, loss, **kw)
    _without_arena(monkeypatch)
    f, g = kc.objective_and_gradient(theta, arch, Z, y, C, loss, **kw)
    assert f_a == f
    np.testing.assert_array_equal(g_a, g)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_reuse_preset_default_blocks_equal_without_arena_bit_for_bit(dtype, monkeypatch):
    arch = kc.Architecture.preset("mnist-3layer")
    theta, Z, y = _data(arch, 40, dtype)                  # default blocks: the last one uneven
    f_a, g_a = kc.objective_and_gradient(theta, arch, Z, y, 0.1, backend="dense", threads=1)
    _without_arena(monkeypatch)
    f, g = kc.objective_and_gradient(theta, arch, Z, y, 0.1, backend="dense", threads=1)
    assert f_a == f
    np.testing.assert_array_equal(g_a, g)


def test_block_sums_returns_nothing_held_by_an_arena(poisoned):
    arch = ARCHITECTURES["stride2-average-none"]
    theta, Z, y = _data(arch, 3, np.float64)
    xi, grad = block_sums(theta, arch, Z, y, "squared", "dense", "vec")
    assert isinstance(xi, float)
    assert poisoned
    assert not any(np.shares_memory(grad, slot) for slot in poisoned)
    out = kc.network_output(theta, arch, Z, backend="dense", chunk_size=1, threads=1)
    assert not any(np.shares_memory(out, slot) for slot in poisoned)


def test_reuse_results_held_by_the_caller_are_not_overwritten():
    arch = ARCHITECTURES["overlapping-max-tanh-pad0"]
    theta, Z, y = _data(arch, 6, np.float64)
    kw = {"chunk_size": 2, "backend": "dense", "threads": 1}
    g = kc.objective_and_gradient(theta, arch, Z, y, **kw)[1]
    out = kc.network_output(theta, arch, Z, **kw)
    z, cache = kc.forward_network(theta, arch, Z, backend="dense")
    shape = arch.conv_shapes[0]
    X = dense.from_columns(Z, *arch.input)
    phi = dense.im2col(dense.pad(X, shape), shape)
    held = [g, out, z, cache.conv[0].phi, cache.conv[0].S, phi]
    copies = [x.copy() for x in held]
    kc.objective_and_gradient(2 * theta, arch, -Z, y, **kw)          # other numbers, same slots
    kc.network_output(2 * theta, arch, -Z, **kw)
    for x, copy in zip(held, copies, strict=True):
        np.testing.assert_array_equal(x, copy)


def test_reuse_inactive_in_gauss_newton_and_the_public_layer_functions(monkeypatch):
    seen = []
    for name in ("empty", "zeros"):
        original = getattr(scratch, name)

        def recording(shape, dtype, original=original):
            seen.append(scratch.active())
            return original(shape, dtype)

        monkeypatch.setattr(scratch, name, recording)
    arch = ARCHITECTURES["stride2-average-none"]
    theta, Z, y = _data(arch, 5, np.float64)
    v = np.random.default_rng(1).normal(size=theta.size)
    G = kc.GaussNewton(theta, arch, Z, y, C=1.0, backend="dense", chunk_size=2, threads=1)
    G.matvec(v)
    kc.jacobian_vector(theta, arch, Z, v, backend="dense", chunk_size=2, threads=1)
    z, cache = kc.forward_network(theta, arch, Z, backend="dense")
    kc.backward_network(np.ones_like(z), theta, arch, cache)
    shape, (W, b) = arch.conv_shapes[0], kc.unpack_params(theta, arch)[0]
    Z_next, layer_cache = kc.forward(Z, W, b, shape, "relu", "dense")
    kc.backward(np.ones_like(Z_next), W, layer_cache)
    assert seen
    assert all(arena is None for arena in seen)
    seen.clear()
    kc.objective_and_gradient(theta, arch, Z, y, backend="dense", chunk_size=2, threads=1)
    assert seen
    assert all(arena is not None for arena in seen)


def test_arena_take_hands_out_slots_in_request_order_and_grows_them():
    arena = scratch.Arena()
    a, b = arena.take((4, 5), np.float64), arena.take((3,), np.float32)
    assert not np.shares_memory(a, b)
    assert a.flags.c_contiguous
    arena.reset()
    assert np.shares_memory(arena.take((2, 5), np.float64), a)      # smaller: the same slot
    assert not np.shares_memory(arena.take((100,), np.float32), b)  # larger: a new slot
    assert arena.nbytes == 4 * 5 * 8 + 100 * 4


def test_reuse_keeps_an_arena_for_the_next_block_unless_too_large(monkeypatch):
    def first_array():
        with scratch.reuse():
            assert scratch.active() is not None
            return scratch.zeros((1000,), np.float64)

    assert scratch.active() is None
    assert np.shares_memory(first_array(), first_array())
    with scratch.reuse():                               # nested: an arena of its own
        outer = scratch.active()
        with scratch.reuse():
            assert scratch.active() not in (None, outer)
        assert scratch.active() is outer
    monkeypatch.setattr(scratch, "KEEP_BLOCKS", 0)       # nothing kept: fresh memory each time
    assert not np.shares_memory(first_array(), first_array())
    assert scratch.keep_bytes() == 0
    # kept while the free arenas hold at most KEEP_BLOCKS x the block bytes per core
    monkeypatch.setattr(scratch, "KEEP_BLOCKS", 16)
    monkeypatch.setattr(scratch, "machine_cores", lambda: 1)
    monkeypatch.setenv("KRONCONV_BLOCK_BYTES", "1000")             # keep 16,000 bytes
    monkeypatch.setattr(scratch, "_FREE", [])                       # none kept from before

    def array_of(n):
        with scratch.reuse():
            return scratch.zeros((n,), np.float64)

    assert np.shares_memory(array_of(1000), array_of(1000))        # 8,000 bytes: kept
    assert not np.shares_memory(array_of(2500), array_of(2500))    # 20,000: given back


def test_reuse_drops_the_arena_of_a_block_that_raised():
    held = []

    def block():
        with scratch.reuse():
            held.append(scratch.empty((1000,), np.float64))      # as a traceback's frame would
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        block()
    assert scratch.active() is None
    with scratch.reuse():
        assert not np.shares_memory(scratch.empty((1000,), np.float64), held[0])
