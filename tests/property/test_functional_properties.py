"""Properties of the functional model: exactness, ADC error bounds, agreement with a naive model,
determinism, clipping, and action-count conservation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xbarsim.functional import CrossbarSpec, MvmStats, exact_mvm, mvm, program
from xbarsim.functional.converters import digit_bounds
from xbarsim.functional.slicing import slice_widths
import xbarsim.functional.matrix as matrix_module

from ..naive_crossbar import digits_of, naive_mvm, phases_of
from ..strategies import clipping_problems, crossbar_specs, input_matrices, mvm_problems, seeds, weight_matrices


def conversions_of(spec):
    """The input cycles each conversion integrates: one each per cycle, the phases after accumulation."""
    return [[t] for t in range(spec.input_cycles)] if spec.adc_position == "per_cycle" else phases_of(spec)


def phase_matrix(spec) -> np.ndarray:
    """(T, G): the weight of cycle t's digit in conversion g (its binary weight within its phase)."""
    out = np.zeros((spec.input_cycles, len(conversions_of(spec))))
    for g, cycles in enumerate(conversions_of(spec)):
        for t in cycles:
            out[t, g] = 2.0 ** ((t - cycles[0]) * spec.dac_bits)
    return out


def conversion_weights(pm) -> np.ndarray:
    """|shift-and-add weight| x step of every (conversion, column kind), shape (G, J)."""
    spec = pm.spec
    wg = np.exp2([cycles[0] * spec.dac_bits for cycles in conversions_of(spec)])
    wj = np.tile(np.exp2(np.arange(spec.slices) * spec.cell_bits), spec.polarities)
    return wg[:, None] * wj[None, :] * pm.ranges.step


@given(mvm_problems())
def test_ideal_crossbar_is_exact(problem):
    """Ideal devices + an ADC with exact_adc_bits over the full-scale range = the integer product."""
    spec, w, x = problem
    assert np.array_equal(program(w, spec).mvm(x), exact_mvm(x, w))


@given(mvm_problems(crossbar_specs(exact_adc=False)))
def test_adc_error_is_bounded_by_half_a_step_per_conversion(problem):
    """Full-scale ranges never clip, so each digitized partial sum is off by at most step/2."""
    spec, w, x = problem
    pm = program(w, spec)
    y, stats = pm.mvm(x, stats=True)
    assert stats.clipped_conversions == 0
    bound = pm.tiling.row_tiles * conversion_weights(pm).sum() / 2
    error = np.abs(y - exact_mvm(x, w))
    assert np.all(error <= bound * (1 + 1e-9) + 1e-6)


@settings(max_examples=40)
@given(mvm_problems(crossbar_specs(ideal=False, exact_adc=False, read_noise_sigma=0.0), max_k=30, max_m=5, max_n=3),
       seeds)
def test_vectorized_model_agrees_with_naive_loops(problem, seed):
    """The batched-GEMM implementation equals a loop over vectors, cycles, rows and columns.

    Differences are allowed only where a conversion lands within float rounding of an ADC
    decision boundary, and then only by that conversion's weight.
    """
    spec, w, x = problem
    pm = program(w, spec, rng=seed)
    fast = pm.mvm(x)
    slow = naive_mvm(pm, w, x)
    slack = _ambiguous_weight(pm, w, x)
    scale = np.abs(exact_mvm(x, w)).max() + conversion_weights(pm).sum() * pm.tiling.row_tiles * 2 ** spec.adc_bits
    assert np.all(np.abs(fast - slow) <= slack + 1e-5 * scale + 1e-6)


def _ambiguous_weight(pm, w, x):
    """Per output: summed weight of conversions within float noise of a rounding boundary."""
    spec = pm.spec
    K, M = pm.shape
    level_step = (spec.g_on - spec.g_off) / spec.max_level
    signal = pm.conductance_s / level_step - spec.g_off / level_step
    weights = conversion_weights(pm)
    slack = np.zeros((x.shape[0], M))
    rows = spec.rows
    for n in range(x.shape[0]):
        digits = np.array([digits_of(int(v), spec) for v in x[n]])  # (K, T)
        drives = digits @ phase_matrix(spec)  # (K, G): what each conversion integrates
        for r in range(pm.tiling.row_tiles):
            part = slice(r * rows, min(K, (r + 1) * rows))
            analog = np.einsum("kg,pskm->gpsm", drives[part], signal[:, :, part, :])
            G = analog.shape[0]
            analog = analog.reshape(G, -1, M)  # (G, J, M)
            q = (analog - pm.ranges.lo[:, :, None]) / pm.ranges.step[:, :, None]
            near = np.abs(np.abs(q - np.floor(q)) - 0.5) < 1e-3 + 1e-5 * np.abs(q)
            slack[n] += (near * weights[:, :, None]).sum(axis=(0, 1))
    return slack


