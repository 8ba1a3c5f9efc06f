"""What a simulation returns: latency, throughput, energy and its breakdown, area, utilization.

Everything here is derived from the run's own record (the operation stream with its recorded
mapping, the timeline, the counts), never by mapping the network again, so a replayed run and
a fresh one are described alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

from . import __version__
from .config.arch import Arch
from .counting import ActionCounts
from .energy.pricing import EnergyBreakdown
from .energy.table import EnergyTable
from .hardware import GROUPS, REGISTRY
from .timing.timeline import Timeline
from .timing.stream import LOCATIONS, OpStream
from .workload.network import Network

__all__ = ["LayerReport", "SimulationResult", "layer_reports"]


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
    """Start of its first operation."""
    end_cycle: int
    """End of its last operation."""
    energy_pj: float
    critical_cycles: int = 0
    """Its exclusive contribution to the run's critical path: the cycles of the makespan during
    which one of its operations was the one that everything after it waited for. Summed over
    layers, the makespan."""

    @property
    def cycles(self) -> int:
        """Its span: cycles from its first operation's start to its last operation's end. Spans of
        layers that overlap (pipelines, or a residual add waiting for its inputs) overlap too."""
        return self.end_cycle - self.start_cycle


def _per_layer(stream: OpStream, column: str, copies: bool = True) -> np.ndarray:
    parts = stream.parts
    values = parts[column] * (parts["copies"] if copies else 1)
    return np.bincount(parts["layer"], weights=values.astype(np.float64), minlength=len(stream.layer_names))


@dataclass
class SimulationResult:
    """A run of a network on an architecture. ``print(result)`` gives a readable summary."""

    arch: Arch
    network: Network
    energy_table: EnergyTable
    schedule: str
    batch: int
    seed: int
    mapping: Optional[object]
    """The :class:`~xbarsim.mapping.Mapping` of a fresh run (None for a replay, which uses the
    mapping recorded in its stream)."""
    stream: OpStream
    timeline: Timeline
    durations: np.ndarray
    """Cycles of every operation."""
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
    decode: Optional[object] = None
    """A decoder's decode steps (:class:`xbarsim.generation.DecodeReport`), after this prefill."""
    recorded_bottlenecks: Optional[object] = None
    """Bottlenecks read from a trace (a replay of a trace without per-operation times); else they
    are derived from the timeline when first asked for."""

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
    def peak_tops_per_w(self) -> float:
        """Best-case efficiency of the chip (:func:`xbarsim.energy.pricing.peak_tops_per_w`): an
        upper bound of :attr:`tops_per_w` for runs with structural counts."""
        from .energy.pricing import peak_tops_per_w
        return peak_tops_per_w(self.energy_table, self.arch)

    @property
    def structural_estimate(self) -> Optional[Dict[str, Tuple[float, float]]]:
        """Data-aware runs: (this run's dynamic energy, its structural estimate) in pJ for every layer
        the data changed, and ``"total"``; None for structural runs.

        The structural estimate prices the same run with the array actions counted as without data
        (every digit non-zero and full scale, every cell at its mid level, every read done), with
        the same energy table (:func:`xbarsim.energy.pricing.structural_dynamic_pj`).
        """
        if not self.data_stats:
            return None
        from .energy.pricing import structural_dynamic_pj
        from .simulation import STRUCTURAL_KEY

        differences = {}
        for layer, stats in self.data_stats.items():
            if layer == "total" or layer not in self.energy.by_layer:
                continue
            differences[layer] = {tuple(key[len(STRUCTURAL_KEY):].split(".", 1)): value
                                  for key, value in stats.items() if key.startswith(STRUCTURAL_KEY)}
        structural = structural_dynamic_pj(self.energy_table, self.arch, self.energy, differences)
        out = {layer: (self.energy.by_layer[layer], value) for layer, value in structural.items()}
        shift = sum(value - self.energy.by_layer[layer] for layer, value in structural.items())
        out["total"] = (self.energy.dynamic_pj, self.energy.dynamic_pj + shift)
        return out

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

    # -- the recorded mapping ----------------------------------------------------------------

    @property
    def rounds(self) -> int:
        """Programming rounds (1: every weight resident for the whole run)."""
        return int(self.stream.layers["round"].max()) + 1 if len(self.stream.layers) else 1

    @property
    def arrays_used(self) -> int:
        """Arrays occupied, summed over rounds."""
        return int(_per_layer(self.stream, "arrays").sum())

    @property
    def cell_utilization(self) -> float:
        """Used cells / cells of all occupied arrays (over all rounds)."""
        available = _per_layer(self.stream, "cells_available").sum()
        return float(_per_layer(self.stream, "cells_used").sum() / available) if available else 0.0

    @property
    def pes_used(self) -> int:
        """PEs occupied in the fullest round."""
        copies = self.stream.copies
        if not len(copies):
            return 0
        return int(np.bincount(copies["round"], weights=copies["pes"]).max())

    def layer_location(self, name: str) -> str:
        """Where a layer's output goes: ``tile`` (pushed to its readers' tiles), ``glb`` or ``dram``."""
        return LOCATIONS[int(self.stream.layers["location"][self.stream.layer_names.index(name)])]

    # -- resources ---------------------------------------------------------------------------

    @property
    def busy(self) -> Dict[str, int]:
        """Busy server-cycles of each resource, by name."""
        return {self.stream.resource_name(r): int(c) for r, c in enumerate(self.timeline.busy)}

    def time_by_group(self) -> Dict[str, Dict[str, int]]:
        """Per layer, busy cycles of its operations by report group (arrays, data movement, ...)."""
        stream = self.stream
        group_of_kind = np.array([GROUPS.index(REGISTRY.ops[k].group) for k in stream.op_names])
        groups = group_of_kind[stream.op_kind] if stream.operations else np.zeros(0, dtype=np.int64)
        layer = stream.op_layer
        out: Dict[str, Dict[str, int]] = {}
        for g, name in enumerate(GROUPS):
            sums = np.bincount(layer[groups == g] + 1, weights=self.durations[groups == g],
                               minlength=len(stream.layer_names) + 1)
            for i, value in enumerate(sums[1:]):
                out.setdefault(stream.layer_names[i], {})[name] = int(value)
        return out

    # -- efficiency analysis (xbarsim.efficiency) -------------------------------------------------

    @property
    def has_operation_times(self) -> bool:
        """Whether the timeline has every operation's times (a fresh run, or a replayed ``event`` trace)."""
        return not self.stream.operations or bool(self.timeline.end.any())

    @property
    def bottlenecks(self):
        """Where each layer's time went, what bounds it and its ladder from peak to achieved
        (:class:`xbarsim.efficiency.Bottlenecks`); None for a replay of a trace that recorded neither
        per-operation times nor bottlenecks."""
        if self.recorded_bottlenecks is None and self.has_operation_times:
            from .efficiency import analyze
            self.recorded_bottlenecks = analyze(self)
        return self.recorded_bottlenecks

    @property
    def energy_by_data(self):
        """Energy by data type (weights, input activations, partial sums, output activations,
        static), per layer and in total (:class:`xbarsim.efficiency.DataEnergy`)."""
        cached = self.__dict__.get("_energy_by_data")
        if cached is None:
            from .efficiency import energy_by_data
            cached = self.__dict__["_energy_by_data"] = energy_by_data(self)
        return cached

    # -- presentation ---------------------------------------------------------------------------

    def __str__(self) -> str:
        return "\n".join(self.summary_lines())

    def summary_lines(self) -> List[str]:
        a = self.arch
        xb = a.crossbar
        rounds = self.rounds
        lines = [
            f"xbarsim {__version__}: {self.network.name} on {a.name} "
            f"(schedule {self.schedule}{' (the arch default)' if self.schedule == a.schedule else ''}, "
            f"batch {self.batch}, energy table {self.energy_table.name})",
            f"  chip      {a.chip.tiles} tiles x {a.tile.pes} PEs x {a.pe.arrays} arrays of {xb.rows}x{xb.cols} "
            f"({a.arrays:,} arrays), {self.area_mm2:.1f} mm2; peak {self.peak_tops:.2f} TOPS at "
            f"{self.peak_power_w:.2f} W ({self.peak_tops * 1e3 / self.area_mm2:.1f} GOPS/s/mm2, "
            f"{self.peak_tops * 1e3 / self.peak_power_w:.1f} GOPS/W)",
            f"  mapping   {self.arrays_used:,} arrays in up to {self.pes_used:,} of {a.pes:,} PEs, cell utilization "
            f"{self.cell_utilization:.1%}, {rounds} programming round{'s' if rounds > 1 else ''}",
            f"  latency   {_time(self.latency_s)} ({self.cycles:,} cycles at {a.chip.clock / 1e9:g} GHz), "
            f"throughput {self.throughput_ips:,.1f} inferences/s",
            f"  energy    {_energy(self.energy_pj)} per batch, {_energy(self.energy_per_inference_pj)} per inference; "
            f"average power {self.power_w:.3g} W",
            f"            dynamic {_energy(self.energy.dynamic_pj)} ({self.energy.dynamic_pj / (self.energy_pj or 1):.1%}), "
            f"static {_energy(self.energy.leakage_pj)} ({self.energy.leakage_pj / (self.energy_pj or 1):.1%}: "
            f"leakage over {_time(self.latency_s)})",
            f"  achieved  {self.tops:.3g} TOPS, {self.tops_per_w:.3g} TOPS/W (best case {self.peak_tops_per_w:.3g}: "
            f"full arrays, no data movement" + (", full-scale data: this run's data may draw less" if self.data_stats
                                               else "") + f"); DRAM traffic {_bytes(self.dram_bytes)}",
        ]
        from .generation import sequence_lines  # prefill, decode, products, endurance (transformers)

        lines += sequence_lines(self)
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
                     f"{'span':>10s} {'critical':>10s} {'energy':>11s}")
        for r in self.layers:
            util = f"{r.utilization:.0%}" if r.arrays else "-"
            lines.append(f"  {r.name[:24]:24s} {r.type:5s} {r.copies:6d} {r.arrays:7,d} {util:>6s} {r.vectors:8,d} "
                         f"{_time(r.cycles / a.chip.clock):>10s} {_time(r.critical_cycles / a.chip.clock):>10s} "
                         f"{_energy(r.energy_pj):>11s}")
        lines.append("  (span: first operation's start to last operation's end; critical: its exclusive share of "
                     "the critical path, which sums to the latency)")
        estimate = self.structural_estimate
        if estimate:
            lines.append("")
            lines.append("  data-aware dynamic energy vs the structural estimate (full-scale digits, mid-level cells, "
                         "every read)")
            for name, (aware, structural) in estimate.items():
                change = f"{aware / structural - 1:+.1%}" if structural else "-"
                lines.append(f"    {name[:24]:24s} {_energy(aware):>11s} vs {_energy(structural):>11s}  {change}")
        lines += self.efficiency_lines()
        return lines

    def efficiency_lines(self) -> List[str]:
        """The summary's bottleneck, ladder and data-type sections (docs/hardware-studies.md)."""
        from .efficiency import LADDER_STEPS, STATIC
        from .hardware.registry import DATA_TYPES
        lines = ["", "  energy by data type"]
        data = self.energy_by_data.total
        total = self.energy_pj or 1.0
        lines.append("    " + ", ".join(f"{t} {_energy(data[t])} ({data[t] / total:.1%})"
                                        for t in DATA_TYPES + (STATIC,)))
        b = self.bottlenecks
        if b is None:
            lines += ["", "  bottlenecks: not recorded in this trace (no per-operation times)"]
            return lines
        if b.network is not None:
            steps = " ".join(f"x {f:.3g} ({name})" for name, f in zip(LADDER_STEPS, b.network.factors))
            lines += ["", f"  ladder    peak {b.network.peak / 1e12:.3g} TOPS {steps} = "
                          f"{b.network.achieved / 1e12:.3g} TOPS on crossbars"]
        columns = _SUMMARY_COLUMNS
        lines += ["", "  bottlenecks (share of each layer's span; ladder: array size/shape, mapping/replication, "
                      "utilization, bandwidth)",
                  f"  {'layer':24s} " + " ".join(f"{c:>7s}" for c, _ in columns)
                  + f"  {'bound':16s} {'busiest resource':20s} ladder"]
        for layer in b.layers:
            span = layer.span or 1
            shares = [sum(v for k, v in layer.cycles.items() if pick(k)) / span for _, pick in columns]
            ladder = "-" if layer.ladder is None else " ".join(f"{f:.2g}" for f in layer.ladder.factors)
            lines.append(f"  {layer.name[:24]:24s} " + " ".join(f"{v:7.0%}" for v in shares)
                         + f"  {layer.bound[:16]:16s} {layer.bound_resource[:20]:20s} {ladder}")
        return lines


