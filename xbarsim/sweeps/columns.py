"""The columns of a sweep's results table, declared once.

Every other part of the sweep code (the worker that measures a point, the Parquet store, the
report, the docs test) reads these declarations. Types are Arrow type names; a column whose
value is missing (an invalid point has no latency) holds null.

Three kinds of columns are not listed here because the spec or the run decides them:

* swept values: one column per swept field, named by its dotted path (``crossbar.adc_bits``),
  typed from the values the spec gives (:func:`xbarsim.sweeps.points.swept_columns`);
* ``energy_<component>_pj``: one column per component the simulator reports energy for,
  whatever components it has (read from ``result.energy.by_component``, never from a list);
* nothing else: a row is exactly these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

__all__ = ["Column", "IDENTITY", "SETTINGS", "METRICS", "ACCURACY", "PROVENANCE", "TIMING_COLUMNS",
           "STATUSES", "DONE_STATUSES", "component_column", "is_component_column", "component_of", "reference_markdown"]


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    """Arrow type name: ``int64``, ``double``, ``string``, ``bool`` or ``timestamp``."""
    doc: str


IDENTITY: Tuple[Column, ...] = (
    Column("point", "int64", "position of the point in the sweep's order (0, 1, ...)"),
    Column("hash", "string", "content hash of the resolved arch, workload, energy table, settings and xbarsim "
                             "version (16 hex digits); names the point's trace"),
    Column("status", "string", "'ok'; 'invalid' (the config does not validate or the network does not map); "
                               "'error' (anything else went wrong: retried by the next run)"),
    Column("error", "string", "why the point is invalid or failed, one line (null when ok)"),
)

SETTINGS: Tuple[Column, ...] = (
    Column("workload", "string", "the workload as the spec names it (zoo name, YAML path or network name)"),
    Column("schedule", "string", "'layer' or 'pipeline'"),
    Column("batch", "int64", "inferences per run"),
    Column("energy_table", "string", "energy table the spec gives (null: the arch's own `energy_table`)"),
    Column("seed", "int64", "the spec's seed (simulation and sampling)"),
)

METRICS: Tuple[Column, ...] = (
    Column("latency_s", "double", "wall-clock time of the whole batch, s"),
    Column("throughput_ips", "double", "inferences per second (batch / latency)"),
    Column("cycles", "int64", "cycles of the whole batch at the chip clock"),
    Column("energy_pj", "double", "energy of the whole batch, pJ (dynamic + leakage)"),
    Column("energy_per_inference_pj", "double", "energy_pj / batch"),
    Column("energy_dynamic_pj", "double", "dynamic energy of the batch, pJ"),
    Column("energy_leakage_pj", "double", "leakage energy of the batch, pJ (energy_pj - energy_dynamic_pj)"),
    Column("area_mm2", "double", "chip area, mm^2"),
    Column("peak_tops", "double", "peak tera-operations per second (2 per MAC)"),
    Column("peak_power_w", "double", "peak power, W"),
    Column("tops", "double", "achieved tera-operations per second"),
    Column("tops_per_w", "double", "achieved tera-operations per joule (TOPS/W)"),
    Column("utilization", "double", "cell utilization of the mapping: used cells / cells of the arrays used"),
    Column("dram_bytes", "int64", "bytes read from and written to DRAM"),
)

ACCURACY: Tuple[Column, ...] = (
    Column("accuracy_model", "string", "trained model whose accuracy was measured (specs with `accuracy`)"),
    Column("accuracy", "double", "test accuracy through the point's crossbar, mean over the draws (0..1)"),
    Column("accuracy_std", "double", "standard deviation of the accuracy over the draws"),
    Column("accuracy_float", "double", "test accuracy of the same model in floating point"),
)

PROVENANCE: Tuple[Column, ...] = (
    Column("trace", "string", "path of the point's HDF5 trace (`--traces DIR`), else null"),
    Column("xbarsim_version", "string", "xbarsim version that computed the row"),
    Column("seconds", "double", "wall time spent on the point, s (timing)"),
    Column("host", "string", "host:pid of the process that computed the point (timing)"),
    Column("finished_at", "timestamp", "UTC time the row was recorded (timing)"),
)

TIMING_COLUMNS: Tuple[str, ...] = ("seconds", "host", "finished_at")
"""Columns that differ between runs of the same spec; everything else is reproducible."""

STATUSES = ("ok", "invalid", "error")
DONE_STATUSES = ("ok", "invalid")
"""Statuses a rerun keeps; 'error' rows are computed again."""

_PREFIX, _SUFFIX = "energy_", "_pj"
_FIXED = {c.name for c in METRICS}


def component_column(component: str) -> str:
    """The column of one component's energy: ``energy_<component>_pj``."""
    return f"{_PREFIX}{component}{_SUFFIX}"


def is_component_column(name: str) -> bool:
    return name.startswith(_PREFIX) and name.endswith(_SUFFIX) and name not in _FIXED


def component_of(name: str) -> str:
    """The component a ``energy_<component>_pj`` column holds."""
    return name[len(_PREFIX):-len(_SUFFIX)]


def reference_markdown() -> str:
    """The results table's columns in Markdown (kept in docs/sweeps.md; a test checks they match)."""
    lines = ["| column | type | meaning |", "|---|---|---|"]
    groups = (IDENTITY, SETTINGS, (Column("<dotted.path>", "from the values", "one column per swept field"),),
              METRICS, (Column("energy_<component>_pj", "double", "energy of each component the simulator "
                                                                   "reports, pJ (dynamic + leakage)"),),
              ACCURACY, PROVENANCE)
    for group in groups:
        for column in group:
            lines.append(f"| `{column.name}` | {column.type} | {column.doc} |")
    return "\n".join(lines)
