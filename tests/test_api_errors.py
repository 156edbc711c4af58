"""The Python API refuses bad arguments by name, before any work, and takes valid unusual ones.

Three parts: bad-input cases generated from every public function's declared constraints
(``validate_params``); hand-written cases for what the declarations do not say (NaN in the
vectors of the Gauss-Newton products, the memory guard before each allocation, the
``LinearOperator`` contract, a network without convolutional layers against PyTorch, the
messages); and valid unusual inputs (Fortran order, strided and broadcast views, read-only
arrays, float32, integer arrays, (n, 1) vectors) that must give the plain results, bit for bit.
"""

from __future__ import annotations

import math
import re
import tracemalloc

import numpy as np
import pytest
import scipy.sparse.linalg as spla
from _memory import refused_with_peak
from numpy.lib.stride_tricks import sliding_window_view

import kronconv as kc
from kronconv import check, testing
from kronconv.bench import run_bench
from kronconv.cli import main
from kronconv.golden import golden_arrays, write_golden
from kronconv.ops import network_operators
from kronconv.torch_reference import torch_available

# --- one valid call of every public function ----------------------------------------------------

SHAPE = kc.LayerShape(a=5, b=4, d=2, d_out=3, h=3, padding=1, pool="max", pool_size=2)
RNG = np.random.default_rng(0)
Z = RNG.normal(size=(2, 20 * 2))
W = RNG.normal(size=SHAPE.W_shape)
B = RNG.normal(size=3)
PHI = kc.phi_pad(Z, SHAPE)
DS = RNG.normal(size=(3, SHAPE.n_windows * 2))
Z_NEXT, CACHE = kc.forward(Z, W, B, SHAPE)
DZ_NEXT = RNG.normal(size=Z_NEXT.shape)

ARCH = kc.Architecture.preset("digits")
THETA = kc.init_params(ARCH, seed=1)
ZD = RNG.normal(size=(1, 64 * 3))
YD = np.array([1, 2, 3])
V = RNG.normal(size=ARCH.n_params)
OUT, NET_CACHE = kc.forward_network(THETA, ARCH, ZD)
U = RNG.normal(size=OUT.shape)
G = kc.GaussNewton(THETA, ARCH, ZD, YD, C=0.5, loss="cross_entropy")

DATA = {"theta": THETA, "arch": ARCH, "Z": ZD}
BLOCKS = {"chunk_size": 2, "backend": "dense", "threads": 1}
EVALUATION = {**DATA, "y": YD, "C": 0.5, "loss": "cross_entropy", "n_total": 10, **BLOCKS}
FLAT = RNG.normal(size=(2, 3 * 4 * 5))


def _conv(x, w, b, stride, padding):
    """A convolution in NCHW/OIHW written directly (for check_conv2d's valid call)."""
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    win = sliding_window_view(xp, w.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    return np.einsum("ncuvij,ocij->nouv", win, w) + b[:, None, None]


def _pool(x, kind, size, stride):
    """Max or average pooling in NCHW written directly (for check_pool's valid call)."""
    win = sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]
    return win.max(axis=(4, 5)) if kind == "max" else win.mean(axis=(4, 5))


