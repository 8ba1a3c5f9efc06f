"""The chip hierarchy around the crossbar: chip -> tiles -> PEs -> arrays, buffers, network, DRAM.

Each section holds counts and timing parameters only; energy, power and area live in the
energy table (``xbarsim.energy``), so one architecture can be priced by several tables.
Durations are physical (``"100ns"``); the timing model rounds each operation up to whole
cycles of ``chip.clock``. Every field says what a change of it can alter (``affects``, see
:data:`xbarsim.config.fields.EFFECTS`), which is what replays and the config reference read.
"""

from __future__ import annotations

from dataclasses import dataclass

from .fields import Boolean, Choice, FrozenDict, Integer, MappingOf, Quantity, Real, Section, Spec, param

__all__ = ["MappingSpec", "ChipSpec", "PeSpec", "BufferSpec", "GlobalBufferSpec", "TileSpec", "InterconnectSpec",
           "DramSpec", "ProgrammingSpec", "VectorUnitSpec", "MatrixUnitSpec", "ProductsSpec", "VECTOR_FUNCTION_OPS"]

MAPPING, TIMING, PRICE = ("mapping",), ("timing",), ("price",)


@dataclass(frozen=True, kw_only=True)
class ChipSpec(Spec):
    section_doc = "the whole chip"

    tiles: int = param(Integer(1, 1_000_000), 168, "tiles on the chip (ISAAC: 168)", affects=MAPPING)
    clock: float = param(Quantity("frequency", 0, lo_open=True), "1.2GHz",
                         "digital clock; every operation lasts a whole number of its cycles (ISAAC: 1.2 GHz)",
                         affects=TIMING)
    offchip_links: int = param(Integer(1, 1024), 4,
                               "off-chip links to DRAM and hosts (ISAAC: 4 HyperTransport); at least 1, since every "
                               "run reads its input from DRAM and writes its output there; their count sets area and "
                               "power, their speed is dram.bandwidth x dram.channels", affects=PRICE)
    activation: str = param(Choice("tile", "chip"), "tile",
                            "where a weight layer's partial sums are finished and activated: 'tile' (ISAAC: the "
                            "home tile activates and sends outputs at their own precision) or 'chip' (NeuroSim "
                            "V1.4 Param.cpp chipActivation: the home tile streams its tile.psum_bits partial sums "
                            "through its buffer and sends them over the bus to chip-level activation units, "
                            "which send the outputs on); 'chip' needs interconnect.topology: bus", affects=MAPPING)
    activation_units: int = param(Integer(0, 1 << 24), 0,
                                  "chip-level activation units, one output per cycle each, used with activation: "
                                  "chip (NeuroSim V1.4 Chip.cpp GreLu: one per 8 columns of the widest tile "
                                  "throughput)", affects=("timing", "price"))


@dataclass(frozen=True, kw_only=True)
class PeSpec(Spec):
    section_doc = "a processing element (ISAAC's IMA): arrays with their DACs, sample-and-holds and ADCs"

    arrays: int = param(Integer(1, 65536), 8, "crossbar arrays per PE (ISAAC: 8)", affects=MAPPING)
    adcs_per_array: int = param(Integer(1, 65536), 1,
                                "ADCs per array; the array's columns share them in turn (ISAAC: 1 for 128 columns)",
                                affects=("timing", "price"))
    adc_rate: float = param(Quantity("frequency", 0, lo_open=True), "1.28GHz",
                            "conversions per second of one ADC (ISAAC: 1.28 GS/s)", affects=TIMING)
    read_latency: float = param(Quantity("time", 0, lo_open=True), "100ns",
                                "one crossbar read: DAC drive, column settling, sample-and-hold (ISAAC: 100 ns)",
                                affects=TIMING)
    sample_hold: bool = param(Boolean(), True,
                              "sample-and-hold lets the next read overlap the current conversions (ISAAC)",
                              affects=TIMING)
    zero_skip: bool = param(Boolean(), False,
                            "skip an array read whose input digits are all zero (seen only in data-aware runs)")
    shift_add_units: int = param(Integer(0, 65536), 4,
                                 "shift-and-add units per PE (ISAAC: 4); area and power only: they are taken to "
                                 "keep pace with the ADCs, as ISAAC sizes them", affects=PRICE)
    input_register: float = param(Quantity("size", 0), "2KiB",
                                  "input register; must hold one input vector of the PE's arrays (ISAAC: 2 KB = "
                                  "8 arrays x 128 rows x 2 B)", affects=("mapping", "price"))
    output_register: float = param(Quantity("size", 0), "256B",
                                   "output register; must hold one vector's partial sums of the PE's arrays "
                                   "(ISAAC: 256 B = 8 arrays x 16 outputs x 2 B)", affects=("mapping", "price"))
    psum_bits: int = param(Integer(1, 64), 16,
                           "bits of a partial sum leaving the PE (ISAAC: 16-bit outputs of the IMA)")


