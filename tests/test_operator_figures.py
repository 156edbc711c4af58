"""The operator pictures: exact binned counts, no blank panel, the known patterns where they
belong, the chain's vectors, and the file format named by the extension."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp

import kronconv as kc
from kronconv.chain_figure import chain_figure
from kronconv.figures import DPI_RANGE, figure_format, save_figure
from kronconv.operator_figures import (
    OPERATOR_KINDS,
    bin_counts,
    cell_size,
    draw_density,
    operators_figure,
    zoom,
    zoom_start,
)
from kronconv.ops import layer_input

pytest.importorskip("matplotlib")

SMALL = kc.LayerShape(a=5, b=4, d=2, d_out=3, h=3, padding=1, pool="max", pool_size=2)
WIDE = kc.LayerShape(a=40, b=40, d=1, d_out=4, h=3, padding=1)    # binned, not drawn 1:1


def _small_ops(shape: kc.LayerShape) -> dict[str, sp.csr_array]:
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((shape.d, shape.a * shape.b))
    W = rng.standard_normal(shape.W_shape)
    S = kc.conv_S(Z, W, np.zeros(shape.d_out), shape)
    return {"P_pad": kc.P_pad(shape), "P_phi": kc.P_phi(shape),
            "P_pool (max)": kc.P_pool(shape, S),
            "P_pool (average)": kc.P_pool(dataclasses.replace(shape, pool="average")),
            "I_kron_W": kc.I_kron_W(W, shape), "ones_kron_I": kc.ones_kron_I(shape),
            "phiT_kron_I": kc.phiT_kron_I(kc.phi_pad(Z, shape), shape.d_out)}


def _pixels(fig):
    """The figure rendered (RGB, the origin at the top left)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3]


def _inside(pixels, ax):
    """The pixels inside ``ax``'s frame (and its antialiased edges)."""
    x0, y0, x1, y1 = ax.get_window_extent().extents
    height, edge = pixels.shape[0], 3 if min(x1 - x0, y1 - y0) > 12 else 1
    return pixels[int(height - y1) + edge:int(height - y0) - edge,
                  int(x0) + edge:int(x1) - edge]


def _images(fig):
    """``[(axes, its last image)]`` of every panel drawing one (colour bars left out)."""
    return [(ax, ax.get_images()[-1]) for ax in fig.axes if ax.get_images()]


