"""One layer: forward against a pixel loop, backward against finite differences, both forms."""

from __future__ import annotations

import numpy as np
import pytest
from _reference import assert_rel_close, layer_loop
from _strategies import EDGE_SHAPES, layer_shapes, with_edge_shapes
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from kronconv import (
    ACTIVATIONS,
    Activation,
    LayerShape,
    Z_from_chw,
    backward,
    conv_S,
    forward,
    grad_b,
    grad_S,
    grad_W,
    grad_Z,
    layer_output,
    nchw_from_Z,
    oihw_from_W,
    phi_pad,
)
from kronconv.layer import pool
from kronconv.testing import kink_margin

CUBE = Activation("cube", lambda S: S**3 / 3, lambda S: S**2)   # a user-supplied pair
ALL_ACTIVATIONS = [*ACTIVATIONS.values(), CUBE]
FD_EPS = 1e-6


def random_layer(shape: LayerShape, N: int, rng: np.random.Generator):
    Z = rng.normal(size=(shape.d, shape.a * shape.b * N))
    W = rng.normal(size=shape.W_shape) / np.sqrt(shape.W_shape[1])
    b = rng.normal(size=shape.d_out) * 0.3
    return Z, W, b


def central_differences(f, x: np.ndarray) -> np.ndarray:
    """∂f/∂x entry by entry, (f(x + eps e) - f(x - eps e)) / (2 eps); same shape as x."""
    g = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[k] += FD_EPS
        xm[k] -= FD_EPS
        g[k] = (f(xp) - f(xm)) / (2 * FD_EPS)
    return g


def phi_loop(x: np.ndarray, shape: LayerShape) -> np.ndarray:
    """phi(pad(Z)) from images x (N, d, a, b): column u + a_conv*w of instance n is the window
    at (u*stride, w*stride) of the padded image, entry (c, i, j) at row i + h*j + h*h*c."""
    h, s, p = shape.h, shape.stride, shape.padding
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    phi = np.zeros((shape.W_shape[1], shape.n_windows * x.shape[0]))
    for n in range(x.shape[0]):
        for w in range(shape.b_conv):
            for u in range(shape.a_conv):
                col = n * shape.n_windows + u + shape.a_conv * w
                for c in range(shape.d):
                    for j in range(h):
                        for i in range(h):
                            phi[i + h * j + h * h * c, col] = xp[n, c, u * s + i, w * s + j]
    return phi


def loss(Z_next: np.ndarray, G: np.ndarray) -> float:
    """ξ = <G, Z^{m+1}> + ||Z^{m+1}||^2 / 2, so ∂ξ/∂Z^{m+1} = G + Z^{m+1}."""
    return float(np.sum(G * Z_next) + 0.5 * np.sum(Z_next**2))


# --- forward -------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(shape=layer_shapes(), seed=st.integers(0, 2**32 - 1),
       act=st.sampled_from(ALL_ACTIVATIONS))
@with_edge_shapes(seed=0, act=ACTIVATIONS["relu"])
def test_forward_equals_pixel_loop(shape, seed, act, backend):
    rng = np.random.default_rng(seed)
    N = 2
    Z, W, b = random_layer(shape, N, rng)
    Z_next, cache = forward(Z, W, b, shape, act, backend)
    S = conv_S(Z, W, b, shape)
    assert_rel_close(layer_output(Z, W, b, shape, act, backend), Z_next, 0, "layer_output")
    x, w = nchw_from_Z(Z, shape.a, shape.b), oihw_from_W(W, shape.h)
    for n in range(N):
        S_ref, Z_next_ref = layer_loop(x[n], w, b, shape, act.sigma)
        cols = slice(n * shape.n_windows, (n + 1) * shape.n_windows)
        assert_rel_close(S[:, cols], Z_from_chw(S_ref), 1e-12, "S")
        out = slice(n * shape.a_out * shape.b_out, (n + 1) * shape.a_out * shape.b_out)
        assert_rel_close(Z_next[:, out], Z_from_chw(Z_next_ref), 1e-12, "Z_next")
    assert cache.backend == backend
    assert_rel_close(cache.dsigma_S_matrix(), act.dsigma(S), 1e-12, "sigma'(S)")
    assert_rel_close(cache.phi_matrix(), phi_loop(x, shape), 0, "phi(pad(Z))")


