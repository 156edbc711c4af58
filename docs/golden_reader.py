"""Recompute a kronconv golden file with numpy alone: no kronconv needed.

Reads the weights, the inputs, the labels and ``meta`` of a golden file (:doc:`golden`),
runs the network forward in NCHW/OIHW (PyTorch's layouts) with the tangent of the direction
``v`` beside it, and recomputes ``f``, ``z_out``, ``Jv`` and every convolutional layer's
``Z``, ``phi``, ``S`` and ``Z_next`` in kronconv's layout. From ``Jv`` alone it also checks
the gradient and the Gauss-Newton product in the direction ``v``:

    grad . v = theta . v / (C l) + (1/l) sum_i (dxi/dz_i) . (J_i v),
    v . Gv   = v . v / (C l)     + (1/l) sum_i (J_i v)^T B_i (J_i v).

Usage: ``python golden_reader.py golden.npz`` prints each quantity's relative difference
from the file (about 1e-16 for a float64 file).
"""

import json
import sys

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# sigma and sigma' of the activations a golden file may name (sigma'(0) = 0 for ReLU)
ACTIVATIONS = {
    "relu": (lambda s: np.maximum(s, 0), lambda s: (s > 0) * 1.0),
    "leaky_relu": (lambda s: np.where(s > 0, s, 0.01 * s), lambda s: np.where(s > 0, 1.0, 0.01)),
    "tanh": (np.tanh, lambda s: 1 - np.tanh(s) ** 2),
    "sigmoid": (lambda s: 1 / (1 + np.exp(-s)), lambda s: np.exp(-s) / (1 + np.exp(-s)) ** 2),
    "softplus": (lambda s: np.logaddexp(0, s), lambda s: 1 / (1 + np.exp(-s))),
    "identity": (lambda s: s, np.ones_like),
}


def read(path):
    """Every array of the file by key; ``meta`` (a 0-d string array) decoded from JSON."""
    with np.load(path, allow_pickle=False) as npz:
        g = {key: npz[key] for key in npz.files}
    g["meta"] = json.loads(str(g["meta"]))
    return g


def images_to_kronconv(x):
    """(N, d, a, b) -> (d, a*b*N): column r + a*q + a*b*n holds pixel (r, q) of instance n."""
    return x.transpose(1, 0, 3, 2).reshape(x.shape[1], -1)


def windows(x, h, stride, padding):
    """(N, d, a, b) -> (N, d, a_conv, b_conv, h, h): window (u, w) starts at (u*s, w*s) of
    the zero-padded image; its entry (i, j) is offset (i, j)."""
    pad = ((0, 0), (0, 0), (padding, padding), (padding, padding))
    return sliding_window_view(np.pad(x, pad), (h, h), axis=(2, 3))[:, :, ::stride, ::stride]


def phi_to_kronconv(win):
    """phi(pad(Z)) for the batch, (h*h*d, a_conv*b_conv*N): row i + h*j + h*h*c, column
    u + a_conv*w + a_conv*b_conv*n."""
    N, d, a_conv, b_conv, h, _ = win.shape
    return win.transpose(1, 5, 4, 0, 3, 2).reshape(d * h * h, N * b_conv * a_conv)


def conv(x, w, b, layer):
    """S = w * x + b (cross-correlation, OIHW filters), (N, d_out, a_conv, b_conv)."""
    win = windows(x, layer["h"], layer["stride"], layer["padding"])
    return np.einsum("ncuvij,ocij->nouv", win, w) + b[:, None, None], win


def pool(s, ds, layer):
    """Pool sigma(S) and its tangent: max takes, in each window, the first largest entry in
    the window's order i + h_pool*j (so does the tangent); average takes the mean."""
    if layer["pool"] == "none":
        return s, ds
    k, stride = layer["pool_size"], layer["pool_stride"]

    def win(t):  # (N, c, a_out, b_out, k*k), entry i + k*j of each window
        v = sliding_window_view(t, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]
        return v.swapaxes(-1, -2).reshape(*v.shape[:4], k * k)

    if layer["pool"] == "average":
        return win(s).mean(axis=-1), win(ds).mean(axis=-1)
    first = win(s).argmax(axis=-1)[..., None]
    return (np.take_along_axis(win(s), first, -1)[..., 0],
            np.take_along_axis(win(ds), first, -1)[..., 0])


def weights(g):
    """The file's weights and biases, layer by layer (convolutional first), as (w, b)."""
    arch = g["meta"]["arch"]
    conv_ = [(g[f"conv{m}.w_oihw"], g[f"conv{m}.b"]) for m in range(1, len(arch["conv"]) + 1)]
    return conv_ + [(g[f"full{m}.W"], g[f"full{m}.b"]) for m in range(1, len(arch["full"]) + 1)]


