"""A tile's digital vector unit: softmax, layer and RMS normalization, GELU, SiLU, tanh and
elementwise products, the functions of a transformer that crossbars cannot compute.

One resource per tile (``vec``). An operation's amount is vector-unit operations: elements x
the function's operations per element (``tile.vector_unit.ops``, derived in
:data:`xbarsim.config.hierarchy.VECTOR_FUNCTION_OPS`), fixed when the stream is built;
``n`` operations on ``lanes`` lanes take ``ceil(n / lanes)`` cycles (one operation per lane per
cycle), at least one. Each counts one ``vec.op``.
"""

from __future__ import annotations

import numpy as np

from .registry import Component, Family, OpKind, ResourceKind, register

__all__ = ["FAMILY"]


def _duration(arch, stream, index):
    lanes = max(1, arch.tile.vector_unit.lanes)
    return np.maximum(1, -(-stream.op_amount[index] // lanes)).astype(np.int64)


FAMILY = register(Family(
    name="vector",
    doc="a tile's digital vector unit (softmax, normalizations, GELU, SiLU, tanh, elementwise products)",
    sections=("tile.vector_unit",),
    components=(
        Component("vec", "vector-unit lane", {"op": "one operation on one element (a 16-bit add, multiply, "
                                                     "compare or table lookup)"},
                  instances=lambda a: a.chip.tiles * a.tile.vector_unit.lanes),
    ),
    resources=(ResourceKind("vec", "a tile's vector unit", scope="tile", servers=lambda a: 1),),
    ops=(
        OpKind("vec", "apply a function (softmax, a normalization, GELU, SiLU, tanh, a product) to elements",
               ("vec",), "operations", _duration,
               lambda arch, stream, index: {("vec", "op"): stream.op_amount[index]}, group="digital units"),
    ),
))
