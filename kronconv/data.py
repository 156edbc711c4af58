"""Data: the built-in digits split, loaders for data on disk, and simpleNN's scaling.

Images are returned in NCHW layout ``(N, d, a, b)`` with integer labels ``(N,)``; the
network functions take ``Z_from_nchw(x)``. Nothing is downloaded and nothing is
unpickled: ``.npz`` files are read with ``allow_pickle=False``.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Dataset", "Scaling", "digits_split", "load_data", "load_idx"]


@dataclass(frozen=True)
class Dataset:
    """Images ``x`` of shape (N, d, a, b) and integer labels ``y`` of shape (N,)."""

    x: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        if self.x.ndim != 4:
            raise ValueError(f"x must have shape (N, d, a, b), got shape {self.x.shape}")
        if self.y.shape != (self.x.shape[0],):
            raise ValueError(f"y must have shape (N,) = ({self.x.shape[0]},), "
                             f"got shape {self.y.shape}")

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
        """The transform of training images ``x`` (N, d, a, b)."""
        divisor = 255.0 if x.dtype == np.uint8 else max(float(np.max(x)), 1.0)
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


def load_idx(images: str | Path, labels: str | Path) -> Dataset:
    """MNIST/Fashion-MNIST IDX files (gzipped or not): ``*-images-idx3-ubyte`` and labels.

    Raises
    ------
    ValueError
        If a file is not an IDX file of the expected kind, is truncated, or the counts differ;
        the message names the file.
    """
    arrays = []
    for path, ndim in ((Path(images), 3), (Path(labels), 1)):
        with _open(path) as f:
            raw = f.read()
        if len(raw) < 4 + 4 * ndim or raw[:2] != b"\x00\x00" or raw[2] != 0x08 or raw[3] != ndim:
            raise ValueError(f"{path}: not an IDX file of unsigned bytes with {ndim} dimension(s)")
        dims = tuple(int.from_bytes(raw[4 + 4 * k:8 + 4 * k], "big") for k in range(ndim))
        body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
        if body.size != int(np.prod(dims)):
            raise ValueError(f"{path}: holds {body.size} values, its header says {dims}")
        arrays.append(body.reshape(dims))
    x, y = arrays
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{images} holds {x.shape[0]} images but {labels} {y.shape[0]} labels")
    return Dataset(x[:, None, :, :].copy(), y.astype(np.int64))


def load_data(path: str | Path, shape: tuple[int, int, int] | None = None) -> Dataset:
    """A data set from disk: ``.npz`` (keys ``x`` (N, d, a, b) and ``y``), or ``.mat``.

    A simpleNN-style ``.mat`` file holds ``Z`` (N rows of ``a*b*d`` features, each the
    image's vec in the conventions' order: channel fastest, then row, then column) and ``y``
    (labels; MATLAB's 1..K are shifted to 0..K-1); ``shape = (a, b, d)`` is then required.

    Raises
    ------
    ValueError
        For a missing key, wrong shapes, or an unreadable file, naming the file.
    """
    path = Path(path)
    try:
        if path.suffix == ".npz":
            with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as f:
                x, y = np.asarray(f["x"]), np.asarray(f["y"])
        elif path.suffix == ".mat":
            from scipy.io import loadmat

            f = loadmat(path)
            if shape is None:
                raise ValueError("a .mat file holds flat rows: give shape=(a, b, d)")
            a, b, d = shape
            Zrows = np.asarray(f["Z"], dtype=np.float64)
            # row n is vec(Z^n): entry (c, r, q) at c + d*r + d*a*q
            x = Zrows.reshape(-1, b, a, d).transpose(0, 3, 2, 1)
            y = np.asarray(f["y"]).ravel()
            if y.size and y.min() >= 1:
                y = y - 1
        else:
            raise ValueError("expected a .npz or .mat file (or IDX files through load_idx)")
        return Dataset(np.asarray(x), np.asarray(y).astype(np.int64))
    except (KeyError, ValueError, OSError) as exc:
        raise ValueError(f"{path}: {exc}") from None
