"""A tile's digital matrix unit: products of two activations (Q K^T, attention x V).

Two resources per tile: the MAC array (``mxu``) and its buffer's write port (``mxu_buffer``).

* ``mxu_load``: operand b (keys or values) written into the unit's buffer, ``latency + bytes /
  bandwidth`` on the write port; counts ``mxu_buffer.write`` accesses of ``width_bits``.
* ``matmul``: one step of queries against the operand in the buffer. Its amount is MAC slots:
  the products' MACs x passes, a pass being one ``operand_bits`` x ``operand_bits`` MAC (wider
  operands take ``ceil(a bits / w) x ceil(b bits / w)`` passes; fixed when the stream is built);
  its ``aux`` the bytes of b it streams from the buffer through the read port. It lasts as long
  as the slower of the MAC array, ``ceil(slots / macs_per_cycle)``, and the read port,
  ``bytes / bandwidth``; counts ``mxu.mac`` slots and ``mxu_buffer.read`` accesses. Operand a
  arrives from the tile buffer (counted there).
"""

from __future__ import annotations

import numpy as np

from .registry import Component, Family, OpKind, ResourceKind, cycles, register

__all__ = ["FAMILY", "passes"]


def passes(arch, a_bits: int, b_bits: int) -> int:
    """Passes of the matrix unit per product of an ``a_bits`` and a ``b_bits`` operand."""
    w = arch.tile.matrix_unit.operand_bits
    return -(-a_bits // w) * -(-b_bits // w)


def _accesses(nbytes, width_bits):
    return -(-np.asarray(nbytes) * 8 // width_bits)


def _matmul_duration(arch, stream, index):
    unit = arch.tile.matrix_unit
    compute = np.maximum(1, -(-stream.op_amount[index] // max(1, unit.macs_per_cycle)))
    feed = cycles(stream.op_aux[index] / unit.buffer.bandwidth, arch.chip.clock)
    return np.maximum(compute, feed).astype(np.int64)


def _matmul_actions(arch, stream, index):
    return {("mxu", "mac"): stream.op_amount[index],
            ("mxu_buffer", "read"): _accesses(stream.op_aux[index], arch.tile.matrix_unit.buffer.width_bits)}


def _load_duration(arch, stream, index):
    buffer = arch.tile.matrix_unit.buffer
    return cycles(buffer.latency + stream.op_amount[index] / buffer.bandwidth, arch.chip.clock)


def _load_actions(arch, stream, index):
    return {("mxu_buffer", "write"): _accesses(stream.op_amount[index], arch.tile.matrix_unit.buffer.width_bits)}


def _units(a) -> int:
    return a.chip.tiles if a.tile.matrix_unit.macs_per_cycle else 0


FAMILY = register(Family(
    name="matrix",
    doc="a tile's digital matrix unit and its buffer (products of two activations)",
    sections=("tile.matrix_unit",),
    components=(
        Component("mxu", "matrix-unit MAC lane", {"mac": "one operand_bits x operand_bits multiply-accumulate"},
                  instances=lambda a: a.chip.tiles * a.tile.matrix_unit.macs_per_cycle,
                  arguments={"bits": lambda a: a.tile.matrix_unit.operand_bits}),
        Component("mxu_buffer", "the matrix unit's buffer (SRAM)", {
            "read": "one access of width_bits", "write": "one access of width_bits"}, instances=_units),
    ),
    resources=(
        ResourceKind("mxu", "a tile's matrix unit (MAC array and buffer read port)", scope="tile",
                     servers=lambda a: 1),
        ResourceKind("mxu_buffer", "the write port of a matrix unit's buffer", scope="tile", servers=lambda a: 1),
    ),
    ops=(
        OpKind("matmul", "multiply a step of queries by the operand held in the matrix unit's buffer", ("mxu",),
               "MAC slots", _matmul_duration, _matmul_actions, group="digital units"),
        OpKind("mxu_load", "write operand b into the matrix unit's buffer", ("mxu_buffer",), "bytes",
               _load_duration, _load_actions, group="data movement"),
    ),
))
