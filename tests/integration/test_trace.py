"""Traces: round trips, replays that equal fresh runs, refusals, damaged files, atomic writes."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import xbarsim
import xbarsim.simulation as simulation_module
import xbarsim.trace.schema as schema_module
from xbarsim import OutputError, ReplayError, TraceError, open_trace, replay
from xbarsim.config import evolve

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted((ROOT / "traces" / "samples").glob("*.h5"))


def same_run(a, b, timeline=True):
    assert a.cycles == b.cycles
    assert a.energy_pj == b.energy_pj
    assert a.actions == b.actions
    assert a.energy.by_action == b.energy.by_action
    assert [(r.name, r.start_cycle, r.end_cycle, r.energy_pj) for r in a.layers] == \
           [(r.name, r.start_cycle, r.end_cycle, r.energy_pj) for r in b.layers]
    if timeline:
        assert np.array_equal(a.timeline.start, b.timeline.start)
        assert np.array_equal(a.timeline.end, b.timeline.end)


@pytest.mark.parametrize("detail", ["summary", "layer", "event"])
@pytest.mark.parametrize("schedule", ["layer", "pipeline"])
def test_round_trip_and_replay_reproduce_the_run(tmp_path, detail, schedule):
    path = tmp_path / "run.h5"
    result = xbarsim.simulate("tiny", "mlp", batch=2, schedule=schedule, trace=path, detail=detail)
    assert result.trace_path == path and path.exists()
    with open_trace(path) as trace:
        assert trace.arch == result.arch and trace.network == result.network
        assert trace.energy_table == result.energy_table
        assert trace.counts == result.actions and trace.stream == result.stream
        assert trace.layers == result.layers and trace.cycles == result.cycles
        assert trace.detail == detail and trace.detail_reason == "requested"
        assert (trace.events is not None) == (detail == "event")
        assert (trace.step_times is not None) == (detail != "summary")
        assert trace.seed == 0 and trace.batch == 2 and trace.schedule == schedule
    again = replay(path)
    same_run(again, result, timeline=(detail == "event"))
    assert again.replayed_from == path


def test_event_table_reads_lazily_and_matches_the_timeline(tmp_path):
    path = tmp_path / "run.h5"
    result = xbarsim.simulate("isaac", "vgg8", schedule="pipeline", trace=path)
    with open_trace(path) as trace:
        events = trace.events
        assert len(events) == result.stream.operations
        ends = np.concatenate([chunk["end"] for chunk in events.chunks(rows=100)])
        assert np.all(np.diff(ends) >= 0)  # in the order operations ended
        rows = events.read()
        assert np.array_equal(result.timeline.start[rows["op"]], rows["start"])
        assert np.array_equal(result.timeline.end[rows["op"]], rows["end"])
        kinds = [events.kinds[k] for k in rows["kind"]]
        assert kinds.count("mvm") == sum(op.kind == "mvm" for s in result.stream.steps for op in s.ops)


def test_reprice_equals_a_fresh_run_with_that_table(tmp_path):
    path = tmp_path / "run.h5"
    xbarsim.simulate("isaac", "resnet18", trace=path, detail="summary")
    table = xbarsim.load_energy("isaac").to_dict()
    table["components"]["adc"]["actions"]["convert"]["values"][8] = "3pJ"
    table["components"]["dram"]["leakage"] = "0W"
    table["components"]["tile_buffer"]["leakage"] = "1mW"
    repriced = replay(path, energy=table)
    fresh = xbarsim.simulate("isaac", "resnet18", energy=table)
    same_run(repriced, fresh, timeline=False)
    assert repriced.energy.leakage_pj > 0


TIMING_CHANGES = st.fixed_dictionaries({}, optional={
    "chip.clock": st.sampled_from(["500MHz", "2GHz"]),
    "pe.adc_rate": st.sampled_from(["1GHz", "4GHz"]),
    "pe.read_latency": st.sampled_from(["1ns", "5ns"]),
    "pe.sample_hold": st.booleans(),
    "pe.adcs_per_array": st.sampled_from([1, 4, 16]),
    "tile.buffer.bandwidth": st.sampled_from(["1GB/s", "32GB/s"]),
    "tile.buffer.ports": st.sampled_from([1, 3]),
    "tile.activation_units": st.sampled_from([1, 4]),
    "tile.pooling_units": st.sampled_from([1, 2]),
    "global_buffer.bandwidth": st.sampled_from(["2GB/s", "16GB/s"]),
    "interconnect.bandwidth": st.sampled_from(["1GB/s", "16GB/s"]),
    "interconnect.hop_latency": st.sampled_from(["0s", "3ns"]),
    "dram.bandwidth": st.sampled_from(["500MB/s", "8GB/s"]),
    "dram.latency": st.sampled_from(["0s", "50ns"]),
    "dram.channels": st.sampled_from([1, 2]),
    "programming.write_pulse": st.sampled_from(["1ns", "100ns"]),
    "crossbar.adc_bits": st.sampled_from([4, 7]),
})


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("recorded")
    paths = {}
    for schedule in ("layer", "pipeline"):
        paths[schedule] = folder / f"{schedule}.h5"
        xbarsim.simulate("tiny", "mlp", batch=3, schedule=schedule, trace=paths[schedule], detail="summary")
    return paths


@settings(max_examples=30)
@given(TIMING_CHANGES, st.sampled_from(["layer", "pipeline"]))
def test_retime_equals_a_fresh_run_with_that_arch(recorded, changes, schedule):
    arch = evolve(xbarsim.load_arch("tiny"), changes)
    retimed = replay(recorded[schedule], arch=arch)
    fresh = xbarsim.simulate(arch, "mlp", batch=3, schedule=schedule)
    same_run(retimed, fresh)
    assert retimed.arch == arch


@pytest.mark.parametrize("changes, named", [
    ({"crossbar.rows": 32}, "crossbar.rows (16 -> 32)"),
    ({"crossbar.cell_bits": 1}, "crossbar.cell_bits (2 -> 1)"),
    ({"chip.tiles": 8}, "chip.tiles (4 -> 8)"),
    ({"pe.arrays": 8, "chip.clock": "2GHz"}, "pe.arrays (4 -> 8)"),
    ({"global_buffer.size": "0B"}, "global_buffer.size"),
])
def test_mapping_changes_are_refused_by_name(recorded, changes, named):
    arch = evolve(xbarsim.load_arch("tiny"), changes)
    with pytest.raises(ReplayError) as info:
        replay(recorded["layer"], arch=arch)
    assert named in str(info.value) and "chip.clock" not in str(info.value)


def test_damaged_and_foreign_files_are_trace_errors(tmp_path):
    good = tmp_path / "good.h5"
    xbarsim.simulate("tiny", "mlp", trace=good)
    data = good.read_bytes()
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(TraceError, match="truncated|not a readable HDF5 file"):
        open_trace(truncated)
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not hdf5 at all")
    with pytest.raises(TraceError, match="not a readable HDF5 file"):
        open_trace(garbage)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(TraceError, match="not an xbarsim trace"):
        open_trace(foreign)
    future = tmp_path / "future.h5"
    future.write_bytes(data)
    with h5py.File(future, "r+") as f:
        f.attrs["schema_version"] = 2
    with pytest.raises(TraceError, match="schema 2, newer than this xbarsim reads \\(1\\): upgrade"):
        open_trace(future)
    unfinished = tmp_path / "unfinished.h5"
    unfinished.write_bytes(data)
    with h5py.File(unfinished, "r+") as f:
        f.attrs["status"] = "writing"
    with pytest.raises(TraceError, match="incomplete"):
        open_trace(unfinished)
    with pytest.raises(TraceError, match="no such file"):
        open_trace(tmp_path / "missing.h5")
    assert issubclass(TraceError, OSError)


@pytest.mark.parametrize("interruption", [RuntimeError, KeyboardInterrupt])
def test_an_interrupted_run_leaves_no_file(tmp_path, monkeypatch, interruption):
    original = simulation_module.run_stream

    def failing(stream, durations, on_op=None):
        seen = []

        def hook(*args):
            if on_op is not None:
                on_op(*args)
            seen.append(1)
            if len(seen) == 5:
                raise interruption("stop")
        return original(stream, durations, on_op=hook)

    monkeypatch.setattr(simulation_module, "run_stream", failing)
    path = tmp_path / "run.h5"
    with pytest.raises(interruption):
        xbarsim.simulate("tiny", "mlp", batch=2, trace=path)
    assert list(tmp_path.iterdir()) == []


def test_existing_traces_are_kept_unless_overwritten(tmp_path):
    path = tmp_path / "run.h5"
    xbarsim.simulate("tiny", "mlp", trace=path)
    before = path.read_bytes()
    with pytest.raises(OutputError, match="exists: pass overwrite=True"):
        xbarsim.simulate("tiny", "mlp", batch=2, trace=path)
    assert path.read_bytes() == before
    xbarsim.simulate("tiny", "mlp", batch=2, trace=path, overwrite=True)
    with open_trace(path) as trace:
        assert trace.batch == 2
    with pytest.raises(ValueError, match="detail: expected one of auto, summary, layer, event"):
        xbarsim.simulate("tiny", "mlp", trace=tmp_path / "x.h5", detail="everything")


def test_auto_detail_records_its_choice(tmp_path, monkeypatch):
    small = tmp_path / "small.h5"
    xbarsim.simulate("tiny", "mlp", trace=small)
    with open_trace(small) as trace:
        assert trace.detail == "event" and trace.detail_reason.startswith("auto:")
    monkeypatch.setattr(simulation_module, "AUTO_EVENT_LIMIT", 3)
    big = tmp_path / "big.h5"
    xbarsim.simulate("tiny", "mlp", trace=big)
    with open_trace(big) as trace:
        assert trace.detail == "layer" and "> 3" in trace.detail_reason
    assert schema_module.AUTO_EVENT_LIMIT == 2_000_000


def test_replay_can_write_a_new_trace(tmp_path):
    path = tmp_path / "run.h5"
    xbarsim.simulate("tiny", "mlp", batch=2, trace=path)
    arch = evolve(xbarsim.load_arch("tiny"), {"chip.clock": "2GHz"})
    out = tmp_path / "fast.h5"
    result = replay(path, arch=arch, out=out)
    with open_trace(out) as trace:
        assert trace.arch == arch and trace.cycles == result.cycles
        assert trace.detail == "event" and len(trace.events) == result.stream.operations
        assert np.array_equal(trace.timeline().end, result.timeline.end)
        assert "replay of" in trace.detail_reason


@pytest.mark.parametrize("sample", SAMPLES, ids=[p.name for p in SAMPLES])
def test_sample_traces_replay_and_match_a_fresh_run(sample):
    assert len(SAMPLES) >= 3
    with open_trace(sample) as trace:
        fresh = xbarsim.simulate(trace.arch, trace.network, batch=trace.batch, schedule=trace.schedule,
                                 seed=trace.seed, energy=trace.energy_table)
        replayed = replay(trace)
        same_run(replayed, fresh, timeline=(trace.detail == "event"))


def test_plain_h5py_reading_as_documented():
    sample = next(p for p in SAMPLES if "pipeline" in p.name)
    with h5py.File(sample) as f:
        assert f.attrs["format"] == "xbarsim-trace" and f.attrs["schema_version"] == 1
        counts = f["counts"][()]
        adc = counts[counts["component"] == b"adc"]["count"].sum()
        names = [n.decode() for n in f["names/resources"][()]]
        events = f["events"][:]
        assert adc > 0 and len(events) == len(f["stream/ops"])
        assert set(events["resource"]) <= set(range(len(names)))
        latency = f["summary"].attrs["latency_s"]
        assert latency == f["summary"].attrs["cycles"] / f["summary"].attrs["clock_hz"]
