"""pytest runs the examples in docs/*.rst (doctest); the docs' build files are not tests."""

collect_ignore = ["docs/conf.py", "docs/_ext"]
collect_ignore_glob = ["docs/_build/*", "docs/_generated/*", "docs/_autosummary/*",
                       "docs/_templates/*"]
