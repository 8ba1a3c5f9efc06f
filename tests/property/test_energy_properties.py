"""Sanity properties of energy and area (issue 9): bounds and monotonicity, on random inputs."""

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import xbarsim
from xbarsim.energy import area_mm2, load_energy
from xbarsim.energy.models import adc_energy_area
from xbarsim.energy.table import resolve

from xbarsim.errors import MappingError

from ..strategies import adc_designs, area_growths, small_archs, small_networks, technologies


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
    energy per inference must rise whenever the two runs take the same time and arrays.
    """
    table = {"version": 1, "name": "models", "model": tech}
    base = _simulate(arch, network, schedule="layer", energy=table)
    bigger = _simulate(xbarsim.evolve(arch, {"chip.tiles": arch.chip.tiles + extra}), network,
                       schedule="layer", energy=table)
    assert bigger.energy.leakage_pj / bigger.latency_s > base.energy.leakage_pj / base.latency_s
    if bigger.cycles == base.cycles and bigger.arrays_used == base.arrays_used:
        assert bigger.energy_per_inference_pj > base.energy_per_inference_pj
        assert bigger.energy.dynamic_pj == pytest.approx(base.energy.dynamic_pj, rel=1e-9)


def test_energy_per_inference_rises_as_utilization_falls():
    """The equal-time case on a known example: the tiny MLP fills one tile of ``tiny``."""
    table = {"version": 1, "name": "models", "model": {"node": "32nm"}}
    arch = xbarsim.load_arch("tiny")
    base = xbarsim.simulate(arch, "mlp", schedule="layer", energy=table)
    bigger = xbarsim.simulate(xbarsim.evolve(arch, {"chip.tiles": arch.chip.tiles + 3}), "mlp",
                              schedule="layer", energy=table)
    assert bigger.cycles == base.cycles and bigger.arrays_used == base.arrays_used
    assert bigger.energy_per_inference_pj > base.energy_per_inference_pj
    assert bigger.energy.dynamic_pj == pytest.approx(base.energy.dynamic_pj, rel=1e-9)
