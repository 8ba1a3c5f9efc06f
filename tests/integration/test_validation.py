"""``xbarsim validate``: every case within the tolerance it declares (docs/validation.md).

The whole table runs VGG-8 data-aware on two NeuroSim chips (minutes): those tests are slow; the
published chips' cases (ISAAC, NeuRRAM, Sinangil) run in every suite.
"""

import dataclasses

import pytest

from xbarsim.cli import main
from xbarsim.energy.validation import (CASES, Case, Conventions, Metric, failures, format_table, run_case,
                                       run_validation, target_errors)

CHIPS = tuple(c for c in CASES if not c.name.startswith("neurosim"))


@pytest.fixture(scope="module")
def rows():
    return run_validation()


@pytest.fixture(scope="module")
def chip_rows():
    return run_validation(CHIPS)


@pytest.mark.slow
def test_every_case_is_within_its_tolerance(rows):
    assert not failures(rows), format_table(failures(rows))


def test_published_chips_are_within_tolerance_and_meet_the_targets(chip_rows):
    """ISAAC, NeuRRAM and the Sinangil macro: within their guards, and within the targets (10% mean,
    25% worst |error| on throughput and efficiency, calibration points excluded)."""
    assert not failures(chip_rows), format_table(failures(chip_rows))
    errors = target_errors(chip_rows)
    assert len(errors) == 6  # ISAAC peak TOPS; NeuRRAM 4b/6b TOPS, 1b/3b TOPS and TOPS/W; Sinangil TOPS and TOPS/W
    assert max(errors) <= 0.25 and sum(errors) / len(errors) <= 0.10, format_table(chip_rows)


def test_calibration_points_are_shown_but_not_targets(chip_rows):
    calibrated = [(c.name, m.name) for c, m, _, _ in chip_rows if m.calibration]
    assert calibrated == [("neurram-4b6b", "peak_tops_per_w"), ("sinangil-sram7", "peak_tops")]
    table = format_table(chip_rows)
    assert "| peak_tops_per_w (calibration) |" in table
    assert "(6 figures, calibration points excluded)" in table


def test_macro_scope_prices_only_the_arrays_and_converters():
    """A macro measurement covers the arrays and converters: the chip around them costs nothing."""
    case = next(c for c in CASES if c.name == "neurram-1b3b")
    arrays = run_case(case)
    chip = run_case(dataclasses.replace(case, conventions=Conventions()))
    assert arrays["peak_tops"] == chip["peak_tops"]
    assert arrays["peak_tops_per_w"] > chip["peak_tops_per_w"] and arrays["area_mm2"] < chip["area_mm2"]


@pytest.mark.slow
def test_isaac_table_i_is_reproduced(rows):
    for case, metric, value, error in rows:
        if case.name == "isaac":
            assert abs(error) <= 0.02, (metric.name, value)


def test_neurosim_conventions_are_explicit_and_change_the_result():
    case = next(c for c in CASES if c.name == "neurosim-sram22")
    assert case.conventions == Conventions(post_layout_factor=1.22, conv_vectors="valid", offchip=False)
    assert case.data == "neurosim"
    structural = dataclasses.replace(case, data=None)  # the conventions' effect, without the data-aware run
    plain = dataclasses.replace(structural, conventions=Conventions())
    with_conventions, without = run_case(structural), run_case(plain)
    assert with_conventions["tops_per_w"] != pytest.approx(without["tops_per_w"])
    assert with_conventions["tops"] != pytest.approx(without["tops"])  # the bottleneck's valid vectors
    # leaving DRAM out lowers the energy, the post-layout factor lowers TOPS/W by exactly 1.22
    chip_only = run_case(dataclasses.replace(plain, conventions=Conventions(offchip=False)))
    assert chip_only["energy_per_inference_uj"] < without["energy_per_inference_uj"]
    zeta = run_case(dataclasses.replace(plain, conventions=Conventions(offchip=False, post_layout_factor=1.22)))
    assert zeta["tops_per_w"] == pytest.approx(chip_only["tops_per_w"] / 1.22, rel=1e-9)


def test_command_prints_the_table_and_fails_beyond_tolerance(capsys, monkeypatch):
    assert main(["validate", "--case", "isaac"]) == 0
    out = capsys.readouterr().out
    assert "| isaac | peak_tops | 41.3 |" in out
    strict = Case("isaac", "isaac", None, (Metric("peak_tops", 30.0, "a deliberately wrong figure", 0.01),))
    monkeypatch.setattr("xbarsim.energy.validation.CASES", (strict,))
    assert main(["validate"]) == 1
    assert "beyond their case's tolerance" in capsys.readouterr().err
    assert main(["validate", "--case", "nope"]) == 1
