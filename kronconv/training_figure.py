"""A picture of training runs: f, ‖∇f‖ and the validation accuracy of every run, against
iterations (Newton-CG) or epochs (SG, Adam) and against seconds, each run's settings in the
legend. ``kronconv plot`` and ``kronconv train --plot`` draw it from the runs' saved logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from .figures import new_figure
from .model import Model

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["STEP_NAMES", "run_label", "step_name", "training_figure"]

#: What one row of an optimizer's log is: Newton-CG logs iterations, SG and Adam epochs.
STEP_NAMES = {"newton": "iteration", "sg": "epoch", "adam": "epoch"}

_OPTIMIZERS = {"newton": "Newton-CG", "sg": "SG", "adam": "Adam"}

#: The panels' columns: the log's key, the axis' label, logarithmic or not.
_QUANTITIES = (("f", r"$f(\theta)$", True), ("grad_norm", r"$\|\nabla f(\theta)\|$", True),
               ("val_accuracy", "validation accuracy (%)", False))


def step_name(models: Mapping[str, Model]) -> str:
    """The horizontal axis of the runs' steps: ``"iteration"``, ``"epoch"``, or both named
    when the runs' optimizers differ (a model saved without an optimizer logs iterations)."""
    names = {STEP_NAMES.get(m.options.get("optimizer"), "iteration") for m in models.values()}
    return names.pop() if len(names) == 1 else "iteration (Newton-CG) or epoch (SG, Adam)"


def run_label(name: str, model: Model) -> str:
    """One line: the run's file, optimizer, network, data and settings, and how it ended.

    Examples
    --------
    >>> from kronconv import Architecture, init_params
    >>> from kronconv.data import Scaling
    >>> from kronconv.train import TrainState
    >>> state = TrainState(init_params(Architecture.preset("digits")), iteration=2,
    ...                    elapsed=1.5, history=[{"val_accuracy": 0.5}, {"val_accuracy": 0.9}])
    >>> options = {"optimizer": "sg", "data": "digits", "C": 1.0, "loss": "cross_entropy",
    ...            "train_options": {"lr": 0.03, "batch_size": 32, "momentum": 0.9}}
    >>> label = run_label("sg.npz", Model(Architecture.preset("digits"),
    ...                   Scaling(16.0, np.zeros((1, 8, 8))), options, state))
    >>> for part in label.split("; "):
    ...     print(part)
    sg.npz: SG, network digits, data digits, C = 1, cross_entropy, lr 0.03, batch 32, momentum 0.9
    90.00 % after 2 epochs, 1.5 s
    """
    o, t = model.options, model.options.get("train_options", {})
    optimizer = o.get("optimizer")
    settings = {"newton": (f"GN size {t.get('subsample_size')}" if t.get("subsample_size")
                           else f"GN subsample {t.get('subsample')}"),
                "sg": f"lr {t.get('lr')}, batch {t.get('batch_size')}, momentum "
                      f"{t.get('momentum')}",
                "adam": f"lr {t.get('lr')}, batch {t.get('batch_size')}"}.get(optimizer)
    parts = [_OPTIMIZERS.get(optimizer, "optimizer not saved"),
             f"network {model.arch.name or '(custom)'}, data {o.get('data', '(not saved)')}",
             *([f"C = {o['C']:g}"] if "C" in o else []),
             *([o["loss"]] if "loss" in o else []),
             *([settings] if settings and t else [])]
    accuracy = model.state.history[-1].get("val_accuracy") if model.state.history else None
    steps = STEP_NAMES.get(optimizer, "iteration")
    end = (f"{'' if accuracy is None else f'{100 * accuracy:.2f} % after '}"
           f"{model.state.iteration} {steps}{'s' * (model.state.iteration != 1)}, "
           f"{model.state.elapsed:.1f} s")
    return f"{name}: {', '.join(parts)}; {end}"


def training_figure(models: Mapping[str, Model], title: str | None = None) -> Figure:
    """The logs of training runs overlaid: f, ‖∇f‖ (logarithmic) and the validation
    accuracy in %, against iterations or epochs (top) and seconds (bottom).

    Parameters
    ----------
    models : mapping of str to Model
        Every run by its name (its file), as :func:`kronconv.model.load_model` reads it.
    title : str, optional
        Above the panels (default: what they show).

    Returns
    -------
    matplotlib.figure.Figure
        Save it with :func:`kronconv.figures.save_figure`.

    Raises
    ------
    ValueError
        If ``models`` is empty or a model holds no log (naming it).
    """
    if not models:
        raise ValueError("models: give at least one run")
    for name, model in models.items():
        if not model.state.history:
            raise ValueError(f"{name}: holds no training log (its state.history is empty)")
    steps = step_name(models)
    fig = new_figure(13, 6.6 + 0.22 * len(models))
    axes = fig.subplots(2, 3)
    lines = []
    for k, (name, model) in enumerate(models.items()):
        log = model.state.history
        for row, x in enumerate(("iteration", "seconds")):
            xs = np.array([r[x] for r in log], dtype=float)
            for col, (key, _, _) in enumerate(_QUANTITIES):
                ys = np.array([np.nan if r.get(key) is None else r[key] for r in log],
                              dtype=float)
                line, = axes[row, col].plot(xs, 100 * ys if key == "val_accuracy" else ys,
                                            color=f"C{k % 10}", lw=1.4,
                                            marker="." if len(log) <= 60 else None)
        lines.append((line, run_label(name, model)))
    for row, xlabel in enumerate((steps, "seconds")):
        for col, (key, label, log_scale) in enumerate(_QUANTITIES):
            ax = axes[row, col]
            values = np.concatenate([line.get_ydata() for line in ax.get_lines()])
            if log_scale and np.all(values[~np.isnan(values)] > 0):
                ax.set_yscale("log")
            if key == "val_accuracy" and np.all(np.isnan(values)):
                ax.text(0.5, 0.5, "no validation data", transform=ax.transAxes, ha="center",
                        color="0.4")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(label)
            ax.grid(True, which="major", alpha=0.3)
    per = steps if " " not in steps else "iteration or epoch"
    fig.suptitle(title or "Training: f, the norm of its gradient and the validation accuracy, "
                 f"by {per} and by second", fontsize=12)
    fig.legend([line for line, _ in lines], [label for _, label in lines], loc="outside lower "
               "center", fontsize=8, frameon=False)
    return fig
