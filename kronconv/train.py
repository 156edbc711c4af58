"""Training: subsampled Gauss-Newton (Newton-CG) as simpleNN does it, and SG with momentum.

Both optimizers work on the objective ``f(theta) = theta^T theta / (2 C l) + (1/l) sum_i ξ_i``
over the ``l`` training instances, evaluated in chunks; both keep their whole state in a
:class:`TrainState` (theta, iteration, the generator's state, ...) so that a run saved after
any iteration and resumed continues exactly as an uninterrupted run would.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._validate import check_int
from .architecture import Architecture
from .gauss_newton import GaussNewton
from .layout import select_instances
from .objective_function import accuracy, objective, objective_and_gradient

__all__ = ["NewtonOptions", "Problem", "SGOptions", "TrainState", "newton_cg", "sg"]


@dataclass(frozen=True)
class Problem:
    """What is trained: the architecture and the (already scaled) data, in kronconv layout.

    ``Z`` is (d, a*b*l) with labels ``y`` (l,); ``Z_val``/``y_val`` (optional) give the
    validation accuracy in the log. ``f`` and ``∇f`` over all the data are evaluated in chunks
    of ``chunk_size`` instances, so memory stays bounded by the chunk (None: the backend's
    default, see :func:`~kronconv.objective_and_gradient`; ``kronconv train`` uses 256 for
    the sparse backend).
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

    @property
    def l(self) -> int:  # noqa: E743 (the slides' name for the number of instances)
        return self.y.shape[0]

    def instances(self, index: np.ndarray) -> np.ndarray:
        """The images of the instances ``index`` (side by side)."""
        a, b, _ = self.arch.input
        return select_instances(self.Z, index, a * b)

    def f_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        return objective_and_gradient(theta, self.arch, self.Z, self.y, self.C, self.loss,
                                      self.chunk_size, backend=self.backend)

    def f(self, theta: np.ndarray) -> float:
        return objective(theta, self.arch, self.Z, self.y, self.C, self.loss, self.chunk_size,
                         backend=self.backend)

    def val_accuracy(self, theta: np.ndarray) -> float | None:
        if self.Z_val is None:
            return None
        return accuracy(theta, self.arch, self.Z_val, self.y_val, self.chunk_size, self.backend)


@dataclass
class TrainState:
    """Everything a run needs to continue: saved with the model after every iteration."""

    theta: np.ndarray
    iteration: int = 0
    rng_state: dict[str, Any] | None = None
    lam: float = 1.0                         # Newton-CG: Levenberg-Marquardt lambda
    velocity: np.ndarray | None = None       # SG: momentum
    elapsed: float = 0.0
    stop_reason: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class NewtonOptions:
    """simpleNN's Newton-CG settings (with a cap on line-search halvings)."""

    iterations: int = 50
    subsample: float = 0.05           # fraction of the data in each Gauss-Newton subsample
    cg_rtol: float = 0.1              # stop CG when ||r|| <= cg_rtol * ||grad f||
    cg_maxiter: int = 250
    lam: float = 1.0                  # the initial lambda
    eta: float = 1e-4                 # sufficient decrease in the line search
    max_halvings: int = 30
    grad_tol: float = 0.0             # stop when ||grad f|| <= grad_tol (0: never)

    def __post_init__(self) -> None:
        _check_options(self, {"iterations": 0, "cg_maxiter": 1, "max_halvings": 0}, {
            "subsample": (lambda x: 0 < x <= 1, "in (0, 1]"), "cg_rtol": (lambda x: x > 0, "> 0"),
            "lam": (lambda x: x >= 0, ">= 0"), "eta": (lambda x: 0 < x <= 1, "in (0, 1]"),
            "grad_tol": (lambda x: x >= 0, ">= 0")})


@dataclass(frozen=True)
class SGOptions:
    """SG with momentum: ``v <- mu v - lr grad``, ``theta <- theta + v``, one epoch an iteration."""

    iterations: int = 30              # epochs
    batch_size: int = 32
    lr: float = 0.01
    momentum: float = 0.9
    lr_decay: float = 1.0             # lr of epoch k: lr * lr_decay**k

    def __post_init__(self) -> None:
        _check_options(self, {"iterations": 0, "batch_size": 1}, {
            "lr": (lambda x: x > 0, "> 0"), "momentum": (lambda x: 0 <= x < 1, "in [0, 1)"),
            "lr_decay": (lambda x: x > 0, "> 0")})


def _check_options(options: object, ints: dict[str, int],
                   ranges: dict[str, tuple[Callable[[float], bool], str]]) -> None:
    """Integers ``>= minimum``, and numbers for which ``allowed(value)`` holds; the error
    names the option and the allowed range."""
    for name, minimum in ints.items():
        check_int(getattr(options, name), name, minimum)
    for name, (allowed, text) in ranges.items():
        value = getattr(options, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name} must be a number, got {value!r}")
        if not (np.isfinite(value) and allowed(value)):
            raise ValueError(f"{name} must be {text}, got {value}")


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
    row = {"iteration": state.iteration, "f": f, "grad_norm": grad_norm,
           "seconds": state.elapsed + time.perf_counter() - started,
           "val_accuracy": problem.val_accuracy(state.theta), **extra}
    state.history.append(row)
    return row


