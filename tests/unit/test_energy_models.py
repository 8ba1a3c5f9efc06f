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
    assert adc_energy_area("flash", 4, 1e9, 22e-9)[0] == pytest.approx(joules * 15 / 31, rel=1e-9, abs=0)


def test_flash_adc_area_is_neurosim_sense_amps_per_comparator():
    """NeuroSim V1.4's default VGG-8 chip (run recorded in docs/validation.md) reports 15.3844 mm^2 of
    sense amplifiers for 9,472 subarrays x 16 ADCs of 31 comparators: per comparator, scaled by node."""
    _, m2_5, _ = adc_energy_area("flash", 5, 1e9, 22e-9)
    assert m2_5 * 9472 * 16 * 1e6 == pytest.approx(15.3844, rel=1e-9)
    _, m2_4, _ = adc_energy_area("flash", 4, 1e9, 22e-9)
    assert m2_4 == pytest.approx(m2_5 * 15 / 31, rel=1e-9)
    assert adc_energy_area("flash", 4, 1e9, 45e-9)[1] == pytest.approx(m2_4 * area_factor(22e-9, 45e-9), rel=1e-9)


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
    assert table.model is None and table.node == pytest.approx(22e-9, rel=1e-9, abs=0)
    assert set(table.components) == set(REGISTRY.components)
    for name, entry in table.components.items():
        assert entry.source, name
        assert set(entry.actions) == set(REGISTRY.components[name].actions), name
    # NeuroSim's sense-amplifier figure holds the column current: the preset prices no cell current
    assert table.components["xbar"].actions["conduct"].joules == 0
    own = load_energy({"version": 1, "name": "physics", "model": {"node": "22nm", "cell": "rram", "v_read": "0.55V"}})
    xbar = resolve(own, arch).components["xbar"]
    xb = arch.crossbar  # 1-bit cells, 1-bit DACs: a half level step is (G_on - G_off) / 2
    exact = dict(rel=1e-9, abs=0)  # energies are ~1e-15 J: pytest.approx's default abs=1e-12 would pass anything
    assert xbar.actions["conduct"].joules == pytest.approx(0.55 ** 2 * (xb.g_on - xb.g_off) / 2 * arch.pe.read_latency,
                                                           **exact)
    # a mid-level cell, (G_on + G_off) / 2, is 2 (G_off / step) + 1 half steps
    mid = 2 * xb.g_off / (xb.g_on - xb.g_off) + 1
    assert xbar.actions["conduct"].joules * mid == pytest.approx(
        0.55 ** 2 * (xb.g_on + xb.g_off) / 2 * arch.pe.read_latency, **exact)
    assert table.components["dac"].actions["drive"].joules > 0 and xbar.actions["row_activation"].joules == 0
    assert xbar.leakage == 0
    # NeuroSim's sense amplifier (flash) leaks nothing: its whole figure is the conversion's
    adc = table.components["adc"]
    joules, _, _ = adc_energy_area("flash", arch.crossbar.adc_bits, arch.pe.adc_rate, 22e-9)
    assert adc.leakage == 0 and adc.actions["convert"].joules == pytest.approx(joules, rel=1e-9, abs=0)
    sar = resolve(load_energy({"version": 1, "name": "sar", "model": {"node": "22nm", "adc": "sar"}}), arch)
    joules, _, _ = adc_energy_area("sar", arch.crossbar.adc_bits, arch.pe.adc_rate, 22e-9)
    assert sar.components["adc"].leakage == pytest.approx(0.2 * joules * arch.pe.adc_rate, rel=1e-9, abs=0)
    assert sar.components["adc"].actions["convert"].joules == pytest.approx(0.8 * joules, rel=1e-9, abs=0)


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
        isaac.components["noc"].actions["byte_hop"].joules * e, rel=1e-9, abs=0)
    assert scaled.components["adc"].area == pytest.approx(isaac.components["adc"].area * a, rel=1e-9, abs=0)
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


