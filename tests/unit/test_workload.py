"""Workload specs: shapes inferred and checked, bad layers named by path."""

import textwrap

import pytest

from xbarsim import ConfigError, load_workload


def spec(*layers, **extra):
    return {"version": 1, "name": "t", "input": {"H": 8, "W": 8, "C": 3}, "layers": list(layers), **extra}


def test_shapes_are_inferred():
    net = load_workload(spec(
        {"name": "c1", "type": "conv", "M": 4, "R": 3, "padding": 1, "stride": 2},
        {"name": "p", "type": "pool", "R": 2, "stride": 2},
        {"name": "dw", "type": "conv", "M": 4, "R": 3, "padding": 1, "groups": 4},
        {"name": "fc", "type": "fc", "M": 5}))
    c1, p, dw, fc = net.layers
    assert (c1.E, c1.F, c1.M) == (4, 4, 4) and (p.E, p.F, p.M) == (2, 2, 4)
    assert dw.rows_per_group == 9 and dw.cols_per_group == 1 and dw.macs == 2 * 2 * 4 * 9
    assert (fc.C, fc.H, fc.W) == (16, 1, 1)
    assert net.macs == c1.macs + dw.macs + fc.macs


@pytest.mark.parametrize("layers, path, fragment", [
    ([{"name": "c", "type": "conv", "M": 4, "R": 3, "C": 5}], "layers[0].C", "expected 3 (from the network input)"),
    ([{"name": "c", "type": "conv", "R": 3}], "layers[0].M", "the number of filters"),
    ([{"name": "c", "type": "conv", "M": 4}], "layers[0].R", "filter height"),
    ([{"name": "c", "type": "conv", "M": 4, "R": 9}], "layers[0].R", "a window that fits"),
    ([{"name": "c", "type": "conv", "M": 4, "R": 3, "groups": 2}], "layers[0].groups", "a divisor of C=3"),
    ([{"name": "a", "type": "fc", "M": 2}, {"name": "a", "type": "fc", "M": 2}], "layers[1].name", "not used"),
    ([{"name": "a", "type": "fc", "M": 2, "inputs": ["nope"]}], "layers[0].inputs[0]", "earlier layer"),
    ([{"name": "a", "type": "add", "inputs": ["x"]}], "layers[0].inputs[0]", "earlier layer"),
    ([{"name": "a", "type": "fc", "M": 2}, {"name": "b", "type": "add", "inputs": ["a"]}], "layers[1].inputs",
     "at least two"),
    ([{"name": "c", "type": "convolution", "M": 2}], "layers[0].type", "one of 'conv'"),
    ([{"name": "c", "type": "conv", "M": 2, "R": 1, "kernel": 3}], "layers[0].kernel", "unknown key"),
])
def test_bad_layers_name_their_path(layers, path, fragment):
    with pytest.raises(ConfigError) as info:
        load_workload(spec(*layers))
    assert str(info.value).startswith(f"{path}: expected"), str(info.value)
    assert fragment in str(info.value)


def test_add_needs_equal_shapes():
    with pytest.raises(ConfigError, match=r"layers\[2\]\.inputs\[1\]: expected a layer whose output is 8x8x4"):
        load_workload(spec({"name": "a", "type": "conv", "M": 4, "R": 1},
                           {"name": "b", "type": "conv", "M": 5, "R": 1},
                           {"name": "s", "type": "add", "inputs": ["a", "b"]}))


def test_yaml_file_and_errors(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(textwrap.dedent("""\
        version: 1
        name: small
        input: {H: 4, W: 4, C: 1}
        weight_bits: 4
        layers:
          - {name: conv, type: conv, M: 2, R: 3, padding: 1, activation: relu}
          - {name: fc, type: fc, M: 3}
    """))
    net = load_workload(path)
    assert net.name == "small" and net.layers[0].weight_bits == 4 and net.layers[1].C == 32
    with pytest.raises(ConfigError, match="workload: expected a built-in network"):
        load_workload("no-such-net")
    with pytest.raises(ConfigError, match="^version: expected 1"):
        load_workload({"name": "x", "input": {"H": 1, "W": 1, "C": 1}, "layers": [{"name": "f", "type": "fc", "M": 1}]})