VALID_CALLS = {
    "phi_pad": (kc.phi_pad, {"Z": Z, "shape": SHAPE, "backend": "dense"}),
    "conv_S": (kc.conv_S, {"Z": Z, "W": W, "b": B, "shape": SHAPE, "form": "phiT_kron_I",
                           "backend": "sparse"}),
    "pool": (kc.pool, {"sigma_S": DS, "shape": SHAPE, "backend": "dense"}),
    "forward": (kc.forward, {"Z": Z, "W": W, "b": B, "shape": SHAPE, "activation": "tanh",
                             "backend": "dense"}),
    "layer_output": (kc.layer_output, {"Z": Z, "W": W, "b": B, "shape": SHAPE,
                                       "activation": "relu", "backend": "sparse"}),
    "grad_S": (kc.grad_S, {"dZ_next": DZ_NEXT, "cache": CACHE}),
    "grad_W": (kc.grad_W, {"dS": DS, "phi": PHI, "shape": SHAPE, "form": "kron",
                           "backend": "sparse"}),
    "grad_b": (kc.grad_b, {"dS": DS, "shape": SHAPE, "form": "vec", "backend": "dense"}),
    "grad_Z": (kc.grad_Z, {"dS": DS, "W": W, "shape": SHAPE, "form": "vec", "backend": "dense"}),
    "backward": (kc.backward, {"dZ_next": DZ_NEXT, "W": W, "cache": CACHE, "form": "kron"}),
    "forward_network": (kc.forward_network, {**DATA, "backend": "dense"}),
    "backward_network": (kc.backward_network, {"dz": U, "theta": THETA, "arch": ARCH,
                                               "cache": NET_CACHE, "form": "vec"}),
    "objective": (kc.objective, EVALUATION),
    "objective_and_gradient": (kc.objective_and_gradient, {**EVALUATION, "form": "vec"}),
    "network_output": (kc.network_output, {**DATA, **BLOCKS}),
    "predict": (kc.predict, {**DATA, **BLOCKS}),
    "accuracy": (kc.accuracy, {**DATA, "y": YD, **BLOCKS}),
    "jacobian_vector": (kc.jacobian_vector, {**DATA, "v": V, **BLOCKS}),
    "jacobian_T_vector": (kc.jacobian_T_vector, {**DATA, "u": U, **BLOCKS}),
    "GaussNewton": (kc.GaussNewton, EVALUATION),
    "GaussNewton.matvec": (kc.GaussNewton.matvec, {"self": G, "v": V}),
    "GaussNewton.matmat": (kc.GaussNewton.matmat, {"self": G, "V": np.stack([V, -V], axis=1)}),
    "init_params": (kc.init_params, {"arch": ARCH, "seed": 3, "dtype": "float32"}),
    "pack_params": (kc.pack_params, {"params": [(W, B)]}),
    "unpack_params": (kc.unpack_params, {"theta": THETA, "arch": ARCH}),
    "loss_value": (kc.loss_value, {"z": U, "y": YD, "loss": "squared"}),
    "loss_and_grad": (kc.loss_and_grad, {"z": U, "y": YD, "loss": "cross_entropy"}),
    "loss_hessian_vector": (kc.loss_hessian_vector, {"z": OUT, "y": YD, "u": U,
                                                     "loss": "cross_entropy"}),
    "P_pad": (kc.P_pad, {"shape": SHAPE, "dtype": np.float32}),
    "P_phi": (kc.P_phi, {"shape": SHAPE, "dtype": "float64"}),
    "P_pool": (kc.P_pool, {"shape": SHAPE, "sigma_S": DS, "dtype": np.float64}),
    "I_kron_W": (kc.I_kron_W, {"W": W, "shape": SHAPE}),
    "ones_kron_I": (kc.ones_kron_I, {"shape": SHAPE, "dtype": np.float64}),
    "phiT_kron_I": (kc.phiT_kron_I, {"phi": PHI, "d_out": 3}),
    "vec": (kc.vec, {"A": W}),
    "mat": (kc.mat, {"v": W.ravel(), "rows": 3, "cols": 18}),
    "Z_from_chw": (kc.Z_from_chw, {"x": RNG.normal(size=(2, 3, 4))}),
    "Z_from_nchw": (kc.Z_from_nchw, {"x": RNG.normal(size=(2, 2, 3, 4))}),
    "Z_from_hwc": (kc.Z_from_hwc, {"x": RNG.normal(size=(3, 4, 2))}),
    "Z_from_nhwc": (kc.Z_from_nhwc, {"x": RNG.normal(size=(2, 3, 4, 2))}),
    "chw_from_Z": (kc.chw_from_Z, {"Z": Z[:, :20], "a": 5, "b": 4}),
    "nchw_from_Z": (kc.nchw_from_Z, {"Z": Z, "a": 5, "b": 4}),
    "hwc_from_Z": (kc.hwc_from_Z, {"Z": Z[:, :20], "a": 4, "b": 5}),
    "nhwc_from_Z": (kc.nhwc_from_Z, {"Z": Z, "a": 4, "b": 5}),
    "W_from_oihw": (kc.W_from_oihw, {"w": RNG.normal(size=(3, 2, 3, 3))}),
    "W_from_hwio": (kc.W_from_hwio, {"w": RNG.normal(size=(3, 3, 2, 3))}),
    "oihw_from_W": (kc.oihw_from_W, {"W": W, "h": 3}),
    "hwio_from_W": (kc.hwio_from_W, {"W": W, "h": 3}),
    "W_from_nchw_flat": (kc.W_from_nchw_flat, {"w": FLAT, "d": 3, "a": 4, "b": 5}),
    "nchw_flat_from_W": (kc.nchw_flat_from_W, {"W": FLAT, "d": 3, "a": 4, "b": 5}),
    "W_from_nhwc_flat": (kc.W_from_nhwc_flat, {"w": FLAT, "d": 3, "a": 4, "b": 5}),
    "nhwc_flat_from_W": (kc.nhwc_flat_from_W, {"W": FLAT, "d": 3, "a": 4, "b": 5}),
    "identity2": (kc.identity2, {"A": W.T, "B": W}),
    "identity3": (kc.identity3, {"A": W, "B": W.T}),
    "numerical_jacobian": (kc.numerical_jacobian, {"f": np.sin, "x": B, "eps": 1e-5}),
    "get_activation": (kc.get_activation, {"activation": "sigmoid"}),
    "set_check_finite": (kc.set_check_finite, {"flag": True}),
    "check_conv2d": (check.check_conv2d, {"conv2d": _conv, "conv2d_backward": None,
                                          "cases": check.CONV_CASES[:1], "dtypes": ("float64",),
                                          "seed": 0}),
    "run_bench": (run_bench, {"arch": "digits", "batch": 2, "dtype": "float32", "threads": 1,
                              "repeat": 1, "backends": ("dense",), "seed": 0, "loss": "squared",
                              "C": 1.0, "chunk_size": 1}),
    "golden_arrays": (golden_arrays, {"arch": ARCH, "batch": 2, "seed": 0, "dtype": "float32",
                                      "loss": "squared", "C": 1.0}),
    "set_memory_limit": (kc.set_memory_limit, {"nbytes": None}),          # the default
    "set_cache_limit": (kc.set_cache_limit, {"nbytes": 512 * 2**20}),     # the default
    "check_pool": (check.check_pool, {"pool_fn": _pool,
                                      "pool_backward": None, "cases": check.POOL_CASES[:1],
                                      "dtypes": ["float32"], "seed": 1}),
}


