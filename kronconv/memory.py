"""Memory: a guard that refuses oversized allocations up front, and the operator cache.

Before building an operator or a batch's caches, kronconv estimates the bytes it needs;
above the limit it raises :class:`MemoryLimitError` with the estimate, the limit and what to
do, before allocating anything. The limit defaults to 80 % of the memory available when it
is first needed (``KRONCONV_MEMORY_LIMIT``, a number of bytes >= 1, overrides it; a bad value
is an error then, never at import) and can be set with :func:`set_memory_limit`.

The instance-independent operators are kept in one least-recently-used cache bounded by
bytes (:func:`set_cache_limit`, default 512 MiB), keyed by the full layer shape and dtype, and
safe to use from several threads.
"""

from __future__ import annotations

import functools
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._validate import Bytes, Optional, validate_params

__all__ = [
    "MemoryLimitError",
    "cache_info",
    "check_memory",
    "clear_cache",
    "forward_bytes",
    "get_memory_limit",
    "set_cache_limit",
    "set_memory_limit",
]


class MemoryLimitError(MemoryError):
    """An allocation kronconv refused because it would exceed the memory limit."""


def _available_bytes() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def _default_limit() -> int:
    """``KRONCONV_MEMORY_LIMIT`` if set (a number of bytes >= 1, e.g. ``4e9``), else 80 % of
    the available memory."""
    nbytes = environment_bytes("KRONCONV_MEMORY_LIMIT", "4e9")
    return int(0.8 * _available_bytes()) if nbytes is None else nbytes


def environment_bytes(name: str, example: str) -> int | None:
    """The environment variable ``name`` as a whole number of bytes >= 1 (``4e9`` is taken),
    ``None`` when it is unset or blank.

    Raises
    ------
    ValueError
        If it is set to anything else (the message names it and gives ``example``).
    """
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        return LIMIT.check(float(text), name)
    except ValueError:
        raise ValueError(f"{name} must be a whole number of bytes >= 1 (such as {example}), "
                         f"got {text!r}") from None


#: The memory limit's constraint (and ``KRONCONV_MEMORY_LIMIT``'s).
LIMIT = Bytes(1)
_limit: int | None = None               # None: the default, resolved when first needed


@validate_params({"nbytes": Optional(LIMIT)})
def set_memory_limit(nbytes: int | None) -> None:
    """Set the memory limit in bytes (``None``: back to the default).

    Parameters
    ----------
    nbytes : int or None

    Returns
    -------
    None

    Raises
    ------
    ValueError, TypeError
        If ``nbytes`` is not a whole number of bytes >= 1 (``4e9`` is one) or None.

    Examples
    --------
    >>> old = get_memory_limit()
    >>> set_memory_limit(2**30); get_memory_limit()
    1073741824
    >>> set_memory_limit(old)
    """
    global _limit
    _limit = nbytes


def get_memory_limit() -> int:
    """The memory limit in bytes.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If no limit was set and ``KRONCONV_MEMORY_LIMIT`` is not a whole number of bytes >= 1.

    Examples
    --------
    >>> get_memory_limit() > 0
    True
    """
    global _limit
    if _limit is None:
        _limit = _default_limit()
    return _limit


def _format(nbytes: float) -> str:
    if nbytes < 1024:
        return f"{int(nbytes)} bytes"
    for unit in ("KiB", "MiB", "GiB"):
        nbytes /= 1024
        if nbytes < 1024:
            return f"{nbytes:.1f} {unit}"
    return f"{nbytes / 1024:.1f} TiB"


def check_memory(estimate: float, what: str, advice: str) -> None:
    """Raise :class:`MemoryLimitError` if ``estimate`` bytes exceed the limit.

    Examples
    --------
    >>> check_memory(10, "a tiny array", "nothing")
    >>> check_memory(2.0**50, "a huge operator", "use a smaller layer")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kronconv.memory.MemoryLimitError: a huge operator needs about 1024.0 TiB, above ...
    """
    limit = get_memory_limit()
    if estimate > limit:
        raise MemoryLimitError(
            f"{what} needs about {_format(estimate)}, above kronconv's memory limit of "
            f"{_format(limit)}; {advice}, or raise the limit with kronconv.set_memory_limit")


def check_batch_memory(per_instance: float, batch: int, what: str, fixed: float = 0) -> None:
    """Raise :class:`MemoryLimitError` if ``fixed + batch * per_instance`` bytes exceed the
    limit, blaming the architecture when one instance alone does, else the batch.

    Examples
    --------
    >>> check_batch_memory(2.0**50, 1, "the random images")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kronconv.memory.MemoryLimitError: the random images of one instance needs ...; use an \
architecture with smaller inputs or fewer parameters (arch), or raise the limit ...
    >>> check_batch_memory(2.0**20, 2**40, "the random images")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kronconv.memory.MemoryLimitError: ... of 1099511627776 instances ...; use a smaller batch ...
    """
    check_memory(fixed + per_instance, f"{what} of one instance",
                 "use an architecture with smaller inputs or fewer parameters (arch)")
    check_memory(fixed + batch * per_instance, f"{what} of {batch} instances",
                 "use a smaller batch (batch)")


