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
    "crossbar_specs", "dac_types", "driven_layouts", "weight_matrices", "input_matrices", "mvm_problems", "seeds", "quantities",
    "small_archs", "small_networks", "small_transformers", "reference_cases", "retime_changes", "faster_changes",
    "adc_designs", "technologies", "area_growths", "activity_layouts",
    "sweep_axes", "sweep_ranges", "grid_specs", "objective_values", "SWEEP_FIELD_RANGES",
    "small_sequence_networks", "reference_sequence_cases",
]

seeds = st.integers(min_value=0, max_value=2**32 - 1)
dac_types = st.sampled_from(["voltage", "pulse_width"])
"""``crossbar.dac_type``: the row held at d / D of the read voltage, or at full voltage for d / D of the read."""


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
        dac_type=draw(dac_types),
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
    if values["adc_position"] == "after_accumulation" and "phase_cycles" not in fixed:
        values["phase_cycles"] = draw(st.one_of(st.none(), st.integers(1, 8)))  # NeuRRAM's phases
    spec = CrossbarSpec(**values)
    if exact_adc:
        # an exact ADC can need more than the 16 bits a spec allows (after_accumulation, 18+ rows,
        # 4-bit cells, 8-bit inputs): such specs are not exact, so they are not drawn here
        assume(spec.exact_adc_bits <= 16)
        spec = dataclasses.replace(spec, adc_bits=spec.exact_adc_bits)
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


@st.composite
def clipping_problems(draw):
    """(spec, weights, inputs) on non-ideal devices without read noise, digitized per cycle with
    an explicit ADC range drawn from far below to above the largest possible partial sum, so
    that some problems never clip, some always do, and some clip on a few conversions only."""
    base = draw(crossbar_specs(ideal=False, exact_adc=False, read_noise_sigma=0.0, adc_position="per_cycle"))
    top = base.rows * base.max_level * ((1 << base.dac_bits) - 1)
    full_scale = draw(st.floats(0.05, 1.5)) * max(top, 1)
    specs = st.just(dataclasses.replace(base, adc_range="explicit", adc_full_scale=full_scale))
    return draw(mvm_problems(specs, max_k=40, max_m=6, max_n=4))


quantities = st.sampled_from(["time", "frequency", "size", "bandwidth", "power", "energy", "conductance", "area"])


# -- architectures and workloads for the architecture model ------------------------------------

TEST_ENERGY = str(__import__("pathlib").Path(__file__).parent / "data" / "test-energy.yaml")

