"""Reference implementations: the definitions of docs/conventions.rst as plain loops over entries.

Deliberately naive and independent of kronconv's index arithmetic: each operator is filled
entry by entry from its definition, and the layer is computed pixel by pixel on images in
(d, a, b) layout. Only for small shapes in tests.
"""

from __future__ import annotations

import numpy as np

from kronconv import LayerShape
from kronconv.testing import assert_relative_close as assert_rel_close  # noqa: F401


def P_pad_loop(s: LayerShape) -> np.ndarray:
    M = np.zeros((s.n_pad, s.n_in))
    for q in range(s.b):
        for r in range(s.a):
            for c in range(s.d):
                row = c + s.d * ((r + s.padding) + s.a_pad * (q + s.padding))
                M[row, c + s.d * (r + s.a * q)] = 1
    return M


def P_phi_loop(s: LayerShape) -> np.ndarray:
    h, d = s.h, s.d
    M = np.zeros((s.n_phi, s.n_pad))
    for w in range(s.b_conv):
        for u in range(s.a_conv):
            for c in range(d):
                for j in range(h):
                    for i in range(h):
                        row = (i + h * j + h * h * c) + h * h * d * (u + s.a_conv * w)
                        col = c + d * ((u * s.stride + i) + s.a_pad * (w * s.stride + j))
                        M[row, col] = 1
    return M


def P_pool_loop(s: LayerShape, sigma_S: np.ndarray | None = None) -> np.ndarray:
    """One instance's pooling matrix; ``sigma_S`` of shape (d_out, a_conv*b_conv)."""
    k, t = s.pool_size, s.pool_stride
    M = np.zeros((s.n_out, s.n_S))
    for q in range(s.b_out):
        for r in range(s.a_out):
            for c in range(s.d_out):
                row = c + s.d_out * (r + s.a_out * q)
                window = []                      # in the order i + k*j
                for j in range(k):
                    for i in range(k):
                        window.append(c + s.d_out * ((r * t + i) + s.a_conv * (q * t + j)))
                if s.pool == "max":
                    values = [sigma_S.reshape(-1, order="F")[col] for col in window]
                    best = 0
                    for n, v in enumerate(values):   # strict '>' keeps the first maximum
                        if v > values[best]:
                            best = n
                    M[row, window[best]] = 1
                else:
                    for col in window:
                        M[row, col] += 1.0 / (k * k)
    return M


def layer_loop(x: np.ndarray, w: np.ndarray, bias: np.ndarray, s: LayerShape, sigma):
    """One instance on images: x (d, a, b), w (d_out, d, h, h) -> S and Z^{m+1} as images."""
    xp = np.zeros((s.d, s.a_pad, s.b_pad))
    xp[:, s.padding:s.padding + s.a, s.padding:s.padding + s.b] = x
    S = np.zeros((s.d_out, s.a_conv, s.b_conv))
    for o in range(s.d_out):
        for u in range(s.a_conv):
            for v in range(s.b_conv):
                acc = bias[o]
                for c in range(s.d):
                    for i in range(s.h):
                        for j in range(s.h):
                            acc += w[o, c, i, j] * xp[c, u * s.stride + i, v * s.stride + j]
                S[o, u, v] = acc
    A = sigma(S)
    k, t = s.pool_size, s.pool_stride
    out = np.zeros((s.d_out, s.a_out, s.b_out))
    for o in range(s.d_out):
        for r in range(s.a_out):
            for q in range(s.b_out):
                window = A[o, r * t:r * t + k, q * t:q * t + k]
                out[o, r, q] = window.max() if s.pool == "max" else window.mean()
    return S, out
