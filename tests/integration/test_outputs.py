"""Outputs are exclusive and atomic: no lost trace, no half-written report, no orphan left for long."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import xbarsim
from xbarsim import OutputError
from xbarsim.outputs import Output, check_destination, remove_stale, temporary_name
from xbarsim.trace.writer import TraceWriter

ROOT = Path(__file__).resolve().parents[2]


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(child.stdout)


def test_a_second_writer_of_the_same_name_fails_at_once(tmp_path):
    path = tmp_path / "run.h5"
    first = TraceWriter(path)
    try:
        with pytest.raises(OutputError, match=r"run\.h5 is being written by process \d+ right now"):
            TraceWriter(path)
        with pytest.raises(OutputError, match="being written"):  # --force does not let two runs race
            TraceWriter(path, overwrite=True)
    finally:
        first.abort()
    assert sorted(os.listdir(tmp_path)) == []  # abort removes the temporary and the lock
    TraceWriter(path).abort()  # the name is free again


@pytest.mark.slow
def test_concurrent_runs_never_lose_a_trace(tmp_path):
    """The issue's case: two `xbarsim run --out same.h5` started together both said 'trace written'."""
    for trial in range(3):
        out = tmp_path / f"c{trial}" / "r.h5"
        argv = [sys.executable, "-m", "xbarsim", "run", "--workload", "resnet18", "--batch", "8", "--quiet",
                "--out", str(out)]
        runs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
                for _ in range(2)]
        results = [(run.wait(timeout=300), *run.communicate()) for run in runs]
        codes = sorted(code for code, _, _ in results)
        assert codes == [0, 1], results
        loser = next(err for code, _, err in results if code == 1)
        assert loser.count("\n") == 1 and ("being written by process" in loser or "exists" in loser), loser
        winner = next(text for code, text, _ in results if code == 0)
        assert f"trace written to {out}" in winner
        with xbarsim.open_trace(out) as trace:
            assert trace.network_name == "resnet18"
        assert sorted(os.listdir(out.parent)) == ["r.h5"]


@pytest.mark.slow
def test_kill_9_leaves_no_final_file_and_the_next_run_removes_the_orphans(tmp_path):
    out = tmp_path / "k.h5"
    argv = [sys.executable, "-m", "xbarsim", "run", "--workload", "resnet18", "--batch", "64", "--quiet",
            "--out", str(out)]
    run = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())
    temporary = tmp_path / temporary_name("k.h5", run.pid)
    deadline = time.monotonic() + 120
    while not temporary.exists() and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.05)
    assert temporary.exists(), "the run never started writing"
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    assert not out.exists()
    assert temporary.exists() and (tmp_path / ".k.h5.lock").exists()  # what kill -9 leaves
    xbarsim.simulate("tiny", "mlp", trace=out)  # the next writer of that name
    assert sorted(os.listdir(tmp_path)) == ["k.h5"]


def test_the_next_writer_in_a_folder_removes_temporaries_of_dead_writers_only(tmp_path):
    dead, alive = _dead_pid(), os.getppid()
    (tmp_path / temporary_name("a.h5", dead)).write_bytes(b"partial")
    (tmp_path / temporary_name("b-report", dead)).mkdir()
    (tmp_path / temporary_name("c.h5", alive)).write_bytes(b"someone else's")
    (tmp_path / ".d.h5.lock").write_text(f"{dead}\n")  # a lock nobody holds
    (tmp_path / ".hidden.tmp").write_text("not ours")
    removed = remove_stale(tmp_path)
    assert removed == 3
    assert sorted(os.listdir(tmp_path)) == sorted([temporary_name("c.h5", alive), ".hidden.tmp"])


