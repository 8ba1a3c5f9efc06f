"""Data converters: the DAC side (inputs to per-cycle digits) and the ADC side (ranges, codes).

Units: an analog partial sum is expressed in *level units*: one cell level step times one DAC
step, so with ideal devices it is the integer ``sum_i digit_i * level_i``.

DAC. An input of ``input_bits`` is fed ``dac_bits`` per cycle, least significant digit first,
in ``T = ceil(input_bits / dac_bits)`` cycles; digit ``t`` weighs ``2**(t*dac_bits)``. For
signed inputs the top digit is a two's-complement digit (a bipolar DAC drives it), so that
``x = sum_t 2**(t*dac_bits) * digit_t`` holds exactly.

ADC. A conversion covering ``[lo, hi]`` maps an analog value ``v`` to ``code = clip(rint((v -
lo) / step), 0, top)`` and back to ``lo + code * step``. The step is ``(hi - lo) / (2**adc_bits
- 1)`` but never finer than one level unit: an ADC with more codes than the range has integer
values uses only ``top = floor((hi - lo) / step)`` of them, so that with ideal devices it
reproduces every partial sum in range exactly, and values beyond ``hi`` still clip at ``hi``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from ..config.crossbar import CrossbarSpec
from .slicing import slice_widths

__all__ = [
    "digit_widths", "digit_bounds", "digit_weights", "phase_weights", "conversion_weights", "input_bounds", "input_digits", "input_planes",
    "column_level_bounds", "AdcRanges", "full_scale_ranges", "explicit_ranges", "ranges_from_limits",
    "quantize_to_codes", "quantize_dynamic",
]


def digit_widths(spec: CrossbarSpec) -> Tuple[int, ...]:
    """Bits converted in each input cycle, least significant first."""
    return slice_widths(spec.input_bits, spec.dac_bits)


def digit_bounds(spec: CrossbarSpec) -> Tuple[np.ndarray, np.ndarray]:
    """Smallest and largest digit of each input cycle, shape (T,) each."""
    widths = digit_widths(spec)
    lo = np.zeros(len(widths), dtype=np.int64)
    hi = np.array([(1 << w) - 1 for w in widths], dtype=np.int64)
    if spec.signed_inputs:
        top = widths[-1]
        lo[-1] = -(1 << (top - 1))
        hi[-1] = (1 << (top - 1)) - 1
    return lo, hi


def digit_weights(spec: CrossbarSpec) -> np.ndarray:
    """Weight ``2**(t*dac_bits)`` of each input cycle's digit, shape (T,)."""
    return np.left_shift(1, np.arange(spec.input_cycles, dtype=np.int64) * spec.dac_bits)


def phase_weights(spec: CrossbarSpec) -> np.ndarray:
    """How input cycles add up into conversions, shape (T, G): ``[t, g]`` is the weight
    ``2**((t - first cycle of g) * dac_bits)`` of cycle t's digit in conversion g if g integrates
    it, else 0. The identity per cycle; one column of :func:`digit_weights` after accumulation in
    one phase; a block per phase with ``phase_cycles`` (``spec.phase_sizes``)."""
    T, sizes = spec.input_cycles, spec.phase_sizes
    first = np.repeat(np.cumsum((0,) + sizes[:-1]), sizes)  # (T,) first cycle of each cycle's phase
    out = np.zeros((T, len(sizes)), dtype=np.int64)
    out[np.arange(T), np.repeat(np.arange(len(sizes)), sizes)] = np.left_shift(1, (np.arange(T) - first) * spec.dac_bits)
    return out


def conversion_weights(spec: CrossbarSpec) -> np.ndarray:
    """Shift-and-add weight ``2**(first cycle * dac_bits)`` of each conversion, shape (G,)."""
    first = np.cumsum((0,) + spec.phase_sizes[:-1])
    return np.left_shift(1, np.asarray(first, dtype=np.int64) * spec.dac_bits)


def input_bounds(spec: CrossbarSpec) -> Tuple[int, int]:
    """The representable input range ``(min, max)``."""
    if spec.signed_inputs:
        return -(1 << (spec.input_bits - 1)), (1 << (spec.input_bits - 1)) - 1
    return 0, (1 << spec.input_bits) - 1


