"""``kronconv bench``: time value-and-gradient on the sparse chain, the dense path and PyTorch.

All three run on the same network, weights (converted with the layout converters for
PyTorch) and data, with the same thread count for BLAS and for PyTorch. Each is run once
to warm up and then ``repeat`` times, in rounds that run each once (interleaved: a drift of the
machine's speed reaches all alike); the report gives medians, minimums, ratios, and how
far each f and gradient is from the reference's (the sparse chain's, or the first backend's
without it): a backend beyond the dtype's tolerance is flagged MISMATCH (a benchmark that
computed something else would be no benchmark).
"""

from __future__ import annotations

import math
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ._validate import InstanceOf, Integer, Options, SequenceOf, validate_params
from .architecture import Architecture, load_architecture
from .losses import LOSS
from .memory import check_batch_memory
from .objective_function import C_ARG, CHUNK_SIZE, objective_and_gradient
from .parallel import THREADS, resolve_threads
from .parameters import init_params
from .profiler import profile_stages
from .testing import max_relative_error
from .torch_reference import theta_from_torch, torch_available, torch_problem
from .verify import TOLERANCES

__all__ = ["BENCH_BACKENDS", "format_report", "run_bench", "run_profile"]

BENCH_BACKENDS = ("sparse", "dense", "torch")


def _blas_info() -> list[dict[str, Any]]:
    from threadpoolctl import threadpool_info

    keys = ("internal_api", "version", "architecture", "num_threads")
    return [{k: info.get(k) for k in keys} for info in threadpool_info()]


def _time(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, tuple[list[float], Any]]:
    """Each function's times and last result: one warm-up call each (caches, allocations),
    then ``repeat`` rounds that call every function once, so that a drift of the machine's
    speed (seen up to 2.5x within an hour on shared machines) reaches them all alike; each
    round starts one function later, so that none always follows the same one (whose
    threads may still spin, whose arrays fill the caches)."""
    results = {name: fn() for name, fn in fns.items()}
    times: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for r in range(repeat):
        for name in names[r % len(names):] + names[:r % len(names)]:
            fn = fns[name]
            start = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - start)
    return {name: (times[name], results[name]) for name in fns}


def _per_round(times: list[float], runs: dict, other: str) -> list[float] | None:
    """The ratio of ``times`` to ``other``'s in each round (the spread of the ratio: what the
    machine's noise does to it), or None without ``other``."""
    return [t / u for t, u in zip(times, runs[other][0], strict=True)] if other in runs else None


def _runner(backend: str, arch: Architecture, theta: np.ndarray, Z: np.ndarray, y: np.ndarray,
            C: float, loss: str, chunk_size: int | None, threads: int
            ) -> Callable[[], tuple[float, np.ndarray]]:
    """A call computing ``(f, ∇f)`` with ``backend`` (PyTorch's gradient as kronconv's theta)."""
    if backend != "torch":
        return lambda: objective_and_gradient(theta, arch, Z, y, C, loss, chunk_size,
                                              backend=backend, threads=threads)
    import torch

    torch.set_num_threads(threads)
    problem = torch_problem(theta, arch, Z, y, C, loss)

    def run() -> tuple[float, np.ndarray]:
        f, _, grads = problem()
        return float(f), theta_from_torch([g.numpy() for g in grads], arch)

    return run


def _differences(result: tuple, reference: tuple) -> tuple[float, float]:
    """The relative differences of ``(f, ∇f)`` from the reference's."""
    return (max_relative_error(np.array(result[0]), np.array(reference[0])),
            max_relative_error(result[1], reference[1]))


def _problem(arch: str | Architecture, batch: int, dtype: str, seed: int) -> tuple:
    """``(arch, theta, Z, y)``: He-initialized weights, standard normal images, random labels."""
    arch = arch if isinstance(arch, Architecture) else load_architecture(arch)
    dt = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    a, b, d = arch.input
    check_batch_memory(d * a * b * (8 + dt.itemsize), batch, "the random images")
    theta = init_params(arch, seed, dt)
    Z = rng.standard_normal((d, a * b * batch)).astype(dt)
    return arch, theta, Z, rng.integers(0, arch.n_classes, size=batch)


BENCH_ARGS = {"arch": InstanceOf((str, Architecture), "a preset, a file or an Architecture"),
              "batch": Integer(1), "dtype": Options(("float64", "float32")),
              "threads": THREADS, "repeat": Integer(1),
              "backends": SequenceOf(Options(BENCH_BACKENDS)), "seed": Integer(0),
              "loss": LOSS, "C": C_ARG, "chunk_size": CHUNK_SIZE}


