"""Properties of the architecture model: the event model equals a cycle-stepped reference;
counts are conserved and scale with the batch; speed-ups never slow a run down."""

from __future__ import annotations


import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import xbarsim
from xbarsim import MappingError
from xbarsim.config import evolve
from xbarsim.counting import count_stream
from xbarsim.mapping import SCHEDULES, map_network
from xbarsim.timing.durations import stream_durations
from xbarsim.timing.engine import run_stream
from xbarsim.timing.schedule import build_stream

from ..naive_timing import naive_run
from ..strategies import small_archs, small_networks

schedules = st.sampled_from(SCHEDULES)


def mapped(arch, network, schedule):
    try:
        return map_network(arch, network, schedule)
    except MappingError:
        assume(False)


@settings(max_examples=80)
@given(small_archs(), small_networks(), schedules, st.integers(1, 2))
def test_event_model_equals_cycle_stepped_reference(arch, network, schedule, batch):
    mapping = mapped(arch, network, schedule)
    stream = build_stream(mapping, batch)
    durations = stream_durations(stream, mapping, arch)
    timeline = run_stream(stream, durations)
    makespan, times, naive_durations = naive_run(stream, mapping, arch)
    assert durations == naive_durations  # closed forms equal cycle-by-cycle pipelines
    assert timeline.cycles == makespan
    op = 0
    for step in stream.steps:
        for i in range(len(step.ops)):
            assert (int(timeline.start[op]), int(timeline.end[op])) == times[(step.index, i)], step.label
            op += 1


@settings(max_examples=60)
@given(small_archs(), small_networks(), schedules, st.integers(1, 3))
def test_adc_conversions_are_conserved(arch, network, schedule, batch):
    """ADC conversions = vectors x conversions per read group x row tiles x columns used, over layers."""
    mapping = mapped(arch, network, schedule)
    counts = count_stream(build_stream(mapping, batch), mapping)
    expected = 0
    for m in mapping.layers:
        for part in m.parts:
            low = part.lowered
            expected += (batch * m.layer.vectors * low.crossbar.conversions_per_read_group * low.tiling.row_tiles
                         * low.tiling.physical_columns * low.groups)
    assert counts.count("adc.convert") == expected
    assert counts.count("shift_add.op") == expected
    reads = sum(batch * m.layer.vectors * p.lowered.crossbar.input_cycles * p.lowered.arrays
                for m in mapping.layers for p in m.parts)
    assert counts.count("xbar.read") == reads
    assert counts.count("dac.convert") == counts.count("xbar.row_activation")
    macs = sum(m.layer.macs for m in mapping.layers) * batch
    assert network.macs * batch == macs


PER_VECTOR = ("xbar.read", "xbar.row_activation", "dac.convert", "sh.sample", "adc.convert", "shift_add.op",
              "ireg.write_bytes", "oreg.write_bytes", "tile_bus.transfer_bytes", "act.op", "pool.op",
              "tile_shift_add.op")


@settings(max_examples=40)
@given(small_archs(), small_networks(), schedules)
def test_doubling_the_batch_doubles_every_per_vector_count(arch, network, schedule):
    mapping = mapped(arch, network, schedule)
    one = count_stream(build_stream(mapping, 1), mapping)
    two = count_stream(build_stream(mapping, 2), mapping)
    for action in PER_VECTOR:
        assert two.count(action) == 2 * one.count(action), action
    # weights are written once per batch, however large
    assert two.count("xbar.write") == one.count("xbar.write")


def simulate(arch, network, schedule, batch=1):
    try:
        return xbarsim.simulate(arch, network, batch=batch, schedule=schedule)
    except MappingError:
        assume(False)


def mvm_cycles(result):
    """Cycles of every array MVM, in stream order."""
    ops = [op for step in result.stream.steps for op in step.ops]
    return [int(e - s) for op, s, e in zip(ops, result.timeline.start, result.timeline.end) if op.kind == "mvm"]


