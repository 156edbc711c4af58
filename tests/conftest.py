"""Shared fixtures: every layer and network test runs on both backends."""

import pytest

from kronconv import BACKENDS


@pytest.fixture(params=BACKENDS, scope="session")
def backend(request):
    """The backend a test runs on: the sparse operator chain or the dense fast path."""
    return request.param
