"""simpleNN's configuration files and models: read, written, and run by simpleNN's code."""

from __future__ import annotations

import os
import shutil
import subprocess
from importlib.resources import as_file, files
from pathlib import Path

import numpy as np
import pytest
from _simplenn import cnn_predict
from scipy.io import loadmat, savemat

import kronconv as kc
from kronconv.data import mnist_demo
from kronconv.simplenn import CONFIG_KEYS, read_config, read_model, write_config, write_model
from kronconv.testing import assert_relative_close

VENDORED = Path(__file__).parent / "simplenn" / "MATLAB"       # simpleNN's MATLAB code

SHIPPED_CONFIG = """\
% The symbols are followed by "Newton methods for Convolutional Neural Networks".
% For this example, 4 layers include 3 convolutional layers and 1 fully-connected layer.

L = 4;
LC = 3;
LF = 1;
wd_input = [28];
ht_input = [28];
ch_input = [1,32,64,64];
wd_pad_added = [2,1,1];
wd_filter = [5,3,3];
strides = [1,1,1];
wd_subimage_pool = [2,2,2];
full_neurons = [10];
"""

# a network with everything simpleNN can vary: non-square RGB input, stride 2, a layer
# without pooling, a pooling window that leaves a remainder, two hidden full layers
ODD_CONFIG = """\
L = 5;
LC = 2;
LF = 3;
wd_input = [17];
ht_input = [13];
ch_input = [3,4,5];
wd_pad_added = [1,0];
wd_filter = [4,2];
strides = [2,1];
wd_subimage_pool = [1,3];
full_neurons = [7,6,4];
"""


def write(tmp_path: Path, text: str, name: str = "net.config") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def odd_arch() -> kc.Architecture:
    return kc.Architecture(
        (13, 17, 3),
        conv=[{"d_out": 4, "h": 4, "stride": 2, "padding": 1},
              {"d_out": 5, "h": 2, "pool": "max", "pool_size": 3}],
        full=[{"n_out": 7}, {"n_out": 6}, {"n_out": 4}])


# -- configurations --------------------------------------------------------------------------

def test_read_config_shipped_file_is_the_mnist_3layer_preset(tmp_path):
    with as_file(files("kronconv.datasets") / "mnist-demo-layer4.config") as path:
        assert path.read_text(encoding="utf-8") == SHIPPED_CONFIG   # simpleNN's, unchanged
        arch = read_config(path)
    assert arch == kc.Architecture.preset("mnist-3layer")
    assert arch.name == "mnist-demo-layer4"
    assert [a.name for a in arch.activations] == ["relu", "relu", "relu", "identity"]
    write_config(arch, tmp_path / "again.config")
    assert read_config(tmp_path / "again.config") == arch


def test_read_config_sizes_follow_init_model(tmp_path):
    arch = read_config(write(tmp_path, ODD_CONFIG))
    assert arch == odd_arch()
    # train.m's init_model, by hand: ht = 13, wd = 17
    # layer 1: pad 1 -> 15 x 19; conv floor((15-4)/2)+1 = 6, floor((19-4)/2)+1 = 8; no pool
    # layer 2: pad 0 -> 6 x 8; conv 5 x 7; pool 3 -> floor(5/3) = 1, floor(7/3) = 2
    s1, s2 = arch.conv_shapes
    assert (s1.a_pad, s1.b_pad, s1.a_conv, s1.b_conv, s1.a_out, s1.b_out) == (15, 19, 6, 8, 6, 8)
    assert (s2.a_pad, s2.b_pad, s2.a_conv, s2.b_conv, s2.a_out, s2.b_out) == (6, 8, 5, 7, 1, 2)
    assert s1.pool == "none"
    assert (s2.pool, s2.pool_size, s2.pool_stride) == ("max", 3, 3)
    assert arch.full_shapes == ((7, 1 * 2 * 5), (6, 7), (4, 6))
    assert [a.name for a in arch.activations] == ["relu"] * 4 + ["identity"]


