"""Component models against the figures their sources publish (../shared/REFERENCE_DATA.md)."""

import math

import pytest
import yaml

import xbarsim
from xbarsim import ConfigError
from xbarsim.cli import main
from xbarsim.energy import load_energy
from xbarsim.energy.models import adc_energy_area, buffer_figures
from xbarsim.energy.table import rescale, resolve
from xbarsim.energy.technology import area_factor, energy_factor
from xbarsim.hardware import REGISTRY


@pytest.mark.parametrize("bits, pj", [(5, 0.94), (8, 1.93), (9, 5.53), (10, 16.4)])
def test_sar_adc_is_the_murmann_survey_fit(bits, pj):
    """REFERENCE_DATA: the hwcomponents-adc survey fit at 32 nm, 1.28 GS/s."""
    joules, m2, _ = adc_energy_area("sar", bits, 1.28e9, 32e-9)
    assert joules * 1e12 == pytest.approx(pj, rel=0.01)
    if bits == 8:
        assert m2 * 1e12 == pytest.approx(6469, rel=0.01)


def test_flash_adc_is_neurosim_sense_amp_at_5_bits_22nm():
    joules, _, _ = adc_energy_area("flash", 5, 1e9, 22e-9)
    assert joules * 1e12 == pytest.approx(0.10, rel=1e-9)  # 31 comparisons: NeuroSim's 0.10 pJ
    assert adc_energy_area("flash", 4, 1e9, 22e-9)[0] == pytest.approx(joules * 15 / 31)


@pytest.mark.parametrize("size, width, read_pj, write_pj", [(65536, 256, 29.6, 36.5), (2048, 64, 1.49, None)])
def test_sram_buffers_are_cacti(size, width, read_pj, write_pj):
    """REFERENCE_DATA: CACTI at 32 nm, 64 KB / 256 b (29.6 / 36.5 pJ) and 2 KB / 64 b (1.49 pJ)."""
    f = buffer_figures("sram", size, width, 32e-9)
    assert f["read"] * 1e12 == pytest.approx(read_pj, rel=0.3 if size == 2048 else 0.01)
    if write_pj:
        assert f["write"] * 1e12 == pytest.approx(write_pj, rel=0.01)


def test_stillmaker_baas_factors():
    # their table: 32 -> 20 nm area x0.46; factors are taken through the 130 nm row (0.033 / 0.072)
    assert area_factor(32e-9, 20e-9) == pytest.approx(0.46, rel=0.01)
    assert area_factor(22e-9, 22e-9) == energy_factor(22e-9, 22e-9) == 1.0
    assert energy_factor(45e-9, 20e-9) == pytest.approx((0.373 * .64 - 0.1582 * .8 + 0.04104)
                                                        / (1.103 * .64 - 0.362 * .8 + 0.2767))
    assert energy_factor(130e-9, 7e-9) < energy_factor(130e-9, 45e-9) < 1


def test_model_tables_price_every_component_and_cite_a_source():
    arch = xbarsim.load_arch("neurosim-rram22")
    table = resolve(load_energy("neurosim-rram22"), arch)
    assert table.model is None and table.node == pytest.approx(22e-9)
    assert set(table.components) == set(REGISTRY.components)
    for name, entry in table.components.items():
        assert entry.source, name
        assert set(entry.actions) == set(REGISTRY.components[name].actions), name
    xbar = table.components["xbar"]
    cell = 0.55 ** 2 * (arch.crossbar.g_on + arch.crossbar.g_off) / 2 * arch.pe.read_latency
    assert xbar.actions["row_activation"].joules > arch.crossbar.cols * cell  # cells plus the row drive
    assert xbar.leakage == 0 and table.components["adc"].leakage > 0


def test_written_entries_replace_the_models():
    spec = {"version": 1, "name": "mixed", "model": {"node": "45nm"},
            "components": {"adc": {"area": "1mm2", "power": "1mW", "leakage": "2mW", "actions": {"convert": "3pJ"}}}}
    table = resolve(load_energy(spec), xbarsim.load_arch("tiny"))
    assert table.components["adc"].leakage == pytest.approx(2e-3)
    assert "written in table 'mixed'" in table.components["adc"].source
    assert "45 nm" in table.components["dac"].source


def test_rescaling_hand_written_tables():
    isaac = load_energy("isaac")
    scaled = rescale(isaac, 22e-9)
    e, a = energy_factor(32e-9, 22e-9), area_factor(32e-9, 22e-9)
    assert scaled.components["noc"].actions["byte_hop"].joules == pytest.approx(
        isaac.components["noc"].actions["byte_hop"].joules * e)
    assert scaled.components["adc"].area == pytest.approx(isaac.components["adc"].area * a)
    with pytest.raises(ConfigError, match=r"^node: expected the technology node"):
        rescale(load_energy({"version": 1, "components": {"adc": {"area": "1mm2", "power": "1W"}}}), 22e-9)


@pytest.mark.parametrize("spec, path", [
    ({"version": 1, "model": {"node": "3nm"}}, "model.node: expected a technology node from 7nm to 130nm"),
    ({"version": 1, "model": {"adc": "pipelined"}}, "model.adc: expected one of"),
    ({"version": 1}, "components: expected entries by component name"),
])
def test_bad_model_specs(spec, path):
    with pytest.raises(ConfigError) as info:
        load_energy(spec)
    assert str(info.value).startswith(path), str(info.value)


def test_energy_table_command_writes_a_table_that_prices_like_the_model(tmp_path, capsys):
    out = tmp_path / "rram.yaml"
    assert main(["energy-table", "neurosim-rram22", "--out", str(out)]) == 0
    assert main(["energy-table", "neurosim-rram22", "--out", str(out)]) == 1  # exists: refuses
    assert "--force" in capsys.readouterr().err
    text = out.read_text()
    data = yaml.safe_load(text)
    assert all("source" in entry for entry in data["components"].values())
    from_model = xbarsim.simulate("neurosim-rram22", "mlp")
    from_file = xbarsim.simulate("neurosim-rram22", "mlp", energy=str(out))
    assert from_file.energy_pj == pytest.approx(from_model.energy_pj, rel=1e-12)
    assert from_file.area_mm2 == pytest.approx(from_model.area_mm2, rel=1e-12)
    assert main(["energy-table", "isaac", "--node", "22nm"]) == 0
    assert "scaled 32 -> 22 nm" in capsys.readouterr().out
    assert main(["energy-table", "isaac", "--node", "22"]) == 1
    assert "--node: expected a technology node such as '22nm'" in capsys.readouterr().err


def test_run_shows_dynamic_and_static_energy():
    result = xbarsim.simulate("isaac", "mlp")
    text = str(result)
    assert "dynamic" in text and "static" in text
    assert result.energy.leakage_pj > 0
    assert math.isclose(result.energy.dynamic_pj + result.energy.leakage_pj, result.energy_pj)
