"""Architectures: presets, the file schema, and errors that name the layer and the field."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from kronconv import PRESETS, Activation, Architecture, ConvSpec, FullSpec, load_architecture


def count_params(input_shape, convs, fulls):
    """Weights and biases implied by the shapes, counted from scratch."""
    a, b, d = input_shape
    total = 0
    for d_out, h, p, k in convs:                      # stride 1, pool k x k stride k
        total += d_out * h * h * d + d_out
        a, b, d = (a + 2 * p - h + 1) // k, (b + 2 * p - h + 1) // k, d_out
    n_in = a * b * d
    for n_out in fulls:
        total += n_out * n_in + n_out
        n_in = n_out
    return total


def test_Architecture_preset_parameter_counts_match_their_shapes():
    three = [(32, 5, 2, 2), (64, 3, 1, 2), (64, 3, 1, 2)]
    mnist = Architecture.preset("mnist-3layer")
    assert mnist.n_params == count_params((28, 28, 1), three, [10]) == 62_026
    cifar = Architecture.preset("cifar10-3layer")
    assert cifar.n_params == count_params((32, 32, 3), three, [10])
    digits = Architecture.preset("digits")
    assert digits.n_params == count_params((8, 8, 1), [(8, 3, 1, 2), (16, 3, 1, 2)], [32, 10])
    assert [s.a_out for s in mnist.conv_shapes] == [14, 7, 3]
    assert [s.a_out for s in cifar.conv_shapes] == [16, 8, 4]
    assert mnist.full_shapes == ((10, 3 * 3 * 64),)
    assert cifar.full_shapes == ((10, 4 * 4 * 64),)
    assert mnist.n_classes == cifar.n_classes == digits.n_classes == 10
    assert [a.name for a in mnist.activations] == ["relu", "relu", "relu", "identity"]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_Architecture_to_dict_and_to_json_round_trip(name, tmp_path):
    arch = Architecture.preset(name)
    assert Architecture.from_dict(arch.to_dict()) == arch
    path = tmp_path / "arch.json"
    path.write_text(arch.to_json(), encoding="utf-8")
    loaded = load_architecture(path)
    assert loaded == arch
    assert hash(loaded) == hash(arch)
    assert loaded.name == name
    assert load_architecture(name) == arch


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is Python >= 3.11")
def test_load_architecture_reads_toml(tmp_path):
    path = tmp_path / "arch.toml"
    path.write_text("""