def test_a_bus_is_wires_without_routers_a_mesh_has_routers():
    """NeuroSim's X-Y bus (XYBus.cpp): 0.5 C L V_dd^2 per bit over half the chip's side at the output
    toggle rate and again at the input toggle rate, no area or leakage of its own; a mesh prices
    ISAAC's routers."""
    from xbarsim.config.fields import evolve

    arch = xbarsim.load_arch("neurosim-sram22")
    assert arch.interconnect.topology == "bus"
    table = resolve(load_energy("neurosim-sram22"), arch)
    bus = table.components["noc"]
    on_mesh = evolve(arch, {"interconnect.topology": "mesh", "chip.activation": "tile"})  # chip activation: a bus
    mesh = resolve(load_energy("neurosim-sram22"), on_mesh).components["noc"]
    assert bus.area == 0 and bus.leakage == 0 and mesh.area > 0 and mesh.leakage > 0
    # energy per byte: 8 bits x 0.5 x (0.5 + 0.18) x 0.2 fF/um x L x V_dd^2, L half the chip's side, the chip's
    # side sqrt(tiles) tile sides; the tile bus (C V^2 x 0.18 per bit over one tile side) gives the side
    tile_bit_j = table.components["tile_bus"].actions["transfer_bytes"].joules / 8
    from xbarsim.energy.models import _ROW_F_PER_M
    side_m = tile_bit_j / (_ROW_F_PER_M * 0.85 ** 2 * 0.18)
    expected = 8 * 0.5 * (0.5 + 0.18) * 0.2e-15 / 1e-6 * (math.sqrt(arch.chip.tiles) * side_m / 2) * 0.85 ** 2
    assert bus.actions["byte_hop"].joules == pytest.approx(expected, rel=1e-9)


def test_lstp_logic_leaks_at_neurosims_low_power_off_current():
    """``logic: lstp`` scales every logic component's leakage by NeuroSim's 22 nm LP / HP off
    currents (Technology.cpp: 100.00e-6 / 100.20e-3 uA/um) and leaves memories and energies alone,
    but for NeuroSim's gate-level adders (``adder: neurosim``), whose gates are its LP or HP ones."""
    import dataclasses

    from xbarsim.energy.models import model_components

    arch = xbarsim.load_arch("neurosim-sram22")
    tech = load_energy("neurosim-sram22").model
    assert tech.logic == "lstp"  # the NeuroSim presets: Param.cpp deviceroadmap 2
    lstp = model_components(arch, tech)
    hp = model_components(arch, dataclasses.replace(tech, logic="hp"))
    for name in ("dac", "sh", "shift_add", "tile_shift_add", "act", "pool"):
        assert lstp[name].leakage == pytest.approx(hp[name].leakage * 100.00e-6 / 100.20e-3, rel=1e-12)
        assert lstp[name].area == hp[name].area
        if name in ("shift_add", "tile_shift_add"):  # 22 nm LP gates (Technology.cpp 22nm_LP.pm) are not HP's
            assert lstp[name].actions["op"] != hp[name].actions["op"]
        else:
            assert lstp[name].actions == hp[name].actions
        assert "LSTP" in lstp[name].source and "LSTP" not in hp[name].source
    for name in ("tile_buffer", "glb", "ireg", "oreg", "xbar", "adc"):
        assert lstp[name].leakage == hp[name].leakage


