"""The findings of the NeuroSim-based reference study and of Yang & Sze (IEDM 2019), tested on
study results with paired comparisons (:mod:`xbarsim.studies.statistics`).

* robustness: "A is more robust than B" compares the accuracy *lost* from the noise-free column:
  ``(acc_A(sigma) - acc_A(0)) - (acc_B(sigma) - acc_B(0))`` per (seed, draw), so that a model
  that is simply more accurate everywhere does not count as more robust;
* ranking: "the most accurate network without noise need not be the most accurate with it":
  the float leader and the leader at a noise level, compared at that level (seeds x draws) and
  in float (seeds).

    python -m xbarsim.studies.findings docs/studies/fashion-mnist/chip/depth-variation.json [...]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import List, Sequence

import numpy as np

from ..errors import ArgumentError
from .accuracy import StudyResult, load_study
from .statistics import Comparison, compare

__all__ = ["Robustness", "Ranking", "robustness", "ranking", "loss", "main"]


def loss(result: StudyResult, row: str, column: int) -> np.ndarray:
    """Accuracy change from the first (noise-free) column, per (seed, draw)."""
    return result.cell(row, column) - result.cell(row, 0)[:, :1]


@dataclass(frozen=True)
class Robustness:
    """``robust`` keeps more accuracy than ``fragile`` at one column (positive difference: it does)."""

    column: float
    robust: str
    fragile: str
    comparison: Comparison


@dataclass(frozen=True)
class Ranking:
    """The float leader against the leader at one column."""

    column: float
    float_leader: str
    leader: str
    at_column: Comparison
    """leader - float leader, at the column."""
    in_float: Comparison
    """float leader - leader, float accuracy (seeds only)."""


def common_seeds(result: StudyResult, a: str, b: str):
    """Row indices (into each row's seeds) of the training seeds both rows have: a paired test
    compares the same seeds under the same draws (rows trained with fewer seeds pair on the rest)."""
    row_seeds = result.extra.get("row_seeds") or {}
    if a not in row_seeds or b not in row_seeds or row_seeds[a] == row_seeds[b]:
        return slice(None), slice(None)
    shared = [seed for seed in row_seeds[a] if seed in row_seeds[b]]
    if not shared:
        raise ArgumentError(f"rows {a!r} and {b!r} share no training seed: no paired test")
    return [row_seeds[a].index(s) for s in shared], [row_seeds[b].index(s) for s in shared]


def robustness(result: StudyResult, robust: str, fragile: str) -> List[Robustness]:
    """Whether ``robust`` loses less accuracy than ``fragile``, at every noisy column."""
    ia, ib = common_seeds(result, robust, fragile)
    return [Robustness(result.columns[c], robust, fragile,
                       compare(loss(result, robust, c)[ia], loss(result, fragile, c)[ib]))
            for c in range(1, len(result.columns))]


def ranking(result: StudyResult) -> List[Ranking]:
    """Per noisy column where the leader differs from the float leader: both paired comparisons."""
    float_means = {row: float(np.mean(result.float_accuracy[row])) for row in result.rows}
    float_leader = max(result.rows, key=float_means.get)
    found = []
    for c in range(1, len(result.columns)):
        leader = max(result.rows, key=lambda row: result.cell(row, c).mean())
        if leader == float_leader:
            continue
        il, ifl = common_seeds(result, leader, float_leader)
        found.append(Ranking(result.columns[c], float_leader, leader,
                             compare(result.cell(leader, c)[il], result.cell(float_leader, c)[ifl]),
                             compare(np.asarray(result.float_accuracy[float_leader])[ifl, None],
                                     np.asarray(result.float_accuracy[leader])[il, None])))
    return found


def _p(value: float) -> str:
    if value != value:  # nan: too few pairs, or differences without spread (no t-test)
        return "n/a"
    return f"{value:.2g}" if value >= 1e-4 else "<1e-4"


def _pp(comparison: Comparison) -> str:
    d = comparison.difference
    if d.basis == "none":
        return f"{100 * d.mean:+.1f}"
    return f"{100 * d.mean:+.1f} [{100 * d.low:+.1f}, {100 * d.high:+.1f}]"


def robustness_table(items: Sequence[Robustness], label: str) -> str:
    lines = [f"| {label} | kept accuracy, pp [95% CI] | p (seed x draw pairs) | p (seeds) | seeds agreeing |",
             "|---|---|---|---|---|"]
    for item in items:
        c = item.comparison
        lines.append(f"| {item.column:g} | {_pp(c)} | {_p(c.p_draws)} | {_p(c.p_seeds)} | "
                     f"{c.seeds_agreeing}/{c.difference.seeds} |")
    return "\n".join(lines)


def ranking_table(items: Sequence[Ranking], label: str) -> str:
    if not items:
        return "(the float leader leads at every noise level)"
    lines = [f"| {label} | float leader | leader | leader's gain there, pp [95% CI] | p | float leader's float "
             "gain, pp [95% CI] | p (seeds) |", "|---|---|---|---|---|---|---|"]
    for item in items:
        lines.append(f"| {item.column:g} | {item.float_leader} | {item.leader} | {_pp(item.at_column)} | "
                     f"{_p(item.at_column.p_draws)} | {_pp(item.in_float)} | {_p(item.in_float.p_draws)} |")
    return "\n".join(lines)


def report(result: StudyResult) -> str:
    """Markdown: the ranking test, and robustness of the last row against the first and of every
    row against its neighbour (rows as the study orders them: shallow to deep, narrow to wide, ...)."""
    label = result.column_label
    parts = [f"### {result.title}", "", result.header(), ""]
    pairs = [(result.rows[-1], result.rows[0])] + [(b, a) for a, b in zip(result.rows, result.rows[1:])]
    seen = set()
    for robust, fragile in pairs:
        if (robust, fragile) in seen:
            continue
        seen.add((robust, fragile))
        parts += [f"{robust} against {fragile}:", "", robustness_table(robustness(result, robust, fragile), label), ""]
    parts += ["Ranking:", "", ranking_table(ranking(result), label), ""]
    return "\n".join(parts)


def model_table(dataset: str) -> str:
    """Markdown: every trained architecture of ``dataset`` with its weights, float test accuracy
    over its seeds (mean and range) and training time per model (mean and range); the models
    not trained are listed after the table."""
    from .accuracy import load_study_model
    from .families import all_models

    groups, untrained = {}, []
    for spec in all_models(dataset):
        if spec.path.is_file():
            groups.setdefault(spec.architecture, []).append((spec, load_study_model(spec)[1]))
        else:
            untrained.append(spec.name)
    lines = ["| architecture | layers | width | kernel | weights | seeds | float test accuracy, mean (min-max) "
             "| training time per model, s (min-max) |", "|---|---|---|---|---|---|---|---|"]
    for architecture, members in groups.items():
        spec, meta = members[0]
        accs = [100 * m["float_test_accuracy"] for _, m in members]
        times = [m["train_seconds"] for _, m in members]
        exits = ""
        if spec.exits:
            per_output = np.mean([m["float_test_accuracy_per_output"] for _, m in members], axis=0)
            exits = " (exits " + ", ".join(f"{100 * a:.1f}" for a in per_output) + ")"
        lines.append(f"| {architecture} | {spec.depth} | {spec.width} | {spec.kernel} | {meta['weights']:,} | "
                     f"{len(members)} | {np.mean(accs):.1f} ({min(accs):.1f}-{max(accs):.1f}){exits} | "
                     f"{np.mean(times):.0f} ({min(times):.0f}-{max(times):.0f}) |")
    if untrained:
        lines += ["", f"Not trained: {', '.join(untrained)}."]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Paired tests of the study findings on study JSON files.")
    parser.add_argument("studies", nargs="*", help="JSON files written by xbarsim accuracy")
    parser.add_argument("--models", metavar="DATASET", default=None, help="print the model table of a dataset")
    args = parser.parse_args(argv)
    if args.models:
        print(model_table(args.models))
    for path in args.studies:
        print(report(load_study(path)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