def _declared(fn):
    """The decorated function behind ``fn`` (a class: its ``__init__``)."""
    return fn.__init__ if isinstance(fn, type) else fn


def _bad_cases():
    """``(label, fn, kwargs, name, error)`` for every declared argument and every value its
    constraint lists as breaking it, and for every dtype mismatch in a ``same_dtype`` group."""
    cases = []
    for label, (fn, valid) in VALID_CALLS.items():
        declared = _declared(fn)
        for name, constraint in declared.constraints.items():
            for k, (value, error) in enumerate(constraint.invalid(valid[name])):
                cases.append(pytest.param(fn, {**valid, name: value}, name, error,
                                          id=f"{label}-{name}-{k}"))
        # the first of a same_dtype group sets the dtype (every valid array is float64)
        for name in declared.same_dtype[1:]:
            cases.append(pytest.param(fn, {**valid, name: valid[name].astype(np.float32)}, name,
                                      TypeError, id=f"{label}-{name}-float32"))
    return cases


BAD_CASES = _bad_cases()


def test_every_public_function_declares_its_constraints():
    # everything exported that takes arguments is declared (and has a valid call above),
    # except the classes checked by their own tables and the functions without arguments
    undeclared = {"Activation", "Architecture", "ConvSpec", "FullSpec", "LayerCache",
                  "LayerShape", "NetworkCache", "MemoryLimitError", "load_architecture",
                  "get_memory_limit", "cache_info"}                      # (no arguments)
    called = {label.split(".")[0] for label in VALID_CALLS}
    for name in kc.__all__:
        obj = getattr(kc, name)
        if callable(obj) and name not in undeclared:
            assert hasattr(_declared(obj), "constraints"), f"{name} declares no constraints"
            assert name in called, f"{name} has no valid call in VALID_CALLS"
    for fn, valid in VALID_CALLS.values():               # the valid calls are valid
        assert set(_declared(fn).constraints) <= set(valid)
    assert len(BAD_CASES) >= 80