def test_read_config_accepts_what_matlab_evaluates(tmp_path):
    text = ("%% a comment line\n\nL = 5 ;   % trailing comment\nLC=2\nLF = [3];\n"
            "wd_input = 17;\nht_input = [ 13 ];\nch_input = [3 4 5];\n"
            "wd_pad_added = [1;0];\nwd_filter = [4, 2];\nstrides = [2.0,1];\n"
            "wd_subimage_pool = [1,3,];\nfull_neurons = [7,6,4];")
    assert read_config(write(tmp_path, text)) == odd_arch()


def test_read_config_skips_a_byte_order_mark_and_crlf(tmp_path):
    path = tmp_path / "bom.config"
    path.write_bytes(b"\xef\xbb\xbf" + ODD_CONFIG.replace("\n", "\r\n").encode())
    assert read_config(path) == odd_arch()


@pytest.mark.parametrize(("change", "message"), [
    (("LF = 3;", "LF = 3;\nfoo = 1;"), r", line 4, key 'foo': unknown key; simpleNN's keys: L,"),
    (("strides = [2,1];\n", ""), r": missing key 'strides'"),
    (("LF = 3;", "LF = 3;\nLC = 2;"), r", line 4, key 'LC': repeated \(first on line 2\)"),
    (("ch_input = [3,4,5]", "ch_input = [3,4]"),
     r", line 6, key 'ch_input': has 2 entries, LC\+1 = 3 needed"),
    (("full_neurons = [7,6,4]", "full_neurons = [7,4]"),
     r", line 11, key 'full_neurons': has 2 entries, LF = 3 needed"),
    (("wd_filter = [4,2]", "wd_filter = [4,2,2]"),
     r", line 8, key 'wd_filter': has 3 entries, LC = 2 needed"),
    (("wd_filter = [4,2]", "wd_filter = [4,2.5]"), r", line 8, key 'wd_filter': 2\.5 is not an "
                                                    r"integer"),
    (("L = 5;", "L = 6;"), r", line 1, key 'L': L = 6 must equal LC \+ LF = 2 \+ 3 = 5"),
    (("wd_input = [17]", "wd_input = [17,3]"), r", line 4, key 'wd_input': must be one number"),
    (("strides = [2,1]", "strides = [0,1]"), r", line 9, key 'strides': entry 1 must be >= 1"),
    (("wd_pad_added = [1,0]", "wd_pad_added = [1,-1]"),
     r", line 7, key 'wd_pad_added': unexpected character '-' \(sizes are integers "
     r">= 0\)"),
    (("wd_filter = [4,2]", "wd_filter = [16,2]"),
     r", line 8, key 'wd_filter': conv layer 1's filter, 16 x 16, exceeds its padded input, "
     r"15 x 19"),
    (("wd_subimage_pool = [1,3]", "wd_subimage_pool = [1,6]"),
     r", line 10, key 'wd_subimage_pool': conv layer 2's pooling window, 6 x 6, exceeds its "
     r"convolution output, 5 x 7"),
    (("LC = 2;", "LC = 2; LF = 3;"), r", line 2, key 'LC': unexpected 'LF' after the value"),
    (("LC = 2;", "LC 2;"), r", line 2: expected 'key = value;'"),
    (("wd_filter = [4,2]", "wd_filter = [4,,2]"), r", line 8, key 'wd_filter': unexpected ','"),
    (("wd_filter = [4,2]", "wd_filter = [4,2"), r", line 8, key 'wd_filter': missing '\]'"),
    (("wd_filter = [4,2]", "wd_filter = eval('[4,2]')"),
     r", line 8, key 'wd_filter': unexpected character '\('"),
])
def test_read_config_errors_name_the_file_line_and_key(tmp_path, change, message):
    old, new = change
    assert old in ODD_CONFIG
    path = write(tmp_path, ODD_CONFIG.replace(old, new))
    with pytest.raises(ValueError, match=r"net\.config" + message):
        read_config(path)


def test_read_config_refuses_a_missing_file(tmp_path):
    with pytest.raises(ValueError, match=r"nothere\.config: cannot read the configuration"):
        read_config(tmp_path / "nothere.config")


def test_load_architecture_reads_simplenn_config_files(tmp_path):
    path = write(tmp_path, ODD_CONFIG, "odd.config")
    assert kc.load_architecture(path) == odd_arch()
    assert kc.load_architecture(str(path)).name == "odd"
    with pytest.raises(ValueError, match=r"bad\.config, line 1, key 'L'"):
        kc.load_architecture(write(tmp_path, ODD_CONFIG.replace("L = 5", "L = 4"), "bad.config"))


