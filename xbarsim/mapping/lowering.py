"""Lowering a layer to crossbar matrices: K x M per group, tiled onto arrays.

A conv layer becomes ``groups`` matrices of ``K = (C / groups) * R * S`` rows and ``M /
groups`` columns; each output pixel is one input vector (im2col). An fc layer is a conv
with ``H = W = R = S = 1``. When several groups fit in one array (depthwise and other
small-group convs), they are packed block-diagonally: ``min(rows // K, cols // (columns per
group))`` groups per array, each driven by its own rows and read on its own columns.

A layer too large for the chip is split into *parts* by output channels (or by groups, for
grouped convs); each part is lowered on its own and programmed in its own round.

A product of two activations (``matmul``) whose arch puts it on crossbars
(:func:`product_unit`) is lowered like a grouped layer with one group per head: operand b'
(``K x N`` per head: K^T for Q K^T, V for attention x V) is written into the arrays for every
input, and a's rows are the input vectors. It is sized for its longest operand
(:func:`longest`: a KV cache at the end of decoding).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Tuple

import numpy as np

from ..config.crossbar import CrossbarSpec
from ..errors import ConfigError, MappingError
from ..workload.network import Layer
from .tiling import ArrayTiling

__all__ = ["LoweredLayer", "lower", "layer_crossbar", "layer_bits", "matrix_shape", "product_unit", "on_crossbars",
           "longest"]


def product_unit(arch, layer: Layer) -> str:
    """Where a matmul layer runs: ``digital`` (the tile's matrix unit) or ``crossbar``
    (``products.qk`` for products with transpose_b, ``products.av`` for the others)."""
    return arch.products.qk if layer.transpose_b else arch.products.av


def on_crossbars(arch, layer: Layer) -> bool:
    """Weight layers, and products the arch writes into crossbar arrays."""
    return layer.has_weights or (layer.type == "matmul" and product_unit(arch, layer) == "crossbar")


def matrix_shape(layer: Layer) -> Tuple[int, int, int]:
    """(groups, K, N) of the matrices a layer multiplies by: a conv's ``groups``, ``(C / groups) R S``
    rows and ``M / groups`` columns; a product's heads, contraction and head columns."""
    if layer.type == "matmul":
        return layer.heads, layer.contraction, layer.head_columns
    return layer.groups, layer.rows_per_group, layer.cols_per_group


def longest(layer: Layer, decode_steps: int) -> Layer:
    """A cached product as it is at the last of ``decode_steps`` decode steps (its keys grown by
    one per step; the layer itself otherwise): what its arrays must be sized for."""
    if layer.type != "matmul" or not layer.cache or not decode_steps:
        return layer
    keys = layer.keys + decode_steps
    if layer.transpose_b:  # K^T grows by columns
        return dataclasses.replace(layer, keys=keys, M=layer.heads * keys)
    return dataclasses.replace(layer, keys=keys, contraction=keys)  # V grows by rows


def layer_bits(layer: Layer, arch) -> Tuple[int, int]:
    """(input bits, output bits) of a layer, defaults resolved against the arch."""
    inp = layer.input_bits if layer.input_bits is not None else arch.crossbar.input_bits
    out = layer.output_bits if layer.output_bits is not None else inp
    return inp, out


def layer_crossbar(layer: Layer, crossbar: CrossbarSpec) -> CrossbarSpec:
    """The crossbar spec at the layer's precision (its weight and input bits, when it sets them)."""
    changes = {}
    if layer.weight_bits is not None and layer.weight_bits != crossbar.weight_bits:
        changes["weight_bits"] = layer.weight_bits
    if layer.input_bits is not None and layer.input_bits != crossbar.input_bits:
        changes["input_bits"] = layer.input_bits
    if not changes:
        return crossbar
    try:
        return dataclasses.replace(crossbar, **changes)
    except ConfigError as exc:
        raise MappingError(f"layer {layer.name!r}: its precision does not fit the crossbar: {exc}") from None


@dataclass(frozen=True)
class LoweredLayer:
    """A weight layer as crossbar matrices on arrays (one copy)."""

    layer: Layer
    """The layer."""
    crossbar: CrossbarSpec
    """Crossbar spec at the layer's precision."""
    tiling: ArrayTiling
    """Tiling of one group's K x M/groups matrix."""
    groups_per_array: int
    """Groups packed block-diagonally in one array (0: each group tiled on its own arrays)."""
    groups: int
    """Groups in this part (all of the layer's unless it is split by groups)."""
    out_channels: int
    """Output channels computed by this part (M of the layer unless it is split)."""
    part: int = 0
    """Index of this part."""
    parts: int = 1
    """Parts the layer is split into (1: not split)."""

    @property
    def arrays(self) -> int:
        """Arrays one copy occupies."""
        if self.groups_per_array:
            return -(-self.groups // self.groups_per_array)
        return self.groups * self.tiling.arrays

    @property
    def cells_used(self) -> int:
        """Cells holding weight data (all groups)."""
        return self.groups * self.tiling.cells_used

    @property
    def cells_available(self) -> int:
        """Cells of the occupied arrays."""
        return self.arrays * self.crossbar.rows * self.crossbar.cols

    @property
    def utilization(self) -> float:
        """Used cells / cells of the occupied arrays."""
        return self.cells_used / self.cells_available

    @property
    def active_columns(self) -> int:
        """Columns in use in the busiest array (sets the conversion time of a read)."""
        if self.groups_per_array:
            return min(self.groups, self.groups_per_array) * self.tiling.physical_columns
        return max(self.tiling.cols_per_tile)

    @property
    def row_tiles(self) -> int:
        """Row tiles of one group (partial sums added digitally)."""
        return self.tiling.row_tiles

    # -- per-vector structural counts (one vector = one output pixel, all groups) ----------------

    @property
    def rows_driven(self) -> int:
        """Row drives per input cycle: every used row of every array it occupies."""
        return self.groups * self.tiling.in_features * self.tiling.col_tiles

    @property
    def columns_sampled(self) -> int:
        """Columns sampled per input cycle: physical columns x row tiles, all groups."""
        return self.groups * self.tiling.physical_columns * self.tiling.row_tiles

    @property
    def conversions_per_vector(self) -> int:
        """ADC conversions per vector."""
        return self.columns_sampled * self.crossbar.conversions_per_read_group

    @property
    def reduction_adds_per_vector(self) -> int:
        """Digital additions merging row tiles: ``out_channels * (row_tiles - 1)``."""
        return self.out_channels * (self.tiling.row_tiles - 1)

    @property
    def cells_per_weight(self) -> int:
        """Cells holding one weight: slices x polarities."""
        return self.crossbar.columns_per_weight

    @property
    def program_rows(self) -> int:
        """Rows written when a copy is programmed (arrays are written in parallel)."""
        return min(self.crossbar.rows, self.tiling.in_features * max(1, self.groups_per_array))

    @property
    def weight_bytes(self) -> int:
        """Bytes of this part's weights as stored off-chip (one byte per 8 bits, per weight)."""
        return self.groups * self.tiling.in_features * self.tiling.out_features * -(-self.crossbar.weight_bits // 8)

    def array_row_groups(self) -> np.ndarray:
        """For every array of a copy (layout order), which slice of the input vector it reads: arrays
        with equal ids read the same rows (the column tiles of one row tile of one group)."""
        t = self.tiling
        if self.groups_per_array:
            return np.arange(self.arrays, dtype=np.int64)
        return np.repeat(np.arange(self.groups * t.row_tiles, dtype=np.int64), t.col_tiles)

    def array_loads(self) -> Tuple[np.ndarray, np.ndarray]:
        """(input rows, output values) of every array of a copy, in layout order (int64 arrays).

        Layout order: packed arrays one after another; otherwise group by group, row tile by
        row tile, column tiles innermost, so that consecutive arrays (and hence a PE or a tile)
        hold whole outputs of a slice of the input vector. An array's output values are the
        weight columns it holds (physical columns / cells per weight, rounded up).
        """
        t, per_weight = self.tiling, self.crossbar.columns_per_weight
        if self.groups_per_array:
            counts = np.full(self.arrays, self.groups_per_array, dtype=np.int64)
            counts[-1] = self.groups - self.groups_per_array * (self.arrays - 1)
            return counts * t.in_features, counts * t.out_features
        rows = np.repeat(np.array(t.rows_per_tile, dtype=np.int64), t.col_tiles)
        cols = np.tile(-(-np.array(t.cols_per_tile, dtype=np.int64) // per_weight), t.row_tiles)
        return np.tile(rows, self.groups), np.tile(cols, self.groups)

    def pe_working_set(self, arrays_per_pe: int) -> Tuple[int, int]:
        """(input rows, output values) of one vector in the busiest PE of a copy (registers check)."""
        rows, outputs = self.array_loads()
        starts = np.arange(0, len(rows), arrays_per_pe)
        return int(np.add.reduceat(rows, starts).max()), int(np.add.reduceat(outputs, starts).max())


def _lower_part(layer: Layer, spec: CrossbarSpec, groups: int, out_per_group: int, part: int, parts: int):
    tiling = ArrayTiling(matrix_shape(layer)[1], out_per_group, spec.rows, spec.cols, spec.slices, spec.polarities)
    packed = 0
    if groups > 1 and tiling.row_tiles == 1 and tiling.col_tiles == 1:
        packed = min(spec.rows // tiling.in_features, spec.cols // tiling.physical_columns)
        packed = packed if packed > 1 else 0
    return LoweredLayer(layer=layer, crossbar=spec, tiling=tiling, groups_per_array=packed, groups=groups,
                        out_channels=groups * out_per_group, part=part, parts=parts)


def lower(layer: Layer, crossbar: CrossbarSpec, parts: int = 1) -> Tuple[LoweredLayer, ...]:
    """Lower a weight layer (or a product) onto arrays of ``crossbar``, split into ``parts`` (default whole).

    Ungrouped layers split by output channels, grouped ones by groups, as evenly as possible;
    asking for more parts than there are channels (or groups) gives one part per channel.
    """
    if not layer.has_weights and layer.type != "matmul":
        raise ValueError(f"layer {layer.name!r} ({layer.type}) has no weights to lower")
    spec = layer_crossbar(layer, crossbar)
    groups, _, columns = matrix_shape(layer)
    if groups > 1:
        units, per_group = groups, columns
    else:
        units, per_group = columns, None
    parts = max(1, min(parts, units))
    size = -(-units // parts)
    parts = -(-units // size)
    lowered = []
    for p in range(parts):
        count = min(size, units - p * size)
        if per_group is None:
            lowered.append(_lower_part(layer, spec, 1, count, p, parts))
        else:
            lowered.append(_lower_part(layer, spec, count, per_group, p, parts))
    return tuple(lowered)
