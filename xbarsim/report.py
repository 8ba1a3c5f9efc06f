"""Reports of a trace: PNG figures (matplotlib, Agg, no global pyplot state) and a Markdown summary.

``write_report(trace, out_dir)`` writes:

* ``energy_by_component.png``: energy of each component (bars, with shares);
* ``energy_by_layer.png``: energy of each layer, stacked by component;
* ``timeline.png``: activity over the run, one row per tile and per shared resource (a Gantt
  chart of operations for small runs, busy fraction per time bin for large ones);
* ``layers.png``: per-layer cell utilization and latency;
* ``bottlenecks.png``: each layer's span stacked by where its time went (array read, ADC
  conversion, data movement per memory level, dependency waits, back-pressure, resource waits;
  :mod:`xbarsim.efficiency`);
* ``roofline.png``: achieved operations per second of each layer against its operational
  intensity at each memory level, under the chip's peak and each level's bandwidth roof;
* ``energy_by_data.png``: energy of each layer by data type (weights, input activations, partial
  sums, output activations), and the network's with static energy;
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


_CATEGORY_COLORS = {"array read": "#1f77b4", "ADC conversion": "#aec7e8", "programming": "#d62728",
                    "tile buffer": "#ff7f0e", "global buffer": "#ffbb78", "interconnect": "#8c564b",
                    "DRAM": "#c49c94", "matrix-unit buffer": "#e377c2", "digital units": "#2ca02c",
                    "dependency wait": "#7f7f7f", "back-pressure": "#bcbd22"}
_DATA_COLORS = {"weights": "#d62728", "input activations": "#1f77b4", "partial sums": "#ff7f0e",
                "output activations": "#2ca02c", "static": "#7f7f7f"}


def _no_data(ax, text: str, title: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_title(title)
    ax.set_axis_off()


def bottlenecks_figure(trace: Trace, path: Path) -> Path:
    """Each layer's span stacked by category (resource waits of every kind in one grey-hatched band)."""
    b = trace.bottlenecks
    names = [r.name for r in trace.layers]
    fig = Figure(figsize=(max(7, 0.28 * len(names) + 3), 4.5))
    ax = fig.add_subplot()
    title = f"Where each layer's time went: {trace.network_name} on {trace.arch_name} ({trace.schedule})"
    if b is None:
        _no_data(ax, "this trace recorded no bottlenecks", title)
        return _save(fig, path)
    clock = trace.arch.chip.clock
    matrix = b.matrix() / clock
    scale, unit = _time_unit(matrix.sum(axis=1).max(initial=0.0))
    x = np.arange(len(names))
    bottom = np.zeros(len(names))
    waits = np.array([c.startswith("wait: ") for c in b.categories])
    bands = [(c, matrix[:, i]) for i, c in enumerate(b.categories) if not waits[i]]
    bands.append(("resource waits", matrix[:, waits].sum(axis=1)))
    for name, values in bands:
        if values.any():
            ax.bar(x, values / scale, bottom=bottom / scale, color=_CATEGORY_COLORS.get(name, "#dddddd"),
                   hatch="//" if name == "resource waits" else None, label=name, linewidth=0)
            bottom += values
    ax.set_ylabel(f"span ({unit})")
    ax.set_xticks(x, names, rotation=90, fontsize=7)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), borderaxespad=0)
    ax.set_title(title)
    return _save(fig, path)


def roofline_figure(trace: Trace, path: Path) -> Path:
    """Roofline per memory level: one point per layer with MACs at (its operations per byte moved
    through that level, its achieved operations per second over its span)."""
    from .efficiency import level_bytes, level_roofs, peak_ops
    stream, arch = trace.stream, trace.arch
    clock = arch.chip.clock
    fig = Figure(figsize=(7.5, 5))
    ax = fig.add_subplot()
    title = f"Roofline: {trace.network_name} on {trace.arch_name} ({trace.schedule}, batch {trace.batch})"
    reports = trace.layers
    ops = np.array([2.0 * r.macs for r in reports])
    spans = np.array([max(r.end_cycle - r.start_cycle, 0) for r in reports], dtype=float)
    achieved = np.divide(ops * clock, spans, out=np.zeros_like(ops), where=spans > 0)
    moved = level_bytes(stream)
    roofs = level_roofs(stream, arch)
    peak = peak_ops(arch)
    shown = [(level, values) for level, values in moved.items() if ((values > 0) & (achieved > 0)).any()]
    if not shown:
        _no_data(ax, "no layer with MACs moved data", title)
        return _save(fig, path)
    markers = "osD^vP*X"
    lo, hi = np.inf, 0.0
    for k, (level, values) in enumerate(shown):
        mask = (values > 0) & (achieved > 0)
        intensity = ops[mask] / values[mask]
        lo, hi = min(lo, intensity.min()), max(hi, intensity.max())
        colour = _CATEGORY_COLORS.get(level, None)
        ax.scatter(intensity, achieved[mask], marker=markers[k % len(markers)], color=colour, s=18,
                   label=f"{level} (layers)")
    xs = np.logspace(np.log10(lo) - 1, np.log10(hi) + 1, 100)
    ax.plot(xs, np.full_like(xs, peak), color="black", linewidth=1, label=f"peak {peak / 1e12:.3g} TOPS")
    for level, _ in shown:
        if level in roofs:
            ax.plot(xs, np.minimum(xs * roofs[level], peak), linestyle="--", linewidth=1,
                    color=_CATEGORY_COLORS.get(level, None), label=f"{level} roof {roofs[level] / 1e9:.3g} GB/s")
    ax.set_xscale("log"), ax.set_yscale("log")
    ax.set_xlabel("operational intensity (operations per byte through the level)")
    ax.set_ylabel("achieved operations per second (over the layer's span)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), borderaxespad=0)
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def energy_by_data_figure(trace: Trace, path: Path) -> Path:
    from .efficiency import STATIC
    from .hardware.registry import DATA_TYPES
    data = trace.energy_by_data
    names = [r.name for r in trace.layers]
    fig = Figure(figsize=(max(7, 0.28 * len(names) + 4), 4.5))
    ax, whole = fig.subplots(1, 2, gridspec_kw={"width_ratios": [max(4, len(names)), 2]})
    title = f"Energy by data type: {trace.network_name} on {trace.arch_name}"
    if data is None:
        _no_data(ax, "this trace recorded no energy by data type", title)
        whole.set_axis_off()
        return _save(fig, path)
    rows = np.array([[data.by_layer.get(n, {}).get(t, 0.0) for t in DATA_TYPES] for n in names]).reshape(-1, len(DATA_TYPES))
    scale, unit = _scale_pj(rows.sum(axis=1).tolist())
    x = np.arange(len(names))
    bottom = np.zeros(len(names))
    for i, t in enumerate(DATA_TYPES):
        ax.bar(x, rows[:, i] / scale, bottom=bottom / scale, color=_DATA_COLORS[t], label=t, linewidth=0)
        bottom += rows[:, i]
    ax.set_xticks(x, names, rotation=90, fontsize=7)
    ax.set_ylabel(f"dynamic energy ({unit})")
    ax.set_title(title)
    total = data.total
    whole_sum = sum(total.values()) or 1.0
    base = 0.0
    for t in DATA_TYPES + (STATIC,):
        whole.bar([0], [total[t] / whole_sum], bottom=[base], color=_DATA_COLORS[t], label=t)
        base += total[t] / whole_sum
    whole.set_xticks([0], ["network"])
    whole.set_ylabel("share of the energy")
    whole.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), borderaxespad=0)
    return _save(fig, path)


