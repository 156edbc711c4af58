"""The same network in PyTorch, for cross-checks (needs the optional ``torch`` extra).

The weights are converted with the layout converters (OIHW filters, the first
fully-connected weight on a flattened NCHW feature map), the network is PyTorch's
``conv2d`` -> activation -> ``max_pool2d``/``avg_pool2d`` -> ``flatten`` -> ``linear``, and
the gradient comes from autograd, then is converted back to kronconv's theta. Nothing of
kronconv's operators is used: it is an independent implementation of the same numbers.
"""

from __future__ import annotations

import math

import numpy as np

from .architecture import Architecture
from .layout import (
    W_from_nchw_flat,
    W_from_oihw,
    nchw_flat_from_W,
    nchw_from_Z,
    oihw_from_W,
)
from .losses import check_labels
from .parameters import pack_params, unpack_params

__all__ = [
    "torch_available",
    "torch_gauss_newton_vector",
    "torch_objective_and_gradient",
    "torch_problem",
]


def torch_available() -> bool:
    """Whether PyTorch can be imported."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _torch_activation(name: str):
    import torch
    import torch.nn.functional as F

    table = {"relu": torch.relu, "leaky_relu": lambda x: F.leaky_relu(x, 0.01),
             "tanh": torch.tanh, "sigmoid": torch.sigmoid,
             "softplus": lambda x: F.softplus(x, threshold=np.inf), "identity": lambda x: x}
    if name not in table:
        raise ValueError(f"activation {name!r} has no PyTorch counterpart here")
    return table[name]


def _flattened(arch: Architecture) -> tuple[int, int, int]:
    """``(d, a, b)`` of the map the first fully-connected layer reads: the last convolutional
    layer's output, or the input image when there is no convolutional layer."""
    if arch.conv_shapes:
        last = arch.conv_shapes[-1]
        return last.d_out, last.a_out, last.b_out
    a, b, d = arch.input
    return d, a, b


def _torch_weights(theta: np.ndarray, arch: Architecture) -> list[tuple[np.ndarray, np.ndarray]]:
    """theta's layers in PyTorch's layouts: OIHW filters, then Linear weights (the first on the
    flattened NCHW map)."""
    params = unpack_params(theta, arch)
    n_conv = len(arch.conv_shapes)
    out = [(oihw_from_W(W, s.h), b) for (W, b), s in zip(params, arch.conv_shapes, strict=False)]
    full = list(params[n_conv:])
    W0, b0 = full[0]
    full[0] = (nchw_flat_from_W(W0, *_flattened(arch)), b0)
    return out + full


