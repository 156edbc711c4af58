"""Data: the built-in data sets, loaders for data on disk, and simpleNN's scaling.

Images are returned in NCHW layout ``(N, d, a, b)`` with integer classes ``y`` ``(N,)``
in ``0..K-1``; the network functions take ``Z_from_nchw(x)``. Nothing is downloaded and
nothing is unpickled: ``.npz`` files are read with ``allow_pickle=False``.

The built-in data sets are scikit-learn's 8x8 digits (:func:`digits_split`) and simpleNN's
mnist-demo (:func:`mnist_demo`, shipped in ``kronconv/datasets``);
:func:`builtin_dataset` returns either by name.

simpleNN's ``.mat`` files (:func:`load_data`) are read as simpleNN reads them
(``example.m`` and ``cnn/check_data.m``): row ``n`` of ``Z`` holds instance ``n`` as ``d``
channel blocks of ``a*b`` values, columns ``c*a*b .. (c+1)*a*b - 1`` (0-based) holding
channel ``c``; each block is the channel's ``a x b`` image in row-wise pixel order (pixel
(row ``r``, column ``q``) at ``q + b*r``, LIBSVM's order and simpleNN's default) or
column-wise (at ``r + a*q``). The labels are mapped as simpleNN's ``unique(y)`` maps them:
the ``k``-th smallest label value is class ``k``.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ._schema import ArraySpec, check_arrays, read_npz
from ._validate import FLOAT_DTYPES, check_int
from .memory import check_memory

if TYPE_CHECKING:
    from .architecture import Architecture

__all__ = [
    "BUILTIN_DATASETS",
    "INPUT_FORMATS",
    "Dataset",
    "Scaling",
    "builtin_dataset",
    "check_fits",
    "digits_split",
    "fashion_mnist",
    "load_data",
    "load_idx",
    "mnist_demo",
    "mnist_demo_split",
]

BUILTIN_DATASETS: dict[str, tuple[int, int, int]] = {"digits": (8, 8, 1),
                                                     "mnist-demo": (28, 28, 1),
                                                     "fashion-mnist": (28, 28, 1)}
"""The built-in data sets by name, each with its input size ``(a, b, d)``."""

INPUT_FORMATS = ("row", "column")
"""The pixel orders of a simpleNN ``.mat`` file's channel block: row-wise or column-wise."""


@dataclass(frozen=True)
class Dataset:
    """Images ``x`` of shape (N, d, a, b) and integer classes ``y`` of shape (N,).

    Parameters
    ----------
    x : ndarray of shape (N, d, a, b)
    y : ndarray of shape (N,)
        Classes ``0..K-1``.
    labels : ndarray of shape (K,), optional
        The label value in the file of every class (``labels[y]`` are the file's labels), when
        the file's labels were mapped to classes; ``None`` when ``y`` holds them as they are.
    """

    x: np.ndarray
    y: np.ndarray
    labels: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.x.ndim != 4:
            raise ValueError(f"x must have shape (N, d, a, b), got shape {self.x.shape}")
        if self.y.shape != (self.x.shape[0],):
            raise ValueError(f"y must have shape (N,) = ({self.x.shape[0]},), "
                             f"got shape {self.y.shape}")
        if self.labels is not None:
            if self.labels.ndim != 1:
                raise ValueError(f"labels must have shape (K,), got shape {self.labels.shape}")
            if self.y.size and not 0 <= self.y.min() <= self.y.max() < self.labels.size:
                raise ValueError(f"y must hold classes 0..{self.labels.size - 1}, one per "
                                 f"label, got classes {self.y.min()}..{self.y.max()}")

    def __len__(self) -> int:
        return self.x.shape[0]


