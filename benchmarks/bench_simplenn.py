"""kronconv beside simpleNN on simpleNN's own demo: f and ∇f over mnist-demo's 2,000 training
images, and one Newton iteration (simpleNN's defaults: C 0.01, GNsize 100), one BLAS thread.

simpleNN's times are measured in GNU Octave (``octave-cli``) with tic/toc around the same work,
on the simpleNN code vendored under tests/simplenn/MATLAB; they are tracked as seconds, and
skipped where Octave is not installed.
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from scipy.io import loadmat

import kronconv as kc
from kronconv.data import Scaling, mnist_demo
from kronconv.train import NewtonOptions, Problem, TrainState, newton_cg, simplenn_options

from .common import one_blas_thread

MATLAB = Path(__file__).resolve().parents[1] / "tests" / "simplenn" / "MATLAB"
DATA = Path(kc.__file__).resolve().parent / "datasets"


def _mnist_demo():
    train = mnist_demo("train")
    Z = kc.Z_from_nchw(Scaling.fit(train.x)(train.x))
    return kc.Architecture.preset("mnist-3layer"), Z, train.y


class KronconvOnMnistDemo:
    """kronconv's f + ∇f and one Newton iteration on mnist-demo (2,000 images)."""

    params = ("sparse", "dense")
    param_names = ("backend",)
    timeout = 600
    number = 1
    repeat = 3

    def setup(self, backend):
        self.limit = one_blas_thread()
        self.arch, self.Z, self.y = _mnist_demo()
        self.theta = kc.init_params(self.arch, 0)
        self.options = NewtonOptions(**simplenn_options("-iter_max 1", self.y.size)[
            "train_options"])

    def time_objective_and_gradient(self, backend):
        kc.objective_and_gradient(self.theta, self.arch, self.Z, self.y, 0.01, "squared",
                                  backend=backend)

    def time_newton_iteration(self, backend):
        problem = Problem(self.arch, self.Z, self.y, 0.01, "squared", backend)
        newton_cg(problem, TrainState(self.theta.copy()), self.options)


_OCTAVE = r"""
addpath(genpath('{matlab}/cnn'), genpath('{matlab}/opt'));
load('{data}/mnist-demo.mat', 'y', 'Z');
Z = [full(Z) zeros(size(Z,1), 784 - size(Z,2))];
Z = reshape(permute(reshape(Z, [],28,28,1), [1,3,2,4]), [], 784);
Z = Z / 255; Z = Z - mean(Z);
cd('{matlab}');
model = cnn_train(y, Z, [], [], 'config/mnist-demo-layer4.config', '-s 2 -epoch_max 0', 111);
param = struct('bsize', 1024, 'C', 0.01 * size(Z, 1), 'GNsize', 100, 'iter_max', 1, ...
               'xi', 0.1, 'CGmax', 250, 'lambda', 1, 'drop', 2/3, 'boost', 3/2, 'eta', 1e-4, ...
               'Jacobian', true, 'solver', 1);
prob = check_data(y, Z, model.net_config);
[~, ~, prob.y_mapped] = unique(prob.y);
net = init_net(model, param);
fungrad_minibatch(prob, param, model, net, 'fungrad');            % warm-up
tic; fungrad_minibatch(prob, param, model, net, 'fungrad'); t_fg = toc;
tic; evalc('newton(prob, struct(), param, model, net);'); t_newton = toc;
save('-v7', '{out}', 't_fg', 't_newton');
"""


class SimpleNNOnMnistDemo:
    """simpleNN's own f + ∇f and one Newton iteration, in Octave, on the same data."""

    timeout = 900

    def setup_cache(self):
        if shutil.which("octave-cli") is None or not MATLAB.is_dir():
            return None
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "t.mat"
            env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
            subprocess.run(["octave-cli", "--no-gui", "--quiet", "--norc", "--eval",
                            _OCTAVE.format(matlab=MATLAB, data=DATA, out=out)],
                           check=True, capture_output=True, env=env, timeout=900)
            times = loadmat(out)
        return {"fg": float(times["t_fg"][0, 0]), "newton": float(times["t_newton"][0, 0])}

    def track_objective_and_gradient_seconds(self, times):
        if times is None:
            raise NotImplementedError("octave-cli is not installed")
        return times["fg"]

    def track_newton_iteration_seconds(self, times):
        if times is None:
            raise NotImplementedError("octave-cli is not installed")
        return times["newton"]

    track_objective_and_gradient_seconds.unit = "seconds"
    track_newton_iteration_seconds.unit = "seconds"