@st.composite
def activity_layouts(draw, **fixed):
    """One matrix's layout on the arrays of a random crossbar (:class:`xbarsim.mapping.activity.Layout`):
    K x M per group, 1-4 groups, each group on its own arrays or packed block-diagonally in one array
    (when several fit). Keyword arguments fix crossbar fields."""
    from xbarsim.mapping.activity import Layout
    from xbarsim.mapping.tiling import ArrayTiling

    spec = draw(crossbar_specs(max_rows=16, **fixed))
    k, m, groups = draw(st.integers(1, 40)), draw(st.integers(1, 8)), draw(st.integers(1, 4))
    tiling = ArrayTiling(k, m, spec.rows, spec.cols, spec.slices, spec.polarities)
    packed = 0
    if groups > 1 and tiling.row_tiles == 1 and tiling.col_tiles == 1:
        fit = min(spec.rows // k, spec.cols // tiling.physical_columns)
        packed = draw(st.sampled_from([0, fit])) if fit > 1 else 0
    return Layout(tiling, spec, groups, packed)


@st.composite
def driven_layouts(draw, max_vectors: int = 4, **fixed):
    """(layout, inputs (N, G, K), row levels (G, K)) for :func:`xbarsim.mapping.activity.observe`: a
    random layout (:func:`activity_layouts`), integer inputs in its crossbar's range, and each matrix
    row's cells at 0..G_on (half level steps above G_off summed over the array rows it drives)."""
    layout = draw(activity_layouts(**fixed))
    spec, k, g = layout.crossbar, layout.tiling.in_features, layout.groups
    n = draw(st.integers(1, max_vectors))
    lo, hi = input_bounds(spec)
    x = draw(hnp.arrays(np.int64, (n, g, k), elements=st.integers(lo, hi)))
    arrays = 1 if layout.groups_per_array else layout.tiling.col_tiles
    top = 2 * spec.max_level * spec.cols * arrays
    levels = draw(hnp.arrays(np.int64, (g, k), elements=st.integers(0, top)))
    return layout, x, levels


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
            "dac_bits": draw(st.integers(1, min(2, input_bits))), "adc_bits": 8, "dac_type": draw(dac_types),
            "adc_position": draw(st.sampled_from(["per_cycle", "after_accumulation"])),
            "weight_mapping": draw(st.sampled_from(["offset", "differential"])),
        },
        "chip": {"tiles": draw(st.integers(1, 3)), "clock": "1GHz", "offchip_links": 1},
        "tile": {"pes": draw(st.integers(1, 3)), "activation_units": draw(st.integers(1, 2)),
                 "pooling_units": draw(st.integers(1, 2)), "shift_add_units": draw(st.integers(1, 2)),
                 "output_register": "4KiB", "bus_bandwidth": draw(st.sampled_from(["4GB/s", "16GB/s"])),
                 "buffer": {"size": draw(st.sampled_from(["1KiB", "4KiB", "64KiB"])), "ports": draw(st.integers(1, 2)), "width_bits": 64,
                            "bandwidth": draw(st.sampled_from(["2GB/s", "4GB/s", "8GB/s"])),
                            "latency": draw(st.sampled_from(["0s", "1ns"]))},
                 "vector_unit": {"lanes": draw(st.integers(1, 8))},
                 "matrix_unit": {"macs_per_cycle": draw(st.integers(1, 16)),
                                 "operand_bits": draw(st.sampled_from([2, 4, 8])),
                                 "buffer": {"size": draw(st.sampled_from(["16B", "256B", "4KiB"])), "width_bits": 64,
                                            "bandwidth": draw(st.sampled_from(["2GB/s", "8GB/s"])),
                                            "latency": draw(st.sampled_from(["0s", "1ns"]))}}},
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
        "products": {"qk": draw(st.sampled_from(["digital", "crossbar"])),
                     "av": draw(st.sampled_from(["digital", "crossbar"])),
                     "store": draw(st.sampled_from(["auto", "auto", "tile", "glb", "dram"]))},
    }
    for dotted, value in fixed.items():
        section, key = dotted.split(".", 1)
        node = spec[section]
        *inner, last = key.split(".")
        for part in inner:
            node = node[part]
        node[last] = value
    if spec["crossbar"]["adc_position"] == "after_accumulation" and "crossbar.phase_cycles" not in fixed:
        spec["crossbar"]["phase_cycles"] = draw(st.one_of(st.none(), st.integers(1, 3)))  # NeuRRAM's phases
    adc_bits = load_arch(spec).crossbar.exact_adc_bits
    assume(adc_bits <= 16)  # as in crossbar_specs: only chips whose ADC can be exact
    spec["crossbar"]["adc_bits"] = adc_bits
    return load_arch(spec)


@st.composite
def chip_activation_archs(draw):
    """Small random bus chips that activate at chip level (``chip.activation: chip``, NeuroSim's
    ``chipActivation``), with drawn chip-level units, partial-sum widths and partial-sum ports, their
    partial sums crossing the tile bus or not (``tile.psum_bus``)."""
    return draw(small_archs(**{
        "interconnect.topology": "bus", "chip.activation": "chip",
        "chip.activation_units": draw(st.integers(1, 8)),
        "tile.psum_port_bits": draw(st.sampled_from([8, 26, 52, 256])),
        "tile.psum_bits": draw(st.integers(8, 32)),
        "tile.psum_bus": draw(st.booleans())}))


def timed_archs():
    """Small random chips of either activation kind: tile-level (:func:`small_archs`) or chip-level
    (:func:`chip_activation_archs`), for properties that hold for both."""
    return st.one_of(small_archs(), chip_activation_archs())


