"""The objective over a data set: f(θ), ∇f(θ), the regularization term, and predictions.

    f(theta) = theta^T theta / (2 C l) + (1/l) sum_i ξ_i,     C = inf drops the first term,

over the ``l`` instances given. The data are evaluated in chunks of ``chunk_size`` instances
whose sums are added, so memory is bounded by the chunk, not the data set; each chunk is one
forward pass (and one backward pass) of :mod:`kronconv.network`.
"""

from __future__ import annotations

import math

import numpy as np

from . import scratch
from ._deprecated import moved
from ._docstrings import fill_docstrings
from ._validate import (
    Integer,
    Labels,
    Optional,
    Overflow,
    Real,
    check_int,
    require_finite_result,
    validate_params,
)
from .architecture import Architecture
from .backends import BACKEND, FORM, Backend, BackwardForm
from .cpu_caches import block_bytes
from .losses import LOSS, check_labels, loss_terms
from .memory import check_memory, forward_bytes
from .network import check_network_args, run_backward, run_forward
from .parallel import THREADS, machine_cores, map_blocks, one_blas_thread, resolve_threads
from .parameters import ARCH, THETA, param_views
from .shapes import IMAGES

__all__ = [
    "SPARSE_BLOCK",
    "accuracy",
    "add_block_sums",
    "add_regularization",
    "block_size",
    "block_sums",
    "check_C",
    "check_parallel_memory",
    "chunks",
    "network_output",
    "objective",
    "objective_and_gradient",
    "outputs",
    "predict",
    "regularization",
]


# --- the arguments ---------------------------------------------------------------------------

#: The constraints of the arguments shared by the functions over a data set (and the
#: Gauss-Newton products): declared once, checked by :func:`~kronconv._validate.validate_params`.
C_ARG = Real(0, allow_inf=True, note="inf for no regularization")
CHUNK_SIZE = Optional(Integer(1))
N_TOTAL = Optional(Integer(1))
DATA_ARGS = {"theta": THETA, "arch": ARCH, "Z": IMAGES}
EVALUATION_ARGS = {**DATA_ARGS, "y": Labels(), "C": C_ARG, "loss": LOSS,
                   "chunk_size": CHUNK_SIZE, "backend": BACKEND, "n_total": N_TOTAL,
                   "threads": THREADS}
OUTPUT_ARGS = {**DATA_ARGS, "chunk_size": CHUNK_SIZE, "backend": BACKEND, "threads": THREADS}


# --- the regularization term -----------------------------------------------------------------


def check_C(C: object) -> float:
    """``C`` as a float if it is a number > 0 (``inf``: no regularization), else raise: the
    constraint of the argument ``C``, for callers that check it before any evaluation."""
    return C_ARG.check(C, "C")


def total_instances(n_total: int | None, N: int) -> int:
    """The ``l`` of the regularization ``theta^T theta / (2 C l)``: ``n_total`` (the whole data
    set's size, for a batch or subsample of it) or ``N``; a ``ValueError`` if ``n_total < N``."""
    if n_total is None:
        return N
    if n_total < N:
        raise ValueError(f"n_total must be >= the number of instances given ({N}): it counts "
                         f"the whole data set they are drawn from, got {n_total}")
    return n_total


def regularization(C: float, n_total: int) -> float:
    """The coefficient ``1/(C l)`` of the regularization term (0 for ``C = inf``).

    The term is ``theta^T theta / (2 C l)``; its gradient is ``theta / (C l)`` and its
    Hessian, the regularization part of the Gauss-Newton matrix, ``I / (C l)``.

    Examples
    --------
    >>> regularization(0.5, 4), regularization(math.inf, 4)
    (0.5, 0.0)
    """
    if math.isinf(C):
        return 0.0
    with np.errstate(over="ignore", divide="ignore"):
        coefficient = 1.0 / (C * n_total)
    if not math.isfinite(coefficient):
        raise FloatingPointError(f"C = {C:g} is too small: the regularization coefficient "
                                 f"1/(C l) overflows for l = {n_total}; use a larger C")
    return coefficient


