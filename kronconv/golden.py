"""Golden test vectors: one self-describing ``.npz`` with a network's inputs, weights,
every layer's intermediates, outputs, objective, gradient and a Gauss-Newton product.

Keys (``np.load(path, allow_pickle=False)`` reads them all):

- ``meta``: 0-d string array, JSON with ``format_version`` (1), ``kronconv_version``,
  ``arch`` (the documented architecture schema), ``loss``, ``C`` (null for infinity),
  ``seed``, ``dtype``, ``batch``.
- ``x_nchw`` (N, d, a, b) inputs and ``y`` (N,) integer labels.
- per convolutional layer m = 1, 2, ...: ``conv{m}.w_oihw`` (d_out, d, h, h), ``conv{m}.b``;
  in kronconv's layout for the whole batch: ``conv{m}.Z`` (d, a*b*N), ``conv{m}.phi``
  (h*h*d, a_conv*b_conv*N), ``conv{m}.S`` (d_out, a_conv*b_conv*N), ``conv{m}.Z_next``
  (d_out, a_out*b_out*N).
- per fully-connected layer m: ``full{m}.W`` (n_out, n_in) and ``full{m}.b``; ``full1.W``
  acts on ``z = vec(Z^{L_c+1})`` (channel fastest; :func:`~kronconv.nchw_flat_from_W` gives
  the weight for a flattened NCHW map).
- ``z_out`` (N, n_classes), ``f`` (0-d), ``grad`` (n_params,) in theta's order, and per
  layer ``conv{m}.grad_w_oihw``, ``conv{m}.grad_b``, ``full{m}.grad_W``, ``full{m}.grad_b``.
- ``v`` (n_params,) a random direction, ``Jv`` (N, n_classes), ``Gv`` (n_params,) (the
  Gauss-Newton product on the whole batch).

The same arguments give byte-identical files: the zip members carry a fixed timestamp. The
documentation's page on the format (:ref:`golden`) gives every key's layout and formula for
readers without kronconv, and a reader in plain numpy that recomputes a file.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from . import memory
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
from ._validate import FLOAT_DTYPES, Integer, Options, validate_params
from ._version import VERSION
from .architecture import Architecture
from .gauss_newton import GaussNewton, jacobian_vector
from .layer import conv_S, layer_output, phi_pad
from .layout import Z_from_nchw, oihw_from_W
from .losses import LOSS, LOSSES
from .objective_function import C_ARG, network_output, objective_and_gradient
from .parameters import ARCH, init_params, unpack_params

__all__ = ["GOLDEN_FIELDS", "GOLDEN_FORMAT_VERSION", "golden_array_specs", "golden_arrays",
           "read_golden", "write_golden"]

GOLDEN_FORMAT_VERSION = 1

#: The JSON fields of a golden file's ``meta``, in the order they are checked.
GOLDEN_FIELDS: tuple[Field, ...] = (
    integer("format_version", 0),        # another version is named as such
    string("kronconv_version"),
    mapping("arch"),
    one_of("loss", LOSSES),
    number("C", "a number > 0 (null for infinity)", lambda v: 0 < v < math.inf, nullable=True),
    integer("seed", 0),
    one_of("dtype", tuple(d.name for d in FLOAT_DTYPES)),
    integer("batch", 1),
)


def golden_array_specs(arch: Architecture, batch: int, dtype: str) -> tuple[ArraySpec, ...]:
    """Every array of a golden file: the keys, shapes and dtypes the module docstring lists.

    Parameters
    ----------
    arch : Architecture
    batch : int
        N, the instances.
    dtype : {"float32", "float64"}
        The dtype of every array but ``y`` (integers in ``0..n_classes-1``).

    Returns
    -------
    tuple of ArraySpec
        In the order :func:`golden_arrays` writes them; all required, all finite.

    Examples
    --------
    >>> specs = golden_array_specs(Architecture.preset("digits"), 4, "float64")
    >>> [(s.name, s.meaning, s.shape) for s in specs][2:4]
    [('conv1.w_oihw', '(d_out, d, h, h)', (8, 1, 3, 3)), ('conv1.b', '(d_out,)', (8,))]
    """
    N, K, n = batch, arch.n_classes, (arch.n_params,)
    a, b, d = arch.input
    dt = (np.dtype(dtype),)

    def spec(name: str, shape: tuple[int, ...], meaning: str) -> ArraySpec:
        return ArraySpec(name, shape, meaning, dt)

    specs = [spec("x_nchw", (N, d, a, b), "(N, d, a, b)"),
             ArraySpec("y", (N,), "(N,)", "iu", low=0, high=K)]
    for m, s in enumerate(arch.conv_shapes, 1):
        conv = s.a_conv * s.b_conv * N
        specs += [spec(f"conv{m}.w_oihw", (s.d_out, s.d, s.h, s.h), "(d_out, d, h, h)"),
                  spec(f"conv{m}.b", (s.d_out,), "(d_out,)"),
                  spec(f"conv{m}.Z", (s.d, s.a * s.b * N), "(d, a*b*N)"),
                  spec(f"conv{m}.phi", (s.h * s.h * s.d, conv), "(h*h*d, a_conv*b_conv*N)"),
                  spec(f"conv{m}.S", (s.d_out, conv), "(d_out, a_conv*b_conv*N)"),
                  spec(f"conv{m}.Z_next", (s.d_out, s.a_out * s.b_out * N),
                       "(d_out, a_out*b_out*N)")]
    for m, (n_out, n_in) in enumerate(arch.full_shapes, 1):
        specs += [spec(f"full{m}.W", (n_out, n_in), "(n_out, n_in)"),
                  spec(f"full{m}.b", (n_out,), "(n_out,)")]
    specs += [spec("z_out", (N, K), "(N, n_classes)"), spec("f", (), "()"),
              spec("grad", n, "(n_params,)")]
    for m, s in enumerate(arch.conv_shapes, 1):
        specs += [spec(f"conv{m}.grad_w_oihw", (s.d_out, s.d, s.h, s.h), "(d_out, d, h, h)"),
                  spec(f"conv{m}.grad_b", (s.d_out,), "(d_out,)")]
    for m, (n_out, n_in) in enumerate(arch.full_shapes, 1):
        specs += [spec(f"full{m}.grad_W", (n_out, n_in), "(n_out, n_in)"),
                  spec(f"full{m}.grad_b", (n_out,), "(n_out,)")]
    specs += [spec("v", n, "(n_params,)"), spec("Jv", (N, K), "(N, n_classes)"),
              spec("Gv", n, "(n_params,)")]
    return tuple(specs)


#: The arguments of a golden vector, declared once (:func:`golden_arrays`, :func:`write_golden`).
GOLDEN_ARGS = {"arch": ARCH, "batch": Integer(1), "seed": Integer(0),
               "dtype": Options(tuple(d.name for d in FLOAT_DTYPES)), "loss": LOSS, "C": C_ARG}


@validate_params(GOLDEN_ARGS)
def golden_arrays(arch: Architecture, batch: int = 4, seed: int = 0, dtype: str = "float64",
                  loss: str = "cross_entropy", C: float = 0.01) -> dict[str, np.ndarray]:
    """Every array of a golden file, keyed as the module docstring lists them."""
    dt = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    a, b, d = arch.input
    memory.check_batch_memory(d * a * b * (8 + dt.itemsize), batch,
                              "the direction v and the random images",
                              fixed=arch.n_params * (8 + dt.itemsize))
    theta = init_params(arch, seed, dt)
    x = rng.standard_normal((batch, d, a, b)).astype(dt)
    y = rng.integers(0, arch.n_classes, size=batch)
    meta = {"format_version": GOLDEN_FORMAT_VERSION, "kronconv_version": VERSION,
            "arch": arch.to_dict(), "loss": loss, "C": None if math.isinf(C) else C,
            "seed": seed, "dtype": dt.name, "batch": batch}
    out: dict[str, np.ndarray] = {"meta": np.array(json.dumps(meta, sort_keys=True)),
                                  "x_nchw": x, "y": y}
    params = unpack_params(theta, arch)
    Z = Z_from_nchw(x)
    for m, ((W, bias), shape, act) in enumerate(
            zip(params, arch.conv_shapes, arch.activations, strict=False), 1):
        out |= {f"conv{m}.w_oihw": oihw_from_W(W, shape.h), f"conv{m}.b": bias.copy(),
                f"conv{m}.Z": Z, f"conv{m}.phi": phi_pad(Z, shape),
                f"conv{m}.S": conv_S(Z, W, bias, shape)}
        Z = layer_output(Z, W, bias, shape, act)
        out[f"conv{m}.Z_next"] = Z
    n_conv = len(arch.conv_shapes)
    for m, (W, bias) in enumerate(params[n_conv:], 1):
        out |= {f"full{m}.W": W.copy(), f"full{m}.b": bias.copy()}
    f, grad = objective_and_gradient(theta, arch, Z_from_nchw(x), y, C, loss)
    out |= {"z_out": network_output(theta, arch, Z_from_nchw(x)).T.copy(),
            "f": np.array(f, dtype=dt), "grad": grad}
    grads = unpack_params(grad, arch)
    for m, ((gW, gb), shape) in enumerate(zip(grads, arch.conv_shapes, strict=False), 1):
        out |= {f"conv{m}.grad_w_oihw": oihw_from_W(gW, shape.h), f"conv{m}.grad_b": gb.copy()}
    for m, (gW, gb) in enumerate(grads[n_conv:], 1):
        out |= {f"full{m}.grad_W": gW.copy(), f"full{m}.grad_b": gb.copy()}
    v = rng.standard_normal(theta.size).astype(dt)
    out |= {"v": v, "Jv": jacobian_vector(theta, arch, Z_from_nchw(x), v).T.copy(),
            "Gv": GaussNewton(theta, arch, Z_from_nchw(x), y, C, loss).matvec(v)}
    return {k: np.array(a_, order="C") for k, a_ in out.items()}


def _write_npz(f: io.BufferedIOBase, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` with a fixed timestamp on every member, so equal arrays give equal bytes."""
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array, allow_pickle=False)
            zf.writestr(info, buffer.getvalue())


