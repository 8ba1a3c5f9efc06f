"""A deliberately naive crossbar model: explicit loops over vectors, cycles, rows and columns.

Written from the semantics in ``docs/functional-model.md`` rather than from the vectorized
code, so that agreement between the two means something. Only for tiny problems.
It reuses the programmed conductances of a ProgrammedMatrix (the random draws), nothing else.
"""

from __future__ import annotations

import math

import numpy as np


def digits_of(x: int, spec):
    """Per-cycle DAC digits of one integer input, least significant first."""
    bits = x & ((1 << spec.input_bits) - 1)
    out = []
    for t in range(spec.input_cycles):
        width = min(spec.dac_bits, spec.input_bits - t * spec.dac_bits)
        digit = (bits >> (t * spec.dac_bits)) & ((1 << width) - 1)
        if spec.signed_inputs and t == spec.input_cycles - 1 and digit >= (1 << (width - 1)):
            digit -= 1 << width
        out.append(digit)
    return out


def level_of(w: int, p: int, s: int, spec) -> int:
    """Cell level of slice ``s`` and polarity ``p`` for weight ``w``, before any flip."""
    if spec.weight_mapping == "offset":
        magnitude = w + (1 << (spec.weight_bits - 1))
    else:
        magnitude = max(w, 0) if p == 0 else max(-w, 0)
    return (magnitude >> (s * spec.cell_bits)) & ((1 << spec.cell_bits) - 1)


def phases_of(spec):
    """The input cycles (least significant first) each conversion integrates after accumulation:
    all of them, or with ``phase_cycles`` ceil(T / phase_cycles) phases whose lengths differ by at
    most one, the longer ones the more significant (docs/functional-model.md)."""
    T = spec.input_cycles
    count = 1 if spec.phase_cycles is None else math.ceil(T / spec.phase_cycles)
    lengths = [T // count + (1 if i >= count - T % count else 0) for i in range(count)]
    out, t = [], 0
    for length in lengths:
        out.append(list(range(t, t + length)))
        t += length
    return out


def naive_mvm(pm, weights, inputs):
    """Outputs (N, M) of ``pm`` (programmed with ``weights``) for ``inputs``, without read noise."""
    spec = pm.spec
    K, M = pm.shape
    level_step = (spec.g_on - spec.g_off) / spec.max_level
    g_off = spec.g_off / level_step
    cond = pm.conductance_s / level_step  # (P, S, K, M) in level units
    P, S = cond.shape[:2]
    rows = spec.rows
    R = math.ceil(K / rows)
    lo_all, step_all = pm.ranges.lo, pm.ranges.step
    T = spec.input_cycles
    out = np.zeros((inputs.shape[0], M))
    for n in range(inputs.shape[0]):
        digit_table = [digits_of(int(v), spec) for v in inputs[n]]
        for m in range(M):
            total = 0.0
            for p in range(P):
                for s in range(S):
                    j = p * S + s
                    width = min(spec.cell_bits, spec.weight_bits - s * spec.cell_bits)
                    level_max = (1 << width) - 1
                    sign = 1 if p == 0 else -1
                    for r in range(R):
                        k_rows = range(r * rows, min(K, (r + 1) * rows))
                        # did the flip encoding complement this column in this row tile?
                        flipped = False
                        if spec.column_encoding == "flip":
                            original = sum(level_of(int(weights[k, m]), p, s, spec) for k in k_rows)
                            flipped = 2 * original > len(k_rows) * level_max
                        # each conversion: (its input cycles, its shift-and-add weight)
                        if spec.adc_position == "per_cycle":
                            groups = [([t], 1 << (t * spec.dac_bits)) for t in range(T)]
                        else:
                            groups = [(cycles, 1 << (cycles[0] * spec.dac_bits)) for cycles in phases_of(spec)]
                        for g, (cycles, weight) in enumerate(groups):
                            analog = 0.0
                            drive_sum = 0
                            for k in k_rows:
                                # the cycles of a conversion accumulate with their binary weights
                                drive = sum(digit_table[k][t] << ((t - cycles[0]) * spec.dac_bits) for t in cycles)
                                drive_sum += drive
                                analog += drive * (cond[p, s, k, m] - g_off)
                            lo, step = lo_all[g, j], step_all[g, j]
                            code = min(max(round((analog - lo) / step), 0), pm.ranges.top[g, j])  # Python round: half to even
                            value = lo + code * step
                            if flipped:
                                value = level_max * drive_sum - value
                            total += sign * (1 << (s * spec.cell_bits)) * weight * value
            if spec.weight_mapping == "offset":
                total -= (1 << (spec.weight_bits - 1)) * int(inputs[n].sum())
            out[n, m] = total
    return out
