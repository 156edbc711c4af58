"""``kronconv train`` and ``kronconv predict``."""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ._files import atomic_write
from .architecture import load_architecture
from .data import Dataset, Scaling, digits_split, load_data, load_idx
from .layout import Z_from_nchw
from .model import Model, load_model, save_model
from .objective_function import predict
from .parameters import init_params
from .train import NewtonOptions, Problem, SGOptions, TrainState, newton_cg, sg


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def add_parsers(sub, positive_int) -> None:
    train = sub.add_parser(
        "train", help="train a network with Newton-CG or SG",
        description="Train on the built-in digits data (scikit-learn) or data on disk: "
        "a .npz with x (N, d, a, b) and y, a simpleNN-style .mat, or IDX files given as "
        "IMAGES:LABELS. Logs one row per iteration and saves the model (atomically) after "
        "every iteration.")
    train.add_argument("--data", default="digits",
                       help="'digits' (the training split) or a file (default: digits)")
    train.add_argument("--val-data", default=None,
                       help="validation data (default: the digits test split for 'digits')")
    train.add_argument("--arch", default="digits", help="a preset or an architecture file")
    train.add_argument("--optimizer", choices=("newton", "sg"), default="newton")
    train.add_argument("--backend", choices=("dense", "sparse"), default="dense")
    train.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--iterations", type=positive_int, default=None,
                       help="Newton iterations or SG epochs (200 / 60)")
    train.add_argument("--C", type=_float, default=1.0, help="regularization C (1.0)")
    train.add_argument("--loss", choices=("squared", "cross_entropy"), default=None,
                       help="squared for newton, cross_entropy for sg by default")
    train.add_argument("--subsample", type=_float, default=0.05,
                       help="Newton: fraction of the data in each subsample (0.05)")
    train.add_argument("--lr", type=_float, default=0.03, help="SG learning rate (0.03)")
    train.add_argument("--momentum", type=_float, default=0.9)
    train.add_argument("--batch-size", type=positive_int, default=32)
    train.add_argument("--lr-decay", type=_float, default=1.0)
    train.add_argument("--chunk-size", type=positive_int, default=None,
                       help="instances per chunk for f and its gradient over the data "
                       "(256 for the sparse backend; the dense backend picks its own)")
    train.add_argument("--out", default="model.npz", help="where the model is saved")
    train.add_argument("--resume", action="store_true",
                       help="continue the run saved in --out up to --iterations")
    train.add_argument("--plot", default=None, help="draw the log to this PNG (matplotlib)")
    train.add_argument("--quiet", action="store_true", help="no per-iteration log")

    pred = sub.add_parser("predict", help="predict with a saved model",
                          description="Predict classes with a model saved by kronconv train; "
                          "report the accuracy when the data has labels.")
    pred.add_argument("--model", required=True)
    pred.add_argument("--data", default="digits",
                      help="'digits' (the test split) or a file as for train")
    pred.add_argument("--out", default=None, help="write the predictions, one per line")


def _load(spec: str, shape: tuple[int, int, int], split: int) -> Dataset:
    if spec == "digits":
        return digits_split()[split]
    if ":" in spec and not Path(spec).exists():
        images, labels = spec.split(":", 1)
        return load_idx(images, labels)
    return load_data(spec, shape)


def _plot(path: str, history: list[dict]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("kronconv train --plot needs matplotlib: pip install matplotlib "
                         "(or the 'plot' extra)") from None
    fig, axes = plt.subplots(2, 3, figsize=(12, 6.5), constrained_layout=True)
    for row, x in enumerate(("iteration", "seconds")):
        xs = [h[x] for h in history]
        for col, (key, label) in enumerate((("f", "f(θ)"), ("grad_norm", "‖∇f(θ)‖"),
                                            ("val_accuracy", "validation accuracy"))):
            ax = axes[row, col]
            ys = [h[key] if h[key] is not None else math.nan for h in history]
            ax.plot(xs, ys, marker=".")
            if key != "val_accuracy":
                ax.set_yscale("log")
            ax.set_xlabel(x)
            ax.set_ylabel(label)
            ax.grid(True, alpha=0.3)
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))
    plt.close(fig)


def _row(row: dict) -> str:
    acc = row["val_accuracy"]
    extra = (f"{row['alpha']:7.4f} {row['lam']:9.3e} {row['cg']:4d}" if "alpha" in row
             else f"{row['lr']:9.3e}")
    return (f"{row['iteration']:5d} {row['f']:12.6e} {row['grad_norm']:10.3e} {extra} "
            f"{row['seconds']:8.2f} {'-' if acc is None else f'{100 * acc:6.2f}%'}")


