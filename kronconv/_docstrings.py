"""Docstring sections that many public functions share, written once (as SciPy's ``doccer``).

A docstring names a section on a line of its own, ``%(raises_layer)s``, indented as the
section is to be; :func:`fill_docstrings`, called at the end of the module, puts the text in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["SECTIONS", "fill", "fill_docstrings"]

_MEMORY = """~kronconv.MemoryLimitError
    If the pass would exceed the memory limit, before allocating."""

#: The shared sections by name (their lines unindented).
SECTIONS = {
    # the equations of one layer (kronconv.layer)
    "raises_layer": """ValueError
    If an array's shape does not fit ``shape`` (or the cache), an array is not finite, or
    ``form``/``backend`` is unknown.
TypeError
    If an array is not real floating point, the arrays' dtypes differ, or ``shape``
    (``cache``) is not a LayerShape (a LayerCache).
""" + _MEMORY,
    # a network on a batch: its outputs, f, the gradient, Jacobian and Gauss-Newton products
    "raises_network": """ValueError
    If an array does not fit ``arch`` (or the other arrays), is not finite, or a name
    (``backend``, ``loss``, ``form``: those the function takes) is unknown, or a size is < 1.
TypeError
    If an array is not real floating point, ``theta`` and ``Z`` differ in dtype, or
    ``arch`` is not an Architecture.
""" + _MEMORY,
    # the operators of one layer (kronconv.operators)
    "raises_operator": """TypeError
    If ``shape`` is not a LayerShape or ``dtype`` is not float32 or float64 (an array is
    not real floating point).
ValueError
    If an array does not fit ``shape``, or is not finite.
~kronconv.MemoryLimitError
    If the operator would exceed the memory limit, before it is built.""",
    # the two Kronecker identities of one product A B (kronconv.identities)
    "raises_identity": """ValueError
    If ``A`` or ``B`` is not a matrix, their inner sizes differ, or they are not finite.
TypeError
    If ``A`` or ``B`` is not real floating point.""",
    # the layout converters of one array ``x`` (kronconv.layout)
    "raises_layout": """ValueError
    If ``x`` does not have the dimensions given above.
TypeError
    If ``x`` is not an array of real numbers.""",
    # the layout converters of a batch with sizes (kronconv.layout)
    "raises_layout_sizes": """ValueError
    If an array does not have the shape given above, or a size is < 1.
TypeError
    If an array is not of real numbers, or a size is not an integer.""",
}

_PLACE = re.compile(r"^( *)%\((\w+)\)s$", re.MULTILINE)


def fill(doc: str | None) -> str | None:
    """``doc`` with every ``%(name)s`` line replaced by the section, indented as the line.

    Examples
    --------
    >>> print(fill("Raises\\n------\\n    %(raises_layout)s").splitlines()[2])
        ValueError
    """
    if doc is None:
        return None

    def section(match: re.Match) -> str:
        indent, name = match.groups()
        return "\n".join(indent + line if line else line
                         for line in SECTIONS[name].splitlines())

    return _PLACE.sub(section, doc)


def fill_docstrings(namespace: dict[str, Any]) -> None:
    """Fill the docstrings of the functions (and the classes' methods) a module defines."""
    module = namespace["__name__"]
    for obj in list(namespace.values()):
        targets: list[Callable] = [obj] if callable(obj) else []
        if isinstance(obj, type):
            targets += [m for m in vars(obj).values() if callable(m)]
        for target in targets:
            if getattr(target, "__module__", None) == module and target.__doc__:
                target.__doc__ = fill(target.__doc__)