def timed_archs():
    """Small random chips of either activation kind: tile-level (:func:`small_archs`) or chip-level
    (:func:`chip_activation_archs`), for properties that hold for both."""
    return st.one_of(small_archs(), chip_activation_archs())


@st.composite
def reference_cases(draw):
    """(arch, network, batch, schedule) the independent stream derivation covers: one tile, one
    PE of one array per weight layer (hence one copy each, nothing to replicate), rows of one
    segment, buffers too large to bind, conv (ungrouped), pooling and residual adds."""
    from xbarsim import evolve
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
    "crossbar.variation_model": ["lognormal"], "crossbar.variation_draw": ["cycle"],
    # midscale needs offset mapping, plain columns and the dynamic range, which a random arch may not
    # have and a replay may not change (weight_mapping changes the mapping): only the default here
    "crossbar.reference_column": ["g_off"],
    "tile.vector_unit.lanes": [8, 64], "tile.matrix_unit.macs_per_cycle": [16, 256],
    "tile.matrix_unit.buffer.width_bits": [64, 512], "tile.matrix_unit.buffer.bandwidth": ["4GB/s", "64GB/s"],
    "tile.matrix_unit.buffer.latency": ["0s", "2ns"], "programming.endurance": [1e6, 1e12],
    "chip.activation_units": [1, 8], "tile.psum_port_bits": [8, 64],
    "crossbar.dac_type": ["voltage", "pulse_width"],
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
        # plain values first, then linked ones (a dict of fields that must change together, e.g.
        # adc_range: explicit with its full scale), so that a linked set is never split
        out = {field: value for field, value in chosen.items() if not isinstance(value, dict)}
        for value in chosen.values():
            if isinstance(value, dict):
                out.update(value)
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


# -- component models (energy) ------------------------------------------------------------------

#: Nodes Stillmaker & Baas tabulate (and points between them), in metres.
nodes_m = st.sampled_from([130e-9, 90e-9, 65e-9, 45e-9, 40e-9, 32e-9, 28e-9, 22e-9, 16e-9, 10e-9, 7e-9])


@st.composite
def adc_designs(draw):
    """(type, bits, rate in Hz, node in m) of an ADC the component models price."""
    kind = draw(st.sampled_from(["sar", "flash"]))
    bits = draw(st.integers(1, 14))
    rate = 10 ** draw(st.floats(5.0, 11.0))
    return kind, bits, rate, draw(nodes_m)


@st.composite
def technologies(draw):
    """A ``model`` section of an energy table (every choice the component models offer)."""
    from xbarsim import units
    return {"node": units.format(draw(nodes_m), "length"), "cell": draw(st.sampled_from(["rram", "sram"])),
            "adc": draw(st.sampled_from(["sar", "flash"])), "buffer": draw(st.sampled_from(["sram", "edram"])),
            "dram": draw(st.sampled_from(["lpddr4", "hbm2", "ddr3", "ddr4"])),
            "adder": draw(st.sampled_from(["aladdin", "neurosim"]))}


#: NeuroSim's logic roadmaps (Technology.cpp): the gate-level adder model's ``logic`` choice.
logic_roadmaps = st.sampled_from(["hp", "lstp"])
#: Supplies (V) a digital technology spec may give.
supplies_v = st.floats(0.5, 1.4)


#: Arch fields that count instances or size them, with a larger value (area must not shrink).
AREA_FIELDS = {
    "chip.tiles": lambda v: v + 1, "chip.offchip_links": lambda v: v + 1, "tile.pes": lambda v: v + 1,
    "tile.activation_units": lambda v: v + 1, "tile.pooling_units": lambda v: v + 1,
    "tile.shift_add_units": lambda v: v + 1, "pe.arrays": lambda v: v + 1, "pe.shift_add_units": lambda v: v + 1,
    "pe.adcs_per_array": lambda v: v + 1, "crossbar.rows": lambda v: v + 1, "crossbar.cols": lambda v: v + 1,
    "tile.buffer.size": lambda v: f"{int(v) * 2}B", "global_buffer.size": lambda v: f"{int(v) * 2 + 1024}B",
    "pe.input_register": lambda v: f"{int(v) * 2}B", "pe.output_register": lambda v: f"{int(v) * 2}B",
    "tile.output_register": lambda v: f"{int(v) * 2}B",
}


