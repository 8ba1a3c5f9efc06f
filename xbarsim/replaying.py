"""Replaying traces: re-price with another energy table, re-time with another arch.

Neither re-runs the functional model or rebuilds counts: re-pricing is arithmetic on the
recorded counts; re-timing runs the recorded operation stream through the event model with
durations from the new arch. Only arch fields that leave the mapping and the operation stream
unchanged may differ (:data:`RETIMABLE`); others raise :class:`~xbarsim.errors.ReplayError`
naming them.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Tuple, Union

from .config.arch import Arch
from .config.loader import load_arch
from .energy.table import EnergyTable, load_energy
from .errors import ReplayError
from .mapping.placement import map_network
from .result import SimulationResult
from .simulation import assemble
from .timing.durations import stream_durations
from .timing.engine import paused_gc, run_stream
from .timing.schedule import build_stream
from .trace.reader import Trace, open_trace
from .trace.writer import TraceWriter

__all__ = ["replay", "RETIMABLE", "arch_differences"]

#: Arch fields a replay may change: timing, converter and device parameters, unit counts
#: that only set speeds, and what only prices or names the run. Everything else can move
#: weights or activations and needs a fresh simulation.
RETIMABLE = frozenset({
    "name", "energy_table", "chip.clock", "chip.offchip_links",
    "pe.adc_rate", "pe.read_latency", "pe.sample_hold", "pe.adcs_per_array", "pe.shift_add_units",
    "pe.input_register", "pe.output_register",
    "tile.activation_units", "tile.pooling_units", "tile.shift_add_units", "tile.output_register",
    "tile.buffer.ports", "tile.buffer.bandwidth", "tile.buffer.latency", "tile.buffer.size",
    "global_buffer.ports", "global_buffer.bandwidth", "global_buffer.latency",
    "interconnect.bandwidth", "interconnect.hop_latency",
    "dram.bandwidth", "dram.latency", "dram.channels",
    "programming.write_pulse", "programming.rows_in_parallel",
    "crossbar.adc_bits", "crossbar.adc_range", "crossbar.adc_full_scale", "crossbar.adc_percentile",
    "crossbar.g_on", "crossbar.on_off_ratio", "crossbar.variation_sigma", "crossbar.variation_model",
    "crossbar.read_noise_sigma", "crossbar.stuck_at_on", "crossbar.stuck_at_off", "crossbar.column_encoding",
})


def _leaves(data: Dict[str, Any], prefix: str = "") -> Dict[str, Any]:
    out = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_leaves(value, path + "."))
        else:
            out[path] = value
    return out


def arch_differences(old: Arch, new: Arch) -> List[Tuple[str, Any, Any]]:
    """(dotted field, old value, new value) for every field that differs, as written in specs."""
    a, b = _leaves(old.to_dict()), _leaves(new.to_dict())
    return [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def _recorded_items(stream) -> Optional[Dict[int, Any]]:
    """The executed items of each mvm row of a data-aware stream, as build_stream takes them."""
    import numpy as np

    rows: Dict[int, Dict[Tuple[int, int], int]] = {}
    for step in stream.steps:
        for op in step.ops:
            if op.kind == "mvm" and op.items is not None:
                rows.setdefault(step.layer, {})[(step.image, step.row)] = op.items
    items = {}
    for layer, cells in rows.items():
        images = 1 + max(i for i, _ in cells)
        height = 1 + max(r for _, r in cells)
        table = np.zeros((images, height), dtype=np.int64)
        for (i, r), value in cells.items():
            table[i, r] = value
        items[layer] = table
    return items or None


@paused_gc()
def replay(trace: Union[str, os.PathLike, Trace], energy: Optional[Union[str, dict, EnergyTable]] = None,
           arch: Optional[Union[str, dict, Arch]] = None, *, out: Optional[Union[str, os.PathLike]] = None,
           overwrite: bool = False) -> SimulationResult:
    """Re-price and/or re-time a recorded run; returns the same kind of result as ``simulate``.

    * nothing changed: the recorded counts, cycles and energy, exactly;
    * ``energy``: the recorded counts priced with another table (no timing run); equals a
      fresh simulation with that table;
    * ``arch`` (changes in :data:`RETIMABLE` only): the recorded operation stream re-timed on
      the new arch; equals a fresh simulation with that arch.

    ``out`` writes the replayed run as a new trace.
    """
    own = not isinstance(trace, Trace)
    t = open_trace(trace) if own else trace
    try:
        recorded_arch, network, batch, seed = t.arch, t.network, t.batch, t.seed
        stream = t.stream
        if arch is None:
            new_arch = recorded_arch
        else:
            new_arch = load_arch(arch)
            blocked = [d for d in arch_differences(recorded_arch, new_arch)
                       if d[0] not in RETIMABLE or (t.data_aware and d[0].startswith("crossbar."))]
            if blocked:
                fields = ", ".join(f"{path} ({old!r} -> {new!r})" for path, old, new in blocked)
                why = ("alter the mapping or, in this data-aware trace, what the functional model computed"
                       if t.data_aware else "alter the mapping")
                raise ReplayError(f"these arch changes {why}, so the trace cannot be re-timed: {fields}; "
                                  "run xbarsim.simulate with the new arch instead")
        if energy is not None:
            table = load_energy(energy)
        elif new_arch.energy_table == recorded_arch.energy_table:
            table = t.energy_table
        else:
            table = load_energy(new_arch.energy_table)
        mapping = map_network(new_arch, network, t.schedule)
        if arch is None:
            timeline = t.timeline()
            spans = {r.name: (r.start_cycle, r.end_cycle) for r in t.layers}
        else:
            items = _recorded_items(stream) if t.data_aware else None
            rebuilt = build_stream(mapping, batch, items)
            if rebuilt.steps != stream.steps:  # RETIMABLE promised the same operations (capacities may change)
                raise ReplayError("the new arch changes the operation stream although only re-timable fields "
                                  "differ; this is a bug in xbarsim's list of re-timable fields, please report it")
            stream = rebuilt  # the recorded steps, with the new arch's server counts
            timeline = run_stream(stream, stream_durations(stream, mapping, new_arch))
            spans = None
        result = assemble(new_arch, network, table, mapping, stream, timeline, t.counts, seed,
                          data_stats=t.functional_stats, spans=spans)
        stats = t.functional_stats
        if out is not None:
            detail = t.detail if arch is None else ("event" if t.detail == "event" else t.detail)
            with TraceWriter(out, overwrite) as writer:
                writer.header(arch=new_arch, network=network, table=table, schedule=t.schedule, batch=batch,
                              seed=seed, detail=detail, reason=f"replay of {t.path} ({t.detail_reason})",
                              data_aware=t.data_aware)
                writer.stream(stream, [layer.name for layer in network.layers])
                if detail == "event":
                    writer.events_from_timeline(stream, timeline)
                if detail in ("layer", "event") and timeline.step_end.any():
                    writer.step_times(stream, timeline)
                writer.results(result, None if stats is None else
                               {f"{layer}/{k}": v for layer, values in stats.items() for k, v in values.items()})
                result.trace_path = writer.commit()
        result.replayed_from = t.path
        return result
    finally:
        if own:
            t.close()