# --- blocks of instances ---------------------------------------------------------------------

# The dense path runs fastest on blocks whose largest phi is a few times the per-core cache
# (kronconv.cpu_caches.block_bytes; KRONCONV_BLOCK_BYTES sets it). The sparse chain runs about
# as fast on blocks of 32 instances as on the whole batch, and blocks are what threads share out.
SPARSE_BLOCK = 32


def block_size(arch: Architecture, dtype: np.dtype, backend: str, N: int,
               chunk_size: int | None = None) -> int:
    """The instances in each block: ``chunk_size``, or the backend's default.

    The sparse chain's default is ``SPARSE_BLOCK`` (32) on every machine. The dense path's
    starts from the instances whose largest ``phi`` is a few times the L2 cache
    (:func:`~kronconv.cpu_caches.block_bytes`) and evens the blocks out over the machine's
    cores: the number of blocks is raised to the next multiple of the cores, with blocks no
    smaller than a quarter of the cache's size (at most 4 times the blocks, about 8% slower
    on one thread at the smallest), so that no core waits on a last small block
    (cifar10-3layer at batch 32 in float64 on a 2 MiB L2: 13 + 13 + 6 instances, two
    rounds on two cores, became 4 blocks of 8). The dense blocks (hence the last bits of
    its sums) depend on the cache and the cores of the machine, never on the thread count:
    every thread count adds the same blocks, bit for bit.

    Examples
    --------
    >>> block_size(Architecture.preset("digits"), np.dtype("float64"), "sparse", 100)
    32
    """
    N = check_int(N, "N", 1)
    if chunk_size is not None:
        return check_int(chunk_size, "chunk_size", 1)
    if backend != "dense" or not arch.conv_shapes:
        return min(N, SPARSE_BLOCK)
    phi_bytes = max(s.n_phi for s in arch.conv_shapes) * np.dtype(dtype).itemsize
    cache = max(1, block_bytes() // phi_bytes)
    cores = machine_cores()
    n_blocks = -(-N // cache)
    evened = -(-N // (-(-n_blocks // cores) * cores))        # N over the next multiple
    return min(N, max(evened, -(-cache // 4)))


def chunks(Z: np.ndarray, N: int, arch: Architecture, chunk_size: int | None,
           backend: str) -> list[tuple[slice, np.ndarray]]:
    """``(instances, Z of those instances)`` for the consecutive blocks of the batch
    (:func:`block_size` instances each; the last may be smaller)."""
    size = block_size(arch, Z.dtype, backend, N, chunk_size)
    cols = arch.input[0] * arch.input[1]
    return [(slice(start, min(start + size, N)),
             Z[:, start * cols:min(start + size, N) * cols])       # the batch matrix's columns
            for start in range(0, N, size)]


def check_parallel_memory(arch: Architecture, blocks: list, threads: int, dtype: np.dtype,
                          keep: bool) -> None:
    """Refuse before allocating when the blocks that run at once would not fit."""
    at_once = min(threads, len(blocks))
    largest = max(rows.stop - rows.start for rows, _ in blocks)
    what = (f"the forward pass of {largest} instances" if at_once == 1 else
            f"the forward passes of {at_once} blocks of {largest} instances at once")
    check_memory(at_once * forward_bytes(arch.conv_shapes, largest, dtype, keep), what,
                 "evaluate in smaller chunks (chunk_size) or on fewer threads")


def _evaluate(theta: np.ndarray, arch: Architecture, Z: np.ndarray, y: np.ndarray, C: float,
              loss: str, chunk_size: int | None, backend: str, form: str | None,
              n_total: int | None, threads: int | None) -> tuple[float, np.ndarray | None]:
    """``f`` and, unless ``form`` is None, ``∇f`` of checked arguments: block sums added in
    block order."""
    threads = resolve_threads(threads)
    _, N = check_network_args(theta, arch, Z)
    y = check_labels(y, arch.n_classes, N)
    reg = regularization(C, total_instances(n_total, N))
    blocks = chunks(Z, N, arch, chunk_size, backend)
    check_parallel_memory(arch, blocks, threads, Z.dtype, form is not None)
    results = map_blocks(lambda b: block_sums(theta, arch, b[1], y[b[0]], loss, backend, form),
                         blocks, threads)
    return add_block_sums(theta, results, N, reg)


def block_sums(theta: np.ndarray, arch: Architecture, Z: np.ndarray, y: np.ndarray, loss: str,
               backend: str, form: str | None) -> tuple[float, np.ndarray | None]:
    """``sum_i ξ_i`` and, unless ``form`` is None, ``sum_i ∂ξ_i/∂theta`` over one block of
    instances (checked arguments): the part every thread or worker computes.

    The dense path's temporaries come from :func:`kronconv.scratch.reuse`'s arena, kept from
    the previous block: what is returned (a float, the fresh gradient of
    :func:`~kronconv.network.run_backward`) holds none of them.
    """
    with np.errstate(over="ignore", invalid="ignore"), scratch.reuse():   # errors: add_block_sums
        z, cache = run_forward(param_views(theta, arch), arch, Z, form is not None, backend)
        xi, dz = loss_terms(z, y, loss)
        return float(xi.sum()), (None if form is None
                                 else run_backward(dz, theta, arch, cache, form))


#: The numbers :func:`add_regularization` scales at a time: its temporary stays below glibc's
#: mmap threshold (128 KiB), so it reuses the heap's pages instead of faulting fresh ones in.
_PIECE = 8192


def add_regularization(grad: np.ndarray, reg: float, theta: np.ndarray) -> np.ndarray:
    """``grad += reg * theta`` in place, the regularization's term of ``∇f`` (``theta / (C l)``)
    and of ``G v`` (``v / (C l)``), in pieces of 8192 numbers: the same numbers as
    one product, without a temporary of the size of theta (on the Xeon VM, 210 page faults
    per value-and-gradient of mnist-3layer at batch 1). ``reg = 0`` (``C = inf``) adds
    nothing, not even ``+0.0``.

    Returns
    -------
    ndarray
        ``grad``.

    Examples
    --------
    >>> add_regularization(np.ones(3), 0.5, np.arange(3.0))
    array([1. , 1.5, 2. ])
    """
    if reg == 0:
        return grad
    scaled = np.empty(min(_PIECE, theta.size), dtype=np.result_type(reg, theta))
    for start in range(0, theta.size, _PIECE):
        piece = slice(start, start + _PIECE)
        part = scaled[:theta[piece].size]
        np.multiply(theta[piece], reg, out=part)
        np.add(grad[piece], part, out=grad[piece])
    return grad


def add_block_sums(theta: np.ndarray, results: list, N: int,
                   reg: float) -> tuple[float, np.ndarray | None]:
    """``f`` and ``∇f`` from the blocks' :func:`block_sums`, added in block order."""
    total, grad = 0.0, None
    for xi, _ in results:
        total += xi
    # theta @ theta on one BLAS thread (with threadpoolctl, as the blocks): the same bits for
    # any BLAS setting, and no BLAS thread woken to spin (OpenBLAS's idle threads busy-wait
    # ~0.1 s) on the cores where the next evaluation's blocks run
    with np.errstate(over="ignore", invalid="ignore"), one_blas_thread():  # reported below
        penalty = reg * float(theta @ theta) / 2
        f = penalty + total / N
        if results and results[0][1] is not None:
            grad = np.zeros_like(theta)
            for _, g in results:
                grad += g
            grad /= N
            add_regularization(grad, reg, theta)
    if not math.isfinite(penalty):
        raise Overflow(f"the regularization term theta^T theta / (2 C l) is not finite "
                       f"(1/(C l) = {reg:.3g})", "use a larger C (C)")
    require_finite_result(np.asarray(f, dtype=theta.dtype), "f")
    if grad is not None:
        require_finite_result(grad, "the gradient")
    return f, grad


@validate_params(EVALUATION_ARGS, same_dtype=("Z", "theta"))
def objective(theta: np.ndarray, arch: Architecture, Z: np.ndarray, y: np.ndarray,
              C: float = math.inf, loss: str = "squared", chunk_size: int | None = None,
              backend: Backend = "sparse", n_total: int | None = None,
              threads: int | None = None) -> float:
    """``f(theta) = theta^T theta / (2 C l) + (1/l) sum_i ξ_i``, without any backward state.

    Parameters
    ----------
    theta : ndarray of shape (arch.n_params,)
    arch : Architecture
    Z : ndarray of shape (d, a*b*l)
    y : ndarray of shape (l,)
        Integer classes.
    C : float, default inf
        Regularization constant; ``inf`` drops the regularization term.
    loss : {"squared", "cross_entropy"}, default "squared"
    chunk_size : int, optional
        Instances in each block (evaluated at once, and shared out between threads).
        Default: 32 for the sparse backend; for the dense backend, blocks whose largest
        ``phi`` is a few times the CPU's L2 cache (:func:`kronconv.cpu_caches.block_bytes`),
        evened out over the cores (:func:`~kronconv.objective_function.block_size`).
    backend : {"sparse", "dense"}, default "sparse"
    n_total : int, optional
        The ``l`` of the regularization term when ``Z`` is a mini-batch of a larger data
        set (``theta^T theta / (2 C n_total)``); default: the number of instances given.
    threads : int, optional
        Threads that share out the blocks of instances (default:
        :func:`kronconv.parallel.get_threads`, the machine's cores); the result is the same,
        bit for bit, for every thread count.

    Returns
    -------
    float

    Raises
    ------
    %(raises_network)s

    Examples
    --------
    >>> from kronconv import init_params
    >>> arch = Architecture.preset("digits")
    >>> f = objective(np.zeros(arch.n_params), arch, np.ones((1, 64 * 3)), [0, 1, 2])
    >>> f      # all outputs 0: ||0 - e_y||^2 = 1 for every instance
    1.0
    """
    return _evaluate(theta, arch, Z, y, C, loss, chunk_size, backend, None, n_total, threads)[0]


@validate_params({**EVALUATION_ARGS, "form": FORM}, same_dtype=("Z", "theta"))
def objective_and_gradient(theta: np.ndarray, arch: Architecture, Z: np.ndarray,
                           y: np.ndarray, C: float = math.inf, loss: str = "squared",
                           chunk_size: int | None = None, form: BackwardForm = "vec",
                           backend: Backend = "sparse", n_total: int | None = None,
                           threads: int | None = None) -> tuple[float, np.ndarray]:
    """``f(theta)`` and ``∇f(theta) = theta / (C l) + (1/l) sum_i ∂ξ_i/∂theta``.

    Parameters
    ----------
    theta, arch, Z, y, C, loss, chunk_size, n_total, threads
        As for :func:`objective`; memory is bounded by ``threads`` blocks of ``chunk_size``
        instances.
    form : {"vec", "kron"}, default "vec"
        The form of the convolutional layers' backward equations (sparse backend).
    backend : {"sparse", "dense"}, default "sparse"

    Returns
    -------
    f : float
    grad : ndarray of shape (arch.n_params,)
        In the dtype of ``Z``.

    Raises
    ------
    %(raises_network)s

    Examples
    --------
    >>> from kronconv import init_params
    >>> arch = Architecture.preset("digits")
    >>> theta = init_params(arch, seed=0)
    >>> Z = np.random.default_rng(0).normal(size=(1, 64 * 4))
    >>> f, g = objective_and_gradient(theta, arch, Z, [3, 1, 4, 1], C=0.01)
    >>> g.shape, bool(np.isclose(f, objective(theta, arch, Z, [3, 1, 4, 1], C=0.01)))
    ((3658,), True)
    """
    return _evaluate(theta, arch, Z, y, C, loss, chunk_size, backend, form, n_total, threads)


# --- predictions -----------------------------------------------------------------------------


def outputs(theta: np.ndarray, arch: Architecture, Z: np.ndarray, chunk_size: int | None,
            backend: str, threads: int | None) -> np.ndarray:
    """:func:`~kronconv.network_output` of checked arguments."""
    threads = resolve_threads(threads)
    params, N = check_network_args(theta, arch, Z)
    blocks = chunks(Z, N, arch, chunk_size, backend)
    check_parallel_memory(arch, blocks, threads, Z.dtype, False)

    def block(item: tuple[slice, np.ndarray]) -> np.ndarray:
        # errors reported below, not warned; the outputs, the last fully-connected layer's
        # (there is at least one), are fresh: they hold no scratch buffer
        with np.errstate(over="ignore", invalid="ignore"), scratch.reuse():
            return run_forward(params, arch, item[1], False, backend)[0]

    z = np.concatenate(map_blocks(block, blocks, threads), axis=1)
    require_finite_result(z, "the network's outputs")
    return z


@validate_params(OUTPUT_ARGS, same_dtype=("Z", "theta"))
def network_output(theta: np.ndarray, arch: Architecture, Z: np.ndarray,
                   chunk_size: int | None = None, backend: Backend = "sparse",
                   threads: int | None = None) -> np.ndarray:
    """The last layer's outputs ``z^{L+1,i}`` for every instance, with no backward state.

    Parameters
    ----------
    theta, arch, Z, chunk_size, backend, threads
        As for :func:`objective`.

    Returns
    -------
    ndarray of shape (n_classes, N)

    Raises
    ------
    FloatingPointError
        If the outputs overflowed.

    Examples
    --------
    >>> arch = Architecture.preset("digits")
    >>> network_output(np.zeros(arch.n_params), arch, np.ones((1, 64 * 3)))[:3]
    array([[0., 0., 0.],
           [0., 0., 0.],
           [0., 0., 0.]])
    """
    return outputs(theta, arch, Z, chunk_size, backend, threads)


@validate_params(OUTPUT_ARGS, same_dtype=("Z", "theta"))
def predict(theta: np.ndarray, arch: Architecture, Z: np.ndarray,
            chunk_size: int | None = None, backend: Backend = "sparse",
            threads: int | None = None) -> np.ndarray:
    """The predicted class of every instance: the index of its largest output.

    Parameters
    ----------
    theta, arch, Z, chunk_size, backend, threads
        As for :func:`objective`.

    Returns
    -------
    ndarray of shape (N,), int64

    Raises
    ------
    %(raises_network)s

    Examples
    --------
    >>> from kronconv import init_params
    >>> arch = Architecture.preset("digits")
    >>> predict(init_params(arch), arch, np.ones((1, 64 * 4))).shape
    (4,)
    """
    return outputs(theta, arch, Z, chunk_size, backend, threads).argmax(axis=0).astype(np.int64)


@validate_params({**OUTPUT_ARGS, "y": Labels()}, same_dtype=("Z", "theta"))
def accuracy(theta: np.ndarray, arch: Architecture, Z: np.ndarray, y: np.ndarray,
             chunk_size: int | None = None, backend: Backend = "sparse",
             threads: int | None = None) -> float:
    """The fraction of instances whose predicted class equals the label ``y``.

    Parameters
    ----------
    theta, arch, Z, chunk_size, backend, threads
        As for :func:`objective`.
    y : ndarray of shape (N,)
        Integer classes.

    Returns
    -------
    float

    Raises
    ------
    %(raises_network)s

    Examples
    --------
    >>> arch = Architecture.preset("digits")
    >>> accuracy(np.zeros(arch.n_params), arch, np.ones((1, 64 * 2)), [0, 5])   # all argmax 0
    0.5
    """
    _, N = check_network_args(theta, arch, Z)
    y = check_labels(y, arch.n_classes, N)
    pred = outputs(theta, arch, Z, chunk_size, backend, threads).argmax(axis=0)
    return float(np.mean(pred == y))

fill_docstrings(globals())

__getattr__ = moved('kronconv.objective_function', {
    # setting it never changed the blocks: KRONCONV_BLOCK_BYTES does
    'DENSE_CHUNK_BYTES': 'cpu_caches:FALLBACK_BLOCK_BYTES',
})
