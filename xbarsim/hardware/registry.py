"""The component registry: every hardware family declared once.

A **family** (one module of :mod:`xbarsim.hardware`) declares, in one place:

* its **components**: what an energy table prices (``adc``, ``tile_buffer``, ...), the actions
  each performs (``convert``, ``read``) with what one count is, how many instances an arch has
  (area, peak power and static power are per instance), and the arch arguments an energy may
  depend on (``adc`` by ``bits``);
* its **resources**: what operations wait for in the event model (a layer copy's arrays, a
  tile-buffer port, a mesh link), with their number of servers for an arch;
* its **operation kinds**: for each, the resources it holds (all at once: a transfer holds its
  whole route), what its ``amount`` counts, its duration in whole cycles and the actions it
  emits, both as vectorized formulas over all the operations of that kind in a stream;
* optional **checks** of a mapping against the family's capacities (registers).

Everything else reads the registry: the stream builder (which resources exist), durations,
counting, the energy-table validation and pricing (components, actions, instances,
arguments), the report's timeline rows (resource groups) and the trace (names of kinds and
components). Adding a family is a new module plus its presets' entries
(``docs/architecture-model.md``, "Adding a component family").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Dict, Mapping, Optional, Tuple

import numpy as np

__all__ = ["Component", "ResourceKind", "OpKind", "Family", "Registry", "REGISTRY", "register", "cycles",
           "cycles_of", "GROUPS"]

_TOLERANCE = 1e-6  # cycles: absorbs float error in seconds x hertz (100 ns x 1.2 GHz = 120.00000000000001)

#: Report groups of operation kinds (timeline colours, per-layer time split).
GROUPS = ("arrays", "data movement", "digital units", "programming")


def cycles_of(seconds: float, clock_hz: float) -> int:
    """Whole cycles needed to cover ``seconds``: ``ceil(seconds * clock - 1e-6)``, at least 0."""
    return max(0, math.ceil(seconds * clock_hz - _TOLERANCE))


def cycles(seconds, clock_hz: float, minimum: int = 1) -> np.ndarray:
    """Vectorized :func:`cycles_of`, at least ``minimum``: int64 array."""
    value = np.ceil(np.asarray(seconds, dtype=np.float64) * clock_hz - _TOLERANCE)
    return np.maximum(value, minimum).astype(np.int64)


@dataclass(frozen=True)
class Component:
    """A priced hardware block: an energy table has one entry per component."""

    name: str
    doc: str
    actions: Mapping[str, str]
    """Action name -> what one count is."""
    instances: Callable[[object], int]
    """How many the arch has (area, peak power and static power are per instance)."""
    arguments: Mapping[str, Callable[[object], int]] = field(default_factory=dict)
    """Arch quantities an action energy may be given by (``by: bits``)."""


@dataclass(frozen=True)
class ResourceKind:
    """A kind of resource operations wait for; instances are created by the stream builder."""

    name: str
    doc: str
    scope: str
    """What one instance belongs to: ``copy`` (a layer copy's PEs), ``tile``, ``link`` (a mesh link
    between two routers) or ``chip``."""
    servers: Callable[[object], int]
    """Operations one instance serves at once, for an arch."""


@dataclass(frozen=True)
class OpKind:
    """A kind of hardware operation: what it holds, how long it takes, what it does.

    ``duration(arch, stream, index)`` and ``actions(arch, stream, index)`` receive the indices of
    every operation of this kind in a stream and return, respectively, int64 cycles (>= 1) and
    ``{(component, action): counts}`` arrays aligned with ``index``.
    """

    name: str
    doc: str
    resources: Tuple[str, ...]
    """Resource kinds it holds, all at once, while it runs (a transfer holds every link of its
    route; which instances is up to the stream)."""
    amount: str
    """What its amount counts (``vectors``, ``bytes``, ``operations``, ``rows``)."""
    duration: Callable
    actions: Callable
    group: str
    """One of :data:`GROUPS`."""


@dataclass(frozen=True)
class Family:
    """One component family: components, resources and operation kinds, declared together."""

    name: str
    doc: str
    sections: Tuple[str, ...]
    """Config sections (dotted) it reads."""
    components: Tuple[Component, ...] = ()
    resources: Tuple[ResourceKind, ...] = ()
    ops: Tuple[OpKind, ...] = ()
    checks: Tuple[Callable, ...] = ()
    """``check(arch, mapping)`` functions raising MappingError when a working set does not fit."""


class Registry:
    """All families, and lookups derived from them (names are unique across families)."""

    def __init__(self) -> None:
        self.families: Dict[str, Family] = {}
        self.components: Dict[str, Component] = {}
        self.resources: Dict[str, ResourceKind] = {}
        self.ops: Dict[str, OpKind] = {}
        self.family_of: Dict[str, str] = {}
        """Component, resource or op kind name -> its family."""

    def register(self, family: Family) -> Family:
        if family.name in self.families:
            raise ValueError(f"family {family.name!r} registered twice")
        for kind, items in (("component", family.components), ("resource", family.resources),
                            ("operation kind", family.ops)):
            table = {"component": self.components, "resource": self.resources, "operation kind": self.ops}[kind]
            for item in items:
                if item.name in table:
                    raise ValueError(f"{kind} {item.name!r} of family {family.name!r} is already declared by "
                                     f"{self.family_of[item.name]!r}")
        for op in family.ops:
            for kind in op.resources:
                if kind not in self.resources and kind not in {r.name for r in family.resources}:
                    raise ValueError(f"operation kind {op.name!r} holds unknown resource kind {kind!r}")
            if op.group not in GROUPS:
                raise ValueError(f"operation kind {op.name!r}: group must be one of {GROUPS}")
        self.families[family.name] = family
        for items, table in ((family.components, self.components), (family.resources, self.resources),
                             (family.ops, self.ops)):
            for item in items:
                table[item.name] = item
                self.family_of[item.name] = family.name
        self._derived = None
        return family

    # -- derived lookups -------------------------------------------------------------------

    @property
    def op_names(self) -> Tuple[str, ...]:
        """Operation kinds in registration order (their index is the stream's ``kind`` code)."""
        return tuple(self.ops)

    def op_index(self, name: str) -> int:
        return self.op_names.index(name)

    @property
    def resource_names(self) -> Tuple[str, ...]:
        return tuple(self.resources)

    def resource_index(self, name: str) -> int:
        return self.resource_names.index(name)

    @property
    def actions(self) -> Tuple[Tuple[str, str], ...]:
        """Every (component, action), in declaration order."""
        return tuple((c.name, a) for c in self.components.values() for a in c.actions)

    def has_action(self, component: str, action: str) -> bool:
        entry = self.components.get(component)
        return entry is not None and action in entry.actions

    def checks(self):
        return tuple(check for f in self.families.values() for check in f.checks)


REGISTRY = Registry()
"""The registry every part of xbarsim reads (filled when :mod:`xbarsim.hardware` is imported)."""


def register(family: Family) -> Family:
    """Add a family to :data:`REGISTRY` (done once, at import of its module)."""
    return REGISTRY.register(family)
