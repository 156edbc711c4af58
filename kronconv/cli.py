"""The ``kronconv`` command line.

Every command checks all its arguments before it starts working: the values the library
refuses (named by their option), the files it reads (they exist) and writes (a file can be
written there), the optional dependencies it needs, and ``KRONCONV_MEMORY_LIMIT``. Any error
ends the command with one line on stderr, ``kronconv COMMAND: error: OPTION: what is wrong``,
and an exit status: 2 when the command line is refused before any work (data read from a file
that does not fit ``--arch`` included), 1 when the work fails (a file that turns out damaged,
the memory limit, an overflow, a failed write; an unexpected exception is reported as an
internal error), 130 on Ctrl-C, also while the command starts. ``--debug`` shows the traceback
instead.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

from . import parallel, train_cli
from ._files import check_input_file, check_output_directory, check_output_file
from ._version import VERSION
from .activations import ACTIVATIONS
from .architecture import Architecture, load_architecture
from .bench import BENCH_BACKENDS, format_report, run_bench, run_profile
from .chain_figure import chain_figure
from .figures import figure_format, save_figure
from .golden import write_golden
from .memory import MemoryLimitError, get_memory_limit
from .model import load_model
from .objective_function import check_C
from .operator_figures import operators_figure
from .ops import (
    export_operators,
    export_paths,
    layer_input,
    network_operators,
    operator_table,
)
from .profiler import format_profile
from .torch_reference import torch_available
from .train_cli import (
    add_arch,
    add_dpi,
    add_threads,
    arch_inputs,
    natural_int,
    number,
    positive_int,
)
from .training_figure import training_figure
from .verify import DEFAULT_NETWORK, DEFAULT_SHAPE, Check, run_checks, run_network_checks

USAGE, FAILURE, INTERRUPTED = 2, 1, 130
"""The exit statuses of a refused command line, a failed run and Ctrl-C."""

#: kronconv's extras a command may need: extra -> (what pip installs, the module imported), as
#: in pyproject.toml's optional-dependencies (tests/test_cli_errors.py holds them to it)
EXTRAS = {"plot": ("matplotlib", "matplotlib"), "data": ("scikit-learn", "sklearn"),
          "distributed": ("dask[distributed]", "distributed"),
          "bench": ("threadpoolctl", "threadpoolctl")}


class CommandError(Exception):
    """An error of a command, reported on one line of stderr, with its exit status."""

    def __init__(self, prog: str, message: str, status: int) -> None:
        super().__init__(message)
        self.prog = prog
        self.status = status


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` ends each option's text with ``(default: ...)``, unless the text already
    says it (a default decided when the command runs) or there is none (a flag, a required
    option)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if ("(default" in text or action.required or action.default is None
                or action.default is False or action.default is argparse.SUPPRESS):
            return text
        return f"{text} (default: %(default)s)"


class CommandParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are :class:`CommandError`, with the checks a command
    runs on its arguments before any work; each error names the option."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """argparse's own errors (an unknown option, a value its type or choices refuse)."""
        message = re.sub(r"^argument ([^:]+): ", r"\1: ", message)
        raise CommandError(self.prog, f"{message} (for usage: {self.prog} --help)", USAGE)

    def refuse(self, message: str) -> NoReturn:
        """The command line is refused (exit status 2)."""
        raise CommandError(self.prog, message, USAGE)

    def fail(self, message: str) -> NoReturn:
        """The work failed (exit status 1)."""
        raise CommandError(self.prog, message, FAILURE)

    def interrupted(self, message: str) -> NoReturn:
        """Ctrl-C (exit status 130)."""
        raise CommandError(self.prog, message, INTERRUPTED)

    def flags(self) -> dict[str, str]:
        """``{dest: option string}`` of this command's options."""
        return {a.dest: a.option_strings[0] for a in self._actions if a.option_strings}

    @contextmanager
    def refused(self, option: str | None = None) -> Iterator[None]:
        """The library's ``ValueError``/``TypeError`` on option values as a usage error that
        names the option: the one whose dest starts the message (the library names the
        parameter first), else ``option``."""
        try:
            yield
        except (ValueError, TypeError) as exc:
            message = str(exc)
            flag = self.flags().get(message.split(" ", 1)[0], option)
            self.refuse(f"{flag}: {message}" if flag else message)

    def in_cli_terms(self, message: str) -> str:
        """The library's advice in the command line's words: a parameter named in
        parentheses, ``(chunk_size)``, becomes its option, ``(--chunk-size)``, or goes when
        the command has no such option; ``kronconv.set_memory_limit`` becomes the
        environment variable."""
        flags = self.flags()
        message = re.sub(r" ?\((\w+)\)",
                         lambda m: f" ({flags[m[1]]})" if m[1] in flags else "", message)
        return message.replace("kronconv.set_memory_limit", "KRONCONV_MEMORY_LIMIT")

    def _path(self, option: str, check, path: str) -> Path:
        try:
            return check(path)
        except ValueError as exc:
            self.refuse(f"{option}: {exc}")

    def input_file(self, option: str, path: str) -> Path:
        """``path`` exists and is a readable file."""
        return self._path(option, check_input_file, path)

    def output_file(self, option: str, path: str) -> Path:
        """A file can be written at ``path``: not a directory, in a writable directory."""
        return self._path(option, check_output_file, path)

    def output_directory(self, option: str, path: str) -> Path:
        """``path`` is a writable directory or can be created as one."""
        return self._path(option, check_output_directory, path)

    def distinct(self, outputs: Sequence[tuple[str, str | None]],
                 inputs: Sequence[tuple[str, str]] = ()) -> None:
        """No output is written over an input or over another output (inputs may coincide)."""
        seen = {os.path.realpath(path): option for option, path in inputs}
        for option, path in outputs:
            if path is None:
                continue
            key = os.path.realpath(path)
            if key in seen:
                self.refuse(f"{option}: {path} is also {seen[key]}'s file")
            seen[key] = option

    def picture(self, option: str, path: str) -> Path:
        """A picture can be written at ``path``, in the format its extension names, and
        matplotlib is installed."""
        out = self.output_file(option, path)
        try:
            figure_format(path)
        except ValueError as exc:
            self.refuse(f"{option}: {exc}")
        self.requires(option, "plot")
        return out

    def requires(self, what: str, extra: str) -> None:
        """``what`` (an option) needs kronconv's optional dependency ``extra``."""
        package, module = EXTRAS[extra]
        try:
            importlib.import_module(module)
        except ImportError:
            self.refuse(f"{what} needs {package}: pip install \"{package}\" (kronconv's "
                        f"'{extra}' extra)")

    def architecture(self, source: str) -> Architecture:
        """The architecture of ``--arch``, a preset or a file."""
        try:
            return load_architecture(source)
        except (ValueError, TypeError) as exc:
            self.refuse(f"--arch: {exc}")
        except RecursionError:
            self.refuse(f"--arch: {source}: nested too deeply to be an architecture")


