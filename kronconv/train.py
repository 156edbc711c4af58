"""Training as simpleNN does it: subsampled Gauss-Newton (Newton-CG), SG with momentum, Adam.

The optimizers work on the objective ``f(theta) = theta^T theta / (2 C l) + (1/l) sum_i ξ_i``
over the ``l`` training instances, evaluated in chunks; each keeps its whole state in a
:class:`TrainState` (theta, iteration, the generator's state, its buffers, ...) so that a run
saved after any iteration and resumed continues exactly as an uninterrupted run would. Every
simpleNN option has its counterpart (:func:`simplenn_options` reads simpleNN's option
string); simpleNN's subsample schedule and mini-batch sampling are options beside kronconv's
own, and a run can be given the subsamples and mini-batches to use (to replay a simpleNN run).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._validate import (
    Array,
    InstanceOf,
    Integer,
    IsCallable,
    Optional,
    Overflow,
    check_int,
    validate_params,
)
from .architecture import Architecture
from .gauss_newton import GaussNewton
from .layout import select_instances
from .objective_function import accuracy, objective, objective_and_gradient
from .parallel import one_blas_thread

__all__ = ["LR_SCHEDULES", "SAMPLINGS", "SIMPLENN_OPTIONS", "SUBSAMPLE_SCHEDULES", "AdamOptions",
           "NewtonOptions", "Problem", "SGOptions", "TrainState", "adam", "newton_cg", "sg",
           "simplenn_options"]


@dataclass(frozen=True)
class Problem:
    """What is trained: the architecture and the (already scaled) data, in kronconv layout.

    ``Z`` is (d, a*b*l) with labels ``y`` (l,); ``Z_val``/``y_val`` (optional) give the
    validation accuracy in the log. ``f`` and ``∇f`` over all the data are evaluated in blocks
    of ``chunk_size`` instances on ``threads`` threads, so memory stays bounded by the blocks
    that run at once (None: the defaults, see :func:`~kronconv.objective_and_gradient`); the
    run is the same, bit for bit, for every thread count.
    """

    arch: Architecture
    Z: np.ndarray
    y: np.ndarray
    C: float = 0.01
    loss: str = "squared"
    backend: str = "dense"
    chunk_size: int | None = None
    Z_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        """The pairs that go together (each array is checked by the first evaluation)."""
        if (self.Z_val is None) != (self.y_val is None):
            given, missing = ("Z_val", "y_val") if self.y_val is None else ("y_val", "Z_val")
            raise ValueError(f"{given} is given without {missing}: validation needs both")
        if not isinstance(self.y, np.ndarray) or self.y.ndim != 1:
            raise TypeError(f"y must be a vector of labels (ndarray of shape (l,)), got "
                            f"{type(self.y).__name__}")

    @property
    def l(self) -> int:  # noqa: E743 (the slides' name for the number of instances)
        return self.y.shape[0]

    def instances(self, index: np.ndarray) -> np.ndarray:
        """The images of the instances ``index`` (side by side)."""
        a, b, _ = self.arch.input
        return select_instances(self.Z, index, a * b)

    def f_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        return objective_and_gradient(theta, self.arch, self.Z, self.y, self.C, self.loss,
                                      self.chunk_size, backend=self.backend,
                                      threads=self.threads)

    def f(self, theta: np.ndarray) -> float:
        return objective(theta, self.arch, self.Z, self.y, self.C, self.loss, self.chunk_size,
                         backend=self.backend, threads=self.threads)

    def gauss_newton(self, theta: np.ndarray, S: np.ndarray) -> GaussNewton:
        """The Gauss-Newton matrix of f at ``theta`` on the subsample ``S``."""
        return GaussNewton(theta, self.arch, self.instances(S), self.y[S], self.C, self.loss,
                           n_total=self.l, backend=self.backend, threads=self.threads)

    def batch_gradient(self, theta: np.ndarray, batch: np.ndarray) -> np.ndarray:
        """The gradient of ``theta^T theta / (2 C l) + (1/|B|) sum_{i in B} ξ_i``."""
        return objective_and_gradient(theta, self.arch, self.instances(batch), self.y[batch],
                                      self.C, self.loss, backend=self.backend,
                                      n_total=self.l, threads=self.threads)[1]

    def val_accuracy(self, theta: np.ndarray) -> float | None:
        if self.Z_val is None:
            return None
        return accuracy(theta, self.arch, self.Z_val, self.y_val, self.chunk_size, self.backend,
                        self.threads)


@dataclass
class TrainState:
    """Everything a run needs to continue: saved with the model after every iteration.

    ``buffers`` holds the optimizer's arrays (Adam's moments ``m`` and ``v``, simpleNN's
    subsample ``cycle``) and ``best_theta``, the iterate with the best validation accuracy so
    far (``best_val_accuracy``; the initial theta until one beats 0, as simpleNN keeps it).
    """

    theta: np.ndarray
    iteration: int = 0
    rng_state: dict[str, Any] | None = None
    lam: float | None = None                 # Newton-CG: lambda (None: options.lam)
    velocity: np.ndarray | None = None       # SG: momentum
    elapsed: float = 0.0
    stop_reason: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    step: int = 0                            # SG and Adam: mini-batch steps taken
    best_val_accuracy: float | None = None
    buffers: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Every field checked, so that a state built by hand (or edited) fails here, naming
        the field, rather than as a broadcast error or a silently wrong run later."""
        self.theta = _THETA.check(self.theta, "state.theta")
        check_int(self.iteration, "state.iteration", 0)
        check_int(self.step, "state.step", 0)
        for name, value, allowed in (("lam", self.lam, "a number >= 0 or None"),
                                     ("elapsed", self.elapsed, "a number of seconds >= 0"),
                                     ("best_val_accuracy", self.best_val_accuracy,
                                      "a number in [0, 1] or None")):
            if value is None and name != "elapsed":
                continue
            if not _is_real(value) or not 0 <= value < math.inf \
                    or (name == "best_val_accuracy" and value > 1):
                raise ValueError(f"state.{name} must be {allowed}, got {value!r}")
        if self.rng_state is not None and not pcg64_state(self.rng_state):
            raise ValueError("state.rng_state must be None or a state of numpy's PCG64 "
                             "generator (np.random.default_rng().bit_generator.state)")
        if not isinstance(self.buffers, dict):
            raise TypeError(f"state.buffers must be a dict of arrays, got "
                            f"{type(self.buffers).__name__}")
        like_theta = {"velocity": self.velocity, **{f"buffers[{k!r}]": v for k, v in
                                                    self.buffers.items() if k != "cycle"}}
        for name, value in like_theta.items():
            if value is not None and np.shape(value) != self.theta.shape:
                raise ValueError(f"state.{name} must have theta's shape {self.theta.shape}, "
                                 f"got {np.shape(value)}")

    @property
    def best_theta(self) -> np.ndarray:
        """The iterate with the best validation accuracy (theta itself without validation)."""
        return self.buffers.get("best_theta", self.theta)


