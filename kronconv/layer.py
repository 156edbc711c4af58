"""One convolutional layer, forward and backward, as chains of sparse operators.

Each function is one equation of the slides (numbers as in ``shared/seeds`` and
NOTATION.md). A batch of ``N`` instances is the instances side by side: ``Z`` is
``(d, a*b*N)``, ``S`` is ``(d_out, a_conv*b_conv*N)``, and so on; the public functions take
and return these batch matrices.

Inside, the operators act on all instances at once with the instances as columns: a
C-ordered ``(n, N)`` array whose column i is ``vec(Z^i)`` ("cols"), so every operator is
one sparse-times-dense product and the entries of one position sit side by side. The
instance-independent operators (``P_pad``, ``P_phi``, ``1 ⊗ I``, average pooling) are
built once per layer shape, and ``I ⊗ W`` once per call. The network passes cols from
layer to layer without converting.

Gradients are stored in the shape of what they differentiate with respect to:
``dS = ∂ξ/∂S`` has the shape of ``S``, and the row vector ``∂ξ/∂vec(S)^T`` of the slides is
``vec(dS)``. For a batch, ``dW`` and ``db`` are summed over the instances (Σ_i ∂ξ_i/∂W).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp

from . import dense
from ._validate import as_float_array, batch_size, check_shape, require_finite
from .activations import Activation, get_activation
from .dense import DenseCache
from .memory import check_memory
from .operators import (
    I_kron_W,
    P_pad,
    P_phi,
    P_pool,
    P_pool_batch_last,
    ones_kron_I,
    phiT_kron_I,
)
from .shapes import LayerShape, check_layer_shape

__all__ = [
    "BACKENDS",
    "DenseCache",
    "LayerCache",
    "backward",
    "conv_S",
    "forward",
    "grad_S",
    "grad_W",
    "grad_Z",
    "grad_b",
    "layer_output",
    "phi_pad",
    "pool",
]

ForwardForm = Literal["I_kron_W", "phiT_kron_I"]
BackwardForm = Literal["kron", "vec"]
Backend = Literal["sparse", "dense"]
BACKENDS = ("sparse", "dense")


def _cols(M: np.ndarray, n: int) -> np.ndarray:
    """Instances as columns: the batch matrix ``M`` as a C-ordered ``(n, N)`` array, column i
    ``vec(M^i)``."""
    return np.ascontiguousarray(M.reshape(n, -1, order="F"))


def _mat(cols: np.ndarray, rows: int) -> np.ndarray:
    """Inverse of :func:`_cols`: columns ``vec(M^i)`` back to ``[M^1 ... M^N]``."""
    return cols.reshape(rows, -1, order="F")


def _check_form(form: str, allowed: tuple[str, ...]) -> None:
    if form not in allowed:
        raise ValueError(f"form must be one of {allowed}, got {form!r}")


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")


def _check_Z(Z: object, shape: LayerShape) -> tuple[np.ndarray, int]:
    check_layer_shape(shape)
    Z = as_float_array(Z, "Z")
    N = batch_size(Z, shape.d, shape.a * shape.b, "Z", "(d, a*b*N)")
    require_finite(Z, "Z")
    return Z, N


def _check_Wb(W: object, b: object, shape: LayerShape, dtype: np.dtype):
    W = as_float_array(W, "W", dtype)
    check_shape(W, shape.W_shape, "W", "(d_out, h*h*d)")
    b = as_float_array(b, "b", dtype)
    check_shape(b, (shape.d_out,), "b", "(d_out,)")
    require_finite(W, "W")
    require_finite(b, "b")
    return W, b


# --- the chain on instance columns (what the network runs) ----------------------------------


@dataclass(frozen=True)
class LayerCache:
    """What one layer's forward pass keeps for its backward pass, and nothing else.

    Stored with the instances as columns (see the module docstring).

    Attributes
    ----------
    shape : LayerShape
    phi : ndarray of shape (h*h*d*a_conv*b_conv, N)
        Column i is ``vec(phi(pad(Z^i)))``, needed by equation (1).
    dsigma_S : ndarray of shape (d_out*a_conv*b_conv, N)
        Column i is ``vec(sigma'(S^i))``, needed by equation (7).
    P_pool : csr_array
        The pooling operator of equation (7) for these columns: for max pooling the
        instances' operators interleaved (:func:`~kronconv.operators.P_pool_batch_last`),
        for average and no pooling the shared one-instance operator.
    I_kron_W : csr_array
        ``I ⊗ W`` as the forward pass built it, for (8) and for the Gauss-Newton products
        (built once per forward pass, not once per product).
    """

    shape: LayerShape
    phi: np.ndarray
    dsigma_S: np.ndarray
    P_pool: sp.csr_array
    I_kron_W: sp.csr_array

    @property
    def N(self) -> int:
        """The number of instances in the batch."""
        return self.phi.shape[1]


def _phi_cols(Zc: np.ndarray, shape: LayerShape) -> np.ndarray:
    """``vec(phi(pad(Z^i))) = P_phi P_pad vec(Z^i)`` for every column."""
    return P_phi(shape, Zc.dtype) @ (P_pad(shape, Zc.dtype) @ Zc)


def _S_cols(phi: np.ndarray, IW: sp.csr_array, b: np.ndarray, shape: LayerShape) -> np.ndarray:
    """``vec(S^i) = (I ⊗ W) vec(phi^i) + (1 ⊗ I) b`` for every column."""
    return IW @ phi + (ones_kron_I(shape, phi.dtype) @ b)[:, None]


def _pool_operator(shape: LayerShape, sigma: np.ndarray) -> sp.csr_array:
    if shape.pool == "max":
        return P_pool_batch_last(shape, sigma)
    return P_pool(shape, dtype=sigma.dtype)


def _apply_cols(P: sp.csr_array, M: np.ndarray, rows: int) -> np.ndarray:
    """``P`` applied to every column of ``M`` (or to the interleaved batch), as (rows, N)."""
    return (P @ M.reshape(P.shape[1], -1)).reshape(rows, M.shape[1])


def _apply_T_cols(P: sp.csr_array, M: np.ndarray, rows: int) -> np.ndarray:
    """``P^T`` applied like :func:`_apply_cols`, through the transposed view."""
    return (P.T @ M.reshape(P.shape[0], -1)).reshape(rows, M.shape[1])


def _forward_cols(Zc: np.ndarray, W: np.ndarray, b: np.ndarray, shape: LayerShape,
                  act: Activation, keep: bool) -> tuple[np.ndarray, LayerCache | None]:
    """Equation (6) on columns: ``Z^{m+1}`` and, with ``keep``, the cache."""
    phi, IW = _phi_cols(Zc, shape), I_kron_W(W, shape)
    S = _S_cols(phi, IW, b, shape)
    sigma_S = act(S)
    P = _pool_operator(shape, sigma_S)
    Z_next = _apply_cols(P, sigma_S, shape.n_out)
    return Z_next, (LayerCache(shape, phi, act.derivative(S), P, IW) if keep else None)


def _grad_S_cols(dZc: np.ndarray, cache: LayerCache) -> np.ndarray:
    """(7): ``vec(dS^i) = P_pool^T vec(dZ^{m+1,i}) ⊙ vec(sigma'(S^i))``."""
    return _apply_T_cols(cache.P_pool, dZc, cache.shape.n_S) * cache.dsigma_S


# Up to this many instances, the per-window products of (1) and (9) run as one product.
_SMALL_BATCH = 32


def _grad_W_cols(dS: np.ndarray, phi: np.ndarray, shape: LayerShape, form: str) -> np.ndarray:
    """(1), summed over the columns."""
    if form == "kron":    # (phi^T ⊗ I)^T vec(dS) over the whole batch matrix
        return _mat(phiT_kron_I(_mat(phi, shape.W_shape[1]), shape.d_out).T
                    @ dS.ravel(order="F"), shape.d_out)
    n, N = shape.n_windows, dS.shape[1]
    dS3, phi3 = dS.reshape(n, shape.d_out, N), phi.reshape(n, -1, N)
    # vec(dS phi^T) = sum over windows w and instances of dS_w phi_w^T: one product over
    # both (small batches), or one per window (large batches; measured faster there)
    if N <= _SMALL_BATCH:
        return np.tensordot(dS3, phi3, axes=([0, 2], [0, 2]))
    return np.matmul(dS3, phi3.transpose(0, 2, 1)).sum(axis=0)


def _grad_b_cols(dS: np.ndarray, shape: LayerShape, form: str) -> np.ndarray:
    """(5), summed over the columns."""
    if form == "kron":
        return (ones_kron_I(shape, dS.dtype).T @ dS).sum(axis=1)
    return dS.reshape(shape.n_windows, shape.d_out, -1).sum(axis=(0, 2))     # vec(dS 1)


def _grad_Z_cols(dS: np.ndarray, W: np.ndarray, shape: LayerShape, form: str,
                 IW: sp.csr_array | None = None) -> np.ndarray:
    """(8) or (9) on columns (``IW``: ``I ⊗ W`` if already built)."""
    if form == "kron":                                        # (I ⊗ W)^T vec(dS)
        g_phi = (I_kron_W(W, shape) if IW is None else IW).T @ dS
    elif dS.shape[1] <= _SMALL_BATCH:                         # vec(W^T dS), one product
        dS3 = dS.reshape(shape.n_windows, shape.d_out, -1)
        g_phi = np.tensordot(dS3, W, axes=([1], [0])).transpose(0, 2, 1)
    else:                                                     # vec(W^T dS), per window
        g_phi = np.matmul(W.T, dS.reshape(shape.n_windows, shape.d_out, -1))
    return P_pad(shape, dS.dtype).T @ (P_phi(shape, dS.dtype).T @ g_phi.reshape(shape.n_phi, -1))


def _backward_cols(dZc: np.ndarray, W: np.ndarray, cache: LayerCache, form: str,
                   need_dZ: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(7), then (1) and (5), then (8)/(9), on columns (``need_dZ=False`` skips (8)/(9))."""
    shape = cache.shape
    dS = _grad_S_cols(dZc, cache)                                     # (7)
    return (_grad_W_cols(dS, cache.phi, shape, form),                 # (1)
            _grad_b_cols(dS, shape, form),                            # (5)
            _grad_Z_cols(dS, W, shape, form, cache.I_kron_W) if need_dZ else None)  # (8), (9)


# --- either backend: the network runs a layer through these -------------------------------
# The sparse chain keeps instance columns from layer to layer; the dense path keeps its
# channel-first arrays (kronconv.dense). _enter/_leave convert at the ends of a run.


def _enter(Zc: np.ndarray, a: int, b: int, d: int, backend: str) -> np.ndarray:
    """Instance columns of (d, a, b) images into the backend's own layout."""
    return Zc if backend == "sparse" else dense.cm_from_cols(Zc, a, b, d)


def _leave(X: np.ndarray, backend: str) -> np.ndarray:
    """The backend's layout back to instance columns."""
    return X if backend == "sparse" else dense.cols_from_cm(X)


def _forward_layer(X: np.ndarray, W: np.ndarray, b: np.ndarray, shape: LayerShape,
                   act: Activation, keep: bool, backend: str):
    if backend == "dense":
        return dense.forward_cm(X, W, b, shape, act, keep)
    return _forward_cols(X, W, b, shape, act, keep)


def _R_forward_cols(RZc: np.ndarray | None, VW: np.ndarray, vb: np.ndarray, W: np.ndarray,
                    cache: LayerCache) -> np.ndarray:
    """The R-operator of one layer on columns, with the sparse operators:

    ``R(vec S) = (I ⊗ W) P_phi P_pad R(vec Z) + (phi^T ⊗ I) vec(V_W) + (1 ⊗ I) v_b``, the
    middle term computed as ``(I ⊗ V_W) vec(phi)`` (identities (2), (3)); then
    ``R(vec sigma(S)) = vec(sigma'(S)) ⊙ R(vec S)`` and the forward pass's ``P_pool``.
    ``RZc=None`` means ``R(Z) = 0`` (the images).
    """
    shape = cache.shape
    RS = I_kron_W(VW, shape) @ cache.phi + (ones_kron_I(shape, cache.phi.dtype) @ vb)[:, None]
    if RZc is not None:
        RS += cache.I_kron_W @ _phi_cols(RZc, shape)
    return _apply_cols(cache.P_pool, cache.dsigma_S * RS, shape.n_out)


def _R_forward_layer(RX: np.ndarray | None, VW: np.ndarray, vb: np.ndarray, W: np.ndarray,
                     cache: LayerCache | DenseCache) -> np.ndarray:
    """The R-operator of the cache's backend."""
    if isinstance(cache, DenseCache):
        return dense.R_forward_cm(RX, VW, vb, W, cache)
    return _R_forward_cols(RX, VW, vb, W, cache)


def _backward_layer(dX: np.ndarray, W: np.ndarray, cache: LayerCache | DenseCache, form: str,
                    need_dZ: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The backward pass of the cache's backend; ``need_dZ=False`` skips (8)/(9)."""
    if isinstance(cache, DenseCache):
        if form != "vec":
            raise ValueError(f"form={form!r} needs the sparse backend's cache; the dense "
                             "backend computes the vec forms")
        return dense.backward_cm(dX, W, cache, need_dZ)
    return _backward_cols(dX, W, cache, form, need_dZ)


# --- forward ------------------------------------------------------------------------------


def phi_pad(Z: np.ndarray, shape: LayerShape) -> np.ndarray:
    """``phi(pad(Z))``: ``vec(phi(pad(Z))) = P_phi P_pad vec(Z)``.

    Parameters
    ----------
    Z : ndarray of shape (d, a*b*N)
    shape : LayerShape

    Returns
    -------
    phi : ndarray of shape (h*h*d, a_conv*b_conv*N)
        Column ``u + a_conv*w`` (of each instance) is the window with top-left pixel
        ``(u*s, w*s)`` of the padded image.

    Examples
    --------
    >>> import numpy as np
    >>> s = LayerShape(a=3, b=3, d=1, d_out=1, h=2)
    >>> phi_pad(np.arange(9.0).reshape(1, 9), s)[:, 0]    # the top-left 2x2 window
    array([0., 1., 3., 4.])
    """
    Z, _ = _check_Z(Z, shape)
    return _mat(_phi_cols(_cols(Z, shape.n_in), shape), shape.W_shape[1])


def conv_S(Z: np.ndarray, W: np.ndarray, b: np.ndarray, shape: LayerShape,
           form: ForwardForm = "I_kron_W") -> np.ndarray:
    """The convolution ``S = W phi(pad(Z)) + b 1^T``, in either of the slides' two forms.

    - ``form="I_kron_W"``:
      ``vec(S) = (I_{a_conv b_conv} ⊗ W) P_phi P_pad vec(Z) + (1_{a_conv b_conv} ⊗ I_{d_out}) b``
    - ``form="phiT_kron_I"``:
      ``vec(S) = (phi(pad(Z))^T ⊗ I_{d_out}) vec(W) + (1_{a_conv b_conv} ⊗ I_{d_out}) b``

    Parameters
    ----------
    Z : ndarray of shape (d, a*b*N)
    W : ndarray of shape (d_out, h*h*d)
    b : ndarray of shape (d_out,)
    shape : LayerShape
    form : {"I_kron_W", "phiT_kron_I"}

    Returns
    -------
    S : ndarray of shape (d_out, a_conv*b_conv*N)

    Raises
    ------
    ValueError
        If an argument's shape does not fit ``shape`` (the message gives the expected shape).

    Examples
    --------
    >>> import numpy as np
    >>> s = LayerShape(a=2, b=2, d=1, d_out=1, h=2)
    >>> conv_S(np.ones((1, 4)), np.array([[1.0, 2.0, 3.0, 4.0]]), np.array([0.5]), s)
    array([[10.5]])
    """
    _check_form(form, ("I_kron_W", "phiT_kron_I"))
    Z, N = _check_Z(Z, shape)
    W, b = _check_Wb(W, b, shape, Z.dtype)
    phi = _phi_cols(_cols(Z, shape.n_in), shape)
    if form == "I_kron_W":
        return _mat(_S_cols(phi, I_kron_W(W, shape), b, shape), shape.d_out)
    bias = ones_kron_I(shape, Z.dtype) @ b
    S = (phiT_kron_I(_mat(phi, shape.W_shape[1]), shape.d_out) @ W.reshape(-1, order="F")
         + np.tile(bias, N))
    return _mat(S, shape.d_out)


def pool(sigma_S: np.ndarray, shape: LayerShape) -> np.ndarray:
    """Pooling: ``Z^{m+1} = mat(P_pool vec(sigma(S)))`` for every instance.

    Parameters
    ----------
    sigma_S : ndarray of shape (d_out, a_conv*b_conv*N)
    shape : LayerShape

    Returns
    -------
    Z_next : ndarray of shape (d_out, a_out*b_out*N)

    Examples
    --------
    >>> import numpy as np
    >>> s = LayerShape(a=2, b=2, d=1, d_out=1, h=1, pool="max", pool_size=2)
    >>> pool(np.array([[1.0, 4.0, 3.0, 2.0]]), s)
    array([[4.]])
    """
    check_layer_shape(shape)
    sigma_S = as_float_array(sigma_S, "sigma_S")
    batch_size(sigma_S, shape.d_out, shape.n_windows, "sigma_S", "(d_out, a_conv*b_conv*N)")
    sigma = _cols(sigma_S, shape.n_S)
    return _mat(_apply_cols(_pool_operator(shape, sigma), sigma, shape.n_out), shape.d_out)


def _forward_public(Z: object, W: object, b: object, shape: LayerShape,
                    activation: str | Activation, backend: str, keep: bool):
    """:func:`forward` and :func:`layer_output`: check, run on columns, return batch matrices."""
    act = get_activation(activation)
    _check_backend(backend)
    Z, N = _check_Z(Z, shape)
    W, b = _check_Wb(W, b, shape, Z.dtype)
    check_memory((shape.n_phi + 3 * shape.n_S) * N * Z.dtype.itemsize,
                 f"one layer's forward pass on {N} instances of {shape}",
                 "use a smaller batch, or the dense backend")
    X = _enter(_cols(Z, shape.n_in), shape.a, shape.b, shape.d, backend)
    Z_next, cache = _forward_layer(X, W, b, shape, act, keep, backend)
    return _mat(_leave(Z_next, backend), shape.d_out), cache


def forward(Z: np.ndarray, W: np.ndarray, b: np.ndarray, shape: LayerShape,
            activation: str | Activation = "relu",
            backend: Backend = "sparse") -> tuple[np.ndarray, LayerCache | DenseCache]:
    """Forward pass of one layer: padding -> convolution -> sigma -> pooling (equation (6)).

    ``vec(phi) = P_phi P_pad vec(Z)``, ``vec(S) = (I ⊗ W) vec(phi) + (1 ⊗ I) b``,
    ``Z^{m+1} = mat(P_pool vec(sigma(S)))``.

    Parameters
    ----------
    Z : ndarray of shape (d, a*b*N)
    W : ndarray of shape (d_out, h*h*d)
    b : ndarray of shape (d_out,)
    shape : LayerShape
    activation : str or Activation, default "relu"
    backend : {"sparse", "dense"}, default "sparse"
        "sparse" multiplies by the operators of :mod:`kronconv.operators`; "dense" computes
        the same numbers with gathers, slices and one matrix product per window
        (:mod:`kronconv.dense`).

    Returns
    -------
    Z_next : ndarray of shape (d_out, a_out*b_out*N)
        ``Z^{m+1}``.
    cache : LayerCache or DenseCache
        ``phi(pad(Z))``, ``sigma'(S)`` and the pooling choice, for :func:`backward`.

    Raises
    ------
    ValueError
        If an argument's shape does not fit ``shape``.
    TypeError
        If an array is not real floating point, or the dtypes of ``Z``, ``W``, ``b`` differ.

    See Also
    --------
    layer_output : ``Z^{m+1}`` alone, keeping nothing for a backward pass.

    Examples
    --------
    >>> import numpy as np
    >>> s = LayerShape(a=4, b=4, d=1, d_out=1, h=1, pool="max", pool_size=2)
    >>> Z_next, cache = forward(np.arange(16.0).reshape(1, 16), np.eye(1), np.array([-5.0]), s)
    >>> Z_next
    array([[ 0.,  2.,  8., 10.]])
    """
    Z_next, cache = _forward_public(Z, W, b, shape, activation, backend, keep=True)
    return Z_next, cache


def layer_output(Z: np.ndarray, W: np.ndarray, b: np.ndarray, shape: LayerShape,
                 activation: str | Activation = "relu", backend: Backend = "sparse"
                 ) -> np.ndarray:
    """``Z^{m+1}`` of one layer, as :func:`forward` computes it, with no backward state.

    Parameters
    ----------
    Z, W, b, shape, activation, backend
        As for :func:`forward`.

    Returns
    -------
    Z_next : ndarray of shape (d_out, a_out*b_out*N)

    Examples
    --------
    >>> import numpy as np
    >>> s = LayerShape(a=4, b=4, d=1, d_out=1, h=1, pool="average", pool_size=2)
    >>> layer_output(np.arange(16.0).reshape(1, 16), np.eye(1), np.zeros(1), s)
    array([[ 2.5,  4.5, 10.5, 12.5]])
    """
    return _forward_public(Z, W, b, shape, activation, backend, keep=False)[0]


# --- backward -----------------------------------------------------------------------------


def grad_S(dZ_next: np.ndarray, cache: LayerCache) -> np.ndarray:
    """Equation (7): ``∂ξ/∂vec(S)^T = (∂ξ/∂vec(Z^{m+1})^T P_pool) ⊙ vec(sigma'(S))^T``.

    Parameters
    ----------
    dZ_next : ndarray of shape (d_out, a_out*b_out*N)
        ``∂ξ/∂Z^{m+1}``.
    cache : LayerCache or DenseCache
        From the layer's :func:`forward` (gives ``P_pool`` and ``sigma'(S)``).

    Returns
    -------
    dS : ndarray of shape (d_out, a_conv*b_conv*N)

    Examples
    --------
    >>> import numpy as np
    >>> s = LayerShape(a=2, b=2, d=1, d_out=1, h=1, pool="max", pool_size=2)
    >>> _, cache = forward(np.array([[1.0, -4.0, 3.0, 2.0]]), np.eye(1), np.zeros(1), s)
    >>> grad_S(np.array([[10.0]]), cache)      # routed to the maximum, entry 2
    array([[ 0.,  0., 10.,  0.]])
    """
    shape = _check_dZ_next(dZ_next, cache)
    dZc = _cols(np.asarray(dZ_next), shape.n_out)
    if isinstance(cache, DenseCache):
        dY = dense.cm_from_cols(dZc, shape.a_out, shape.b_out, shape.d_out)
        return _mat(dense.cols_from_cm(dense.grad_S_cm(dY, cache)), shape.d_out)
    return _mat(_grad_S_cols(dZc, cache), shape.d_out)


def _check_dZ_next(dZ_next: object, cache: object) -> LayerShape:
    if not isinstance(cache, (LayerCache, DenseCache)):
        raise TypeError(f"cache must be the LayerCache or DenseCache from forward(), "
                        f"got {type(cache).__name__}")
    shape = cache.shape
    dZ_next = as_float_array(dZ_next, "dZ_next", cache.phi.dtype)
    check_shape(dZ_next, (shape.d_out, shape.a_out * shape.b_out * cache.N), "dZ_next",
                "(d_out, a_out*b_out*N)")
    return shape


def _check_dS(dS: object, shape: LayerShape) -> np.ndarray:
    check_layer_shape(shape)
    dS = as_float_array(dS, "dS")
    batch_size(dS, shape.d_out, shape.n_windows, "dS", "(d_out, a_conv*b_conv*N)")
    return _cols(dS, shape.n_S)


def grad_W(dS: np.ndarray, phi: np.ndarray, shape: LayerShape,
           form: BackwardForm = "vec") -> np.ndarray:
    """Equation (1): the gradient with respect to ``W``.

    - ``form="kron"``: ``∂ξ/∂vec(W)^T = ∂ξ/∂vec(S)^T (phi(pad(Z))^T ⊗ I_{d_out})``
    - ``form="vec"``:  ``∂ξ/∂vec(W)^T = vec(∂ξ/∂S phi(pad(Z))^T)^T``

    Parameters
    ----------
    dS : ndarray of shape (d_out, a_conv*b_conv*N)
    phi : ndarray of shape (h*h*d, a_conv*b_conv*N)
        ``phi(pad(Z))``, as :func:`phi_pad` gives it.
    shape : LayerShape
    form : {"vec", "kron"}, default "vec"

    Returns
    -------
    dW : ndarray of shape (d_out, h*h*d)
        Summed over the instances of a batch.

    Notes
    -----
    The Kronecker form builds ``phi^T ⊗ I_{d_out}`` explicitly: ``d_out`` times the entries
    of ``phi`` (for a 64-channel layer on a batch, 64 times the memory of ``phi``). It is
    the literal operator of the slides; the vec form, the default, gives the same numbers
    with one product per window.

    Examples
    --------
    >>> import numpy as np
    >>> s = LayerShape(a=2, b=1, d=1, d_out=1, h=1)
    >>> grad_W(np.array([[1.0, 2.0]]), np.array([[3.0, 4.0]]), s)
    array([[11.]])
    """
    _check_form(form, ("kron", "vec"))
    dS = _check_dS(dS, shape)
    phi = as_float_array(phi, "phi", dS.dtype)
    check_shape(phi, (shape.W_shape[1], shape.n_windows * dS.shape[1]), "phi",
                "(h*h*d, a_conv*b_conv*N)")
    return _grad_W_cols(dS, _cols(phi, shape.n_phi), shape, form)


def grad_b(dS: np.ndarray, shape: LayerShape, form: BackwardForm = "vec") -> np.ndarray:
    """Equation (5): the gradient with respect to ``b``.

    - ``form="kron"``: ``∂ξ/∂b^T = ∂ξ/∂vec(S)^T (1_{a_conv b_conv} ⊗ I_{d_out})``
    - ``form="vec"``:  ``∂ξ/∂b^T = vec(∂ξ/∂S 1_{a_conv b_conv})^T``

    Parameters
    ----------
    dS : ndarray of shape (d_out, a_conv*b_conv*N)
    shape : LayerShape
    form : {"vec", "kron"}, default "vec"

    Returns
    -------
    db : ndarray of shape (d_out,)
        Summed over the instances of a batch.

    Examples
    --------
    >>> import numpy as np
    >>> s = LayerShape(a=2, b=1, d=1, d_out=1, h=1)
    >>> grad_b(np.array([[1.0, 2.0]]), s)
    array([3.])
    """
    _check_form(form, ("kron", "vec"))
    return _grad_b_cols(_check_dS(dS, shape), shape, form)


def grad_Z(dS: np.ndarray, W: np.ndarray, shape: LayerShape,
           form: BackwardForm = "vec") -> np.ndarray:
    """Equations (8) and (9): the gradient passed to the previous layer.

    - ``form="kron"``, (8): ``∂ξ/∂vec(Z)^T = ∂ξ/∂vec(S)^T (I_{a_conv b_conv} ⊗ W) P_phi P_pad``
    - ``form="vec"``, (9):  ``∂ξ/∂vec(Z)^T = vec(W^T ∂ξ/∂S)^T P_phi P_pad``

    Parameters
    ----------
    dS : ndarray of shape (d_out, a_conv*b_conv*N)
    W : ndarray of shape (d_out, h*h*d)
    shape : LayerShape
    form : {"vec", "kron"}, default "vec"

    Returns
    -------
    dZ : ndarray of shape (d, a*b*N)

    Examples
    --------
    >>> import numpy as np
    >>> s = LayerShape(a=2, b=1, d=1, d_out=1, h=2, padding=1, stride=2)
    >>> grad_Z(np.array([[1.0, 2.0]]), np.array([[1.0, 2.0, 3.0, 4.0]]), s)
    array([[4., 6.]])
    """
    _check_form(form, ("kron", "vec"))
    dS = _check_dS(dS, shape)
    W = as_float_array(W, "W", dS.dtype)
    check_shape(W, shape.W_shape, "W", "(d_out, h*h*d)")
    return _mat(_grad_Z_cols(dS, W, shape, form), shape.d)


def backward(dZ_next: np.ndarray, W: np.ndarray, cache: LayerCache,
             form: BackwardForm = "vec") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of one layer: equation (7), then (1) and (5), then (8)/(9).

    Parameters
    ----------
    dZ_next : ndarray of shape (d_out, a_out*b_out*N)
        ``∂ξ/∂Z^{m+1}``.
    W : ndarray of shape (d_out, h*h*d)
    cache : LayerCache or DenseCache
        From the layer's :func:`forward` on the same batch; its backend computes the
        backward pass too.
    form : {"vec", "kron"}, default "vec"
        For the sparse backend, which form of (1), (5) and (8)/(9) to use; both give the
        same numbers. "kron" builds the Kronecker operators ``phi^T ⊗ I``, ``1 ⊗ I`` and
        ``I ⊗ W``. The dense backend computes the vec forms.

    Returns
    -------
    dW : ndarray of shape (d_out, h*h*d)
    db : ndarray of shape (d_out,)
    dZ : ndarray of shape (d, a*b*N)

    Examples
    --------
    >>> import numpy as np
    >>> s = LayerShape(a=3, b=3, d=2, d_out=2, h=2, pool="average", pool_size=2)
    >>> rng = np.random.default_rng(0)
    >>> Z, W, b = rng.normal(size=(2, 9)), rng.normal(size=(2, 8)), np.zeros(2)
    >>> Z_next, cache = forward(Z, W, b, s)
    >>> dW, db, dZ = backward(np.ones_like(Z_next), W, cache)
    >>> dW.shape, db.shape, dZ.shape
    ((2, 8), (2,), (2, 9))
    """
    _check_form(form, ("kron", "vec"))
    shape = _check_dZ_next(dZ_next, cache)
    W = as_float_array(W, "W", cache.phi.dtype)
    check_shape(W, shape.W_shape, "W", "(d_out, h*h*d)")
    backend = "dense" if isinstance(cache, DenseCache) else "sparse"
    dX = _enter(_cols(np.asarray(dZ_next), shape.n_out), shape.a_out, shape.b_out, shape.d_out,
                backend)
    dW, db, dZ = _backward_layer(dX, W, cache, form)
    return dW, db, _mat(_leave(dZ, backend), shape.d)
