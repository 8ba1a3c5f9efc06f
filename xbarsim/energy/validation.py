"""Validation against published chips and tools: ``xbarsim validate``.

Each :class:`Case` runs one preset (optionally changed, e.g. to another precision) on one
workload, or reads its peak figures, applies the reference's counting conventions as *explicit*
options, and compares metrics with published or measured values (``docs/validation.md`` gives
every figure's source and the table this prints). A case declares a tolerance per metric and the
command fails when an error exceeds it: tolerances are regression guards set to what xbarsim
achieves today, not the targets (10% mean and 25% worst |error| on throughput and efficiency,
calibration points excluded; :func:`format_table` reports both).

Conventions a reference may count with (:class:`Conventions`):

* ``post_layout_factor``: energy multiplied by this (NeuroSim V1.4: ``zeta = 1.22``, Param.cpp,
  divides its TOPS/W in main.cpp);
* ``conv_vectors``: ``"padded"`` (xbarsim: one vector per output position, H x W for a 'same'
  conv) or ``"valid"`` (NeuroSim: ``(H - k + 1)^2`` vectors, no padding): with ``valid``, each
  conv layer's dynamic energy, and the pipeline period set by the bottleneck layer, are scaled by
  valid / padded vectors, while operations are still counted on the padded shape (as NeuroSim's
  ``numComputation`` does);
* ``offchip``: False leaves DRAM and off-chip links out of the energy (NeuroSim prices the chip
  only: its global buffer holds every feature map);
* ``scope``: ``"chip"``, or ``"arrays"``: peak efficiency of the arrays and their converters
  (xbar, dac, sh, adc, shift_add) only, the part a macro or core measurement covers;
* ``layer_time``: ``"overlapped"`` (xbarsim: a pipeline's throughput is its steady state, the
  time per image between two batch sizes, with data movement overlapping compute as the event
  model schedules it) or ``"serial"`` (NeuroSim: a layer's latency is its compute, buffer and
  interconnect times added in series, and the pipeline period is the slowest layer's latency):
  :func:`serial_layer_cycles` adds, per layer, the busy cycles of each kind of operation on its
  busiest resource instance, from the run's own record;
* ``static``: ``"all"`` (every instance leaks over the run) or ``"in_use"`` (NeuroSim: only the
  tiles holding weights leak, main.cpp's ``leakage`` of the tiles in use): the chip's static power
  times the share of tiles the mapping uses.

Metrics (:class:`Metric`): ``tops``, ``tops_per_w``, ``energy_per_inference_uj`` (dynamic plus
static over the steady-state period, before the post-layout factor), ``area_mm2``, ``peak_tops``,
``peak_tops_per_w`` (the best-case bound, :func:`xbarsim.energy.pricing.peak_tops_per_w`),
``peak_power_gops_per_w`` (peak power as a table lists it), ``share:<component>`` (share of the
run's energy) and ``category:<name>`` (share of the dynamic energy in NeuroSim's breakdown
categories, :data:`NEUROSIM_CATEGORIES`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np

__all__ = ["Conventions", "Metric", "Case", "NeuroSimRun", "CASES", "run_case", "run_validation", "format_table", "failures",
           "neurosim_model", "neurosim_psum_bits", "NEUROSIM_SEED", "sinangil_output6", "SINANGIL_SEED", "NEUROSIM_CATEGORIES", "TARGET_METRICS",
           "serial_layer_cycles", "SERIAL_GROUPS"]

NEUROSIM_SEED = 2024
"""Seed of the NeuroSim validation model's weights and image."""
SINANGIL_SEED = 2021
"""Seed of the Sinangil check's data (:func:`sinangil_output6`)."""

ARRAY_COMPONENTS = ("xbar", "dac", "sh", "adc", "shift_add")
"""What ``scope: arrays`` keeps: the arrays and their converters."""

NEUROSIM_CATEGORIES: Dict[str, Tuple[str, ...]] = {
    "adc": ("adc.", "xbar.", "sh.", "dac.drive"),
    "accumulation": ("shift_add.", "tile_shift_add."),
}
"""NeuroSim V1.4's energy breakdown (main.cpp: "ADC (or S/As and precharger for SRAM)",
"Accumulation Circuits", "Other Peripheries") in xbarsim's actions: its ADC category includes the
array's read energy and word-line charging (SubArray.cpp readDynamicEnergyADC), its accumulation
the shift-and-adds and adders at every level; every other action is "other"."""

