"""Hypothesis strategies shared by every property test (keep them here, reuse them)."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from xbarsim.functional import CrossbarSpec
from xbarsim.functional.converters import input_bounds

__all__ = [
    "crossbar_specs", "weight_matrices", "input_matrices", "mvm_problems", "seeds", "quantities",
    "small_archs", "small_networks", "small_transformers", "reference_cases", "retime_changes", "faster_changes",
]

seeds = st.integers(min_value=0, max_value=2**32 - 1)


@st.composite
def crossbar_specs(draw, *, ideal: bool = True, exact_adc: bool = True, max_rows: int = 24, **fixed):
    """Small random crossbar specs; ``exact_adc`` gives the ADC exactly the bits exactness needs.

    Keyword arguments fix fields (``weight_mapping="offset"``).
    """
    cell_bits = fixed.pop("cell_bits", None) or draw(st.integers(1, 4))
    weight_bits = fixed.pop("weight_bits", None) or draw(st.integers(cell_bits, 10))
    input_bits = fixed.pop("input_bits", None) or draw(st.integers(1, 8))
    dac_bits = fixed.pop("dac_bits", None) or draw(st.integers(1, min(4, input_bits)))
    values = dict(
        rows=draw(st.integers(1, max_rows)),
        cols=draw(st.integers(1, 24)),
        cell_bits=cell_bits,
        weight_bits=weight_bits,
        input_bits=input_bits,
        dac_bits=dac_bits,
        signed_inputs=draw(st.booleans()),
        weight_mapping=draw(st.sampled_from(["offset", "differential"])),
        adc_position=draw(st.sampled_from(["per_cycle", "after_accumulation"])),
        column_encoding=draw(st.sampled_from(["plain", "flip"])),
        on_off_ratio=draw(st.sampled_from([float("inf"), 100.0, 17.0, 2.5])),
        adc_bits=draw(st.integers(1, 12)),
    )
    if not ideal:
        values.update(
            variation_sigma=draw(st.sampled_from([0.0, 0.02, 0.1])),
            variation_model=draw(st.sampled_from(["gaussian", "lognormal"])),
            read_noise_sigma=draw(st.sampled_from([0.0, 0.01, 0.05])),
            stuck_at_on=draw(st.sampled_from([0.0, 0.01])),
            stuck_at_off=draw(st.sampled_from([0.0, 0.02])),
        )
    values.update(fixed)
    spec = CrossbarSpec(**values)
    if exact_adc:
        spec = dataclasses.replace(spec, adc_bits=min(16, spec.exact_adc_bits))
    return spec


def weight_matrices(spec: CrossbarSpec, k: int, m: int):
    """Signed ``weight_bits`` integer matrices (k, m), extremes included."""
    half = 1 << (spec.weight_bits - 1)
    return hnp.arrays(np.int64, (k, m), elements=st.integers(-half, half - 1))


def input_matrices(spec: CrossbarSpec, n: int, k: int):
    """Input matrices (n, k) in the spec's signed or unsigned range."""
    lo, hi = input_bounds(spec)
    return hnp.arrays(np.int64, (n, k), elements=st.integers(lo, hi))


@st.composite
def mvm_problems(draw, specs=None, max_k: int = 60, max_m: int = 12, max_n: int = 6):
    """(spec, weights, inputs) with shapes that often straddle array boundaries."""
    spec = draw(specs if specs is not None else crossbar_specs())
    k = draw(st.integers(1, max_k))
    m = draw(st.integers(1, max_m))
    n = draw(st.integers(1, max_n))
    return spec, draw(weight_matrices(spec, k, m)), draw(input_matrices(spec, n, k))


quantities = st.sampled_from(["time", "frequency", "size", "bandwidth", "power", "energy", "conductance", "area"])


# -- architectures and workloads for the architecture model ------------------------------------

TEST_ENERGY = str(__import__("pathlib").Path(__file__).parent / "data" / "test-energy.yaml")