def theta_from_torch(grads: list[np.ndarray], arch: Architecture) -> np.ndarray:
    """The inverse of :func:`_torch_weights`, applied to gradients."""
    n_conv = len(arch.conv_shapes)
    layers = [(grads[2 * m], grads[2 * m + 1]) for m in range(len(grads) // 2)]
    conv = [(W_from_oihw(w), b) for w, b in layers[:n_conv]]
    full = layers[n_conv:]
    full[0] = (W_from_nchw_flat(full[0][0], *_flattened(arch)), full[0][1])
    return pack_params(conv + full)


def _torch_network(arch: Architecture):
    """``outputs(x, tensors)``: the network in PyTorch (NCHW images, PyTorch-layout weights)."""
    import torch.nn.functional as F

    n_conv = len(arch.conv_shapes)
    acts = [_torch_activation(act.name) for act in arch.activations]

    def outputs(x, tensors):
        for m, shape in enumerate(arch.conv_shapes):
            x = acts[m](F.conv2d(x, tensors[2 * m], tensors[2 * m + 1], stride=shape.stride,
                                 padding=shape.padding))
            if shape.pool == "max":
                x = F.max_pool2d(x, shape.pool_size, shape.pool_stride)
            elif shape.pool == "average":
                x = F.avg_pool2d(x, shape.pool_size, shape.pool_stride)
        z = x.reshape(x.shape[0], -1)
        for m in range(n_conv, len(acts)):
            z = acts[m](F.linear(z, tensors[2 * m], tensors[2 * m + 1]))
        return z

    return outputs


def _torch_inputs(theta: np.ndarray, arch: Architecture, Z: np.ndarray, y: np.ndarray):
    import torch

    a, b, _ = arch.input
    x = torch.tensor(nchw_from_Z(Z, a, b))
    labels = torch.tensor(check_labels(y, arch.n_classes, x.shape[0]))
    tensors = [torch.tensor(np.ascontiguousarray(p))
               for layer in _torch_weights(np.asarray(theta), arch) for p in layer]
    return x, labels, tensors


def _torch_data_loss(loss: str, n_classes: int):
    """``(z, labels) -> (1/N) sum_i ξ(z_i, y_i)``: f's data term on the outputs z (N, n_classes).

    The one definition of the loss in PyTorch: :func:`torch_problem` evaluates f with it and
    :func:`torch_gauss_newton_vector` differentiates it twice for ``B``.
    """
    import torch.nn.functional as F

    if loss not in ("squared", "cross_entropy"):
        raise ValueError(f"loss must be 'squared' or 'cross_entropy', got {loss!r}")

    def data_loss(z, labels):
        if loss == "squared":                        # ||z - e_y||^2, no 1/2
            xi = ((z - F.one_hot(labels, n_classes).to(z.dtype)) ** 2).sum(dim=1)
        else:
            xi = F.cross_entropy(z, labels, reduction="none")
        return xi.mean()

    return data_loss


def torch_problem(theta: np.ndarray, arch: Architecture, Z: np.ndarray, y: np.ndarray,
                  C: float = math.inf, loss: str = "squared"):
    """The network and data as PyTorch tensors, and a function that evaluates f and ∇f.

    The weights and images are converted once (layout converters); the returned function
    ``value_and_grad()`` runs PyTorch's forward and backward only, so it can be timed.

    Returns
    -------
    value_and_grad : callable
        ``value_and_grad() -> (f, z, grads)``: ``f`` a 0-d tensor, ``z`` the outputs
        (N, n_classes), ``grads`` the gradients of the PyTorch-layout weights.
    """
    import torch

    data_loss = _torch_data_loss(loss, arch.n_classes)
    x, labels, tensors = _torch_inputs(theta, arch, Z, y)
    for t in tensors:
        t.requires_grad_(True)
    outputs, N = _torch_network(arch), x.shape[0]

    def value_and_grad():
        z = outputs(x, tensors)
        f = data_loss(z, labels)
        if not math.isinf(C):
            f = f + sum((t * t).sum() for t in tensors) / (2 * C * N)
        grads = torch.autograd.grad(f, tensors)
        return f.detach(), z.detach(), grads

    return value_and_grad


def torch_gauss_newton_vector(theta: np.ndarray, arch: Architecture, Z: np.ndarray,
                              y: np.ndarray, v: np.ndarray, C: float = math.inf,
                              loss: str = "squared", n_total: int | None = None) -> np.ndarray:
    """``G v`` with every factor from PyTorch's differentiation (see :class:`kronconv.GaussNewton`).

    ``Jv`` is ``torch.func.jvp`` of the outputs ``z(theta)``; ``B Jv`` is the Hessian-vector
    product (``jvp`` of ``grad``) of f's own data term ``(1/N) sum_i ξ_i(z)`` at z, whose
    Hessian is the block diagonal of ``B_i / N``, so no ``B`` is written out here; then
    ``J^T`` by ``torch.func.vjp``. The regularization adds ``v / (C l)``, ``l = n_total``
    (default N).
    """
    import torch

    data_loss = _torch_data_loss(loss, arch.n_classes)
    x, labels, tensors = _torch_inputs(theta, arch, Z, y)
    directions = [torch.tensor(np.ascontiguousarray(p))
                  for layer in _torch_weights(np.asarray(v), arch) for p in layer]
    outputs, N = _torch_network(arch), x.shape[0]

    def f(*ts):
        return outputs(x, list(ts))

    def grad_data_loss(z):                                      # ∂/∂z of f's data term
        return torch.func.grad(data_loss)(z, labels)

    z, Jv = torch.func.jvp(f, tuple(tensors), tuple(directions))
    _, HJv = torch.func.jvp(grad_data_loss, (z,), (Jv,))         # row i: B_i J_i v / N
    _, vjp = torch.func.vjp(f, *tensors)
    JtHJv = theta_from_torch([g.numpy() for g in vjp(HJv)], arch)   # (1/N) sum_i J_i^T B_i J_i v
    reg = 0.0 if math.isinf(C) else 1.0 / (C * (N if n_total is None else n_total))
    return JtHJv + reg * np.asarray(v)


def torch_objective_and_gradient(theta: np.ndarray, arch: Architecture, Z: np.ndarray,
                                 y: np.ndarray, C: float = math.inf, loss: str = "squared"
                                 ) -> tuple[float, np.ndarray, np.ndarray]:
    """``f``, ``∇f`` (in theta's order) and the outputs ``z`` (n_classes, N) by PyTorch autograd.

    Parameters
    ----------
    theta, arch, Z, y, C, loss
        As for :func:`kronconv.objective_and_gradient`.

    Returns
    -------
    f : float
    grad : ndarray of shape (arch.n_params,)
    z : ndarray of shape (n_classes, N)

    Raises
    ------
    ImportError
        If PyTorch is not installed.
    """
    f, z, grads = torch_problem(theta, arch, Z, y, C, loss)()
    grad = theta_from_torch([g.numpy() for g in grads], arch)
    return float(f), grad, z.numpy().T.copy()
