"""Multi-phase conversion after accumulation (``crossbar.phase_cycles``, NeuRRAM's two-phase inputs).

* Counting and timing agree with phases: ``small_archs`` draws ``phase_cycles``, so the event
  model's equality with the cycle-stepped reference, the busy-time = counted-work property and
  the independent stream derivation (tests/property/test_timing_properties.py) cover them; the
  functional model's exactness and its agreement with the naive loops
  (tests/property/test_functional_properties.py) likewise, through ``crossbar_specs``.
* Conversions are phases x columns, from the layer shapes: per weight layer, ``vectors x
  ceil(T / phase_cycles) x physical columns x row tiles``; reads and DAC conversions do not change.
* Inert when off: ``phase_cycles`` at least the input cycles gives exactly the run without it.
* A bad value is a one-line error naming the field.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import xbarsim
from xbarsim.config import evolve
from xbarsim.errors import ConfigError

from ..strategies import simulate_mappable as simulate, small_archs, small_networks

schedules = st.sampled_from(["layer", "pipeline"])


def _accumulating(phase_cycles):
    return small_archs(**{"crossbar.adc_position": "after_accumulation", "crossbar.phase_cycles": phase_cycles})


@settings(max_examples=30)
@given(st.integers(1, 3).flatmap(_accumulating), small_networks(), schedules, st.integers(1, 2))
def test_conversions_are_phases_times_columns(arch, network, schedule, batch):
    xb = arch.crossbar
    phased = simulate(arch, network, schedule, batch)
    whole = simulate(evolve(arch, {"crossbar.phase_cycles": None}), network, schedule, batch)
    for layer in network.weight_layers:
        T = math.ceil((layer.input_bits or xb.input_bits) / xb.dac_bits)
        phases = math.ceil(T / xb.phase_cycles)
        assert phased.count("adc.convert", layer.name) == phases * whole.count("adc.convert", layer.name)
        for action in ("xbar.read", "dac.convert", "xbar.row_activation"):
            assert phased.count(action, layer.name) == whole.count(action, layer.name)
        if layer.groups == 1:  # from the shapes: every vector, phase, physical column and row tile
            columns = layer.M * xb.columns_per_weight
            row_tiles = math.ceil(layer.rows_per_group / xb.rows)
            vectors = batch * layer.E * layer.F
            assert phased.count("adc.convert", layer.name) == vectors * phases * columns * row_tiles


@settings(max_examples=20)
@given(_accumulating(None), small_networks(), schedules, st.integers(0, 3))
def test_phases_are_inert_when_off(arch, network, schedule, beyond):
    """``phase_cycles`` of at least every layer's input cycles is one phase: the run without it."""
    widest = max([arch.crossbar.input_cycles] + [math.ceil(layer.input_bits / arch.crossbar.dac_bits)
                                                   for layer in network.weight_layers if layer.input_bits])
    one = simulate(arch, network, schedule)
    capped = simulate(evolve(arch, {"crossbar.phase_cycles": min(16, widest + beyond)}), network, schedule)
    assert capped.cycles == one.cycles
    assert capped.actions == one.actions
    assert capped.energy.total_pj == one.energy.total_pj


@pytest.mark.parametrize("crossbar, message", [
    ({"phase_cycles": 2, "adc_position": "per_cycle"}, "crossbar.phase_cycles: expected null when adc_position is 'per_cycle', got 2"),
    ({"phase_cycles": 0, "adc_position": "after_accumulation"},
     "crossbar.phase_cycles: expected an integer 1..16, got 0"),
    ({"phase_cycles": "two", "adc_position": "after_accumulation"}, "crossbar.phase_cycles: expected an integer"),
])
def test_phase_cycles_errors_are_one_line(crossbar, message):
    with pytest.raises(ConfigError) as info:
        xbarsim.load_arch({"version": 1, "base": "neurram", "crossbar": crossbar})
    text = str(info.value)
    assert text.startswith(message) and "\n" not in text