def test_the_final_rename_never_replaces_a_file_that_appeared_meanwhile(tmp_path):
    path = tmp_path / "r.h5"
    writer = TraceWriter(path)
    writer.file.attrs["x"] = 1
    path.write_bytes(b"someone else's result")  # appears while the run goes on
    with pytest.raises(OutputError, match=r"appeared while this run was writing it; the new trace is kept as"):
        writer.commit()
    assert path.read_bytes() == b"someone else's result"
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("r.") and p.name != "r.h5"]
    assert len(kept) == 1 and kept[0].stat().st_size > 0


def test_reports_appear_whole_or_not_at_all(tmp_path, monkeypatch):
    import xbarsim.report as report

    trace = tmp_path / "run.h5"
    xbarsim.simulate("tiny", "mlp", trace=trace)

    def broken(*args, **kwargs):
        raise RuntimeError("a figure failed")

    monkeypatch.setattr(report, "layers_figure", broken)
    with pytest.raises(RuntimeError):
        report.write_report(trace, tmp_path / "out")
    assert sorted(os.listdir(tmp_path)) == ["run.h5"]  # no folder with 3 of 4 figures, no temporary
    monkeypatch.undo()
    files = report.write_report(trace, tmp_path / "out")
    assert sorted(p.name for p in files.values()) == sorted(os.listdir(tmp_path / "out"))
    with pytest.raises(OutputError, match="exists: pass overwrite=True"):
        report.write_report(trace, tmp_path / "out")
    report.write_report(trace, tmp_path / "out", overwrite=True)
    assert sorted(os.listdir(tmp_path)) == ["out", "run.h5"]


def test_destinations_are_checked_before_any_work(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(OutputError, match="afile is a file, not a folder"):
        check_destination(afile / "r.h5", what="trace")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_destination(afile, what="report", folder=True)
    with pytest.raises(OutputError, match="is a folder, not a trace file name"):
        check_destination(tmp_path, what="trace")
    with pytest.raises(OutputError, match="a.md exists"):
        (tmp_path / "s").mkdir()
        (tmp_path / "s" / "a.md").write_text("x")
        check_destination(tmp_path / "s", what="study", members=["a.md", "a.json"])
    started = time.perf_counter()
    with pytest.raises(OutputError):
        xbarsim.simulate("isaac", "resnet50", batch=64, trace=afile / "r.h5")
    assert time.perf_counter() - started < 5  # refused before mapping and simulating


def test_study_results_join_an_existing_folder_without_touching_other_studies(tmp_path):
    folder = tmp_path / "studies"
    folder.mkdir()
    (folder / "other.md").write_text("another study")
    with Output(folder, what="study results", members=["a.md", "a.json"]) as output:
        (output.temp / "a.md").write_text("table")
        (output.temp / "a.json").write_text("{}")
        output.commit()
    assert sorted(os.listdir(folder)) == ["a.json", "a.md", "other.md"]
    new = tmp_path / "new"
    with Output(new, what="study results", members=["a.md"]) as output:
        (output.temp / "a.md").write_text("table")
        output.commit()
    assert sorted(os.listdir(new)) == ["a.md"] and not any(p.name.startswith(".") for p in tmp_path.iterdir())


@pytest.mark.parametrize("argv, message", [
    (["run", "--arch", "tiny", "--workload", "mlp", "--out", "{afile}/r.h5"], "afile is a file, not a folder"),
    (["accuracy", "--out", "{afile}", "--draws", "1"], "afile is a file, not a folder"),
    (["report", "{trace}", "--out", "{afile}"], "afile is a file, not a folder"),
    (["replay", "{trace}", "--out", "{afile}/x.h5"], "afile is a file, not a folder"),
])
def test_cli_output_errors_are_one_line_and_immediate(argv, message, tmp_path, capsys):
    from xbarsim.cli import main

    afile = tmp_path / "afile"
    afile.write_text("x")
    trace = tmp_path / "run.h5"
    xbarsim.simulate("tiny", "mlp", trace=trace)
    started = time.perf_counter()
    assert main([a.format(afile=afile, trace=trace) for a in argv]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert time.perf_counter() - started < 5  # the 50-s accuracy study is not run first
