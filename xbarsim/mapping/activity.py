"""Array activity: what the arrays of a layer do per input vector, structurally or on real data.

The one place that turns a layout (how a layer's matrices sit on arrays: row tiles, column
tiles, block-diagonally packed groups) and, optionally, the digits its DACs actually see into
per-vector counts:

* ``items``: read items the copy's lockstep pipeline runs (input cycles, or the phases of a
  vector when digitizing after accumulation: one unless ``crossbar.phase_cycles``); with zero
  skipping, only those in which some array of the copy has a non-zero digit;
* ``reads``: array reads; ``dac``: digits converted (rows of the arrays that read);
  ``row_activations``: rows actually driven (non-zero digits; every used row without data);
  ``sh``: columns sampled; ``adc``: conversions (after accumulation, one per column and phase).

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
from typing import Dict, Optional

import numpy as np

__all__ = ["FIELDS", "COUNT_FIELDS", "DRIVE_FIELDS", "Layout", "structural", "from_counts", "nonzero_counts",
           "drives", "digit_units", "mid_level_rows", "row_half_levels", "observe", "full_scale_digit"]

COUNT_FIELDS = ("items", "reads", "row_activations", "dac", "sh", "adc")
"""What the arrays do per vector (:func:`from_counts` computes these from non-zero digit counts)."""
DRIVE_FIELDS = ("dac_steps", "cell_drives", "cell_levels")
"""What the driven rows carry per vector: digit steps, cell-current units (``d^2`` or ``|d| D`` per
digit, by the DAC type: :func:`digit_units`) and conductances (:func:`drives`)."""
FIELDS = COUNT_FIELDS + DRIVE_FIELDS
"""Per-vector activity, in this order (the stream's activity table has these columns)."""

_PLANE_BYTES = 32 << 20  # digit planes held at once by observe: bounds its memory on large layers


@dataclass(frozen=True)
class Layout:
    """One matrix on its arrays (a single group): what the functional model's matrices are."""

    tiling: object
    crossbar: object
    groups: int = 1
    groups_per_array: int = 0


def _packed(layout) -> bool:
    return bool(getattr(layout, "groups_per_array", 0))


def full_scale_digit(spec) -> int:
    """``D = 2**dac_bits - 1``: the digit that drives a row at the full read voltage."""
    return (1 << spec.dac_bits) - 1


def _arrays_per_row(layout) -> int:
    """Arrays one matrix row feeds: its column tiles (1 when groups are packed in one array)."""
    return 1 if _packed(layout) else layout.tiling.col_tiles


def structural(layout) -> Dict[str, int]:
    """Activity of one vector when every digit is non-zero and full scale, and every cell at its
    mid level (no data, or the structural estimate of a run with data).

    ``layout`` has ``tiling`` (one group's :class:`~xbarsim.mapping.tiling.ArrayTiling`),
    ``groups``, ``groups_per_array`` (0: each group on its own arrays) and ``crossbar``.
    """
    spec, t = layout.crossbar, layout.tiling
    T = spec.input_cycles
    groups = layout.groups
    arrays = -(-groups // layout.groups_per_array) if _packed(layout) else groups * t.arrays
    rows = groups * t.in_features * t.col_tiles
    columns = groups * t.physical_columns * t.row_tiles
    D = full_scale_digit(spec)
    return {"items": spec.conversions_per_read_group, "reads": T * arrays,
            "row_activations": T * rows, "dac": T * rows, "sh": T * columns,
            "adc": columns * spec.conversions_per_read_group,
            "dac_steps": T * rows * D, "cell_drives": T * rows * D * D * spec.cols,
            "cell_levels": T * rows * D * D * spec.cols * spec.max_level}


def from_counts(layout, counts: np.ndarray, zero_skip: bool) -> Dict[str, np.ndarray]:
    """Per-vector activity (int64 arrays of N) of the :data:`COUNT_FIELDS` from non-zero digit
    counts (R, N, G, T).

    ``counts[r, n, g, t]``: non-zero digits of vector n, group g, input cycle t in row tile r.
    """
    spec, t = layout.crossbar, layout.tiling
    R, N, G, T = counts.shape
    active = counts > 0
    base = structural(layout)
    out = {name: np.full(N, base[name], dtype=np.int64) for name in COUNT_FIELDS}
    per_cycle = spec.adc_position == "per_cycle"
    starts = np.cumsum((0,) + spec.phase_sizes[:-1])  # first input cycle of each conversion

    def by_phase(cycles):  # (..., T) -> (..., conversions): any non-zero digit in each phase
        return np.logical_or.reduceat(cycles, starts, axis=-1)
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
            out["adc"] = out["sh"] if per_cycle else (by_phase(any_array).sum(axis=2) * cols_a).sum(axis=1, dtype=np.int64)
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
            out["adc"] = out["sh"] if per_cycle else by_phase(active).sum(axis=(0, 2, 3), dtype=np.int64) * phys
            planes = active.any(axis=(0, 2))  # (N, T)
    if zero_skip:
        out["items"] = by_phase(planes).sum(axis=1, dtype=np.int64)  # per cycle, each cycle is its own phase
    return out


def _planes(layout, inputs: np.ndarray) -> np.ndarray:
    """DAC digits of integer inputs (N, G, K) per row tile: (R, N, G, T, rows) int16."""
    from ..functional.converters import input_planes  # the DAC's digit encoding, defined once

    spec, t = layout.crossbar, layout.tiling
    x = np.asarray(inputs)
    n, groups, k = x.shape
    if (groups, k) != (layout.groups, t.in_features):
        raise ValueError(f"inputs: expected (N, {layout.groups}, {t.in_features}) for this layout, got {x.shape}")
    rows = t.rows if t.row_tiles > 1 else t.in_features
    planes = input_planes(x.reshape(n * groups, k), spec, t.row_tiles, rows, np.int16)  # (R, n*G, T, rows)
    return planes.reshape(t.row_tiles, n, groups, spec.input_cycles, rows)


def nonzero_counts(layout, inputs: np.ndarray) -> np.ndarray:
    """Non-zero DAC digits per row tile, (R, N, G, T), of integer inputs (N, G, K) of a layout."""
    return np.count_nonzero(_planes(layout, inputs), axis=4)


def mid_level_rows(layout) -> np.ndarray:
    """Half level steps above ``G_off`` of every matrix row (G, K) when every cell of the array rows it
    drives sits at its mid level: the structural assumption, ``arrays per row x cols x (2**cell_bits - 1)``."""
    spec, t = layout.crossbar, layout.tiling
    per_row = _arrays_per_row(layout) * spec.cols * spec.max_level
    return np.full((layout.groups, t.in_features), per_row, dtype=np.int64)


def row_half_levels(conductance_s: np.ndarray, spec) -> np.ndarray:
    """Half level steps above ``G_off`` of each matrix row's cells, summed over its columns: (K,) int64.

    ``conductance_s`` (P, S, K, M): programmed conductances in siemens (a programmed matrix's
    ``conductance_s``, with its variation and faults), restricted to the columns of one layer part.
    Each cell is rounded to the nearest half step: exact for ideal devices, whose cells sit on levels.
    """
    from ..functional.devices import g_off_levels, level_step_s

    half_steps = np.rint(2.0 * (np.asarray(conductance_s) / level_step_s(spec) - g_off_levels(spec)))
    return half_steps.sum(axis=(0, 1, 3)).astype(np.int64)


def digit_units(spec, planes: np.ndarray):
    """(digit steps, cell-current units) of DAC digits (..., T, rows), summed over the input cycles
    (axis -2): two int64 arrays (..., rows).

    A digit ``d`` is ``|d|`` steps of ``1 / D`` of full scale (``D = 2**dac_bits - 1``) whatever the
    DAC: of the read voltage for a ``voltage`` DAC, of the read time for a ``pulse_width`` one. A
    cell-current unit is ``(V_read / D)^2 t_read`` across a cell:

    * ``voltage``: the row sits at ``d / D`` of the read voltage for the whole read; a cell draws
      ``(V_read d / D)^2 G t``: ``d^2`` units;
    * ``pulse_width``: the row sits at the full read voltage for ``|d| / D`` of the read; a cell draws
      ``V_read^2 G t |d| / D``: ``|d| D`` units.

    Both give ``D^2`` units at the full-scale digit (the structural estimate) and none at zero.
    """
    digits = np.asarray(planes)
    magnitude = np.abs(digits.astype(np.int32)).sum(axis=-2, dtype=np.int64)
    if spec.dac_type == "pulse_width":
        return magnitude, full_scale_digit(spec) * magnitude
    return magnitude, np.square(digits, dtype=np.int32).sum(axis=-2, dtype=np.int64)


def drives(layout, planes: np.ndarray, row_levels: np.ndarray) -> Dict[str, np.ndarray]:
    """Per-vector :data:`DRIVE_FIELDS` (int64 arrays of N) from DAC digits (R, N, G, T, rows) and the
    half level steps above ``G_off`` of every matrix row's cells (G, K), summed over its columns; each
    digit weighted by the crossbar's DAC type (:func:`digit_units`)."""
    spec, t = layout.crossbar, layout.tiling
    R, N, G, T, rows = planes.shape
    levels = np.asarray(row_levels, dtype=np.int64)
    if levels.shape != (G, t.in_features):
        raise ValueError(f"row_levels: expected shape ({G}, {t.in_features}), got {levels.shape}")
    padded = np.zeros((G, R * rows), dtype=np.int64)
    padded[:, :t.in_features] = levels
    magnitude, square = digit_units(spec, planes)
    per = _arrays_per_row(layout)
    by_vector = square.transpose(1, 2, 0, 3).reshape(N, G * R * rows)
    return {"dac_steps": per * magnitude.sum(axis=(0, 2, 3)),
            "cell_drives": per * spec.cols * square.sum(axis=(0, 2, 3)),
            "cell_levels": by_vector @ padded.reshape(G, R, rows).reshape(-1)}


def observe(layout, inputs: np.ndarray, zero_skip: bool, row_levels: Optional[np.ndarray] = None,
            chunk: Optional[int] = None) -> Dict[str, np.ndarray]:
    """Per-vector activity of integer inputs (N, G, K) on ``layout``, in chunks of vectors.

    ``row_levels`` (G, K): each matrix row's cells, in half level steps above ``G_off``, summed
    over its columns (:func:`row_half_levels` of a programmed matrix); None takes every cell at
    its mid level (:func:`mid_level_rows`), so that only the digits are data.
    """
    x = np.asarray(inputs)
    levels = mid_level_rows(layout) if row_levels is None else row_levels
    if chunk is None:
        spec, t = layout.crossbar, layout.tiling
        per_vector = 2 * layout.groups * spec.input_cycles * t.row_tiles * max(t.rows, 1)
        chunk = max(1, _PLANE_BYTES // per_vector)
    parts = []
    for s in range(0, max(1, len(x)), chunk):
        planes = _planes(layout, x[s:s + chunk])
        part = from_counts(layout, np.count_nonzero(planes, axis=4), zero_skip)
        part.update(drives(layout, planes, levels))
        parts.append(part)
    return {name: np.concatenate([p[name] for p in parts]) for name in FIELDS}
