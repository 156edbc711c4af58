"""Bad input fails loudly and early; memory is guarded; files are safe; the cache is thread-safe.

The command line's bad input is in tests/test_cli_errors.py."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from _memory import refused_with_peak
from hypothesis import given, settings
from hypothesis import strategies as st

import kronconv as kc
from kronconv import operators
from kronconv.data import load_data, load_idx
from kronconv.golden import read_golden, write_golden
from kronconv.model import load_model
from kronconv.train import NewtonOptions, SGOptions

SHAPE = kc.LayerShape(a=5, b=4, d=2, d_out=3, h=3, padding=1, pool="max", pool_size=2)
RNG = np.random.default_rng(0)
Z = RNG.normal(size=(2, 20 * 2))
W = RNG.normal(size=SHAPE.W_shape)
B = np.zeros(3)
ARCH = kc.Architecture.preset("digits")
THETA = kc.init_params(ARCH)
ZD = RNG.normal(size=(1, 64 * 3))
YD = np.array([1, 2, 3])


def _with(array, index, value):
    out = np.array(array, dtype=float)
    out[index] = value
    return out


API_CASES = [
    (lambda: kc.LayerShape(0, 4, 1, 1, 1), ValueError, "a must be >= 1, got 0"),
    (lambda: kc.LayerShape(5, 4, 1, 1, "3"), TypeError, "h must be an integer"),
    (lambda: kc.LayerShape(5, 4, 1, 1, 6), ValueError, "h must be <= a_pad"),
    (lambda: kc.LayerShape(5, 4, 1, 1, 2, pool="min"), ValueError, "pool must be one of"),
    (lambda: kc.P_pad(SHAPE, np.int32), TypeError, "dtype must be float32 or float64"),
    (lambda: kc.P_pool(SHAPE), ValueError, "sigma_S is required for max pooling"),
    (lambda: kc.I_kron_W(W.T, SHAPE), ValueError, "W must have shape (d_out, h*h*d)"),
    (lambda: kc.phiT_kron_I(np.ones(3), 2), ValueError, "phi must have shape (h*h*d, M)"),
    (lambda: kc.forward(Z.astype(complex), W, B, SHAPE), TypeError, "got dtype complex128"),
    (lambda: kc.forward(Z.astype(object), W, B, SHAPE), TypeError, "got dtype object"),
    (lambda: kc.forward(Z[:1], W, B, SHAPE), ValueError, "Z must have shape (d, a*b*N)"),
    (lambda: kc.forward(Z[:, :0], W, B, SHAPE), ValueError, "with N >= 1, got shape (2, 0)"),
    (lambda: kc.forward(_with(Z, (1, 3), np.nan), W, B, SHAPE), ValueError,
     "Z contains nan at index (1, 3)"),
    (lambda: kc.forward(Z, _with(W, (0, 0), np.inf), B, SHAPE), ValueError, "W contains inf"),
    (lambda: kc.forward(Z, W, B[:2], SHAPE), ValueError, "b must have shape (d_out,) = (3,)"),
    (lambda: kc.forward(Z, W.astype(np.float32), B, SHAPE), TypeError,
     "W must have dtype float64 like the other inputs"),
    (lambda: kc.forward(Z, W, B, SHAPE, "swish"), ValueError, "activation must be"),
    (lambda: kc.forward(Z, W, B, SHAPE, backend="gpu"), ValueError, "backend must be one of"),
    (lambda: kc.conv_S(Z, W, B, SHAPE, form="x"), ValueError, "form must be one of"),
    (lambda: kc.grad_S(np.ones((3, 4)), "cache"), TypeError, "cache must be the LayerCache"),
    (lambda: kc.grad_W(np.ones((3, 40)), np.ones((18, 3)), SHAPE), ValueError,
     "phi must have shape (h*h*d, a_conv*b_conv*N)"),
    (lambda: kc.backward(np.ones((3, 5)), W, kc.forward(Z, W, B, SHAPE)[1]), ValueError,
     "dZ_next must have shape (d_out, a_out*b_out*N)"),
    (lambda: kc.vec(np.ones(3)), ValueError, "A must have shape (r, c)"),
    (lambda: kc.mat(np.ones(5), 2, 2), ValueError, "v must have shape (4,)"),
    (lambda: kc.Z_from_nchw(np.ones((2, 3, 4))), ValueError, "x must have shape (N, d, a, b)"),
    (lambda: kc.nchw_from_Z(np.ones((2, 7)), 2, 2), ValueError, "Z must have shape (d, a*b*N)"),
    (lambda: kc.W_from_oihw(np.ones((1, 1, 2, 3))), ValueError, "square filters"),
    (lambda: kc.identity2(np.ones((2, 3)), np.ones((2, 2))), ValueError,
     "B must have shape (q, r)"),
    (lambda: kc.numerical_jacobian(np.sin, np.zeros(2), eps=0), ValueError, "eps must be > 0"),
    (lambda: kc.Architecture.from_dict({"input": {"a": 8, "b": 8, "d": 1}, "full": [{"n": 2}]}),
     ValueError, "full layer 1: unknown key 'n'"),
    (lambda: kc.Architecture.from_dict({"input": {"a": 8, "b": 8, "d": 1},
                                        "conv": [{"d_out": 2, "h": 3, "stride": 1.5}],
                                        "full": [{"n_out": 2}]}),
     TypeError, "conv layer 1: stride must be an integer"),
    (lambda: kc.Architecture((8, 8, 1), [kc.ConvSpec(2, 3, d=3)], [kc.FullSpec(2)]),
     ValueError, "conv layer 1: d must equal the previous layer's channels, 1"),
    (lambda: kc.load_architecture("no/such/file.json"), ValueError, "is neither a preset"),
    (lambda: kc.objective(THETA[:-1], ARCH, ZD, YD), ValueError, "theta must have shape"),
    (lambda: kc.objective(THETA, ARCH, ZD, [1, 2, 10]), ValueError,
     "y must hold classes in [0, 10), got 10"),
    (lambda: kc.objective(THETA, ARCH, ZD, [0.5, 1, 2]), TypeError, "integer class labels"),
    (lambda: kc.objective(THETA, ARCH, ZD, YD, C=-1), ValueError, "C must be > 0"),
    (lambda: kc.objective(THETA, ARCH, ZD, YD, loss="hinge"), ValueError, "loss must be one of"),
    (lambda: kc.objective(THETA, ARCH, ZD, YD, chunk_size=0), ValueError,
     "chunk_size must be >= 1"),
    (lambda: kc.objective(_with(THETA, 5, np.nan), ARCH, ZD, YD), ValueError,
     "theta contains nan at index (5,)"),
    (lambda: kc.objective(THETA, ARCH, ZD[:, :0], []), ValueError, "with N >= 1"),
    (lambda: kc.init_params(ARCH, dtype=np.int64), TypeError, "dtype must be float32 or float64"),
    (lambda: kc.objective(THETA, ARCH, ZD, YD, C=1e-320), FloatingPointError,
     "C = 9.99989e-321 is too small: the regularization coefficient 1/(C l) overflows for l = 3"),
    (lambda: kc.objective(THETA, ARCH, ZD, YD, n_total=2), ValueError,
     "n_total must be >= the number of instances given (3)"),
    (lambda: kc.GaussNewton(THETA, ARCH, ZD, YD, n_total=2), ValueError,
     "n_total must be >= the number of instances given (3)"),
    (lambda: kc.GaussNewton(THETA, ARCH, ZD, YD, n_total=0), ValueError, "n_total must be >= 1"),
    (lambda: kc.jacobian_vector(THETA, ARCH, ZD, THETA[:3]), ValueError,
     "v must have the shape of theta"),
    (lambda: load_model("no/such/model.npz"), ValueError, "not a readable kronconv model"),
    (lambda: read_golden("no/such/golden.npz"), ValueError, "not a readable kronconv golden"),
    (lambda: load_data("data.csv"), ValueError, "expected a .npz or .mat file"),
    (lambda: kc.set_memory_limit(-1), ValueError, "nbytes must be a whole number of bytes >= 1"),
    (lambda: NewtonOptions(cg_rtol=0), ValueError,
     "cg_rtol must be > 0, got 0"),
    (lambda: SGOptions(batch_size=0), ValueError,
     "batch_size must be >= 1, got 0"),
]


@pytest.mark.parametrize(("call", "error", "fragment"), API_CASES)
def test_bad_api_input(call, error, fragment):
    with pytest.raises(error) as info:
        call()
    assert fragment in str(info.value)


@settings(max_examples=80, deadline=None)
@given(which=st.sampled_from(["Z rows", "Z columns", "W rows", "W columns", "b"]),
       delta=st.integers(-3, 3).filter(lambda k: k != 0), N=st.integers(1, 3))
def test_forward_and_layer_output_refuse_malformed_shapes(which, delta, N):
    s = kc.LayerShape(a=4, b=3, d=2, d_out=2, h=2, pool="average", pool_size=2, pool_stride=1)
    shapes = {"Z": [s.d, s.a * s.b * N], "W": list(s.W_shape), "b": [s.d_out]}
    name, _, axis = which.partition(" ")
    dims = shapes[name]
    k = {"rows": 0, "columns": 1, "": 0}[axis]
    dims[k] = max(0, dims[k] + delta)
    if name == "Z" and k == 1 and dims[1] > 0 and dims[1] % (s.a * s.b) == 0:
        return                                   # a different batch size: legitimately valid
    arrays = {key: np.ones(shape) for key, shape in shapes.items()}
    for fn in (kc.forward, kc.layer_output):
        with pytest.raises((ValueError, TypeError)):
            fn(arrays["Z"], arrays["W"], arrays["b"], s)


# --- memory ---------------------------------------------------------------------------------

def test_set_memory_limit_refuses_an_oversized_layer_before_allocating(memory_limit):
    memory_limit(64 * 2**20)
    huge = kc.LayerShape(a=256, b=256, d=64, d_out=64, h=3, padding=1)
    Wh, Zh = np.ones(huge.W_shape), np.zeros((64, 256 * 256))      # 32 MiB of input
    for build in (lambda: kc.I_kron_W(Wh, huge), lambda: kc.P_phi(huge),
                  lambda: kc.forward(Zh, Wh, np.zeros(64), huge)):
        message, peak = refused_with_peak(build)
        assert "needs about" in message
        assert "above kronconv's memory limit of 64.0 MiB" in message
        assert peak < 8 * 2**20                      # refused before any large allocation


def test_set_memory_limit_refuses_an_oversized_batch(memory_limit):
    memory_limit(256 * 2**20)
    arch = kc.Architecture.preset("mnist-3layer")
    theta = kc.init_params(arch)
    Zb = np.zeros((1, 784 * 256))                    # 1.6 MB of input, ~300 MB of caches
    message, peak = refused_with_peak(                  # one block of all 256 instances
        lambda: kc.objective_and_gradient(theta, arch, Zb, np.zeros(256, int), chunk_size=256))
    assert "the forward pass of 256 instances" in message
    assert "evaluate in smaller chunks (chunk_size)" in message
    assert peak < 8 * 2**20
    # blocks of 128 on two threads: two of them at once are refused as well
    message, _ = refused_with_peak(lambda: kc.objective_and_gradient(
        theta, arch, Zb, np.zeros(256, int), chunk_size=128, threads=2))
    assert "the forward passes of 2 blocks of 128 instances at once" in message


@pytest.mark.slow
def test_objective_and_gradient_in_chunks_fits_under_the_memory_limit(memory_limit):
    memory_limit(256 * 2**20)                        # the batch above, refused whole
    arch = kc.Architecture.preset("mnist-3layer")
    theta = kc.init_params(arch)
    Zb = np.zeros((1, 784 * 256))
    f, grad = kc.objective_and_gradient(theta, arch, Zb, np.zeros(256, int), chunk_size=16)
    # in chunks it fits, and gives the numbers: zero images and zero biases give outputs
    # z = 0, so ξ = ||0 - e_0||^2 = 1 for every instance (C = inf: no regularization), and
    # only the last bias has a gradient, 2 (z - e_0) = -2 e_0: every weight sees zero
    # inputs, and ReLU'(0) = 0 stops the gradient at the convolutional layers
    assert f == 1.0
    expected = np.zeros(arch.n_params)
    expected[arch.n_params - arch.n_classes] = -2.0
    np.testing.assert_array_equal(grad, expected)


def test_P_phi_int64_indices_by_construction(monkeypatch):
    assert operators._index_dtype(2**31 - 1) is np.int32
    assert operators._index_dtype(2**31) is np.int64
    # build the int64 path on a small shape by lowering the threshold
    shape = kc.LayerShape(a=4, b=3, d=2, d_out=2, h=2, padding=1)
    reference = kc.P_phi(shape).toarray()
    monkeypatch.setattr(operators, "_INT32_MAX", 10)
    operators._P_phi.cache_clear()
    A = kc.P_phi(shape)
    assert A.indices.dtype == np.int64
    np.testing.assert_array_equal(A.toarray(), reference)
    operators._P_phi.cache_clear()
    # and a shape that needs it for real is judged by its estimate, with 8-byte indices
    big = kc.LayerShape(a=2048, b=2048, d=64, d_out=1, h=3, padding=1)
    assert big.n_phi > 2**31
    with pytest.raises(kc.MemoryLimitError, match="P_phi"):
        kc.P_phi(big)


# --- numerics ---------------------------------------------------------------------------------

def test_objective_and_gradient_reports_float32_overflow():
    theta = (THETA * 1e18).astype(np.float32)
    with pytest.raises(FloatingPointError, match="not finite in float32: the network overflowed"):
        kc.objective_and_gradient(theta, ARCH, ZD.astype(np.float32), YD)
    with pytest.raises(FloatingPointError, match="outputs is not finite"):
        kc.network_output(theta, ARCH, ZD.astype(np.float32))


def test_set_check_finite_off_lets_nan_through():
    bad = _with(Z, (0, 0), np.nan)
    kc.set_check_finite(False)
    try:
        out = kc.layer_output(bad, W, B, SHAPE, "identity")
    finally:
        kc.set_check_finite(True)
    assert np.isnan(out).any()


# --- files ------------------------------------------------------------------------------------

def test_read_golden_rejects_corrupted_and_truncated_files(tmp_path):
    path = tmp_path / "g.npz"
    write_golden(path, ARCH, batch=2)
    raw = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 3])
    with pytest.raises(ValueError, match=r"cut\.npz: not a readable kronconv golden file"):
        read_golden(tmp_path / "cut.npz")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(ValueError, match=r"junk\.npz: not a readable"):
        read_golden(tmp_path / "junk.npz")
    np.savez(tmp_path / "old.npz", meta=np.array('{"format_version": 0}'))
    with pytest.raises(ValueError, match=r"old\.npz: golden format version 0"):
        read_golden(tmp_path / "old.npz")
    assert read_golden(path)["meta"]["batch"] == 2
    with pytest.raises(ValueError, match=r"not an IDX file"):
        load_idx(tmp_path / "junk.npz", tmp_path / "junk.npz")


SAVE_LOOP = """
import sys, numpy as np
from kronconv import Architecture, init_params
from kronconv.data import Scaling
from kronconv.model import Model, save_model
from kronconv.train import TrainState
arch = Architecture.preset("digits")
scaling = Scaling(16.0, np.zeros((1, 8, 8)))
k = 0
while True:
    theta = np.full(arch.n_params, float(k))
    save_model(sys.argv[1], Model(arch, scaling, {"k": k}, TrainState(theta, iteration=k)))
    k += 1
    print(k, flush=True)
