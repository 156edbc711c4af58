"""Shared fixtures: every layer and network test runs on both backends."""

import pytest

from kronconv import BACKENDS


@pytest.fixture(params=BACKENDS, scope="session")
def backend(request):
    """The backend a test runs on: the sparse operator chain or the dense fast path."""
    return request.param


@pytest.fixture
def memory_limit():
    """kronconv's memory limit, set for one test (``memory_limit(nbytes)``) and restored."""
    import kronconv

    old = kronconv.get_memory_limit()
    yield kronconv.set_memory_limit
    kronconv.set_memory_limit(old)
