"""Accuracy studies on real data, the shipped models, and data-aware energy."""

from __future__ import annotations

import numpy as np
import pytest

import xbarsim
from xbarsim.cli import main
from xbarsim.config import evolve
from xbarsim.nn import accuracy
from xbarsim.studies.accuracy import Setting, early_exit, load_study_model, run_study
from xbarsim.errors import DataError
from xbarsim.studies.data import fashion_mnist_dir, load_dataset
from xbarsim.studies.families import FAMILIES, all_models, family


def test_datasets_work_offline():
    digits = load_dataset("digits")
    assert digits.x_train.shape == (1437, 1, 8, 8) and digits.x_test.shape == (360, 1, 8, 8)
    assert 0 <= digits.x_train.min() and digits.x_train.max() <= 1
    assert sorted(np.unique(digits.y_test)) == list(range(10))
    signals = load_dataset("mnist1d")
    assert signals.x_train.shape == (4000, 1, 1, 40) and signals.x_test.shape == (1000, 1, 1, 40)
    assert abs(signals.x_train.mean()) < 1e-6 and abs(signals.x_train.std() - 1) < 1e-6
    with pytest.raises(ValueError, match="dataset: expected one of fashion-mnist, digits, mnist1d"):
        load_dataset("cifar10")


@pytest.mark.parametrize("dataset", ["digits", "mnist1d"])
def test_every_study_model_ships_with_its_float_accuracy(dataset):
    data = load_dataset(dataset)
    specs = all_models(dataset)
    assert {m.name for m in specs} >= {m.name for f in FAMILIES for m in family(f, dataset)}
    for spec in specs:
        model, meta = load_study_model(spec)
        logits = model.forward(data.x_test)
        if isinstance(logits, dict):
            logits = logits[model.outputs[-1]]
        assert meta["float_test_accuracy"] == pytest.approx(accuracy(logits, data.y_test), abs=1 / len(data.y_test))
        assert meta["name"] == spec.name and model.network.name == spec.name
        assert len(model.outputs) == (3 if spec.exits else 1)


def test_a_tiny_study_runs_and_is_exact_at_sigma_zero():
    spec = family("depth", "digits")[1]
    model, meta = load_study_model(spec)
    arch = xbarsim.load_arch("study")
    setting = Setting(spec.name, (model,), (meta,), arch.crossbar)
    result = run_study([setting], "digits", "variation", values=(0.0, 0.2), draws=3, test_limit=120)
    at_zero, at_high = result.mean(spec.name)
    assert abs(at_zero - result.float_accuracy[spec.name][0]) <= 1 / 120 + 1e-12
    assert at_high < at_zero  # variation costs accuracy on average
    zero, high = result.estimates(spec.name)
    assert zero.low == zero.high == zero.mean  # nothing random at sigma 0
    assert high.basis == "draws" and high.low < high.mean < high.high
    assert result.seconds < 60
    table = result.table()
    assert spec.name in table and "0.2" in table and "first 120 digits test images" in table
    assert "1 training seed x 3 draws" in table and "drawn once per programming" in table
    cache = {}
    first = run_study([setting], "digits", "variation", values=(0.0, 0.2), draws=2, test_limit=60, cache=cache)
    evaluations = len(cache)
    again = run_study([setting], "digits", "variation", values=(0.0, 0.2), draws=2, test_limit=60, cache=cache)
    assert evaluations == 3 and len(cache) == 3 and again.accuracies == first.accuracies


