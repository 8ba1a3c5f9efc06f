"""Configs: presets load, round trips are exact, every kind of bad input names its path."""

import dataclasses
import textwrap

import pytest
from hypothesis import given

import xbarsim
from xbarsim import ConfigError, load_arch
from xbarsim.config import Arch, CrossbarSpec, arch_presets, dump_yaml, evolve

from ..strategies import crossbar_specs


@pytest.mark.parametrize("name", arch_presets())
def test_every_preset_loads_and_round_trips(name):
    arch = load_arch(name)
    assert isinstance(arch, Arch) and arch.name == name
    assert load_arch(arch.to_dict()) == arch
    assert load_arch(xbarsim.config.loader.read_yaml(dump_yaml(arch.to_dict()))) == arch


def test_presets_include_isaac_and_tiny():
    assert {"isaac", "tiny"} <= set(arch_presets())
    isaac = load_arch("isaac").crossbar
    assert (isaac.rows, isaac.cols, isaac.cell_bits, isaac.dac_bits, isaac.adc_bits) == (128, 128, 2, 1, 8)
    assert isaac.slices == 8 and isaac.input_cycles == 16 and isaac.exact_adc_bits == 8


@given(crossbar_specs(ideal=False, exact_adc=False))
def test_crossbar_round_trip(spec):
    assert CrossbarSpec.from_dict(spec.to_dict()) == spec
    assert dataclasses.replace(spec) == spec


def test_config_is_frozen():
    arch = load_arch("tiny")
    with pytest.raises(dataclasses.FrozenInstanceError):
        arch.crossbar.rows = 3


def base(**crossbar):
    return {"version": 1, "crossbar": crossbar}


@pytest.mark.parametrize("spec, path, fragment", [
    (base(adc_bits=0), "crossbar.adc_bits", "expected an integer 1..16, got 0"),
    (base(rows=0), "crossbar.rows", "expected an integer 1..65536, got 0"),
    (base(rows=2.0), "crossbar.rows", "got 2.0"),
    (base(rows="128"), "crossbar.rows", "got '128'"),
    (base(rows=True), "crossbar.rows", "got True"),
    (base(cell_bits=5, weight_bits=4), "crossbar.cell_bits", "at most weight_bits"),
    (base(dac_bits=3, input_bits=2), "crossbar.dac_bits", "at most input_bits"),
    (base(variation_sigma=-0.1), "crossbar.variation_sigma", "got -0.1"),
    (base(read_noise_sigma=float("nan")), "crossbar.read_noise_sigma", "got nan"),
    (base(stuck_at_on=0.7, stuck_at_off=0.5), "crossbar.stuck_at_off", "stuck_at_on + stuck_at_off"),
    (base(adc_range="explicit"), "crossbar.adc_full_scale", "when adc_range is 'explicit'"),
    (base(adc_full_scale=10.0), "crossbar.adc_full_scale", "set adc_range: explicit"),
    (base(adc_range="fullscale"), "crossbar.adc_range", "did you mean 'full_scale'"),
    (base(dac_type="pulse"), "crossbar.dac_type", "got 'pulse'"),
    (base(dac_type="pulsewidth"), "crossbar.dac_type", "did you mean 'pulse_width'"),
    (base(dac_type=1), "crossbar.dac_type", "got 1"),
    (base(adc_bit=8), "crossbar.adc_bit", "unknown key (did you mean 'adc_bits'?)"),
    (base(g_on=100), "crossbar.g_on", "bare number"),
    (base(g_on="100uA"), "crossbar.g_on", "such as '100uS'"),
    (base(g_off="200uS", g_on="100uS"), "crossbar.g_off", "below g_on"),
    (base(g_off="1uS", on_off_ratio=10.0), "crossbar.g_off", "either g_off or on_off_ratio"),
    (base(on_off_ratio=1.0), "crossbar.on_off_ratio", "got 1.0"),
    ({"crossbar": {}}, "version", "got nothing"),
    ({"version": 2}, "version", "got 2"),
    ({"version": 1, "crossbar": [1, 2]}, "crossbar", "got a list"),
    ({"version": 1, "crossbar": {}, "tiles": 4}, "tiles", "unknown key"),
    ({"version": 1, "name": ""}, "name", "non-empty string"),
    ({"version": 1, "pe": {"read_latency": "1e999999999ns"}}, "pe.read_latency", "(out of range)"),
    ({"version": 1, "pe": {"read_latency": "1000000s"}}, "pe.read_latency",
     "at most 1,073,741,824 cycles of chip.clock (1.2GHz), got '1e+06s' (1.2e+15 cycles)"),
    ({"version": 1, "dram": {"bandwidth": "1fB/s"}}, "dram.bandwidth", "cycles of chip.clock (1.2GHz) per byte"),
    ({"version": 1, "chip": {"clock": "1e30Hz"}}, "pe.read_latency", "cycles of chip.clock (1e+30Hz)"),
    ({"version": 1, "pe": {"adc_rate": "1uHz"}}, "pe.adc_rate", "per conversion"),
    ({"version": 1, "chip": {"offchip_links": 0}}, "chip.offchip_links", "expected an integer 1..1024, got 0"),
    ({"version": 1, "crossbar": {"a\nb": 1}}, "crossbar.a\\nb", "unknown key"),
])
def test_bad_input_names_path_expected_and_got(spec, path, fragment):
    with pytest.raises(ConfigError) as info:
        load_arch(spec)
    message = str(info.value)
    assert message.startswith(f"{path}: expected "), message
    assert fragment in message, message
    assert isinstance(info.value, ValueError) and message.isprintable()
    assert xbarsim.errors.format_path(info.value.path) == path


