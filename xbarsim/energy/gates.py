"""NeuroSim V1.4's gate-level model of adders, registers and shift-and-add units.

DNN+NeuroSim V1.4 (github.com/neurosim/DNN_NeuroSim_V1.4, commit ac828e6,
``Inference_pytorch/NeuroSIM``) prices its digital accumulation circuits from gate capacitances:
a full adder is nine NAND2 gates, a D flip-flop twelve minimum inverters' worth of layout, and
the energy of an operation is the capacitance switched x V_dd^2 x a switching activity. This
module carries that model over (the formulas are written from the sources' equations; no code is
copied), so that ``model.adder: neurosim`` prices xbarsim's shift-and-add and accumulation
counts as NeuroSim prices its own. Every constant says where it comes from:

* **Transistor sizes** (Adder.cpp ``Initialize``, DFF.cpp ``Initialize``): a NAND2 has NMOS of
  ``2 x MIN_NMOS_SIZE x F`` and PMOS of ``pnSizeRatio x MIN_NMOS_SIZE x F``, both widened to fill
  the standard cell's height (formula.cpp ``EnlargeSize``); the flip-flop's inverters and
  transmission gates are minimum size (``MIN_NMOS_SIZE x F``, PMOS x ``pnSizeRatio``).
  ``pnSizeRatio = I_on,N / I_on,P`` at 300 K (Technology.cpp).
* **Layout rules** (constant.h): ``MIN_NMOS_SIZE`` 2, ``MAX_TRANSISTOR_HEIGHT`` 28 (cell height,
  in F), ``MIN_GAP_BET_P_AND_N_DIFFS`` 3.5, ``MIN_POLY_EXT_DIFF`` 1.0, ``MIN_GAP_BET_FIELD_POLY``
  1.6, ``POLY_WIDTH`` 1.0, ``MIN_GAP_BET_GATE_POLY`` 2.8 (all in F).
* **Gate capacitance** (formula.cpp ``CalculateGateCap``): ``(C_ideal + C_overlap + C_fringe) x
  W`` (the poly-wire term is zero: Technology.cpp ``capPolywire = 0``), with ``C_overlap = 0.2
  C_ideal`` for planar nodes (Technology.cpp). A gate's input capacitance is its NMOS's plus its
  PMOS's (formula.cpp ``CalculateGateCapacitance``).
* **Drain (output) capacitance** (formula.cpp ``CalculateGateCapacitance``, planar, unfolded):
  bottom junction ``C_j x drain width x transistor width`` + sidewall ``C_sw x perimeter`` +
  drain-to-channel ``C_dc x transistor width``, each drain ``MIN_GAP_BET_GATE_POLY x F`` wide; a
  NAND2 has two NMOS drains (sidewall ``2 x 2 x gap + W_N``) and one shared PMOS drain (sidewall
  ``2 x gap``), an inverter one of each (sidewall ``2 x gap + W``). Junction capacitances at the
  node's V_dd (Technology.cpp): ``C_j = 1e-3 F/m^2 / (1 + V_dd / 0.9)^0.5``, ``C_sw = 2.5e-10 F/m
  / (1 + V_dd / 0.9)^0.33``, ``C_dc = 0.5e-10 F/m / (1 + V_dd / 0.9)^0.33``.
* **Area** (formula.cpp ``CalculateGateArea``, planar): cell height ``MAX_TRANSISTOR_HEIGHT x F``;
  width ``2 CPP F`` for an inverter and ``(2 x 2 - 1) CPP F`` for a NAND2 (diffusion shared), with
  ``CPP = POLY_WIDTH + MIN_GAP_BET_GATE_POLY``. An adder bit is 9 NAND2 (Adder.cpp
  ``CalculateArea``), a flip-flop 12 inverters' width (DFF.cpp ``CalculateArea``).
* **Adder energy** (Adder.cpp ``CalculatePower``): per bit of a ripple-carry adder, on NeuroSim's
  worst-case data pattern, ``(13 C_in + 7 C_out) V_dd^2`` of NAND2 capacitances (the first stage's
  6 C_in + 2 C_out plus its hidden transitions 7 C_in + 5 C_out; every later stage 7 C_in + 3 C_out
  plus 6 C_in + 4 C_out), times the adder activity ``delta`` (Param.cpp: 0.15).
* **Flip-flop energy** (DFF.cpp ``CalculatePower``): per bit clocked and written, the clock
  inverters ``4 (C_in + C_out)``, the clock transmission gates ``2 (C_gN + C_gP) = 2 C_in``, and the
  D-to-Q path ``(3 C_out + C_in) + 2 C_out + (C_in + C_out)`` (the transmission gate's drain is an
  inverter's output), all at V_dd^2: ``(8 C_in + 10 C_out) V_dd^2`` of inverter capacitances,
  times the flip-flop activity ``gamma`` (Param.cpp: 0.5).

Nodes: Technology.cpp's planar PTM figures are carried for 130, 90, 65, 45, 32 and 22 nm, for its
high-performance (``hp``) and low-standby-power (``lstp``) roadmaps, which the technology spec's
``logic`` field selects. A node between or beyond them (7-130 nm) takes the nearest carried node's
gates and scales their capacitance by Stillmaker & Baas's energy factor (at 0.8 V, so that energy
stays exactly proportional to V_dd^2) and their area by their area factor
(:mod:`xbarsim.energy.technology`); NeuroSim's own FinFET figures below 22 nm are not carried.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from .technology import area_factor, check_node, energy_factor

__all__ = ["Gates", "gates", "adder_energy", "adder_area", "dff_energy", "dff_area", "shift_add_stages",
           "ADDER_ACTIVITY", "DFF_ACTIVITY"]

#: Param.cpp: switching activity of adders (``delta``) and of flip-flops in shift-adders and
#: accumulators (``gamma``), NeuroSim's calibration against its post-layout results.
ADDER_ACTIVITY, DFF_ACTIVITY = 0.15, 0.5

# constant.h layout rules, in units of the feature size F
_MIN_NMOS_SIZE = 2.0
_CELL_HEIGHT = 28.0  # MAX_TRANSISTOR_HEIGHT
_GAP_P_N = 3.5  # MIN_GAP_BET_P_AND_N_DIFFS
_POLY_EXT = 1.0  # MIN_POLY_EXT_DIFF
_GAP_FIELD_POLY = 1.6  # MIN_GAP_BET_FIELD_POLY
_POLY_WIDTH = 1.0  # POLY_WIDTH
_GAP_GATE_POLY = 2.8  # MIN_GAP_BET_GATE_POLY
# Technology.cpp junction parameters (planar nodes)
_CJ_BOTTOM, _CJ_SIDEWALL, _CJ_GATE_EDGE = 1e-3, 2.5e-10, 0.5e-10  # F/m^2, F/m, F/m
_MJ_BOTTOM, _MJ_SIDEWALL, _MJ_GATE_EDGE = 0.5, 0.33, 0.33
_BUILT_IN_V = 0.9
_OVERLAP_SHARE = 0.2  # capOverlap = 0.2 capIdealGate

#: Technology.cpp, PTM models per node (nm): V_dd (V), capIdealGate and capFringe (F/m), and the
#: NMOS and PMOS on currents at 300 K (uA/um), whose ratio sizes PMOS (pnSizeRatio).
_PTM = {
    "hp": {130: (1.3, 6.058401e-10, 6.119807e-10, 930.0, 430.0),
           90: (1.2, 5.694423e-10, 5.652302e-10, 1070.0, 540.0),
           65: (1.1, 4.868295e-10, 5.270361e-10, 1120.0, 700.0),
           45: (1.0, 4.091305e-10, 4.957928e-10, 1270.0, 1080.0),
           32: (0.9, 3.767721e-10, 4.713762e-10, 1410.0, 1220.0),
           22: (0.85, 3.287e-10, 4.532e-10, 1500.0, 1320.0)},
    "lstp": {130: (1.3, 1.8574e-9, 9.530642e-10, 300.70, 150.70),
             90: (1.2, 1.5413e-9, 9.601334e-10, 346.30, 200.30),
             65: (1.1, 1.1926e-9, 9.62148e-10, 400.00, 238.70),
             45: (1.0, 8.930709e-10, 8.849901e-10, 500.20, 300.00),
             32: (0.9, 8.375279e-10, 6.856677e-10, 600.20, 400.00),
             22: (0.85, 5.245e-10, 8.004e-10, 791.90, 600.20)},
}


@dataclass(frozen=True)
class Gates:
    """NAND2 (adder) and inverter (flip-flop) capacitances (F) and layout areas (m^2) at a node."""

    nand_in: float
    nand_out: float
    inv_in: float
    inv_out: float
    nand_area: float
    inv_area: float
    how: str


def _drain(c_j: float, c_sw: float, c_dc: float, f: float, w_n: float, w_p: float, nand: bool) -> float:
    """Output capacitance of an unfolded planar NAND2 or inverter (formula.cpp)."""
    gap = _GAP_GATE_POLY * f
    if nand:  # two NMOS drains in series, one PMOS drain shared by the two parallel PMOS
        bottom = c_j * (2 * gap * w_n + gap * w_p)
        side = c_sw * ((2 * 2 * gap + w_n) + 2 * gap)
    else:
        bottom = c_j * (gap * w_n + gap * w_p)
        side = c_sw * ((2 * gap + w_n) + (2 * gap + w_p))
    return bottom + side + c_dc * (w_n + w_p)


def _carried(node_nm: int, logic: str) -> Gates:
    vdd, c_ideal, c_fringe, i_n, i_p = _PTM[logic][node_nm]
    f = node_nm * 1e-9
    c_gate = c_ideal * (1 + _OVERLAP_SHARE) + c_fringe  # F per metre of gate width
    pn = i_n / i_p
    bias = 1 + vdd / _BUILT_IN_V
    c_j = _CJ_BOTTOM / bias ** _MJ_BOTTOM
    c_sw = _CJ_SIDEWALL / bias ** _MJ_SIDEWALL
    c_dc = _CJ_GATE_EDGE / bias ** _MJ_GATE_EDGE
    # NAND2: 2 x min NMOS and pn x min PMOS, widened (EnlargeSize) to share the cell's diffusion height
    room = (_CELL_HEIGHT - _GAP_P_N - 2 * (_POLY_EXT + _GAP_FIELD_POLY / 2)) * f
    n0, p0 = 2 * _MIN_NMOS_SIZE * f, pn * _MIN_NMOS_SIZE * f
    w_p = room * p0 / (n0 + p0)
    w_n = room - w_p
    i_n_w, i_p_w = _MIN_NMOS_SIZE * f, pn * _MIN_NMOS_SIZE * f  # minimum inverter
    cpp = (_POLY_WIDTH + _GAP_GATE_POLY) * f
    height = _CELL_HEIGHT * f
    return Gates(
        nand_in=c_gate * (w_n + w_p), nand_out=_drain(c_j, c_sw, c_dc, f, w_n, w_p, nand=True),
        inv_in=c_gate * (i_n_w + i_p_w), inv_out=_drain(c_j, c_sw, c_dc, f, i_n_w, i_p_w, nand=False),
        nand_area=(2 * 2 - 1) * cpp * height, inv_area=2 * cpp * height,
        how=f"NeuroSim V1.4 {node_nm} nm {logic.upper()} gates (Technology.cpp PTM, formula.cpp)")


@lru_cache(maxsize=64)
def gates(node_m: float, logic: str = "lstp") -> Gates:
    """NeuroSim's gates at ``node_m``: its own figures at a carried node, else the nearest carried
    node's scaled by Stillmaker & Baas (capacitance by the energy factor at 0.8 V, area by the area
    factor)."""
    check_node(node_m)
    nm = node_m * 1e9
    near = min(_PTM[logic], key=lambda n: abs(math.log(n / nm)))
    g = _carried(near, logic)
    if abs(near - nm) < 1e-6:
        return g
    c = energy_factor(near * 1e-9, node_m, 0.8)
    a = area_factor(near * 1e-9, node_m)
    return Gates(nand_in=g.nand_in * c, nand_out=g.nand_out * c, inv_in=g.inv_in * c, inv_out=g.inv_out * c,
                 nand_area=g.nand_area * a, inv_area=g.inv_area * a,
                 how=f"{g.how}, scaled {near} -> {nm:g} nm (Stillmaker & Baas)")


def adder_energy(bits: int, g: Gates, vdd: float, activity: float = ADDER_ACTIVITY) -> float:
    """Energy (J) of one addition of a ``bits``-bit ripple-carry adder (Adder.cpp ``CalculatePower``)."""
    return bits * (13 * g.nand_in + 7 * g.nand_out) * vdd * vdd * activity


def adder_area(bits: int, g: Gates) -> float:
    """Area (m^2) of a ``bits``-bit adder: 9 NAND2 per bit (Adder.cpp ``CalculateArea``)."""
    return bits * 9 * g.nand_area


def dff_energy(bits: int, g: Gates, vdd: float, activity: float = DFF_ACTIVITY) -> float:
    """Energy (J) of clocking and writing ``bits`` flip-flops once (DFF.cpp ``CalculatePower``)."""
    return bits * (8 * g.inv_in + 10 * g.inv_out) * vdd * vdd * activity


def dff_area(bits: int, g: Gates) -> float:
    """Area (m^2) of ``bits`` flip-flops, 12 inverters' layout each (DFF.cpp ``CalculateArea``)."""
    return bits * 12 * g.inv_area


