"""The ``neurosim`` profile against a direct numpy transcription of NeuroSim V1.4's formulas,
and the semantics options it is made of (per-cycle variation, dynamic ADC, mid-scale dummy column)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from xbarsim.errors import ConfigError
from xbarsim.functional import CrossbarSpec, apply_profile, exact_mvm, program
from xbarsim.nn import Model
from xbarsim.workload import load_workload

from ..neurosim_reference import qlinear_inference, to_integer_units


def neurosim_spec(**changes) -> CrossbarSpec:
    base = CrossbarSpec(rows=64, cols=64, cell_bits=4, weight_bits=8, input_bits=8, adc_bits=6)
    return dataclasses.replace(apply_profile(base, "neurosim"), **changes)


def reference(x, w, spec, vari=0.0, rng=None):
    out = qlinear_inference(x, w, wl_weight=spec.weight_bits, wl_input=spec.input_bits, cellBit=spec.cell_bits,
                            subArray=spec.rows, ADCprecision=spec.adc_bits, onoffratio=spec.on_off_ratio,
                            vari=vari, rng=rng or np.random.default_rng(0))
    return to_integer_units(out, x, spec.weight_bits, spec.input_bits)


def test_profile_sets_neurosim_semantics():
    spec = neurosim_spec()
    assert (spec.variation_draw, spec.on_off_ratio, spec.adc_range, spec.reference_column) == \
        ("cycle", 10.0, "dynamic", "midscale")
    assert apply_profile(spec, "chip") is spec
    with pytest.raises(ValueError, match="profile: expected one of chip, neurosim, got 'neuro'"):
        apply_profile(spec, "neuro")
    with pytest.raises(ConfigError, match="adc_range: expected 'dynamic' when reference_column is 'midscale'"):
        dataclasses.replace(spec, adc_range="full_scale")


@pytest.mark.parametrize("on_off, cell_bits, adc_bits", [(16.0, 4, 6), (2.0, 1, 5), (4.0, 2, 8)])
def test_noiseless_mvm_equals_neurosim_formulas(on_off, cell_bits, adc_bits):
    """Without variation the arithmetic is deterministic: xbarsim must give NeuroSim's numbers.

    On/off ratios of 2**cell_bits make G_off one level step in xbarsim's units and 1/on_off in
    NeuroSim's: every partial sum is then exact in binary floating point in both, and the two
    floors agree exactly.
    """
    rng = np.random.default_rng(1)
    spec = neurosim_spec(on_off_ratio=on_off, cell_bits=cell_bits, adc_bits=adc_bits)
    w = rng.integers(-127, 128, (150, 9))  # 3 subarrays of 64 rows, the last partial
    x = rng.integers(0, 256, (40, 150))
    got = program(w, spec, rng=0).mvm(x)
    expected = reference(x, w, spec)
    assert np.allclose(got, expected, rtol=1e-12, atol=1e-9)
    assert not np.allclose(got, exact_mvm(x, w), rtol=1e-3)  # the coarse ADC does matter here


def test_noiseless_mvm_at_neurosims_default_on_off_ratio():
    """At on/off 10, G_off (1/10 in NeuroSim's units, 5/3 level steps in xbarsim's) is inexact in
    binary floating point, and many partial sums, above all the dummy column's multiples of the
    mid-scale conductance, sit exactly on a code boundary of the floor quantizer: which side the
    rounding error falls on decides the code, in NeuroSim itself as here. The two then differ by
    such flips only: far less than either differs from the exact product."""
    rng = np.random.default_rng(2)
    spec = neurosim_spec()
    w = rng.integers(-127, 128, (150, 9))
    x = rng.integers(0, 256, (40, 150))
    got = program(w, spec, rng=0).mvm(x)
    expected = reference(x, w, spec)
    adc_error = np.abs(expected - exact_mvm(x, w)).mean()
    assert np.abs(got - expected).mean() < 0.25 * adc_error


def test_tiny_model_equals_neurosim_layer_by_layer():
    """A two-layer model through xbarsim.nn with the profile equals NeuroSim's formulas applied to
    each layer's quantized operands (xbarsim's quantization, NeuroSim's crossbar arithmetic)."""
    rng = np.random.default_rng(3)
    network = load_workload({"version": 1, "name": "mlp", "input": {"H": 1, "W": 1, "C": 100},
                             "layers": [{"name": "fc1", "type": "fc", "M": 24, "activation": "relu"},
                                        {"name": "fc2", "type": "fc", "M": 10}]})
    weights = {"fc1": {"weight": rng.normal(0, 0.1, (24, 100)), "bias": rng.normal(0, 0.1, 24)},
               "fc2": {"weight": rng.normal(0, 0.3, (10, 24)), "bias": rng.normal(0, 0.1, 10)}}
    x = rng.random((30, 100, 1, 1))
    spec = neurosim_spec(on_off_ratio=16.0)
    programmed = Model(network, weights).program(spec, calibration=x, rng=0)
    got = programmed.forward(x, batch=len(x))

    h = x.reshape(len(x), -1)
    for name in ("fc1", "fc2"):
        q = programmed.quantization[name]
        x_int = np.clip(np.rint(h / q.input_scale), 0, 255).astype(np.int64)
        h = reference(x_int, q.weights[0], spec) * q.weight_scale * q.input_scale + weights[name]["bias"]
        if name == "fc1":
            h = np.maximum(h, 0)
    assert np.allclose(got, h, rtol=1e-9, atol=1e-9)


