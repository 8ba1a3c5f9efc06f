"""Writing traces: exclusively and atomically (a claimed name, a temporary file renamed when
complete, see :mod:`xbarsim.outputs`), with content checksums (:mod:`.checksum`), and, for
the event table, in compressed chunks while the simulation runs.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Optional, Sequence

import h5py
import numpy as np

from .. import __version__
from ..config.loader import dump_yaml
from ..errors import OutputError, one_line
from ..outputs import Output
from . import checksum
from .schema import (CHUNK_ROWS, EVENT_DTYPE, FORMAT, OP_DTYPE, SCHEMA_VERSION, STEP_DTYPE, STEP_TIME_DTYPE,
                     string_table_dtype)

__all__ = ["TraceWriter"]


def _strings(values: Sequence[str]) -> np.ndarray:
    encoded = [v.encode("utf-8") for v in values]
    return np.array(encoded, dtype=string_table_dtype(max((len(v) for v in encoded), default=1)))


class TraceWriter:
    """Writes one trace. Use as a context manager: leaving it with an exception removes the
    temporary file, and the target is only created by :meth:`commit`.

    The destination is claimed at construction (:class:`xbarsim.outputs.Output`): a second
    writer of the same name fails at once, an existing trace is replaced only with
    ``overwrite``, and the final rename never replaces a file that appeared meanwhile.
    """

    def __init__(self, path, overwrite: bool = False):
        self.output = Output(path, what="trace", overwrite=overwrite)
        self.path = self.output.path
        self.temp = self.output.temp
        try:
            self.file = h5py.File(self.temp, "w")
        except OSError as exc:
            self.output.abort()
            raise OutputError(f"{one_line(str(self.path))}: cannot create the trace there: "
                              f"{one_line(str(exc).split('(')[0].strip() or type(exc).__name__)}") from None
        self.file.attrs["format"] = FORMAT
        self.file.attrs["schema_version"] = SCHEMA_VERSION
        self.file.attrs["status"] = "writing"
        self._events = None
        self._buffer = None
        self._raw = []
        self._rows = 0

    # -- context management ----------------------------------------------------------------------

    def __enter__(self) -> "TraceWriter":
        return self

    def __exit__(self, kind, value, tb) -> None:
        if kind is not None:
            self.abort()

    def abort(self) -> None:
        """Close and delete the temporary file, release the destination; the target is untouched."""
        try:
            if self.file.id.valid:
                self.file.close()
        finally:
            self.output.abort()

    def commit(self) -> Path:
        """Mark the trace complete, store its checksums and move it to its name in one step."""
        self.file.attrs["status"] = "complete"
        self.file.flush()
        self.file.attrs[checksum.ATTRIBUTE] = checksum.encode(checksum.compute(self.file))
        self.file.close()
        return self.output.commit()

    # -- content ---------------------------------------------------------------------------------

    def header(self, *, arch, network, table, schedule: str, batch: int, seed: int, detail: str, reason: str,
               data_aware: bool = False) -> None:
        f = self.file
        f.attrs["xbarsim_version"] = __version__
        f.attrs["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        f.attrs["seed"] = int(seed)
        f.attrs["schedule"] = schedule
        f.attrs["batch"] = int(batch)
        f.attrs["detail"] = detail
        f.attrs["detail_reason"] = reason
        f.attrs["data_aware"] = bool(data_aware)
        config = f.create_group("config")
        for name, spec, label in (("arch", arch.to_dict(), arch.name), ("workload", network.to_dict(), network.name),
                                  ("energy", table.to_dict(), table.name)):
            dataset = config.create_dataset(name, data=dump_yaml(spec), dtype=h5py.string_dtype())
            dataset.attrs["name"] = label

    def stream(self, stream, layer_names: Sequence[str]) -> None:
        """The operation stream: enough to re-time the run with another arch."""
        resources = sorted(stream.capacities)
        kinds = sorted({op.kind for step in stream.steps for op in step.ops})
        self._resource_index = {r: i for i, r in enumerate(resources)}
        self._kind_index = {k: i for i, k in enumerate(kinds)}
        names = self.file.create_group("names")
        names.create_dataset("resources", data=_strings(resources))
        names.create_dataset("kinds", data=_strings(kinds))
        names.create_dataset("layers", data=_strings(layer_names))
        g = self.file.create_group("stream")
        g.attrs["batch"] = stream.batch
        g.create_dataset("capacities", data=np.array([stream.capacities[r] for r in resources], dtype="<i8"))
        step_rows, op_rows, deps = [], [], []
        resource_index, kind_index = self._resource_index, self._kind_index
        for s in stream.steps:
            step_rows.append((s.layer, s.image, s.row, len(op_rows), len(s.ops), len(deps), len(s.deps)))
            deps.extend(s.deps)
            op_rows.extend((resource_index[op.resource], kind_index[op.kind], op.amount, op.hops, op.part,
                            -1 if op.items is None else op.items) for op in s.ops)
        steps = np.array(step_rows, dtype=STEP_DTYPE)
        ops = np.array(op_rows, dtype=OP_DTYPE)
        options = dict(compression="gzip", compression_opts=4, shuffle=True)
        g.create_dataset("steps", data=steps, chunks=True, **options)
        g.create_dataset("ops", data=ops, chunks=True, **options)
        g.create_dataset("deps", data=np.array(deps, dtype="<i8"), chunks=True, **options)
        g.create_dataset("labels", data=[s.label for s in stream.steps], dtype=h5py.string_dtype(), chunks=True,
                         **options)
        g.create_dataset("notes", data=list(stream.notes), dtype=h5py.string_dtype())
        # per-operation columns of the event table, looked up as operations end
        self._op_offsets = steps["op_start"]
        self._op_resource = ops["resource"]
        self._op_kind = ops["kind"]
        self._op_amount = ops["amount"]
        self._step_layer = steps["layer"]

    def begin_events(self) -> None:
        """Create the (resizable, chunked, compressed) event table; rows arrive through :meth:`on_op`.

        Chunks hold at most CHUNK_ROWS rows but no more than the run has operations, so small runs do
        not compress a mostly empty chunk; gzip level 1 keeps compression off the critical path.
        """
        rows = int(min(CHUNK_ROWS, max(1024, len(self._op_resource))))
        self._events = self.file.create_dataset("events", shape=(0,), maxshape=(None,), dtype=EVENT_DTYPE,
                                                chunks=(rows,), compression="gzip", compression_opts=1,
                                                shuffle=True)
        self._buffer = np.zeros(CHUNK_ROWS, dtype=EVENT_DTYPE)
        self._raw: list = []  # (step, op within step, start, end) since the last flush

    def on_op(self, step: int, op: int, start: int, end: int) -> None:
        """Record one finished operation (called by the event model; kept minimal on purpose)."""
        raw = self._raw
        raw.append((step, op, start, end))
        if len(raw) == CHUNK_ROWS:
            self._flush()

    def _flush(self) -> None:
        n = len(self._raw)
        if not n:
            return
        raw = np.array(self._raw, dtype=np.int64)
        steps = raw[:, 0]
        index = self._op_offsets[steps] + raw[:, 1]
        rows = self._buffer[:n]
        rows["start"], rows["end"], rows["step"], rows["op"] = raw[:, 2], raw[:, 3], steps, index
        rows["resource"] = self._op_resource[index]
        rows["kind"] = self._op_kind[index]
        rows["layer"] = self._step_layer[steps]
        rows["amount"] = self._op_amount[index]
        self._events.resize((self._rows + n,))
        self._events[self._rows:self._rows + n] = rows
        self._rows += n
        self._raw = []

    def end_events(self) -> None:
        self._flush()
        self._events.attrs["order"] = "operations in the order they ended"

    def events_from_timeline(self, stream, timeline) -> None:
        """The whole event table at once, from a finished timeline (replays)."""
        self.begin_events()
        order = np.lexsort((np.arange(len(timeline.end)), timeline.end))
        for index in order:
            step = int(timeline.step_of_op[index])
            self.on_op(step, int(index - self._op_offsets[step]), int(timeline.start[index]), int(timeline.end[index]))
        self.end_events()

    def step_times(self, stream, timeline) -> None:
        """When each step started and ended (detail ``layer`` and ``event``)."""
        times = np.zeros(len(stream.steps), dtype=STEP_TIME_DTYPE)
        offsets = self._op_offsets
        counts = np.array([len(s.ops) for s in stream.steps])
        has_ops = counts > 0
        times["end"] = timeline.step_end
        times["start"][has_ops] = timeline.start[offsets[has_ops]]
        times["start"][~has_ops] = timeline.step_end[~has_ops]
        self.file.create_dataset("step_times", data=times, chunks=True, compression="gzip", compression_opts=4)

    def results(self, result, functional_stats: Optional[dict] = None) -> None:
        """Totals, the per-layer table and the action counts."""
        f = self.file
        summary = f.create_group("summary")
        for name in ("cycles", "latency_s", "throughput_ips", "energy_pj", "power_w", "tops", "tops_per_w",
                     "peak_tops", "peak_power_w", "area_mm2", "dram_bytes"):
            summary.attrs[name] = getattr(result, name)
        summary.attrs["clock_hz"] = result.arch.chip.clock
        summary.attrs["events"] = result.timeline.events
        summary.create_dataset("notes", data=list(result.notes), dtype=h5py.string_dtype())
        layers = result.layers
        width = max(len(r.name.encode()) for r in layers)
        dtype = np.dtype([("name", string_table_dtype(width)), ("type", "S8"), ("round", "<i4"), ("copies", "<i4"),
                          ("arrays", "<i8"), ("cells_used", "<i8"), ("utilization", "<f8"), ("vectors", "<i8"),
                          ("macs", "<i8"), ("start_cycle", "<i8"), ("end_cycle", "<i8"), ("energy_pj", "<f8")])
        table = np.array([(r.name.encode(), r.type.encode(), r.round, r.copies, r.arrays, r.cells_used,
                           r.utilization, r.vectors, r.macs, r.start_cycle, r.end_cycle, r.energy_pj)
                          for r in layers], dtype=dtype)
        f.create_dataset("layers", data=table)
        items = list(result.actions.items())
        width = max([len(k[0].encode()) for k, _ in items], default=1)
        dtype = np.dtype([("layer", string_table_dtype(width)), ("component", "S16"), ("action", "S16"),
                          ("count", "<i8")])
        counts = np.array([(l.encode(), c.encode(), a.encode(), n) for (l, c, a), n in items], dtype=dtype)
        f.create_dataset("counts", data=counts, chunks=True if len(counts) else None, compression="gzip"
                         if len(counts) else None)
        breakdown = f.create_group("energy_by_component")
        for component, value in sorted(result.energy.by_component.items()):
            breakdown.attrs[component] = value
        if functional_stats:
            g = f.create_group("functional")
            for key, value in functional_stats.items():
                g.attrs[key] = value
