"""Digital units of a tile: activation, pooling and shift-and-add (residual adds); and, with
``chip.activation: chip`` (NeuroSim's ``chipActivation``), the chip-level activation units.

Each kind of unit on a tile (or on the chip) is one resource; ``n`` operations on ``u`` units take
``ceil(n / u)`` cycles (one operation per unit per cycle), at least one.
"""

from __future__ import annotations

import numpy as np

from .registry import Component, Family, OpKind, ResourceKind, register

__all__ = ["FAMILY"]


def _duration(units):
    def duration(arch, stream, index):
        return np.maximum(1, -(-stream.op_amount[index] // max(1, units(arch)))).astype(np.int64)
    return duration


def _count(component):
    return lambda arch, stream, index: {(component, "op"): stream.op_amount[index]}


FAMILY = register(Family(
    name="units",
    doc="a tile's activation, pooling and shift-and-add units",
    sections=("tile.activation_units", "tile.pooling_units", "tile.shift_add_units", "chip.activation",
              "chip.activation_units"),
    components=(
        Component("tile_shift_add", "tile shift-and-add unit (residual adds; merges of a copy's partial sums)",
                  {"op": "one addition"}, instances=lambda a: a.chip.tiles * a.tile.shift_add_units,
                  data={"op": "partial sums"}),
        Component("act", "activation unit (on the tiles, and on the chip with chip.activation: chip)",
                  {"op": "one output activated"},
                  instances=lambda a: a.chip.tiles * a.tile.activation_units
                  + (a.chip.activation_units if a.chip.activation == "chip" else 0),
                  data={"op": "output activations"}),
        Component("pool", "pooling unit", {"op": "one window element"},
                  instances=lambda a: a.chip.tiles * a.tile.pooling_units, data={"op": "output activations"}),
    ),
    resources=(
        ResourceKind("act", "a tile's activation units", scope="tile", servers=lambda a: 1),
        ResourceKind("chip_act", "the chip-level activation units (chip.activation: chip)", scope="chip",
                     servers=lambda a: 1),
        ResourceKind("pool", "a tile's pooling units", scope="tile", servers=lambda a: 1),
        ResourceKind("tsa", "a tile's shift-and-add units", scope="tile", servers=lambda a: 1),
    ),
    ops=(
        OpKind("act", "activate outputs", ("act",), "operations", _duration(lambda a: a.tile.activation_units),
               _count("act"), group="digital units", time="digital units"),
        OpKind("chip_act", "activate a layer's partial sums at chip level", ("chip_act",), "operations",
               _duration(lambda a: a.chip.activation_units), _count("act"), group="digital units",
               time="digital units"),
        OpKind("pool", "pool window elements", ("pool",), "operations", _duration(lambda a: a.tile.pooling_units),
               _count("pool"), group="digital units", time="digital units"),
        OpKind("eltwise", "add feature maps elementwise", ("tsa",), "operations",
               _duration(lambda a: a.tile.shift_add_units), _count("tile_shift_add"), group="digital units",
               time="digital units", data={("tile_shift_add", "op"): "output activations"}),
    ),
))
