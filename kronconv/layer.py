"""One convolutional layer's equations, one public function each: check, run, return.

Every function takes and returns batch matrices, the instances side by side (``Z`` is
``(d, a*b*N)``, ``S`` is ``(d_out, a_conv*b_conv*N)``, ...; the conventions page of the
documentation pins every shape and index order), checks its arguments first, and runs the
equation on a backend of :mod:`kronconv.backends`: the sparse chain of operator products
(the default, :mod:`kronconv.sparse`) or the dense path (:mod:`kronconv.dense`).

Gradients are stored in the shape of what they differentiate with respect to:
``dS = ∂ξ/∂S`` has the shape of ``S``, and the row vector ``∂ξ/∂vec(S)^T`` of the slides is
``vec(dS)``. For a batch, ``dW`` and ``db`` are summed over the instances (Σ_i ∂ξ_i/∂W).
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from ._deprecated import moved
from ._docstrings import fill_docstrings
from ._validate import InstanceOf, batch_size, check_shape, validate_params
from .activations import ACTIVATION, Activation, get_activation
from .backends import (
    BACKEND,
    BACKENDS,
    FORM,
    FORWARD_FORM,
    Backend,
    BackwardForm,
    ForwardForm,
    backend_of,
    get_backend,
)
from .backends import backward as layer_backward
from .cache import LayerCache
from .layout import batch_from_columns, columns_from_batch
from .memory import check_memory, forward_bytes
from .shapes import BIAS, CONV_OUTPUT, IMAGES, LAYER_OUTPUT, PHI, SHAPE, WEIGHTS, LayerShape

__all__ = [
    "BACKENDS",
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


# --- from the public layout to a backend's and back --------------------------------------------


def _into(be: ModuleType, M: np.ndarray, a: int, b: int, d: int) -> np.ndarray:
    """The batch matrix ``M`` of ``(d, a, b)`` instances in the backend's layout."""
    return be.from_columns(columns_from_batch(M, a * b * d), a, b, d)


def _out(be: ModuleType, X: np.ndarray, rows: int) -> np.ndarray:
    """The backend's array ``X`` as a batch matrix with ``rows`` rows."""
    return batch_from_columns(be.to_columns(X), rows)


# --- argument checks ---------------------------------------------------------------------------
# The constraints of the arguments are declared once (kronconv.shapes); the shapes that depend
# on the LayerShape (or the cache) are checked here, with the same symbolic shapes.

CACHE = InstanceOf(LayerCache, "the LayerCache from forward()")


def _guard(shape: LayerShape, N: int, dtype: np.dtype, what: str, per_instance: int) -> None:
    """Refuse, before allocating, a layer's pass on ``N`` instances above the memory limit;
    ``per_instance`` entries are allocated for each instance."""
    check_memory(per_instance * N * np.dtype(dtype).itemsize,
                 f"{what} on {N} instances of {shape}", "use a smaller batch, or the dense backend")


def _batch_Z(Z: np.ndarray, shape: LayerShape) -> int:
    return batch_size(Z, shape.d, shape.a * shape.b, "Z", IMAGES.shape)


def _batch_dS(dS: np.ndarray, shape: LayerShape, name: str = "dS") -> int:
    return batch_size(dS, shape.d_out, shape.n_windows, name, CONV_OUTPUT.shape)


def _check_W_b(W: np.ndarray, b: np.ndarray | None, shape: LayerShape) -> None:
    check_shape(W, shape.W_shape, "W", WEIGHTS.shape)
    if b is not None:
        check_shape(b, (shape.d_out,), "b", BIAS.shape)


def _dZ_next(dZ_next: np.ndarray, cache: LayerCache) -> tuple[ModuleType, np.ndarray]:
    """The backend of ``cache`` and ``dZ_next`` (checked for its shape) in its layout."""
    be, shape = backend_of(cache), cache.shape
    check_shape(dZ_next, (shape.d_out, shape.a_out * shape.b_out * cache.N), "dZ_next",
                LAYER_OUTPUT.shape)
    return be, _into(be, dZ_next, shape.a_out, shape.b_out, shape.d_out)


# --- forward -----------------------------------------------------------------------------------