@dataclass(frozen=True, kw_only=True)
class BufferSpec(Spec):
    section_doc = "an on-chip buffer (SRAM or eDRAM)"

    size: float = param(Quantity("size", 0), "64KiB",
                        "capacity; 0 for none. A tile buffer's capacity is split among the input regions of the "
                        "layers that run on the tile (docs/architecture-model.md)", affects=TIMING)
    ports: int = param(Integer(1, 1024), 2, "accesses served at once (ISAAC eDRAM: 2 banks)", affects=TIMING)
    width_bits: int = param(Integer(8, 65536), 256, "bits per access (ISAAC eDRAM: 256-bit bus)",
                            affects=("counts",))
    bandwidth: float = param(Quantity("bandwidth", 0, lo_open=True), "38.4GB/s",
                             "bytes per second per port (ISAAC: 256 bits per 1.2 GHz cycle = 38.4 GB/s)",
                             affects=TIMING)
    latency: float = param(Quantity("time", 0), "0s", "fixed latency added to every transfer", affects=TIMING)


@dataclass(frozen=True, kw_only=True)
class GlobalBufferSpec(BufferSpec):
    section_doc = "the on-chip buffer shared by all tiles (SRAM or eDRAM)"

    size: float = param(Quantity("size", 0), "0B",
                        "capacity; 0 for none. Feature maps that fit beside those still waiting for their "
                        "readers are kept here, the others go to DRAM", affects=MAPPING)


#: Vector-unit operations per element of each function, counting exp, tanh and a reciprocal as
#: one operation each (lookup-table or piecewise units): softmax = max-compare, subtract, exp,
#: accumulate, multiply by the row's reciprocal (5); layernorm = accumulate, subtract the mean,
#: square, accumulate, scale, gain, bias (7); rmsnorm = square, accumulate, scale, gain (4);
#: gelu (tanh form, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))) = x^2, x^3, multiply-add,
#: scale, tanh, add 1, multiply by x, halve (8); silu = x sigmoid(x), sigmoid = exp, add 1,
#: reciprocal (4); tanh (1); mul, an elementwise product (1).
VECTOR_FUNCTION_OPS = {"softmax": 5, "layernorm": 7, "rmsnorm": 4, "gelu": 8, "silu": 4, "tanh": 1, "mul": 1}


@dataclass(frozen=True, kw_only=True)
class VectorUnitSpec(Spec):
    section_doc = ("a tile's digital vector unit: softmax, normalizations, GELU/SiLU/tanh and elementwise "
                   "products (none in ISAAC)")

    lanes: int = param(Integer(0, 1 << 20), 0,
                       "operations per cycle (0: no vector unit; transformer layers then cannot run)",
                       affects=("timing", "price"))
    ops: dict = param(MappingOf(Integer(1, 1 << 16), keys=tuple(VECTOR_FUNCTION_OPS), key_kind="function"),
                      FrozenDict(VECTOR_FUNCTION_OPS),
                      "operations per element of each function (missing ones take the defaults, derived in "
                      "xbarsim.config.hierarchy.VECTOR_FUNCTION_OPS); they set the operations' amounts",
                      affects=("mapping",))

    @classmethod
    def _normalize(cls, data):
        if isinstance(data.get("ops"), dict):
            data = dict(data, ops={**VECTOR_FUNCTION_OPS, **data["ops"]})
        return data


