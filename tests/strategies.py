"""Hypothesis strategies shared by every property test (keep them here, reuse them)."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from xbarsim.functional import CrossbarSpec
from xbarsim.functional.converters import input_bounds

__all__ = [
    "crossbar_specs", "weight_matrices", "input_matrices", "mvm_problems", "seeds", "quantities",
]

seeds = st.integers(min_value=0, max_value=2**32 - 1)


@st.composite
def crossbar_specs(draw, *, ideal: bool = True, exact_adc: bool = True, max_rows: int = 24, **fixed):
    """Small random crossbar specs; ``exact_adc`` gives the ADC exactly the bits exactness needs.

    Keyword arguments fix fields (``weight_mapping="offset"``).
    """
    cell_bits = fixed.pop("cell_bits", None) or draw(st.integers(1, 4))
    weight_bits = fixed.pop("weight_bits", None) or draw(st.integers(cell_bits, 10))
    input_bits = fixed.pop("input_bits", None) or draw(st.integers(1, 8))
    dac_bits = fixed.pop("dac_bits", None) or draw(st.integers(1, min(4, input_bits)))
    values = dict(
        rows=draw(st.integers(1, max_rows)),
        cols=draw(st.integers(1, 24)),
        cell_bits=cell_bits,
        weight_bits=weight_bits,
        input_bits=input_bits,
        dac_bits=dac_bits,
        signed_inputs=draw(st.booleans()),
        weight_mapping=draw(st.sampled_from(["offset", "differential"])),
        adc_position=draw(st.sampled_from(["per_cycle", "after_accumulation"])),
        column_encoding=draw(st.sampled_from(["plain", "flip"])),
        on_off_ratio=draw(st.sampled_from([float("inf"), 100.0, 17.0, 2.5])),
        adc_bits=draw(st.integers(1, 12)),
    )
    if not ideal:
        values.update(
            variation_sigma=draw(st.sampled_from([0.0, 0.02, 0.1])),
            variation_model=draw(st.sampled_from(["gaussian", "lognormal"])),
            read_noise_sigma=draw(st.sampled_from([0.0, 0.01, 0.05])),
            stuck_at_on=draw(st.sampled_from([0.0, 0.01])),
            stuck_at_off=draw(st.sampled_from([0.0, 0.02])),
        )
    values.update(fixed)
    spec = CrossbarSpec(**values)
    if exact_adc:
        spec = dataclasses.replace(spec, adc_bits=min(16, spec.exact_adc_bits))
    return spec


def weight_matrices(spec: CrossbarSpec, k: int, m: int):
    """Signed ``weight_bits`` integer matrices (k, m), extremes included."""
    half = 1 << (spec.weight_bits - 1)
    return hnp.arrays(np.int64, (k, m), elements=st.integers(-half, half - 1))


def input_matrices(spec: CrossbarSpec, n: int, k: int):
    """Input matrices (n, k) in the spec's signed or unsigned range."""
    lo, hi = input_bounds(spec)
    return hnp.arrays(np.int64, (n, k), elements=st.integers(lo, hi))


@st.composite
def mvm_problems(draw, specs=None, max_k: int = 60, max_m: int = 12, max_n: int = 6):
    """(spec, weights, inputs) with shapes that often straddle array boundaries."""
    spec = draw(specs if specs is not None else crossbar_specs())
    k = draw(st.integers(1, max_k))
    m = draw(st.integers(1, max_m))
    n = draw(st.integers(1, max_n))
    return spec, draw(weight_matrices(spec, k, m)), draw(input_matrices(spec, n, k))


quantities = st.sampled_from(["time", "frequency", "size", "bandwidth", "power", "energy", "conductance", "area"])
