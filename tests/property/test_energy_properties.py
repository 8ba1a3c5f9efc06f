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
def test_energy_per_inference_rises_as_utilization_falls(arch, network, extra, tech):
    """More tiles, same work and time: the idle hardware's static power costs energy."""
    table = {"version": 1, "name": "models", "model": tech}
    base = _simulate(arch, network, schedule="layer", energy=table)
    bigger = _simulate(xbarsim.evolve(arch, {"chip.tiles": arch.chip.tiles + extra}), network,
                              schedule="layer", energy=table)
    # same work (every count equal: a larger mesh may route data over other hops) in the same time
    assume(bigger.cycles == base.cycles and bigger.actions == base.actions)
    assert bigger.energy_per_inference_pj > base.energy_per_inference_pj
    assert bigger.energy.dynamic_pj == pytest.approx(base.energy.dynamic_pj, rel=1e-9)
