"""The results table on disk: a Parquet dataset that only grows, and survives a killed sweep.

Layout of a results folder (``--out results.parquet``)::

    results.parquet/
      part-0000-schema.parquet            no rows: the union of every part's columns
      part-<UTC time>-<pid>-<seq>.parquet  finished points, one file per batch; never rewritten
      _journal.jsonl                       points finished since the last part, one JSON line each
      _lock                                held (flock) while a sweep writes here

* Each finished point is appended to the journal at once (one ``write`` of one line, flushed
  to the operating system), so killing the sweep, even with ``kill -9``, loses no finished
  point; a half-written last line is ignored. Every ``part_rows`` rows or ``part_seconds``
  seconds, and when the sweep ends, the journal's rows become a part file (written under a
  dotted temporary name, fsynced and renamed, so a part that exists is complete) and the
  journal starts again. A sweep that finds a journal (the previous one was killed) turns it
  into a part first, skipping rows a part already holds.
* Readers ignore names starting with ``_`` or ``.``, so the folder is a plain Parquet dataset:
  ``pandas.read_parquet("results.parquet")`` reads every part. Parts may differ in columns (a
  new energy component, another sweep's axes); pyarrow takes a dataset's schema from its first
  file, which is the row-less schema part, kept as the union of all columns (it is the only
  file ever replaced, atomically, and it holds no data). Missing values read as null.
* A point computed again (``--force``, or after an ``error``) adds a newer row with the same
  hash; :func:`read_results` keeps the newest row per hash, and a part whose every row has a
  newer copy elsewhere is deleted when a sweep completes.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import time
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

from ..errors import ConfigError
from .columns import ACCURACY, IDENTITY, METRICS, PROVENANCE, is_component_column

__all__ = ["ResultStore", "MemoryStore", "read_results", "rows_to_table", "newest", "done_points"]

SCHEMA_PART = "part-0000-schema.parquet"
JOURNAL = "_journal.jsonl"
LOCK = "_lock"

_FIXED_TYPES = {c.name: c.type for c in IDENTITY + METRICS + ACCURACY + PROVENANCE}


def _arrow_type(name: str):
    import pyarrow as pa

    return {"int64": pa.int64(), "double": pa.float64(), "string": pa.string(), "bool": pa.bool_(),
            "timestamp": pa.timestamp("us", tz="UTC")}[name]


def _type_of(column: str, swept: Dict[str, str]) -> str:
    if column in _FIXED_TYPES:
        return _FIXED_TYPES[column]
    if column in swept:
        return swept[column]
    if is_component_column(column):
        return "double"
    return "string"


def column_order(names: Iterable[str], swept: Dict[str, str]) -> List[str]:
    """Columns in table order: identity, swept values, metrics, accuracy, components, provenance."""
    names = set(names)
    ordered = [c.name for c in IDENTITY] + list(swept)
    ordered += [c.name for c in METRICS]
    ordered += [c.name for c in ACCURACY if c.name in names or c.name in swept]
    ordered += sorted(c for c in names if is_component_column(c) and c not in ordered)
    ordered += [c for c in sorted(names) if c not in ordered and c not in {p.name for p in PROVENANCE}]
    ordered += [c.name for c in PROVENANCE]
    seen, unique = set(), []
    for c in ordered:
        if c not in seen:
            seen.add(c)
            unique.append(c)
    return unique


def rows_to_table(rows: List[Dict[str, Any]], swept: Dict[str, str]):
    """An Arrow table of ``rows`` with the declared types (columns in :func:`column_order`)."""
    import pyarrow as pa

    names = set()
    for row in rows:
        names.update(row)
    columns = column_order(names, swept)
    arrays = [pa.array([row.get(c) for row in rows], type=_arrow_type(_type_of(c, swept))) for c in columns]
    return pa.Table.from_arrays(arrays, names=columns)


def newest(frame):
    """The newest row of each hash (by ``finished_at``), in first-seen order."""
    if frame.empty:
        return frame
    order = frame.sort_values("finished_at", kind="stable")
    keep = order.drop_duplicates("hash", keep="last").index
    return frame.loc[frame.index.isin(keep)].reset_index(drop=True)


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


class MemoryStore:
    """Rows kept in memory (``xbarsim.sweep(spec)`` without ``out``): the same interface, no files."""

    def __init__(self, swept: Dict[str, str]):
        self.swept = swept
        self.rows: List[Dict[str, Any]] = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def done(self, traces: bool = False) -> Dict[str, str]:
        return {}

    def append(self, row: Dict[str, Any]) -> None:
        row.setdefault("finished_at", _now())
        self.rows.append(row)

    def finish(self) -> None:
        pass

    def table(self):
        return rows_to_table(self.rows, self.swept)


class ResultStore:
    """A results folder (see the module docstring). Use as a context manager."""

    def __init__(self, path, swept: Dict[str, str], *, part_rows: int = 1000, part_seconds: float = 30.0):
        self.path = Path(path)
        self.swept = swept
        self.part_rows, self.part_seconds = part_rows, part_seconds
        self.pending: List[Dict[str, Any]] = []
        self._journal = None
        self._lock = None
        self._since = time.monotonic()
        self._seq = 0

    # -- opening and closing ---------------------------------------------------------------------

    def __enter__(self):
        if self.path.exists() and not self.path.is_dir():
            raise ConfigError(("out",), "a results folder (a Parquet dataset written by xbarsim sweep) or a new path",
                              str(self.path), hint="a file exists there")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(("out",), "a folder that can be created", str(self.path), hint=exc.strerror) from None
        self._take_lock()
        try:
            self._check_types()
            self._recover()
            self._open_journal()
        except BaseException:
            self._release_lock()
            raise
        return self

    def __exit__(self, *exc):
        try:
            self.flush()
            self._journal.close()
            self._journal = None
            (self.path / JOURNAL).unlink(missing_ok=True)  # every row is in a part now
        finally:
            if self._journal is not None:
                self._journal.close()
                self._journal = None
            self._release_lock()
        return False

    def _take_lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no lock
            return
        handle = open(self.path / LOCK, "a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise ConfigError(("out",), "a results folder no other sweep is writing", str(self.path),
                              hint="another xbarsim sweep holds its lock") from None
        self._lock = handle

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the descriptor releases the flock
            self._lock = None

    # -- reading --------------------------------------------------------------------------------

    def parts(self) -> List[Path]:
        return sorted(p for p in self.path.glob("part-*.parquet") if p.name != SCHEMA_PART)

    def schema(self):
        """The union schema of the stored parts (None if there are none)."""
        return _stored_schema(self.path)

    def table(self, columns: Optional[List[str]] = None):
        return _read(self.path, columns)

    def done(self, traces: bool = False) -> Dict[str, str]:
        """hash -> status of the newest stored row of each point a rerun keeps (see :func:`done_points`)."""
        table = self.table(["hash", "status", "finished_at", "trace"])
        return {} if table is None else done_points(table.to_pandas(), traces)

    def _check_types(self) -> None:
        schema = self.schema()
        if schema is None:
            return
        for name, type_name in self.swept.items():
            if name in schema.names and schema.field(name).type != _arrow_type(type_name):
                raise ConfigError(("out",), f"a results folder whose column {name!r} holds {type_name} values "
                                  f"(as this sweep's)", str(self.path),
                                  hint=f"it holds {schema.field(name).type}; write this sweep to another folder")

    # -- writing --------------------------------------------------------------------------------

    def append(self, row: Dict[str, Any]) -> None:
        """Record one finished point: in the journal at once, in a part file soon."""
        row.setdefault("finished_at", _now())
        self._journal.write(json.dumps(_jsonable(row)) + "\n")
        self._journal.flush()
        self.pending.append(row)
        if len(self.pending) >= self.part_rows or time.monotonic() - self._since >= self.part_seconds:
            self.flush()

    def flush(self) -> None:
        """Move the journal's rows into a new part file."""
        if self.pending:
            self._write_part(self.pending)
            self.pending = []
            self._open_journal()
        self._since = time.monotonic()

    def finish(self) -> None:
        """End of a complete sweep: flush, then delete parts whose every row has a newer copy."""
        self.flush()
        parts = self.parts()
        if len(parts) < 2:
            return
        import pyarrow.parquet as pq

        latest: Dict[str, Any] = {}
        keys = {}
        for part in parts:
            t = pq.read_table(part, columns=["hash", "finished_at"]).to_pydict()
            keys[part] = list(zip(t["hash"], t["finished_at"]))
            for h, when in keys[part]:
                if h not in latest or when > latest[h]:
                    latest[h] = when
        for part, rows in keys.items():
            if rows and all(when < latest[h] for h, when in rows):
                part.unlink()

    def _write_part(self, rows: List[Dict[str, Any]]) -> None:
        import pyarrow as pa

        table = rows_to_table(rows, self.swept)
        old = self.schema()
        try:
            union = table.schema if old is None else pa.unify_schemas([old, table.schema])
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise ConfigError(("out",), "a results folder whose columns have this sweep's types", str(self.path),
                              hint=str(exc).splitlines()[0]) from None
        if old is None or not union.equals(old):
            _atomic_write(union.empty_table(), self.path / SCHEMA_PART)
        self._seq += 1
        stamp = _now().strftime("%Y%m%dT%H%M%S%f")
        _atomic_write(table, self.path / f"part-{stamp}-{os.getpid()}-{self._seq:05d}.parquet")

    def _open_journal(self) -> None:
        if self._journal is not None:
            self._journal.close()
        self._journal = open(self.path / JOURNAL, "w", encoding="utf-8")
        self._journal.write(json.dumps({"swept": self.swept}) + "\n")
        self._journal.flush()

    def _recover(self) -> None:
        """Rows a killed sweep left in the journal become a part (those no part holds yet)."""
        journal = self.path / JOURNAL
        if not journal.is_file():
            return
        swept, rows = _journal_rows(journal)
        swept = {**swept, **self.swept}
        if rows:
            stored = set()
            table = self.table(["hash", "finished_at"])
            if table is not None:
                stored = set(zip(table.column("hash").to_pylist(), table.column("finished_at").to_pylist()))
            rows = [r for r in rows if (r["hash"], r["finished_at"]) not in stored]
        if rows:
            saved, self.swept = self.swept, swept
            try:
                self._write_part(rows)
            finally:
                self.swept = saved
        journal.unlink()


