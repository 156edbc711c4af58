"""Saved models: architecture, theta, scaling, options and the training state, in one ``.npz``.

The file is written atomically (a temporary file beside it, then ``os.replace``), so a run
killed while saving leaves the previous model intact; it is read without unpickling, and its
whole content is checked (:data:`MODEL_FIELDS`, :func:`model_array_specs`) before any is used.
Keys: ``meta`` (a 0-d string array holding JSON: ``format_version``, ``kronconv_version``,
``arch`` in the documented schema, ``scaling_divisor``, ``options``, ``state``), ``theta``,
``scaling_mean`` (d, a, b), ``velocity`` for SG, and ``buffer.NAME`` for each of the
optimizer's buffers (Adam's ``m`` and ``v``, simpleNN's subsample ``cycle``, ``best_theta``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._files import atomic_write
from ._schema import (
    ArraySpec,
    Field,
    check_arrays,
    check_fields,
    decode_meta,
    field_error,
    integer,
    mapping,
    number,
    one_of,
    read_npz,
    string,
)
from ._validate import FLOAT_DTYPES
from ._version import VERSION
from .architecture import Architecture, load_architecture
from .backends import BACKENDS
from .data import INPUT_FORMATS, Scaling
from .losses import LOSSES
from .train import AdamOptions, NewtonOptions, SGOptions, TrainState, pcg64_state

__all__ = ["FORMAT_VERSION", "MODEL_FIELDS", "OPTIMIZER_OPTIONS", "RESUME_OPTIONS",
           "TRAIN_SETTINGS", "Model", "check_resume", "load_model", "model_array_specs",
           "save_model"]

FORMAT_VERSION = 2          # 2: the optimizer's buffers, step and best iterate; reads 1 too

#: The options class of every optimizer a model's ``options.optimizer`` may name.
OPTIMIZER_OPTIONS = {"newton": NewtonOptions, "sg": SGOptions, "adam": AdamOptions}

_LOG_NUMBERS = ("iteration", "f", "grad_norm", "seconds")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _log_rows(rows: list) -> bool:
    """Every row of the log is an object with the numbers the log and its plot show."""
    return all(isinstance(row, dict) and all(_is_number(row.get(k)) for k in _LOG_NUMBERS)
               and "val_accuracy" in row
               and (row["val_accuracy"] is None or _is_number(row["val_accuracy"]))
               for row in rows)


def _label_values(values: list) -> bool:
    """Distinct finite numbers: a ``.mat`` training file's label of each class."""
    return (len(values) > 0 and all(_is_number(v) and np.isfinite(v) for v in values)
            and len(set(values)) == len(values))


#: The JSON fields of a model's ``meta``, in the order they are checked. ``options`` holds the
#: run's settings: a model saved from Python may hold other keys (and lack these), but the
#: keys below, when present, must be what ``kronconv train`` writes.
MODEL_FIELDS: tuple[Field, ...] = (
    integer("format_version", 0),        # another version is named as such
    string("kronconv_version"),
    mapping("arch"),
    number("scaling_divisor", "a number > 0", lambda v: 0 < v < np.inf),
    mapping("options"),
    one_of("options.backend", BACKENDS, required=False),
    integer("options.seed", 0, required=False),
    string("options.data", required=False),
    string("options.val_data", nullable=True, required=False),
    one_of("options.input_format", INPUT_FORMATS, required=False),
    one_of("options.optimizer", tuple(OPTIMIZER_OPTIONS), required=False),
    number("options.C", "a number > 0", lambda v: v > 0, required=False),
    one_of("options.loss", LOSSES, required=False),
    one_of("options.dtype", tuple(d.name for d in FLOAT_DTYPES), required=False),
    mapping("options.train_options", required=False),
    integer("options.chunk_size", 1, nullable=True, required=False),
    Field("options.labels", (list,), "a list of distinct finite numbers, the training file's "
          "label of each class", _label_values, required=False),
    mapping("state"),
    integer("state.iteration", 0),
    Field("state.rng_state", (dict, type(None)), "null or a state of numpy's PCG64 generator",
          pcg64_state),
    number("state.lam", "a number >= 0", lambda v: 0 <= v < np.inf, nullable=True),
    number("state.elapsed", "a number of seconds >= 0", lambda v: 0 <= v < np.inf),
    string("state.stop_reason", nullable=True),
    Field("state.history", (list,), "a list of log rows (objects with the numbers "
          f"{', '.join(_LOG_NUMBERS)} and val_accuracy, a number or null)", _log_rows),
    integer("state.step", 0, required=False),                  # format 1 has none
    number("state.best_val_accuracy", "a number in [0, 1]", lambda v: 0 <= v <= 1,
           nullable=True, required=False),
)

#: The options ``kronconv train --resume`` needs (``input_format`` and ``chunk_size`` have
#: defaults for older files).
RESUME_OPTIONS = ("backend", "seed", "data", "val_data")
#: The settings that go with ``train_options``, needed to resume a model that holds it; a
#: model without ``train_options`` (format 1) takes all five from the command line.
TRAIN_SETTINGS = ("optimizer", "C", "loss", "dtype")