_THETA = Array("(n_params,)")


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def pcg64_state(value: object) -> bool:
    """Whether ``value`` is a state of numpy's PCG64 generator (the one training draws from)."""
    try:
        np.random.PCG64(0).state = value
    except (TypeError, ValueError, KeyError, OverflowError):
        return False
    return True


#: simpleNN's subsample schedule ("cycle") or a fresh draw every iteration ("fresh").
SUBSAMPLE_SCHEDULES = ("fresh", "cycle")
#: Mini-batches: a shuffled pass over the data an epoch ("shuffle"), or simpleNN's
#: ceil(l / batch_size) random subsets of batch_size instances an epoch ("random").
SAMPLINGS = ("shuffle", "random")
#: Learning rates: ``lr * lr_decay**epoch`` ("exponential") or simpleNN's
#: ``lr / (1 + decay * step)`` after every step ("inverse").
LR_SCHEDULES = ("exponential", "inverse")


@dataclass(frozen=True)
class NewtonOptions:
    """simpleNN's Newton-CG settings (with a cap on line-search halvings).

    ``subsample`` is the fraction of the data in each Gauss-Newton subsample, or
    ``subsample_size`` its size (simpleNN's ``-GNsize``), which takes precedence. ``lam`` is
    the initial Levenberg-Marquardt lambda, updated by ``drop`` and ``boost``; ``cg_rtol``
    (simpleNN's ξ) and ``cg_maxiter`` stop CG; ``eta`` is the line search's sufficient decrease.
    """

    iterations: int = 50
    subsample: float = 0.05
    subsample_size: int | None = None
    subsample_schedule: str = "fresh"
    cg_rtol: float = 0.1              # stop CG when ||r|| <= cg_rtol * ||grad f||
    cg_maxiter: int = 250
    lam: float = 1.0
    drop: float = 2 / 3               # lambda *= drop when rho >= 0.75
    boost: float = 3 / 2              # lambda *= boost when rho < 0.25
    eta: float = 1e-4
    max_halvings: int = 30
    grad_tol: float = 0.0             # stop when ||grad f|| <= grad_tol (0: never)

    def __post_init__(self) -> None:
        _check_options(self, {"iterations": 0, "cg_maxiter": 1, "max_halvings": 0}, {
            "subsample": (lambda x: 0 < x <= 1, "in (0, 1]"), "cg_rtol": (lambda x: x > 0, "> 0"),
            "lam": (lambda x: x >= 0, ">= 0"), "eta": (lambda x: 0 < x <= 1, "in (0, 1]"),
            "drop": (lambda x: 0 < x <= 1, "in (0, 1]"), "boost": (lambda x: x >= 1, ">= 1"),
            "grad_tol": (lambda x: x >= 0, ">= 0")},
            {"subsample_schedule": SUBSAMPLE_SCHEDULES})
        if self.subsample_size is not None:
            check_int(self.subsample_size, "subsample_size", 1)

    def subsample_count(self, l: int) -> int:  # noqa: E741 (the slides' name)
        """The size of each subsample for ``l`` instances (at most ``l``)."""
        n = self.subsample_size or max(1, round(self.subsample * l))
        return min(n, l)