def test_bin_counts_equal_the_dense_sums_and_add_up_to_nnz():
    A = sp.random_array((53, 37), density=0.2, format="csr", rng=np.random.default_rng(1))
    for cell in [(1, 1), (5, 4), (53, 37), (10, 7)]:
        counts = bin_counts(A, cell)
        dense = A.toarray() != 0
        rows, cols = -(-53 // cell[0]), -(-37 // cell[1])
        padded = np.zeros((rows * cell[0], cols * cell[1]), dtype=int)
        padded[:53, :37] = dense
        expected = padded.reshape(rows, cell[0], cols, cell[1]).sum(axis=(1, 3))
        np.testing.assert_array_equal(counts, expected)
        assert counts.sum() == A.nnz


def test_cell_size_takes_whole_blocks_or_divisions_of_one():
    assert cell_size(100, 10, 240) == 1                # fits: entry by entry
    assert cell_size(12544, 64, 240) == 64             # 53 rounded up to a whole block
    assert cell_size(56448, 1600, 240) == 320          # a block of 1600 cut in 5
    for length, unit, cells in [(5000, 7, 100), (999, 30, 64), (70000, 512, 240)]:
        k = cell_size(length, unit, cells)
        assert cells / 4 <= -(-length // k) <= cells
        assert k % unit == 0 or unit % k == 0


def test_draw_density_of_a_full_matrix_is_uniform_and_dark():
    from kronconv.figures import new_figure

    fig = new_figure(4, 3)
    ax = fig.subplots()
    image, cell = draw_density(ax, sp.csr_array(np.ones((300, 500))), (1, 1), (60, 100))
    counts = image.get_array()
    assert cell == (5, 5)
    assert counts.min() == counts.max() == 25            # uniform, and never masked
    assert image.norm.vmin == 0
    inside = _inside(_pixels(fig), ax).reshape(-1, 3)
    assert (inside == inside[0]).all()                   # one colour ...
    assert inside[0].sum() < 3 * 128                     # ... and a dark one, not blank


def test_operators_figure_draws_every_operator_with_no_blank_panel():
    ops = _small_ops(SMALL)
    fig = operators_figure(ops, SMALL)
    pixels = _pixels(fig)
    panels = _images(fig)
    assert len(panels) == 2 * len(ops)                    # the whole matrix and the zoom
    for ax, _ in panels:
        inside = _inside(pixels, ax).reshape(-1, 3)
        assert (inside.min(axis=1) < 200).any(), ax.get_title()    # something is drawn
    for (A, sub) in zip(ops.values(), fig.subfigs, strict=False):
        whole = sub.axes[0].get_images()[0].get_array()
        assert whole.filled(0).sum() == A.nnz              # every stored entry counted once
        assert f"{A.nnz:,} stored entries" in sub.get_suptitle()


def test_operators_figure_titles_in_mathematical_notation():
    fig = operators_figure(_small_ops(SMALL), SMALL)
    titles = [sub.get_suptitle().splitlines()[0] for sub in fig.subfigs[:7]]
    assert titles == [r"$P_{\mathrm{pad}}$", r"$P_\phi$", r"$P_{\mathrm{pool}}$  (max)",
                      r"$P_{\mathrm{pool}}$  (average)", r"$I \otimes W$",
                      r"$\mathbb{1} \otimes I$", r"$\phi(\mathrm{pad}(Z))^T \otimes I$"]


def test_zoom_shows_the_known_patterns():
    rng = np.random.default_rng(2)
    W = rng.standard_normal(SMALL.W_shape)
    k = SMALL.d_out
    # 1 ⊗ I: a staircase of identities, the ones exactly on each block's diagonal
    unit, size = OPERATOR_KINDS["ones_kron_I"].blocks(SMALL)
    staircase = zoom(kc.ones_kron_I(SMALL), (0, 0), size)
    expected = np.kron(np.ones((4, 1)), np.eye(k))
    np.testing.assert_array_equal(~np.isnan(staircase), expected == 1)
    # I ⊗ W: W on the diagonal blocks, nothing stored elsewhere
    unit, size = OPERATOR_KINDS["I_kron_W"].blocks(SMALL)
    blocks = zoom(kc.I_kron_W(W, SMALL), (0, 0), size)
    reference = np.kron(np.eye(3), W)
    np.testing.assert_array_equal(np.nan_to_num(blocks), reference)
    assert unit == W.shape
    # P_phi: one 1 a row, at the padded pixel the window offset reads (i + h j + h^2 c)
    _, size = OPERATOR_KINDS["P_phi"].blocks(SMALL)
    windows = zoom(kc.P_phi(SMALL), (0, 0), size)
    h, d, a_pad = SMALL.h, SMALL.d, SMALL.a_pad
    for c in range(d):
        for j in range(h):
            for i in range(h):
                row = i + h * j + h * h * c
                assert np.flatnonzero(~np.isnan(windows[row])).tolist() == [c + d * (i + a_pad * j)]


def test_zoom_starts_where_the_first_block_is():
    big = kc.LayerShape(a=14, b=14, d=32, d_out=8, h=5, padding=2)
    A = kc.P_pad(big)
    unit, size = OPERATOR_KINDS["P_pad"].blocks(big)
    size = (144, 144)
    r0, c0 = zoom_start(A, unit, size)
    first = sp.coo_array(A).row.min()            # the top padding rows come first
    assert first >= 144
    assert r0 == first - first % unit[0]
    assert c0 == 0
    assert not np.isnan(zoom(A, (r0, c0), size)).all()
    assert zoom_start(kc.P_pad(SMALL), *OPERATOR_KINDS["P_pad"].blocks(SMALL)) == (0, 0)


def test_max_pooling_zoom_shows_the_windows_it_chooses_from():
    ops = _small_ops(SMALL)
    fig = operators_figure({"P_pool (max)": ops["P_pool (max)"]}, SMALL)
    zoomed = fig.subfigs[0].axes[1]
    grey, chosen = (image.get_array() for image in zoomed.get_images())
    average = kc.P_pool(dataclasses.replace(SMALL, pool="average")).toarray() != 0
    rows, cols = grey.shape
    np.testing.assert_array_equal(~np.ma.getmaskarray(grey) & ~np.isnan(grey.filled(np.nan)),
                                  average[:rows, :cols])
    choice = ~np.isnan(np.ma.filled(chosen, np.nan))
    assert (choice <= average[:rows, :cols]).all()              # a choice among the window
    assert (choice.sum(axis=1) == 1).all()
    assert "grey: the rest of its window" in zoomed.get_title()


def test_a_full_staircase_bins_uniformly_without_moire():
    A = kc.ones_kron_I(WIDE)                     # 6400 x 4: a staircase of period 4
    fig = operators_figure({"ones_kron_I": A}, WIDE)
    counts = fig.subfigs[0].axes[0].get_images()[0].get_array()
    rows = cell_size(A.shape[0], WIDE.d_out, 240)   # whole steps a cell: 28 rows
    assert rows % WIDE.d_out == 0
    assert counts.shape == (-(-6400 // rows), 4)
    assert (counts[:-1] == rows // WIDE.d_out).all()     # every whole cell the same
    assert counts[-1].sum() == 6400 % rows               # the last cut short by the edge
    assert counts.sum() == A.nnz


def test_operators_figure_refuses_unknown_names_and_layers():
    with pytest.raises(ValueError, match="'Q' is not an operator's name"):
        operators_figure({"Q": kc.P_pad(SMALL)}, SMALL)
    with pytest.raises(ValueError, match=r"'conv3.P_pad' names no layer of shapes \(1..2\)"):
        operators_figure({"conv3.P_pad": kc.P_pad(SMALL)}, [SMALL, SMALL])


def test_chain_figure_draws_the_layers_vectors():
    arch = kc.Architecture.preset("digits")
    Z, W, b, shape, act = layer_input(arch, 2, seed=0)
    fig = chain_figure(Z, W, b, shape, act)
    drawn = {ax.get_title(): ax.get_images()[0].get_array() for ax in fig.axes}
    Z_next = kc.layer_output(Z, W, b, shape, act)
    np.testing.assert_allclose(drawn[r"$\mathrm{vec}(Z^{m+1})$"][:, 0], kc.vec(Z_next),
                               rtol=1e-12)
    np.testing.assert_array_equal(drawn[r"$\mathrm{vec}(Z)$"][:, 0], kc.vec(Z))
    S = kc.conv_S(Z, W, b, shape)
    np.testing.assert_allclose(drawn[r"$\mathrm{vec}(S)$"][:, 0], kc.vec(S), rtol=1e-12)
    pixels = _pixels(fig)
    for ax in fig.axes:                   # not blank: b = 0 is grey, not white
        assert (_inside(pixels, ax) < 250).any(), ax.get_title()


@pytest.mark.parametrize(("suffix", "magic"), [(".png", b"\x89PNG"), (".pdf", b"%PDF"),
                                               (".svg", b"<?xml"), (".SVG", b"<?xml")])
def test_save_figure_writes_the_format_its_extension_names(tmp_path, suffix, magic):
    path = tmp_path / f"ops{suffix}"
    save_figure(path, operators_figure({"P_pad": kc.P_pad(SMALL)}, SMALL), dpi=50)
    assert path.read_bytes().startswith(magic)
    if suffix.lower() == ".svg":
        assert b"<svg" in path.read_bytes()[:2000]
    assert [p.name for p in tmp_path.iterdir()] == [path.name]       # no temporary left


def test_save_figure_refuses_other_formats_and_bad_dpi(tmp_path):
    fig = operators_figure({"P_pad": kc.P_pad(SMALL)}, SMALL)
    with pytest.raises(ValueError, match=r"ops\.jpg: the picture's format is named by its "
                       r"extension, one of \.png, \.pdf, \.svg"):
        save_figure(tmp_path / "ops.jpg", fig)
    with pytest.raises(ValueError, match="dpi must be >= 20, got 0"):
        save_figure(tmp_path / "ops.png", fig, dpi=0)
    with pytest.raises(ValueError, match="dpi must be <= 600, got 601"):
        save_figure(tmp_path / "ops.png", fig, dpi=601)
    assert figure_format("a.b.Pdf") == "pdf"
    assert not list(tmp_path.iterdir())


def test_the_smallest_dpi_allowed_draws_every_figure(tmp_path):
    # below it, FreeType refuses the smallest labels (a size under one pixel)
    ops = {"P_pad": kc.P_pad(SMALL), "P_phi": kc.P_phi(SMALL)}
    save_figure(tmp_path / "ops.png", operators_figure(ops, SMALL), dpi=DPI_RANGE[0])
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((SMALL.d, SMALL.a * SMALL.b))
    W, b = rng.standard_normal(SMALL.W_shape), rng.standard_normal(SMALL.d_out)
    save_figure(tmp_path / "chain.png", chain_figure(Z, W, b, SMALL), dpi=DPI_RANGE[0])
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in tmp_path.iterdir())
