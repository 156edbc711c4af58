"""Every core of one machine: sums over fixed blocks of instances, run on a thread pool.

Everything kronconv computes over a data set is a sum over instances (f, ∇f, Jᵀu, Gv) or a
concatenation (outputs, Jv). :func:`map_blocks` runs a function on each block of instances
on a pool of threads (scipy's sparse products and numpy's BLAS release the GIL) and returns
the results in block order; the callers add them in that order. The blocks depend on the data
and the network, never on the thread count, and BLAS is held to one thread inside each block
(``threadpoolctl``, the ``parallel`` extra), so the numbers are the same, bit for bit, with 1, 2
or 8 threads, and nothing is oversubscribed.

Without ``threadpoolctl`` kronconv cannot hold BLAS to one thread: the default is then one
thread (today's behaviour), and asking for more is refused with what to install.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from ._validate import Integer, Optional, check_int

__all__ = ["THREADS", "get_threads", "map_blocks", "resolve_threads", "set_threads"]

#: The constraint of the argument ``threads`` of the public functions (None: the default).
THREADS = Optional(Integer(1))

T = TypeVar("T")

_STATE: dict[str, Any] = {"threads": None, "pools": {}, "controller": None}
_LOCK = threading.Lock()


def _threadpoolctl():
    try:
        import threadpoolctl
    except ImportError:
        return None
    return threadpoolctl


def machine_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:                       # not on Linux
        return max(1, os.cpu_count() or 1)


def set_threads(threads: int | None) -> None:
    """Set the default number of threads (``None``: the machine's cores).

    Examples
    --------
    >>> set_threads(2); get_threads()
    2
    >>> set_threads(None)
    """
    _STATE["threads"] = None if threads is None else resolve_threads(threads)


def get_threads() -> int:
    """The default number of threads: :func:`set_threads`'s, else the machine's cores (one
    when ``threadpoolctl`` is missing)."""
    if _STATE["threads"] is not None:
        return _STATE["threads"]
    return machine_cores() if _threadpoolctl() is not None else 1


def resolve_threads(threads: object) -> int:
    """``threads`` checked (an integer >= 1), or the default for ``None``.

    Raises
    ------
    ImportError
        For more than one thread without ``threadpoolctl``.
    """
    if threads is None:
        return get_threads()
    n = check_int(threads, "threads", 1)
    if n > 1 and _threadpoolctl() is None:
        raise ImportError(f"threads={n} needs threadpoolctl, to hold BLAS to one thread in "
                          "each block (and so give the same numbers for any thread count): "
                          "pip install threadpoolctl (or kronconv's 'parallel' extra)")
    return n


def _pool(threads: int) -> ThreadPoolExecutor:
    with _LOCK:
        pools = _STATE["pools"]
        if threads not in pools:
            pools[threads] = ThreadPoolExecutor(threads, thread_name_prefix="kronconv")
        return pools[threads]


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS held to one thread (when ``threadpoolctl`` is installed)."""
    tpc = _threadpoolctl()
    if tpc is None:
        yield
        return
    with _LOCK:
        if _STATE["controller"] is None:
            _STATE["controller"] = tpc.ThreadpoolController()
        controller = _STATE["controller"]
    with controller.limit(limits=1, user_api="blas"):
        yield


def map_blocks(fn: Callable[[T], Any], blocks: Sequence[T], threads: int | None = None) -> list:
    """``[fn(block) for block in blocks]``, on ``threads`` threads, in block order.

    BLAS runs on one thread inside every block whatever ``threads`` is, so the results do
    not depend on it.

    Examples
    --------
    >>> map_blocks(lambda k: k * k, [1, 2, 3], threads=1)
    [1, 4, 9]
    """
    n = min(resolve_threads(threads), len(blocks))
    if threading.current_thread().name.startswith("kronconv"):
        n = 1                                      # already inside a block: no nested pool
    with one_blas_thread():
        if n <= 1:
            return [fn(block) for block in blocks]
        return list(_pool(n).map(fn, blocks))