def _add_debug(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument("--debug", action="store_true", default=default,
                        help="on an error, show the traceback instead of one line")


def build_parser() -> tuple[CommandParser, dict[str, CommandParser]]:
    """The ``kronconv`` parser, and each command's parser by name.

    Returns
    -------
    parser : CommandParser
    commands : dict of str to CommandParser
        ``{"verify": ..., "train": ...}``: a command's errors name it (``kronconv train:``).
    """
    parser = CommandParser(
        prog="kronconv",
        description="A CNN's value and gradient as chains of scipy.sparse operators.",
        epilog="Exit status: 0 done, 1 the run failed (or verify's checks did), 2 the command "
        "line was refused before any work, 130 interrupted (Ctrl-C).",
    )
    _add_debug(parser, False)
    parser.add_argument("--version", action="version", version=f"kronconv {VERSION}")
    sub = parser.add_subparsers(dest="command", required=True)
    verify = sub.add_parser(
        "verify",
        help="check equations (1)-(9) numerically on one layer",
        description="Check every equation of one convolutional layer numerically (float64): "
        "both forms of each equation agree, and the gradients equal central finite "
        f"differences. The layer is {DEFAULT_SHAPE}. Then check a network ({DEFAULT_NETWORK} "
        "by default): its gradient against finite differences on sampled coordinates, Jv, "
        "J^T u and Gv, the Kronecker against the vec forms, the dense path against the sparse "
        "chain, chunked evaluation, and PyTorch (autograd, torch.func) when installed. "
        "Exit status 0 only if all checks pass.",
    )
    add_arch(verify, DEFAULT_NETWORK)
    verify.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                        help="the network section's dtype; references stay float64")
    verify.add_argument("--seed", type=natural_int, default=0, help="seed of the random data")
    verify.add_argument("--batch", type=positive_int, default=2, help="instances")
    add_threads(verify)
    verify.add_argument("--activation", choices=sorted(ACTIVATIONS), default="relu",
                        help="the one layer's activation sigma")
    bench = sub.add_parser(
        "bench",
        help="time value-and-gradient: sparse chain, dense path, PyTorch",
        description="Time f and its gradient on one batch with the sparse chain, the dense "
        "path and (when installed) PyTorch, on the same network, weights and data, with the "
        "same thread count for BLAS and PyTorch. Prints medians, minimums and ratios.",
    )
    add_arch(bench, "cifar10-3layer")
    bench.add_argument("--batch", type=positive_int, default=128, help="instances")
    bench.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                       help="what kronconv and PyTorch compute in")
    bench.add_argument("--threads", type=positive_int, default=None,
                       help="kronconv's and PyTorch's threads (default: the machine's cores)")
    bench.add_argument("--repeat", type=positive_int, default=5,
                       help="timed rounds (each runs every backend once)")
    bench.add_argument("--backends", default="sparse,dense,torch",
                       help="comma-separated, among sparse, dense, torch")
    bench.add_argument("--chunk-size", type=positive_int, default=None,
                       help="instances per block for kronconv's backends (default: each "
                       "backend's own: 32 for the sparse chain, sized from the L2 cache and "
                       "evened out over the cores for the dense path)")
    bench.add_argument("--json", action="store_true", help="print the report as JSON")
    bench.add_argument("--profile", action="store_true",
                       help="time every stage of every layer of the sparse chain and the dense "
                       "path instead, on one thread")
    train_cli.add_parsers(sub)

    golden = sub.add_parser(
        "golden", help="write a golden test vector (.npz)",
        description="Write a self-describing test vector: inputs, labels, weights, every "
        "layer's intermediates, outputs, f, the gradient, and a direction v with Jv and Gv. "
        "The same arguments give byte-identical files; every key, its layout and its formula are "
        "on the documentation's page 'The golden file format' (docs/golden.rst).")
    add_arch(golden, "digits")
    golden.add_argument("--batch", type=positive_int, default=4, help="instances")
    golden.add_argument("--seed", type=natural_int, default=0,
                        help="seed of the weights, the data and v")
    golden.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                        help="the dtype of every array but y")
    golden.add_argument("--loss", choices=("squared", "cross_entropy"), default="cross_entropy",
                        help="the loss in f, its gradient and Gv")
    golden.add_argument("--C", type=number, default=0.01,
                        help="regularization C; inf for none")
    golden.add_argument("--out", required=True, help="the .npz to write")
    add_threads(golden)

    ops = sub.add_parser(
        "ops", help="list, export or draw every operator of a network",
        description="A table of every operator of the convolutional layers (shape, nnz, "
        "density, bytes); max pooling's P_pool and phi^T ⊗ I for one random instance.")
    add_arch(ops, "digits")
    ops.add_argument("--layer", type=positive_int, default=None,
                     help="one convolutional layer only (default: all)")
    ops.add_argument("--seed", type=natural_int, default=0,
                     help="seed of the random instance (max pooling's choices)")
    add_threads(ops)
    ops.add_argument("--export", default=None, metavar="DIR",
                     help="write them to DIR (created if missing; files of the same names are "
                     "replaced, all or none) (default: not written)")
    ops.add_argument("--format", choices=("npz", "mtx"), default="npz",
                     help="scipy.sparse .npz or Matrix Market .mtx")
    ops.add_argument("--plot", default=None, metavar="FILE",
                     help="draw every operator: the whole matrix beside a zoom on its first "
                     "blocks; the format from the extension (.png, .pdf, .svg)")
    ops.add_argument("--chain", default=None, metavar="FILE",
                     help="draw the chain of --layer (the first layer when not given): every "
                     "operator beside the vectors it acts on and gives, to scale (.png, .pdf, "
                     ".svg)")
    add_dpi(ops)
    plot = sub.add_parser(
        "plot", help="draw training runs' logs, overlaid",
        description="Draw the logs of runs saved by kronconv train, overlaid: f, the norm of "
        "its gradient (logarithmic) and the validation accuracy in %%, against iterations "
        "(Newton-CG) or epochs (SG, Adam) and against seconds, each run's settings in the "
        "legend.")
    plot.add_argument("runs", nargs="+", metavar="RUN.npz", help="models saved by kronconv train")
    plot.add_argument("--out", required=True, metavar="FILE",
                      help="the picture; the format from the extension (.png, .pdf, .svg)")
    plot.add_argument("--title", default=None,
                      help="above the panels (default: a line saying what they show)")
    add_dpi(plot)
    for command in sub.choices.values():        # --debug after the command too
        _add_debug(command, argparse.SUPPRESS)
    return parser, sub.choices


