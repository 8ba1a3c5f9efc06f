"""What a worker does with one point: simulate it (and measure accuracy) and return its measured columns.

This module runs on Dask workers, possibly on other machines: a task carries everything it
needs (the resolved arch, network and energy table, not paths to them), and the result is a
small dict of plain Python values. It depends only on xbarsim's public simulation API.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Any, Dict, Optional

from .. import __version__
from ..config.arch import Arch
from ..energy.table import EnergyTable
from ..errors import XbarsimError
from ..workload.network import Network
from .accuracy import AccuracyModel, measure_accuracy
from .columns import component_column

__all__ = ["PointTask", "AccuracyTask", "evaluate_point", "result_columns", "worker_version"]


@dataclass(frozen=True)
class AccuracyTask:
    model: AccuracyModel
    dataset: str
    draws: int
    test_limit: Optional[int]


@dataclass(frozen=True)
class PointTask:
    """Everything one point needs, resolved: nothing is looked up by path on the worker."""

    hash: str
    arch: Arch
    network: Network
    energy: EnergyTable
    schedule: str
    batch: int
    seed: int
    accuracy: Optional[AccuracyTask] = None
    trace: Optional[str] = None
    """Where to write the point's HDF5 trace (a folder every worker can write), or None."""

    def __dask_tokenize__(self):
        # The hash already identifies every input; without this Dask walks the whole arch,
        # network and energy table to tokenize each task (most of the client's time per point).
        return ("xbarsim.sweeps.PointTask", self.hash, self.trace)


def result_columns(result) -> Dict[str, Any]:
    """The measured columns of a :class:`~xbarsim.SimulationResult` (see ``columns.METRICS``)."""
    energy = result.energy
    row = {
        "latency_s": float(result.latency_s),
        "throughput_ips": float(result.throughput_ips),
        "cycles": int(result.cycles),
        "energy_pj": float(result.energy_pj),
        "energy_per_inference_pj": float(result.energy_pj) / result.batch,
        "energy_dynamic_pj": float(energy.dynamic_pj),
        "energy_leakage_pj": float(result.energy_pj) - float(energy.dynamic_pj),
        "area_mm2": float(result.area_mm2),
        "peak_tops": float(result.peak_tops),
        "peak_power_w": float(result.peak_power_w),
        "tops": float(result.tops),
        "tops_per_w": float(result.tops_per_w),
        "utilization": float(result.mapping.utilization),
        "dram_bytes": int(result.dram_bytes),
    }
    for component, value in energy.by_component.items():
        row[component_column(component)] = float(value)
    return row


def evaluate_point(task: PointTask) -> Dict[str, Any]:
    """Simulate one point; never raises for a bad point (its status and error say what happened).

    ``status`` is ``ok``, ``invalid`` (an :class:`~xbarsim.XbarsimError`: a config that does not
    validate, a network that does not map) or ``error`` (anything else, e.g. running out of
    memory; a rerun tries it again).
    """
    from ..simulation import simulate

    start = time.perf_counter()
    try:
        result = simulate(task.arch, task.network, batch=task.batch, schedule=task.schedule, seed=task.seed,
                          energy=task.energy, trace=task.trace, overwrite=True)
        row: Dict[str, Any] = {"status": "ok", "error": None, **result_columns(result)}
        if task.accuracy is not None:
            a = task.accuracy
            row.update(measure_accuracy(a.model, task.arch.crossbar, a.dataset, a.draws, a.test_limit))
        row["trace"] = task.trace
    except XbarsimError as exc:
        row = {"status": "invalid", "error": _one_line(str(exc))}
    except Exception as exc:  # noqa: BLE001 - a failed point is recorded, never the end of the sweep
        row = {"status": "error", "error": _one_line(f"{type(exc).__name__}: {exc}")}
    row.update(seconds=time.perf_counter() - start, host=host(), xbarsim_version=__version__)
    return row


def _one_line(text: str) -> str:
    return " ".join(text.split())


def host() -> str:
    """``hostname:pid`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_version() -> str:
    """The xbarsim version a worker runs (checked against the client's before a sweep)."""
    return __version__
