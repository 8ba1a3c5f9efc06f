"""Durations and server counts of a stream's operations on an arch, from the registry.

Pure arithmetic, vectorized per operation kind: each kind's formula (declared by its family
in :mod:`xbarsim.hardware`) runs once over all the operations of that kind. Re-timing a
recorded stream is these functions with another arch.
"""

from __future__ import annotations

import numpy as np

from ..hardware import REGISTRY
from ..hardware.arrays import mvm_period
from ..hardware.registry import cycles_of

__all__ = ["op_durations", "resource_capacities", "cycles_of", "stage_cost", "peak_tops"]


def _by_kind(stream):
    for code, name in enumerate(stream.op_names):
        index = np.flatnonzero(stream.op_kind == code)
        if len(index):
            yield REGISTRY.ops[name], index


def op_durations(stream, arch) -> np.ndarray:
    """Cycles of every operation (int64, >= 1)."""
    out = np.zeros(stream.operations, dtype=np.int64)
    for kind, index in _by_kind(stream):
        out[index] = kind.duration(arch, stream, index)
    return out


def resource_capacities(stream, arch) -> np.ndarray:
    """Servers of every resource of the stream."""
    table = np.array([REGISTRY.resources[name].servers(arch) for name in stream.resource_names], dtype=np.int64)
    return table[stream.resources["kind"]] if len(stream.resources) else np.zeros(0, dtype=np.int64)


def stage_cost(arch):
    """The mapper's stage cost for this arch: steady-state cycles per vector of one copy."""
    def cost(low) -> float:
        xb = low.crossbar
        return float(mvm_period(arch, xb.input_cycles, low.active_columns, xb.adc_position == "after_accumulation"))
    return cost


def peak_tops(arch) -> float:
    """Peak throughput at the crossbar's precision: every array busy, all columns in use.

    ``2 x arrays x rows x floor(cols / (slices x polarities)) / (time per vector)``, where a
    vector takes ``input_cycles`` reads of ``max(read, conversion)`` cycles (with
    sample-and-hold; their sum without).
    """
    xb = arch.crossbar
    per_vector = mvm_period(arch, xb.input_cycles, xb.cols, xb.adc_position == "after_accumulation")
    seconds = per_vector / arch.chip.clock
    macs = arch.arrays * xb.rows * (xb.cols // xb.columns_per_weight)
    return 2 * macs / seconds / 1e12
