"""A short training run: Newton-CG on scikit-learn's 8x8 digits (the 'data' extra).

What `kronconv train --iterations 10 --out newton.npz` does, through the library: scale the
images, start from He-initialized weights, run subsampled Gauss-Newton (Newton-CG with
Levenberg-Marquardt damping and a line search), and log f, |grad f| and the validation
accuracy after every iteration. The checks: the line search never lets f increase, and the
last row's f and accuracy are what the sparse operator chain gives (the run used the dense
path) with the accuracy counted by hand.
"""

import sys

import numpy as np

import kronconv as kc
from kronconv.data import Scaling, digits_split
from kronconv.train import NewtonOptions, Problem, TrainState, newton_cg

try:
    train, test = digits_split()                  # 1438 / 359 images, stratified
except ImportError as missing:
    sys.exit(f"this example needs {missing}")
arch = kc.Architecture.preset("digits")
scaling = Scaling.fit(train.x)                    # divide by the maximum, subtract the mean
Z_train, Z_test = kc.Z_from_nchw(scaling(train.x)), kc.Z_from_nchw(scaling(test.x))
problem = Problem(arch, Z_train, train.y, C=1.0, loss="squared", backend="dense",
                  Z_val=Z_test, y_val=test.y)


def log(state, row):
    print(f"{row['iteration']:3d}  f {row['f']:.6f}  |grad f| {row['grad_norm']:.3e}  "
          f"CG steps {row['cg']:3d}  accuracy {100 * row['val_accuracy']:.2f}%")


theta0 = kc.init_params(arch, seed=0)
state = newton_cg(problem, TrainState(theta0), NewtonOptions(iterations=10), seed=0,
                  callback=log)

fs = [problem.f(theta0)] + [row["f"] for row in state.history]
if np.any(np.diff(fs) > 0):
    raise SystemExit(f"f increased: {fs}")
f_sparse = kc.objective(state.theta, arch, Z_train, train.y, C=1.0, loss="squared")
np.testing.assert_allclose(fs[-1], f_sparse, rtol=1e-10)
accuracy = float(np.mean(kc.predict(state.theta, arch, Z_test) == test.y))
if state.history[-1]["val_accuracy"] != accuracy:
    raise SystemExit(f"logged accuracy {state.history[-1]['val_accuracy']}, counted {accuracy}")
print(f"test accuracy {100 * accuracy:.2f}% after {state.iteration} iterations")
print("checked: f decreased at every iteration; the last f and accuracy recomputed with the "
      "sparse chain")
