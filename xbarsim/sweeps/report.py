"""``xbarsim sweep-report``: Pareto fronts of a sweep and a Markdown summary of its best points.

Three trade-offs, each drawn per workload (points of different networks are not comparable):

* energy per inference vs latency (both lower is better);
* accuracy vs energy per inference (higher accuracy, lower energy), when the sweep measured it;
* TOPS/W vs area (higher efficiency, smaller chip).

A point is on the Pareto front when no other point is at least as good in both objectives and
better in one (identical points do not dominate each other). Front points are highlighted,
joined in order and labelled with the swept values that differ between points.
"""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .columns import ACCURACY, IDENTITY, METRICS, PROVENANCE, is_component_column

__all__ = ["pareto_front", "sweep_report", "PAIRS"]


def pareto_front(x, y, minimize: Tuple[bool, bool] = (True, True)) -> np.ndarray:
    """Boolean mask of the points no other point dominates in (x, y); NaN points are never on it.

    ``minimize`` says, per objective, whether lower is better. O(n log n): sort by x (then y);
    a point is on the front when its y is the lowest among points with its x and strictly
    lower than every y at a lower x.
    """
    x = np.asarray(x, dtype=np.float64) * (1 if minimize[0] else -1)
    y = np.asarray(y, dtype=np.float64) * (1 if minimize[1] else -1)
    mask = np.zeros(len(x), dtype=bool)
    finite = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    if not len(finite):
        return mask
    order = finite[np.lexsort((y[finite], x[finite]))]
    xs, ys = x[order], y[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    group = np.cumsum(np.r_[True, xs[1:] != xs[:-1]]) - 1
    lowest = np.minimum.reduceat(ys, starts)
    before = np.r_[np.inf, np.minimum.accumulate(lowest)[:-1]]
    mask[order] = (ys == lowest[group]) & (ys < before[group])
    return mask


@dataclass(frozen=True)
class Pair:
    name: str
    x: str
    x_min: bool
    y: str
    y_min: bool
    title: str


PAIRS = (
    Pair("energy-latency", "latency_s", True, "energy_per_inference_pj", True, "energy per inference vs latency"),
    Pair("accuracy-energy", "energy_per_inference_pj", True, "accuracy", False, "accuracy vs energy per inference"),
    Pair("topsw-area", "area_mm2", True, "tops_per_w", False, "TOPS/W vs area"),
)

_LABELS = {"latency_s": "latency", "energy_per_inference_pj": "energy per inference", "accuracy": "test accuracy",
           "area_mm2": "area (mm2)", "tops_per_w": "achieved TOPS/W", "throughput_ips": "throughput (inferences/s)"}

_UNITS = {"latency_s": ("s", 1.0), "energy_per_inference_pj": ("J", 1e-12)}
"""Columns plotted in an SI unit chosen by their values: (unit, factor to that unit)."""


def _axis_scale(column: str, values: np.ndarray) -> Tuple[float, str]:
    """(factor, axis label): the column in a readable unit (ms, uJ, ...)."""
    if column not in _UNITS:
        return 1.0, _LABELS[column].replace("mm2", "mm$^2$")
    unit, factor = _UNITS[column]
    finite = np.abs(values[np.isfinite(values)]) * factor
    top = finite.max() if len(finite) else 1.0
    for prefix, scale in (("", 1), ("m", 1e-3), ("u", 1e-6), ("n", 1e-9), ("p", 1e-12)):
        if top >= scale or prefix == "p":
            prefix = "$\\mu$" if prefix == "u" else prefix
            return factor / scale, f"{_LABELS[column]} ({prefix}{unit})"
    return factor, _LABELS[column]  # pragma: no cover

_NOT_SWEPT = {c.name for c in IDENTITY + METRICS + ACCURACY[1:] + PROVENANCE} | {"seed"}


def swept_names(frame) -> List[str]:
    """Columns of ``frame`` holding settings or swept fields (not measurements)."""
    return [c for c in frame.columns if c not in _NOT_SWEPT and not is_component_column(c)]


def varying(frame, names: Sequence[str]) -> List[str]:
    """Those of ``names`` that take more than one value in ``frame``."""
    return [c for c in names if frame[c].astype(str).nunique(dropna=False) > 1]


def _short_names(names: Sequence[str]) -> Dict[str, str]:
    tails = [n.rsplit(".", 1)[-1] for n in names]
    return {n: (t if tails.count(t) == 1 else n) for n, t in zip(names, tails)}


def labels(frame, names: Sequence[str]) -> List[str]:
    """One label per row: ``adc_bits=6, rows=128`` over ``names``."""
    short = _short_names(names)
    return [", ".join(f"{short[n]}={_value(row[n])}" for n in names) for _, row in frame.iterrows()]


def _value(v) -> str:
    if isinstance(v, float):
        return "-" if math.isnan(v) else f"{v:.4g}"
    return str(v)


def _si(value: float, unit: str) -> str:
    if value is None or not np.isfinite(value):
        return "-"
    if unit == "pJ":
        value, unit = value * 1e-12, "J"
    for prefix, scale in (("", 1), ("m", 1e-3), ("u", 1e-6), ("n", 1e-9), ("p", 1e-12)):
        if abs(value) >= scale or prefix == "p":
            return f"{value / scale:.4g} {prefix}{unit}"
    return f"{value:.4g} {unit}"  # pragma: no cover


_FORMAT = {"latency_s": lambda v: _si(v, "s"), "energy_per_inference_pj": lambda v: _si(v, "pJ"),
           "accuracy": lambda v: f"{100 * v:.1f}%", "area_mm2": lambda v: f"{v:.4g} mm2",
           "tops_per_w": lambda v: f"{v:.4g}", "throughput_ips": lambda v: f"{v:.4g}/s"}

OBJECTIVES = (("lowest latency", "latency_s", True), ("lowest energy per inference", "energy_per_inference_pj", True),
              ("highest throughput", "throughput_ips", False), ("highest TOPS/W", "tops_per_w", False),
              ("smallest area", "area_mm2", True), ("highest accuracy", "accuracy", False))


def _plot(frame, pair: Pair, groups, names, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 5.0))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    colors = [f"C{i % 10}" for i in range(len(groups))]
    label_all = len(frame) <= 20
    x_factor, x_label = _axis_scale(pair.x, frame[pair.x].to_numpy(float))
    y_factor, y_label = _axis_scale(pair.y, frame[pair.y].to_numpy(float))
    for (workload, rows), color in zip(groups, colors):
        x, y = rows[pair.x].to_numpy(float) * x_factor, rows[pair.y].to_numpy(float) * y_factor
        front = pareto_front(x, y, (pair.x_min, pair.y_min))
        ax.scatter(x[~front], y[~front], s=14, color=color, alpha=0.35, linewidths=0)
        order = np.argsort(x[front])
        ax.plot(x[front][order], y[front][order], "-o", color=color, markersize=6, linewidth=1.2,
                markeredgecolor="black", markeredgewidth=0.6, label=f"{workload}: front ({int(front.sum())} of "
                f"{len(rows)})" if len(groups) > 1 else f"Pareto front ({int(front.sum())} of {len(rows)} points)")
        texts = labels(rows, names) if names else [""] * len(rows)
        for i in np.flatnonzero(front | label_all):
            if texts[i]:
                ax.annotate(texts[i], (x[i], y[i]), textcoords="offset points", xytext=(4, 4), fontsize=6.5,
                            color="black" if front[i] else "0.45")
    for axis, column in (("x", pair.x), ("y", pair.y)):
        values = frame[column].to_numpy(float)
        values = values[np.isfinite(values) & (values > 0)]
        if len(values) and values.max() / values.min() > 100:
            (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    ax.set_xlabel(x_label + (", lower is better" if pair.x_min else ", higher is better"))
    ax.set_ylabel(y_label + (", lower is better" if pair.y_min else ", higher is better"))
    ax.set_title(pair.title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    with _replacing(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")


@contextlib.contextmanager
def _replacing(path: Path):
    """A temporary name next to ``path``, renamed over it only if the block succeeds."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def sweep_report(results, out: Optional[Union[str, Path]] = None) -> Dict[str, Path]:
    """Write the Pareto-front PNGs and ``sweep-report.md`` for a results folder (or DataFrame).

    Returns the written files by name (``report`` and one per drawn front). ``out`` defaults
    to ``<results>-report/`` next to the results.
    """
    from .store import read_results

    if isinstance(results, (str, Path)):
        source = Path(results)
        frame = read_results(source)
        out = Path(out) if out is not None else source.with_name(f"{source.name.removesuffix('.parquet')}-report")
    else:
        source, frame = None, results
        out = Path(out if out is not None else "sweep-report")
    out.mkdir(parents=True, exist_ok=True)
    if len(frame):
        frame = frame.sort_values("point", kind="stable").reset_index(drop=True)
    ok = frame[frame["status"] == "ok"].reset_index(drop=True) if len(frame) else frame
    names = swept_names(frame)
    label_names = varying(ok, [n for n in names if n != "workload"]) if len(ok) else []
    groups = list(ok.groupby("workload", sort=False)) if len(ok) else []
    files: Dict[str, Path] = {}
    drawn = []
    for pair in PAIRS:
        if not len(ok) or pair.x not in ok or pair.y not in ok or not ok[pair.y].notna().any():
            continue
        path = out / f"pareto-{pair.name}.png"
        _plot(ok, pair, groups, label_names, path)
        files[pair.name] = path
        drawn.append(pair)
    report = out / "sweep-report.md"
    text = _markdown(frame, ok, groups, names, label_names, drawn, source)
    with _replacing(report) as tmp:
        tmp.write_text(text, encoding="utf-8")
    files["report"] = report
    return files


def _markdown(frame, ok, groups, names, label_names, drawn, source) -> str:
    counts = {s: int((frame["status"] == s).sum()) for s in ("ok", "invalid", "error")} if len(frame) else {}
    where = f"`{source}`" if source is not None else "The sweep"
    lines = ["# Sweep report", "",
             f"{where}: {len(frame)} points: {counts.get('ok', 0)} ok, {counts.get('invalid', 0)} invalid, "
             f"{counts.get('error', 0)} failed.", ""]
    swept = varying(frame, names) if len(frame) else []
    if swept:
        lines.append("Swept: " + "; ".join(f"`{n}` ({_distinct(frame[n])})" for n in swept) + ".")
        lines.append("")
    if len(ok):
        lines += ["## Best points per objective", ""]
        for workload, rows in groups:
            lines += [f"### {workload}", "", "| objective | value | point | swept values | latency | energy/inference "
                      "| TOPS/W | area |", "|---|---|---|---|---|---|---|---|"]
            text = labels(rows, label_names) if label_names else [""] * len(rows)
            for title, column, lowest in OBJECTIVES:
                if column not in rows or not rows[column].notna().any():
                    continue
                i = int(rows[column].idxmin() if lowest else rows[column].idxmax())
                r = rows.loc[i]
                lines.append(f"| {title} | {_FORMAT[column](r[column])} | {r['point']} | {text[rows.index.get_loc(i)]} "
                             f"| {_si(r['latency_s'], 's')} | {_si(r['energy_per_inference_pj'], 'pJ')} | "
                             f"{r['tops_per_w']:.4g} | {r['area_mm2']:.4g} mm2 |")
            lines.append("")
        lines += ["## Pareto fronts", ""]
        for pair in drawn:
            lines += [f"### {pair.title}", "", f"![{pair.title}](pareto-{pair.name}.png)", "",
                      f"| workload | point | {_LABELS[pair.x]} | {_LABELS[pair.y]} | swept values |",
                      "|---|---|---|---|---|"]
            for workload, rows in groups:
                front = pareto_front(rows[pair.x], rows[pair.y], (pair.x_min, pair.y_min))
                picked = rows[front].sort_values(pair.x)
                text = labels(picked, label_names) if label_names else [""] * len(picked)
                for (_, r), t in zip(picked.iterrows(), text):
                    lines.append(f"| {workload} | {r['point']} | {_FORMAT[pair.x](r[pair.x])} | "
                                 f"{_FORMAT[pair.y](r[pair.y])} | {t} |")
            lines.append("")
    bad = frame[frame["status"] != "ok"] if len(frame) else frame
    if len(bad):
        lines += ["## Invalid and failed points", "", "| status | error | points |", "|---|---|---|"]
        for (status, error), rows in bad.groupby(["status", "error"], sort=False, dropna=False):
            lines.append(f"| {status} | {str(error).replace('|', '/')} | {len(rows)} |")
        lines.append("")
    return "\n".join(lines)


def _distinct(series, limit: int = 8) -> str:
    values = list(dict.fromkeys(_value(v) for v in series))
    shown = ", ".join(values[:limit])
    return shown + (f", ... ({len(values)} values)" if len(values) > limit else "")