def run_train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.resume:             # the saved run's settings win: resuming continues that run
        try:
            model = load_model(args.out)
        except ValueError as exc:
            parser.error(f"--resume: {exc}")
        arch, scaling, options, state = model.arch, model.scaling, model.options, model.state
    else:
        try:
            arch = load_architecture(args.arch)
        except (ValueError, TypeError) as exc:
            parser.error(f"--arch: {exc}")
        options = {"optimizer": args.optimizer, "backend": args.backend, "dtype": args.dtype,
                   "seed": args.seed, "C": args.C, "data": args.data, "val_data": args.val_data,
                   "loss": args.loss or ("squared" if args.optimizer == "newton"
                                         else "cross_entropy")}
        scaling = None
        state = None
    iterations = args.iterations or (200 if options["optimizer"] == "newton" else 60)
    train_set = _load(options["data"], arch.input, 0)
    val_spec = options["val_data"] or ("digits" if options["data"] == "digits" else None)
    val_set = _load(val_spec, arch.input, 1) if val_spec else None
    if train_set.x.shape[1:] != (arch.input[2], arch.input[0], arch.input[1]):
        parser.error(f"--data: images of shape {train_set.x.shape[1:]} do not fit the "
                     f"architecture's input (d, a, b) = "
                     f"{(arch.input[2], arch.input[0], arch.input[1])}")
    dtype = np.dtype(options["dtype"])
    if scaling is None:
        scaling = Scaling.fit(train_set.x)
    if state is None:
        state = TrainState(init_params(arch, options["seed"], dtype),
                           lam=NewtonOptions().lam)
    chunk = args.chunk_size or options.get("chunk_size") or (
        256 if options["backend"] == "sparse" else None)
    options["chunk_size"] = chunk
    problem = Problem(arch, Z_from_nchw(scaling(train_set.x, dtype)), train_set.y,
                      options["C"], options["loss"], options["backend"], chunk,
                      None if val_set is None else Z_from_nchw(scaling(val_set.x, dtype)),
                      None if val_set is None else val_set.y)
    try:
        if options["optimizer"] == "newton":
            opt = NewtonOptions(**{**options.get("train_options", {"subsample": args.subsample}),
                                   "iterations": iterations})
        else:
            opt = SGOptions(**{**options.get("train_options", {
                "batch_size": args.batch_size, "lr": args.lr, "momentum": args.momentum,
                "lr_decay": args.lr_decay}), "iterations": iterations})
    except (TypeError, ValueError) as exc:
        parser.error(f"--{str(exc).split()[0].replace('_', '-')}: {exc}")
    header = ("iter            f    |grad f|   alpha    lambda  #CG  seconds  val acc"
              if options["optimizer"] == "newton" else
              "epoch           f    |grad f|        lr  seconds  val acc")
    options["train_options"] = asdict(opt)
    if not args.quiet:
        print(f"kronconv train: {arch.name or args.arch}, {len(train_set)} training instances, "
              f"{options['optimizer']}, {options['loss']}, C = {options['C']}, "
              f"{options['backend']} backend, {options['dtype']}, seed {options['seed']}")
        print(header)

    on_terminal = not args.quiet and sys.stderr.isatty()

    def show(message: str) -> None:          # a transient status line on a terminal
        sys.stderr.write(f"\r  iteration {state.iteration + 1}: {message}\x1b[K")
        sys.stderr.flush()

    def checkpoint(st: TrainState, row: dict) -> None:
        save_model(args.out, Model(arch, scaling, options, st))
        if on_terminal:
            sys.stderr.write("\r\x1b[K")
        if not args.quiet:
            print(_row(row), flush=True)

    run = newton_cg if options["optimizer"] == "newton" else sg
    state = run(problem, state, opt, options["seed"], checkpoint, show if on_terminal else None)
    save_model(args.out, Model(arch, scaling, options, state))
    if state.stop_reason:
        print(f"stopped: {state.stop_reason}", file=sys.stderr)
    if val_set is not None and state.history:
        print(f"validation accuracy {100 * problem.val_accuracy(state.theta):.2f}% after "
              f"{state.iteration} iterations, {state.elapsed:.1f} s; model saved to {args.out}")
    if args.plot:
        _plot(args.plot, state.history)
    return 0


def run_predict(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        model = load_model(args.model)
    except ValueError as exc:
        parser.error(f"--model: {exc}")
    data = _load(args.data, model.arch.input, 1)
    dtype = model.theta.dtype
    pred = predict(model.theta, model.arch, Z_from_nchw(model.scaling(data.x, dtype)),
                   backend=model.options.get("backend", "dense"))
    print(f"accuracy {100 * np.mean(pred == data.y):.2f}% on {len(data)} instances")
    if args.out:
        atomic_write(args.out, lambda f: f.write("".join(f"{p}\n" for p in pred).encode()))
    return 0
