"""Chip-level activation (``chip.activation: chip``, NeuroSim V1.4's ``chipActivation``).

* Counting and timing still agree with the option on: chip-activation archs are among those of
  ``test_busy_time_is_the_work_counted_on_each_resource`` (tests/property/test_timing_properties.py).
* The partial sums leaving the tiles are the layer's outputs at ``tile.psum_bits`` instead of the
  output bits: per weight layer, the bytes streamed through the tiles' partial-sum ports are the
  output elements x psum bits / 8 (rounded up per step), from the layer shapes.
* Every output is activated exactly once, wherever: the activation counts with the option on
  equal those of the same chip activating in its tiles.
* With the option off the new fields change nothing.
* ``tile.psum_bus``: each partial-sum stream is preceded by exactly one crossing of its home tile's
  bus with the same bytes; nothing else in the stream changes, and the bus's counted bytes grow by
  exactly those bytes (the engine-vs-reference cross-check draws the option too, with its duration
  from tests/naive_timing.py ``psum_bus_cycles``).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import xbarsim
from xbarsim import MappingError
from xbarsim.config import evolve
from xbarsim.errors import ConfigError

from ..strategies import simulate_mappable as simulate, chip_activation_archs, small_archs, small_networks

schedules = st.sampled_from(["layer", "pipeline"])


@settings(max_examples=40)
@given(chip_activation_archs(), small_networks(), schedules, st.integers(1, 2))
def test_partial_sums_leave_tiles_at_psum_width(arch, network, schedule, batch):
    result = simulate(arch, network, schedule, batch)
    stream = result.stream
    psum = stream.kind_mask("psum_out")
    for layer in network.weight_layers:
        index = stream.layer_names.index(layer.name)
        mine = psum & (stream.op_layer == index)
        streamed = int(stream.op_amount[mine].sum())
        exact = batch * layer.E * layer.F * layer.M * arch.tile.psum_bits / 8
        # each step rounds its bytes up: at most one byte more per step
        assert exact <= streamed < exact + int(mine.sum())
        # and the same bytes cross the bus to the chip's activation units
        transfers = stream.kind_mask("transfer") & (stream.op_layer == index)
        assert int(stream.op_amount[transfers].sum()) >= streamed


@settings(max_examples=30)
@given(chip_activation_archs(), small_networks(), schedules)
def test_every_output_is_activated_once_wherever(arch, network, schedule):
    at_chip = simulate(arch, network, schedule)
    at_tile = simulate(evolve(arch, {"chip.activation": "tile"}), network, schedule)
    for layer in network.layers:
        assert at_chip.count("act.op", layer.name) == at_tile.count("act.op", layer.name)
    relu = sum(layer.E * layer.F * layer.M for layer in network.weight_layers if layer.activation == "relu")
    assert int(at_chip.stream.op_amount[at_chip.stream.kind_mask("chip_act")].sum()) == relu


@settings(max_examples=30)
@given(chip_activation_archs(), small_networks(), schedules, st.integers(1, 2))
def test_partial_sums_cross_the_tile_bus_once_with_psum_bus(arch, network, schedule, batch):
    off = simulate(evolve(arch, {"tile.psum_bus": False}), network, schedule, batch)
    on = simulate(evolve(arch, {"tile.psum_bus": True}), network, schedule, batch)
    s = on.stream
    assert not off.stream.kind_mask("psum_bus").any()
    bus, port = np.flatnonzero(s.kind_mask("psum_bus")), np.flatnonzero(s.kind_mask("psum_out"))
    assert len(bus) == len(port) == int(off.stream.kind_mask("psum_out").sum())
    for o in port:  # its one predecessor is a bus crossing of the same bytes on the same tile
        preds = s.pred[s.pred_ptr[o]:s.pred_ptr[o + 1]]
        assert len(preds) == 1 and s.op_names[s.op_kind[preds[0]]] == "psum_bus"
        assert s.op_amount[preds[0]] == s.op_amount[o]
        bus_res, port_res = s.resources[s.op_resource[preds[0]]], s.resources[s.op_resource[o]]
        assert s.resource_names[bus_res["kind"]] == "tile_bus" and bus_res["tile"] == port_res["tile"]
    # nothing else changes: the other operations, in order, with their amounts
    keep = ~s.kind_mask("psum_bus")
    assert [s.op_names[k] for k in s.op_kind[keep]] == [off.stream.op_names[k] for k in off.stream.op_kind]
    assert np.array_equal(s.op_amount[keep], off.stream.op_amount)
    moved = int(s.op_amount[bus].sum())
    assert on.count("tile_bus.transfer_bytes") - off.count("tile_bus.transfer_bytes") == moved
    others = {key: n for key, n in on.actions.items() if key[1:] != ("tile_bus", "transfer_bytes")}
    assert others == {key: n for key, n in off.actions.items() if key[1:] != ("tile_bus", "transfer_bytes")}


@settings(max_examples=20)
@given(small_archs(), small_networks(), schedules, st.integers(1, 2), st.integers(1, 1 << 10), st.booleans())
def test_chip_activation_fields_change_nothing_when_off(arch, network, schedule, units, bits, bus):
    assume(arch.chip.activation == "tile")
    base = simulate(arch, network, schedule)
    other = simulate(evolve(arch, {"chip.activation_units": units, "tile.psum_port_bits": bits,
                                   "tile.psum_bus": bus}), network, schedule)
    assert base.stream == other.stream
    assert np.array_equal(base.timeline.end, other.timeline.end)


@pytest.mark.parametrize("changes, path", [
    ({"interconnect.topology": "mesh"}, "chip.activation"),
    ({"chip.activation_units": 0}, "chip.activation_units"),
    ({"tile.psum_port_bits": 0}, "tile.psum_port_bits"),
    ({"tile.psum_bus": 3}, "tile.psum_bus"),
])
def test_chip_activation_needs_a_bus_units_and_a_port(changes, path):
    spec = {"version": 1, "base": "neurosim-sram22", "chip": {"activation": "chip", "activation_units": 4},
            "tile": {"psum_port_bits": 52}}
    xbarsim.load_arch(spec)  # valid as it stands
    for dotted, value in changes.items():
        section, key = dotted.split(".")
        spec.setdefault(section, {})[key] = value
    with pytest.raises(ConfigError) as error:
        xbarsim.load_arch(spec)
    assert ".".join(map(str, error.value.path)) == path
    assert str(error.value).count("\n") == 0


@settings(max_examples=20)
@given(chip_activation_archs(), small_networks(), schedules, st.sampled_from([1, 3, 64]), st.sampled_from([8, 13, 512]))
def test_replay_retimes_the_chip_units_and_the_partial_sum_port(tmp_path_factory, arch, network, schedule, units,
                                                                 bits):
    """chip.activation_units and tile.psum_port_bits are timing fields: a replay with them changed
    equals a fresh run of the recorded stream on the new chip."""
    from xbarsim.counting import count_stream
    from xbarsim.simulation import execute

    path = tmp_path_factory.mktemp("replay") / "run.h5"
    original = simulate_traced(arch, network, schedule, path)
    new = evolve(arch, {"chip.activation_units": units, "tile.psum_port_bits": bits})
    replayed = xbarsim.replay(path, arch=new)
    timeline, _ = execute(original.stream, new)
    assert replayed.cycles == timeline.cycles
    assert np.array_equal(replayed.timeline.end, timeline.end)
    assert replayed.actions == count_stream(original.stream, new)


def simulate_traced(arch, network, schedule, path):
    try:
        return xbarsim.simulate(arch, network, batch=2, schedule=schedule, trace=path, detail="event")
    except MappingError:
        assume(False)


def test_chip_activation_refuses_other_nonlinearities_in_one_line():
    """The chip's units are ReLUs (NeuroSim's GreLu): a GELU layer is a MappingError naming it."""
    from xbarsim.workload import NetBuilder, load_workload

    net = NetBuilder("gelu", 4, 4, 8)
    net.fc("fc", 8, activation="gelu")
    arch = evolve(xbarsim.load_arch("neurosim-sram22"), {"chip.activation": "chip", "chip.activation_units": 4,
                                                         "tile.psum_port_bits": 52, "tile.vector_unit.lanes": 8})
    with pytest.raises(MappingError) as error:
        xbarsim.simulate(arch, load_workload(net.spec))
    assert "'fc'" in str(error.value) and "gelu" in str(error.value) and "\n" not in str(error.value)
