"""f and ∇f over Fashion-MNIST's 60,000 training images on 1 and 2 threads, and on a local Dask
cluster of 1 and 2 workers: seconds and peak memory, each configuration in a fresh process.

    python benchmarks/scaling.py [--images 60000] [--repeat 2] [--configs sparse:float64 ...]

Prints a Markdown table (the one in the "Scaling out" guide); needs Debian's
dataset-fashion-mnist, threadpoolctl and, for the Dask rows, dask[distributed].
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys

CHILD = r"""
import json, resource, statistics, sys, time
import numpy as np
import kronconv as kc
from kronconv.data import Scaling, fashion_mnist
backend, dtype, threads, workers, images, repeat = sys.argv[1:7]
threads, workers, images, repeat = int(threads), int(workers), int(images), int(repeat)
train = fashion_mnist("train")
x = train.x[:images]
Z = kc.Z_from_nchw(Scaling.fit(x)(x, np.dtype(dtype)))
y = train.y[:images]
arch = kc.Architecture.preset("mnist-3layer")
theta = kc.init_params(arch, 0, dtype)
if workers:
    from kronconv.distributed import DistributedProblem, connect, disconnect
    from kronconv.train import Problem
    client = connect(workers)
    problem = DistributedProblem(Problem(arch, Z, y, 0.01, "squared", backend), client)
    run = lambda: problem.f_and_grad(theta)
else:
    run = lambda: kc.objective_and_gradient(theta, arch, Z, y, 0.01, "squared",
                                            backend=backend, threads=threads)
run()                                        # warm-up: imports, operator caches
times = []
for _ in range(repeat):
    start = time.perf_counter()
    run()
    times.append(time.perf_counter() - start)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
if workers:
    peak += sum(client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                           / 1024).values())
    disconnect(client)
print(json.dumps({"seconds": statistics.median(times), "peak_mib": peak}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=60000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--configs", nargs="*",
                        default=["sparse:float64", "dense:float64", "dense:float32"])
    parser.add_argument("--dask", default="dense:float64",
                        help="the configuration run on 1 and 2 Dask workers ('' for none)")
    args = parser.parse_args()
    rows = []

    def run(backend: str, dtype: str, threads: int, workers: int) -> dict:
        out = subprocess.run([sys.executable, "-c", CHILD, backend, dtype, str(threads),
                              str(workers), str(args.images), str(args.repeat)],
                             check=True, capture_output=True, text=True).stdout
        return json.loads(out.strip().splitlines()[-1])

    for config in args.configs:
        backend, dtype = config.split(":")
        one, two = run(backend, dtype, 1, 0), run(backend, dtype, 2, 0)
        rows.append((f"{backend}, {dtype}", "threads", one, two))
    if args.dask:
        backend, dtype = args.dask.split(":")
        one, two = run(backend, dtype, 1, 1), run(backend, dtype, 1, 2)
        rows.append((f"{backend}, {dtype}", "Dask workers", one, two))
    print(f"f and ∇f over {args.images} Fashion-MNIST images, mnist-3layer; "
          f"{platform.processor() or platform.machine()}; median of {args.repeat} after a warm-up")
    print("| configuration | 1 | 2 | speed-up | peak MiB (1 / 2) |")
    print("|---|---|---|---|---|")
    for name, kind, one, two in rows:
        print(f"| {name}, {kind} | {one['seconds']:.1f} s | {two['seconds']:.1f} s | "
              f"{one['seconds'] / two['seconds']:.2f}x | {one['peak_mib']:.0f} / "
              f"{two['peak_mib']:.0f} |")


if __name__ == "__main__":
    main()
