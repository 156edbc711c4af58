"""What every picture kronconv draws shares: the file format named by the extension, the
resolution, and the atomic write.

The pictures are :class:`matplotlib.figure.Figure` objects made without ``pyplot``, so
drawing one never changes the backend of a session that uses matplotlib for its own
figures. matplotlib is imported only when a picture is drawn (kronconv's ``plot`` extra).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ._files import atomic_write
from ._validate import check_int

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["DEFAULT_DPI", "DPI_RANGE", "FIGURE_FORMATS", "figure_format", "new_figure",
           "save_figure"]

#: The formats a picture can be written in, by the file's extension.
FIGURE_FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg"}

#: Dots per inch of a PNG, and of the images (binned patterns) inside a PDF or an SVG.
DEFAULT_DPI = 200
#: The dots per inch a picture may have: below, FreeType cannot draw the smallest labels
#: (a size of less than one pixel); above, a PNG of the largest figure passes 200 MB.
DPI_RANGE = (20, 600)


def figure_format(path: str | Path) -> str:
    """The format of the picture file ``path``, named by its extension.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    str
        ``"png"``, ``"pdf"`` or ``"svg"`` (the extension in any case).

    Raises
    ------
    ValueError
        For another extension, naming the file and the extensions allowed.

    Examples
    --------
    >>> figure_format("ops.PDF")
    'pdf'
    """
    fmt = FIGURE_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: the picture's format is named by its extension, one of "
                         f"{', '.join(FIGURE_FORMATS)}")
    return fmt


def new_figure(width: float, height: float, layout: str | None = "constrained") -> Figure:
    """An empty figure of ``width`` x ``height`` inches, laid out by matplotlib's
    constrained layout (``layout=None``: axes placed by hand).

    Raises
    ------
    ImportError
        Without matplotlib, saying how to install it.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("drawing needs matplotlib: pip install matplotlib (kronconv's "
                          "'plot' extra)") from None
    return Figure(figsize=(width, height), layout=layout)


def save_figure(path: str | Path, fig: Figure, dpi: int = DEFAULT_DPI) -> None:
    """Write ``fig`` to ``path`` atomically, in the format its extension names.

    Parameters
    ----------
    path : str or Path
        A ``.png``, ``.pdf`` or ``.svg`` file (an existing file is replaced).
    fig : matplotlib.figure.Figure
    dpi : int, default :data:`DEFAULT_DPI`
        Dots per inch of a PNG, and of the images inside a PDF or an SVG.

    Raises
    ------
    ValueError
        For another extension, or a ``dpi`` outside :data:`DPI_RANGE`, before anything is
        written.
    TypeError
        For a ``dpi`` that is not an integer.
    """
    fmt = figure_format(path)
    dpi = check_int(dpi, "dpi", *DPI_RANGE)
    atomic_write(path, lambda f: fig.savefig(f, format=fmt, dpi=dpi))
