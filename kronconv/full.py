"""One fully-connected layer: forward, backward and R-operator, on instance columns.

``s = W z + b``, ``z' = sigma(s)`` for every instance, ``z`` a column: the first
fully-connected layer's input is ``z = vec(Z^{L_c+1})`` (channel fastest), so a batch is
the instance columns of the last convolutional layer's output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import Activation

__all__ = ["FullCache", "R_forward", "backward", "forward"]


@dataclass(frozen=True)
class FullCache:
    """What a fully-connected layer's backward pass needs: its input ``z`` and ``sigma'(s)``."""

    z: np.ndarray
    dsigma_s: np.ndarray


def forward(z: np.ndarray, W: np.ndarray, b: np.ndarray, act: Activation,
            keep: bool) -> tuple[np.ndarray, FullCache | None]:
    """``z' = sigma(W z + b)`` for every column ``z``; with ``keep``, the cache."""
    s = W @ z + b[:, None]
    return act(s), (FullCache(z, act.derivative(s)) if keep else None)


def backward(dz: np.ndarray, W: np.ndarray, cache: FullCache,
             need_dz: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``ds = dz ⊙ sigma'(s)``; ``dW = ds z^T``, ``db = ds 1`` (summed over the instances);
    ``∂ξ/∂z = W^T ds`` unless ``need_dz`` is false."""
    ds = dz * cache.dsigma_s
    return ds @ cache.z.T, ds.sum(axis=1), (W.T @ ds if need_dz else None)


def R_forward(Rz: np.ndarray | None, VW: np.ndarray, vb: np.ndarray, W: np.ndarray,
              cache: FullCache) -> np.ndarray:
    """``R(z') = sigma'(s) ⊙ (W R(z) + V_W z + v_b)`` (``Rz=None``: ``R(z) = 0``)."""
    Rs = VW @ cache.z + vb[:, None]
    if Rz is not None:
        Rs += W @ Rz
    return cache.dsigma_s * Rs