def _golden(args: argparse.Namespace, command: CommandParser) -> int:
    command.output_file("--out", args.out)
    arch = command.architecture(args.arch)
    command.distinct([("--out", args.out)], arch_inputs(args.arch))
    with command.refused():
        check_C(args.C)
    meta = write_golden(args.out, arch, args.batch, args.seed, args.dtype, args.loss, args.C)
    print(f"wrote {args.out}: {meta['arch'].get('name', 'custom')}, batch {meta['batch']}, "
          f"{meta['dtype']}, {meta['loss']}, C = {meta['C']}, seed {meta['seed']}")
    return 0


def _ops(args: argparse.Namespace, command: CommandParser) -> int:
    if args.export is not None:
        command.output_directory("--export", args.export)
    for option, path in (("--plot", args.plot), ("--chain", args.chain)):
        if path is not None:
            command.picture(option, path)
    arch = command.architecture(args.arch)
    command.distinct([("--plot", args.plot), ("--chain", args.chain), ("--export", args.export)],
                     arch_inputs(args.arch))
    with command.refused("--arch"):      # --layer beyond the network's convolutional layers
        operators = network_operators(arch, args.layer, args.seed)
    if args.export is not None:          # every target checked before anything is written
        try:
            export_paths(args.export, operators, args.format)
        except ValueError as exc:
            command.refuse(f"--export: {exc}")
    print(operator_table(operators))
    if args.export is not None:
        written = export_operators(args.export, operators, args.format)
        print(f"wrote {len(written)} files to {args.export}")
    if args.plot is not None:
        save_figure(args.plot, operators_figure(operators, arch.conv_shapes), args.dpi)
        print(f"drew {args.plot}")
    if args.chain is not None:
        layer = args.layer or 1
        title = (f"The chain of layer conv{layer} of {arch.name or args.arch}, to scale, for "
                 "one random instance")
        save_figure(args.chain, chain_figure(*layer_input(arch, layer, args.seed), title=title),
                    args.dpi)
        print(f"drew {args.chain}")
    return 0