def test_neurosim_gates_at_22nm_are_computed_by_hand_from_neurosims_constants():
    """The gate model's 22 nm LSTP figures, worked out here from the constants it cites (Technology.cpp
    22 nm LP PTM, constant.h layout rules, formula.cpp's equations), and equal to what NeuroSim V1.4
    itself prints for its SRAM VGG-8 chip (an instrumented run, docs/energy-model.md: capNandInput
    6.574220e-16 F, capNandOutput 1.808178e-16 F, capInvInput 1.459158e-16 F, capInvOutput
    7.855463e-17 F)."""
    from xbarsim.energy.gates import adder_area, adder_energy, dff_area, dff_energy, gates
    f, vdd = 22e-9, 0.85
    c_gate = 5.245e-10 * 1.2 + 8.004e-10  # capIdealGate (1 + 0.2 overlap) + capFringe, F/m
    pn = 791.90 / 600.20  # I_on NMOS / PMOS, uA/um
    room = (28 - 3.5 - 2 * (1.0 + 0.8)) * f  # cell height minus the P-N gap and two poly margins: 20.9 F
    w_p = room * (2 * pn) / (4 + 2 * pn)  # the NAND2's 4F : 2 pn F, widened to the room
    w_n = room - w_p
    bias = 1 + vdd / 0.9
    c_j, c_sw, c_dc = 1e-3 / bias ** 0.5, 2.5e-10 / bias ** 0.33, 0.5e-10 / bias ** 0.33
    gap = 2.8 * f
    nand_in = c_gate * room
    nand_out = c_j * (2 * gap * w_n + gap * w_p) + c_sw * (4 * gap + w_n + 2 * gap) + c_dc * room
    inv_in = c_gate * (2 + 2 * pn) * f
    inv_out = c_j * gap * (2 + 2 * pn) * f + c_sw * (4 * gap + (2 + 2 * pn) * f) + c_dc * (2 + 2 * pn) * f
    for mine, neurosim in ((nand_in, 6.574220e-16), (nand_out, 1.808178e-16), (inv_in, 1.459158e-16),
                           (inv_out, 7.855463e-17)):
        assert mine == pytest.approx(neurosim, rel=1e-6)
    g = gates(22e-9, "lstp")
    exact = dict(rel=1e-9, abs=0)
    # per bit: an adder's (13 C_in + 7 C_out) V^2 x 0.15 = 1.063 fJ; a flip-flop's (8 C_in + 10 C_out) V^2 x 0.5 = 0.705 fJ
    assert adder_energy(1, g, vdd) == pytest.approx((13 * nand_in + 7 * nand_out) * vdd ** 2 * 0.15, **exact)
    assert adder_energy(1, g, vdd) == pytest.approx(1.0634e-15, rel=1e-4)
    assert dff_energy(1, g, vdd) == pytest.approx((8 * inv_in + 10 * inv_out) * vdd ** 2 * 0.5, **exact)
    assert dff_energy(1, g, vdd) == pytest.approx(0.70548e-15, rel=1e-4)
    # areas: 9 NAND2 of (2 x 2 - 1) x 3.8 F by 28 F per adder bit (1.390 um^2; NeuroSim prints 8.898785e-11 m^2
    # for its 16 4-bit adders: 1.3904 um^2 per bit), 12 inverters of 2 x 3.8 F by 28 F per flip-flop (1.236 um^2)
    assert adder_area(1, g) == pytest.approx(9 * 3 * 3.8 * f * 28 * f, **exact)
    assert adder_area(4 * 16, g) == pytest.approx(8.898785e-11, rel=1e-6)
    assert dff_area(1, g) == pytest.approx(12 * 2 * 3.8 * f * 28 * f, **exact)


def test_the_adder_choice_moves_only_the_accumulation_entries_and_other_presets_not_at_all():
    """``model.adder`` defaults to ``aladdin``: no preset but NeuroSim's sets it, and setting it explicitly
    changes nothing; ``neurosim`` changes the shift-and-adds (and the wires whose length follows the
    tile's area), nothing else."""
    from pathlib import Path
    presets = sorted(p.stem for p in Path(xbarsim.energy.__file__).parent.joinpath("presets").glob("*.yaml"))
    for name in presets:
        spec = yaml.safe_load(Path(xbarsim.energy.__file__).parent.joinpath("presets", f"{name}.yaml").read_text())
        if "model" not in spec:
            continue
        arch = xbarsim.load_arch(name if name != "isaac-llm" else "isaac")
        if name.startswith("neurosim"):
            assert spec["model"]["adder"] == "neurosim", name
        else:
            assert "adder" not in spec["model"], name
        choices = {}
        for adder in ("aladdin", "neurosim"):
            spec["model"]["adder"] = adder
            choices[adder] = resolve(load_energy(spec), arch).components
        if not name.startswith("neurosim"):
            spec["model"].pop("adder")
            assert resolve(load_energy(spec), arch).components == choices["aladdin"], name
        moved = {c for c in choices["aladdin"] if choices["aladdin"][c] != choices["neurosim"][c]}
        modelled = {"shift_add", "tile_shift_add"} - set(spec.get("components", {}))  # hand-written ones stay
        assert modelled <= moved <= {"shift_add", "tile_shift_add", "tile_bus", "noc"}, name


def test_bad_adder_choice_is_one_line():
    with pytest.raises(ConfigError) as info:
        load_energy({"version": 1, "model": {"adder": "ripple"}})
    assert str(info.value) == "model.adder: expected one of 'aladdin', 'neurosim', got 'ripple'", str(info.value)


