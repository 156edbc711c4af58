"""simpleNN's files: network configurations (``.config``) and trained models (``.mat``).

simpleNN (the MATLAB/Octave code of C.-J. Lin's group, :ref:`conventions-sources`) describes a
network by a configuration file that its ``read_config.m`` reads line by line::

    % comments start with a percent sign
    L = 4;
    LC = 3;
    LF = 1;
    wd_input = [28];
    ht_input = [28];
    ch_input = [1,32,64,64];
    wd_pad_added = [2,1,1];
    wd_filter = [5,3,3];
    strides = [1,1,1];
    wd_subimage_pool = [2,2,2];
    full_neurons = [10];

and saves what its ``cnn_train`` returns, the struct ``model`` (built by ``init_model`` in
``cnn/train.m``), with ``save('-v7', 'model.mat', 'model')``. simpleNN's network is always:
every convolutional layer conv -> ReLU -> max pooling with window = stride =
``wd_subimage_pool`` (1: no pooling), every fully-connected layer but the last followed by
ReLU, the last linear, and the squared loss. Its index conventions are kronconv's
(:ref:`conventions`): a simpleNN ``model.weight{m}`` is kronconv's ``W^m`` entry for entry,
and its parameter order (``model.var_ptr``: layer by layer ``vec(W)``, then ``b``) is
kronconv's ``theta``.

=====================  ==================================================================
simpleNN               kronconv
=====================  ==================================================================
``ht_input``           ``a``, the image height (rows)
``wd_input``           ``b``, the image width (columns)
``ch_input``           ``d`` of the input, then every conv layer's ``d_out``
``wd_pad_added``       ``padding``
``wd_filter``          ``h``
``strides``            ``stride``
``wd_subimage_pool``   ``pool="max"``, ``pool_size = pool_stride``; 1: ``pool="none"``
``full_neurons``       every fully-connected layer's ``n_out``
=====================  ==================================================================

:func:`read_config` and :func:`write_config` convert configurations,
:func:`read_model` and :func:`write_model` models; the files are parsed without ``eval``
and read with ``scipy.io.loadmat`` (nothing is unpickled), and written atomically.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ._files import atomic_write
from ._version import VERSION
from .activations import ACTIVATIONS
from .architecture import Architecture, ConvSpec, FullSpec

__all__ = ["CONFIG_KEYS", "read_config", "read_model", "write_config", "write_model"]

CONFIG_KEYS = ("L", "LC", "LF", "wd_input", "ht_input", "ch_input", "wd_pad_added",
               "wd_filter", "strides", "wd_subimage_pool", "full_neurons")
"""The keys of a simpleNN configuration file, all required, in the order simpleNN writes them."""

_SCALARS = ("L", "LC", "LF", "wd_input", "ht_input")
_MINIMUM = {"LC": 0, "wd_pad_added": 0}          # every other value is >= 1

Where = Callable[[str], str]


# -- from simpleNN's values to an Architecture ----------------------------------------------

def _architecture(values: dict[str, list[int]], where: Where, source: Path,
                  name: str | None) -> Architecture:
    """The Architecture of simpleNN's configuration ``values`` (key -> integers).

    ``where(key)`` names the key for an error ("file, line 3, key 'LC'"); the sizes are
    checked as simpleNN's init_model computes them, so that a layer that empties the map
    is reported at the key that does it.
    """
    for key in _SCALARS:
        if len(values[key]) != 1:
            raise ValueError(f"{where(key)}: must be one number, got {len(values[key])}: "
                             f"{values[key]}")
    for key, vals in values.items():
        minimum = _MINIMUM.get(key, 1)
        for k, v in enumerate(vals, 1):
            if v < minimum:
                at = "" if key in _SCALARS else f" entry {k}"
                raise ValueError(f"{where(key)}:{at} must be >= {minimum}, got {v}")
    (L,), (LC,), (LF,) = values["L"], values["LC"], values["LF"]
    if L != LC + LF:
        raise ValueError(f"{where('L')}: L = {L} must equal LC + LF = {LC} + {LF} = {LC + LF}")
    lengths = {"ch_input": (LC + 1, "LC+1"), "wd_pad_added": (LC, "LC"),
               "wd_filter": (LC, "LC"), "strides": (LC, "LC"), "wd_subimage_pool": (LC, "LC"),
               "full_neurons": (LF, "LF")}
    for key, (n, rule) in lengths.items():
        if len(values[key]) != n:
            raise ValueError(f"{where(key)}: has {len(values[key])} entries, {rule} = {n} "
                             f"needed (LC = {LC}, LF = {LF})")
    ht, wd = values["ht_input"][0], values["wd_input"][0]
    conv = []
    for m in range(LC):
        p, h, s = values["wd_pad_added"][m], values["wd_filter"][m], values["strides"][m]
        pool = values["wd_subimage_pool"][m]
        ht_pad, wd_pad = ht + 2 * p, wd + 2 * p
        if h > min(ht_pad, wd_pad):
            raise ValueError(f"{where('wd_filter')}: conv layer {m + 1}'s filter, {h} x {h}, "
                             f"exceeds its padded input, {ht_pad} x {wd_pad} (ht x wd): the "
                             "convolution output would be empty")
        ht_conv, wd_conv = (ht_pad - h) // s + 1, (wd_pad - h) // s + 1
        if pool > min(ht_conv, wd_conv):
            raise ValueError(f"{where('wd_subimage_pool')}: conv layer {m + 1}'s pooling "
                             f"window, {pool} x {pool}, exceeds its convolution output, "
                             f"{ht_conv} x {wd_conv} (ht x wd): the pooled map would be empty")
        ht, wd = ht_conv // pool, wd_conv // pool
        conv.append(ConvSpec(d_out=values["ch_input"][m + 1], h=h, stride=s, padding=p,
                             pool="max" if pool > 1 else "none", pool_size=pool,
                             d=values["ch_input"][m]))
    full = [FullSpec(n_out=n) for n in values["full_neurons"]]
    try:
        return Architecture((values["ht_input"][0], values["wd_input"][0],
                             values["ch_input"][0]), tuple(conv), tuple(full), name)
    except (TypeError, ValueError) as exc:     # not expected after the checks above
        raise ValueError(f"{source}: {exc}") from None


def _simplenn_values(arch: Architecture) -> dict[str, list[int]]:
    """simpleNN's configuration values of ``arch``; ValueError if simpleNN cannot express it."""
    if not isinstance(arch, Architecture):
        raise TypeError(f"arch must be an Architecture, got {type(arch).__name__}")
    relu = ACTIVATIONS["relu"]
    LC, LF = len(arch.conv_shapes), len(arch.full_shapes)
    pools = []
    for m, (shape, act) in enumerate(zip(arch.conv_shapes, arch.activations, strict=False), 1):
        if act is not relu:
            raise ValueError(f"conv layer {m}: activation {act.name!r}; simpleNN has ReLU "
                             "after every convolutional layer")
        if shape.pool == "average":
            raise ValueError(f"conv layer {m}: average pooling; simpleNN has max pooling only")
        if shape.pool == "max" and shape.pool_stride != shape.pool_size:
            raise ValueError(f"conv layer {m}: pool_stride = {shape.pool_stride} differs from "
                             f"pool_size = {shape.pool_size}; simpleNN's pooling stride is its "
                             "window (wd_subimage_pool)")
        pools.append(shape.pool_size if shape.pool == "max" else 1)
    for m, act in enumerate(arch.activations[LC:-1], 1):
        if act is not relu:
            raise ValueError(f"full layer {m}: activation {act.name!r}; simpleNN has ReLU "
                             "after every fully-connected layer but the last")
    a, b, d = arch.input
    return {"L": [LC + LF], "LC": [LC], "LF": [LF], "wd_input": [b], "ht_input": [a],
            "ch_input": [d] + [s.d_out for s in arch.conv_shapes],
            "wd_pad_added": [s.padding for s in arch.conv_shapes],
            "wd_filter": [s.h for s in arch.conv_shapes],
            "strides": [s.stride for s in arch.conv_shapes],
            "wd_subimage_pool": pools,
            "full_neurons": [n_out for n_out, _ in arch.full_shapes]}


