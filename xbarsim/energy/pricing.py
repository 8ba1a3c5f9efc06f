"""Pricing: action counts x energy table -> energy; instances x table -> area and peak power.

Pure arithmetic, never a simulation: ``total = sum(count x energy per count) + sum(instances x
leakage) x run time``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

from ..config.arch import Arch
from ..counting import ActionCounts
from ..hardware import REGISTRY
from ..hardware.arrays import conduction, mvm_items
from ..mapping.activity import full_scale_digit
from ..errors import ConfigError, described
from .table import EnergyTable, resolve

__all__ = ["EnergyBreakdown", "price", "area_mm2", "peak_power_w", "action_energies_pj", "peak_tops_per_w",
           "structural_dynamic_pj"]

_PJ = 1e12


@dataclass(frozen=True)
class EnergyBreakdown:
    """Energy of a run in pJ, whole and split by component, layer and action."""

    total_pj: float
    dynamic_pj: float
    leakage_pj: float
    by_component: Dict[str, float]
    """Dynamic plus leakage energy of each component."""
    by_layer: Dict[str, float]
    """Dynamic energy of each layer (leakage is not split by layer)."""
    by_action: Dict[Tuple[str, str, str], float]
    """Energy of each (layer, component, action)."""


def _entry(table: EnergyTable, component: str, why: str):
    try:
        return table.components[component]
    except KeyError:
        raise ConfigError(("components", component), f"an entry for {component} ({why})",
                          described("nothing"), hint=f"table {table.name!r}") from None


def action_energies_pj(table: EnergyTable, arch: Arch, counts: ActionCounts) -> Dict[Tuple[str, str], float]:
    """pJ per count of every (component, action) the counts use, resolved for ``arch``."""
    table = resolve(table, arch)
    energies: Dict[Tuple[str, str], float] = {}
    for (_, component, action), count in counts.items():
        if (component, action) in energies:
            continue
        entry = _entry(table, component, f"the run counts {component}.{action}")
        if action not in entry.actions:
            raise ConfigError(("components", component, "actions", action),
                              f"an energy for {component}.{action} (the run counts {count:,} of them)",
                              described("nothing"), hint=f"table {table.name!r}")
        energies[(component, action)] = entry.actions[action].resolve(component, action, arch) * _PJ
    return energies


def price(counts: ActionCounts, table: EnergyTable, arch: Arch, seconds: float) -> EnergyBreakdown:
    """Energy of a run of ``seconds`` with these ``counts``, priced by ``table``."""
    table = resolve(table, arch)
    energies = action_energies_pj(table, arch, counts)
    by_action = {key: count * energies[key[1:]] for key, count in counts.items()}
    by_component: Dict[str, float] = {}
    by_layer: Dict[str, float] = {}
    for (layer, component, _), energy in by_action.items():
        by_component[component] = by_component.get(component, 0.0) + energy
        by_layer[layer] = by_layer.get(layer, 0.0) + energy
    dynamic = sum(by_action.values())
    leakage = 0.0
    for name, component in REGISTRY.components.items():
        instances = component.instances(arch)
        if instances and name in table.components:
            joules = table.components[name].leakage * instances * seconds
            if joules:
                by_component[name] = by_component.get(name, 0.0) + joules * _PJ
                leakage += joules * _PJ
    return EnergyBreakdown(total_pj=dynamic + leakage, dynamic_pj=dynamic, leakage_pj=leakage,
                           by_component=by_component, by_layer=by_layer, by_action=by_action)


def _per_instance_sum(table: EnergyTable, arch: Arch, field: str) -> Tuple[float, Dict[str, float]]:
    table = resolve(table, arch)
    parts: Dict[str, float] = {}
    for name, component in REGISTRY.components.items():
        instances = component.instances(arch)
        if not instances:
            continue
        entry = _entry(table, name, f"the arch has {instances:,} of them")
        parts[name] = getattr(entry, field) * instances
    return sum(parts.values()), parts


def area_mm2(table: EnergyTable, arch: Arch) -> Tuple[float, Dict[str, float]]:
    """Chip area in mm^2, and its split by component."""
    total, parts = _per_instance_sum(table, arch, "area")
    return total * 1e6, {k: v * 1e6 for k, v in parts.items()}


def peak_power_w(table: EnergyTable, arch: Arch) -> Tuple[float, Dict[str, float]]:
    """Peak power in W (every component at its listed power), and its split by component."""
    return _per_instance_sum(table, arch, "power")


def peak_tops_per_w(table: EnergyTable, arch: Arch) -> float:
    """The best energy efficiency the chip can reach, in TOPS/W: an upper bound on any run's
    achieved TOPS/W with structural counts.

    One full array (every row and column used, weights packed across column boundaries) does
    ``rows x cols / columns_per_weight`` MACs per vector with the fewest array actions per MAC
    (reads, row drives at the full-scale digit over cells at their mid level, DAC conversions,
    samples, ADC conversions and shift-and-adds, as :func:`xbarsim.mapping.activity.structural`
    counts them); no data moves. Static power is
    charged at the fastest any run can go: every array busy, each vector taking at least
    ``items x max(read, conversions / ADCs / ADC rate)`` (their sum without sample-and-hold).
    Any run does at least these actions per MAC, plus others, for at least that long, so its
    TOPS/W is lower (data-aware runs with zero or small digits, or low cell levels, may do less).
    """
    table = resolve(table, arch)
    xb, pe = arch.crossbar, arch.pe

    def energy(component, action):
        entry = _entry(table, component, f"the peak efficiency needs {component}.{action}")
        value = entry.actions.get(action)
        return 0.0 if value is None else value.resolve(component, action, arch)

    T = xb.input_cycles
    conversions = xb.cols * xb.conversions_per_read_group
    drives = T * xb.rows  # every row driven every cycle at the full-scale digit, cells at their mid level
    full = full_scale_digit(xb)
    cells = drives * full * full * xb.cols
    joules = (T * energy("xbar", "read") + drives * (energy("xbar", "row_activation") + energy("dac", "convert"))
              + drives * full * energy("dac", "drive")
              + float(conduction(arch, cells, cells * xb.max_level)) * energy("xbar", "conduct")
              + T * xb.cols * energy("sh", "sample")
              + conversions * (energy("adc", "convert") + energy("shift_add", "op")))
    macs = xb.rows * xb.cols / xb.columns_per_weight
    items, reads = mvm_items(arch, T, xb.adc_position == "after_accumulation")  # phases after accumulation
    read = pe.read_latency * int(reads)
    convert = xb.cols / pe.adcs_per_array / pe.adc_rate
    items = int(items)
    seconds = items * (max(read, convert) if pe.sample_hold else read + convert)
    ops_per_s = 2 * macs * arch.arrays / seconds
    leakage = sum(table.components[name].leakage * c.instances(arch)
                  for name, c in REGISTRY.components.items() if name in table.components)
    return 1.0 / (joules / (2 * macs) + leakage / ops_per_s) / 1e12


def structural_dynamic_pj(table: EnergyTable, arch: Arch, energy: EnergyBreakdown,
                          differences: Dict[str, Dict[Tuple[str, str], float]]) -> Dict[str, float]:
    """Dynamic energy (pJ) of each layer had its array actions been counted structurally.

    ``energy`` prices a data-aware run; ``differences`` gives, per layer, the structural count of
    every (component, action) whose count the data changed. The structural estimate of a layer is
    its data-aware dynamic energy with those counts replaced, priced by the same ``table``.
    """
    counts = ActionCounts({(layer, c, a): int(v) for layer, actions in differences.items()
                           for (c, a), v in actions.items()})
    energies = action_energies_pj(table, arch, counts)
    out = {}
    for layer, actions in differences.items():
        value = energy.by_layer.get(layer, 0.0)
        for (c, a), count in actions.items():
            value += (count * energies[(c, a)] if count else 0.0) - energy.by_action.get((layer, c, a), 0.0)
        out[layer] = value
    return out