@dataclass(frozen=True, kw_only=True)
class MatrixBufferSpec(Spec):
    section_doc = "the matrix unit's own buffer, holding a product's operand b while queries stream through"

    size: float = param(Quantity("size", 0), "64KiB",
                        "capacity: an operand b that fits (its share of it) is loaded once per image, otherwise "
                        "it is streamed again for every step of queries", affects=("mapping",))
    width_bits: int = param(Integer(8, 65536), 256, "bits per access", affects=("counts",))
    bandwidth: float = param(Quantity("bandwidth", 0, lo_open=True), "38.4GB/s",
                             "bytes per second of its read port (feeding the MACs) and of its write port",
                             affects=("timing",))
    latency: float = param(Quantity("time", 0), "0s", "fixed latency added to every load", affects=("timing",))


@dataclass(frozen=True, kw_only=True)
class MatrixUnitSpec(Spec):
    section_doc = "a tile's digital matrix unit for products of two activations (none in ISAAC)"

    macs_per_cycle: int = param(Integer(0, 1 << 24), 0,
                                "multiply-accumulates of operand_bits x operand_bits per cycle (0: no matrix "
                                "unit)", affects=("timing", "price"))
    operand_bits: int = param(Integer(1, 64), 16,
                              "operand width; wider operands take ceil(a / w) x ceil(b / w) passes per product",
                              affects=("mapping",))
    buffer: MatrixBufferSpec = param(Section(MatrixBufferSpec), factory=MatrixBufferSpec, doc="its own buffer")


@dataclass(frozen=True, kw_only=True)
class TileSpec(Spec):
    section_doc = "a tile: PEs around a shared buffer, with activation and pooling units"

    pes: int = param(Integer(1, 65536), 12, "PEs per tile (ISAAC: 12 IMAs)", affects=MAPPING)
    activation_units: int = param(Integer(0, 65536), 2, "activation units, one output per cycle each (ISAAC: 2 sigmoid)",
                                  affects=("timing", "price"))
    pooling_units: int = param(Integer(0, 65536), 1, "pooling units, one window element per cycle each (ISAAC: 1)",
                               affects=("timing", "price"))
    shift_add_units: int = param(Integer(0, 65536), 1,
                                 "tile shift-and-add units, one addition per cycle each, for residual adds; the "
                                 "merging of a copy's partial sums is part of its datapath (ISAAC: 1)",
                                 affects=("timing", "price"))
    output_register: float = param(Quantity("size", 0), "3KiB",
                                   "tile output register; must hold one vector's outputs of the tile's PEs "
                                   "(ISAAC: 3 KB = 12 x 256 B)", affects=("mapping", "price"))
    psum_bits: int = param(Integer(1, 64), 16,
                           "bits of a partial sum the tile sends to the chip-level activation units with "
                           "chip.activation: chip, after its PEs' and its own adder trees (NeuroSim V1.4 Tile.cpp: "
                           "accumulation numStage + numAdderBit; xbarsim.energy.validation.neurosim_psum_bits "
                           "derives it); unused without", affects=MAPPING)
    psum_port_bits: int = param(Integer(0, 1 << 20), 0,
                                "bits per clock of the tile buffer's port through which partial sums leave "
                                "with chip.activation: chip (NeuroSim V1.4 Tile.cpp: its output buffer's "
                                "interface, (PE output bits + log2 PEs) x PEs); needed >= 1 with chip "
                                "activation, unused without", affects=TIMING)
    bus_bandwidth: float = param(Quantity("bandwidth", 0, lo_open=True), "57.6GB/s",
                                 "bus from the tile buffer to the PEs' input registers (ISAAC: 384 wires at "
                                 "1.2 GHz = 57.6 GB/s)", affects=TIMING)
    psum_bus: bool = param(Boolean(), False,
                           "with chip.activation: chip, a layer's partial sums cross the tile bus from the PEs "
                           "to the partial-sum port before they stream out (NeuroSim V1.4 Tile.cpp: its H-tree "
                           "between the PEs and the tile buffers carries the partial sums, numBitToLoadIn, as "
                           "well as the input vectors); off, they reach the port without using the bus; unused "
                           "without chip activation",
                           affects=MAPPING)
    buffer: BufferSpec = param(Section(BufferSpec), factory=BufferSpec, doc="the tile buffer (ISAAC: 64 KB eDRAM)")
    vector_unit: VectorUnitSpec = param(Section(VectorUnitSpec), factory=VectorUnitSpec,
                                        doc="digital vector unit (softmax, norms, GELU, SiLU)")
    matrix_unit: MatrixUnitSpec = param(Section(MatrixUnitSpec), factory=MatrixUnitSpec,
                                        doc="digital matrix unit (products of two activations)")