@dataclass(frozen=True)
class Scaling:
    """simpleNN's transform: divide by ``divisor`` (255 for bytes, else the training data's
    maximum), then subtract the training images' mean (per pixel and channel)."""

    divisor: float
    mean: np.ndarray          # (d, a, b)

    @classmethod
    def fit(cls, x: np.ndarray) -> Scaling:
        """The transform of training images ``x`` (N, d, a, b); the mean is float32 for
        float32 images, else float64 (float16 or longdouble images too)."""
        divisor = 255.0 if x.dtype == np.uint8 else max(float(np.max(x)), 1.0)
        if x.dtype.kind == "f" and x.dtype not in FLOAT_DTYPES:
            x = x.astype(np.float64)
        return cls(divisor, (x / divisor).mean(axis=0))

    def __call__(self, x: np.ndarray, dtype: object = np.float64) -> np.ndarray:
        if x.shape[1:] != self.mean.shape:
            raise ValueError(f"x must have shape (N, {', '.join(map(str, self.mean.shape))}) "
                             f"like the training images, got shape {x.shape}")
        return (x / self.divisor - self.mean).astype(dtype)


def digits_split(test_fraction: float = 0.2, seed: int = 0) -> tuple[Dataset, Dataset]:
    """scikit-learn's bundled 8x8 digits, split into train and test, stratified and fixed.

    Within each class, the instances are permuted by ``numpy.random.default_rng(seed)`` (one
    generator, classes in order 0..9) and the first ``round(test_fraction * n_class)`` go to
    the test set. With the defaults: 1438 training and 359 test images, values 0..16.

    Raises
    ------
    ImportError
        If scikit-learn is not installed (the optional ``data`` extra).
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError("the digits data set comes with scikit-learn: "
                          "pip install scikit-learn (or the 'data' extra)") from None
    digits = load_digits()
    x = digits.images[:, None, :, :].astype(np.float64)
    y = digits.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for label in range(10):
        members = rng.permutation(np.flatnonzero(y == label))
        test[members[:round(test_fraction * members.size)]] = True
    return Dataset(x[~test], y[~test]), Dataset(x[test], y[test])


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


_IDX_TYPES = {0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "short", 0x0C: "int",
              0x0D: "float", 0x0E: "double"}


def _read_idx(path: Path, ndim: int, what: str, meaning: str) -> np.ndarray:
    """The array of an IDX file of unsigned bytes with ``ndim`` dimensions, its header and
    its size checked; every message names the file."""
    try:
        with _open(path) as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as exc:     # gzip: truncated or corrupted
        raise ValueError(f"{path}: not readable ({exc})") from None
    header = 4 + 4 * ndim
    not_idx = f"{path}: not an IDX file of {what} {meaning}"
    if not raw:
        raise ValueError(f"{not_idx}: the file is empty")
    if len(raw) < 4 or raw[:2] != b"\x00\x00":
        raise ValueError(f"{not_idx}: magic number 0x{raw[:4].hex()}, expected "
                         f"0x0000080{ndim}")
    if raw[2] != 0x08:
        raise ValueError(f"{not_idx}: data type 0x{raw[2]:02X} "
                         f"({_IDX_TYPES.get(raw[2], 'unknown')}); kronconv reads unsigned "
                         "bytes (0x08), as MNIST's files hold")
    if raw[3] != ndim:
        raise ValueError(f"{not_idx}: {raw[3]} dimension(s), {what} have {ndim}")
    if len(raw) < header:
        raise ValueError(f"{not_idx}: the header ends after {len(raw)} bytes, its "
                         f"{ndim} size(s) need {header}")
    dims = tuple(int.from_bytes(raw[4 + 4 * k:8 + 4 * k], "big") for k in range(ndim))
    if 0 in dims:
        raise ValueError(f"{path}: its header gives the shape {meaning} = {dims}: no {what}")
    need, held = math.prod(dims), len(raw) - header
    if held != need:
        raise ValueError(f"{path}: holds {held} bytes of {what}, its header's shape {meaning} "
                         f"= {dims} needs {need}" + (" (a truncated file?)" if held < need else ""))
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def load_idx(images: str | Path, labels: str | Path) -> Dataset:
    """MNIST/Fashion-MNIST IDX files (gzipped or not): ``*-images-idx3-ubyte`` and labels.

    Raises
    ------
    ValueError
        Naming the file: one that cannot be read (missing, a truncated or corrupted gzip
        file), is empty, is not an IDX file of unsigned bytes with 3 (images) or 1 (labels)
        dimensions, whose header gives a size 0 or a shape its data does not fill exactly;
        or image and label counts that differ (naming both files).
    """
    images, labels = Path(images), Path(labels)
    x = _read_idx(images, 3, "images", "(N, rows, columns)")
    y = _read_idx(labels, 1, "labels", "(N,)")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{images} holds {x.shape[0]} images but {labels} {y.shape[0]} labels")
    return Dataset(x[:, None, :, :].copy(), y.astype(np.int64))


def check_fits(data: Dataset, arch: Architecture, source: str) -> None:
    """Raise ``ValueError`` naming ``source`` unless ``data`` fits the network ``arch``: its
    images of the input shape ``(d, a, b)``, its labels among the classes ``0..K-1``.

    Parameters
    ----------
    data : Dataset
    arch : Architecture
        The network to train or to predict with.
    source : str
        Where ``data`` comes from (a file, a built-in name), for the message.

    Returns
    -------
    None

    Raises
    ------
    ValueError
        ``"SOURCE: images of shape (d, a, b) = ..., the network takes ..."``, or ``"SOURCE:
        labels [...] lie outside the network's K classes (0..K-1)"`` (for a ``.mat`` file's
        mapped labels: more distinct labels than classes). A prediction on such labels
        would report a meaningless accuracy, a training run would fail at its first step.

    Examples
    --------
    >>> from kronconv import Architecture
    >>> data = Dataset(np.zeros((2, 1, 8, 8)), np.array([3, 12]))
    >>> check_fits(data, Architecture.preset("digits"), "test.npz")
    Traceback (most recent call last):
    ...
    ValueError: test.npz: labels [12] lie outside the network's 10 classes (0..9)
    """
    a, b, d = arch.input
    if data.x.shape[1:] != (d, a, b):
        raise ValueError(f"{source}: images of shape (d, a, b) = {data.x.shape[1:]}, the "
                         f"network takes {(d, a, b)}")
    K = arch.n_classes
    outside = np.unique(data.y[(data.y < 0) | (data.y >= K)])
    if outside.size == 0:
        return
    if data.labels is not None:                  # the file's labels, mapped to classes
        raise ValueError(f"{source}: holds {data.labels.size} distinct labels "
                         f"{data.labels.tolist()[:12]}, more than the network's {K} classes")
    raise ValueError(f"{source}: labels {outside.tolist()[:12]} lie outside the network's "
                     f"{K} classes (0..{K - 1})")


_X = ArraySpec("x", (None, None, None, None), "(N, d, a, b)", "biuf")


def _load_npz(path: Path) -> Dataset:
    """A ``.npz`` data file: ``x`` of real, finite values and ``y``, one class label
    (an integer >= 0, possibly stored as a float) per image."""
    arrays = read_npz(path, "data file (.npz with x and y)")
    check_arrays(arrays, (_X,), path)
    N = arrays["x"].shape[0]
    check_arrays(arrays, (ArraySpec("y", (N,), "(N,)", "biuf", integral=True, low=0,
                                    high=2**31),), path)
    return Dataset(arrays["x"], arrays["y"].astype(np.int64))


def load_data(path: str | Path, shape: tuple[int, int, int] | None = None, *,
              input_format: str = "row", labels: np.ndarray | None = None) -> Dataset:
    """A data set from disk: ``.npz`` (keys ``x`` (N, d, a, b) and ``y``), or simpleNN's ``.mat``.

    A simpleNN ``.mat`` file holds ``Z``, ``N`` rows of ``a*b*d`` features (dense or a
    sparse matrix), and ``y``, ``N`` labels. It is read as simpleNN's ``example.m`` and
    ``check_data.m`` read it (see the module docstring): channel ``c``'s block is columns
    ``c*a*b .. (c+1)*a*b - 1`` of a row, and pixel (row ``r``, column ``q``) of the block is
    column ``q + b*r`` (``input_format="row"``) or ``r + a*q`` (``"column"``). A file may
    store fewer than ``a*b*d`` columns: the missing trailing ones are zeros. The labels are
    mapped as simpleNN maps them, ``unique(y)``: the ``k``-th smallest label value is class
    ``k``, and ``Dataset.labels`` keeps the values. The values are returned as stored
    (simpleNN's division by 255 and mean subtraction are :class:`Scaling`).

    Parameters
    ----------
    path : str or Path
    shape : (a, b, d), optional
        Required for a ``.mat`` file: the height (rows), width (columns) and channels of
        one image (simpleNN's ``ht_input``, ``wd_input``, ``ch_input(1)``). Not used for a
        ``.npz`` file, whose ``x`` carries its shape (:func:`check_fits` compares it with a
        network's input).
    input_format : {"row", "column"}, default "row"
        The pixel order of a ``.mat`` file's channel blocks: simpleNN's ``input_format`` 0
        (row-wise, LIBSVM's order, the default) or 1 (column-wise).
    labels : array_like of shape (K,), optional
        For a ``.mat`` file: the label values of the classes ``0..K-1`` (a training set's
        ``Dataset.labels``, so that a test set is mapped as the training set was, as
        simpleNN's ``model.labels`` does); every label in the file must be one of them.
        Default: the file's own ``unique(y)``.

    Returns
    -------
    Dataset
        ``x`` of shape (N, d, a, b) with the file's dtype (uint8 stays uint8), ``y`` the
        classes; for a ``.mat`` file ``labels`` holds the label values.

    Raises
    ------
    ValueError
        Naming the file, and the key or variable: an unreadable, truncated or corrupted
        file; a missing ``x``/``y`` (``Z``/``y``); images that are not real numbers (complex,
        strings) or not finite, or not of shape (N, d, a, b) with N >= 1; labels that are not
        one per image, not whole numbers >= 0 (a ``.npz``; shown as stored, ``inf`` as
        ``inf``) or outside ``labels`` (a ``.mat``); a ``shape`` that is not three positive
        integers.
    MemoryLimitError
        If padding a ``.mat`` file's rows to ``a*b*d`` columns would exceed the memory limit.

    Examples
    --------
    A 1 x 2 image with two channels, row-wise: channel 0 then channel 1.

    >>> import tempfile, os
    >>> from scipy.io import savemat
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.mat")
    >>> savemat(path, {"Z": np.array([[1.0, 2.0, 3.0, 4.0]]), "y": np.array([[7.0]])})
    >>> data = load_data(path, shape=(1, 2, 2))
    >>> data.x.tolist(), data.y.tolist(), data.labels.tolist()
    ([[[[1.0, 2.0]], [[3.0, 4.0]]]], [0], [7])
    """
    if input_format not in INPUT_FORMATS:
        raise ValueError(f"input_format must be one of {INPUT_FORMATS}, got {input_format!r}")
    path = Path(path)
    suffix = path.suffix.lower()              # DATA.NPZ as data.npz
    if suffix == ".npz":
        return _load_npz(path)
    if suffix != ".mat":
        raise ValueError(f"{path}: expected a .npz or .mat file (or IDX files through "
                         "load_idx)")
    try:
        return _load_mat(path, shape, input_format, labels)
    except (KeyError, ValueError, OSError) as exc:
        raise ValueError(f"{path}: {exc}") from None


def _load_mat(path: Path, shape: tuple[int, int, int] | None, input_format: str,
              labels: np.ndarray | None) -> Dataset:
    from scipy import sparse
    from scipy.io import loadmat

    if shape is None:
        raise ValueError("a .mat file holds flat rows: give shape=(a, b, d)")
    try:
        a, b, d = shape
    except (TypeError, ValueError):
        raise ValueError(f"shape must be (a, b, d), got {shape!r}") from None
    try:
        a, b, d = (check_int(v, f"shape {n}", 1) for n, v in zip("abd", (a, b, d), strict=True))
    except TypeError as exc:
        raise ValueError(str(exc)) from None
    try:
        f = loadmat(path)
    except NotImplementedError:
        raise ValueError("a MATLAB v7.3 (HDF5) file; save it with save('-v7', ...)") from None
    except Exception as exc:  # scipy raises several kinds for a file that is not a .mat
        raise ValueError(f"not a readable .mat file ({exc})") from None
    present = sorted(k for k in f if not k.startswith("__"))
    for key in ("Z", "y"):
        if key not in f:
            raise ValueError(f"missing variable {key!r}; the file holds {present}")
    Z = f["Z"]
    Z = Z.toarray() if sparse.issparse(Z) else np.asarray(Z)
    n_features = a * b * d
    if Z.ndim != 2 or Z.dtype.kind not in "iuf":
        raise ValueError(f"variable 'Z' must be a real matrix with one instance per row, got "
                         f"{Z.dtype} of shape {Z.shape}")
    N = Z.shape[0]
    if N == 0:
        raise ValueError("variable 'Z' holds no instances (0 rows)")
    if Z.shape[1] > n_features:
        raise ValueError(f"variable 'Z' has {Z.shape[1]} columns, more than a*b*d = "
                         f"{a}*{b}*{d} = {n_features} for shape={(a, b, d)}")
    if Z.dtype.kind == "f" and not np.isfinite(Z).all():
        raise ValueError("variable 'Z' holds NaN or infinite values")
    if Z.shape[1] < n_features:           # trailing zero columns not stored: pad them
        check_memory(N * n_features * Z.dtype.itemsize, f"{path}: variable 'Z' padded to "
                     f"a*b*d = {n_features} columns for shape={(a, b, d)}", "check the shape")
        Z = np.hstack([Z, np.zeros((N, n_features - Z.shape[1]), dtype=Z.dtype)])
    if input_format == "row":             # block c, pixel (r, q) at q + b*r
        x = Z.reshape(N, d, a, b)
    else:                                 # block c, pixel (r, q) at r + a*q
        x = Z.reshape(N, d, b, a).transpose(0, 1, 3, 2)
    y = np.asarray(f["y"])
    if y.ndim != 2 or 1 not in y.shape or y.size != N or y.dtype.kind not in "iuf":
        raise ValueError(f"variable 'y' must be a real vector of {N} labels (one per row of "
                         f"Z), got {y.dtype} of shape {y.shape}")
    classes, values = _classes(y.ravel(), labels)
    return Dataset(np.ascontiguousarray(x), classes, values)


def _integral(values: np.ndarray) -> np.ndarray:
    """``values`` as int64 when they are all integers, else as float64."""
    if values.dtype.kind in "iu" or (np.isfinite(values).all() and
                                     np.array_equal(values, np.round(values))):
        return values.astype(np.int64)
    return values.astype(np.float64)


def _classes(y: np.ndarray, labels: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """simpleNN's ``[labels, ~, y_mapped] = unique(y)``, 0-based, or ``y`` mapped by ``labels``."""
    if not np.isfinite(y).all():
        raise ValueError("variable 'y' holds NaN or infinite labels")
    if labels is None:
        values, classes = np.unique(y, return_inverse=True)
        return classes.astype(np.int64).ravel(), _integral(values)
    values = np.asarray(labels)
    if values.ndim != 1 or values.dtype.kind not in "iuf" or values.size == 0:
        raise ValueError(f"labels must be a non-empty real vector (K,), got {values.dtype} "
                         f"of shape {values.shape}")
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    if np.any(ordered[1:] == ordered[:-1]):
        raise ValueError(f"labels must be distinct, got {values.tolist()}")
    pos = np.minimum(np.searchsorted(ordered, y), values.size - 1)
    unknown = ordered[pos] != y
    if unknown.any():
        raise ValueError(f"variable 'y' holds the label {y[unknown][0]:g}, which is not one "
                         f"of labels {values.tolist()}")
    return order[pos].astype(np.int64), _integral(values)


_MNIST_DEMO = {"train": "mnist-demo.mat", "test": "mnist-demo.t.mat"}


def mnist_demo(split: str = "train") -> Dataset:
    """simpleNN's mnist-demo data, shipped with kronconv: 2,000 training or 1,000 test images.

    MNIST digits (28 x 28, one channel, values 0..255 as ``uint8``), selected stratified from
    LIBSVM's mnist data sets by simpleNN's authors (``kronconv/datasets/README.md``; BSD-3,
    ``kronconv/datasets/COPYRIGHT``). The files are simpleNN's own, read as simpleNN's
    ``example.m`` reads them (:func:`load_data`, row-wise); :class:`Scaling` then does
    simpleNN's division by 255 and subtraction of the training mean. simpleNN's
    network for them is the preset ``"mnist-3layer"``.

    Parameters
    ----------
    split : {"train", "test"}, default "train"

    Returns
    -------
    Dataset
        ``x`` (N, 1, 28, 28) uint8, ``y`` the digits 0..9, ``labels`` ``[0, ..., 9]``.

    Raises
    ------
    ValueError
        For another ``split``.

    Examples
    --------
    >>> train = mnist_demo()
    >>> train.x.shape, train.x.dtype, np.bincount(train.y).sum()
    ((2000, 1, 28, 28), dtype('uint8'), np.int64(2000))
    >>> len(mnist_demo("test"))
    1000
    """
    if split not in _MNIST_DEMO:
        raise ValueError(f"split must be one of {sorted(_MNIST_DEMO)}, got {split!r}")
    from importlib.resources import as_file, files

    with as_file(files("kronconv.datasets") / _MNIST_DEMO[split]) as path:
        data = load_data(path, shape=BUILTIN_DATASETS["mnist-demo"],
                         labels=np.arange(10))
    x = data.x
    if x.min() >= 0 and x.max() <= 255 and np.array_equal(x, np.round(x)):
        x = x.astype(np.uint8)            # bytes, so that Scaling.fit divides by 255
    return Dataset(x, data.y, data.labels)


def mnist_demo_split() -> tuple[Dataset, Dataset]:
    """simpleNN's mnist-demo as ``(train, test)``, like :func:`digits_split`.

    Examples
    --------
    >>> train, test = mnist_demo_split()
    >>> len(train), len(test)
    (2000, 1000)
    """
    return mnist_demo("train"), mnist_demo("test")


#: Where Debian's package ``dataset-fashion-mnist`` puts the IDX files
#: (``KRONCONV_FASHION_MNIST`` names another folder).
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


def fashion_mnist(split: str = "train", root: str | Path | None = None) -> Dataset:
    """Fashion-MNIST (Zalando; 60,000 training and 10,000 test images, 28x28, 10 classes).

    Read from the IDX files of Debian's package ``dataset-fashion-mnist`` (Expat licence), or
    from ``root`` (default: ``$KRONCONV_FASHION_MNIST``, else
    ``/usr/share/datasets/fashion-mnist``); nothing is downloaded.

    Parameters
    ----------
    split : {"train", "test"}, default "train"
    root : str or Path, optional

    Returns
    -------
    Dataset
        ``x`` of shape (N, 1, 28, 28), uint8 pixel values 0-255.

    Raises
    ------
    FileNotFoundError
        If the files are not there; the message says how to install them.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    folder = Path(root or os.environ.get("KRONCONV_FASHION_MNIST") or FASHION_MNIST_DIR)
    stem = "train" if split == "train" else "t10k"
    images, labels = (folder / f"{stem}-{kind}-idx{n}-ubyte.gz"
                      for kind, n in (("images", 3), ("labels", 1)))
    for path in (images, labels):
        if not path.is_file():
            raise FileNotFoundError(
                f"Fashion-MNIST: {path} is missing. Install Debian's package "
                "(apt-get install dataset-fashion-mnist), or set KRONCONV_FASHION_MNIST to a "
                "folder holding its four IDX files (train-images-idx3-ubyte.gz, ...)")
    return load_idx(images, labels)


def builtin_dataset(name: str, split: str = "train") -> Dataset:
    """A built-in data set by name (:data:`BUILTIN_DATASETS`): ``"digits"``, ``"mnist-demo"``
    or ``"fashion-mnist"`` (read from Debian's package).

    Parameters
    ----------
    name : str
        ``"digits"`` (:func:`digits_split` with its defaults), ``"mnist-demo"``
        (:func:`mnist_demo`) or ``"fashion-mnist"`` (:func:`fashion_mnist`).
    split : {"train", "test"}, default "train"

    Returns
    -------
    Dataset

    Raises
    ------
    ValueError
        For an unknown name or split.

    Examples
    --------
    >>> builtin_dataset("mnist-demo", "test").x.shape
    (1000, 1, 28, 28)
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if name == "digits":
        return digits_split()[0 if split == "train" else 1]
    if name == "mnist-demo":
        return mnist_demo(split)
    if name == "fashion-mnist":
        return fashion_mnist(split)
    raise ValueError(f"unknown built-in data set {name!r}; built-in: {sorted(BUILTIN_DATASETS)}")
