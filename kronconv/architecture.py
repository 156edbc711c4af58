"""A whole network's description: convolutional layers, then fully-connected layers.

The structure is simpleNN's (the conventions page, :ref:`conventions-network`): ``L_c``
convolutional layers conv -> sigma -> pool, then fully-connected layers ``s = W z + b``,
``z' = sigma(s)``, the last one linear. The first fully-connected input is
``z = vec(Z^{L_c+1})``.

The file schema (JSON, or TOML on Python >= 3.11) mirrors the notation::

    {
      "input": {"a": 28, "b": 28, "d": 1},
      "conv": [
        {"d_out": 32, "h": 5, "padding": 2, "pool": "max", "pool_size": 2},
        {"d_out": 64, "h": 3, "padding": 1, "pool": "max", "pool_size": 2}
      ],
      "full": [{"n_out": 64}, {"n_out": 10}]
    }

``conv`` keys: ``d_out``, ``h`` (required); ``stride`` (1), ``padding`` (0), ``pool``
("none"; or "max", "average"), ``pool_size`` (2), ``pool_stride`` (= pool_size),
``activation`` ("relu"), and ``d``, the input channels, checked against the previous
layer when given. ``full`` keys: ``n_out`` (required); ``activation`` ("relu" for a
hidden layer; the last layer is linear, "identity"), and ``n_in``, checked when given.
An optional top-level ``name`` is kept. Unknown keys are errors.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from ._schema import short
from ._validate import check_int
from .activations import ACTIVATIONS, Activation, get_activation
from .shapes import LayerShape

__all__ = ["PRESETS", "Architecture", "ConvSpec", "FullSpec", "load_architecture"]


@dataclass(frozen=True)
class ConvSpec:
    """One convolutional layer of an :class:`Architecture` (sizes of its input are derived).

    Parameters
    ----------
    d_out, h : int
        Output channels and filter size.
    stride, padding, pool, pool_size, pool_stride
        As for :class:`~kronconv.LayerShape`.
    activation : str or Activation, default "relu"
    d : int, optional
        Input channels; when given, checked against the previous layer's ``d_out``.
    """

    d_out: int
    h: int
    stride: int = 1
    padding: int = 0
    pool: str = "none"
    pool_size: int = 2
    pool_stride: int | None = None
    activation: str | Activation = "relu"
    d: int | None = None


@dataclass(frozen=True)
class FullSpec:
    """One fully-connected layer ``s = W z + b``, ``z' = sigma(s)``.

    Parameters
    ----------
    n_out : int
    activation : str or Activation, optional
        Default "relu" for a hidden layer; the last layer must be linear ("identity").
    n_in : int, optional
        Input length; when given, checked against what the previous layer produces.
    """

    n_out: int
    activation: str | Activation | None = None
    n_in: int | None = None


def _prefixed(where: str, exc: Exception) -> Exception:
    """The same kind of error (TypeError or ValueError), prefixed with where it is."""
    return (TypeError if isinstance(exc, TypeError) else ValueError)(f"{where}: {exc}")


@dataclass(frozen=True)
class Architecture:
    """A CNN: input size, convolutional layers, fully-connected layers (the last linear).

    Parameters
    ----------
    input : tuple of int
        ``(a, b, d)``: height, width and channels of an input image.
    conv : sequence of ConvSpec or dict
    full : sequence of FullSpec or dict
        At least one; the last one's ``n_out`` is the number of classes.
    name : str, optional

    Attributes
    ----------
    conv_shapes : tuple of LayerShape
        Every convolutional layer's full shape, derived from the input size.
    full_shapes : tuple of (int, int)
        ``(n_out, n_in)``: the shape of every fully-connected ``W``.
    activations : tuple of Activation
        One per layer, convolutional layers first; the last is "identity".

    Raises
    ------
    ValueError, TypeError
        For an invalid layer, with the layer and the field named: "conv layer 2: pool_size
        must be <= a_conv = 3 ...".

    Examples
    --------
    >>> arch = Architecture.preset("mnist-3layer")
    >>> arch.n_params, arch.n_classes
    (62026, 10)
    >>> [s.a_out for s in arch.conv_shapes]
    [14, 7, 3]
    """

    # Two architectures are equal when they describe the same network: the derived shapes
    # and activations are compared, not the way the specs were written, nor the name.
    input: tuple[int, int, int]
    conv: tuple[ConvSpec, ...] = field(default=(), compare=False)
    full: tuple[FullSpec, ...] = field(default=(), compare=False)
    name: str | None = field(default=None, compare=False)
    conv_shapes: tuple[LayerShape, ...] = field(init=False, repr=False)
    full_shapes: tuple[tuple[int, int], ...] = field(init=False, repr=False)
    activations: tuple[Activation, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        try:
            if isinstance(self.input, (Mapping, str, bytes)):
                raise TypeError
            a, b, d = self.input
        except (TypeError, ValueError):
            raise ValueError(f"input must be (a, b, d), got {short(self.input)}") from None
        if self.name is not None and not isinstance(self.name, str):
            raise TypeError(f"name must be a string or None, got {short(self.name)}")
        for key, kind in (("conv", ConvSpec), ("full", FullSpec)):
            layers = getattr(self, key)
            if (isinstance(layers, (ConvSpec, FullSpec, Mapping, str, bytes))
                    or not isinstance(layers, Iterable)):
                spec = isinstance(layers, (ConvSpec, FullSpec))
                got = f"a {type(layers).__name__}" if spec else short(layers)
                one = spec or isinstance(layers, Mapping)
                hint = f"; for one layer: {key}=[...]" if one else ""
                raise TypeError(f"{key} must be a list of {kind.__name__}s or mappings, one "
                                f"per layer, got {got}{hint}")
        a, b, d = (check_int(v, f"input {n}", 1) for n, v in zip("abd", (a, b, d), strict=True))
        set_(self, "input", (a, b, d))
        set_(self, "conv", tuple(_spec(ConvSpec, s, f"conv layer {m}")
                                 for m, s in enumerate(self.conv, 1)))
        set_(self, "full", tuple(_spec(FullSpec, s, f"full layer {m}")
                                 for m, s in enumerate(self.full, 1)))
        if not self.full:
            raise ValueError("full must hold at least one layer: the last, linear one gives "
                             "the classes")
        shapes, acts = [], []
        for m, spec in enumerate(self.conv, 1):
            where = f"conv layer {m}"
            try:
                if spec.d is not None and spec.d != d:
                    raise ValueError(f"d must equal the previous layer's channels, {d}, "
                                     f"got d={spec.d}")
                shape = LayerShape(a, b, d, spec.d_out, spec.h, spec.stride, spec.padding,
                                   spec.pool, spec.pool_size, spec.pool_stride)
                acts.append(get_activation(spec.activation))
            except (TypeError, ValueError) as exc:
                raise _prefixed(where, exc) from None
            shapes.append(shape)
            a, b, d = shape.a_out, shape.b_out, shape.d_out
        n_in, full_shapes = a * b * d, []
        for m, spec in enumerate(self.full, 1):
            where = f"full layer {m}" + (" (the last)" if m == len(self.full) else "")
            try:
                n_out = check_int(spec.n_out, "n_out", 1)
                if spec.n_in is not None and spec.n_in != n_in:
                    raise ValueError(f"n_in must equal what the previous layer produces, "
                                     f"{n_in}, got n_in={spec.n_in}")
                acts.append(self._full_activation(spec, last=m == len(self.full)))
            except (TypeError, ValueError) as exc:
                raise _prefixed(where, exc) from None
            full_shapes.append((n_out, n_in))
            n_in = n_out
        set_(self, "conv_shapes", tuple(shapes))
        set_(self, "full_shapes", tuple(full_shapes))
        set_(self, "activations", tuple(acts))

    @staticmethod
    def _full_activation(spec: FullSpec, last: bool) -> Activation:
        if not last:
            return get_activation("relu" if spec.activation is None else spec.activation)
        act = get_activation("identity" if spec.activation is None else spec.activation)
        if act.name != "identity":
            raise ValueError(f"activation must be 'identity': the last layer is linear, "
                             f"got {act.name!r}")
        return act

    # -- sizes -------------------------------------------------------------------------------
    @property
    def n_classes(self) -> int:
        return self.full_shapes[-1][0]

    @property
    def layer_param_shapes(self) -> tuple[tuple[tuple[int, int], int], ...]:
        """``((W shape), len(b))`` of every layer, convolutional first: the order of theta."""
        conv = tuple((s.W_shape, s.d_out) for s in self.conv_shapes)
        return conv + tuple((shape, shape[0]) for shape in self.full_shapes)

    @property
    def n_params(self) -> int:
        """The length of theta: every layer's weights and biases."""
        return sum(r * c + n for (r, c), n in self.layer_param_shapes)

    # -- files -------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> Architecture:
        """Build from the documented schema (see the module docstring).

        Raises
        ------
        ValueError
            On a missing or unknown key, naming the layer.
        """
        if not isinstance(spec, dict):
            raise TypeError(f"an architecture must be a mapping, got {type(spec).__name__}")
        _check_keys(spec, {"input", "conv", "full", "name"}, {"input", "full"}, "architecture")
        inp = spec["input"]
        if not isinstance(inp, dict):
            raise TypeError(f"input must be a mapping with keys a, b, d, got {short(inp)}")
        _check_keys(inp, {"a", "b", "d"}, {"a", "b", "d"}, "input")
        for key in ("conv", "full"):
            if not isinstance(spec.get(key, []), list):
                raise TypeError(f"{key} must be a list of layers, got {short(spec[key])}")
        return cls((inp["a"], inp["b"], inp["d"]), tuple(spec.get("conv", [])),
                   tuple(spec["full"]), spec.get("name"))

    def to_dict(self) -> dict[str, Any]:
        """The architecture in the documented schema, every field explicit.

        Raises
        ------
        ValueError
            If a layer uses a user-supplied :class:`Activation`, which has no file form.
        """
        acts = [_activation_name(act) for act in self.activations]
        conv = [{"d_out": s.d_out, "h": s.h, "stride": s.stride, "padding": s.padding,
                 "pool": s.pool, "pool_size": s.pool_size, "pool_stride": s.pool_stride,
                 "activation": act, "d": s.d}
                for s, act in zip(self.conv_shapes, acts[:len(self.conv_shapes)], strict=True)]
        full = [{"n_out": n_out, "activation": act, "n_in": n_in}
                for (n_out, n_in), act in zip(self.full_shapes, acts[len(conv):], strict=True)]
        out: dict[str, Any] = {"input": dict(zip("abd", self.input, strict=True)),
                               "conv": conv, "full": full}
        if self.name is not None:
            out["name"] = self.name
        return out

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def preset(cls, name: str) -> Architecture:
        """One of the named architectures in :data:`PRESETS`."""
        try:
            return cls.from_dict({**PRESETS[name], "name": name})
        except KeyError:
            raise ValueError(f"unknown preset {name!r}; presets: {sorted(PRESETS)}") from None


