"""The ``kronconv`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .activations import ACTIVATIONS
from .verify import DEFAULT_SHAPE, run_checks


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
        f"differences. The layer is {DEFAULT_SHAPE}. Exit status 0 only if all checks pass.",
    )
    verify.add_argument("--seed", type=int, default=0, help="seed of the random data (0)")
    verify.add_argument("--batch", type=_positive_int, default=2, help="instances (2)")
    verify.add_argument("--activation", choices=sorted(ACTIVATIONS), default="relu",
                        help="activation sigma (relu)")
    return parser


def _verify(args: argparse.Namespace) -> int:
    checks = run_checks(DEFAULT_SHAPE, batch=args.batch, seed=args.seed,
                        activation=args.activation)
    print(f"kronconv verify: {DEFAULT_SHAPE}, batch {args.batch}, {args.activation}, "
          f"seed {args.seed}, float64")
    width = max(len(c.compared) for c in checks)
    print(f"{'eq.':<7} {'what is compared':<{width}}  {'max rel. err':>12}  {'tol':>7}  result")
    for c in checks:
        print(f"{c.equation:<7} {c.compared:<{width}}  {c.error:12.2e}  {c.tolerance:7.0e}  "
              f"{'pass' if c.passed else 'FAIL'}")
    failed = sum(not c.passed for c in checks)
    print(f"{len(checks) - failed} passed, {failed} failed")
    return 0 if failed == 0 else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``kronconv`` command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "verify":
        return _verify(args)
    raise AssertionError(f"unhandled command {args.command}")  # argparse enforces choices


if __name__ == "__main__":
    sys.exit(main())
