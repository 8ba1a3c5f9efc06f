"""The sweep spec: loading, defaults, and one clear dotted-path error for each kind of mistake."""

from pathlib import Path

import pytest

from xbarsim import ConfigError, load_arch
from xbarsim.sweeps import load_sweep
from xbarsim.sweeps.points import points, swept_columns

DATA = Path(__file__).resolve().parents[1] / "data" / "sweep"


def _spec(**fields):
    return {"version": 1, "arch": "tiny", "workloads": "mlp", **fields}


@pytest.mark.parametrize("spec, message", [
    ({}, "version: expected 1"),
    ({"version": 2}, "version: expected 1"),
    ({"version": 1, "arch": "tinyy"}, "arch: expected a preset name (isaac, isaac-llm, neurosim-rram22, neurosim-sram22, study, tiny) or a YAML file, got 'tinyy'"),
    ({"version": 1, "arch": {"version": 1, "crossbar": {"rows": 0}}},
     "arch.crossbar.rows: expected an integer 1..65536, got 0"),
    (_spec(workloads=["mlp", "resnet19"]), "workloads[1]: expected a built-in network"),
    (_spec(workload="mlp"), "workload: expected a key of SweepSpec, got an unknown key (did you mean 'workloads'?)"),
    (_spec(axes={"crossbar.adc_bit": [4]}), "axes.crossbar.adc_bit: expected a field of the arch (a dotted path such "
     "as crossbar.adc_bits), got an unknown field (did you mean 'crossbar.adc_bits'?)"),
    (_spec(axes={"crossbar": [4]}), "axes.crossbar: expected a field of the arch"),
    (_spec(axes={"energy_table": ["tiny"]}), "axes.energy_table: expected a field of the arch other than version"),
    (_spec(axes={"crossbar.adc_bits": []}), "axes.crossbar.adc_bits: expected a non-empty list of values"),
    (_spec(axes={"crossbar.adc_bits": 5}), "axes.crossbar.adc_bits: expected a non-empty list of values"),
    (_spec(axes={"crossbar.adc_bits": [[4]]}), "axes.crossbar.adc_bits[0]: expected a single value"),
    (_spec(axes={"crossbar.adc_bits": {"min": 4, "max": 8}}),
     "axes.crossbar.adc_bits.num: expected an integer >= 1 (combine: grid needs a number of values for a range)"),
    (_spec(axes={"crossbar.adc_bits": {"min": 4, "max": 8, "num": 4}}),
     "axes.crossbar.adc_bits.num: expected a number of evenly spaced distinct integers in [4, 8], got 4"),
    (_spec(axes={"crossbar.adc_bits": {"min": 8, "max": 4, "num": 2}}),
     "axes.crossbar.adc_bits.max: expected a number >= min (8), got 4"),
    (_spec(axes={"crossbar.variation_sigma": {"min": 0, "max": 0.1, "log": True}}, combine="random", samples=2),
     "axes.crossbar.variation_sigma.min: expected a number > 0 (log: true), got 0"),
    (_spec(axes={"crossbar.adc_bits": {"min": 4, "maxx": 8}}), "axes.crossbar.adc_bits.maxx: expected a key of Range"),
    (_spec(axes={"array": [{"crossbar.rows": 16}, {"crossbar.cols": 16}]}),
     "axes.array[1]: expected the same keys as the first value (crossbar.rows), got crossbar.cols"),
    (_spec(axes={"array": [{"crossbar.rowz": 16}]}), "axes.array[0].crossbar.rowz: expected a field of the arch"),
    (_spec(axes={"array": [{"crossbar.rows": 16}], "crossbar.rows": [8]}),
     "axes.crossbar.rows: expected a field no other axis sets, got crossbar.rows, set by axis array too"),
    (_spec(axes={"crossbar.adc_bits": [4, 5], "crossbar.rows": [16]}, combine="zip"),
     "axes.crossbar.rows: expected 2 values (combine: zip; axis crossbar.adc_bits has 2), got 1 value"),
    (_spec(combine="lhs"), "samples: expected an integer >= 1 (combine: lhs draws that many points), got nothing"),
    (_spec(samples=3), "samples: expected nothing (combine: grid takes every value"),
    (_spec(combine="latin"), "combine: expected one of 'grid', 'zip', 'random', 'lhs', got 'latin'"),
    (_spec(schedules=["layer", "pipelined"]), "schedules[1]: expected one of 'layer', 'pipeline', got 'pipelined' "
     "(did you mean 'pipeline'?)"),
    (_spec(batches=0), "batches: expected an integer 1..1048576, got 0"),
    (_spec(energy_tables=[None, "nope"]), "energy_tables[1]: expected an energy table preset"),
    (_spec(seed=-1), "seed: expected an integer 0..4294967295, got -1"),
    (_spec(accuracy={"model": "digits-d7-w16-k3"}), "accuracy.model: expected a study model name"),
    (_spec(accuracy={"model": ["digits-d6-w16-k3", "nope"]}), "accuracy.model[1]: expected a study model name"),
    (_spec(accuracy={"model": "digits-d6-w16-k3", "dataset": "mnist1d"}),
     "accuracy.dataset: expected 'digits' (the dataset digits-d6-w16-k3 was trained on), got 'mnist1d'"),
    (_spec(accuracy={"model": "digits-d6-w16-k3", "sigma": [0.1, -1]}), "accuracy.sigma[1]: expected a number >= 0"),
    (_spec(accuracy={"model": "digits-d6-w16-k3", "sigma": 0.1}, axes={"crossbar.variation_sigma": [0.1]}),
     "accuracy.sigma: expected nothing when an axis sets crossbar.variation_sigma"),
    (_spec(accuracy={"draws": 2}), "accuracy.model: expected"),
])
def test_errors_name_the_dotted_path(spec, message):
    with pytest.raises(ConfigError) as info:
        load_sweep(spec)
    assert str(info.value).startswith(message), str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file_is_a_config_error():
    with pytest.raises(ConfigError, match=r"^sweep: expected a sweep spec YAML file or a mapping, got 'nope.yaml'"):
        load_sweep("nope.yaml")


