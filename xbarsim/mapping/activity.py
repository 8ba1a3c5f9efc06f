"""Array activity: what the arrays of a layer do per input vector, structurally or on real data.

The one place that turns a layout (how a layer's matrices sit on arrays: row tiles, column
tiles, block-diagonally packed groups) and, optionally, the digits its DACs actually see into
per-vector counts:

* ``items``: read items the copy's lockstep pipeline runs (input cycles, or vectors when
  digitizing after accumulation); with zero skipping, only those in which some array of the
  copy has a non-zero digit;
* ``reads``: array reads; ``dac``: digits converted (rows of the arrays that read);
  ``row_activations``: rows actually driven (non-zero digits; every used row without data);
  ``sh``: columns sampled; ``adc``: conversions.

Structurally every array reads every input cycle. On real data, rows with a zero digit draw
no current (``row_activations`` counts non-zero digits, on every array of their row tile);
with zero skipping an array whose digits are all zero in a cycle does not read, convert or
sample. Packed groups (depthwise convs) share an array: it reads if any of its groups has a
non-zero digit. Data-aware counts therefore never exceed the structural ones.

Used by the architecture model (counting and MVM durations) and by the functional model's
:class:`~xbarsim.functional.matrix.MvmStats`; pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict

import numpy as np

__all__ = ["FIELDS", "Layout", "structural", "from_counts", "nonzero_counts", "observe"]

FIELDS = ("items", "reads", "row_activations", "dac", "sh", "adc")
"""Per-vector activity counts, in this order."""


@dataclass(frozen=True)
class Layout:
    """One matrix on its arrays (a single group): what the functional model's matrices are."""

    tiling: object
    crossbar: object
    groups: int = 1
    groups_per_array: int = 0


def _packed(layout) -> bool:
    return bool(getattr(layout, "groups_per_array", 0))


def structural(layout) -> Dict[str, int]:
    """Activity of one vector when every digit is non-zero (no data, or data without zeros).

    ``layout`` has ``tiling`` (one group's :class:`~xbarsim.mapping.tiling.ArrayTiling`),
    ``groups``, ``groups_per_array`` (0: each group on its own arrays) and ``crossbar``.
    """
    spec, t = layout.crossbar, layout.tiling
    T = spec.input_cycles
    groups = layout.groups
    arrays = -(-groups // layout.groups_per_array) if _packed(layout) else groups * t.arrays
    rows = groups * t.in_features * t.col_tiles
    columns = groups * t.physical_columns * t.row_tiles
    return {"items": T if spec.adc_position == "per_cycle" else 1, "reads": T * arrays,
            "row_activations": T * rows, "dac": T * rows, "sh": T * columns,
            "adc": columns * spec.conversions_per_read_group}


def from_counts(layout, counts: np.ndarray, zero_skip: bool) -> Dict[str, np.ndarray]:
    """Per-vector activity (int64 arrays of N) from non-zero digit counts (R, N, G, T).

    ``counts[r, n, g, t]``: non-zero digits of vector n, group g, input cycle t in row tile r.
    """
    spec, t = layout.crossbar, layout.tiling
    R, N, G, T = counts.shape
    active = counts > 0
    base = structural(layout)
    out = {name: np.full(N, value, dtype=np.int64) for name, value in base.items()}
    per_cycle = spec.adc_position == "per_cycle"
    if _packed(layout):
        p = layout.groups_per_array
        A = -(-G // p)
        per_array = np.zeros((N, A * p, T), dtype=bool)
        per_array[:, :G] = active[0]
        any_array = per_array.reshape(N, A, p, T).any(axis=2)  # (N, A, T)
        in_array = np.full(A, p, dtype=np.int64)
        in_array[-1] = G - p * (A - 1)
        rows_a, cols_a = in_array * t.in_features, in_array * t.physical_columns
        out["row_activations"] = counts.sum(axis=(0, 2, 3), dtype=np.int64)
        if zero_skip:
            out["reads"] = any_array.sum(axis=(1, 2), dtype=np.int64)
            out["dac"] = (any_array * rows_a[None, :, None]).sum(axis=(1, 2), dtype=np.int64)
            out["sh"] = (any_array * cols_a[None, :, None]).sum(axis=(1, 2), dtype=np.int64)
            out["adc"] = out["sh"] if per_cycle else (any_array.any(axis=2) * cols_a).sum(axis=1, dtype=np.int64)
            planes = any_array.any(axis=1)  # (N, T)
    else:
        ct, phys = t.col_tiles, t.physical_columns
        rows_in = np.array(t.rows_per_tile, dtype=np.int64)
        out["row_activations"] = counts.sum(axis=(0, 2, 3), dtype=np.int64) * ct
        if zero_skip:
            reads = active.sum(axis=(0, 2, 3), dtype=np.int64)
            out["reads"] = reads * ct
            out["dac"] = (active * rows_in[:, None, None, None]).sum(axis=(0, 2, 3), dtype=np.int64) * ct
            out["sh"] = reads * phys
            out["adc"] = out["sh"] if per_cycle else active.any(axis=3).sum(axis=(0, 2), dtype=np.int64) * phys
            planes = active.any(axis=(0, 2))  # (N, T)
    if zero_skip:
        out["items"] = planes.sum(axis=1, dtype=np.int64) if per_cycle else planes.any(axis=1).astype(np.int64)
    return out


def nonzero_counts(layout, inputs: np.ndarray) -> np.ndarray:
    """Non-zero DAC digits per row tile, (R, N, G, T), of integer inputs (N, G, K) of a layout."""
    from ..functional.converters import input_planes  # the DAC's digit encoding, defined once

    spec, t = layout.crossbar, layout.tiling
    x = np.asarray(inputs)
    n, groups, k = x.shape
    if (groups, k) != (layout.groups, t.in_features):
        raise ValueError(f"inputs: expected (N, {layout.groups}, {t.in_features}) for this layout, got {x.shape}")
    rows = t.rows if t.row_tiles > 1 else t.in_features
    planes = input_planes(x.reshape(n * groups, k), spec, t.row_tiles, rows, np.int16)  # (R, n*G, T, rows)
    counts = np.count_nonzero(planes, axis=3)
    return counts.reshape(t.row_tiles, n, groups, spec.input_cycles)


def observe(layout, inputs: np.ndarray, zero_skip: bool, chunk: int = 4096) -> Dict[str, np.ndarray]:
    """Per-vector activity of integer inputs (N, G, K) on ``layout``, in chunks of vectors."""
    x = np.asarray(inputs)
    parts = [from_counts(layout, nonzero_counts(layout, x[s:s + chunk]), zero_skip)
             for s in range(0, max(1, len(x)), chunk)]
    return {name: np.concatenate([p[name] for p in parts]) for name in FIELDS}