def forward_bytes(shapes: Sequence, N: int, dtype: np.dtype, keep: bool) -> int:
    """Bytes a forward pass of ``N`` instances through the convolutional layers ``shapes``
    (LayerShapes) allocates: the caches it keeps for a backward pass (``phi`` and ``S`` per
    layer, with ``keep``) plus the largest layer's temporaries (``phi``, ``S``, ``sigma(S)``).

    Examples
    --------
    >>> from kronconv import LayerShape
    >>> forward_bytes([LayerShape(a=4, b=4, d=1, d_out=2, h=3)], 10, np.float64, keep=False)
    4160
    """
    sizes = [(s.n_phi, s.n_S) for s in shapes] or [(0, 0)]
    kept = sum(n_phi + n_S for n_phi, n_S in sizes) if keep else 0
    return (kept + max(n_phi + 2 * n_S for n_phi, n_S in sizes)) * N * np.dtype(dtype).itemsize


def csr_bytes(rows: int, nnz: int, itemsize: int) -> int:
    """Bytes of a CSR matrix: values, column indices and row pointers (int64 beyond 2**31)."""
    index = 4 if max(rows, nnz) < 2**31 else 8
    return nnz * (itemsize + index) + (rows + 1) * index


# --- the operator cache --------------------------------------------------------------------


def _nbytes(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, tuple):
        return sum(_nbytes(v) for v in value)
    if hasattr(value, "data") and hasattr(value, "indices") and hasattr(value, "indptr"):
        return value.data.nbytes + value.indices.nbytes + value.indptr.nbytes
    return 0


class _OperatorCache:
    """A least-recently-used cache bounded by the bytes of its entries; thread-safe."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.RLock()

    def get(self, key: Any, build: Callable[[], Any]) -> Any:
        with self._lock:          # one build per key, even when threads ask at once
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key][0]
            value = build()
            size = _nbytes(value)
            if size <= self.max_bytes:
                self._entries[key] = (value, size)
                self._bytes += size
                self._evict()
            return value

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            if key in self._entries:
                self._bytes -= self._entries.pop(key)[1]
            size = _nbytes(value)
            if size <= self.max_bytes:
                self._entries[key] = (value, size)
                self._bytes += size
                self._evict()

    def _evict(self) -> None:
        while self._bytes > self.max_bytes and self._entries:
            _, (_, size) = self._entries.popitem(last=False)
            self._bytes -= size

    def clear(self, prefix: str | None = None) -> None:
        with self._lock:
            for key in [k for k in self._entries if prefix is None or k[0] == prefix]:
                self._bytes -= self._entries.pop(key)[1]

    def info(self) -> dict[str, int]:
        with self._lock:
            return {"entries": len(self._entries), "bytes": self._bytes,
                    "max_bytes": self.max_bytes}


_CACHE = _OperatorCache(512 * 2**20)


@validate_params({"nbytes": Bytes(0)})
def set_cache_limit(nbytes: int) -> None:
    """Bound the operator cache to ``nbytes`` (evicting the least recently used).

    Parameters
    ----------
    nbytes : int

    Returns
    -------
    None

    Examples
    --------
    >>> set_cache_limit(256 * 2**20); cache_info()["max_bytes"]
    268435456
    >>> set_cache_limit(512 * 2**20)
    """
    with _CACHE._lock:
        _CACHE.max_bytes = nbytes
        _CACHE._evict()


def clear_cache() -> None:
    """Forget every cached operator (the next build of each is a cold one).

    Examples
    --------
    >>> clear_cache(); cache_info()["entries"]
    0
    """
    _CACHE.clear()


def cache_info() -> dict[str, int]:
    """The operator cache's ``entries``, ``bytes`` and ``max_bytes``.

    Returns
    -------
    dict

    Examples
    --------
    >>> sorted(cache_info())
    ['bytes', 'entries', 'max_bytes']
    """
    return _CACHE.info()


def cached(fn: Callable) -> Callable:
    """Cache ``fn(*args)`` (hashable arguments) in the shared operator cache."""
    @functools.wraps(fn)
    def wrapper(*args):
        return _CACHE.get((fn.__qualname__, *args), lambda: fn(*args))

    wrapper.cache_clear = lambda: _CACHE.clear(fn.__qualname__)
    return wrapper


def cached_for_last(fn: Callable) -> Callable:
    """Cache ``fn(array, *args)`` for the last ``array`` (compared by value) given with each
    ``args``: one entry per ``args`` in the shared operator cache, replaced when the array
    changes. For operators that depend on the weights: built once per evaluation (and reused
    while the weights stay), not once per block of instances."""
    @functools.wraps(fn)
    def wrapper(array, *args):
        key = (fn.__qualname__, array.dtype.str, array.shape, *args)
        data = array.tobytes()
        stored, value = _CACHE.get(key, lambda: (data, fn(array, *args)))
        if stored != data:
            value = fn(array, *args)
            _CACHE.put(key, (data, value))
        return value

    wrapper.cache_clear = lambda: _CACHE.clear(fn.__qualname__)
    return wrapper
