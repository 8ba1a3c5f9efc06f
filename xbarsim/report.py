"""Reports of a trace: PNG figures (matplotlib, Agg, no global pyplot state) and a Markdown summary.

``write_report(trace, out_dir)`` writes:

* ``energy_by_component.png``: energy of each component (bars, with shares);
* ``energy_by_layer.png``: energy of each layer, stacked by component;
* ``timeline.png``: activity over the run, one row per tile and per shared resource (a Gantt
  chart of operations for small runs, busy fraction per time bin for large ones);
* ``layers.png``: per-layer cell utilization and latency;
* ``report.md``: the headline numbers, the tables, and the figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .hardware import GROUPS, REGISTRY
from .outputs import Output, check_destination
from .timing.durations import resource_capacities
from .result import _bytes, _energy, _time
from .trace.reader import Trace, open_trace

__all__ = ["write_report"]

_COLORS = {"arrays": "#1f77b4", "data movement": "#ff7f0e", "digital units": "#2ca02c",
           "programming": "#d62728"}
_GANTT_LIMIT = 20_000  # operations drawn one by one; above, busy fraction per time bin


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    return path


def _scale_pj(values) -> Tuple[float, str]:
    top = max(values, default=0.0)
    for unit, scale in (("J", 1e12), ("mJ", 1e9), ("µJ", 1e6), ("nJ", 1e3)):
        if top >= scale:
            return scale, unit
    return 1.0, "pJ"


def _time_unit(seconds: float) -> Tuple[float, str]:
    """(scale, unit) to show ``seconds`` and shorter times in: ms, µs or ns."""
    return next(((s, u) for u, s in (("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)) if seconds >= s), (1e-9, "ns"))


def energy_by_component(trace: Trace, path: Path) -> Path:
    parts = {k: v for k, v in trace.energy_by_component.items() if v > 0}
    items = sorted(parts.items(), key=lambda kv: kv[1])
    scale, unit = _scale_pj([v for _, v in items])
    total = sum(parts.values()) or 1.0
    fig = Figure(figsize=(7, 0.35 * len(items) + 1.5))
    ax = fig.add_subplot()
    bars = ax.barh([k for k, _ in items], [v / scale for _, v in items], color="#1f77b4")
    for bar, (_, v) in zip(bars, items):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {v / total:.1%}", va="center", fontsize=8)
    ax.set_xlabel(f"energy per batch ({unit})")
    ax.set_title(f"Energy by component: {trace.network_name} on {trace.arch_name} "
                 f"({trace.schedule}, batch {trace.batch})")
    ax.margins(x=0.15)
    return _save(fig, path)


def energy_by_layer(trace: Trace, path: Path, top: int = 6) -> Path:
    counts = trace.counts
    table = trace.energy_table
    from .energy.pricing import action_energies_pj
    energies = action_energies_pj(table, trace.arch, counts)
    layers = [r.name for r in trace.layers]
    per: Dict[str, Dict[str, float]] = {name: {} for name in layers}
    totals: Dict[str, float] = {}
    for (layer, component, action), count in counts.items():
        value = count * energies[(component, action)]
        per[layer][component] = per[layer].get(component, 0.0) + value
        totals[component] = totals.get(component, 0.0) + value
    leading = [c for c, _ in sorted(totals.items(), key=lambda kv: -kv[1])[:top]]
    scale, unit = _scale_pj([sum(per[name].values()) for name in layers])
    fig = Figure(figsize=(max(7, 0.28 * len(layers) + 2), 4.8))
    ax = fig.add_subplot()
    x = np.arange(len(layers))
    bottom = np.zeros(len(layers))
    for component in leading + ["other"]:
        if component == "other":
            values = np.array([sum(v for c, v in per[n].items() if c not in leading) for n in layers])
        else:
            values = np.array([per[n].get(component, 0.0) for n in layers])
        if not values.any():
            continue
        ax.bar(x, values / scale, bottom=bottom, label=component, width=0.8)
        bottom += values / scale
    ax.set_xticks(x, layers, rotation=90, fontsize=7)
    ax.set_ylabel(f"dynamic energy per batch ({unit})")
    ax.set_title(f"Energy by layer and component: {trace.network_name} on {trace.arch_name}")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)  # beside, not over, bars
    return _save(fig, path)


def _rows(trace: Trace) -> Tuple[List[str], np.ndarray]:
    """Timeline rows: one per tile (its copies' arrays, buffer, bus, units and network ports), one
    for the mesh links or the bus, one for the global buffer and one for DRAM, each only if it has
    resources; and the row of every resource. Read from the recorded stream: the network is not
    mapped again."""
    stream = trace.stream
    kinds = np.array(stream.resource_names)[stream.resources["kind"]]
    tiles = stream.resources["tile"]
    used = sorted(set(tiles[tiles >= 0].tolist()))
    labels = [f"tile {t}" for t in used] + ["network", "global buffer", "DRAM"]
    index = {t: i for i, t in enumerate(used)}
    rows = np.array([index[t] if t >= 0 else len(used) for t in tiles.tolist()], dtype=np.int64)
    rows[kinds == "glb"] = len(used) + 1
    rows[kinds == "dram"] = len(used) + 2
    present = np.unique(rows)  # no empty rows (a chip without a global buffer has no such row)
    renumber = np.full(len(labels), -1, dtype=np.int64)
    renumber[present] = np.arange(len(present))
    return [labels[i] for i in present.tolist()], renumber[rows]


def _busy_per_bin(starts: np.ndarray, ends: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Busy cycles of a set of intervals in each bin: F(x) = sum clip(x - start, 0, end - start)."""
    order_s, order_e = np.sort(starts), np.sort(ends)
    cs = np.concatenate([[0], np.cumsum(order_s, dtype=np.float64)])
    ce = np.concatenate([[0], np.cumsum(order_e, dtype=np.float64)])
    ns = np.searchsorted(order_s, edges, side="left")
    ne = np.searchsorted(order_e, edges, side="left")
    total = (edges * ns - cs[ns]) - (edges * ne - ce[ne])
    return np.diff(total)


def timeline(trace: Trace, path: Path, bins: int = 400) -> Path:
    labels, row_of_resource = _rows(trace)
    stream = trace.stream
    clock = trace.arch.chip.clock
    cycles = max(1, trace.cycles)
    scale, unit = _time_unit(cycles / clock)
    fig = Figure(figsize=(10, max(3.0, 0.22 * len(labels) + 1.5)))
    ax = fig.add_subplot()
    title = f"Activity over the run: {trace.network_name} on {trace.arch_name} ({trace.schedule}, batch {trace.batch})"
    if not trace.has_events:
        ax.text(0.5, 0.5, f"this trace has detail '{trace.detail}': no per-operation times to draw",
                ha="center", va="center", transform=ax.transAxes)
        ax.set_title(title)
        ax.set_axis_off()
        return _save(fig, path)
    times = trace.timeline()
    per_op = np.diff(stream.res_ptr)
    op_of_slot = np.repeat(np.arange(stream.operations), per_op)  # one slot per (operation, resource held)
    rows = row_of_resource[stream.res]
    starts, ends = times.start[op_of_slot], times.end[op_of_slot]
    if stream.operations <= _GANTT_LIMIT:
        group_of_kind = np.array([GROUPS.index(REGISTRY.ops[k].group) for k in stream.op_names])
        groups = group_of_kind[stream.op_kind][op_of_slot]
        for g, name in enumerate(GROUPS):
            mask = groups == g
            if mask.any():
                ax.barh(rows[mask], (ends[mask] - starts[mask]) / clock / scale, left=starts[mask] / clock / scale,
                        height=0.8, color=_COLORS[name], label=name, linewidth=0)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        ax.set_title(title)
    else:
        edges = np.linspace(0, cycles, bins + 1)
        busy = np.zeros((len(labels), bins))
        for r in range(len(labels)):
            mask = rows == r
            if mask.any():
                busy[r] = _busy_per_bin(starts[mask], ends[mask], edges)
        servers = np.zeros(len(labels))  # a row's servers: arrays, ports and units of its resources
        np.add.at(servers, row_of_resource, resource_capacities(stream, trace.arch))
        fraction = busy / (np.maximum(servers, 1)[:, None] * (cycles / bins))
        image = ax.imshow(fraction, aspect="auto", interpolation="nearest", cmap="viridis",
                          extent=(0, cycles / clock / scale, len(labels) - 0.5, -0.5), vmin=0, vmax=1)
        fig.colorbar(image, ax=ax, label="busy fraction of the row's servers (0 to 1)")
        ax.set_title(title + "\n(busy fraction per time bin)")
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.set_xlabel(f"time ({unit})")
    return _save(fig, path)


def layers_figure(trace: Trace, path: Path) -> Path:
    reports = trace.layers
    names = [r.name for r in reports]
    clock = trace.arch.chip.clock
    latency = np.array([(r.end_cycle - r.start_cycle) / clock for r in reports])
    critical = np.array([r.critical_cycles / clock for r in reports])
    scale, unit = _time_unit(latency.max(initial=0.0))
    fig = Figure(figsize=(max(7, 0.28 * len(names) + 2), 6))
    top, bottom = fig.subplots(2, 1, sharex=True)
    x = np.arange(len(names))
    util = [100 * r.utilization if r.arrays else 0 for r in reports]
    top.bar(x, util, color="#2ca02c")
    top.set_ylabel("cell utilization (%)\nweight cells / cells of its arrays", fontsize=9)
    top.set_ylim(0, 105)
    top.set_title(f"Per layer: {trace.network_name} on {trace.arch_name} ({trace.schedule}, batch {trace.batch})")
    bottom.bar(x - 0.2, latency / scale, width=0.4, color="#1f77b4", label="span: first start to last end")
    bottom.bar(x + 0.2, critical / scale, width=0.4, color="#d62728", label="its share of the critical path")
    bottom.set_ylabel(f"time ({unit})")
    bottom.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), borderaxespad=0)
    bottom.set_xticks(x, names, rotation=90, fontsize=7)
    return _save(fig, path)