@dataclass(frozen=True)
class SGOptions:
    """SG with momentum: ``v <- mu v - lr grad``, ``theta <- theta + v``; an iteration is an epoch.

    The learning rate follows ``lr_schedule``: ``lr * lr_decay**epoch`` or simpleNN's
    ``lr / (1 + decay * step)``; ``sampling`` picks the mini-batches (see :data:`SAMPLINGS`).
    """

    iterations: int = 30              # epochs
    batch_size: int = 32
    lr: float = 0.01
    momentum: float = 0.9
    lr_decay: float = 1.0
    lr_schedule: str = "exponential"
    decay: float = 0.0
    sampling: str = "shuffle"

    def __post_init__(self) -> None:
        _check_options(self, {"iterations": 0, "batch_size": 1}, {
            "lr": (lambda x: x > 0, "> 0"), "momentum": (lambda x: 0 <= x < 1, "in [0, 1)"),
            "lr_decay": (lambda x: x > 0, "> 0"), "decay": (lambda x: x >= 0, ">= 0")},
            {"lr_schedule": LR_SCHEDULES, "sampling": SAMPLINGS})


@dataclass(frozen=True)
class AdamOptions:
    """Adam (Kingma and Ba; simpleNN's ``-s 3``): an iteration is an epoch of mini-batches.

    ``bias_correction="step"`` divides the moments by ``1 - beta**t`` after t steps (the
    paper); ``"epoch"`` uses the epoch number instead, as simpleNN's ``adam.m`` does.
    """

    iterations: int = 30
    batch_size: int = 32
    lr: float = 0.001
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    sampling: str = "shuffle"
    bias_correction: str = "step"

    def __post_init__(self) -> None:
        _check_options(self, {"iterations": 0, "batch_size": 1}, {
            "lr": (lambda x: x > 0, "> 0"), "beta1": (lambda x: 0 <= x < 1, "in [0, 1)"),
            "beta2": (lambda x: 0 <= x < 1, "in [0, 1)"), "eps": (lambda x: x > 0, "> 0")},
            {"sampling": SAMPLINGS, "bias_correction": ("step", "epoch")})


def _check_options(options: object, ints: dict[str, int],
                   ranges: dict[str, tuple[Callable[[float], bool], str]],
                   choices: dict[str, tuple[str, ...]] | None = None) -> None:
    """Integers ``>= minimum``, numbers for which ``allowed(value)`` holds, and names from a
    list; the error names the option and what is allowed."""
    for name, minimum in ints.items():
        check_int(getattr(options, name), name, minimum)
    for name, (allowed, text) in ranges.items():
        value = getattr(options, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name} must be a number, got {value!r}")
        if not (np.isfinite(value) and allowed(value)):
            raise ValueError(f"{name} must be {text}, got {value}")
    for name, allowed_names in (choices or {}).items():
        if getattr(options, name) not in allowed_names:
            raise ValueError(f"{name} must be one of {allowed_names}, "
                             f"got {getattr(options, name)!r}")


