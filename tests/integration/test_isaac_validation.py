"""The isaac preset against ISAAC (Shafiee et al., ISCA 2016) Table I and Table IV.

Figures from ../shared/REFERENCE_DATA.md: IMA 289 mW (12 per tile), tile 330 mW and 0.372 mm2,
chip 65.8 W and 85.4 mm2 (168 tiles plus HyperTransport); peak 16-bit throughput over 16
cycles of 100 ns gives 41.3 TOPS, i.e. ISAAC-CE's 478.95 GOPS/s/mm2 and 627.5 GOPS/W.
"""

import pytest

import xbarsim
from xbarsim.energy import area_mm2, load_energy, peak_power_w
from xbarsim.simulation import peak_tops

IMA = ("xbar", "dac", "sh", "adc", "shift_add", "ireg", "oreg")


@pytest.fixture(scope="module")
def isaac():
    arch = xbarsim.load_arch("isaac")
    table = load_energy("isaac")
    return arch, table, area_mm2(table, arch), peak_power_w(table, arch)


def within(value, reference, tolerance):
    return abs(value / reference - 1) <= tolerance


def test_ima_power(isaac):
    arch, _, _, (_, power) = isaac
    ima_w = sum(power[c] for c in IMA) / arch.pes
    assert within(ima_w * arch.tile.pes, 0.289, 0.01)  # "IMA total, x12 per tile: 289 mW"


def test_tile_power_and_area(isaac):
    arch, _, (_, area), (_, power) = isaac
    tile_w = (sum(power.values()) - power["offchip"]) / arch.chip.tiles
    tile_mm2 = (sum(area.values()) - area["offchip"]) / arch.chip.tiles
    assert within(tile_w, 0.330, 0.01)
    assert within(tile_mm2, 0.372, 0.01)


def test_chip_power_and_area(isaac):
    _, _, (area, _), (power, _) = isaac
    assert within(power, 65.8, 0.01)
    assert within(area, 85.4, 0.01)


def test_peak_throughput_and_efficiency(isaac):
    arch, _, (area, _), (power, _) = isaac
    tops = peak_tops(arch)
    assert within(tops, 41.3, 0.01)
    assert within(tops * 1e3 / area, 478.95, 0.02)
    assert within(tops * 1e3 / power, 627.5, 0.02)


def test_per_action_energies_reproduce_table_i_power_at_peak_rate(isaac):
    """The derived per-action energies times ISAAC's peak action rates give back Table I power."""
    arch, table, _, _ = isaac
    cycle = 100e-9  # one crossbar read

    def energy(component, action):
        return table.components[component].actions[action].resolve(component, action, arch)

    per_ima = 8  # arrays
    assert within(energy("adc", "convert") * per_ima * 128 / cycle, 16e-3, 1e-9)
    assert within(energy("dac", "convert") * per_ima * 128 / cycle, 4e-3, 1e-9)
    assert within(energy("xbar", "row_activation") * per_ima * 128 / cycle, 2.4e-3, 1e-9)
    assert within(energy("sh", "sample") * per_ima * 128 / cycle, 10e-6, 1e-9)


def test_isaac_adc_needs_its_encoding():
    xb = xbarsim.load_arch("isaac").crossbar
    assert xb.exact_adc_bits == xb.adc_bits == 8
    assert xbarsim.evolve(xbarsim.load_arch("isaac"), {"crossbar.column_encoding": "plain"}).crossbar.exact_adc_bits == 9


def test_resnet18_on_isaac_runs_both_schedules():
    layer = xbarsim.simulate("isaac", "resnet18", schedule="layer")
    pipe = xbarsim.simulate("isaac", "resnet18", schedule="pipeline")
    assert pipe.cycles < layer.cycles  # the pipeline overlaps layers and replicates the slow ones
    assert layer.count("adc.convert") == pipe.count("adc.convert")
    assert pipe.tops <= pipe.peak_tops and layer.tops <= layer.peak_tops
    assert 0 < pipe.tops_per_w and pipe.power_w < pipe.peak_power_w