def test_a_study_extended_with_a_new_seed_reuses_the_stored_cells_and_equals_a_full_run():
    from xbarsim.errors import ArgumentError
    from xbarsim.studies.accuracy import StudyResult

    spec = family("depth", "digits")[0]
    model, meta = load_study_model(spec)
    crossbar = xbarsim.load_arch("study").crossbar
    # the same weights stand in for a second training seed: its cells must equal seed 0's
    both = Setting(spec.name, (model, model), (meta, meta), crossbar, seeds=(0, 1))
    one = Setting(spec.name, (model,), (meta,), crossbar, seeds=(0,))
    run = dict(dataset="digits", sweep="variation", values=(0.0, 0.2), draws=2, test_limit=60)
    full = run_study([both], **run)
    earlier = run_study([one], **run)
    assert run_study([both], reuse=earlier, **run).accuracies == full.accuracies
    # the stored cells are taken as they are, not evaluated again
    marked = StudyResult.from_json(earlier.to_json())
    marked.accuracies = {spec.name: [[[0.125, 0.25]], [[0.375, 0.5]]]}
    extended = run_study([both], reuse=marked, **run)
    assert [cell[0] for cell in extended.accuracies[spec.name]] == [[0.125, 0.25], [0.375, 0.5]]
    assert [cell[1] for cell in extended.accuracies[spec.name]] == [cell[1] for cell in full.accuracies[spec.name]]
    with pytest.raises(ArgumentError, match="reuse.draws: expected 3"):
        run_study([both], reuse=earlier, **{**run, "draws": 3})
    with pytest.raises(ArgumentError, match="reuse.test_images: expected 50"):
        run_study([both], reuse=earlier, **{**run, "test_limit": 50})