@given(mvm_problems(crossbar_specs(ideal=False, exact_adc=False)), seeds)
def test_same_seed_same_bits(problem, seed):
    spec, w, x = problem
    first = program(w, spec, rng=seed).mvm(x)
    second = program(w, spec, rng=seed).mvm(x)
    assert np.array_equal(first, second)
    # the convenience function draws the same way
    assert np.array_equal(mvm(w, x, spec, rng=seed), first)


def test_different_seeds_differ_when_devices_vary():
    spec = CrossbarSpec(rows=32, cols=32, weight_bits=6, input_bits=4, adc_bits=12, variation_sigma=0.1)
    rng = np.random.default_rng(0)
    w, x = rng.integers(-32, 32, (40, 10)), rng.integers(0, 16, (8, 40))
    assert not np.array_equal(program(w, spec, rng=1).mvm(x), program(w, spec, rng=2).mvm(x))


def test_successive_reads_draw_fresh_noise_reproducibly():
    spec = CrossbarSpec(rows=32, cols=32, weight_bits=6, input_bits=4, adc_bits=12, read_noise_sigma=0.05)
    rng = np.random.default_rng(0)
    w, x = rng.integers(-32, 32, (40, 10)), rng.integers(0, 16, (8, 40))
    a = program(w, spec, rng=7)
    b = program(w, spec, rng=7)
    first, second = a.mvm(x), a.mvm(x)
    assert not np.array_equal(first, second)  # read noise is per read
    assert np.array_equal(first, b.mvm(x)) and np.array_equal(second, b.mvm(x))
    assert np.array_equal(a.mvm(x, rng=3), b.mvm(x, rng=3))


def test_explicit_range_too_small_clips():
    spec = CrossbarSpec(rows=64, cols=64, weight_bits=8, input_bits=8, adc_bits=9)
    rng = np.random.default_rng(1)
    w, x = rng.integers(-128, 128, (64, 16)), rng.integers(0, 256, (32, 64))
    small = dataclasses.replace(spec, adc_range="explicit", adc_full_scale=20.0)
    y_full, s_full = program(w, spec).mvm(x, stats=True)
    y_small, s_small = program(w, small).mvm(x, stats=True)
    assert s_full.clipped_conversions == 0 and np.array_equal(y_full, exact_mvm(x, w))
    assert s_small.clipped_conversions > 0
    assert np.abs(y_small - exact_mvm(x, w)).mean() > 100


def test_calibrated_range_covers_the_data_and_can_clip():
    spec = CrossbarSpec(rows=64, cols=64, weight_bits=8, input_bits=8, adc_bits=9, adc_range="calibrated")
    rng = np.random.default_rng(2)
    w, x = rng.integers(-128, 128, (100, 16)), rng.integers(0, 256, (32, 100))
    with pytest.raises(ValueError, match="calibrate"):
        program(w, spec).mvm(x)
    pm = program(w, spec, calibration=x)
    y, stats = pm.mvm(x, stats=True)
    assert stats.clipped_conversions == 0 and np.array_equal(y, exact_mvm(x, w))
    assert np.all(pm.ranges.hi <= 64 * 3 + 1)  # no wider than the data needs
    tight = program(w, dataclasses.replace(spec, adc_percentile=90.0), calibration=x)
    assert tight.mvm(x, stats=True)[1].clipped_conversions > 0
    assert np.array_equal(mvm(w, x, spec), y)


