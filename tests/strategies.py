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
                 "output_register": "64B",
                 "buffer": {"size": "1KiB", "ports": draw(st.integers(1, 2)), "width_bits": 64,
                            "bandwidth": draw(st.sampled_from(["2GB/s", "4GB/s", "8GB/s"])),
                            "latency": draw(st.sampled_from(["0s", "1ns"]))}},
        "pe": {"arrays": draw(st.integers(1, 4)), "adcs_per_array": draw(st.integers(1, min(4, cols))),
               "adc_rate": draw(st.sampled_from(["1GHz", "2GHz", "4GHz"])),
               "read_latency": draw(st.sampled_from(["1ns", "2ns", "3ns"])),
               "sample_hold": draw(st.booleans()), "shift_add_units": 1, "input_register": "64B",
               "output_register": "32B", "psum_bits": 8},
        "global_buffer": {"size": draw(st.sampled_from(["0B", "256B", "4KiB"])), "ports": draw(st.integers(1, 2)),
                          "width_bits": 64, "bandwidth": draw(st.sampled_from(["4GB/s", "8GB/s"])),
                          "latency": draw(st.sampled_from(["0s", "1ns"]))},
        "interconnect": {"topology": draw(st.sampled_from(["bus", "mesh"])),
                         "bandwidth": draw(st.sampled_from(["2GB/s", "4GB/s"])), "hop_latency": "1ns",
                         "tiles_per_router": draw(st.integers(1, 2))},
        "dram": {"bandwidth": draw(st.sampled_from(["1GB/s", "2GB/s"])),
                 "latency": draw(st.sampled_from(["5ns", "10ns"])), "channels": draw(st.integers(1, 2))},
        "programming": {"write_pulse": draw(st.sampled_from(["1ns", "2ns"])), "rows_in_parallel": 1},
    }
    for dotted, value in fixed.items():
        section, key = dotted.split(".", 1)
        node = spec[section]
        *inner, last = key.split(".")
        for part in inner:
            node = node[part]
        node[last] = value
    adc_bits = load_arch(spec).crossbar.exact_adc_bits
    assume(adc_bits <= 16)  # as in crossbar_specs: only chips whose ADC can be exact
    spec["crossbar"]["adc_bits"] = adc_bits
    return load_arch(spec)


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