@st.composite
def area_growths(draw):
    """(arch, one count or size field, its larger value) for the area monotonicity property."""
    arch = draw(small_archs())
    field = draw(st.sampled_from(sorted(AREA_FIELDS)))
    value = arch
    for part in field.split("."):
        value = getattr(value, part)
    if field == "pe.adcs_per_array":
        assume(value < arch.crossbar.cols)
    return arch, field, AREA_FIELDS[field](value)


# -- design-space sweeps -----------------------------------------------------------------------

#: Fields of the ``tiny`` preset that sweep strategies vary, with the range docs/config.md gives
#: each (``pe.adcs_per_array`` is also at most ``crossbar.cols``, 16 in ``tiny``).
SWEEP_FIELD_RANGES = {"crossbar.rows": (1, 65536), "crossbar.adc_bits": (1, 16), "pe.adcs_per_array": (1, 16)}

_SWEEP_CANDIDATES = {
    # values on both sides of each documented range; valid rows stay >= 8 so mlp maps on tiny, valid
    # ADC bits stay in 4..10, the resolutions tiny's energy table prices (others are invalid points too)
    "crossbar.rows": st.sampled_from([0, 8, 16, 32, 70000]),
    "crossbar.adc_bits": st.one_of(st.integers(-1, 0), st.integers(4, 10), st.integers(17, 18)),
    "pe.adcs_per_array": st.integers(0, 18),
}


@st.composite
def sweep_axes(draw, max_axes: int = 3, max_values: int = 4, fields=None):
    """An ``axes`` mapping over fields of ``tiny``: lists of values, valid or not (keys in field order)."""
    names = list(fields or _SWEEP_CANDIDATES)
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=min(max_axes, len(names)), unique=True))
    return {name: draw(st.lists(_SWEEP_CANDIDATES[name], min_size=1, max_size=max_values))
            for name in names if name in chosen}


@st.composite
def sweep_ranges(draw):
    """A range axis ``{min, max[, log]}``: integer or real ends, log only above zero."""
    integer = draw(st.booleans())
    log = draw(st.booleans())
    if integer:
        lo = draw(st.integers(1 if log else -50, 200))
        hi = draw(st.integers(lo, lo + 500))
    else:
        lo = draw(st.floats(1e-3 if log else -100.0, 100.0))
        hi = draw(st.floats(lo, lo + 1000.0))
    return {"min": lo, "max": hi, "log": log}


@st.composite
def grid_specs(draw):
    """Sweep specs (dicts) on ``tiny`` with list and range axes and settings lists; grid combination."""
    axes = {}
    fields = ["crossbar.adc_bits", "crossbar.rows", "crossbar.variation_sigma", "pe.adc_rate", "chip.tiles"]
    for name in draw(st.lists(st.sampled_from(fields), max_size=4, unique=True)):
        if name == "crossbar.variation_sigma" and draw(st.booleans()):
            axes[name] = {"min": 0.0, "max": 0.2, "num": draw(st.integers(1, 4))}
        elif name == "pe.adc_rate":
            axes[name] = draw(st.lists(st.sampled_from(["1GHz", "2GHz", "500MHz"]), min_size=1, max_size=3))
        else:
            axes[name] = draw(st.lists(st.integers(1, 64), min_size=1, max_size=4))
    return {"version": 1, "arch": "tiny",
            "workloads": draw(st.lists(st.sampled_from(["mlp", "resnet20"]), min_size=1, max_size=2)),
            "schedules": draw(st.lists(st.sampled_from(["layer", "pipeline"]), min_size=1, max_size=2)),
            "batches": draw(st.lists(st.integers(1, 8), min_size=1, max_size=3)),
            "axes": axes, "combine": "grid"}


