"""Replaying traces: re-price with another energy table, re-time with another arch.

Neither re-runs the functional model or maps the network again: re-pricing prices the
recorded counts; re-timing runs the recorded operation stream (with its recorded mapping)
through the event model with durations, server counts and buffer capacities from the new arch,
and counts its actions again. Which arch fields may differ comes from the fields' own
declarations (``param(..., affects=...)``): a field that affects the ``mapping`` cannot change;
one that affects what the ``function``al model computed cannot change in a trace whose counts
came from real data.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Tuple, Union

from .config.arch import Arch
from .config.loader import load_arch
from .counting import count_stream
from .energy.table import EnergyTable, load_energy
from .errors import ReplayError
from .result import SimulationResult
from .simulation import assemble, execute
from .timing.engine import paused_gc
from .trace.reader import Trace, open_trace
from .trace.writer import TraceWriter

__all__ = ["replay", "retimable", "arch_differences", "blocked_changes"]


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


def retimable(data_aware: bool = False) -> Tuple[str, ...]:
    """Arch fields a replay may change (for a trace whose counts came from real data, or not)."""
    allowed = {"timing", "counts", "price"} | (set() if data_aware else {"function"})
    return tuple(path for path, effects in Arch.effects().items() if effects <= allowed)


def blocked_changes(old: Arch, new: Arch, data_aware: bool) -> List[Tuple[str, Any, Any]]:
    """The differences between two archs that a replay cannot apply."""
    allowed = set(retimable(data_aware))
    return [d for d in arch_differences(old, new) if d[0] not in allowed]


@paused_gc()
def replay(trace: Union[str, os.PathLike, Trace], energy: Optional[Union[str, dict, EnergyTable]] = None,
           arch: Optional[Union[str, dict, Arch]] = None, *, out: Optional[Union[str, os.PathLike]] = None,
           overwrite: bool = False) -> SimulationResult:
    """Re-price and/or re-time a recorded run; returns the same kind of result as ``simulate``.

    * nothing changed: the recorded counts, cycles, energy, per-layer figures and (with detail
      ``layer`` or ``event``) per-resource busy time, exactly;
    * ``energy``: the recorded counts priced with another table (no timing run); equals a fresh
      simulation with that table;
    * ``arch`` (changes of :func:`retimable` fields only): the recorded stream re-timed on the new
      arch; equals a fresh simulation with the recorded mapping on that arch.

    ``out`` writes the replayed run as a new trace (at the recorded detail).
    """
    own = not isinstance(trace, Trace)
    t = open_trace(trace) if own else trace
    try:
        recorded_arch, network, seed = t.arch, t.network, t.seed
        stream = t.stream
        new_arch = recorded_arch if arch is None else load_arch(arch)
        blocked = blocked_changes(recorded_arch, new_arch, t.data_aware)
        if blocked:
            fields = ", ".join(f"{path} ({old!r} -> {new!r})" for path, old, new in blocked)
            why = ("change the mapping or, in this data-aware trace, what the functional model computed"
                   if t.data_aware else "change the mapping")
            raise ReplayError(f"these arch changes {why}, so the trace cannot be re-timed: {fields}; "
                              "run xbarsim.simulate with the new arch instead")
        if energy is not None:
            table = load_energy(energy)
        elif new_arch.energy_table == recorded_arch.energy_table:
            table = t.energy_table
        else:
            table = load_energy(new_arch.energy_table)
        retime = arch is not None and bool(arch_differences(recorded_arch, new_arch))
        if retime:
            timeline, durations = execute(stream, new_arch)
            counts = count_stream(stream, new_arch)
            result = assemble(new_arch, network, table, t.schedule, stream, timeline, durations, counts, seed,
                              data_stats=t.functional_stats)
        else:
            from .timing.durations import op_durations
            timeline = t.timeline()
            spans = {r.name: (r.start_cycle, r.end_cycle) for r in t.layers}
            critical = {r.name: r.critical_cycles for r in t.layers}
            result = assemble(new_arch, network, table, t.schedule, stream, timeline, op_durations(stream, new_arch),
                              t.counts, seed, data_stats=t.functional_stats, spans=spans, critical=critical)
        if out is not None:
            detail = t.detail
            with TraceWriter(out, overwrite) as writer:
                stats = t.functional_stats
                writer.write(result, detail, f"replay of {t.path} ({t.detail_reason})",
                             None if stats is None else {f"{layer}/{k}": v for layer, values in stats.items()
                                                         for k, v in values.items()},
                             replayed_from=str(t.path))
                result.trace_path = writer.commit()
        result.replayed_from = t.path
        return result
    finally:
        if own:
            t.close()
