"""Sweeps end to end: results folder, resume and cache, traces, CLI, reports, serial vs local Dask cluster."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import xbarsim
from xbarsim import ConfigError, open_trace
from xbarsim.cli import main
from xbarsim.sweeps import TIMING_COLUMNS, read_results, run_sweep, sweep, sweep_report
from xbarsim.sweeps.run import plan
from xbarsim.sweeps.spec import load_sweep
from xbarsim.sweeps.store import JOURNAL, SCHEMA_PART, ResultStore

ADC = {"version": 1, "name": "adc", "arch": "tiny", "workloads": "mlp", "schedules": ["layer", "pipeline"],
       "axes": {"crossbar.adc_bits": [4, 6, 8], "crossbar.rows": [0, 16]}}
"""12 points on tiny: the 6 with crossbar.rows = 0 are invalid."""


def _reproducible(frame):
    return frame.drop(columns=list(TIMING_COLUMNS))


def test_one_row_per_point_with_metrics_and_errors():
    frame = sweep(ADC, scheduler="serial")
    assert list(frame["point"]) == list(range(12))
    assert list(frame["status"]) == ["invalid", "ok"] * 6
    invalid = frame[frame["status"] == "invalid"]
    assert invalid["error"].str.startswith("crossbar.rows: expected an integer 1..65536, got 0").all()
    ok = frame[frame["status"] == "ok"]
    assert ok["error"].isna().all()
    for column in ("latency_s", "throughput_ips", "energy_pj", "area_mm2", "peak_tops", "peak_power_w", "tops",
                   "tops_per_w", "utilization", "dram_bytes", "cycles", "energy_dynamic_pj"):
        assert (ok[column] > 0).all(), column
    # one column per component the simulator reports, summing to the total energy
    components = [c for c in frame.columns if c.startswith("energy_") and c.endswith("_pj") and c not in
                  ("energy_pj", "energy_per_inference_pj", "energy_dynamic_pj", "energy_leakage_pj")]
    result = xbarsim.simulate(xbarsim.evolve(xbarsim.load_arch("tiny"), {"crossbar.adc_bits": 4}), "mlp")
    assert sorted(components) == sorted(f"energy_{c}_pj" for c in result.energy.by_component)
    assert ok[components].sum(axis=1).to_numpy() == pytest.approx(ok["energy_pj"].to_numpy(), rel=1e-9)
    first = ok.iloc[0]
    assert first["latency_s"] == result.latency_s and first["energy_pj"] == result.energy_pj
    assert first["energy_adc_pj"] == result.energy.by_component["adc"]
    assert first["utilization"] == result.mapping.utilization and first["dram_bytes"] == result.dram_bytes


def test_results_folder_is_a_parquet_dataset_and_reruns_skip_done_points(tmp_path):
    out = tmp_path / "adc.parquet"
    first = run_sweep(ADC, out, scheduler="serial")
    assert (first.cached, first.computed) == (0, 12)
    assert (out / SCHEMA_PART).is_file() and not (out / JOURNAL).exists()
    on_disk = pd.read_parquet(out)  # plain pandas reads the folder
    assert len(on_disk) == 12 and set(on_disk["hash"]) == set(first.frame["hash"])
    again = run_sweep(ADC, out, scheduler="serial")
    assert (again.cached, again.computed) == (12, 0)
    pd.testing.assert_frame_equal(again.frame, first.frame)  # nothing recomputed: even timings are the stored ones
    forced = run_sweep(ADC, out, scheduler="serial", force=True)
    assert forced.computed == 12
    pd.testing.assert_frame_equal(_reproducible(forced.frame), _reproducible(first.frame))
    # the superseded part was deleted when the forced sweep completed: one row per point on disk
    assert len(pd.read_parquet(out)) == 12 and len(read_results(out)) == 12


def test_a_grown_spec_runs_only_its_new_points(tmp_path):
    out = tmp_path / "grow.parquet"
    run_sweep(ADC, out, scheduler="serial")
    grown = dict(ADC, axes={"crossbar.adc_bits": [4, 6, 8, 10], "crossbar.rows": [0, 16]})
    run = run_sweep(grown, out, scheduler="serial")
    assert (run.points, run.cached, run.computed) == (16, 12, 4)
    assert list(run.frame["crossbar.adc_bits"]) == [4, 4, 6, 6, 8, 8, 10, 10] * 2


def test_error_points_are_retried(tmp_path, monkeypatch):
    out = tmp_path / "retry.parquet"
    import xbarsim.simulation

    real = xbarsim.simulation.simulate

    def flaky(arch, *args, **kwargs):
        if arch.crossbar.adc_bits == 6:
            raise MemoryError("out of memory on this worker")
        return real(arch, *args, **kwargs)

    monkeypatch.setattr(xbarsim.simulation, "simulate", flaky)
    first = run_sweep(ADC, out, scheduler="serial")
    failed = first.frame[first.frame["status"] == "error"]
    assert len(failed) == 2 and (failed["error"] == "MemoryError: out of memory on this worker").all()
    monkeypatch.setattr(xbarsim.simulation, "simulate", real)
    second = run_sweep(ADC, out, scheduler="serial")
    assert second.computed == 2 and second.counts() == {"ok": 6, "invalid": 6, "error": 0}
    assert len(read_results(out)) == 12


def test_hash_ignores_spelling_and_process_but_not_content(tmp_path):
    spec = {"version": 1, "arch": "tiny", "workloads": "mlp", "axes": {"chip.clock": ["1GHz", "1000MHz", "2GHz"]}}
    hashes = [item.hash for item in plan(load_sweep(spec)).items]
    assert hashes[0] == hashes[1] != hashes[2]
    assert len(sweep(spec, scheduler="serial")) == 3  # duplicates run once, every point has its row
    code = ("import json, xbarsim.sweeps.run as r, xbarsim.sweeps.spec as s; "
            f"print(json.dumps([i.hash for i in r.plan(s.load_sweep({spec!r})).items]))")
    for seed in ("1", "2"):
        other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                               env={**os.environ, "PYTHONHASHSEED": seed})
        assert json.loads(other.stdout) == hashes
    with_table = dict(spec, energy_tables="isaac")
    assert [i.hash for i in plan(load_sweep(with_table)).items] != hashes


def test_hash_includes_the_xbarsim_version(monkeypatch):
    spec = load_sweep(ADC)
    before = [item.hash for item in plan(spec).items]
    monkeypatch.setattr("xbarsim.sweeps.run.__version__", "999.0")
    assert all(a != b for a, b in zip(before, (item.hash for item in plan(spec).items)))


def test_traces_are_named_by_hash_and_required_on_rerun(tmp_path):
    out, traces = tmp_path / "t.parquet", tmp_path / "traces"
    frame = run_sweep(ADC, out, scheduler="serial", traces=traces).frame
    ok = frame[frame["status"] == "ok"]
    assert sorted(p.name for p in traces.iterdir()) == sorted(f"{h}.h5" for h in ok["hash"])
    for h, trace, energy in zip(ok["hash"], ok["trace"], ok["energy_pj"]):
        assert trace == str(traces.resolve() / f"{h}.h5")
        with open_trace(trace) as recorded:
            assert recorded.summary["energy_pj"] == pytest.approx(energy, rel=1e-12)
    Path(ok["trace"].iloc[0]).unlink()
    again = run_sweep(ADC, out, scheduler="serial", traces=traces)
    assert again.computed == 1 and Path(ok["trace"].iloc[0]).is_file()
    assert run_sweep(ADC, out, scheduler="serial").computed == 0  # without --traces the rows are enough


def _row(h, **extra):
    import datetime

    return {"point": 0, "hash": h, "status": "ok", "workload": "mlp", "latency_s": 1.0,
            "finished_at": datetime.datetime.now(datetime.timezone.utc), **extra}


def test_parts_with_new_columns_read_whole_with_pandas(tmp_path):
    out = tmp_path / "cols.parquet"
    with ResultStore(out, {"workload": "string"}, part_rows=1) as store:
        store.append(_row("a" * 16, energy_adc_pj=1.0))
        store.append(_row("b" * 16, energy_adc_pj=2.0, energy_newpart_pj=3.0))
    frame = pd.read_parquet(out).sort_values("hash")
    assert list(frame["energy_adc_pj"]) == [1.0, 2.0]
    assert frame["energy_newpart_pj"].isna().tolist() == [True, False]


def test_journal_keeps_rows_of_a_killed_writer(tmp_path):
    out = tmp_path / "j.parquet"
    store = ResultStore(out, {"workload": "string"}, part_rows=100)
    store.__enter__()
    store.append(_row("a" * 16))
    store.append(_row("b" * 16))
    store._journal.close()  # the process dies: no flush, no part, the lock goes with it
    store._release_lock()
    with open(out / JOURNAL, "a") as journal:
        journal.write('{"hash": "cccccccccccccccc", "sta')  # killed in the middle of a line
    assert sorted(read_results(out)["hash"]) == ["a" * 16, "b" * 16]  # readable before any recovery
    with ResultStore(out, {"workload": "string"}) as again:
        assert sorted(again.done()) == ["a" * 16, "b" * 16]
    assert not (out / JOURNAL).exists() and sorted(pd.read_parquet(out)["hash"]) == ["a" * 16, "b" * 16]


def test_journal_rows_already_in_a_part_are_not_duplicated(tmp_path):
    out = tmp_path / "d.parquet"
    store = ResultStore(out, {"workload": "string"}, part_rows=100)
    store.__enter__()
    store.append(_row("a" * 16))
    journal = (out / JOURNAL).read_text()
    store.flush()  # the part is written ...
    (out / JOURNAL).write_text(journal)  # ... and the process dies before the journal is emptied
    store._journal.close()
    store._release_lock()
    with ResultStore(out, {"workload": "string"}):
        pass
    assert list(pd.read_parquet(out)["hash"]) == ["a" * 16]


def test_folder_in_use_wrong_kind_or_wrong_types_is_refused(tmp_path):
    out = tmp_path / "busy.parquet"
    with ResultStore(out, {"workload": "string"}):
        with pytest.raises(ConfigError, match=r"^out: expected a results folder no other sweep is writing"):
            ResultStore(out, {"workload": "string"}).__enter__()
    a_file = tmp_path / "file.parquet"
    a_file.write_text("")
    with pytest.raises(ConfigError, match=r"^out: expected a results folder .* \(a file exists there\)"):
        run_sweep(ADC, a_file, scheduler="serial")
    run_sweep(ADC, out, scheduler="serial")
    as_text = dict(ADC, axes={"crossbar.adc_bits": ["4", "6"]})
    with pytest.raises(ConfigError, match=r"^out: expected a results folder whose column 'crossbar.adc_bits' holds "
                                          r"string values"):
        run_sweep(as_text, out, scheduler="serial")


def test_option_errors_name_the_option():
    with pytest.raises(ConfigError, match=r"^workers: expected an integer >= 1, got 0"):
        sweep(ADC, workers=0)
    with pytest.raises(ConfigError, match=r"^workers: expected nothing with scheduler 'serial'"):
        sweep(ADC, scheduler="serial", workers=2)


def test_cli_sweep_report_and_dry_run(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "adc.yaml"
    spec.write_text(json.dumps(ADC))  # JSON is YAML
    assert main(["sweep", str(spec), "--dry-run"]) == 0
    dry = capsys.readouterr().out
    assert "sweep adc: 12 points (12 distinct), 6 invalid before running, 0 already in adc.parquet, 12 to run" in dry
    assert main(["sweep", str(spec), "--scheduler", "serial", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "12 points: 6 ok, 6 invalid, 0 failed (0 from earlier runs)" in out and "results in adc.parquet" in out
    assert main(["sweep", str(spec), "--dry-run"]) == 0
    assert "12 already in adc.parquet, 0 to run" in capsys.readouterr().out
    assert main(["sweep-report", "adc.parquet"]) == 0
    report = tmp_path / "adc-report"
    assert sorted(p.name for p in report.iterdir()) == ["pareto-energy-latency.png", "pareto-topsw-area.png",
                                                         "sweep-report.md"]
    text = (report / "sweep-report.md").read_text()
    assert "12 points: 6 ok, 6 invalid, 0 failed" in text
    assert "| lowest latency |" in text and "adc_bits=" in text and "schedule=" in text
    assert "| invalid | crossbar.rows: expected an integer 1..65536, got 0 | 6 |" in text


def test_cli_errors_are_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\narch: tiny\naxes:\n  crossbar.adc_bit: [4]\n")
    assert main(["sweep", str(bad)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["xbarsim: error: axes.crossbar.adc_bit: expected a field of the arch (a dotted path such as "
                   "crossbar.adc_bits), got an unknown field (did you mean 'crossbar.adc_bits'?)"]
    monkeypatch.setattr("xbarsim.sweeps.run.CONNECT_TIMEOUT", "1s")
    good = tmp_path / "good.yaml"
    good.write_text(json.dumps(ADC))
    assert main(["sweep", str(good), "--scheduler", "tcp://127.0.0.1:9", "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("xbarsim: error: scheduler: expected the address of a running Dask "
                                               "scheduler (tcp://host:8786) or its scheduler file, got "
                                               "'tcp://127.0.0.1:9'")


def test_report_of_accuracy_sweep_draws_the_accuracy_front(tmp_path):
    spec = {"version": 1, "arch": "study", "accuracy": {"model": "digits-d6-w16-k3", "sigma": [0.0, 0.2], "draws": 2,
                                                        "test_limit": 60}, "axes": {"crossbar.adc_bits": [6, 10]}}
    frame = sweep(spec, scheduler="serial")
    assert list(frame["status"]) == ["ok"] * 4
    assert frame["accuracy_model"].eq("digits-d6-w16-k3").all() and frame["workload"].eq("digits-d6-w16-k3").all()
    assert ((frame["accuracy"] >= 0) & (frame["accuracy"] <= 1)).all()
    noiseless = frame[frame["crossbar.variation_sigma"] == 0]
    assert (noiseless["accuracy_std"] == 0).all()  # nothing random: every draw is the same
    best = frame.loc[frame["accuracy"].idxmax()]
    assert best["crossbar.adc_bits"] == 10 and best["crossbar.variation_sigma"] == 0
    files = sweep_report(frame, tmp_path / "report")
    assert set(files) == {"energy-latency", "accuracy-energy", "topsw-area", "report"}
    assert "| highest accuracy |" in files["report"].read_text()


@pytest.mark.slow
def test_local_cluster_gives_the_serial_table(tmp_path):
    serial = sweep(ADC, scheduler="serial")
    local = run_sweep(ADC, tmp_path / "local.parquet", workers=2)
    pd.testing.assert_frame_equal(_reproducible(local.frame), _reproducible(serial))
    assert local.frame["host"].dropna().nunique() >= 1


def _journal_rows(out: Path) -> int:
    journal = out / JOURNAL
    if not journal.is_file():
        return 0
    return sum(1 for line in journal.read_text().splitlines()[1:] if line.endswith("}"))


SLOW = {"version": 1, "name": "slow", "arch": "isaac", "workloads": "resnet18", "batches": 2,
        "axes": {"crossbar.adc_bits": [4, 5, 6, 7, 8, 9, 10], "array": [{"crossbar.rows": 64, "crossbar.cols": 64},
                                                                        {"crossbar.rows": 128, "crossbar.cols": 128}]}}
"""14 points of about 0.2-0.4 s each: long enough to be killed in the middle."""


def _cli(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "xbarsim", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, **kwargs)


def _wait_for_rows(process, out: Path, rows: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while _journal_rows(out) < rows:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the sweep did not finish points in time"
        time.sleep(0.05)


def test_resume_after_kill_9_loses_no_finished_point(tmp_path):
    spec, out = tmp_path / "slow.yaml", tmp_path / "slow.parquet"
    spec.write_text(json.dumps(SLOW))
    process = _cli("sweep", str(spec), "--out", str(out), "--scheduler", "serial", "--quiet")
    try:
        _wait_for_rows(process, out, 3)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    finished = read_results(out)  # every row in the journal is readable at once
    assert 3 <= len(finished) < 14 and (finished["status"] == "ok").all()
    run = run_sweep(spec, out, scheduler="serial")
    assert (run.cached, run.computed) == (len(finished), 14 - len(finished))
    table = pd.read_parquet(out)
    assert sorted(table["hash"]) == sorted(run.frame["hash"]) and table["hash"].is_unique
    kept = table.set_index("hash").loc[finished["hash"], "finished_at"]
    assert list(kept) == list(finished["finished_at"])  # the killed run's rows, not recomputed
    pd.testing.assert_frame_equal(_reproducible(run.frame), _reproducible(sweep(SLOW, scheduler="serial")))


@pytest.mark.slow
def test_ctrl_c_stops_a_local_cluster_sweep_and_the_rerun_resumes(tmp_path):
    spec, out = tmp_path / "slow.yaml", tmp_path / "slow.parquet"
    spec.write_text(json.dumps(SLOW))
    process = _cli("sweep", str(spec), "--out", str(out), "--workers", "2", "--quiet")
    try:
        _wait_for_rows(process, out, 3, timeout=180)
        os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 1
    assert "sweep interrupted; finished points are kept in" in err and "Traceback" not in err
    done = len(pd.read_parquet(out))  # flushed into a part on the way out
    assert 3 <= done < 14 and not (out / JOURNAL).exists()
    rerun = subprocess.run([sys.executable, "-m", "xbarsim", "sweep", str(spec), "--out", str(out), "--workers", "2",
                            "--quiet"], capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"({done} from earlier runs)" in rerun.stdout
    assert len(pd.read_parquet(out)) == 14 and pd.read_parquet(out)["hash"].is_unique


def test_workers_of_another_version_are_refused():
    from xbarsim.sweeps.run import _check_versions

    class Client:  # what distributed.Client.run returns: worker address -> the function's result
        def run(self, function):
            return {"tcp://10.0.0.7:4000": "0.0.1", "tcp://10.0.0.8:4000": function()}

    with pytest.raises(ConfigError, match=rf"^scheduler: expected workers that run xbarsim {xbarsim.__version__} "
                                          r"\(point hashes include it\), got tcp://10.0.0.7:4000 runs 0.0.1$"):
        _check_versions(Client(), "tcp://10.0.0.5:8786")


def test_a_row_from_a_worker_of_another_version_is_an_error():
    from xbarsim.sweeps.run import _record
    from xbarsim.sweeps.store import MemoryStore

    p = plan(load_sweep(ADC))
    store = MemoryStore(p.types)

    class Bar:
        def update(self, n):
            pass

    _record(store, p, p.items[1], {"status": "ok", "error": None, "latency_s": 1.0, "xbarsim_version": "0.0.1"}, Bar())
    assert store.rows[0]["status"] == "error"
    assert store.rows[0]["error"] == f"worker runs xbarsim 0.0.1; the sweep was planned with {xbarsim.__version__}"


def test_cli_exits_1_when_points_failed_and_0_once_retried(tmp_path, capsys, monkeypatch):
    import xbarsim.simulation

    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "adc.yaml"
    spec.write_text(json.dumps(ADC))
    real = xbarsim.simulation.simulate

    def broken(arch, *args, **kwargs):
        if arch.crossbar.adc_bits == 8:
            raise RuntimeError("simulator bug")
        return real(arch, *args, **kwargs)

    monkeypatch.setattr(xbarsim.simulation, "simulate", broken)
    assert main(["sweep", str(spec), "--scheduler", "serial", "--quiet"]) == 1
    captured = capsys.readouterr()
    assert "12 points: 4 ok, 6 invalid, 2 failed" in captured.out
    assert captured.err.strip() == ("xbarsim: 2 points failed (see the error column); the same command retries them")
    monkeypatch.setattr(xbarsim.simulation, "simulate", real)
    assert main(["sweep", str(spec), "--scheduler", "serial", "--quiet"]) == 0
    assert "12 points: 6 ok, 6 invalid, 0 failed (10 from earlier runs)" in capsys.readouterr().out