def test_per_cycle_variation_matches_neurosim_in_distribution():
    """With vari the draws differ, so compare distributions over many calls: the mean and the
    standard deviation of every output, xbarsim against the reference."""
    rng = np.random.default_rng(4)
    spec = neurosim_spec(variation_sigma=0.1, on_off_ratio=10.0, adc_bits=7)
    w = rng.integers(-127, 128, (80, 4))
    x = rng.integers(0, 256, (6, 80))
    matrix = program(w, spec, rng=0)
    calls = 300
    ours = np.stack([matrix.mvm(x) for _ in range(calls)])
    draws = np.random.default_rng(5)
    theirs = np.stack([reference(x, w, spec, vari=0.1, rng=draws) for _ in range(calls)])
    spread = np.sqrt((ours.var(axis=0) + theirs.var(axis=0)) / calls)
    assert np.all(np.abs(ours.mean(axis=0) - theirs.mean(axis=0)) < 4.5 * spread)  # 24 outputs, 4.5 sigma
    ratio = ours.std(axis=0) / theirs.std(axis=0)
    assert np.all((ratio > 0.8) & (ratio < 1.25))  # sd of a 300-sample sd ratio: about 4%
    assert theirs.std(axis=0).min() > 0  # the variation is visible


def test_variation_draw_programming_is_fixed_and_cycle_is_redrawn():
    rng = np.random.default_rng(6)
    w = rng.integers(-127, 128, (50, 5))
    x = rng.integers(0, 256, (8, 50))
    fixed = program(w, CrossbarSpec(rows=64, cols=64, cell_bits=4, adc_bits=12, variation_sigma=0.1), rng=0)
    assert np.array_equal(fixed.mvm(x), fixed.mvm(x))
    cycle = program(w, CrossbarSpec(rows=64, cols=64, cell_bits=4, adc_bits=12, variation_sigma=0.1,
                                    variation_draw="cycle"), rng=0)
    first, second = cycle.mvm(x), cycle.mvm(x)
    assert not np.array_equal(first, second)
    assert np.array_equal(cycle.mvm(x, rng=7), cycle.mvm(x, rng=7))  # a seed repeats the draws


def test_per_cycle_variation_has_the_variance_of_independent_cells():
    """One column, full-scale ADC with a step of one level: per call and cycle every cell is
    redrawn, so the error of a single vector has variance ``sigma**2 * sum_t 4**t * sum_i d_ti**2
    * G_i**2`` (G_i its total conductance in level steps), plus the rounding of each cycle's
    (now continuous) partial sum to a whole level, ``sum_t 4**t / 12``: first principles."""
    spec = CrossbarSpec(rows=32, cols=8, cell_bits=2, weight_bits=2, input_bits=3, adc_bits=12,
                        variation_sigma=0.1, variation_draw="cycle", on_off_ratio=4.0)
    w = np.array([[1], [0], [-1], [-2], [1], [0]] * 5)  # 30 rows, one column
    x = np.array([[5, 7, 1, 0, 3, 6] * 5])
    matrix = program(w, spec, rng=0)
    errors = np.array([matrix.mvm(x)[0, 0] for _ in range(4000)]) - exact_mvm(x, w)[0, 0]
    g_off = 3 / (4.0 - 1)  # max level / (on/off - 1)
    level = (w[:, 0] + 2)  # offset mapping: w + 2**(B-1), one 2-bit cell
    conductance = g_off + level
    digits = (x[0][None, :] >> np.arange(3)[:, None]) & 1  # (T, K), LSB first
    variance = 0.1 ** 2 * np.sum(4.0 ** np.arange(3)[:, None] * digits ** 2 * conductance[None, :] ** 2)
    variance += np.sum(4.0 ** np.arange(3)) / 12
    assert abs(errors.mean()) < 4 * np.sqrt(variance / 4000)
    assert errors.var() == pytest.approx(variance, rel=0.1)  # sd of a 4000-sample variance: 2.2%


def test_dynamic_adc_is_the_floor_quantizer_over_each_call():
    """With ideal devices and rows = 1, every partial sum is one digit times one level, so the
    dynamic ADC's output can be written down from its definition."""
    spec = CrossbarSpec(rows=1, cols=16, cell_bits=3, weight_bits=3, input_bits=1, adc_bits=1,
                        adc_range="dynamic", on_off_ratio=float("inf"))
    w = np.array([[-3, -1, 0, 2, 3]])  # stored levels w + 4: 1, 3, 4, 6, 7
    x = np.array([[1], [0]])
    # one conversion kind: values {levels of vector 0, zeros of vector 1} -> lo 0, hi 7, step 7/2
    # codes floor(v / 3.5) in {0, 1}: levels 1, 3 -> 0; 4, 6, 7 -> 1 -> read back 0 or 3.5
    got = program(w, spec).mvm(x)
    read_back = np.array([0.0, 0.0, 3.5, 3.5, 3.5])
    assert np.array_equal(got[0], read_back - 4)  # minus the offset 2**(B-1) * x
    assert np.array_equal(got[1], np.zeros(5))


def test_dummy_column_conversions_are_counted():
    """NeuroSim digitizes the dummy column once per subarray, input bit and weight slice
    (``outputDummy`` inside the ``numSubArray`` x input-bit x ``cellRange`` loops)."""
    rng = np.random.default_rng(3)
    spec = neurosim_spec()  # 64 rows, 8-bit weights in two 4-bit cells, 8 input cycles
    w = rng.integers(-128, 128, (150, 5))
    x = rng.integers(0, 256, (7, 150))
    _, stats = program(w, spec, rng=0).mvm(x, stats=True)
    assert stats.reference_conversions == 7 * 3 * 8 * 2  # vectors x subarrays (150 rows / 64) x bits x slices
    _, plain = program(w, dataclasses.replace(spec, reference_column="g_off"), rng=0).mvm(x, stats=True)
    assert plain.reference_conversions == 0 and plain.adc_conversions == stats.adc_conversions
    assert (stats + stats).reference_conversions == 2 * stats.reference_conversions
