"""Signed weights to cell levels: sign mapping, bit slicing and ISAAC's column flip.

Shapes: a weight matrix is (K, M); cell levels are (P, S, K, M) with P polarities (1 for
offset mapping, 2 for differential: positive then negative) and S slices, least
significant first. Levels are small non-negative integers (< 2**cell_bits).
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from ..config.crossbar import CrossbarSpec

__all__ = ["slice_widths", "slice_max_levels", "encode_weights", "flip_columns"]


def slice_widths(total_bits: int, cell_bits: int) -> Tuple[int, ...]:
    """Bits held by each slice, least significant first: ``(c, c, ..., total - (S-1)*c)``."""
    count = -(-total_bits // cell_bits)
    return tuple(min(cell_bits, total_bits - s * cell_bits) for s in range(count))


def slice_max_levels(spec: CrossbarSpec) -> np.ndarray:
    """Largest level each slice can hold, shape (S,): ``2**width - 1`` (the top slice may be narrower)."""
    return np.array([(1 << w) - 1 for w in slice_widths(spec.weight_bits, spec.cell_bits)], dtype=np.int64)


def encode_weights(weights: np.ndarray, spec: CrossbarSpec) -> np.ndarray:
    """Cell levels (P, S, K, M) as uint8 for a validated signed integer weight matrix (K, M).

    ``offset``: level digits of ``w + 2**(weight_bits-1)``; ``differential``: digits of
    ``max(w, 0)`` (P=0) and ``max(-w, 0)`` (P=1). Either way ``weights`` is recovered as
    ``sum_s 2**(s*cell_bits) * (levels[0, s] - levels[1, s] or the bias)``.
    """
    w = np.asarray(weights, dtype=np.int64)
    if spec.weight_mapping == "offset":
        magnitudes = (w + (1 << (spec.weight_bits - 1)))[None]
    else:
        magnitudes = np.stack([np.maximum(w, 0), np.maximum(-w, 0)])
    mask = (1 << spec.cell_bits) - 1
    levels = np.empty((magnitudes.shape[0], spec.slices) + w.shape, dtype=np.uint8)
    digit = np.empty_like(magnitudes)
    for s in range(spec.slices):  # one slice at a time: no int64 temporary of every cell
        np.right_shift(magnitudes, s * spec.cell_bits, out=digit)
        np.bitwise_and(digit, mask, out=digit)
        levels[:, s] = digit
    return levels


def flip_columns(levels: np.ndarray, row_counts: Tuple[int, ...], slice_max: np.ndarray):
    """Apply ISAAC's flip encoding to padded levels laid out (P, S, R, rows, M).

    In each row tile, a physical column whose level sum exceeds half of ``rows_used *
    slice_max`` stores ``slice_max - level`` instead, so every stored column sum stays at or
    below ``floor(rows_used * slice_max / 2)`` and the ADC needs one bit less. The true
    partial sum is ``slice_max * sum(inputs) - stored``, restored digitally.

    Returns ``(stored_levels, flipped)`` with ``flipped`` a bool array (P, S, R, M).
    Padding rows (beyond ``row_counts``) stay at level 0.
    """
    P, S, R, rows, M = levels.shape
    used = np.arange(rows)[None, :] < np.asarray(row_counts)[:, None]  # (R, rows)
    level_max = slice_max.astype(np.int64)[None, :, None, None]
    sums = levels.sum(axis=3, dtype=np.int64)  # (P, S, R, M)
    limit = (np.asarray(row_counts, dtype=np.int64)[None, None, :, None] * level_max)  # 2 x half
    flipped = 2 * sums > limit
    complement = (slice_max.astype(np.uint8)[None, :, None, None, None] - levels)
    take = flipped[:, :, :, None, :] & used[None, None, :, :, None]
    stored = np.where(take, complement, levels).astype(np.uint8)
    return stored, flipped
