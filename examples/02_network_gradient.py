"""A network's value and gradient, checked against finite differences.

f(θ) = θᵀθ/(2Cl) + (1/l) Σᵢ ξᵢ over the l instances, θ stacking every layer's vec(W) and b.
The network is smooth (tanh, average pooling), so central differences of f are accurate
to about 1e-9 on every coordinate of θ.
"""

import numpy as np

import kronconv as kc

arch = kc.Architecture.from_dict({               # the schema of an architecture file
    "input": {"a": 8, "b": 8, "d": 1},
    "conv": [{"d_out": 4, "h": 3, "padding": 1, "pool": "average", "pool_size": 2,
              "activation": "tanh"}],
    "full": [{"n_out": 10}],
})
rng = np.random.default_rng(0)
theta = kc.init_params(arch, seed=0)
Z = kc.Z_from_nchw(rng.normal(size=(16, 1, 8, 8)))
y = rng.integers(0, 10, size=16)
C = 0.1

f, grad = kc.objective_and_gradient(theta, arch, Z, y, C, loss="cross_entropy")
print(f"{arch.n_params} parameters, f = {f:.6f}, |grad f| = {np.linalg.norm(grad):.4f}")

eps = 1e-6
coords = rng.choice(arch.n_params, size=40, replace=False)
differences = [(kc.objective(theta + eps * e, arch, Z, y, C, loss="cross_entropy")
                - kc.objective(theta - eps * e, arch, Z, y, C, loss="cross_entropy")) / (2 * eps)
               for e in np.eye(arch.n_params)[coords]]
np.testing.assert_allclose(grad[coords], differences, rtol=1e-6, atol=1e-9)

f_dense, grad_dense = kc.objective_and_gradient(theta, arch, Z, y, C, loss="cross_entropy",
                                                backend="dense")
np.testing.assert_allclose([f_dense, *grad_dense], [f, *grad], rtol=1e-12, atol=1e-15)
print(f"checked: the gradient on {coords.size} coordinates against central differences of f, "
      "and the dense path against the sparse chain")
