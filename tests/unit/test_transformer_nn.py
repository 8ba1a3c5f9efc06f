"""Transformer layers in xbarsim.nn: float inference against a loop reference written from the
documented semantics, exact integer products on ideal crossbars (both places a product of two
activations can run), the documented quantization of those products, writes drawing variation
per input, decoding against KV caches, and argument checks."""

from __future__ import annotations

import copy
import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import xbarsim
from xbarsim.errors import ConfigError, XbarsimError
from xbarsim.nn import Model, load_model, save_model
from xbarsim.workload import load_workload
from xbarsim.workload.zoo import zoo_spec

from ..strategies import seeds, small_transformers


def random_parameters(network, rng):
    """Weights and parameters of every layer that holds some (tied layers share their table)."""
    params = {}
    for layer in network.layers:
        if layer.has_weights:
            shape = (layer.M, layer.C // layer.groups, layer.R, layer.S) if layer.type == "conv" else (layer.M, layer.C)
            entry = {"bias": rng.normal(0, 0.1, layer.M)}
            if layer.tied < 0:
                entry["weight"] = rng.normal(0, 1 / np.sqrt(np.prod(shape[1:])), shape)
            params[layer.name] = entry
        elif layer.type == "layernorm":
            params[layer.name] = {"weight": rng.uniform(0.5, 1.5, layer.C), "bias": rng.normal(0, 0.2, layer.C)}
        elif layer.type == "rmsnorm":
            params[layer.name] = {"weight": rng.uniform(0.5, 1.5, layer.C)}
        elif layer.type == "embedding":
            params[layer.name] = {"weight": rng.normal(0, 1, (layer.vocab, layer.M))}
        elif layer.type == "tokens" and layer.extra_tokens:
            params[layer.name] = {"weight": rng.normal(0, 1, (layer.extra_tokens, layer.C))}
    return params


def random_inputs(network, rng, n):
    spec = network.spec.input
    first = network.layers[0]
    if first.type == "embedding":
        return rng.integers(0, first.vocab, (n, 1, 1, spec.W)).astype(float)
    return rng.normal(size=(n, spec.C, spec.H, spec.W))


def _erf_gelu(v):
    return 0.5 * v * (1 + np.vectorize(math.erf)(v / math.sqrt(2)))


def _act(v, kind):
    return {"none": lambda a: a, "relu": lambda a: np.maximum(a, 0), "gelu": _erf_gelu,
            "silu": lambda a: a / (1 + np.exp(-a)), "tanh": np.tanh}[kind](v)


def loop_reference(network, params, x):
    """Float inference with explicit loops over tokens, heads and keys (no vectorized layouts).

    Values are kept token-major: a dict of (N, tokens, features) arrays, images as (N, C, H, W)."""
    n = x.shape[0]
    values = {-1: x}
    for layer in network.layers:
        ins = [values[i] for i in layer.inputs]
        p = params.get(layer.name, {})
        kind = layer.type
        if kind == "conv":  # 1x1 convolution of an image
            a = ins[0]
            y = np.zeros((n, layer.M, layer.E, layer.F))
            for e in range(layer.E):
                for f in range(layer.F):
                    y[:, :, e, f] = a[:, :, e, f] @ p["weight"][:, :, 0, 0].T + p["bias"]
        elif kind == "tokens":
            a = ins[0]
            seq = [a[:, :, h, w] for h in range(a.shape[2]) for w in range(a.shape[3])] if a.ndim == 4 else \
                [a[:, t] for t in range(a.shape[1])]
            seq = [np.tile(tok, (n, 1)) for tok in p.get("weight", np.zeros((0, 1)))] + seq
            if layer.F < len(seq):
                seq = seq[:layer.F] if layer.position == 0 else seq[-layer.F:]
            y = np.stack(seq, axis=1)
        elif kind == "embedding":
            table = p["weight"]
            tokens = layer.E * layer.F
            if layer.lookup == "token":
                ids = ins[0][:, 0, 0, :].astype(int)
                y = np.stack([[table[ids[i, t]] for t in range(tokens)] for i in range(n)])
            else:
                y = np.stack([[table[layer.position + t] for t in range(tokens)] for _ in range(n)])
        elif kind == "linear":
            y = np.stack([ins[0][:, t] @ p["weight"].T + p["bias"] for t in range(ins[0].shape[1])], axis=1)
        elif kind == "fc":
            y = ins[0].reshape(n, -1) @ p["weight"].T + p["bias"]
        elif kind in ("layernorm", "rmsnorm"):
            y = np.empty_like(ins[0])
            for i in range(n):
                for t in range(ins[0].shape[1]):
                    v = ins[0][i, t]
                    if kind == "layernorm":
                        y[i, t] = (v - v.mean()) / math.sqrt(v.var() + 1e-5) * p["weight"] + p["bias"]
                    else:
                        y[i, t] = v / math.sqrt((v * v).mean() + 1e-5) * p["weight"]
        elif kind == "softmax":
            y = np.empty_like(ins[0])
            width = layer.C // layer.heads
            for h in range(layer.heads):
                part = ins[0][:, :, h * width:(h + 1) * width]
                e = np.exp(part - part.max(axis=2, keepdims=True))
                y[:, :, h * width:(h + 1) * width] = e / e.sum(axis=2, keepdims=True)
        elif kind == "matmul":
            a, b = ins
            heads, queries, keys = layer.heads, a.shape[1], b.shape[1]
            ka, kb = a.shape[2] // heads, b.shape[2] // heads
            cols = keys if layer.transpose_b else kb
            y = np.zeros((n, queries, heads * cols))
            for h in range(heads):
                for i in range(queries):
                    last = keys - queries + i  # the query's position: the last key it may see
                    for c in range(cols):
                        if layer.transpose_b:
                            visible = not layer.causal or c <= last
                            y[:, i, h * cols + c] = (a[:, i, h * ka:(h + 1) * ka] * b[:, c, h * kb:(h + 1) * kb]).sum(
                                axis=1) if visible else -np.inf
                        else:
                            for j in range(keys):
                                if not layer.causal or j <= last:
                                    y[:, i, h * cols + c] += a[:, i, h * ka + j] * b[:, j, h * kb + c]
        elif kind in ("add", "mul"):
            y = ins[0]
            for other in ins[1:]:
                y = y + other if kind == "add" else y * other
        elif kind in ("gelu", "silu"):
            y = _act(ins[0], kind)
        else:
            raise AssertionError(kind)
        values[layer.index] = _act(y, layer.activation)
    last = network.layers[-1]
    out = values[last.index]
    return out if last.type == "fc" else out.transpose(0, 2, 1)[:, :, None, :]  # tokens -> (N, C, 1, L)


@given(small_transformers(), seeds)
def test_float_transformers_match_a_loop_reference(network, seed):
    rng = np.random.default_rng(seed)
    params = random_parameters(network, rng)
    x = random_inputs(network, rng, 3)
    got = Model(network, params).forward(x)
    assert np.allclose(got, loop_reference(network, params, x), rtol=1e-9, atol=1e-9)


def _ideal(weight_bits=6, input_bits=5, dac_bits=1, mapping="offset"):
    crossbar = xbarsim.CrossbarSpec(rows=8, cols=16, cell_bits=2, weight_bits=weight_bits, input_bits=input_bits,
                                    dac_bits=dac_bits, weight_mapping=mapping)
    return dataclasses.replace(crossbar, adc_bits=crossbar.exact_adc_bits)


@given(small_transformers(), seeds, st.sampled_from(["digital", "crossbar", {"qk": "crossbar", "av": "digital"}]),
       st.sampled_from(["offset", "differential"]), st.sampled_from([1, 2]))
def test_ideal_crossbars_equal_exact_integer_products(network, seed, dynamic, mapping, dac_bits):
    """With ideal devices and exact ADCs, static weights and operands written per input both give
    the exact integer products, bit for bit (8-row arrays: operands span several row tiles)."""
    rng = np.random.default_rng(seed)
    x = random_inputs(network, rng, 3)
    programmed = Model(network, random_parameters(network, rng)).program(
        _ideal(dac_bits=dac_bits, mapping=mapping), calibration=x, rng=seed, dynamic=dynamic)
    assert np.array_equal(programmed.forward(x), programmed.forward(x, exact=True))


def _operand_network(heads=2, causal=False):
    """Token ids -> a token embedding a and a position embedding b of it -> Q K^T of (a, b) ->
    softmax -> attention x a: both products read tables directly (nothing quantized before)."""
    spec = {"version": 1, "name": "products", "input": {"H": 1, "W": 5, "C": 1}, "layers": [
        {"name": "a", "type": "embedding", "vocab": 7, "M": 6},
        {"name": "b", "type": "embedding", "vocab": 5, "M": 6, "lookup": "position"},
        {"name": "qk", "type": "matmul", "inputs": ["a", "b"], "heads": heads, "transpose_b": True,
         "causal": causal},
        {"name": "p", "type": "softmax", "heads": heads},
        {"name": "av", "type": "matmul", "inputs": ["p", "a"], "heads": heads, "causal": causal}]}
    return load_workload(spec)


def test_products_are_quantized_as_documented():
    network = _operand_network()
    rng = np.random.default_rng(4)
    params = {"a": {"weight": rng.normal(0, 1, (7, 6))}, "b": {"weight": rng.uniform(0, 2, (5, 6))}}
    ids = rng.integers(0, 7, (20, 5))
    crossbar = _ideal(weight_bits=5, input_bits=4)
    chip = Model(network, params).program(crossbar, calibration=ids, dynamic="digital")
    A = params["a"]["weight"][ids]  # (N, L, 6) token-major
    B = params["b"]["weight"][np.arange(5)]
    q = chip.products["qk"]
    assert q.a_scale == pytest.approx(np.abs(A).max() / 7)  # signed 4-bit a: 2^3 - 1
    assert q.b_scale == pytest.approx(np.abs(B).max() / 15)  # signed 5-bit b: 2^4 - 1
    assert q.crossbar.signed_inputs and q.dynamic == "digital"
    a_int = np.clip(np.rint(A / q.a_scale), -8, 7)
    b_int = np.clip(np.rint(B / q.b_scale), -15, 15)
    scores = np.stack([a_int[:, :, 3 * h:3 * h + 3] @ b_int[:, 3 * h:3 * h + 3].T for h in range(2)], axis=1)
    expected_qk = scores * q.a_scale * q.b_scale  # (N, h, L, Lk)
    got = chip.forward(ids, outputs=["qk"], exact=True)  # (N, h * Lk, 1, L)
    assert np.allclose(got[:, :, 0, :].reshape(20, 2, 5, 5).transpose(0, 1, 3, 2), expected_qk)
    assert np.array_equal(chip.forward(ids, outputs=["qk"]), got)  # the digital unit is exact
    # attention x a: probabilities are unsigned (4 bits: 15 steps over the float model's maximum on the
    # calibration inputs: scales are calibrated in float, as for weight layers)
    float_scores = np.stack([A[:, :, 3 * h:3 * h + 3] @ B[:, 3 * h:3 * h + 3].T for h in range(2)], axis=1)
    probs = np.exp(float_scores - float_scores.max(axis=3, keepdims=True))
    probs /= probs.sum(axis=3, keepdims=True)
    v = chip.products["av"]
    assert not v.crossbar.signed_inputs and v.a_scale == pytest.approx(probs.max() / 15)
    assert v.b_scale == pytest.approx(np.abs(A).max() / 15)


def test_crossbar_products_draw_variation_for_every_write():
    network = _operand_network(heads=1)
    rng = np.random.default_rng(5)
    params = {"a": {"weight": rng.normal(0, 1, (7, 6))}, "b": {"weight": rng.normal(0, 1, (5, 6))}}
    ids = np.tile(rng.integers(0, 7, (1, 5)), (4, 1))  # four identical inputs
    noisy = dataclasses.replace(_ideal(), variation_sigma=0.2)
    written = Model(network, params).program(noisy, calibration=ids, rng=1, dynamic="crossbar")
    out, stats = written.forward(ids, outputs=["qk"], rng=7, stats=True)
    assert not np.allclose(out[0], out[1])  # each input's operand was written with its own variation
    assert np.array_equal(out, written.forward(ids, outputs=["qk"], rng=7))  # reproducible from the seed
    assert stats["qk"].vectors == 4 * 5 and stats["av"].vectors == 4 * 5  # N x heads x queries
    digital = Model(network, params).program(noisy, calibration=ids, rng=1, dynamic="digital")
    same = digital.forward(ids, outputs=["qk"])
    assert np.array_equal(same[0], same[1])
    exact = written.forward(ids, outputs=["qk"], exact=True)
    assert np.array_equal(exact, same)  # exact products do not depend on where they would run
    assert np.abs(out - exact).max() > 0


def test_causal_products_mask_scores_and_skip_masked_keys():
    network = _operand_network(heads=2, causal=True)
    rng = np.random.default_rng(6)
    params = {"a": {"weight": rng.normal(0, 1, (7, 6))}, "b": {"weight": rng.normal(0, 1, (5, 6))}}
    ids = rng.integers(0, 7, (3, 5))
    scores = Model(network, params).forward(ids, outputs=["qk"])[:, :, 0, :].reshape(3, 2, 5, 5)  # (N, h, key, query)
    masked = np.triu(np.ones((5, 5), bool), 1).T  # key j > query i
    assert np.all(np.isneginf(scores[:, :, masked])) and np.all(np.isfinite(scores[:, :, ~masked]))
    out = Model(network, params).forward(ids)
    assert np.isfinite(out).all()
    first = params["a"]["weight"][ids[:, 0]]  # query 0 sees key 0 only: its output is a's first token
    assert np.allclose(out[:, :, 0, 0], first)


def test_decode_steps_equal_full_sequence_outputs_position_by_position():
    spec = zoo_spec("tiny-decoder")  # prompt 8, 4 decoded, tied output layer, causal cached products
    network = load_workload(spec)
    rng = np.random.default_rng(8)
    params = random_parameters(network, rng)
    ids = rng.integers(0, 64, (3, 12))
    decoder = Model(network, params).decoder(ids[:, :8])
    for t in range(4):
        step = decoder.step(ids[:, 8 + t:9 + t])
        longer = copy.deepcopy(spec)
        longer["input"]["W"] = 9 + t
        longer["sequence"]["decode"] = 0
        full = Model(load_workload(longer), params).forward(ids[:, :9 + t])  # logits of position 8 + t
        assert np.allclose(step, full, rtol=1e-10, atol=1e-10)
    assert decoder.caches["h0.attn.qk"].shape == (3, 16, 1, 12)
    with pytest.raises(XbarsimError, match="at most sequence.decode = 4 decode steps"):
        decoder.step(ids[:, :1])
    chip = Model(network, params).program(_ideal(), calibration=ids[:, :8], dynamic="crossbar")
    with pytest.raises(XbarsimError, match="dynamic: expected 'digital' for cached products"):
        chip.decoder(ids[:, :8])
    digital = Model(network, params).program(_ideal(), calibration=ids[:, :8], dynamic="digital")
    assert np.array_equal(digital.decoder(ids[:, :8]).outputs, digital.forward(ids[:, :8]))


def test_tied_output_layer_reads_the_table_and_is_stored_once(tmp_path):
    network = load_workload("tiny-decoder")
    rng = np.random.default_rng(9)
    params = random_parameters(network, rng)
    model = Model(network, params)
    assert model.weights["lm_head"]["weight"] is model.weights["wte"]["weight"]
    save_model(tmp_path / "d.npz", model)
    with np.load(tmp_path / "d.npz") as data:
        assert "lm_head/weight" not in data.files and "lm_head/bias" in data.files
    loaded, _ = load_model(tmp_path / "d.npz")
    ids = rng.integers(0, 64, (2, 8))
    assert np.allclose(loaded.forward(ids), model.forward(ids), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"weights\['lm_head'\]\['weight'\]: expected none \(the layer is tied"):
        Model(network, {**params, "lm_head": {"weight": np.zeros((64, 16))}})


def test_bad_transformer_arguments_are_named():
    network = _operand_network()
    rng = np.random.default_rng(1)
    params = {"a": {"weight": rng.normal(0, 1, (7, 6))}, "b": {"weight": rng.normal(0, 1, (5, 6))}}
    model = Model(network, params)
    with pytest.raises(ConfigError, match=r"inputs: expected token ids for 'a': integers 0..6, got 7.0"):
        model.forward(np.full((2, 5), 7))
    with pytest.raises(ConfigError, match="dynamic: expected 'digital' or 'crossbar'"):
        model.program(_ideal(), calibration=np.zeros((1, 5)), dynamic="analog")
    with pytest.raises(ConfigError, match=r"dynamic\.av: expected 'digital' or 'crossbar', got 'gpu'"):
        model.program(_ideal(), calibration=np.zeros((1, 5)), dynamic={"qk": "digital", "av": "gpu"})
    with pytest.raises(ValueError, match=r"weights: expected an entry for embedding layer 'b' with 'weight'"):
        Model(network, {"a": params["a"]})
    with pytest.raises(ValueError, match=r"weights\['a'\]\['weight'\]: expected shape \(7, 6\), got \(6, 7\)"):
        Model(network, {**params, "a": {"weight": np.zeros((6, 7))}})
    with pytest.raises(ValueError, match=r"weights\['a'\]: expected only \['weight'\], got \['bias'\]"):
        Model(network, {**params, "a": {"weight": params["a"]["weight"], "bias": np.zeros(6)}})
    with pytest.raises(ValueError, match=r"inputs: expected shape \(N, 1, 1, 5\)"):
        model.forward(np.zeros((2, 4)))


@pytest.mark.parametrize("qk, av", [("digital", "digital"), ("crossbar", "digital"), ("crossbar", "crossbar")])
def test_an_arch_products_section_says_where_products_run(qk, av):
    """program(arch) without ``dynamic`` follows the arch's ``products.qk`` / ``products.av`` (the
    timing model's choice), so one arch file sets both halves; an explicit ``dynamic`` wins."""
    network = _operand_network()
    rng = np.random.default_rng(6)
    params = {"a": {"weight": rng.normal(0, 1, (7, 6))}, "b": {"weight": rng.normal(0, 1, (5, 6))}}
    ids = rng.integers(0, 7, (3, 5))
    arch = xbarsim.evolve(xbarsim.load_arch("study"), {"products.qk": qk, "products.av": av})
    chip = Model(network, params).program(arch, calibration=ids)
    assert (chip.products["qk"].dynamic, chip.products["av"].dynamic) == (qk, av)
    chip = Model(network, params).program(arch, calibration=ids, dynamic="digital")
    assert chip.products["qk"].dynamic == chip.products["av"].dynamic == "digital"