@st.composite
def small_archs(draw, **fixed):
    """Small random chips with short, whole-cycle timings (so a cycle-stepped model is cheap)."""
    from xbarsim import load_arch

    rows = draw(st.integers(4, 16))
    cols = draw(st.integers(4, 16))
    cell_bits = draw(st.integers(1, 2))
    weight_bits = draw(st.integers(max(2, cell_bits), 4))
    input_bits = draw(st.integers(1, 4))
    spec = {
        "version": 1, "name": "random", "energy_table": TEST_ENERGY,
        "crossbar": {
            "rows": rows, "cols": cols, "cell_bits": cell_bits, "weight_bits": weight_bits, "input_bits": input_bits,
            "dac_bits": draw(st.integers(1, min(2, input_bits))), "adc_bits": 8,
            "adc_position": draw(st.sampled_from(["per_cycle", "after_accumulation"])),
            "weight_mapping": draw(st.sampled_from(["offset", "differential"])),
        },
        "chip": {"tiles": draw(st.integers(1, 3)), "clock": "1GHz", "offchip_links": 1},
        "tile": {"pes": draw(st.integers(1, 3)), "activation_units": draw(st.integers(1, 2)),
                 "pooling_units": draw(st.integers(1, 2)), "shift_add_units": draw(st.integers(1, 2)),
                 "output_register": "4KiB", "bus_bandwidth": draw(st.sampled_from(["4GB/s", "16GB/s"])),
                 "buffer": {"size": draw(st.sampled_from(["1KiB", "4KiB", "64KiB"])), "ports": draw(st.integers(1, 2)), "width_bits": 64,
                            "bandwidth": draw(st.sampled_from(["2GB/s", "4GB/s", "8GB/s"])),
                            "latency": draw(st.sampled_from(["0s", "1ns"]))}},
        "pe": {"arrays": draw(st.integers(1, 4)), "adcs_per_array": draw(st.integers(1, min(4, cols))),
               "adc_rate": draw(st.sampled_from(["1GHz", "2GHz", "4GHz"])),
               "read_latency": draw(st.sampled_from(["1ns", "2ns", "3ns"])),
               "sample_hold": draw(st.booleans()), "shift_add_units": 1, "input_register": "1KiB",
               "output_register": "1KiB", "psum_bits": 8},
        "global_buffer": {"size": draw(st.sampled_from(["0B", "256B", "4KiB"])), "ports": draw(st.integers(1, 2)),
                          "width_bits": 64, "bandwidth": draw(st.sampled_from(["4GB/s", "8GB/s"])),
                          "latency": draw(st.sampled_from(["0s", "1ns"]))},
        "interconnect": {"topology": draw(st.sampled_from(["bus", "mesh"])),
                         "bandwidth": draw(st.sampled_from(["2GB/s", "4GB/s"])), "hop_latency": "1ns",
                         "tiles_per_router": draw(st.integers(1, 2))},
        "dram": {"bandwidth": draw(st.sampled_from(["1GB/s", "2GB/s"])),
                 "latency": draw(st.sampled_from(["5ns", "10ns"])), "channels": draw(st.integers(1, 2))},
        "programming": {"write_pulse": draw(st.sampled_from(["1ns", "2ns"])), "rows_in_parallel": 1},
        "mapping": {"segment_bytes": draw(st.sampled_from(["8B", "16B", "4KiB"]))},
    }
    for dotted, value in fixed.items():
        section, key = dotted.split(".", 1)
        node = spec[section]
        *inner, last = key.split(".")
        for part in inner:
            node = node[part]
        node[last] = value
    adc_bits = load_arch(spec).crossbar.exact_adc_bits
    spec["crossbar"]["adc_bits"] = min(16, adc_bits)
    return load_arch(spec)


