"""A first layer: its operators, and the forward pass as their chain.

One instance through padding, the windows, the convolution, the bias, ReLU and max pooling,
each a scipy.sparse operator (equations of the forward pass):

    vec(phi) = P_phi P_pad vec(Z),   vec(S) = (I ⊗ W) vec(phi) + (1 ⊗ I) b,
    vec(Z_next) = P_pool vec(ReLU(S)).

Checked against the same layer computed the obvious way in plain numpy, in PyTorch's
NCHW/OIHW layout.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import kronconv as kc

shape = kc.LayerShape(a=6, b=5, d=2, d_out=3, h=3, padding=1, pool="max", pool_size=2)
rng = np.random.default_rng(0)
x = rng.normal(size=(1, 2, 6, 5))                 # one image, NCHW
w = rng.normal(size=(3, 2, 3, 3))                 # OIHW
b = rng.normal(size=3)
Z, W = kc.Z_from_nchw(x), kc.W_from_oihw(w)       # Z: (d, a*b), W: (d_out, h*h*d)

vec_phi = kc.P_phi(shape) @ kc.P_pad(shape) @ kc.vec(Z)
vec_S = kc.I_kron_W(W, shape) @ vec_phi + kc.ones_kron_I(shape) @ b
relu_S = kc.mat(np.maximum(vec_S, 0), shape.d_out, shape.a_conv * shape.b_conv)
P_pool = kc.P_pool(shape, relu_S)                 # max pooling: it depends on the instance
Z_next = kc.mat(P_pool @ kc.vec(relu_S), shape.d_out, shape.a_out * shape.b_out)

for name, op in [("P_pad", kc.P_pad(shape)), ("P_phi", kc.P_phi(shape)),
                 ("I ⊗ W", kc.I_kron_W(W, shape)), ("1 ⊗ I", kc.ones_kron_I(shape)),
                 ("P_pool", P_pool)]:
    print(f"{name:7} {op.shape!s:11} nnz {op.nnz:4}")
print("P_pool's first rows (one 1 each, at the window's maximum):")
print(P_pool.toarray()[:3, :24].astype(int))

# The reference: pad, take every 3x3 window, multiply, add b, ReLU, max over 2x2 blocks.
xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
windows = sliding_window_view(xp, (3, 3), axis=(2, 3))      # (N, d, a_conv, b_conv, h, h)
s = np.einsum("ncuvij,ocij->nouv", windows, w) + b[:, None, None]
pooled = sliding_window_view(np.maximum(s, 0), (2, 2), axis=(2, 3))[:, :, ::2, ::2]
reference = pooled.max(axis=(4, 5))

np.testing.assert_allclose(kc.nchw_from_Z(Z_next, shape.a_out, shape.b_out), reference,
                           rtol=1e-12, atol=1e-12)
Z_forward, _ = kc.forward(Z, W, b, shape)         # the library's forward pass: the same chain
np.testing.assert_allclose(Z_forward, Z_next, rtol=1e-12, atol=1e-12)
print("checked: the operator chain equals a plain numpy convolution, ReLU and max pooling")