def done_points(frame, traces: bool = False) -> Dict[str, str]:
    """hash -> status of the points of ``frame`` a rerun keeps: the newest row is ok or invalid.

    With ``traces``, an ok point whose trace file is missing is not done.
    """
    from .columns import DONE_STATUSES

    if frame.empty:
        return {}
    frame = newest(frame)
    done = {}
    trace_column = frame["trace"] if "trace" in frame else [None] * len(frame)
    for h, status, trace in zip(frame["hash"], frame["status"], trace_column):
        if status not in DONE_STATUSES:
            continue
        if traces and status == "ok" and (not isinstance(trace, str) or not Path(trace).is_file()):
            continue
        done[h] = status
    return done


def _journal_rows(journal: Path):
    """(swept column types, rows) of a journal; a half-written line is skipped."""
    swept: Dict[str, str] = {}
    rows = []
    for number, line in enumerate(journal.read_text(encoding="utf-8").splitlines()):
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue  # the line being written when the sweep was killed
        if number == 0 and isinstance(item, dict) and "swept" in item:
            swept = dict(item["swept"])
        elif isinstance(item, dict) and "hash" in item:
            rows.append(_from_json(item))
    return swept, rows


def _jsonable(row: Dict[str, Any]) -> Dict[str, Any]:
    out = dict(row)
    if isinstance(out.get("finished_at"), _dt.datetime):
        out["finished_at"] = out["finished_at"].isoformat()
    return out


