"""Sanity properties of energy and area (issue 9): bounds and monotonicity, on random inputs."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import xbarsim
from xbarsim.energy import area_mm2, load_energy
from xbarsim.energy.gates import adder_area, adder_energy, dff_area, dff_energy, gates, shift_add_stages
from xbarsim.energy.models import adc_energy_area
from xbarsim.energy.table import resolve

from xbarsim.errors import MappingError
from xbarsim.mapping import activity

from ..strategies import (activity_layouts, adc_designs, area_growths, driven_layouts, logic_roadmaps, nodes_m, small_archs,
                          small_networks, supplies_v, technologies)


def _simulate(arch, network, **options):
    try:
        return xbarsim.simulate(arch, network, **options)
    except MappingError:  # the random network does not fit the random chip: not this property's concern
        assume(False)


@given(adc_designs(), st.integers(1, 3), st.floats(1.0, 100.0))
def test_adc_energy_is_non_decreasing_in_bits_and_rate(design, more_bits, faster):
    kind, bits, rate, node = design
    energy = adc_energy_area(kind, bits, rate, node)[0]
    assert adc_energy_area(kind, bits + more_bits, rate, node)[0] >= energy
    assert adc_energy_area(kind, bits, rate * faster, node)[0] >= energy * (1 - 1e-12)


@given(area_growths(), technologies())
def test_area_is_non_decreasing_in_every_count_and_size(growth, tech):
    arch, field, larger = growth
    bigger = xbarsim.evolve(arch, {field: larger})
    table = load_energy({"version": 1, "name": "models", "model": tech})
    assert area_mm2(table, bigger)[0] >= area_mm2(table, arch)[0] * (1 - 1e-12)


@settings(max_examples=30)
@given(small_archs(), small_networks(), st.sampled_from(["layer", "pipeline"]), st.booleans(), technologies())
def test_achieved_efficiency_never_exceeds_the_best_case(arch, network, schedule, modelled, tech):
    energy = {"version": 1, "name": "models", "model": tech} if modelled else None
    result = _simulate(arch, network, schedule=schedule, energy=energy)
    assert result.tops_per_w <= result.peak_tops_per_w * (1 + 1e-9)


@settings(max_examples=30)
@given(small_archs(), small_networks(), st.integers(1, 4), technologies())
def test_more_tiles_draw_more_static_power(arch, network, extra, tech):
    """More tiles, same work: the idle hardware's static power rises, and at equal time it costs energy.

    A larger mesh may route data over other hops and change the run's length, so the static
    *power* (leakage energy over the run's time) is what must rise on every example; the
    energy per inference must rise whenever the two runs take the same time and count the same actions
    (and its dynamic part stay the same, except on a bus, whose wires lengthen with every tile).
    """
    table = {"version": 1, "name": "models", "model": tech}
    base = _simulate(arch, network, schedule="layer", energy=table)
    bigger = _simulate(xbarsim.evolve(arch, {"chip.tiles": arch.chip.tiles + extra}), network,
                       schedule="layer", energy=table)
    assert bigger.energy.leakage_pj / bigger.latency_s > base.energy.leakage_pj / base.latency_s
    # same work (every count equal: a larger mesh may route data over other hops) in the same time
    if bigger.cycles == base.cycles and bigger.actions == base.actions:
        assert bigger.energy_per_inference_pj > base.energy_per_inference_pj
        if arch.interconnect.topology == "bus":
            # a bus is priced as wires across the chip (NeuroSim's X-Y bus): longer with more tiles
            assert bigger.energy.dynamic_pj >= base.energy.dynamic_pj * (1 - 1e-12)
        else:
            assert bigger.energy.dynamic_pj == pytest.approx(base.energy.dynamic_pj, rel=1e-9)


def test_energy_per_inference_rises_as_utilization_falls():
    """The equal-time case on a known example: the tiny MLP fills one tile of ``tiny``. On a mesh:
    the component models price a bus as wires across the chip (NeuroSim's X-Y bus), which lengthen
    with every tile added, so there idle tiles cost dynamic energy too."""
    table = {"version": 1, "name": "models", "model": {"node": "32nm"}}
    arch = xbarsim.evolve(xbarsim.load_arch("tiny"), {"interconnect.topology": "mesh"})
    base = xbarsim.simulate(arch, "mlp", schedule="layer", energy=table)
    bigger = xbarsim.simulate(xbarsim.evolve(arch, {"chip.tiles": arch.chip.tiles + 3}), "mlp",
                              schedule="layer", energy=table)
    assert bigger.cycles == base.cycles and bigger.arrays_used == base.arrays_used
    assert bigger.energy_per_inference_pj > base.energy_per_inference_pj
    assert bigger.energy.dynamic_pj == pytest.approx(base.energy.dynamic_pj, rel=1e-9)


@given(activity_layouts(signed_inputs=False), st.integers(1, 5), st.booleans())
def test_full_scale_digits_over_mid_level_cells_are_the_structural_activity(layout, n, zero_skip):
    """Data-aware activity with every digit at full scale and every cell at its mid level is the
    structural activity, field by field: a structural run prices as before data entered the model."""
    spec = layout.crossbar
    assume(spec.input_bits % spec.dac_bits == 0)  # otherwise the top digit cannot reach full scale
    x = np.full((n, layout.groups, layout.tiling.in_features), (1 << spec.input_bits) - 1)
    # a mid-level cell, (G_on + G_off) / 2, sits (2^cell_bits - 1) / 2 level steps, i.e. 2^cell_bits - 1
    # half steps, above G_off; a matrix row drives every cell of the array rows it spans
    arrays = 1 if layout.groups_per_array else layout.tiling.col_tiles
    mid = np.full((layout.groups, layout.tiling.in_features), arrays * spec.cols * ((1 << spec.cell_bits) - 1))
    seen = activity.observe(layout, x, zero_skip, row_levels=mid)
    base = activity.structural(layout)
    for name in activity.FIELDS:
        assert (seen[name] == base[name]).all(), name


@given(driven_layouts())
def test_data_never_drives_more_than_the_structural_estimate_at_full_levels(case):
    """Digits at most full scale, cells at most at G_on: no field exceeds its structural value with
    every cell at the top level (twice the mid level's half steps), whatever the DAC type."""
    layout, x, levels = case
    seen = activity.observe(layout, x, False, row_levels=levels)
    base = activity.structural(layout)
    assert (seen["dac_steps"] <= base["dac_steps"]).all()
    assert (seen["cell_drives"] <= base["cell_drives"]).all()
    assert (seen["cell_levels"] <= 2 * base["cell_levels"]).all()


@given(nodes_m, logic_roadmaps, st.integers(1, 40), st.integers(1, 8), supplies_v)
def test_neurosim_gates_grow_with_width(node, logic, bits, more, vdd):
    """An adder or a bank of flip-flops never costs less energy or area with more bits."""
    g = gates(node, logic)
    for energy, area in ((adder_energy, adder_area), (dff_energy, dff_area)):
        assert energy(bits + more, g, vdd) > energy(bits, g, vdd) > 0
        assert area(bits + more, g) > area(bits, g) > 0


@given(nodes_m, logic_roadmaps, st.integers(1, 12), st.integers(1, 4), st.integers(1, 16), st.integers(0, 8))
def test_neurosim_shift_add_grows_with_adc_bits_and_input_cycles(node, logic, bits, more, columns, cycles):
    """Per conversion, NeuroSim's shift-and-add never costs less with a wider ADC or more input cycles."""
    g = gates(node, logic)

    def per_conversion(adc_bits, input_cycles):
        return sum(n * (adder_energy(b, g, 0.8) + dff_energy(d, g, 0.8))
                   for n, b, d in shift_add_stages(adc_bits, columns, input_cycles))

    base = per_conversion(bits, 1 + cycles)
    assert per_conversion(bits + more, 1 + cycles) >= base
    assert per_conversion(bits, 1 + cycles + more) >= base


@given(nodes_m, logic_roadmaps, supplies_v, supplies_v)
def test_neurosim_accumulation_energy_scales_with_vdd_squared(node, logic, vdd, other):
    """The gate model's energies are C V_dd^2 with V_dd-independent capacitances, at every node (scaled
    nodes too): the accumulation entries of a table scale exactly with V_dd^2; their areas do not move."""
    from xbarsim import units
    arch = xbarsim.load_arch("neurosim-sram22")

    def entries(v):
        model = {"node": units.format(node, "length"), "vdd": f"{v!r}V", "adder": "neurosim", "logic": logic}
        table = resolve(load_energy({"version": 1, "name": "v", "model": model}), arch)
        return [table.components[c] for c in ("shift_add", "tile_shift_add")]

    for a, b in zip(entries(vdd), entries(other)):
        assert b.actions["op"].joules == pytest.approx(a.actions["op"].joules * (other / vdd) ** 2, rel=1e-9, abs=0)
        assert b.area == pytest.approx(a.area, rel=1e-12, abs=0)