@pytest.mark.parametrize("name", sorted(kc.PRESETS))
def test_write_config_round_trips_the_presets(tmp_path, name):
    arch = kc.Architecture.preset(name)
    write_config(arch, tmp_path / "p.config")
    assert read_config(tmp_path / "p.config") == arch


def test_write_config_writes_simplenns_statements(tmp_path):
    write_config(odd_arch(), tmp_path / "odd.config")
    text = (tmp_path / "odd.config").read_text(encoding="utf-8")
    statements = [line for line in text.splitlines() if line and not line.startswith("%")]
    assert statements == ODD_CONFIG.splitlines()
    # read_config.m evaluates every line that is not empty and does not start with '%'
    assert all(line.split(" = ")[0] in CONFIG_KEYS for line in statements)
    assert read_config(tmp_path / "odd.config") == odd_arch()


def test_write_config_writes_empty_lists_without_conv_layers(tmp_path):
    arch = kc.Architecture((5, 3, 2), full=[{"n_out": 4}, {"n_out": 3}])
    write_config(arch, tmp_path / "fc.config")
    text = (tmp_path / "fc.config").read_text(encoding="utf-8")
    assert "LC = 0;\n" in text
    assert "ch_input = [2];\nwd_pad_added = [];\n" in text
    assert read_config(tmp_path / "fc.config") == arch


def test_write_config_keeps_the_name_in_one_comment_line(tmp_path):
    arch = kc.Architecture((8, 8, 1), full=[{"n_out": 3}], name="two\nL = 9;\rlines")
    write_config(arch, tmp_path / "n.config")
    lines = (tmp_path / "n.config").read_text(encoding="utf-8").split("\n")
    assert "'two\\nL = 9;\\rlines'" in lines[0]
    assert [line for line in lines if line.startswith("L =")] == ["L = 1;"]
    assert read_config(tmp_path / "n.config") == arch


@pytest.mark.parametrize(("conv", "full", "message"), [
    ({"activation": "tanh"}, {}, r"conv layer 1: activation 'tanh'; simpleNN has ReLU"),
    ({"pool": "average"}, {}, r"conv layer 1: average pooling; simpleNN has max pooling only"),
    ({"pool_stride": 1}, {}, r"conv layer 1: pool_stride = 1 differs from pool_size = 2"),
    ({}, {"activation": "sigmoid"}, r"full layer 1: activation 'sigmoid'; simpleNN has ReLU "
                                    r"after every fully-connected layer but the last"),
])
def test_write_config_refuses_what_simplenn_cannot_express(tmp_path, conv, full, message):
    arch = kc.Architecture((8, 8, 1), conv=[{"d_out": 2, "h": 3, "pool": "max", **conv}],
                           full=[{"n_out": 5, **full}, {"n_out": 3}])
    with pytest.raises(ValueError, match=message):
        write_config(arch, tmp_path / "x.config")
    with pytest.raises(ValueError, match=message):
        write_model(arch, np.zeros(arch.n_params), tmp_path / "x.mat")
    assert not list(tmp_path.iterdir())


# -- models ----------------------------------------------------------------------------------

def theta_for(arch: kc.Architecture, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=arch.n_params)


@pytest.mark.parametrize("arch", [kc.Architecture.preset("mnist-3layer"), odd_arch(),
                                  kc.Architecture((5, 3, 2), full=[{"n_out": 3}])],
                         ids=["mnist-3layer", "odd", "no-conv"])
def test_write_model_round_trips_architecture_theta_and_labels(tmp_path, arch):
    theta = theta_for(arch)
    labels = np.arange(arch.n_classes) * 10 - 5
    write_model(arch, theta, tmp_path / "m.mat", labels=labels)
    arch2, theta2 = read_model(tmp_path / "m.mat")
    assert arch2 == arch
    np.testing.assert_array_equal(theta2, theta)
    _, _, labels2 = read_model(tmp_path / "m.mat", return_labels=True)
    np.testing.assert_array_equal(labels2, labels)
    assert labels2.dtype == np.int64


