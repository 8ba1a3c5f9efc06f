"""Component models: the energy table of an arch, computed from its parameters and a technology.

An energy spec may carry a ``model`` section (:class:`TechnologySpec`) instead of, or besides,
hand-written ``components``: :func:`resolve` turns it into an ordinary table for one arch,
one entry per component of :data:`xbarsim.hardware.REGISTRY`, each with its area, peak power,
static (leakage) power and action energies, and a ``source`` saying where every number came
from. Hand-written entries in the same spec replace the model's entries whole.

Every figure traces to a formula or a cited source (``docs/energy-model.md`` explains each):

* **ADC** ``sar``: the Murmann ADC survey (B. Murmann, "ADC Performance Survey 1997-2023",
  github.com/bmurmann/ADC-survey) as fitted by hwcomponents-adc 1.0.21 (MIT; T. Andrulis et
  al., "Modeling analog-digital-converter energy and area for compute-in-memory accelerator
  design", arXiv:2404.06553): energy from a frontier Schreier figure of merit that falls with
  the sample rate and is capped per resolution, with a node and resolution correction; area by
  regression on node, rate and energy. ``flash`` (NeuroSim's multi-level sense amplifier):
  ``2^bits - 1`` comparisons per conversion, each at the energy and area NeuroSim V1.4's 5-bit
  22 nm sense-amp ADC implies (``../shared/REFERENCE_DATA.md``; its area with the SRAM precharger,
  from its default VGG-8 chip's report).
  Static power: ``sar`` 20% of the energy at full rate, the hwcomponents-adc convention;
  ``flash`` none: NeuroSim's sense amplifier draws its bias current only while it senses a
  column, inside the conversion energy (``MultilevelSenseAmp.cpp CalculatePower``: leakage = 0).
* **Crossbar**: read energy from physics, ``(V_read d / D)^2 x G x t_read`` per cell of a row
  driven with digit ``d`` (``D = 2^dac_bits - 1``) by a voltage DAC, ``V_read^2 G t_read |d| / D``
  by a pulse-width DAC, priced per ``xbar.conduct`` count (a cell at half a level step of
  conductance under a one-unit digit: ``d^2`` or ``|d| D`` units): on real data the counts follow the
  programmed levels and the digits (:mod:`xbarsim.mapping.activity`); structurally every digit
  is full scale and every cell at its mid level; write ``V_write^2 G_on t_pulse`` per cell;
  cell area from NeuroSim's cell sizes in F^2; SRAM cells leak as CACTI's, resistive cells do
  not.
* **DAC** by ``crossbar.dac_type``: ``voltage``, a latch per bit (Aladdin register bit) per digit
  converted, and the drive of its row, ``C_row V_dd^2 |d| / D`` per digit (``dac.drive`` per digit
  step), with the row capacitance per metre NeuroSim V1.4's row-drive energy implies;
  ``pulse_width`` (more than 1 bit), a counter of ``dac_bits`` per row loaded with the digit and
  counting it down (Aladdin's 40 nm counter, 0.25074 pJ per count and 495.5 um^2 at 32 bits,
  per bit, per ``dac.drive`` step; CiMLoop models the Sinangil macro's temporal DAC so), its row
  charged to full scale once per non-zero digit (``C_row V_dd^2`` per ``xbar.row_activation``);
  a cell then draws ``V_read^2 G t |d| / D``. A 1-bit DAC is a switch: one model for both types. **Sample-and-hold**: ISAAC's ~1 fJ per sample. **Shift-and-add, accumulators,
  activation, pooling**: Aladdin's 40 nm adder, register and comparator (Shao et al., ISCA
  2014, as tabulated in hwcomponents-library) per bit of width, at NeuroSim's switching
  activities (Param.cpp: 0.15 for adders, 0.5 for flip-flops); or, with ``adder: neurosim``,
  NeuroSim V1.4's gate-level adders and flip-flops (:mod:`xbarsim.energy.gates`): its subarray
  shift-and-add per conversion and its adder trees' adders. **Registers**: Aladdin register
  bits.
* **Buffers** (SRAM or eDRAM): CACTI 7 runs shipped in ``data/cacti_buffers.csv``, interpolated
  log-log in capacity and access width, at the nearest run node and scaled.
* **Tile bus**: a wire the tile's side long, ``C_wire V_dd^2`` per toggling bit (NeuroSim's
  input toggle rate 0.18). **Routers** (mesh): ISAAC's router (Table I) per byte and hop, scaled.
  **Chip bus** (``interconnect.topology: bus``): NeuroSim V1.4's X-Y bus (XYBus.cpp): per bit
  ``0.5 C L V_dd^2`` at 0.2 fF/um over half the chip's side on the Y bus (output toggle rate 0.5)
  and again on the X bus (input toggle rate 0.18); repeaters left out (a lower bound); no routers,
  no area of its own (wiring over the tiles) and no leakage.
  **DRAM** per bit by type (CACTI-DRAM figures via Accelergy). **Off-chip links**: energy per
  bit and area per link (default: ISAAC's HyperTransport).
* **Static power of logic** without a published figure: area x the leakage density of
  Aladdin's 40 nm adder (2.4 uW in 278 um^2), scaled like energy.
* **Technology scaling**: Stillmaker & Baas 2017 (:mod:`xbarsim.energy.technology`).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from typing import Dict, Optional, Tuple

from ..config.fields import Boolean, Choice, Maybe, Quantity, Real, Spec, param
from ..errors import ConfigError
from ..hardware import REGISTRY
from ..functional.devices import g_off_levels
from .gates import ADDER_ACTIVITY, DFF_ACTIVITY, adder_area, adder_energy, dff_area, dff_energy, gates, shift_add_stages
from .technology import area_factor, check_node, energy_factor

__all__ = ["TechnologySpec", "ComponentModel", "adc_energy_area", "buffer_figures", "model_components", "DRAM_PJ_PER_BIT"]

# -- sources carried over, with where they come from ---------------------------------------------

#: Murmann-survey ADC model fitted by hwcomponents-adc 1.0.21 (adc_data/model.yaml): Schreier FOM
#: (dB) = intercept + slope x ln(rate), capped by a per-ENOB maximum; energy correction
#: exp(tech_intercept + tech_slope ln(node nm) + enob_slope ln(bits) + residual); area
#: ln(um^2) = a ln(node nm) + b ln(rate) + c ln(energy pJ) + intercept.
_FOMS_INTERCEPT, _FOMS_RATE = 213.7806687348118, -2.8719030399529957
_FOMS_MAX_BY_ENOB = (128.3068287398817, 131.52734025085925, 134.7478517618368, 137.96836327281437,
                     141.18887478379193, 144.4093862947695, 147.62989780574708, 150.85040931672464,
                     154.0709208277022, 157.29143233867975, 160.5119438496573, 163.73245536063487,
                     166.95296687161243, 170.17347838259, 173.39398989356755, 176.61450140454514,
                     179.83501291552267, 183.05552442650026, 186.27603593747781, 189.49654744845537,
                     192.71705895943293)
_TECH_INTERCEPT, _TECH_SLOPE, _ENOB_SLOPE, _ENERGY_RESIDUAL = (26.0496215686518, 1.8800369206815004,
                                                               -2.8291256050594527, -1.4702022133784405)
_AREA_NODE, _AREA_RATE, _AREA_ENERGY, _AREA_INTERCEPT = (0.9932794744745022, 0.18071538424508238,
                                                         0.29912426192653485, 1.3461916439910742)
_ADC_LEAK_SHARE = 0.2  # hwcomponents-adc: "Assume leakage is 20% of the total energy"
_SURVEY_MIN_BITS = 4  # hwcomponents-adc refuses fewer: the survey has no such designs

#: NeuroSim V1.4 default chip run on this machine (REFERENCE_DATA.md): 5-bit multi-level
#: sense-amp ADC at 22 nm, about 0.10 pJ per conversion -> per comparison (31 per conversion).
_FLASH_PJ_PER_COMPARISON_22NM = 0.10 / 31
#: ... and its area, from the same chip re-run here on the validation traces (docs/validation.md):
#: "Total ADC (or S/As and precharger for SRAM) Area on chip" 15.3844 mm^2 for its 9,472 subarrays
#: of 16 sense-amp ADCs (one per 8 of 128 columns) of 31 comparators each.
_FLASH_UM2_PER_COMPARISON_22NM = 15.3844e6 / (9472 * 16 * 31)
#: ... and its row drive, 0.0176 pJ per row at 22 nm for 128 SRAM cells of 28 F width (Param.cpp),
#: at V_dd = 0.8 V (22 nm LSTP in NeuroSim's Technology.cpp): C = E / V^2 per metre of row.
_ROW_F_PER_M = 0.0176e-12 / 0.8 ** 2 / (128 * 28 * 22e-9)

#: Aladdin (Shao et al., ISCA 2014) 40 nm figures as tabulated in hwcomponents-library 1.0.58.
_ALADDIN_NODE = 40e-9
_ADDER_PJ_PER_BIT = 0.21 / 32  # 32-bit adder: 0.21 pJ per add
_ADDER_UM2_PER_BIT = 278.0 / 32
_REG_PJ_PER_BIT = 0.009  # register bit: 0.009 pJ per access
_REG_UM2_PER_BIT = 5.98
_CMP_PJ_PER_BIT = 0.02947 / 32  # 32-bit comparator
_CMP_UM2_PER_BIT = 71.0 / 32
_COUNT_PJ_PER_BIT = 0.25074 / 32  # 32-bit counter: 0.25074 pJ per count
_COUNT_UM2_PER_BIT = 495.5 / 32
_LEAK_W_PER_UM2 = 2.40e-6 / 278.0  # the adder's leakage over its area: logic leakage density
#: NeuroSim V1.4 Technology.cpp, 22 nm PTM models at 300 K: off current of a minimum NMOS per um
#: of width, high-performance (22nm.pm: 100.20e-3 uA/um) and low-power (22nm_LP.pm: 100.00e-6
#: uA/um). Their ratio scales the logic leakage of an LSTP process (Param.cpp deviceroadmap 2).
_IOFF_HP_UA_PER_UM, _IOFF_LP_UA_PER_UM = 100.20e-3, 100.00e-6
#: Components whose static power is logic leakage (:func:`_logic_leak`); ``noc`` only as mesh routers.
_LOGIC_COMPONENTS = frozenset({"dac", "sh", "shift_add", "tile_shift_add", "act", "pool", "noc", "mxu", "vec"})
#: NeuroSim V1.4 Param.cpp: input toggling rate for interconnect energy.
_WIRE_TOGGLE = 0.18
#: NeuroSim V1.4 XYBus.cpp (the chip's global bus, Chip.cpp ``GBus``): wire capacitance 0.2 fF/um
#: (``unitLengthWireCap``); ``XYBus::CalculatePower`` charges ``0.5 C V_dd^2`` per metre and bit,
#: a layer's input bits along the X bus to the chip's middle column at Param.cpp's ``inputtoggle``
#: 0.18 and its output bits along the Y bus from the middle row at ``outputtoggle`` 0.5.
_BUS_F_PER_M = 0.2e-15 / 1e-6
_OUTPUT_TOGGLE = 0.5

#: ISAAC Table I (32 nm): sample-and-hold 10 uW and 0.00004 mm^2 per 1024 at one sample per 100 ns.
_ISAAC_NODE = 32e-9
_SH_PJ = 10e-6 * 100e-9 / 1024 * 1e12
_SH_UM2 = 0.00004e6 / 1024
#: ISAAC Table I router: 42 mW, 0.151 mm^2, 8 ports of 32-bit flits at 1.2 GHz (38.4 GB/s).
_ROUTER_PJ_PER_BYTE = 42e-3 / 38.4e9 * 1e12
_ROUTER_MM2 = 0.151
#: ISAAC Table I HyperTransport link: 2.6 W per link for 6.4 GB/s, 5.72 mm^2 per link.
_HT_PJ_PER_BIT = 2.6 / 6.4e9 * 1e12 / 8
_HT_MM2 = 5.72

#: Horowitz, "Computing's energy problem", ISSCC 2014, 45 nm at 0.9 V: integer multiply 0.2 pJ /
#: 282 um^2 at 8 bits and 3.1 pJ / 3495 um^2 at 32 bits; integer add 0.1 pJ / 137 um^2 at 32 bits;
#: 16-bit floating-point add 0.4 pJ / 1360 um^2 and multiply 1.1 pJ / 1640 um^2.
_HOROWITZ_NODE = 45e-9
_MUL_8 = (0.2, 282.0)
_MUL_32 = (3.1, 3495.0)
_ADD_32 = (0.1, 137.0)
_FP16_LANE = ((0.4 + 1.1) / 2, (1360.0 + 1640.0) / 2)  # a vector lane: the mean of an add and a multiply


def _multiplier(bits: int) -> Tuple[float, float]:
    """Energy (pJ) and area (um^2) of a ``bits`` x ``bits`` integer multiplier at 45 nm: the power
    law through Horowitz's 8- and 32-bit points (exponents 1.98 and 1.82: about quadratic)."""
    out = []
    for i in range(2):
        slope = math.log(_MUL_32[i] / _MUL_8[i]) / math.log(4)
        out.append(_MUL_8[i] * (bits / 8) ** slope)
    return out[0], out[1]


