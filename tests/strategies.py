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