def _efficiency_markdown(trace: Trace) -> List[str]:
    from .efficiency import LADDER_STEPS, STATIC
    from .hardware.registry import DATA_TYPES
    lines: List[str] = []
    data = trace.energy_by_data
    if data is not None:
        whole = sum(data.total.values()) or 1.0
        lines += ["## Energy by data type", "", "| " + " | ".join(DATA_TYPES + (STATIC,)) + " |",
                  "|" + "---|" * (len(DATA_TYPES) + 1),
                  "| " + " | ".join(f"{_energy(data.total[t])} ({data.total[t] / whole:.1%})"
                                    for t in DATA_TYPES + (STATIC,)) + " |", ""]
    b = trace.bottlenecks
    if b is None:
        return lines
    clock = trace.arch.chip.clock
    if b.network is not None:
        rates = b.network.rates
        lines += ["## Ladder from peak to achieved", "",
                  "Each step a measured factor (docs/hardware-studies.md); crossbar MACs only.", "",
                  "| step | factor | rate |", "|---|---|---|", f"| peak | | {rates[0] / 1e12:.3g} TOPS |"]
        lines += [f"| {name} | {f:.3g} | {rate / 1e12:.3g} TOPS |"
                  for name, f, rate in zip(LADDER_STEPS, b.network.factors, rates[1:])]
        lines.append("")
    lines += ["## Bottlenecks", "", "Each layer's span split by where its time went (sums to the span); bound: "
              "the largest category; busiest resource: the one most of the span was spent on or waiting for; "
              "ladder: "
              + ", ".join(LADDER_STEPS) + ".", "",
              "| layer | span | top categories | bound | busiest resource | ladder |", "|---|---|---|---|---|---|"]
    for layer in b.layers:
        span = layer.span or 1
        top = sorted(((v, k) for k, v in layer.cycles.items() if v), reverse=True)[:3]
        ladder = "-" if layer.ladder is None else " x ".join(f"{f:.2g}" for f in layer.ladder.factors)
        lines.append(f"| {layer.name} | {_time(layer.span / clock)} | "
                     + ", ".join(f"{k} {v / span:.0%}" for v, k in top)
                     + f" | {layer.bound} | {layer.bound_resource} | {ladder} |")
    return lines + [""]


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
                        ("Activity over the run", "timeline"), ("Per-layer utilization and latency", "layers"),
                        ("Where each layer's time went", "bottlenecks"), ("Roofline", "roofline"),
                        ("Energy by data type", "energy_by_data")):
        lines += [f"## {title}", "", f"![{title}]({figures[name]})", ""]
    lines += _efficiency_markdown(trace)
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
                     "timeline": "timeline.png", "layers": "layers.png", "bottlenecks": "bottlenecks.png",
                     "roofline": "roofline.png", "energy_by_data": "energy_by_data.png", "report": "report.md"}
            energy_by_component(t, temp / names["energy_by_component"])
            energy_by_layer(t, temp / names["energy_by_layer"])
            timeline(t, temp / names["timeline"])
            layers_figure(t, temp / names["layers"])
            bottlenecks_figure(t, temp / names["bottlenecks"])
            roofline_figure(t, temp / names["roofline"])
            energy_by_data_figure(t, temp / names["energy_by_data"])
            (temp / names["report"]).write_text(markdown(t, names), encoding="utf-8")
            final = output.commit()
        return {key: final / name for key, name in names.items()}
    finally:
        if own:
            t.close()
