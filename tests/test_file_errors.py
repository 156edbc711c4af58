"""Damaged and mismatched files: every reader checks the whole content and names the file and
the field; unusual but valid files still load.

The damaged models and golden files are generated from the schemas the readers use
(``MODEL_FIELDS``, ``model_array_specs``, ``GOLDEN_FIELDS``, ``golden_array_specs``): one case
per field and array (removed, of the wrong type, of the wrong shape, not finite), so the
battery follows the schemas when they change.
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import re
import sys
from dataclasses import asdict

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.io import savemat

from kronconv import Architecture, ConvSpec, FullSpec, init_params, load_architecture
from kronconv._schema import short
from kronconv.cli import main
from kronconv.data import Dataset, Scaling, check_fits, load_data, load_idx
from kronconv.golden import (
    GOLDEN_FIELDS,
    golden_array_specs,
    golden_arrays,
    read_golden,
    write_golden,
)
from kronconv.model import (
    MODEL_FIELDS,
    RESUME_OPTIONS,
    TRAIN_SETTINGS,
    Model,
    check_resume,
    load_model,
    model_array_specs,
    save_model,
)
from kronconv.simplenn import read_model, write_model
from kronconv.train import AdamOptions, TrainState

ARCH = Architecture.preset("digits")


def _raises(call, fragment, error=ValueError):
    """``call()`` raises ``error`` whose message holds ``fragment`` (plain text)."""
    with pytest.raises(error, match=re.escape(fragment)):
        call()


# -- JSON meta, nested by dotted names -----------------------------------------------------------

def _parent(meta, name):
    *parents, key = name.split(".")
    for part in parents:
        meta = meta[part]
    return meta, key


def _without(meta, name):
    meta = copy.deepcopy(meta)
    parent, key = _parent(meta, name)
    del parent[key]
    return meta


def _with(meta, name, value):
    meta = copy.deepcopy(meta)
    parent, key = _parent(meta, name)
    parent[key] = value
    return meta


def _wrong_type(field):
    """A value of a JSON type the field does not allow."""
    return next(value for value in ("text", 3) if not field.accepts(value))


def _write(path, meta, arrays):
    """A ``.npz`` like kronconv writes: ``meta`` as a 0-d JSON string beside the arrays."""
    np.savez(path, meta=np.array(json.dumps(meta)), **arrays)
    return path


# -- a model with every field and array ----------------------------------------------------------

def _model(dtype=np.float64) -> Model:
    theta = init_params(ARCH, seed=0, dtype=dtype)
    rng = np.random.default_rng(0)
    rng.random()
    options = {"backend": "dense", "seed": 0, "data": "digits", "val_data": None,
               "input_format": "row", "optimizer": "adam", "C": 1.0, "loss": "cross_entropy",
               "dtype": np.dtype(dtype).name, "train_options": asdict(AdamOptions(iterations=2)),
               "chunk_size": None, "labels": [-1.5, 0, 7]}
    row = {"iteration": 1, "f": 2.3, "grad_norm": 0.4, "seconds": 0.5, "val_accuracy": 0.5,
           "lr": 0.001}
    state = TrainState(theta, iteration=1, rng_state=rng.bit_generator.state, lam=None,
                       velocity=np.zeros_like(theta), elapsed=0.5, history=[row], step=45,
                       best_val_accuracy=0.5,
                       buffers={"m": np.zeros_like(theta), "v": np.ones_like(theta),
                                "best_theta": theta.copy(), "cycle": np.arange(10)})
    return Model(ARCH, Scaling(16.0, np.zeros((1, 8, 8))), options, state)


@pytest.fixture(scope="module")
def model_parts(tmp_path_factory):
    """The ``meta`` (decoded) and the arrays of a whole model file."""
    path = tmp_path_factory.mktemp("model") / "model.npz"
    save_model(path, _model())
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files if k != "meta"}
        meta = json.loads(str(f["meta"]))
    return meta, arrays


def test_model_parts_are_a_whole_model(model_parts, tmp_path):
    meta, arrays = model_parts
    model = load_model(_write(tmp_path / "model.npz", meta, arrays))
    assert model.arch == ARCH
    assert sorted(model.state.buffers) == ["best_theta", "cycle", "m", "v"]
    check_resume(model, tmp_path / "model.npz", "digits", "digits")


@pytest.mark.parametrize("field", MODEL_FIELDS, ids=lambda f: f.name)
def test_load_model_field_removed(model_parts, tmp_path, field):
    meta, arrays = model_parts
    path = _write(tmp_path / "model.npz", _without(meta, field.name), arrays)
    if field.required:
        _raises(lambda: load_model(path), f"model.npz: {field.name}: missing")
        return
    model = load_model(path)                         # optional: read without it
    name = field.name.removeprefix("options.")
    if name in RESUME_OPTIONS + TRAIN_SETTINGS:      # ... but a run needs it to resume
        _raises(lambda: check_resume(model, path), f"model.npz: {field.name}: missing")
    else:
        check_resume(model, path)


@pytest.mark.parametrize("field", MODEL_FIELDS, ids=lambda f: f.name)
def test_load_model_field_of_the_wrong_type(model_parts, tmp_path, field):
    meta, arrays = model_parts
    value = _wrong_type(field)
    path = _write(tmp_path / "model.npz", _with(meta, field.name, value), arrays)
    _raises(lambda: load_model(path),
            f"model.npz: {field.name}: expected {field.expected}, got {short(value)}")


MODEL_VALUES = [
    ("format_version", 3, "model.npz: model format version 3, this kronconv reads 2"),
    ("options.backend", 3, "model.npz: options.backend: expected one of ('sparse', 'dense'), "
                           "got 3"),
    ("options.backend", "gpu", "options.backend: expected one of ('sparse', 'dense'), got 'gpu'"),
    ("options.seed", -1, "options.seed: expected an integer >= 0, got -1"),
    ("options.seed", True, "options.seed: expected an integer >= 0, got True"),
    ("options.C", 0, "options.C: expected a number > 0, got 0"),
    ("options.C", float("nan"), "options.C: expected a number > 0, got nan"),
    ("options.dtype", "float16", "options.dtype: expected one of ('float32', 'float64')"),
    ("options.chunk_size", 0, "options.chunk_size: expected an integer >= 1 or null, got 0"),
    ("options.train_options", {"lr": 0}, "options.train_options: lr must be > 0, got 0"),
    ("options.train_options", {"momentum": 0.9}, "options.train_options: AdamOptions"),
    ("scaling_divisor", float("inf"), "scaling_divisor: expected a number > 0, got inf"),
    ("state.rng_state", {"bit_generator": "PCG64"},
     "state.rng_state: expected null or a state of numpy's PCG64 generator"),
    ("state.rng_state", {"bit_generator": "MT19937", "state": {"key": [1], "pos": 0}},
     "state.rng_state: expected null or a state of numpy's PCG64 generator"),
    ("state.iteration", 1.5, "state.iteration: expected an integer >= 0, got 1.5"),
    ("state.elapsed", -1.0, "state.elapsed: expected a number of seconds >= 0, got -1.0"),
    ("state.lam", -0.5, "state.lam: expected a number >= 0 or null, got -0.5"),
    ("state.history", [{"f": 1.0}], "state.history: expected a list of log rows"),
    ("state.history", [3], "state.history: expected a list of log rows"),
    ("state.best_val_accuracy", 1.5, "state.best_val_accuracy: expected a number in [0, 1]"),
    ("arch", {"input": {"a": 8, "b": 8, "d": 1}, "conv": [{"d_out": 2, "h": 0}],
              "full": [{"n_out": 10}]}, "model.npz: arch: conv layer 1: h must be >= 1, got 0"),
    ("arch", {"input": {"a": 8, "b": 8, "d": 1}, "full": [{"n_out": 10}], "optimizer": "sg"},
     "model.npz: arch: architecture: unknown key 'optimizer'"),
]


@pytest.mark.parametrize(("name", "value", "fragment"), MODEL_VALUES)
def test_load_model_field_of_a_bad_value(model_parts, tmp_path, name, value, fragment):
    meta, arrays = model_parts
    path = _write(tmp_path / "model.npz", _with(meta, name, value), arrays)
    _raises(lambda: load_model(path), fragment)


def test_load_model_meta_that_is_not_a_json_object(model_parts, tmp_path):
    _, arrays = model_parts
    for meta, fragment in ((np.array("[1, 2]"), "model.npz: meta: expected a JSON object, "
                                                "got [1, 2]"),
                           (np.array("{not json"), "model.npz: meta: not valid JSON"),
                           (np.array([1.0, 2.0]), "model.npz: meta: expected a 0-d string "
                                                  "array holding JSON, got float64 of shape (2,)")):
        np.savez(tmp_path / "model.npz", meta=meta, **arrays)
        _raises(lambda: load_model(tmp_path / "model.npz"), fragment)
    np.savez(tmp_path / "model.npz", **arrays)
    _raises(lambda: load_model(tmp_path / "model.npz"), "model.npz: meta: missing array")


SPECS = model_array_specs(ARCH, np.dtype(np.float64))


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_load_model_array_removed(model_parts, tmp_path, spec):
    meta, arrays = model_parts
    path = _write(tmp_path / "model.npz", meta,
                  {k: v for k, v in arrays.items() if k != spec.name})
    if spec.required:
        _raises(lambda: load_model(path), f"model.npz: {spec.name}: missing array")
    else:
        state = load_model(path).state
        assert spec.name.removeprefix("buffer.") not in state.buffers
        assert (state.velocity is None) == (spec.name == "velocity")


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_load_model_array_of_the_wrong_dtype_or_shape(model_parts, tmp_path, spec):
    meta, arrays = model_parts
    array = arrays[spec.name]
    path = tmp_path / "model.npz"
    _write(path, meta, {**arrays, spec.name: array.astype(np.complex128)})
    _raises(lambda: load_model(path),
            f"model.npz: {spec.name}: expected {spec.dtype_text()}, got dtype complex128")
    _write(path, meta, {**arrays, spec.name: array[None]})
    _raises(lambda: load_model(path), f"model.npz: {spec.name}: expected {spec.shape_text()}, "
                                      f"got shape {array[None].shape}")


@pytest.mark.parametrize("spec", [s for s in SPECS if s.dtypes != "iu"], ids=lambda s: s.name)
def test_load_model_array_not_finite(model_parts, tmp_path, spec):
    meta, arrays = model_parts
    bad = arrays[spec.name].copy()
    bad.flat[5] = np.nan
    index = tuple(int(i) for i in np.unravel_index(5, bad.shape))
    path = _write(tmp_path / "model.npz", meta, {**arrays, spec.name: bad})
    _raises(lambda: load_model(path),
            f"model.npz: {spec.name}: holds nan at index {index}, expected finite values")


@pytest.mark.parametrize("spec", [s for s in SPECS if s.low is not None], ids=lambda s: s.name)
def test_load_model_array_out_of_range(model_parts, tmp_path, spec):
    meta, arrays = model_parts
    bad = arrays[spec.name].copy()
    bad[2] = -1
    path = _write(tmp_path / "model.npz", meta, {**arrays, spec.name: bad})
    _raises(lambda: load_model(path), f"model.npz: {spec.name}: holds -1")


def test_load_model_refuses_unexpected_arrays_and_another_dtype(model_parts, tmp_path):
    meta, arrays = model_parts
    path = _write(tmp_path / "model.npz", meta, {**arrays, "buffer.q": arrays["theta"]})
    _raises(lambda: load_model(path), "model.npz: buffer.q: unexpected array")
    path = _write(tmp_path / "model.npz", meta,
                  {**arrays, "theta": arrays["theta"].astype(np.float32)})
    _raises(lambda: load_model(path), "model.npz: theta: expected dtype float64, got dtype "
                                      "float32")


def test_load_model_reads_unusual_but_valid_files(model_parts, tmp_path):
    meta, arrays = model_parts
    fortran = np.asfortranarray(np.arange(64.0).reshape(1, 8, 8) / 64)
    assert not fortran.flags.c_contiguous
    path = _write(tmp_path / "model.npz", meta, {**arrays, "scaling_mean": fortran,
                                                 "buffer.cycle": np.arange(10, dtype=np.uint8)})
    model = load_model(path)
    np.testing.assert_array_equal(model.scaling.mean, fortran)
    model.state.buffers["m"] += 1.0                    # the optimizer updates it in place
    save_model(tmp_path / "f32.npz", _model(np.float32))
    assert load_model(tmp_path / "f32.npz").theta.dtype == np.float32
    legacy = _without(_without(_with(meta, "format_version", 1), "state.step"),
                      "state.best_val_accuracy")
    legacy = _without(legacy, "options.train_options")     # format 1 had none
    model = load_model(_write(tmp_path / "v1.npz", legacy, arrays))
    assert model.state.step == 0
    check_resume(model, tmp_path / "v1.npz")       # the command line gives the settings


def test_save_model_refuses_what_load_model_would_refuse(tmp_path):
    model = _model()
    model.options["backend"] = 3
    _raises(lambda: save_model(tmp_path / "m.npz", model),
            "m.npz: options.backend: expected one of ('sparse', 'dense'), got 3")
    model = _model()
    model.state.theta = model.theta[:-1]
    _raises(lambda: save_model(tmp_path / "m.npz", model),
            "m.npz: theta: expected shape (n_params,) = (3658,), got shape (3657,)")
    assert not list(tmp_path.iterdir())                  # refused before anything is written


# -- files that are not whole npz files ----------------------------------------------------------

def _npy_member(header_shape, data: bytes) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "<f8", "fortran_order": False, "shape": header_shape})
    return buffer.getvalue() + data


def _damaged_npz(path, kind, model_file):
    raw = model_file.read_bytes()
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif kind == "text":
        path.write_text("theta = [1, 2, 3]\n")
    elif kind == "npy":
        np.save(path.with_suffix(".npy"), np.zeros(3))
        path.with_suffix(".npy").rename(path)
    elif kind == "pickled":
        np.savez(path, meta=np.array([{"a": 1}], dtype=object))
    elif kind == "lying header":                        # claims 10^9 values, holds one
        import zipfile

        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("theta.npy", _npy_member((10**9,), bytes(8)))
    elif kind == "not npy":
        import zipfile

        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("notes.txt", "hello")
    elif kind == "directory":
        path.mkdir()
    return path


DAMAGED = [("empty", ""), ("truncated", ""), ("text", ""), ("npy", ""),
           ("pickled", "meta.npy: dtype object holds Python objects"),
           ("lying header", "theta.npy: its header announces shape "
                                                 "(1000000000,) of float64 (8000000000 bytes), "
                                                 "the file holds 8 bytes"),
           ("not npy", "member 'notes.txt' is not a .npy array"), ("directory", "")]


@pytest.mark.parametrize(("kind", "detail"), DAMAGED, ids=[k for k, _ in DAMAGED])
@pytest.mark.parametrize(("reader", "what"), [(load_model, "kronconv model"),
                                              (read_golden, "kronconv golden file"),
                                              (load_data, "data file (.npz with x and y)")])
def test_readers_refuse_damaged_npz_files(tmp_path, kind, detail, reader, what):
    save_model(tmp_path / "good.npz", _model())
    path = _damaged_npz(tmp_path / "bad.npz", kind, tmp_path / "good.npz")
    _raises(lambda: reader(path), f"bad.npz: not a readable {what} ({detail}")


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reader=st.sampled_from([load_model, read_golden, load_data]),
       damage=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
                       min_size=1, max_size=8),
       keep=st.floats(0.05, 1))
def test_readers_give_a_value_error_or_a_whole_file_for_any_damage(tmp_path, reader, damage,
                                                                    keep):
    source = tmp_path / "good.npz"
    if not source.exists():
        save_model(source, _model())
    raw = bytearray(source.read_bytes())
    for where, value in damage:                 # bytes overwritten, then the file cut short
        raw[int(where * len(raw))] = value
    (tmp_path / "bad.npz").write_bytes(raw[: max(1, int(keep * len(raw)))])
    try:
        reader(tmp_path / "bad.npz")
        message = None                          # damage that left the content whole
    except ValueError as exc:                   # anything else fails the test
        message = str(exc)
    assert message is None or message.startswith(f"{tmp_path / 'bad.npz'}: ")


# -- golden files ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def golden_parts():
    arrays = golden_arrays(ARCH, batch=2)
    return json.loads(str(arrays.pop("meta"))), arrays


@pytest.mark.parametrize("field", GOLDEN_FIELDS, ids=lambda f: f.name)
def test_read_golden_field_removed_or_of_the_wrong_type(golden_parts, tmp_path, field):
    meta, arrays = golden_parts
    path = _write(tmp_path / "g.npz", _without(meta, field.name), arrays)
    _raises(lambda: read_golden(path), f"g.npz: {field.name}: missing")
    value = _wrong_type(field)
    path = _write(tmp_path / "g.npz", _with(meta, field.name, value), arrays)
    _raises(lambda: read_golden(path),
            f"g.npz: {field.name}: expected {field.expected}, got {short(value)}")


GOLDEN_SPECS = golden_array_specs(ARCH, 2, "float64")


@pytest.mark.parametrize("spec", GOLDEN_SPECS, ids=lambda s: s.name)
def test_read_golden_array_removed_reshaped_retyped(golden_parts, tmp_path, spec):
    meta, arrays = golden_parts
    path = tmp_path / "g.npz"
    _write(path, meta, {k: v for k, v in arrays.items() if k != spec.name})
    _raises(lambda: read_golden(path), f"g.npz: {spec.name}: missing array")
    _write(path, meta, {**arrays, spec.name: arrays[spec.name][None]})
    _raises(lambda: read_golden(path), f"g.npz: {spec.name}: expected {spec.shape_text()}, got "
                                       f"shape {arrays[spec.name][None].shape}")
    _write(path, meta, {**arrays, spec.name: arrays[spec.name].astype(np.complex64)})
    _raises(lambda: read_golden(path),
            f"g.npz: {spec.name}: expected {spec.dtype_text()}, got dtype complex64")
    if spec.name != "y":
        bad = arrays[spec.name].astype(np.float64)
        bad.flat[-1] = np.inf
        _write(path, meta, {**arrays, spec.name: bad})
        _raises(lambda: read_golden(path), f"g.npz: {spec.name}: holds inf at index")


def test_read_golden_checks_labels_shapes_from_meta_and_extra_arrays(golden_parts, tmp_path):
    meta, arrays = golden_parts
    path = tmp_path / "g.npz"
    _write(path, meta, {**arrays, "y": np.array([3, 10])})
    _raises(lambda: read_golden(path), "g.npz: y: holds 10 at index (1,), expected values in "
                                       "[0, 10)")
    _write(path, _with(meta, "batch", 3), arrays)           # the arrays are of batch 2
    _raises(lambda: read_golden(path), "g.npz: x_nchw: expected shape (N, d, a, b) = "
                                       "(3, 1, 8, 8), got shape (2, 1, 8, 8)")
    _write(path, _with(meta, "dtype", "float32"), arrays)
    _raises(lambda: read_golden(path), "g.npz: x_nchw: expected dtype float32, got dtype float64")
    _write(path, meta, {**arrays, "conv3.Z": arrays["conv2.Z"]})
    _raises(lambda: read_golden(path), "g.npz: conv3.Z: unexpected array: not part of a golden "
                                       "file of this architecture (2 conv and 2 full layers)")
    _write(path, _with(meta, "arch", "digits"), arrays)
    _raises(lambda: read_golden(path), "g.npz: arch: expected an object, got 'digits'")


def test_read_golden_reads_what_write_golden_writes_and_unusual_valid_files(golden_parts,
                                                                          tmp_path):
    for preset, dtype in (("digits", "float32"), ("mnist-3layer", "float64")):
        write_golden(tmp_path / "g.npz", Architecture.preset(preset), batch=1, dtype=dtype)
        assert read_golden(tmp_path / "g.npz")["meta"]["dtype"] == dtype
    meta, arrays = golden_parts
    unusual = {k: np.array(v, order="F") for k, v in arrays.items()}
    unusual["y"] = arrays["y"].astype(np.uint8)
    golden = read_golden(_write(tmp_path / "u.npz", meta, unusual))
    np.testing.assert_array_equal(golden["conv1.phi"], arrays["conv1.phi"])
    assert golden["y"].dtype == np.uint8


# -- data: .npz --------------------------------------------------------------------------------

RNG = np.random.default_rng(0)
X = RNG.normal(size=(4, 1, 8, 8))
Y = np.array([0, 3, 9, 3])


def _with_value(array, index, value, dtype=None):
    out = np.array(array, dtype=dtype or array.dtype)
    out[index] = value
    return out


NPZ_DATA = [
    ({"y": Y}, "d.npz: x: missing array (expected shape (N, d, a, b)"),
    ({"x": X}, "d.npz: y: missing array (expected shape (N,) = (4,)"),
    ({"x": X[0], "y": Y}, "d.npz: x: expected shape (N, d, a, b), got shape (1, 8, 8)"),
    ({"x": X[None], "y": Y}, "d.npz: x: expected shape (N, d, a, b), got shape (1, 4, 1, 8, 8)"),
    ({"x": X[:0], "y": Y[:0]}, "d.npz: x: expected shape (N, d, a, b), got shape (0, 1, 8, 8)"),
    ({"x": X, "y": Y[:, None]}, "d.npz: y: expected shape (N,) = (4,), got shape (4, 1)"),
    ({"x": X, "y": Y[:3]}, "d.npz: y: expected shape (N,) = (4,), got shape (3,)"),
    ({"x": X * 1j, "y": Y}, "d.npz: x: expected a bool, integer, unsigned integer or float "
                            "dtype, got dtype complex128"),
    ({"x": np.full((4, 1, 2, 2), "a"), "y": Y}, "d.npz: x: expected a bool"),
    ({"x": _with_value(X, (2, 0, 1, 1), np.nan), "y": Y},
     "d.npz: x: holds nan at index (2, 0, 1, 1), expected finite values"),
    ({"x": _with_value(X, (0, 0, 0, 0), -np.inf), "y": Y}, "d.npz: x: holds -inf at index"),
    ({"x": X, "y": _with_value(Y, 1, 0.5, float)},
     "d.npz: y: holds 0.5 at index (1,), expected whole numbers (class labels)"),
    ({"x": X, "y": _with_value(Y, 3, np.inf, float)},
     "d.npz: y: holds inf at index (3,), expected finite values"),
    ({"x": X, "y": _with_value(Y, 2, -1)}, "d.npz: y: holds -1 at index (2,), expected values "
                                           "in [0, 2147483648)"),
    ({"x": X, "y": Y * 1j}, "d.npz: y: expected a bool"),
]


@pytest.mark.parametrize(("arrays", "fragment"), NPZ_DATA)
def test_load_data_refuses_bad_npz(tmp_path, arrays, fragment):
    np.savez(tmp_path / "d.npz", **arrays)
    _raises(lambda: load_data(tmp_path / "d.npz"), fragment)


def test_load_data_inf_label_is_shown_as_it_is_stored(tmp_path):
    np.savez(tmp_path / "d.npz", x=X, y=_with_value(Y, 0, np.inf, float))
    with pytest.raises(ValueError, match=r"d\.npz: y: holds inf at index \(0,\)") as info:
        load_data(tmp_path / "d.npz")
    assert "-9223372036854775808" not in str(info.value)


def test_load_data_reads_unusual_but_valid_npz(tmp_path):
    x = np.asfortranarray(X.astype(np.float32))
    np.savez(tmp_path / "d.npz", x=x, y=Y.astype(np.uint8), names=np.array(["a", "b"]))
    data = load_data(tmp_path / "d.npz")
    assert data.x.dtype == np.float32
    np.testing.assert_array_equal(data.x, X.astype(np.float32))
    assert data.y.dtype == np.int64
    np.testing.assert_array_equal(data.y, Y)
    np.savez(tmp_path / "f.npz", x=(X > 0), y=Y.astype(np.float64))      # whole float labels
    np.testing.assert_array_equal(load_data(tmp_path / "f.npz").y, Y)


# -- data: IDX ---------------------------------------------------------------------------------

def _idx(shape, type_code=0x08, ndim=None, extra=0, magic=b"\x00\x00"):
    header = magic + bytes([type_code, len(shape) if ndim is None else ndim])
    header += b"".join(n.to_bytes(4, "big") for n in shape)
    return header + bytes(int(np.prod(shape)) + extra)


IMAGES, LABELS = _idx((3, 4, 5)), _idx((3,))
IDX = [
    ("images", b"", "images: not an IDX file of images (N, rows, columns): the file is empty"),
    ("images", b"\x00\x00", "images: not an IDX file of images (N, rows, columns): magic "
                            "number 0x0000, expected 0x00000803"),
    ("images", b"\x1f\x8b\x08\x03" + IMAGES[4:], "magic number 0x1f8b0803, expected 0x00000803"),
    ("images", _idx((3, 4, 5), type_code=0x0D), "data type 0x0D (float); kronconv reads "
                                                "unsigned bytes (0x08)"),
    ("images", LABELS, "images: not an IDX file of images (N, rows, columns): 1 dimension(s), "
                       "images have 3"),
    ("labels", IMAGES, "labels: not an IDX file of labels (N,): 3 dimension(s), labels have 1"),
    ("images", IMAGES[:10], "images: not an IDX file of images (N, rows, columns): the header "
                            "ends after 10 bytes, its 3 size(s) need 16"),
    ("images", _idx((0, 4, 5)), "images: its header gives the shape (N, rows, columns) = "
                                "(0, 4, 5): no images"),
    ("images", IMAGES[:-7], "images: holds 53 bytes of images, its header's shape (N, rows, "
                            "columns) = (3, 4, 5) needs 60 (a truncated file?)"),
    ("labels", _idx((3,), extra=2), "labels: holds 5 bytes of labels, its header's shape (N,) "
                                    "= (3,) needs 3"),
    ("images", _idx((2**31, 2**31, 2**31)), "images: holds 0 bytes of images, its header's "
                                            "shape (N, rows, columns) = (2147483648, "),
    ("labels", _idx((4,)), "images holds 3 images but"),
]


@pytest.mark.parametrize(("which", "raw", "fragment"), IDX)
def test_load_idx_refuses_bad_files(tmp_path, which, raw, fragment):
    files = {"images": tmp_path / "images", "labels": tmp_path / "labels"}
    files["images"].write_bytes(IMAGES)
    files["labels"].write_bytes(LABELS)
    files[which].write_bytes(raw)
    _raises(lambda: load_idx(files["images"], files["labels"]), fragment)


def test_load_idx_refuses_broken_gzip_and_missing_files(tmp_path):
    whole = gzip.compress(IMAGES)
    (tmp_path / "labels.gz").write_bytes(gzip.compress(LABELS))
    for raw, fragment in ((whole[: len(whole) // 2], "images.gz: not readable (Compressed file "
                                                      "ended before the end-of-stream marker"),
                          (b"\x1f\x8b" + bytes(30), "images.gz: not readable ("),
                          (b"not gzip at all", "images.gz: not readable (Not a gzipped file")):
        (tmp_path / "images.gz").write_bytes(raw)
        _raises(lambda: load_idx(tmp_path / "images.gz", tmp_path / "labels.gz"), fragment)
    _raises(lambda: load_idx(tmp_path / "nothere.gz", tmp_path / "labels.gz"),
            "nothere.gz: not readable ([Errno 2] No such file or directory")
    (tmp_path / "images.gz").write_bytes(whole)
    data = load_idx(tmp_path / "images.gz", tmp_path / "labels.gz")
    assert data.x.shape == (3, 1, 4, 5)


# -- data: simpleNN .mat -----------------------------------------------------------------------

MAT_DATA = [
    ({"Z": np.ones((0, 4)), "y": np.ones((0, 1))}, (2, 2, 1),
     "d.mat: variable 'Z' holds no instances (0 rows)"),
    ({"Z": np.ones((2, 4)), "y": np.array([[1.0], [2.0]])}, (2.5, 2, 1),
     "d.mat: shape a must be an integer, got 2.5"),
    ({"Z": np.ones((2, 4)), "y": np.array([[1.0], [2.0]])}, (2, 2, True),
     "d.mat: shape d must be an integer, got True"),
    ({"Z": np.ones((2, 4)), "y": np.array([[1.0], [2.0]])}, (2, 0, 1),
     "d.mat: shape b must be >= 1, got 0"),
    ({"Z": np.ones((2, 4)), "y": np.array([[1.0], [2.0]])}, (2, 2),
     "d.mat: shape must be (a, b, d), got (2, 2)"),
    ({"Z": np.ones((2, 5)), "y": np.array([[1.0], [2.0]])}, (2, 2, 1),
     "d.mat: variable 'Z' has 5 columns, more than a*b*d = 2*2*1 = 4"),
    ({"Z": np.ones((2, 4)), "y": np.array([[1.0], [2.0], [3.0]])}, (2, 2, 1),
     "d.mat: variable 'y' must be a real vector of 2 labels"),
    ({"Z": np.ones((2, 4)) * 1j, "y": np.array([[1.0], [2.0]])}, (2, 2, 1),
     "d.mat: variable 'Z' must be a real matrix"),
    ({"Z": np.ones((2, 4)), "y": np.array([[np.nan], [2.0]])}, (2, 2, 1),
     "d.mat: variable 'y' holds NaN or infinite labels"),
]


@pytest.mark.parametrize(("variables", "shape", "fragment"), MAT_DATA)
def test_load_data_refuses_bad_mat(tmp_path, variables, shape, fragment):
    savemat(tmp_path / "d.mat", variables)
    _raises(lambda: load_data(tmp_path / "d.mat", shape=shape), fragment)


def test_load_data_mat_padding_is_under_the_memory_guard(tmp_path):
    from kronconv import MemoryLimitError

    savemat(tmp_path / "d.mat", {"Z": np.ones((2, 4)), "y": np.array([[1.0], [2.0]])})
    _raises(lambda: load_data(tmp_path / "d.mat", shape=(10**6, 10**6, 1)),
            "d.mat: variable 'Z' padded to a*b*d = 1000000000000 columns", MemoryLimitError)


def test_read_model_checks_L_and_LC_before_the_sizes_they_give(tmp_path):
    from scipy.io import loadmat

    write_model(ARCH, init_params(ARCH), tmp_path / "m.mat")
    model = loadmat(tmp_path / "m.mat", struct_as_record=True)["model"]
    fields = {k: model[0, 0][k] for k in model.dtype.names}
    for field, value, fragment in (("LC", -1.0, "m.mat: model.LC must be >= 0, got -1"),
                                   ("L", 0.0, "m.mat: model.L must be >= 1, got 0")):
        savemat(tmp_path / "m.mat", {"model": {**fields, field: np.array([[value]])}})
        _raises(lambda: read_model(tmp_path / "m.mat"), fragment)


# -- data against the network --------------------------------------------------------------------

def test_check_fits_names_the_data_and_the_network():
    _raises(lambda: check_fits(Dataset(np.zeros((2, 1, 28, 28)), np.zeros(2, int)), ARCH,
                               "mnist.npz"),
            "mnist.npz: images of shape (d, a, b) = (1, 28, 28), the network takes (1, 8, 8)")
    _raises(lambda: check_fits(Dataset(X, np.array([1, 12, 10, 12])), ARCH, "d.npz"),
            "d.npz: labels [10, 12] lie outside the network's 10 classes (0..9)")
    mapped = Dataset(X, np.array([0, 10, 3, 1]), np.arange(1, 12))
    _raises(lambda: check_fits(mapped, ARCH, "d.mat"),
            "d.mat: holds 11 distinct labels [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], more than the "
            "network's 10 classes")
    check_fits(Dataset(X, Y), ARCH, "d.npz")


# -- architecture files and arguments --------------------------------------------------------------

NO_TOML = pytest.mark.skipif(sys.version_info < (3, 11), reason="TOML needs Python >= 3.11")


@pytest.mark.parametrize(("name", "text"), [
    ("deep.json", "[" * 100_000 + "]" * 100_000),
    pytest.param("deep.toml", "a = " + "[" * 100_000 + "]" * 100_000, marks=NO_TOML),
    ("deep.json", '{"full": [{"n_out": 2}], "input": ' + "[" * 100_000 + "]" * 100_000 + "}"),
])
def test_load_architecture_refuses_deeply_nested_files(tmp_path, name, text):
    (tmp_path / name).write_text(text)
    _raises(lambda: load_architecture(tmp_path / name), f"{name}: nested too deeply to parse")


def test_architecture_messages_cut_nested_values_short(tmp_path):
    (tmp_path / "deep.json").write_text('{"full": [{"n_out": 2}], "input": '
                                        + "[" * 900 + "]" * 900 + "}")
    _raises(lambda: load_architecture(tmp_path / "deep.json"),
            "deep.json: input must be a mapping with keys a, b, d, got [[[[...]]]]", TypeError)


ARCH_ARGUMENTS = [
    (lambda: load_architecture({"input": {"a": 8}}), TypeError,
     "source must be a preset name or the path of an architecture file, got dict "
     "{'input': {'a': 8}}; Architecture.from_dict reads a mapping"),
    (lambda: load_architecture(["digits"]), TypeError,
     "source must be a preset name or the path of an architecture file, got list ['digits']"),
    (lambda: Architecture((8, 8, 1), full=FullSpec(10)), TypeError,
     "full must be a list of FullSpecs or mappings, one per layer, got a FullSpec; for one "
     "layer: full=[...]"),
    (lambda: Architecture((8, 8, 1), conv=ConvSpec(2, 3), full=[FullSpec(10)]), TypeError,
     "conv must be a list of ConvSpecs or mappings, one per layer, got a ConvSpec"),
    (lambda: Architecture((8, 8, 1), full={"n_out": 10}), TypeError,
     "full must be a list of FullSpecs or mappings, one per layer, got {'n_out': 10}"),
    (lambda: Architecture((8, 8, 1), full=10), TypeError,
     "full must be a list of FullSpecs or mappings, one per layer, got 10"),
    (lambda: Architecture({"a": 8, "b": 8, "d": 1}, full=[FullSpec(10)]), ValueError,
     "input must be (a, b, d), got {'a': 8, 'b': 8, 'd': 1}"),
    (lambda: Architecture((8, [8, 8], 1), full=[FullSpec(10)]), TypeError,
     "input b must be an integer, got [8, 8]"),
    (lambda: Architecture((8, 8, 1), full=[[FullSpec(10)]]), TypeError,
     "full layer 1: must be a FullSpec or a mapping, got [FullSpec("),
    (lambda: Architecture((8, 8, 1), full=[FullSpec(10)], name=3), TypeError,
     "name must be a string or None, got 3"),
]


@pytest.mark.parametrize(("call", "error", "fragment"), ARCH_ARGUMENTS)
def test_architecture_arguments_are_named(call, error, fragment):
    _raises(call, fragment, error)


# -- resuming another run, predicting other classes: through the command line -------------------

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model trained one iteration by ``kronconv train``."""
    path = tmp_path_factory.mktemp("trained") / "m.npz"
    assert main(["train", "--iterations", "1", "--out", str(path), "--quiet"]) == 0
    return path


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--arch", "mnist-3layer"], "--resume: {out}: the saved run trains 'digits' (input (a, b, d) "
     "= (8, 8, 1), 2 conv and 2 full layers, 10 classes, 3658 parameters), the architecture "
     "given is 'mnist-3layer' (input (a, b, d) = (28, 28, 1)"),
    (["--data", "mnist-demo"], "--resume: {out}: the saved run trains on 'digits', the data "
     "given is 'mnist-demo'"),
])
def test_train_resume_refuses_another_network_or_data_and_keeps_the_model(
        trained, tmp_path, capsys, argv, fragment):
    out = tmp_path / "m.npz"
    out.write_bytes(trained.read_bytes())
    with pytest.raises(SystemExit) as info:
        main(["train", "--resume", "--out", str(out), "--iterations", "2", "--quiet", *argv])
    assert info.value.code == 2
    assert fragment.format(out=out) in capsys.readouterr().err
    assert out.read_bytes() == trained.read_bytes()