objective_values = st.one_of(st.integers(0, 6).map(float), st.just(float("nan")))
"""Objective values for Pareto fronts: few distinct values, so ties and duplicates are common."""
# -- fuzzing: mutated specs, mutated YAML texts, damaged traces ---------------------------------

#: Values a fuzzer puts where a spec value belongs: wrong types, edge numbers, unit nonsense,
#: control characters, nesting.
JUNK = st.one_of(
    st.none(), st.booleans(),
    st.integers(-2**70, 2**70), st.sampled_from([0, -1, 1, 2**31, 2**63, -2**63]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", " ", "0", "1", "-1", "nan", "inf", "1e999999999ns", "1e-999999999s", "1e300J", "1fB/s",
                     "1000000s", "0s", "1KB", "64KiB", "1.2GHz", "100ns", "2mW", "1e400mm2", "abc", "yes", "null",
                     "a\nb", "\x1b[31mred", "\t", "\u00b5s", "1 s", "--1s", "1e", ".inf", "~"]),
    st.text(max_size=12),
    st.lists(st.integers(-3, 300), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(-3, 3), max_size=2),
)

#: Keys a fuzzer adds: misspellings, control characters, non-strings.
JUNK_KEYS = st.one_of(st.sampled_from(["adc_bit", "rowz", "version", "base", "a\nb", "\x00", "é", "name", ""]),
                      st.text(max_size=8), st.integers(-2, 2), st.booleans())


def junk_like(value):
    """Bad values shaped like ``value``: a quantity with an absurd number or a wrong unit, an
    integer at or beyond the edges, a non-finite float; or anything from :data:`JUNK`."""
    import re

    if isinstance(value, str):
        match = re.match(r"^([-+0-9.eE]+)\s*(\S*)$", value)
        if match:
            unit = match.group(2)
            return st.one_of(
                st.sampled_from([f"1e999999999{unit}", f"-{value}", f"0{unit}", f"1e-999999999{unit}", f"{value}x",
                                 f"1e30{unit}", f"1e-30{unit}", f"nan{unit}", f"inf{unit}", f"{match.group(1)}",
                                 f"{match.group(1)}K{unit[-1:]}", f"1e308{unit}", f"1e-300{unit}"]),
                st.floats(-1e30, 1e30).map(lambda v: f"{v:g}{unit}"),
                st.sampled_from(["s", "Hz", "B", "B/s", "W", "J", "S", "mm2"]).map(lambda u: f"{match.group(1)}{u}"),
                JUNK)
    if isinstance(value, bool):
        return st.one_of(st.sampled_from([0, 1, "true", "no"]), JUNK)
    if isinstance(value, int):
        return st.one_of(st.sampled_from([0, -1, 2**31, 2**63, -2**63, 10**30, value + 1, value * 1000]),
                         st.floats(allow_nan=True), JUNK)
    if isinstance(value, float):
        return st.one_of(st.sampled_from([float("nan"), float("inf"), -float("inf"), -value, 1e308, 5e-324]), JUNK)
    return JUNK


def _paths(node, prefix=()):
    """Every (path, value) in nested dicts and lists, parents before children."""
    yield prefix, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, prefix + (index,))


@st.composite
def mutated_specs(draw, spec: dict, max_mutations: int = 4):
    """``spec`` (a resolved spec as plain data) with 1 to ``max_mutations`` random edits:
    a value replaced by junk, a key removed, a junk key added, or a value's type changed."""
    import copy

    data = copy.deepcopy(spec)
    for _ in range(draw(st.integers(1, max_mutations))):
        paths = [p for p, _ in _paths(data)]
        path = draw(st.sampled_from(paths))
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "remove", "add", "wrap"]))
        if not path:  # the root
            if action == "add":
                data[draw(JUNK_KEYS)] = draw(JUNK)
            continue
        key = path[-1]
        if action == "replace":
            parent[key] = draw(junk_like(parent[key]))
        elif action == "remove" and isinstance(parent, dict):
            del parent[key]
        elif action == "add" and isinstance(parent[key], dict):
            parent[key][draw(JUNK_KEYS)] = draw(JUNK)
        elif action == "wrap":
            parent[key] = [parent[key]] if draw(st.booleans()) else {"value": parent[key]}
    return data


