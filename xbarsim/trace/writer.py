"""Writing traces: exclusively and atomically (a claimed name, a temporary file renamed when
complete, see :mod:`xbarsim.outputs`), with content checksums (:mod:`.checksum`)."""

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
from .schema import (COMPRESSION, FORMAT, SCHEMA_VERSION, STREAM_ARRAYS, STREAM_TABLES, TIMELINE_ARRAYS,
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

    def write(self, result, detail: str, reason: str, functional_stats: Optional[dict] = None,
              replayed_from: Optional[str] = None) -> None:
        """Everything about a run: configs, the stream as built, the timeline at ``detail``, results."""
        self._header(result, detail, reason, replayed_from)
        self._stream(result.stream)
        self._timeline(result, detail)
        self._results(result, functional_stats)

    def _header(self, result, detail: str, reason: str, replayed_from: Optional[str]) -> None:
        f = self.file
        f.attrs["xbarsim_version"] = __version__
        f.attrs["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        f.attrs["seed"] = int(result.seed)
        f.attrs["schedule"] = result.schedule
        f.attrs["batch"] = int(result.batch)
        f.attrs["detail"] = detail
        f.attrs["detail_reason"] = reason
        f.attrs["data_aware"] = bool(result.stream.data_aware)
        if replayed_from is not None:
            f.attrs["replayed_from"] = replayed_from
        config = f.create_group("config")
        for name, spec, label in (("arch", result.arch.to_dict(), result.arch.name),
                                  ("workload", result.network.to_dict(), result.network.name),
                                  ("energy", result.energy_table.to_dict(), result.energy_table.name)):
            dataset = config.create_dataset(name, data=dump_yaml(spec), dtype=h5py.string_dtype())
            dataset.attrs["name"] = label

    def _array(self, group, name: str, values: np.ndarray) -> None:
        options = dict(COMPRESSION, chunks=True) if values.size > 4096 else {}
        group.create_dataset(name, data=values, **options)

    def _stream(self, stream) -> None:
        """The operation stream and the recorded mapping, column by column."""
        names = self.file.create_group("names")
        names.create_dataset("kinds", data=_strings(stream.op_names))
        names.create_dataset("resource_kinds", data=_strings(stream.resource_names))
        names.create_dataset("layers", data=_strings(stream.layer_names))
        names.create_dataset("resources", data=_strings([stream.resource_name(r) for r in range(len(stream.resources))]))
        g = self.file.create_group("stream")
        g.attrs["batch"] = stream.batch
        g.attrs["data_aware"] = bool(stream.data_aware)
        for name in STREAM_ARRAYS + STREAM_TABLES:
            self._array(g, name, getattr(stream, name))
        g.create_dataset("notes", data=list(stream.notes), dtype=h5py.string_dtype())

    def _timeline(self, result, detail: str) -> None:
        """What each resource and region did (always); step end times (``layer``); every operation's
        times (``event``)."""
        timeline = result.timeline
        g = self.file.create_group("timeline")
        g.attrs["cycles"] = int(timeline.cycles)
        g.attrs["events"] = int(timeline.events)
        self._array(g, "busy", timeline.busy)
        self._array(g, "region_peak", timeline.region_peak)
        if detail != "summary":
            self._array(g, "step_end", timeline.step_end)
        if detail == "event":
            for name in TIMELINE_ARRAYS + ("free_time",):
                self._array(g, name, getattr(timeline, name))

    def _decode(self, decode) -> None:
        """A decoder's decode steps (after the prefill the rest of the trace describes)."""
        g = self.file.create_group("decode")
        g.attrs["method"] = decode.method
        for name in ("tokens", "time_per_token_s", "energy_per_token_pj", "latency_s"):
            g.attrs[name] = getattr(decode, name)
        for name in ("steps", "keys", "cycles", "energy_pj", "simulated"):
            self._array(g, name, np.asarray(getattr(decode, name)))
        parts = g.create_group("energy_by_component")
        for component, values in sorted(decode.energy_by_component.items()):
            self._array(parts, component, np.asarray(values))

    def _results(self, result, functional_stats: Optional[dict]) -> None:
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
        dtype = np.dtype([("name", string_table_dtype(width)), ("type", "S12"), ("round", "<i4"), ("copies", "<i4"),
                          ("arrays", "<i8"), ("cells_used", "<i8"), ("utilization", "<f8"), ("vectors", "<i8"),
                          ("macs", "<i8"), ("start_cycle", "<i8"), ("end_cycle", "<i8"), ("energy_pj", "<f8"),
                          ("critical_cycles", "<i8")])
        table = np.array([(r.name.encode(), r.type.encode(), r.round, r.copies, r.arrays, r.cells_used,
                           r.utilization, r.vectors, r.macs, r.start_cycle, r.end_cycle, r.energy_pj,
                           r.critical_cycles) for r in layers], dtype=dtype)
        f.create_dataset("layers", data=table)
        items = list(result.actions.items())
        width = max([len(k[0].encode()) for k, _ in items], default=1)
        dtype = np.dtype([("layer", string_table_dtype(width)), ("component", "S16"), ("action", "S16"),
                          ("count", "<i8")])
        counts = np.array([(l.encode(), c.encode(), a.encode(), n) for (l, c, a), n in items], dtype=dtype)
        f.create_dataset("counts", data=counts)
        breakdown = f.create_group("energy_by_component")
        for component, value in sorted(result.energy.by_component.items()):
            breakdown.attrs[component] = value
        if result.decode is not None:
            self._decode(result.decode)
        if functional_stats:
            g = f.create_group("functional")
            for key, value in functional_stats.items():
                g.attrs[key] = value
