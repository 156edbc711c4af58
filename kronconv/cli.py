"""The ``kronconv`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from . import parallel, train_cli
from .activations import ACTIVATIONS
from .architecture import load_architecture
from .bench import BENCH_BACKENDS, format_report, run_bench
from .golden import write_golden
from .ops import export_operators, network_operators, operator_table, plot_operators
from .torch_reference import torch_available
from .verify import DEFAULT_NETWORK, DEFAULT_SHAPE, Check, run_checks, run_network_checks


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def add_threads(command: argparse.ArgumentParser) -> None:
    """``--threads``, on every command that computes."""
    command.add_argument("--threads", type=_positive_int, default=None,
                         help="threads that share out the instances (default: the machine's "
                         "cores); the results are the same for any number")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kronconv",
        description="A CNN's value and gradient as chains of scipy.sparse operators.",
    )
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
    verify.add_argument("--arch", default=DEFAULT_NETWORK,
                        help=f"the network: a preset or a file ({DEFAULT_NETWORK})")
    verify.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                        help="the network section's dtype; references stay float64 (float64)")
    verify.add_argument("--seed", type=int, default=0, help="seed of the random data (0)")
    verify.add_argument("--batch", type=_positive_int, default=2, help="instances (2)")
    add_threads(verify)
    verify.add_argument("--activation", choices=sorted(ACTIVATIONS), default="relu",
                        help="activation sigma (relu)")
    bench = sub.add_parser(
        "bench",
        help="time value-and-gradient: sparse chain, dense path, PyTorch",
        description="Time f and its gradient on one batch with the sparse chain, the dense "
        "path and (when installed) PyTorch, on the same network, weights and data, with the "
        "same thread count for BLAS and PyTorch. Prints medians, minimums and ratios.",
    )
    bench.add_argument("--arch", default="cifar10-3layer",
                       help="a preset (%(default)s) or an architecture file")
    bench.add_argument("--batch", type=_positive_int, default=128, help="instances (128)")
    bench.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    bench.add_argument("--threads", type=_positive_int, default=None,
                       help="kronconv's and PyTorch's threads (the machine's cores)")
    bench.add_argument("--repeat", type=_positive_int, default=5, help="timed runs (5)")
    bench.add_argument("--backends", default="sparse,dense,torch",
                       help="comma-separated, among sparse, dense, torch (all)")
    bench.add_argument("--chunk-size", type=_positive_int, default=None,
                       help="instances per chunk for kronconv's backends (the whole batch)")
    bench.add_argument("--json", action="store_true", help="print the report as JSON")
    train_cli.add_parsers(sub, _positive_int, add_threads)

    golden = sub.add_parser(
        "golden", help="write a golden test vector (.npz)",
        description="Write a self-describing test vector: inputs, labels, weights, every "
        "layer's intermediates, outputs, f, the gradient, and a direction v with Jv and Gv. "
        "The same arguments give byte-identical files; the schema is in kronconv/golden.py.")
    golden.add_argument("--arch", default="digits", help="a preset or an architecture file")
    golden.add_argument("--batch", type=_positive_int, default=4)
    golden.add_argument("--seed", type=int, default=0)
    golden.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    golden.add_argument("--loss", choices=("squared", "cross_entropy"), default="cross_entropy")
    golden.add_argument("--C", type=float, default=0.01, help="regularization C (0.01; inf)")
    golden.add_argument("--out", required=True, help="the .npz to write")
    add_threads(golden)

    ops = sub.add_parser(
        "ops", help="list, export or draw every operator of a network",
        description="A table of every operator of the convolutional layers (shape, nnz, "
        "density, bytes); max pooling's P_pool and phi^T ⊗ I for one random instance.")
    ops.add_argument("--arch", default="digits", help="a preset or an architecture file")
    ops.add_argument("--layer", type=_positive_int, default=None, help="one layer only")
    ops.add_argument("--seed", type=int, default=0)
    add_threads(ops)
    ops.add_argument("--export", default=None, metavar="DIR", help="write them to DIR")
    ops.add_argument("--format", choices=("npz", "mtx"), default="npz",
                     help="scipy.sparse .npz or Matrix Market .mtx (npz)")
    ops.add_argument("--plot", default=None, metavar="FILE.png", help="draw their patterns")
    return parser


def _arch(args: argparse.Namespace, parser: argparse.ArgumentParser):
    try:
        return load_architecture(args.arch)
    except (ValueError, TypeError) as exc:
        parser.error(f"--arch: {exc}")


def _golden(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    meta = write_golden(args.out, _arch(args, parser), args.batch, args.seed, args.dtype,
                        args.loss, args.C)
    print(f"wrote {args.out}: {meta['arch'].get('name', 'custom')}, batch {meta['batch']}, "
          f"{meta['dtype']}, {meta['loss']}, C = {meta['C']}, seed {meta['seed']}")
    return 0


def _ops(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        operators = network_operators(_arch(args, parser), args.layer, args.seed)
    except ValueError as exc:
        parser.error(str(exc))
    print(operator_table(operators))
    if args.export:
        written = export_operators(args.export, operators, args.format)
        print(f"wrote {len(written)} files to {args.export}")
    if args.plot:
        try:
            plot_operators(args.plot, operators)
        except ImportError as exc:
            print(f"kronconv ops --plot: {exc}", file=sys.stderr)
            return 1
        print(f"drew {args.plot}")
    return 0


def _bench(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    backends = tuple(b.strip() for b in args.backends.split(",") if b.strip())
    bad = sorted(set(backends) - set(BENCH_BACKENDS))
    if bad or not backends:
        parser.error(f"--backends: choose among {', '.join(BENCH_BACKENDS)}, got {args.backends!r}")
    arch = _arch(args, parser)
    report = run_bench(arch, args.batch, args.dtype, parallel.get_threads(), args.repeat, backends,
                       chunk_size=args.chunk_size)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def _print_checks(checks: list[Check], width: int) -> None:
    print(f"{'eq.':<7} {'what is compared':<{width}}  {'max rel. err':>12}  {'tol':>7}  result")
    for c in checks:
        print(f"{c.equation:<7} {c.compared:<{width}}  {c.error:12.2e}  {c.tolerance:7.0e}  "
              f"{'pass' if c.passed else 'FAIL'}")


def _verify(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    arch = _arch(args, parser)
    layer = run_checks(DEFAULT_SHAPE, batch=args.batch, seed=args.seed,
                       activation=args.activation)
    network = run_network_checks(arch, batch=args.batch, seed=args.seed, dtype=args.dtype)
    width = max(len(c.compared) for c in layer + network)
    print(f"One layer: {DEFAULT_SHAPE}, batch {args.batch}, {args.activation}, "
          f"seed {args.seed}, float64")
    _print_checks(layer, width)
    print(f"\nThe network {arch.name or args.arch}: batch {args.batch}, cross-entropy, "
          f"C = 0.1, He initialization, seed {args.seed}, {args.dtype}")
    _print_checks(network, width)
    if not torch_available():
        print("(PyTorch is not installed: the PyTorch checks were skipped)")
    checks = layer + network
    failed = sum(not c.passed for c in checks)
    print(f"\n{len(checks) - failed} passed, {failed} failed")
    return 0 if failed == 0 else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``kronconv`` command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        parallel.set_threads(args.threads)
    except ImportError as exc:
        parser.error(f"--threads: {exc}")
    if args.command == "verify":
        return _verify(args, parser)
    if args.command == "bench":
        return _bench(args, parser)
    if args.command == "golden":
        return _golden(args, parser)
    if args.command == "ops":
        return _ops(args, parser)
    if args.command == "train":
        return train_cli.run_train(args, parser)
    if args.command == "predict":
        return train_cli.run_predict(args, parser)
    raise AssertionError(f"unhandled command {args.command}")  # argparse enforces choices


if __name__ == "__main__":
    sys.exit(main())