def unpack(v, g):
    """Split a vector in theta's order into per-layer (weight, bias) in the file's layouts:
    per layer vec(W) (column-major) then b, where a convolutional W is (d_out, h*h*d) with
    W[o, i + h*j + h*h*c] = w[o, c, i, j]."""
    parts, start = [], 0
    for shape in (w.shape for w, _ in weights(g)):
        n_W, n_b = int(np.prod(shape)), shape[0]
        W = v[start:start + n_W]
        if len(shape) == 4:        # (d_out, d, h, h): vec index o + d_out*(i + h*j + h*h*c)
            d_out, d, h, _ = shape
            W = W.reshape((d_out, h, h, d), order="F").transpose(0, 3, 1, 2)
        else:
            W = W.reshape(shape, order="F")
        parts.append((W, v[start + n_W:start + n_W + n_b]))
        start += n_W + n_b
    assert start == v.size, "v does not have the length of theta"
    return parts


def loss_terms(z, y, loss):
    """Per instance: xi_i, dxi/dz (N, K) and the products B_i u (as a function of u)."""
    onehot = np.eye(z.shape[1])[y]
    if loss == "squared":          # ||z - y||^2, no 1/2: B = 2 I
        return ((z - onehot) ** 2).sum(axis=1), 2 * (z - onehot), lambda u: 2 * u
    top = z.max(axis=1, keepdims=True)       # softmax cross-entropy: B = diag(p) - p p^T
    logp = z - top - np.log(np.exp(z - top).sum(axis=1, keepdims=True))
    p = np.exp(logp)
    return (-logp[np.arange(len(y)), y], p - onehot,
            lambda u: p * u - p * (p * u).sum(axis=1, keepdims=True))


def recompute(g):
    """What the file's inputs and weights give: a dict keyed like the file."""
    meta, arch = g["meta"], g["meta"]["arch"]
    C = np.inf if meta["C"] is None else meta["C"]      # null means infinity
    l = meta["batch"]                                    # noqa: E741  (the batch is all of l)
    out, x = {}, g["x_nchw"].astype(np.float64)
    dv = unpack(g["v"].astype(np.float64), g)
    dx = np.zeros_like(x)                                # the tangent: J v, layer by layer
    for m, layer in enumerate(arch["conv"], 1):
        w, b = g[f"conv{m}.w_oihw"], g[f"conv{m}.b"]
        (dw, db), (sigma, dsigma) = dv[m - 1], ACTIVATIONS[layer["activation"]]
        s, win = conv(x, w, b, layer)
        ds = conv(dx, w, db, layer)[0] + np.einsum("ncuvij,ocij->nouv", win, dw)
        out[f"conv{m}.Z"], out[f"conv{m}.phi"] = images_to_kronconv(x), phi_to_kronconv(win)
        out[f"conv{m}.S"] = images_to_kronconv(s)
        x, dx = pool(sigma(s), dsigma(s) * ds, layer)
        out[f"conv{m}.Z_next"] = images_to_kronconv(x)
    # the first fully-connected layer reads z = vec(Z): channel fastest, then row, then column
    z, dz = (t.transpose(0, 3, 2, 1).reshape(l, -1) for t in (x, dx))
    n_conv = len(arch["conv"])
    for m, layer in enumerate(arch["full"], 1):
        W, b = g[f"full{m}.W"], g[f"full{m}.b"]
        (dW, db), (sigma, dsigma) = dv[n_conv + m - 1], ACTIVATIONS[layer["activation"]]
        s, ds = z @ W.T + b, dz @ W.T + z @ dW.T + db
        z, dz = sigma(s), dsigma(s) * ds
    xi, dxi, B = loss_terms(z, g["y"], meta["loss"])
    theta = [p.astype(np.float64) for pair in weights(g) for p in pair]
    reg = 0.0 if np.isinf(C) else 1 / (C * l)
    theta_theta = sum((p * p).sum() for p in theta)
    v_parts = [q for pair in dv for q in pair]
    theta_v = sum((p * q).sum() for p, q in zip(theta, v_parts, strict=True))
    out["z_out"], out["Jv"], out["f"] = z, dz, reg * theta_theta / 2 + xi.mean()
    out["grad . v"] = reg * theta_v + (dxi * dz).sum() / l
    out["v . Gv"] = reg * float(g["v"] @ g["v"]) + (dz * B(dz)).sum() / l
    return out


def differences(path):
    """Each recomputed quantity's relative difference from the file: max |ours - file| over
    max |file| (for the two products, over |grad| |v| and |Gv| |v|)."""
    g = read(path)
    ours, errors = recompute(g), {}
    stored = {"grad . v": (g["grad"] @ g["v"], np.linalg.norm(g["grad"]) * np.linalg.norm(g["v"])),
              "v . Gv": (g["v"] @ g["Gv"], np.linalg.norm(g["Gv"]) * np.linalg.norm(g["v"]))}
    for key, value in ours.items():
        ref, scale = stored.get(key, (g.get(key), None))
        scale = np.max(np.abs(ref)) if scale is None else scale
        errors[key] = float(np.max(np.abs(value - ref)) / scale)
    return errors


if __name__ == "__main__":
    for key, error in differences(sys.argv[1]).items():
        print(f"{key:>16}  {error:.1e}")
