"""The memory guard in tests: what a refused allocation says, and what was traced meanwhile."""

from __future__ import annotations

import tracemalloc

import kronconv as kc


def refused_with_peak(build) -> tuple[str, int]:
    """The MemoryLimitError message of ``build()`` and the peak memory traced meanwhile."""
    tracemalloc.start()
    try:
        build()
    except kc.MemoryLimitError as exc:
        return str(exc), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    raise AssertionError("the allocation was not refused")
