"""Study statistics: confidence intervals and paired tests on cases worked out by hand, and the
coverage of the interval on simulated data."""

from __future__ import annotations

import numpy as np
import pytest

from xbarsim.studies.statistics import compare, estimate

# two-sided 95% quantiles of Student's t (any printed table): df 2 and 3
T_2, T_3 = 4.302653, 3.182446


def test_interval_over_seed_means_on_a_known_case():
    # 3 seeds x 2 draws: seed means 0.81, 0.85, 0.89 -> sd 0.04, standard error 0.04 / sqrt(3)
    cells = [[0.80, 0.82], [0.84, 0.86], [0.88, 0.90]]
    found = estimate(cells)
    half = T_2 * 0.04 / np.sqrt(3)
    assert found.mean == pytest.approx(0.85)
    assert (found.low, found.high) == (pytest.approx(0.85 - half, abs=1e-6), pytest.approx(0.85 + half, abs=1e-6))
    assert (found.seeds, found.draws, found.basis) == (3, 2, "seeds")


def test_interval_over_draws_with_one_seed():
    found = estimate([[0.5, 0.6, 0.7, 0.8]])  # sd 0.1291, standard error 0.06455
    assert found.basis == "draws"
    assert found.half_width == pytest.approx(T_3 * np.std([0.5, 0.6, 0.7, 0.8], ddof=1) / 2, abs=1e-6)


def test_nothing_random_gives_a_point():
    found = estimate([[0.9]])
    assert (found.low, found.high, found.basis) == (0.9, 0.9, "none")
    assert estimate([[0.7, 0.7], [0.7, 0.7]]).half_width == 0


def test_interval_covers_the_true_mean_95_percent_of_the_time():
    """Seeds drawn around a true mean (sd 0.03), draws around each seed (sd 0.05): the interval over
    seed means must cover the true mean in about 95% of 4,000 simulated studies."""
    rng = np.random.default_rng(0)
    hits = 0
    trials = 4000
    for _ in range(trials):
        seeds = 0.6 + rng.normal(0, 0.03, (3, 1))
        found = estimate(seeds + rng.normal(0, 0.05, (3, 4)))
        hits += found.low <= 0.6 <= found.high
    assert 0.935 <= hits / trials <= 0.965  # binomial sd of the rate: 0.0034


def test_paired_comparison_on_a_known_case():
    b = np.array([[0.70, 0.72, 0.68], [0.75, 0.71, 0.69]])
    d = np.array([[0.01, 0.03, -0.01], [0.02, 0.00, 0.01]])
    found = compare(b + d, b)
    # six differences: mean 0.01, sd 0.014142, t = 1.7321 on 5 degrees of freedom -> p = 0.1438
    assert found.difference.mean == pytest.approx(0.01)
    assert found.p_draws == pytest.approx(0.1438, abs=5e-4)
    # per seed: 0.01 and 0.01 -> no spread: a t-test has nothing to say (not "certain")
    assert np.isnan(found.p_seeds) and found.seeds_agreeing == 2
    assert compare(b, b).p_draws == 1.0 and compare(b, b).seeds_agreeing == 0


def test_pairing_removes_what_the_two_share():
    """Draws move both models alike: the paired test sees a small constant gain that an unpaired
    look at the two spreads would drown."""
    rng = np.random.default_rng(1)
    shared = rng.normal(0.7, 0.1, (3, 10))
    found = compare(shared + 0.005 + rng.normal(0, 0.001, (3, 10)), shared)
    assert found.p_draws < 1e-6 and found.difference.low > 0
    with pytest.raises(ValueError, match="compare: expected two arrays of one shape"):
        compare(shared, shared[:, :5])


