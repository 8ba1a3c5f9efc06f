"""What a simulation returns: latency, throughput, energy and its breakdown, area, utilization."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

from . import __version__
from .config.arch import Arch
from .counting import ActionCounts
from .energy.pricing import EnergyBreakdown
from .energy.table import EnergyTable
from .mapping.placement import Mapping
from .timing.engine import Timeline
from .timing.schedule import OpStream
from .workload.network import Network

__all__ = ["LayerReport", "SimulationResult"]


@dataclass(frozen=True)
class LayerReport:
    """One layer of a run."""

    name: str
    type: str
    round: int
    copies: int
    arrays: int
    """Arrays occupied by all copies and parts."""
    cells_used: int
    """Cells holding its weights, all copies and parts."""
    utilization: float
    """Used cells / cells of the arrays it occupies (0 without weights)."""
    vectors: int
    """Input vectors per image (0 without weights)."""
    macs: int
    """MACs for the whole batch."""
    start_cycle: int
    end_cycle: int
    energy_pj: float

    @property
    def cycles(self) -> int:
        """Cycles from its first operation's start to its last operation's end."""
        return self.end_cycle - self.start_cycle


@dataclass
class SimulationResult:
    """A run of a network on an architecture. ``print(result)`` gives a readable summary."""

    arch: Arch
    network: Network
    energy_table: EnergyTable
    schedule: str
    batch: int
    seed: int
    mapping: Mapping
    stream: OpStream
    timeline: Timeline
    actions: ActionCounts
    """Counts keyed by (layer, component, action)."""
    energy: EnergyBreakdown
    area_mm2: float
    area_by_component: Dict[str, float]
    peak_power_w: float
    peak_power_by_component: Dict[str, float]
    peak_tops: float
    layers: Tuple[LayerReport, ...]
    notes: Tuple[str, ...] = field(default=())
    data_stats: Optional[Dict[str, object]] = None
    """Statistics of the functional model on real inputs (data-aware runs), else None."""
    trace_path: Optional[object] = None
    """Where the run's trace was written, if it was."""
    replayed_from: Optional[object] = None
    """The trace this result was replayed from, if it was."""

    # -- headline numbers --------------------------------------------------------------------

    @property
    def cycles(self) -> int:
        """Cycles from the first operation to the last, at ``chip.clock``."""
        return self.timeline.cycles

    @property
    def latency_s(self) -> float:
        """Wall-clock time of the whole batch, seconds."""
        return self.cycles / self.arch.chip.clock

    @property
    def throughput_ips(self) -> float:
        """Inferences per second: batch / latency."""
        return self.batch / self.latency_s if self.cycles else 0.0

    @property
    def energy_pj(self) -> float:
        """Energy of the whole batch, pJ."""
        return self.energy.total_pj

    @property
    def energy_per_inference_pj(self) -> float:
        return self.energy_pj / self.batch

    @property
    def power_w(self) -> float:
        """Average power over the run: energy / latency."""
        return self.energy_pj * 1e-12 / self.latency_s if self.cycles else 0.0

    @property
    def ops(self) -> int:
        """Operations (2 per MAC) of the batch."""
        return 2 * self.network.macs * self.batch

    @property
    def tops(self) -> float:
        """Achieved tera-operations per second (2 per MAC)."""
        return self.ops / self.latency_s / 1e12 if self.cycles else 0.0

    @property
    def tops_per_w(self) -> float:
        """Achieved operations per joule, in TOPS/W."""
        return self.ops / (self.energy_pj * 1e-12) / 1e12 if self.energy_pj else 0.0

    @property
    def dram_bytes(self) -> int:
        """Bytes read from and written to DRAM (activations, and weights when reprogramming)."""
        return self.actions.count("dram.read_bytes") + self.actions.count("dram.write_bytes")

    def count(self, action: str, layer: Optional[str] = None) -> int:
        """Total count of ``"component.action"`` (e.g. ``"adc.convert"``), over all layers or one."""
        return self.actions.count(action, layer)

    @property
    def energy_breakdown(self) -> Dict[str, Dict[str, float]]:
        """Energy in pJ ``{"component": {...}, "layer": {...}}`` (leakage under components only)."""
        return {"component": dict(self.energy.by_component), "layer": dict(self.energy.by_layer)}

    @property
    def utilization(self) -> Dict[str, float]:
        """Cell utilization of each weight layer: used cells / cells of the arrays it occupies."""
        return {r.name: r.utilization for r in self.layers if r.arrays}

    @property
    def busy(self) -> Dict[str, int]:
        """Busy server-cycles of each resource."""
        return dict(self.timeline.busy)

    # -- presentation ---------------------------------------------------------------------------

    def __str__(self) -> str:
        return "\n".join(self.summary_lines())

    def summary_lines(self) -> List[str]:
        a, m = self.arch, self.mapping
        xb = a.crossbar
        pes_used = max(m.pes_used(r) for r in range(m.rounds))
        lines = [
            f"xbarsim {__version__}: {self.network.name} on {a.name} "
            f"(schedule {self.schedule}, batch {self.batch}, energy table {self.energy_table.name})",
            f"  chip      {a.chip.tiles} tiles x {a.tile.pes} PEs x {a.pe.arrays} arrays of {xb.rows}x{xb.cols} "
            f"({a.arrays:,} arrays), {self.area_mm2:.1f} mm2; peak {self.peak_tops:.2f} TOPS at "
            f"{self.peak_power_w:.2f} W ({self.peak_tops * 1e3 / self.area_mm2:.1f} GOPS/s/mm2, "
            f"{self.peak_tops * 1e3 / self.peak_power_w:.1f} GOPS/W)",
            f"  mapping   {m.arrays_used:,} arrays in up to {pes_used:,} of {a.pes:,} PEs, cell utilization "
            f"{m.utilization:.1%}, {m.rounds} programming round{'s' if m.rounds > 1 else ''}",
            f"  latency   {_time(self.latency_s)} ({self.cycles:,} cycles at {a.chip.clock / 1e9:g} GHz), "
            f"throughput {self.throughput_ips:,.1f} inferences/s",
            f"  energy    {_energy(self.energy_pj)} per batch, {_energy(self.energy_per_inference_pj)} per inference; "
            f"average power {self.power_w:.3g} W",
            f"  achieved  {self.tops:.3g} TOPS, {self.tops_per_w:.3g} TOPS/W; DRAM traffic {_bytes(self.dram_bytes)}",
        ]
        for note in self.notes:
            lines.append(f"  note      {note}")
        lines.append("")
        lines.append("  energy by component")
        total = self.energy_pj or 1.0
        for name, value in sorted(self.energy.by_component.items(), key=lambda kv: -kv[1]):
            if value > 0:
                lines.append(f"    {name:16s} {_energy(value):>12s} {value / total:7.1%}")
        lines.append("")
        lines.append(f"  {'layer':24s} {'type':5s} {'copies':>6s} {'arrays':>7s} {'util':>6s} {'vectors':>8s} "
                     f"{'latency':>10s} {'energy':>11s}")
        for r in self.layers:
            util = f"{r.utilization:.0%}" if r.arrays else "-"
            lines.append(f"  {r.name[:24]:24s} {r.type:5s} {r.copies:6d} {r.arrays:7,d} {util:>6s} {r.vectors:8,d} "
                         f"{_time(r.cycles / a.chip.clock):>10s} {_energy(r.energy_pj):>11s}")
        return lines


