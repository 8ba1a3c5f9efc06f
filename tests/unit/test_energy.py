"""Energy tables: loading, inheritance, errors, and pricing arithmetic."""

import pytest

import xbarsim
from xbarsim import ConfigError
from xbarsim.energy import energy_presets, load_energy


@pytest.mark.parametrize("name", energy_presets())
def test_presets_load_and_round_trip(name):
    table = load_energy(name)
    assert load_energy(table.to_dict()) == table


def test_tiny_inherits_isaac_and_prices_its_own_global_buffer():
    tiny, isaac = load_energy("tiny"), load_energy("isaac")
    assert tiny.components["adc"] == isaac.components["adc"]
    assert tiny.components["glb"] != isaac.components["glb"]


def test_isaac_with_the_global_buffer_its_note_suggests_runs():
    """The run's note says feature maps go through DRAM for want of a global buffer; adding one works."""
    import xbarsim

    plain = xbarsim.simulate("isaac", "vgg8", schedule="layer")  # pipelined, feature maps stay on tiles
    assert any("no global buffer" in note for note in plain.notes)
    arch = xbarsim.evolve(xbarsim.load_arch("isaac"), {"global_buffer.size": "1MiB"})
    with_glb = xbarsim.simulate(arch, "vgg8", schedule="layer")
    assert with_glb.count("glb.read") > 0 and with_glb.dram_bytes < plain.dram_bytes
    assert with_glb.area_mm2 == pytest.approx(plain.area_mm2 + 0.083)


@pytest.mark.parametrize("table, path, fragment", [
    ({"version": 1, "components": {"adcc": {"area": "1mm2", "power": "1W"}}}, "components.adcc", "did you mean 'adc'"),
    ({"version": 1, "components": {"adc": {"area": "1mm2"}}}, "components.adc.power", "got nothing"),
    ({"version": 1, "components": {"adc": {"area": 1, "power": "1W"}}}, "components.adc.area", "bare number"),
    ({"version": 1, "components": {"adc": {"area": "1mm2", "power": "1W", "actions": {"zap": "1pJ"}}}},
     "components.adc.actions.zap", "an action of adc"),
    ({"version": 1, "components": {"adc": {"area": "1mm2", "power": "1W",
                                           "actions": {"convert": {"by": "volts", "values": {1: "1pJ"}}}}}},
     "components.adc.actions.convert.by", "an argument of adc"),
    ({"version": 1, "components": {"adc": {"area": "1mm2", "power": "1W", "actions": {"convert": "1pW"}}}},
     "components.adc.actions.convert", "an energy"),
    ({"components": {}}, "version", "got nothing"),
])
def test_bad_tables(table, path, fragment):
    with pytest.raises(ConfigError) as info:
        load_energy(table)
    assert str(info.value).startswith(f"{path}: expected"), str(info.value)
    assert fragment in str(info.value)


def test_missing_entries_are_named_when_pricing():
    isaac = load_energy("isaac").to_dict()
    del isaac["components"]["pool"]
    with pytest.raises(ConfigError, match=r"components\.pool: expected an entry for pool"):
        xbarsim.simulate("isaac", "vgg8", energy=isaac)
    six_bit = xbarsim.evolve(xbarsim.load_arch("isaac"), {"crossbar.adc_bits": 12})
    with pytest.raises(ConfigError, match=r"components\.adc\.actions\.convert\.values: expected an energy for bits = 12"):
        xbarsim.simulate(six_bit, "vgg8")


def test_leakage_is_charged_for_the_run_time():
    table = load_energy("tiny").to_dict()
    table["components"]["adc"]["leakage"] = "1mW"
    base = xbarsim.simulate("tiny", "mlp")
    leaky = xbarsim.simulate("tiny", "mlp", energy=table)
    adcs = base.arch.arrays * base.arch.pe.adcs_per_array
    added = 1e-3 - load_energy("tiny").components["adc"].leakage  # tiny inherits isaac's ADC leakage
    assert leaky.energy.leakage_pj - base.energy.leakage_pj == pytest.approx(adcs * added * base.latency_s * 1e12)
    assert leaky.energy_pj == pytest.approx(base.energy_pj - base.energy.leakage_pj + leaky.energy.leakage_pj)
    assert sum(leaky.energy.by_component.values()) == pytest.approx(leaky.energy_pj)
    assert sum(leaky.energy.by_layer.values()) == pytest.approx(leaky.energy.dynamic_pj)


def test_the_worked_example_of_the_energy_table_doc(tmp_path):
    """docs/energy-table.md: ADC energy = count x energy per count, plus instances x leakage x time."""
    import xbarsim

    run = xbarsim.simulate("tiny", "mlp")
    conversions = run.count("adc.convert")
    instances = run.arch.arrays * run.arch.pe.adcs_per_array
    assert (conversions, instances, run.arch.crossbar.adc_bits) == (1184, 64, 6)
    assert run.latency_s == pytest.approx(223e-9)
    assert run.energy.by_component["adc"] == pytest.approx(1184 * 0.96 + 64 * 0.4e-3 * 223e-9 * 1e12)
    assert run.energy.by_component["adc"] == pytest.approx(6845.44)
    assert run.area_by_component["adc"] == pytest.approx(64 * 0.0012)
    assert run.peak_power_by_component["adc"] == pytest.approx(64 * 2e-3)
    leaky = tmp_path / "tiny-leaky-adc.yaml"
    leaky.write_text("version: 1\nbase: tiny\nname: tiny-leaky-adc\ncomponents:\n  adc:\n    leakage: 0.1mW\n")
    priced = xbarsim.simulate("tiny", "mlp", energy=str(leaky))
    assert priced.energy.by_component["adc"] == pytest.approx(1184 * 0.96 + 64 * 0.1e-3 * 223e-9 * 1e12)
    assert priced.energy.by_component["adc"] == pytest.approx(2563.84)


def test_the_energy_table_doc_lists_every_registered_component():
    """docs/energy-table.md's component table is the registry's, no more, no less."""
    import re
    from pathlib import Path

    from xbarsim.hardware import REGISTRY

    text = (Path(__file__).resolve().parents[2] / "docs" / "energy-table.md").read_text()
    table = text[text.index("## Components and actions"):text.index("## How a run is priced")]
    documented = {name for row in re.findall(r"^\| (`[^|]*`) \|", table, re.M) for name in re.findall(r"`([a-z_]+)`", row)}
    assert documented == set(REGISTRY.components), "update the table in docs/energy-table.md"
