"""Energy tables: per-action energy, peak power, leakage and area of every component.

A table is YAML (or a dict) with ``version: 1`` and one entry per component of
:data:`xbarsim.hardware.REGISTRY` (``xbarsim.hardware.REGISTRY.components``)::

    components:
      adc:
        area: 0.0012mm2          # per instance
        power: 2mW               # peak power per instance (what the paper's table lists)
        leakage: 0W              # static power per instance, charged for the whole run
        actions:
          convert:               # energy of one count; may depend on an argument of the arch
            by: bits             # the ADC's resolution (crossbar.adc_bits)
            values: {6: 1.20pJ, 7: 1.42pJ, 8: 1.5625pJ}
        source: ISAAC Table I; CiMLoop library for other resolutions

Instead of (or besides) hand-written entries, a table may carry a ``model`` section: the
technology its entries are computed for by the component models (:mod:`xbarsim.energy.models`,
``docs/energy-model.md``). :func:`resolve` turns such a table into plain entries for one arch;
entries written in the table replace the model's whole. ``node`` says at which technology node
a hand-written table's figures hold, so :func:`rescale` can carry them to another node.

Tables are kept apart from counting: pricing a run is arithmetic on its counts
(:mod:`xbarsim.energy.pricing`), so one run can be re-priced with another table. The format,
with a worked example, is documented in ``docs/energy-table.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Dict, Mapping, Optional, Union

from ..config.arch import Arch
from ..config.fields import FieldType, FrozenDict, Integer, MappingOf, Maybe, Quantity, Section, Spec, Text, param
from ..config.loader import load_spec, preset_names, preset_text
from ..hardware import REGISTRY
from ..errors import ConfigError, described
from .models import TechnologySpec, model_components
from .technology import area_factor, check_node, energy_factor

__all__ = ["ActionEnergy", "ComponentEnergy", "EnergyTable", "arguments", "load_energy", "energy_presets", "resolve",
           "rescale"]

PRESET_PACKAGE = "xbarsim.energy.presets"

#: Largest energy of one count of an action: 1 uJ, over 2,000 times the costliest per-action
#: figure in the reference data (an off-chip byte, 406 pJ). A larger value is a typo (``1e300J``)
#: that would turn totals into infinities.
MAX_ACTION_J = 1e-6
#: Largest peak or leakage power of one instance: 1 kW (ISAAC's whole chip: 65.8 W).
MAX_POWER_W = 1e3
#: Largest area of one instance: 100,000 mm2, more than a 300 mm wafer (70,686 mm2).
MAX_AREA_M2 = 0.1


def arguments(component: str) -> Dict[str, Callable[[Arch], int]]:
    """Arch quantities an energy of ``component`` may be given by (declared by its family)."""
    entry = REGISTRY.components.get(component)
    return dict(entry.arguments) if entry is not None else {}


@dataclass(frozen=True)
class ActionEnergy:
    """The energy of one count: a constant, or a value per argument (``by``) of the arch."""

    joules: Optional[float] = None
    by: Optional[str] = None
    values: Optional[Mapping[int, float]] = None

    def resolve(self, component: str, action: str, arch: Arch) -> float:
        """Joules per count for ``arch``; ConfigError if the table has no value for its argument."""
        if self.by is None:
            return self.joules
        argument = arguments(component)[self.by](arch)
        if argument not in self.values:
            have = ", ".join(str(k) for k in sorted(self.values))
            raise ConfigError(("components", component, "actions", action, "values"),
                              f"an energy for {self.by} = {argument} (the arch's value)",
                              described(f"values only for {have}"))
        return self.values[argument]


class _ActionEnergyType(FieldType):
    _energy = Quantity("energy", 0, MAX_ACTION_J)
    expected = f"{_energy.expected}, or {{by: <argument>, values: {{<value>: <energy>}}}}"
    _values = MappingOf(Quantity("energy", 0, MAX_ACTION_J), key_kind="argument value", key_type=Integer(0, 1 << 20))

    def convert(self, value):
        if isinstance(value, ActionEnergy):
            return value
        if isinstance(value, Mapping):
            keys = set(value)
            if keys != {"by", "values"}:
                raise ConfigError((), self.expected, described(f"keys {sorted(map(str, keys))}"))
            by = value["by"]
            if not isinstance(by, str):
                raise ConfigError(("by",), "an argument name", by)
            values = self._values.convert(value["values"]) if isinstance(value["values"], Mapping) else None
            if not values:
                raise ConfigError(("values",), "a non-empty mapping of argument values to energies", value["values"])
            return ActionEnergy(by=by, values=FrozenDict(values))
        try:
            return ActionEnergy(joules=self._energy.convert(value))
        except ConfigError as exc:
            raise ConfigError((), self.expected, value, hint=exc.hint) from None

    def dump(self, value: ActionEnergy):
        if value.by is None:
            return self._energy.dump(value.joules)
        return {"by": value.by, "values": {k: self._energy.dump(v) for k, v in value.values.items()}}


@dataclass(frozen=True, kw_only=True)
class ComponentEnergy(Spec):
    section_doc = "one component: area, peak power, leakage and action energies per instance"

    area: float = param(Quantity("area", 0, MAX_AREA_M2), "0mm2", "area of one instance", required=True)
    power: float = param(Quantity("power", 0, MAX_POWER_W), "0W", "peak power of one instance", required=True)
    leakage: float = param(Quantity("power", 0, MAX_POWER_W), "0W",
                           "static power of one instance, charged for the whole run")
    actions: Mapping[str, ActionEnergy] = param(MappingOf(_ActionEnergyType(), key_kind="action"), FrozenDict(),
                                                "energy of one count of each action")
    source: Optional[str] = param(Maybe(Text()), None, "where the numbers come from")


@dataclass(frozen=True, kw_only=True)
class EnergyTable(Spec):
    section_doc = "an energy table"

    version: int = param(Integer(1, 1), 1, "spec format version (1)", required=True)
    name: str = param(Text(), "table", "table name")
    description: Optional[str] = param(Maybe(Text()), None, "what the table describes and its sources")
    node: Optional[float] = param(Maybe(Quantity("length", 0, lo_open=True)), None,
                                  "technology node the hand-written figures hold at (lets `--node` rescale them)")
    model: Optional[TechnologySpec] = param(Maybe(Section(TechnologySpec)), None,
                                            "compute every entry not written here from the arch with the component "
                                            "models, for this technology (docs/energy-model.md)")
    components: Mapping[str, ComponentEnergy] = param(
        MappingOf(Section(ComponentEnergy), keys=tuple(REGISTRY.components), key_kind="component"), FrozenDict(),
        "entries by component name (with a model: entries that replace the model's)")

    def _validate(self) -> None:
        if self.model is None and not self.components:
            raise ConfigError(("components",), "entries by component name (or a model section to compute them)",
                              described("nothing"))
        for name, entry in self.components.items():
            allowed = REGISTRY.components[name].actions
            for action, energy in entry.actions.items():
                if action not in allowed:
                    raise ConfigError(("components", name, "actions", action),
                                      f"an action of {name} ({', '.join(allowed)})", described("an unknown action"))
                if energy.by is not None and energy.by not in arguments(name):
                    known = ", ".join(arguments(name)) or "none"
                    raise ConfigError(("components", name, "actions", action, "by"),
                                      f"an argument of {name} ({known})", energy.by)


def energy_presets():
    """Names of the built-in energy tables."""
    return preset_names(PRESET_PACKAGE)


def load_energy(spec: Union[str, os.PathLike, Mapping[str, Any], EnergyTable]) -> EnergyTable:
    """An :class:`EnergyTable` from a preset name, a YAML path, a dict or a table."""
    if isinstance(spec, EnergyTable):
        return spec
    presets = {name: (lambda name=name: preset_text(PRESET_PACKAGE, name)) for name in energy_presets()}
    return load_spec(spec, what="energy", noun="an energy table preset", presets=presets,
                     build=EnergyTable.from_dict, version="1 (start the table with 'version: 1')")


def resolve(table: EnergyTable, arch: Arch) -> EnergyTable:
    """``table`` with every entry its model computes for ``arch`` (itself when it has no model).

    Entries written in the table replace the model's; the result has no model section, its
    ``node`` is the model's and every entry names its source.
    """
    if table.model is None:
        return table
    return _resolve(table, arch)


@lru_cache(maxsize=64)
def _resolve(table: EnergyTable, arch: Arch) -> EnergyTable:
    entries = {name: model.entry() for name, model in model_components(arch, table.model).items()}
    for name, entry in table.components.items():
        written = entry.to_dict()
        written["source"] = f"written in table {table.name!r}" + (f": {entry.source}" if entry.source else "")
        entries[name] = written
    description = (f"{table.description + '; ' if table.description else ''}computed by the component models for "
                   f"arch {arch.name!r} at {table.model.node * 1e9:g} nm")
    return EnergyTable.from_dict({"version": 1, "name": table.name, "description": description,
                                  "node": Quantity("length").dump(table.model.node), "components": entries})


def rescale(table: EnergyTable, node_m: float) -> EnergyTable:
    """A hand-written table carried to another node (Stillmaker & Baas): energies and static
    power scale like energy, areas like area; a model table gets the new node instead."""
    check_node(node_m, ("node",))
    if table.model is not None:
        data = table.to_dict()
        data["model"]["node"] = Quantity("length").dump(node_m)
        return EnergyTable.from_dict(data)
    if table.node is None:
        raise ConfigError(("node",), "the technology node the table's figures hold at (needed to rescale it)",
                          described("nothing"), hint=f"table {table.name!r}")
    e, a = energy_factor(table.node, node_m), area_factor(table.node, node_m)
    energy, area, power = Quantity("energy"), Quantity("area"), Quantity("power")
    entries = {}
    for name, entry in table.components.items():
        actions = {}
        for action, value in entry.actions.items():
            if value.by is None:
                actions[action] = energy.dump(value.joules * e)
            else:
                actions[action] = {"by": value.by, "values": {k: energy.dump(v * e) for k, v in value.values.items()}}
        source = (f"{entry.source or 'as written'}; scaled {table.node * 1e9:g} -> {node_m * 1e9:g} nm "
                  f"(Stillmaker & Baas 2017: energy x{e:.3g}, area x{a:.3g})")
        entries[name] = {"area": area.dump(entry.area * a), "power": power.dump(entry.power * e),
                         "leakage": power.dump(entry.leakage * e), "actions": actions, "source": source}
    return EnergyTable.from_dict({"version": 1, "name": f"{table.name}@{node_m * 1e9:g}nm",
                                  "description": table.description, "node": Quantity("length").dump(node_m),
                                  "components": entries})
