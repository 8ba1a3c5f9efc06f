"""Reading traces: ``xbarsim.open_trace(path)`` gives a read-only view with lazy tables."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Dict, Iterator, Optional, Tuple

import h5py
import numpy as np

from ..config.loader import load_arch, read_yaml
from ..counting import ActionCounts
from ..energy.table import EnergyTable, load_energy
from ..errors import ConfigError, TraceError
from ..result import LayerReport
from ..timing.engine import Timeline
from ..timing.schedule import Op, OpStream, Step
from ..workload.loader import load_workload
from ..workload.network import Network
from .schema import DETAILS, FORMAT, SCHEMA_VERSION

__all__ = ["Trace", "EventTable", "open_trace"]


def _text(values) -> list:
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]


class EventTable:
    """The per-operation table of an ``event`` trace, read lazily in slices or chunks."""

    def __init__(self, dataset: h5py.Dataset, resources, kinds, layers):
        self._dataset = dataset
        self.resources: Tuple[str, ...] = tuple(resources)
        """Names indexed by the ``resource`` column."""
        self.kinds: Tuple[str, ...] = tuple(kinds)
        """Operation kinds (actions) indexed by the ``kind`` column."""
        self.layers: Tuple[str, ...] = tuple(layers)
        """Layer names indexed by the ``layer`` column (-1: none)."""

    def __len__(self) -> int:
        return self._dataset.shape[0]

    def read(self, start: int = 0, stop: Optional[int] = None) -> np.ndarray:
        """Rows ``start:stop`` as a structured array (columns: start, end, resource, kind, layer, step, op, amount)."""
        return self._dataset[start:stop]

    def chunks(self, rows: int = 1 << 16) -> Iterator[np.ndarray]:
        """The table in consecutive slices of ``rows`` (memory stays bounded)."""
        for start in range(0, len(self), rows):
            yield self._dataset[start:start + rows]


class Trace:
    """A read-only view of a trace file; use as a context manager or call :meth:`close`."""

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.exists():
            raise TraceError(f"{self.path}: no such file")
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as exc:
            raise TraceError(f"{self.path} is not a readable HDF5 file ({_reason(exc)}): it may be truncated or "
                             "not a trace; re-run the simulation to write it again") from None
        attrs = self._file.attrs
        if attrs.get("format") != FORMAT:
            self.close()
            raise TraceError(f"{self.path} is an HDF5 file but not an xbarsim trace (no format='{FORMAT}' "
                             "attribute); write traces with xbarsim.simulate(..., trace=...) or xbarsim run --out")
        version = int(attrs.get("schema_version", -1))
        if version > SCHEMA_VERSION:
            self.close()
            raise TraceError(f"{self.path} uses trace schema {version}, newer than this xbarsim reads "
                             f"({SCHEMA_VERSION}): upgrade xbarsim to read it")
        if version < 1:
            self.close()
            raise TraceError(f"{self.path} has no valid schema_version: it is damaged; re-run the simulation")
        if attrs.get("status") != "complete":
            self.close()
            raise TraceError(f"{self.path} is incomplete (status {attrs.get('status')!r}): the run that wrote it "
                             "did not finish; re-run the simulation")
        missing = [name for name in ("config", "stream", "names", "layers", "counts", "summary")
                   if name not in self._file]
        if missing:
            self.close()
            raise TraceError(f"{self.path} lacks {', '.join(missing)}: it is damaged; re-run the simulation")

    # -- file handling ------------------------------------------------------------------------------

    def close(self) -> None:
        if getattr(self, "_file", None) is not None and self._file.id.valid:
            self._file.close()

    def __enter__(self) -> "Trace":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"Trace({str(self.path)!r}: {self.network_name} on {self.arch_name}, {self.schedule}, "
                f"batch {self.batch}, detail {self.detail})")

    # -- attributes ---------------------------------------------------------------------------------

    def _attr(self, name):
        return self._file.attrs[name]

    @property
    def schema_version(self) -> int:
        return int(self._attr("schema_version"))

    @property
    def xbarsim_version(self) -> str:
        return str(self._attr("xbarsim_version"))

    @property
    def created(self) -> str:
        """Creation time (UTC, ISO 8601)."""
        return str(self._attr("created"))

    @property
    def seed(self) -> int:
        return int(self._attr("seed"))

    @property
    def schedule(self) -> str:
        return str(self._attr("schedule"))

    @property
    def batch(self) -> int:
        return int(self._attr("batch"))

    @property
    def detail(self) -> str:
        """``summary``, ``layer`` or ``event``."""
        value = str(self._attr("detail"))
        assert value in DETAILS, value
        return value

    @property
    def detail_reason(self) -> str:
        """Why that detail level was chosen."""
        return str(self._attr("detail_reason"))

    @property
    def data_aware(self) -> bool:
        """Whether counts came from the functional model on real inputs."""
        return bool(self._file.attrs.get("data_aware", False))

    @property
    def arch_name(self) -> str:
        return str(self._file["config/arch"].attrs["name"])

    @property
    def network_name(self) -> str:
        return str(self._file["config/workload"].attrs["name"])

    def config_text(self, name: str) -> str:
        """The resolved ``arch``, ``workload`` or ``energy`` spec as YAML text."""
        value = self._file["config"][name][()]
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)

    def _load(self, name: str, loader):
        try:
            return loader(read_yaml(self.config_text(name), f"{self.path}:/config/{name}"))
        except ConfigError as exc:
            raise TraceError(f"{self.path}: its {name} spec no longer validates ({exc}); it was written by "
                             f"xbarsim {self.xbarsim_version}") from None

    @cached_property
    def arch(self):
        """The resolved architecture of the run."""
        return self._load("arch", load_arch)

    @cached_property
    def network(self) -> Network:
        """The workload of the run."""
        return self._load("workload", load_workload)

    @cached_property
    def energy_table(self) -> EnergyTable:
        """The energy table the run was priced with."""
        return self._load("energy", load_energy)

    @cached_property
    def summary(self) -> Dict[str, float]:
        """Headline numbers as recorded (cycles, latency_s, energy_pj, ...)."""
        return {k: (v.item() if hasattr(v, "item") else v) for k, v in self._file["summary"].attrs.items()}

    @property
    def cycles(self) -> int:
        return int(self.summary["cycles"])

    @cached_property
    def notes(self) -> Tuple[str, ...]:
        return tuple(_text(self._file["summary/notes"][()]))

    @cached_property
    def counts(self) -> ActionCounts:
        """Action counts keyed by (layer, component, action)."""
        table = self._file["counts"][()]
        return ActionCounts({(l.decode(), c.decode(), a.decode()): int(n) for l, c, a, n in table})

    @cached_property
    def layers(self) -> Tuple[LayerReport, ...]:
        """The per-layer table as recorded."""
        rows = self._file["layers"][()]
        return tuple(LayerReport(name=r["name"].decode(), type=r["type"].decode(), round=int(r["round"]),
                                 copies=int(r["copies"]), arrays=int(r["arrays"]), cells_used=int(r["cells_used"]),
                                 utilization=float(r["utilization"]), vectors=int(r["vectors"]), macs=int(r["macs"]),
                                 start_cycle=int(r["start_cycle"]), end_cycle=int(r["end_cycle"]),
                                 energy_pj=float(r["energy_pj"])) for r in rows)

    @cached_property
    def functional_stats(self) -> Optional[Dict[str, Dict[str, float]]]:
        """Data-aware runs: per layer (and ``total``), what the functional model saw."""
        if "functional" not in self._file:
            return None
        stats: Dict[str, Dict[str, float]] = {}
        for key, value in self._file["functional"].attrs.items():
            layer, _, name = key.rpartition("/")
            stats.setdefault(layer, {})[name] = float(value)
        return stats

    # -- the operation stream and timelines ------------------------------------------------------

    @cached_property
    def names(self) -> Dict[str, Tuple[str, ...]]:
        g = self._file["names"]
        return {key: tuple(_text(g[key][()])) for key in ("resources", "kinds", "layers")}

    @cached_property
    def stream(self) -> OpStream:
        """The operation stream the event model executed (as built by the schedule)."""
        g = self._file["stream"]
        resources, kinds = self.names["resources"], self.names["kinds"]
        steps_table = g["steps"][()]
        ops_table = g["ops"][()]
        deps = g["deps"][()].tolist()
        labels = _text(g["labels"][()])
        interned: Dict[tuple, Op] = {}  # most operations repeat: share one object per distinct operation
        op_list = []
        executed = (ops_table["items"].tolist() if "items" in ops_table.dtype.names  # optional column
                    else [-1] * len(ops_table))
        for key in zip(ops_table["resource"].tolist(), ops_table["kind"].tolist(), ops_table["amount"].tolist(),
                       ops_table["hops"].tolist(), ops_table["part"].tolist(), executed):
            op = interned.get(key)
            if op is None:
                op = interned[key] = Op(resources[key[0]], kinds[key[1]], key[2], key[3], key[4],
                                        None if key[5] < 0 else key[5])
            op_list.append(op)
        columns = [steps_table[name].tolist() for name in ("layer", "image", "row", "op_start", "op_count",
                                                             "dep_start", "dep_count")]
        steps = [Step(index=i, layer=layer, image=image, row=row, deps=tuple(deps[d:d + m]),
                      ops=tuple(op_list[o:o + n]), label=labels[i])
                 for i, (layer, image, row, o, n, d, m) in enumerate(zip(*columns))]
        capacities = {name: int(c) for name, c in zip(resources, g["capacities"][()])}
        return OpStream(steps=tuple(steps), capacities=capacities, batch=int(g.attrs["batch"]),
                        notes=tuple(_text(g["notes"][()])))

    @property
    def events(self) -> Optional[EventTable]:
        """The per-operation event table (detail ``event``), else None."""
        if "events" not in self._file:
            return None
        names = self.names
        return EventTable(self._file["events"], names["resources"], names["kinds"], names["layers"])

    @property
    def step_times(self) -> Optional[np.ndarray]:
        """Start and end cycle of every step (detail ``layer`` and ``event``), else None."""
        return self._file["step_times"][()] if "step_times" in self._file else None

    def timeline(self) -> Timeline:
        """The recorded timeline: every operation's start and end when the trace has its events,
        else the makespan only."""
        stream = self.stream
        offsets = np.zeros(len(stream.steps) + 1, dtype=np.int64)
        np.cumsum([len(s.ops) for s in stream.steps], out=offsets[1:])
        n = int(offsets[-1])
        step_of_op = np.repeat(np.arange(len(stream.steps), dtype=np.int64), np.diff(offsets))
        start = np.zeros(n, dtype=np.int64)
        end = np.zeros(n, dtype=np.int64)
        step_end = np.zeros(len(stream.steps), dtype=np.int64)
        events = self.events
        if events is not None:
            for chunk in events.chunks():
                start[chunk["op"]] = chunk["start"]
                end[chunk["op"]] = chunk["end"]
            np.maximum.at(step_end, step_of_op, end)
        elif self.step_times is not None:
            step_end = self.step_times["end"].astype(np.int64)
        return Timeline(cycles=self.cycles, start=start, end=end, step_of_op=step_of_op, step_end=step_end,
                        busy={}, events=int(self.summary.get("events", 0)))


def _reason(exc: OSError) -> str:
    text = str(exc)
    return "truncated file" if "truncated" in text else text.split("(")[0].strip() or type(exc).__name__


def open_trace(path) -> Trace:
    """Open a trace written by ``xbarsim.simulate(..., trace=path)`` (read-only).

    Raises :class:`~xbarsim.errors.TraceError` if the file is not a trace, is truncated or
    incomplete, or was written with a newer schema.
    """
    return Trace(os.fspath(path))
