"""Where value-and-gradient spends its time: each stage of each layer, for either backend.

:func:`profile_stages` runs :func:`~kronconv.objective_and_gradient` on one thread with each
stage function of the backend (:data:`STAGES`: the same names in :mod:`kronconv.sparse` and
:mod:`kronconv.dense`) wrapped in a timer, and reports every stage's *exclusive* time (its own,
without the stages it calls) per convolutional layer. The wrappers are installed only while
it runs, so the timed code is the code that runs otherwise; the time outside every stage (the
argument checks, the chunking, Python between the stages) is reported as ``unattributed``.
``kronconv bench --profile`` prints the tables of the performance guide.
"""

from __future__ import annotations

import functools
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import numpy as np

from . import full, objective_function
from .activations import Activation
from .architecture import Architecture
from .backends import get_backend
from .cache import LayerCache
from .parallel import one_blas_thread
from .shapes import LayerShape

__all__ = ["NETWORK", "STAGES", "UNATTRIBUTED", "format_profile", "profile_stages"]

#: The stage functions of a backend module and what each computes; a name a backend does not
#: define is skipped. Both backends define the same names (:mod:`kronconv.backends`).
STAGES: dict[str, str] = {
    "from_columns": "layout in",
    "to_columns": "layout out",
    "pad": "pad: P_pad",
    "im2col": "im2col: P_phi",
    "build_I_kron_W": "build I ⊗ W",
    "_convolve": "forward product (I ⊗ W) phi + bias",
    "conv_S": "forward product (I ⊗ W) phi + bias",
    "pool": "pool: P_pool",
    "build_P_pool": "build P_pool",
    "forward": "forward, other",
    "pool_T": "P_pool^T",
    "grad_S": "(7) ⊙ sigma'",
    "grad_W": "(1) dS phi^T",
    "grad_b": "(5) dS 1",
    "grad_Z": "(9) W^T dS",
    "col2im": "col2im: P_phi^T",
    "pad_T": "P_pad^T",
}
#: The stages outside the convolutional layers, and the activation's two methods.
OTHER_STAGES: dict[tuple[Any, str], str] = {
    (Activation, "__call__"): "sigma",
    (Activation, "derivative"): "sigma'",
    (full, "forward"): "fully-connected layers",
    (full, "backward"): "fully-connected layers",
    (objective_function, "loss_terms"): "loss",
}
#: The layer of the stages outside the convolutional layers.
NETWORK = "network"
#: The time outside every stage.
UNATTRIBUTED = "unattributed"


class _Recorder:
    """Exclusive times and call counts per (layer, stage), from a stack of running stages."""

    def __init__(self, arch: Architecture) -> None:
        self.layers = {shape: m + 1 for m, shape in reversed(list(enumerate(arch.conv_shapes)))}
        self.times: defaultdict[tuple[Any, str], float] = defaultdict(float)
        self.calls: Counter[tuple[Any, str]] = Counter()
        self.stack: list[list] = []                    # [layer, time in children]

    def _layer(self, args: tuple) -> Any:
        for arg in args:
            shape = arg.shape if isinstance(arg, LayerCache) else arg
            if isinstance(shape, LayerShape) and shape in self.layers:
                return self.layers[shape]
        return self.stack[-1][0] if self.stack else NETWORK

    def wrap(self, fn: Callable, stage: str) -> Callable:
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            frame = [self._layer(args), 0.0]
            self.stack.append(frame)
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                self.stack.pop()
                key = (frame[0], stage)
                self.times[key] += elapsed - frame[1]
                self.calls[key] += 1
                if self.stack:
                    self.stack[-1][1] += elapsed
        return timed


@contextmanager
def _patched(owner: Any, name: str, value: Callable) -> Iterator[None]:
    old = owner.__dict__[name]
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, old)


@contextmanager
def _recording(recorder: _Recorder, backend: str) -> Iterator[None]:
    """Every stage of ``backend`` (and of the network around it) wrapped by ``recorder``."""
    module = get_backend(backend)
    targets = [(module, name, label) for name, label in STAGES.items() if hasattr(module, name)]
    targets += [(owner, name, label) for (owner, name), label in OTHER_STAGES.items()]
    with ExitStack() as stack:
        for owner, name, label in targets:
            stack.enter_context(_patched(owner, name, recorder.wrap(getattr(owner, name), label)))
        yield


def profile_stages(arch: Architecture, theta: np.ndarray, Z: np.ndarray, y: np.ndarray,
                   backend: str, repeat: int = 5, C: float = 0.01,
                   loss: str = "cross_entropy", chunk_size: int | None = None
                   ) -> dict[str, Any]:
    """Per-stage times of ``objective_and_gradient`` on one thread (BLAS too).

    Parameters
    ----------
    arch, theta, Z, y, C, loss, chunk_size
        As for :func:`~kronconv.objective_and_gradient` (checked by it).
    backend : {"sparse", "dense"}
    repeat : int, default 5
        Profiled runs after one warm-up run.

    Returns
    -------
    dict
        ``total_s``: the median over the runs of the wall time of a run; ``stages``: for every
        ``(layer, stage)`` (``layer`` 1, 2, ... or :data:`NETWORK`) the median of its
        exclusive time per run, and ``(NETWORK, UNATTRIBUTED)`` the median of the rest of a
        run's time; ``calls``: the calls of every ``(layer, stage)`` in one run.
    """
    runs = []
    for _ in range(repeat + 1):
        recorder = _Recorder(arch)
        with one_blas_thread(), _recording(recorder, backend):
            start = time.perf_counter()
            objective_function.objective_and_gradient(theta, arch, Z, y, C, loss, chunk_size,
                                                      backend=backend, threads=1)
            total = time.perf_counter() - start
        times = dict(recorder.times)
        times[NETWORK, UNATTRIBUTED] = total - sum(times.values())
        runs.append((total, times, recorder.calls))
    runs = runs[1:]                                            # the warm-up run
    keys = list(runs[0][1])
    return {"backend": backend, "total_s": statistics.median(t for t, _, _ in runs),
            "stages": {k: statistics.median(r[1].get(k, 0.0) for r in runs) for k in keys},
            "calls": dict(runs[0][2])}


def format_profile(profile: dict[str, Any]) -> str:
    """A table of a :func:`profile_stages` result: stages as rows, layers as columns, in ms."""
    stages = profile["stages"]
    layers = [*sorted({layer for layer, _ in stages if layer != NETWORK}), NETWORK]
    labels = list(dict.fromkeys(label for _, label in stages))
    width = max(len(label) for label in labels)
    head = f"{'stage (' + profile['backend'] + ', ms)':<{width}}"
    lines = [head + "".join(f"{'layer ' + str(m) if m != NETWORK else m:>10}" for m in layers)
             + f"{'total':>10}"]
    for label in labels:
        row = [1e3 * stages.get((m, label), 0.0) for m in layers]
        if sum(row) == 0.0:
            continue
        lines.append(f"{label:<{width}}" + "".join(f"{x:10.1f}" if x else f"{'':>10}"
                                                  for x in row) + f"{sum(row):10.1f}")
    per_layer = [1e3 * sum(t for (m, _), t in stages.items() if m == layer) for layer in layers]
    lines.append(f"{'sum':<{width}}" + "".join(f"{x:10.1f}" for x in per_layer)
                 + f"{1e3 * profile['total_s']:10.1f}")
    return "\n".join(lines)
