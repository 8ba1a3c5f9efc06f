"""Crossbar arrays with their DACs, sample-and-holds, ADCs and shift-and-adds; programming.

One resource per layer copy (``copy``): the PEs it occupies, in lockstep, with the datapath
that merges its partial sums (PE and tile shift-and-adds) and holds its outputs (registers).
ISAAC sizes that datapath to keep pace with the ADCs, so its work is counted but takes no
time of its own.

**MVM.** A burst of V vectors on a copy is a two-stage pipeline per array: stage 1 reads the
crossbar (``pe.read_latency``: DAC drive, settling, sample-and-hold), stage 2 converts the
sampled columns (``ceil(active columns / pe.adcs_per_array)`` conversions at ``pe.adc_rate``).
Items are the input cycles of every vector (``adc_position: per_cycle``) or whole vectors
whose ``T`` reads precede one conversion (``after_accumulation``). With sample-and-hold the
next read overlaps the conversions: ``a + b + (n - 1) max(a, b)`` cycles for n items of stage
times a and b; without, ``n (a + b)``. Arrays of a copy work in lockstep: the copy takes as
long as its busiest array. With zero skipping on real data, ``n`` counts only the items with
a non-zero digit somewhere in the copy (:mod:`xbarsim.mapping.activity`).

**Programming.** ``ceil(rows / programming.rows_in_parallel)`` write pulses, all arrays of a
copy in parallel: a part's weights (``program``, counting every cell the part uses), or the
rows of a product's operand written for an input (``write_operand``: keys or values written into
the arrays of a product on crossbars; its ``aux`` counts the cells written).
"""

from __future__ import annotations

import numpy as np

from .registry import Component, Family, OpKind, ResourceKind, cycles, cycles_of, register

__all__ = ["FAMILY", "mvm_stages", "mvm_period"]


def mvm_stages(arch, input_cycles, active_columns, accumulate):
    """(read stage, conversion stage) in cycles, elementwise over arrays of parts."""
    read = max(1, cycles_of(arch.pe.read_latency, arch.chip.clock))
    a = np.where(accumulate, read * np.asarray(input_cycles), read)
    conversions = -(-np.asarray(active_columns) // arch.pe.adcs_per_array)
    b = cycles(conversions / arch.pe.adc_rate, arch.chip.clock)
    return a.astype(np.int64), b


def mvm_period(arch, input_cycles: int, active_columns: int, accumulate: bool) -> int:
    """Steady-state cycles per vector of one copy: the stage cost used to balance pipelines."""
    a, b = mvm_stages(arch, input_cycles, active_columns, accumulate)
    items = 1 if accumulate else input_cycles
    step = np.maximum(a, b) if arch.pe.sample_hold else a + b
    return int(items * step)


def _mvm_duration(arch, stream, index):
    act = stream.activity[stream.op_aux[index]]
    parts = stream.parts[act["part"]]
    a, b = mvm_stages(arch, parts["input_cycles"], parts["active_columns"], parts["accumulate"])
    n = act["items"]
    if arch.pe.sample_hold:
        value = a + b + (n - 1) * np.maximum(a, b)
    else:
        value = n * (a + b)
    return np.where(n > 0, value, 1).astype(np.int64)


def _mvm_actions(arch, stream, index):
    act = stream.activity[stream.op_aux[index]]
    parts = stream.parts[act["part"]]
    n = stream.op_amount[index]
    return {
        ("xbar", "read"): act["reads"],
        ("xbar", "row_activation"): act["row_activations"],
        ("dac", "convert"): act["dac"],
        ("sh", "sample"): act["sh"],
        ("adc", "convert"): act["adc"],
        ("shift_add", "op"): act["adc"],
        ("ireg", "write_bytes"): n * parts["rows_driven"] * parts["in_bytes"],
        ("oreg", "write_bytes"): n * parts["out_channels"] * parts["row_tiles"] * parts["psum_bytes"],
        ("tile_shift_add", "op"): n * parts["reduction_adds"],
        ("tile_oreg", "write_bytes"): n * parts["out_channels"] * parts["out_bytes"],
    }


def _program_duration(arch, stream, index):
    groups = -(-stream.op_amount[index] // arch.programming.rows_in_parallel)
    return cycles(groups * arch.programming.write_pulse, arch.chip.clock)


def _program_actions(arch, stream, index):
    return {("xbar", "write"): stream.parts["cells_used"][stream.op_aux[index]]}


def _operand_actions(arch, stream, index):
    return {("xbar", "write"): stream.op_aux[index]}


FAMILY = register(Family(
    name="arrays",
    doc="crossbar arrays and their converters, grouped in PEs; a layer copy is one resource",
    sections=("crossbar", "pe", "programming"),
    components=(
        Component("xbar", "crossbar array", {
            "read": "one array read (one input cycle)",
            "row_activation": "one row driven during one read",
            "write": "one cell written"},
            instances=lambda a: a.arrays,
            arguments={"rows": lambda a: a.crossbar.rows, "cell_bits": lambda a: a.crossbar.cell_bits}),
        Component("dac", "input DAC (one per array row)", {"convert": "one digit converted"},
                  instances=lambda a: a.arrays * a.crossbar.rows, arguments={"bits": lambda a: a.crossbar.dac_bits}),
        Component("sh", "sample-and-hold (one per array column)", {"sample": "one column sampled"},
                  instances=lambda a: a.arrays * a.crossbar.cols),
        Component("adc", "ADC", {"convert": "one conversion"}, instances=lambda a: a.arrays * a.pe.adcs_per_array,
                  arguments={"bits": lambda a: a.crossbar.adc_bits}),
        Component("shift_add", "PE shift-and-add unit", {"op": "one digitized value merged"},
                  instances=lambda a: a.pes * a.pe.shift_add_units),
    ),
    resources=(
        ResourceKind("copy", "a layer copy's PEs (arrays, converters, shift-and-adds, registers) in lockstep",
                     scope="copy", servers=lambda a: 1),
    ),
    ops=(
        OpKind("mvm", "a burst of input vectors through a layer copy", ("copy",), "vectors",
               _mvm_duration, _mvm_actions, group="arrays"),
        OpKind("program", "write a layer part's weights into a copy", ("copy",), "rows",
               _program_duration, _program_actions, group="programming"),
        OpKind("write_operand", "write new keys or values of a product's operand into a copy", ("copy",), "rows",
               _program_duration, _operand_actions, group="programming"),
    ),
))
