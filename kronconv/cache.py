"""What a convolutional layer's forward pass keeps for its backward pass and its R-operator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from .activations import Activation
from .layout import batch_from_columns
from .shapes import LayerShape

__all__ = ["LayerCache"]


@dataclass(frozen=True)
class LayerCache:
    """One layer's forward state, made by either backend and read by the same backend.

    The arrays are stored in the working layout of the backend that made the cache
    (:mod:`kronconv.layout`: instance columns for ``"sparse"``, channel first for
    ``"dense"``); :meth:`phi_matrix` and :meth:`dsigma_S_matrix` give them as batch
    matrices, the public layout, whatever the backend.

    Attributes
    ----------
    shape : LayerShape
    backend : {"sparse", "dense"}
        The backend that made the cache; :func:`~kronconv.backward` and the Gauss-Newton
        products run on it.
    phi : ndarray
        ``phi(pad(Z))`` of every instance, for equation (1) and the R-operator.
        Sparse: ``(h*h*d*a_conv*b_conv, N)``; dense: ``(h*h*d, b_conv, a_conv, N)``.
    S : ndarray
        ``S = W phi + b 1^T``, from which :attr:`dsigma_S` gives ``sigma'(S)`` for equation
        (7). Sparse: ``(d_out*a_conv*b_conv, N)``; dense: ``(d_out, b_conv, a_conv, N)``.
    act : Activation
        The layer's sigma.
    pool : csr_array or ndarray or None
        The pooling as the forward pass applied it. Sparse: the operator
        :func:`~kronconv.P_pool` returned for the batch (for max pooling the block
        diagonal of the instances' operators). Dense: for max pooling the window entry
        (order ``i + h_pool*j``) holding each output's first maximum, ``None`` otherwise;
        after a ReLU, -1 where the window's maximum is <= 0 (all its ``sigma'`` are 0: the
        conventions choose entry 0, and nothing flows back).
    I_kron_W : csr_array or None
        Sparse: ``I ⊗ W`` as the forward pass built it, reused by the R-operator (and so
        by every Gauss-Newton product). Dense: ``None``.
    """

    shape: LayerShape
    backend: str
    phi: np.ndarray
    S: np.ndarray
    act: Activation
    pool: Any
    I_kron_W: sp.csr_array | None = None

    @property
    def N(self) -> int:
        """The number of instances in the batch."""
        return self.phi.shape[-1]

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the forward pass (and of its backward pass)."""
        return self.phi.dtype

    @property
    def dsigma_S(self) -> np.ndarray:
        """``sigma'(S)``, in the layout of ``S``."""
        return self.act.derivative(self.S)

    def _matrix(self, X: np.ndarray, rows: int) -> np.ndarray:
        from .backends import get_backend  # the backends import this module

        return batch_from_columns(get_backend(self.backend).to_columns(X), rows)

    def phi_matrix(self) -> np.ndarray:
        """``phi(pad(Z))`` as the batch matrix ``(h*h*d, a_conv*b_conv*N)``."""
        return self._matrix(self.phi, self.shape.W_shape[1])

    def dsigma_S_matrix(self) -> np.ndarray:
        """``sigma'(S)`` as the batch matrix ``(d_out, a_conv*b_conv*N)``."""
        return self._matrix(self.dsigma_S, self.shape.d_out)