@settings(max_examples=25)
@given(mvm_problems(crossbar_specs(ideal=False, exact_adc=False), max_n=8), st.integers(1, 7))
def test_stats_count_every_conversion_and_add_up(problem, split):
    spec, w, x = problem
    pm = program(w, spec, rng=0)
    _, whole = pm.mvm(x, stats=True, rng=1)
    t = pm.tiling
    n = x.shape[0]
    assert whole.adc_conversions == n * t.row_tiles * spec.conversions_per_read_group * t.physical_columns
    assert whole.array_reads == n * spec.input_cycles * t.arrays
    assert whole.row_drives == n * spec.input_cycles * t.in_features * t.col_tiles
    digits = np.array([[digits_of(int(v), spec) for v in row] for row in x])  # (N, K, T)
    assert whole.active_row_drives == np.count_nonzero(digits) * t.col_tiles
    zero = 0
    for r in range(t.row_tiles):
        tile = digits[:, r * spec.rows:(r + 1) * spec.rows, :]
        zero += int(np.count_nonzero(~tile.any(axis=1)))
    assert whole.zero_bitplanes == zero
    cut = min(split, n - 1) if n > 1 else 0
    if cut:
        _, a = pm.mvm(x[:cut], stats=True)
        _, b = pm.mvm(x[cut:], stats=True)
        both = a + b
        for field in ("vectors", "array_reads", "row_drives", "active_row_drives", "bitplanes",
                      "zero_bitplanes", "adc_conversions"):
            assert getattr(both, field) == getattr(whole, field)
    assert (MvmStats() + whole) == whole


@given(mvm_problems(max_n=12))
def test_chunking_does_not_change_results(problem):
    spec, w, x = problem
    pm = program(w, spec)
    whole, whole_stats = pm.mvm(x, stats=True)
    original = matrix_module._CHUNK_BYTES
    try:
        matrix_module._CHUNK_BYTES = 1  # one vector per chunk
        chunked, chunked_stats = pm.mvm(x, stats=True)
    finally:
        matrix_module._CHUNK_BYTES = original
    assert np.array_equal(chunked, whole)
    assert chunked_stats == whole_stats
    pm._chunks = lambda n: (slice(s, min(n, s + 2)) for s in range(0, n, 2))  # uneven chunks
    uneven, uneven_stats = pm.mvm(x, stats=True)  # counts gathered chunk by chunk (this crashed before)
    assert np.array_equal(uneven, whole) and uneven_stats == whole_stats


@given(clipping_problems(), seeds)
def test_skipping_the_adc_clip_changes_nothing(problem, seed):
    """Where the programmed conductances prove that no conversion can leave the ADC range, the
    model skips the clipping pass; results and clip counts equal those of the clipping path
    (ranges from far below to above the largest partial sum, so both sides are drawn)."""
    spec, w, x = problem
    fast, fast_stats = program(w, spec, rng=seed).mvm(x, stats=True)
    original = matrix_module.ProgrammedMatrix._never_clips
    try:
        matrix_module.ProgrammedMatrix._never_clips = lambda self, folded: False
        slow, slow_stats = program(w, spec, rng=seed).mvm(x, stats=True)
    finally:
        matrix_module.ProgrammedMatrix._never_clips = original
    assert np.array_equal(fast, slow)
    assert fast_stats == slow_stats


def test_clip_skipped_exactly_when_the_range_covers_every_partial_sum():
    spec = CrossbarSpec(rows=64, cols=64, weight_bits=8, input_bits=8, adc_bits=7, variation_sigma=0.1)
    rng = np.random.default_rng(3)
    w = rng.integers(-128, 128, (100, 16))
    in_range = program(w, spec, rng=0)._code_operands(None)[3]
    small = dataclasses.replace(spec, adc_range="explicit", adc_full_scale=100.0)
    assert in_range and not program(w, small, rng=0)._code_operands(None)[3]


def test_explicit_range_of_an_encoding_that_only_produces_zero():
    """One row with flip encoding stores at most half a level: the full scale is 0 and an
    explicit range has nothing to scale (this divided by zero before)."""
    spec = CrossbarSpec(rows=1, cols=1, cell_bits=1, weight_bits=1, input_bits=1, adc_bits=1,
                        column_encoding="flip", adc_range="explicit", adc_full_scale=1.0)
    assert np.array_equal(program(np.array([[0]]), spec).mvm(np.array([[1]])), [[0.0]])


def test_single_vector_gives_a_vector():
    spec = CrossbarSpec(rows=8, cols=8, weight_bits=4, input_bits=4, adc_bits=6)
    w = np.arange(-8, 8).reshape(4, 4)
    x = np.array([1, 2, 3, 15])
    y = program(w, spec).mvm(x)
    assert y.shape == (4,) and np.array_equal(y, x @ w)