#: Micron 4Gb DDR4-2400 x8 (die rev. A) datasheet currents as DRAMPower's memspec
#: ``MICRON_4Gb_DDR4-2400_8bit_A`` carries them (github.com/tukl-msd/DRAMPower): IDD0, IDD2N, IDD3N,
#: IDD4R, IDD4W and IPP0 in mA, VDD and VPP in V, tRC and tRAS in clocks of 1200 MHz (2400 MT/s), a
#: page of 1024 columns x 8 bits per device.
_DDR4 = dict(idd0=60.75, idd2n=38.25, idd3n=44.0, idd4r=184.5, idd4w=168.75, ipp0=4.05, vdd=1.2, vpp=2.5,
             trc=55, tras=39, clock_hz=1200e6, width=8, page_bits=1024 * 8)


def _ddr4_pj_per_bit() -> Tuple[float, float]:
    """(read, write) energy per bit of a DDR4 device streaming whole pages, by Micron's method
    (TN-40-07, "Calculating Memory Power for DDR4 SDRAM"): a burst's current above active standby,
    ``(IDD4R|IDD4W - IDD3N) VDD`` over the pins' bit rate, plus one activate-precharge per page,
    ``(IDD0 - (IDD3N tRAS + IDD2N (tRC - tRAS)) / tRC) VDD tRC + IPP0 VPP tRC`` (the VPP term an
    upper bound: IPP0 includes VPP's standby current), shared by the page's bits. The device core
    only: the interface energy is the off-chip link's (every DRAM byte also crosses ``offchip``)."""
    d = _DDR4
    trc_s, tras = d["trc"] / d["clock_hz"], d["tras"] / d["trc"]
    act_ma = d["idd0"] - (d["idd3n"] * tras + d["idd2n"] * (1 - tras))
    act_j = (act_ma * d["vdd"] + d["ipp0"] * d["vpp"]) * 1e-3 * trc_s
    bits_per_s = 2 * d["clock_hz"] * d["width"]
    burst = [(d[k] - d["idd3n"]) * 1e-3 * d["vdd"] / bits_per_s for k in ("idd4r", "idd4w")]
    return tuple((b + act_j / d["page_bits"]) * 1e12 for b in burst)


