"""Validation against published chips and tools: ``xbarsim validate``.

Each :class:`Case` runs one preset on one workload (or reads its peak figures), applies the
reference's counting conventions as *explicit* options, and compares metrics with published
values (``docs/validation.md`` holds the sources and the table this prints). A case declares a
tolerance per metric: the command fails when an error exceeds it. Tolerances record how far
xbarsim is known to be from each reference today (the targets are 10% on average and 25% at
worst; where a case is wider, docs/validation.md says why), so the check catches regressions
rather than hiding gaps.

Conventions a reference may count with (:class:`Conventions`):

* ``post_layout_factor``: energy multiplied by this (NeuroSim V1.4: ``zeta = 1.22``, Param.cpp,
  divides its TOPS/W in main.cpp);
* ``conv_vectors``: ``"padded"`` (xbarsim: one vector per output position, H x W for a 'same'
  conv) or ``"valid"`` (NeuroSim: ``(H - k + 1)^2`` vectors, no padding): with ``valid``, each
  conv layer's dynamic energy, and the pipeline period set by the bottleneck layer, are scaled by
  valid / padded vectors, while operations are still counted on the padded shape (as NeuroSim's
  ``numComputation`` does);
* throughput of a pipeline is its steady state: the time per image between two batch sizes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

__all__ = ["Conventions", "Metric", "Case", "CASES", "run_case", "run_validation", "format_table", "failures"]


@dataclass(frozen=True)
class Conventions:
    """How a reference counts, applied to xbarsim's results before comparing."""

    post_layout_factor: float = 1.0
    conv_vectors: str = "padded"


@dataclass(frozen=True)
class Metric:
    name: str
    """``tops``, ``tops_per_w``, ``energy_per_inference_uj``, ``area_mm2``, ``share:<component>``,
    ``peak_tops`` or ``peak_tops_per_w``."""
    published: float
    source: str
    tolerance: float
    """Largest relative error accepted (0.25 = 25%)."""


@dataclass(frozen=True)
class Case:
    name: str
    arch: str
    workload: Optional[str]
    metrics: Tuple[Metric, ...]
    conventions: Conventions = field(default_factory=Conventions)
    batches: Tuple[int, int] = (2, 6)


_NS_RUN = "NeuroSim V1.4 default VGG-8 chip run on this machine (REFERENCE_DATA.md)"
_NS_TABLE = "NeuroSim V1.4 manual Table VII"
_ISAAC = "ISAAC (ISCA 2016) Table I / Table IV"
_NEUROSIM = Conventions(post_layout_factor=1.22, conv_vectors="valid")

CASES: Tuple[Case, ...] = (
    Case("isaac", "isaac", None, (
        Metric("peak_tops", 41.3, _ISAAC + ": 16-bit MACs over 16 cycles of 100 ns", 0.02),
        Metric("area_mm2", 85.4, _ISAAC + ": chip area", 0.02),
        Metric("peak_power_gops_per_w", 627.5, _ISAAC + ": ISAAC-CE 627.5 GOPS/W", 0.02),
    )),
    Case("neurosim-sram22", "neurosim-sram22", "vgg8", (
        Metric("tops", 8.01, _NS_TABLE + ": SRAM 22 nm, 4b ADC, 64 rows", 3.0),
        Metric("tops_per_w", 17.13, _NS_TABLE, 0.9),
        Metric("area_mm2", 84.39, _NS_TABLE, 1.5),
    ), _NEUROSIM),
    Case("neurosim-rram22", "neurosim-rram22", "vgg8", (
        Metric("tops", 8.16, _NS_TABLE + ": RRAM 22 nm on/off 17, 4b ADC, 64 rows", 3.0),
        Metric("tops_per_w", 19.88, _NS_TABLE, 0.9),
        Metric("area_mm2", 378.06, _NS_TABLE, 0.8),
    ), _NEUROSIM),
)
"""Every validation case (docs/validation.md gives each figure's source)."""


def _valid_ratio(layer) -> float:
    """Valid-convolution vectors (no padding) over xbarsim's vectors for a conv layer, 1 otherwise."""
    if layer.type != "conv" or not layer.E * layer.F:
        return 1.0
    e = max(0, (layer.H - layer.R) // layer.stride + 1)
    f = max(0, (layer.W - layer.S) // layer.stride_w + 1)
    return min(1.0, e * f / (layer.E * layer.F))


def run_case(case: Case) -> Dict[str, float]:
    """xbarsim's value of every metric of ``case``, conventions applied."""
    from ..config.loader import load_arch
    from ..simulation import simulate
    from .pricing import area_mm2, peak_power_w
    from .table import load_energy
    from ..timing.durations import peak_tops

    arch = load_arch(case.arch)
    table = load_energy(arch.energy_table)
    values: Dict[str, float] = {}
    values["area_mm2"] = area_mm2(table, arch)[0]
    values["peak_tops"] = peak_tops(arch)
    values["peak_power_gops_per_w"] = values["peak_tops"] * 1e3 / peak_power_w(table, arch)[0]
    if case.workload is None:
        return values
    small, large = case.batches
    a = simulate(arch, case.workload, batch=small)
    b = simulate(arch, case.workload, batch=large)
    c = case.conventions
    ratios = {layer.name: (_valid_ratio(layer) if c.conv_vectors == "valid" else 1.0) for layer in b.network.layers}
    dynamic = sum(e * ratios.get(layer, 1.0) for layer, e in b.energy.by_layer.items())
    bottleneck = max(b.layers, key=lambda r: r.critical_cycles).name
    period_s = (b.latency_s - a.latency_s) / (large - small) * ratios.get(bottleneck, 1.0)
    static = b.energy.leakage_pj / b.latency_s * period_s * large  # static power over the steady-state time
    energy_pj = (dynamic + static) * c.post_layout_factor / large
    ops = 2 * b.network.macs
    values["tops"] = ops / period_s / 1e12
    values["energy_per_inference_uj"] = energy_pj / 1e6
    values["tops_per_w"] = ops / (energy_pj * 1e-12) / 1e12
    total = b.energy_pj or 1.0
    for name, e in b.energy.by_component.items():
        values[f"share:{name}"] = e / total
    return values


def run_validation(cases=CASES) -> List[Tuple[Case, Metric, float, float]]:
    """(case, metric, xbarsim's value, relative error) for every metric of every case."""
    rows = []
    for case in cases:
        values = run_case(case)
        for metric in case.metrics:
            value = values[metric.name]
            rows.append((case, metric, value, value / metric.published - 1))
    return rows


def failures(rows) -> List[Tuple[Case, Metric, float, float]]:
    """Rows whose error exceeds their case's tolerance."""
    return [row for row in rows if abs(row[3]) > row[1].tolerance]


def format_table(rows) -> str:
    """The validation table in Markdown, with averages of |error| on throughput and efficiency."""
    lines = ["| case | metric | published | source | xbarsim | error | tolerance |", "|---|---|---|---|---|---|---|"]
    for case, metric, value, error in rows:
        flag = "" if abs(error) <= metric.tolerance else " **FAIL**"
        lines.append(f"| {case.name} | {metric.name} | {metric.published:.4g} | {metric.source} | {value:.4g} | "
                     f"{error:+.1%}{flag} | {metric.tolerance:.0%} |")
    key = [abs(e) for _, m, _, e in rows if m.name in ("tops", "tops_per_w", "peak_tops")]
    if key:
        lines.append("")
        lines.append(f"Throughput and TOPS/W: mean |error| {sum(key) / len(key):.1%}, worst {max(key):.1%} "
                     f"(targets: 10% mean, 25% worst).")
    return "\n".join(lines)
