"""Properties of transformer runs (token networks, products of activations, prefill and decode).

* The event model equals the cycle-stepped reference on the streams of prefills and decode steps
  (its duration formulas for the vector unit, the matrix unit and operand writes are its own).
* Counts follow the workload: the matrix unit's MAC slots are the products' MACs (counted by the
  workload, causal masks included) times the passes of the operand widths; the vector unit's
  operations are the elements of each function times its operations per element; operand writes
  on crossbars are the cells of every key written into every copy that computes with them.
* Stores and regions: buffer occupancy never exceeds the capacities left beside the stores.
* For single-tile cases, the stream itself (every operation's amount, start and end) equals an
  independent derivation from the layer shapes (tests/naive_timing.py, ``reference_stream``).
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import xbarsim
from xbarsim import MappingError
from xbarsim.mapping import map_network
from xbarsim.mapping.placement import for_phase
from xbarsim.simulation import execute
from xbarsim.timing.durations import resource_capacities, stage_cost
from xbarsim.timing.stream import LOCATIONS, build_stream, region_capacities

from ..naive_timing import naive_run, reference_stream, stream_run
from ..strategies import reference_sequence_cases, small_archs, small_sequence_networks

schedules = st.sampled_from(["layer", "pipeline"])


def phase_stream(arch, network, schedule, step):
    """The stream of the prefill (step None) or of a decode step, or skip when it does not map."""
    try:
        mapping = map_network(arch, network, schedule, stage_cost(arch))
        prefill = build_stream(mapping, 1)
        region_capacities(prefill, arch)
        if step is None:
            return prefill, network
        phase = network.decode_step(step)
        given = {int(r["layer"]): (LOCATIONS[int(r["level"])], int(r["tile"])) for r in prefill.stores
                 if not r["unit"]}
        stream = build_stream(for_phase(mapping, phase), 1, stores=given)
        region_capacities(stream, arch)
        return stream, phase
    except MappingError:
        assume(False)


def steps(network):
    return st.sampled_from([None] + list(range(network.decode_steps)))


@settings(max_examples=60, deadline=None)
@given(small_archs(), small_sequence_networks(), schedules, st.data())
def test_event_model_equals_the_cycle_stepped_reference(arch, network, schedule, data):
    stream, _ = phase_stream(arch, network, schedule, data.draw(steps(network)))
    timeline, durations = execute(stream, arch)
    capacities, regions = resource_capacities(stream, arch), region_capacities(stream, arch)
    times, naive_durations = stream_run(stream, arch, capacities, regions)
    assert durations.tolist() == naive_durations
    for o in range(stream.operations):
        got = tuple(int(v) for v in (timeline.request[o], timeline.admit[o], timeline.start[o], timeline.end[o]))
        assert got == times[o], stream.step_label(int(stream.op_step[o]))


def _passes(arch, layer):
    w = arch.tile.matrix_unit.operand_bits
    a = layer.input_bits or arch.crossbar.input_bits
    b = layer.weight_bits or arch.crossbar.weight_bits
    return -(-a // w) * -(-b // w)


@settings(max_examples=60, deadline=None)
@given(small_archs(), small_sequence_networks(), schedules, st.data())
def test_counts_follow_the_workload(arch, network, schedule, data):
    stream, phase = phase_stream(arch, network, schedule, data.draw(steps(network)))
    layers = stream.op_layer
    kind = np.array(stream.op_names)[stream.op_kind]
    ops = arch.tile.vector_unit.ops
    for layer in phase.layers:
        mine = layers == layer.index
        if layer.type == "matmul" and not xbarsim.mapping.lowering.on_crossbars(arch, layer):
            slots = int(stream.op_amount[mine & (kind == "matmul")].sum())
            assert slots == layer.macs * _passes(arch, layer), layer.name
        vec = int(stream.op_amount[mine & (kind == "vec")].sum())
        expected = 0
        if layer.type in ("softmax", "layernorm", "rmsnorm", "gelu", "silu"):
            expected += layer.input_elements * ops[layer.type]
        if layer.type == "mul":
            expected += layer.input_elements * (len(layer.inputs) - 1) * ops["mul"]
        if layer.bias:
            expected += layer.output_elements
        if layer.activation in ("gelu", "silu", "tanh"):
            expected += layer.output_elements * ops[layer.activation]
        assert vec == expected, layer.name
        if layer.type == "embedding":  # its table's rows, from DRAM
            reads = int(stream.op_amount[mine & (kind == "dram_read")].sum())
            assert reads >= layer.output_elements * -(-(layer.output_bits or arch.crossbar.input_bits) // 8)


@settings(max_examples=40, deadline=None)
@given(small_archs(), small_sequence_networks(), schedules, st.data())
def test_operand_writes_are_the_cells_of_every_key_written(arch, network, schedule, data):
    stream, phase = phase_stream(arch, network, schedule, data.draw(steps(network)))
    kind = np.array(stream.op_names)[stream.op_kind]
    cells_per_weight = arch.crossbar.columns_per_weight
    for row in stream.stores:
        if not row["unit"]:
            continue
        layer = phase.layers[int(row["layer"])]
        mine = (stream.op_layer == layer.index) & (kind == "write_operand")
        new_keys = phase.layers[layer.inputs[1]].F  # what this pass's producer computes
        other = layer.contraction if layer.transpose_b else layer.head_columns
        # every copy that computes in this pass holds the whole operand
        copies = {int(stream.copies["copy"][c]) for c in range(len(stream.copies))
                  if stream.copies["layer"][c] == layer.index}
        used = {int(x) for x in np.unique(stream.step_segment[(stream.step_layer == layer.index)
                                                            & (stream.step_kind == 3)])}
        assert used <= copies
        expected = len(used) * layer.heads * new_keys * other * cells_per_weight
        assert int(stream.op_aux[mine].sum()) == expected, layer.name


@settings(max_examples=40, deadline=None)
@given(small_archs(), small_sequence_networks(), schedules, st.data())
def test_buffers_stay_within_what_the_stores_leave(arch, network, schedule, data):
    stream, _ = phase_stream(arch, network, schedule, data.draw(steps(network)))
    timeline, _ = execute(stream, arch)
    capacity = region_capacities(stream, arch)
    assert np.all(timeline.region_peak <= capacity)
    regions = stream.regions
    for row in stream.stores:
        if LOCATIONS[int(row["level"])] == "tile":
            mine = (regions["tile"] == row["tile"]) & (regions["layer"] == row["layer"]) & \
                (regions["source"] == row["source"])  # the store's reservation (operand b is read from no region)
            phases = set(regions["phase"][regions["tile"] == row["tile"]].tolist())
            assert set(regions["phase"][mine].tolist()) == phases  # reserved in every phase of its tile
            assert np.all(capacity[mine] == row["bytes"]) and np.all(timeline.region_peak[mine] == 0)
    for tile, phase in {tuple(x) for x in regions[["tile", "phase"]].tolist()}:
        together = (regions["tile"] == tile) & (regions["phase"] == phase)
        assert capacity[together].sum() <= arch.tile.buffer.size


def _sequence_label(stream, phase, o, which):
    """The key the reference derivation gives the same operation (see tests/naive_timing.py)."""
    kind = stream.op_names[stream.op_kind[o]]
    s = int(stream.op_step[o])
    layer, image, row = int(stream.step_layer[s]), int(stream.step_image[s]), int(stream.step_row[s])
    if int(stream.step_kind[s]) == 1:  # a load: (source row of the network input or a layer)
        first = stream.op_region[stream.step_ops[s]]
        source = int(stream.regions["source"][first])
        return ("load" if kind == "dram_read" else "load-write", layer, image, row, source)
    if kind == "buffer_write":
        if stream.op_region[o] >= 0:
            return ("push", layer, image, row, int(stream.regions["layer"][stream.op_region[o]]))
        product = int(stream.stores["layer"][stream.stores["source"] == layer][0])
        return ("store-write", layer, image, row, product)
    k = which[(s, kind)] = which.get((s, kind), -1) + 1  # its order among its step's operations of its kind
    if kind == "buffer_read":
        return ("read", layer, image, row) + ((1,) if k else ())
    if kind == "vec":
        spec = phase.layers[layer]
        names = (["vec"] if spec.type in ("softmax", "layernorm", "rmsnorm", "gelu", "silu", "mul") else []) + \
            (["bias"] if spec.bias else []) + (["activation"] if spec.activation in ("gelu", "silu", "tanh") else [])
        return (names[k], layer, image, row)
    return ({"dram_write": "store"}.get(kind, kind), layer, image, row)


@settings(max_examples=50, deadline=None)
@given(reference_sequence_cases())
def test_the_stream_builder_agrees_with_an_independent_derivation(case):
    arch, network, step, schedule = case
    stream, phase = phase_stream(arch, network, schedule, step)
    timeline, _ = execute(stream, arch)
    ops, steps_, resources = reference_stream(arch, phase, 1, schedule)
    capacities = {index: (arch.dram.channels if name == "dram" else arch.tile.buffer.ports if name == "tile_buffer"
                          else 1) for name, index in resources.items()}
    regions = {g: 1 << 40 for g in range(max([o["region"] for o in ops] + [-1]) + 1)}
    times = naive_run(ops, steps_, capacities, regions)
    derived = {o["label"]: (times[i][2], times[i][3], o["amount"]) for i, o in enumerate(ops)}
    which: dict = {}
    simulated = {_sequence_label(stream, phase, o, which): (int(timeline.start[o]), int(timeline.end[o]),
                                                            int(stream.op_amount[o]))
                 for o in range(stream.operations)}
    assert simulated == derived