# -- configuration files ---------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z_]\w*)|(?P<number>(?:\d+\.?\d*|\.\d+)"
                    r"(?:[eE][+-]?\d+)?)|(?P<punct>[=\[\],;]))")


def _tokens(text: str, where: str) -> list[tuple[str, str]]:
    """``(kind, text)`` tokens of one line (comment removed): name, number or punctuation."""
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            bad = text[pos:].lstrip()[0]
            note = " (sizes are integers >= 0)" if bad in "+-" else ""
            raise ValueError(f"{where}: unexpected character {bad!r}{note}")
        kind = match.lastgroup
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def _number(text: str, where: str) -> int:
    value = float(text)
    if not np.isfinite(value) or value != int(value):
        raise ValueError(f"{where}: {text} is not an integer")
    return int(value)


def _parse_line(tokens: list[tuple[str, str]], where: str) -> tuple[str, list[int]]:
    """``key = number;`` or ``key = [n1, n2 ...];`` (the ``;`` optional)."""
    if len(tokens) < 3 or tokens[0][0] != "name" or tokens[1] != ("punct", "="):
        raise ValueError(f"{where}: expected 'key = value;', got "
                         f"{' '.join(t for _, t in tokens)!r}")
    key, rest = tokens[0][1], tokens[2:]
    where = f"{where}, key {key!r}"
    if key not in CONFIG_KEYS:
        raise ValueError(f"{where}: unknown key; simpleNN's keys: {', '.join(CONFIG_KEYS)}")
    if rest[0][0] == "number":
        values, rest = [_number(rest[0][1], where)], rest[1:]
    elif rest[0] == ("punct", "["):
        values, k, expect_number = [], 1, True
        while True:
            if k == len(rest):
                raise ValueError(f"{where}: missing ']'")
            kind, text = rest[k]
            k += 1
            if text == "]":
                break
            if kind == "number":
                values.append(_number(text, where))
                expect_number = False
            elif text in ",;" and not expect_number:
                expect_number = True
            else:
                raise ValueError(f"{where}: unexpected {text!r} in the list")
        rest = rest[k:]
    else:
        raise ValueError(f"{where}: expected a number or a list [...], got {rest[0][1]!r}")
    if rest and rest[0] == ("punct", ";"):
        rest = rest[1:]
    if rest:
        raise ValueError(f"{where}: unexpected {rest[0][1]!r} after the value (one "
                         "'key = value;' per line)")
    return key, values