def model_array_specs(arch: Architecture, dtype: np.dtype) -> tuple[ArraySpec, ...]:
    """The arrays of a model file: names, the shapes ``arch`` gives, dtypes, value checks.

    Parameters
    ----------
    arch : Architecture
    dtype : numpy.dtype
        Theta's dtype (``options.dtype`` when the model has it): every parameter-sized
        vector (theta, velocity, Adam's moments, the best iterate) has it.

    Returns
    -------
    tuple of ArraySpec
        ``theta`` (required) and ``scaling_mean`` (d, a, b) (required), then the optional
        ``velocity``, ``buffer.m``, ``buffer.v`` (>= 0), ``buffer.best_theta`` and
        ``buffer.cycle`` (integers >= 0); all finite.

    Examples
    --------
    >>> [(s.name, s.shape) for s in model_array_specs(Architecture.preset("digits"),
    ...                                               np.dtype(np.float64))][:2]
    [('theta', (3658,)), ('scaling_mean', (1, 8, 8))]
    """
    n, (a, b, d) = (arch.n_params,), arch.input

    def vector(name: str, required: bool = False, **kw: Any) -> ArraySpec:
        return ArraySpec(name, n, "(n_params,)", (np.dtype(dtype),), required=required, **kw)

    return (vector("theta", required=True),
            ArraySpec("scaling_mean", (d, a, b), "(d, a, b)", FLOAT_DTYPES),
            vector("velocity"), vector("buffer.m"), vector("buffer.v", low=0),
            vector("buffer.best_theta"),
            ArraySpec("buffer.cycle", (None,), "(n,)", "iu", low=0, required=False))


def _check_content(meta: dict[str, Any], arrays: dict[str, np.ndarray],
                   file: object) -> Architecture:
    """Check a model's whole content (``meta`` decoded, every array); return its architecture."""
    version_field, *fields = MODEL_FIELDS
    check_fields(meta, (version_field,), file)
    if meta["format_version"] not in (1, FORMAT_VERSION):
        raise ValueError(f"{file}: model format version {meta['format_version']!r}, this "
                         f"kronconv reads {FORMAT_VERSION}")
    check_fields(meta, fields, file)
    try:
        arch = Architecture.from_dict(meta["arch"])
    except (TypeError, ValueError) as exc:
        raise field_error(file, "arch", str(exc)) from None
    options = meta["options"]
    if "train_options" in options and "optimizer" in options:   # the optimizer's own checks
        try:
            OPTIMIZER_OPTIONS[options["optimizer"]](**options["train_options"])
        except (TypeError, ValueError) as exc:
            raise field_error(file, "options.train_options", str(exc)) from None
    theta = arrays.get("theta")
    own = theta.dtype if theta is not None and theta.dtype in FLOAT_DTYPES else np.float64
    dtype = np.dtype(options.get("dtype", own))        # every vector has theta's dtype
    check_arrays(arrays, model_array_specs(arch, dtype), file, "a kronconv model")
    return arch


@dataclass
class Model:
    """A trained (or training) network with everything needed to predict and to resume."""

    arch: Architecture
    scaling: Scaling
    options: dict[str, Any]
    state: TrainState

    @property
    def theta(self) -> np.ndarray:
        return self.state.theta


def save_model(path: str | Path, model: Model) -> None:
    """Write ``model`` to ``path`` (``.npz``) atomically.

    Parameters
    ----------
    path : str or Path
    model : Model

    Returns
    -------
    None

    Raises
    ------
    ValueError
        If the model's content is not what :func:`load_model` reads back (an option of the
        wrong kind, a theta of the wrong shape, ...): naming the file and the field, and
        before anything is written.
    """
    st = model.state
    meta = {"format_version": FORMAT_VERSION, "kronconv_version": VERSION,
            "arch": model.arch.to_dict(), "scaling_divisor": model.scaling.divisor,
            "options": model.options,
            "state": {"iteration": st.iteration, "rng_state": st.rng_state, "lam": st.lam,
                      "elapsed": st.elapsed, "stop_reason": st.stop_reason,
                      "history": st.history, "step": st.step,
                      "best_val_accuracy": st.best_val_accuracy}}
    text = json.dumps(meta)
    arrays = {"theta": st.theta, "scaling_mean": model.scaling.mean,
              **{f"buffer.{name}": value for name, value in st.buffers.items()}}
    if st.velocity is not None:
        arrays["velocity"] = st.velocity
    arrays = {name: np.asarray(value) for name, value in arrays.items()}
    _check_content(json.loads(text), arrays, path)
    atomic_write(path, lambda f: np.savez(f, meta=np.array(text), **arrays))


