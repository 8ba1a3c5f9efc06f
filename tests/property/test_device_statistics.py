"""Statistical checks of the device model: the configured distributions are the ones drawn.

Each test uses fixed seeds and tolerances of several standard errors, so it is deterministic
and fails only if the model is wrong.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from xbarsim.functional import CrossbarSpec, exact_mvm, program
from xbarsim.functional.devices import level_step_s, standard_normal


def programmed_ratio(spec, seed=0, shape=(256, 64)):
    rng = np.random.default_rng(seed)
    half = 1 << (spec.weight_bits - 1)
    w = rng.integers(-half, half, shape)
    pm = program(w, spec, rng=seed)
    return (pm.conductance_s / pm.nominal_conductance_s).ravel()


@pytest.mark.parametrize("model", ["gaussian", "lognormal"])
@pytest.mark.parametrize("sigma", [0.02, 0.1, 0.2])
def test_programming_variation_has_the_configured_mean_and_sigma(model, sigma):
    spec = CrossbarSpec(rows=64, cols=64, weight_bits=8, variation_sigma=sigma, variation_model=model,
                        on_off_ratio=10.0)
    ratio = programmed_ratio(spec)
    n = ratio.size  # 256 * 64 * 4 slices = 65536 cells
    assert abs(ratio.mean() - 1) < 5 * sigma / math.sqrt(n)
    # standard error of a sample sd is about sigma / sqrt(2n) (a bit more for lognormal tails)
    assert abs(ratio.std() - sigma) < 6 * sigma / math.sqrt(2 * n) * (3 if model == "lognormal" else 1)
    if model == "lognormal":
        assert ratio.min() > 0
        assert scipy_stats.skew(ratio) > 0  # lognormal is right-skewed


def test_gaussian_variation_is_gaussian():
    spec = CrossbarSpec(rows=64, cols=64, weight_bits=8, variation_sigma=0.05, on_off_ratio=10.0)
    ratio = programmed_ratio(spec, seed=3)
    statistic = scipy_stats.kstest((ratio - 1) / 0.05, "norm").statistic
    assert statistic < 1.36 * 1.5 / math.sqrt(ratio.size)  # well inside a 5% KS band


@pytest.mark.parametrize("on, off", [(0.01, 0.0), (0.0, 0.05), (0.03, 0.02)])
def test_stuck_at_rates(on, off):
    spec = CrossbarSpec(rows=64, cols=64, weight_bits=8, stuck_at_on=on, stuck_at_off=off)
    rng = np.random.default_rng(4)
    w = rng.integers(-128, 128, (256, 64))
    pm = program(w, spec, rng=5)
    cells = pm.cells_used
    stuck_on, stuck_off = pm.stuck_cells
    for observed, p in ((stuck_on, on), (stuck_off, off)):
        assert abs(observed - p * cells) <= 5 * math.sqrt(cells * p * (1 - p)) + 1e-9
    g = pm.conductance_s
    step = level_step_s(spec)
    on_cells = np.isclose(g, spec.g_on, rtol=1e-12)
    assert on_cells.sum() >= stuck_on  # stuck-on cells sit exactly at G_on
    assert np.all(g >= spec.g_off - 1e-18) and np.all(g <= spec.g_on + step * 1e-9)


def test_read_noise_variance_matches_the_second_product():
    """Per-read column noise has variance sigma_r**2 * sum_i v_i**2 * g_i**2."""
    sigma_r = 0.05
    spec = CrossbarSpec(rows=64, cols=8, cell_bits=2, weight_bits=2, input_bits=2, dac_bits=2,
                        adc_bits=12, read_noise_sigma=sigma_r, on_off_ratio=5.0, variation_sigma=0.1)
    rng = np.random.default_rng(6)
    w = rng.integers(-2, 2, (64, 8))
    x = rng.integers(0, 4, (1, 64))
    pm = program(w, spec, rng=7)
    reads = 20000
    digits = pm._digits(np.repeat(x, reads, axis=0))
    analog = pm._analog(digits, np.random.default_rng(8))[0, 0, :, 0, :]  # (reads, M); one row tile, cycle, kind
    g = pm._cells.conductance.reshape(1, 1, 64, 8)[0, 0]  # level units, offset mapping: one slice
    predicted = sigma_r**2 * (x[0].astype(float) ** 2) @ (g**2)
    observed = analog.var(axis=0)
    # sample variance has relative standard error sqrt(2 / reads) = 1%
    assert np.all(np.abs(observed / predicted - 1) < 0.05)
    noiseless = analog.mean(axis=0)
    expected_mean = x[0].astype(float) @ (g - pm._cells.g_off)
    assert np.all(np.abs(noiseless - expected_mean) < 5 * np.sqrt(predicted / reads))


def test_fast_normal_sampler_is_standard_normal():
    z = standard_normal(np.random.default_rng(9), (1_000_000,), np.float64)
    assert abs(z.mean()) < 5 / 1000 and abs(z.var() - 1) < 5 * math.sqrt(2 / 1e6)
    assert scipy_stats.kstest(z, "norm").statistic < 1.36 / 1000 * 1.5
    assert np.abs(z).max() < 4.34
    again = standard_normal(np.random.default_rng(9), (1_000_000,), np.float64)
    assert np.array_equal(z, again)
    small = standard_normal(np.random.default_rng(9), (10,), np.float32)
    assert small.dtype == np.float32 and small.shape == (10,)


def mean_abs_error(sigma, seeds=range(4)):
    spec = CrossbarSpec(rows=128, cols=128, weight_bits=8, input_bits=8, adc_bits=10, variation_sigma=sigma,
                        on_off_ratio=17.0)
    rng = np.random.default_rng(10)
    w = rng.integers(-128, 128, (256, 32))
    x = rng.integers(0, 256, (16, 256))
    exact = exact_mvm(x, w)
    return np.mean([np.abs(program(w, spec, rng=s).mvm(x) - exact).mean() for s in seeds])


def test_error_grows_with_programming_variation():
    errors = [mean_abs_error(s) for s in (0.0, 0.02, 0.05, 0.1, 0.2)]
    assert errors[0] == 0
    assert all(a < b for a, b in zip(errors, errors[1:])), errors


@settings(max_examples=10)
@given(st.sampled_from([0.01, 0.05]), st.integers(0, 2**16))
def test_read_noise_is_unbiased(sigma_r, seed):
    """Averaging many noisy reads converges to the noiseless analog result."""
    spec = CrossbarSpec(rows=32, cols=32, weight_bits=6, input_bits=4, adc_bits=14, read_noise_sigma=sigma_r,
                        adc_position="after_accumulation")
    rng = np.random.default_rng(seed)
    w = rng.integers(-32, 32, (32, 4))
    x = rng.integers(0, 16, (1, 32))
    pm = program(w, spec, rng=seed)
    mean = pm.mvm(np.repeat(x, 4000, axis=0)).mean(axis=0)
    exact = exact_mvm(x, w)[0]
    spread = sigma_r * np.sqrt(32.0) * 15 * 3 * 2 ** 6  # generous bound on one read's std
    assert np.all(np.abs(mean - exact) < 5 * spread / np.sqrt(4000) + 1)