name = "small"
[input]
a = 9
b = 7
d = 2
[[conv]]
d_out = 3
h = 3
stride = 2
pool = "average"
[[full]]
n_out = 4
""", encoding="utf-8")
    arch = load_architecture(path)
    assert arch.conv_shapes[0].a_conv == 4
    assert arch.conv_shapes[0].b_conv == 3
    assert arch.full_shapes == ((4, 3 * 2 * 1),)


def test_Architecture_python_construction_equals_from_dict():
    arch = Architecture((10, 12, 3), [ConvSpec(4, 3, stride=2, padding=1, pool="max"),
                                      ConvSpec(5, 2, activation="tanh")],
                        [FullSpec(7), FullSpec(3)])
    same = Architecture.from_dict({
        "input": {"a": 10, "b": 12, "d": 3},
        "conv": [{"d_out": 4, "h": 3, "stride": 2, "padding": 1, "pool": "max"},
                 {"d_out": 5, "h": 2, "activation": "tanh", "d": 4}],
        "full": [{"n_out": 7, "activation": "relu"}, {"n_out": 3, "activation": "identity"}]})
    assert arch == same
    assert arch != Architecture((10, 12, 3), [ConvSpec(4, 3, stride=2, padding=1, pool="max"),
                                              ConvSpec(5, 2, activation="relu")],
                                [FullSpec(7), FullSpec(3)])


def test_Architecture_without_conv_layers_is_fully_connected():
    arch = Architecture((4, 5, 2), [], [FullSpec(3)])
    assert arch.full_shapes == ((3, 40),)
    assert arch.n_params == 3 * 40 + 3


def test_Architecture_user_activation_works_but_has_no_file_form():
    cube = Activation("cube", lambda s: s**3, lambda s: 3 * s**2)
    arch = Architecture((5, 5, 1), [ConvSpec(2, 3, activation=cube)], [FullSpec(2)])
    assert arch.activations[0] is cube
    with pytest.raises(ValueError, match="activation 'cube' is user-supplied"):
        arch.to_dict()


GOOD = {"input": {"a": 8, "b": 8, "d": 1},
        "conv": [{"d_out": 4, "h": 3, "pool": "max"}, {"d_out": 4, "h": 3}],
        "full": [{"n_out": 5}, {"n_out": 3}]}


def _with(path, value):
    spec = json.loads(json.dumps(GOOD))
    node = spec
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return spec


@pytest.mark.parametrize(("path", "value", "error", "message"), [
    (("conv", 1, "d"), 3, ValueError,
     r"conv layer 2: d must equal the previous layer's channels, 4, got d=3"),
    (("conv", 1, "h"), 4, ValueError, r"conv layer 2: h must be <= a_pad = a \+ 2\*padding = 3"),
    (("conv", 1, "pool"), "max", ValueError,
     r"conv layer 2: pool_size must be <= a_conv = 1 .* would be empty"),
    (("conv", 0, "activation"), "swish", ValueError,
     r"conv layer 1: activation must be an Activation or one of"),
    (("conv", 0, "kernel"), 3, ValueError,
     r"conv layer 1: unknown key 'kernel'; allowed keys: \['activation', 'd', 'd_out'"),
    (("conv", 0, "h"), KeyError, ValueError, r"conv layer 1: missing key 'h'"),
    (("conv", 0, "stride"), "2", TypeError, r"conv layer 1: stride must be an integer, got '2'"),
    (("conv", 0, "padding"), -1, ValueError, r"conv layer 1: padding must be >= 0, got -1"),
    (("full", 1, "activation"), "relu", ValueError,
     r"full layer 2 \(the last\): activation must be 'identity': the last layer is linear"),
    (("full", 0, "n_in"), 10, ValueError,
     r"full layer 1: n_in must equal what the previous layer produces, 4, got n_in=10"),
    (("full", 0, "n_out"), 0, ValueError, r"full layer 1: n_out must be >= 1, got 0"),
    (("full", 0, "units"), 3, ValueError, r"full layer 1: unknown key 'units'"),
    (("full",), [], ValueError, r"full must hold at least one layer"),
    (("conv",), {"d_out": 3}, TypeError, r"conv must be a list of layers"),
    (("input", "a"), 2.5, TypeError, r"input a must be an integer, got 2.5"),
    (("input", "c"), 1, ValueError, r"input: unknown key 'c'"),
    (("input", "d"), KeyError, ValueError, r"input: missing key 'd'"),
    (("kind",), "cnn", ValueError, r"architecture: unknown key 'kind'"),
    (("conv", 0), [4, 3], TypeError, r"conv layer 1: must be a ConvSpec or a mapping"),
])
def test_Architecture_from_dict_errors_name_the_layer_and_field(path, value, error, message):
    with pytest.raises(error, match=message):
        Architecture.from_dict(_with(path, value))


def test_load_architecture_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_with(("conv", 0, "h"), 0)), encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.json: conv layer 1: h must be >= 1, got 0"):
        load_architecture(path)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.json: Expecting property name"):
        load_architecture(path)
    with pytest.raises(ValueError, match=r"'nope' is neither a preset"):
        load_architecture("nope")
    with pytest.raises(ValueError, match=r"unknown preset 'nope'; presets: \['cifar10-3layer'"):
        Architecture.preset("nope")


def test_Architecture_is_immutable():
    arch = Architecture.preset("digits")
    with pytest.raises(AttributeError):
        arch.input = (1, 1, 1)
    assert isinstance(arch.conv_shapes, tuple)
    assert np.prod(arch.input) == 64


def test_load_architecture_refuses_a_key_given_twice(tmp_path):
    path = tmp_path / "a.json"
    path.write_text('{"input": {"a": 8, "a": 9, "b": 8, "d": 1}, "full": [{"n_out": 10}]}')
    with pytest.raises(ValueError, match=r"a\.json: key 'a' given twice in one object"):
        load_architecture(path)
    path.write_text('{"input": {"a": 8, "b": 8, "d": 1}, "full": [{"n_out": 10}]}')
    assert load_architecture(path).input == (8, 8, 1)
