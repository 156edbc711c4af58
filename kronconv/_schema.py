"""The whole content of kronconv's files, checked before use: declared once, one message form.

A reader declares what its file holds as data: the JSON fields of its ``meta`` (:class:`Field`:
a dotted name, the JSON types allowed and a test of the value) and its arrays
(:class:`ArraySpec`: a name, the shape that follows from the architecture, the dtypes allowed,
finiteness and a range of values). :func:`check_fields` and :func:`check_arrays` hold a file
to its declaration and raise ``ValueError`` naming the file and the field::

    model.npz: options.backend: expected one of ('sparse', 'dense'), got 3

:func:`read_npz` reads every array of an ``.npz`` without unpickling and without trusting its
headers: an array whose header announces more (or less) data than the file holds is refused
before anything is allocated.
"""

from __future__ import annotations

import json
import math
import reprlib
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

_NULL = type(None)
_SHORT = reprlib.Repr()
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlevel = 60, 60, 3


def short(value: object) -> str:
    """``repr(value)``, cut short (and safe for deeply nested values), for a message."""
    return _SHORT.repr(value)


# -- JSON fields -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Field:
    """One JSON field of a file's ``meta``.

    Parameters
    ----------
    name : str
        Dotted path from the top of ``meta``: ``"options.backend"``. A field's parent object
        is declared before it.
    types : tuple of type
        The JSON types allowed (``dict``, ``list``, ``str``, ``int``, ``float``, ``bool``,
        ``NoneType``); an integer is a number, ``true`` and ``false`` are not.
    expected : str
        What the field must hold, for the message: ``"one of ('sparse', 'dense')"``.
    test : callable, optional
        ``test(value) -> bool`` for a value of an allowed type other than null.
    required : bool, default True
        When False, the field may be absent (it is checked when present).
    """

    name: str
    types: tuple[type, ...]
    expected: str
    test: Callable[[Any], bool] | None = None
    required: bool = True

    def accepts(self, value: object) -> bool:
        """Whether ``value`` is of an allowed type and passes the test."""
        if isinstance(value, bool):
            typed = bool in self.types
        elif isinstance(value, int):
            typed = int in self.types or float in self.types
        else:
            typed = isinstance(value, self.types)
        return typed and (self.test is None or value is None or bool(self.test(value)))


def _nullable(types: tuple[type, ...], expected: str, nullable: bool
              ) -> tuple[tuple[type, ...], str]:
    return ((*types, _NULL), f"{expected} or null") if nullable else (types, expected)


def one_of(name: str, values: tuple[str, ...], *, required: bool = True) -> Field:
    """A name from ``values``."""
    return Field(name, (str,), f"one of {values}", lambda v: v in values, required)


def integer(name: str, minimum: int, *, nullable: bool = False, required: bool = True) -> Field:
    """An integer ``>= minimum`` (or null when ``nullable``)."""
    types, expected = _nullable((int,), f"an integer >= {minimum}", nullable)
    return Field(name, types, expected, lambda v: v >= minimum, required)


def number(name: str, expected: str, test: Callable[[float], bool], *, nullable: bool = False,
           required: bool = True) -> Field:
    """A number (NaN is refused by any ``test`` written as a comparison)."""
    types, expected = _nullable((float,), expected, nullable)
    return Field(name, types, expected, test, required)


def string(name: str, *, nullable: bool = False, required: bool = True) -> Field:
    """A string (or null when ``nullable``)."""
    types, expected = _nullable((str,), "a string", nullable)
    return Field(name, types, expected, None, required)


def mapping(name: str, *, required: bool = True) -> Field:
    """A JSON object."""
    return Field(name, (dict,), "an object", None, required)


def field_error(file: object, name: str, message: str) -> ValueError:
    """The one form of a content error: ``"FILE: FIELD: message"``."""
    return ValueError(f"{file}: {name}: {message}")


