"""A picture of one layer's chain: every operator beside the vector it acts on and the
vector it gives, all drawn to one scale (an entry is as tall in every matrix and vector).

    vec(pad(Z)) = P_pad vec(Z),   vec(φ) = P_φ vec(pad(Z)),   vec(S) = (I ⊗ W) vec(φ) + (𝟙 ⊗ I) b
    vec(S) = (φᵀ ⊗ I) vec(W) + (𝟙 ⊗ I) b,   vec(Z^{m+1}) = P_pool vec(σ(S))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import scipy.sparse as sp

from .activations import Activation, get_activation
from .figures import new_figure
from .layer import conv_S, phi_pad
from .layout import vec
from .operator_figures import OPERATOR_KINDS, draw_density
from .operators import I_kron_W, P_pad, P_phi, P_pool, ones_kron_I, phiT_kron_I
from .shapes import LayerShape

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["chain_figure", "chain_rows"]

WIDTH = 13.0            # inches across, at most
HEIGHT = 8.0            # inches of matrices and vectors down, at most
VECTOR = 0.18           # inches across a vector
SMALLEST = 0.06         # inches: a narrower (shorter) matrix or vector is drawn this wide (tall)
GAP = 0.12              # inches between the items of an equation
SIGN = 0.3              # inches across "=" or "+"
SPACE = 0.6             # inches between two equations
LABELS = 0.75           # inches above (the symbol) and below (the size) each row


class Item(NamedTuple):
    """A matrix, a vector or a sign of an equation: its symbol and what is drawn."""

    symbol: str
    value: sp.sparray | np.ndarray | None = None     # None: a sign ("=", "+")
    unit: tuple[int, int] = (1, 1)                   # a matrix's blocks


def chain_rows(Z: np.ndarray, W: np.ndarray, b: np.ndarray, shape: LayerShape,
               activation: str | Activation = "relu") -> list[list[list[Item]]]:
    """The chain's equations, row by row, each a list of :class:`Item`: the forward pass
    of one instance ``Z`` (d, a*b) through a layer of ``shape`` with parameters ``W``
    (d_out, h*h*d) and ``b`` (d_out,)."""
    act = get_activation(activation)
    S = conv_S(Z, W, b, shape)
    sigma_S, s = act(S), vec(S)
    op = {kind: (OPERATOR_KINDS[kind].symbol, OPERATOR_KINDS[kind].blocks(shape)[0])
          for kind in OPERATOR_KINDS}
    A = {"P_pad": P_pad(shape), "P_phi": P_phi(shape), "I_kron_W": I_kron_W(W, shape),
         "ones_kron_I": ones_kron_I(shape), "phiT_kron_I": phiT_kron_I(phi_pad(Z, shape),
                                                                      shape.d_out),
         "P_pool": P_pool(shape, sigma_S)}
    z = vec(Z)
    padded = A["P_pad"] @ z
    windows = A["P_phi"] @ padded

    def matrix(kind: str) -> Item:
        return Item(op[kind][0], A[kind], op[kind][1])

    eq, plus = Item("="), Item("+")
    bias = [plus, matrix("ones_kron_I"), Item(r"$b$", b)]
    return [
        [[Item(r"$\mathrm{vec}(\mathrm{pad}(Z))$", padded), eq, matrix("P_pad"),
          Item(r"$\mathrm{vec}(Z)$", z)],
         [Item(r"$\mathrm{vec}(\phi)$", windows), eq, matrix("P_phi"),
          Item(r"$\mathrm{vec}(\mathrm{pad}(Z))$", padded)],
         [Item(r"$\mathrm{vec}(S)$", s), eq, matrix("I_kron_W"),
          Item(r"$\mathrm{vec}(\phi)$", windows), *bias]],
        [[Item(r"$\mathrm{vec}(S)$", s), eq, matrix("phiT_kron_I"),
          Item(r"$\mathrm{vec}(W)$", vec(W)), *bias],
         [Item(r"$\mathrm{vec}(Z^{m+1})$", A["P_pool"] @ vec(sigma_S)), eq, matrix("P_pool"),
          Item(r"$\mathrm{vec}(\sigma(S))$", vec(sigma_S))]],
    ]


def _text_width(text: str, size: float) -> float:
    """Inches across ``text`` (mathtext allowed) at font ``size``."""
    from matplotlib.textpath import TextPath

    return TextPath((0, 0), text, size=size).get_extents().width / 72


def _size(item: Item, scale: float) -> tuple[float, float]:
    """Inches across and down that ``item`` is drawn."""
    if item.value is None:
        return SIGN, 0.0
    rows, cols = item.value.shape if item.value.ndim == 2 else (item.value.shape[0], 0)
    across = VECTOR if item.value.ndim == 1 else max(cols * scale, SMALLEST)
    return across, max(rows * scale, SMALLEST)


def _label(item: Item) -> str:
    """The size written under a matrix or a vector."""
    return " x ".join(map(str, item.value.shape))


def _slot(item: Item, scale: float) -> float:
    """Inches across ``item`` with its symbol above and its size below."""
    if item.value is None:
        return SIGN
    return max(_size(item, scale)[0], _text_width(item.symbol, 9) + 0.08,
               _text_width(_label(item), 7) + 0.08)


def _scale(rows: list[list[list[Item]]]) -> float:
    """Inches per entry: the widest row fits :data:`WIDTH`, the rows :data:`HEIGHT`."""
    down = sum(max(item.value.shape[0] for eq in row for item in eq if item.value is not None)
               for row in rows)
    scale = HEIGHT / down
    for row in rows:
        items = [item for equation in row for item in equation]
        entries = sum(item.value.shape[1] for item in items
                      if item.value is not None and item.value.ndim == 2)
        fixed = (sum(_slot(item, 0.0) for item in items if item.value is None
                     or item.value.ndim == 1) + GAP * len(items) + SPACE * (len(row) - 1))
        scale = min(scale, (WIDTH - fixed) / entries)
    return scale


def _describe(s: LayerShape) -> str:
    pooling = ("no pooling" if s.pool == "none" else
               f"{s.pool_size} x {s.pool_size} {s.pool} pooling, stride {s.pool_stride}")
    return (f"{s.a} x {s.b} x {s.d} input, {s.d_out} filters of {s.h} x {s.h} x {s.d}, "
            f"stride {s.stride}, padding {s.padding}, {pooling}")


def chain_figure(Z: np.ndarray, W: np.ndarray, b: np.ndarray, shape: LayerShape,
                 activation: str | Activation = "relu", title: str | None = None) -> Figure:
    """One layer's forward chain, every operator beside the vectors it acts on and gives.

    Matrices are drawn as their stored entries per cell (white: none, darker: more; the
    cells as in :func:`kronconv.operator_figures.draw_density`), vectors by value (red > 0,
    blue < 0); one entry is equally tall everywhere, so the sizes compare (a matrix or
    vector narrower or shorter than ``SMALLEST`` inches is drawn that wide or tall).

    Parameters
    ----------
    Z : numpy.ndarray of shape (d, a*b)
        One instance, the layer's input.
    W : numpy.ndarray of shape (d_out, h*h*d)
    b : numpy.ndarray of shape (d_out,)
    shape : LayerShape
    activation : str or Activation, default "relu"
    title : str, optional
        Above the picture (default: the layer's shape).

    Returns
    -------
    matplotlib.figure.Figure
        Save it with :func:`kronconv.figures.save_figure`.

    Examples
    --------
    >>> import numpy as np, kronconv as kc
    >>> shape = kc.LayerShape(a=5, b=4, d=2, d_out=3, h=3, padding=1)
    >>> rng = np.random.default_rng(0)
    >>> fig = chain_figure(rng.normal(size=(2, 20)), rng.normal(size=(3, 18)), np.zeros(3),
    ...                    shape)
    >>> len(fig.axes)               # 8 matrices, 11 vectors
    19
    """
    from matplotlib.colors import Normalize

    rows = chain_rows(Z, W, b, shape, activation)
    scale = _scale(rows)
    heights = [max(_size(item, scale)[1] for eq in row for item in eq) for row in rows]
    width = max(sum(_slot(item, scale) + GAP for eq in row for item in eq)
                + SPACE * (len(row) - 1) for row in rows) + 0.3
    height = sum(heights) + LABELS * len(rows) + 1.0
    fig = new_figure(width, height, layout=None)
    top = height - 0.5 - LABELS / 2
    for row, row_height in zip(rows, heights, strict=True):
        x = 0.15
        for equation in row:
            for item in equation:
                slot = _slot(item, scale)
                if item.value is None:
                    fig.text((x + slot / 2) / width, (top - 0.15) / height, item.symbol,
                             ha="center", va="center", fontsize=14)
                    x += slot + GAP
                    continue
                across, down = _size(item, scale)
                ax = fig.add_axes(((x + (slot - across) / 2) / width, (top - down) / height,
                                   across / width, down / height))
                if item.value.ndim == 2:
                    draw_density(ax, item.value, item.unit,
                                 (max(1, round(down * 100)), max(1, round(across * 100))))
                    ax.set_aspect("auto")
                else:
                    top_value = float(np.abs(item.value).max()) or 1.0
                    ax.imshow(item.value[:, None], cmap="coolwarm", aspect="auto",
                              norm=Normalize(-top_value, top_value))
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_title(item.symbol, fontsize=9, pad=3)
                ax.text(0.5, -0.01, _label(item), transform=ax.transAxes, ha="center",
                        va="top", fontsize=7, color="0.3")
                x += slot + GAP
            x += SPACE - GAP
        top -= row_height + LABELS
    fig.suptitle(title or f"One layer's chain, to scale: {_describe(shape)}", fontsize=11)
    fig.text(0.5, 0.02, "matrices: stored entries per cell (white: none, darker: more); "
             "vectors: values (red > 0 > blue); every entry equally tall", ha="center",
             fontsize=8, color="0.3")
    return fig
