"""Losses ξ(z, y) on the network's last output z = z^{L+1,i} and an integer label y.

Each loss's value, gradient ``∂ξ/∂z`` and Hessian ``B = ∂²ξ/∂z∂z^T`` (the middle factor of
the Gauss-Newton matrix ``J^T B J``) live here side by side.
"""

from __future__ import annotations

import numpy as np

from ._validate import Array, Labels, Options, as_labels, validate_params

__all__ = ["LOSS", "LOSSES", "check_labels", "hessian_vector", "loss_and_grad",
           "loss_hessian_vector", "loss_terms", "loss_value", "softmax"]

LOSSES = ("squared", "cross_entropy")

#: The constraints of the arguments of the public functions: the loss's name, the outputs.
LOSS = Options(LOSSES)
OUTPUTS = Array("(n_classes, N)")


def check_labels(y: object, n_classes: int, N: int) -> np.ndarray:
    """``y`` as an int64 vector of ``N`` classes in ``[0, n_classes)``, else a clear error.

    Floats with integer values are classes (3.0 is the class 3).
    """
    arr = as_labels(y, "y")
    if arr.shape != (N,):
        raise ValueError(f"y must have shape (N,) = ({N},), one label per instance, "
                         f"got shape {arr.shape}")
    if N and (arr.min() < 0 or arr.max() >= n_classes):
        bad = arr[(arr < 0) | (arr >= n_classes)][0]
        raise ValueError(f"y must hold classes in [0, {n_classes}), got {bad}")
    return arr


def _log_softmax(z: np.ndarray) -> np.ndarray:
    """``z - logsumexp(z)`` over each column, stable for large logits."""
    shifted = z - z.max(axis=0, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))


def softmax(z: np.ndarray) -> np.ndarray:
    """``softmax(z)`` of every column, stable for large logits.

    Examples
    --------
    >>> import numpy as np
    >>> softmax(np.array([[0.0], [np.log(3.0)]])).ravel()
    array([0.25, 0.75])
    """
    return np.exp(_log_softmax(z))


def loss_terms(z: np.ndarray, y: np.ndarray, loss: str) -> tuple[np.ndarray, np.ndarray]:
    """ξ_i and ``∂ξ_i/∂z`` of checked arguments (``y`` from :func:`check_labels`).

    The objective calls it on outputs that may have overflowed (it reports that itself).
    """
    cols = np.arange(z.shape[1])
    if loss == "squared":
        diff = z.copy()
        diff[y, cols] -= 1
        return (diff * diff).sum(axis=0), 2 * diff
    log_p = _log_softmax(z)
    dz = np.exp(log_p)
    dz[y, cols] -= 1
    return -log_p[y, cols], dz


def hessian_vector(z: np.ndarray, u: np.ndarray, loss: str) -> np.ndarray:
    """``B_i u_i`` for every instance, of checked arguments."""
    if loss == "squared":
        return 2 * u
    p = softmax(z)
    return p * u - p * (p * u).sum(axis=0, keepdims=True)


@validate_params({"z": OUTPUTS, "y": Labels(), "loss": LOSS})
def loss_value(z: np.ndarray, y: np.ndarray, loss: str = "squared") -> np.ndarray:
    """ξ_i for every instance.

    - ``"squared"``: ``ξ = ||z - e_y||^2`` on the one-hot label (simpleNN; no 1/2).
    - ``"cross_entropy"``: ``ξ = -log softmax(z)_y = logsumexp(z) - z_y``.

    Parameters
    ----------
    z : ndarray of shape (n_classes, N)
        The last layer's outputs, one column per instance.
    y : ndarray of shape (N,)
        Integer classes.
    loss : {"squared", "cross_entropy"}

    Returns
    -------
    ndarray of shape (N,)

    Raises
    ------
    ValueError
        If ``z`` is not finite, or ``y`` does not hold one class in ``[0, n_classes)`` per
        column of ``z``, or ``loss`` is unknown.
    TypeError
        If ``z`` is not real floating point or ``y`` not integer labels.

    Examples
    --------
    >>> import numpy as np
    >>> loss_value(np.array([[0.5], [0.0]]), np.array([0]))
    array([0.25])
    """
    return loss_terms(z, check_labels(y, *z.shape), loss)[0]


@validate_params({"z": OUTPUTS, "y": Labels(), "loss": LOSS})
def loss_and_grad(z: np.ndarray, y: np.ndarray,
                  loss: str = "squared") -> tuple[np.ndarray, np.ndarray]:
    """ξ_i and ``∂ξ_i/∂z`` for every instance.

    ``∂ξ/∂z = 2 (z - e_y)`` for the squared loss and ``softmax(z) - e_y`` for cross-entropy.

    Parameters
    ----------
    z : ndarray of shape (n_classes, N)
    y : ndarray of shape (N,)
    loss : {"squared", "cross_entropy"}

    Returns
    -------
    xi : ndarray of shape (N,)
    dz : ndarray of shape (n_classes, N)

    Raises
    ------
    ValueError, TypeError
        As for :func:`loss_value`.

    Examples
    --------
    >>> import numpy as np
    >>> xi, dz = loss_and_grad(np.array([[0.0], [0.0]]), np.array([1]), "cross_entropy")
    >>> xi.round(4), dz.ravel()
    (array([0.6931]), array([ 0.5, -0.5]))
    """
    return loss_terms(z, check_labels(y, *z.shape), loss)


@validate_params({"z": OUTPUTS, "y": Labels(), "u": OUTPUTS, "loss": LOSS},
                 same_dtype=("z", "u"))
def loss_hessian_vector(z: np.ndarray, y: np.ndarray, u: np.ndarray,
                        loss: str = "squared") -> np.ndarray:
    """``B_i u_i`` for every instance, ``B_i = ∂²ξ_i/∂z∂z^T`` at ``z^{L+1,i}``.

    ``B = 2I`` for the squared loss and ``diag(p) - p p^T`` with ``p = softmax(z)`` for
    cross-entropy (both positive semi-definite: the Gauss-Newton matrix is too).

    Parameters
    ----------
    z : ndarray of shape (n_classes, N)
    y : ndarray of shape (N,)
        Checked; B does not depend on the labels for these losses.
    u : ndarray of shape (n_classes, N)
        In the dtype of ``z``.
    loss : {"squared", "cross_entropy"}

    Returns
    -------
    ndarray of shape (n_classes, N)

    Raises
    ------
    ValueError, TypeError
        As for :func:`loss_value`, and for ``u`` as for ``z``.

    Examples
    --------
    >>> import numpy as np
    >>> loss_hessian_vector(np.zeros((2, 1)), np.array([0]), np.array([[1.0], [0.0]]),
    ...                     "cross_entropy").ravel()
    array([ 0.25, -0.25])
    """
    check_labels(y, *z.shape)
    if u.shape != z.shape:
        raise ValueError(f"u must have the shape of z, (n_classes, N) = {z.shape}, "
                         f"got shape {u.shape}")
    return hessian_vector(z, u, loss)
