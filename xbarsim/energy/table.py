"""Energy tables: per-action energy, peak power, leakage and area of every component.

A table is YAML (or a dict) with ``version: 1`` and one entry per component of
:data:`xbarsim.counting.COMPONENTS`::

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

Tables are kept apart from counting: pricing a run is arithmetic on its counts
(:mod:`xbarsim.energy.pricing`), so one run can be re-priced with another table. The format,
with a worked example, is documented in ``docs/energy-table.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Union

from ..config.arch import Arch
from ..config.fields import FieldType, FrozenDict, Integer, MappingOf, Maybe, Quantity, Section, Spec, Text, param
from ..config.loader import load_spec, preset_names, preset_text
from ..counting import COMPONENTS
from ..errors import ConfigError, described

__all__ = ["ActionEnergy", "ComponentEnergy", "EnergyTable", "ARGUMENTS", "load_energy", "energy_presets"]

PRESET_PACKAGE = "xbarsim.energy.presets"

#: Largest energy of one count of an action: 1 uJ, over 2,000 times the costliest per-action
#: figure in the reference data (an off-chip byte, 406 pJ). A larger value is a typo (``1e300J``)
#: that would turn totals into infinities.
MAX_ACTION_J = 1e-6
#: Largest peak or leakage power of one instance: 1 kW (ISAAC's whole chip: 65.8 W).
MAX_POWER_W = 1e3
#: Largest area of one instance: 100,000 mm2, more than a 300 mm wafer (70,686 mm2).
MAX_AREA_M2 = 0.1

#: Arguments an action energy may depend on: name -> its value for an arch, per component.
ARGUMENTS: Dict[str, Dict[str, Callable[[Arch], int]]] = {
    "adc": {"bits": lambda arch: arch.crossbar.adc_bits},
    "dac": {"bits": lambda arch: arch.crossbar.dac_bits},
    "xbar": {"rows": lambda arch: arch.crossbar.rows, "cell_bits": lambda arch: arch.crossbar.cell_bits},
}


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
        argument = ARGUMENTS[component][self.by](arch)
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
    components: Mapping[str, ComponentEnergy] = param(
        MappingOf(Section(ComponentEnergy), keys=tuple(COMPONENTS), key_kind="component"), FrozenDict(),
        "entries by component name", required=True)

    def _validate(self) -> None:
        for name, entry in self.components.items():
            allowed = COMPONENTS[name].actions
            for action, energy in entry.actions.items():
                if action not in allowed:
                    raise ConfigError(("components", name, "actions", action),
                                      f"an action of {name} ({', '.join(allowed)})", described("an unknown action"))
                if energy.by is not None and energy.by not in ARGUMENTS.get(name, {}):
                    known = ", ".join(ARGUMENTS.get(name, {})) or "none"
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