@validate_params({"Z": IMAGES, "shape": SHAPE, "backend": BACKEND})
def phi_pad(Z: np.ndarray, shape: LayerShape, backend: Backend = "sparse") -> np.ndarray:
    """``phi(pad(Z))``: ``vec(phi(pad(Z))) = P_phi P_pad vec(Z)``.

    Parameters
    ----------
    Z : ndarray of shape (d, a*b*N)
    shape : LayerShape
    backend : {"sparse", "dense"}, default "sparse"

    Returns
    -------
    phi : ndarray of shape (h*h*d, a_conv*b_conv*N)
        Column ``u + a_conv*w`` (of each instance) is the window with top-left pixel
        ``(u*s, w*s)`` of the padded image.

    Raises
    ------
    %(raises_layer)s

    Examples
    --------
    >>> import numpy as np
    >>> s = LayerShape(a=3, b=3, d=1, d_out=1, h=2)
    >>> phi_pad(np.arange(9.0).reshape(1, 9), s)[:, 0]    # the top-left 2x2 window
    array([0., 1., 3., 4.])
    """
    be = get_backend(backend)
    _guard(shape, _batch_Z(Z, shape), Z.dtype, "phi(pad(Z))", shape.n_in + shape.n_phi)
    return _out(be, be.phi_pad(_into(be, Z, shape.a, shape.b, shape.d), shape), shape.W_shape[1])


@validate_params({"Z": IMAGES, "W": WEIGHTS, "b": BIAS, "shape": SHAPE,
                  "form": FORWARD_FORM, "backend": BACKEND}, same_dtype=("Z", "W", "b"))
def conv_S(Z: np.ndarray, W: np.ndarray, b: np.ndarray, shape: LayerShape,
           form: ForwardForm = "I_kron_W", backend: Backend = "sparse") -> np.ndarray:
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
    form : {"I_kron_W", "phiT_kron_I"}, default "I_kron_W"
        The sparse chain's two products; the dense backend computes ``W phi`` only.
    backend : {"sparse", "dense"}, default "sparse"

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
    be = get_backend(backend)
    N = _batch_Z(Z, shape)
    _check_W_b(W, b, shape)
    _guard(shape, N, Z.dtype, "the convolution", shape.n_in + shape.n_phi + 2 * shape.n_S)
    phi = be.phi_pad(_into(be, Z, shape.a, shape.b, shape.d), shape)
    return _out(be, be.conv_S(phi, W, b, shape, form), shape.d_out)


@validate_params({"sigma_S": CONV_OUTPUT, "shape": SHAPE, "backend": BACKEND})
def pool(sigma_S: np.ndarray, shape: LayerShape, backend: Backend = "sparse") -> np.ndarray:
    """Pooling: ``Z^{m+1} = mat(P_pool vec(sigma(S)))`` for every instance.

    Parameters
    ----------
    sigma_S : ndarray of shape (d_out, a_conv*b_conv*N)
    shape : LayerShape
    backend : {"sparse", "dense"}, default "sparse"

    Returns
    -------
    Z_next : ndarray of shape (d_out, a_out*b_out*N)

    Raises
    ------
    %(raises_layer)s

    Examples
    --------
    >>> import numpy as np
    >>> s = LayerShape(a=2, b=2, d=1, d_out=1, h=1, pool="max", pool_size=2)
    >>> pool(np.array([[1.0, 4.0, 3.0, 2.0]]), s)
    array([[4.]])
    """
    be = get_backend(backend)
    _guard(shape, _batch_dS(sigma_S, shape, "sigma_S"), sigma_S.dtype, "pooling",
           shape.n_S + shape.n_out)
    X = _into(be, sigma_S, shape.a_conv, shape.b_conv, shape.d_out)
    return _out(be, be.pool(X, shape)[0], shape.d_out)


def _forward(Z: np.ndarray, W: np.ndarray, b: np.ndarray, shape: LayerShape,
             activation: str | Activation,
             backend: str, keep: bool) -> tuple[np.ndarray, LayerCache | None]:
    """:func:`forward` and :func:`layer_output` on checked arguments: the shapes, then run on
    the backend."""
    act = get_activation(activation)
    be = get_backend(backend)
    N = _batch_Z(Z, shape)
    _check_W_b(W, b, shape)
    check_memory(forward_bytes([shape], N, Z.dtype, keep),
                 f"one layer's forward pass on {N} instances of {shape}",
                 "use a smaller batch, or the dense backend")
    Z_next, cache = be.forward(_into(be, Z, shape.a, shape.b, shape.d), W, b, shape, act, keep)
    return _out(be, Z_next, shape.d_out), cache


@validate_params({"Z": IMAGES, "W": WEIGHTS, "b": BIAS, "shape": SHAPE,
                  "activation": ACTIVATION, "backend": BACKEND}, same_dtype=("Z", "W", "b"))