def _from_json(item: Dict[str, Any]) -> Dict[str, Any]:
    row = dict(item)
    if isinstance(row.get("finished_at"), str):
        row["finished_at"] = _dt.datetime.fromisoformat(row["finished_at"])
    return row


def _atomic_write(table, path: Path) -> None:
    """Write ``table`` to ``path`` through a dotted temporary name: the file either is complete or is not there."""
    import pyarrow.parquet as pq

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _stored_schema(path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(path.glob("part-*.parquet"))
    if not files:
        return None
    schemas = [pq.read_schema(f) for f in files]
    return pa.unify_schemas(schemas)


def _read(path: Path, columns: Optional[List[str]] = None):
    import pyarrow.dataset as ds

    schema = _stored_schema(path)
    if schema is None:
        return None
    files = [str(f) for f in sorted(path.glob("part-*.parquet"))]
    if columns is not None:
        columns = [c for c in columns if c in schema.names]
    return ds.dataset(files, schema=schema, format="parquet").to_table(columns=columns)


def read_results(path):
    """The results table of a sweep's folder as a pandas DataFrame: the newest row of each point.

    >>> read_results("results.parquet")  # doctest: +SKIP
    """
    import pandas as pd

    path = Path(path)
    if not path.is_dir():
        if path.is_file():  # a single Parquet file (e.g. written by DataFrame.to_parquet)
            return pd.read_parquet(path)
        raise ConfigError(("results",), "a results folder written by xbarsim sweep", str(path),
                          hint="no such file or folder")
    table = _read(path)
    journal = path / JOURNAL
    frames = [] if table is None else [table.to_pandas()]
    if journal.is_file():  # rows of a running or killed sweep not yet in a part
        swept, rows = _journal_rows(journal)
        if rows:
            frames.append(rows_to_table(rows, swept).to_pandas())
    if not frames:
        raise ConfigError(("results",), "a results folder written by xbarsim sweep", str(path),
                          hint="it holds no results")
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return newest(frame)