#: DRAM (read, write) energy per bit (pJ) by type, CACTI-DRAM and public figures via
#: Accelergy/hwcomponents-cacti 1.0.40: LPDDR4 8 (public data), LPDDR 40 (Malladi et al., ISCA 2012),
#: DDR3 70 (Chatterjee et al., MICRO 2017), HBM2 6.25, HBM3 4.05; DDR4 from a datasheet
#: (:func:`_ddr4_pj_per_bit`).
DRAM_PJ_PER_BIT = {"lpddr4": (8.0, 8.0), "lpddr": (40.0, 40.0), "ddr3": (70.0, 70.0), "ddr4": _ddr4_pj_per_bit(),
                   "hbm2": (6.25, 6.25), "hbm3": (4.05, 4.05)}
_DRAM_SOURCES = {"ddr4": "Micron 4Gb DDR4-2400 x8 datasheet currents (DRAMPower memspec) by Micron TN-40-07, "
                         "streaming whole pages, device core only"}

#: Cell sizes in F^2 (NeuroSim V1.4 Param.cpp for nodes above 14 nm: SRAM 10 x 28 F; 1T1R 4 x 12 F).
_CELL_F2 = {"sram": 10 * 28, "rram": 4 * 12}
_CELL_WIDTH_F = {"sram": 28, "rram": 12}