def load_model(path: str | Path) -> Model:
    """Read a model written by :func:`save_model`, its whole content checked first.

    The file must be a kronconv model of format version 1 or 2 whose every field and array
    is what :data:`MODEL_FIELDS` and :func:`model_array_specs` declare: the architecture
    valid, theta, the scaling mean and the optimizer's buffers of the shapes it gives and of
    one float dtype (``options.dtype`` when given), finite, the generator's state one numpy
    accepts, the optimizer's settings valid.

    Raises
    ------
    ValueError
        Naming the file, and the field where there is one (``"model.npz: options.backend:
        expected one of ('sparse', 'dense'), got 3"``): a missing, truncated, corrupted or
        foreign file, another format version, a missing field or array, or one that is not
        what it should be.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    Model

    Examples
    --------
    >>> import tempfile, os
    >>> from kronconv import Architecture, init_params
    >>> from kronconv.data import Scaling
    >>> arch = Architecture.preset("digits")
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> save_model(path, Model(arch, Scaling(16.0, np.zeros((1, 8, 8))), {},
    ...                        TrainState(init_params(arch))))
    >>> load_model(path).theta.shape
    (3658,)
    """
    path = Path(path)
    arrays = read_npz(path, "kronconv model")
    meta = decode_meta(path, arrays)
    arch = _check_content(meta, arrays, path)
    s = meta["state"]
    buffers = {k.removeprefix("buffer."): v for k, v in arrays.items() if k.startswith("buffer.")}
    state = TrainState(arrays["theta"], s["iteration"], s["rng_state"], s["lam"],
                       arrays.get("velocity"), s["elapsed"], s["stop_reason"], s["history"],
                       s.get("step", 0), s.get("best_val_accuracy"), buffers)
    return Model(arch, Scaling(float(meta["scaling_divisor"]), arrays["scaling_mean"]),
                 meta["options"], state)


def _describe(arch: Architecture) -> str:
    a, b, d = arch.input
    name = f"{arch.name!r}" if arch.name else "a network"
    return (f"{name} (input (a, b, d) = {(a, b, d)}, {len(arch.conv_shapes)} conv and "
            f"{len(arch.full_shapes)} full layers, {arch.n_classes} classes, "
            f"{arch.n_params} parameters)")


def _same_data(given: str, saved: str) -> bool:
    """Whether two data specifications name the same data (the same name, or the same file)."""
    if given == saved:
        return True
    return (os.path.isfile(given) and os.path.isfile(saved)
            and os.path.samefile(given, saved))


def check_resume(model: Model, path: str | Path, arch: str | Path | Architecture | None = None,
                 data: str | None = None) -> None:
    """Refuse to resume the run saved in ``path`` on another network or on other data.

    Parameters
    ----------
    model : Model
        The model read from ``path``.
    path : str or Path
        Its file, named in the messages.
    arch : str, Path or Architecture, optional
        The architecture given for the resumed run (a preset, a file): it must describe the
        saved network (:class:`~kronconv.Architecture` equality: the same layers and shapes).
    data : str, optional
        The training data given for the resumed run: it must be the saved run's data (the
        same name or the same file).

    Returns
    -------
    None

    Raises
    ------
    ValueError
        Naming both the saved and the given network or data; or if the model lacks an
        option of :data:`RESUME_OPTIONS`, or of :data:`TRAIN_SETTINGS` when it holds
        ``train_options`` (a model not written by ``kronconv train``).

    Examples
    --------
    >>> import tempfile, os
    >>> from kronconv import init_params
    >>> from kronconv.data import Scaling
    >>> arch = Architecture.preset("digits")
    >>> options = {"backend": "dense", "seed": 0, "data": "digits", "val_data": None,
    ...            "optimizer": "newton", "C": 1.0, "loss": "squared", "dtype": "float64",
    ...            "train_options": {}}
    >>> model = Model(arch, Scaling(16.0, np.zeros((1, 8, 8))), options,
    ...               TrainState(init_params(arch)))
    >>> check_resume(model, "model.npz", "digits", "digits")
    >>> try:
    ...     check_resume(model, "model.npz", "mnist-3layer")
    ... except ValueError as exc:
    ...     print(str(exc)[:70])
    model.npz: the saved run trains 'digits' (input (a, b, d) = (8, 8, 1),
    """
    settings = TRAIN_SETTINGS if "train_options" in model.options else ()
    for key in RESUME_OPTIONS + settings:
        if key not in model.options:
            raise field_error(path, f"options.{key}", "missing: a run saved by kronconv train "
                              "holds it, and resuming needs it")
    if arch is not None:
        given = arch if isinstance(arch, Architecture) else load_architecture(arch)
        if given != model.arch:
            named = isinstance(arch, (str, Path)) and str(arch) != given.name
            source = f" ({arch})" if named else ""
            raise ValueError(f"{path}: the saved run trains {_describe(model.arch)}, the "
                             f"architecture given{source} is {_describe(given)}; resume the "
                             "saved network, or start a new run in another file")
    saved = model.options["data"]
    if data is not None and not _same_data(str(data), saved):
        raise ValueError(f"{path}: the saved run trains on {saved!r}, the data given is "
                         f"{str(data)!r}; a resumed run continues on its own data (start a "
                         "new run in another file for other data)")
