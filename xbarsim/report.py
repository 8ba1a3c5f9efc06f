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

from .mapping.placement import map_network
from .outputs import Output, check_destination
from .result import _bytes, _energy, _time
from .trace.reader import Trace, open_trace

__all__ = ["write_report"]

_GROUPS = {  # operation kinds by what they do, for timeline colors
    "mvm": "array MVM", "program": "programming",
    "act": "activation / pooling / add", "pool": "activation / pooling / add", "eltwise": "activation / pooling / add",
}
_COLORS = {"array MVM": "#1f77b4", "data movement": "#ff7f0e", "activation / pooling / add": "#2ca02c",
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


def _rows(trace: Trace) -> Tuple[List[str], Dict[str, int]]:
    """Timeline rows: one per tile (its arrays, buffer and units) and one per shared resource."""
    mapping = map_network(trace.arch, trace.network, trace.schedule)
    home = {}
    for m in mapping.layers:
        for part in m.parts:
            for place in part.placements:
                home[f"copy:{m.layer.index}.{part.lowered.part}.{place.copy}"] = place.home_tile
    tiles = sorted({t for t in home.values()} | {int(r.split(":")[1]) for r in trace.names["resources"]
                                                 if r.split(":")[0] in ("tile_buffer", "act", "pool", "tsa", "noc")
                                                 and ":" in r})
    labels = [f"tile {t}" for t in tiles] + ["network", "global buffer", "DRAM"]
    row = {}
    for name in trace.names["resources"]:
        kind, _, rest = name.partition(":")
        if kind == "copy":
            row[name] = tiles.index(home[name])
        elif kind in ("tile_buffer", "act", "pool", "tsa") or (kind == "noc" and rest):
            row[name] = tiles.index(int(rest))  # a mesh port belongs to its tile's row
        elif kind == "noc":
            row[name] = len(tiles)
        elif kind == "glb":
            row[name] = len(tiles) + 1
        else:
            row[name] = len(tiles) + 2
    used = sorted(set(row.values()))  # no empty rows (a mesh has no shared network row; ISAAC no global buffer)
    renumber = {old: new for new, old in enumerate(used)}
    return [labels[i] for i in used], {name: renumber[r] for name, r in row.items()}


def timeline(trace: Trace, path: Path, bins: int = 400) -> Path:
    events = trace.events
    labels, row_of = _rows(trace)
    resources = trace.names["resources"]
    kinds = trace.names["kinds"]
    row_of_resource = np.array([row_of[r] for r in resources])
    group_of_kind = [_GROUPS.get(k, "data movement") for k in kinds]
    clock = trace.arch.chip.clock
    cycles = max(1, trace.cycles)
    scale, unit = _time_unit(cycles / clock)
    fig = Figure(figsize=(10, max(3.0, 0.22 * len(labels) + 1.5)))
    ax = fig.add_subplot()
    title = f"Activity over the run: {trace.network_name} on {trace.arch_name} ({trace.schedule}, batch {trace.batch})"
    if events is None:
        ax.text(0.5, 0.5, f"this trace has detail '{trace.detail}': no per-operation events to draw",
                ha="center", va="center", transform=ax.transAxes)
        ax.set_title(title)
        ax.set_axis_off()
        return _save(fig, path)
    if len(events) <= _GANTT_LIMIT:
        data = events.read()
        rows = row_of_resource[data["resource"]]
        for group, color in _COLORS.items():
            mask = np.array([group_of_kind[k] == group for k in data["kind"]], dtype=bool)
            if mask.any():
                starts = data["start"][mask] / clock / scale
                widths = (data["end"][mask] - data["start"][mask]) / clock / scale
                ax.barh(rows[mask], widths, left=starts, height=0.8, color=color, label=group, linewidth=0)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        ax.set_title(title)
    else:
        busy = np.zeros((len(labels), bins))
        edges = np.linspace(0, cycles, bins + 1)
        width = cycles / bins
        for chunk in events.chunks():
            rows = row_of_resource[chunk["resource"]]
            first = np.minimum(chunk["start"] // width, bins - 1).astype(int)
            last = np.minimum((chunk["end"] - 1) // width, bins - 1).astype(int)
            for r, a, b, s, e in zip(rows, first, last, chunk["start"], chunk["end"]):
                for k in range(a, b + 1):
                    busy[r, k] += min(e, edges[k + 1]) - max(s, edges[k])
        servers = np.zeros(len(labels))  # a row's servers: arrays, ports and units of its resources
        np.add.at(servers, row_of_resource, [trace.capacities[r] for r in resources])
        fraction = busy / (width * np.maximum(servers, 1)[:, None])
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
    scale, unit = _time_unit(latency.max(initial=0.0))
    fig = Figure(figsize=(max(7, 0.28 * len(names) + 2), 6))
    top, bottom = fig.subplots(2, 1, sharex=True)
    x = np.arange(len(names))
    util = [100 * r.utilization if r.arrays else 0 for r in reports]
    top.bar(x, util, color="#2ca02c")
    top.set_ylabel("cell utilization (%)\nweight cells / cells of its arrays", fontsize=9)
    top.set_ylim(0, 105)
    top.set_title(f"Per layer: {trace.network_name} on {trace.arch_name} ({trace.schedule}, batch {trace.batch})")
    bottom.bar(x, latency / scale, color="#1f77b4")
    bottom.set_ylabel(f"latency ({unit})\nfirst operation start to last end", fontsize=9)
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
    lines += ["## Layers", "", "| layer | type | copies | arrays | utilization | vectors | latency | energy |",
              "|---|---|---|---|---|---|---|---|"]
    clock = trace.arch.chip.clock
    for r in trace.layers:
        util = f"{r.utilization:.1%}" if r.arrays else "-"
        lines.append(f"| {r.name} | {r.type} | {r.copies} | {r.arrays:,} | {util} | {r.vectors:,} | "
                     f"{_time((r.end_cycle - r.start_cycle) / clock)} | {_energy(r.energy_pj)} |")
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