def _plot(args: argparse.Namespace, command: CommandParser) -> int:
    command.picture("--out", args.out)
    for path in args.runs:
        command.input_file("RUN.npz", path)
    command.distinct([("--out", args.out)], [("RUN.npz", path) for path in args.runs])
    models = {}
    for path in args.runs:
        try:
            models[path] = load_model(path)
        except ValueError as exc:         # names the file (and the field)
            command.refuse(str(exc))
        if not models[path].state.history:
            command.refuse(f"{path}: a model without a training log: nothing to draw")
    save_figure(args.out, training_figure(models, args.title), args.dpi)
    print(f"drew {args.out}: {len(models)} run{'s' if len(models) > 1 else ''}")
    return 0


def _bench(args: argparse.Namespace, command: CommandParser) -> int:
    backends = tuple(b.strip() for b in args.backends.split(",") if b.strip())
    bad = sorted(set(backends) - set(BENCH_BACKENDS))
    if bad or not backends:
        command.refuse(f"--backends: choose among {', '.join(BENCH_BACKENDS)}, "
                       f"got {args.backends!r}")
    arch = command.architecture(args.arch)
    command.requires("kronconv bench (its report of the BLAS libraries)", "bench")
    if args.profile:
        if args.threads is not None:
            command.refuse("--threads: --profile times every stage on one thread")
        ours = tuple(b for b in backends if b != "torch")
        if not ours:
            command.refuse("--backends: --profile times kronconv's backends (sparse, dense)")
        profiles = run_profile(arch, args.batch, args.dtype, args.repeat, ours,
                               chunk_size=args.chunk_size)
        print(json.dumps([{**p, "stages": [[*k, t] for k, t in p["stages"].items()],
                           "calls": [[*k, n] for k, n in p["calls"].items()]}
                          for p in profiles], indent=2) if args.json
              else "\n\n".join(format_profile(p) for p in profiles))
        if ours != backends:
            print("skipped: torch (--profile times kronconv's backends only)", file=sys.stderr)
        return 0
    report = run_bench(arch, args.batch, args.dtype, parallel.get_threads(), args.repeat, backends,
                       chunk_size=args.chunk_size)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return FAILURE if report["mismatches"] else 0       # a backend that disagrees fails


