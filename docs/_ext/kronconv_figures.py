"""Build-time pictures and intersphinx inventories for the kronconv docs.

Every picture is drawn from the library when the build starts, so it cannot drift from
the code: the sparsity patterns of a small layer's operators and the forward/backward
chain with that layer's shapes.
"""

import dataclasses
import zlib
from pathlib import Path

import numpy as np

import kronconv as kc
from kronconv.chain_figure import chain_figure as chain_to_scale
from kronconv.figures import save_figure
from kronconv.operator_figures import operators_figure

# A small layer: 5 x 4 image, 2 channels in, 3 out, 3 x 3 filter, padding 1, stride 1.
SMALL = kc.LayerShape(a=5, b=4, d=2, d_out=3, h=3, padding=1, pool="max", pool_size=2)

# Names the docs link to in numpy's and scipy's documentation.
INVENTORIES = {
    "numpy": ("numpy", [("numpy.ndarray", "py:class", "reference/generated/numpy.ndarray.html")]),
    "scipy": ("scipy", [
        ("scipy.sparse.csr_array", "py:class",
         "reference/generated/scipy.sparse.csr_array.html"),
        ("scipy.sparse.linalg.LinearOperator", "py:class",
         "reference/generated/scipy.sparse.linalg.LinearOperator.html"),
        ("scipy.sparse.kron", "py:function", "reference/generated/scipy.sparse.kron.html"),
    ]),
}


def write_inventory(path: Path, project: str, entries) -> None:
    """A Sphinx objects.inv (version 2) for ``entries`` of (name, domain:role, uri)."""
    header = (f"# Sphinx inventory version 2\n# Project: {project}\n# Version: \n"
              "# The remainder of this file is compressed using zlib.\n").encode()
    body = "".join(f"{name} {role} 1 {uri} -\n" for name, role, uri in entries).encode()
    path.write_bytes(header + zlib.compress(body))


def chain_figure(path: Path, shape: kc.LayerShape) -> None:
    """The forward chain of one layer with its shapes, and the backward equations."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = shape
    stages = [
        ("vec(Z)", f"{s.n_in}"), ("P_pad", f"{s.n_pad} x {s.n_in}"),
        ("P_φ", f"{s.n_phi} x {s.n_pad}"), ("I ⊗ W\n+ (𝟙 ⊗ I) b", f"{s.n_S} x {s.n_phi}"),
        ("σ", f"{s.n_S}"), ("P_pool", f"{s.n_out} x {s.n_S}"), ("vec(Zᵐ⁺¹)", f"{s.n_out}"),
    ]
    fig, ax = plt.subplots(figsize=(14, 3.6))
    ax.set_xlim(0, len(stages))
    ax.set_ylim(-0.2, 3)
    ax.axis("off")
    for k, (name, dims) in enumerate(stages):
        ax.add_patch(plt.Rectangle((k + 0.06, 1.7), 0.88, 1.1, fill=False, lw=1.5))
        ax.text(k + 0.5, 2.4, name, ha="center", va="center", fontsize=10)
        ax.text(k + 0.5, 1.9, dims, ha="center", va="center", fontsize=8, color="0.3")
        if k + 1 < len(stages):
            ax.annotate("", xy=(k + 1.06, 2.25), xytext=(k + 0.94, 2.25),
                        arrowprops={"arrowstyle": "->"})
    # backward, right to left: each equation under the stages it runs through
    backward = [(6.5, 4.5, 1.35, "(7)  ∂ξ/∂S = P_poolᵀ ∂ξ/∂Zᵐ⁺¹ ⊙ σ'(S)"),
                (4.5, 3.0, 0.9, "(1) ∂ξ/∂W = ∂ξ/∂S φᵀ,  (5) ∂ξ/∂b = ∂ξ/∂S 𝟙"),
                (3.5, 0.5, 0.45, "(8)/(9)  ∂ξ/∂Z = P_padᵀ P_φᵀ (I ⊗ W)ᵀ ∂ξ/∂S")]
    for start_x, end_x, y, text in backward:
        ax.annotate("", xy=(end_x, y), xytext=(start_x, y),
                    arrowprops={"arrowstyle": "->", "color": "tab:red"})
        ax.text((start_x + end_x) / 2, y + 0.12, text, ha="center", fontsize=9,
                color="tab:red")
    ax.text(0.06, -0.1, f"forward (black) and backward (red) for {s}", fontsize=8,
            color="0.3")
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def write_inventories(out: Path) -> None:
    """The numpy and scipy inventories, before intersphinx reads them."""
    out.mkdir(exist_ok=True)
    for name, (project, entries) in INVENTORIES.items():
        write_inventory(out / f"{name}.inv", project, entries)


def generate(app) -> None:
    out = Path(app.srcdir) / "_generated"
    out.mkdir(exist_ok=True)
    W = np.random.default_rng(0).standard_normal(SMALL.W_shape)
    sigma_S = np.random.default_rng(1).standard_normal((SMALL.d_out, SMALL.n_windows))
    average = dataclasses.replace(SMALL, pool="average")
    save_figure(out / "operators.png", operators_figure({
        "P_pad": kc.P_pad(SMALL), "P_phi": kc.P_phi(SMALL),
        "P_pool (max)": kc.P_pool(SMALL, sigma_S), "P_pool (average)": kc.P_pool(average),
        "I_kron_W": kc.I_kron_W(W, SMALL), "ones_kron_I": kc.ones_kron_I(SMALL)}, SMALL), 120)
    chain_figure(out / "chain.png", SMALL)
    Z = np.random.default_rng(2).standard_normal((SMALL.d, SMALL.a * SMALL.b))
    save_figure(out / "chain_to_scale.png", chain_to_scale(
        Z, W, np.random.default_rng(3).standard_normal(SMALL.d_out), SMALL, "relu",
        title="The forward chain of the layer above, to scale, for one random instance"), 110)


def setup(app):
    app.connect("builder-inited", generate)
    return {"parallel_read_safe": True}