"""


def test_save_model_killed_midway_leaves_a_whole_model(tmp_path):
    path = tmp_path / "m.npz"
    for delay in (0.3, 0.45, 0.6):
        proc = subprocess.Popen([sys.executable, "-c", SAVE_LOOP, str(path)],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        proc.stdout.readline()                       # at least one save has completed
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        model = load_model(path)                     # never half-written
        k = model.state.iteration
        assert model.options == {"k": k}
        np.testing.assert_array_equal(model.theta, np.full(ARCH.n_params, float(k)))


# --- the cache ----------------------------------------------------------------------------------

def test_layer_output_concurrent_use_of_the_operator_cache_gives_serial_results():
    shapes = [kc.LayerShape(a=6 + k % 3, b=5, d=2, d_out=3, h=3, padding=k % 2,
                            pool=("max", "average", "none")[k % 3]) for k in range(6)]
    data = [(np.random.default_rng(k).normal(size=(2, s.a * s.b * 3)),
             np.random.default_rng(k).normal(size=s.W_shape)) for k, s in enumerate(shapes)]

    def run(k):
        s, (Zk, Wk) = shapes[k], data[k]
        return kc.layer_output(Zk, Wk, np.zeros(3), s), kc.P_phi(s).toarray()

    for fn in (operators._P_phi, operators._P_pad, operators._pool_windows):
        fn.cache_clear()
    serial = [run(k) for k in range(6)]
    for fn in (operators._P_phi, operators._P_pad, operators._pool_windows):
        fn.cache_clear()
    results, errors = {}, []

    def worker(t):
        try:
            for rep in range(5):
                k = (t + rep) % 6
                results[(t, rep)] = (k, run(k))
        except Exception as exc:          # report from the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for k, (out, P) in results.values():
        np.testing.assert_array_equal(out, serial[k][0])
        np.testing.assert_array_equal(P, serial[k][1])


def test_set_cache_limit_bounds_the_cache_in_bytes():
    old = kc.cache_info()["max_bytes"]
    try:
        kc.set_cache_limit(200_000)
        for k in range(10):
            kc.P_phi(kc.LayerShape(a=20 + k, b=20, d=3, d_out=1, h=3))
        info = kc.cache_info()
        assert 0 < info["bytes"] <= 200_000
    finally:
        kc.set_cache_limit(old)


def test_verify_refuses_an_oversized_batch_before_drawing_it(memory_limit, capsys):
    from kronconv.cli import main
    from kronconv.verify import DEFAULT_SHAPE, run_checks, run_network_checks

    memory_limit(2**20)
    for build in (lambda: run_checks(DEFAULT_SHAPE, batch=100_000),
                  lambda: run_network_checks("digits", batch=100_000)):
        message, peak = refused_with_peak(build)
        assert "checking a forward pass of 100000 instances needs about" in message
        assert "use a smaller batch (batch)" in message
        assert peak < 2**20                          # nothing drawn (Z alone would be 48 MB)
    memory_limit(None)
    with pytest.raises(SystemExit) as info:
        main(["verify", "--arch", "digits", "--batch", "10000000000000"])
    assert info.value.code == 1
    assert "use a smaller batch (--batch)" in capsys.readouterr().err