def test_g_off_alias_and_infinite_ratio():
    arch = load_arch(base(g_on="100uS", g_off="10uS"))
    assert arch.crossbar.on_off_ratio == pytest.approx(10.0)
    assert arch.crossbar.g_off == pytest.approx(10e-6)
    ideal = load_arch(base(g_off="0S"))
    assert ideal.crossbar.on_off_ratio == float("inf") and ideal.crossbar.g_off == 0
    assert load_arch(ideal.to_dict()) == ideal


def test_yaml_file_with_base_and_overrides(tmp_path):
    path = tmp_path / "isaac6.yaml"
    path.write_text(textwrap.dedent("""\
        version: 1
        base: isaac
        name: isaac-6b
        crossbar:
          adc_bits: 6
          variation_sigma: 5e-2   # YAML 1.1 would read this as a string; xbarsim reads a float
    """))
    arch = load_arch(path)
    assert arch.name == "isaac-6b" and arch.crossbar.adc_bits == 6 and arch.crossbar.variation_sigma == 0.05
    assert arch.crossbar.rows == 128  # inherited
    assert load_arch(str(path)) == arch


def test_yaml_errors_are_config_errors(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\ncrossbar:\n  rows: [1, 2\n")
    with pytest.raises(ConfigError, match=r"broken.yaml: expected valid YAML, got .* line \d+, column \d+"):
        load_arch(broken)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(ConfigError, match="got an empty file"):
        load_arch(empty)
    with pytest.raises(ConfigError, match="arch: expected a preset name .* got 'no-such-thing'"):
        load_arch("no-such-thing")
    with pytest.raises(ConfigError, match="arch: expected a preset name"):
        load_arch(42)
    with pytest.raises(ConfigError, match="base: expected a preset name"):
        load_arch({"version": 1, "base": "nope"})


def test_evolve_applies_dotted_changes():
    arch = load_arch("isaac")
    changed = evolve(arch, {"crossbar.adc_bits": 6, "name": "x"})
    assert changed.crossbar.adc_bits == 6 and changed.name == "x" and arch.crossbar.adc_bits == 8
    with pytest.raises(ConfigError, match="crossbar.adc_bits: expected an integer 1..16, got 99"):
        evolve(arch, {"crossbar.adc_bits": 99})
    with pytest.raises(ConfigError, match="crossbar.adc_bitz: expected a key"):
        evolve(arch, {"crossbar.adc_bitz": 6})
    with pytest.raises(ConfigError, match="^nothing: expected a section of the spec, got no such section$"):
        evolve(arch, {"nothing.adc_bits": 6})


def test_python_construction_validates_too():
    with pytest.raises(ConfigError, match="^rows: expected an integer 1..65536, got 0$"):
        CrossbarSpec(rows=0)
    with pytest.raises(ConfigError, match="g_on: expected a conductance"):
        CrossbarSpec(g_on=1e-4)
    assert CrossbarSpec(g_on="1e-4S").g_on == 1e-4


def test_describe_documents_every_field():
    rows = CrossbarSpec.describe()
    assert {r[0] for r in rows} == {f.name for f in dataclasses.fields(CrossbarSpec)}
    assert all(r[3] for r in rows)  # every field has a doc line


def test_duplicate_yaml_keys_are_refused_naming_the_key(tmp_path):
    spec = tmp_path / "dup.yaml"
    spec.write_text("version: 1\ncrossbar:\n  adc_bits: 6\n  rows: 32\n  adc_bits: 7\n")
    with pytest.raises(ConfigError, match=r"dup\.yaml: expected valid YAML, got duplicate key 'adc_bits' \(first "
                                          r"given at line 3\) at line 5, column 3"):
        load_arch(str(spec))
    merged = tmp_path / "merge.yaml"  # YAML merge keys may be overridden: that is not a duplicate
    merged.write_text("version: 1\nname: &n one\ncrossbar: &c {rows: 32}\npe:\n  arrays: 4\n"
                      "tile: {<<: {pes: 2}, pes: 3}\n")
    assert load_arch(str(merged)).tile.pes == 3


def test_control_characters_never_break_a_message_over_lines(tmp_path):
    spec = tmp_path / "x.yaml"
    spec.write_text('version: 1\ncrossbar:\n  "ro\\nws\\x1b[31m": 3\n')
    with pytest.raises(ConfigError) as info:
        load_arch(str(spec))
    assert str(info.value).isprintable() and "ro\\nws\\x1b[31m" in str(info.value)


def test_unit_overflow_is_a_config_error_not_a_decimal_exception():
    from xbarsim import units

    with pytest.raises(units.UnitError, match="out of range"):
        units.parse("1e999999999ns", "time")
    with pytest.raises(units.UnitError, match="out of range"):
        units.parse("1e400s", "time")
    assert units.parse("1e-999999999s", "time") == 0.0