@dataclass(frozen=True, kw_only=True)
class TechnologySpec(Spec):
    section_doc = "component models: the technology an energy table is computed for (docs/energy-model.md)"

    node: float = param(Quantity("length", 0, lo_open=True), "32nm", "CMOS technology node (7nm..130nm)")
    vdd: float = param(Quantity("voltage", 0, lo_open=True), "0.8V",
                       "digital supply: scaling reference (Stillmaker & Baas) and row drive voltage")
    cell: str = param(Choice("rram", "sram"), "rram", "array cells: resistive (1T1R) or SRAM")
    v_read: float = param(Quantity("voltage", 0, lo_open=True), "0.55V",
                          "read voltage across a cell at the full-scale DAC digit (NeuroSim 22 nm: 0.55 V)")
    read_pulse: Optional[float] = param(Maybe(Quantity("time", 0, lo_open=True)), None,
                                        "time cell current flows per read, at most pe.read_latency (default: all of it)")
    v_write: float = param(Quantity("voltage", 0, lo_open=True), "2V", "write voltage (NeuroSim V1.4: 2 V)")
    adc: str = param(Choice("sar", "flash"), "sar",
                     "ADC type: 'sar' (Murmann survey fit) or 'flash' (2^bits - 1 comparators: NeuroSim's "
                     "multi-level sense amplifier)")
    buffer: str = param(Choice("sram", "edram"), "sram", "tile and global buffer cells (CACTI runs)")
    dram: str = param(Choice(*DRAM_PJ_PER_BIT), "lpddr4", "off-chip DRAM type")
    link_energy_per_bit: float = param(Quantity("energy", 0), f"{_HT_PJ_PER_BIT!r}pJ",
                                       "off-chip link energy per bit (default: ISAAC's HyperTransport)")
    link_area: float = param(Quantity("area", 0), f"{_HT_MM2!r}mm2", "area of one off-chip link (ISAAC: 5.72 mm2)")
    activity: float = param(Real(0, 1, lo_open=True), ADDER_ACTIVITY,
                            "switching activity of adders (NeuroSim Param.cpp delta = 0.15)")
    logic: str = param(Choice("hp", "lstp"), "hp",
                       "transistors of the digital logic (DAC latches, sample-and-holds, adders, units, routers): "
                       "'hp' leaks at Aladdin's 40 nm adder density, taken as a high-performance library, or "
                       "'lstp' (low standby power, NeuroSim's default deviceroadmap) at that density x "
                       "I_off(LP) / I_off(HP) = 1/1002 (NeuroSim V1.4 Technology.cpp, 22 nm PTM); with adder: neurosim "
                       "also which of NeuroSim's PTM gate capacitances price the adders")
    adder: str = param(Choice("aladdin", "neurosim"), "aladdin",
                       "model of the shift-and-adds and adders: 'aladdin' (Aladdin's 40 nm adder and register per bit "
                       "of pe.psum_bits, scaled) or 'neurosim' (NeuroSim V1.4's gate-level adders and flip-flops, "
                       "xbarsim.energy.gates: its subarray shift-and-add per conversion and its adder-tree adders)")
    cell_current: bool = param(Boolean(), True,
                               "price the cells' read current (V_read^2 G t per driven cell); false when the ADC "
                               "figure already includes it (NeuroSim's sense amplifier, whose energy is that of its "
                               "column current)")

    def _validate(self) -> None:
        check_node(self.node, ("node",))


# -- the models ----------------------------------------------------------------------------------


def _foms_max(bits: float) -> float:
    return _FOMS_MAX_BY_ENOB[max(0, min(math.ceil(bits), len(_FOMS_MAX_BY_ENOB) - 1))]


def adc_energy_area(kind: str, bits: int, rate_hz: float, node_m: float) -> Tuple[float, float, str]:
    """(energy per conversion in J, area in m^2, how) of one ADC (docstring of this module)."""
    nm = node_m * 1e9
    if kind == "flash":
        pj = (2 ** bits - 1) * _FLASH_PJ_PER_COMPARISON_22NM * energy_factor(22e-9, node_m)
        how = (f"{2 ** bits - 1} comparisons x {_FLASH_PJ_PER_COMPARISON_22NM:.4g} pJ and "
               f"{_FLASH_UM2_PER_COMPARISON_22NM:.4g} um2 (NeuroSim V1.4 5-bit 22 nm sense-amp ADC, 0.10 pJ / 31 "
               f"comparators; its area with the SRAM precharger), scaled to {nm:g} nm")
        um2 = (2 ** bits - 1) * _FLASH_UM2_PER_COMPARISON_22NM * area_factor(22e-9, node_m)
        return pj * 1e-12, um2 * 1e-12, how
    else:
        enob = max(bits, _SURVEY_MIN_BITS)
        foms = min(_FOMS_INTERCEPT + _FOMS_RATE * math.log(rate_hz), _foms_max(enob))
        sndr = enob * 20 * math.log10(2) + 10 * math.log10(1.5)
        base = 1 / (2 * 10 ** ((foms - sndr) / 10))
        pj = base * math.exp(_TECH_INTERCEPT + _TECH_SLOPE * math.log(nm) + _ENOB_SLOPE * math.log(enob)
                             + _ENERGY_RESIDUAL)
        how = (f"Murmann survey fit (hwcomponents-adc 1.0.21) at {enob} bits, {rate_hz / 1e6:g} MS/s, {nm:g} nm"
               + (f" ({bits} bits: below the survey's 4)" if bits < _SURVEY_MIN_BITS else ""))
    um2 = math.exp(_AREA_NODE * math.log(nm) + _AREA_RATE * math.log(rate_hz) + _AREA_ENERGY * math.log(pj)
                   + _AREA_INTERCEPT)
    return pj * 1e-12, um2 * 1e-12, how


