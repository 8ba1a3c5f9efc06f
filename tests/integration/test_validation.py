"""``xbarsim validate``: every case within the tolerance it declares (docs/validation.md)."""

import pytest

from xbarsim.cli import main
from xbarsim.energy.validation import CASES, Case, Conventions, Metric, failures, format_table, run_validation


@pytest.fixture(scope="module")
def rows():
    return run_validation()


def test_every_case_is_within_its_tolerance(rows):
    assert not failures(rows), format_table(failures(rows))


def test_isaac_table_i_is_reproduced(rows):
    for case, metric, value, error in rows:
        if case.name == "isaac":
            assert abs(error) <= 0.02, (metric.name, value)


def test_neurosim_conventions_are_explicit_and_change_the_result():
    case = next(c for c in CASES if c.name == "neurosim-sram22")
    assert case.conventions == Conventions(post_layout_factor=1.22, conv_vectors="valid")
    plain = Case(case.name, case.arch, case.workload, case.metrics)
    (_, _, with_conventions, _), = [r for r in run_validation([case]) if r[1].name == "tops_per_w"]
    (_, _, without, _), = [r for r in run_validation([plain]) if r[1].name == "tops_per_w"]
    assert with_conventions != pytest.approx(without)


def test_command_prints_the_table_and_fails_beyond_tolerance(capsys, monkeypatch):
    assert main(["validate", "--case", "isaac"]) == 0
    out = capsys.readouterr().out
    assert "| isaac | peak_tops | 41.3 |" in out
    strict = Case("isaac", "isaac", None, (Metric("peak_tops", 30.0, "a deliberately wrong figure", 0.01),))
    monkeypatch.setattr("xbarsim.energy.validation.CASES", (strict,))
    assert main(["validate"]) == 1
    assert "beyond their case's tolerance" in capsys.readouterr().err
    assert main(["validate", "--case", "nope"]) == 1