def decode_meta(file: object, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """The JSON object in the 0-d string array ``meta`` of a kronconv ``.npz``."""
    if "meta" not in arrays:
        raise field_error(file, "meta", "missing array (a 0-d string holding JSON)")
    meta = arrays["meta"]
    if meta.shape != () or meta.dtype.kind != "U":
        raise field_error(file, "meta", f"expected a 0-d string array holding JSON, got "
                          f"{meta.dtype} of shape {meta.shape}")
    try:
        value = json.loads(str(meta))
    except (ValueError, RecursionError) as exc:
        raise field_error(file, "meta", f"not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise field_error(file, "meta", f"expected a JSON object, got {short(value)}")
    return value


def check_fields(meta: dict[str, Any], fields: Sequence[Field], file: object) -> None:
    """Raise ``ValueError`` naming ``file`` and the field at the first field of ``meta`` that is
    missing (when required) or not what its :class:`Field` expects."""
    for field in fields:
        parent, _, key = field.name.rpartition(".")
        container = meta
        for part in parent.split(".") if parent else ():
            container = container.get(part)
        if container is None:                 # an optional parent that is absent
            continue
        if key not in container:
            if field.required:
                raise field_error(file, field.name, f"missing (expected {field.expected})")
            continue
        if not field.accepts(container[key]):
            raise field_error(file, field.name,
                              f"expected {field.expected}, got {short(container[key])}")


# -- arrays ------------------------------------------------------------------------------------

_KINDS = {"b": "bool", "i": "integer", "u": "unsigned integer", "f": "float"}


@dataclass(frozen=True)
class ArraySpec:
    """One array of a file.

    Parameters
    ----------
    name : str
    shape : tuple of int or None
        The shape; ``None`` for a size that may be anything >= 1.
    meaning : str
        The shape in symbols, for the message: ``"(n_params,)"``.
    dtypes : tuple of numpy.dtype, or str
        The dtypes allowed, or the dtype kinds allowed (``"iu"``: any integer type).
    finite : bool, default True
        Float values must be finite.
    integral : bool, default False
        Float values must be whole numbers (class labels stored as floats).
    low, high : float, optional
        Values must lie in ``[low, high)``.
    required : bool, default True
    """

    name: str
    shape: tuple[int | None, ...]
    meaning: str
    dtypes: tuple[np.dtype, ...] | str
    finite: bool = True
    integral: bool = False
    low: float | None = None
    high: float | None = None
    required: bool = True

    def dtype_text(self) -> str:
        """The dtypes allowed, in words: ``"dtype float64"``, ``"an integer dtype"``."""
        if isinstance(self.dtypes, str):
            *others, last = (_KINDS[k] for k in self.dtypes)
            text = f"{', '.join(others)}{' or ' if others else ''}{last} dtype"
            return ("an " if text[0] in "aeiou" else "a ") + text
        return "dtype " + " or ".join(str(d) for d in self.dtypes)

    def shape_text(self) -> str:
        """The shape, in symbols and numbers: ``"shape (n_params,) = (3658,)"``."""
        if None in self.shape:
            return f"shape {self.meaning}"
        return f"shape {self.meaning} = {self.shape}"

    def check(self, array: np.ndarray, file: object) -> None:
        """Raise ``ValueError`` naming ``file`` and the array unless ``array`` fits."""
        allowed = (array.dtype.kind in self.dtypes if isinstance(self.dtypes, str)
                   else array.dtype in self.dtypes)
        if not allowed:
            raise field_error(file, self.name, f"expected {self.dtype_text()}, got "
                              f"dtype {array.dtype}")
        if array.ndim != len(self.shape) or any(
                size < 1 if want is None else size != want
                for size, want in zip(array.shape, self.shape, strict=False)):
            raise field_error(file, self.name, f"expected {self.shape_text()}, got "
                              f"shape {array.shape}")
        if array.dtype.kind == "f":
            if self.finite:
                _first(array, ~np.isfinite(array), file, self.name, "finite values")
            if self.integral:
                _first(array, np.isfinite(array) & (array != np.round(array)), file, self.name,
                       "whole numbers (class labels)")
        if self.low is not None or self.high is not None:
            low = -np.inf if self.low is None else self.low
            high = np.inf if self.high is None else self.high
            expected = (f"values >= {low:.10g}" if self.high is None
                        else f"values in [{low:.10g}, {high:.10g})")
            _first(array, (array < low) | (array >= high), file, self.name, expected)


def _first(array: np.ndarray, bad: np.ndarray, file: object, name: str, expected: str) -> None:
    """Raise at the first ``True`` of ``bad``, showing the value there as it is stored."""
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise field_error(file, name, f"holds {array[index].item()!r} at index {index}, expected "
                          f"{expected}")


def check_arrays(arrays: dict[str, np.ndarray], specs: Sequence[ArraySpec], file: object,
                 what: str | None = None) -> None:
    """Check every array of ``specs`` in ``arrays``.

    ``what`` names the kind of file whose arrays are exactly ``specs`` (and ``meta``): any
    other array is an error. Without it, other arrays may be there.
    """
    if what is not None:
        declared = {spec.name for spec in specs} | {"meta"}
        unknown = [name for name in arrays if name not in declared]
        if unknown:
            raise field_error(file, unknown[0], f"unexpected array: not part of {what}")
    for spec in specs:
        if spec.name in arrays:
            spec.check(arrays[spec.name], file)
        elif spec.required:
            raise field_error(file, spec.name, f"missing array (expected {spec.shape_text()}, "
                              f"{spec.dtype_text()})")


# -- reading -----------------------------------------------------------------------------------

def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    """One ``.npy`` member, its header checked against its size before the data is read."""
    name = info.filename
    if not name.endswith(".npy"):
        raise ValueError(f"member {name!r} is not a .npy array")
    fmt = np.lib.format
    with zf.open(info) as fp:
        version = fmt.read_magic(fp)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"{name}: .npy format version {version} (1.0 and 2.0 are read)")
        reader = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, _, dtype = reader(fp)
        if dtype.hasobject or dtype.names is not None:
            raise ValueError(f"{name}: dtype {dtype} holds Python objects or records, not "
                             "numbers")
        expected = math.prod(shape) * dtype.itemsize
        held = info.file_size - fp.tell()
    if held != expected:
        raise ValueError(f"{name}: its header announces shape {shape} of {dtype} "
                         f"({expected} bytes), the file holds {held} bytes")
    with zf.open(info) as fp:
        return fmt.read_array(fp, allow_pickle=False)


def read_npz(path: str | Path, what: str) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` at ``path`` by name (``"x.npy"`` gives ``"x"``).

    Raises
    ------
    ValueError
        ``"PATH: not a readable WHAT (...)"`` for a missing, unreadable, truncated or
        corrupted file, a member that is not a ``.npy`` array of numbers, or an array whose
        header disagrees with its size.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            return {info.filename.removesuffix(".npy"): _read_member(zf, info)
                    for info in zf.infolist()}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error,
            NotImplementedError, RuntimeError) as exc:
        raise ValueError(f"{path}: not a readable {what} ({exc})") from None