def input_digits(inputs: np.ndarray, spec: CrossbarSpec) -> np.ndarray:
    """Per-cycle DAC digits (N, T, K) as int16 for validated integer inputs (N, K)."""
    planes = input_planes(inputs, spec, 1, np.asarray(inputs).shape[1], np.int16)  # (1, N, T, K)
    return planes[0]


def input_planes(inputs: np.ndarray, spec: CrossbarSpec, row_tiles: int, rows: int, dtype,
                 cycle_major: bool = False) -> np.ndarray:
    """DAC digits laid out for the array reads: (R, N, T, rows) of ``dtype``, zero beyond K
    ((R, T, N, rows) with ``cycle_major``, for a different matrix per cycle).

    Row tile r holds inputs ``r*rows .. (r+1)*rows - 1``. The two's-complement bit patterns
    are gathered once as 8- or 16-bit unsigned integers in row-tile order (inputs have at most
    16 bits); each cycle's digits are then shifted and masked in place and cast straight into
    the output (measured 25% faster than broadcasting all cycles at once, which needs two
    temporaries of the full size).
    """
    x = np.asarray(inputs)
    n, k = x.shape
    small = np.dtype(np.uint8 if spec.input_bits <= 8 else np.uint16)
    full_mask = (1 << spec.input_bits) - 1
    if x.dtype.kind in "iu" and x.dtype.itemsize == small.itemsize:
        pattern = x.view(small)  # two's complement bits as they are
        if spec.input_bits < 8 * small.itemsize:
            pattern = pattern & small.type(full_mask)
    else:
        pattern = (x & full_mask).astype(small)
    bits = np.zeros((row_tiles, n, rows), dtype=small)
    whole, rest = divmod(k, rows)
    if whole:
        bits[:whole] = pattern[:, :whole * rows].reshape(n, whole, rows).transpose(1, 0, 2)
    if rest:
        bits[whole, :, :rest] = pattern[:, whole * rows:]
    widths = digit_widths(spec)
    if cycle_major:
        out = np.empty((row_tiles, len(widths), n, rows), dtype=dtype)
        planes = out.transpose(0, 2, 1, 3)  # the same memory seen as (R, N, T, rows)
    else:
        out = planes = np.empty((row_tiles, n, len(widths), rows), dtype=dtype)
    digit = np.empty_like(bits)
    for t, width in enumerate(widths):
        np.right_shift(bits, small.type(t * spec.dac_bits), out=digit)
        np.bitwise_and(digit, small.type((1 << width) - 1), out=digit)
        if spec.signed_inputs and t == len(widths) - 1:  # the top digit is a two's-complement digit
            half = 1 << (width - 1)
            planes[:, :, t, :] = digit.astype(np.int32) - (digit >= half) * (2 * half)
        else:
            planes[:, :, t, :] = digit
    return out


def column_level_bounds(spec: CrossbarSpec, slice_max: np.ndarray) -> np.ndarray:
    """Largest stored level sum of one column in a full row tile, per slice (S,).

    ``rows * slice_max``, or ``floor(rows * slice_max / 2)`` with flip encoding.
    """
    bound = spec.rows * slice_max.astype(np.int64)
    return bound // 2 if spec.column_encoding == "flip" else bound


@dataclass(frozen=True)
class AdcRanges:
    """The ADC transfer of every conversion kind: ``lo``, ``step`` and ``top`` of shape (G, J).

    G indexes conversions per vector and row tile (input cycles, or the phases when digitizing
    after accumulation: 1 unless ``phase_cycles``); J indexes physical column kinds (polarity-major, then slice).
    """

    lo: np.ndarray
    """Analog value (level units) of code 0."""
    step: np.ndarray
    """Analog value of one code step (level units, >= 1)."""
    top: np.ndarray
    """Largest code in use (at most ``2**bits - 1``), as float."""
    bits: int
    """ADC resolution."""

    @property
    def hi(self) -> np.ndarray:
        """Analog value of the top code in use."""
        return self.lo + self.step * self.top

    @property
    def exact(self) -> bool:
        """Every reconstruction ``lo + code*step`` is an integer (steps of 1, integer offsets)."""
        return bool(np.all(self.step == 1) and np.all(self.lo == np.round(self.lo)))