@st.composite
def reference_cases(draw):
    """(arch, network, batch, schedule) the independent stream derivation covers: one tile, one
    PE of one array per weight layer (hence one copy each, nothing to replicate), rows of one
    segment, buffers too large to bind, conv (ungrouped), pooling and residual adds."""
    from xbarsim import evolve, load_arch
    from xbarsim.workload import NetBuilder, load_workload

    H, W, C = draw(st.integers(2, 5)), draw(st.integers(2, 5)), draw(st.integers(1, 3))
    net = NetBuilder("reference", H, W, C)
    weight_layers = 0
    for i in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["conv", "conv", "pool", "block"]))
        if kind == "conv":
            R = draw(st.integers(1, min(3, H, W)))
            M = draw(st.integers(1, 4))
            net.conv(f"conv{i}", M, R, draw(st.integers(1, 2)), padding=draw(st.integers(0, R // 2)),
                     activation=draw(st.sampled_from(["relu", "none"])))
            weight_layers += 1
        elif kind == "pool" and H >= 2 and W >= 2:
            net.pool(f"pool{i}", 2, 2, kind=draw(st.sampled_from(["max", "avg"])))
        elif kind == "block" and net.last:
            source = net.last
            main = net.conv(f"res{i}", C, 1, activation="none", inputs=[source])
            net.add(f"add{i}", [main, source])
            weight_layers += 1
        else:
            continue
        shape = load_workload(net.spec).layers[-1]
        H, W, C = shape.E, shape.F, shape.M
    assume(weight_layers > 0)
    network = load_workload(net.spec)
    base = draw(small_archs())
    arch = evolve(base, {"chip.tiles": 1, "tile.pes": weight_layers, "pe.arrays": 1, "crossbar.rows": 32,
                         "crossbar.cols": 64, "tile.buffer.size": "1MiB", "mapping.segment_bytes": "4KiB",
                         "global_buffer.size": "0B"})
    xb = arch.crossbar
    assume(all(layer.rows_per_group <= xb.rows and layer.M * xb.columns_per_weight <= xb.cols
               for layer in network.layers if layer.has_weights))  # one array per layer
    return arch, network, draw(st.integers(1, 2)), draw(st.sampled_from(["layer", "pipeline"]))


RETIME_VALUES = {
    "chip.clock": ["500MHz", "2GHz"], "pe.adc_rate": ["1GHz", "8GHz"], "pe.read_latency": ["1ns", "5ns"],
    "pe.sample_hold": [True, False], "pe.adcs_per_array": [1, 4], "tile.buffer.bandwidth": ["1GB/s", "32GB/s"],
    "tile.buffer.ports": [1, 3], "tile.buffer.latency": ["0s", "2ns"], "tile.buffer.size": ["64KiB", "1MiB"],
    "tile.buffer.width_bits": [32, 128], "tile.activation_units": [1, 4], "tile.pooling_units": [1, 2],
    "tile.shift_add_units": [1, 3], "tile.bus_bandwidth": ["2GB/s", "32GB/s"], "pe.shift_add_units": [1, 8],
    "global_buffer.bandwidth": ["2GB/s", "16GB/s"], "global_buffer.ports": [1, 2], "global_buffer.latency": ["0s", "3ns"],
    "global_buffer.width_bits": [32, 128], "interconnect.bandwidth": ["1GB/s", "16GB/s"],
    "interconnect.hop_latency": ["0s", "3ns"], "dram.bandwidth": ["500MB/s", "8GB/s"], "dram.latency": ["0s", "50ns"],
    "dram.channels": [1, 3], "programming.write_pulse": ["1ns", "100ns"], "programming.rows_in_parallel": [1, 2],
    "chip.offchip_links": [1, 2], "crossbar.adc_bits": [4, 7], "crossbar.variation_sigma": [0.0, 0.1],
    "name": ["renamed"], "energy_table": [TEST_ENERGY], "crossbar.adc_range": ["calibrated"],
    "crossbar.adc_full_scale": [{"crossbar.adc_range": "explicit", "crossbar.adc_full_scale": 30.0}],
    "crossbar.adc_percentile": [99.0], "crossbar.column_encoding": ["flip"], "crossbar.g_on": ["1e-5S"],
    "crossbar.on_off_ratio": [10.0, float("inf")], "crossbar.read_noise_sigma": [0.02],
    "crossbar.signed_inputs": [True], "crossbar.stuck_at_off": [0.01], "crossbar.stuck_at_on": [0.01],
    "crossbar.variation_model": ["lognormal"],
}
"""Candidate values of every field a replay may change (checked against the field declarations); a
dict value changes several fields together (a field valid only with another)."""


def retime_changes(data_aware: bool = False):
    """Changes of one to three re-timable fields (every re-timable field is drawn from, with its values)."""
    from xbarsim.replaying import retimable

    fields = sorted(retimable(data_aware))
    missing = [f for f in fields if f not in RETIME_VALUES]
    if missing:  # a new re-timable field needs candidate values here
        raise AssertionError(f"no candidate values for re-timable fields {missing}")
    def merged(chosen):
        out = {}
        for field, value in chosen.items():
            out.update(value if isinstance(value, dict) else {field: value})
        return out

    return st.lists(st.sampled_from(fields), min_size=1, max_size=3, unique=True).flatmap(
        lambda chosen: st.fixed_dictionaries({f: st.sampled_from(RETIME_VALUES[f]) for f in chosen})).map(merged)


def faster_changes(arch):
    """One change that can only make operations shorter or resources more plentiful."""
    from xbarsim import units
    choices = [
        ("pe.adc_rate", units.format(arch.pe.adc_rate * 2, "frequency")),
        ("pe.adcs_per_array", min(arch.crossbar.cols, arch.pe.adcs_per_array + 1)),
        ("dram.bandwidth", units.format(arch.dram.bandwidth * 2, "bandwidth")),
        ("dram.channels", arch.dram.channels + 1),
        ("tile.buffer.bandwidth", units.format(arch.tile.buffer.bandwidth * 2, "bandwidth")),
        ("tile.buffer.ports", arch.tile.buffer.ports + 1),
        ("interconnect.bandwidth", units.format(arch.interconnect.bandwidth * 2, "bandwidth")),
        ("tile.activation_units", arch.tile.activation_units + 1),
        ("tile.pooling_units", arch.tile.pooling_units + 1),
        ("tile.shift_add_units", arch.tile.shift_add_units + 1),
        ("tile.bus_bandwidth", units.format(arch.tile.bus_bandwidth * 2, "bandwidth")),
    ]
    return st.sampled_from(choices).map(lambda pair: {pair[0]: pair[1]})


@st.composite
def small_networks(draw, max_layers: int = 4):
    """Small random networks of conv, pool, residual blocks and a final fc, valid by construction."""
    from xbarsim.workload import NetBuilder, load_workload

    H = draw(st.integers(2, 6))
    W = draw(st.integers(2, 6))
    C = draw(st.integers(1, 3))
    net = NetBuilder("random", H, W, C)
    count = 0
    for i in range(draw(st.integers(1, max_layers))):
        kind = draw(st.sampled_from(["conv", "conv", "pool", "block", "dwconv"]))
        if kind == "conv":
            R = draw(st.integers(1, min(3, H + 2)))
            padding = draw(st.integers(0, R // 2))
            if R > H + 2 * padding or R > W + 2 * padding:
                continue
            stride = draw(st.integers(1, 2))
            M = draw(st.integers(1, 6))
            net.conv(f"conv{i}", M, R, stride, padding=padding, activation=draw(st.sampled_from(["relu", "none"])))
            H, W, C = (H + 2 * padding - R) // stride + 1, (W + 2 * padding - R) // stride + 1, M
        elif kind == "dwconv" and H >= 3 and W >= 3:
            net.conv(f"dw{i}", C, 3, 1, padding=1, groups=C)
        elif kind == "pool" and H >= 2 and W >= 2:
            net.pool(f"pool{i}", 2, 2, kind=draw(st.sampled_from(["max", "avg"])))
            H, W = H // 2, W // 2
        elif kind == "block":
            source = net.last
            main = net.conv(f"res{i}", C, 1, activation="none", inputs=[source] if source else None)
            net.add(f"add{i}", [main, source] if source else [main, main])
        else:
            continue
        count += 1
    if count == 0 or draw(st.booleans()):
        net.fc("fc", draw(st.integers(1, 5)))
    return load_workload(net.spec)


@st.composite
def small_transformers(draw, max_blocks: int = 2):
    """Small random transformers, valid by construction: token ids (token and position embeddings)
    or an image cut into 1x1 patches (with learned tokens prepended), then attention blocks (a
    layer or RMS norm, q/k/v linear layers, Q K^T and attention x V per head, causal or not, a
    softmax per head, a projection, a residual add) and feed-forward blocks (GELU/SiLU/ReLU as an
    activation or a layer, or a SwiGLU gate), ending on one kept token and an fc classifier, or
    on a linear layer over every token."""
    from xbarsim.workload import NetBuilder, load_workload

    heads = draw(st.integers(1, 3))
    d = heads * draw(st.integers(1, 3))
    if draw(st.booleans()):  # a sequence of token ids
        length, vocab = draw(st.integers(1, 5)), draw(st.integers(2, 9))
        net = NetBuilder("random-transformer", 1, length, 1)
        tok = net.embedding("tok", vocab, d)
        if draw(st.booleans()):
            pos = net.embedding("pos", length + draw(st.integers(0, 2)), d, lookup="position", inputs=[tok])
            net.add("embed", [tok, pos], activation="none")
    else:  # an image cut into 1x1 patches
        H, W, C = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
        net = NetBuilder("random-transformer", H, W, C)
        net.conv("patch", d, 1, activation="none", bias=True)
        net.tokens("tokens", extra_tokens=draw(st.integers(0, 2)))
    causal = draw(st.booleans())
    for i in range(draw(st.integers(1, max_blocks))):
        source = net.last
        x = net.function(f"norm{i}", draw(st.sampled_from(["layernorm", "rmsnorm"])), inputs=[source])
        bias = draw(st.booleans())
        q = net.linear(f"q{i}", d, bias=bias, inputs=[x])
        k = net.linear(f"k{i}", d, bias=bias, inputs=[x])
        v = net.linear(f"v{i}", heads * draw(st.integers(1, 3)), bias=bias, inputs=[x])
        net.matmul(f"qk{i}", q, k, heads, transpose_b=True, causal=causal)
        p = net.function(f"softmax{i}", "softmax", heads=heads)
        net.matmul(f"av{i}", p, v, heads, causal=causal)
        out = net.linear(f"proj{i}", d, bias=True)
        mid = net.add(f"res{i}", [out, source], activation="none")
        hidden = draw(st.integers(1, 6))
        kind = draw(st.sampled_from(["gelu", "silu", "relu", "gelu-layer", "silu-layer", "swiglu"]))
        if kind == "swiglu":
            gate = net.linear(f"gate{i}", hidden, activation="silu", inputs=[mid])
            up = net.linear(f"up{i}", hidden, bias=True, inputs=[mid])
            net.mul(f"glu{i}", [gate, up])
        elif kind.endswith("-layer"):
            net.linear(f"up{i}", hidden, bias=True, inputs=[mid])
            net.function(f"act{i}", kind[:4])
        else:
            net.linear(f"up{i}", hidden, activation=kind, bias=True, inputs=[mid])
        down = net.linear(f"down{i}", d)
        net.add(f"res2_{i}", [down, mid], activation="none")
    if draw(st.booleans()):
        net.tokens("pick", keep=1, keep_from=draw(st.sampled_from(["first", "last"])))
        net.fc("classes", draw(st.integers(1, 4)))
    else:
        net.linear("out", draw(st.integers(1, 4)), activation=draw(st.sampled_from(["none", "tanh"])))
    return load_workload(net.spec)