def shift_add_stages(adc_bits: int, columns: int, input_cycles: int):
    """NeuroSim's shift-and-add of one ADC's conversions (SubArray.cpp, ShiftAdd.cpp), as
    ``(adds, adder bits, flip-flops)`` per stage and per conversion:

    * a weight stage when a weight spans ``columns > 1`` columns: each conversion but the first of
      a weight column group is shifted and added, ``(columns - 1) / columns`` additions per
      conversion on an ``adc_bits``-bit adder with ``adc_bits + 1 + columns - 1`` flip-flops
      (SubArray.cpp ``shiftAddWeight``: ``numAdderBit`` = the ADC's bits, ``numReadPulse`` = cells
      per synapse; ShiftAdd.cpp ``Initialize``: ``numAdderBit + 1 + numReadPulse - 1`` flip-flops);
    * an input stage when a vector takes ``input_cycles > 1`` conversions per column: one addition
      per weight column group, ``1 / columns`` per conversion, on an ``adc_bits + columns``-bit adder
      with ``adc_bits + columns + 1 + input_cycles - 1`` flip-flops (SubArray.cpp ``shiftAddInput``).

    Every unit of a ShiftAdd clocks all its flip-flops per addition (ShiftAdd.cpp ``CalculatePower``
    passes ``numDff`` as the flip-flops per operation)."""
    stages = []
    if columns > 1:
        stages.append(((columns - 1) / columns, adc_bits, adc_bits + columns))
    if input_cycles > 1:
        stages.append((1 / columns, adc_bits + columns, adc_bits + columns + input_cycles))
    return stages