@pytest.mark.parametrize(("fn", "kwargs", "name", "error"), BAD_CASES)
def test_bad_argument_is_refused_naming_it(fn, kwargs, name, error):
    with pytest.raises(error) as info:
        fn(**kwargs)
    assert type(info.value) is error                   # not numpy's UFuncTypeError, say
    assert re.match(rf"{re.escape(name)}(\[\d+\])? ", str(info.value)), str(info.value)


@pytest.mark.parametrize(("label", "fn", "kwargs"),
                         [(label, fn, kw) for label, (fn, kw) in VALID_CALLS.items()])
def test_valid_calls_run(label, fn, kwargs):
    fn(**kwargs)                                # the base of every generated bad case is valid


# --- finite and type checks in every product --------------------------------------------------

def _nan_at(array, index=0):
    out = np.array(array, dtype=float)
    out.flat[index] = np.nan
    return out


@pytest.mark.parametrize(("call", "fragment"), [
    (lambda: G.matvec(_nan_at(V, 7)), "v contains nan at index (7,)"),
    (lambda: G.as_linear_operator() @ _nan_at(V, 7), "v contains nan at index (7,)"),
    (lambda: kc.jacobian_vector(THETA, ARCH, ZD, _nan_at(V)), "v contains nan"),
    (lambda: kc.jacobian_T_vector(THETA, ARCH, ZD, _nan_at(U, 4)),
     "u contains nan at index (1, 1)"),
    (lambda: kc.backward(_nan_at(DZ_NEXT), W, CACHE), "dZ_next contains nan at index (0, 0)"),
    (lambda: kc.grad_S(_nan_at(DZ_NEXT, 2), CACHE), "dZ_next contains nan at index (0, 2)"),
    (lambda: kc.grad_W(DS, _nan_at(PHI, 1), SHAPE), "phi contains nan at index (0, 1)"),
    (lambda: kc.grad_Z(_nan_at(DS), W, SHAPE), "dS contains nan"),
    (lambda: kc.loss_and_grad(_nan_at(U), YD), "z contains nan"),
    (lambda: kc.loss_hessian_vector(OUT, YD, _nan_at(U)), "u contains nan"),
    (lambda: kc.backward_network(_nan_at(U), THETA, ARCH, NET_CACHE), "dz contains nan"),
])
def test_nan_in_a_vector_or_gradient_is_refused(call, fragment):
    with pytest.raises(ValueError, match="needs finite inputs") as info:
        call()
    assert fragment in str(info.value)


def test_set_check_finite_off_lets_nan_through_the_products():
    kc.set_check_finite(False)
    try:
        Gv = G.matvec(_nan_at(V))
        dW, _, _ = kc.backward(_nan_at(DZ_NEXT), W, CACHE)
        Bu = kc.loss_hessian_vector(OUT, YD, _nan_at(U))
    finally:
        kc.set_check_finite(True)
    assert np.isnan(Gv).any()
    assert np.isnan(dW).any()
    assert np.isnan(Bu).any()


