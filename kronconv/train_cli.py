"""``kronconv train`` and ``kronconv predict``, and the argument types of every command.

Both commands check every argument before any work, with the checks of
:class:`kronconv.cli.CommandParser` (each error names its option); what fails while working
names the option too.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._files import atomic_write
from .architecture import PRESETS, Architecture
from .data import (
    BUILTIN_DATASETS,
    Dataset,
    Scaling,
    builtin_dataset,
    check_fits,
    load_data,
    load_idx,
)
from .distributed import check_workers
from .figures import DEFAULT_DPI, DPI_RANGE, save_figure
from .layout import Z_from_nchw
from .model import Model, check_resume, load_model, save_model
from .objective_function import check_C, predict
from .parameters import init_params
from .train import (
    LR_SCHEDULES,
    SAMPLINGS,
    SUBSAMPLE_SCHEDULES,
    AdamOptions,
    NewtonOptions,
    Problem,
    SGOptions,
    TrainState,
    adam,
    newton_cg,
    sg,
    simplenn_options,
)
from .training_figure import STEP_NAMES, training_figure

if TYPE_CHECKING:
    from .cli import CommandParser


def _integer(minimum: int, expected: str, maximum: int | None = None) -> Callable[[str], int]:
    """An argument type: an integer in ``[minimum, maximum]``, else "expected ``expected``"."""
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
        return value

    return convert


#: Argument types: an integer >= 1, and an integer >= 0 (a seed).
positive_int = _integer(1, "a positive integer")
natural_int = _integer(0, "an integer >= 0")


def number(text: str) -> float:
    """An argument type: a float. NaN and infinity pass, for the library's checks to judge
    them; a number beyond float64's range (``1e999``) does not become infinity."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if math.isinf(value) and text.strip().lstrip("+-").lower() not in ("inf", "infinity"):
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}, which is beyond "
                                         "the range of float64")
    return value