def test_findings_compare_losses_and_find_a_ranking_change():
    from xbarsim.studies.accuracy import StudyResult
    from xbarsim.studies.findings import ranking, report, robustness

    def cells(*values):
        return [[list(v) for v in seeds] for seeds in values]

    result = StudyResult(
        title="t", dataset="d", column_label="sigma", columns=(0.0, 0.1), rows=["A", "B"],
        accuracies={"A": cells([[0.9, 0.9]] * 3, [[0.5, 0.6], [0.55, 0.55], [0.5, 0.6]]),
                    "B": cells([[0.8, 0.8]] * 3, [[0.7, 0.72], [0.7, 0.68], [0.71, 0.69]])},
        float_accuracy={"A": [0.91, 0.92, 0.90], "B": [0.81, 0.80, 0.82]},
        draws=2, seeds=3, test_images=100, semantics="s", seconds=1.0)
    (kept,) = robustness(result, "B", "A")
    assert kept.comparison.difference.mean == pytest.approx((0.70 - 0.80) - (0.55 - 0.90))
    assert kept.comparison.p_draws < 1e-4 and kept.comparison.seeds_agreeing == 3
    (change,) = ranking(result)
    assert (change.float_leader, change.leader, change.column) == ("A", "B", 0.1)
    assert change.at_column.difference.mean == pytest.approx(0.70 - 0.55)
    assert change.in_float.difference.mean == pytest.approx(0.91 - 0.81)
    assert "B against A" in report(result)


def test_rows_with_fewer_trained_seeds_pair_on_the_seeds_they_share():
    from xbarsim.studies.accuracy import StudyResult
    from xbarsim.studies.findings import ranking, robustness

    # A has seeds 0, 1, 2; B only seeds 1 and 2 (seed 0 not trained): B's rows are seeds 1, 2
    result = StudyResult(
        title="t", dataset="d", column_label="sigma", columns=(0.0, 0.1), rows=["A", "B"],
        accuracies={"A": [[[0.9, 0.9]] * 3, [[0.1, 0.1], [0.5, 0.6], [0.55, 0.55]]],
                    "B": [[[0.8, 0.8]] * 2, [[0.7, 0.72], [0.7, 0.68]]]},
        float_accuracy={"A": [0.99, 0.92, 0.90], "B": [0.81, 0.80]},
        draws=2, seeds=3, test_images=100, semantics="s", seconds=1.0,
        extra={"row_seeds": {"A": [0, 1, 2], "B": [1, 2]}, "untrained": ["C"]})
    (kept,) = robustness(result, "B", "A")
    # losses: B -0.10, -0.08, -0.12, -0.10 (seeds 1, 2); A on seeds 1, 2 only: -0.4, -0.3, -0.35, -0.35
    assert kept.comparison.difference.mean == pytest.approx(np.mean([-0.1, -0.08, -0.12, -0.1])
                                                            - np.mean([-0.4, -0.3, -0.35, -0.35]))
    assert kept.comparison.difference.seeds == 2
    (change,) = ranking(result)  # float leader A (seeds 1, 2 shared: 0.92, 0.90 against 0.81, 0.80)
    assert change.in_float.difference.mean == pytest.approx((0.92 + 0.90 - 0.81 - 0.80) / 2)
    header = result.header()
    assert "B (seeds 1, 2)" in header and "Not trained, so not in this table: C" in header
    with pytest.raises(ValueError, match="share no training seed"):
        robustness(StudyResult(**{**result.__dict__, "extra": {"row_seeds": {"A": [0], "B": [1, 2]}}}), "B", "A")


def test_a_cell_that_varied_keeps_its_interval_even_when_seed_means_agree():
    from xbarsim.studies.accuracy import StudyResult

    result = StudyResult(
        title="t", dataset="d", column_label="sigma", columns=(0.0, 0.1), rows=["A"],
        accuracies={"A": [[[0.9, 0.9], [0.8, 0.8]], [[0.74, 0.86], [0.72, 0.88]]]},
        float_accuracy={"A": [0.91, 0.81]}, draws=2, seeds=2, test_images=100, semantics="s", seconds=1.0)
    row = result.table().splitlines()[-1]
    assert "| 80.0 [80.0, 80.0] |" in row  # draws varied; the two seed means are both 0.80
    assert "| 85.0 [21.5, 100.0] |" in row  # sigma 0: 0.85 +- 12.71 * 0.05 / sqrt(2), clipped
