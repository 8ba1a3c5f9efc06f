"""Crossbar arrays with their DACs, sample-and-holds, ADCs and shift-and-adds; programming.

One resource per layer copy (``copy``): the PEs it occupies, in lockstep, with the datapath
that merges its partial sums (PE and tile shift-and-adds) and holds its outputs (registers).
ISAAC sizes that datapath to keep pace with the ADCs, so its work is counted but takes no
time of its own.

**MVM.** A burst of V vectors on a copy is a two-stage pipeline per array: stage 1 reads the
crossbar (``pe.read_latency``: DAC drive, settling, sample-and-hold), stage 2 converts the
sampled columns (``ceil(active columns / pe.adcs_per_array)`` conversions at ``pe.adc_rate``).
Items are the input cycles of every vector (``adc_position: per_cycle``) or whole vectors
whose ``T`` reads precede one conversion (``after_accumulation``); with ``crossbar.phase_cycles``
a vector's cycles run in ``P = ceil(T / phase_cycles)`` phases, each an item of ``ceil(T / P)``
reads (the longest phase's window) followed by its conversions (NeuRRAM's two-phase inputs). With sample-and-hold the
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

from ..config.crossbar import phase_split
from .registry import Component, Family, OpKind, ResourceKind, cycles, cycles_of, register

__all__ = ["FAMILY", "mvm_items", "mvm_stages", "mvm_period", "conduction"]


def mvm_items(arch, input_cycles, accumulate):
    """(items per vector, reads per item), elementwise over arrays of parts: input cycles of one
    read each (``per_cycle``), or the phases of :func:`~xbarsim.config.crossbar.phase_split`
    (``after_accumulation``: one phase of all the cycles unless ``crossbar.phase_cycles``)."""
    T = np.asarray(input_cycles, dtype=np.int64)
    phases, window = phase_split(T, arch.crossbar.phase_cycles)
    return np.where(accumulate, phases, T), np.where(accumulate, window, 1)


def mvm_stages(arch, input_cycles, active_columns, accumulate):
    """(read stage, conversion stage) in cycles, elementwise over arrays of parts."""
    read = max(1, cycles_of(arch.pe.read_latency, arch.chip.clock))
    a = read * mvm_items(arch, input_cycles, accumulate)[1]
    conversions = -(-np.asarray(active_columns) // arch.pe.adcs_per_array)
    b = cycles(conversions / arch.pe.adc_rate, arch.chip.clock)
    return a.astype(np.int64), b


def mvm_period(arch, input_cycles: int, active_columns: int, accumulate: bool) -> int:
    """Steady-state cycles per vector of one copy: the stage cost used to balance pipelines."""
    a, b = mvm_stages(arch, input_cycles, active_columns, accumulate)
    items = mvm_items(arch, input_cycles, accumulate)[0]
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


def conduction(arch, cell_drives, cell_levels):
    """``xbar.conduct`` counts: the driven cells' conductance in half level steps, ``G_off`` included
    (``cell_levels + 2 g_off cell_drives``, ``g_off`` in level steps, rounded to whole counts)."""
    from ..functional.devices import g_off_levels  # the level scale, defined once

    g_off = g_off_levels(arch.crossbar)
    extra = np.rint(2.0 * g_off * np.asarray(cell_drives, dtype=np.float64)).astype(np.int64) if g_off else 0
    return np.maximum(np.asarray(cell_levels, dtype=np.int64) + extra, 0)


def _mvm_actions(arch, stream, index):
    act = stream.activity[stream.op_aux[index]]
    parts = stream.parts[act["part"]]
    n = stream.op_amount[index]
    return {
        ("xbar", "read"): act["reads"],
        ("xbar", "row_activation"): act["row_activations"],
        ("xbar", "conduct"): conduction(arch, act["cell_drives"], act["cell_levels"]),
        ("dac", "convert"): act["dac"],
        ("dac", "drive"): act["dac_steps"],
        ("sh", "sample"): act["sh"],
        ("adc", "convert"): act["adc"],
        ("shift_add", "op"): act["adc"],
        ("ireg", "write_bytes"): n * parts["rows_driven"] * parts["in_bytes"],
        ("oreg", "write_bytes"): n * parts["out_channels"] * parts["row_tiles"] * parts["psum_bytes"],
        ("tile_shift_add", "op"): n * parts["reduction_adds"],
        ("tile_oreg", "write_bytes"): n * parts["out_channels"] * parts["out_bytes"],
    }


def _mvm_split(arch, stream, index):
    """(array read, ADC conversion) cycles of each MVM, by the two-stage model: the slower stage
    is charged its whole pipelined run, ``(n - 1) x`` its stage time plus its own fill, and the
    other stage only its fill (one item); without sample-and-hold each is charged its n items.
    A read stage equal to the conversion stage counts as read-bound. They add up to the duration
    (an MVM with no item to execute lasts one cycle: a read)."""
    act = stream.activity[stream.op_aux[index]]
    parts = stream.parts[act["part"]]
    a, b = mvm_stages(arch, parts["input_cycles"], parts["active_columns"], parts["accumulate"])
    n = act["items"]
    if arch.pe.sample_hold:
        read = a + np.where(a >= b, (n - 1) * a, 0)
        convert = b + np.where(a >= b, 0, (n - 1) * b)
    else:
        read, convert = n * a, n * b
    empty = n <= 0
    return np.where(empty, 1, read).astype(np.int64), np.where(empty, 0, convert).astype(np.int64)


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
            "row_activation": "one row driven (a non-zero digit) during one read",
            "conduct": "cell current during a read: one cell at half a level step of conductance "
                       "(G_on - G_off) / (2 (2^cell_bits - 1)) for (V_read / (2^dac_bits - 1))^2 x the read "
                       "time; a digit d is d^2 of them (voltage DAC) or |d| (2^dac_bits - 1) (pulse-width DAC)",
            "write": "one cell written"},
            instances=lambda a: a.arrays,
            arguments={"rows": lambda a: a.crossbar.rows, "cell_bits": lambda a: a.crossbar.cell_bits},
            # a read applies the input digits to the stored weights: the energy of bringing the
            # activations into the array (Yang & Sze, IEDM 2019: weights stay, activations move)
            data={"read": "input activations", "row_activation": "input activations",
                  "conduct": "input activations", "write": "weights"}),
        Component("dac", "input DAC (one per array row)", {
            "convert": "one digit converted",
            "drive": "one digit step driven onto a row: 1 / (2^dac_bits - 1) of the full-scale read voltage "
                     "(voltage DAC) or of the read time (pulse-width DAC)"},
                  instances=lambda a: a.arrays * a.crossbar.rows, arguments={"bits": lambda a: a.crossbar.dac_bits},
                  data={"convert": "input activations", "drive": "input activations"}),
        Component("sh", "sample-and-hold (one per array column)", {"sample": "one column sampled"},
                  instances=lambda a: a.arrays * a.crossbar.cols, data={"sample": "partial sums"}),
        Component("adc", "ADC", {"convert": "one conversion"}, instances=lambda a: a.arrays * a.pe.adcs_per_array,
                  arguments={"bits": lambda a: a.crossbar.adc_bits}, data={"convert": "partial sums"}),
        Component("shift_add", "PE shift-and-add unit", {"op": "one digitized value merged"},
                  instances=lambda a: a.pes * a.pe.shift_add_units, data={"op": "partial sums"}),
    ),
    resources=(
        ResourceKind("copy", "a layer copy's PEs (arrays, converters, shift-and-adds, registers) in lockstep",
                     scope="copy", servers=lambda a: 1),
    ),
    ops=(
        OpKind("mvm", "a burst of input vectors through a layer copy", ("copy",), "vectors",
               _mvm_duration, _mvm_actions, group="arrays", time="arrays",
               phases=("array read", "ADC conversion"), split=_mvm_split),
        OpKind("program", "write a layer part's weights into a copy", ("copy",), "rows",
               _program_duration, _program_actions, group="programming", time="programming", carries="weights"),
        OpKind("write_operand", "write new keys or values of a product's operand into a copy", ("copy",), "rows",
               _program_duration, _operand_actions, group="programming", time="programming",
               data={("xbar", "write"): "input activations"}, carries="input activations"),
    ),
))