@validate_params({k: v for k, v in BENCH_ARGS.items() if k != "threads"})
def run_profile(arch: str | Architecture = "cifar10-3layer", batch: int = 128,
                dtype: str = "float64", repeat: int = 5,
                backends: tuple[str, ...] = ("sparse", "dense"), seed: int = 0,
                loss: str = "cross_entropy", C: float = 0.01,
                chunk_size: int | None = None) -> list[dict[str, Any]]:
    """:func:`kronconv.profiler.profile_stages` of each of kronconv's ``backends`` (PyTorch
    is skipped) on :func:`run_bench`'s problem, on one thread (BLAS too).

    Returns
    -------
    list of dict
        One profile per backend, with its ``config``.
    """
    arch, theta, Z, y = _problem(arch, batch, dtype, seed)
    profiles = []
    for backend in (b for b in backends if b != "torch"):
        profile = profile_stages(arch, theta, Z, y, backend, repeat, C, loss, chunk_size)
        profile["config"] = {"arch": arch.name or "custom", "batch": batch, "dtype": dtype,
                             "repeat": repeat, "chunk_size": chunk_size}
        profiles.append(profile)
    return profiles


@validate_params(BENCH_ARGS)
def run_bench(arch: str | Architecture = "cifar10-3layer", batch: int = 128,
              dtype: str = "float64", threads: int | None = None, repeat: int = 5,
              backends: tuple[str, ...] = BENCH_BACKENDS, seed: int = 0,
              loss: str = "cross_entropy", C: float = 0.01,
              chunk_size: int | None = None) -> dict[str, Any]:
    """Time ``f`` and ``∇f`` of one batch with each backend.

    Parameters
    ----------
    arch : str or Architecture, default "cifar10-3layer"
    batch : int, default 128
    dtype : {"float64", "float32"}
    threads : int, optional
        kronconv's threads (BLAS held to one inside each block) and PyTorch's; default
        :func:`kronconv.parallel.get_threads`.
    repeat : int, default 5
        Timed rounds, each calling every backend once (after one warm-up call each).
    backends : tuple of {"sparse", "dense", "torch"}
        "torch" is skipped, and said so, when PyTorch is not installed.
    seed : int, default 0
        Seeds theta (He initialization), the images and the labels.
    loss, C, chunk_size
        As for :func:`~kronconv.objective_and_gradient` (``chunk_size`` for kronconv's
        backends only).

    Returns
    -------
    dict
        ``config`` (with the ``reference`` backend and the ``tolerance``), ``machine``,
        ``results`` and ``mismatches``: per backend the times in seconds, their median and
        minimum, the ratios of the medians to PyTorch's and the dense path's (``vs_torch``,
        ``vs_dense``; None without that backend), each round's such ratio
        (``rounds_vs_torch``, ``rounds_vs_dense``), its ``f``, the
        relative differences of its f and gradient from the reference's and whether both
        are within the tolerance (``agrees``); ``mismatches`` lists the backends that are not
        (the command line exits with status 1 when there are any). In float32, a backend
        beyond the tolerance is computed again in float64 beside the reference
        (``float64_diffs``): it agrees if the two agree there, as PyTorch's tolerance asks,
        its float32 difference being rounding at a kink: an entry of S within float32's
        rounding of ReLU's 0 (or a near-tie of max pooling) can fall on the other side, and
        the gradient of a whole window with it (cifar10-3layer at batch 128, seed 0: one
        entry of S of 1e-8 in conv3 moves the gradient by 8e-4).

    Raises
    ------
    ValueError, TypeError
        If an argument is not what is described above (naming it).
    ~kronconv.MemoryLimitError
        If the random images and theta would exceed the memory limit, before drawing them.
    """
    arch, theta, Z, y = _problem(arch, batch, dtype, seed)
    dt = Z.dtype
    skipped = []
    runners = {}
    threads = resolve_threads(threads)
    for backend in backends:
        if backend == "torch" and not torch_available():
            skipped.append("torch (not installed)")
            continue
        runners[backend] = _runner(backend, arch, theta, Z, y, C, loss, chunk_size, threads)
    runs = {backend: (times, *result) for backend, (times, result)
            in _time(runners, repeat).items()}
    blas = _blas_info()
    medians = {k: statistics.median(t) for k, (t, _, _) in runs.items()}
    reference = "sparse" if "sparse" in runs else next(iter(runs), None)
    tolerance = TOLERANCES[dt.name][2]        # kronconv against PyTorch: the loosest agreement

    def in_float64(backend: str) -> tuple[float, np.ndarray]:
        return _runner(backend, arch, theta.astype(np.float64), Z.astype(np.float64), y, C,
                       loss, chunk_size, threads)()

    results = {}
    for backend, (times, f, grad) in runs.items():
        f_diff, grad_diff = _differences((f, grad), runs[reference][1:])
        agrees = bool(f_diff <= tolerance and grad_diff <= tolerance)
        float64_diffs = None
        if not agrees and dt == np.float32:     # float32 rounding, or a real difference?
            float64_diffs = _differences(in_float64(backend), in_float64(reference))
            agrees = max(float64_diffs) <= TOLERANCES["float64"][2]
        results[backend] = {
            "times_s": times, "median_s": medians[backend], "min_s": min(times),
            "vs_torch": medians[backend] / medians["torch"] if "torch" in medians else None,
            "vs_dense": medians[backend] / medians["dense"] if "dense" in medians else None,
            "rounds_vs_torch": _per_round(times, runs, "torch"),
            "rounds_vs_dense": _per_round(times, runs, "dense"),
            "f": f, "f_rel_diff": f_diff, "grad_max_rel_diff": grad_diff, "agrees": agrees,
            "float64_diffs": float64_diffs,
        }
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    import scipy

    versions["scipy"] = scipy.__version__
    if "torch" in runs:
        import torch

        versions["torch"] = torch.__version__
    return {
        "config": {"arch": arch.name or "custom", "batch": batch, "dtype": dt.name,
                   "threads": threads, "repeat": repeat, "loss": loss,
                   "C": None if math.isinf(C) else C, "chunk_size": chunk_size, "seed": seed,
                   "skipped": skipped, "reference": reference, "tolerance": tolerance},
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "versions": versions, "blas": blas},
        "results": results,
        "mismatches": [backend for backend, r in results.items() if not r["agrees"]],
    }


