"""Scalar activations sigma with their derivatives sigma' (equation (7)'s general form)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from ._validate import Options, validate_params

__all__ = ["ACTIVATION", "ACTIVATIONS", "Activation", "get_activation"]


@dataclass(frozen=True)
class Activation:
    """A scalar activation applied entry-wise, with its derivative.

    Parameters
    ----------
    name : str
    sigma : callable
        ``sigma(S)``, entry-wise, same shape and dtype as ``S``.
    dsigma : callable
        ``sigma'(S)``, entry-wise, evaluated at ``S`` (not at ``sigma(S)``).

    Examples
    --------
    >>> import numpy as np
    >>> cube = Activation("cube", lambda s: s**3, lambda s: 3 * s**2)
    >>> cube.dsigma(np.array([2.0]))
    array([12.])
    """

    name: str
    sigma: Callable[[np.ndarray], np.ndarray]
    dsigma: Callable[[np.ndarray], np.ndarray]

    def __call__(self, S: np.ndarray) -> np.ndarray:
        """``sigma(S)``, checked to be entry-wise and returned in the dtype of ``S``."""
        return self._entrywise(self.sigma, S, "sigma")

    def derivative(self, S: np.ndarray) -> np.ndarray:
        """``sigma'(S)``, checked to be entry-wise and returned in the dtype of ``S``."""
        return self._entrywise(self.dsigma, S, "dsigma")

    def _entrywise(self, f: Callable[[np.ndarray], np.ndarray], S: np.ndarray,
                   which: str) -> np.ndarray:
        out = np.asarray(f(S))
        if out.shape != S.shape:
            raise ValueError(f"activation {self.name!r}: {which}(S) must have the shape of S, "
                             f"{S.shape}, got {out.shape}")
        return out.astype(S.dtype, copy=False)


def _leaky(S: np.ndarray, slope: float = 0.01) -> np.ndarray:
    return np.where(S > 0, S, S.dtype.type(slope) * S)


ACTIVATIONS: dict[str, Activation] = {
    act.name: act
    for act in (
        # the slides' convention: sigma'(0) = 0 for ReLU
        Activation("relu", lambda S: np.maximum(S, 0), lambda S: (S > 0).astype(S.dtype)),
        Activation("leaky_relu", _leaky,
                   lambda S: np.where(S > 0, S.dtype.type(1), S.dtype.type(0.01))),
        Activation("tanh", np.tanh, lambda S: 1 - np.tanh(S) ** 2),
        Activation("sigmoid", expit, lambda S: expit(S) * expit(-S)),
        Activation("softplus", lambda S: np.logaddexp(S.dtype.type(0), S), expit),
        Activation("identity", lambda S: S.copy(), np.ones_like),
    )
}


#: The constraint of the argument ``activation`` of the public functions.
ACTIVATION = Options(tuple(ACTIVATIONS), instance_of=Activation)


@validate_params({"activation": ACTIVATION})
def get_activation(activation: str | Activation) -> Activation:
    """Look up an activation by name, or pass an :class:`Activation` through.

    Parameters
    ----------
    activation : str or Activation
        One of ``"relu"``, ``"leaky_relu"`` (slope 0.01), ``"tanh"``, ``"sigmoid"``,
        ``"softplus"``, ``"identity"``, or a user-supplied :class:`Activation`.

    Returns
    -------
    Activation

    Raises
    ------
    ValueError
        If the name is unknown.
    TypeError
        If ``activation`` is neither a string nor an :class:`Activation`.

    Examples
    --------
    >>> get_activation("relu").name
    'relu'
    """
    return activation if isinstance(activation, Activation) else ACTIVATIONS[activation]