@pytest.mark.parametrize(("call", "fragment"), [
    (lambda: G.matvec(V + 1j), "v must be a float32 or float64 array, got dtype complex128"),
    (lambda: G.as_linear_operator().matvec(V + 0j), "v must be a float32 or float64 array"),
    (lambda: G.as_linear_operator() @ np.ones((V.size, 2), complex), "V must be a float32"),
    (lambda: kc.jacobian_vector(THETA, ARCH, ZD, V.astype(complex)), "v must be a float32"),
    (lambda: kc.loss_and_grad(U.astype(str), YD), "z must be a float32 or float64 array, got "
     "dtype <U"),
    (lambda: kc.grad_W(DS.astype(object), PHI, SHAPE), "dS must be a float32 or float64 array, "
     "got dtype object"),
    (lambda: kc.vec(np.array([["a", "b"]])), "A must be an array of real numbers, got dtype <U1"),
    (lambda: kc.Z_from_nchw(np.ones((1, 1, 2, 2), complex)), "x must be an array of real numbers"),
    (lambda: kc.objective(THETA, ARCH, [[1.0] * 64, [1.0] * 63], YD), "Z must be an array "
     "(nested sequences of equal lengths)"),
    (lambda: kc.set_check_finite("no"), "flag must be True or False, got 'no'"),
])
def test_complex_string_object_and_ragged_arrays_are_type_errors_naming_the_argument(call,
                                                                                     fragment):
    with pytest.raises((TypeError, ValueError)) as info:
        call()
    assert fragment in str(info.value)
    assert type(info.value).__name__ in ("TypeError", "ValueError")   # not numpy's own errors


@pytest.mark.parametrize("fn", [kc.jacobian_vector, kc.jacobian_T_vector])
@pytest.mark.parametrize(("backend", "error"), [("gpu", ValueError), (None, TypeError),
                                                (0, TypeError)])
def test_jacobian_products_check_the_backend_name(fn, backend, error):
    direction = V if fn is kc.jacobian_vector else U
    with pytest.raises(error, match=r"backend must be one of \('sparse', 'dense'\)"):
        fn(THETA, ARCH, ZD, direction, backend=backend)


@pytest.mark.parametrize("backend", kc.BACKENDS)
def test_grad_S_and_backward_use_the_checked_dZ_next_in_the_cache_dtype(backend):
    Z32, W32, b32 = (x.astype(np.float32) for x in (Z, W, B))
    _, cache = kc.forward(Z32, W32, b32, SHAPE, backend=backend)
    integers = np.arange(DZ_NEXT.size).reshape(DZ_NEXT.shape) % 5 - 2
    as_float = integers.astype(np.float32)
    dS = kc.grad_S(integers, cache)
    assert dS.dtype == np.float32
    np.testing.assert_array_equal(dS, kc.grad_S(as_float, cache))
    for got, expected in zip(kc.backward(integers, W32, cache), kc.backward(as_float, W32, cache),
                             strict=True):
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, expected)
    # an integer argument takes the dtype of the other arrays, whichever comes first
    phi32 = kc.phi_pad(Z32, SHAPE)
    dW = kc.grad_W(np.round(dS).astype(int), phi32, SHAPE, backend=backend)
    assert dW.dtype == np.float32
    np.testing.assert_array_equal(dW, kc.grad_W(np.round(dS), phi32, SHAPE, backend=backend))
    with pytest.raises(TypeError, match="W must have dtype float32 like the other inputs"):
        kc.backward(as_float, W, cache)


# --- the memory guard before every large allocation --------------------------------------------

HUGE_FULL = kc.Architecture((1000, 1000, 1), [], [kc.FullSpec(1000), kc.FullSpec(2)])
HUGE_IMAGE = kc.Architecture((20000, 20000, 1), [kc.ConvSpec(1, 1, pool="max",
                                                             pool_size=20000)],
                             [kc.FullSpec(2)])
BROADCAST = np.broadcast_to(np.ones((1, 1)), (1, 64 * 10**7))       # 5 GB as a float64 array
LABELS = np.broadcast_to(np.int64(0), (10**7,))
MANY = np.ones((2, 20 * 20000))           # 6.4 MB of images: 64 MB with phi(pad(Z))
MANY_DS = np.ones((3, 20 * 20000))        # 9.6 MB of dS: 9.6 MB more for grad_b