@dataclass(frozen=True, kw_only=True)
class InterconnectSpec(Spec):
    section_doc = "the on-chip network between tiles"

    topology: str = param(Choice("bus", "mesh"), "mesh",
                          "'bus': one shared channel; 'mesh': routers on a grid, XY routing, every link a resource")
    bandwidth: float = param(Quantity("bandwidth", 0, lo_open=True), "4.8GB/s",
                             "bytes per second of the bus, or of one mesh link or tile port (ISAAC: 32-bit "
                             "flits at 1.2 GHz)", affects=TIMING)
    hop_latency: float = param(Quantity("time", 0), "0.8333333333333334ns",
                               "latency per router hop (assumed: one 1.2 GHz router cycle)", affects=TIMING)
    tiles_per_router: int = param(Integer(1, 1024), 4, "tiles sharing one router (ISAAC's concentrated mesh: 4)")


@dataclass(frozen=True, kw_only=True)
class DramSpec(Spec):
    section_doc = "off-chip memory"

    bandwidth: float = param(Quantity("bandwidth", 0, lo_open=True), "6.4GB/s",
                             "bytes per second of one channel (ISAAC Table I: 6.4 GB/s per HyperTransport link)",
                             affects=TIMING)
    latency: float = param(Quantity("time", 0), "33.75ns",
                           "latency added to every transfer (row cycle time tRC of an LPDDR3-1600 part, "
                           "Samsung K3QF2F20DB, from the Linux jedec,lpddr3-timings binding)", affects=TIMING)
    channels: int = param(Integer(1, 1024), 4, "independent channels, transfers served at once (ISAAC: 4 links)",
                          affects=TIMING)


@dataclass(frozen=True, kw_only=True)
class ProgrammingSpec(Spec):
    section_doc = "writing weights into the arrays (reprogramming when a network does not fit)"

    write_pulse: float = param(Quantity("time", 0, lo_open=True), "50ns",
                               "one cell write pulse (NeuroSim Param.cpp: writePulseWidth = 50 ns)", affects=TIMING)
    rows_in_parallel: int = param(Integer(1, 65536), 1,
                                  "array rows written at once (all columns of a row are written together)",
                                  affects=TIMING)
    endurance: float = param(Real(1, lo_open=False), 1e10,
                             "writes a cell survives (HfOx RRAM: > 1e10 cycles, Lee et al., IEDM 2010; metal-oxide "
                             "RRAM spans 1e6 to 1e12, Wong et al., Proc. IEEE 2012): the summary says how many "
                             "runs the arrays last", affects=PRICE)


@dataclass(frozen=True, kw_only=True)
class ProductsSpec(Spec):
    section_doc = ("where products of two activations (matmul layers: attention) run, and where their operand b "
                   "(the KV cache) is stored")

    qk: str = param(Choice("digital", "crossbar"), "digital",
                    "products with transpose_b (Q K^T): on the tile's digital matrix unit, or written into crossbar "
                    "arrays for every input (K^T as weights)")
    av: str = param(Choice("digital", "crossbar"), "digital",
                    "products without (attention x V): on the digital matrix unit, or written into crossbar arrays")
    store: str = param(Choice("auto", "tile", "glb", "dram"), "auto",
                       "where operand b (the KV cache of a decoder) is kept: 'auto' takes the first level with room "
                       "for it at its longest: the buffer of the tile the product runs on, the global buffer, DRAM")


@dataclass(frozen=True, kw_only=True)
class MappingSpec(Spec):
    section_doc = "how layers are cut into steps (not hardware: a property of the compiled schedule)"

    segment_bytes: float = param(Quantity("size", 1), "4KiB",
                                 "largest piece of an output row one step produces: rows are cut into segments "
                                 "of at most this many bytes (and into at least one segment per copy), so a "
                                 "reader's working set is about (R - 1) rows plus a segment, as with ISAAC's "
                                 "sliding windows", affects=MAPPING)