def _seconds(text: str) -> float:
    value = number(text)
    if not (np.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value


def add_arch(command: argparse.ArgumentParser, default: str, resumable: bool = False) -> None:
    """``--arch``, with the presets named in its help; ``resumable``: its default stays None,
    so that ``--resume`` can tell an ``--arch`` given from none."""
    command.add_argument("--arch", default=None if resumable else default,
                         help=f"the network: a preset ({', '.join(sorted(PRESETS))}) or an "
                         "architecture file (.json, .toml, simpleNN's .config) "
                         f"(default: {default})")


def add_threads(command: argparse.ArgumentParser) -> None:
    """``--threads``, on every command that computes."""
    command.add_argument("--threads", type=positive_int, default=None,
                         help="threads that share out the instances (default: the machine's "
                         "cores); the results are the same for any number")


def add_dpi(command: argparse.ArgumentParser) -> None:
    """``--dpi``, on every command that draws."""
    command.add_argument("--dpi", type=_integer(DPI_RANGE[0], "an integer from {} to {}".format(
                             *DPI_RANGE), DPI_RANGE[1]), default=DEFAULT_DPI,
                         help="dots per inch of a PNG, and of the images inside a PDF or an "
                         "SVG")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """The ``train`` and ``predict`` commands."""
    train = sub.add_parser(
        "train", help="train a network with Newton-CG, SG or Adam",
        description="Train on built-in data (scikit-learn's digits; simpleNN's mnist-demo) "
        "or data on disk: a .npz with x (N, d, a, b) and y, a simpleNN .mat (Z, y), or IDX "
        "files given as IMAGES:LABELS. Logs one row per Newton iteration or SG/Adam epoch and "
        "saves the model (atomically) after every one.")
    train.add_argument("--data", default=None,     # None: not given (--resume checks it)
                       help=f"{' or '.join(map(repr, BUILTIN_DATASETS))} (their training "
                       "split) or a file (default: digits)")
    train.add_argument("--val-data", default=None,
                       help="validation data (default: the test split of built-in data)")
    train.add_argument("--input-format", choices=("row", "column"), default=None,
                       help="pixel order of a simpleNN .mat file's rows: row-wise (LIBSVM, "
                       "simpleNN's input_format 0) or column-wise (1) (default: row)")
    add_arch(train, "digits", resumable=True)
    train.add_argument("--optimizer", choices=("newton", "sg", "adam"), default=None,
                       help="Newton-CG, SG with momentum, or Adam (default: newton)")
    train.add_argument("--backend", choices=("dense", "sparse"), default=None,
                       help="the dense path or the sparse operator chain (default: dense)")
    train.add_argument("--dtype", choices=("float64", "float32"), default=None,
                       help="(default: float64)")
    train.add_argument("--seed", type=natural_int, default=None,
                       help="seed of the weights and the draws (default: 0)")
    train.add_argument("--iterations", type=positive_int, default=None,
                       help=f"Newton iterations or SG/Adam epochs {_default('iterations')}")
    train.add_argument("--C", type=number, default=None,
                       help="regularization C; inf for none (default: 1.0)")
    train.add_argument("--loss", choices=("squared", "cross_entropy"), default=None,
                       help="(default: squared for newton, cross_entropy for sg and adam)")
    newton = train.add_argument_group("Newton-CG")
    newton.add_argument("--subsample", type=number, default=None,
                        help="fraction of the data in each Gauss-Newton subsample "
                        f"{_default('subsample')}")
    newton.add_argument("--gn-size", dest="subsample_size", type=positive_int, default=None,
                        help="instances in each subsample (simpleNN's -GNsize; overrides "
                        "--subsample) (default: from --subsample)")
    newton.add_argument("--subsample-schedule", choices=SUBSAMPLE_SCHEDULES, default=None,
                        help="a fresh draw every iteration, or simpleNN's cycle through one "
                        f"permutation {_default('subsample_schedule')}")
    newton.add_argument("--lambda", dest="lam", type=number, default=None,
                        help=f"initial Levenberg-Marquardt lambda {_default('lam')}")
    newton.add_argument("--drop", type=number, default=None,
                        help=f"lambda factor when rho >= 0.75 {_default('drop')}")
    newton.add_argument("--boost", type=number, default=None,
                        help=f"lambda factor when rho < 0.25 {_default('boost')}")
    newton.add_argument("--eta", type=number, default=None,
                        help=f"line search's sufficient decrease {_default('eta')}")
    newton.add_argument("--xi", dest="cg_rtol", type=number, default=None,
                        help=f"CG stops at ||r|| <= xi ||grad f|| {_default('cg_rtol')}")
    newton.add_argument("--cg-max", dest="cg_maxiter", type=positive_int, default=None,
                        help=f"CG steps at most {_default('cg_maxiter')}")
    minibatch = train.add_argument_group("SG and Adam")
    minibatch.add_argument("--lr", type=number, default=None,
                           help=f"learning rate {_default('lr')}")
    minibatch.add_argument("--momentum", type=number, default=None,
                           help=f"SG momentum {_default('momentum')}")
    minibatch.add_argument("--batch-size", type=positive_int, default=None,
                           help=f"instances in a mini-batch {_default('batch_size')}")
    minibatch.add_argument("--lr-schedule", choices=LR_SCHEDULES, default=None,
                           help="lr * lr_decay**epoch, or simpleNN's lr / (1 + decay * step) "
                           f"{_default('lr_schedule')}")
    minibatch.add_argument("--lr-decay", type=number, default=None,
                           help=f"the exponential schedule's factor {_default('lr_decay')}")
    minibatch.add_argument("--decay", type=number, default=None,
                           help=f"the inverse schedule's decay {_default('decay')}")
    minibatch.add_argument("--sampling", choices=SAMPLINGS, default=None,
                           help="a shuffled pass an epoch, or simpleNN's random mini-batches "
                           f"{_default('sampling')}")
    minibatch.add_argument("--bias-correction", choices=("step", "epoch"), default=None,
                           help="Adam's bias correction by steps, or by epochs as simpleNN "
                           f"{_default('bias_correction')}")
    train.add_argument("--simplenn-options", default=None, metavar="TEXT",
                       help="simpleNN's option string, e.g. \"-s 1 -C 0.01 -GNsize 100\": "
                       "sets the optimizer, its settings and simpleNN's schedules (simpleNN's "
                       "defaults for what it omits); not combined with the options above "
                       "(default: not used)")
    train.add_argument("--chunk-size", type=positive_int, default=None,
                       help="instances per chunk for f and its gradient over the data "
                       "(default: 256 for the sparse backend; the dense backend picks its "
                       "own)")
    train.add_argument("--time-limit", type=_seconds, default=None, metavar="SECONDS",
                       help="start no new iteration (epoch) after this many seconds of training "
                       "(counted across --resume); the model keeps the last iterate "
                       "(default: no limit)")
    train.add_argument("--out", default="model.npz",
                       help="where the model is saved; an existing file needs --force or "
                       "--resume")
    train.add_argument("--force", action="store_true",
                       help="start a new run in --out even if the file exists (overwrite it)")
    train.add_argument("--resume", action="store_true",
                       help="continue the run saved in --out up to --iterations")
    train.add_argument("--plot", default=None, metavar="FILE",
                       help="draw the log when the run ends, as kronconv plot does (.png, "
                       ".pdf, .svg; matplotlib)")
    add_dpi(train)
    train.add_argument("--quiet", action="store_true", help="no log rows")
    add_threads(train)
    cluster = train.add_argument_group("Dask (the 'distributed' extra)")
    cluster.add_argument("--workers", type=positive_int, default=None,
                         help="start a local cluster of this many worker processes and keep "
                         "the data's blocks on them")
    cluster.add_argument("--scheduler", default=None, metavar="tcp://HOST:8786",
                         help="join the Dask cluster of this scheduler instead")

    pred = sub.add_parser("predict", help="predict with a saved model",
                          description="Predict classes with a model saved by kronconv train; "
                          "report the accuracy when the data has labels.")
    pred.add_argument("--model", required=True, help="a model saved by kronconv train")
    pred.add_argument("--data", default=None,
                      help="'digits' or 'mnist-demo' (their test split) or a file as for train "
                      "(default: the test split of the model's built-in training data)")
    pred.add_argument("--out", default=None,
                      help="write the predictions, one per line (default: not written)")
    add_threads(pred)
    pred.add_argument("--best", action="store_true",
                      help="use the iterate with the best validation accuracy (as simpleNN "
                      "returns it) instead of the last one")


def arch_inputs(source: str) -> list[tuple[str, str]]:
    """The ``--arch`` file among a command's inputs (none for a preset)."""
    return [] if source in PRESETS else [("--arch", source)]


def _data_files(spec: str) -> list[str]:
    """The files a ``--data`` value names: none for built-in data, the images and the labels
    for IDX files given as ``IMAGES:LABELS``, else the file itself."""
    if spec in BUILTIN_DATASETS:
        return []
    if ":" in spec and not Path(spec).exists():
        return spec.split(":", 1)
    return [spec]


def _check_data(command: CommandParser, option: str, spec: str) -> None:
    """Before any work: the files of a data value exist; the digits need scikit-learn."""
    if spec == "digits":
        command.requires(f"{option} digits", "data")
    for path in _data_files(spec):
        command.input_file(option, path)


def _load(command: CommandParser, option: str, spec: str, shape: tuple[int, int, int], split: int,
          input_format: str = "row", labels: np.ndarray | None = None) -> Dataset:
    """The data set of ``--data`` (or ``--val-data``); a file that cannot be read is a
    failure naming the option."""
    files = _data_files(spec)
    try:
        if not files:
            return builtin_dataset(spec, ("train", "test")[split])
        if len(files) == 2:
            return load_idx(*files)
        return load_data(spec, shape, input_format=input_format, labels=labels)
    except MemoryError:
        raise
    except Exception as exc:             # whatever a damaged file makes a reader raise
        if isinstance(exc, (ValueError, OSError)) and (
                not files or any(path in str(exc) for path in files)):
            command.fail(f"{option}: {exc}")
        command.fail(f"{option}: {spec}: cannot be read ({type(exc).__name__}: {exc})")


def _row(row: dict) -> str:
    acc = row["val_accuracy"]
    extra = (f"{row['alpha']:7.4f} {row['lam']:9.3e} {row['cg']:4d} {row['rho']:10.3e}"
             if "alpha" in row else f"{row['lr']:9.3e}")
    return (f"{row['iteration']:5d} {row['f']:12.6e} {row['grad_norm']:10.3e} {extra} "
            f"{row['seconds']:8.2f} {'-' if acc is None else f'{100 * acc:6.2f}%'}")


_OPTIMIZERS = {"newton": (NewtonOptions, newton_cg), "sg": (SGOptions, sg),
               "adam": (AdamOptions, adam)}

# kronconv's defaults where they differ from the option classes' (the CLI's own choices)
_CLI_DEFAULTS = {"newton": {"iterations": 200}, "sg": {"iterations": 60, "lr": 0.03},
                 "adam": {"iterations": 60}}


def _default(field: str) -> str:
    """``(default: ...)`` of an optimizer's setting, from the option classes and the CLI's own
    choices: one value, or one per optimizer that has the setting."""
    values = {name: _CLI_DEFAULTS[name].get(field, kind.__dataclass_fields__[field].default)
              for name, (kind, _) in _OPTIMIZERS.items() if field in kind.__dataclass_fields__}
    shown = {name: f"{value:g}" if isinstance(value, float) else str(value)
             for name, value in values.items()}
    if len(set(shown.values())) == 1:
        return f"(default: {next(iter(shown.values()))})"
    return f"(default: {', '.join(f'{value} for {name}' for name, value in shown.items())})"


# the flags that set fields of the optimizer's options (each flag's dest is the field)
_FIELDS = ("subsample", "subsample_size", "subsample_schedule", "lam", "drop", "boost", "eta",
           "cg_rtol", "cg_maxiter", "lr", "momentum", "batch_size", "lr_schedule", "lr_decay",
           "decay", "sampling", "bias_correction")


def _train_settings(args: argparse.Namespace, command: CommandParser, l: int) -> dict:  # noqa: E741
    """optimizer, C, loss, dtype and train_options from the flags or simpleNN's string, for
    ``l`` training instances; a value the library refuses is a usage error naming its flag."""
    flags = command.flags()
    given = {k: getattr(args, k) for k in _FIELDS if getattr(args, k) is not None}
    if args.simplenn_options is not None:
        clash = [flags[k] for k in ("optimizer", "C", "loss", "dtype", *given)
                 if getattr(args, k) is not None]
        if clash:
            command.refuse(f"--simplenn-options: not combined with {', '.join(clash)}; give "
                           "everything in simpleNN's option string")
        try:
            return simplenn_options(args.simplenn_options, l)
        except ValueError as exc:
            command.refuse(f"--simplenn-options: {exc}")
    optimizer = args.optimizer or "newton"
    kind = _OPTIMIZERS[optimizer][0]
    unused = [flags[k] for k in given if k not in kind.__dataclass_fields__]
    if unused:
        command.refuse(f"{', '.join(unused)}: not an option of --optimizer {optimizer}")
    with command.refused():
        opt = kind(**{**_CLI_DEFAULTS[optimizer], **given})
        C = check_C(1.0 if args.C is None else args.C)
    return {"optimizer": optimizer, "C": C,
            "loss": args.loss or ("squared" if optimizer == "newton" else "cross_entropy"),
            "dtype": args.dtype or "float64", "train_options": asdict(opt)}


@dataclass
class _Run:
    """A training run as checked before any work: what it starts from, and the iteration
    whose model ``--out`` holds (None: none yet)."""

    arch: Architecture
    options: dict[str, Any]
    scaling: Scaling | None
    state: TrainState | None
    saved: int | None


def _check_train(args: argparse.Namespace, command: CommandParser) -> _Run:
    """Every argument of ``train``, before any work."""
    if args.resume:
        command.input_file("--resume", args.out)
    command.output_file("--out", args.out)
    if args.plot is not None:
        command.picture("--plot", args.plot)
    if args.workers is not None and args.scheduler is not None:
        command.refuse("--workers and --scheduler: give one (a local cluster, or one to join)")
    if args.workers is not None or args.scheduler is not None:
        command.requires("--workers" if args.workers is not None else "--scheduler",
                         "distributed")
    if args.workers is not None:
        with command.refused():
            check_workers(args.workers)
    if args.scheduler is not None:
        from distributed.comm import get_address_host_port

        try:
            get_address_host_port(args.scheduler)
        except ValueError as exc:
            command.refuse(f"--scheduler: {exc}")
    if args.resume:             # the saved run's settings win: resuming continues that run
        try:
            model = load_model(args.out)
        except ValueError as exc:
            command.refuse(f"--resume: {exc}")
        try:                    # the saved run's network and data, or a refusal naming both
            check_resume(model, args.out, args.arch, args.data)
        except (ValueError, TypeError) as exc:
            command.refuse(f"--resume: {exc}")
        if "train_options" in model.options:    # else (format 1) the settings come from here
            _refuse_new_settings(args, command, model.options)
        run = _Run(model.arch, model.options, model.scaling, model.state,
                   model.state.iteration)
    else:
        run = _Run(command.architecture(args.arch or "digits"),
                   {"backend": args.backend or "dense",
                    "seed": 0 if args.seed is None else args.seed,
                    "data": args.data or "digits", "val_data": args.val_data}, None, None, None)
    run.options.setdefault("input_format", args.input_format or "row")
    inputs = [] if args.resume else arch_inputs(args.arch or "digits")
    for option, spec in (("--data", run.options["data"]), ("--val-data", run.options["val_data"])):
        if args.resume:                       # not given now: the saved run's
            option = f"--resume: {args.out}'s {option}"
        if spec is not None:
            _check_data(command, option, spec)
            inputs += [(option, path) for path in _data_files(spec)]
    command.distinct([("--out", args.out), ("--plot", args.plot)], inputs)
    if "train_options" not in run.options:
        # the settings depend on the data's size only through simpleNN's default -GNsize:
        # checked now, set once the data is loaded; what the run counts is known now
        run.options.setdefault("optimizer", _train_settings(args, command, 1)["optimizer"])
    if not (args.resume or args.force) and Path(args.out).exists():
        command.refuse(f"--out: {args.out} exists: add --force to overwrite it (or --resume "
                       "to continue its run)")
    return run


#: What a resumed run may set anew: how much longer it runs, where and how it computes (the
#: numbers do not depend on threads or workers), what it prints and draws. Every other option
#: of ``train`` is a setting of the run, which ``--resume`` continues with the saved ones.
_PER_SESSION = ("data", "arch", "iterations", "time_limit", "out", "force", "resume", "plot", "dpi",
                "quiet", "threads", "workers", "scheduler", "chunk_size", "debug")


def _refuse_new_settings(args: argparse.Namespace, command: CommandParser,
                         saved: dict) -> None:
    """``--resume`` with a setting of the run given anew (``--lr``, ``--seed``, ...) other than
    the saved one is refused rather than silently ignored (``--data`` and ``--arch``:
    ``check_resume``)."""
    for dest, flag in command.flags().items():
        if dest in _PER_SESSION or getattr(args, dest, None) is None:
            continue
        value = saved.get(dest, saved.get("train_options", {}).get(dest))
        if getattr(args, dest) == value:        # the saved setting itself: nothing changes
            continue
        was = f" (the saved run's: {value})" if value is not None else ""
        command.refuse(f"{flag}: --resume continues {args.out}'s run with its own "
                       f"settings{was}; start a new run (another --out) to change it")


def _step(options: dict) -> str:
    """What the run counts: Newton iterations, or SG's and Adam's epochs."""
    return STEP_NAMES[options["optimizer"]]


def _resume_hint(args: argparse.Namespace, argv: list[str], run: _Run) -> str:
    """What Ctrl-C during training says: how to continue the run, if anything was saved."""
    if run.saved is None:
        return f"interrupted before the first {_step(run.options)} finished; nothing was saved " \
               f"to {args.out}"
    again = argv if args.resume else [*argv, "--resume"]
    return (f"interrupted; {args.out} holds the run after {_step(run.options)} {run.saved}; "
            f"continue it with: kronconv {shlex.join(again)}")


def run_train(args: argparse.Namespace, command: CommandParser, argv: list[str]) -> int:
    """``kronconv train``: check everything, then train; Ctrl-C says how to resume."""
    run = _check_train(args, command)
    try:
        return _train(args, command, run)
    except KeyboardInterrupt:
        command.interrupted(_resume_hint(args, argv, run))


def _train(args: argparse.Namespace, command: CommandParser, run: _Run) -> int:
    arch, options, scaling, state = run.arch, run.options, run.scaling, run.state
    fmt = options["input_format"]
    train_set = _load(command, "--data", options["data"], arch.input, 0, fmt)
    val_spec = options["val_data"] or (options["data"] if options["data"] in BUILTIN_DATASETS
                                       else None)
    val_option = "--val-data" if options["val_data"] else "--data"
    val_set = (_load(command, val_option, val_spec, arch.input, 1, fmt, train_set.labels)
               if val_spec else None)
    for option, spec, data in (("--data", options["data"], train_set),
                               (val_option, val_spec, val_set)):
        if data is not None:            # images of the network's input, labels of its classes
            try:
                check_fits(data, arch, spec)
            except ValueError as exc:       # no work yet: the data and --arch disagree
                command.refuse(f"{option}: {exc}")
    if "train_options" not in options:
        options.update(_train_settings(args, command, len(train_set)))
    if train_set.labels is not None:      # a .mat file's label of each class, for predict
        options["labels"] = train_set.labels.tolist()
    dtype = np.dtype(options["dtype"])
    if scaling is None:
        scaling = Scaling.fit(train_set.x)
    if state is None:
        state = TrainState(init_params(arch, options["seed"], dtype))
    chunk = args.chunk_size or options.get("chunk_size") or (
        256 if options["backend"] == "sparse" else None)
    options["chunk_size"] = chunk
    problem = Problem(arch, Z_from_nchw(scaling(train_set.x, dtype)), train_set.y,
                      options["C"], options["loss"], options["backend"], chunk,
                      None if val_set is None else Z_from_nchw(scaling(val_set.x, dtype)),
                      None if val_set is None else val_set.y)
    if args.workers is not None or args.scheduler is not None:
        from .distributed import DistributedProblem, connect

        try:
            client = connect(args.workers, args.scheduler)
        except (OSError, TimeoutError, ValueError) as exc:
            command.fail(f"--{'workers' if args.workers else 'scheduler'}: {exc}")
        problem = DistributedProblem(problem, client)
    kind, optimize = _OPTIMIZERS[options["optimizer"]]
    iterations = args.iterations or options["train_options"]["iterations"]
    opt = kind(**{**options["train_options"], "iterations": iterations})
    header = ("iter            f    |grad f|   alpha    lambda  #CG        rho  seconds  val acc"
              if options["optimizer"] == "newton" else
              "epoch           f    |grad f|        lr  seconds  val acc")
    if not args.quiet:
        print(f"kronconv train: {arch.name or args.arch or 'the saved network'}, "
              f"{len(train_set)} training instances, "
              f"{options['optimizer']}, {options['loss']}, C = {options['C']}, "
              f"{options['backend']} backend, {options['dtype']}, seed {options['seed']}")
        print(header)

    on_terminal = not args.quiet and sys.stderr.isatty()

    step = _step(options)

    def show(message: str) -> None:          # a transient status line on a terminal
        sys.stderr.write(f"\r  {step} {state.iteration + 1}: {message}\x1b[K")
        sys.stderr.flush()

    def checkpoint(st: TrainState, row: dict) -> None:
        save_model(args.out, Model(arch, scaling, options, st))
        run.saved = st.iteration
        if on_terminal:
            sys.stderr.write("\r\x1b[K")
        if not args.quiet:
            print(_row(row), flush=True)

    try:
        state = optimize(problem, state, opt, options["seed"], checkpoint,
                         show if on_terminal else None, time_limit=args.time_limit)
    except (ArithmeticError, MemoryError, OSError) as exc:      # the saved iterate survives
        if run.saved is not None:
            exc.add_note(f"{args.out} holds the run after {step} {run.saved}")
        raise
    finally:
        if hasattr(problem, "client"):
            from .distributed import disconnect

            disconnect(problem.client)
    save_model(args.out, Model(arch, scaling, options, state))
    run.saved = state.iteration
    if state.stop_reason:
        print(f"stopped: {state.stop_reason}", file=sys.stderr)
    if val_set is not None and state.history:
        print(f"validation accuracy {100 * problem.val_accuracy(state.theta):.2f}% after "
              f"{state.iteration} {step}{'s' * (state.iteration != 1)}, "
              f"{state.elapsed:.1f} s; model saved to {args.out}")
    if args.plot and state.history:
        model = Model(arch, scaling, options, state)
        save_figure(args.plot, training_figure({Path(args.out).name: model}), args.dpi)
    elif args.plot:
        print(f"--plot: no {step} finished; nothing drawn", file=sys.stderr)
    return 0


def run_predict(args: argparse.Namespace, command: CommandParser) -> int:
    """``kronconv predict``: check everything, then predict."""
    command.input_file("--model", args.model)
    if args.out is not None:
        command.output_file("--out", args.out)
    try:
        model = load_model(args.model)
    except ValueError as exc:
        command.refuse(f"--model: {exc}")
    spec = args.data or model.options.get("data", "digits")
    if spec not in BUILTIN_DATASETS and args.data is None:
        command.refuse("--data: the model was trained on a file; give the data to predict")
    _check_data(command, "--data", spec)
    command.distinct([("--out", args.out)],
                     [("--model", args.model), *[("--data", path) for path in _data_files(spec)]])
    labels = model.options.get("labels")     # classes mapped as the training file's were
    data = _load(command, "--data", spec, model.arch.input, 1,
                 model.options.get("input_format", "row"),
                 None if labels is None else np.asarray(labels))
    try:                    # labels outside the model's classes are not "accuracy 0.00%"
        check_fits(data, model.arch, spec)
    except ValueError as exc:
        command.refuse(f"--data: {exc}")
    dtype = model.theta.dtype
    theta = model.state.best_theta if args.best else model.theta
    try:
        x = model.scaling(data.x, dtype)
    except ValueError as exc:
        command.fail(f"--data: {exc}")
    pred = predict(theta, model.arch, Z_from_nchw(x), backend=model.options.get("backend", "dense"))
    print(f"accuracy {100 * np.mean(pred == data.y):.2f}% on {len(data)} instances")
    if args.out:
        atomic_write(args.out, lambda f: f.write("".join(f"{p}\n" for p in pred).encode()))
    return 0