def _conjugate_gradient(G: GaussNewton, lam: float, g: np.ndarray, rtol: float, maxiter: int,
                        progress: Callable[[str], None] | None = None
                        ) -> tuple[np.ndarray, np.ndarray, int]:
    """CG on ``(G + lam I) d = -g`` from d = 0; returns ``d``, ``G d`` and the iterations."""
    d = np.zeros_like(g)
    r = -g.copy()
    p = r.copy()
    rr = r @ r
    stop = (rtol * np.linalg.norm(g)) ** 2
    Gd = np.zeros_like(g)                       # G d, kept along without extra products
    k = 0
    while k < maxiter and rr > stop:
        Gp = G.matvec(p)
        Ap = Gp + lam * p
        alpha = rr / (p @ Ap)
        d += alpha * p
        Gd += alpha * Gp
        r -= alpha * Ap
        rr_new = r @ r
        p = r + (rr_new / rr) * p
        rr = rr_new
        k += 1
        if progress is not None:
            progress(f"CG step {k}, ||r|| / ||grad f|| = {np.sqrt(rr) / np.linalg.norm(g):.3f}")
    return d, Gd, k


def _log(state: TrainState, problem: Problem, f: float, grad_norm: float, started: float,
         **extra: Any) -> dict[str, Any]:
    """The iteration's row of the log; keeps the best iterate by validation accuracy."""
    val = problem.val_accuracy(state.theta)
    if val is not None and val > (state.best_val_accuracy or 0.0):
        state.best_val_accuracy = val
        state.buffers["best_theta"] = state.theta.copy()
    row = {"iteration": state.iteration, "f": f, "grad_norm": grad_norm,
           "seconds": state.elapsed + time.perf_counter() - started,
           "val_accuracy": val, **extra}
    state.history.append(row)
    return row


def _f_and_grad(problem: Problem, theta: np.ndarray) -> tuple[float, np.ndarray, float]:
    """``f``, ``∇f`` and ``||∇f||`` at ``theta``; a ``FloatingPointError`` if any overflowed,
    rather than iterations that go on with infinities."""
    f, g = problem.f_and_grad(theta)
    with np.errstate(over="ignore"):
        grad_norm = float(np.linalg.norm(g))
    if not np.isfinite(grad_norm):
        raise Overflow(f"||grad f|| is not finite (f = {f:.3e})", "use a larger C (C)")
    return f, g, grad_norm


@contextmanager
def _diverged(state: TrainState) -> Iterator[None]:
    """An overflow after SG's or Adam's first step is the steps' doing: say so, and what to
    change (at the initial weights, the evaluation's own advice stands)."""
    try:
        yield
    except Overflow as exc:
        if not state.step:
            raise
        raise Overflow(f"{exc.what}, after {state.step} mini-batch steps",
                       "the steps diverged: use a smaller learning rate (lr)") from exc


def _replayed(index: object, l: int, name: str) -> np.ndarray:  # noqa: E741 (the slides' l)
    """Instance indices given by a replay hook: a non-empty integer vector in ``0..l-1``."""
    index = np.asarray(index)
    if index.ndim != 1 or not index.size or index.dtype.kind not in "iu":
        raise TypeError(f"{name} must give a non-empty vector of instance indices, got "
                        f"{index.dtype} of shape {index.shape}")
    if index.min() < 0 or index.max() >= l:
        raise ValueError(f"{name} must give indices in 0..{l - 1}, got {index.min()}.."
                         f"{index.max()}")
    return index


def _out_of_time(state: TrainState, started: float, time_limit: float | None) -> bool:
    """Whether the run has trained ``time_limit`` seconds (the log's ``seconds``) or more."""
    if time_limit is None or state.elapsed + time.perf_counter() - started < time_limit:
        return False
    state.stop_reason = f"time limit: {time_limit:g} s"
    return True


def _check_time_limit(time_limit: float | None) -> None:
    """``time_limit`` is None or a number of seconds > 0."""
    if time_limit is None:
        return
    if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)):
        raise TypeError(f"time_limit must be a number of seconds or None, got {time_limit!r}")
    if not (np.isfinite(time_limit) and time_limit > 0):
        raise ValueError(f"time_limit must be > 0 seconds, got {time_limit}")


def _generator(seed: int, state: TrainState) -> np.random.Generator:
    rng = np.random.default_rng(seed)
    if state.rng_state is not None:
        rng.bit_generator.state = state.rng_state
    return rng