def test_write_model_fields_are_init_models(tmp_path):
    arch = odd_arch()
    theta = theta_for(arch, 1)
    write_model(arch, theta, tmp_path / "m.mat", labels=[3, 1, 4, 9])
    raw = loadmat(tmp_path / "m.mat")
    assert [k for k in raw if not k.startswith("__")] == ["model"]
    m = raw["model"][0, 0]

    def col(name):
        value = m[name]
        assert value.shape[1] == 1, name                        # init_model's (:) columns
        return value.ravel().tolist()

    # init_model on ODD_CONFIG, by hand (see test_read_config_sizes_follow_init_model)
    assert col("ht_input") == [13, 6, 1]
    assert col("wd_input") == [17, 8, 2]
    assert col("ht_pad") == [15, 6]
    assert col("wd_pad") == [19, 8]
    assert col("ht_conv") == [6, 5]
    assert col("wd_conv") == [8, 7]
    assert col("ch_input") == [3, 4, 5]
    assert col("wd_pad_added") == [1, 0]
    assert col("wd_filter") == [4, 2]
    assert col("strides") == [2, 1]
    assert col("wd_subimage_pool") == [1, 3]
    assert col("full_neurons") == [7, 6, 4]
    assert (m["LC"].item(), m["L"].item(), m["nL"].item()) == (2, 5, 4)
    var_num = [4 * (4 * 4 * 3 + 1), 5 * (2 * 2 * 4 + 1), 7 * (10 + 1), 6 * (7 + 1), 4 * (6 + 1)]
    assert col("var_ptr") == (1 + np.concatenate([[0], np.cumsum(var_num)])).tolist()
    assert col("labels") == [3, 1, 4, 9]
    assert m["gpu_use"].dtype == np.uint8
    assert m["gpu_use"].item() == 0
    assert str(m["float_type"][0]) == "double"
    config = m["net_config"][0, 0]
    for key, line in zip(CONFIG_KEYS, ODD_CONFIG.splitlines(), strict=True):
        value = line.split(" = ")[1].strip("[];")
        assert config[key].ravel().tolist() == [float(v) for v in value.split(",")], key
    assert config["nL"].item() == 4
    # weight{m}, bias{m} as newton.m's update_weights cuts them out of simpleNN's vector:
    # X = reshape(x(var_ptr(m):var_ptr(m+1)-1), channel_and_neurons(m+1), []);
    # W = X(:, 1:end-1), b = X(:, end)
    ptr = np.array(col("var_ptr"), dtype=int)
    rows = [4, 5, 7, 6, 4]                                  # [ch_input(2:end); full_neurons]
    weight, bias = m["weight"].ravel(), m["bias"].ravel()
    assert weight.size == bias.size == 5
    for k in range(5):
        X = theta[ptr[k] - 1:ptr[k + 1] - 1].reshape((rows[k], -1), order="F")
        np.testing.assert_array_equal(weight[k], X[:, :-1])
        np.testing.assert_array_equal(bias[k], X[:, -1:])


def simplenn_rows(x: np.ndarray) -> np.ndarray:
    """Images (N, d, a, b) as the l x abd rows cnn_predict's check_data reads (channel
    blocks, column-wise pixels: entry c*a*b + r + a*q)."""
    N, d, a, b = x.shape
    Z = np.zeros((N, d * a * b))
    for c in range(d):
        for r in range(a):
            for q in range(b):
                Z[:, c * a * b + r + a * q] = x[:, c, r, q]
    return Z