def newton_cg(problem: Problem, state: TrainState, options: NewtonOptions = NewtonOptions(),
              seed: int = 0, callback: Callable[[TrainState, dict], None] | None = None,
              progress: Callable[[str], None] | None = None) -> TrainState:
    """Subsampled Gauss-Newton with CG, Levenberg-Marquardt damping and a line search.

    Each iteration: ``f`` and ``∇f`` over all the data; a fresh subsample S
    (``options.subsample`` of the data, drawn by the run's generator); CG on
    ``(G_S + lambda I) d = -∇f`` to relative tolerance 0.1 in at most 250 steps; backtracking
    ``alpha = 1, 1/2, ...`` until ``f(theta + alpha d) <= f + eta alpha ∇f^T d`` (at most
    ``max_halvings``, else the run stops with that reason, rather than loop forever); then
    ``rho = (f_new - f) / (alpha ∇f^T d + alpha^2 d^T G_S d / 2)`` updates lambda: x 3/2 if
    ``rho < 0.25``, x 2/3 if ``rho >= 0.75``.

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

    Returns
    -------
    TrainState
    """
    rng = np.random.default_rng(seed)
    if state.rng_state is not None:
        rng.bit_generator.state = state.rng_state
    started = time.perf_counter()
    n_sub = max(1, round(options.subsample * problem.l))
    f, g = problem.f_and_grad(state.theta)
    while state.iteration < options.iterations:
        grad_norm = float(np.linalg.norm(g))
        if grad_norm <= options.grad_tol:
            state.stop_reason = f"||grad f|| <= {options.grad_tol}"
            break
        S = np.sort(rng.choice(problem.l, size=n_sub, replace=False))
        G = GaussNewton(state.theta, problem.arch, problem.instances(S), problem.y[S],
                        problem.C, problem.loss, n_total=problem.l, backend=problem.backend)
        d, Gd, cg_steps = _conjugate_gradient(G, state.lam, g, options.cg_rtol,
                                              options.cg_maxiter, progress)
        gd = float(g @ d)
        alpha, halvings = 1.0, 0
        while True:
            f_new = problem.f(state.theta + alpha * d)
            if f_new <= f + options.eta * alpha * gd:
                break
            if halvings == options.max_halvings:
                break
            alpha /= 2
            halvings += 1
            if progress is not None:
                progress(f"line search, alpha = {alpha:g}")
        if f_new > f + options.eta * alpha * gd:
            state.stop_reason = (f"line search: no sufficient decrease after "
                                 f"{options.max_halvings} halvings")
            break
        predicted = alpha * gd + 0.5 * alpha**2 * float(d @ Gd)
        rho = (f_new - f) / predicted if predicted != 0 else 1.0
        if rho < 0.25:
            state.lam *= 1.5
        elif rho >= 0.75:
            state.lam *= 2 / 3
        state.theta = state.theta + alpha * d
        state.iteration += 1
        f, g = problem.f_and_grad(state.theta)
        state.rng_state = rng.bit_generator.state
        row = _log(state, problem, f, float(np.linalg.norm(g)), started, alpha=alpha,
                   lam=state.lam, cg=cg_steps)
        if callback is not None:
            callback(state, row)
    state.elapsed += time.perf_counter() - started
    return state


def sg(problem: Problem, state: TrainState, options: SGOptions = SGOptions(), seed: int = 0,
       callback: Callable[[TrainState, dict], None] | None = None,
       progress: Callable[[str], None] | None = None) -> TrainState:
    """Stochastic gradient with momentum, one shuffled pass over the data an iteration.

    A mini-batch B's gradient is that of ``theta^T theta / (2 C l) + (1/|B|) sum_{i in B} ξ_i``
    (an unbiased estimate of ``∇f``); the learning rate of epoch k is
    ``lr * lr_decay**k``. The generator (seeded once) shuffles every epoch.

    Parameters and returns as for :func:`newton_cg`.
    """
    rng = np.random.default_rng(seed)
    if state.rng_state is not None:
        rng.bit_generator.state = state.rng_state
    if state.velocity is None:
        state.velocity = np.zeros_like(state.theta)
    started = time.perf_counter()
    while state.iteration < options.iterations:
        lr = options.lr * options.lr_decay ** state.iteration
        order = rng.permutation(problem.l)
        for start in range(0, problem.l, options.batch_size):
            batch = np.sort(order[start:start + options.batch_size])
            _, g = objective_and_gradient(state.theta, problem.arch, problem.instances(batch),
                                          problem.y[batch], problem.C, problem.loss,
                                          backend=problem.backend, n_total=problem.l)
            state.velocity = options.momentum * state.velocity - lr * g
            state.theta = state.theta + state.velocity
            if progress is not None:
                done = min(start + options.batch_size, problem.l)
                progress(f"{done}/{problem.l} instances")
        state.iteration += 1
        state.rng_state = rng.bit_generator.state
        f, g = problem.f_and_grad(state.theta)
        row = _log(state, problem, f, float(np.linalg.norm(g)), started, lr=lr)
        if callback is not None:
            callback(state, row)
    state.elapsed += time.perf_counter() - started
    return state