def test_float64_path_is_exact_for_wide_integers():
    """16-bit weights and inputs accumulated in the analog domain exceed float32's exact range."""
    spec = CrossbarSpec(rows=128, cols=128, cell_bits=2, weight_bits=16, input_bits=16, adc_position="after_accumulation",
                        adc_bits=16)
    spec = dataclasses.replace(spec, adc_bits=min(16, spec.exact_adc_bits))
    assert spec.exact_adc_bits > 16  # needs more than any ADC: not exact ...
    per_cycle = CrossbarSpec(rows=128, cols=128, cell_bits=2, weight_bits=16, input_bits=16, adc_bits=9)
    rng = np.random.default_rng(3)
    w = rng.integers(-2**15, 2**15, (300, 20))
    x = rng.integers(0, 2**16, (16, 300))
    assert np.array_equal(program(w, per_cycle).mvm(x), exact_mvm(x, w))  # ... but per-cycle 9-bit is


@given(st.data())
def test_isaac_encoding_needs_one_bit_less(data):
    """ISAAC's flip encoding keeps 128-row, 2-bit-cell, 1-bit-DAC reads exact with an 8-bit ADC."""
    spec = CrossbarSpec(rows=128, cols=128, cell_bits=2, weight_bits=8, input_bits=4, adc_bits=8, column_encoding="flip")
    plain = dataclasses.replace(spec, column_encoding="plain")
    assert spec.exact_adc_bits == 8 and plain.exact_adc_bits == 9
    w = data.draw(weight_matrices(spec, 130, 3))
    x = data.draw(input_matrices(spec, 2, 130))
    assert np.array_equal(program(w, spec).mvm(x), exact_mvm(x, w))


@st.composite
def dynamic_specs(draw):
    """Ideal specs with NeuroSim's dynamic ADC range, with the G_off or the mid-scale reference."""
    midscale = draw(st.booleans())
    fixed = {"weight_mapping": "offset", "column_encoding": "plain"} if midscale else {}
    spec = draw(crossbar_specs(exact_adc=False, **fixed))
    return dataclasses.replace(spec, adc_range="dynamic", reference_column="midscale" if midscale else "g_off")


@given(mvm_problems(dynamic_specs()))
def test_dynamic_adc_error_is_below_one_step_per_conversion(problem):
    """Floor rounding over each call's min..max reads every value back at most one step low, the
    step being at most the encoding's full span / 2**adc_bits (plus the dummy column's, when it
    is digitized too)."""
    spec, w, x = problem
    pm = program(w, spec)
    y = pm.mvm(x)
    lo, hi = (bound @ phase_matrix(spec) for bound in digit_bounds(spec))  # each conversion's extremes
    wg = np.exp2([cycles[0] * spec.dac_bits for cycles in conversions_of(spec)])
    slice_max = np.array([(1 << b) - 1 for b in slice_widths(spec.weight_bits, spec.cell_bits)], dtype=float)
    g_off = 0.0 if np.isinf(spec.on_off_ratio) else spec.max_level / (spec.on_off_ratio - 1)
    column = spec.rows * (slice_max + (g_off if spec.reference_column == "midscale" else 0.0))
    if spec.column_encoding == "flip":
        column = np.floor(spec.rows * slice_max / 2)
    span = (hi - lo)[:, None] * np.tile(column, spec.polarities)[None, :]  # (G, J)
    if spec.reference_column == "midscale":
        span = span + (hi - lo)[:, None] * spec.rows * (g_off + slice_max / 2)[None, :]
    wj = np.tile(np.exp2(np.arange(spec.slices) * spec.cell_bits), spec.polarities)
    bound = pm.tiling.row_tiles * np.sum(wg[:, None] * wj[None, :] * span) / 2 ** spec.adc_bits
    assert np.all(np.abs(y - exact_mvm(x, w)) <= bound * (1 + 1e-6) + 1e-6)


@given(mvm_problems(crossbar_specs(ideal=False, exact_adc=False, read_noise_sigma=0.0), max_n=4), seeds)
def test_variation_drawn_per_cycle_without_sigma_is_the_programmed_chip(problem, seed):
    spec, w, x = problem
    fixed = dataclasses.replace(spec, variation_sigma=0.0)
    cycle = dataclasses.replace(fixed, variation_draw="cycle")
    assert np.array_equal(program(w, cycle, rng=seed).mvm(x), program(w, fixed, rng=seed).mvm(x))