def test_yaml_syntax_error_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\naxes: {crossbar.adc_bits: [4, 6}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: expected valid YAML, got .* line 2"):
        load_sweep(path)


def test_defaults_are_simulate_defaults():
    spec = load_sweep({"version": 1})
    assert spec.arch == load_arch("isaac")
    assert [w.label for w in spec.settings_workloads] == ["resnet18"]
    assert spec.schedules is None and spec.batches == (1,) and spec.energy_tables == (None,)
    assert spec.combine == "grid" and spec.seed == 0
    assert len(points(spec)) == 1 and points(spec)[0].overrides == ()
    assert points(spec)[0].schedule == spec.arch.schedule == "pipeline"  # as simulate: the arch's own


def test_file_paths_are_relative_to_the_spec_file(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # not the spec's folder
    spec = load_sweep(DATA / "adc.yaml")
    assert spec.arch.name == "tiny-6bit" and spec.arch.crossbar.adc_bits == 6
    assert [a.name for a in spec.axes] == ["crossbar.adc_bits", "array"]
    assert spec.axes[1].paths == ("crossbar.rows", "crossbar.cols") and spec.axes[1].values == ((16, 16), (32, 32))
    assert len(points(spec)) == 2 * 3 * 2


def test_linked_axis_sets_its_fields_together():
    spec = load_sweep(_spec(axes={"array": [{"crossbar.rows": 16, "crossbar.cols": 8},
                                            {"crossbar.rows": 32, "crossbar.cols": 16}]}))
    assert [dict(p.overrides) for p in points(spec)] == [{"crossbar.rows": 16, "crossbar.cols": 8},
                                                         {"crossbar.rows": 32, "crossbar.cols": 16}]
    assert swept_columns(spec)["crossbar.rows"] == "int64"


def test_column_types_follow_the_values():
    spec = load_sweep(_spec(axes={"crossbar.adc_bits": [4, 6], "crossbar.variation_sigma": [0, 0.1],
                                  "pe.adc_rate": ["1GHz", "2GHz"], "pe.sample_hold": [True, False],
                                  "crossbar.rows": {"min": 8, "max": 32, "num": 4},
                                  "crossbar.read_noise_sigma": {"min": 0.0, "max": 0.1, "num": 3}}))
    types = swept_columns(spec)
    assert types["crossbar.adc_bits"] == "int64" and types["crossbar.variation_sigma"] == "double"
    assert types["pe.adc_rate"] == "string" and types["pe.sample_hold"] == "bool"
    assert types["crossbar.rows"] == "int64" and types["crossbar.read_noise_sigma"] == "double"
    rows = sorted({dict(p.overrides)["crossbar.rows"] for p in points(spec)})
    assert rows == [8, 16, 24, 32]


def test_settings_are_crossed_outside_the_design():
    spec = load_sweep(_spec(workloads=["mlp", "resnet20"], batches=[1, 4], axes={"crossbar.adc_bits": [4, 6]}))
    got = [(spec.settings_workloads[p.workload].label, p.batch, dict(p.overrides)["crossbar.adc_bits"])
           for p in points(spec)]
    assert got == [("mlp", 1, 4), ("mlp", 1, 6), ("mlp", 4, 4), ("mlp", 4, 6),
                   ("resnet20", 1, 4), ("resnet20", 1, 6), ("resnet20", 4, 4), ("resnet20", 4, 6)]


def test_accuracy_without_workloads_runs_each_models_network():
    spec = load_sweep({"version": 1, "arch": "study", "accuracy": {"model": ["digits-d6-w16-k3", "digits-d10-w16-k3"],
                                                                   "sigma": [0, 0.1], "draws": 2}})
    generated = points(spec)
    assert len(generated) == 4
    assert [spec.settings_workloads[p.workload].label for p in generated] == ["digits-d6-w16-k3"] * 2 + \
        ["digits-d10-w16-k3"] * 2
    assert [p.model for p in generated] == [0, 0, 1, 1]
    assert [dict(p.overrides)["crossbar.variation_sigma"] for p in generated] == [0, 0.1, 0, 0.1]
    assert spec.accuracy.dataset_of(spec.accuracy.model[0]) == "digits"