def test_neurosim_semantics_run_and_say_so(tmp_path, capsys):
    out = tmp_path / "ns"
    assert main(["accuracy", "--dataset", "digits", "--family", "depth", "--semantics", "neurosim", "--values", "0.1",
                 "--draws", "1", "--test-limit", "20", "--quiet", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "redrawn every input cycle" in text and "on/off ratio 10" in text and "floor rounding" in text
    assert "200 images per batch" in text and (out / "digits-depth-variation-neurosim.json").exists()
    assert main(["accuracy", "--dataset", "digits", "--semantics", "neurosim", "--adc-range", "full_scale",
                 "--values", "0", "--draws", "1", "--test-limit", "5", "--quiet", "--out", str(out)]) == 1
    assert "adc_range: expected 'dynamic' when reference_column is 'midscale'" in capsys.readouterr().err


def test_weight_bits_and_noise_parameters_change_accuracy_monotonically_on_average():
    spec = family("depth", "mnist1d")[1]
    model, meta = load_study_model(spec)
    arch = xbarsim.load_arch("study")
    setting = Setting(spec.name, (model,), (meta,), arch.crossbar)
    bits = run_study([setting], "mnist1d", "weight-bits", values=(2, 8), draws=1, test_limit=200).mean(spec.name)
    assert bits[0] < bits[1]
    noise = run_study([setting], "mnist1d", "activation-noise-rescaled", values=(0.0, 0.3), draws=2,
                      test_limit=200).mean(spec.name)
    assert noise[1] < noise[0]


def test_early_exit_policy_reports_shares_that_add_up():
    spec = family("exits", "digits")[0]
    model, meta = load_study_model(spec)
    setting = Setting(spec.name, (model,), (meta,), xbarsim.load_arch("study").crossbar)
    policy = early_exit(setting, "digits", threshold=0.5, sigmas=(0.0, 0.1), draws=2, test_limit=100)
    for shares in policy["shares"]:
        assert len(shares) == 3 and sum(shares) == pytest.approx(1.0)
    assert 0 < policy["accuracy"][0] <= 1 and policy["low"][0] == policy["high"][0]


def test_accuracy_command(tmp_path, capsys):
    out = tmp_path / "study"
    assert main(["accuracy", "--dataset", "digits", "--family", "width", "--values", "0,0.1", "--draws", "1",
                 "--test-limit", "40", "--quiet", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "digits-d10-w8-k3" in text and "digits-d10-w32-k3" in text
    assert (out / "digits-width-variation.png").exists() and (out / "digits-width-variation.json").exists()
    assert main(["accuracy", "--dataset", "digits", "--family", "exits", "--values", "0", "--draws", "1",
                 "--test-limit", "30", "--quiet", "--out", str(out)]) == 0
    assert "early exit at softmax entropy" in capsys.readouterr().out
    with pytest.raises(SystemExit) as usage:
        main(["accuracy", "--values", "x"])
    assert usage.value.code == 2
    assert "expected numbers separated by commas" in capsys.readouterr().err


@pytest.fixture(scope="module")
def base_model():
    return load_study_model(family("depth", "digits")[1])[0]


def test_data_aware_counts_and_zero_skipping(base_model, tmp_path):
    x = load_dataset("digits").x_test[:16]
    arch = xbarsim.load_arch("study")
    structural = xbarsim.simulate(arch, base_model.network, batch=16)
    aware = xbarsim.simulate(arch, base_model.network, inputs=x, weights=base_model)
    skipping = xbarsim.simulate(evolve(arch, {"pe.zero_skip": True}), base_model.network, inputs=x, weights=base_model,
                                trace=tmp_path / "aware.h5")
    assert aware.batch == 16 and aware.cycles == structural.cycles
    assert aware.count("xbar.row_activation") < structural.count("xbar.row_activation")
    assert aware.count("adc.convert") == structural.count("adc.convert")
    assert skipping.count("xbar.read") < structural.count("xbar.read")
    assert skipping.count("adc.convert") < structural.count("adc.convert")
    # fewer actions, less dynamic energy; static energy follows the run's length, which skipping
    # need not shorten (see the FIFO note below)
    assert skipping.energy.dynamic_pj < aware.energy.dynamic_pj < structural.energy.dynamic_pj
    # every MVM is at most as long as without skipping (the run as a whole need not be: FIFO queues
    # can reorder, docs/architecture-model.md "Scheduling anomalies")
    mvm = structural.stream.kind_mask("mvm")
    assert np.all(skipping.durations[mvm] <= structural.durations[mvm])
    assert skipping.durations[mvm].sum() < structural.durations[mvm].sum()
    total = aware.data_stats["total"]
    assert 0 < total["active_row_fraction"] < 1 and total["read_fraction"] == 1
    assert 0 < skipping.data_stats["total"]["read_fraction"] < 1
    # the trace keeps it: replay reproduces it, re-timing keeps the executed items
    with xbarsim.open_trace(tmp_path / "aware.h5") as trace:
        assert trace.data_aware and trace.functional_stats["total"] == pytest.approx(skipping.data_stats["total"])
        again = xbarsim.replay(trace)
        assert again.cycles == skipping.cycles and again.energy_pj == skipping.energy_pj
        faster = evolve(skipping.arch, {"dram.bandwidth": "64GB/s"})
        retimed = xbarsim.replay(trace, arch=faster)
        fresh = xbarsim.simulate(faster, base_model.network, inputs=x, weights=base_model)
        assert retimed.cycles == fresh.cycles and retimed.energy_pj == fresh.energy_pj
        with pytest.raises(xbarsim.ReplayError, match="crossbar.variation_sigma"):
            xbarsim.replay(trace, arch=evolve(skipping.arch, {"crossbar.variation_sigma": 0.1}))


def test_all_zero_inputs_drive_no_rows(base_model):
    x = np.zeros((2, 1, 8, 8))
    arch = evolve(xbarsim.load_arch("study"), {"pe.zero_skip": True})
    result = xbarsim.simulate(arch, base_model.network, inputs=x, weights=base_model)
    first = result.network.layers[0].name
    assert result.count("xbar.row_activation", first) == 0 and result.count("xbar.read", first) == 0
    stream = result.stream
    mvms = stream.op_aux[stream.kind_mask("mvm") & (stream.op_layer == 0)]
    assert len(mvms) and (stream.activity["items"][mvms] == 0).all()
    with pytest.raises(ValueError, match="inputs and weights: a data-aware run needs both"):
        xbarsim.simulate(arch, base_model.network, inputs=x)
    with pytest.raises(ValueError, match="batch: expected 2"):
        xbarsim.simulate(arch, base_model.network, inputs=x, weights=base_model, batch=5)


def test_training_script_exports_a_model(tmp_path):
    pytest.importorskip("torch")
    from xbarsim.studies.train import main as train

    assert train(["--dataset", "digits", "--only", "digits-d6-w16-k3", "--epochs", "1", "--out", str(tmp_path)]) == 0
    model, meta = xbarsim.nn.load_model(tmp_path / "digits-d6-w16-k3.npz")
    assert meta["epochs"] == 1 and 0 < meta["float_test_accuracy"] <= 1 and model.network.name == "digits-d6-w16-k3"


fashion_installed = pytest.mark.skipif(not (fashion_mnist_dir() / "t10k-labels-idx1-ubyte.gz").is_file(),
                                       reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")


@fashion_installed
def test_fashion_mnist_loads_from_the_debian_package():
    data = load_dataset("fashion-mnist")
    assert data.x_train.shape == (60000, 1, 28, 28) and data.x_test.shape == (10000, 1, 28, 28)
    assert data.x_train.dtype == np.float32 and data.x_train.min() == 0 and data.x_train.max() == 1
    assert np.array_equal(np.bincount(data.y_test), np.full(10, 1000))  # 1,000 test images per class
    assert np.array_equal(np.bincount(data.y_train), np.full(10, 6000))


def test_fashion_mnist_missing_or_damaged_gives_one_line_with_the_install_hint(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XBARSIM_FASHION_MNIST", str(tmp_path))
    load_dataset.cache_clear()
    try:
        with pytest.raises(DataError, match=r"apt-get install dataset-fashion-mnist") as missing:
            load_dataset("fashion-mnist")
        assert "\n" not in str(missing.value) and str(tmp_path) in str(missing.value)
        assert main(["accuracy", "--dataset", "fashion-mnist", "--quiet", "--out", str(tmp_path / "out")]) == 1
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "apt-get install dataset-fashion-mnist" in err
        for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                     "t10k-labels-idx1-ubyte.gz"):
            (tmp_path / name).write_bytes(b"not gzip")
        with pytest.raises(DataError, match="fashion-mnist: cannot read"):
            load_dataset("fashion-mnist")
        import gzip
        with gzip.open(tmp_path / "t10k-labels-idx1-ubyte.gz", "wb") as handle:
            handle.write((0x803).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes(3))
        for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
            (tmp_path / name).unlink()
        with pytest.raises(DataError):
            load_dataset("fashion-mnist")
    finally:
        load_dataset.cache_clear()
    assert not list((tmp_path).glob("out*"))  # a failed run writes nothing


@fashion_installed
def test_fashion_mnist_models_ship_with_seeds_accuracy_and_training_time():
    data = load_dataset("fashion-mnist")
    specs = all_models("fashion-mnist")
    assert len(specs) == 27 and {s.seed for s in specs} == {0, 1, 2}
    assert {s.depth for s in family("depth", "fashion-mnist")} == {8, 14, 20, 26}
    assert [spec.name for spec in specs if not spec.path.is_file()] == []  # every model ships, 3 seeds each
    for spec in specs:
        model, meta = load_study_model(spec)
        assert meta["name"] == spec.name and meta["seed"] == spec.seed and meta["train_seconds"] > 0
        assert 0.8 < meta["float_test_accuracy"] < 0.95 and meta["export_agreement"] >= 0.99
        assert len(model.outputs) == (3 if spec.exits else 1)
        assert spec.path.stat().st_size < 4 << 20
    model, meta = load_study_model(specs[0])
    logits = model.forward(data.x_test[:500])
    torch_first = meta["float_test_accuracy"]
    assert abs(accuracy(logits, data.y_test[:500]) - torch_first) < 0.05  # 500 images vs all 10,000


def test_family_rows_use_the_trained_seeds_and_name_what_is_missing():
    from xbarsim.studies.accuracy import family_settings

    arch = xbarsim.load_arch("study")
    specs = family("kernel", "fashion-mnist")
    trained = [spec for spec in specs if spec.path.is_file()]
    rows = family_settings("kernel", "fashion-mnist", arch, trained_only=True)
    expected = {}
    for spec in trained:
        expected.setdefault(spec.architecture, []).append(spec.seed)
    assert {row.label: list(row.seeds) for row in rows} == expected
    assert all(len(row.models) == len(row.seeds) == len(row.metas) for row in rows)
    if len(trained) < len(specs):
        with pytest.raises(DataError, match="no trained weights for fashion-mnist-d14-w16-k"):
            family_settings("kernel", "fashion-mnist", arch)