def markdown(trace: Trace, figures: Dict[str, str]) -> str:
    s = trace.summary
    lines = [f"# {trace.network_name} on {trace.arch_name}", "",
             f"Schedule `{trace.schedule}`, batch {trace.batch}, seed {trace.seed}; energy table "
             f"`{trace.energy_table.name}`; trace detail `{trace.detail}` ({trace.detail_reason}); written "
             f"{trace.created} by xbarsim {trace.xbarsim_version}.", "",
             "| metric | value |", "|---|---|",
             f"| latency | {_time(s['latency_s'])} ({int(s['cycles']):,} cycles) |",
             f"| throughput | {s['throughput_ips']:,.1f} inferences/s |",
             f"| energy per batch | {_energy(s['energy_pj'])} |",
             f"| average power | {s['power_w']:.3g} W |",
             f"| achieved | {s['tops']:.3g} TOPS, {s['tops_per_w']:.3g} TOPS/W |",
             f"| peak | {s['peak_tops']:.3g} TOPS at {s['peak_power_w']:.3g} W |",
             f"| area | {s['area_mm2']:.2f} mm2 |",
             f"| DRAM traffic | {_bytes(int(s['dram_bytes']))} |", ""]
    for note in trace.notes:
        lines += [f"> {note}", ""]
    for title, name in (("Energy by component", "energy_by_component"), ("Energy by layer", "energy_by_layer"),
                        ("Activity over the run", "timeline"), ("Per-layer utilization and latency", "layers")):
        lines += [f"## {title}", "", f"![{title}]({figures[name]})", ""]
    lines += ["## Layers", "", "Span: from the layer's first operation's start to its last operation's end (spans of "
              "pipelined layers overlap). Critical: its exclusive share of the critical path (the spans of the "
              "operations everything after them waited for); these add up to the latency.", "",
              "| layer | type | copies | arrays | utilization | vectors | span | critical | energy |",
              "|---|---|---|---|---|---|---|---|---|"]
    clock = trace.arch.chip.clock
    for r in trace.layers:
        util = f"{r.utilization:.1%}" if r.arrays else "-"
        lines.append(f"| {r.name} | {r.type} | {r.copies} | {r.arrays:,} | {util} | {r.vectors:,} | "
                     f"{_time((r.end_cycle - r.start_cycle) / clock)} | {_time(r.critical_cycles / clock)} | "
                     f"{_energy(r.energy_pj)} |")
    return "\n".join(lines) + "\n"


def write_report(trace, out_dir, *, overwrite: bool = False) -> Dict[str, Path]:
    """Figures and ``report.md`` for a trace (path or open Trace) in the folder ``out_dir``; returns the files.

    The folder appears only when every file is written (they go to a temporary folder first,
    :class:`xbarsim.outputs.Output`); an existing folder is replaced only with ``overwrite``.
    """
    out = check_destination(out_dir, what="report", folder=True, overwrite=overwrite)
    own = not isinstance(trace, Trace)
    t = open_trace(trace) if own else trace
    try:
        with Output(out, what="report", folder=True, overwrite=overwrite) as output:
            temp = output.temp
            names = {"energy_by_component": "energy_by_component.png", "energy_by_layer": "energy_by_layer.png",
                     "timeline": "timeline.png", "layers": "layers.png", "report": "report.md"}
            energy_by_component(t, temp / names["energy_by_component"])
            energy_by_layer(t, temp / names["energy_by_layer"])
            timeline(t, temp / names["timeline"])
            layers_figure(t, temp / names["layers"])
            (temp / names["report"]).write_text(markdown(t, names), encoding="utf-8")
            final = output.commit()
        return {key: final / name for key, name in names.items()}
    finally:
        if own:
            t.close()
