"""The ``kronconv`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from . import train_cli
from .activations import ACTIVATIONS
from .architecture import load_architecture
from .bench import BENCH_BACKENDS, format_report, run_bench
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
        f"differences. The layer is {DEFAULT_SHAPE}. Then check the objective and "
        f"gradient of the network {DEFAULT_NETWORK} (finite differences on sampled "
        "coordinates, chunked evaluation, and PyTorch autograd when installed). "
        "Exit status 0 only if all checks pass.",
    )
    verify.add_argument("--seed", type=int, default=0, help="seed of the random data (0)")
    verify.add_argument("--batch", type=_positive_int, default=2, help="instances (2)")
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
    bench.add_argument("--threads", type=_positive_int, default=1,
                       help="BLAS and PyTorch threads (1)")
    bench.add_argument("--repeat", type=_positive_int, default=5, help="timed runs (5)")
    bench.add_argument("--backends", default="sparse,dense,torch",
                       help="comma-separated, among sparse, dense, torch (all)")
    bench.add_argument("--chunk-size", type=_positive_int, default=None,
                       help="instances per chunk for kronconv's backends (the whole batch)")
    bench.add_argument("--json", action="store_true", help="print the report as JSON")
    train_cli.add_parsers(sub, _positive_int)
    return parser


def _bench(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    backends = tuple(b.strip() for b in args.backends.split(",") if b.strip())
    bad = sorted(set(backends) - set(BENCH_BACKENDS))
    if bad or not backends:
        parser.error(f"--backends: choose among {', '.join(BENCH_BACKENDS)}, got {args.backends!r}")
    try:
        arch = load_architecture(args.arch)
    except (ValueError, TypeError) as exc:
        parser.error(f"--arch: {exc}")
    report = run_bench(arch, args.batch, args.dtype, args.threads, args.repeat, backends,
                       chunk_size=args.chunk_size)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def _print_checks(checks: list[Check], width: int) -> None:
    print(f"{'eq.':<7} {'what is compared':<{width}}  {'max rel. err':>12}  {'tol':>7}  result")
    for c in checks:
        print(f"{c.equation:<7} {c.compared:<{width}}  {c.error:12.2e}  {c.tolerance:7.0e}  "
              f"{'pass' if c.passed else 'FAIL'}")


def _verify(args: argparse.Namespace) -> int:
    layer = run_checks(DEFAULT_SHAPE, batch=args.batch, seed=args.seed,
                       activation=args.activation)
    network = run_network_checks(DEFAULT_NETWORK, batch=args.batch, seed=args.seed)
    width = max(len(c.compared) for c in layer + network)
    print(f"One layer: {DEFAULT_SHAPE}, batch {args.batch}, {args.activation}, "
          f"seed {args.seed}, float64")
    _print_checks(layer, width)
    print(f"\nThe network {DEFAULT_NETWORK}: batch {args.batch}, cross-entropy, C = 0.1, "
          f"He initialization, seed {args.seed}, float64")
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
    if args.command == "verify":
        return _verify(args)
    if args.command == "bench":
        return _bench(args, parser)
    if args.command == "train":
        return train_cli.run_train(args, parser)
    if args.command == "predict":
        return train_cli.run_predict(args, parser)
    raise AssertionError(f"unhandled command {args.command}")  # argparse enforces choices


if __name__ == "__main__":
    sys.exit(main())
