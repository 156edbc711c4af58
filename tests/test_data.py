"""Data as simpleNN reads it: the channel-block rows of its .mat files and the built-in sets."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse
from scipy.io import loadmat, savemat

from kronconv import Z_from_nchw
from kronconv.data import (
    BUILTIN_DATASETS,
    Dataset,
    Scaling,
    builtin_dataset,
    load_data,
    mnist_demo,
    mnist_demo_split,
)

# a 3-channel, non-square image set: a = 3 rows, b = 5 columns
N, D, A, B = 4, 3, 3, 5


def known_images() -> np.ndarray:
    """(N, d, a, b) images whose every value tells where it is: 1000n + 100c + 10r + q + 1."""
    n, c, r, q = np.indices((N, D, A, B))
    return (1000 * n + 100 * c + 10 * r + q + 1).astype(np.float64)


def simplenn_rows(x: np.ndarray, input_format: int) -> np.ndarray:
    """The .mat rows of images ``x`` (N, d, a, b) written entry by entry from simpleNN's
    index formulas, 1-based as in MATLAB: check_data.m puts channel c in columns
    (c-1)*a*b+1 .. c*a*b; inside the block, example.m's reshape(Z, [], b, a, d) reads pixel
    (r, q) at q + (r-1)*b for input_format 0 (row-wise), and the column-wise order that
    check_data.m consumes is r + (q-1)*a (input_format 1)."""
    n_inst, d, a, b = x.shape
    Z = np.zeros((n_inst, a * b * d))
    for n in range(1, n_inst + 1):
        for c in range(1, d + 1):
            for r in range(1, a + 1):
                for q in range(1, b + 1):
                    within = q + (r - 1) * b if input_format == 0 else r + (q - 1) * a
                    Z[n - 1, (c - 1) * a * b + within - 1] = x[n - 1, c - 1, r - 1, q - 1]
    return Z


def simplenn_prob_data(Z: np.ndarray, a: int, b: int, d: int, input_format: int) -> np.ndarray:
    """simpleNN's prob.data (dab x l) from the rows Z: example.m's permutation for row-wise
    input, then check_data.m's rearrangement, line by line with MATLAB's column-major
    reshape (order="F")."""
    n_inst = Z.shape[0]                                          # simpleNN's prob.l
    if input_format == 0:
        # Z = reshape(permute(reshape(Z, [],b,a,d), [1,3,2,4]), [], a*b*d);
        Z = Z.reshape((n_inst, b, a, d), order="F").transpose(0, 2, 1, 3).reshape(
            (n_inst, a * b * d), order="F")
    # for d: tmp = [tmp; reshape(Z(:, (d-1)*a*b+1 : d*a*b)', [], 1)'];
    tmp = np.stack([Z[:, c * a * b:(c + 1) * a * b].T.reshape(-1, order="F")
                    for c in range(d)])
    # prob.data = reshape(tmp, [], prob.l);
    return tmp.reshape((-1, n_inst), order="F")


@pytest.mark.parametrize(("input_format", "code"), [("row", 0), ("column", 1)])
def test_load_data_reads_simplenn_channel_blocks(tmp_path, input_format, code):
    x = known_images()
    y = np.array([3.0, 10.0, 3.0, -1.0])
    savemat(tmp_path / "d.mat", {"Z": simplenn_rows(x, code), "y": y[:, None]})
    data = load_data(tmp_path / "d.mat", shape=(A, B, D), input_format=input_format)
    np.testing.assert_array_equal(data.x, x)
    # labels as simpleNN's unique(y): -1 -> class 0, 3 -> 1, 10 -> 2
    np.testing.assert_array_equal(data.y, [1, 2, 1, 0])
    np.testing.assert_array_equal(data.labels, [-1, 3, 10])
    assert data.labels.dtype == np.int64


@pytest.mark.parametrize(("input_format", "code"), [("row", 0), ("column", 1)])
def test_load_data_gives_simplenns_network_input(tmp_path, input_format, code):
    # what kronconv feeds the network, Z_from_nchw(x), holds vec(Z^n) per instance; simpleNN
    # feeds prob.data(:, n): the two must be the same numbers in the same order
    rows = simplenn_rows(known_images(), code)
    savemat(tmp_path / "d.mat", {"Z": rows, "y": np.arange(N)[:, None]})
    x = load_data(tmp_path / "d.mat", shape=(A, B, D), input_format=input_format).x
    Z = Z_from_nchw(x)                                          # (d, a*b*N)
    columns = np.stack([Z[:, n * A * B:(n + 1) * A * B].reshape(-1, order="F")
                        for n in range(N)], axis=1)             # vec(Z^n), n = 0..N-1
    np.testing.assert_array_equal(columns, simplenn_prob_data(rows, A, B, D, code))


def test_load_data_pads_a_sparse_file_without_trailing_zero_columns(tmp_path):
    x = known_images()
    x[:, -1, -1, -2:] = 0.0              # the last two pixels of the last channel: zero
    x[:, 0, 0, 0] = 0.0                  # and one inside
    rows = simplenn_rows(x, 0)
    assert not rows[:, -2:].any()
    savemat(tmp_path / "d.mat", {"Z": sparse.csc_matrix(rows[:, :-2]),
                                 "y": np.ones((N, 1))})
    assert sparse.issparse(loadmat(tmp_path / "d.mat")["Z"])
    data = load_data(tmp_path / "d.mat", shape=(A, B, D))
    np.testing.assert_array_equal(data.x, x)
    np.testing.assert_array_equal(data.y, np.zeros(N))
    np.testing.assert_array_equal(data.labels, [1])


def test_load_data_maps_labels_by_the_training_labels(tmp_path):
    savemat(tmp_path / "t.mat", {"Z": np.ones((3, A * B * D)), "y": np.array([[10, -1, 10]])})
    data = load_data(tmp_path / "t.mat", shape=(A, B, D), labels=np.array([-1, 3, 10]))
    np.testing.assert_array_equal(data.y, [2, 0, 2])
    np.testing.assert_array_equal(data.labels, [-1, 3, 10])
    with pytest.raises(ValueError, match=r"t\.mat: .*label 10, which is not one of labels"):
        load_data(tmp_path / "t.mat", shape=(A, B, D), labels=[-1, 3])


def test_load_data_keeps_non_integer_labels(tmp_path):
    savemat(tmp_path / "d.mat", {"Z": np.ones((2, 4)), "y": np.array([[0.5], [-0.5]])})
    data = load_data(tmp_path / "d.mat", shape=(2, 2, 1))
    np.testing.assert_array_equal(data.y, [1, 0])
    np.testing.assert_array_equal(data.labels, [-0.5, 0.5])


@pytest.mark.parametrize(("contents", "kwargs", "message"), [
    ({"y": np.ones((2, 1))}, {}, r"d\.mat: missing variable 'Z'; the file holds \['y'\]"),
    ({"Z": np.ones((2, 30))}, {}, r"d\.mat: missing variable 'y'"),
    ({"Z": np.ones((2, 31)), "y": np.ones((2, 1))}, {},
     r"d\.mat: variable 'Z' has 31 columns, more than a\*b\*d = 2\*5\*3 = 30"),
    ({"Z": np.ones((2, 30)), "y": np.ones((3, 1))}, {},
     r"d\.mat: variable 'y' must be a real vector of 2 labels"),
    ({"Z": np.full((2, 30), np.nan), "y": np.ones((2, 1))}, {}, r"d\.mat: .*NaN"),
    ({"Z": np.ones((2, 30)), "y": np.ones((2, 1))}, {"shape": None},
     r"d\.mat: .*give shape=\(a, b, d\)"),
    ({"Z": np.ones((2, 30)), "y": np.ones((2, 1))}, {"input_format": "rows"},
     r"input_format must be one of \('row', 'column'\), got 'rows'"),
])
def test_load_data_names_the_file_and_the_variable(tmp_path, contents, kwargs, message):
    savemat(tmp_path / "d.mat", contents)
    with pytest.raises(ValueError, match=message):
        load_data(tmp_path / "d.mat", **{"shape": (2, 5, 3), **kwargs})


def test_load_data_refuses_a_file_that_is_not_a_mat_file(tmp_path):
    (tmp_path / "junk.mat").write_bytes(b"not a MATLAB file at all" * 10)
    with pytest.raises(ValueError, match=r"junk\.mat: "):
        load_data(tmp_path / "junk.mat", shape=(2, 2, 1))


def test_mnist_demo_matches_the_files_read_as_in_example_m():
    for split, name, count in (("train", "mnist-demo.mat", 2000),
                               ("test", "mnist-demo.t.mat", 1000)):
        from importlib.resources import as_file, files
        with as_file(files("kronconv.datasets") / name) as path:
            raw = loadmat(path)
        data = mnist_demo(split)
        assert data.x.shape == (count, 1, 28, 28)
        assert data.x.dtype == np.uint8
        # example.m: full(Z) padded to a*b*d columns, input_format 0 (row-wise)
        rows = np.hstack([raw["Z"], np.zeros((count, 784 - raw["Z"].shape[1]))])
        expected = simplenn_prob_data(rows, 28, 28, 1, 0)        # (784, count)
        np.testing.assert_array_equal(Z_from_nchw(data.x).reshape((784, -1), order="F"),
                                      expected)
        np.testing.assert_array_equal(data.y, raw["y"].ravel())  # labels 0..9 = classes
        np.testing.assert_array_equal(data.labels, np.arange(10))


def test_mnist_demo_images_are_upright():
    train, test = mnist_demo_split()
    for data in (train, test):
        x = data.x[:, 0].astype(np.float64)
        rows, cols = np.indices((28, 28))
        one = x[data.y == 1].mean(axis=0)
        w = one / one.sum()
        spread_rows = np.sqrt((w * (rows - (w * rows).sum()) ** 2).sum())
        spread_cols = np.sqrt((w * (cols - (w * cols).sum()) ** 2).sum())
        assert spread_rows > 2 * spread_cols        # a 1 is tall and thin; transposed, wide
        seven = x[data.y == 7].mean(axis=0)
        # a 7's bar is its heaviest row, in the top half; transposed, that row would be the
        # heaviest column's index (right of the centre); flipped, it would be at the bottom
        assert seven.sum(axis=1).argmax() < 12
        assert seven.sum(axis=0).argmax() >= 14


def test_mnist_demo_scaling_is_simplenns():
    train, test = mnist_demo_split()
    scaling = Scaling.fit(train.x)
    assert scaling.divisor == 255.0
    rows = train.x.reshape(len(train), -1).astype(np.float64)
    mean_tr = (rows / 255).mean(axis=0)                      # example.m: Z/255, mean(Z)
    expected = test.x.reshape(len(test), -1) / 255 - mean_tr
    np.testing.assert_allclose(scaling(test.x).reshape(len(test), -1), expected,
                               rtol=0, atol=1e-15)


def test_mnist_demo_refuses_an_unknown_split():
    with pytest.raises(ValueError, match=r"split must be one of \['test', 'train'\]"):
        mnist_demo("validation")


def test_builtin_dataset_by_name():
    assert sorted(BUILTIN_DATASETS) == ["digits", "fashion-mnist", "mnist-demo"]
    test = builtin_dataset("mnist-demo", "test")
    np.testing.assert_array_equal(test.x, mnist_demo("test").x)
    assert test.x.shape[1:] == tuple(np.roll(BUILTIN_DATASETS["mnist-demo"], 1))
    pytest.importorskip("sklearn")
    digits = builtin_dataset("digits", "test")
    assert isinstance(digits, Dataset)
    assert digits.x.shape == (359, 1, 8, 8)
    with pytest.raises(ValueError, match=r"unknown built-in data set 'mnist'; built-in: "
                                         r"\['digits', 'fashion-mnist', 'mnist-demo'\]"):
        builtin_dataset("mnist")
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        builtin_dataset("digits", "all")


def test_Dataset_checks_labels_against_classes():
    x = np.zeros((2, 1, 1, 1))
    with pytest.raises(ValueError, match=r"y must hold classes 0\.\.1"):
        Dataset(x, np.array([0, 2]), np.array([5, 6]))


# --- Fashion-MNIST (Debian's dataset-fashion-mnist) ------------------------------------------


def _write_idx(path, array):
    import gzip

    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_reads_the_idx_files_of_its_folder(tmp_path, monkeypatch):
    from kronconv.data import fashion_mnist

    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, size=(5, 28, 28)), rng.integers(0, 10, size=5)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels)
    monkeypatch.setenv("KRONCONV_FASHION_MNIST", str(tmp_path))
    data = fashion_mnist("test")
    np.testing.assert_array_equal(data.x[:, 0], images)      # rows are image rows: upright
    np.testing.assert_array_equal(data.y, labels)
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte\.gz is missing.*"
                                                 r"apt-get install dataset-fashion-mnist"):
        fashion_mnist("train")
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        fashion_mnist("val")


def test_fashion_mnist_from_debians_package():
    from kronconv.data import FASHION_MNIST_DIR, builtin_dataset

    if not (FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip("dataset-fashion-mnist is not installed")
    test = builtin_dataset("fashion-mnist", "test")
    assert test.x.shape == (10000, 1, 28, 28)
    assert np.bincount(test.y).tolist() == [1000] * 10        # balanced, as published
    assert test.y[:5].tolist() == [9, 2, 1, 1, 6]             # ankle boot, pullover, ...


def test_load_data_reads_an_upper_case_suffix(tmp_path):
    x, y = np.arange(2 * 4, dtype=float).reshape(2, 1, 2, 2), np.array([1, 0])
    with open(tmp_path / "DATA.NPZ", "wb") as f:
        np.savez(f, x=x, y=y)
    data = load_data(tmp_path / "DATA.NPZ")
    np.testing.assert_array_equal(data.x, x)
    np.testing.assert_array_equal(data.y, y)
