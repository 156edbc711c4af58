"""pytest runs the examples in docs/*.rst (doctest); the docs' build files are not tests.

Tests marked ``slow`` (a few seconds to half a minute each: training runs, subprocesses)
are skipped by default; ``--run-slow`` runs them, and so does CI (the environment variable
``CI`` is ``true``), which runs the README's plain ``pytest`` command.
"""

from __future__ import annotations

import os

import pytest

collect_ignore = ["docs/conf.py", "docs/_ext"]
collect_ignore_glob = ["docs/_build/*", "docs/_generated/*", "docs/_autosummary/*",
                       "docs/_templates/*"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run the tests marked slow (always run when CI=true)")


def run_slow(config: pytest.Config) -> bool:
    """Whether the slow tests run: ``--run-slow``, or CI (``CI=true``)."""
    return config.getoption("--run-slow") or os.environ.get("CI", "").lower() == "true"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if run_slow(config):
        return
    skip = pytest.mark.skip(reason="slow: skipped by default; run with --run-slow "
                                   "(CI=true runs it too)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