def ranges_from_limits(lo: np.ndarray, hi: np.ndarray, bits: int) -> AdcRanges:
    """ADC ranges covering ``[lo, hi]`` with ``2**bits`` codes, never finer than one level unit."""
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    codes = (1 << bits) - 1
    step = np.maximum(1.0, (hi - lo) / codes)
    top = np.minimum(float(codes), np.floor((hi - lo) / step + 1e-9))
    return AdcRanges(lo=lo, step=step, top=top, bits=bits)


def _limits(spec: CrossbarSpec, slice_max: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Full-scale ``(lo, hi)`` of shape (G, J): the extremes the encoding can produce."""
    column = column_level_bounds(spec, slice_max)  # (S,)
    column = np.tile(column, spec.polarities)  # (J,)
    dlo, dhi = digit_bounds(spec)
    weights = phase_weights(spec)  # a conversion's extremes: its cycles' digit extremes, weighted
    dlo, dhi = dlo @ weights, dhi @ weights
    return dlo[:, None] * column[None, :], dhi[:, None] * column[None, :]


def full_scale_ranges(spec: CrossbarSpec, slice_max: np.ndarray) -> AdcRanges:
    """Ranges spanning everything the encoding can produce: no conversion ever clips."""
    lo, hi = _limits(spec, slice_max)
    return ranges_from_limits(lo, hi, spec.adc_bits)


def explicit_ranges(spec: CrossbarSpec, slice_max: np.ndarray) -> AdcRanges:
    """Full-scale ranges scaled so the largest top equals ``spec.adc_full_scale``."""
    lo, hi = _limits(spec, slice_max)
    peak = float(np.max(np.abs(np.concatenate([lo.ravel(), hi.ravel()]))))
    # an encoding that can only produce 0 (one row with flip encoding) has nothing to scale
    scale = spec.adc_full_scale / peak if peak else 1.0
    return ranges_from_limits(lo * scale, hi * scale, spec.adc_bits)


def quantize_to_codes(values: np.ndarray, ranges: AdcRanges, count_clipped: bool = False) -> Optional[int]:
    """Replace analog values (..., G, n, J, M) (conversion-major) by their ADC codes, in place.

    Returns the number of conversions that clipped (their value lay beyond half a step
    outside the range) when ``count_clipped``, else None.
    """
    dtype = values.dtype
    lo = ranges.lo[:, None, :, None].astype(dtype)
    step = ranges.step[:, None, :, None].astype(dtype)
    top = ranges.top[:, None, :, None].astype(dtype)
    if np.any(lo != 0):
        np.subtract(values, lo, out=values)
    if np.any(step != 1):
        np.divide(values, step, out=values)
    np.rint(values, out=values)
    clipped = None
    if count_clipped:
        clipped = int(np.count_nonzero(values < 0)) + int(np.count_nonzero(values > top))
    np.maximum(values, 0, out=values)  # two in-place passes are cheaper than np.clip with array bounds
    np.minimum(values, top, out=values)
    return clipped


def quantize_dynamic(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, bits: int) -> np.ndarray:
    """Replace ``values`` in place by NeuroSim's dynamic-range ADC codes; returns the step.

    ``lo`` and ``hi`` broadcast against ``values`` (the min and max of each conversion kind's
    values in the call). Mirrors ``LinearQuantizeOut`` (DNN_NeuroSim V1.4,
    ``Inference_pytorch/utee/wage_quantizer.py``): ``step = (hi - lo) / 2**bits``, ``index =
    clamp(floor((x - lo) / step), 0, 2**bits - 1)``; the value read back is ``lo + index * step``.
    A kind whose values are all equal reads back unchanged (NeuroSim's ``if delta > 0``): its
    step is 0 and its codes 0, and ``lo`` is that value.
    """
    dtype = values.dtype
    step = (np.asarray(hi, dtype=np.float64) - lo) / float(1 << bits)
    divisor = np.where(step > 0, step, 1.0).astype(dtype)  # all equal: (v - lo) / 1 = 0
    np.subtract(values, np.asarray(lo, dtype=dtype), out=values)
    np.divide(values, divisor, out=values)
    np.floor(values, out=values)
    np.clip(values, 0, (1 << bits) - 1, out=values)
    return step