@settings(max_examples=40, deadline=None)
@given(shape=layer_shapes(), seed=st.integers(0, 2**32 - 1))
@example(shape=EDGE_SHAPES["one_by_one"], seed=0)
def test_conv_S_I_kron_W_and_phiT_kron_I_forms_agree(shape, seed):
    Z, W, b = random_layer(shape, 3, np.random.default_rng(seed))
    S1 = conv_S(Z, W, b, shape, form="I_kron_W")
    S2 = conv_S(Z, W, b, shape, form="phiT_kron_I")
    assert S1.shape == (shape.d_out, shape.n_windows * 3)
    assert_rel_close(S1, S2, 1e-12, "vec(S): (I⊗W) P_phi P_pad vec(Z) vs (phi^T⊗I) vec(W)")


def test_phi_pad_windows_equal_hand_computed_columns():
    # 3x3 image 0..8 (column-major), padding 1, h = 2, stride 2: first window is the
    # top-left corner of the padded image, three zeros and Z's (0, 0) entry.
    shape = LayerShape(a=3, b=3, d=1, d_out=1, h=2, stride=2, padding=1)
    Z = np.arange(1.0, 10.0).reshape(1, 9)     # Z[0, r + 3q] = 1 + r + 3q
    phi = phi_pad(Z, shape)
    assert phi.shape == (4, 4)
    # window (u, w) = (1, 1) has top-left (2, 2) of the padded image = (1, 1) of Z
    # entries (i, j) in the order i + h*j: (1,1)=5, (2,1)=6, (1,2)=8, (2,2)=9
    np.testing.assert_array_equal(phi[:, 1 + 2 * 1], [5.0, 6.0, 8.0, 9.0])
    np.testing.assert_array_equal(phi[:, 0], [0.0, 0.0, 0.0, 1.0])


# --- backward ------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(shape=layer_shapes(), seed=st.integers(0, 2**32 - 1),
       act=st.sampled_from(ALL_ACTIVATIONS))
@with_edge_shapes(seed=0, act=ACTIVATIONS["relu"])
def test_backward_equals_finite_differences(shape, seed, act, backend):
    rng = np.random.default_rng(seed)
    Z, W, b = random_layer(shape, 2, rng)
    S = conv_S(Z, W, b, shape)
    assume(kink_margin(S, act, shape) > 1e-4)      # differences must not cross a kink
    Z_next, cache = forward(Z, W, b, shape, act, backend)
    G = rng.normal(size=Z_next.shape)
    dW, db, dZ = backward(G + Z_next, W, cache)

    def xi(Z_=Z, W_=W, b_=b):
        return loss(layer_output(Z_, W_, b_, shape, act, backend), G)

    assert_rel_close(dW, central_differences(lambda W_: xi(W_=W_), W), 1e-6, "(1) dW")
    assert_rel_close(db, central_differences(lambda b_: xi(b_=b_), b), 1e-6, "(5) db")
    assert_rel_close(dZ, central_differences(lambda Z_: xi(Z_=Z_), Z), 1e-6, "(8) dZ")

    def xi_of_S(S):
        return loss(pool(act.sigma(S), shape), G)

    dS = grad_S(G + Z_next, cache)
    assert_rel_close(dS, central_differences(xi_of_S, S), 1e-6, "(7) dS")


@settings(max_examples=40, deadline=None)
@given(shape=layer_shapes(), seed=st.integers(0, 2**32 - 1),
       act=st.sampled_from(ALL_ACTIVATIONS))
@with_edge_shapes(seed=0, act=ACTIVATIONS["relu"])
def test_backward_kron_and_vec_forms_agree(shape, seed, act):
    rng = np.random.default_rng(seed)
    Z, W, b = random_layer(shape, 3, rng)
    Z_next, cache = forward(Z, W, b, shape, act)
    dZ_next = rng.normal(size=Z_next.shape)
    kron = backward(dZ_next, W, cache, form="kron")
    vec = backward(dZ_next, W, cache, form="vec")
    for name, x, y in zip(("(1) dW", "(5) db", "(8)/(9) dZ"), kron, vec, strict=True):
        assert_rel_close(x, y, 1e-12, name)


@settings(max_examples=30, deadline=None)
@given(shape=layer_shapes(), seed=st.integers(0, 2**32 - 1))
@example(shape=EDGE_SHAPES["stride2_pad1_nonsquare_maxpool_leftover"], seed=0)
def test_grad_Z_grad_W_grad_b_vec_forms_are_adjoints_of_conv_S(shape, seed):
    """<S(Z), G> = <Z, (9)(G)> and <S(W), G> = <W, (1)(G)>: the vec forms transpose the chain.

    Only the vec forms: the Kronecker forms of (8) and (5) multiply by the transposes of the
    forward pass's own sparse matrices, so their adjointness is scipy's ``.T``; they are
    compared with the vec forms in test_backward_kron_and_vec_forms_agree.
    """
    rng = np.random.default_rng(seed)
    Z, W, _ = random_layer(shape, 2, rng)
    G = rng.normal(size=(shape.d_out, shape.n_windows * 2))
    zero = np.zeros(shape.d_out)
    S = conv_S(Z, W, zero, shape)
    lhs = np.sum(S * G)
    assert abs(lhs - np.sum(Z * grad_Z(G, W, shape, "vec"))) <= 1e-12 * max(1, abs(lhs))
    rhs_W = np.sum(W * grad_W(G, phi_pad(Z, shape), shape, "vec"))
    assert abs(lhs - rhs_W) <= 1e-12 * max(1, abs(lhs))
    bias_lhs = np.sum((conv_S(Z, W, np.ones(shape.d_out), shape) - S) * G)
    assert abs(bias_lhs - grad_b(G, shape, "vec").sum()) <= 1e-12 * max(1, abs(bias_lhs))


