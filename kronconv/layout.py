"""Layouts: ``vec``/``mat`` and the converters to and from other frameworks' arrays.

kronconv stores one image as ``Z`` of shape ``(d, a*b)``: column ``p = r + a*q`` holds
the ``d`` channel values of pixel (row ``r``, column ``q``), and ``vec`` is column-major,
so entry ``(c, r, q)`` sits at ``c + d*r + d*a*q`` of ``vec(Z)``. A batch of ``N``
images is the images side by side, ``Z = [Z^1 ... Z^N]`` of shape ``(d, a*b*N)``.
A filter bank is ``W`` of shape ``(d_out, h*h*d)`` with ``W[o, i + h*j + h*h*c]``
multiplying input channel ``c`` at window offset ``(i, j)`` (:ref:`conventions-weights`).

Every function here returns a new array (never a view into the argument), so a
caller may modify the result freely.
"""

from __future__ import annotations

import numpy as np

from ._docstrings import fill_docstrings
from ._validate import Array, Integer, batch_size, validate_params

__all__ = [
    "W_from_hwio",
    "W_from_nchw_flat",
    "W_from_nhwc_flat",
    "W_from_oihw",
    "Z_from_chw",
    "Z_from_hwc",
    "Z_from_nchw",
    "Z_from_nhwc",
    "batch_from_columns",
    "channel_first_from_columns",
    "chw_from_Z",
    "columns_from_batch",
    "columns_from_channel_first",
    "columns_from_vec",
    "hwc_from_Z",
    "hwio_from_W",
    "mat",
    "nchw_flat_from_W",
    "nchw_from_Z",
    "nhwc_flat_from_W",
    "nhwc_from_Z",
    "oihw_from_W",
    "select_instances",
    "vec",
]


def _real(shape: str) -> Array:
    """An array of real numbers of ``shape``, any dtype (the converters only move entries)."""
    return Array(shape, kind="real", finite=False)


SIZE = Integer(1)


@validate_params({"A": _real("(r, c)")})
def vec(A: np.ndarray) -> np.ndarray:
    """Stack the columns of ``A`` into one vector (column-major order).

    Parameters
    ----------
    A : ndarray of shape (r, c)

    Returns
    -------
    ndarray of shape (r*c,)
        ``vec(A)[i + r*j] == A[i, j]``.

    Raises
    ------
    ValueError
        If ``A`` does not have the dimensions given above.
    TypeError
        If ``A`` is not an array of real numbers.

    Examples
    --------
    >>> import numpy as np
    >>> vec(np.array([[1, 2], [3, 4]]))
    array([1, 3, 2, 4])
    """
    return A.reshape(-1, order="F").copy()