@pytest.mark.parametrize(("build", "what", "limit"), [
    (lambda: kc.init_params(HUGE_FULL), f"theta of {HUGE_FULL.n_params} parameters", "64.0"),
    (lambda: kc.objective(THETA, ARCH, BROADCAST, LABELS), "Z copied into C order", "64.0"),
    (lambda: kc.forward(np.broadcast_to(Z[:, :1], (2, 20 * 10**7)), W, B, SHAPE),
     "Z copied into C order", "64.0"),
    (lambda: kc.phi_pad(MANY, SHAPE), "phi(pad(Z)) on 20000 instances", "32.0"),
    (lambda: kc.grad_b(MANY_DS, SHAPE), "the gradient with respect to b on 20000 instances",
     "8.0"),
    (lambda: write_golden("never-written.npz", ARCH, batch=10**7),
     "the direction v and the random images of 10000000 instances", "64.0"),
    (lambda: run_bench("digits", batch=10**7, repeat=1, backends=("dense",)),
     "the random images of 10000000 instances", "64.0"),
    (lambda: network_operators(HUGE_IMAGE), "one random image", "64.0"),
    # one instance alone is too large: the architecture is blamed, not the batch
    (lambda: write_golden("never-written.npz", HUGE_IMAGE, batch=1),
     "the direction v and the random images of one instance needs about 6.0 GiB, above "
     "kronconv's memory limit of 64.0 MiB; use an architecture with smaller inputs or fewer "
     "parameters (arch)", "64.0"),
    (lambda: run_bench(HUGE_IMAGE, batch=1, repeat=1, backends=("dense",)),
     "use an architecture with smaller inputs or fewer parameters (arch)", "64.0"),
])
def test_memory_guard_refuses_before_allocating(build, what, limit, memory_limit, tmp_path,
                                                monkeypatch):
    monkeypatch.chdir(tmp_path)
    memory_limit(int(float(limit) * 2**20))
    message, peak = refused_with_peak(build)
    assert what in message
    assert f"above kronconv's memory limit of {limit} MiB" in message
    assert peak < 4 * 2**20
    assert not list(tmp_path.iterdir())                     # golden wrote nothing


def test_finite_check_of_a_broadcast_view_allocates_nothing(memory_limit):
    memory_limit(64 * 2**20)
    bad = np.broadcast_to(np.array([[np.nan]]), (1, 64 * 10**7))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"Z contains nan at index \(0, 0\)"):
            kc.objective(THETA, ARCH, bad, LABELS)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20


# --- the Gauss-Newton matrix as a LinearOperator --------------------------------------------------

def test_GaussNewton_linear_operator_takes_n_by_1_vectors_and_matrices():
    op = G.as_linear_operator()
    columns = RNG.normal(size=(V.size, 3))
    expected = np.stack([G.matvec(columns[:, j].copy()) for j in range(3)], axis=1)
    np.testing.assert_array_equal(op @ columns, expected)
    np.testing.assert_array_equal(op.matmat(columns), expected)
    np.testing.assert_array_equal(G.matmat(np.asfortranarray(columns)), expected)
    Gv = G.matvec(columns[:, 0].copy())
    for x in (columns[:, :1], columns[:, :1].copy()):
        assert (op @ x).shape == (V.size, 1)
        np.testing.assert_array_equal(op @ x, Gv[:, None])
        np.testing.assert_array_equal(op.matvec(x), Gv[:, None])
        np.testing.assert_array_equal(G.matvec(x), Gv[:, None])
    np.testing.assert_array_equal(op.rmatvec(columns[:, 0]), Gv)      # G is symmetric
    assert (op @ np.zeros((V.size, 0))).shape == (V.size, 0)
    # the linear operator is G: a solver on it recovers x from G x
    x, info = spla.cg(op, Gv, rtol=1e-12, maxiter=2000)
    assert info == 0
    np.testing.assert_allclose(G.matvec(x), Gv, rtol=0, atol=1e-9 * np.abs(Gv).max())