def test_train_resume_accepts_the_same_network_given_again(trained, tmp_path):
    out = tmp_path / "m.npz"
    out.write_bytes(trained.read_bytes())
    assert main(["train", "--resume", "--out", str(out), "--iterations", "2", "--quiet",
                 "--arch", "digits", "--data", "digits"]) == 0
    assert load_model(out).state.iteration == 2


def test_predict_refuses_labels_outside_the_models_classes(trained, tmp_path, capsys):
    np.savez(tmp_path / "test.npz", x=X, y=np.array([0, 10, 3, 11]))
    with pytest.raises(SystemExit) as info:
        main(["predict", "--model", str(trained), "--data", str(tmp_path / "test.npz")])
    assert info.value.code == 2                     # refused: no prediction was made
    err = capsys.readouterr().err
    assert f"{tmp_path / 'test.npz'}: labels [10, 11] lie outside the network's 10 classes" in err
    assert "accuracy" not in err


def test_train_reads_float16_images_and_uint8_labels_and_saves_its_model(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.abs(X).astype(np.float16), y=Y.astype(np.uint8))
    assert main(["train", "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "m.npz"),
                 "--iterations", "1", "--quiet"]) == 0
    assert load_model(tmp_path / "m.npz").scaling.mean.dtype == np.float64


def test_train_refuses_data_whose_labels_or_images_do_not_fit(tmp_path, capsys):
    np.savez(tmp_path / "d.npz", x=X, y=np.array([0, 10, 3, 1]))
    np.savez(tmp_path / "big.npz", x=np.zeros((2, 1, 9, 9)), y=np.array([0, 1]))
    for data, fragment in (("d.npz", "--data: {dir}/d.npz: labels [10] lie outside"),
                           ("big.npz", "--data: {dir}/big.npz: images of shape (d, a, b) = "
                                       "(1, 9, 9), the network takes (1, 8, 8)")):
        with pytest.raises(SystemExit) as info:
            main(["train", "--data", str(tmp_path / data), "--out", str(tmp_path / "m.npz"),
                  "--quiet"])
        assert info.value.code == 2                 # refused: the data and --arch disagree
        assert fragment.format(dir=tmp_path) in capsys.readouterr().err
    assert not (tmp_path / "m.npz").exists()
