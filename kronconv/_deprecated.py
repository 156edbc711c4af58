"""Names that moved in 0.2 (one home per equation), kept as deprecated aliases for a release."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable


def moved(module: str, names: dict[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` that serves each old name from ``names[old] = "module:new"``
    with a ``DeprecationWarning`` saying where it lives now."""

    def __getattr__(name: str) -> object:
        if name not in names:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        where, new = names[name].split(":")
        warnings.warn(f"{module}.{name} is deprecated: use kronconv.{where}.{new}",
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(f"kronconv.{where}"), new)

    return __getattr__