def test_GaussNewton_matvec_refuses_other_matrices():
    with pytest.raises(ValueError, match=r"v must have shape \(n_params,\) or \(n_params, 1\) = "
                                         r"\(3658, 1\), got shape \(3658, 2\)"):
        G.matvec(np.ones((V.size, 2)))
    with pytest.raises(ValueError, match=r"V must have shape \(n_params, k\) = \(3658, k\)"):
        G.matmat(np.ones((V.size - 1, 2)))


# --- a network with no convolutional layer --------------------------------------------------------

FULL_ONLY = {"input": {"a": 4, "b": 3, "d": 2}, "full": [{"n_out": 5}, {"n_out": 3}]}


def test_full_only_network_agrees_with_pytorch():
    pytest.importorskip("torch")
    from kronconv.torch_reference import torch_gauss_newton_vector, torch_objective_and_gradient

    arch = kc.Architecture.from_dict(FULL_ONLY)
    assert arch.conv_shapes == ()
    rng = np.random.default_rng(3)
    theta, Zf = kc.init_params(arch, seed=2), rng.normal(size=(2, 12 * 5))
    y, v = np.array([0, 2, 1, 1, 0]), rng.normal(size=arch.n_params)
    f, grad = kc.objective_and_gradient(theta, arch, Zf, y, C=0.1, loss="cross_entropy")
    f_t, grad_t, z_t = torch_objective_and_gradient(theta, arch, Zf, y, C=0.1,
                                                    loss="cross_entropy")
    assert f == pytest.approx(f_t, rel=1e-12)
    testing.assert_relative_close(grad, grad_t, 1e-12, "∇f vs PyTorch")
    testing.assert_relative_close(kc.network_output(theta, arch, Zf), z_t, 1e-12, "z")
    Gv = kc.GaussNewton(theta, arch, Zf, y, C=0.1, loss="cross_entropy").matvec(v)
    testing.assert_relative_close(Gv, torch_gauss_newton_vector(theta, arch, Zf, y, v, C=0.1,
                                                                loss="cross_entropy"),
                                  1e-12, "Gv vs PyTorch")


@pytest.mark.skipif(not torch_available(), reason="the PyTorch checks need torch")
def test_verify_passes_on_a_full_only_network(tmp_path, capsys):
    path = tmp_path / "full.json"
    path.write_text(kc.Architecture.from_dict(FULL_ONLY).to_json(), encoding="utf-8")
    assert main(["verify", "--arch", str(path)]) == 0
    out = capsys.readouterr().out
    assert "∇f vs PyTorch autograd" in out
    assert "FAIL" not in out