def test_backward_batch_equals_instances_one_by_one(backend):
    shape = EDGE_SHAPES["overlapping_max_pool_stride3"]
    rng = np.random.default_rng(3)
    N = 4
    Z, W, b = random_layer(shape, N, rng)
    Z_next, cache = forward(Z, W, b, shape, backend=backend)
    G = rng.normal(size=Z_next.shape)
    batch = backward(G, W, cache)
    n_in, n_out = shape.a * shape.b, shape.a_out * shape.b_out
    sums = [np.zeros_like(batch[0]), np.zeros_like(batch[1])]
    for n in range(N):
        one_next, one = forward(Z[:, n * n_in:(n + 1) * n_in], W, b, shape,
                                 backend=backend)
        assert_rel_close(one_next, Z_next[:, n * n_out:(n + 1) * n_out], 1e-13, "Z^{m+1}")
        dW, db, dZ = backward(G[:, n * n_out:(n + 1) * n_out], W, one)
        sums[0] += dW
        sums[1] += db
        assert_rel_close(batch[2][:, n * n_in:(n + 1) * n_in], dZ, 1e-13, "dZ of instance")
    assert_rel_close(batch[0], sums[0], 1e-13, "dW = sum over instances")
    assert_rel_close(batch[1], sums[1], 1e-13, "db = sum over instances")


def test_grad_S_max_pool_ties_route_the_gradient_to_the_first_entry(backend):
    # a 2x2 window whose entries are all 3: the gradient goes to entry (0, 0) only.
    shape = LayerShape(a=2, b=2, d=1, d_out=1, h=1, pool="max", pool_size=2)
    _, cache = forward(np.full((1, 4), 3.0), np.eye(1), np.zeros(1), shape, "identity",
                       backend)
    np.testing.assert_array_equal(grad_S(np.array([[1.0]]), cache), [[1.0, 0.0, 0.0, 0.0]])
    # tied at (1, 0) and (0, 1): vec positions 1 and 2; the first in i + h*j order is (1, 0)
    _, cache = forward(np.array([[0.0, 5.0, 5.0, 1.0]]), np.eye(1), np.zeros(1), shape,
                       "identity", backend)
    np.testing.assert_array_equal(grad_S(np.array([[2.0]]), cache), [[0.0, 2.0, 0.0, 0.0]])


