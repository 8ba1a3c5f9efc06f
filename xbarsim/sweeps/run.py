"""Running a sweep: plan the points, skip those already done, run the rest, record each as it arrives.

1. **Plan** (in this process): every point's arch is resolved (``evolve`` of the base with the
   point's values) and hashed with its workload, energy table, settings and the xbarsim
   version (:func:`point_hash`). A point whose config does not validate is recorded as
   ``invalid`` here, without running.
2. **Skip** the points the results folder already holds as ``ok`` or ``invalid`` (unless
   ``force``); ``error`` rows are run again. Points with the same hash run once.
3. **Run** each remaining point as one task: in this process (``scheduler="serial"``), on a
   local Dask cluster started for the sweep (the default: one single-threaded worker process
   per core), or on an existing ``distributed`` scheduler (an address or a scheduler file). At
   most a few tasks per worker thread are in flight, so memory stays flat for any number of
   points; a worker that dies has its task run again elsewhere (Dask's ``allowed-failures``,
   3 by default, then the point is recorded as ``error``).
4. **Record** every result as it arrives (:mod:`xbarsim.sweeps.store`).

Every row is computed by the same function from the same inputs wherever it runs, so a spec
and seed give the same table (but for :data:`~xbarsim.sweeps.columns.TIMING_COLUMNS`)
serially, on a local cluster or on a remote one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Union

from .. import __version__
from ..config.arch import Arch
from ..config.fields import evolve
from ..energy.table import load_energy
from ..errors import ConfigError, XbarsimError, described
from .columns import ACCURACY, IDENTITY, METRICS, PROVENANCE, is_component_column
from .evaluate import AccuracyTask, PointTask, evaluate_point, host, worker_version
from .points import Point, point_values, points, swept_columns
from .spec import SweepSpec, load_sweep
from .store import MemoryStore, ResultStore, done_points, newest, read_results

__all__ = ["sweep", "run_sweep", "SweepRun", "Planned", "plan", "point_hash", "dry_run_lines", "SERIAL"]

SERIAL = "serial"
"""``scheduler=`` value that runs every point in this process, one after another (no Dask)."""

CONNECT_TIMEOUT = "30s"
"""How long to try reaching a scheduler before giving up."""


def _digest(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True, default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def point_hash(arch: Any, workload: str, energy: Optional[str], schedule: str, batch: int, seed: int,
               accuracy: Optional[Dict[str, Any]]) -> str:
    """16 hex digits of sha256 over the canonical JSON of a point's inputs and the xbarsim version.

    ``arch`` is the resolved arch dict (or, for an arch that does not resolve, the base digest
    and the raw changes); ``workload`` and ``energy`` are digests of the resolved workload and
    energy table; ``accuracy`` holds the model file's digest, dataset, draws and test limit.
    """
    return _digest({"xbarsim": __version__, "arch": arch, "workload": workload, "energy": energy,
                    "schedule": schedule, "batch": batch, "seed": seed, "accuracy": accuracy})[:16]


KEEP_RESOLVED = 20_000
"""Sweeps of at most this many points keep each resolved arch from planning to submission (about
3 kB each); larger ones resolve it again when the point is submitted, so memory stays flat."""


@dataclass(frozen=True)
class Planned:
    point: Point
    hash: str
    error: Optional[str] = None
    """Why the point is invalid before running (its arch or energy table does not resolve)."""
    arch: Optional[Arch] = field(default=None, compare=False, repr=False)
    """The resolved arch, kept for sweeps of up to :data:`KEEP_RESOLVED` points."""


@dataclass
class Plan:
    spec: SweepSpec
    types: Dict[str, str]
    """Swept column -> Arrow type."""
    items: List[Planned]
    tables: Dict[str, Any] = field(default_factory=dict)
    """Energy tables named by resolved archs (``arch.energy_table``), loaded once."""

    def values(self, item: Planned) -> Dict[str, Any]:
        return point_values(self.spec, item.point, self.types)


def plan(spec: SweepSpec) -> Plan:
    """Resolve and hash every point of ``spec`` (about half a millisecond per point)."""
    base = spec.arch
    base_digest = _digest(base.to_dict())
    workloads = [_digest(w.value.to_dict()) for w in spec.settings_workloads]
    explicit = [None if t is None else _digest(t.value.to_dict()) for t in spec.energy_tables]
    tables: Dict[str, Any] = {}
    table_digests: Dict[str, Union[str, ConfigError]] = {}
    result = Plan(spec, swept_columns(spec), [], tables)
    generated = points(spec)
    keep = len(generated) <= KEEP_RESOLVED
    for point in generated:
        error = None
        try:
            arch = evolve(base, dict(point.overrides))
            arch_part: Any = arch.to_dict()
        except XbarsimError as exc:
            arch, error = None, _one_line(str(exc))
            arch_part = {"base": base_digest, "changes": [list(pair) for pair in point.overrides]}
        energy = explicit[point.energy]
        if arch is not None and energy is None:
            name = arch.energy_table
            if name not in table_digests:
                try:
                    tables[name] = load_energy(name)
                    table_digests[name] = _digest(tables[name].to_dict())
                except ConfigError as exc:
                    table_digests[name] = exc.under("energy_table")
            energy = table_digests[name]
            if isinstance(energy, ConfigError):
                error, energy = _one_line(str(energy)), None
        accuracy = None
        if point.model is not None:
            a = spec.accuracy
            model = a.model[point.model]
            accuracy = {"model": model.digest, "dataset": a.dataset_of(model), "draws": a.draws,
                        "test_limit": a.test_limit}
        h = point_hash(arch_part, workloads[point.workload], energy, point.schedule, point.batch, spec.seed, accuracy)
        result.items.append(Planned(point, h, error, arch if keep and error is None else None))
    return result


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _task(p: Plan, item: Planned, traces: Optional[Path]) -> PointTask:
    spec, point = p.spec, item.point
    arch = item.arch if item.arch is not None else evolve(spec.arch, dict(point.overrides))
    named = spec.energy_tables[point.energy]
    energy = named.value if named is not None else p.tables[arch.energy_table]
    accuracy = None
    if point.model is not None:
        model = spec.accuracy.model[point.model]
        accuracy = AccuracyTask(model, spec.accuracy.dataset_of(model), spec.accuracy.draws, spec.accuracy.test_limit)
    trace = str(traces / f"{item.hash}.h5") if traces is not None else None
    return PointTask(hash=item.hash, arch=arch, network=spec.settings_workloads[point.workload].value, energy=energy,
                     schedule=point.schedule, batch=point.batch, seed=spec.seed, accuracy=accuracy, trace=trace)


# -- executors: iterables of (item, task) in, (item, measured columns) out as they finish -------------

Executor = Callable[[Iterable[Tuple[Planned, PointTask]]], Iterator[Tuple[Planned, Dict[str, Any]]]]


def _serial(tasks):
    for item, task in tasks:
        yield item, evaluate_point(task)


def _failure(exc: BaseException) -> Dict[str, Any]:
    message = " ".join(f"{type(exc).__name__}: {exc}".split())
    return {"status": "error", "error": message, "seconds": None, "host": None, "xbarsim_version": None}


def _on_dask(client, tasks):
    """Keep ``window`` points in flight; submit and collect them in batches (one message each way)."""
    import itertools

    from distributed import as_completed

    threads = sum(client.nthreads().values())
    window = max(32, 4 * threads)
    token = uuid.uuid4().hex[:8]
    source = iter(tasks)
    pending: Dict[str, Planned] = {}
    futures = as_completed(loop=client.loop, with_results=True, raise_errors=False)

    def submit(count: int) -> None:
        batch = list(itertools.islice(source, count))
        if not batch:
            return
        keys = [f"xbarsim-point-{item.hash}-{token}" for item, _ in batch]
        for (item, _), future in zip(batch, client.map(evaluate_point, [task for _, task in batch], key=keys)):
            pending[future.key] = item
            futures.add(future)

    submit(window)
    for finished in futures.batches():
        for future, result in finished:
            item = pending.pop(future.key)
            if future.status != "finished":  # e.g. KilledWorker, or cancelled: recorded, retried by a rerun
                error = result[1] if isinstance(result, tuple) and len(result) == 3 else result
                result = _failure(error if isinstance(error, BaseException) else RuntimeError(str(error)))
            future.release()
            yield item, result
        submit(len(finished))


def available_cores() -> int:
    """Cores this process may use (its CPU affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def executor(scheduler: Optional[str], workers: Optional[int], say: Callable[[str], None]):
    """An :data:`Executor` for ``scheduler`` (``None``: a local cluster; ``"serial"``; an address or file)."""
    if scheduler == SERIAL:
        say("running in this process (serial)")
        yield _serial
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - a core dependency
        raise ImportError("sweeps on Dask need dask and distributed: pip install 'dask[distributed]'") from None
    import logging

    cluster = None
    if scheduler is None:
        count = workers or available_cores()
        say(f"starting a local Dask cluster of {count} worker process{'es' if count > 1 else ''}")
        cluster = LocalCluster(n_workers=count, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None, silence_logs=logging.CRITICAL,
                               preload=["xbarsim.sweeps.worker"])
        client = Client(cluster, set_as_default=False)
    else:
        client = _connect(scheduler)
    try:
        if scheduler is not None:
            if workers:
                say(f"waiting for {workers} worker{'s' if workers > 1 else ''} at {scheduler}")
                client.wait_for_workers(workers)
            _check_versions(client, scheduler)
            count = len(client.nthreads())
            say(f"submitting to {scheduler} ({count} worker{'s' if count != 1 else ''} now"
                f"{'; waiting for workers to join' if not count else ''})")
        yield lambda tasks: _on_dask(client, tasks)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _connect(scheduler: str):
    from distributed import Client

    kwargs = {"scheduler_file": scheduler} if Path(scheduler).is_file() else {"address": scheduler}
    try:
        return Client(**kwargs, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, ValueError for a malformed address...
        raise ConfigError(("scheduler",), "the address of a running Dask scheduler (tcp://host:8786) or its "
                          "scheduler file", scheduler, hint=_one_line(f"{type(exc).__name__}: {exc}")) from None


def _check_versions(client, scheduler: str) -> None:
    try:
        versions = client.run(worker_version)
    except Exception as exc:  # noqa: BLE001 - the workers cannot even import xbarsim
        raise ConfigError(("scheduler",), f"workers that run xbarsim {__version__}", scheduler,
                          hint=_one_line(f"install xbarsim on every worker: {type(exc).__name__}: {exc}")) from None
    wrong = {address: v for address, v in versions.items() if v != __version__}
    if wrong:
        raise ConfigError(("scheduler",), f"workers that run xbarsim {__version__} (point hashes include it)",
                          described(", ".join(f"{a} runs {v}" for a, v in sorted(wrong.items()))))


# -- the sweep ---------------------------------------------------------------------------------------


@dataclass
class SweepRun:
    """What :func:`run_sweep` did, and the resulting table."""

    frame: Any
    """pandas.DataFrame: one row per point, in the spec's order."""
    points: int
    cached: int
    """Points skipped because the results folder already held them."""
    computed: int
    """Points run (or recorded invalid) by this call."""
    seconds: float
    out: Optional[Path] = None

    def counts(self) -> Dict[str, int]:
        return {s: int((self.frame["status"] == s).sum()) for s in ("ok", "invalid", "error")}


def _check_options(scheduler, workers) -> None:
    if scheduler is not None and (not isinstance(scheduler, (str, os.PathLike)) or not os.fspath(scheduler).strip()):
        raise ConfigError(("scheduler",), f"{SERIAL!r}, a Dask scheduler address or a scheduler file", scheduler)
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ConfigError(("workers",), "an integer >= 1", workers)
    if workers is not None and scheduler == SERIAL:
        raise ConfigError(("workers",), f"nothing with scheduler {SERIAL!r} (it runs in this process)", workers)


def _quiet(_text: str) -> None:
    pass


def run_sweep(spec, out=None, *, scheduler: Optional[str] = None, workers: Optional[int] = None, force: bool = False,
              traces=None, progress: bool = False, say: Callable[[str], None] = _quiet,
              part_rows: int = 1000, part_seconds: float = 30.0) -> SweepRun:
    """Run a sweep (see :func:`sweep`) and say what was done; ``say`` receives progress lines."""
    start = time.perf_counter()
    spec = load_sweep(spec)
    _check_options(scheduler, workers)
    scheduler = os.fspath(scheduler) if scheduler is not None else None
    p = plan(spec)
    traces = Path(traces).resolve() if traces is not None else None
    if traces is not None:
        try:
            traces.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(("traces",), "a folder that can be created", str(traces), hint=exc.strerror) from None
    store = (ResultStore(out, p.types, part_rows=part_rows, part_seconds=part_seconds) if out is not None
             else MemoryStore(p.types))
    with store:
        done = {} if force else store.done(traces=traces is not None)
        todo, seen = [], set(done)
        for item in p.items:
            if item.hash not in seen:
                seen.add(item.hash)
                todo.append(item)
        cached = sum(1 for item in p.items if item.hash in done)
        say(f"sweep {spec.name}: {len(p.items)} points, {cached} already in the results, {len(todo)} to run")
        runnable = [item for item in todo if item.error is None]
        with (executor(scheduler, workers, say) if runnable else contextlib.nullcontext()) as execute:
            bar = _bar(len(todo), spec.name, progress)
            try:
                for item in todo:
                    if item.error is not None:
                        _record(store, p, item, {"status": "invalid", "error": item.error, "seconds": 0.0,
                                                 "host": host(), "xbarsim_version": __version__}, bar)
                if runnable:
                    for item, result in execute((item, _task(p, item, traces)) for item in runnable):
                        _record(store, p, item, result, bar)
            finally:
                bar.close()
        store.finish()
        table = store.table()
    return SweepRun(frame=_frame(p, table), points=len(p.items), cached=cached, computed=len(todo),
                    seconds=time.perf_counter() - start, out=Path(out) if out is not None else None)


def sweep(spec, out=None, *, scheduler: Optional[str] = None, workers: Optional[int] = None, force: bool = False,
          traces=None, progress: bool = False):
    """Run a design-space sweep; return its results table as a pandas DataFrame, one row per point.

    ``spec`` is a sweep spec (YAML path, dict or :class:`~xbarsim.sweeps.SweepSpec`; see
    ``docs/sweeps.md``). ``out`` is a results folder (a Parquet dataset, e.g.
    ``"results.parquet"``): rows are appended as points finish, points it already holds are
    not run again unless ``force``, and the table survives an interrupted sweep. Without
    ``out`` nothing is written.

    ``scheduler``: ``None`` starts a local Dask cluster of ``workers`` processes (default: one
    per core); ``"serial"`` runs in this process; anything else is the address (or scheduler
    file) of a running ``distributed`` scheduler, for which ``workers`` is the number of
    workers to wait for. ``traces``: a folder to keep each point's HDF5 trace in, named by the
    point's hash. ``progress`` shows a progress bar.

    >>> frame = xbarsim.sweep({"version": 1, "arch": "tiny", "workloads": "mlp",
    ...                        "axes": {"crossbar.adc_bits": [4, 6]}}, scheduler="serial")  # doctest: +SKIP
    """
    return run_sweep(spec, out, scheduler=scheduler, workers=workers, force=force, traces=traces,
                     progress=progress).frame


def _bar(total: int, name: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=name, unit="point", disable=not enabled or total == 0, dynamic_ncols=True)


def _record(store, p: Plan, item: Planned, result: Dict[str, Any], bar) -> None:
    row = {"point": item.point.index, "hash": item.hash, **p.values(item), **result}
    version = row.get("xbarsim_version")
    if version is not None and version != __version__:
        row.update(status="error", error=f"worker runs xbarsim {version}; the sweep was planned with {__version__}")
    store.append(row)
    bar.update(1)


def _frame(p: Plan, table):
    """One row per planned point, in plan order, swept columns from the plan, this spec's columns only."""
    import pandas as pd

    if table is None or table.num_rows == 0:
        return pd.DataFrame(columns=[c.name for c in IDENTITY])
    stored = newest(table.to_pandas())
    position = {h: i for i, h in enumerate(stored["hash"])}
    found = [item for item in p.items if item.hash in position]
    frame = stored.iloc[[position[item.hash] for item in found]].reset_index(drop=True)
    frame["point"] = [item.point.index for item in found]
    values = [p.values(item) for item in found]
    for name in p.types:
        frame[name] = pd.Series([v.get(name) for v in values], dtype=frame[name].dtype if name in frame else None)
    keep = [c.name for c in IDENTITY] + list(p.types) + [c.name for c in METRICS]
    if p.spec.accuracy is not None:
        keep += [c.name for c in ACCURACY if c.name not in keep]
    keep += [c for c in frame.columns if is_component_column(c) and frame[c].notna().any()]
    keep += [c.name for c in PROVENANCE]
    return frame[[c for c in keep if c in frame.columns]]


def dry_run_lines(spec, out=None, *, force: bool = False, traces=None, limit: int = 20) -> List[str]:
    """What :func:`run_sweep` would do, without running or writing anything: counts and the first points."""
    spec = load_sweep(spec)
    p = plan(spec)
    done: Dict[str, str] = {}
    if out is not None and Path(out).is_dir() and not force:
        try:
            done = done_points(read_results(out), traces is not None)
        except ConfigError:
            done = {}
    distinct = len({item.hash for item in p.items})
    invalid = sum(1 for item in p.items if item.error is not None)
    todo = len({item.hash for item in p.items if item.hash not in done})
    lines = [f"sweep {spec.name}: {len(p.items)} points ({distinct} distinct), {invalid} invalid before running, "
             f"{len(p.items) - sum(1 for item in p.items if item.hash not in done)} already in "
             f"{out if out is not None else 'the results'}, {todo} to run",
             f"combine {spec.combine}" + (f", {spec.samples} samples" if spec.samples else "") +
             f", seed {spec.seed}; base arch {spec.arch.name}"]
    names = list(p.types)
    header = ["point", "hash", "state"] + names
    rows = []
    for item in p.items[:limit]:
        state = "done" if item.hash in done else ("invalid" if item.error is not None else "to run")
        values = p.values(item)
        rows.append([str(item.point.index), item.hash, state] + [_text(values.get(n)) for n in names])
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    if len(p.items) > limit:
        lines.append(f"... {len(p.items) - limit} more")
    return lines


def _text(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