@validate_params({"v": _real("(rows*cols,)"), "rows": Integer(0), "cols": Integer(0)})
def mat(v: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Inverse of :func:`vec`: ``mat(v)_{rows x cols}``.

    Parameters
    ----------
    v : ndarray of shape (rows*cols,)
    rows, cols : int

    Returns
    -------
    ndarray of shape (rows, cols)
        ``mat(v)[i, j] == v[i + rows*j]``.

    Raises
    ------
    ValueError
        If ``v`` is not a vector of length ``rows*cols``, or a size is negative.
    TypeError
        If ``rows`` or ``cols`` is not an integer, or ``v`` not an array of real numbers.

    Examples
    --------
    >>> import numpy as np
    >>> mat(np.array([1, 3, 2, 4]), 2, 2)
    array([[1, 2],
           [3, 4]])
    """
    if v.shape != (rows * cols,):
        raise ValueError(
            f"v must have shape ({rows * cols},) to form a {rows} x {cols} matrix, "
            f"got shape {v.shape}"
        )
    return v.reshape(rows, cols, order="F").copy()


# --- images -------------------------------------------------------------------------------
# Z[c, n*a*b + r + a*q] = x[n, c, r, q]: read the image array with its axes in the order
# (channel, instance, column, row) and flatten in C order. _TO_Z holds that axis order for
# each layout; the inverse transposes back with the inverse permutation.

_TO_Z = {"chw": (0, 2, 1), "nchw": (1, 0, 3, 2), "hwc": (2, 1, 0), "nhwc": (3, 0, 2, 1)}
_EXPECTED = {"chw": "(d, a, b)", "nchw": "(N, d, a, b)", "hwc": "(a, b, d)", "nhwc": "(N, a, b, d)",
             "oihw": "(d_out, d, h, h)", "hwio": "(h, h, d, d_out)"}


def _to_Z(x: np.ndarray, layout: str) -> np.ndarray:
    t = np.array(x.transpose(_TO_Z[layout]), order="C")
    return t.reshape(t.shape[0], -1)


def _from_Z(Z: np.ndarray, a: int, b: int, layout: str) -> np.ndarray:
    d = Z.shape[0]
    N = batch_size(Z, d, a * b, "Z", "(d, a*b*N)")
    perm = _TO_Z[layout]
    if len(perm) == 3 and N != 1:
        raise ValueError(f"Z must have shape (d, a*b) = ({d}, {a * b}), got shape {Z.shape}")
    t = Z.reshape((d, N, b, a) if len(perm) == 4 else (d, b, a))
    return np.array(t.transpose(np.argsort(perm)), order="C")


@validate_params({"x": _real(_EXPECTED["chw"])})
def Z_from_chw(x: np.ndarray) -> np.ndarray:
    """Convert one image in channel-first layout (d, a, b) to kronconv's ``Z``.

    ``Z[c, r + a*q] = x[c, r, q]`` (:ref:`conventions-image`).

    Parameters
    ----------
    x : ndarray of shape (d, a, b)
        PyTorch's CHW layout: channels, rows (height), columns (width).

    Returns
    -------
    Z : ndarray of shape (d, a*b)

    Raises
    ------
    %(raises_layout)s

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(6.0).reshape(1, 2, 3)      # one channel, 2 rows, 3 columns
    >>> Z_from_chw(x)
    array([[0., 3., 1., 4., 2., 5.]])
    """
    return _to_Z(x, "chw")


@validate_params({"x": _real(_EXPECTED["nchw"])})
def Z_from_nchw(x: np.ndarray) -> np.ndarray:
    """Convert a batch in NCHW layout (N, d, a, b) to kronconv's batch ``Z``.

    ``Z[c, n*a*b + r + a*q] = x[n, c, r, q]``: the instances side by side
    (:ref:`conventions-batch`).

    Parameters
    ----------
    x : ndarray of shape (N, d, a, b)

    Returns
    -------
    Z : ndarray of shape (d, a*b*N)

    Raises
    ------
    %(raises_layout)s

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(8.0).reshape(2, 1, 2, 2)
    >>> Z_from_nchw(x)
    array([[0., 2., 1., 3., 4., 6., 5., 7.]])
    """
    return _to_Z(x, "nchw")


@validate_params({"x": _real(_EXPECTED["hwc"])})
def Z_from_hwc(x: np.ndarray) -> np.ndarray:
    """Convert one image in channel-last layout (a, b, d) to kronconv's ``Z``.

    ``Z[c, r + a*q] = x[r, q, c]``.

    Parameters
    ----------
    x : ndarray of shape (a, b, d)

    Returns
    -------
    Z : ndarray of shape (d, a*b)

    Raises
    ------
    %(raises_layout)s

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(6.0).reshape(2, 3, 1)
    >>> Z_from_hwc(x)
    array([[0., 3., 1., 4., 2., 5.]])
    """
    return _to_Z(x, "hwc")


@validate_params({"x": _real(_EXPECTED["nhwc"])})
def Z_from_nhwc(x: np.ndarray) -> np.ndarray:
    """Convert a batch in NHWC layout (N, a, b, d) to kronconv's batch ``Z``.

    ``Z[c, n*a*b + r + a*q] = x[n, r, q, c]``.

    Parameters
    ----------
    x : ndarray of shape (N, a, b, d)

    Returns
    -------
    Z : ndarray of shape (d, a*b*N)

    Raises
    ------
    %(raises_layout)s

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(8.0).reshape(2, 2, 2, 1)
    >>> Z_from_nhwc(x)
    array([[0., 2., 1., 3., 4., 6., 5., 7.]])
    """
    return _to_Z(x, "nhwc")


@validate_params({"Z": _real("(d, a*b)"), "a": SIZE, "b": SIZE})
def chw_from_Z(Z: np.ndarray, a: int, b: int) -> np.ndarray:
    """Inverse of :func:`Z_from_chw`: ``Z`` (d, a*b) to an image (d, a, b).

    Parameters
    ----------
    Z : ndarray of shape (d, a*b)
    a, b : int
        Image height (rows) and width (columns).

    Returns
    -------
    x : ndarray of shape (d, a, b)

    Raises
    ------
    ValueError
        If ``Z`` does not have ``a*b`` columns.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(3, 4, 5))
    >>> bool(np.array_equal(chw_from_Z(Z_from_chw(x), 4, 5), x))
    True
    """
    return _from_Z(Z, a, b, "chw")


@validate_params({"Z": _real("(d, a*b)"), "a": SIZE, "b": SIZE})
def nchw_from_Z(Z: np.ndarray, a: int, b: int) -> np.ndarray:
    """Inverse of :func:`Z_from_nchw`: batch ``Z`` (d, a*b*N) to (N, d, a, b).

    Parameters
    ----------
    Z : ndarray of shape (d, a*b*N)
    a, b : int

    Returns
    -------
    x : ndarray of shape (N, d, a, b)

    Raises
    ------
    ValueError
        If the number of columns of ``Z`` is not a positive multiple of ``a*b``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(2, 3, 4, 5))
    >>> bool(np.array_equal(nchw_from_Z(Z_from_nchw(x), 4, 5), x))
    True
    """
    return _from_Z(Z, a, b, "nchw")


@validate_params({"Z": _real("(d, a*b)"), "a": SIZE, "b": SIZE})
def hwc_from_Z(Z: np.ndarray, a: int, b: int) -> np.ndarray:
    """Inverse of :func:`Z_from_hwc`: ``Z`` (d, a*b) to an image (a, b, d).

    Parameters
    ----------
    Z : ndarray of shape (d, a*b)
    a, b : int

    Returns
    -------
    x : ndarray of shape (a, b, d)

    Raises
    ------
    ValueError
        If ``Z`` does not have ``a*b`` columns.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(4, 5, 3))
    >>> bool(np.array_equal(hwc_from_Z(Z_from_hwc(x), 4, 5), x))
    True
    """
    return _from_Z(Z, a, b, "hwc")


@validate_params({"Z": _real("(d, a*b)"), "a": SIZE, "b": SIZE})
def nhwc_from_Z(Z: np.ndarray, a: int, b: int) -> np.ndarray:
    """Inverse of :func:`Z_from_nhwc`: batch ``Z`` (d, a*b*N) to (N, a, b, d).

    Parameters
    ----------
    Z : ndarray of shape (d, a*b*N)
    a, b : int

    Returns
    -------
    x : ndarray of shape (N, a, b, d)

    Raises
    ------
    ValueError
        If the number of columns of ``Z`` is not a positive multiple of ``a*b``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(2, 4, 5, 3))
    >>> bool(np.array_equal(nhwc_from_Z(Z_from_nhwc(x), 4, 5), x))
    True
    """
    return _from_Z(Z, a, b, "nhwc")


# --- filters ------------------------------------------------------------------------------
# W[o, i + h*j + h*h*c] = w[o, c, i, j]: read the weight array with its axes in the order
# (out, in, column offset j, row offset i) and flatten in C order.

_TO_W = {"oihw": (0, 1, 3, 2), "hwio": (3, 2, 1, 0)}


def _to_W(w: np.ndarray, layout: str) -> np.ndarray:
    t = np.array(w.transpose(_TO_W[layout]), order="C")
    if t.shape[2] != t.shape[3]:
        raise ValueError(
            f"w must have shape {_EXPECTED[layout]} with square filters, got {w.shape}")
    return t.reshape(t.shape[0], -1)


def _from_W(W: np.ndarray, h: int, layout: str) -> np.ndarray:
    d_out, cols = W.shape
    if cols == 0 or cols % (h * h):
        raise ValueError(
            f"W must have shape (d_out, h*h*d) = (d_out, {h * h}*d) for h={h}, got shape {W.shape}"
        )
    t = W.reshape(d_out, cols // (h * h), h, h)
    return np.array(t.transpose(np.argsort(_TO_W[layout])), order="C")


@validate_params({"w": _real(_EXPECTED["oihw"])})
def W_from_oihw(w: np.ndarray) -> np.ndarray:
    """Convert a PyTorch OIHW weight (d_out, d, h, h) to kronconv's ``W`` (d_out, h*h*d).

    ``W[o, i + h*j + h*h*c] = w[o, c, i, j]``: cross-correlation, no flip
    (:ref:`conventions-weights`).

    Parameters
    ----------
    w : ndarray of shape (d_out, d, h, h)

    Returns
    -------
    W : ndarray of shape (d_out, h*h*d)

    Raises
    ------
    ValueError
        If ``w`` is not 4-d with a square filter.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.arange(4.0).reshape(1, 1, 2, 2)   # w[0, 0, i, j] = 2*i + j
    >>> W_from_oihw(w)
    array([[0., 2., 1., 3.]])
    """
    return _to_W(w, "oihw")


@validate_params({"w": _real(_EXPECTED["hwio"])})
def W_from_hwio(w: np.ndarray) -> np.ndarray:
    """Convert an HWIO weight (h, h, d, d_out) to kronconv's ``W`` (d_out, h*h*d).

    ``W[o, i + h*j + h*h*c] = w[i, j, c, o]``.

    Parameters
    ----------
    w : ndarray of shape (h, h, d, d_out)

    Returns
    -------
    W : ndarray of shape (d_out, h*h*d)

    Raises
    ------
    ValueError
        If ``w`` is not 4-d with a square filter.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.arange(4.0).reshape(2, 2, 1, 1)   # w[i, j, 0, 0] = 2*i + j
    >>> W_from_hwio(w)
    array([[0., 2., 1., 3.]])
    """
    return _to_W(w, "hwio")


@validate_params({"W": _real("(d_out, h*h*d)"), "h": SIZE})
def oihw_from_W(W: np.ndarray, h: int) -> np.ndarray:
    """Inverse of :func:`W_from_oihw`: ``W`` (d_out, h*h*d) to OIHW (d_out, d, h, h).

    Parameters
    ----------
    W : ndarray of shape (d_out, h*h*d)
    h : int
        Filter size.

    Returns
    -------
    w : ndarray of shape (d_out, d, h, h)

    Raises
    ------
    ValueError
        If the number of columns of ``W`` is not a positive multiple of ``h*h``.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.random.default_rng(0).normal(size=(4, 3, 5, 5))
    >>> bool(np.array_equal(oihw_from_W(W_from_oihw(w), 5), w))
    True
    """
    return _from_W(W, h, "oihw")


@validate_params({"W": _real("(d_out, h*h*d)"), "h": SIZE})
def hwio_from_W(W: np.ndarray, h: int) -> np.ndarray:
    """Inverse of :func:`W_from_hwio`: ``W`` (d_out, h*h*d) to HWIO (h, h, d, d_out).

    Parameters
    ----------
    W : ndarray of shape (d_out, h*h*d)
    h : int

    Returns
    -------
    w : ndarray of shape (h, h, d, d_out)

    Raises
    ------
    ValueError
        If the number of columns of ``W`` is not a positive multiple of ``h*h``.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.random.default_rng(0).normal(size=(5, 5, 3, 4))
    >>> bool(np.array_equal(hwio_from_W(W_from_hwio(w), 5), w))
    True
    """
    return _from_W(W, h, "hwio")


# --- the first fully-connected layer ------------------------------------------------------
# Its input is z = vec(Z^{L_c+1}): entry (c, r, q) at c + d*r + d*a*q. Frameworks flatten
# the (d, a, b) image in C order instead: (c, r, q) at c*a*b + r*b + q for NCHW, and
# r*b*d + q*d + c for NHWC. Converting a weight permutes its columns.

_FLAT_AXES = {"nchw": (0, 3, 2, 1), "nhwc": (0, 2, 1, 3)}
FLAT = _real("(n_out, d*a*b)")


def _check_flat(M: np.ndarray, name: str, d: int, a: int, b: int) -> None:
    """Raise unless the checked ``M`` has ``d*a*b`` columns."""
    if M.shape[1] != d * a * b:
        raise ValueError(f"{name} must have shape (n_out, d*a*b) = ({M.shape[0]}, {d * a * b}), "
                         f"got shape {M.shape}")


def _to_W_flat(w: np.ndarray, d: int, a: int, b: int, layout: str) -> np.ndarray:
    _check_flat(w, "w", d, a, b)
    image = (d, a, b) if layout == "nchw" else (a, b, d)
    t = w.reshape(w.shape[0], *image).transpose(_FLAT_AXES[layout])
    return np.array(t, order="C").reshape(w.shape[0], -1)


def _from_W_flat(W: np.ndarray, d: int, a: int, b: int, layout: str) -> np.ndarray:
    _check_flat(W, "W", d, a, b)
    t = W.reshape(W.shape[0], b, a, d)               # axes (o, q, r, c) of vec(Z)
    return np.array(t.transpose(np.argsort(_FLAT_AXES[layout])), order="C").reshape(
        W.shape[0], -1)


@validate_params({"w": FLAT, "d": SIZE, "a": SIZE, "b": SIZE})
def W_from_nchw_flat(w: np.ndarray, d: int, a: int, b: int) -> np.ndarray:
    """A fully-connected weight on a flattened NCHW image to one on ``z = vec(Z)``.

    PyTorch's ``nn.Linear`` after ``flatten`` of a (d, a, b) feature map reads entry
    ``(c, r, q)`` at ``c*a*b + r*b + q``; kronconv's ``z = vec(Z)`` holds it at
    ``c + d*r + d*a*q``. ``W[:, c + d*r + d*a*q] = w[:, c*a*b + r*b + q]``.

    Parameters
    ----------
    w : ndarray of shape (n_out, d*a*b)
    d, a, b : int
        Channels, height and width of the flattened image.

    Returns
    -------
    W : ndarray of shape (n_out, d*a*b)

    Raises
    ------
    ValueError
        If ``w`` does not have ``d*a*b`` columns.

    Examples
    --------
    >>> import numpy as np
    >>> W_from_nchw_flat(np.arange(4.0).reshape(1, 4), d=1, a=2, b=2)   # (r, q) -> r + 2q
    array([[0., 2., 1., 3.]])
    """
    return _to_W_flat(w, d, a, b, "nchw")


@validate_params({"W": FLAT, "d": SIZE, "a": SIZE, "b": SIZE})
def nchw_flat_from_W(W: np.ndarray, d: int, a: int, b: int) -> np.ndarray:
    """Inverse of :func:`W_from_nchw_flat`.

    Parameters
    ----------
    W : ndarray of shape (n_out, d*a*b)
    d, a, b : int

    Returns
    -------
    w : ndarray of shape (n_out, d*a*b)

    Raises
    ------
    %(raises_layout_sizes)s

    Examples
    --------
    >>> import numpy as np
    >>> w = np.random.default_rng(0).normal(size=(3, 2 * 4 * 5))
    >>> bool(np.array_equal(nchw_flat_from_W(W_from_nchw_flat(w, 2, 4, 5), 2, 4, 5), w))
    True
    """
    return _from_W_flat(W, d, a, b, "nchw")


@validate_params({"w": FLAT, "d": SIZE, "a": SIZE, "b": SIZE})
def W_from_nhwc_flat(w: np.ndarray, d: int, a: int, b: int) -> np.ndarray:
    """A fully-connected weight on a flattened NHWC image to one on ``z = vec(Z)``.

    ``W[:, c + d*r + d*a*q] = w[:, r*b*d + q*d + c]`` (Keras/TensorFlow's ``Flatten``).

    Parameters
    ----------
    w : ndarray of shape (n_out, d*a*b)
    d, a, b : int

    Returns
    -------
    W : ndarray of shape (n_out, d*a*b)

    Raises
    ------
    %(raises_layout_sizes)s

    Examples
    --------
    >>> import numpy as np
    >>> W_from_nhwc_flat(np.arange(4.0).reshape(1, 4), d=1, a=2, b=2)
    array([[0., 2., 1., 3.]])
    """
    return _to_W_flat(w, d, a, b, "nhwc")


@validate_params({"W": FLAT, "d": SIZE, "a": SIZE, "b": SIZE})
def nhwc_flat_from_W(W: np.ndarray, d: int, a: int, b: int) -> np.ndarray:
    """Inverse of :func:`W_from_nhwc_flat`.

    Parameters
    ----------
    W : ndarray of shape (n_out, d*a*b)
    d, a, b : int

    Returns
    -------
    w : ndarray of shape (n_out, d*a*b)

    Raises
    ------
    %(raises_layout_sizes)s

    Examples
    --------
    >>> import numpy as np
    >>> w = np.random.default_rng(0).normal(size=(3, 2 * 4 * 5))
    >>> bool(np.array_equal(nhwc_flat_from_W(W_from_nhwc_flat(w, 2, 4, 5), 2, 4, 5), w))
    True
    """
    return _from_W_flat(W, d, a, b, "nhwc")


# --- the layouts kronconv computes in ---------------------------------------------------------
# A batch of N instances has one public layout and two working layouts, each with one name:
#
# - "batch matrix": the instances side by side, [M^1 ... M^N] of shape (rows, cols*N)
#   (Z, S, phi, dZ, dS of the public API);
# - "instance columns": a C-ordered (n, N) array whose column i is vec(M^i), n = rows*cols
#   (the sparse chain: every operator acts on all instances in one sparse-times-dense
#   product, and the N values of one position sit side by side);
# - "channel first": a C-ordered (rows, b, a, N) array X[c, q, r, i] for entry (c, r, q)
#   of instance i (the dense path: one BLAS product per layer and contiguous slices).
#
# The functions below convert between them; they are the only place that knows the orders.


def columns_from_batch(M: np.ndarray, n: int) -> np.ndarray:
    """Instance columns of a batch matrix: column i is ``vec(M^i)``, shape ``(n, N)``.

    Examples
    --------
    >>> import numpy as np
    >>> columns_from_batch(np.arange(8).reshape(2, 4), 4)    # two 2x2 instances
    array([[0, 2],
           [4, 6],
           [1, 3],
           [5, 7]])
    """
    return np.ascontiguousarray(M.reshape(n, -1, order="F"))


def batch_from_columns(C: np.ndarray, rows: int) -> np.ndarray:
    """The batch matrix ``[M^1 ... M^N]`` of instance columns (inverse of
    :func:`columns_from_batch`).

    Examples
    --------
    >>> import numpy as np
    >>> batch_from_columns(np.array([[0, 2], [4, 6], [1, 3], [5, 7]]), 2)
    array([[0, 1, 2, 3],
           [4, 5, 6, 7]])
    """
    return C.reshape(rows, -1, order="F")


def columns_from_vec(v: np.ndarray, n: int) -> np.ndarray:
    """Instance columns of ``vec([M^1 ... M^N])``, the batch's vec (``n`` entries each)."""
    return np.ascontiguousarray(v.reshape(n, -1, order="F"))


def channel_first_from_columns(C: np.ndarray, a: int, b: int, d: int) -> np.ndarray:
    """``X[c, q, r, i]`` of instance columns whose rows hold ``(c, r, q)`` at ``c + d*(r + a*q)``.

    Examples
    --------
    >>> import numpy as np
    >>> C = np.arange(8).reshape(8, 1)                   # one 2x2 image, 2 channels
    >>> channel_first_from_columns(C, 2, 2, 2)[:, :, :, 0]
    array([[[0, 2],
            [4, 6]],
    <BLANKLINE>
           [[1, 3],
            [5, 7]]])
    """
    return np.ascontiguousarray(C.reshape(b, a, d, -1).transpose(2, 0, 1, 3))


def columns_from_channel_first(X: np.ndarray) -> np.ndarray:
    """Instance columns of ``X[c, q, r, i]`` (inverse of :func:`channel_first_from_columns`)."""
    d, b, a, N = X.shape
    return np.ascontiguousarray(X.transpose(1, 2, 0, 3)).reshape(d * a * b, N)


def select_instances(M: np.ndarray, index: np.ndarray, cols: int) -> np.ndarray:
    """The batch matrix of the instances ``index`` of ``M`` (``cols`` columns per instance).

    Examples
    --------
    >>> import numpy as np
    >>> select_instances(np.arange(6).reshape(1, 6), np.array([2, 0]), 2)
    array([[4, 5, 0, 1]])
    """
    rows = M.shape[0]
    return M.reshape(rows, -1, cols)[:, index].reshape(rows, -1)

fill_docstrings(globals())