def test_backward_relu_all_negative_gives_zero_gradients(backend):
    shape = EDGE_SHAPES["stride2_pad1_nonsquare_maxpool_leftover"]
    Z, W, _ = random_layer(shape, 2, np.random.default_rng(0))
    Z_next, cache = forward(np.abs(Z), -np.abs(W), np.full(shape.d_out, -1.0), shape,
                            backend=backend)
    dW, db, dZ = backward(np.ones_like(Z_next), W, cache)
    assert not np.any(Z_next)
    for g in (dW, db, dZ):
        assert np.all(g == 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_and_backward_keep_dtype(dtype, backend):
    shape = EDGE_SHAPES["stride2_pad1_nonsquare_maxpool_leftover"]
    Z, W, b = (x.astype(dtype) for x in random_layer(shape, 2, np.random.default_rng(0)))
    Z_next, cache = forward(Z, W, b, shape, backend=backend)
    outputs = [Z_next, cache.phi, cache.dsigma_S, *backward(Z_next, W, cache),
               conv_S(Z, W, b, shape, "phiT_kron_I"), layer_output(Z, W, b, shape, backend=backend)]
    if backend == "sparse":
        outputs += [cache.pool, *backward(Z_next, W, cache, form="kron")]
    for out in outputs:
        assert out.dtype == dtype
    if dtype == np.float32:   # float32 gives float64's numbers to float32 precision
        ref = layer_output(Z.astype(np.float64), W.astype(np.float64), b.astype(np.float64),
                           shape)
        assert_rel_close(Z_next, ref, 1e-5, "float32 forward")


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda Z, W, b, s: forward(Z[:, :-1], W, b, s), ValueError,
     r"Z must have shape \(d, a\*b\*N\) = \(2, 35\*N\) with N >= 1, got shape \(2, 69\)"),
    (lambda Z, W, b, s: forward(Z, W.T, b, s), ValueError,
     r"W must have shape \(d_out, h\*h\*d\) = \(3, 18\), got shape \(18, 3\)"),
    (lambda Z, W, b, s: forward(Z, W, b[:2], s), ValueError,
     r"b must have shape \(d_out,\) = \(3,\), got shape \(2,\)"),
    (lambda Z, W, b, s: forward(Z, W.astype(np.float32), b, s), TypeError,
     "W must have dtype float64 like the other inputs, got dtype float32"),
    (lambda Z, W, b, s: forward(Z.astype(complex), W, b, s), TypeError,
     "Z must be a float32 or float64 array, got dtype complex128"),
    (lambda Z, W, b, s: forward(Z, W, b, s, "swish"), ValueError,
     "activation must be an Activation or one of"),
    (lambda Z, W, b, s: forward(Z, W, b, (7, 5)), TypeError,
     "shape must be a LayerShape, got tuple"),
    (lambda Z, W, b, s: conv_S(Z, W, b, s, form="dense"), ValueError,
     r"form must be one of \('I_kron_W', 'phiT_kron_I'\), got 'dense'"),
    (lambda Z, W, b, s: grad_W(np.zeros((3, 5)), np.zeros((18, 5)), s), ValueError,
     r"dS must have shape \(d_out, a_conv\*b_conv\*N\) = \(3, 12\*N\)"),
    (lambda Z, W, b, s: grad_W(np.zeros((3, 12)), np.zeros((18, 24)), s), ValueError,
     r"phi must have shape \(h\*h\*d, a_conv\*b_conv\*N\) = \(18, 12\), got shape \(18, 24\)"),
    (lambda Z, W, b, s: grad_Z(np.zeros((3, 12)), W, s, form="kronecker"), ValueError,
     r"form must be one of \('kron', 'vec'\)"),
    (lambda Z, W, b, s: grad_b(np.zeros((3, 12)), (7, 5)), TypeError,
     "shape must be a LayerShape, got tuple"),
    (lambda Z, W, b, s: grad_S(np.zeros((3, 4)), {"S": Z}), TypeError,
     "cache must be the LayerCache from forward"),
    (lambda Z, W, b, s: grad_S(np.zeros((3, 3)), forward(Z, W, b, s)[1]), ValueError,
     r"dZ_next must have shape \(d_out, a_out\*b_out\*N\) = \(3, 4\), got shape \(3, 3\)"),
])
def test_forward_and_gradients_reject_bad_inputs(call, error, message):
    shape = EDGE_SHAPES["stride2_pad1_nonsquare_maxpool_leftover"]
    Z, W, b = random_layer(shape, 2, np.random.default_rng(0))
    with pytest.raises(error, match=message):
        call(Z, W, b, shape)


def test_forward_user_activation_must_be_entrywise(backend):
    shape = EDGE_SHAPES["one_by_one"]
    summing = Activation("sum", lambda S: S.sum(), lambda S: np.ones_like(S))
    with pytest.raises(ValueError, match=r"activation 'sum': sigma\(S\) must have the shape of S"):
        forward(np.ones((1, 1)), np.ones((1, 1)), np.zeros(1), shape, summing)
    # a user pair computing in float64 still gives float32 results for float32 inputs
    cube64 = Activation("cube64", lambda S: S.astype(np.float64) ** 3, lambda S: 3.0 * S**2)
    one = np.ones((1, 1), dtype=np.float32)
    Z_next, cache = forward(one, one, np.zeros(1, np.float32), shape, cube64, backend)
    assert Z_next.dtype == np.float32
    assert cache.dsigma_S.dtype == np.float32


def test_backward_large_batches_take_per_window_products_and_agree():
    # more than 32 instances: (1) and (9) run one product per window instead of one in all
    shape = EDGE_SHAPES["overlapping_max_pool_stride3"]
    rng = np.random.default_rng(11)
    Z, W, b = random_layer(shape, 40, rng)
    Z_next, cache = forward(Z, W, b, shape)
    G = rng.normal(size=Z_next.shape)
    vec, kron = backward(G, W, cache), backward(G, W, cache, form="kron")
    dense = backward(G, W, forward(Z, W, b, shape, backend="dense")[1])
    for name, x, y, z in zip(("(1) dW", "(5) db", "(9) dZ"), vec, kron, dense, strict=True):
        assert_rel_close(x, y, 1e-12, name)
        assert_rel_close(z, y, 1e-12, name + " dense")
