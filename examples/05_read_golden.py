"""Reading a golden file with numpy alone, and recomputing f from it.

`kronconv golden --arch digits --batch 4 --out golden.npz` writes the same file as
kronconv.golden.write_golden below. The rest of this script needs nothing but numpy: it
takes the last convolutional layer's output, runs the fully-connected layers, and recomputes
the outputs z_out and f(θ) = θᵀθ/(2Cl) + (1/l) Σᵢ ξᵢ from the file's arrays.
"""

import json
import tempfile
from pathlib import Path

import numpy as np

from kronconv import Architecture
from kronconv.golden import write_golden

with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "golden.npz"
    write_golden(path, Architecture.preset("digits"), batch=4, seed=0)
    # --- from here on, numpy only ---------------------------------------------------------
    with np.load(path, allow_pickle=False) as npz:
        g = dict(npz)                              # every array by its key

meta = json.loads(str(g["meta"]))                 # a 0-d string array holding JSON
C = np.inf if meta["C"] is None else meta["C"]    # null: no regularization
l, loss = meta["batch"], meta["loss"]       # noqa: E741 (the slides' l)
print(f"{path.name}: {meta['arch']['name']}, batch {l}, {meta['dtype']}, {loss}, C = {C}")
print("conv1.Z", g["conv1.Z"].shape, "(d, a*b*N);  z_out", g["z_out"].shape, "(N, classes)")

n_conv = sum(key.endswith(".w_oihw") for key in g)
n_full = sum(key.startswith("full") and key.endswith(".W") for key in g)
Z = g[f"conv{n_conv}.Z_next"]                     # (d, a_out*b_out*N), instances side by side
z = Z.reshape(Z.shape[0], l, -1).transpose(1, 2, 0).reshape(l, -1).T   # vec(Z) per column
for m in range(1, n_full + 1):                    # s = W z + b; ReLU but after the last
    z = g[f"full{m}.W"] @ z + g[f"full{m}.b"][:, None]
    if m < n_full:
        z = np.maximum(z, 0)
np.testing.assert_allclose(z.T, g["z_out"], rtol=1e-12, atol=1e-12)

y = g["y"]
if loss == "cross_entropy":                       # ξ = logsumexp(z) - z_y
    top = z.max(axis=0)
    xi = top + np.log(np.exp(z - top).sum(axis=0)) - z[y, np.arange(l)]
else:                                             # ξ = ||z - e_y||², no ½
    xi = ((z - np.eye(z.shape[0])[:, y]) ** 2).sum(axis=0)
weights = [g[key] for key in g if key.startswith(("conv", "full"))
           and key.endswith((".w_oihw", ".W", ".b")) and "grad" not in key]
theta_sq = sum(float((w**2).sum()) for w in weights)
f = theta_sq / (2 * C * l) + xi.mean()
np.testing.assert_allclose(f, g["f"], rtol=1e-12)
print(f"f recomputed from the file: {f:.12f}; the file's f: {float(g['f']):.12f}")
print("checked: z_out and f recomputed with numpy alone from the file's arrays")
