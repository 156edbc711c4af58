"""The installed package's version (``0+unknown`` in a source tree that is not installed)."""

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("kronconv")
except PackageNotFoundError:  # running from a source tree that is not installed
    VERSION = "0+unknown"