@st.composite
def mutated_texts(draw, text: str, max_mutations: int = 4):
    """A YAML text with random character edits, duplicated or dropped lines, or a truncation."""
    for _ in range(draw(st.integers(1, max_mutations))):
        lines = text.split("\n")
        action = draw(st.sampled_from(["char", "insert", "delete", "duplicate", "drop", "truncate"]))
        at = draw(st.integers(0, max(0, len(text) - 1)))
        line = draw(st.integers(0, max(0, len(lines) - 1)))
        if action == "char" and text:
            text = text[:at] + draw(st.characters(codec="utf-8")) + text[at + 1:]
        elif action == "insert":
            text = text[:at] + draw(st.sampled_from([":", "- ", "\n", "  ", "\t", "{", "[", "&a ", "*a", "!!python/name:os.system ", "'", "#", "\x00", "\x1b"])) + text[at:]
        elif action == "delete":
            text = text[:at] + text[at + 1:]
        elif action == "duplicate":
            lines.insert(line, lines[line])
            text = "\n".join(lines)
        elif action == "drop" and len(lines) > 1:
            del lines[line]
            text = "\n".join(lines)
        elif action == "truncate":
            text = text[:at]
    return text


#: Ways to damage a trace file, applied by :func:`damage_trace`.
trace_damages = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0.0, 0.999)),
    st.tuples(st.just("flip"), st.lists(st.tuples(st.floats(0.0, 0.9999), st.integers(1, 255)), min_size=1,
                                         max_size=8)),
    st.tuples(st.just("edit_attribute"), st.integers(0, 10_000), JUNK),
    st.tuples(st.just("remove_attribute"), st.integers(0, 10_000)),
    st.tuples(st.just("remove_object"), st.integers(0, 10_000)),
)


def damage_trace(path, damage) -> str:
    """Apply one of :data:`trace_damages` to the trace file at ``path`` (in place); a description."""
    import os

    import h5py

    kind = damage[0]
    if kind == "truncate":
        size = os.path.getsize(path)
        cut = int(size * damage[1])
        with open(path, "r+b") as handle:
            handle.truncate(cut)
        return f"truncated to {cut} of {size} bytes"
    if kind == "flip":
        size = os.path.getsize(path)
        with open(path, "r+b") as handle:
            for where, mask in damage[1]:
                offset = int(size * where)
                handle.seek(offset)
                byte = handle.read(1)
                handle.seek(offset)
                handle.write(bytes([byte[0] ^ mask]))
        return f"flipped bytes at {[int(size * w) for w, _ in damage[1]]}"
    with h5py.File(path, "r+") as f:
        objects = [f]
        f.visititems(lambda name, obj: objects.append(obj) and None)
        if kind == "remove_object":
            victim = objects[1 + damage[1] % (len(objects) - 1)]
            name = victim.name
            del f[name]
            return f"removed {name}"
        owners = [(obj, name) for obj in objects for name in obj.attrs.keys()]
        obj, name = owners[damage[1] % len(owners)]
        if kind == "remove_attribute":
            del obj.attrs[name]
            return f"removed attribute {name} of {obj.name}"
        value = damage[2]
        try:
            obj.attrs[name] = value
        except (TypeError, ValueError, OverflowError):
            obj.attrs[name] = repr(value)
        return f"set attribute {name} of {obj.name} to {value!r}"
