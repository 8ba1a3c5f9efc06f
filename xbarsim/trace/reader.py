"""Reading traces: ``xbarsim.open_trace(path)`` gives a read-only view with lazy tables.

Every read goes through one guarded accessor (:meth:`Trace._read`, :meth:`Trace._attrs`,
:meth:`Trace._guard`): whatever h5py, numpy or a decoder raise on a damaged file becomes a
:class:`~xbarsim.errors.TraceError` naming the file and the part that failed, and every
dataset read whole is checked against the checksum the writer stored (:mod:`.checksum`), so
damage that still decodes is caught too. New reads must use these accessors.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Dict, Iterator, Optional, Tuple

import h5py
import numpy as np

from ..config.loader import load_arch, read_yaml
from ..counting import ActionCounts
from ..energy.table import EnergyTable, load_energy
from ..errors import ConfigError, TraceError, one_line
from ..result import LayerReport
from ..timing.stream import OpStream
from ..timing.timeline import Timeline
from ..workload.loader import load_workload
from ..workload.network import Network
from . import checksum
from .schema import DETAILS, FORMAT, SCHEMA_VERSION, STREAM_ARRAYS, STREAM_TABLES, TIMELINE_ARRAYS

__all__ = ["Trace", "open_trace"]


def _text(values) -> list:
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]


_DAMAGE = (OSError, KeyError, IndexError, ValueError, TypeError, AttributeError, LookupError, ArithmeticError,
           RuntimeError, UnicodeError, np.exceptions.AxisError if hasattr(np, "exceptions") else ValueError)
"""What h5py, numpy and decoders raise on damaged content (h5py reports some low-level read
failures as RuntimeError, and a damaged object header can surface as AttributeError)."""


def _damage_reason(exc: BaseException) -> str:
    text = str(exc).strip().strip("'\"")
    if isinstance(exc, KeyError):
        text = f"missing {text}" if text else "a missing object"
    text = text.split("(")[0].strip() if "errno" in text or "filter returned" in text else text
    return one_line(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)[:300]


class Trace:
    """A read-only view of a trace file; use as a context manager or call :meth:`close`.

    Opening checks that the file is a complete trace of a schema this xbarsim reads, and that
    its attributes and list of objects match the checksums stored when it was written.
    """

    def __init__(self, path):
        self.path = Path(path)
        self._shown = one_line(str(self.path))
        self._file = None
        self._verified: set = set()
        if not self.path.exists():
            raise TraceError(f"{self._shown}: no such file")
        if self.path.is_dir():
            raise TraceError(f"{self._shown} is a folder, not a trace file")
        if not self.path.is_file():  # a device or a pipe: h5py could block reading it
            raise TraceError(f"{self._shown} is not a regular file, so not a trace")
        try:
            self._file = h5py.File(self.path, "r")
        except _DAMAGE as exc:
            raise TraceError(f"{self._shown} is not a readable HDF5 file ({_reason(exc)}): it may be truncated or "
                             "not a trace; re-run the simulation to write it again") from None
        try:
            self._check_header()
        except BaseException:
            self.close()
            raise

    def _check_header(self) -> None:
        attrs = self._attrs("/")
        if not _is_text(attrs.get("format"), FORMAT):
            raise TraceError(f"{self._shown} is an HDF5 file but not an xbarsim trace (no format='{FORMAT}' "
                             "attribute); write traces with xbarsim.simulate(..., trace=...) or xbarsim run --out")
        with self._guard("/ attribute schema_version"):
            version = int(attrs.get("schema_version", -1))
        if version > SCHEMA_VERSION:
            raise TraceError(f"{self._shown} uses trace schema {version}, newer than this xbarsim reads "
                             f"({SCHEMA_VERSION}): upgrade xbarsim to read it")
        if version < 1:
            raise TraceError(f"{self._shown} has no valid schema_version: it is damaged; re-run the simulation")
        if version < SCHEMA_VERSION:
            raise TraceError(f"{self._shown} uses trace schema {version}, written by an older xbarsim; this one reads "
                             f"schema {SCHEMA_VERSION} (the operation stream changed): re-run the simulation")
        status = attrs.get("status")
        if not _is_text(status, "complete"):
            what = "no status attribute" if status is None else f"status {one_line(repr(status))}"
            raise TraceError(f"{self._shown} is incomplete ({what}): the run that wrote it did not finish; "
                             "re-run the simulation")
        self._digests = self._load_digests(attrs)
        self._check_objects()
        missing = [name for name in ("config", "stream", "names", "layers", "counts", "summary")
                   if f"/{name}" not in self._digests]
        if missing:
            raise TraceError(f"{self._shown} lacks {', '.join(missing)}: it is damaged; re-run the simulation")

    # -- guarded access -----------------------------------------------------------------------------

    @contextmanager
    def _guard(self, part: str):
        """Turn any error of reading ``part`` into a TraceError naming the file and the part."""
        try:
            yield
        except TraceError:
            raise
        except _DAMAGE as exc:
            raise TraceError(f"{self._shown}: {one_line(part)}: cannot be read ({_damage_reason(exc)}): the trace is "
                             "damaged; re-run the simulation to write it again") from None

    def _damaged(self, part: str, what: str) -> TraceError:
        return TraceError(f"{self._shown}: {one_line(part)}: {what}: the trace is damaged or was edited; re-run the "
                          "simulation to write it again")

    def _object(self, name: str):
        with self._guard(name):
            return self._file[name]

    def _attrs(self, name: str) -> Dict[str, object]:
        """All attributes of object ``name`` (e.g. ``"/"``, ``"/summary"``), read in full."""
        with self._guard(f"{name} attributes"):
            obj = self._file[name]
            return {key: obj.attrs[key] for key in obj.attrs.keys()}

    def _read(self, name: str):
        """The whole value of dataset ``name``, checked against its checksum on first read."""
        with self._guard(name):
            dataset = self._file[name]
            if not isinstance(dataset, h5py.Dataset):
                raise self._damaged(name, "expected a dataset, found a group")
            digest = checksum.DataDigest(dataset)
            parts = list(checksum.dataset_slices(dataset))
            for values in parts:
                digest.update(values)
            if dataset.shape is None:
                value = None
            elif dataset.shape == ():
                value = parts[0]
            else:
                value = np.concatenate(parts) if len(parts) > 1 else (parts[0] if parts else dataset[()])
        self._check_digest(name, digest)
        return value

    def _check_digest(self, name: str, digest: "checksum.DataDigest") -> None:
        if name in self._verified:
            return
        expected = self._digests.get(name, {}).get("data")
        if expected is None:
            raise self._damaged(name, "it has no checksum")
        if digest.hexdigest() != expected:
            raise self._damaged(name, "its values do not match their checksum")
        self._verified.add(name)

    def _load_digests(self, attrs) -> Dict[str, Dict[str, str]]:
        text = attrs.get(checksum.ATTRIBUTE)
        if text is None:
            raise TraceError(f"{self._shown} has no checksums: it was written before xbarsim stored them, or it is "
                             "damaged; re-run the simulation to write it again")
        try:
            digests = json.loads(text.decode("utf-8") if isinstance(text, bytes) else str(text))
            if not isinstance(digests, dict) or not all(isinstance(v, dict) for v in digests.values()):
                raise ValueError("not a mapping of objects")
        except (ValueError, UnicodeError) as exc:
            raise self._damaged("/ attribute checksums", f"unreadable ({one_line(str(exc))[:80]})") from None
        return digests

    def _check_objects(self) -> None:
        """Attributes of every object and the list of objects against the stored checksums."""
        found = {}
        with self._guard("the list of objects"):
            self._file.visititems(lambda name, obj: found.__setitem__("/" + name, obj))  # None: keep visiting
            found["/"] = self._file
        expected = set(self._digests)
        if set(found) != expected:
            missing = sorted(expected - set(found))
            extra = sorted(set(found) - expected)
            what = (f"missing {', '.join(missing[:3])}" if missing else "") + \
                   ("; " if missing and extra else "") + (f"unexpected {', '.join(extra[:3])}" if extra else "")
            raise self._damaged("the list of objects", what)
        for name in sorted(found):
            with self._guard(f"{name} attributes"):
                digest = checksum.attrs_digest(found[name])
            if digest != self._digests[name].get("attrs"):
                raise self._damaged(f"{name} attributes", "they do not match their checksum")

    # -- file handling ------------------------------------------------------------------------------

    def close(self) -> None:
        if self._file is not None:
            try:
                if self._file.id.valid:
                    self._file.close()
            except _DAMAGE:  # closing a damaged file may fail too: nothing left to release
                pass

    def __enter__(self) -> "Trace":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"Trace({str(self.path)!r}: {self.network_name} on {self.arch_name}, {self.schedule}, "
                f"batch {self.batch}, detail {self.detail})")

    # -- attributes ---------------------------------------------------------------------------------

    @cached_property
    def _root(self) -> Dict[str, object]:
        return self._attrs("/")

    def _attr(self, name: str, convert=None):
        with self._guard(f"/ attribute {name}"):
            value = self._root[name]
            return convert(value) if convert is not None else value

    @property
    def schema_version(self) -> int:
        return self._attr("schema_version", int)

    @property
    def xbarsim_version(self) -> str:
        return self._attr("xbarsim_version", str)

    @property
    def created(self) -> str:
        """Creation time (UTC, ISO 8601)."""
        return self._attr("created", str)

    @property
    def seed(self) -> int:
        return self._attr("seed", int)

    @property
    def schedule(self) -> str:
        return self._attr("schedule", str)

    @property
    def batch(self) -> int:
        return self._attr("batch", int)

    @property
    def detail(self) -> str:
        """``summary``, ``layer`` or ``event``."""
        value = self._attr("detail", str)
        if value not in DETAILS:
            raise self._damaged("/ attribute detail", f"expected one of {', '.join(DETAILS)}, got {value!r}")
        return value

    @property
    def detail_reason(self) -> str:
        """Why that detail level was chosen."""
        return self._attr("detail_reason", str)

    @property
    def data_aware(self) -> bool:
        """Whether counts came from the functional model on real inputs."""
        return bool(self._root.get("data_aware", False))

    @property
    def arch_name(self) -> str:
        return str(self._attrs("/config/arch")["name"])

    @property
    def network_name(self) -> str:
        return str(self._attrs("/config/workload")["name"])

    def config_text(self, name: str) -> str:
        """The resolved ``arch``, ``workload`` or ``energy`` spec as YAML text."""
        value = self._read(f"/config/{name}")
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)

    def _load(self, name: str, loader):
        try:
            return loader(read_yaml(self.config_text(name), f"{self.path}:/config/{name}"))
        except ConfigError as exc:
            raise TraceError(f"{self._shown}: its {name} spec no longer validates ({exc}); it was written by "
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
        return {k: (v.item() if hasattr(v, "item") else v) for k, v in self._attrs("/summary").items()}

    @property
    def cycles(self) -> int:
        return int(self.summary["cycles"])

    @cached_property
    def notes(self) -> Tuple[str, ...]:
        return tuple(_text(self._read("/summary/notes")))

    @cached_property
    def energy_by_component(self) -> Dict[str, float]:
        """Energy of each component in pJ, as recorded."""
        return {k: float(v) for k, v in self._attrs("/energy_by_component").items()}

    @cached_property
    def counts(self) -> ActionCounts:
        """Action counts keyed by (layer, component, action)."""
        table = self._read("/counts")
        return ActionCounts({(l.decode(), c.decode(), a.decode()): int(n) for l, c, a, n in table})

    @cached_property
    def layers(self) -> Tuple[LayerReport, ...]:
        """The per-layer table as recorded."""
        rows = self._read("/layers")
        return tuple(LayerReport(name=r["name"].decode(), type=r["type"].decode(), round=int(r["round"]),
                                 copies=int(r["copies"]), arrays=int(r["arrays"]), cells_used=int(r["cells_used"]),
                                 utilization=float(r["utilization"]), vectors=int(r["vectors"]), macs=int(r["macs"]),
                                 start_cycle=int(r["start_cycle"]), end_cycle=int(r["end_cycle"]),
                                 energy_pj=float(r["energy_pj"]), critical_cycles=int(r["critical_cycles"]))
                     for r in rows)

    @cached_property
    def functional_stats(self) -> Optional[Dict[str, Dict[str, float]]]:
        """Data-aware runs: per layer (and ``total``), what the functional model saw."""
        if "/functional" not in self._digests:
            return None
        stats: Dict[str, Dict[str, float]] = {}
        for key, value in self._attrs("/functional").items():
            layer, _, name = key.rpartition("/")
            stats.setdefault(layer, {})[name] = float(value)
        return stats

    # -- the operation stream and timelines ------------------------------------------------------

    @cached_property
    def names(self) -> Dict[str, Tuple[str, ...]]:
        return {key: tuple(_text(self._read(f"/names/{key}")))
                for key in ("resources", "kinds", "resource_kinds", "layers")}

    @cached_property
    def stream(self) -> OpStream:
        """The operation stream the event model executed, with the recorded mapping, as built."""
        names = self.names
        columns = {name: self._read(f"/stream/{name}") for name in STREAM_ARRAYS + STREAM_TABLES
                   if f"/stream/{name}" in self._digests}  # traces before operand stores have no stores table
        attrs = self._attrs("/stream")
        with self._guard("/stream"):
            return OpStream(batch=int(attrs["batch"]), layer_names=names["layers"], op_names=names["kinds"],
                            resource_names=names["resource_kinds"], notes=tuple(_text(self._read("/stream/notes"))),
                            data_aware=bool(attrs.get("data_aware", False)), **columns)

    @property
    def has_events(self) -> bool:
        """Whether every operation's times were recorded (detail ``event``)."""
        return "/timeline/start" in self._digests

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
        if "/timeline" in self._digests:
            busy, peak = self._read("/timeline/busy"), self._read("/timeline/region_peak")
            if "/timeline/step_end" in self._digests:
                step_end = self._read("/timeline/step_end")
            if self.has_events:
                columns = {name: self._read(f"/timeline/{name}") for name in TIMELINE_ARRAYS}
                free_time = self._read("/timeline/free_time")
        with self._guard("/timeline"):
            return Timeline(cycles=self.cycles, step_end=step_end, busy=busy, region_peak=peak, free_time=free_time,
                            events=int(self.summary.get("events", 0)), **columns)


def _is_text(value, expected: str) -> bool:
    """Whether an attribute read from an unchecked file is the string ``expected`` (it may be anything)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return isinstance(value, str) and value == expected


def _reason(exc: OSError) -> str:
    text = str(exc)
    return one_line("truncated file" if "truncated" in text else text.split("(")[0].strip() or type(exc).__name__)


def open_trace(path) -> Trace:
    """Open a trace written by ``xbarsim.simulate(..., trace=path)`` (read-only).

    Raises :class:`~xbarsim.errors.TraceError` if the file is not a trace, is truncated,
    incomplete or damaged (its checksums do not match), or was written with a newer schema;
    reading a damaged part later raises TraceError too, never another exception.
    """
    try:
        text = os.fspath(path)
    except TypeError:
        raise TraceError(f"trace: expected a file path, got {type(path).__name__}") from None
    return Trace(text)
