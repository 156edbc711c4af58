"""``kronconv ops``: every operator of a network's convolutional layers, to list, export and draw.

The instance-dependent operators (max pooling's ``P_pool``, ``phi^T ⊗ I``) are built for one
random instance; ``I ⊗ W`` for the He-initialized ``W`` of the seed.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import scipy.io
import scipy.sparse as sp

from ._files import atomic_write, atomic_write_all, check_output_directory, check_output_file
from .architecture import Architecture
from .layer import conv_S, layer_output, phi_pad
from .memory import check_memory
from .operators import I_kron_W, P_pad, P_phi, P_pool, ones_kron_I, phiT_kron_I
from .parameters import init_params, unpack_params

__all__ = ["export_operators", "export_paths", "network_operators", "operator_table",
           "plot_operators"]

EXPORT_FORMAT_VERSION = 1


def network_operators(arch: Architecture, layer: int | None = None,
                      seed: int = 0) -> dict[str, sp.csr_array]:
    """``{"conv{m}.{name}": operator}`` for every convolutional layer m (or only ``layer``)."""
    if not arch.conv_shapes:
        raise ValueError("the architecture has no convolutional layer")
    if layer is not None and not 1 <= layer <= len(arch.conv_shapes):
        raise ValueError(f"layer must be in 1..{len(arch.conv_shapes)}, got {layer}")
    rng = np.random.default_rng(seed)
    params = unpack_params(init_params(arch, seed), arch)
    a, b, d = arch.input
    check_memory(8 * d * a * b, "one random image", "use an architecture with smaller images")
    Z = rng.standard_normal((d, a * b))                      # one random instance
    ops = {}
    for m, ((W, bias), shape, act) in enumerate(
            zip(params, arch.conv_shapes, arch.activations, strict=False), 1):
        if layer is None or m == layer:
            sigma_S = act(conv_S(Z, W, bias, shape))
            ops |= {f"conv{m}.P_pad": P_pad(shape), f"conv{m}.P_phi": P_phi(shape),
                    f"conv{m}.P_pool": P_pool(shape, sigma_S),
                    f"conv{m}.I_kron_W": I_kron_W(W, shape),
                    f"conv{m}.ones_kron_I": ones_kron_I(shape),
                    f"conv{m}.phiT_kron_I": phiT_kron_I(phi_pad(Z, shape), shape.d_out)}
        Z = layer_output(Z, W, bias, shape, act)
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


def plot_operators(path: str | Path, ops: dict[str, sp.csr_array]) -> None:
    """Draw every operator's sparsity pattern into one PNG (needs matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("drawing the operators needs matplotlib: pip install matplotlib "
                          "(or the 'plot' extra)") from None
    cols = 3
    rows = -(-len(ops) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.6 * rows), squeeze=False,
                             constrained_layout=True)
    for ax, (name, A) in zip(axes.ravel(), ops.items(), strict=False):
        # the pattern binned to at most 300 x 300 cells: a cell is dark if it holds an entry
        coo = A.tocoo()
        bins = (min(A.shape[0], 300), min(A.shape[1], 300))
        cells, _, _ = np.histogram2d(coo.row, coo.col, bins=bins,
                                     range=((0, A.shape[0]), (0, A.shape[1])))
        ax.imshow(cells > 0, cmap="Greys", interpolation="nearest", aspect="auto",
                  extent=(0, A.shape[1], A.shape[0], 0))
        ax.set_title(f"{name}\n{A.shape[0]} x {A.shape[1]}, nnz {A.nnz}", fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(ops):]:
        ax.axis("off")
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=90))
    plt.close(fig)
