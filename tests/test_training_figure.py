"""``kronconv plot`` and ``train --plot``: real short runs drawn, the lines holding the logs'
values, the accuracy in %, the axes named by what the runs did, the settings in the legend."""

from __future__ import annotations

import numpy as np
import pytest

from kronconv.cli import main
from kronconv.figures import DPI_RANGE
from kronconv.model import load_model
from kronconv.training_figure import training_figure

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")        # the digits


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A Newton-CG run of 3 iterations and an SG run of 2 epochs on the digits."""
    folder = tmp_path_factory.mktemp("runs")
    newton, sg = folder / "newton.npz", folder / "sg.npz"
    assert main(["train", "--iterations", "3", "--out", str(newton), "--quiet"]) == 0
    assert main(["train", "--optimizer", "sg", "--iterations", "2", "--out", str(sg),
                 "--quiet"]) == 0
    return newton, sg


def test_training_figure_lines_hold_the_logs_values(runs):
    models = {path.name: load_model(path) for path in runs}
    fig = training_figure(models)
    axes = np.array(fig.axes[:6]).reshape(2, 3)
    for k, model in enumerate(models.values()):
        log = model.state.history
        for row, x in enumerate(("iteration", "seconds")):
            f, grad, acc = (ax.get_lines()[k] for ax in axes[row])
            np.testing.assert_array_equal(f.get_xdata(), [r[x] for r in log])
            np.testing.assert_array_equal(f.get_ydata(), [r["f"] for r in log])
            np.testing.assert_array_equal(grad.get_ydata(), [r["grad_norm"] for r in log])
            np.testing.assert_allclose(acc.get_ydata(), [100 * r["val_accuracy"] for r in log])
            assert 50 < acc.get_ydata()[-1] <= 100                    # in %, not in [0, 1]
    assert [ax.get_yscale() for ax in axes[0]] == ["log", "log", "linear"]
    assert axes[0, 0].get_xlabel() == "iteration (Newton-CG) or epoch (SG, Adam)"
    assert axes[1, 0].get_xlabel() == "seconds"
    assert axes[0, 2].get_ylabel() == "validation accuracy (%)"
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[0].startswith("newton.npz: Newton-CG, network digits, data digits, C = 1, "
                                "squared, GN subsample 0.05; ")
    assert labels[1].startswith("sg.npz: SG, network digits, data digits, C = 1, "
                                "cross_entropy, lr 0.03, batch 32, momentum 0.9; ")
    acc = models["sg.npz"].state.history[-1]["val_accuracy"]
    assert labels[1].endswith(f"{100 * acc:.2f} % after 2 epochs, "
                              f"{models['sg.npz'].state.elapsed:.1f} s")
    assert "Training" in fig.get_suptitle()


def test_training_figure_names_the_axis_by_what_the_run_did(runs):
    newton, sg = runs
    assert training_figure({"sg": load_model(sg)}).axes[0].get_xlabel() == "epoch"
    assert training_figure({"n": load_model(newton)}).axes[0].get_xlabel() == "iteration"


@pytest.mark.parametrize(("name", "magic"), [("runs.pdf", b"%PDF"), ("runs.png", b"\x89PNG"),
                                             ("runs.svg", b"<?xml")])
def test_plot_command_writes_the_format_of_the_extension(runs, tmp_path, capsys, name, magic):
    out = tmp_path / name
    assert main(["plot", *map(str, runs), "--out", str(out), "--dpi", str(DPI_RANGE[0]),
                 "--title", "two runs"]) == 0                 # the smallest dpi draws too
    assert out.read_bytes().startswith(magic)
    assert capsys.readouterr().out == f"drew {out}: 2 runs\n"


def test_train_plot_draws_the_run_as_plot_does(tmp_path):
    svg = tmp_path / "log.svg"
    out = tmp_path / "m.npz"
    assert main(["train", "--optimizer", "adam", "--iterations", "2", "--out", str(out),
                 "--quiet", "--plot", str(svg), "--dpi", "50"]) == 0
    text = svg.read_text()
    assert text.startswith("<?xml")
    assert "<svg" in text
    assert "m.npz: Adam, network digits" in text        # the legend, as kronconv plot's


def test_train_plot_of_a_run_that_logged_nothing_says_so(tmp_path, capsys):
    # a time limit reached before the first iteration ends: the model is saved, no picture
    # (was: an internal error from the figure, after the work)
    svg, out = tmp_path / "log.svg", tmp_path / "m.npz"
    assert main(["train", "--optimizer", "newton", "--iterations", "3", "--time-limit", "1e-6",
                 "--out", str(out), "--quiet", "--plot", str(svg)]) == 0
    assert out.exists()
    assert not svg.exists()
    assert "--plot: no iteration finished; nothing drawn" in capsys.readouterr().err