def read_config(path: str | Path) -> Architecture:
    """The :class:`~kronconv.Architecture` of a simpleNN configuration file.

    The file holds one ``key = value;`` per line, a value being an integer or a list
    ``[v1,v2,...]`` (commas, semicolons or spaces between the entries; the final ``;``
    optional); ``%`` starts a comment, on its own line or after a value. It is parsed by a
    small tokenizer, never evaluated. Every key of :data:`CONFIG_KEYS` is required once.
    The network is simpleNN's (module docstring): ReLU after every convolutional and
    every hidden fully-connected layer, max pooling with window = stride =
    ``wd_subimage_pool`` (1 for none); ``ht_input`` is kronconv's ``a`` (rows) and
    ``wd_input`` its ``b`` (columns).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    Architecture
        Named after the file's stem.

    Raises
    ------
    ValueError
        Naming the file, and the line and the key where there is one: an unreadable file, a
        line that is not ``key = value``, an unknown, repeated or missing key, a
        non-integer or out-of-range value, ``L != LC + LF``, a list whose length disagrees
        with ``LC`` or ``LF`` (``ch_input`` has ``LC+1`` entries, ``full_neurons`` ``LF``,
        the other lists ``LC``), or a layer whose filter or pooling window empties the map.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.config")
    >>> with open(path, "w") as f:
    ...     _ = f.write('''% one conv layer, then two full layers
    ... L = 3; LC = 1;
    ... ''')
    >>> try:
    ...     read_config(path)
    ... except ValueError as exc:
    ...     print(str(exc).replace(path, "tiny.config"))
    tiny.config, line 2, key 'L': unexpected 'LC' after the value (one 'key = value;' per line)
    >>> with open(path, "w") as f:
    ...     _ = f.write('''L = 3;
    ... LC = 1;
    ... LF = 2;
    ... wd_input = [6];   % columns
    ... ht_input = [4];   % rows
    ... ch_input = [3,8];
    ... wd_pad_added = [1];
    ... wd_filter = [3];
    ... strides = [1];
    ... wd_subimage_pool = [2];
    ... full_neurons = [16,5];
    ... ''')
    >>> arch = read_config(path)
    >>> arch.input, arch.conv_shapes[0].a_out, arch.conv_shapes[0].b_out, arch.full_shapes
    ((4, 6, 3), 2, 3, ((16, 48), (5, 16)))
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the configuration ({exc})") from None
    values: dict[str, list[int]] = {}
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        where = f"{path}, line {number}"
        code = line.split("%", 1)[0]
        if not code.strip():
            continue
        named = re.match(r"\s*([A-Za-z_]\w*)\s*=", code)
        at_key = where + (f", key {named.group(1)!r}"
                          if named and named.group(1) in CONFIG_KEYS else "")
        key, vals = _parse_line(_tokens(code, at_key), where)
        if key in values:
            raise ValueError(f"{where}, key {key!r}: repeated (first on line {lines[key]})")
        values[key], lines[key] = vals, number
    missing = [key for key in CONFIG_KEYS if key not in values]
    if missing:
        raise ValueError(f"{path}: missing key {missing[0]!r} (simpleNN needs all of "
                         f"{', '.join(CONFIG_KEYS)})")
    return _architecture(values, lambda key: f"{path}, line {lines[key]}, key {key!r}", path,
                         path.stem)


def _format_config(values: dict[str, list[int]], name: str | None) -> str:
    title = f"architecture {name!r}, " if name else ""         # repr: one line
    lines = [f"% simpleNN configuration ({title}written by kronconv {VERSION}).",
             f"% {values['L'][0]} layers: {values['LC'][0]} convolutional (conv, ReLU, max "
             f"pooling) and {values['LF'][0]} fully-connected",
             "% (ReLU after all but the last); simpleNN trains it with the squared loss.", ""]
    for key in CONFIG_KEYS:
        vals = values[key]
        text = str(vals[0]) if key in ("L", "LC", "LF") else f"[{','.join(map(str, vals))}]"
        lines.append(f"{key} = {text};")
    return "\n".join(lines) + "\n"


def write_config(arch: Architecture, path: str | Path) -> None:
    """Write ``arch`` as a simpleNN configuration file (atomically).

    simpleNN's ``read_config.m`` accepts the file, and :func:`read_config` reads it back to
    the same architecture (a max-pooling layer of window 1 comes back as no pooling, the
    same network).

    Parameters
    ----------
    arch : Architecture
    path : str or Path

    Raises
    ------
    ValueError
        If simpleNN cannot express ``arch``, naming the layer and why: an activation other
        than ReLU (but the last layer's identity), average pooling, or a pooling stride
        other than its window.
    TypeError
        If ``arch`` is not an :class:`~kronconv.Architecture`.

    Examples
    --------
    >>> import tempfile, os
    >>> from kronconv import Architecture
    >>> path = os.path.join(tempfile.mkdtemp(), "mnist.config")
    >>> write_config(Architecture.preset("mnist-3layer"), path)
    >>> from pathlib import Path
    >>> print(Path(path).read_text().split("\\n\\n")[1], end="")
    L = 4;
    LC = 3;
    LF = 1;
    wd_input = [28];
    ht_input = [28];
    ch_input = [1,32,64,64];
    wd_pad_added = [2,1,1];
    wd_filter = [5,3,3];
    strides = [1,1,1];
    wd_subimage_pool = [2,2,2];
    full_neurons = [10];
    >>> read_config(path) == Architecture.preset("mnist-3layer")
    True
    """
    text = _format_config(_simplenn_values(arch), arch.name)
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


# -- models ----------------------------------------------------------------------------------

def _column(values: list[int] | np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).reshape(-1, 1)


def _derived(arch: Architecture) -> dict[str, list[int]]:
    """init_model's derived sizes: ht/wd_input of every conv layer's input and the output,
    ht/wd_pad, ht/wd_conv, and var_ptr."""
    shapes = arch.conv_shapes
    var_num = [r * c + n for (r, c), n in arch.layer_param_shapes]
    return {"ht_input": [arch.input[0]] + [s.a_out for s in shapes],
            "wd_input": [arch.input[1]] + [s.b_out for s in shapes],
            "ht_pad": [s.a_pad for s in shapes], "wd_pad": [s.b_pad for s in shapes],
            "ht_conv": [s.a_conv for s in shapes], "wd_conv": [s.b_conv for s in shapes],
            "var_ptr": [1 + int(v) for v in np.concatenate([[0], np.cumsum(var_num)])]}


def _labels(labels: object, n_classes: int, where: str) -> np.ndarray:
    values = np.asarray(labels)
    if (values.dtype.kind not in "iuf" or values.size != n_classes
            or (values.ndim > 1 and values.size != max(values.shape))):
        raise ValueError(f"{where} must be a real vector of {n_classes} labels (one per class), "
                         f"got {values.dtype} of shape {values.shape}")
    values = values.ravel()
    if not np.isfinite(values).all():
        raise ValueError(f"{where} must be finite, got {values.tolist()}")
    if np.unique(values).size != values.size:
        raise ValueError(f"{where} must be distinct, got {values.tolist()}")
    return values


def write_model(arch: Architecture, theta: np.ndarray, path: str | Path,
                labels: np.ndarray | None = None) -> None:
    """Write ``arch`` and ``theta`` as a simpleNN model, a ``.mat`` for ``cnn_predict``.

    The file holds one variable, ``model``, with every field simpleNN's ``init_model``
    creates and ``cnn_predict``, ``init_net``, ``predict`` and ``feedforward`` read:
    ``net_config`` (as ``read_config.m`` returns it), ``gpu_use`` (false), ``float_type``
    ('double'), ``LC``, ``L``, ``nL``, the per-layer sizes (``ht_input`` ... ``wd_conv``,
    ``wd_filter``, ``strides``, ``wd_subimage_pool``, ``full_neurons``, column vectors),
    ``weight`` and ``bias`` (cells of ``W^m`` and ``b^m`` as column), ``var_ptr`` and
    ``labels``. Load it in MATLAB/Octave with ``load('model.mat')`` and predict with
    ``cnn_predict(y, Z, model)``; the file is written atomically, MAT version 5 (what
    ``save -v7`` writes).

    Parameters
    ----------
    arch : Architecture
        Expressible in simpleNN (see :func:`write_config`).
    theta : ndarray of shape (arch.n_params,)
        kronconv's parameters: every layer's ``vec(W^m)`` then ``b^m`` (simpleNN's order).
    path : str or Path
    labels : array_like of shape (n_classes,), optional
        The label value of every class (``model.labels``, what ``cnn_predict`` reports);
        default ``0 .. n_classes-1``. ``Dataset.labels`` of the training data gives them.

    Raises
    ------
    ValueError
        If simpleNN cannot express ``arch`` (naming the layer and why), or ``theta`` or
        ``labels`` has the wrong shape or is not finite (``labels`` must be distinct).

    Examples
    --------
    >>> import tempfile, os
    >>> from kronconv import Architecture, init_params
    >>> arch = Architecture.preset("digits")
    >>> theta = init_params(arch, seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.mat")
    >>> write_model(arch, theta, path)
    >>> arch2, theta2 = read_model(path)
    >>> arch2 == arch, bool(np.array_equal(theta2, theta))
    (True, True)
    """
    from scipy.io import savemat

    from .parameters import unpack_params

    values = _simplenn_values(arch)
    theta = np.asarray(theta)
    if theta.dtype.kind not in "iuf" or theta.shape != (arch.n_params,):
        raise ValueError(f"theta must be a real vector of shape (arch.n_params,) = "
                         f"({arch.n_params},), got {theta.dtype} of shape {theta.shape}")
    theta = theta.astype(np.float64)
    if not np.isfinite(theta).all():
        raise ValueError("theta must be finite")
    K = arch.n_classes
    labels = np.arange(K) if labels is None else _labels(labels, K, "labels")
    params = unpack_params(theta, arch)
    cell = np.empty((len(params), 1), dtype=object)
    weight, bias = cell.copy(), cell.copy()
    for m, (W, b) in enumerate(params):
        weight[m, 0], bias[m, 0] = np.array(W, dtype=np.float64), _column(b)
    derived = _derived(arch)
    net_config = {key: np.asarray(values[key], dtype=np.float64).reshape(1, -1)
                  for key in CONFIG_KEYS}
    net_config["nL"] = np.array([[float(K)]])
    model: dict[str, Any] = {
        "net_config": net_config, "gpu_use": np.array([[False]]), "float_type": "double",
        "LC": np.array([[float(values["LC"][0])]]), "L": np.array([[float(values["L"][0])]]),
        "nL": np.array([[float(K)]]),
        "ht_input": _column(derived["ht_input"]), "wd_input": _column(derived["wd_input"]),
        "ch_input": _column(values["ch_input"]), "wd_pad_added": _column(values["wd_pad_added"]),
        "ht_pad": _column(derived["ht_pad"]), "wd_pad": _column(derived["wd_pad"]),
        "ht_conv": _column(derived["ht_conv"]), "wd_conv": _column(derived["wd_conv"]),
        "wd_filter": _column(values["wd_filter"]), "strides": _column(values["strides"]),
        "wd_subimage_pool": _column(values["wd_subimage_pool"]),
        "full_neurons": _column(values["full_neurons"]),
        "weight": weight, "bias": bias, "var_ptr": _column(derived["var_ptr"]),
        "labels": _column(labels),
    }
    atomic_write(path, lambda f: savemat(f, {"model": model}, do_compression=True,
                                         oned_as="column"))


class _Struct:
    """A 1x1 MATLAB struct read by loadmat(struct_as_record=True), with named errors."""

    def __init__(self, value: object, where: str):
        if (not isinstance(value, np.ndarray) or value.dtype.names is None
                or value.shape != (1, 1)):
            shape = getattr(value, "shape", None)
            raise ValueError(f"{where} must be a 1x1 struct, got {type(value).__name__}"
                             + (f" of shape {shape}" if shape is not None else ""))
        self.record, self.where = value[0, 0], where

    def has(self, name: str) -> bool:
        return name in self.record.dtype.names

    def name(self, field: str) -> str:
        return f"{self.where}.{field}"

    def get(self, field: str) -> np.ndarray:
        if not self.has(field):
            raise ValueError(f"{self.where}: missing field {field!r}")
        return self.record[field]

    def numbers(self, field: str) -> np.ndarray:
        """A real, finite vector (or scalar; empty allowed) as float64."""
        value = self.get(field)
        if (not isinstance(value, np.ndarray) or value.dtype.kind not in "iufb"
                or value.ndim != 2 or (value.size and min(value.shape) != 1)):
            raise ValueError(f"{self.name(field)} must be a real vector, got "
                             f"{getattr(value, 'dtype', type(value).__name__)} of shape "
                             f"{getattr(value, 'shape', None)}")
        value = value.astype(np.float64).ravel()
        if not np.isfinite(value).all():
            raise ValueError(f"{self.name(field)} must be finite, got {value.tolist()}")
        return value

    def integers(self, field: str) -> list[int]:
        value = self.numbers(field)
        if not np.array_equal(value, np.round(value)):
            raise ValueError(f"{self.name(field)} must hold integers, got {value.tolist()}")
        return [int(v) for v in value]

    def cell(self, field: str, length: int) -> list[np.ndarray]:
        value = self.get(field)
        if not isinstance(value, np.ndarray) or value.dtype != object or value.size != length:
            raise ValueError(f"{self.name(field)} must be a cell of {length} arrays (one per "
                             f"layer), got {getattr(value, 'dtype', type(value).__name__)} "
                             f"of shape {getattr(value, 'shape', None)}")
        return list(value.ravel(order="F"))


def _config_values(s: _Struct, keys: tuple[str, ...], LF: int | None = None
                   ) -> dict[str, list[int]]:
    values = {key: s.integers(key) for key in keys}
    if LF is not None:
        values["LF"] = [LF]
    return values


def _model_architecture(model: _Struct, path: Path) -> Architecture:
    """The architecture of a simpleNN model struct, every size field checked."""
    L, LC = model.integers("L"), model.integers("LC")
    for field, value, minimum in (("L", L, 1), ("LC", LC, 0)):
        if len(value) != 1:
            raise ValueError(f"{model.name(field)} must be one number, got {value}")
        if value[0] < minimum:          # before the sizes that follow from it are checked
            raise ValueError(f"{model.name(field)} must be >= {minimum}, got {value[0]}")
    keys = tuple(k for k in CONFIG_KEYS if k not in ("L", "LC", "LF"))
    values = _config_values(model, keys, LF=L[0] - LC[0])
    values.update(L=L, LC=LC)
    derived = {key: values.pop(key) for key in ("ht_input", "wd_input")}
    for key in ("ht_input", "wd_input"):
        if len(derived[key]) != LC[0] + 1:
            raise ValueError(f"{model.name(key)} must have LC+1 = {LC[0] + 1} entries (the "
                             f"input and every conv layer's output), got {derived[key]}")
        values[key] = derived[key][:1]

    def where(key: str) -> str:
        if key == "LF":
            return f"{model.name('full_neurons')} (L - LC = {L[0] - LC[0]} layers)"
        return model.name(key)

    arch = _architecture(values, where, path, path.stem)
    # the sizes init_model derives must be the architecture's
    expected = _derived(arch)
    for key in ("ht_input", "wd_input", "ht_pad", "wd_pad", "ht_conv", "wd_conv", "var_ptr"):
        got = derived[key] if key in derived else model.integers(key)
        if got != expected[key]:
            raise ValueError(f"{model.name(key)} = {got}, but the layers give {expected[key]} "
                             "(as simpleNN's init_model computes it)")
    nL = model.integers("nL")
    if nL != [arch.n_classes]:
        raise ValueError(f"{model.name('nL')} = {nL}, but full_neurons ends with "
                         f"{arch.n_classes}")
    # net_config, read by cnn_predict's check_data, must describe the same network
    config = _Struct(model.get("net_config"), model.name("net_config"))
    config_arch = _architecture(_config_values(config, CONFIG_KEYS), config.name, path,
                                path.stem)
    if config_arch != arch:
        raise ValueError(f"{config.where} describes another network than the model's fields: "
                         f"{config_arch.to_dict()} vs {arch.to_dict()}")
    if config.has("nL") and config.integers("nL") != [arch.n_classes]:
        raise ValueError(f"{config.name('nL')} = {config.integers('nL')}, but full_neurons "
                         f"ends with {arch.n_classes}")
    return arch


def read_model(path: str | Path, *, return_labels: bool = False
               ) -> tuple[Architecture, np.ndarray] | tuple[Architecture, np.ndarray, np.ndarray]:
    """The architecture and ``theta`` of a simpleNN model saved as a ``.mat``.

    The file is what ``save('-v7', 'model.mat', 'model')`` writes for the struct that
    simpleNN's ``cnn_train`` returns (or :func:`write_model` writes); it is read with
    ``scipy.io.loadmat``. Every field used is checked: the configuration fields give the
    architecture, the derived sizes (``ht_input``, ``wd_input``, ``ht_pad``, ``wd_pad``,
    ``ht_conv``, ``wd_conv``, ``var_ptr``, ``nL``) must be those the layers give, and
    ``net_config`` must describe the same network; ``weight{m}`` and ``bias{m}`` must have
    the layer's shapes.

    Parameters
    ----------
    path : str or Path
    return_labels : bool, default False
        Also return ``model.labels``, the label value of every class.

    Returns
    -------
    arch : Architecture
        Named after the file's stem.
    theta : ndarray of shape (arch.n_params,), float64
        Every layer's ``vec(W^m)`` then ``b^m``.
    labels : ndarray of shape (n_classes,)
        Only with ``return_labels=True``; int64 when the labels are integers.

    Raises
    ------
    ValueError
        Naming the file and the field (``model.weight{2}``, ``model.net_config.LC``...): an
        unreadable or MATLAB v7.3 file, no variable ``model``, a missing field, a field of
        the wrong kind or size, sizes that disagree, or non-finite weights.

    Examples
    --------
    >>> import tempfile, os
    >>> from kronconv import Architecture, init_params
    >>> arch = Architecture.preset("mnist-3layer")
    >>> path = os.path.join(tempfile.mkdtemp(), "model.mat")
    >>> write_model(arch, init_params(arch, seed=1), path, labels=np.arange(1, 11))
    >>> arch2, theta, labels = read_model(path, return_labels=True)
    >>> arch2 == arch, theta.shape, labels.tolist()
    (True, (62026,), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    """
    from scipy.io import loadmat

    path = Path(path)
    try:
        contents = loadmat(path, squeeze_me=False, struct_as_record=True,
                           chars_as_strings=True)
    except NotImplementedError:
        raise ValueError(f"{path}: a MATLAB v7.3 (HDF5) file; save the model with "
                         "save('-v7', 'model.mat', 'model')") from None
    except Exception as exc:  # scipy raises several kinds for a file that is not a .mat
        raise ValueError(f"{path}: not a readable .mat file ({exc})") from None
    if "model" not in contents:
        present = sorted(k for k in contents if not k.startswith("__"))
        raise ValueError(f"{path}: no variable 'model' (simpleNN saves its model under that "
                         f"name); the file holds {present}")
    model = _Struct(contents["model"], f"{path}: model")
    arch = _model_architecture(model, path)
    float_type = model.get("float_type")
    if not (isinstance(float_type, np.ndarray) and float_type.dtype.kind == "U"
            and float_type.size == 1 and str(float_type.ravel()[0]) in ("double", "single")):
        raise ValueError(f"{model.name('float_type')} must be 'double' or 'single', got "
                         f"{float_type!r}")
    if len(model.numbers("gpu_use")) != 1:
        raise ValueError(f"{model.name('gpu_use')} must be one logical value")
    L = len(arch.layer_param_shapes)
    weights, biases = model.cell("weight", L), model.cell("bias", L)
    parts = []
    for m, ((shape, n_b), W, b) in enumerate(zip(arch.layer_param_shapes, weights, biases,
                                                 strict=True), 1):
        for field, value, want in (("weight", W, shape), ("bias", b, (n_b, 1))):
            name = f"{model.where}.{field}{{{m}}}"
            if (not isinstance(value, np.ndarray) or value.dtype.kind not in "iuf"
                    or value.shape != want):
                raise ValueError(f"{name} must be a real {want[0]} x {want[1]} matrix for "
                                 f"layer {m}, got {getattr(value, 'dtype', type(value).__name__)}"
                                 f" of shape {getattr(value, 'shape', None)}")
            if not np.isfinite(value).all():
                raise ValueError(f"{name} holds NaN or infinite values")
        parts += [np.asarray(W, dtype=np.float64).ravel(order="F"),
                  np.asarray(b, dtype=np.float64).ravel()]
    theta = np.concatenate(parts)
    labels = _labels(model.numbers("labels"), arch.n_classes, model.name("labels"))
    if np.array_equal(labels, np.round(labels)):
        labels = labels.astype(np.int64)
    return (arch, theta, labels) if return_labels else (arch, theta)
