"""Action counts: the only interface from timing and functional models to energy.

A count is keyed by (layer, component, action). Components and their actions form a fixed
vocabulary (:data:`COMPONENTS`), each with the number of instances an arch has, so that an
energy table can price actions and sum area and peak power over instances.

Counts follow from the operation stream and the mapping (structure), optionally refined by
statistics the functional model saw on real data (``xbarsim.simulate(..., inputs=...)``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, Mapping, Optional, Tuple

import numpy as np

from .config.arch import Arch

__all__ = ["Component", "COMPONENTS", "ActionCounts", "count_stream"]


@dataclass(frozen=True)
class Component:
    """A kind of hardware block: its actions (with units) and how many an arch has."""

    name: str
    doc: str
    actions: Dict[str, str]
    """Action name -> what one count is."""
    instances: Callable[[Arch], int]


COMPONENTS: Dict[str, Component] = {c.name: c for c in (
    Component("xbar", "crossbar array", {
        "read": "one array read (one input cycle)",
        "row_activation": "one row driven during one read",
        "write": "one cell written"}, lambda a: a.arrays),
    Component("dac", "input DAC (one per array row)", {"convert": "one digit converted"},
              lambda a: a.arrays * a.crossbar.rows),
    Component("sh", "sample-and-hold (one per array column)", {"sample": "one column sampled"},
              lambda a: a.arrays * a.crossbar.cols),
    Component("adc", "ADC", {"convert": "one conversion"}, lambda a: a.arrays * a.pe.adcs_per_array),
    Component("shift_add", "PE shift-and-add unit", {"op": "one digitized value merged"},
              lambda a: a.pes * a.pe.shift_add_units),
    Component("ireg", "PE input register", {"write_bytes": "one byte written"}, lambda a: a.pes),
    Component("oreg", "PE output register", {"write_bytes": "one byte written"}, lambda a: a.pes),
    Component("tile_bus", "bus from the tile buffer to its PEs", {"transfer_bytes": "one byte moved"},
              lambda a: a.chip.tiles),
    Component("tile_buffer", "tile buffer (eDRAM or SRAM)", {
        "read": "one access of width_bits", "write": "one access of width_bits"}, lambda a: a.chip.tiles),
    Component("tile_shift_add", "tile shift-and-add unit (merges PEs' partial sums, residual adds)",
              {"op": "one addition"}, lambda a: a.chip.tiles * a.tile.shift_add_units),
    Component("act", "activation unit", {"op": "one output activated"},
              lambda a: a.chip.tiles * a.tile.activation_units),
    Component("pool", "pooling unit", {"op": "one window element"}, lambda a: a.chip.tiles * a.tile.pooling_units),
    Component("tile_oreg", "tile output register", {"write_bytes": "one byte written"}, lambda a: a.chip.tiles),
    Component("noc", "on-chip network: routers (mesh) or the bus", {"byte_hop": "one byte over one router"},
              lambda a: a.routers if a.interconnect.topology == "mesh" else 1),
    Component("glb", "global buffer", {"read": "one access of width_bits", "write": "one access of width_bits"},
              lambda a: 1 if a.global_buffer.size > 0 else 0),
    Component("offchip", "off-chip link", {"transfer_bytes": "one byte moved"}, lambda a: a.chip.offchip_links),
    Component("dram", "off-chip DRAM (energy only: not on the chip)", {
        "read_bytes": "one byte read", "write_bytes": "one byte written"}, lambda a: 0),
)}
"""Every component xbarsim counts, by name."""


class ActionCounts:
    """Counts keyed by (layer, component, action); adds, scales and sums."""

    def __init__(self, counts: Optional[Mapping[Tuple[str, str, str], int]] = None):
        self._counts: Dict[Tuple[str, str, str], int] = defaultdict(int)
        for key, value in (counts or {}).items():
            self.add(*key, value)

    def add(self, layer: str, component: str, action: str, count: int) -> None:
        if component not in COMPONENTS or action not in COMPONENTS[component].actions:
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
        if component not in COMPONENTS or name not in COMPONENTS[component].actions:
            known = ", ".join(f"{c}.{a}" for c in COMPONENTS for a in COMPONENTS[c].actions)
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


def _accesses(nbytes: int, width_bits: int) -> int:
    return -(-nbytes * 8 // width_bits)


#: Array actions whose counts a data-aware run takes from the digits the DACs actually saw.
DATA_AWARE = (("xbar", "read"), ("xbar", "row_activation"), ("dac", "convert"), ("sh", "sample"),
              ("adc", "convert"), ("shift_add", "op"))


def _data_counts(low, stats, zero_skip: bool) -> Dict[Tuple[str, str], int]:
    """Array action counts of one layer part for a batch, from its :class:`DigitStatistics`.

    Row activations count the rows actually driven (non-zero digits) on every array of the
    row tile. With zero skipping, an array reads (and its DACs, sample-and-holds, ADC and
    shift-and-add work) only for planes of its row tile that hold a non-zero digit.
    """
    share = low.groups / low.layer.groups  # a part split by groups sees its share of the planes
    tiling = low.tiling
    counts = {("xbar", "row_activation"): stats.active * tiling.col_tiles * share}
    if zero_skip:
        planes = stats.planes
        conversions = planes if low.crossbar.adc_position == "per_cycle" else stats.vectors
        counts[("xbar", "read")] = float(planes.sum()) * tiling.col_tiles * share
        counts[("dac", "convert")] = float(np.dot(planes, tiling.rows_per_tile)) * tiling.col_tiles * share
        counts[("sh", "sample")] = float(planes.sum()) * tiling.physical_columns * share
        counts[("adc", "convert")] = float(conversions.sum()) * tiling.physical_columns * share
        counts[("shift_add", "op")] = counts[("adc", "convert")]
    return {key: int(round(value)) for key, value in counts.items()}


def count_stream(stream, mapping, data=None, zero_skip: bool = False) -> ActionCounts:
    """Action counts of every operation in ``stream``.

    ``data`` (layer index -> :class:`~xbarsim.functional.converters.DigitStatistics` of the
    whole batch) makes the array counts data-aware (:func:`_data_counts`).
    """
    data = data or {}
    arch = mapping.arch
    layers = mapping.network.layers
    lowered = {(m.layer.index, p.lowered.part): p.lowered for m in mapping.layers for p in m.parts}
    tile_width = arch.tile.buffer.width_bits
    glb_width = arch.global_buffer.width_bits
    psum = -(-arch.pe.psum_bits // 8)
    counts = ActionCounts()
    for step in stream.steps:
        if step.layer < 0:
            continue
        layer = layers[step.layer]
        name = layer.name
        add = counts.add
        for op in step.ops:
            kind, n = op.kind, op.amount
            if kind == "mvm":
                low = lowered[(step.layer, op.part)]
                T = low.crossbar.input_cycles
                in_bytes = -(-low.crossbar.input_bits // 8)
                structural = {("xbar", "read"): n * T * low.arrays,
                              ("xbar", "row_activation"): n * T * low.rows_driven,
                              ("dac", "convert"): n * T * low.rows_driven,
                              ("sh", "sample"): n * T * low.columns_sampled,
                              ("adc", "convert"): n * low.conversions_per_vector,
                              ("shift_add", "op"): n * low.conversions_per_vector}
                replaced = _data_counts(low, data[step.layer], zero_skip) if step.layer in data else {}
                for (component, action), value in structural.items():
                    if (component, action) not in replaced:
                        add(name, component, action, value)
                add(name, "ireg", "write_bytes", n * low.rows_driven * in_bytes)
                add(name, "tile_bus", "transfer_bytes", n * low.rows_driven * in_bytes)
                add(name, "oreg", "write_bytes", n * low.out_channels * low.row_tiles * psum)
                add(name, "tile_shift_add", "op", n * low.reduction_adds_per_vector)
            elif kind == "program":
                low = lowered[(step.layer, op.part)]
                add(name, "xbar", "write", low.cells_used)
            elif kind == "buffer_read":
                add(name, "tile_buffer", "read", _accesses(n, tile_width))
            elif kind == "buffer_write":
                add(name, "tile_buffer", "write", _accesses(n, tile_width))
            elif kind in ("fetch_noc", "reduce"):
                add(name, "noc", "byte_hop", n * op.hops)
                if kind == "fetch_noc":
                    add(name, "tile_buffer", "read", _accesses(n, tile_width))
                    add(name, "tile_buffer", "write", _accesses(n, tile_width))
            elif kind == "fetch_glb":
                add(name, "glb", "read", _accesses(n, glb_width))
                add(name, "tile_buffer", "write", _accesses(n, tile_width))
            elif kind == "store_glb":
                add(name, "glb", "write", _accesses(n, glb_width))
            elif kind in ("fetch_dram", "weights_dram"):
                add(name, "dram", "read_bytes", n)
                add(name, "offchip", "transfer_bytes", n)
                if kind == "fetch_dram":
                    add(name, "tile_buffer", "write", _accesses(n, tile_width))
            elif kind == "store_dram":
                add(name, "dram", "write_bytes", n)
                add(name, "offchip", "transfer_bytes", n)
            elif kind == "act":
                add(name, "act", "op", n)
            elif kind == "pool":
                add(name, "pool", "op", n)
            elif kind == "eltwise":
                add(name, "tile_shift_add", "op", n)
            if kind in ("buffer_write", "store_glb", "store_dram") and layer.has_weights:
                add(name, "tile_oreg", "write_bytes", n)
    for (index, _part), low in lowered.items():  # data-aware array counts, once per layer part
        if index in data:
            for (component, action), value in _data_counts(low, data[index], zero_skip).items():
                counts.add(layers[index].name, component, action, value)
    return counts