@st.composite
def small_sequence_networks(draw, max_blocks: int = 3, max_decode: int = 2):
    """Small random token networks, valid by construction: an embedding (and a position
    embedding), then blocks of attention (heads, causal or not, cached when decoding), GELU/SiLU
    MLPs, gated (SwiGLU-like) MLPs, norms; maybe a head on the last token; 0 to ``max_decode``
    decode steps."""
    from xbarsim.workload import NetBuilder, load_workload

    L = draw(st.integers(1, 5))
    heads = draw(st.integers(1, 2))
    d = heads * draw(st.integers(1, 3))
    decode = draw(st.integers(0, max_decode))
    net = NetBuilder("sequence", 1, L, 1)
    net.embedding("emb", draw(st.integers(2, 8)), d)
    if draw(st.booleans()):
        net.embedding("pos", L + decode, d, lookup="position", inputs=["emb"])
        net.add("x", ["emb", "pos"], activation="none")
    for i in range(draw(st.integers(1, max_blocks))):
        kind = draw(st.sampled_from(["attention", "attention", "mlp", "gated", "function"]))
        source = net.last
        bias = draw(st.booleans())
        if kind == "attention":
            causal = draw(st.booleans())
            q = net.linear(f"q{i}", d, bias=bias, inputs=[source])
            k = net.linear(f"k{i}", d, bias=bias, inputs=[source])
            v = net.linear(f"v{i}", d, bias=bias, inputs=[source])
            net.matmul(f"qk{i}", q, k, heads, transpose_b=True, cache=decode > 0, causal=causal)
            net.function(f"softmax{i}", "softmax", heads=heads)
            net.matmul(f"av{i}", f"softmax{i}", v, heads, cache=decode > 0, causal=causal)
            out = net.linear(f"proj{i}", d, bias=bias)
            net.add(f"res{i}", [out, source], activation="none")
        elif kind == "mlp":
            net.linear(f"fc{i}", draw(st.integers(1, 6)), activation=draw(st.sampled_from(["gelu", "silu", "relu"])),
                       bias=bias, inputs=[source])
            out = net.linear(f"fc_proj{i}", d)
            net.add(f"res{i}", [out, source], activation="none")
        elif kind == "gated":
            ff = draw(st.integers(1, 6))
            gate = net.linear(f"gate{i}", ff, activation="silu", inputs=[source])
            up = net.linear(f"up{i}", ff, inputs=[source])
            net.mul(f"glu{i}", [gate, up])
            net.linear(f"down{i}", d)
        else:
            net.function(f"f{i}", draw(st.sampled_from(["layernorm", "rmsnorm", "gelu", "silu"])))
    if draw(st.booleans()):
        net.tokens("last", keep=1, keep_from="last")
        net.linear("head", draw(st.integers(1, 5)), bias=draw(st.booleans()))
    net.sequence(decode=decode, masked_products=draw(st.sampled_from(["computed", "skipped"])))
    return load_workload(net.spec)


@st.composite
def reference_sequence_cases(draw):
    """(arch, network phase, schedule) the independent stream derivation covers, for token
    networks: one tile, one PE of one array per weight layer, rows of one segment, buffers too
    large to bind (the products' stores in the tile buffer, their operands held in the matrix
    unit's buffer), products on the matrix unit; a prefill or one of its decode steps."""
    from xbarsim import evolve

    network = draw(small_sequence_networks())
    weight_layers = sum(layer.has_weights for layer in network.layers)
    assume(weight_layers > 0)
    base = draw(small_archs())
    arch = evolve(base, {"chip.tiles": 1, "tile.pes": weight_layers, "pe.arrays": 1, "crossbar.rows": 32,
                         "crossbar.cols": 64, "tile.buffer.size": "1MiB", "mapping.segment_bytes": "4KiB",
                         "global_buffer.size": "0B", "products.qk": "digital", "products.av": "digital",
                         "products.store": "auto", "tile.matrix_unit.buffer.size": "1MiB"})
    xb = arch.crossbar
    assume(all(layer.rows_per_group <= xb.rows and layer.M * xb.columns_per_weight <= xb.cols
               for layer in network.layers if layer.has_weights))  # one array per layer
    step = draw(st.sampled_from([None] + list(range(network.decode_steps))))
    return arch, network, step, draw(st.sampled_from(["layer", "pipeline"]))


def simulate_mappable(arch, network, schedule, batch=1, **kw):
    """``xbarsim.simulate``, rejecting the example (``assume``) when the network does not map onto
    the arch: the properties that use it speak of runs that exist."""
    import xbarsim
    from xbarsim.errors import MappingError
    try:
        return xbarsim.simulate(arch, network, batch=batch, schedule=schedule, **kw)
    except MappingError:
        assume(False)