@lru_cache(maxsize=1)
def _cacti_rows():
    text = resources.files("xbarsim.energy.data").joinpath("cacti_buffers.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    return [{k: (v if k == "kind" else float(v)) for k, v in row.items()} for row in rows]


def buffer_figures(kind: str, size_bytes: float, width_bits: int, node_m: float) -> Dict[str, float]:
    """Read and write energy per access (J), leakage (W) and area (m^2) of a buffer, from the CACTI
    runs: the run node nearest ``node_m`` (scaled by Stillmaker & Baas), interpolated log-log in
    capacity and width between the runs around them (extrapolated linearly in log-log beyond)."""
    rows = [r for r in _cacti_rows() if r["kind"] == kind]
    nodes = sorted({r["node_nm"] for r in rows})
    run_nm = min(nodes, key=lambda n: abs(math.log(n / (node_m * 1e9))))
    rows = [r for r in rows if r["node_nm"] == run_nm]
    out = {}
    for field in ("read_pj", "write_pj", "leakage_mw", "area_mm2"):
        if kind == "edram" and field == "write_pj":
            field_in = "read_pj"  # see docs/energy-model.md: CACTI's lp-dram write includes page restore
        else:
            field_in = field
        out[field] = math.exp(_interpolate2(rows, math.log(max(size_bytes, 1.0)), math.log(width_bits), field_in))
    e = energy_factor(run_nm * 1e-9, node_m)
    a = area_factor(run_nm * 1e-9, node_m)
    return {"read": out["read_pj"] * 1e-12 * e, "write": out["write_pj"] * 1e-12 * e,
            "leakage": out["leakage_mw"] * 1e-3 * e, "area": out["area_mm2"] * 1e-6 * a, "run_nm": run_nm}


def _interpolate1(points, x):
    """Piecewise-linear in (x, y) points (sorted by x), extrapolated from the end segments."""
    points = sorted(points)
    if len(points) == 1:
        return points[0][1]
    for i in range(len(points) - 1):
        (x0, y0), (x1, y1) = points[i], points[i + 1]
        if x <= x1 or i == len(points) - 2:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return points[-1][1]  # pragma: no cover


def _interpolate2(rows, log_size, log_width, field):
    widths = sorted({r["width_bits"] for r in rows})
    per_width = []
    for w in widths:
        pts = [(math.log(r["size_bytes"]), math.log(r[field])) for r in rows if r["width_bits"] == w]
        if len(pts) >= 2:
            per_width.append((math.log(w), _interpolate1(pts, log_size)))
    return _interpolate1(per_width, log_width)


def _logic_leak(area_m2: float, node_m: float, logic: str = "hp") -> float:
    """Static power of logic of this area at ``node_m``: Aladdin's adder leakage density at 40 nm,
    scaled like energy per area; for ``lstp`` logic times the ratio of low-power to high-performance
    off currents (NeuroSim V1.4 Technology.cpp, 22 nm PTM: 100.00e-6 / 100.20e-3 uA/um), the ratio
    taken at 22 nm whatever the node."""
    flavour = _IOFF_LP_UA_PER_UM / _IOFF_HP_UA_PER_UM if logic == "lstp" else 1.0
    density = _LEAK_W_PER_UM2 * energy_factor(_ALADDIN_NODE, node_m) / area_factor(_ALADDIN_NODE, node_m)
    return density * area_m2 * 1e12 * flavour


@dataclass(frozen=True)
class ComponentModel:
    """One component's figures for one arch: per instance, SI units."""

    area: float
    leakage: float
    actions: Dict[str, float]
    peak_rate: Dict[str, float]
    """Actions per second per instance at full speed (for peak power)."""
    source: str

    def entry(self) -> dict:
        power = self.leakage + sum(self.actions[a] * self.peak_rate.get(a, 0.0) for a in self.actions)
        return {"area": f"{self.area * 1e6!r}mm2", "power": f"{power!r}W", "leakage": f"{self.leakage!r}W",
                "actions": {a: f"{e * 1e12!r}pJ" for a, e in self.actions.items()}, "source": self.source}


def _neurosim_accumulation(arch, tech: TechnologySpec, sa_rate: float) -> Dict[str, ComponentModel]:
    """``shift_add`` and ``tile_shift_add`` by NeuroSim V1.4's gate-level model (:mod:`.gates`).

    A ``shift_add.op`` (one conversion merged) is NeuroSim's subarray shift-and-add per conversion
    (:func:`.gates.shift_add_stages`: the weight stage over the columns of a weight, the input stage
    over the input cycles), at the ADC's bits; a shift-and-add unit holds both stages' adders and
    flip-flops (NeuroSim: one ``shiftAddWeight`` and one ``shiftAddInput`` unit per ADC). A
    ``tile_shift_add.op`` (two partial sums added) is one adder of an adder tree, ``pe.psum_bits``
    wide, without a register (AdderTree.cpp: adders only)."""
    xb, pe = arch.crossbar, arch.pe
    g = gates(tech.node, tech.logic)
    vdd, nm = tech.vdd, tech.node * 1e9
    columns = xb.columns_per_weight
    cycles = xb.conversions_per_read_group
    stages = shift_add_stages(xb.adc_bits, columns, cycles)
    op_j = sum(n * (adder_energy(b, g, vdd, tech.activity) + dff_energy(d, g, vdd)) for n, b, d in stages)
    unit_m2 = sum(adder_area(b, g) + dff_area(d, g) for _, b, d in stages)
    what = "; ".join(f"{n:.4g} x ({b}-bit adder + {d} flip-flops)" for n, b, d in stages) or "nothing to add"
    out = {"shift_add": ComponentModel(
        area=unit_m2, leakage=_logic_leak(unit_m2, tech.node, tech.logic), actions={"op": op_j},
        peak_rate={"op": sa_rate},
        source=f"NeuroSim V1.4 subarray shift-and-add per conversion ({xb.adc_bits}-bit ADC, {columns} columns per "
               f"weight, {cycles} conversions per vector): {what}; {g.how}, V_dd {vdd:g} V, activities "
               f"{tech.activity:g} (adders) and {DFF_ACTIVITY:g} (flip-flops), at {nm:g} nm")}
    tree_m2 = adder_area(pe.psum_bits, g)
    out["tile_shift_add"] = ComponentModel(
        area=tree_m2, leakage=_logic_leak(tree_m2, tech.node, tech.logic),
        actions={"op": adder_energy(pe.psum_bits, g, vdd, tech.activity)}, peak_rate={"op": arch.chip.clock},
        source=f"one {pe.psum_bits}-bit adder of a NeuroSim V1.4 adder tree (AdderTree.cpp, Adder.cpp: 9 NAND2 per "
               f"bit); {g.how}, V_dd {vdd:g} V, activity {tech.activity:g}")
    return out


def model_components(arch, tech: TechnologySpec) -> Dict[str, ComponentModel]:
    """Every registered component's figures for ``arch`` built in ``tech``."""
    node, vdd = tech.node, tech.vdd
    nm = node * 1e9
    ef = lambda from_m: energy_factor(from_m, node, vdd)  # noqa: E731
    af = lambda from_m: area_factor(from_m, node)  # noqa: E731
    xb, pe = arch.crossbar, arch.pe
    read_s = pe.read_latency
    t_read = read_s if tech.read_pulse is None else min(tech.read_pulse, read_s)
    vector_s = read_s * xb.input_cycles
    clock = arch.chip.clock
    out: Dict[str, ComponentModel] = {}

    # crossbar
    cell_m2 = _CELL_F2[tech.cell] * node * node
    array_m2 = xb.rows * xb.cols * cell_m2
    g_mid = xb.g_off + (xb.g_on - xb.g_off) / 2
    full = (1 << xb.dac_bits) - 1  # the full-scale digit D
    step_s = (xb.g_on - xb.g_off) / xb.max_level
    # one xbar.conduct count: a cell at half a level step above G_off under a one-step digit
    # (V_read / D)^2 x step / 2 x t; a mid-level cell under the full-scale digit is 2 (G_mid / step) D^2 counts
    conduct = (tech.v_read / full) ** 2 * step_s / 2 * t_read if tech.cell_current else 0.0
    mid_counts = 2 * (g_off_levels(xb) + xb.max_level / 2) * full * full
    cell_read = tech.v_read ** 2 * g_mid * t_read
    row_len = xb.cols * _CELL_WIDTH_F[tech.cell] * node
    row_drive = _ROW_F_PER_M * row_len * vdd ** 2
    if tech.cell == "sram":
        leak_cell = buffer_figures("sram", 1 << 20, 256, node)["leakage"] / (8 << 20)
        write_cell = buffer_figures("sram", 1 << 14, 64, node)["write"] / 64
        write_how = "CACTI SRAM write energy per bit (16 KiB, 64-bit access)"
    else:
        leak_cell = 0.0
        write_cell = tech.v_write ** 2 * xb.g_on * arch.programming.write_pulse
        write_how = f"V_write^2 G_on t_pulse = {tech.v_write:g}^2 V^2 x {xb.g_on:.3g} S x {arch.programming.write_pulse:.3g} s"
    # a pulse-width DAC holds its row at full scale for the pulse: the row is charged once per
    # non-zero digit (xbar.row_activation); a voltage DAC charges it in proportion to the digit
    # (dac.drive). A 1-bit DAC is a switch either way: one circuit, priced as the voltage DAC.
    pulse = xb.dac_type == "pulse_width" and xb.dac_bits > 1
    out["xbar"] = ComponentModel(
        area=array_m2, leakage=leak_cell * xb.rows * xb.cols,
        actions={"read": 0.0, "row_activation": row_drive if pulse else 0.0, "conduct": conduct, "write": write_cell},
        peak_rate={"conduct": xb.rows * xb.cols * mid_counts / read_s, "row_activation": xb.rows / read_s},
        source=(f"{tech.cell} cells of {_CELL_F2[tech.cell]} F^2 (NeuroSim Param.cpp) at {nm:g} nm; cell current "
                f"V_read^2 G t per driven cell, V_read = {tech.v_read:g} V at the full-scale digit, t = {t_read:.3g} s: "
                + (f"{conduct * 1e18:.4g} aJ per half level step ({step_s:.3g} S / 2) under a one-step digit, "
                   f"{cell_read * 1e15:.3g} fJ for a mid-level cell ({g_mid:.3g} S) at full scale"
                   if tech.cell_current else "not priced here (cell_current: false: inside the ADC's figure)")
                + (f"; row charged to full scale once per non-zero digit (pulse-width DAC): C_row V_dd^2 = "
                   f"{row_drive * 1e15:.3g} fJ" if pulse else "")
                + f"; write: {write_how}; "
                "leakage: " + ("CACTI SRAM cell leakage (1 MiB run)" if tech.cell == "sram"
                               else "none (non-volatile cells)")))

    # DAC: a voltage DAC latches the digit (a register per bit) and charges its row to the digit's
    # fraction of full scale; a pulse-width DAC loads the digit into a counter per row that counts it
    # down, one count per digit step, holding the row at full scale meanwhile (CiMLoop's temporal DAC:
    # an Aladdin counter of dac_bits per row, counting the input value)
    load_j = xb.dac_bits * _REG_PJ_PER_BIT * 1e-12 * DFF_ACTIVITY * ef(_ALADDIN_NODE)
    if pulse:
        dac_m2 = xb.dac_bits * _COUNT_UM2_PER_BIT * 1e-12 * af(_ALADDIN_NODE)
        count_j = xb.dac_bits * _COUNT_PJ_PER_BIT * 1e-12 * ef(_ALADDIN_NODE)
        out["dac"] = ComponentModel(
            area=dac_m2, leakage=_logic_leak(dac_m2, node, tech.logic),
            actions={"convert": load_j, "drive": count_j},
            peak_rate={"convert": 1 / read_s, "drive": full / read_s},
            source=f"pulse-width DAC: a {xb.dac_bits}-bit counter per row (Aladdin 40 nm counter, 0.25074 pJ per count "
                   f"and 495.5 um^2 at 32 bits, linear in width, as CiMLoop's temporal DAC), loaded with the digit "
                   f"(register bits at flip-flop activity 0.5, NeuroSim) and counting it down, one count per digit "
                   f"step ({count_j * 1e15:.3g} fJ), scaled 40 -> {nm:g} nm; the row's charge is xbar.row_activation's")
    else:
        dac_m2 = xb.dac_bits * _REG_UM2_PER_BIT * 1e-12 * af(_ALADDIN_NODE)
        out["dac"] = ComponentModel(
            area=dac_m2, leakage=_logic_leak(dac_m2, node, tech.logic),
            actions={"convert": load_j, "drive": row_drive / full},
            peak_rate={"convert": 1 / read_s, "drive": full / read_s},
            source=f"{xb.dac_bits}-bit input latch: Aladdin register bits at flip-flop activity 0.5 (NeuroSim), "
                   f"scaled 40 -> {nm:g} nm; row drive C_row V_dd^2 = {row_drive * 1e15:.3g} fJ at the full-scale "
                   f"digit, charge in proportion to the digit (row capacitance per metre from NeuroSim V1.4's 22 nm "
                   f"row drive)" + ("; a 1-bit pulse-width DAC is this switch" if xb.dac_type == "pulse_width" else ""))

    sh_m2 = _SH_UM2 * 1e-12 * af(_ISAAC_NODE)
    out["sh"] = ComponentModel(
        area=sh_m2, leakage=_logic_leak(sh_m2, node, tech.logic),
        actions={"sample": _SH_PJ * 1e-12 * ef(_ISAAC_NODE)},
        peak_rate={"sample": 1 / read_s}, source=f"ISAAC Table I sample-and-hold (about 1 fJ), scaled 32 -> {nm:g} nm")

    adc_j, adc_m2, how = adc_energy_area(tech.adc, xb.adc_bits, pe.adc_rate, node)
    share = _ADC_LEAK_SHARE if tech.adc == "sar" else 0.0
    out["adc"] = ComponentModel(
        area=adc_m2, leakage=share * adc_j * pe.adc_rate,
        actions={"convert": (1 - share) * adc_j}, peak_rate={"convert": pe.adc_rate},
        source=f"{how}: {adc_j * 1e12:.3g} pJ per conversion, "
               + ("80% dynamic and 20% static at full rate (hwcomponents-adc convention)" if share else
                  "all of it dynamic (NeuroSim MultilevelSenseAmp.cpp: no leakage, its bias current flows "
                  "only while it senses)")
               + ("; area by the survey's regression" if tech.adc == "sar" else ""))

    width = pe.psum_bits
    sa_rate = pe.adc_rate * pe.adcs_per_array * pe.arrays / max(1, pe.shift_add_units)
    if tech.adder == "neurosim":
        out.update(_neurosim_accumulation(arch, tech, sa_rate))
    else:
        add_j = width * (_ADDER_PJ_PER_BIT * tech.activity + _REG_PJ_PER_BIT * DFF_ACTIVITY) * 1e-12 * ef(_ALADDIN_NODE)
        add_m2 = width * (_ADDER_UM2_PER_BIT + _REG_UM2_PER_BIT) * 1e-12 * af(_ALADDIN_NODE)
        out["shift_add"] = ComponentModel(
            area=add_m2, leakage=_logic_leak(add_m2, node, tech.logic), actions={"op": add_j},
            peak_rate={"op": sa_rate},
            source=f"{width}-bit adder and register (Aladdin 40 nm, activities {tech.activity:g} and 0.5 as NeuroSim), "
                   f"scaled to {nm:g} nm")
        out["tile_shift_add"] = ComponentModel(
            area=add_m2, leakage=_logic_leak(add_m2, node, tech.logic), actions={"op": add_j}, peak_rate={"op": clock},
            source=out["shift_add"].source)

    def register(size_bytes: float, rate_bytes: float, what: str) -> ComponentModel:
        f = buffer_figures("sram", max(size_bytes, 1.0), 64, node)
        return ComponentModel(area=f["area"], leakage=f["leakage"], actions={"write_bytes": f["write"] / 8},
                              peak_rate={"write_bytes": rate_bytes},
                              source=f"{what}: a {size_bytes:g} B SRAM register file of 64-bit words (CACTI 7 run at "
                                     f"{f['run_nm']:g} nm, data/cacti_buffers.csv), scaled to {nm:g} nm")

    out["ireg"] = register(pe.input_register, pe.input_register / vector_s, "PE input register")
    out["oreg"] = register(pe.output_register, pe.output_register / vector_s, "PE output register")
    out["tile_oreg"] = register(arch.tile.output_register, arch.tile.output_register / vector_s,
                                "tile output register")

    out_bits = xb.input_bits
    cmp_j = out_bits * _CMP_PJ_PER_BIT * 1e-12 * ef(_ALADDIN_NODE)
    cmp_m2 = out_bits * _CMP_UM2_PER_BIT * 1e-12 * af(_ALADDIN_NODE)
    for name, what in (("act", "ReLU: a comparison with zero"), ("pool", "max-pool: a comparison")):
        out[name] = ComponentModel(area=cmp_m2, leakage=_logic_leak(cmp_m2, node, tech.logic), actions={"op": cmp_j},
                                   peak_rate={"op": clock},
                                   source=f"{what} of {out_bits} bits (Aladdin 40 nm comparator), scaled to {nm:g} nm")

    for name, spec, what in (("tile_buffer", arch.tile.buffer, "tile buffer"), ("glb", arch.global_buffer,
                                                                                  "global buffer")):
        if spec.size <= 0:
            out[name] = ComponentModel(area=0.0, leakage=0.0, actions={"read": 0.0, "write": 0.0}, peak_rate={},
                                       source=f"no {what}")
            continue
        f = buffer_figures(tech.buffer, spec.size, spec.width_bits, node)
        out[name] = ComponentModel(
            area=f["area"], leakage=f["leakage"], actions={"read": f["read"], "write": f["write"]},
            peak_rate={"read": spec.ports * spec.bandwidth * 8 / spec.width_bits},
            source=f"CACTI 7 {tech.buffer} run ({f['run_nm']:g} nm, ITRS LSTP; data/cacti_buffers.csv) at "
                   f"{spec.size / 1024:g} KiB, {spec.width_bits}-bit access, scaled to {nm:g} nm"
                   + ("; eDRAM write = read (CACTI's lp-dram write restores a whole page)" if tech.buffer == "edram"
                      else ""))

    # tile bus: wires across the tile (its side: sqrt of the tile's area without its buffer)
    tile_m2 = arch.tile.pes * (pe.arrays * (out["xbar"].area + xb.rows * out["dac"].area + xb.cols * out["sh"].area
                                            + pe.adcs_per_array * out["adc"].area)
                               + pe.shift_add_units * out["shift_add"].area + out["ireg"].area + out["oreg"].area)
    side_m = math.sqrt(max(tile_m2, 1e-18))
    bit_j = _ROW_F_PER_M * side_m * vdd ** 2 * _WIRE_TOGGLE
    out["tile_bus"] = ComponentModel(
        area=0.0, leakage=0.0, actions={"transfer_bytes": 8 * bit_j}, peak_rate={"transfer_bytes": arch.tile.bus_bandwidth},
        source=f"8 wires of the tile's side ({side_m * 1e6:.3g} um) at the row capacitance per metre, V_dd^2, toggle "
               f"rate 0.18 (NeuroSim Param.cpp); wiring area is in the tile's")
    if arch.interconnect.topology == "bus":  # NeuroSim's X-Y bus: wires across the chip, no routers
        chip_side_m = math.sqrt(arch.chip.tiles) * side_m
        # a byte leaves its tile on the Y bus (output toggle) and reaches its reader on the X bus (input
        # toggle), each half the chip's side (Chip.cpp prices GBus from the middle row and column)
        wire_j = _BUS_F_PER_M * chip_side_m / 2 * vdd ** 2 * 0.5 * (_WIRE_TOGGLE + _OUTPUT_TOGGLE)
        out["noc"] = ComponentModel(
            area=0.0, leakage=0.0, actions={"byte_hop": 8 * wire_j},
            peak_rate={"byte_hop": arch.interconnect.bandwidth},
            source=f"chip X-Y bus (NeuroSim V1.4 XYBus.cpp): per bit 0.5 C V_dd^2 over half the chip's side "
                   f"({chip_side_m * 1e3:.3g} mm: sqrt(tiles) x the tile's side) at 0.2 fF/um, once on the Y bus at "
                   f"the output toggle rate 0.5 and once on the X bus at the input toggle rate 0.18 (Param.cpp); "
                   f"repeaters left out; wiring area is in the tiles'")
    else:
        router_m2 = _ROUTER_MM2 * 1e-6 * af(_ISAAC_NODE)
        out["noc"] = ComponentModel(
            area=router_m2, leakage=_logic_leak(router_m2, node, tech.logic),
            actions={"byte_hop": _ROUTER_PJ_PER_BYTE * 1e-12 * ef(_ISAAC_NODE)},
            peak_rate={"byte_hop": 5 * arch.interconnect.bandwidth},
            source=f"ISAAC Table I router (42 mW for 38.4 GB/s, 0.151 mm2 at 32 nm), scaled to {nm:g} nm")
    out["offchip"] = ComponentModel(
        area=tech.link_area, leakage=0.0, actions={"transfer_bytes": 8 * tech.link_energy_per_bit},
        peak_rate={"transfer_bytes": arch.dram.bandwidth},
        source=f"{tech.link_energy_per_bit * 1e12:.4g} pJ/bit per link and {tech.link_area * 1e6:g} mm2 (model "
               "parameters; default ISAAC's HyperTransport, Table I)")
    read_pj, write_pj = DRAM_PJ_PER_BIT[tech.dram]
    out["dram"] = ComponentModel(
        area=0.0, leakage=0.0, actions={"read_bytes": read_pj * 8e-12, "write_bytes": write_pj * 8e-12}, peak_rate={},
        source=(f"{tech.dram.upper()} {read_pj:.3g} pJ/bit" if read_pj == write_pj else
                f"{tech.dram.upper()} {read_pj:.3g} pJ/bit read, {write_pj:.3g} pJ/bit write") + " ("
               + _DRAM_SOURCES.get(tech.dram, "CACTI-DRAM and public figures via Accelergy/hwcomponents-cacti") + ")")
    # digital units for transformers (issue 10): Horowitz's 45 nm arithmetic, scaled to the node
    mxu = arch.tile.matrix_unit
    bits = mxu.operand_bits
    acc_bits = max(32, 2 * bits)
    mul_pj, mul_um2 = _multiplier(bits)
    mac_j = (mul_pj + _ADD_32[0] * acc_bits / 32) * 1e-12 * ef(_HOROWITZ_NODE)
    mac_m2 = (mul_um2 + _ADD_32[1] * acc_bits / 32) * 1e-12 * af(_HOROWITZ_NODE)
    out["mxu"] = ComponentModel(
        area=mac_m2, leakage=_logic_leak(mac_m2, node, tech.logic), actions={"mac": mac_j}, peak_rate={"mac": clock},
        source=f"{bits}-bit multiplier (power law through Horowitz ISSCC 2014's 8- and 32-bit multipliers) and "
               f"{acc_bits}-bit accumulator (his 32-bit add, linear in width), 45 nm scaled to {nm:g} nm")
    buf = mxu.buffer
    f = buffer_figures(tech.buffer, max(buf.size, 1.0), buf.width_bits, node)
    out["mxu_buffer"] = ComponentModel(
        area=f["area"], leakage=f["leakage"], actions={"read": f["read"], "write": f["write"]},
        peak_rate={"read": buf.bandwidth * 8 / buf.width_bits, "write": buf.bandwidth * 8 / buf.width_bits},
        source=f"CACTI 7 {tech.buffer} run ({f['run_nm']:g} nm; data/cacti_buffers.csv) at {buf.size / 1024:g} KiB, "
               f"{buf.width_bits}-bit access, scaled to {nm:g} nm")
    lane_m2 = _FP16_LANE[1] * 1e-12 * af(_HOROWITZ_NODE)
    out["vec"] = ComponentModel(
        area=lane_m2, leakage=_logic_leak(lane_m2, node, tech.logic),
        actions={"op": _FP16_LANE[0] * 1e-12 * ef(_HOROWITZ_NODE)}, peak_rate={"op": clock},
        source=f"a 16-bit floating-point lane: the mean of Horowitz ISSCC 2014's FP16 add and multiply, 45 nm "
               f"scaled to {nm:g} nm")

    if tech.logic == "lstp":  # say so where the logic's leakage was scaled (every _logic_leak user)
        for name in _LOGIC_COMPONENTS & set(out):
            if name != "noc" or arch.interconnect.topology == "mesh":
                out[name] = replace(out[name], source=out[name].source + "; LSTP logic leakage (x 1/1002: NeuroSim "
                                                                       "Technology.cpp 22 nm LP / HP off current)")
    missing = set(REGISTRY.components) - set(out)
    if missing:  # a family added without a model: say so rather than price it at zero
        raise ConfigError(("model",), f"component models for every component (none for {', '.join(sorted(missing))})",
                          "an incomplete model")
    return out
