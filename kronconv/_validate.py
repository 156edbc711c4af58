"""Argument checks shared by the public functions: constraints declared once, one message each.

Every public function declares the constraint of each argument with :func:`validate_params`
(in the spirit of scikit-learn's ``_parameter_constraints``); the constraints are checked, in
the order declared, before the function's body runs, and every error names the argument and
what is allowed. One class per kind of argument:

- :class:`Integer` and :class:`Real`: sizes, seeds, counts, constants, with their range;
- :class:`Options`: a name among a fixed set (backend, form, loss, activation ...);
- :class:`Array`: an array of a given number of dimensions, real floating point (or any real
  numbers for the layout converters), finite unless :func:`~kronconv.set_check_finite` says
  otherwise;
- :class:`Labels`: integer class labels;
- :class:`DType`, :class:`InstanceOf`, :class:`IsCallable`, :class:`Boolean`,
  :class:`SequenceOf`, and :class:`Optional` (``None`` or another constraint).

Each constraint also lists values that break it (:meth:`Constraint.invalid`): the bad-input
tests are generated from the declarations. Shapes that depend on other arguments (a
:class:`~kronconv.LayerShape`, an :class:`~kronconv.Architecture`) are checked in the
function with ``check_shape`` and ``batch_size``.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

F = TypeVar("F", bound=Callable[..., Any])

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


# --- the checks behind the constraints, one message template each ------------------------------


def check_int(value: object, name: str, minimum: int, maximum: int | None = None) -> int:
    """Return ``value`` as an ``int`` if it is an integer in ``[minimum, maximum]``, else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} of type {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return int(value)


def require_ndim(A: np.ndarray, ndim: int, name: str, expected: str) -> None:
    """Raise ``ValueError`` unless ``A`` has ``ndim`` dimensions."""
    if A.ndim != ndim:
        raise ValueError(f"{name} must have shape {expected}, got shape {A.shape}")


def as_array(x: object, name: str) -> np.ndarray:
    """``np.asarray(x)``, with an error that names ``name`` for a ragged sequence."""
    try:
        return np.asarray(x)
    except ValueError as exc:            # a ragged nested sequence
        raise ValueError(f"{name} must be an array (nested sequences of equal lengths): "
                         f"{exc}") from None


def as_float_array(x: object, name: str, dtype: np.dtype | None = None) -> np.ndarray:
    """``x`` as a float32/float64 array (integers become float64, or ``dtype`` if given).

    Complex, object, string and other floating types (float16, longdouble) are refused
    with a ``TypeError``: kronconv computes in float32 or float64 only.
    """
    arr = as_array(x, name)
    kind = arr.dtype.kind
    if kind in "iub":
        return cast(arr, np.dtype(dtype or np.float64), name)
    if arr.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be a float32 or float64 array, got dtype {arr.dtype}")
    if dtype is not None and arr.dtype != dtype:
        raise TypeError(f"{name} must have dtype {np.dtype(dtype)} like the other inputs, "
                        f"got dtype {arr.dtype}")
    return arr


def cast(arr: np.ndarray, dtype: np.dtype, name: str) -> np.ndarray:
    """``arr`` in ``dtype``, refused by the memory guard before the copy is allocated."""
    if arr.dtype == dtype:
        return arr
    from .memory import check_memory  # not at the top: memory declares its settings with us

    check_memory(arr.size * dtype.itemsize, f"{name} converted to {dtype}",
                 f"pass {name} as a {dtype} array")
    return arr.astype(dtype)


def check_shape(A: np.ndarray, expected: tuple[int, ...], name: str, meaning: str) -> None:
    """Raise ``ValueError`` unless ``A.shape == expected``; ``meaning`` spells the symbols."""
    if A.shape != expected:
        raise ValueError(f"{name} must have shape {meaning} = {expected}, got shape {A.shape}")


def batch_size(M: np.ndarray, rows: int, cols_per_instance: int, name: str,
               expected: str) -> int:
    """The batch size N of ``M`` of shape (rows, cols_per_instance*N), N >= 1, else raise."""
    require_ndim(M, 2, name, expected)
    if M.shape[0] != rows or M.shape[1] == 0 or M.shape[1] % cols_per_instance:
        raise ValueError(
            f"{name} must have shape {expected} = ({rows}, {cols_per_instance}*N) with N >= 1, "
            f"got shape {M.shape}"
        )
    return M.shape[1] // cols_per_instance


_CHECK_FINITE = {"on": True}


def _distinct(A: np.ndarray) -> np.ndarray:
    """``A`` without the repetitions of a broadcast view: every axis of stride 0 cut to length
    1 (``A`` is finite exactly when this is, and its first non-finite entry has the same
    index)."""
    return A[tuple(slice(0, 1) if s == 0 and n > 1 else slice(None)
                   for s, n in zip(A.strides, A.shape, strict=True))]


def require_finite(A: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` at the first NaN or infinity of ``A`` (unless switched off).

    A broadcast view is checked on its distinct entries, and the temporary the check needs
    is refused by the memory guard before it is allocated.
    """
    if not _CHECK_FINITE["on"] or not A.size or A.dtype.kind not in "fc":
        return
    A = _distinct(A)
    from .memory import check_memory

    check_memory(A.size, f"checking that {name} is finite",
                 "skip the check with kronconv.set_check_finite(False)")
    finite = np.isfinite(A)
    if not finite.all():
        index = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise ValueError(f"{name} contains {A[index]} at index {index}: kronconv needs finite "
                         "inputs and parameters (kronconv.set_check_finite(False) skips this "
                         "check)")


class Overflow(FloatingPointError):
    """A computed result that is not finite: ``what`` overflowed, and ``advice`` on what to do
    (a caller that knows the cause better, an optimizer's step, raises ``Overflow(err.what,
    its own advice)``)."""

    def __init__(self, what: str, advice: str) -> None:
        super().__init__(f"{what}; {advice}")
        self.what = what


def require_finite_result(value: np.ndarray, name: str) -> None:
    """Raise :class:`Overflow` if a computed result overflowed (NaN or infinity)."""
    if not np.isfinite(value).all():
        info = np.finfo(value.dtype)
        advice = "use float64, or smaller" if value.dtype == np.float32 else "use smaller"
        raise Overflow(f"{name} is not finite in {value.dtype}: the network overflowed "
                       f"({value.dtype} holds magnitudes up to {info.max:.1e})",
                       f"{advice} weights or inputs")


# --- constraints ---------------------------------------------------------------------------------


class Constraint:
    """One kind of argument: what it allows, how it is checked, and values that break it."""

    #: What the constraint allows, as the error messages say it ("an integer >= 1").
    description = "a valid value"

    def check(self, value: object, name: str) -> Any:
        """``value`` checked (and converted) for the argument ``name``; raise
        ``TypeError`` (wrong kind) or ``ValueError`` (wrong value), naming ``name``."""
        raise NotImplementedError

    def invalid(self, valid: object) -> list[tuple[object, type[Exception]]]:
        """Values that break the constraint and the error each must raise; ``valid`` is a
        value that satisfies it, for the constraints that derive their bad values from one."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.description}>"


class Integer(Constraint):
    """An integer (not a bool) in ``[minimum, maximum]``."""

    def __init__(self, minimum: int, maximum: int | None = None) -> None:
        self.minimum, self.maximum = minimum, maximum
        self.description = (f"an integer >= {minimum}" if maximum is None
                            else f"an integer in [{minimum}, {maximum}]")

    def check(self, value: object, name: str) -> int:
        return check_int(value, name, self.minimum, self.maximum)

    def invalid(self, valid: object) -> list[tuple[object, type[Exception]]]:
        bad = [(self.minimum + 0.5, TypeError), (True, TypeError), ("1", TypeError),
               (None, TypeError), (self.minimum - 1, ValueError)]
        return bad + ([(self.maximum + 1, ValueError)] if self.maximum is not None else [])


class Real(Constraint):
    """A real number (not a bool) ``> minimum``; infinity only with ``allow_inf``; ``note``
    says what a value means in the message for one out of range."""

    def __init__(self, minimum: float, allow_inf: bool = False, note: str = "") -> None:
        self.minimum, self.allow_inf = minimum, allow_inf
        self.note = f" ({note})" if note else ""
        self.description = ("a positive number" if minimum == 0 else f"a number > {minimum}") + (
            " or inf" if allow_inf else "")

    def check(self, value: object, name: str) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be {self.description}, got {value!r}")
        if not value > self.minimum:                            # NaN included
            raise ValueError(f"{name} must be > {self.minimum}{self.note}, got {value}")
        if math.isinf(value) and not self.allow_inf:
            raise ValueError(f"{name} must be finite, got {value}")
        return float(value)

    def invalid(self, valid: object) -> list[tuple[object, type[Exception]]]:
        bad = [("1", TypeError), (1j, TypeError), (True, TypeError), (None, TypeError),
               (math.nan, ValueError), (self.minimum, ValueError), (-math.inf, ValueError)]
        return bad + ([] if self.allow_inf else [(math.inf, ValueError)])


class Options(Constraint):
    """A name among ``options``, or (with ``instance_of``) an instance of that class."""

    def __init__(self, options: Sequence[str], instance_of: type | None = None) -> None:
        self.options, self.instance_of = tuple(options), instance_of
        self.description = (f"one of {self.options}" if instance_of is None else
                            f"an {instance_of.__name__} or one of {self.options}")

    def check(self, value: object, name: str) -> Any:
        if self.instance_of is not None and isinstance(value, self.instance_of):
            return value
        if not isinstance(value, str):
            raise TypeError(f"{name} must be {self.description}, got {value!r} of type "
                            f"{type(value).__name__}")
        if value not in self.options:
            raise ValueError(f"{name} must be {self.description}, got {value!r}")
        return value

    def invalid(self, valid: object) -> list[tuple[object, type[Exception]]]:
        return [("no such name", ValueError), (self.options[0].upper() + "!", ValueError),
                (1, TypeError), (None, TypeError), (list(self.options[:1]), TypeError)]


class InstanceOf(Constraint):
    """An instance of ``cls``, described as ``description`` in the messages."""

    def __init__(self, cls: type | tuple[type, ...], description: str) -> None:
        self.cls, self.description = cls, description

    def check(self, value: object, name: str) -> Any:
        if not isinstance(value, self.cls):
            raise TypeError(f"{name} must be {self.description}, got {type(value).__name__}")
        return value

    def invalid(self, valid: object) -> list[tuple[object, type[Exception]]]:
        bad = ["text", None, object(), 3]
        return [(v, TypeError) for v in bad if not isinstance(v, self.cls)]


class IsCallable(Constraint):
    """A function (anything callable)."""

    description = "a callable"

    def check(self, value: object, name: str) -> Callable:
        if not callable(value):
            raise TypeError(f"{name} must be a callable, got {value!r} of type "
                            f"{type(value).__name__}")
        return value

    def invalid(self, valid: object) -> list[tuple[object, type[Exception]]]:
        return [("f", TypeError), (None, TypeError), (3.0, TypeError)]


class Boolean(Constraint):
    """``True`` or ``False`` (numpy's bool too)."""

    description = "True or False"

    def check(self, value: object, name: str) -> bool:
        if not isinstance(value, bool | np.bool_):
            raise TypeError(f"{name} must be True or False, got {value!r}")
        return bool(value)

    def invalid(self, valid: object) -> list[tuple[object, type[Exception]]]:
        return [("no", TypeError), (0, TypeError), (None, TypeError)]


class DType(Constraint):
    """float32 or float64, given as anything ``numpy.dtype`` reads; returns the dtype."""

    description = "float32 or float64"

    def check(self, value: object, name: str) -> np.dtype:
        try:
            dt = None if value is None else np.dtype(value)    # np.dtype(None) is float64
        except TypeError:
            dt = None
        if dt is None or dt not in FLOAT_DTYPES:
            raise TypeError(f"{name} must be float32 or float64, got "
                            f"{dt if dt is not None else repr(value)}")
        return dt

    def invalid(self, valid: object) -> list[tuple[object, type[Exception]]]:
        return [(np.int32, TypeError), ("float16", TypeError), ("no such dtype", TypeError),
                (None, TypeError), (np.complex128, TypeError)]


class Bytes(Constraint):
    """A whole number of bytes ``>= minimum``: an integer, or a float with a whole value
    (``4e9``, as ``KRONCONV_MEMORY_LIMIT`` takes it)."""

    def __init__(self, minimum: int) -> None:
        self.minimum = minimum
        self.description = f"a whole number of bytes >= {minimum} (such as 4e9)"

    def check(self, value: object, name: str) -> int:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be {self.description}, got {value!r}")
        if not (math.isfinite(value) and value == int(value) and value >= self.minimum):
            raise ValueError(f"{name} must be {self.description}, got {value!r}")
        return int(value)

    def invalid(self, valid: object) -> list[tuple[object, type[Exception]]]:
        return [("1", TypeError), (True, TypeError), (None, TypeError), (1j, TypeError),
                (self.minimum - 1, ValueError), (self.minimum + 0.5, ValueError),
                (math.nan, ValueError), (math.inf, ValueError)]


class Optional(Constraint):
    """``None``, or a value that satisfies ``constraint``."""

    def __init__(self, constraint: Constraint) -> None:
        self.constraint = constraint
        self.description = f"None or {constraint.description}"

    def check(self, value: object, name: str) -> Any:
        return None if value is None else self.constraint.check(value, name)

    def invalid(self, valid: object) -> list[tuple[object, type[Exception]]]:
        return [(v, e) for v, e in self.constraint.invalid(valid) if v is not None]


class SequenceOf(Constraint):
    """A list or tuple of at least one item, each satisfying ``item``."""

    def __init__(self, item: Constraint) -> None:
        self.item = item
        self.description = f"a list or tuple of {item.description}"

    def check(self, value: object, name: str) -> tuple:
        if not isinstance(value, list | tuple):
            raise TypeError(f"{name} must be {self.description}, got {value!r}")
        if not value:
            raise ValueError(f"{name} must hold at least one item, got {value!r}")
        return tuple(self.item.check(v, f"{name}[{i}]") for i, v in enumerate(value))

    def invalid(self, valid: object) -> list[tuple[object, type[Exception]]]:
        first = valid[0] if isinstance(valid, list | tuple) and valid else None
        return [((), ValueError), ("text", TypeError), (None, TypeError)] + [
            ((v,), e) for v, e in self.item.invalid(first)]


class Array(Constraint):
    """An array with the dimensions of ``shape`` (e.g. ``"(d, a*b*N)"``: 2).

    ``kind="float"``: real floating point, float32 or float64 (integers and booleans are
    accepted and converted by :func:`validate_params`, to the dtype of the other arrays of
    ``same_dtype`` or to float64). ``kind="real"``: any real numbers, kept as they are (the
    layout converters). Complex, string and object arrays are refused with a ``TypeError``;
    with ``finite``, NaN and infinities with a ``ValueError`` (see
    :func:`~kronconv.set_check_finite`). A floating array that is not C-contiguous is copied
    into C order (the memory guard first), so the results never depend on the argument's
    memory layout.
    ``ndim`` overrides the dimensions read from ``shape`` (an int or a tuple of allowed ones);
    ``shape="(...)"`` allows any.
    """

    def __init__(self, shape: str, *, kind: str = "float", finite: bool = True,
                 ndim: int | tuple[int, ...] | None = None) -> None:
        if kind not in ("float", "real"):
            raise ValueError(f"kind must be 'float' or 'real', got {kind!r}")
        self.shape, self.kind, self.finite = shape, kind, finite
        inner = shape.strip("()").rstrip(",")
        derived = None if inner == "..." else (inner.count(",") + 1 if inner else 0,)
        self.ndim = derived if ndim is None else (ndim,) if isinstance(ndim, int) else ndim
        what = "a float32 or float64 array" if kind == "float" else "an array of real numbers"
        self.description = f"{what} of shape {shape}"

    def check(self, value: object, name: str) -> np.ndarray:
        arr = as_array(value, name)
        if self.kind == "float" and arr.dtype.kind not in "iub" and arr.dtype not in FLOAT_DTYPES:
            raise TypeError(f"{name} must be a float32 or float64 array, got dtype {arr.dtype}")
        if self.kind == "real" and arr.dtype.kind not in "iubf":
            raise TypeError(f"{name} must be an array of real numbers, got dtype {arr.dtype}")
        if self.ndim is not None and arr.ndim not in self.ndim:
            raise ValueError(f"{name} must have shape {self.shape}, got shape {arr.shape}")
        if self.finite:
            require_finite(arr, name)
        if self.kind == "float" and not arr.flags.c_contiguous:
            # one memory order for the computation: the results do not depend on the
            # argument's (a Fortran-ordered array, a strided view, a broadcast view)
            from .memory import check_memory

            check_memory(arr.nbytes, f"{name} copied into C order", f"pass {name} contiguous")
            arr = np.ascontiguousarray(arr)
        return arr

    def invalid(self, valid: object) -> list[tuple[object, type[Exception]]]:
        valid = np.asarray(valid)
        bad = [(valid.astype(complex), TypeError), (valid.astype(str), TypeError),
               (valid.astype(object), TypeError), (None, TypeError)]
        if self.kind == "float":
            bad.append((valid.astype(np.float16), TypeError))
        if self.ndim is not None:
            extra = valid
            while extra.ndim in self.ndim:
                extra = extra[np.newaxis]
            bad.append((extra, ValueError))
            if 0 not in self.ndim:
                bad.append((1.0, ValueError))
        if valid.ndim >= 1 and valid.size:
            ragged = valid.tolist()
            ragged[-1] = [ragged[-1], ragged[-1]]
            bad.append((ragged, ValueError))
        if self.finite and valid.size:
            for value in (np.nan, np.inf, -np.inf):
                broken = valid.astype(valid.dtype if valid.dtype.kind == "f" else np.float64)
                broken.flat[-1] = value
                bad.append((broken, ValueError))
        return bad


class Labels(Constraint):
    """Integer class labels, one per instance: integers, or floats with integer values."""

    description = "integer class labels of shape (N,)"

    def check(self, value: object, name: str) -> np.ndarray:
        return as_labels(value, name)

    def invalid(self, valid: object) -> list[tuple[object, type[Exception]]]:
        valid = np.asarray(valid)
        half, infinite = valid + 0.5, valid.astype(float)
        infinite[-1] = np.inf
        return [(half, TypeError), (infinite, TypeError), (valid.astype(str), TypeError),
                (valid.astype(complex), TypeError), (None, TypeError),
                (valid[:, None], ValueError)]


def as_labels(y: object, name: str = "y") -> np.ndarray:
    """``y`` as an int64 vector if it holds integers (floats with integer values too)."""
    arr = as_array(y, name)
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind != "f":
            raise TypeError(f"{name} must hold integer class labels, got dtype {arr.dtype}")
        if arr.size:
            integral = np.isfinite(arr) & (arr == np.round(arr))
            if not integral.all():
                index = tuple(int(i) for i in np.argwhere(~integral)[0])
                raise TypeError(f"{name} must hold integer class labels, got dtype {arr.dtype} "
                                f"with {arr[index]} at index {index}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must have shape (N,), one label per instance, "
                         f"got shape {arr.shape}")
    return arr.astype(np.int64, copy=False)


# --- the decorator ---------------------------------------------------------------------------


def _dtype_of(value: object) -> np.dtype | None:
    """The floating dtype an argument imposes: a float array's, a cache's; None for an
    integer array (which takes the others')."""
    dtype = getattr(value, "dtype", None)
    return dtype if isinstance(dtype, np.dtype) and dtype in FLOAT_DTYPES else None


def validate_params(constraints: dict[str, Constraint],
                    same_dtype: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Check a function's arguments against ``constraints`` before its body runs.

    Parameters
    ----------
    constraints : dict
        Argument name -> :class:`Constraint`, checked in this order; the function receives
        the checked values (arrays as ndarrays, dtypes as ``numpy.dtype`` ...).
    same_dtype : tuple of str
        Arguments that must share one floating dtype: the first one with a floating dtype
        (an array, or an object with a ``dtype`` such as a cache) sets it, integer arrays
        are converted to it (float64 when none sets it), and another floating dtype is a
        ``TypeError``. Integer arrays of other :class:`Array` arguments become float64.

    Returns
    -------
    callable
        The decorator; the decorated function keeps ``constraints`` and ``same_dtype`` as
        attributes (the bad-input tests are generated from them).

    Examples
    --------
    >>> @validate_params({"n": Integer(1), "x": Array("(n,)")})
    ... def f(n, x):
    ...     return n * x
    >>> f(2, [1, 2])
    array([2., 4.])
    >>> f(0, [1.0])
    Traceback (most recent call last):
    ...
    ValueError: n must be >= 1, got 0
    """
    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)
        unknown = (set(constraints) | set(same_dtype)) - set(signature.parameters)
        if unknown:
            raise TypeError(f"{fn.__qualname__} has no argument {sorted(unknown)}")
        floats = [name for name, c in constraints.items()
                  if isinstance(c, Array | Optional) and _float_array(c)]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            values = bound.arguments
            for name, constraint in constraints.items():
                values[name] = constraint.check(values[name], name)
            dtype = next((d for d in map(_dtype_of, (values[n] for n in same_dtype))
                          if d is not None), np.dtype(np.float64))
            for name in same_dtype:
                own = _dtype_of(values[name])
                if own is not None and own != dtype:
                    raise TypeError(f"{name} must have dtype {dtype} like the other inputs, "
                                    f"got dtype {own} ({', '.join(same_dtype)} share one "
                                    f"dtype)")
            for name in floats:
                if isinstance(values[name], np.ndarray) and values[name].dtype.kind in "iub":
                    values[name] = cast(values[name], dtype if name in same_dtype
                                        else np.dtype(np.float64), name)
            return fn(*bound.args, **bound.kwargs)

        wrapper.constraints = constraints
        wrapper.same_dtype = same_dtype
        return wrapper

    return decorate


def _float_array(c: Constraint) -> bool:
    inner = c.constraint if isinstance(c, Optional) else c
    return isinstance(inner, Array) and inner.kind == "float"


@validate_params({"flag": Boolean()})
def set_check_finite(flag: bool) -> None:
    """Turn the check that inputs and parameters are finite on (default) or off.

    Parameters
    ----------
    flag : bool

    Returns
    -------
    None

    Raises
    ------
    TypeError
        If ``flag`` is not a bool.

    Examples
    --------
    >>> set_check_finite(False); set_check_finite(True)
    """
    _CHECK_FINITE["on"] = flag