# --- messages ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: kc.mat(np.ones(4), 2.5, 2), TypeError, "rows must be an integer, got 2.5 of type "
     "float"),
    (lambda: kc.mat(np.ones(4), -2, -2), ValueError, "rows must be >= 0, got -2"),
    (lambda: kc.mat(np.ones(4), 2, "2"), TypeError, "cols must be an integer, got '2'"),
    (lambda: check.check_conv2d(_conv, dtypes=("float16",)), ValueError,
     "dtypes[0] must be one of ('float64', 'float32'), got 'float16'"),
    (lambda: check.check_conv2d(_conv, dtypes="float64"), TypeError,
     "dtypes must be a list or tuple of one of ('float64', 'float32'), got 'float64'"),
    (lambda: kc.objective(THETA, ARCH, ZD, [0, np.inf, 1]), TypeError,
     "y must hold integer class labels, got dtype float64 with inf at index (1,)"),
    (lambda: kc.pack_params([(W, B, B)]), ValueError, "params[0] must be a (W, b) pair, got 3"),
    (lambda: kc.objective(THETA, ARCH, ZD, YD, C=math.nan), ValueError,
     "C must be > 0 (inf for no regularization), got nan"),
    (lambda: kc.numerical_jacobian(np.sin, B, eps=math.inf), ValueError,
     "eps must be finite, got inf"),
])
def test_messages_name_the_argument(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_overflow_advises_float64_only_for_float32(dtype):
    scale = 1e18 if dtype == np.float32 else 1e200
    with pytest.raises(FloatingPointError) as info:
        kc.network_output((THETA * scale).astype(dtype), ARCH, ZD.astype(dtype))
    message = str(info.value)
    assert f"not finite in {np.dtype(dtype)}" in message
    assert ("use float64" in message) == (dtype == np.float32)
    assert message.endswith("smaller weights or inputs")


# --- valid unusual inputs give the plain results, bit for bit ------------------------------------

def _read_only(array):
    out = np.array(array)
    out.flags.writeable = False
    return out


def _strided(array):
    """The same values as a non-contiguous view (every other column of a wider array)."""
    wide = np.zeros((*array.shape[:-1], 2 * array.shape[-1]), array.dtype)
    wide[..., ::2] = array
    return wide[..., ::2]


VARIANTS = {"fortran": np.asfortranarray, "strided": _strided, "read-only": _read_only}


def _assert_identical(got, expected):
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == e.dtype
        np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("backend", kc.BACKENDS)
def test_forward_and_backward_of_unusual_arrays_are_the_plain_results(variant, backend):
    make = VARIANTS[variant]
    assert make(Z).flags.c_contiguous == (variant == "read-only")
    plain_next, plain_cache = kc.forward(Z, W, B, SHAPE, backend=backend)
    got_next, cache = kc.forward(make(Z), make(W), make(B), SHAPE, backend=backend)
    _assert_identical([got_next], [plain_next])
    _assert_identical(kc.backward(make(DZ_NEXT), make(W), cache),
                      kc.backward(DZ_NEXT, W, plain_cache))
    _assert_identical([kc.grad_W(make(DS), make(PHI), SHAPE, backend=backend)],
                      [kc.grad_W(DS, PHI, SHAPE, backend=backend)])


@pytest.mark.parametrize("variant", VARIANTS)
def test_network_functions_of_unusual_arrays_are_the_plain_results(variant):
    make = VARIANTS[variant]
    f, grad = kc.objective_and_gradient(THETA, ARCH, ZD, YD, C=0.5, backend="dense")
    got_f, got_grad = kc.objective_and_gradient(make(THETA), ARCH, make(ZD), make(YD), C=0.5,
                                                backend="dense")
    assert got_f == f
    _assert_identical([got_grad], [grad])
    _assert_identical([kc.jacobian_T_vector(make(THETA), ARCH, make(ZD), make(U))],
                      [kc.jacobian_T_vector(THETA, ARCH, ZD, U)])
    _assert_identical([G.matvec(make(V))], [G.matvec(V)])
    _assert_identical([kc.loss_hessian_vector(make(OUT), make(YD), make(U))],
                      [kc.loss_hessian_vector(OUT, YD, U)])


def test_float32_throughout_and_integer_inputs_take_the_float_dtype():
    theta32, Z32 = THETA.astype(np.float32), ZD.astype(np.float32)
    f, grad = kc.objective_and_gradient(theta32, ARCH, Z32, YD, C=0.5)
    assert grad.dtype == np.float32
    assert isinstance(f, float)
    f64, grad64 = kc.objective_and_gradient(THETA, ARCH, ZD, YD, C=0.5)
    assert f == pytest.approx(f64, rel=1e-5)
    testing.assert_relative_close(grad, grad64, 1e-4, "float32 ∇f")
    G32 = kc.GaussNewton(theta32, ARCH, Z32, YD, C=0.5)
    assert G32.matvec(V).dtype == np.float32                  # float64 v computed in float32
    np.testing.assert_array_equal(G32.matvec(V), G32.matvec(V.astype(np.float32)))
    # integer images take the dtype of theta (of W and b), as if given in it
    Zint = np.round(ZD * 3).astype(np.int64)
    _assert_identical(kc.objective_and_gradient(theta32, ARCH, Zint, YD)[1:],
                      kc.objective_and_gradient(theta32, ARCH, Zint.astype(np.float32), YD)[1:])
    Zl, W32, b32 = np.round(Z * 3).astype(np.int32), W.astype(np.float32), B.astype(np.float32)
    _assert_identical([kc.layer_output(Zl, W32, b32, SHAPE)],
                      [kc.layer_output(Zl.astype(np.float32), W32, b32, SHAPE)])
