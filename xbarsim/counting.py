"""Action counts: the only interface from the timing and functional models to energy.

A count is keyed by (layer, component, action). Components and their actions are declared by
the hardware families (:mod:`xbarsim.hardware`); every count is emitted by an operation of
the stream, through its kind's formula, so every counted action was performed by an
operation that held the resource performing it. Counting is a handful of vectorized passes
(one per operation kind), never a per-operation loop.

Array counts follow the activity recorded in the stream for every MVM: structural, or what
the functional model saw on real data (:mod:`xbarsim.mapping.activity`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Dict, Iterator, Mapping, Optional, Tuple

import numpy as np

from .hardware import REGISTRY

__all__ = ["ActionCounts", "count_stream"]

_EXACT = float(1 << 53)


class ActionCounts:
    """Counts keyed by (layer, component, action); adds, scales and sums."""

    def __init__(self, counts: Optional[Mapping[Tuple[str, str, str], int]] = None):
        self._counts: Dict[Tuple[str, str, str], int] = defaultdict(int)
        for key, value in (counts or {}).items():
            self.add(*key, value)

    def add(self, layer: str, component: str, action: str, count: int) -> None:
        if not REGISTRY.has_action(component, action):
            raise KeyError(f"unknown action {component}.{action}")
        if count:
            self._counts[(layer, component, action)] += int(count)

    def items(self) -> Iterator[Tuple[Tuple[str, str, str], int]]:
        return iter(sorted(self._counts.items()))

    def as_dict(self) -> Dict[Tuple[str, str, str], int]:
        return dict(self._counts)

    def count(self, action: str, layer: Optional[str] = None) -> int:
        """Total of ``"component.action"`` (e.g. ``"adc.convert"``), over all layers or one."""
        component, _, name = action.partition(".")
        if not REGISTRY.has_action(component, name):
            known = ", ".join(f"{c}.{a}" for c, a in REGISTRY.actions)
            raise KeyError(f"unknown action {action!r}; known: {known}")
        return sum(v for (l, c, a), v in self._counts.items()
                   if c == component and a == name and (layer is None or l == layer))

    def layers(self) -> Tuple[str, ...]:
        return tuple(sorted({l for l, _, _ in self._counts}))

    def __add__(self, other: "ActionCounts") -> "ActionCounts":
        result = ActionCounts(self._counts)
        for key, value in other._counts.items():
            result.add(*key, value)
        return result

    def __eq__(self, other) -> bool:
        return isinstance(other, ActionCounts) and dict(self._counts) == dict(other._counts)

    def __len__(self) -> int:
        return len(self._counts)

    def __repr__(self) -> str:
        return f"ActionCounts({len(self._counts)} entries)"


def op_actions(stream, arch) -> Iterator[Tuple[str, np.ndarray, Dict[Tuple[str, str], np.ndarray]]]:
    """(kind, operation indices, {(component, action): counts per operation}) for every kind present."""
    for code, name in enumerate(stream.op_names):
        index = np.flatnonzero(stream.op_kind == code)
        if len(index):
            yield name, index, REGISTRY.ops[name].actions(arch, stream, index)


def count_stream(stream, arch) -> ActionCounts:
    """Action counts of every operation of ``stream`` on ``arch``, by layer."""
    layer_of = stream.op_layer.astype(np.int64) + 1  # -1 (no layer) -> bin 0
    bins = len(stream.layer_names) + 1
    totals: Dict[Tuple[str, str], np.ndarray] = {}
    for _, index, actions in op_actions(stream, arch):
        where = layer_of[index]
        for key, values in actions.items():
            values = np.broadcast_to(np.asarray(values, dtype=np.int64), index.shape)
            sums = np.bincount(where, weights=values.astype(np.float64), minlength=bins)
            if sums.max(initial=0) >= _EXACT:  # beyond float64's exact integers: add exactly
                exact = np.zeros(bins, dtype=np.int64)
                np.add.at(exact, where, values)
                sums = exact
            totals[key] = totals.get(key, 0) + np.asarray(sums).astype(np.int64)
    counts = ActionCounts()
    names = ("",) + tuple(stream.layer_names)
    for (component, action), per_layer in totals.items():
        for b in np.flatnonzero(per_layer):
            counts.add(names[b], component, action, int(per_layer[b]))
    return counts
