"""A sweep on a real Dask deployment: `dask scheduler` and two `dask worker` processes on 127.0.0.1.

One worker is killed (SIGKILL, nanny and worker process) while the sweep runs; Dask runs its
task again on the other worker, and every point must appear exactly once in the results, with
the same values a serial run gives. Every process this test starts is killed when it ends.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from distributed import Client

from xbarsim.sweeps import TIMING_COLUMNS, sweep
from xbarsim.sweeps.store import JOURNAL

from tests.integration.test_sweep import SLOW, _journal_rows

pytestmark = pytest.mark.slow


def _start(args, log: Path) -> subprocess.Popen:
    handle = open(log, "w")
    return subprocess.Popen([sys.executable, "-m", "dask", *args], stdout=handle, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(timeout=60)


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_remote_sweep_survives_a_killed_worker(tmp_path):
    scheduler_file = tmp_path / "scheduler.json"
    processes = []
    try:
        # port 0: the scheduler picks a free port and writes its address to the scheduler file
        processes.append(_start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                 "--scheduler-file", str(scheduler_file)], tmp_path / "scheduler.log"))
        _wait(lambda: scheduler_file.is_file() and scheduler_file.stat().st_size > 0, 120, "the scheduler")
        address = json.loads(scheduler_file.read_text())["address"]
        workers = [_start(["worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--nworkers", "1",
                           "--no-dashboard", "--death-timeout", "120", "--name", f"w{i}"],
                          tmp_path / f"worker{i}.log") for i in range(2)]
        processes += workers
        spec, out = tmp_path / "slow.yaml", tmp_path / "slow.parquet"
        spec.write_text(json.dumps(SLOW))
        run = subprocess.Popen([sys.executable, "-m", "xbarsim", "sweep", str(spec), "--out", str(out),
                                "--scheduler", address, "--workers", "2", "--quiet"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        processes.append(run)
        _wait(lambda: _journal_rows(out) >= 2 or run.poll() is not None, 300, "the first finished points")
        assert run.poll() is None, run.communicate()
        # kill a worker while it is running a point: that point has to be run again by the other one
        with Client(address, timeout="60s") as client:
            names = {a: w["name"] for a, w in client.scheduler_info()["workers"].items()}
            busy = {}
            _wait(lambda: busy.update({a: keys for a, keys in client.processing().items() if keys}) or busy
                  or run.poll() is not None, 120, "a busy worker")
            assert run.poll() is None and busy, run.communicate()
            victim, keys = next(iter(busy.items()))
            lost = {key.split("-")[2] for key in keys}  # xbarsim-point-<hash>-<run token>
            killed_at = pd.Timestamp.now(tz="UTC")
            _stop(workers[int(str(names[victim])[1:])])
        stdout, stderr = run.communicate(timeout=600)
        assert run.returncode == 0, stderr
        assert "14 points: 14 ok, 0 invalid, 0 failed" in stdout
        assert not (out / JOURNAL).exists()
        table = pd.read_parquet(out)
        assert len(table) == 14 and table["hash"].is_unique and (table["status"] == "ok").all()
        assert (table["finished_at"] > killed_at).any()  # the sweep went on after the kill
        assert lost <= set(table["hash"])  # including the points the killed worker was running
        serial = sweep(SLOW, scheduler="serial")
        remote = table.set_index("hash").loc[serial["hash"]].reset_index()
        columns = [c for c in serial.columns if c not in TIMING_COLUMNS and c != "point"]
        pd.testing.assert_frame_equal(remote[columns], serial[columns], check_dtype=False)
    finally:
        for process in reversed(processes):
            _stop(process)
