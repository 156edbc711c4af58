"""The public names of :mod:`kronconv` and the module each comes from.

Type checkers read this stub; ``kronconv/__init__.py`` reads it too, to import each name
only when it is first used (so that ``import kronconv`` and the command line start at once).
"""


from ._validate import set_check_finite
from ._version import VERSION as __version__
from .activations import ACTIVATIONS, Activation, get_activation
from .architecture import PRESETS, Architecture, ConvSpec, FullSpec, load_architecture
from .backends import BACKENDS
from .cache import LayerCache
from .gauss_newton import GaussNewton, jacobian_T_vector, jacobian_vector
from .identities import identity2, identity3
from .layer import (
    backward,
    conv_S,
    forward,
    grad_b,
    grad_S,
    grad_W,
    grad_Z,
    layer_output,
    phi_pad,
    pool,
)
from .layout import (
    W_from_hwio,
    W_from_nchw_flat,
    W_from_nhwc_flat,
    W_from_oihw,
    Z_from_chw,
    Z_from_hwc,
    Z_from_nchw,
    Z_from_nhwc,
    chw_from_Z,
    hwc_from_Z,
    hwio_from_W,
    mat,
    nchw_flat_from_W,
    nchw_from_Z,
    nhwc_flat_from_W,
    nhwc_from_Z,
    oihw_from_W,
    vec,
)
from .losses import LOSSES, loss_and_grad, loss_hessian_vector, loss_value
from .memory import (
    MemoryLimitError,
    cache_info,
    get_memory_limit,
    set_cache_limit,
    set_memory_limit,
)
from .network import NetworkCache, backward_network, forward_network
from .objective_function import (
    accuracy,
    network_output,
    objective,
    objective_and_gradient,
    predict,
)
from .operators import I_kron_W, P_pad, P_phi, P_pool, ones_kron_I, phiT_kron_I
from .parameters import init_params, pack_params, unpack_params
from .shapes import POOL_KINDS, LayerShape
from .testing import numerical_jacobian

__all__ = [
    "ACTIVATIONS",
    "BACKENDS",
    "LOSSES",
    "POOL_KINDS",
    "PRESETS",
    "Activation",
    "Architecture",
    "ConvSpec",
    "FullSpec",
    "GaussNewton",
    "I_kron_W",
    "LayerCache",
    "LayerShape",
    "MemoryLimitError",
    "NetworkCache",
    "P_pad",
    "P_phi",
    "P_pool",
    "W_from_hwio",
    "W_from_nchw_flat",
    "W_from_nhwc_flat",
    "W_from_oihw",
    "Z_from_chw",
    "Z_from_hwc",
    "Z_from_nchw",
    "Z_from_nhwc",
    "__version__",
    "accuracy",
    "backward",
    "backward_network",
    "cache_info",
    "chw_from_Z",
    "conv_S",
    "forward",
    "forward_network",
    "get_activation",
    "get_memory_limit",
    "grad_S",
    "grad_W",
    "grad_Z",
    "grad_b",
    "hwc_from_Z",
    "hwio_from_W",
    "identity2",
    "identity3",
    "init_params",
    "jacobian_T_vector",
    "jacobian_vector",
    "layer_output",
    "load_architecture",
    "loss_and_grad",
    "loss_hessian_vector",
    "loss_value",
    "mat",
    "nchw_flat_from_W",
    "nchw_from_Z",
    "network_output",
    "nhwc_flat_from_W",
    "nhwc_from_Z",
    "numerical_jacobian",
    "objective",
    "objective_and_gradient",
    "oihw_from_W",
    "ones_kron_I",
    "pack_params",
    "phiT_kron_I",
    "phi_pad",
    "pool",
    "predict",
    "set_cache_limit",
    "set_check_finite",
    "set_memory_limit",
    "unpack_params",
    "vec",
]
