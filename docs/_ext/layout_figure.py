"""Build-time picture of kronconv's image layout: an NCHW image, its Z and vec(Z).

The entries' positions come from :func:`kronconv.Z_from_nchw` itself (each pixel carries its
own number through the conversion), so the picture cannot drift from the code.
"""

from pathlib import Path

import numpy as np

import kronconv as kc

A, B, D = 3, 2, 2                    # a small image: 3 rows, 2 columns, 2 channels
COLOURS = ("#cfe2f3", "#f9cb9c")     # one per channel


def _label(k: int) -> str:
    """Entry k of the NCHW image (C order) as 'channel (row, column)'."""
    c, rest = divmod(k, A * B)
    return f"c{c}\n({rest // B},{rest % B})"


def _cell(ax, x: float, y: float, k: int, note: str | None = None) -> None:
    import matplotlib.pyplot as plt

    ax.add_patch(plt.Rectangle((x, y), 1, 1, facecolor=COLOURS[k // (A * B)],
                               edgecolor="0.25", lw=1))
    ax.text(x + 0.5, y + 0.5, _label(k), ha="center", va="center", fontsize=7.5)
    if note is not None:
        ax.text(x + 0.5, y + 1.08, note, ha="center", va="bottom", fontsize=7, color="0.35")


def layout_figure(path: Path) -> None:
    """Left: channel c of x[0] as an a x b grid. Middle: Z (d x ab), column r + a q.
    Bottom: vec(Z), entry c + d r + d a q."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.arange(D * A * B, dtype=float).reshape(1, D, A, B)   # each entry its own number
    Z = kc.Z_from_nchw(x).astype(int)                           # (d, a*b)
    z = kc.vec(Z).astype(int)                                   # (d*a*b,)
    fig, ax = plt.subplots(figsize=(9.2, 4.2))
    for c in range(D):                                          # the image, channel by channel
        for r in range(A):
            for q in range(B):
                _cell(ax, c * (B + 0.6) + q, 4.6 - r, int(x[0, c, r, q]))
    ax.text(B + 0.3, 6.25, "x[0], NCHW: an a × b grid per channel", ha="center", fontsize=9)
    left = 6.0
    for c in range(D):                                          # Z: row c, column p
        for p in range(A * B):
            _cell(ax, left + p, 4.6 - c, int(Z[c, p]), f"p={p}" if c == 0 else None)
    ax.text(left + A * B / 2, 6.25, "Z = Z_from_nchw(x): d × ab, column p = r + a·q",
            ha="center", fontsize=9)
    for k, entry in enumerate(z):                               # vec(Z): channel fastest
        _cell(ax, 0.6 + k, 0.4, int(entry), str(k))
    ax.text(0.6 + len(z) / 2, -0.25, "vec(Z): entry c + d·r + d·a·q (channel fastest, then "
            "row, then column) — what the first fully-connected layer reads", ha="center",
            fontsize=9)
    ax.set_xlim(-0.2, max(left + A * B, 0.6 + len(z)) + 0.2)
    ax.set_ylim(-0.6, 6.6)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)


def generate(app) -> None:
    out = Path(app.srcdir) / "_generated"
    out.mkdir(exist_ok=True)
    layout_figure(out / "layout.png")


def setup(app):
    app.connect("builder-inited", generate)
    return {"parallel_read_safe": True}
