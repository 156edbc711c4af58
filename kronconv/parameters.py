"""The parameter vector theta: every layer's vec(W^m) then b^m, first layer first."""

from __future__ import annotations

import numpy as np

from ._validate import (
    Array,
    DType,
    InstanceOf,
    Integer,
    SequenceOf,
    as_float_array,
    check_shape,
    validate_params,
)
from .architecture import Architecture
from .memory import check_memory

__all__ = ["ARCH", "THETA", "init_params", "pack_params", "unpack_params"]

#: The constraints of the arguments ``arch`` and ``theta`` of the public functions.
ARCH = InstanceOf(Architecture, "an Architecture")
THETA = Array("(n_params,)")


@validate_params({"theta": Array("(n_params,)", finite=False), "arch": ARCH})
def unpack_params(theta: np.ndarray, arch: Architecture) -> list[tuple[np.ndarray, np.ndarray]]:
    """Views of ``theta`` as every layer's ``(W^m, b^m)``, convolutional layers first.

    ``theta`` stacks ``vec(W^m)`` (column-major) then ``b^m`` for each layer m
    (:ref:`conventions-theta`), so each ``W^m`` is a Fortran-ordered view: writing to it
    writes to ``theta``.

    Parameters
    ----------
    theta : ndarray of shape (arch.n_params,)
    arch : Architecture

    Returns
    -------
    list of (W, b)
        ``W`` of shape ``(d_out, h*h*d)`` for a convolutional layer and ``(n_out, n_in)`` for
        a fully-connected one.

    Raises
    ------
    ValueError
        If ``theta`` does not have shape ``(arch.n_params,)``.
    TypeError
        If ``theta`` is not real floating point or ``arch`` not an :class:`Architecture`.

    Examples
    --------
    >>> import numpy as np
    >>> arch = Architecture.preset("digits")
    >>> [W.shape for W, b in unpack_params(np.zeros(arch.n_params), arch)]
    [(8, 9), (16, 72), (32, 64), (10, 32)]
    """
    check_shape(theta, (arch.n_params,), "theta", "(n_params,)")
    return param_views(theta, arch)


def param_views(theta: np.ndarray, arch: Architecture) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`unpack_params` of a checked ``theta`` (the evaluations' inner loops, where the
    argument checks would cost a fifth of a millisecond per call)."""
    out, start = [], 0
    for (rows, cols), n_b in arch.layer_param_shapes:
        W = theta[start:start + rows * cols].reshape(rows, cols, order="F")
        start += rows * cols
        out.append((W, theta[start:start + n_b]))
        start += n_b
    return out


@validate_params({"params": SequenceOf(InstanceOf((tuple, list), "a (W, b) pair"))})
def pack_params(params: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """The inverse of :func:`unpack_params`: ``theta = [vec(W^1); b^1; vec(W^2); b^2; ...]``.

    Parameters
    ----------
    params : sequence of (W, b)

    Returns
    -------
    theta : ndarray
        In the dtype of the first ``W``.

    Raises
    ------
    ValueError
        If ``params`` is empty, an item is not a pair, or a ``b`` does not fit its ``W``.
    TypeError
        If ``params`` is not a list or tuple of pairs, or an array is not real floating point.

    Examples
    --------
    >>> import numpy as np
    >>> pack_params([(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([5.0, 6.0]))])
    array([1., 3., 2., 4., 5., 6.])
    """
    parts = []
    for m, pair in enumerate(params, 1):
        if len(pair) != 2:
            raise ValueError(f"params[{m - 1}] must be a (W, b) pair, got {len(pair)} items")
        W = as_float_array(pair[0], f"W of layer {m}")
        b = pair[1]
        b = as_float_array(b, f"b of layer {m}", W.dtype)
        check_shape(b, (W.shape[0],), f"b of layer {m}", "(rows of W,)")
        parts += [W.reshape(-1, order="F"), b]
    return np.concatenate(parts)


@validate_params({"arch": ARCH, "seed": Integer(0), "dtype": DType()})
def init_params(arch: Architecture, seed: int = 0, dtype: object = np.float64) -> np.ndarray:
    """He-normal weights ``N(0, 2/fan_in)`` and zero biases, reproducible from ``seed``.

    ``fan_in`` is ``h*h*d`` for a convolutional layer and ``n_in`` for a fully-connected
    one. The draws come from ``numpy.random.default_rng(seed)`` (PCG64) in float64, layer
    by layer in the order of theta, and are then cast: the same seed gives the same theta
    on any machine.

    Parameters
    ----------
    arch : Architecture
    seed : int, default 0
    dtype : float32 or float64, default float64

    Returns
    -------
    theta : ndarray of shape (arch.n_params,)

    Raises
    ------
    TypeError
        If ``arch`` is not an :class:`Architecture`, ``seed`` not an integer or ``dtype``
        not float32 or float64.
    ValueError
        If ``seed`` is negative.
    ~kronconv.MemoryLimitError
        If theta (and the draws) would exceed the memory limit, before allocating.

    Examples
    --------
    >>> theta = init_params(Architecture.preset("mnist-3layer"), seed=1)
    >>> theta.shape, bool(np.array_equal(theta, init_params(
    ...     Architecture.preset("mnist-3layer"), seed=1)))
    ((62026,), True)
    """
    largest = max(rows * cols for (rows, cols), _ in arch.layer_param_shapes)
    check_memory(arch.n_params * (8 + dtype.itemsize) + 2 * largest * 8,
                 f"theta of {arch.n_params} parameters ({dtype}, drawn in float64)",
                 "use a smaller architecture")
    rng = np.random.default_rng(seed)
    theta = np.zeros(arch.n_params)
    for W, _ in unpack_params(theta, arch):
        W[...] = rng.standard_normal(W.shape) * np.sqrt(2.0 / W.shape[1])
    return theta.astype(dtype)