@pytest.mark.parametrize("name", ["odd", "mnist-3layer"])
def test_write_model_predicts_as_simplenns_feedforward(tmp_path, name):
    # simpleNN's predict, transliterated (tests/_simplenn.py), run on the written file
    if name == "odd":
        arch = odd_arch()
        x = np.random.default_rng(2).normal(size=(40, 3, 13, 17))
        theta = theta_for(arch, 3)
    else:
        arch = kc.Architecture.preset(name)
        x = mnist_demo("test").x[:60] / 255.0 - 0.13
        theta = kc.init_params(arch, seed=3)
    labels = np.arange(arch.n_classes) + 100
    write_model(arch, theta, tmp_path / "m.mat", labels=labels)
    predicted, outputs = cnn_predict(simplenn_rows(x), loadmat(tmp_path / "m.mat")["model"])
    Z = kc.Z_from_nchw(x)
    np.testing.assert_allclose(outputs, kc.network_output(theta, arch, Z), rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_array_equal(predicted, labels[kc.predict(theta, arch, Z)])
    assert np.unique(predicted).size > 1


def model_fields(tmp_path: Path) -> dict:
    """A written model as a dict of fields (to break one and save it again)."""
    write_model(odd_arch(), theta_for(odd_arch()), tmp_path / "good.mat")
    m = loadmat(tmp_path / "good.mat")["model"][0, 0]
    fields = {k: m[k] for k in m.dtype.names}
    fields["net_config"] = {k: fields["net_config"][0, 0][k]
                            for k in fields["net_config"].dtype.names}
    return fields


def with_cell(values: list) -> np.ndarray:
    cell = np.empty((len(values), 1), dtype=object)
    for k, v in enumerate(values):
        cell[k, 0] = v
    return cell


@pytest.mark.parametrize(("breaking", "message"), [
    (lambda f: f.pop("weight"), r"model: missing field 'weight'"),
    (lambda f: f.update(ht_conv=np.array([[6.0], [4.0]])),
     r"model\.ht_conv = \[6, 4\], but the layers give \[6, 5\]"),
    (lambda f: f.update(var_ptr=f["var_ptr"] + 1), r"model\.var_ptr = \[2, "),
    (lambda f: f.update(ch_input=np.array([[3.0], [4.0]])),
     r"model\.ch_input: has 2 entries, LC\+1 = 3 needed"),
    (lambda f: f.update(wd_filter=np.array([[4.5], [2.0]])),
     r"model\.wd_filter must hold integers, got \[4\.5, 2\.0\]"),
    (lambda f: f.update(L=np.array([[4.0]])),
     r"model\.full_neurons: has 3 entries, LF = 2 needed"),
    (lambda f: f.update(nL=np.array([[5.0]])), r"model\.nL = \[5\], but full_neurons ends "
                                                r"with 4"),
    (lambda f: f["net_config"].update(strides=np.array([[1.0, 1.0]])),
     r"model\.net_config describes another network than the model's fields"),
    (lambda f: f["net_config"].pop("LF"), r"model\.net_config: missing field 'LF'"),
    (lambda f: f.update(weight=with_cell(list(f["weight"].ravel()[:4]))),
     r"model\.weight must be a cell of 5 arrays \(one per layer\)"),
    (lambda f: f.update(weight=with_cell([np.zeros((4, 47)), *f["weight"].ravel()[1:]])),
     r"model\.weight\{1\} must be a real 4 x 48 matrix for layer 1, got float64 of shape "
     r"\(4, 47\)"),
    (lambda f: f.update(bias=with_cell([*f["bias"].ravel()[:2], np.full((7, 1), np.nan),
                                        *f["bias"].ravel()[3:]])),
     r"model\.bias\{3\} holds NaN or infinite values"),
    (lambda f: f.update(labels=np.array([[1.0], [1.0], [2.0], [3.0]])),
     r"model\.labels must be distinct"),
    (lambda f: f.update(labels=np.array([[1.0], [2.0]])),
     r"model\.labels must be a real vector of 4 labels"),
    (lambda f: f.update(float_type="half"), r"model\.float_type must be 'double' or 'single'"),
])
def test_read_model_errors_name_the_file_and_the_field(tmp_path, breaking, message):
    fields = model_fields(tmp_path)
    breaking(fields)
    savemat(tmp_path / "bad.mat", {"model": fields})
    with pytest.raises(ValueError, match=r"bad\.mat: " + message):
        read_model(tmp_path / "bad.mat")


def test_read_model_refuses_files_without_a_model(tmp_path):
    savemat(tmp_path / "nomodel.mat", {"net": np.ones(3)})
    with pytest.raises(ValueError, match=r"nomodel\.mat: no variable 'model' .*\['net'\]"):
        read_model(tmp_path / "nomodel.mat")
    savemat(tmp_path / "notstruct.mat", {"model": np.ones((2, 2))})
    with pytest.raises(ValueError, match=r"notstruct\.mat: model must be a 1x1 struct"):
        read_model(tmp_path / "notstruct.mat")
    (tmp_path / "junk.mat").write_bytes(b"\x00" * 200)
    with pytest.raises(ValueError, match=r"junk\.mat: not a readable \.mat file"):
        read_model(tmp_path / "junk.mat")


def test_read_model_reads_single_precision_weights(tmp_path):
    fields = model_fields(tmp_path)
    fields["float_type"] = "single"
    singles = [W.astype(np.float32) for W in fields["weight"].ravel()]
    fields["weight"] = with_cell(singles)
    savemat(tmp_path / "single.mat", {"model": fields})
    arch, theta = read_model(tmp_path / "single.mat")
    expected = np.concatenate([np.concatenate([W.ravel(order="F"), b.ravel()])
                               for W, b in zip(singles, fields["bias"].ravel(), strict=True)])
    assert theta.dtype == np.float64
    assert arch == odd_arch()
    np.testing.assert_array_equal(theta, expected)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"theta": np.zeros(5)}, r"theta must be a real vector of shape \(arch\.n_params,\)"),
    ({"theta": np.full(1, np.inf)}, r"theta must be finite"),
    ({"labels": [1, 2, 3]}, r"labels must be a real vector of 4 labels"),
    ({"labels": [1, 2, 2, 3]}, r"labels must be distinct"),
    ({"labels": ["a", "b", "c", "d"]}, r"labels must be a real vector of 4 labels"),
])
def test_write_model_refuses_bad_theta_and_labels(tmp_path, kwargs, message):
    arch = odd_arch()
    args = {"theta": np.zeros(arch.n_params), "labels": None, **kwargs}
    if args["theta"].size == 1:
        args["theta"] = np.full(arch.n_params, args["theta"][0])
    with pytest.raises(ValueError, match=message):
        write_model(arch, args["theta"], tmp_path / "m.mat", labels=args["labels"])
    assert not (tmp_path / "m.mat").exists()


