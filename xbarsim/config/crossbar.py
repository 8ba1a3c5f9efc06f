"""The crossbar spec: everything the functional model needs to turn integers into currents and back.

One :class:`CrossbarSpec` describes an array (rows x cols of multi-level cells), how signed
integer weights are sliced and mapped onto it, how inputs are fed through DACs, how the ADC
digitizes each analog partial sum, and the device non-idealities. It is usable on its own
(``xbarsim.functional.CrossbarSpec(...)``) and is the ``crossbar`` section of an arch spec.

Semantics (see ``docs/functional-model.md``):

* weights are signed ``weight_bits`` two's-complement integers, sliced into
  ``ceil(weight_bits / cell_bits)`` cells of ``2**cell_bits`` levels, least significant first;
* ``offset`` mapping stores ``w + 2**(weight_bits-1)`` and subtracts ``2**(weight_bits-1) *
  sum(x)`` digitally; ``differential`` stores ``max(w, 0)`` and ``max(-w, 0)`` on two
  columns and subtracts the digitized results;
* a cell at level ``l`` has conductance ``G_off + l * (G_on - G_off) / (2**cell_bits - 1)``;
  a reference column of ``G_off`` cells cancels the off-state current before the ADC;
* inputs are fed ``dac_bits`` per input cycle; for signed inputs the most significant digit
  is a two's-complement digit driven by a bipolar DAC; a ``voltage`` DAC holds a row at ``d / D``
  of the read voltage for the read, a ``pulse_width`` DAC at the full read voltage for ``d / D``
  of it: the charge a cell adds to its column, and so the MVM result, is the same;
* each (input cycle, weight slice, row tile) column sum is digitized (``adc_position:
  per_cycle``, as ISAAC) or the cycles are accumulated in the analog domain with binary
  weights and digitized once (``after_accumulation``), or once per phase of at most
  ``phase_cycles`` cycles, the phases' codes shifted and added (NeuRRAM's two-phase inputs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

import numpy as np

from ..errors import ConfigError
from .fields import Boolean, Choice, Integer, Maybe, Quantity, Real, Spec, param

__all__ = ["CrossbarSpec", "phase_split", "phase_lengths", "NEUROSIM_G_ON_S", "NEUROSIM_ON_OFF_RATIO"]

#: NeuroSim's default RRAM on-state conductance, 1 / 240 kOhm (DNN_NeuroSim Param.cpp,
#: ``resistanceOn = 240e3``). Only the on/off ratio changes functional results; the absolute
#: value sets the scale of reported currents.
NEUROSIM_G_ON_S = 1.0 / 240e3
#: NeuroSim's default on/off ratio (Param.cpp ``resistanceOff = 240e3*100``).
NEUROSIM_ON_OFF_RATIO = 100.0


def phase_split(input_cycles, phase_cycles):
    """(phases per vector, input cycles read per phase) when a vector's ``input_cycles`` are
    integrated in phases of at most ``phase_cycles`` (None: one phase), elementwise over arrays.

    ``P = ceil(T / phase_cycles)`` phases of ``floor(T / P)`` or ``ceil(T / P)`` cycles, the more
    significant phases taking the longer ones (CiMLoop's NeuRRAM model splits 7 magnitude bits
    4 + 3, mit-emze/cimloop ``wan_nature_2022/helper_functions.py``). Every phase occupies the
    longest phase's ``ceil(T / P)`` reads of time: the phases are issued in equal windows.
    """
    T = np.asarray(input_cycles, dtype=np.int64)
    if phase_cycles is None:
        return np.ones_like(T), T
    P = -(-T // int(phase_cycles))
    return P, -(-T // np.maximum(P, 1))


def phase_lengths(input_cycles: int, phase_cycles: Optional[int]) -> Tuple[int, ...]:
    """Input cycles of each phase of :func:`phase_split`, least significant first (the longer last)."""
    P = int(phase_split(input_cycles, phase_cycles)[0])
    short, longer = divmod(int(input_cycles), P)
    return (short,) * (P - longer) + (short + 1,) * longer


@dataclass(frozen=True, kw_only=True)
class CrossbarSpec(Spec):
    """One analog crossbar array, its converters and its devices (frozen, validated)."""

    section_doc = "analog array, weight/input encoding, converters and device non-idealities"
    aliases = {"g_off": "on_off_ratio"}

    rows: int = param(Integer(1, 65536), 128, "word lines per array: inputs summed on one column")
    cols: int = param(Integer(1, 65536), 128, "bit lines per array: physical columns, each with its own analog sum")
    cell_bits: int = param(Integer(1, 8), 2, "bits stored per cell (2**cell_bits conductance levels)")
    g_on: float = param(Quantity("conductance", 0, lo_open=True), f"{NEUROSIM_G_ON_S!r}S",
                        "on-state (highest) conductance; NeuroSim default 1/240kOhm", affects=("function",))
    on_off_ratio: float = param(Real(1, None, lo_open=True, allow_inf=True), NEUROSIM_ON_OFF_RATIO,
                                "G_on / G_off (NeuroSim default 100); .inf for an ideal off state; "
                                "a spec may give g_off instead", affects=("function",))
    weight_bits: int = param(Integer(1, 16), 8, "signed two's-complement weight precision")
    input_bits: int = param(Integer(1, 16), 8, "input precision (unsigned, or two's complement if signed_inputs)")
    signed_inputs: bool = param(Boolean(), False, "inputs are two's-complement signed (else unsigned, post-ReLU)", affects=("function",))
    dac_bits: int = param(Integer(1, 8), 1, "input bits converted per input cycle")
    dac_type: str = param(Choice("voltage", "pulse_width"), "voltage",
                          "input DAC: 'voltage' drives a row at d / D of the read voltage for the whole read, "
                          "'pulse_width' (temporal) at the full read voltage for d / D of the read time "
                          "(D = 2**dac_bits - 1); the same MVM result and timing, a cell's read energy in d^2 "
                          "or in d (docs/energy-model.md)", affects=("function", "price"))
    adc_bits: int = param(Integer(1, 16), 9, "ADC resolution per conversion", affects=("function", "price"))
    adc_range: str = param(Choice("full_scale", "calibrated", "explicit", "dynamic"), "full_scale",
                           "ADC input range: the largest partial sum the encoding allows, calibrated from data, "
                           "given by adc_full_scale, or 'dynamic' (NeuroSim V1.4): the min..max of each mvm "
                           "call's partial sums per conversion kind and row tile, 2**adc_bits steps, floor rounding",
                           affects=("function",))
    adc_full_scale: float = param(Maybe(Real(0, None, lo_open=True)), None,
                                  "explicit range: partial sum (in level x DAC-step units) at the top "
                                  "ADC code of an unsigned per-cycle conversion; other conversions scale alike", affects=("function",))
    adc_percentile: float = param(Real(50, 100, lo_open=True), 100.0,
                                  "calibrated range: percentile of observed partial sums mapped to the top code", affects=("function",))
    adc_position: str = param(Choice("per_cycle", "after_accumulation"), "per_cycle",
                              "digitize every input cycle (ISAAC) or once after analog accumulation")
    phase_cycles: Optional[int] = param(Maybe(Integer(1, 16)), None,
                                        "after_accumulation: the most input cycles integrated before a "
                                        "conversion; a vector's cycles run in ceil(T / phase_cycles) phases of "
                                        "near-equal length, each converted, then shifted and added (NeuRRAM's "
                                        "two-phase inputs); null: one phase")
    weight_mapping: str = param(Choice("offset", "differential"), "offset",
                                "signed weights: biased by 2**(weight_bits-1), or positive/negative column pairs")
    reference_column: str = param(Choice("g_off", "midscale"), "g_off",
                                  "offset mapping's reference: G_off cells cancel the off-state current before "
                                  "the ADC, or (NeuroSim V1.4) a dummy column of mid-scale cells is digitized like "
                                  "the data columns and subtracted digitally (needs adc_range: dynamic)",
                                  affects=("function",))
    column_encoding: str = param(Choice("plain", "flip"), "plain",
                                 "'flip' stores complemented levels in columns whose level sum exceeds half "
                                 "the maximum, halving the ADC range (ISAAC's encoding)", affects=("function",))
    variation_sigma: float = param(Real(0, 10), 0.0,
                                   "conductance variation: relative sigma of each cell's conductance (G_off included)",
                                   affects=("function",))
    variation_draw: str = param(Choice("programming", "cycle"), "programming",
                                "when variation is drawn: once when the weights are programmed (a fixed chip), "
                                "or afresh for every input cycle of every mvm call, shared by that call's vectors "
                                "(NeuroSim V1.4's vari)", affects=("function",))
    variation_model: str = param(Choice("gaussian", "lognormal"), "gaussian",
                                 "distribution of the programming variation (mean 1, relative sigma as set)", affects=("function",))
    read_noise_sigma: float = param(Real(0, 10), 0.0, "read noise: relative sigma of each cell's conductance, drawn per read", affects=("function",))
    stuck_at_on: float = param(Real(0, 1), 0.0, "probability that a cell is stuck at G_on", affects=("function",))
    stuck_at_off: float = param(Real(0, 1), 0.0, "probability that a cell is stuck at G_off", affects=("function",))

    @classmethod
    def _normalize(cls, data: Dict[str, Any]) -> Dict[str, Any]:
        if "g_off" not in data:
            return data
        if "on_off_ratio" in data:
            raise ConfigError(("g_off",), "either g_off or on_off_ratio", "both",
                              hint="they say the same thing; keep one")
        g_on = Quantity("conductance", 0, lo_open=True)
        g_off = Quantity("conductance", 0)
        try:
            off = g_off.convert(data.pop("g_off"))
        except ConfigError as exc:
            raise exc.under("g_off") from None
        try:
            on = g_on.convert(data.get("g_on", f"{NEUROSIM_G_ON_S!r}S"))
        except ConfigError as exc:
            raise exc.under("g_on") from None
        if off >= on:
            raise ConfigError(("g_off",), f"a conductance below g_on ({on!r} S)", off)
        data["on_off_ratio"] = math.inf if off == 0 else on / off
        return data

    def _validate(self) -> None:
        if self.cell_bits > self.weight_bits:
            raise ConfigError(("cell_bits",), f"an integer 1..{self.weight_bits} (at most weight_bits)", self.cell_bits)
        if self.dac_bits > self.input_bits:
            raise ConfigError(("dac_bits",), f"an integer 1..{self.input_bits} (at most input_bits)", self.dac_bits)
        if self.stuck_at_on + self.stuck_at_off > 1:
            raise ConfigError(("stuck_at_off",), f"a number in [0, {1 - self.stuck_at_on:g}] "
                              "(stuck_at_on + stuck_at_off <= 1)", self.stuck_at_off)
        if self.reference_column == "midscale":
            for name, needed in (("weight_mapping", "offset"), ("column_encoding", "plain"), ("adc_range", "dynamic")):
                if getattr(self, name) != needed:
                    raise ConfigError((name,), f"{needed!r} when reference_column is 'midscale'", getattr(self, name),
                                      hint="NeuroSim's mid-scale dummy column is modelled with offset mapping, "
                                           "plain columns and the dynamic ADC range only")
        if self.phase_cycles is not None and self.adc_position != "after_accumulation":
            raise ConfigError(("phase_cycles",), "null when adc_position is 'per_cycle'", self.phase_cycles,
                              hint="phases group input cycles integrated before one conversion: "
                                   "set adc_position: after_accumulation")
        if self.adc_range == "explicit" and self.adc_full_scale is None:
            raise ConfigError(("adc_full_scale",), "a number > 0 when adc_range is 'explicit'", None)
        if self.adc_range != "explicit" and self.adc_full_scale is not None:
            raise ConfigError(("adc_full_scale",), f"null when adc_range is {self.adc_range!r}",
                              self.adc_full_scale, hint="set adc_range: explicit to use it")

    # -- derived quantities -----------------------------------------------------------------

    @property
    def g_off(self) -> float:
        """Off-state conductance in siemens (``g_on / on_off_ratio``)."""
        return 0.0 if math.isinf(self.on_off_ratio) else self.g_on / self.on_off_ratio

    @property
    def max_level(self) -> int:
        """Highest cell level, ``2**cell_bits - 1``."""
        return (1 << self.cell_bits) - 1

    @property
    def slices(self) -> int:
        """Cells (columns) per weight and polarity: ``ceil(weight_bits / cell_bits)``."""
        return -(-self.weight_bits // self.cell_bits)

    @property
    def polarities(self) -> int:
        """Column sets per weight: 2 for differential mapping, 1 for offset."""
        return 2 if self.weight_mapping == "differential" else 1

    @property
    def columns_per_weight(self) -> int:
        """Physical columns holding one weight column: slices x polarities."""
        return self.slices * self.polarities

    @property
    def input_cycles(self) -> int:
        """Input cycles per vector: ``ceil(input_bits / dac_bits)``."""
        return -(-self.input_bits // self.dac_bits)

    @property
    def phase_sizes(self) -> Tuple[int, ...]:
        """Input cycles integrated in each conversion of a vector, least significant first: one
        each (``per_cycle``), or the phases of :func:`phase_split` (``after_accumulation``)."""
        if self.adc_position == "per_cycle":
            return (1,) * self.input_cycles
        return phase_lengths(self.input_cycles, self.phase_cycles)

    @property
    def conversions_per_read_group(self) -> int:
        """ADC conversions per column for one vector and row tile: input cycles, or phases if accumulated."""
        return len(self.phase_sizes)

    @property
    def ideal_devices(self) -> bool:
        """No programming variation, read noise or stuck-at faults."""
        return (self.variation_sigma == 0 and self.read_noise_sigma == 0
                and self.stuck_at_on == 0 and self.stuck_at_off == 0)

    @property
    def exact_adc_bits(self) -> int:
        """Smallest ADC resolution that makes a full-scale conversion exact for this encoding.

        ``ceil(log2(rows * (2**cell_bits - 1) * (2**dac_bits - 1) + 1))`` per cycle (one bit less
        with ``flip`` encoding, whose column level sums stay below half the maximum), or the
        analogue over the input bits of the widest phase when digitizing after accumulation.
        """
        level_sum = self.rows * self.max_level
        if self.column_encoding == "flip":
            level_sum //= 2
        # the widest conversion: the input bits of its cycles (the top cycle may hold fewer than dac_bits)
        widths = [self.dac_bits] * (self.input_cycles - 1) + [self.input_bits - self.dac_bits * (self.input_cycles - 1)]
        bits, start = 0, 0
        for size in self.phase_sizes:
            bits = max(bits, sum(widths[start:start + size]))
            start += size
        span = (1 << bits) - 1
        return max(1, math.ceil(math.log2(level_sum * span + 1)))
