"""Bottleneck attribution, ladders and energy by data type, worked out by hand on the tiny chip
(durations as in tests/integration/test_golden_tiny.py) and on a synthetic record."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

import xbarsim
from xbarsim.efficiency import attribute
from xbarsim.hardware import REGISTRY
from xbarsim.timing.timeline import Timeline

FC16 = {"version": 1, "name": "fc16", "input": {"H": 1, "W": 1, "C": 16},
        "layers": [{"name": "fc", "type": "fc", "M": 8}]}


def nonzero(cycles):
    return {k: v for k, v in cycles.items() if v}


def test_one_fc_layer_by_hand():
    """DRAM read 0-26, buffer write 26-29, feed 29-32, MVM 32-50, DRAM write 50-68.

    The MVM has n = 4 items, read stage a = 2, conversion stage b = 4: conversion-bound, so the
    read is charged its fill (2) and the conversions 4 + 3 x 4 = 16.

    Ladder: a full 16x16 array of 2-bit cells holds 16 x 8 weights (2 slices) and takes
    4 x max(2, 4) = 16 cycles a vector; the layer's 128 MACs use all of its one array
    (factor 1), one array of the chip's (1 / arrays), its MVM takes 18 cycles against 16
    (16/18) and the array computes 18 of the 68 cycles (18/68).
    """
    r = xbarsim.simulate("tiny", FC16)
    b = r.bottlenecks["fc"]
    assert nonzero(b.cycles) == {"DRAM": 26 + 18, "tile buffer": 3 + 3, "array read": 2, "ADC conversion": 16}
    assert b.bound == "DRAM" and b.bound_resource == "dram"
    arrays = r.arch.arrays
    assert b.ladder.factors == pytest.approx((1.0, 1 / arrays, 16 / 18, 18 / 68))
    assert b.ladder.peak == pytest.approx(2 * arrays * 128 * 1e9 / 16)
    assert b.ladder.achieved == pytest.approx(2 * 128 * 1e9 / 68)
    assert r.bottlenecks.network.factors == pytest.approx(b.ladder.factors)


def test_a_conv_whose_copy_is_the_bottleneck_by_hand():
    """The conv of test_conv_rows_by_hand (one tile, one PE): the chain back from row 2's store
    (116-132) runs through its relu (110-116), its MVM (85-110), its feed (80-85, which waited
    for row 0's step: its store 64-80), row 0's relu (58-64), MVM (33-58), feed (28-33), the
    write of input row 1 (26-28), its DRAM read (13-26) and row 0's (0-13).

    MVMs: n = 12 items, a = 2, b = 1: read-bound, read 2 + 11 x 2 = 24 and conversion 1 each.
    """
    one = xbarsim.evolve(xbarsim.load_arch("tiny"), {"chip.tiles": 1, "tile.pes": 1})
    net = {"version": 1, "name": "conv", "input": {"H": 3, "W": 3, "C": 1},
           "layers": [{"name": "conv", "type": "conv", "M": 2, "R": 3, "padding": 1, "activation": "relu"}]}
    r = xbarsim.simulate(one, net)
    assert nonzero(r.bottlenecks["conv"].cycles) == {
        "DRAM": 13 + 13 + 16 + 16, "tile buffer": 2 + 5 + 5, "array read": 24 + 24, "ADC conversion": 1 + 1,
        "digital units": 6 + 6}


def test_a_pipelined_pair_by_hand():
    """test_pipeline_pushes_into_the_readers_region_by_hand: layer a (0-50): DRAM 18, buffer write
    2, feed 2, MVM 18 (a = b = 2: read-bound, 2 + 7 x 2 = 16 and 2), relu 8, push into b's region 2;
    layer b (50-83): feed 2, MVM 17 (16 and 1), store 14."""
    one = xbarsim.evolve(xbarsim.load_arch("tiny"), {"chip.tiles": 1})
    net = {"version": 1, "name": "two", "input": {"H": 1, "W": 2, "C": 4}, "layers": [
        {"name": "a", "type": "conv", "M": 4, "R": 1, "activation": "relu"}, {"name": "b", "type": "conv", "M": 2, "R": 1}]}
    r = xbarsim.simulate(one, net, schedule="pipeline")
    assert nonzero(r.bottlenecks["a"].cycles) == {"DRAM": 18, "tile buffer": 6, "array read": 16,
                                                  "ADC conversion": 2, "digital units": 8}
    assert nonzero(r.bottlenecks["b"].cycles) == {"tile buffer": 2, "array read": 16, "ADC conversion": 1,
                                                  "DRAM": 14}


def test_waits_are_split_by_what_the_layer_was_waiting_for():
    """A synthetic record: layer 1's DRAM read (op 2, 20-30) asked for its resources at 5, its
    region admitted it at 8, and it started when layer 0's read (op 1, 0-20) released the DRAM.
    Layer 1's span (0-30, from its buffer read op 0 at 0-5) is: its read 10 (DRAM), and during
    layer 0's read, 5 cycles of dependency wait (0-5), 3 of back-pressure (5-8) and 12 waiting
    for the DRAM (8-20)."""
    kinds = REGISTRY.op_names
    resource_names = REGISTRY.resource_names
    resources = np.zeros(2, dtype=[("kind", "<i2"), ("tile", "<i4"), ("a", "<i4"), ("b", "<i4")])
    resources["kind"] = [resource_names.index("dram"), resource_names.index("tile_buffer")]
    stream = SimpleNamespace(
        operations=3, op_names=kinds, resource_names=resource_names, resources=resources, layer_names=("l0", "l1"),
        op_kind=np.array([kinds.index("buffer_read"), kinds.index("dram_read"), kinds.index("dram_read")]),
        op_layer=np.array([1, 0, 1]), res_ptr=np.array([0, 1, 2, 3]), res=np.array([1, 0, 0]),
        resource_name=lambda r: ("dram", "tile_buffer:0")[r])
    z = np.zeros(3, dtype=np.int64)
    timeline = Timeline(cycles=30, request=np.array([0, 0, 5]), admit=np.array([0, 0, 8]), start=np.array([0, 0, 20]),
                        end=np.array([5, 20, 30]), cause=np.array([-1, -1, 1]), step_end=z, busy=z, region_peak=z,
                        free_time=z - 1, events=0)
    matrix, bounds, resources_bound = attribute(stream, timeline, np.array([5, 20, 10]), arch=None)
    cats = REGISTRY.time_categories
    got = {c: int(v) for c, v in zip(cats, matrix[1]) if v}
    assert got == {"DRAM": 10, "dependency wait": 5, "back-pressure": 3, "wait: dram": 12}
    assert bounds[1] == "wait: dram" and resources_bound[1] == "dram"
    assert {c: int(v) for c, v in zip(cats, matrix[0]) if v} == {"DRAM": 20}


def _energies(r):
    """pJ of each (component, action), summed over layers."""
    out = {}
    for (_, c, a), pj in r.energy.by_action.items():
        out[(c, a)] = out.get((c, a), 0.0) + pj
    return out


def test_data_types_of_one_fc_layer_by_hand():
    """Input activations: the DRAM read of the input and its 16 B over the off-chip link, the tile
    buffer read, the bus, the input register, DACs, row drives and array reads. Partial sums:
    samples, conversions, shift-and-adds, the PE output register. Output activations: the buffer
    write, the tile output register, the DRAM write and its 8 B over the link. No weights moved
    (they are resident); leakage is static."""
    r = xbarsim.simulate("tiny", FC16)
    e = _energies(r)
    link = e[("offchip", "transfer_bytes")] / 24
    inputs = sum(e.get(k, 0.0) for k in [("dram", "read_bytes"), ("tile_buffer", "read"), ("tile_bus", "transfer_bytes"),
                                         ("ireg", "write_bytes"), ("dac", "convert"), ("xbar", "row_activation"),
                                         ("xbar", "read")]) + 16 * link
    psums = sum(e.get(k, 0.0) for k in [("sh", "sample"), ("adc", "convert"), ("shift_add", "op"), ("oreg", "write_bytes")])
    outputs = sum(e.get(k, 0.0) for k in [("tile_buffer", "write"), ("tile_oreg", "write_bytes"),
                                          ("dram", "write_bytes")]) + 8 * link
    total = r.energy_by_data.total
    assert total["weights"] == 0
    assert total["input activations"] == pytest.approx(inputs)
    assert total["partial sums"] == pytest.approx(psums)
    assert total["output activations"] == pytest.approx(outputs)
    assert total["static"] == pytest.approx(r.energy.leakage_pj) and r.energy.leakage_pj > 0


def test_weight_fetches_and_writes_are_weights():
    """A network that does not fit the tiny chip at once is reprogrammed: every cell written and
    every byte of weights read from DRAM (with its off-chip transfer) is weight energy."""
    net = {"version": 1, "name": "big", "input": {"H": 1, "W": 1, "C": 64},
           "layers": [{"name": f"fc{i}", "type": "fc", "M": 64} for i in range(6)]}
    r = xbarsim.simulate("tiny", net, schedule="layer")
    assert r.rounds > 1
    parts = r.stream.parts
    fetched = int((parts["weight_bytes"] * parts["copies"]).sum())
    e = _energies(r)
    per_byte = e[("dram", "read_bytes")] / r.count("dram.read_bytes") + \
        e[("offchip", "transfer_bytes")] / r.count("offchip.transfer_bytes")
    assert r.energy_by_data.total["weights"] == pytest.approx(e[("xbar", "write")] + fetched * per_byte)


def test_every_action_and_operation_kind_declares_what_the_analysis_needs():
    from xbarsim.hardware.registry import DATA_TYPES
    for component in REGISTRY.components.values():
        assert set(component.data) == set(component.actions) and set(component.data.values()) <= set(DATA_TYPES)
    for op in REGISTRY.ops.values():
        assert op.time and (op.split is None) == (not op.phases)


def test_the_summary_and_the_report_show_them(tmp_path):
    r = xbarsim.simulate("tiny", "mlp")
    text = str(r)
    assert "energy by data type" in text and "bottlenecks" in text and "ladder" in text
    assert math.isclose(sum(r.energy_by_data.total.values()), r.energy_pj)