def format_report(report: dict[str, Any]) -> str:
    """The human-readable table of a :func:`run_bench` report; a backend whose f or gradient
    differs from the reference's beyond the tolerance is marked MISMATCH, and said so last."""
    cfg = report["config"]
    lines = [f"kronconv bench: {cfg['arch']}, batch {cfg['batch']}, {cfg['dtype']}, "
             f"{cfg['threads']} thread(s), value and gradient, median of {cfg['repeat']} "
             "interleaved rounds (x torch, x dense: ratio of the medians, and its range over "
             "the rounds)",
             f"{'backend':<8} {'median ms':>10} {'min ms':>8} {'x torch':>8} {'rounds':>11} "
             f"{'x dense':>8} {'rounds':>11}  {'f diff':>8} {'grad diff':>9}  vs "
             f"{cfg['reference']}"]

    def ratio(x: float | None) -> str:
        return f"{x:8.2f}" if x is not None else f"{'-':>8}"

    def spread(xs: list[float] | None) -> str:
        return f"{f'{min(xs):.2f}-{max(xs):.2f}':>11}" if xs else f"{'-':>11}"

    rounding = []
    for backend, r in report["results"].items():
        lines.append(f"{backend:<8} {1e3 * r['median_s']:10.1f} {1e3 * r['min_s']:8.1f} "
                     f"{ratio(r['vs_torch'])} {spread(r.get('rounds_vs_torch'))} "
                     f"{ratio(r['vs_dense'])} {spread(r.get('rounds_vs_dense'))}  "
                     f"{r['f_rel_diff']:8.1e} {r['grad_max_rel_diff']:9.1e}  "
                     f"{'ok' if r['agrees'] else 'MISMATCH'}"
                     f"{' in float64' if r.get('float64_diffs') and r['agrees'] else ''}")
        if r.get("float64_diffs"):
            rounding.append(f"{backend}: beyond {cfg['tolerance']:.0e} in float32 only; in "
                            f"float64 f differs by {r['float64_diffs'][0]:.1e} and the "
                            f"gradient by {r['float64_diffs'][1]:.1e}: float32 rounding at a kink "
                            "(an S within rounding of ReLU's 0, a max pooling near-tie)"
                            if r["agrees"] else
                            f"{backend}: also in float64 (f {r['float64_diffs'][0]:.1e}, "
                            f"gradient {r['float64_diffs'][1]:.1e})")
    if report["mismatches"]:
        lines.append(f"MISMATCH: {', '.join(report['mismatches'])} differ(s) from "
                     f"{cfg['reference']} beyond {cfg['tolerance']:.0e} (relative) in f or "
                     "the gradient")
    lines.extend(rounding)
    for skip in cfg["skipped"]:
        lines.append(f"skipped: {skip}")
    return "\n".join(lines)