_WIDTH = 55
"""The width of verify's column "what is compared" (its rows are printed as the checks end)."""


def _print_check(c: Check) -> None:
    print(f"{c.equation:<7} {c.compared:<{_WIDTH}}  {c.error:12.2e}  {c.tolerance:7.0e}  "
          f"{'pass' if c.passed else 'FAIL'}", flush=True)


def _verify(args: argparse.Namespace, command: CommandParser) -> int:
    arch = command.architecture(args.arch)
    header = f"{'eq.':<7} {'what is compared':<{_WIDTH}}  {'max rel. err':>12}  {'tol':>7}  result"
    print(f"One layer: {DEFAULT_SHAPE}, batch {args.batch}, {args.activation}, "
          f"seed {args.seed}, float64\n{header}", flush=True)
    layer = run_checks(DEFAULT_SHAPE, batch=args.batch, seed=args.seed,
                       activation=args.activation, report=_print_check)
    print(f"\nThe network {arch.name or args.arch}: batch {args.batch}, cross-entropy, "
          f"C = 0.1, He initialization, seed {args.seed}, {args.dtype}\n{header}", flush=True)
    network = run_network_checks(arch, batch=args.batch, seed=args.seed, dtype=args.dtype,
                                 report=_print_check)
    if not torch_available():
        print("(PyTorch is not installed: the PyTorch checks were skipped)")
    checks = layer + network
    failed = sum(not c.passed for c in checks)
    print(f"\n{len(checks) - failed} passed, {failed} failed")
    return 0 if failed == 0 else 1


def _run(args: argparse.Namespace, command: CommandParser, argv: list[str]) -> int:
    """The checks every command shares, then the command."""
    try:
        get_memory_limit()
    except ValueError as exc:
        command.refuse(str(exc))
    try:
        parallel.set_threads(getattr(args, "threads", None))    # plot computes nothing
    except ImportError as exc:
        command.refuse(f"--threads: {exc}")
    if args.command == "train":
        return train_cli.run_train(args, command, argv)
    if args.command == "predict":
        return train_cli.run_predict(args, command)
    return {"verify": _verify, "bench": _bench, "golden": _golden, "ops": _ops,
            "plot": _plot}[args.command](args, command)


def _failure(exc: BaseException, command: CommandParser) -> tuple[str, int]:
    """The one-line message and the exit status of an exception ending a command."""
    if isinstance(exc, CommandError):
        return str(exc), exc.status
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", INTERRUPTED
    if isinstance(exc, MemoryLimitError):
        return command.in_cli_terms(str(exc)), FAILURE
    if isinstance(exc, MemoryError):
        return f"out of memory: {exc}", FAILURE
    if isinstance(exc, FloatingPointError):
        return command.in_cli_terms(str(exc)), FAILURE
    if isinstance(exc, OSError):
        return (f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror
                else str(exc)), FAILURE
    return (f"internal error: {type(exc).__name__}: {exc}; rerun with --debug for the "
            "traceback"), FAILURE


def _report(prog: str, message: str, status: int) -> NoReturn:
    """Print one line on stderr and exit with ``status``."""
    line = " ".join(message.split())
    print(f"{prog}: {line}" if status == INTERRUPTED else f"{prog}: error: {line}",
          file=sys.stderr, flush=True)
    raise SystemExit(status)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``kronconv`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status of a command that ran: 0, or 1 when ``verify``'s checks fail.

    Raises
    ------
    SystemExit
        On any error, after one line on stderr: status 2 when the command line is refused
        before any work, 1 when the work fails, 130 on Ctrl-C. With ``--debug`` the
        traceback is printed first (the exit status stays the same).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        parser, commands = build_parser()
        args, unknown = parser.parse_known_args(argv)
        command = commands[args.command]
        if unknown:
            command.error(f"unrecognized arguments: {' '.join(unknown)}")
    except CommandError as exc:
        _report(exc.prog, str(exc), exc.status)
    except KeyboardInterrupt:
        _report("kronconv", "interrupted while starting; nothing was done", INTERRUPTED)
    try:
        return _run(args, command, argv)
    except BrokenPipeError:                 # the reader of stdout went away (| head): quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(FAILURE) from None
    except (Exception, KeyboardInterrupt) as exc:
        if args.debug:                      # the traceback, then the same line and status
            traceback.print_exception(exc)
        message, status = _failure(exc, command)
        _report(getattr(exc, "prog", command.prog),
                "; ".join([message, *getattr(exc, "__notes__", ())]), status)
