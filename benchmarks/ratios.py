"""The performance guide's ratio table: ``kronconv bench`` over presets, batches, dtypes and
thread counts, each configuration in a fresh process (BLAS threads set before numpy loads).

    python benchmarks/ratios.py [--archs cifar10-3layer mnist-3layer] [--batches 1 32 128]
                                [--dtypes float64 float32] [--threads 1 2] [--repeat 7]

Prints the machine (CPU model, caches) and one row per configuration: the median milliseconds
of the sparse chain, the dense path and PyTorch, dense/PyTorch and sparse/dense, whether the
three agree, and the load average when the run started (the machine should be idle).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path


def machine() -> str:
    """The CPU model and its caches, as the machine reports them."""
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
                 "unknown CPU") if Path("/proc/cpuinfo").exists() else "unknown CPU"
    from kronconv.cpu_caches import cache_sizes

    caches = ", ".join(f"L{level} {size // 2**10} KiB" for level, size in
                       sorted(cache_sizes().items()))
    return f"{model}; {os.cpu_count()} CPUs; {caches}"


def _ratio(ms: dict[str, float], a: str, b: str) -> str:
    return f"{ms[a] / ms[b]:.2f}" if a in ms and b in ms else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", nargs="+", default=["cifar10-3layer", "mnist-3layer"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 32, 128])
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32"])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print(machine())
    print(f"{'arch':<15} {'batch':>5} {'dtype':<8} {'threads':>7} {'load':>5} {'sparse':>8} "
          f"{'dense':>8} {'torch':>8} {'dense/torch':>12} {'sparse/dense':>13}  agree")
    for arch in args.archs:
        for threads in args.threads:
            for dtype in args.dtypes:
                for batch in args.batches:
                    env = {**os.environ, **{k: str(threads) for k in (
                        "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}}
                    load = os.getloadavg()[0]
                    ran = subprocess.run(
                        [sys.executable, "-m", "kronconv", "bench", "--arch", arch, "--batch",
                         str(batch), "--dtype", dtype, "--threads", str(threads), "--repeat",
                         str(args.repeat), "--json"], env=env, capture_output=True, text=True,
                        check=False)
                    report = json.loads(ran.stdout)
                    ms = {k: 1e3 * r["median_s"] for k, r in report["results"].items()}
                    print(f"{arch:<15} {batch:>5} {dtype:<8} {threads:>7} {load:>5.2f} "
                          + " ".join(f"{ms[k]:8.1f}" if k in ms else f"{'-':>8}"
                                     for k in ("sparse", "dense", "torch"))
                          + f" {_ratio(ms, 'dense', 'torch'):>12} "
                          + f"{_ratio(ms, 'sparse', 'dense'):>13}  "
                          + ("yes" if not report["mismatches"] else "NO"), flush=True)


if __name__ == "__main__":
    main()
