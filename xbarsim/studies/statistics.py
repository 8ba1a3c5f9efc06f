"""Statistics of accuracy studies: cell means with 95% confidence intervals, and paired tests.

A study cell holds accuracies of shape (S, D): S training seeds (independently trained models of
one architecture) x D variation draws (independent programmings, or noise streams, of each).
Draws are nested in seeds, so the mean's variance is ``var(seed means) / S`` (a balanced one-way
random-effects design: the seed means carry the draw-to-draw variance too). The interval is
then ``mean +- t(0.975, S - 1) * sd(seed means) / sqrt(S)``; with one seed it falls back to the
draws, ``t(0.975, D - 1) * sd(draws) / sqrt(D)``, and says so (``basis``): that interval ignores
training-seed variance, which one seed cannot estimate.

Comparisons are paired: every model of a study is evaluated with the same draw seeds on the
same test images, so ``a[s, d] - b[s, d]`` removes what the two share. Two p-values are given
(two-sided paired t-tests, ``scipy.stats``): ``p_draws`` over all S x D pairs (the paired test
across draws) and ``p_seeds`` over the S per-seed mean differences (S - 1 degrees of freedom;
conservative, as it treats the trained model as the unit). Nothing here depends on accuracy:
any paired measurements work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..errors import ArgumentError

__all__ = ["Estimate", "Comparison", "estimate", "compare", "CONFIDENCE"]

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    """A mean with its confidence interval."""

    mean: float
    low: float
    high: float
    seeds: int
    draws: int
    basis: str
    """What the interval is computed over: ``"seeds"`` or ``"draws"`` (one seed), or ``"none"``."""

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


@dataclass(frozen=True)
class Comparison:
    """Paired difference ``a - b``: mean, confidence interval and two-sided p-values."""

    difference: Estimate
    p_draws: float
    """Paired t-test over all seed x draw pairs (1.0 when every difference is zero)."""
    p_seeds: float
    """Paired t-test over per-seed mean differences (nan with one seed)."""
    seeds_agreeing: int
    """Seeds whose mean difference has the sign of the overall mean difference."""


def _as_cells(values) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.size == 0:
        raise ArgumentError(f"values: expected a non-empty (seeds, draws) array, got shape {array.shape}")
    return array


def _interval(mean: float, spread: np.ndarray, count: int, confidence: float):
    if count < 2:
        return mean, mean, "none"
    sd = float(np.std(spread, ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, count - 1)) * sd / math.sqrt(count)
    return mean - half, mean + half, None


def estimate(values, confidence: float = CONFIDENCE) -> Estimate:
    """Mean of ``values`` (seeds, draws) with its confidence interval (see the module notes)."""
    cells = _as_cells(values)
    seeds, draws = cells.shape
    mean = float(cells.mean())
    if np.all(cells == cells.flat[0]):  # nothing varied: a point, not an interval of rounding noise
        return Estimate(float(cells.flat[0]), float(cells.flat[0]), float(cells.flat[0]), seeds, draws, "none")
    if seeds >= 2:
        low, high, none = _interval(mean, cells.mean(axis=1), seeds, confidence)
        basis = none or "seeds"
    else:
        low, high, none = _interval(mean, cells[0], draws, confidence)
        basis = none or "draws"
    return Estimate(mean, low, high, seeds, draws, basis)


def _t_test(differences: np.ndarray) -> float:
    if differences.size < 2:
        return float("nan")
    if np.all(differences == differences.flat[0]):
        # no spread: no effect at all, or a t-test cannot say (with 100 test images two seeds' mean
        # differences agree by coincidence often enough; that is no evidence of certainty)
        return 1.0 if differences.flat[0] == 0 else float("nan")
    return float(stats.ttest_1samp(differences, 0.0).pvalue)


def compare(a, b, confidence: float = CONFIDENCE) -> Comparison:
    """Paired comparison of ``a`` and ``b`` (same shape (seeds, draws), same draws)."""
    a, b = _as_cells(a), _as_cells(b)
    if a.shape != b.shape:
        raise ArgumentError(f"compare: expected two arrays of one shape, got {a.shape} and {b.shape}")
    differences = a - b
    difference = estimate(differences, confidence)
    per_seed = differences.mean(axis=1)
    sign = np.sign(difference.mean)
    return Comparison(difference=difference, p_draws=_t_test(differences.ravel()),
                      p_seeds=_t_test(per_seed) if len(per_seed) >= 2 else float("nan"),
                      seeds_agreeing=int(np.sum(np.sign(per_seed) == sign)) if sign else 0)