def _subsample(l: int, options: NewtonOptions, state: TrainState,  # noqa: E741
               rng: np.random.Generator) -> np.ndarray:
    """This iteration's Gauss-Newton subsample.

    ``"fresh"``: ``n`` instances drawn without replacement. ``"cycle"`` (simpleNN's
    ``assign_inst_idx``): a random permutation cut into ``ceil(l/n)`` blocks of ``n``, the
    last completed from the permutation's start, used in turn; a new permutation each cycle.
    """
    n = options.subsample_count(l)
    if options.subsample_schedule == "fresh":
        return np.sort(rng.choice(l, size=n, replace=False))
    k = state.iteration % -(-l // n)
    if k == 0 or "cycle" not in state.buffers:
        perm = rng.permutation(l)
        state.buffers["cycle"] = np.concatenate([perm, perm[:n]])
    return state.buffers["cycle"][k * n:(k + 1) * n]


def _run_args(options: type, replay: str) -> dict:
    """The declared arguments of a training run (the problem is checked by its own methods)."""
    article = "an" if options.__name__[0] in "AEIOS" else "a"      # an SGOptions
    return {"state": InstanceOf(TrainState, "a TrainState"),
            "options": InstanceOf(options, f"{article} {options.__name__}"), "seed": Integer(0),
            "callback": Optional(IsCallable()), "progress": Optional(IsCallable()),
            replay: Optional(IsCallable())}


@validate_params(_run_args(NewtonOptions, "subsamples"))
def newton_cg(problem: Problem, state: TrainState, options: NewtonOptions = NewtonOptions(),
              seed: int = 0, callback: Callable[[TrainState, dict], None] | None = None,
              progress: Callable[[str], None] | None = None,
              subsamples: Callable[[int], np.ndarray] | None = None,
              time_limit: float | None = None) -> TrainState:
    """Subsampled Gauss-Newton with CG, Levenberg-Marquardt damping and a line search.

    Each iteration (simpleNN's ``newton.m``): ``f`` and ``∇f`` over all the data; a
    subsample S (see :func:`NewtonOptions`); CG on ``(G_S + lambda I) d = -∇f`` until
    ``||r|| <= cg_rtol ||∇f||`` or ``cg_maxiter`` steps; backtracking ``alpha = 1, 1/2, ...``
    until ``actred = f(theta + alpha d) - f <= eta alpha ∇f^T d`` (at most ``max_halvings``,
    else the run stops with that reason, rather than loop forever); then
    ``rho = actred / prered`` with ``prered = alpha ∇f^T d + alpha^2 d^T G_S d / 2`` updates
    lambda: ``*= boost`` if ``rho < 0.25``, ``*= drop`` if ``rho >= 0.75``. The log row holds
    ``alpha``, ``lam``, ``cg``, ``rho``, ``actred`` and ``prered`` (simpleNN's columns).

    Parameters
    ----------
    problem : Problem
    state : TrainState
        Where to start (a fresh state, or one loaded from a saved model to resume).
    options : NewtonOptions
    seed : int
        Seeds the generator when the state has none.
    callback : callable, optional
        ``callback(state, row)`` after every iteration (the CLI logs and saves there).
    progress : callable, optional
        ``progress(message)`` during an iteration (CG steps, line search), for a display.
    subsamples : callable, optional
        ``subsamples(iteration)`` gives the subsample (instance indices) of the iteration
        (0-based) instead of drawing one: to replay a recorded run.
    time_limit : float, optional
        Seconds of training (the log's ``seconds``, which counts a resumed run's earlier
        time too) after which no new iteration starts; the run then stops with the reason
        ``"time limit: ..."``. The iteration under way when the limit passes is finished.

    Returns
    -------
    TrainState
    """
    _check_time_limit(time_limit)
    with one_blas_thread():        # CG's dot products too: the same numbers for any threads
        return _newton_cg(problem, state, options, seed, callback, progress, subsamples,
                          time_limit)


def _newton_cg(problem: Problem, state: TrainState, options: NewtonOptions, seed: int,
               callback: Callable[[TrainState, dict], None] | None,
               progress: Callable[[str], None] | None,
               subsamples: Callable[[int], np.ndarray] | None,
               time_limit: float | None) -> TrainState:
    rng = _generator(seed, state)
    if state.lam is None:
        state.lam = options.lam
    started = time.perf_counter()
    f, g, grad_norm = _f_and_grad(problem, state.theta)
    while state.iteration < options.iterations and not _out_of_time(state, started, time_limit):
        if grad_norm <= options.grad_tol:
            state.stop_reason = f"||grad f|| <= {options.grad_tol}"
            break
        S = (_subsample(problem.l, options, state, rng) if subsamples is None
             else _replayed(subsamples(state.iteration), problem.l, "subsamples"))
        G = problem.gauss_newton(state.theta, S)
        d, Gd, cg_steps = _conjugate_gradient(G, state.lam, g, options.cg_rtol,
                                              options.cg_maxiter, progress)
        gd = float(g @ d)
        alpha, halvings = 1.0, 0
        while True:
            actred = problem.f(state.theta + alpha * d) - f
            if actred <= options.eta * alpha * gd or halvings == options.max_halvings:
                break
            alpha /= 2
            halvings += 1
            if progress is not None:
                progress(f"line search, alpha = {alpha:g}")
        if actred > options.eta * alpha * gd:
            state.stop_reason = (f"line search: no sufficient decrease after "
                                 f"{options.max_halvings} halvings")
            break
        prered = alpha * gd + 0.5 * alpha**2 * float(d @ Gd)
        rho = actred / prered if prered != 0 else 1.0
        if rho < 0.25:
            state.lam *= options.boost
        elif rho >= 0.75:
            state.lam *= options.drop
        state.theta = state.theta + alpha * d
        state.iteration += 1
        f, g, grad_norm = _f_and_grad(problem, state.theta)
        state.rng_state = rng.bit_generator.state
        row = _log(state, problem, f, grad_norm, started, alpha=alpha,
                   lam=state.lam, cg=cg_steps, rho=rho, actred=actred, prered=prered)
        if callback is not None:
            callback(state, row)
    state.elapsed += time.perf_counter() - started
    return state


# --- mini-batch methods ---------------------------------------------------------------------


def _epoch_batches(l: int, batch_size: int, sampling: str,  # noqa: E741
                   rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch's mini-batches: a shuffled pass, or simpleNN's ``ceil(l/batch_size)`` random
    subsets of ``batch_size`` instances (``randperm(l, bsize)`` each step)."""
    if sampling == "shuffle":
        order = rng.permutation(l)
        return [np.sort(order[i:i + batch_size]) for i in range(0, l, batch_size)]
    n = min(batch_size, l)
    return [rng.choice(l, size=n, replace=False) for _ in range(-(-l // batch_size))]


def _minibatch_epochs(problem: Problem, state: TrainState, options: Any, seed: int,
                      batches: Callable[[int, int], np.ndarray] | None,
                      callback: Callable[[TrainState, dict], None] | None,
                      progress: Callable[[str], None] | None,
                      update: Callable[[np.ndarray, int], dict[str, Any]],
                      time_limit: float | None) -> TrainState:
    """The epochs of SG and Adam: for every mini-batch B, the gradient of
    ``theta^T theta / (2 C l) + (1/|B|) sum_{i in B} ξ_i`` (an unbiased estimate of ``∇f``)
    goes to ``update(gradient, epoch)``; after every epoch, ``f``, ``∇f`` and the log."""
    _check_time_limit(time_limit)
    with one_blas_thread():        # the updates' BLAS calls too: the same for any threads
        return _epochs(problem, state, options, seed, batches, callback, progress, update,
                       time_limit)


def _epochs(problem: Problem, state: TrainState, options: Any, seed: int,
            batches: Callable[[int, int], np.ndarray] | None,
            callback: Callable[[TrainState, dict], None] | None,
            progress: Callable[[str], None] | None,
            update: Callable[[np.ndarray, int], dict[str, Any]],
            time_limit: float | None) -> TrainState:
    rng = _generator(seed, state)
    started = time.perf_counter()
    while state.iteration < options.iterations and not _out_of_time(state, started, time_limit):
        epoch_batches = _epoch_batches(problem.l, options.batch_size, options.sampling, rng)
        for j, batch in enumerate(epoch_batches):
            if batches is not None:
                batch = _replayed(batches(state.iteration, j), problem.l, "batches")
            with _diverged(state):
                extra = update(problem.batch_gradient(state.theta, batch), state.iteration)
            state.step += 1
            if progress is not None:
                progress(f"mini-batch {j + 1}/{len(epoch_batches)}")
        state.iteration += 1
        state.rng_state = rng.bit_generator.state
        with _diverged(state):
            f, _, grad_norm = _f_and_grad(problem, state.theta)
        row = _log(state, problem, f, grad_norm, started, **extra)
        if callback is not None:
            callback(state, row)
    state.elapsed += time.perf_counter() - started
    return state


@validate_params(_run_args(SGOptions, "batches"))
def sg(problem: Problem, state: TrainState, options: SGOptions = SGOptions(), seed: int = 0,
       callback: Callable[[TrainState, dict], None] | None = None,
       progress: Callable[[str], None] | None = None,
       batches: Callable[[int, int], np.ndarray] | None = None,
       time_limit: float | None = None) -> TrainState:
    """Stochastic gradient with momentum (simpleNN's ``sgd.m``); an iteration is an epoch.

    ``v <- momentum v - lr g``, ``theta <- theta + v`` for every mini-batch gradient ``g``;
    the learning rate follows ``options.lr_schedule``.

    Parameters and returns as for :func:`newton_cg` (``time_limit`` is checked between
    epochs); ``batches(epoch, j)``, if given, is the j-th mini-batch of the epoch (0-based),
    to replay a recorded run.
    """
    if state.velocity is None:
        state.velocity = np.zeros_like(state.theta)

    def update(g: np.ndarray, epoch: int) -> dict[str, Any]:
        if options.lr_schedule == "exponential":
            lr = options.lr * options.lr_decay ** epoch
        else:
            lr = options.lr / (1 + options.decay * state.step)
        state.velocity = options.momentum * state.velocity - lr * g
        state.theta = state.theta + state.velocity
        return {"lr": lr}

    return _minibatch_epochs(problem, state, options, seed, batches, callback, progress, update,
                             time_limit)


@validate_params(_run_args(AdamOptions, "batches"))
def adam(problem: Problem, state: TrainState, options: AdamOptions = AdamOptions(),
         seed: int = 0, callback: Callable[[TrainState, dict], None] | None = None,
         progress: Callable[[str], None] | None = None,
         batches: Callable[[int, int], np.ndarray] | None = None,
         time_limit: float | None = None) -> TrainState:
    """Adam (simpleNN's ``adam.m``); an iteration is an epoch.

    ``m <- beta1 m + (1 - beta1) g``, ``v <- beta2 v + (1 - beta2) g**2``,
    ``theta <- theta - lr m_hat / (sqrt(v_hat) + eps)`` with ``m_hat = m / (1 - beta1**t)``,
    ``v_hat = v / (1 - beta2**t)``; ``t`` counts the steps, or the epochs with
    ``bias_correction="epoch"`` (as simpleNN does).

    Parameters and returns as for :func:`sg`.
    """
    for name in ("m", "v"):
        state.buffers.setdefault(name, np.zeros_like(state.theta))

    def update(g: np.ndarray, epoch: int) -> dict[str, Any]:
        m, v = state.buffers["m"], state.buffers["v"]
        m *= options.beta1
        m += (1 - options.beta1) * g
        v *= options.beta2
        v += (1 - options.beta2) * (g * g)
        t = state.step + 1 if options.bias_correction == "step" else epoch + 1
        m_hat, v_hat = m / (1 - options.beta1**t), v / (1 - options.beta2**t)
        state.theta = state.theta - options.lr * (m_hat / (np.sqrt(v_hat) + options.eps))
        return {"lr": options.lr}

    return _minibatch_epochs(problem, state, options, seed, batches, callback, progress, update,
                             time_limit)


# --- simpleNN's option string -----------------------------------------------------------------

#: simpleNN's options (``cnn_train``'s ``parse_options``): name -> meaning.
SIMPLENN_OPTIONS = {
    "-s": "solver: 1 Newton, 2 SG, 3 Adam",
    "-C": "regularization constant C",
    "-GNsize": "Gauss-Newton subsample size",
    "-iter_max": "Newton iterations",
    "-xi": "CG tolerance",
    "-CGmax": "CG steps at most",
    "-lambda": "initial Levenberg-Marquardt lambda",
    "-drop": "lambda factor when rho >= 0.75",
    "-boost": "lambda factor when rho < 0.25",
    "-eta": "line search's sufficient decrease",
    "-lr": "learning rate",
    "-decay": "learning-rate decay: lr / (1 + decay * step)",
    "-bsize": "mini-batch size (SG, Adam); Newton: accepted, kronconv picks its own chunks",
    "-momentum": "SG momentum",
    "-epoch_max": "SG and Adam epochs",
    "-Jacobian": "store the Jacobian (no effect in kronconv: the products are the same)",
    "-ftype": "0 single, 1 double precision",
    "-gpu_use": "0 (kronconv runs on the CPU)",
}


def simplenn_options(text: str, l: int) -> dict[str, Any]:  # noqa: E741
    """kronconv's training settings for simpleNN's option string, with simpleNN's defaults.

    Parameters
    ----------
    text : str
        As given to simpleNN's ``cnn_train``, e.g. ``"-s 1 -C 0.01 -GNsize 100"``.
    l : int
        The number of training instances (simpleNN's default ``-GNsize`` is ``ceil(0.05 l)``).

    Returns
    -------
    dict
        ``optimizer`` ("newton", "sg" or "adam"), ``C``, ``dtype``, ``loss`` ("squared")
        and ``train_options`` (the fields of :class:`NewtonOptions`, :class:`SGOptions` or
        :class:`AdamOptions`, simpleNN's schedules included).

    Raises
    ------
    ValueError
        For an unknown option, a missing or bad value, naming it.

    Examples
    --------
    >>> s = simplenn_options("-s 1 -C 0.1 -GNsize 100", 2000)
    >>> s["optimizer"], s["C"], s["train_options"]["subsample_size"]
    ('newton', 0.1, 100)
    """
    words = text.split()
    if len(words) % 2:
        raise ValueError(f"simpleNN options: each option is a name and a value, got {text!r}")
    given: dict[str, float] = {}
    for name, value in zip(words[::2], words[1::2], strict=True):
        if name not in SIMPLENN_OPTIONS:
            raise ValueError(f"simpleNN option {name} is not supported; the options are "
                             f"{', '.join(SIMPLENN_OPTIONS)}")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"simpleNN option {name}: expected a number, got {value!r}") from None
        if not np.isfinite(number):
            raise ValueError(f"simpleNN option {name}: expected a finite number, got {value!r}")
        given[name] = number

    def integer(name: str, default: int) -> int:
        value = given.get(name, default)
        if value != int(value):
            raise ValueError(f"simpleNN option {name}: expected an integer, got {value}")
        return int(value)

    solver = integer("-s", 1)
    if solver not in (1, 2, 3):
        raise ValueError(f"simpleNN option -s: 1 (Newton), 2 (SG) or 3 (Adam), got {solver}")
    if integer("-ftype", 1) not in (0, 1):
        raise ValueError("simpleNN option -ftype: 0 (single) or 1 (double)")
    if integer("-gpu_use", 0) != 0:
        raise ValueError("simpleNN option -gpu_use: kronconv runs on the CPU; use -gpu_use 0")
    if integer("-Jacobian", 1) not in (0, 1):
        raise ValueError("simpleNN option -Jacobian: 0 or 1")
    C = given.get("-C", 0.01)
    if C <= 0:
        raise ValueError(f"simpleNN option -C: must be > 0, got {C}")
    bsize = integer("-bsize", 1024 if solver == 1 else 128)
    settings: dict[str, Any] = {
        "optimizer": ("newton", "sg", "adam")[solver - 1], "C": C, "loss": "squared",
        "dtype": "float32" if integer("-ftype", 1) == 0 else "float64"}
    try:
        options = _simplenn_optimizer(solver, given, integer, bsize, l)
    except (TypeError, ValueError) as exc:
        message = str(exc)
        raise ValueError(message if message.startswith("simpleNN") else
                         f"simpleNN options: {message}") from None
    settings["train_options"] = {k: getattr(options, k) for k in options.__dataclass_fields__}
    return settings


def _simplenn_optimizer(solver: int, given: dict[str, float], integer: Callable, bsize: int,
                        l: int) -> Any:  # noqa: E741
    """The options object of simpleNN's solver, with simpleNN's defaults and schedules."""
    if solver == 1:
        return NewtonOptions(
            iterations=integer("-iter_max", 100),
            subsample_size=integer("-GNsize", -(-5 * l // 100)),
            subsample_schedule="cycle", cg_rtol=given.get("-xi", 0.1),
            cg_maxiter=integer("-CGmax", 250), lam=given.get("-lambda", 1.0),
            drop=given.get("-drop", 2 / 3), boost=given.get("-boost", 3 / 2),
            eta=given.get("-eta", 1e-4))
    if solver == 2:
        return SGOptions(iterations=integer("-epoch_max", 500), batch_size=bsize,
                         lr=given.get("-lr", 0.01), momentum=given.get("-momentum", 0.0),
                         lr_schedule="inverse", decay=given.get("-decay", 0.0),
                         sampling="random")
    # simpleNN sets Adam's lr to 0.001 only when -s 3 is the default solver, which it never
    # is: parameter() tests the solver before parsing the options, so Adam runs with 0.01
    return AdamOptions(iterations=integer("-epoch_max", 500), batch_size=bsize,
                       lr=given.get("-lr", 0.01), sampling="random", bias_correction="epoch")
