"""The inference engine: float against a loop reference, crossbars against integer inference,
weights files, torch import, activation noise, and argument checks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import xbarsim
from xbarsim.nn import ActivationNoise, Model, accuracy, load_model, save_model, softmax
from xbarsim.workload import load_workload

from ..strategies import seeds, small_networks


def random_weights(network, rng):
    weights = {}
    for layer in network.weight_layers:
        shape = (layer.M, layer.C // layer.groups, layer.R, layer.S) if layer.type == "conv" else (layer.M, layer.C)
        weights[layer.name] = {"weight": rng.normal(0, 1 / np.sqrt(np.prod(shape[1:])), shape),
                               "bias": rng.normal(0, 0.1, layer.M)}
    return weights


def loop_reference(network, weights, x):
    """Float64 inference with explicit loops over output positions (no im2col)."""
    values = {-1: x}
    for layer in network.layers:
        inputs = [values[i] for i in layer.inputs]
        if layer.type in ("conv", "fc"):
            a = inputs[0]
            if layer.type == "fc":
                a = a.reshape(a.shape[0], -1, 1, 1)
            a = np.pad(a, ((0, 0), (0, 0), (layer.padding, layer.padding), (layer.padding_w, layer.padding_w)))
            w = weights[layer.name]["weight"].reshape(layer.M, layer.C // layer.groups, layer.R, layer.S)
            out = np.zeros((x.shape[0], layer.M, layer.E, layer.F))
            cg, mg = layer.C // layer.groups, layer.M // layer.groups
            for e in range(layer.E):
                for f in range(layer.F):
                    patch = a[:, :, e * layer.stride:e * layer.stride + layer.R, f * layer.stride_w:f * layer.stride_w + layer.S]
                    for m in range(layer.M):
                        g = m // mg
                        out[:, m, e, f] = np.sum(patch[:, g * cg:(g + 1) * cg] * w[m], axis=(1, 2, 3))
            y = out + weights[layer.name]["bias"][None, :, None, None]
        elif layer.type == "pool":
            a = inputs[0]
            fill = -np.inf if layer.pool == "max" else 0.0
            a = np.pad(a, ((0, 0), (0, 0), (layer.padding, layer.padding), (layer.padding_w, layer.padding_w)),
                       constant_values=fill)
            y = np.zeros((x.shape[0], layer.C, layer.E, layer.F))
            for e in range(layer.E):
                for f in range(layer.F):
                    patch = a[:, :, e * layer.stride:e * layer.stride + layer.R, f * layer.stride_w:f * layer.stride_w + layer.S]
                    y[:, :, e, f] = patch.max(axis=(2, 3)) if layer.pool == "max" else patch.mean(axis=(2, 3))
        else:
            y = np.sum(inputs, axis=0)
        if layer.activation == "relu":
            y = np.maximum(y, 0)
        values[layer.index] = y
    last = network.layers[-1]
    return values[last.index].reshape(x.shape[0], -1) if last.type == "fc" else values[last.index]


@settings(max_examples=25)
@given(small_networks(), seeds)
def test_float_inference_matches_a_loop_reference(network, seed):
    rng = np.random.default_rng(seed)
    weights = random_weights(network, rng)
    spec = network.spec.input
    x = rng.normal(size=(3, spec.C, spec.H, spec.W))
    got = Model(network, weights).forward(x)
    assert np.allclose(got, loop_reference(network, weights, x), rtol=1e-10, atol=1e-10)


def test_large_grouped_and_rectangular_kernels_match_the_loop_reference():
    """Both ways of lowering convolutions (per kernel offset up to 5x5, one window gather beyond)
    with strides, padding, groups and R != S; ``small_networks`` draws kernels of at most 3x3."""
    from xbarsim.workload.zoo import NetBuilder

    net = NetBuilder("kernels", 11, 9, 2)
    net.conv("k7", 4, 7, stride=2, padding=3)
    net.conv("k5g", 6, 5, padding=2, groups=2)
    net.conv("k3x5", 6, 3, stride=(1, 2), padding=(1, 2), S=5, activation="none")
    net.conv("k1x7", 4, 1, padding=(0, 3), S=7)
    net.fc("fc", 3)
    network = load_workload(net.spec)
    rng = np.random.default_rng(7)
    weights = random_weights(network, rng)
    x = rng.normal(size=(3, 2, 11, 9))
    assert np.allclose(Model(network, weights).forward(x), loop_reference(network, weights, x), rtol=1e-10, atol=1e-10)


@settings(max_examples=25)
@given(small_networks(), seeds, st.sampled_from(["offset", "differential"]), st.sampled_from([1, 2]))
def test_ideal_crossbars_equal_quantized_integer_inference(network, seed, mapping, dac_bits):
    rng = np.random.default_rng(seed)
    weights = random_weights(network, rng)
    spec = network.spec.input
    x = rng.normal(size=(4, spec.C, spec.H, spec.W))  # signed inputs for the first layer
    crossbar = xbarsim.CrossbarSpec(rows=16, cols=16, cell_bits=2, weight_bits=6, input_bits=6, dac_bits=dac_bits,
                                    weight_mapping=mapping)
    crossbar = dataclasses.replace(crossbar, adc_bits=crossbar.exact_adc_bits)
    programmed = Model(network, weights).program(crossbar, calibration=x, rng=seed)
    assert np.array_equal(programmed.forward(x), programmed.forward(x, exact=True))


def test_quantization_is_wage_style_and_close_to_float():
    rng = np.random.default_rng(1)
    network = load_workload({"version": 1, "name": "fc", "input": {"H": 1, "W": 1, "C": 40},
                             "layers": [{"name": "fc", "type": "fc", "M": 7}]})
    weights = random_weights(network, rng)
    x = rng.random((50, 40, 1, 1))
    crossbar = xbarsim.CrossbarSpec(rows=64, cols=64, cell_bits=4, weight_bits=8, input_bits=8, adc_bits=12)
    programmed = Model(network, weights).program(crossbar, calibration=x)
    q = programmed.quantization["fc"]
    w = weights["fc"]["weight"]
    assert q.weight_scale == pytest.approx(np.abs(w).max() / 127)
    assert np.abs(q.weights).max() == 127 and q.crossbar.signed_inputs is False
    assert q.input_scale == pytest.approx(x.max() / 255)
    expected = (np.clip(np.rint(x.reshape(50, 40) / q.input_scale), 0, 255) @ np.rint(w.T / q.weight_scale)
                * q.weight_scale * q.input_scale + weights["fc"]["bias"])
    assert np.allclose(programmed.forward(x, exact=True), expected)
    float_out = Model(network, weights).forward(x)
    assert np.abs(programmed.forward(x) - float_out).max() < 0.02 * np.abs(float_out).max()


def test_model_files_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    network = load_workload("mlp")
    model = Model(network, random_weights(network, rng))
    path = tmp_path / "m.npz"
    save_model(path, model, {"note": "test"})
    loaded, meta = load_model(path)
    x = rng.random((5, 64, 1, 1))
    assert meta == {"note": "test"} and loaded.network == network
    assert np.allclose(loaded.forward(x), model.forward(x), rtol=1e-6)  # weights are stored as float32


def test_activation_noise():
    network = load_workload({"version": 1, "name": "id", "input": {"H": 1, "W": 1, "C": 200},
                             "layers": [{"name": "fc", "type": "fc", "M": 200}]})
    model = Model(network, {"fc": {"weight": np.eye(200), "bias": np.zeros(200)}})
    x = np.full((100, 200, 1, 1), 2.0)
    fixed = model.forward(x, noise=ActivationNoise(0.1), rng=0) - 2.0
    assert abs(fixed.mean()) < 0.003 and abs(fixed.std() - 0.1) < 0.003
    rescaled = model.forward(x, noise=ActivationNoise(0.1, "rescaled"), rng=0) - 2.0
    assert abs(rescaled.std() - 0.2) < 0.006  # sigma times the largest |output| (2)
    assert np.array_equal(model.forward(x, noise=ActivationNoise(0.1), rng=3), model.forward(x, noise=ActivationNoise(0.1), rng=3))
    with pytest.raises(ValueError, match="sigma: expected a number >= 0"):
        ActivationNoise(-1)
    with pytest.raises(ValueError, match="mode: expected 'fixed' or 'rescaled'"):
        ActivationNoise(0.1, "relative")


def test_activation_noise_is_on_the_mac_before_bias_and_activation():
    """Yang & Sze's noise sits on the analog MAC: before the (digital) bias and the ReLU, in every
    weight layer, so a ReLU layer never outputs a negative value and the rescaled sigma follows the
    MAC's magnitude, not the bias's."""
    network = load_workload({"version": 1, "name": "id", "input": {"H": 1, "W": 1, "C": 100},
                             "layers": [{"name": "fc", "type": "fc", "M": 100, "activation": "relu"}]})
    model = Model(network, {"fc": {"weight": np.eye(100), "bias": np.full(100, 10.0)}})
    below = model.forward(np.full((50, 100, 1, 1), -10.5), noise=ActivationNoise(1.0), rng=0)  # MAC + bias = -0.5
    assert below.min() == 0.0 and 0.2 < np.mean(below > 0) < 0.4  # P(N(-0.5, 1) > 0) = 0.31
    rescaled = model.forward(np.full((50, 100, 1, 1), 2.0), noise=ActivationNoise(0.1, "rescaled"), rng=0) - 12.0
    assert abs(rescaled.std() - 0.2) < 0.01  # sigma x max |MAC| (2), not x max |MAC + bias| (12)
    crossbar = xbarsim.CrossbarSpec(rows=128, cols=128, cell_bits=4, weight_bits=8, input_bits=8, adc_bits=12)
    chip = model.program(crossbar, calibration=np.full((4, 100, 1, 1), 4.0), rng=0)
    assert chip.forward(np.full((50, 100, 1, 1), 1.0), noise=ActivationNoise(5.0), rng=1).min() == 0.0


def test_batches_give_the_same_results_as_one_pass():
    rng = np.random.default_rng(5)
    network = load_workload("mlp")
    model = Model(network, random_weights(network, rng))
    x = rng.random((23, 64, 1, 1))
    assert np.allclose(model.forward(x, batch=5), model.forward(x, batch=23), rtol=1e-12)
    crossbar = xbarsim.CrossbarSpec(rows=32, cols=32, cell_bits=2, weight_bits=6, input_bits=6, adc_bits=8)
    chip = model.program(crossbar, calibration=x, rng=0)
    assert np.array_equal(chip.forward(x, batch=4), chip.forward(x, batch=23))  # nothing random
    seen = {}
    chip.observe(x, lambda layer, inputs, spec: seen.setdefault(layer.name, []).append(len(inputs)))
    with pytest.raises(ValueError, match="batch: expected a positive integer"):
        chip.forward(x, batch=0)
    assert seen and all(sum(sizes) == 23 for sizes in seen.values())  # batches together see every image


def test_bad_arguments_are_named():
    network = load_workload("mlp")
    rng = np.random.default_rng(0)
    weights = random_weights(network, rng)
    with pytest.raises(ValueError, match=r"weights\['fc1'\]\['weight'\]: expected shape \(32, 64\), got \(64, 32\)"):
        Model(network, {**weights, "fc1": {"weight": np.zeros((64, 32))}})
    with pytest.raises(ValueError, match="weights: expected an entry for layer 'fc2'"):
        Model(network, {"fc1": weights["fc1"]})
    with pytest.raises(ValueError, match="inputs: expected shape \\(N, 64, 1, 1\\)"):
        Model(network, weights).forward(np.zeros((2, 8, 8)))


def test_softmax_and_accuracy():
    logits = np.array([[1.0, 2.0, 0.0], [3.0, 0.0, 0.0]])
    assert np.allclose(softmax(logits).sum(axis=1), 1)
    assert accuracy(logits, [1, 1]) == 0.5


def test_from_torch_matches_torch():
    torch = pytest.importorskip("torch")
    from torch import nn

    from xbarsim.nn import from_torch

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 6, 3, padding=1, bias=False)
            self.bn = nn.BatchNorm2d(6)
            self.dw = nn.Conv2d(6, 6, 3, padding=1, groups=6)
            self.pool = nn.MaxPool2d(2)
            self.gap = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(6, 4)

        def forward(self, x):
            h = torch.relu(self.bn(self.conv(x)))
            h = self.pool(torch.relu(self.dw(h)) + h)
            return self.fc(torch.flatten(self.gap(h), 1))

    torch.manual_seed(0)
    net = Net()
    net.bn.running_mean.uniform_(-1, 1)
    net.bn.running_var.uniform_(0.5, 2)
    net.eval()
    x = torch.randn(5, 2, 8, 8)
    model = from_torch(net, x, name="net")
    assert [layer.type for layer in model.network.layers] == ["conv", "conv", "add", "pool", "pool", "fc"]
    assert np.allclose(model.forward(x.numpy()), net(x).detach().numpy(), atol=1e-5)

    class Unsupported(nn.Module):
        def forward(self, x):
            return torch.sigmoid(x)

    with pytest.raises(ValueError, match="from_torch: cannot import node"):
        from_torch(Unsupported(), x)
