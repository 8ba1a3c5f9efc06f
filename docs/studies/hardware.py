"""The hardware studies of docs/hardware-studies.md (Yang & Sze, IEDM 2019, on these chips).

    python docs/studies/hardware.py zoo      # activations vs weights, energy/latency vs MACs/weights
    python docs/studies/hardware.py arrays   # array size 64..1024 at fixed cell count, by filter size
    python docs/studies/hardware.py depth    # wide-shallow vs deep-narrow CIFAR ResNets
    python docs/studies/hardware.py all

Every run is one inference (batch 1) with the chip's own schedule; results go to
``docs/studies/hardware/<study>.json``, ``.md`` (the tables) and ``.png`` (the plots).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

import xbarsim
from xbarsim.efficiency import STATIC, data_counts
from xbarsim.energy.pricing import action_energies_pj
from xbarsim.hardware.registry import DATA_TYPES
from xbarsim.workload.zoo import resnet_cifar, wide_resnet

OUT = Path(__file__).parent / "hardware"

CHIPS = ("isaac", "neurosim-rram22")
ZOO = ("alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v2", "wrn28-10", "resnet20", "resnet56")
VGG_ON_ISAAC = {"tile": {"buffer": {"size": "128KiB"}}}
"""ISAAC's 64 KB tile buffer cannot hold VGG-16's pooling working sets (the run is refused):
VGG-16 runs on isaac with a 128 KB tile buffer, said in the table."""

MOVEMENT = {"tile_buffer", "tile_bus", "glb", "noc", "dram", "offchip", "ireg", "oreg", "tile_oreg", "mxu_buffer"}
"""Components that move or store data (with the crossbar writes that move weights into the arrays)."""

PUBLISHED_CIFAR10_ERROR = {
    # He, Zhang, Ren & Sun, CVPR 2016, Table 6 (best of 5 runs; ResNet-110: 6.61 +- 0.16 mean)
    "resnet20": (8.75, "He et al. 2016, Table 6"),
    "resnet56": (6.97, "He et al. 2016, Table 6"),
    "resnet110": (6.43, "He et al. 2016, Table 6"),
    # Zagoruyko & Komodakis, BMVC 2016, Table 4 (median of 5 runs, standard augmentation)
    "wrn40-4": (4.53, "Zagoruyko & Komodakis 2016, Table 4"),
    "wrn16-8": (4.27, "Zagoruyko & Komodakis 2016, Table 4"),
    "wrn28-10": (4.00, "Zagoruyko & Komodakis 2016, Table 4"),
}


def _arch(chip, net):
    if chip == "isaac" and net == "vgg16":
        return dict({"version": 1, "base": "isaac"}, **VGG_ON_ISAAC)
    return chip


def _row(result):
    """The numbers a study keeps of a run."""
    net = result.network
    data = result.energy_by_data.total
    # data-movement energy by data type: the movement components' share of each type
    shares = data_counts(result.stream, result.arch)
    per_count = action_energies_pj(result.energy_table, result.arch, result.actions)
    moving = {t: 0.0 for t in DATA_TYPES}
    for (layer, component, action), split in shares.items():
        if component in MOVEMENT or (component, action) == ("xbar", "write"):
            for t, n in zip(DATA_TYPES, split.tolist()):
                moving[t] += n * per_count[(component, action)]
    b = result.bottlenecks
    return {
        "network": net.name, "arch": result.arch.name, "macs": int(net.macs), "weights": int(net.weights),
        "layers_on_arrays": sum(1 for r in result.layers if r.arrays),
        "latency_s": result.latency_s, "energy_pj": result.energy_pj, "static_pj": result.energy.leakage_pj,
        "energy_by_data_pj": data, "movement_by_data_pj": moving, "cell_utilization": result.cell_utilization,
        "arrays_used": result.arrays_used, "rounds": result.rounds, "area_mm2": result.area_mm2,
        "tops": result.tops, "peak_tops": result.peak_tops,
        "ladder": None if b.network is None else list(b.network.factors),
        "bound_share": _bound_share(b),
    }


def _bound_share(b):
    """Share of the summed layer spans by category group (arrays, movement, waits)."""
    total = {}
    for layer in b.layers:
        for k, v in layer.cycles.items():
            total[k] = total.get(k, 0) + v
    return total


def _simulate(arch, net, label):
    t = time.time()
    result = xbarsim.simulate(arch, net)
    print(f"  {label}: {time.time() - t:.1f} s", flush=True)
    return result


def _pct(x):
    return f"{100 * x:.1f}%"


def _save(fig, name):
    OUT.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT / f"{name}.png", dpi=110, bbox_inches="tight")


def _write(name, rows, table):
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(rows, indent=1, sort_keys=True) + "\n")
    (OUT / f"{name}.md").write_text(table)


# -- study 1: the zoo ------------------------------------------------------------------------------

def zoo():
    rows = []
    for chip in CHIPS:
        for net in ZOO:
            rows.append(_row(_simulate(_arch(chip, net), net, f"{net} on {chip}")))
    lines = ["| chip | network | GMACs | M weights | latency | energy | weights | input act. | partial sums | "
             "output act. | static | movement: activations | movement: weights |", "|" + "---|" * 13]
    for r in rows:
        e, m = r["energy_by_data_pj"], r["movement_by_data_pj"]
        moved = sum(m.values()) or 1.0
        acts = m["input activations"] + m["output activations"] + m["partial sums"]
        lines.append(f"| {r['arch']} | {r['network']} | {r['macs'] / 1e9:.3g} | {r['weights'] / 1e6:.3g} | "
                     f"{r['latency_s'] * 1e3:.3g} ms | {r['energy_pj'] / 1e6:.3g} µJ | "
                     + " | ".join(_pct(e[t] / r["energy_pj"]) for t in DATA_TYPES + (STATIC,))
                     + f" | {_pct(acts / moved)} | {_pct(m['weights'] / moved)} |")
    lines += ["", "| chip | quantity | Pearson r vs MACs | Spearman ρ vs MACs | Pearson r vs weights | "
                  "Spearman ρ vs weights |", "|---|---|---|---|---|---|"]
    correlations = {}
    for chip in CHIPS:
        mine = [r for r in rows if r["arch"] == chip]
        macs = np.array([r["macs"] for r in mine], dtype=float)
        weights = np.array([r["weights"] for r in mine], dtype=float)
        for quantity in ("latency_s", "energy_pj"):
            y = np.array([r[quantity] for r in mine])
            c = (stats.pearsonr(macs, y)[0], stats.spearmanr(macs, y)[0], stats.pearsonr(weights, y)[0],
                 stats.spearmanr(weights, y)[0])
            correlations[f"{chip}/{quantity}"] = c
            lines.append(f"| {chip} | {quantity.split('_')[0]} | " + " | ".join(f"{v:.2f}" for v in c) + " |")
    lines += ["", "| chip | network | peak TOPS | x array size/shape | x mapping/replication | x utilization | "
                  "x bandwidth | = achieved TOPS | layer time: arrays | data movement | dependency waits | "
                  "back-pressure | resource waits |", "|" + "---|" * 13]
    for r in rows:
        f = r["ladder"]
        share = r["bound_share"]
        total = sum(share.values()) or 1
        arrays = share.get("array read", 0) + share.get("ADC conversion", 0)
        waits = sum(v for k, v in share.items() if k.startswith("wait: "))
        moving = total - arrays - waits - share.get("dependency wait", 0) - share.get("back-pressure", 0) \
            - share.get("digital units", 0) - share.get("programming", 0)
        lines.append(f"| {r['arch']} | {r['network']} | {r['peak_tops']:.3g} | "
                     + " | ".join(f"{x:.3g}" for x in f) + f" | {r['tops']:.3g} | {_pct(arrays / total)} | "
                     f"{_pct(moving / total)} | {_pct(share.get('dependency wait', 0) / total)} | "
                     f"{_pct(share.get('back-pressure', 0) / total)} | {_pct(waits / total)} |")
    _write("zoo", {"runs": rows, "correlations": correlations}, "\n".join(lines) + "\n")
    fig = Figure(figsize=(13, 4.2), layout="constrained")
    axes = fig.subplots(1, 3)
    for chip, marker in zip(CHIPS, ("o", "s")):
        mine = [r for r in rows if r["arch"] == chip]
        for ax, (key, label) in zip(axes[:2], (("latency_s", "latency (s)"), ("energy_pj", "energy (pJ)"))):
            ax.scatter([r["macs"] for r in mine], [r[key] for r in mine], marker=marker, label=chip)
            for r in mine:
                ax.annotate(r["network"], (r["macs"], r[key]), fontsize=6)
            ax.set_xscale("log"), ax.set_yscale("log")
            ax.set_xlabel("MACs per inference"), ax.set_ylabel(label)
        x = np.arange(len(mine)) + (0.0 if chip == CHIPS[0] else 0.4)
        bottom = np.zeros(len(mine))
        for t, colour in zip(DATA_TYPES + (STATIC,), ("#8c564b", "#1f77b4", "#ff7f0e", "#2ca02c", "#7f7f7f")):
            share = np.array([r["energy_by_data_pj"][t] / r["energy_pj"] for r in mine])
            axes[2].bar(x, share, width=0.38, bottom=bottom, color=colour, label=t if chip == CHIPS[0] else None)
            bottom += share
        axes[2].set_xticks(np.arange(len(mine)) + 0.2, [r["network"] for r in mine], rotation=90, fontsize=7)
    axes[0].legend(fontsize=7)
    axes[2].legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axes[2].set_ylabel("share of energy")
    axes[2].set_title("left bar: isaac; right: neurosim-rram22", fontsize=8)
    fig.suptitle("Zoo at batch 1: latency and energy against MACs; energy by data type")
    _save(fig, "zoo")


# -- study 2: array size ---------------------------------------------------------------------------

ARRAY_SIZES = (64, 128, 256, 512, 1024)
ARRAY_NETWORKS = ("resnet18", "mobilenet_v2", "alexnet")


def array_arch(n: int) -> dict:
    """ISAAC with n x n arrays and the same number of cells (168 tiles x 12 PEs x 8 arrays of 128 x 128
    = 264 M cells): arrays per PE, then PEs per tile and tiles, scaled; one ADC per array as in
    ISAAC (8 bits); registers sized to one vector of the PE's arrays."""
    cells_per_pe = 8 * 128 * 128
    arrays = max(1, cells_per_pe // (n * n))
    pes, tiles = 12, 168
    if n == 512:
        pes = 6
    elif n == 1024:
        pes, tiles = 2, 126
    assert tiles * pes * arrays * n * n == 168 * 12 * 8 * 128 * 128
    return {"version": 1, "base": "isaac", "name": f"isaac-{n}", "chip": {"tiles": tiles},
            "crossbar": {"rows": n, "cols": n},
            "tile": {"pes": pes, "output_register": f"{pes * arrays * n * 2}B"},
            "pe": {"arrays": arrays, "input_register": f"{arrays * n * 2}B", "output_register": f"{arrays * n * 2}B"}}


def _filter_group(layer):
    if layer.type == "fc":
        return "fc"
    if getattr(layer, "groups", 1) > 1 and layer.groups == layer.C:
        return "depthwise"
    k = max(layer.R, layer.S)
    return "1x1" if k == 1 else "3x3" if k == 3 else "larger"


def arrays():
    rows = []
    for n in ARRAY_SIZES:
        for net in ARRAY_NETWORKS:
            try:
                result = _simulate(array_arch(n), net, f"{net} on {n}x{n}")
            except xbarsim.XbarsimError as exc:
                print(f"    refused: {exc}", flush=True)
                rows.append({"size": n, "network": net, "error": str(exc)})
                continue
            groups = {}
            layers = {layer.name: layer for layer in result.network.layers}
            for r in result.layers:
                if not r.arrays:
                    continue
                g = groups.setdefault(_filter_group(layers[r.name]), {"cells_used": 0, "cells": 0, "energy_pj": 0.0,
                                                                       "critical_s": 0.0, "layers": 0})
                g["cells_used"] += r.cells_used
                g["cells"] += r.cells_used / r.utilization if r.utilization else 0
                g["energy_pj"] += r.energy_pj
                g["critical_s"] += r.critical_cycles / result.arch.chip.clock
                g["layers"] += 1
            row = _row(result)
            row.update(size=n, groups=groups)
            rows.append(row)
    lines = ["| array | network | area | utilization | latency | energy | TOPS/W | " + " | ".join(
        f"util. {g}" for g in ("1x1", "3x3", "larger", "depthwise", "fc")) + " |", "|" + "---|" * 12]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['size']} | {r['network']} | refused: {r['error'][:120]} |")
            continue
        util = [(_pct(g["cells_used"] / g["cells"]) if g["cells"] else "-")
                for g in (r["groups"].get(k, {"cells": 0}) for k in ("1x1", "3x3", "larger", "depthwise", "fc"))]
        lines.append(f"| {r['size']} | {r['network']} | {r['area_mm2']:.0f} mm² | {_pct(r['cell_utilization'])} | "
                     f"{r['latency_s'] * 1e3:.3g} ms | {r['energy_pj'] / 1e6:.3g} µJ | "
                     f"{2 * r['macs'] / (r['energy_pj'] * 1e-12) / 1e12:.3g} | " + " | ".join(util) + " |")
    kinds = ("1x1", "3x3", "larger", "depthwise", "fc")
    lines += ["", "| array | network | " + " | ".join(f"energy {g}" for g in kinds) + " | "
              + " | ".join(f"critical {g}" for g in kinds) + " |", "|" + "---|" * 12]
    for r in rows:
        if "error" in r:
            continue
        groups = r["groups"]
        energy = sum(g["energy_pj"] for g in groups.values()) or 1.0
        critical = r["latency_s"] or 1.0
        lines.append(f"| {r['size']} | {r['network']} | "
                     + " | ".join(_pct(groups[k]["energy_pj"] / energy) if k in groups else "-" for k in kinds) + " | "
                     + " | ".join(_pct(groups[k]["critical_s"] / critical) if k in groups else "-" for k in kinds)
                     + " |")
    _write("arrays", rows, "\n".join(lines) + "\n")
    fig = Figure(figsize=(12, 3.8))
    axes = fig.subplots(1, 3)
    for net in ARRAY_NETWORKS:
        mine = [r for r in rows if r["network"] == net and "error" not in r]
        sizes = [r["size"] for r in mine]
        axes[0].plot(sizes, [r["cell_utilization"] for r in mine], "o-", label=net)
        axes[1].plot(sizes, [r["latency_s"] for r in mine], "o-", label=net)
        axes[2].plot(sizes, [r["energy_pj"] for r in mine], "o-", label=net)
    for ax, label in zip(axes, ("cell utilization", "latency (s)", "energy per inference (pJ)")):
        ax.set_xscale("log", base=2), ax.set_xlabel("array rows = cols"), ax.set_ylabel(label)
    axes[1].set_yscale("log"), axes[2].set_yscale("log")
    axes[0].legend(fontsize=7)
    fig.suptitle("Array size at a fixed number of cells (ISAAC organization, batch 1)")
    _save(fig, "arrays")


