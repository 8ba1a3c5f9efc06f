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
from ..timing.timeline import Timeline
from ..timing.stream import OpStream
from ..workload.loader import load_workload
from ..workload.network import Network
from .schema import DETAILS, FORMAT, SCHEMA_VERSION, STREAM_ARRAYS, STREAM_TABLES, TIMELINE_ARRAYS

__all__ = ["Trace", "open_trace"]


def _text(values) -> list:
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]


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
        if version < SCHEMA_VERSION:
            self.close()
            raise TraceError(f"{self.path} uses trace schema {version}, written by an older xbarsim; this one reads "
                             f"schema {SCHEMA_VERSION} (the operation stream changed): re-run the simulation")
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
        if value not in DETAILS:
            raise TraceError(f"{self.path}: its detail attribute is {value!r}, not one of {', '.join(DETAILS)}: it "
                             "is damaged; re-run the simulation")
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
                                 energy_pj=float(r["energy_pj"]), critical_cycles=int(r["critical_cycles"]))
                     for r in rows)

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
        return {key: tuple(_text(g[key][()])) for key in ("resources", "kinds", "resource_kinds", "layers")}

    @cached_property
    def stream(self) -> OpStream:
        """The operation stream the event model executed, with the recorded mapping, as built."""
        g = self._file["stream"]
        names = self.names
        columns = {name: g[name][()] for name in STREAM_ARRAYS + STREAM_TABLES if name in g}
        return OpStream(batch=int(g.attrs["batch"]), layer_names=names["layers"], op_names=names["kinds"],
                        resource_names=names["resource_kinds"], notes=tuple(_text(g["notes"][()])),
                        data_aware=bool(g.attrs.get("data_aware", False)), **columns)

    @property
    def has_events(self) -> bool:
        """Whether every operation's times were recorded (detail ``event``)."""
        return "timeline" in self._file and "start" in self._file["timeline"]

    def timeline(self) -> Timeline:
        """The recorded timeline: per-resource busy cycles and region peaks always; step end times
        with detail ``layer``; every operation's times with ``event``."""
        stream = self.stream
        n_ops, n_steps = stream.operations, stream.steps
        zeros = np.zeros(n_ops, dtype=np.int64)
        columns = {name: zeros for name in TIMELINE_ARRAYS}
        columns["cause"] = np.full(n_ops, -1, dtype=np.int64)
        step_end = np.zeros(n_steps, dtype=np.int64)
        busy = np.zeros(len(stream.resources), dtype=np.int64)
        peak = np.zeros(len(stream.regions), dtype=np.int64)
        free_time = np.full(n_ops, -1, dtype=np.int64)
        if "timeline" in self._file:
            g = self._file["timeline"]
            busy, peak = g["busy"][()], g["region_peak"][()]
            if "step_end" in g:
                step_end = g["step_end"][()]
            if self.has_events:
                columns = {name: g[name][()] for name in TIMELINE_ARRAYS}
                free_time = g["free_time"][()]
        return Timeline(cycles=self.cycles, step_end=step_end, busy=busy, region_peak=peak, free_time=free_time,
                        events=int(self.summary.get("events", 0)), **columns)


def _reason(exc: OSError) -> str:
    text = str(exc)
    return "truncated file" if "truncated" in text else text.split("(")[0].strip() or type(exc).__name__


def open_trace(path) -> Trace:
    """Open a trace written by ``xbarsim.simulate(..., trace=path)`` (read-only).

    Raises :class:`~xbarsim.errors.TraceError` if the file is not a trace, is truncated or
    incomplete, or was written with a newer schema.
    """
    return Trace(os.fspath(path))