def _activation_name(act: Activation) -> str:
    if ACTIVATIONS.get(act.name) is not act:
        raise ValueError(f"activation {act.name!r} is user-supplied and has no file form")
    return act.name


def _check_keys(spec: dict, allowed: set[str], required: set[str], where: str) -> None:
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r}; allowed keys: {sorted(allowed)}")
    missing = sorted(required - set(spec))
    if missing:
        raise ValueError(f"{where}: missing key {missing[0]!r}")


def _spec(kind: type, spec: object, where: str) -> ConvSpec | FullSpec:
    """A ConvSpec/FullSpec from itself or from a mapping of the schema's keys."""
    if isinstance(spec, kind):
        return spec
    if not isinstance(spec, dict):
        raise TypeError(f"{where}: must be a {kind.__name__} or a mapping, got {short(spec)}")
    names = {f.name for f in fields(kind)}
    required = {f.name for f in fields(kind)
                if f.default is MISSING and f.default_factory is MISSING}
    _check_keys(spec, names, required, where)
    return kind(**spec)


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object whose keys are distinct (json keeps the last of a repeated key silently)."""
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValueError(f"key {repeated[0]!r} given twice in one object")
    return dict(pairs)


def load_architecture(source: str | Path) -> Architecture:
    """A preset by name, or an architecture file (``.json``, ``.toml`` on Python >= 3.11, or
    simpleNN's ``.config``).

    Parameters
    ----------
    source : str or Path
        A name in :data:`PRESETS`, the path of a file in the documented schema, or the path
        of a simpleNN configuration file ending in ``.config``
        (:func:`kronconv.simplenn.read_config`).

    Returns
    -------
    Architecture

    Raises
    ------
    TypeError
        If ``source`` is neither a string nor a path (a mapping goes to
        :meth:`Architecture.from_dict`).
    ValueError
        For an unknown preset, an unreadable file, a file nested too deeply to parse, or an
        invalid description (the message names the file and the layer).

    Examples
    --------
    >>> load_architecture("digits").input
    (8, 8, 1)
    """
    if not isinstance(source, (str, os.PathLike)):
        hint = "; Architecture.from_dict reads a mapping" if isinstance(source, Mapping) else ""
        raise TypeError(f"source must be a preset name or the path of an architecture file, "
                        f"got {type(source).__name__} {short(source)}{hint}")
    if str(source) in PRESETS:
        return Architecture.preset(str(source))
    path = Path(source)
    if not path.is_file():
        raise ValueError(f"{source!r} is neither a preset ({sorted(PRESETS)}) nor a file")
    if path.suffix == ".config":
        from .simplenn import read_config

        return read_config(path)
    try:
        if path.suffix == ".toml":
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                raise ValueError("TOML architecture files need Python >= 3.11; use JSON") from None
            spec = tomllib.loads(path.read_text(encoding="utf-8"))
        else:
            spec = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_unique_keys)
        return Architecture.from_dict(spec)
    except (ValueError, TypeError) as exc:
        raise _prefixed(str(path), exc) from None
    except RecursionError:
        raise ValueError(f"{path}: nested too deeply to parse (beyond Python's recursion "
                         "limit): not an architecture file") from None


# Named architectures. mnist-3layer and cifar10-3layer are the network of simpleNN's
# paper (C.-C. Wang, K. L. Tan, C.-J. Lin): three conv -> ReLU -> 2x2 max-pool layers and
# one linear layer to the 10 classes.
def _three_layer(a: int, d: int) -> dict[str, Any]:
    conv = [{"d_out": 32, "h": 5, "padding": 2, "pool": "max", "pool_size": 2},
            {"d_out": 64, "h": 3, "padding": 1, "pool": "max", "pool_size": 2},
            {"d_out": 64, "h": 3, "padding": 1, "pool": "max", "pool_size": 2}]
    return {"input": {"a": a, "b": a, "d": d}, "conv": conv, "full": [{"n_out": 10}]}


PRESETS: dict[str, dict[str, Any]] = {
    "mnist-3layer": _three_layer(28, 1),
    "cifar10-3layer": _three_layer(32, 3),
    # scikit-learn's 8x8 digits: two small conv layers and a hidden full layer
    "digits": {"input": {"a": 8, "b": 8, "d": 1},
               "conv": [{"d_out": 8, "h": 3, "padding": 1, "pool": "max", "pool_size": 2},
                        {"d_out": 16, "h": 3, "padding": 1, "pool": "max", "pool_size": 2}],
               "full": [{"n_out": 32}, {"n_out": 10}]},
}