_MOVEMENT = ("registers", "tile buffer", "global buffer", "interconnect", "DRAM", "matrix-unit buffer")
_SUMMARY_COLUMNS = (
    ("read", lambda k: k == "array read"),
    ("ADC", lambda k: k == "ADC conversion"),
    ("moving", lambda k: k in _MOVEMENT),
    ("digital", lambda k: k == "digital units"),
    ("program", lambda k: k == "programming"),
    ("depend", lambda k: k == "dependency wait"),
    ("backpr", lambda k: k == "back-pressure"),
    ("res.wait", lambda k: k.startswith("wait: ")),
)
"""The summary's per-layer bottleneck columns (categories grouped; the trace keeps them all)."""


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


def layer_reports(network: Network, stream: OpStream, timeline: Timeline, energy: EnergyBreakdown,
                  credit: Optional[np.ndarray], spans: Optional[Dict[str, Tuple[int, int]]] = None,
                  critical: Optional[Dict[str, int]] = None) -> Tuple[LayerReport, ...]:
    """Per-layer figures from the run's record (``spans``/``critical`` override what the timeline gives)."""
    n_layers = len(network.layers)
    op_layer = stream.op_layer.astype(np.int64)
    arrays = _per_layer(stream, "arrays")
    used = _per_layer(stream, "cells_used")
    available = _per_layer(stream, "cells_available")
    if spans is None:
        first = np.full(n_layers, np.iinfo(np.int64).max)
        last = np.zeros(n_layers, dtype=np.int64)
        mine = op_layer >= 0
        np.minimum.at(first, op_layer[mine], timeline.start[mine])
        np.maximum.at(last, op_layer[mine], timeline.end[mine])
        first[first == np.iinfo(np.int64).max] = 0
    if critical is None:
        crit = np.bincount(op_layer[op_layer >= 0], weights=credit[op_layer >= 0], minlength=n_layers) \
            if credit is not None and len(credit) else np.zeros(n_layers)
    reports = []
    for layer in network.layers:
        i = layer.index
        row = stream.layers[i]
        start, end = spans[layer.name] if spans is not None else (int(first[i]), int(last[i]))
        reports.append(LayerReport(
            name=layer.name, type=layer.type, round=int(row["round"]), copies=int(row["copies"]),
            arrays=int(arrays[i]), cells_used=int(used[i]),
            utilization=float(used[i] / available[i]) if available[i] else 0.0,
            vectors=layer.vectors if layer.has_weights else 0, macs=layer.macs * stream.batch,
            start_cycle=start, end_cycle=end, energy_pj=energy.by_layer.get(layer.name, 0.0),
            critical_cycles=int(critical[layer.name]) if critical is not None else int(crit[i])))
    return tuple(reports)
