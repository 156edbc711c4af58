"""The registry of backends: the one place that maps a backend's name to its module.

A backend is a module with the same functions under the same names and signatures
(``from_columns``, ``to_columns``, ``phi_pad``, ``conv_S``, ``pool``, ``forward``,
``grad_S``, ``grad_W``, ``grad_b``, ``grad_Z``, ``R_forward``, ``pool_pattern``), each
working in its own layout (:mod:`kronconv.layout`):

- ``"sparse"`` (:mod:`kronconv.sparse`): the literal chain of sparse operator products;
- ``"dense"`` (:mod:`kronconv.dense`): the same numbers from gathers, slices and one BLAS
  product per layer.

A :class:`~kronconv.LayerCache` records the backend that made it, and everything that
continues from a cache (the backward pass, the Gauss-Newton products) asks this registry
for that backend. The backward workflow (6), the same for both, is :func:`backward` here.
"""

from __future__ import annotations

from types import ModuleType
from typing import Literal

import numpy as np

from . import dense, sparse
from ._validate import Options
from .cache import LayerCache

__all__ = ["BACKEND", "BACKENDS", "FORM", "FORMS", "FORWARD_FORM", "backend_of", "backward",
           "get_backend"]

Backend = Literal["sparse", "dense"]
BackwardForm = Literal["kron", "vec"]
ForwardForm = Literal["I_kron_W", "phiT_kron_I"]

_REGISTRY: dict[str, ModuleType] = {"sparse": sparse, "dense": dense}
BACKENDS = tuple(_REGISTRY)

#: The forms of the backward equations (1), (5), (8)/(9): the Kronecker products of the
#: slides, or the vec forms (the dense backend computes the vec forms only).
FORMS = ("kron", "vec")

#: The constraints of the arguments ``backend`` and ``form`` of the public functions.
BACKEND = Options(BACKENDS)
FORM = Options(FORMS)
FORWARD_FORM = Options(("I_kron_W", "phiT_kron_I"))


def get_backend(name: object) -> ModuleType:
    """The module of the backend ``name``.

    Raises
    ------
    ValueError
        If ``name`` is not one of :data:`~kronconv.BACKENDS`.

    Examples
    --------
    >>> get_backend("dense").__name__
    'kronconv.dense'
    """
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    return _REGISTRY[name]


def backend_of(cache: object) -> ModuleType:
    """The module of the backend that made ``cache``.

    Raises
    ------
    TypeError
        If ``cache`` is not a :class:`~kronconv.LayerCache`.
    """
    if not isinstance(cache, LayerCache):
        raise TypeError(f"cache must be the LayerCache from forward(), got {type(cache).__name__}")
    return get_backend(cache.backend)


def backward(dZ_next: np.ndarray, W: np.ndarray, cache: LayerCache, form: str = "vec",
             need_dZ: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The workflow (6) of one layer's backward pass on the cache's backend and in its layout:
    (7), then (1) and (5), then (8)/(9); ``need_dZ=False`` skips (8)/(9) (the first layer's
    ``∂ξ/∂Z`` is not part of a gradient)."""
    be = backend_of(cache)
    dS = be.grad_S(dZ_next, cache)                                           # (7)
    return (be.grad_W(dS, cache.phi, cache.shape, form),                     # (1)
            be.grad_b(dS, cache.shape, form),                                # (5)
            be.grad_Z(dS, W, cache.shape, form) if need_dZ else None)        # (8), (9)