@validate_params(GOLDEN_ARGS)
def write_golden(path: str | Path, arch: Architecture, batch: int = 4, seed: int = 0,
                 dtype: str = "float64", loss: str = "cross_entropy",
                 C: float = 0.01) -> dict[str, Any]:
    """Write a golden file (atomically) and return its ``meta``.

    Examples
    --------
    >>> import tempfile, os
    >>> from kronconv import Architecture
    >>> path = os.path.join(tempfile.mkdtemp(), "digits.npz")
    >>> write_golden(path, Architecture.preset("digits"), batch=2)["batch"]
    2
    >>> sorted(np.load(path, allow_pickle=False).files)[:3]
    ['Gv', 'Jv', 'conv1.S']
    """
    arrays = golden_arrays(arch, batch, seed, dtype, loss, C)
    atomic_write(path, lambda f: _write_npz(f, arrays))
    return json.loads(str(arrays["meta"]))


def read_golden(path: str | Path) -> dict[str, Any]:
    """Read a golden file (without unpickling) and check its whole content.

    ``meta`` must hold :data:`GOLDEN_FIELDS` (format version 1, a valid architecture) and the
    arrays must be exactly :func:`golden_array_specs` of that architecture, batch and dtype:
    every key, shape and dtype, finite values, labels among the classes.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    dict
        Every array by key; ``meta`` decoded from JSON into a dict.

    Raises
    ------
    ValueError
        Naming the file, and the field or array where there is one (``"g.npz: conv1.S:
        expected shape (d_out, a_conv*b_conv*N) = (8, 128), got (8, 64)"``): a missing,
        truncated, corrupted or foreign file, another format version, a missing, unexpected
        or malformed field or array.

    Examples
    --------
    >>> import tempfile, os
    >>> from kronconv import Architecture
    >>> path = os.path.join(tempfile.mkdtemp(), "digits.npz")
    >>> _ = write_golden(path, Architecture.preset("digits"), batch=2)
    >>> golden = read_golden(path)
    >>> golden["meta"]["batch"], golden["z_out"].shape
    (2, (2, 10))
    """
    path = Path(path)
    arrays: dict[str, Any] = read_npz(path, "kronconv golden file")
    meta = decode_meta(path, arrays)
    version_field, *fields = GOLDEN_FIELDS
    check_fields(meta, (version_field,), path)
    if meta["format_version"] != GOLDEN_FORMAT_VERSION:
        raise ValueError(f"{path}: golden format version {meta['format_version']!r}, this "
                         f"kronconv reads {GOLDEN_FORMAT_VERSION}")
    check_fields(meta, fields, path)
    try:
        arch = Architecture.from_dict(meta["arch"])
    except (TypeError, ValueError) as exc:
        raise field_error(path, "arch", str(exc)) from None
    check_arrays(arrays, golden_array_specs(arch, meta["batch"], meta["dtype"]), path,
                 f"a golden file of this architecture ({len(arch.conv_shapes)} conv and "
                 f"{len(arch.full_shapes)} full layers)")
    arrays["meta"] = meta
    return arrays