def uncontended(arch):
    """The same chip with enough ports and channels that no data transfer ever waits in a queue."""
    return evolve(arch, {"dram.channels": 256, "tile.buffer.ports": 256, "global_buffer.ports": 256,
                         "interconnect.topology": "mesh", "interconnect.tiles_per_router": 1})


@settings(max_examples=40)
@given(small_archs(), small_networks(), st.integers(1, 3), schedules)
def test_more_adcs_per_array_never_slow_an_array_down(arch, network, extra, schedule):
    slow = simulate(arch, network, schedule)
    more = min(arch.crossbar.cols, arch.pe.adcs_per_array + extra)
    fast = simulate(evolve(arch, {"pe.adcs_per_array": more}), network, schedule)
    assert all(f <= s for f, s in zip(mvm_cycles(fast), mvm_cycles(slow)))


@settings(max_examples=40)
@given(small_archs(), small_networks(), st.integers(1, 3))
def test_more_adcs_per_array_never_slow_a_layer_down_when_data_paths_are_free(arch, network, extra):
    """Without queueing at shared resources every start time is a max-plus function of durations,
    so a faster array can only make layers finish earlier. (With FIFO queues, as in hardware, a
    faster unit can reorder requests and occasionally lengthen a run: docs/architecture-model.md, "Scheduling anomalies".)"""
    arch = uncontended(arch)
    slow = simulate(arch, network, "layer")
    more = min(arch.crossbar.cols, arch.pe.adcs_per_array + extra)
    fast = simulate(evolve(arch, {"pe.adcs_per_array": more}), network, "layer")
    assert fast.cycles <= slow.cycles
    for a, b in zip(slow.layers, fast.layers):
        assert b.end_cycle <= a.end_cycle, a.name


@settings(max_examples=40)
@given(small_archs(), small_networks(), schedules)
def test_more_dram_bandwidth_never_slows_a_transfer_or_a_free_run_down(arch, network, schedule):
    slow = simulate(arch, network, schedule)
    fast = simulate(evolve(arch, {"dram.bandwidth": "16GB/s"}), network, schedule)
    dram = ("fetch_dram", "store_dram", "weights_dram")
    ops = [op for step in slow.stream.steps for op in step.ops]
    for op, s0, e0, s1, e1 in zip(ops, slow.timeline.start, slow.timeline.end, fast.timeline.start, fast.timeline.end):
        if op.kind in dram:
            assert e1 - s1 <= e0 - s0
    free = uncontended(arch)
    slow = simulate(free, network, "layer")
    fast = simulate(evolve(free, {"dram.bandwidth": "16GB/s"}), network, "layer")
    assert fast.cycles <= slow.cycles
    for a, b in zip(slow.layers, fast.layers):
        assert b.end_cycle <= a.end_cycle, a.name


@settings(max_examples=30)
@given(small_archs(), small_networks(), schedules, st.floats(0.1, 10))
def test_energy_is_linear_in_the_table(arch, network, schedule, factor):
    result = simulate(arch, network, schedule)
    table = result.energy_table.to_dict()
    scaled = {**table, "components": {}}
    for name, entry in table["components"].items():
        actions = {}
        for action, energy in entry["actions"].items():
            if isinstance(energy, dict):
                actions[action] = {"by": energy["by"], "values": {k: _scale(v, factor) for k, v in energy["values"].items()}}
            else:
                actions[action] = _scale(energy, factor)
        scaled["components"][name] = {**entry, "actions": actions}
    again = xbarsim.simulate(arch, network, schedule=schedule, energy=scaled)
    assert again.cycles == result.cycles
    assert np.isclose(again.energy.dynamic_pj, factor * result.energy.dynamic_pj, rtol=1e-9)
    for key, value in result.energy.by_action.items():
        assert np.isclose(again.energy.by_action[key], factor * value, rtol=1e-9)


def _scale(text, factor):
    from xbarsim import units
    return units.format(units.parse(text, "energy") * factor, "energy")