# -- simpleNN itself, in Octave (slow; skipped without octave-cli or the vendored code) ------

def octave(tmp_path: Path, script: str) -> None:
    """Run ``script`` in Octave inside a copy of the vendored simpleNN MATLAB directory."""
    if shutil.which("octave-cli") is None:
        if os.environ.get("KRONCONV_REQUIRE_OCTAVE"):       # set by .ci/run, which installs it
            pytest.fail("KRONCONV_REQUIRE_OCTAVE is set but octave-cli is not on PATH")
        pytest.skip("octave-cli is not on PATH")
    if not (VENDORED / "cnn_predict.m").is_file():
        pytest.skip(f"simpleNN's MATLAB code is not vendored at {VENDORED}")
    work = tmp_path / "MATLAB"
    shutil.copytree(VENDORED, work)
    result = subprocess.run(["octave-cli", "--no-gui", "--quiet", "--norc", "--eval", script],
                            cwd=work, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.slow
def test_write_model_runs_in_simplenns_cnn_predict(tmp_path):
    arch = odd_arch()
    theta = theta_for(arch, 5)
    labels = np.array([10, 20, 30, 40])
    write_model(arch, theta, tmp_path / "model.mat", labels=labels)
    x = np.random.default_rng(6).normal(size=(50, 3, 13, 17))
    predicted = labels[kc.predict(theta, arch, kc.Z_from_nchw(x))]
    assert np.unique(predicted).size > 1
    y = labels[np.arange(50) % 4]                   # check_data wants every label in y
    savemat(tmp_path / "data.mat", {"Z": simplenn_rows(x), "y": y[:, None] * 1.0})
    octave(tmp_path, f"""
        load('{tmp_path / "model.mat"}'); load('{tmp_path / "data.mat"}');
        [pred, acc] = cnn_predict(y, Z, model);
        save('-v7', '{tmp_path / "out.mat"}', 'pred', 'acc');""")
    out = loadmat(tmp_path / "out.mat")
    np.testing.assert_array_equal(out["pred"].ravel(), predicted)
    assert out["acc"].item() == np.mean(predicted == y)


@pytest.mark.slow
def test_read_model_reads_a_model_trained_by_simplenn(tmp_path):
    config = write(tmp_path, ODD_CONFIG.replace("ch_input = [3,4,5]", "ch_input = [1,8,8]")
                   .replace("wd_input = [17]", "wd_input = [28]")
                   .replace("ht_input = [13]", "ht_input = [28]")
                   .replace("full_neurons = [7,6,4]", "full_neurons = [32,16,10]"))
    data = mnist_demo("test")
    rows = data.x[:300].reshape(300, -1).astype(np.float64) / 255    # row-wise, as stored
    savemat(tmp_path / "data.mat", {"Z": rows, "y": data.y[:300, None] * 1.0})
    octave(tmp_path, f"""
        load('{tmp_path / "data.mat"}');
        Z = reshape(permute(reshape(Z, [],28,28,1), [1,3,2,4]), [], 28*28*1);
        model = cnn_train(y, Z, [], [], '{config}', '-iter_max 10 -GNsize 100 -C 10', 111);
        save('-v7', '{tmp_path / "model.mat"}', 'model');
        [pred, acc] = cnn_predict(y, Z, model);
        save('-v7', '{tmp_path / "out.mat"}', 'pred');""")
    arch, theta, labels = read_model(tmp_path / "model.mat", return_labels=True)
    assert arch == read_config(config)
    np.testing.assert_array_equal(labels, np.arange(10))
    Z = kc.Z_from_nchw(data.x[:300] / 255)
    predicted = labels[kc.predict(theta, arch, Z)]
    np.testing.assert_array_equal(predicted, loadmat(tmp_path / "out.mat")["pred"].ravel())
    assert np.mean(predicted == data.y[:300]) > 0.5           # trained: far above chance
    # and back: kronconv writes the trained model, which reads the same
    write_model(arch, theta, tmp_path / "again.mat", labels=labels)
    arch2, theta2 = read_model(tmp_path / "again.mat")
    assert arch2 == arch
    np.testing.assert_array_equal(theta2, theta)


@pytest.mark.slow
@pytest.mark.parametrize("backend", kc.BACKENDS)
def test_objective_and_gradient_equal_simplenn_live(tmp_path, backend):
    # simpleNN's own fungrad_minibatch, run now in Octave, at its initial weights for a
    # configuration and data drawn here (the differential test beside the recorded fixtures)
    config = write(tmp_path, ODD_CONFIG)
    arch = read_config(config)
    a, b, d = arch.input
    rng = np.random.default_rng(11)     # (a, b, d) = (13, 17, 3): non-square, 3 channels
    x = rng.normal(size=(24, d, a, b))
    y = np.arange(24) % arch.n_classes + 1
    savemat(tmp_path / "data.mat", {"Z": simplenn_rows(x), "y": y[:, None] * 1.0})
    octave(tmp_path, f"""
        load('{tmp_path / "data.mat"}');      % rows already column-wise, as cnn_train reads
        model = cnn_train(y, Z, [], [], '{config}', '-s 2 -epoch_max 0 -C 0.5', 7);
        addpath(genpath('./cnn'));
        param.bsize = 10; param.C = 0.5 * size(Z, 1);
        prob = check_data(y, Z, model.net_config);
        [~, ~, prob.y_mapped] = unique(prob.y);
        net = init_net(model, param);
        [~, f, grad] = fungrad_minibatch(prob, param, model, net, 'fungrad');
        dW = grad.dfdW; db = grad.dfdb;
        save('-v7', '{tmp_path / "model.mat"}', 'model');
        save('-v7', '{tmp_path / "out.mat"}', 'f', 'dW', 'db');""")
    _, theta = read_model(tmp_path / "model.mat")
    out = loadmat(tmp_path / "out.mat")
    grad = np.concatenate([np.concatenate([w.ravel(order="F"), c.ravel()])
                           for w, c in zip(out["dW"].ravel(), out["db"].ravel(), strict=True)])
    f, g = kc.objective_and_gradient(theta, arch, kc.Z_from_nchw(x), y - 1, 0.5, "squared",
                                     backend=backend)
    assert_relative_close(f, out["f"].item(), 1e-12, "f vs simpleNN")
    assert_relative_close(g, grad, 1e-12, "∇f vs simpleNN")
