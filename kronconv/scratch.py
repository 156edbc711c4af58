"""Scratch buffers: the dense path's large temporaries, reused from one block to the next.

glibc serves every large array with fresh pages and gives them back to the kernel when the array
is freed, so a pass that allocates its ``phi``, ``S`` and their gradients anew for every block
of instances faults every page in again (a third of the dense path's time on a Linux Xeon, see
the performance guide). Inside :func:`reuse`, which :func:`kronconv.objective_function.block_sums`
and the blocks of :func:`kronconv.network_output` enter once per block, :func:`empty` and
:func:`zeros` hand out the slots of an :class:`Arena` instead: the k-th request of a block gets
slot k, a byte buffer kept from earlier blocks and grown when too small. Every block makes the
same requests in the same order, so each slot keeps serving the same array.

Safe because:

- outside :func:`reuse` (the public layer functions, the Gauss-Newton products and their
  caches, anything a caller may keep), :func:`empty` and :func:`zeros` are ``np.empty`` and
  ``np.zeros``: the caller owns what it gets;
- inside, no two requests of one block share a slot, and a block's slots are handed out again
  only when the next block enters :func:`reuse`; the function run in the block must return
  nothing that is or views a slot (``block_sums`` returns a float and a fresh gradient);
- an arena serves one block at a time: each block on each thread takes one from a free list
  and puts it back when it ends, unless the free arenas would then hold more than
  :func:`keep_bytes`.

The numbers are the same, bit for bit, with and without the arenas: only where results are
written changes, never how they are computed.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from .cpu_caches import block_bytes
from .parallel import machine_cores

__all__ = ["KEEP_BLOCKS", "Arena", "active", "empty", "keep_bytes", "reuse", "zeros"]

#: The free arenas, kept for the next blocks (and evaluations), hold at most this many times
#: :func:`~kronconv.cpu_caches.block_bytes` per core together (:func:`keep_bytes`): an arena of
#: the default, cache-sized blocks (about 6 times it for the presets) is kept on every core;
#: one of blocks far larger is given back to the system when its block ends, as every array
#: was before.
KEEP_BLOCKS = 16

_LOCAL = threading.local()
_FREE: list[Arena] = []
_LOCK = threading.Lock()


class Arena:
    """Slots of bytes handed out in request order, from the first again after :meth:`reset`.

    Examples
    --------
    >>> arena = Arena()
    >>> x = arena.take((2, 3), np.float64); arena.reset()
    >>> y = arena.take((3,), np.float32)          # slot 0 again: x's bytes
    >>> np.shares_memory(x, y), arena.nbytes
    (True, 48)
    """

    def __init__(self) -> None:
        self._slots: list[np.ndarray] = []
        self._next = 0

    @property
    def nbytes(self) -> int:
        """The bytes the slots hold."""
        return sum(slot.nbytes for slot in self._slots)

    def reset(self) -> None:
        """Hand the slots out again from the first: nothing from before may still be in use."""
        self._next = 0

    def take(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """The next slot as a C-contiguous array of ``shape`` and ``dtype`` (contents undefined)."""
        nbytes = math.prod(shape) * np.dtype(dtype).itemsize
        k = self._next
        self._next += 1
        if k == len(self._slots):
            self._slots.append(np.empty(nbytes, dtype=np.uint8))
        elif self._slots[k].nbytes < nbytes:
            self._slots[k] = np.empty(nbytes, dtype=np.uint8)
        return self._slots[k][:nbytes].view(dtype).reshape(shape)


def keep_bytes() -> int:
    """The most bytes the free arenas hold together: :data:`KEEP_BLOCKS` times
    :func:`~kronconv.cpu_caches.block_bytes` per core."""
    return KEEP_BLOCKS * block_bytes() * machine_cores()


def active() -> Arena | None:
    """This thread's arena inside :func:`reuse`, else ``None``."""
    return getattr(_LOCAL, "arena", None)


def empty(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """``np.empty(shape, dtype)``, or inside :func:`reuse` the next slot of this thread's arena."""
    arena = active()
    return np.empty(shape, dtype=dtype) if arena is None else arena.take(shape, dtype)


def zeros(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """``np.zeros(shape, dtype)``, or inside :func:`reuse` the next slot, zero-filled."""
    arena = active()
    if arena is None:
        return np.zeros(shape, dtype=dtype)
    out = arena.take(shape, dtype)
    out.fill(0)
    return out


@contextmanager
def reuse() -> Iterator[None]:
    """Serve :func:`empty` and :func:`zeros` on this thread from an arena until the block ends.

    Enter once per block of instances, around everything the block computes; what the block
    returns must not be or view a slot. The arena comes from the free list (or is new), starts
    from its first slot, and goes back to the list at the end (dropped if the list would then
    hold more than :func:`keep_bytes`, or if the block raised). Nested, the inner block has an
    arena of its own.
    """
    with _LOCK:
        arena = _FREE.pop() if _FREE else Arena()
    previous = active()
    _LOCAL.arena = arena
    arena.reset()
    try:
        yield
    finally:
        _LOCAL.arena = previous
    # not after an exception: its traceback's frames may still hold the block's slots
    arena.reset()
    with _LOCK:
        if arena.nbytes + sum(kept.nbytes for kept in _FREE) <= keep_bytes():
            _FREE.append(arena)
