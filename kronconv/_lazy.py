"""Lazy public names: ``import kronconv`` imports no submodule until one of its names is used.

The names and the module each comes from are declared once, in ``kronconv/__init__.pyi`` (the
stub type checkers read), the way SciPy's and scikit-image's ``lazy_loader`` stubs do. The
command line relies on it: ``kronconv`` starts in milliseconds, so that a Ctrl-C while NumPy and
SciPy load reaches its error path (one line, exit 130) rather than the interpreter's traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from functools import cache

from ._deprecated import moved


@cache
def stub_names(stub: str) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """Read a stub's ``from .module import name`` lines and its ``__all__`` (once).

    The stub is parsed on the first use of a name, not at import: ``ast`` alone takes longer
    to import than the rest of the package's start.

    Returns
    -------
    origin : dict
        Each public name -> (the submodule it comes from, relative without the dot, and the
        name there: ``from ._version import VERSION as __version__`` gives ``__version__``).
    names : list of str
        The stub's ``__all__``.
    """
    import ast

    with open(stub, encoding="utf-8") as file:
        tree = ast.parse(file.read(), filename=stub)
    origin = {alias.asname or alias.name: (node.module, alias.name)
              for node in tree.body if isinstance(node, ast.ImportFrom) and node.level == 1
              for alias in node.names}
    names = next(ast.literal_eval(node.value) for node in tree.body
                 if isinstance(node, ast.Assign)
                 and any(getattr(t, "id", None) == "__all__" for t in node.targets))
    missing = sorted(set(names) - set(origin))
    if missing:
        raise ImportError(f"{stub}: __all__ names {missing} that no import line gives")
    return origin, names


def attach(package: str, init_file: str, renamed: dict[str, str]
           ) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package whose names (``__all__`` too) load lazily.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    init_file : str
        Its ``__file__``; the stub ``__init__.pyi`` beside it declares the names.
    renamed : dict
        Deprecated names, served as by :func:`kronconv._deprecated.moved`.
    """
    stub = init_file.removesuffix(".py") + ".pyi"
    deprecated = moved(package, renamed)

    def __getattr__(name: str) -> object:
        origin, names = stub_names(stub)
        if name == "__all__":
            value: object = names
        elif name in origin:
            where, attribute = origin[name]
            value = getattr(importlib.import_module(f".{where}", package), attribute)
        elif importlib.util.find_spec(f"{package}.{name}") is not None:
            value = importlib.import_module(f"{package}.{name}")    # kronconv.layer and the like
        else:
            return deprecated(name)
        setattr(sys.modules[package], name, value)                # once: later lookups are direct
        return value

    def __dir__() -> list[str]:
        return sorted({*stub_names(stub)[1], *sys.modules[package].__dict__})

    return __getattr__, __dir__
