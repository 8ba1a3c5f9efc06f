"""Traces: round trips, replays that equal fresh runs, refusals, damaged files, atomic writes."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

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
    assert a.layers == b.layers  # spans, critical-path shares, energies
    assert np.array_equal(a.timeline.busy, b.timeline.busy)
    if timeline:
        for name in ("request", "admit", "start", "end", "cause"):
            assert np.array_equal(getattr(a.timeline, name), getattr(b.timeline, name)), name


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
        assert trace.has_events == (detail == "event")
        recorded = trace.timeline()
        assert np.array_equal(recorded.busy, result.timeline.busy)  # every detail keeps busy time
        if detail != "summary":
            assert np.array_equal(recorded.step_end, result.timeline.step_end)
        assert trace.seed == 0 and trace.batch == 2 and trace.schedule == schedule
    again = replay(path)
    same_run(again, result, timeline=(detail == "event"))
    assert again.replayed_from == path


def test_event_traces_hold_every_operation_and_the_recorded_mapping(tmp_path):
    path = tmp_path / "run.h5"
    result = xbarsim.simulate("isaac", "vgg8", schedule="pipeline", trace=path)
    with open_trace(path) as trace:
        timeline = trace.timeline()
        assert len(timeline.start) == result.stream.operations
        assert np.array_equal(timeline.start, result.timeline.start)
        assert np.array_equal(timeline.end, result.timeline.end)
        stream = trace.stream
        mvm = stream.op_names.index("mvm")
        assert np.count_nonzero(stream.op_kind == mvm) == np.count_nonzero(result.stream.kind_mask("mvm"))
        # the mapping travels with the trace: copies, their PEs and home tiles
        placed = {(int(c["layer"]), int(c["copy"])): (int(c["first_pe"]), int(c["first_tile"])) for c in stream.copies}
        for m in result.mapping.layers:
            for part in m.parts:
                for place in part.placements:
                    assert placed[(m.layer.index, place.copy)] == (place.first_pe, place.home_tile)


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


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("recorded")
    paths = {}
    for schedule in ("layer", "pipeline"):
        paths[schedule] = folder / f"{schedule}.h5"
        xbarsim.simulate("tiny", "mlp", batch=3, schedule=schedule, trace=paths[schedule], detail="summary")
    return paths


def test_the_retimable_fields_come_from_the_field_declarations():
    from xbarsim.config import Arch
    from xbarsim.replaying import retimable
    effects = Arch.effects()
    fields = retimable()
    assert "pe.adc_rate" in fields and "tile.buffer.size" in fields and "crossbar.variation_sigma" in fields
    assert "crossbar.rows" not in fields and "interconnect.topology" not in fields
    assert "crossbar.variation_sigma" not in retimable(data_aware=True)
    assert all("mapping" not in effects[f] for f in fields)


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
        f.attrs["schema_version"] = 3
    with pytest.raises(TraceError, match="schema 3, newer than this xbarsim reads \\(2\\): upgrade"):
        open_trace(future)
    older = tmp_path / "older.h5"
    older.write_bytes(data)
    with h5py.File(older, "r+") as f:
        f.attrs["schema_version"] = 1
    with pytest.raises(TraceError, match="schema 1, written by an older xbarsim"):
        open_trace(older)
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
    original = simulation_module.count_stream

    def failing(stream, arch):  # the run fails after timing, before the trace is complete
        original(stream, arch)
        raise interruption("stop")

    monkeypatch.setattr(simulation_module, "count_stream", failing)
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
        assert trace.detail == "event" and trace.has_events
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
        assert f.attrs["format"] == "xbarsim-trace" and f.attrs["schema_version"] == 2
        counts = f["counts"][()]
        adc = counts[counts["component"] == b"adc"]["count"].sum()
        kinds = [n.decode() for n in f["names/kinds"][()]]
        start, end = f["timeline/start"][()], f["timeline/end"][()]
        mvm = f["stream/op_kind"][()] == kinds.index("mvm")
        assert adc > 0 and len(start) == len(f["stream/op_kind"]) and np.all(end[mvm] > start[mvm])
        latency = f["summary"].attrs["latency_s"]
        assert latency == f["summary"].attrs["cycles"] / f["summary"].attrs["clock_hz"]
