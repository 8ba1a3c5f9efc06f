"""The command line: each command, its output and its exit codes."""

import subprocess
import sys
from pathlib import Path

import pytest

from xbarsim.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_run_simulates_the_default(capsys):
    assert main(["run"]) == 0
    out = capsys.readouterr().out
    assert "resnet18 on isaac (schedule pipeline (the arch default), batch 1" in out
    assert "peak 41.29 TOPS" in out and "latency" in out and "energy by component" in out


def test_run_options(capsys):
    assert main(["run", "--arch", "tiny", "--workload", "mlp", "--batch", "2", "--schedule", "pipeline"]) == 0
    out = capsys.readouterr().out
    assert "mlp on tiny (schedule pipeline, batch 2, energy table tiny)" in out


def test_run_replay_report(tmp_path, capsys):
    trace = tmp_path / "run.h5"
    assert main(["run", "--arch", "tiny", "--workload", "mlp", "--out", str(trace), "--quiet"]) == 0
    assert f"trace written to {trace}" in capsys.readouterr().out
    assert main(["run", "--arch", "tiny", "--workload", "mlp", "--out", str(trace), "--quiet"]) == 1
    assert "exists: pass overwrite=True (or --force)" in capsys.readouterr().err
    assert main(["run", "--arch", "tiny", "--workload", "mlp", "--out", str(trace), "--force", "--quiet",
                 "--detail", "summary"]) == 0
    capsys.readouterr()
    faster = tmp_path / "faster.yaml"
    faster.write_text("version: 1\nbase: tiny\nchip:\n  clock: 2GHz\n")
    out = tmp_path / "faster.h5"
    assert main(["replay", str(trace), "--arch", str(faster), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "re-timed from" in text and "cycles" in text and "unchanged" in text and out.exists()
    assert main(["replay", str(trace), "--energy", "tiny"]) == 0
    assert "re-priced from" in capsys.readouterr().out
    wider = tmp_path / "wider.yaml"
    wider.write_text("version: 1\nbase: tiny\ncrossbar:\n  rows: 32\n")
    assert main(["replay", str(trace), "--arch", str(wider)]) == 1
    assert "crossbar.rows (16 -> 32)" in capsys.readouterr().err
    report = tmp_path / "report"
    assert main(["report", str(out), "--out", str(report)]) == 0
    assert (report / "report.md").exists() and (report / "timeline.png").exists()
    assert main(["report", str(tmp_path / "missing.h5")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_check_guesses_the_kind(tmp_path, capsys):
    assert main(["check", "resnet20"]) == 0
    assert "a valid workload spec" in capsys.readouterr().out
    assert main(["check", "isaac"]) == 0
    assert "a valid arch spec" in capsys.readouterr().out
    table = tmp_path / "t.yaml"
    table.write_text("version: 1\nbase: tiny\ncomponents:\n  adc:\n    area: 1mm2\n    power: 1W\n")
    assert main(["check", str(table)]) == 0
    assert "a valid energy spec" in capsys.readouterr().out
    assert main(["check", "--kind", "workload", str(table)]) == 1
    assert "xbarsim: error:" in capsys.readouterr().err


def test_mvm_default_is_exact_for_the_ideal_isaac_crossbar(capsys):
    assert main(["mvm", "--size", "200x20", "--vectors", "16"]) == 0
    out = capsys.readouterr().out
    assert "'isaac' crossbar" in out and "exact needs 8" in out
    as_specified = next(line for line in out.splitlines() if line.strip().startswith("as specified"))
    assert as_specified.split()[2:4] == ["0", "0"]  # max |error| and RMS error
    assert "programming variation 5%" in out and "read noise 1%" in out and "ADC 7 bits" in out


def test_mvm_on_tiny(capsys):
    assert main(["mvm", "--arch", "tiny", "--size", "40x10", "--vectors", "8", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "3 row tiles x 2 column tiles = 6 arrays" in out


def test_presets_and_check(capsys, tmp_path):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert "isaac" in out and "resnet18" in out and "energy tables" in out
    spec = tmp_path / "chip.yaml"
    spec.write_text("version: 1\nbase: tiny\ncrossbar:\n  adc_bits: 5\n")
    assert main(["check", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "adc_bits: 5" in out and "rows: 16" in out


@pytest.mark.parametrize("argv, code, message", [
    (["check", "missing.yaml"], 1, "xbarsim: error: arch: expected a preset name"),
    (["mvm", "--size", "3"], 2, "expected KxM"),
    (["mvm", "--vectors", "0"], 2, "expected a positive integer"),
    (["run", "--batch", "0"], 2, "expected a positive integer"),
    (["run", "--schedule", "wavefront"], 2, "invalid choice"),
    (["run", "--workload", "nope"], 1, "xbarsim: error: workload: expected a built-in network"),
    (["run", "--arch", "tiny", "--workload", "alexnet"], 1, "xbarsim: error: layer"),
    (["run", "--detail", "everything"], 2, "invalid choice"),
    (["replay"], 2, "the following arguments are required: trace"),
    (["replay", "nothing.h5"], 1, "xbarsim: error: nothing.h5: no such file"),
    (["report"], 2, "the following arguments are required: trace"),
    (["frobnicate"], 2, "invalid choice"),
    ([], 2, "usage"),
    (["run", "--images", "5"], 2, "argument --images: only with --model"),
    (["run", "--model", "digits-d10-w16-k3", "--batch", "3"], 2, "argument --batch: not allowed with argument --model"),
    (["run", "--model", "digits-d10-w16-k3", "--workload", "vgg8"], 2, "not allowed with argument --model"),
    (["accuracy", "--family", "depth", "--rows", "adc-bits"], 2, "not allowed with argument --family"),
    (["run", "--seed", "-1"], 2, "argument --seed: expected an integer 0..2**63-1, got '-1'"),
    (["mvm", "--seed", "x"], 2, "argument --seed: expected an integer"),
    (["run", "--model", "nope"], 1, "xbarsim: error: --model: expected a study model name"),
    (["run", "--out", "/proc/xbarsim-test/r.h5", "--arch", "tiny", "--workload", "mlp"], 1,
     "xbarsim: error: /proc/xbarsim-test/r.h5: cannot create the trace there"),
    (["check", "/proc/self/mem"], 1, "xbarsim: error: arch: expected a readable UTF-8 YAML file"),
])
def test_errors_have_exit_codes_and_one_line(argv, code, message, capsys):
    try:
        result = main(argv)
    except SystemExit as exc:  # argparse exits for usage errors
        result = exc.code
    assert result == code
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    if code == 1:
        assert err.count("\n") == 1, err


def test_bad_spec_value_is_one_line(tmp_path, capsys):
    spec = tmp_path / "bad.yaml"
    spec.write_text("version: 1\ncrossbar:\n  adc_bits: 0\n")
    assert main(["check", str(spec)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "xbarsim: error: crossbar.adc_bits: expected an integer 1..16, got 0"


def test_python_dash_m_and_debug():
    result = subprocess.run([sys.executable, "-m", "xbarsim", "--debug", "check", "nope"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode != 0 and "Traceback" in result.stderr
    result = subprocess.run([sys.executable, "-m", "xbarsim", "--version"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0 and result.stdout.startswith("xbarsim ")


def test_readme_quick_start_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    block = readme.split("```bash", 1)[1].split("```", 1)[0].strip().splitlines()
    assert len(block) == 2, "the quick start is exactly two commands"
    install_and_run, install_and_test = block
    assert install_and_run.endswith("xbarsim run")
    assert install_and_run.split(" && ")[0] == install_and_test.split(" && ")[0] == "python3 -m venv .venv"
    assert install_and_test in ci


def test_config_reference_is_current():
    from xbarsim.config.reference import markdown
    assert (ROOT / "docs" / "config.md").read_text() == markdown()


def test_a_bug_is_reported_as_an_internal_error_with_its_traceback(monkeypatch, capsys):
    """A ValueError from a simulator bug is not disguised as a user error (exit 3, not 1)."""
    import xbarsim.cli as cli

    def buggy(args):
        raise ValueError("index 3 is out of bounds")  # what a bug looks like

    monkeypatch.setattr(cli, "cmd_presets", buggy)
    assert cli.main(["presets"]) == cli.EXIT_BUG == 3
    err = capsys.readouterr().err
    assert err.startswith("xbarsim: internal error in xbarsim") and "please report" in err
    assert "Traceback" in err and "ValueError: index 3 is out of bounds" in err


def test_user_errors_are_xbarsim_errors_not_plain_value_errors():
    import xbarsim

    for call in (lambda: xbarsim.simulate("tiny", "mlp", batch=0), lambda: xbarsim.simulate("tiny", "mlp", seed=-1),
                 lambda: xbarsim.simulate("tiny", "mlp", seed="x"), lambda: xbarsim.simulate("tiny", "mlp", detail="x"),
                 lambda: xbarsim.simulate("tiny", "mlp", schedule="x")):
        with pytest.raises(xbarsim.ArgumentError):
            call()