def _time(seconds: float) -> str:
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale or unit == "ns":
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds} s"  # pragma: no cover


def _energy(pj: float) -> str:
    for unit, scale in (("J", 1e12), ("mJ", 1e9), ("µJ", 1e6), ("nJ", 1e3), ("pJ", 1)):
        if pj >= scale or unit == "pJ":
            return f"{pj / scale:.3g} {unit}"
    return f"{pj} pJ"  # pragma: no cover


def _bytes(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3), ("B", 1)):
        if n >= scale or unit == "B":
            return f"{n / scale:.3g} {unit}"
    return f"{n} B"  # pragma: no cover


def layer_reports(mapping: Mapping, stream: OpStream, timeline: Timeline, energy: EnergyBreakdown,
                  batch: int, spans: Optional[Dict[str, Tuple[int, int]]] = None) -> Tuple[LayerReport, ...]:
    """Per-layer spans and energy from a run (``spans`` overrides the timeline's)."""
    step_layer = np.array([s.layer for s in stream.steps], dtype=np.int64)
    op_layer = step_layer[timeline.step_of_op] if len(timeline.step_of_op) else np.zeros(0, dtype=np.int64)
    reports = []
    for m in mapping.layers:
        if spans is not None:
            start, end = spans[m.layer.name]
        else:
            mask = op_layer == m.layer.index
            start = int(timeline.start[mask].min()) if mask.any() else 0
            end = int(timeline.end[mask].max()) if mask.any() else 0
        reports.append(LayerReport(
            name=m.layer.name, type=m.layer.type, round=m.round, copies=m.copies, arrays=m.arrays,
            cells_used=m.cells_used, utilization=m.utilization, vectors=m.vectors, macs=m.layer.macs * batch, start_cycle=start,
            end_cycle=end, energy_pj=energy.by_layer.get(m.layer.name, 0.0)))
    return tuple(reports)
