"""A Gauss-Newton product Gv, and a Newton step with a scipy solver.

    G = I/(Cl) + (1/l) Σᵢ Jᵢᵀ Bᵢ Jᵢ,   Jᵢ = ∂z^{L+1,i}/∂θᵀ,

with B = 2I for the squared loss (ξ = ||z - e_y||², no ½). kronconv computes Gv without
forming J (one R-operator pass, one backward pass). The reference forms J column by column
from central differences of the network's outputs, then G itself.
"""

import numpy as np
from scipy.sparse.linalg import aslinearoperator, cg

import kronconv as kc

arch = kc.Architecture.from_dict({
    "input": {"a": 6, "b": 6, "d": 1},
    "conv": [{"d_out": 2, "h": 3, "padding": 1, "pool": "average", "pool_size": 2,
              "activation": "tanh"}],
    "full": [{"n_out": 3}],
})
rng = np.random.default_rng(0)
theta = kc.init_params(arch, seed=0)
l = 5                                             # noqa: E741 (the slides' l)
Z = kc.Z_from_nchw(rng.normal(size=(l, 1, 6, 6)))
y = rng.integers(0, 3, size=l)
C = 1.0
v = rng.normal(size=arch.n_params)

G = kc.GaussNewton(theta, arch, Z, y, C, loss="squared")
Gv = G.matvec(v)

identity = np.eye(arch.n_params)
eps = 1e-6


def outputs(t):
    return kc.network_output(t, arch, Z)          # (n_classes, l)


J = np.stack([(outputs(theta + eps * e) - outputs(theta - eps * e)) / (2 * eps)
              for e in identity], axis=-1)        # (n_classes, l, n_params): J_i = J[:, i]
G_dense = identity / (C * l) + sum(J[:, i].T @ (2 * J[:, i]) for i in range(l)) / l
print(f"G is {G_dense.shape[0]} x {G_dense.shape[1]}; |Gv| = {np.linalg.norm(Gv):.6f}")
np.testing.assert_allclose(Gv, G_dense @ v, rtol=1e-7, atol=1e-9)

# A Newton step: solve (G + λI) d = -∇f with scipy's CG on kronconv's LinearOperator.
f, grad = kc.objective_and_gradient(theta, arch, Z, y, C, loss="squared")
lam = 0.1
d, info = cg(G.as_linear_operator() + lam * aslinearoperator(identity), -grad, rtol=1e-10)
if info != 0:
    raise RuntimeError(f"CG did not converge (info = {info})")
np.testing.assert_allclose(d, np.linalg.solve(G_dense + lam * identity, -grad),
                           rtol=1e-5, atol=1e-8)
f_new = kc.objective(theta + d, arch, Z, y, C, loss="squared")
print(f"f = {f:.6f} -> {f_new:.6f} after one Newton step")
print("checked: Gv against G formed from finite-difference Jacobians, and the CG step "
      "against a dense solve")