def forward(Z: np.ndarray, W: np.ndarray, b: np.ndarray, shape: LayerShape,
            activation: str | Activation = "relu",
            backend: Backend = "sparse") -> tuple[np.ndarray, LayerCache]:
    """Forward pass of one layer: padding -> convolution -> sigma -> pooling.

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
        the same numbers with a gather, one matrix product for the whole batch and strided
        slices (:mod:`kronconv.dense`).

    Returns
    -------
    Z_next : ndarray of shape (d_out, a_out*b_out*N)
        ``Z^{m+1}``.
    cache : LayerCache
        ``phi(pad(Z))``, ``sigma'(S)`` and the pooling as applied, for :func:`backward`;
        it records the backend, which the backward pass then uses.

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
    return _forward(Z, W, b, shape, activation, backend, keep=True)


@validate_params({"Z": IMAGES, "W": WEIGHTS, "b": BIAS, "shape": SHAPE,
                  "activation": ACTIVATION, "backend": BACKEND}, same_dtype=("Z", "W", "b"))
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

    Raises
    ------
    %(raises_layer)s

    Examples
    --------
    >>> import numpy as np
    >>> s = LayerShape(a=4, b=4, d=1, d_out=1, h=1, pool="average", pool_size=2)
    >>> layer_output(np.arange(16.0).reshape(1, 16), np.eye(1), np.zeros(1), s)
    array([[ 2.5,  4.5, 10.5, 12.5]])
    """
    return _forward(Z, W, b, shape, activation, backend, keep=False)[0]


# --- backward ----------------------------------------------------------------------------------


@validate_params({"dZ_next": LAYER_OUTPUT, "cache": CACHE}, same_dtype=("cache", "dZ_next"))
def grad_S(dZ_next: np.ndarray, cache: LayerCache) -> np.ndarray:
    """Equation (7): ``∂ξ/∂vec(S)^T = (∂ξ/∂vec(Z^{m+1})^T P_pool) ⊙ vec(sigma'(S))^T``.

    Parameters
    ----------
    dZ_next : ndarray of shape (d_out, a_out*b_out*N)
        ``∂ξ/∂Z^{m+1}``.
    cache : LayerCache
        From the layer's :func:`forward` (gives ``P_pool`` and ``sigma'(S)``); its backend
        computes (7).

    Returns
    -------
    dS : ndarray of shape (d_out, a_conv*b_conv*N)

    Raises
    ------
    %(raises_layer)s

    Examples
    --------
    >>> import numpy as np
    >>> s = LayerShape(a=2, b=2, d=1, d_out=1, h=1, pool="max", pool_size=2)
    >>> _, cache = forward(np.array([[1.0, -4.0, 3.0, 2.0]]), np.eye(1), np.zeros(1), s)
    >>> grad_S(np.array([[10.0]]), cache)      # routed to the maximum, entry 2
    array([[ 0.,  0., 10.,  0.]])
    """
    be, dY = _dZ_next(dZ_next, cache)
    return _out(be, be.grad_S(dY, cache), cache.shape.d_out)


@validate_params({"dS": CONV_OUTPUT, "phi": PHI, "shape": SHAPE, "form": FORM, "backend": BACKEND},
                 same_dtype=("dS", "phi"))
