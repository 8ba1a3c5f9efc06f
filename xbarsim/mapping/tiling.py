"""Geometry of one weight matrix tiled onto crossbar arrays.

A signed K x M weight matrix occupies ``K`` rows and ``M * slices * polarities`` physical
columns. Rows are cut into row tiles of ``rows`` (each row tile produces its own analog
partial sums); physical columns are packed weight-major (all slices and polarities of one
weight column adjacent, as ISAAC packs a 16-bit weight into 8 neighbouring columns) and cut
into column tiles of ``cols``. One (row tile, column tile) pair is one array.

Pure arithmetic: used by the functional model and by the architecture mapper alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

__all__ = ["ArrayTiling"]


@dataclass(frozen=True)
class ArrayTiling:
    """How a ``in_features x out_features`` matrix lands on arrays of ``rows x cols`` cells."""

    in_features: int
    """K: matrix rows, i.e. inputs summed per output."""
    out_features: int
    """M: matrix columns, i.e. outputs."""
    rows: int
    """Rows per array."""
    cols: int
    """Columns per array."""
    slices: int
    """Cells per weight and polarity."""
    polarities: int
    """1 (offset mapping) or 2 (differential)."""

    def __post_init__(self) -> None:
        for name in ("in_features", "out_features", "rows", "cols", "slices", "polarities"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")

    @property
    def physical_columns(self) -> int:
        """Columns occupied: ``out_features * slices * polarities``."""
        return self.out_features * self.slices * self.polarities

    @property
    def row_tiles(self) -> int:
        """Row tiles: ``ceil(in_features / rows)``; each gives its own partial sums."""
        return -(-self.in_features // self.rows)

    @property
    def col_tiles(self) -> int:
        """Column tiles: ``ceil(physical_columns / cols)``."""
        return -(-self.physical_columns // self.cols)

    @property
    def arrays(self) -> int:
        """Arrays occupied: row tiles x column tiles."""
        return self.row_tiles * self.col_tiles

    @property
    def rows_per_tile(self) -> Tuple[int, ...]:
        """Rows in use in each row tile (the last one may be partial)."""
        full, rest = divmod(self.in_features, self.rows)
        return (self.rows,) * full + ((rest,) if rest else ())

    @property
    def cols_per_tile(self) -> Tuple[int, ...]:
        """Columns in use in each column tile (the last one may be partial)."""
        full, rest = divmod(self.physical_columns, self.cols)
        return (self.cols,) * full + ((rest,) if rest else ())

    @property
    def cells_used(self) -> int:
        """Cells holding weight data: ``in_features * physical_columns``."""
        return self.in_features * self.physical_columns

    @property
    def cells_available(self) -> int:
        """Cells of the occupied arrays: ``arrays * rows * cols``."""
        return self.arrays * self.rows * self.cols

    @property
    def utilization(self) -> float:
        """Used cells / cells of the arrays occupied, in (0, 1]."""
        return self.cells_used / self.cells_available