TARGET_METRICS = ("tops", "tops_per_w", "peak_tops", "peak_tops_per_w")
"""Metrics the targets (10% mean, 25% worst) are about: throughput and efficiency."""


def neurosim_model():
    """(network, model, image) of the NeuroSim cases: VGG-8 with He-normal weights (std
    sqrt(2 / fan-in), zero biases) and one smooth 3 x 32 x 32 image (Gaussian noise low-passed
    with sigma 1.5 pixels, scaled to unit variance like a normalized CIFAR-10 image), both from
    :data:`NEUROSIM_SEED`. ``xbarsim/energy/data/make_neurosim_traces.py`` writes the same data,
    quantized, as NeuroSim traces."""
    from scipy.ndimage import gaussian_filter

    from ..nn import Model
    from ..workload.loader import load_workload

    network = load_workload("vgg8")
    rng = np.random.default_rng(NEUROSIM_SEED)
    weights = {}
    for layer in network.weight_layers:
        fan_in = layer.C // layer.groups * layer.R * layer.S
        shape = (layer.M, layer.C // layer.groups, layer.R, layer.S) if layer.type == "conv" else (layer.M, layer.C)
        weights[layer.name] = {"weight": rng.normal(0.0, math.sqrt(2.0 / fan_in), shape), "bias": np.zeros(layer.M)}
    image = gaussian_filter(rng.normal(size=(1, 3, 32, 32)), sigma=(0, 0, 1.5, 1.5))
    image /= image.std()
    return network, Model(network, weights), image


def neurosim_psum_bits(arch, subarray_rows: int = 128, subarrays_per_pe: int = 16, pes_per_tile: int = 4) -> int:
    """Width of the partial sums a NeuroSim V1.4 conventional-mapped tile sends to chip-level
    activation (``chipActivation``), from the arch's ADC bits, rows read at once, input bits and
    weight slices, as NeuroSim derives it (Tile.cpp ``TileInitialize``, Chip.cpp ``ChipInitialize``):

    * a subarray's output (``parallelRead``): ``log2(levelOutput) + ceil(log2(ceil(numRowSubArray /
      numRowParallel))) + numBitInput + (numColPerSynapse - 1) cellBit + 1``;
    * a PE's adder tree adds ``ceil(sqrt(subarrays per PE))`` bits (``numBitPEOutputCM``);
    * the tile's accumulation adds ``ceil(log2(numPECM))`` stages, ``numPECM = sqrt(PEs per tile)``
      (``accumulationCM->numStage + numAdderBit``, Tile.cpp's ``numBitToLoadIn``).

    ``subarray_rows``, ``subarrays_per_pe`` and ``pes_per_tile`` are NeuroSim's floorplan (Param.cpp
    128-row subarrays; 512 x 512-cell PEs, 2 x 2 per 1024 x 1024 tile); xbarsim reads a subarray's
    ``numRowParallel`` rows as one array of ``crossbar.rows``."""
    x = arch.crossbar
    slices = -(-x.weight_bits // x.cell_bits)
    subarray = (x.adc_bits + math.ceil(math.log2(-(-subarray_rows // x.rows))) + x.input_bits
                + (slices - 1) * x.cell_bits + 1)
    pe = subarray + math.ceil(math.sqrt(subarrays_per_pe))
    return pe + math.ceil(math.log2(math.isqrt(pes_per_tile)))


def sinangil_output6(seed: int = SINANGIL_SEED):
    """(network, model, input) of the Sinangil check: the macro's layer (:func:`_macro_workload`, 256
    MVMs) on data whose average output is 6 of 15, Table I's average-output point.

    The output code of a column is ``15 sum_k x_k u_k / (64 x 15 x 15)`` (the preset's full-scale ADC
    range) for 4-bit inputs ``x`` and stored weight codes ``u`` (signed weights ``u - 8``). On every
    row the 256 inputs take the values 5..15 equally often (23 times) and 9, 10, 11 once more, and
    the 16 weight codes are 4..15 and 6, 7, 8, 9, each in random order: inputs average 10 (2/3 of full
    scale), weights 9 (3/5), so the outputs average exactly 6. Inputs and weights about equally far
    from full scale, as CiMLoop reproduces this point (both at 0.25 sqrt(6) = 61%)."""
    from ..nn import Model
    from ..workload.loader import load_workload

    network = load_workload(_macro_workload())
    rng = np.random.default_rng(seed)
    inputs = np.concatenate([np.repeat(np.arange(5, 16), 23), [9, 10, 11]])  # 256 values, mean 10
    codes = np.concatenate([np.arange(4, 16), [6, 7, 8, 9]])  # 16 values, mean 9
    x = np.stack([rng.permutation(inputs) for _ in range(64)]).reshape(1, 64, 16, 16)  # (image, row, H, W)
    u = np.stack([rng.permutation(codes) for _ in range(64)], axis=1)  # (column, row)
    weights = {"conv": {"weight": (u - 8).astype(float)[:, :, None, None], "bias": np.zeros(16)}}
    return network, Model(network, weights), x.astype(float)


DATA = {"neurosim": neurosim_model, "sinangil-output6": sinangil_output6}
"""Data a case may run on (its dynamic energy then comes from a data-aware run of one input)."""


@dataclass(frozen=True)
class Conventions:
    """How a reference counts, applied to xbarsim's results before comparing."""

    post_layout_factor: float = 1.0
    conv_vectors: str = "padded"
    offchip: bool = True
    scope: str = "chip"
    layer_time: str = "overlapped"
    """``"overlapped"`` (the event model's steady state) or ``"serial"`` (NeuroSim's sum of a layer's
    compute, buffer and interconnect times; period = the slowest layer's)."""
    static: str = "all"
    """``"all"`` instances leak, or only those of the tiles ``"in_use"`` (NeuroSim)."""

    def __post_init__(self):
        from ..errors import ConfigError
        for name, value, allowed in (("conv_vectors", self.conv_vectors, ("padded", "valid")),
                                     ("scope", self.scope, ("chip", "arrays")),
                                     ("layer_time", self.layer_time, ("overlapped", "serial")),
                                     ("static", self.static, ("all", "in_use"))):
            if value not in allowed:
                raise ConfigError(("conventions", name), " or ".join(repr(a) for a in allowed), value)


@dataclass(frozen=True)
class Metric:
    name: str
    """One of the metrics of the module docstring."""
    published: float
    source: str
    tolerance: float
    """Largest relative error accepted (0.25 = 25%): a regression guard."""
    calibration: bool = False
    """The case's energy table was fitted to this figure: shown, but left out of the targets."""


@dataclass(frozen=True)
class Case:
    name: str
    arch: str
    workload: Optional[object]
    """A zoo name or workload spec to run; None: peak figures only."""
    metrics: Tuple[Metric, ...]
    conventions: Conventions = field(default_factory=Conventions)
    batches: Tuple[int, int] = (2, 6)
    changes: Mapping[str, object] = field(default_factory=dict)
    """Arch changes (dotted paths) applied to the preset, e.g. another precision."""
    data: Optional[str] = None
    """A key of :data:`DATA`: dynamic energy from a data-aware run of that model and input."""


# -- the cases -------------------------------------------------------------------------------------

_ISAAC = "ISAAC (ISCA 2016) Table I / Table IV"
_NS_TABLE = "NeuroSim V1.4 manual Table VII"
_NS_RUN = "NeuroSim V1.4 (ac828e6) run here, Table VII settings, same data"
_NEUROSIM = Conventions(post_layout_factor=1.22, conv_vectors="valid", offchip=False, layer_time="serial",
                        static="in_use")
_NEURRAM = "NeuRRAM (Nature 2022) Ext. Data Fig. 12"
_SINANGIL = "Sinangil et al. (JSSC 2021) Table I, 0.8 V"
_MACRO = Conventions(scope="arrays")


def _neurram_precision(input_bits: int, output_bits: int, phase_cycles: Optional[int] = None) -> Dict[str, object]:
    """NeuRRAM's timing at another precision (neurram.yaml: 0.27 us per integration step, 0.3 us
    per output bit, 0.3 us per phase): ``input_bits`` magnitude bits, read bit-serially in phases
    of at most ``phase_cycles`` (None: one phase), each phase of m bits ``(2**m - 1) x 0.27 + 0.3``
    us, as CiMLoop decomposes Ext. Data Fig. 12c. The read latency spreads that time over the
    ``phases x ceil(T / phases)`` read windows xbarsim gives a vector (:func:`phase_lengths`); a
    conversion takes 0.3 us per output bit."""
    from ..config.crossbar import phase_lengths

    sizes = phase_lengths(input_bits, phase_cycles)
    read_s = sum((2 ** m - 1) * 0.27e-6 + 0.3e-6 for m in sizes) / (len(sizes) * max(sizes))
    changes = {"crossbar.input_bits": input_bits, "crossbar.adc_bits": output_bits,
               "pe.read_latency": f"{read_s!r}s", "pe.adc_rate": f"{1 / (0.3e-6 * output_bits)!r}Hz"}
    if phase_cycles is not None:
        changes["crossbar.phase_cycles"] = phase_cycles
    return changes


def _macro_workload():
    """A layer filling the Sinangil macro: a 1 x 1 convolution of 64 to 16 channels over a 16 x 16
    map, 256 vectors of 64 inputs per image streamed through the array."""
    from ..workload.zoo import NetBuilder

    net = NetBuilder("macro-conv", 16, 16, 64)
    net.conv("conv", 16, 1)
    return net.spec


@dataclass(frozen=True)
class NeuroSimRun:
    """Figures a NeuroSim V1.4 run prints (main.cpp's summary): throughput, efficiency, chip area,
    dynamic and leakage energy per image and its breakdown categories, in pJ."""

    tops: float
    tops_per_w: float
    area_mm2: float
    dynamic_pj: float
    leakage_pj: float
    adc_pj: float
    accumulation_pj: float
    other_pj: float


def _neurosim_case(name: str, config: str, table: Tuple[float, float, float], run: NeuroSimRun,
                   tolerances: Tuple[float, ...]) -> Case:
    """A NeuroSim chip compared with the V1.4 manual's Table VII (TOPS, TOPS/W, mm^2) and with
    ``run`` on the same data, its breakdown as shares of the dynamic energy; ``tolerances`` in the
    order of the metrics."""
    d = run.dynamic_pj
    figures = (
        ("tops", table[0], f"{_NS_TABLE}: {config}"), ("tops_per_w", table[1], _NS_TABLE),
        ("area_mm2", table[2], _NS_TABLE), ("tops", run.tops, _NS_RUN), ("tops_per_w", run.tops_per_w, _NS_RUN),
        ("energy_per_inference_uj", (d + run.leakage_pj) / 1e6,
         f"{_NS_RUN}: {d / 1e6:.2f} dynamic + {run.leakage_pj / 1e6:.2f} leakage"),
        ("area_mm2", run.area_mm2, _NS_RUN),
        ("category:adc", run.adc_pj / d, f"{_NS_RUN}: ADC and array {run.adc_pj / 1e6:.2f} of {d / 1e6:.2f} uJ"),
        ("category:accumulation", run.accumulation_pj / d, f"{_NS_RUN}: {run.accumulation_pj / 1e6:.2f} uJ"),
        ("category:other", run.other_pj / d, f"{_NS_RUN}: {run.other_pj / 1e6:.2f} uJ"))
    metrics = tuple(Metric(m, value, source, tol) for (m, value, source), tol in zip(figures, tolerances, strict=True))
    return Case(name, name, "vgg8", metrics, _NEUROSIM, data="neurosim")


CASES: Tuple[Case, ...] = (
    Case("isaac", "isaac", None, (
        Metric("peak_tops", 41.3, _ISAAC + ": 16-bit MACs over 16 cycles of 100 ns", 0.02),
        Metric("area_mm2", 85.4, _ISAAC + ": chip area", 0.02),
        Metric("peak_power_gops_per_w", 627.5, _ISAAC + ": ISAAC-CE 627.5 GOPS/W", 0.02),
    )),
    _neurosim_case("neurosim-sram22", "SRAM 22 nm, 4b ADC, 64 rows", (8.01, 17.13, 84.39),
                   NeuroSimRun(9.31754, 26.0608, 78.1314, 3.84506e7, 293364, 2.60954e7, 5.58011e6, 6.77519e6),
                   (0.34, 0.34, 0.32, 0.15, 0.16, 0.19, 0.26, 0.27, 0.06, 0.94)),
    _neurosim_case("neurosim-rram22", "RRAM 22 nm on/off 17, 4b ADC, 64 rows", (8.16, 19.88, 378.06),
                   NeuroSimRun(9.3834, 30.8509, 341.323, 3.24561e7, 272290, 1.5964e7, 5.17621e6, 1.13159e7),
                   (0.34, 0.22, 0.92, 0.17, 0.25, 0.32, 0.90, 0.10, 0.04, 0.13)),
    Case("neurram-4b6b", "neurram", None, (
        Metric("peak_tops", 0.7439, _NEURRAM + "d: 4-bit inputs, 6-bit outputs, 48 cores", 0.1),
        Metric("peak_tops_per_w", 15.95, _NEURRAM + "e (its energy breakdown, 12b, calibrates neurram.yaml)", 0.05,
               calibration=True),
    ), _MACRO),
    Case("neurram-1b3b", "neurram", None, (
        Metric("peak_tops", 2.122, _NEURRAM + "d: 1-bit inputs, 3-bit outputs, 48 cores", 0.05),
        Metric("peak_tops_per_w", 43.08, _NEURRAM + "e", 0.15),
    ), _MACRO, changes=_neurram_precision(1, 3)),
    Case("neurram-2b4b", "neurram", None, (  # a signed 2-bit input: a sign and one magnitude bit
        Metric("peak_tops", 1.793, _NEURRAM + "d: 2-bit inputs, 4-bit outputs, 48 cores", 0.05),
        Metric("peak_tops_per_w", 40.33, _NEURRAM + "e", 0.22),
    ), _MACRO, changes=_neurram_precision(1, 4)),
    Case("neurram-3b5b", "neurram", None, (  # a sign and two magnitude bits
        Metric("peak_tops", 1.165, _NEURRAM + "d: 3-bit inputs, 5-bit outputs, 48 cores", 0.06),
        Metric("peak_tops_per_w", 23.09, _NEURRAM + "e", 0.1),
    ), _MACRO, changes=_neurram_precision(2, 5)),
    Case("neurram-8b10b", "neurram", None, (
        Metric("peak_tops", 0.2639, _NEURRAM + "d: 8-bit inputs in two phases, 10-bit outputs, 48 cores", 0.1),
        Metric("peak_tops_per_w", 6.437, _NEURRAM + "e", 0.15),
    ), _MACRO, changes=_neurram_precision(7, 10, phase_cycles=4)),
    Case("sinangil-sram7", "sinangil-sram7", _macro_workload(), (
        Metric("peak_tops", 0.3724, _SINANGIL + ": 372.4 GOPS (sets the cycle)", 0.05, calibration=True),
        Metric("tops", 0.3724, _SINANGIL + ": 372.4 GOPS, streaming one layer", 0.1),
        Metric("tops_per_w", 351.0, _SINANGIL + ": average output 6, a data-aware run at mean output 6 "
               "(outputs 0 and 15 calibrate)", 0.1),
    ), _MACRO, batches=(2, 6), data="sinangil-output6"),
)
"""Every validation case (docs/validation.md gives each figure's source)."""


# -- running a case -----------------------------------------------------------------------------


def _valid_ratio(layer) -> float:
    """Valid-convolution vectors (no padding) over xbarsim's vectors for a conv layer, 1 otherwise."""
    if layer.type != "conv" or not layer.E * layer.F:
        return 1.0
    e = max(0, (layer.H - layer.R) // layer.stride + 1)
    f = max(0, (layer.W - layer.S) // layer.stride_w + 1)
    return min(1.0, e * f / (layer.E * layer.F))


def _scoped(table, arch, scope: str):
    """``table`` resolved for ``arch``, with only the arrays' components when ``scope`` is ``arrays``."""
    from .table import EnergyTable, resolve

    table = resolve(table, arch)
    if scope == "chip":
        return table
    data = table.to_dict()
    data["components"] = {name: entry for name, entry in data["components"].items() if name in ARRAY_COMPONENTS}
    for name, entry in table.to_dict()["components"].items():
        if name not in ARRAY_COMPONENTS:  # kept so the table prices every component, at nothing
            data["components"][name] = {"area": "0mm2", "power": "0W", "leakage": "0W",
                                        "actions": {a: "0pJ" for a in entry["actions"]},
                                        "source": "outside the measured macro"}
    return EnergyTable.from_dict(data)


SERIAL_GROUPS: Dict[str, Tuple[str, ...]] = {
    "compute": ("arrays", "digital units"),
    "buffer": ("tile buffer", "global buffer", "matrix-unit buffer"),
    "interconnect": ("interconnect",),
    "DRAM": ("DRAM",),
}
"""NeuroSim's three parts of a layer's latency (main.cpp prints each layer's "latency", "buffer
latency" and "interconnect latency"; Tile.cpp and Chip.cpp add them in series) in the time
categories of xbarsim's operation kinds (``OpKind.time``); programming is left out (weights are
resident), DRAM is its own part."""


def serial_layer_cycles(result, offchip: bool = True) -> Dict[str, Dict[str, float]]:
    """Per layer, NeuroSim's serial latency in cycles of the whole batch, by :data:`SERIAL_GROUPS`.

    From the run's own record: for each kind of operation of the layer, the busy cycles of its
    busiest resource instance (the first resource an operation holds: a copy's arrays, a tile's
    buffer port, a transfer's source port); the kinds of a group, and the groups, are added. This
    is NeuroSim's counting of a layer's time (Tile.cpp ``TileCalculatePerformance``: the slowest
    PE's ``readLatency``, then the accumulation, activation, input and output buffer and H-tree
    latencies added to it; Chip.cpp ``ChipCalculatePerformance``: the global buffer and bus the
    same way): each kind of work is parallel across its instances and in series with the others.
    ``offchip=False`` leaves DRAM out, as NeuroSim does."""
    from ..hardware import REGISTRY

    stream = result.stream
    names = stream.layer_names
    out = {name: {g: 0.0 for g in SERIAL_GROUPS} for name in names}
    if not stream.operations:
        return out
    group_of = {}
    for g, times in SERIAL_GROUPS.items():
        for t in times:
            group_of[t] = g
    layer = stream.op_layer
    resource = stream.op_resource
    durations = np.asarray(result.durations, dtype=np.float64)
    nres = len(stream.resources)
    for k, kind in enumerate(stream.op_names):
        group = group_of.get(REGISTRY.ops[kind].time)
        if group is None or (group == "DRAM" and not offchip):
            continue
        mask = (stream.op_kind == k) & (layer >= 0)
        if not mask.any():
            continue
        busy = np.zeros((len(names), nres))
        np.add.at(busy, (layer[mask], resource[mask]), durations[mask])
        for i, cycles in enumerate(busy.max(axis=1)):
            out[names[i]][group] += float(cycles)
    return out


def _tiles_in_use(result) -> int:
    """Tiles holding a copy of some layer's weights."""
    copies = result.stream.copies
    used = set()
    for first, last in zip(copies["first_tile"].tolist(), copies["last_tile"].tolist()):
        used.update(range(first, last + 1))
    return len(used)


def _category(component: str, action: str) -> str:
    key = f"{component}.{action}"
    for name, prefixes in NEUROSIM_CATEGORIES.items():
        if any(key.startswith(p) for p in prefixes):
            return name
    return "other"


def run_case(case: Case) -> Dict[str, float]:
    """xbarsim's value of every metric of ``case``, conventions applied."""
    from ..config.fields import evolve
    from ..config.loader import load_arch
    from ..simulation import simulate
    from ..timing.durations import peak_tops
    from ..workload.loader import load_workload
    from .pricing import area_mm2, peak_power_w, peak_tops_per_w
    from .table import load_energy

    c = case.conventions
    arch = load_arch(case.arch)
    if case.changes:
        arch = evolve(arch, dict(case.changes))
    table = _scoped(load_energy(arch.energy_table), arch, c.scope)
    values: Dict[str, float] = {}
    values["area_mm2"] = area_mm2(table, arch)[0]
    values["peak_tops"] = peak_tops(arch)
    values["peak_power_gops_per_w"] = values["peak_tops"] * 1e3 / peak_power_w(table, arch)[0]
    values["peak_tops_per_w"] = peak_tops_per_w(table, arch)
    if case.workload is None:
        return values
    network = load_workload(case.workload)
    small, large = case.batches
    a = simulate(arch, network, batch=small, energy=table)
    b = simulate(arch, network, batch=large, energy=table)
    ratios = {layer.name: (_valid_ratio(layer) if c.conv_vectors == "valid" else 1.0) for layer in network.layers}
    if case.data is not None:  # dynamic energy of one real input
        model_network, model, inputs = DATA[case.data]()
        run, images = simulate(arch, model_network, inputs=inputs, weights=model, energy=table), len(inputs)
    else:
        run, images = b, large
    dynamic: Dict[Tuple[str, str], float] = {}
    for (layer, component, action), energy in run.energy.by_action.items():
        if not c.offchip and component in ("offchip", "dram"):
            continue
        key = (component, action)
        dynamic[key] = dynamic.get(key, 0.0) + energy * ratios.get(layer, 1.0) / images
    if c.layer_time == "serial":
        serial = serial_layer_cycles(b, c.offchip)
        period_s = max(sum(parts.values()) * ratios.get(name, 1.0) for name, parts in serial.items()) / (
            large * arch.chip.clock)
    else:
        bottleneck = max(b.layers, key=lambda r: r.critical_cycles).name
        period_s = (b.latency_s - a.latency_s) / (large - small) * ratios.get(bottleneck, 1.0)
    static_w = b.energy.leakage_pj * 1e-12 / b.latency_s
    if c.static == "in_use":
        static_w *= _tiles_in_use(b) / arch.chip.tiles
    static_pj = static_w * period_s * 1e12  # static power over the steady-state time
    energy_pj = sum(dynamic.values()) + static_pj
    ops = 2 * network.macs
    values["tops"] = ops / period_s / 1e12
    values["energy_per_inference_uj"] = energy_pj / 1e6
    values["tops_per_w"] = ops / (energy_pj * c.post_layout_factor * 1e-12) / 1e12
    total = b.energy_pj or 1.0
    for name, e in b.energy.by_component.items():
        values[f"share:{name}"] = e / total
    dynamic_total = sum(dynamic.values()) or 1.0
    for name in tuple(NEUROSIM_CATEGORIES) + ("other",):
        values[f"category:{name}"] = sum(e for key, e in dynamic.items() if _category(*key) == name) / dynamic_total
    return values


def run_validation(cases=CASES) -> List[Tuple[Case, Metric, float, float]]:
    """(case, metric, xbarsim's value, relative error) for every metric of every case."""
    rows = []
    for case in cases:
        values = run_case(case)
        for metric in case.metrics:
            value = values[metric.name]
            rows.append((case, metric, value, value / metric.published - 1))
    return rows


def failures(rows) -> List[Tuple[Case, Metric, float, float]]:
    """Rows whose error exceeds their case's tolerance."""
    return [row for row in rows if abs(row[3]) > row[1].tolerance]


def target_errors(rows) -> List[float]:
    """|error| of the rows the targets are about: throughput and efficiency, calibration points excluded."""
    return [abs(e) for _, m, _, e in rows if m.name in TARGET_METRICS and not m.calibration]


def format_table(rows) -> str:
    """The validation table in Markdown, with the mean and worst |error| on the target metrics."""
    lines = ["| case | metric | published | source | xbarsim | error | tolerance |", "|---|---|---|---|---|---|---|"]
    for case, metric, value, error in rows:
        flag = "" if abs(error) <= metric.tolerance else " **FAIL**"
        name = metric.name + (" (calibration)" if metric.calibration else "")
        lines.append(f"| {case.name} | {name} | {metric.published:.4g} | {metric.source} | {value:.4g} | "
                     f"{error:+.1%}{flag} | {metric.tolerance:.0%} |")
    key = target_errors(rows)
    if key:
        lines.append("")
        lines.append(f"Throughput and TOPS/W ({len(key)} figures, calibration points excluded): mean |error| "
                     f"{sum(key) / len(key):.1%}, worst {max(key):.1%} (targets: 10% mean, 25% worst).")
    return "\n".join(lines)