def grad_W(dS: np.ndarray, phi: np.ndarray, shape: LayerShape, form: BackwardForm = "vec",
           backend: Backend = "sparse") -> np.ndarray:
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
        The dense backend computes the vec form.
    backend : {"sparse", "dense"}, default "sparse"

    Returns
    -------
    dW : ndarray of shape (d_out, h*h*d)
        Summed over the instances of a batch.

    Notes
    -----
    The Kronecker form builds ``phi^T ⊗ I_{d_out}`` explicitly: ``d_out`` times the entries
    of ``phi`` (for a 64-channel layer on a batch, 64 times the memory of ``phi``). It is
    the literal operator of the slides; the vec form, the default, gives the same numbers
    from one contraction.

    Raises
    ------
    %(raises_layer)s

    Examples
    --------
    >>> import numpy as np
    >>> s = LayerShape(a=2, b=1, d=1, d_out=1, h=1)
    >>> grad_W(np.array([[1.0, 2.0]]), np.array([[3.0, 4.0]]), s)
    array([[11.]])
    """
    be = get_backend(backend)
    N = _batch_dS(dS, shape)
    check_shape(phi, (shape.W_shape[1], shape.n_windows * N), "phi", PHI.shape)
    _guard(shape, N, dS.dtype, "the gradient with respect to W", shape.n_S + shape.n_phi)
    return be.grad_W(_into(be, dS, shape.a_conv, shape.b_conv, shape.d_out),
                     _into(be, phi, shape.a_conv, shape.b_conv, shape.W_shape[1]), shape, form)


@validate_params({"dS": CONV_OUTPUT, "shape": SHAPE, "form": FORM, "backend": BACKEND})
def grad_b(dS: np.ndarray, shape: LayerShape, form: BackwardForm = "vec",
           backend: Backend = "sparse") -> np.ndarray:
    """Equation (5): the gradient with respect to ``b``.

    - ``form="kron"``: ``∂ξ/∂b^T = ∂ξ/∂vec(S)^T (1_{a_conv b_conv} ⊗ I_{d_out})``
    - ``form="vec"``:  ``∂ξ/∂b^T = vec(∂ξ/∂S 1_{a_conv b_conv})^T``

    Parameters
    ----------
    dS : ndarray of shape (d_out, a_conv*b_conv*N)
    shape : LayerShape
    form : {"vec", "kron"}, default "vec"
    backend : {"sparse", "dense"}, default "sparse"

    Returns
    -------
    db : ndarray of shape (d_out,)
        Summed over the instances of a batch.

    Raises
    ------
    %(raises_layer)s

    Examples
    --------
    >>> import numpy as np
    >>> s = LayerShape(a=2, b=1, d=1, d_out=1, h=1)
    >>> grad_b(np.array([[1.0, 2.0]]), s)
    array([3.])
    """
    be = get_backend(backend)
    _guard(shape, _batch_dS(dS, shape), dS.dtype, "the gradient with respect to b", shape.n_S)
    return be.grad_b(_into(be, dS, shape.a_conv, shape.b_conv, shape.d_out), shape, form)


@validate_params({"dS": CONV_OUTPUT, "W": WEIGHTS, "shape": SHAPE, "form": FORM,
                  "backend": BACKEND}, same_dtype=("dS", "W"))
def grad_Z(dS: np.ndarray, W: np.ndarray, shape: LayerShape, form: BackwardForm = "vec",
           backend: Backend = "sparse") -> np.ndarray:
    """Equations (8) and (9): the gradient passed to the previous layer.

    - ``form="kron"``, (8): ``∂ξ/∂vec(Z)^T = ∂ξ/∂vec(S)^T (I_{a_conv b_conv} ⊗ W) P_phi P_pad``
    - ``form="vec"``, (9):  ``∂ξ/∂vec(Z)^T = vec(W^T ∂ξ/∂S)^T P_phi P_pad``

    Parameters
    ----------
    dS : ndarray of shape (d_out, a_conv*b_conv*N)
    W : ndarray of shape (d_out, h*h*d)
    shape : LayerShape
    form : {"vec", "kron"}, default "vec"
    backend : {"sparse", "dense"}, default "sparse"

    Returns
    -------
    dZ : ndarray of shape (d, a*b*N)

    Raises
    ------
    %(raises_layer)s

    Examples
    --------
    >>> import numpy as np
    >>> s = LayerShape(a=2, b=1, d=1, d_out=1, h=2, padding=1, stride=2)
    >>> grad_Z(np.array([[1.0, 2.0]]), np.array([[1.0, 2.0, 3.0, 4.0]]), s)
    array([[4., 6.]])
    """
    be = get_backend(backend)
    N = _batch_dS(dS, shape)
    _check_W_b(W, None, shape)
    _guard(shape, N, dS.dtype, "the gradient with respect to Z",
           shape.n_S + shape.n_phi + shape.n_pad + shape.n_in)
    dZ = be.grad_Z(_into(be, dS, shape.a_conv, shape.b_conv, shape.d_out), W, shape, form)
    return _out(be, dZ, shape.d)


@validate_params({"dZ_next": LAYER_OUTPUT, "W": WEIGHTS, "cache": CACHE, "form": FORM},
                 same_dtype=("cache", "dZ_next", "W"))
def backward(dZ_next: np.ndarray, W: np.ndarray, cache: LayerCache,
             form: BackwardForm = "vec") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of one layer: equation (7), then (1) and (5), then (8)/(9).

    Parameters
    ----------
    dZ_next : ndarray of shape (d_out, a_out*b_out*N)
        ``∂ξ/∂Z^{m+1}``.
    W : ndarray of shape (d_out, h*h*d)
    cache : LayerCache
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

    Raises
    ------
    %(raises_layer)s

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
    be, dY = _dZ_next(dZ_next, cache)
    _check_W_b(W, None, cache.shape)
    dW, db, dZ = layer_backward(dY, W, cache, form)
    return dW, db, _out(be, dZ, cache.shape.d)


__getattr__ = moved('kronconv.layer', {
    'DenseCache': 'cache:LayerCache',
})

fill_docstrings(globals())
