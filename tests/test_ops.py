"""``kronconv ops``: the table, exported files that load back equal, and the picture."""

from __future__ import annotations

import pytest
import scipy.io
import scipy.sparse as sp

from kronconv import Architecture
from kronconv.cli import main
from kronconv.ops import export_operators, network_operators


def test_ops_table_lists_every_operator_of_every_layer(capsys):
    assert main(["ops", "--arch", "digits"]) == 0
    out = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in out[1:]]
    assert names == [f"conv{m}.{op}" for m in (1, 2) for op in
                     ("P_pad", "P_phi", "P_pool", "I_kron_W", "ones_kron_I", "phiT_kron_I")]
    ops = network_operators(Architecture.preset("digits"))
    for line in out[1:]:
        name, rows, _, cols, nnz, density, size = line.split()
        A = ops[name]
        assert (int(rows), int(cols), int(nnz)) == (*A.shape, A.nnz)
        assert float(density) == pytest.approx(A.nnz / (A.shape[0] * A.shape[1]), rel=1e-3)
        assert int(size) == A.data.nbytes + A.indices.nbytes + A.indptr.nbytes


@pytest.mark.parametrize("fmt", ["npz", "mtx"])
def test_export_operators_files_load_back_equal(tmp_path, fmt):
    ops = network_operators(Architecture.preset("digits"), layer=2)
    written = export_operators(tmp_path, ops, fmt)
    assert len(written) == 6
    for path in written:
        A = ops[path.name[:-len(fmt) - 1]]
        B = sp.load_npz(path) if fmt == "npz" else scipy.io.mmread(path)
        assert B.shape == A.shape
        assert abs(sp.csr_array(B) - A).max() == 0


def test_ops_plot_writes_png_and_rejects_bad_layer(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    png = tmp_path / "ops.png"
    assert main(["ops", "--layer", "1", "--plot", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(SystemExit):
        main(["ops", "--layer", "3"])
    assert "layer must be in 1..2, got 3" in capsys.readouterr().err
