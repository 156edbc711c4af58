"""``kronconv ops``: every operator of a network's convolutional layers, to list, export and draw.

The instance-dependent operators (max pooling's ``P_pool``, ``phi^T ⊗ I``) are built for one
random instance; ``I ⊗ W`` for the He-initialized ``W`` of the seed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

import numpy as np
import scipy.io
import scipy.sparse as sp

from ._files import atomic_write_all, check_output_directory, check_output_file
from .activations import Activation
from .architecture import Architecture
from .layer import conv_S, layer_output, phi_pad
from .memory import check_memory
from .operators import I_kron_W, P_pad, P_phi, P_pool, ones_kron_I, phiT_kron_I
from .parameters import init_params, unpack_params
from .shapes import LayerShape

__all__ = ["export_operators", "export_paths", "layer_input", "network_operators",
           "operator_table"]

EXPORT_FORMAT_VERSION = 1


def _layers(arch: Architecture, seed: int) -> Iterator[tuple[np.ndarray, np.ndarray,
                                                              np.ndarray, LayerShape,
                                                              Activation]]:
    """``(Z, W, b, shape, activation)`` of every convolutional layer for one random instance
    (Z its input) and the He-initialized parameters of ``seed``."""
    rng = np.random.default_rng(seed)
    params = unpack_params(init_params(arch, seed), arch)
    a, b, d = arch.input
    check_memory(8 * d * a * b, "one random image", "use an architecture with smaller images")
    Z = rng.standard_normal((d, a * b))                      # one random instance
    for (W, bias), shape, act in zip(params, arch.conv_shapes, arch.activations, strict=False):
        yield Z, W, bias, shape, act
        Z = layer_output(Z, W, bias, shape, act)


def _check_layer(arch: Architecture, layer: int | None) -> None:
    if not arch.conv_shapes:
        raise ValueError("the architecture has no convolutional layer")
    if layer is not None and not 1 <= layer <= len(arch.conv_shapes):
        raise ValueError(f"layer must be in 1..{len(arch.conv_shapes)}, got {layer}")


def layer_input(arch: Architecture, layer: int, seed: int = 0) -> tuple[
        np.ndarray, np.ndarray, np.ndarray, LayerShape, Activation]:
    """``(Z, W, b, shape, activation)`` of convolutional layer ``layer`` (1, 2, ...): its
    input Z for the random instance of :func:`network_operators`, and its parameters."""
    _check_layer(arch, layer)
    return next(islice(_layers(arch, seed), layer - 1, None))


def network_operators(arch: Architecture, layer: int | None = None,
                      seed: int = 0) -> dict[str, sp.csr_array]:
    """``{"conv{m}.{name}": operator}`` for every convolutional layer m (or only ``layer``)."""
    _check_layer(arch, layer)
    ops = {}
    for m, (Z, W, bias, shape, act) in enumerate(_layers(arch, seed), 1):
        if layer is None or m == layer:
            sigma_S = act(conv_S(Z, W, bias, shape))
            ops |= {f"conv{m}.P_pad": P_pad(shape), f"conv{m}.P_phi": P_phi(shape),
                    f"conv{m}.P_pool": P_pool(shape, sigma_S),
                    f"conv{m}.I_kron_W": I_kron_W(W, shape),
                    f"conv{m}.ones_kron_I": ones_kron_I(shape),
                    f"conv{m}.phiT_kron_I": phiT_kron_I(phi_pad(Z, shape), shape.d_out)}
        if m == layer:
            break
    return ops


def operator_table(ops: dict[str, sp.csr_array]) -> str:
    """A table: operator, shape, stored entries, density, bytes (data + indices + indptr)."""
    lines = [f"{'operator':<20} {'shape':>22} {'nnz':>11} {'density':>10} {'bytes':>12}"]
    for name, A in ops.items():
        size = A.data.nbytes + A.indices.nbytes + A.indptr.nbytes
        density = A.nnz / (A.shape[0] * A.shape[1])
        shape = f"{A.shape[0]} x {A.shape[1]}"
        lines.append(f"{name:<20} {shape:>22} {A.nnz:>11} {density:>10.3e} {size:>12}")
    return "\n".join(lines)


def export_paths(directory: str | Path, names: Iterable[str],
                 fmt: str = "npz") -> dict[str, Path]:
    """The file each operator of :func:`export_operators` goes to, every one checked first.

    Parameters
    ----------
    directory : str or Path
        A writable directory, or one that can be created (its parent exists).
    names : iterable of str
        The operators' names (``"conv1.P_pad"``, ...).
    fmt : {"npz", "mtx"}, default "npz"

    Returns
    -------
    dict
        ``{name: directory / f"{name}.{fmt}"}``.

    Raises
    ------
    ValueError
        For an unknown ``fmt``, a ``directory`` that cannot be written or created, or a target
        that is a directory, not a regular file or not writable (existing regular files are
        replaced; other files in ``directory`` are left alone).

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> export_paths(folder, ["conv1.P_pad"], "mtx")["conv1.P_pad"].name
    'conv1.P_pad.mtx'
    """
    if fmt not in ("npz", "mtx"):
        raise ValueError(f"fmt must be 'npz' or 'mtx', got {fmt!r}")
    directory = check_output_directory(directory)
    paths = {name: directory / f"{name}.{fmt}" for name in names}
    if directory.is_dir():
        for path in paths.values():
            check_output_file(path)
    return paths


def export_operators(directory: str | Path, ops: dict[str, sp.csr_array],
                     fmt: str = "npz") -> list[Path]:
    """Write every operator to ``directory`` as ``NAME.npz`` (scipy.sparse) or ``NAME.mtx``.

    Every target is checked first (:func:`export_paths`), ``directory`` is created if
    missing (not its parents), and the files are written all or none: each to a temporary
    beside it, then all moved into place. Each carries kronconv's format version (a
    ``kronconv_format_version`` key, or the Matrix Market comment); ``scipy.sparse.load_npz``
    and ``scipy.io.mmread`` read them back.

    Parameters
    ----------
    directory : str or Path
    ops : dict of str to csr_array
        As :func:`network_operators` returns them.
    fmt : {"npz", "mtx"}, default "npz"

    Returns
    -------
    list of Path
        The files written, in the order of ``ops``.

    Raises
    ------
    ValueError
        As :func:`export_paths`; nothing is written then.
    """
    paths = export_paths(directory, ops, fmt)
    directory = Path(directory)
    created = not directory.is_dir()
    if created:
        directory.mkdir()
    writes = {}
    for name, A in ops.items():
        if fmt == "npz":      # scipy.sparse.save_npz's keys, plus kronconv's format version
            writes[paths[name]] = lambda f, A=A: np.savez(
                f, data=A.data, indices=A.indices, indptr=A.indptr, format=np.array(b"csr"),
                shape=np.array(A.shape), _is_array=np.array(True),
                kronconv_format_version=np.array(EXPORT_FORMAT_VERSION))
        else:
            writes[paths[name]] = lambda f, A=A, name=name: scipy.io.mmwrite(
                f, sp.coo_matrix(A),
                comment=f"kronconv {name}, format version {EXPORT_FORMAT_VERSION}")
    try:
        atomic_write_all(writes)
    except BaseException:
        if created:
            directory.rmdir()
        raise
    return list(paths.values())
