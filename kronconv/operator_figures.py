"""Pictures of the operators: each whole matrix as binned density beside a zoom on its first
block, entry by entry.

The whole matrix is cut into cells of ``k_r x k_c`` entries and every cell shows how many
stored entries it holds, counted exactly from the matrix's indices (no image resampling, so
no moiré); the cells are whole blocks of the operator's structure (a window of ``P_phi``, a
block of ``I ⊗ W``, ...) or whole divisions of one, so a periodic pattern bins to what it is.
The colour scale starts at 0, so a full matrix is dark, never blank.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import scipy.sparse as sp

from .figures import new_figure
from .operators import P_pool
from .shapes import LayerShape

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.image import AxesImage

__all__ = ["OPERATOR_KINDS", "bin_counts", "cell_size", "draw_density", "operator_blocks",
           "operators_figure", "zoom", "zoom_start"]


class OperatorKind(NamedTuple):
    """An operator of a layer: its symbol (matplotlib mathtext) and, from the layer's shape,
    the rows and columns of one block of its structure and of the zoom on its first blocks."""

    symbol: str
    blocks: Callable[[LayerShape], tuple[tuple[int, int], tuple[int, int]]]


#: Every operator :func:`kronconv.ops.network_operators` builds, by its name there.
OPERATOR_KINDS: dict[str, OperatorKind] = {
    # a padded column of the image, an image column; the padding columns and two image columns
    "P_pad": OperatorKind(r"$P_{\mathrm{pad}}$", lambda s: (
        (s.d * s.a_pad, s.d * s.a), (s.d * s.a_pad * (s.padding + 2), 2 * s.d * s.a))),
    # one window, a padded column; two windows and the h padded columns they read
    "P_phi": OperatorKind(r"$P_\phi$", lambda s: (
        (s.h * s.h * s.d, s.d * s.a_pad), (2 * s.h * s.h * s.d, s.h * s.d * s.a_pad))),
    # an output column, a column of sigma(S); the first output column and the columns it pools
    "P_pool": OperatorKind(r"$P_{\mathrm{pool}}$", lambda s: (
        (s.d_out * s.a_out, s.d_out * s.a_conv),
        (s.d_out * s.a_out, s.d_out * s.a_conv * s.pool_size))),
    # one W; three of them
    "I_kron_W": OperatorKind(r"$I \otimes W$", lambda s: (
        (s.d_out, s.h * s.h * s.d), (3 * s.d_out, 3 * s.h * s.h * s.d))),
    # one identity; four steps of the staircase
    "ones_kron_I": OperatorKind(r"$\mathbb{1} \otimes I$", lambda s: (
        (s.d_out, s.d_out), (4 * s.d_out, s.d_out))),
    # one identity times an entry of phi; two rows of blocks
    "phiT_kron_I": OperatorKind(r"$\phi(\mathrm{pad}(Z))^T \otimes I$", lambda s: (
        (s.d_out, s.d_out), (2 * s.d_out, s.h * s.h * s.d * s.d_out))),
}

_NAME = re.compile(rf"(?:conv(?P<layer>[1-9]\d*)\.)?(?P<kind>{'|'.join(OPERATOR_KINDS)})"
                   r"(?: \((?P<note>[^()]*)\))?")

ZOOM_MAX = 144          # entries along each side of a zoom, at most
BINS = 240              # cells along the longer side of a whole matrix's picture
MAX_ASPECT = 4.0        # a matrix longer than this is drawn at this aspect, and says so


def bin_counts(A: sp.sparray | sp.spmatrix, cell: tuple[int, int]) -> np.ndarray:
    """The stored entries of ``A`` in each cell of ``k_r x k_c`` entries, counted exactly.

    Parameters
    ----------
    A : sparse array or matrix of shape (m, n)
    cell : (int, int)
        ``(k_r, k_c)``: rows and columns of a cell; the last row and column of cells may be
        cut short by the matrix's edge.

    Returns
    -------
    numpy.ndarray of int64, shape (ceil(m / k_r), ceil(n / k_c))
        Its entries sum to ``A.nnz``.

    Examples
    --------
    >>> bin_counts(sp.eye_array(4, format="csr"), (2, 2))
    array([[2, 0],
           [0, 2]])
    """
    k_r, k_c = cell
    coo = sp.coo_array(A)
    rows, cols = -(-A.shape[0] // k_r), -(-A.shape[1] // k_c)
    index = (coo.row.astype(np.int64) // k_r) * cols + coo.col.astype(np.int64) // k_c
    return np.bincount(index, minlength=rows * cols).reshape(rows, cols)


def cell_size(length: int, unit: int, cells: int) -> int:
    """Entries per cell along an axis of ``length`` entries cut into about ``cells`` cells
    (``cells / 4`` at least, as many as there are entries at most): whole ``unit`` s, or a
    divisor of a ``unit`` of more than ``4 k`` entries.

    Examples
    --------
    >>> cell_size(12544, 64, 240), cell_size(56448, 1600, 240), cell_size(100, 10, 240)
    (64, 320, 1)
    """
    k = max(1, -(-length // cells))
    if k == 1 or unit <= 1:
        return k
    if unit <= 4 * k:               # whole units: a pattern inside one bins to its count
        return unit * -(-k // unit)
    return next(c for c in range(k, unit + 1) if unit % c == 0)


def operator_blocks(name: str, shape: LayerShape) -> tuple[tuple[int, int], tuple[int, int]]:
    """``((block rows, block columns), (zoom rows, zoom columns))`` of the operator ``name``
    (``"P_phi"``, ``"conv2.P_phi"``, ``"P_pool (average)"``) of a layer of ``shape``; the zoom
    is at most :data:`ZOOM_MAX` entries along each side."""
    kind = _parse(name)[1]
    unit, (rows, cols) = OPERATOR_KINDS[kind].blocks(shape)
    return unit, (min(rows, ZOOM_MAX), min(cols, ZOOM_MAX))


def zoom_start(A: sp.sparray | sp.spmatrix, unit: tuple[int, int],
               size: tuple[int, int]) -> tuple[int, int]:
    """Where the zoom on ``A``'s first blocks starts: at (0, 0) when a zoom of ``size``
    there holds a stored entry's row (column), else at the start of the block of ``unit``
    that holds the first (``P_pad``'s first rows are padding, empty)."""
    coo = sp.coo_array(A)
    if coo.nnz == 0:
        return 0, 0
    first = int(coo.row.min())
    r0 = 0 if first < size[0] else first - first % unit[0]
    in_rows = (coo.row >= r0) & (coo.row < r0 + size[0])
    first = int(coo.col[in_rows].min())
    c0 = 0 if first < size[1] else first - first % unit[1]
    return r0, c0


def zoom(A: sp.sparray | sp.spmatrix, start: tuple[int, int],
         size: tuple[int, int]) -> np.ndarray:
    """The ``size[0] x size[1]`` entries of ``A`` from ``start``: the stored values, NaN
    where none is stored."""
    (r0, c0), (rows, cols) = start, size
    block = sp.coo_array(sp.csr_array(A)[r0:r0 + rows, c0:c0 + cols])
    out = np.full(block.shape, np.nan)
    out[block.row, block.col] = block.data
    return out


def _parse(name: str) -> tuple[int | None, str, str | None]:
    match = _NAME.fullmatch(name)
    if match is None:
        raise ValueError(f"ops: {name!r} is not an operator's name: one of "
                         f"{', '.join(OPERATOR_KINDS)}, optionally after 'conv<m>.' and "
                         "before ' (a note)'")
    return (None if match["layer"] is None else int(match["layer"]), match["kind"],
            match["note"])


def draw_density(ax: Axes, A: sp.sparray | sp.spmatrix, unit: tuple[int, int],
                 cells: tuple[int, int]) -> tuple[AxesImage, tuple[int, int]]:
    """Draw ``A`` on ``ax`` as its stored entries per cell (:func:`bin_counts`, cells of
    :func:`cell_size` for about ``cells`` cells down and across), white where none is,
    the colour scale from 0; return the image and the cell's rows and columns."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    m, n = A.shape
    cell = (cell_size(m, unit[0], cells[0]), cell_size(n, unit[1], cells[1]))
    counts = bin_counts(A, cell)
    cmap = ListedColormap(colormaps["Blues"](np.linspace(0.3, 1.0, 256)))
    image = ax.imshow(np.ma.masked_equal(counts, 0), cmap=cmap, vmin=0,
                      vmax=max(int(counts.max()), 1), interpolation="nearest",
                      extent=(0, counts.shape[1] * cell[1], counts.shape[0] * cell[0], 0))
    ax.set_xlim(0, n)
    ax.set_ylim(m, 0)
    return image, cell


def _density(ax: Axes, A: sp.sparray, unit: tuple[int, int], start: tuple[int, int],
             size: tuple[int, int]) -> None:
    """The whole of ``A`` as stored entries per cell, with its colour bar and the zoom's
    place."""
    from matplotlib.patches import Rectangle
    from matplotlib.ticker import MaxNLocator

    m, n = A.shape
    shown = min(max(m / n, 1 / MAX_ASPECT), MAX_ASPECT)     # drawn height / width
    stretch = shown / (m / n)
    image, cell = draw_density(ax, A, unit, (round(BINS * min(shown, 1)),
                                             round(BINS * min(1 / shown, 1))))
    ax.set_aspect(stretch)
    ax.add_patch(Rectangle(start[::-1], size[1], size[0], fill=False, ec="tab:red", lw=1))
    note = ("" if stretch == 1 else f" (drawn {1 / stretch:.2g}x wider)" if stretch < 1
            else f" (drawn {stretch:.2g}x taller)")
    ax.set_title("the whole matrix", fontsize=8)
    ax.set_xlabel(f"column{note}", fontsize=8)
    ax.set_ylabel("row", fontsize=8)
    bar = ax.figure.colorbar(image, ax=ax, shrink=0.8, pad=0.02)
    bar.locator = MaxNLocator(5, integer=True)
    bar.update_ticks()
    bar.set_label(f"stored entries per {cell[0]} x {cell[1]} cell\n(white: none)", fontsize=7)
    bar.ax.tick_params(labelsize=7)


def _zoom(ax: Axes, A: sp.sparray, unit: tuple[int, int], start: tuple[int, int],
          size: tuple[int, int], windows: sp.sparray | None) -> None:
    """The first blocks of ``A`` entry by entry (``windows``: max pooling's candidates)."""
    from matplotlib.colors import ListedColormap
    from matplotlib.ticker import MaxNLocator

    values = zoom(A, start, size)
    (r0, c0), (rows, cols) = start, values.shape
    extent = (c0, c0 + cols, r0 + rows, r0)
    stored = values[~np.isnan(values)]
    if windows is not None:                  # every entry pooling may choose, in grey
        ax.imshow(np.where(np.isnan(zoom(windows, start, size)), np.nan, 1.0),
                  cmap=ListedColormap(["0.8"]), interpolation="nearest", extent=extent)
    if stored.size and np.ptp(stored) == 0:
        ax.imshow(values, cmap=ListedColormap(["0.1"]), interpolation="nearest", extent=extent)
        what = f"every stored entry is {stored[0]:.4g}"
    else:                                    # a stored 0 is grey, not white
        top = float(np.abs(stored).max()) if stored.size else 1.0
        image = ax.imshow(values, cmap="coolwarm", vmin=-top, vmax=top,
                          interpolation="nearest", extent=extent)
        bar = ax.figure.colorbar(image, ax=ax, shrink=0.8, pad=0.02)
        bar.set_label("stored value", fontsize=7)
        bar.ax.tick_params(labelsize=7)
        what = "stored values"
    if windows is not None:
        what += "; grey: the rest of its window"
    for k in range(r0 - r0 % unit[0] + unit[0], r0 + rows, unit[0]):
        ax.axhline(k, color="0.6", lw=0.5)
    for k in range(c0 - c0 % unit[1] + unit[1], c0 + cols, unit[1]):
        ax.axvline(k, color="0.6", lw=0.5)
    ax.set_aspect(1)
    ax.xaxis.set_major_locator(MaxNLocator(6, integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(6, integer=True))
    ax.set_title(f"zoom: rows {r0}-{r0 + rows - 1}, columns {c0}-{c0 + cols - 1}\n{what}",
                 fontsize=8)
    ax.set_xlabel("column", fontsize=8)
    ax.set_ylabel("row", fontsize=8)


def operators_figure(ops: Mapping[str, sp.sparray | sp.spmatrix],
                     shapes: LayerShape | Sequence[LayerShape]) -> Figure:
    """Every operator of ``ops``: the whole matrix as binned density beside a zoom on its
    first blocks, entry by entry (:data:`OPERATOR_KINDS`), two operators a row.

    Parameters
    ----------
    ops : mapping of str to sparse matrix
        As :func:`kronconv.ops.network_operators` returns them (``"conv2.P_phi"``); a name
        may also be the operator's alone (``"P_phi"``) and end in a note (``"P_pool
        (average)"``), shown in its title.
    shapes : LayerShape or sequence of LayerShape
        The layer of every operator, or the network's layers (``Architecture.conv_shapes``),
        of which ``conv{m}.`` names layer m.

    Returns
    -------
    matplotlib.figure.Figure
        Save it with :func:`kronconv.figures.save_figure`.

    Raises
    ------
    ValueError
        For a name that is not an operator's, or a layer ``shapes`` does not have.

    Examples
    --------
    >>> import kronconv as kc
    >>> shape = kc.LayerShape(a=5, b=4, d=2, d_out=3, h=3, padding=1)
    >>> fig = operators_figure({"P_phi": kc.P_phi(shape)}, shape)
    >>> fig.subfigs[0].get_suptitle().splitlines()[1]
    '360 x 84, 360 stored entries'
    """
    panels = []
    for name, A in ops.items():
        layer, kind, note = _parse(name)
        if isinstance(shapes, LayerShape):
            shape = shapes
        elif layer is None or layer > len(shapes):
            raise ValueError(f"ops: {name!r} names no layer of shapes (1..{len(shapes)}): "
                             "conv<m>.NAME")
        else:
            shape = shapes[layer - 1]
        unit, size = operator_blocks(name, shape)
        chooses = kind == "P_pool" and shape.pool == "max" and A.nnz == A.shape[0]
        windows = P_pool(dataclasses.replace(shape, pool="average")) if chooses else None
        where = ", ".join(w for w in (None if layer is None else f"conv{layer}", note) if w)
        title = (f"{OPERATOR_KINDS[kind].symbol}{f'  ({where})' if where else ''}\n"
                 f"{A.shape[0]} x {A.shape[1]}, {A.nnz:,} stored entries")
        panels.append((A, unit, size, windows, title))
    cols = min(2, len(panels))
    rows = -(-len(panels) // cols)
    fig = new_figure(6.8 * cols, 3.3 * rows)
    subfigs = np.atleast_1d(fig.subfigures(rows, cols, wspace=0.04, hspace=0.06)).ravel()
    for sub, (A, unit, size, windows, title) in zip(subfigs, panels, strict=False):
        whole, first = sub.subplots(1, 2, width_ratios=(1, 1))
        start = zoom_start(A, unit, size)
        _density(whole, A, unit, start, size)
        _zoom(first, A, unit, start, size, windows)
        for ax in (whole, first):
            ax.tick_params(labelsize=7)
        sub.suptitle(title, fontsize=11)
    return fig