# -- study 3: wide and shallow vs deep and narrow -------------------------------------------------

DEPTH_NETWORKS = {
    "resnet56": lambda: resnet_cifar(56),
    "resnet110": lambda: resnet_cifar(110),
    "wrn40-4": lambda: wide_resnet(40, 4),
    "wrn16-8": lambda: wide_resnet(16, 8),
    "wrn28-10": lambda: wide_resnet(28, 10),
}


def depth():
    rows = []
    for chip in CHIPS:
        for name, spec in DEPTH_NETWORKS.items():
            row = _row(_simulate(chip, spec(), f"{name} on {chip}"))
            row["name"] = name
            row["error_pct"], row["error_source"] = PUBLISHED_CIFAR10_ERROR[name]
            rows.append(row)
    lines = ["| chip | network | layers on arrays | M weights | GMACs | CIFAR-10 error (published) | latency | energy | "
             "cell utilization | arrays used | programming rounds |", "|" + "---|" * 11]
    for r in rows:
        lines.append(f"| {r['arch']} | {r['name']} | {r['layers_on_arrays']} | {r['weights'] / 1e6:.3g} | "
                     f"{r['macs'] / 1e9:.3g} | {r['error_pct']}% ({r['error_source']}) | {r['latency_s'] * 1e3:.3g} ms | "
                     f"{r['energy_pj'] / 1e6:.3g} µJ | {_pct(r['cell_utilization'])} | {r['arrays_used']:,} | "
                     f"{r['rounds']} |")
    _write("depth", rows, "\n".join(lines) + "\n")
    fig = Figure(figsize=(9, 3.8))
    axes = fig.subplots(1, 2)
    for chip, marker in zip(CHIPS, ("o", "s")):
        mine = [r for r in rows if r["arch"] == chip]
        for ax, key, label in ((axes[0], "latency_s", "latency (s)"), (axes[1], "energy_pj", "energy (pJ)")):
            ax.scatter([r["error_pct"] for r in mine], [r[key] for r in mine], marker=marker, label=chip)
            for r in mine:
                ax.annotate(r["name"], (r["error_pct"], r[key]), fontsize=7)
            ax.set_yscale("log"), ax.set_xlabel("published CIFAR-10 error (%)"), ax.set_ylabel(label)
    axes[0].legend(fontsize=7)
    fig.suptitle("Deep-narrow vs wide-shallow CIFAR ResNets (batch 1)")
    _save(fig, "depth")


STUDIES = {"zoo": zoo, "arrays": arrays, "depth": depth}

if __name__ == "__main__":
    chosen = sys.argv[1:] or ["all"]
    for name in (list(STUDIES) if chosen == ["all"] else chosen):
        if name not in STUDIES:
            sys.exit(f"unknown study {name!r}: choose from {', '.join(STUDIES)} or all")
        print(f"{name}:", flush=True)
        STUDIES[name]()
