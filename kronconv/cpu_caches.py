"""The CPU's cache sizes, from which the dense path sizes its blocks of instances.

The dense path runs a whole forward and backward pass per block; its passes over ``phi``,
``S`` and their gradients run fastest when a block's arrays stay near the core. The size of
a block therefore follows the machine's per-core (L2) cache, read from Linux's sysfs
(``/sys/devices/system/cpu/cpu0/cache/index*/{level,type,size}``), else from
``os.sysconf``, else :data:`FALLBACK_BLOCK_BYTES`; ``KRONCONV_BLOCK_BYTES`` (a number of
bytes) overrides it, and ``chunk_size`` overrides both for one call.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from .memory import environment_bytes

__all__ = ["FALLBACK_BLOCK_BYTES", "L2_MULTIPLE", "block_bytes", "cache_sizes"]

SYSFS = Path("/sys/devices/system/cpu/cpu0/cache")

#: The bytes of a dense block's largest ``phi`` when the caches cannot be read (tuned on a
#: 2-core AMD EPYC with 512 KiB of L2 per core).
FALLBACK_BLOCK_BYTES = 8 * 2**20

#: A dense block's largest ``phi`` in multiples of the L2 cache (measured with
#: ``kronconv bench`` on cifar10-3layer, see the performance guide).
L2_MULTIPLE = 4

_SYSCONF = {1: "SC_LEVEL1_DCACHE_SIZE", 2: "SC_LEVEL2_CACHE_SIZE", 3: "SC_LEVEL3_CACHE_SIZE"}
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30}


def _size(text: str) -> int | None:
    """``"2048K"`` -> 2097152; ``None`` for anything else."""
    text = text.strip().upper()
    unit = text[-1:] if text[-1:] in _UNITS else ""
    number = text[:len(text) - len(unit)]
    return int(number) * _UNITS[unit] if number.isdigit() and int(number) > 0 else None


def _from_sysfs(root: Path) -> dict[int, int]:
    sizes = {}
    for index in sorted(root.glob("index*")):
        try:
            kind = (index / "type").read_text().strip()
            level = int((index / "level").read_text())
            size = _size((index / "size").read_text())
        except (OSError, ValueError):
            continue
        if kind in ("Data", "Unified") and size is not None:
            sizes[level] = size
    return sizes


def _from_sysconf() -> dict[int, int]:
    sizes = {}
    for level, name in _SYSCONF.items():
        try:
            size = os.sysconf(name)
        except (ValueError, OSError, AttributeError):
            continue
        if size > 0:
            sizes[level] = size
    return sizes


def cache_sizes(root: str | os.PathLike = SYSFS) -> dict[int, int]:
    """The data (or unified) cache of every level of CPU 0, in bytes, by level.

    From sysfs under ``root``; from ``os.sysconf`` when that gives nothing; ``{}`` when
    neither does. Read once per ``root``.

    Examples
    --------
    >>> sizes = cache_sizes()
    >>> all(isinstance(level, int) and size > 0 for level, size in sizes.items())
    True
    """
    return dict(_read(str(root)))


@functools.lru_cache(maxsize=8)
def _read(root: str) -> tuple[tuple[int, int], ...]:
    return tuple((_from_sysfs(Path(root)) or _from_sysconf()).items())


def block_bytes(root: str | os.PathLike = SYSFS) -> int:
    """The bytes of a dense block's largest ``phi``: ``KRONCONV_BLOCK_BYTES`` if set, else
    :data:`L2_MULTIPLE` times the L2 cache, else :data:`FALLBACK_BLOCK_BYTES`.

    Raises
    ------
    ValueError
        If ``KRONCONV_BLOCK_BYTES`` is set and not a whole number of bytes >= 1.
    """
    nbytes = environment_bytes("KRONCONV_BLOCK_BYTES", "8e6")
    if nbytes is not None:
        return nbytes
    l2 = cache_sizes(root).get(2)
    return L2_MULTIPLE * l2 if l2 else FALLBACK_BLOCK_BYTES