def test_ddr4_is_micron_datasheet_currents_by_micron_tn_40_07():
    """DDR4-2400 x8 (Micron 4Gb die A, DRAMPower memspec): a read burst draws IDD4R - IDD3N =
    184.5 - 44.0 mA at 1.2 V for 2400 MT/s x 8 pins; one activate-precharge per 8 Kibit page draws
    IDD0 - (44.0 x 39 + 38.25 x 16) / 55 mA at 1.2 V and IPP0 4.05 mA at 2.5 V for tRC = 55 / 1.2 GHz."""
    act_j = ((60.75 - (44.0 * 39 + 38.25 * 16) / 55) * 1.2 + 4.05 * 2.5) * 1e-3 * 55 / 1.2e9
    read_pj = ((184.5 - 44.0) * 1.2e-3 / (2400e6 * 8) + act_j / 8192) * 1e12
    write_pj = ((168.75 - 44.0) * 1.2e-3 / (2400e6 * 8) + act_j / 8192) * 1e12
    assert read_pj == pytest.approx(8.9616, abs=1e-4) and write_pj == pytest.approx(7.9772, abs=1e-4)
    spec = {"version": 1, "name": "ddr4", "model": {"node": "32nm", "dram": "ddr4"}}
    dram = resolve(load_energy(spec), xbarsim.load_arch("tiny")).components["dram"]
    assert dram.actions["read_bytes"].joules == pytest.approx(8 * read_pj * 1e-12, rel=1e-9, abs=0)
    assert dram.actions["write_bytes"].joules == pytest.approx(8 * write_pj * 1e-12, rel=1e-9, abs=0)
    assert "TN-40-07" in dram.source
    lp = resolve(load_energy({"version": 1, "name": "lp", "model": {"node": "32nm"}}), xbarsim.load_arch("tiny"))
    assert lp.components["dram"].actions["write_bytes"].joules == pytest.approx(64e-12, rel=1e-9, abs=0)


def test_dac_models_by_type_from_aladdin_registers_and_counters():
    """At 40 nm (Aladdin's node, no scaling): a voltage DAC latches its 4 bits (0.009 pJ and 5.98 um^2
    per register bit, activity 0.5) and charges its row per digit step; a pulse-width DAC is a 4-bit
    counter per row (0.25074 pJ per count and 495.5 um^2 at 32 bits, per bit) counting the digit, its
    row charged to full scale per non-zero digit (xbar.row_activation). The cells' figure per count is
    the same, and a 1-bit pulse-width DAC is the voltage DAC's switch."""
    from xbarsim.config import evolve
    from xbarsim.energy.models import TechnologySpec, model_components

    tech = TechnologySpec(node="40nm", vdd="0.9V")
    arch = evolve(xbarsim.load_arch("isaac"), {"crossbar.dac_bits": 4})
    v = model_components(arch, tech)
    p = model_components(evolve(arch, {"crossbar.dac_type": "pulse_width"}), tech)
    row = v["dac"].actions["drive"] * 15  # C_row V_dd^2: the full-scale digit's 15 steps
    assert v["dac"].area == pytest.approx(4 * 5.98e-12, rel=1e-9)
    assert p["dac"].area == pytest.approx(4 * 495.5e-12 / 32, rel=1e-9)
    assert p["dac"].actions["convert"] == v["dac"].actions["convert"] == pytest.approx(4 * 0.009e-12 * 0.5, rel=1e-9)
    assert p["dac"].actions["drive"] == pytest.approx(4 * 0.25074e-12 / 32, rel=1e-9)
    assert (v["xbar"].actions["row_activation"], p["xbar"].actions["row_activation"]) == (0.0, row)
    assert p["xbar"].actions["conduct"] == v["xbar"].actions["conduct"] > 0
    assert p["dac"].leakage > v["dac"].leakage and "counter" in p["dac"].source
    one = evolve(arch, {"crossbar.dac_bits": 1})
    a, b = (model_components(evolve(one, {"crossbar.dac_type": t}), tech) for t in ("voltage", "pulse_width"))
    assert a["dac"].actions == b["dac"].actions and a["dac"].area == b["dac"].area
    assert a["xbar"].actions == b["xbar"].actions


def test_sinangil_counters_and_word_lines_are_the_pulse_width_models_figures():
    """The Sinangil table's PWM counter count (dac.drive) and word-line charge (xbar.row_activation)
    are the component models' at its node and supply, to the digits the YAML carries."""
    from xbarsim.energy.models import model_components

    arch = xbarsim.load_arch("sinangil-sram7")
    spec = load_energy("sinangil-sram7")
    models = model_components(arch, spec.model)
    table = resolve(spec, arch).components
    assert table["dac"].actions["drive"].joules == pytest.approx(models["dac"].actions["drive"], rel=5e-5)
    assert table["xbar"].actions["row_activation"].joules == pytest.approx(
        models["xbar"].actions["row_activation"], rel=5e-5)
