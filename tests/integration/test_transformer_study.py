"""The transformer-vs-CNN study: shipped models, confidence intervals, a tiny run, the command."""

from __future__ import annotations

import json

import numpy as np
import pytest

import xbarsim
from xbarsim.cli import main
from xbarsim.nn import accuracy
from xbarsim.studies.data import load_dataset
from xbarsim.studies.transformer import COMPARISON, SEEDS, comparison_models, mean_ci, parameter_count, run_comparison


@pytest.mark.parametrize("dataset", sorted(COMPARISON))
def test_shipped_comparison_models_give_their_documented_float_accuracy(dataset):
    data = load_dataset(dataset)
    models = comparison_models(dataset)
    for kind in ("transformer", "cnn"):
        assert len(models[kind]) == len(SEEDS[dataset]) >= 3
        for seed, (model, meta) in zip(SEEDS[dataset], models[kind]):
            assert meta["seed"] == seed and meta["dataset"] == dataset
            got = accuracy(model.forward(data.x_test), data.y_test)
            assert meta["float_test_accuracy"] == pytest.approx(got, abs=1 / len(data.y_test))
    vit = models["transformer"][0][0]
    assert {"matmul", "softmax", "layernorm", "tokens", "embedding"} <= {layer.type for layer in vit.network.layers}
    # "of similar parameter count": within 15% of each other
    sizes = [parameter_count(models[kind][0][0]) for kind in ("transformer", "cnn")]
    assert max(sizes) / min(sizes) < 1.15


def test_mean_ci_is_students_t_over_seeds():
    # t(0.975, 4) = 2.776 and t(0.975, 1) = 12.706 (tabulated)
    groups = [[0.5, 0.7], [0.6, 0.6], [0.9, 0.9], [0.8, 0.6], [0.7, 0.7]]
    means = np.array([0.6, 0.6, 0.9, 0.7, 0.7])
    mean, lo, hi = mean_ci(groups)
    half = 2.776 * means.std(ddof=1) / np.sqrt(5)
    assert mean == pytest.approx(0.7) and lo == pytest.approx(0.7 - half, abs=1e-3) and hi == pytest.approx(0.7 + half, abs=1e-3)
    mean, lo, hi = mean_ci([[0.2, 0.4]])  # one seed: the draws are the units
    assert (lo, hi) == (pytest.approx(0.3 - 12.706 * np.std([0.2, 0.4], ddof=1) / np.sqrt(2), abs=1e-3),
                        pytest.approx(0.3 + 12.706 * np.std([0.2, 0.4], ddof=1) / np.sqrt(2), abs=1e-3))
    assert mean_ci([[0.5], [0.5]]) == (0.5, 0.5, 0.5)


def test_mean_ci_covers_the_true_mean_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    trials, covered = 4000, 0
    for _ in range(trials):
        seed_effects = rng.normal(0.7, 0.05, 5)
        groups = [rng.normal(effect, 0.03, 4) for effect in seed_effects]
        _, lo, hi = mean_ci(groups)
        covered += lo <= 0.7 <= hi
    assert 0.935 < covered / trials < 0.965  # binomial sd of the share: 0.0034


def test_a_tiny_comparison_runs(tmp_path):
    arch = xbarsim.load_arch("study")
    result = run_comparison("digits", arch, sigmas=(0.0, 0.15), draws=2, seeds=(0, 1), test_limit=24)
    assert len(result.rows) == 3 and result.test_images == 24
    transformer_crossbar = result.rows[1]
    assert "crossbar" in transformer_crossbar and result.rows[2].startswith("CNN")
    for row in result.rows:
        cells = result.accuracies[row]
        assert len(cells) == 2 and all(len(seeds) == 2 and all(len(draws) == 2 for draws in seeds) for seeds in cells)
        (m0, lo0, hi0), (m1, lo1, hi1) = result.summary(row)
        assert lo0 <= m0 <= hi0 and lo1 <= m1 <= hi1
    assert "95% CI" in result.table() and "2 training seeds x 2 draws" in result.table()
    files = result.write(tmp_path, "t")
    assert json.loads(files["json"].read_text())["rows"] == result.rows and files["plot"].stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json", "t.md", "t.png"]


def test_transformer_study_command(tmp_path, capsys):
    out = tmp_path / "study"
    assert main(["accuracy", "--family", "transformer", "--dataset", "mnist1d", "--values", "0", "--draws", "1",
                 "--seeds", "1", "--dynamic", "digital", "--test-limit", "10", "--quiet", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "products digital" in text and "CNN" in text and "crossbar" not in text
    assert (out / "mnist1d-transformer-variation.md").exists()
    assert main(["accuracy", "--family", "transformer", "--dataset", "digits", "--seeds", "9", "--quiet",
                 "--out", str(out)]) == 1
    assert capsys.readouterr().err.strip() == ("xbarsim: error: --seeds: expected 1..5 (the trained seeds shipped for "
                                               "digits), got 9")
    assert main(["accuracy", "--family", "transformer", "--quiet", "--out", str(out)]) == 1  # fashion-mnist: none
    assert capsys.readouterr().err.strip() == ("xbarsim: error: --dataset: expected digits or mnist1d with --family "
                                               "transformer (the datasets its models are trained on), got fashion-mnist")
    assert main(["accuracy", "--family", "transformer", "--dataset", "digits", "--sweep", "read-noise", "--quiet",
                 "--out", str(out)]) == 1
    assert capsys.readouterr().err.strip() == ("xbarsim: error: --sweep: expected variation with --family transformer, "
                                               "got read-noise")
    assert main(["accuracy", "--family", "width", "--seeds", "2", "--quiet", "--out", str(out)]) == 1
    assert capsys.readouterr().err.strip() == ("xbarsim: error: --seeds: expected only with --family transformer, "
                                               "got it with width")
    # the study's files exist now: refused without --force, before any compute
    assert main(["accuracy", "--family", "transformer", "--dataset", "mnist1d", "--quiet", "--out", str(out)]) == 1
    assert "exists" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["accuracy", "--family", "transformer", "--dynamic", "analog"])
    assert "expected digital, crossbar or digital,crossbar" in capsys.readouterr().err
