"""The architecture spec: the root of the config tree (``version``, ``name``, sections)."""

from __future__ import annotations

from dataclasses import dataclass

from .. import units
from ..errors import ConfigError, described
from .crossbar import CrossbarSpec
from .fields import Choice, Integer, Section, Spec, Text, param
from .hierarchy import (ChipSpec, DramSpec, GlobalBufferSpec, InterconnectSpec, MappingSpec, PeSpec, ProductsSpec,
                        ProgrammingSpec, TileSpec)

__all__ = ["Arch", "SPEC_VERSION", "SCHEDULES", "MAX_UNIT_CYCLES"]

#: Schedules of a network on a chip: layer by layer, or ISAAC's inter-layer pipeline.
SCHEDULES = ("layer", "pipeline")

#: The spec version this xbarsim reads and writes.
SPEC_VERSION = 1

#: Largest number of clock cycles one unit of work (a read, a conversion, a byte moved, a latency,
#: a write pulse) may take: 2**30, about 0.9 s at 1.2 GHz. Per-operation durations and run lengths
#: then stay far inside the 64-bit cycle counters of the event model and of traces.
MAX_UNIT_CYCLES = 1 << 30

_VERSION = Integer(SPEC_VERSION, SPEC_VERSION)
_VERSION.expected = f"{SPEC_VERSION} (the spec version this xbarsim reads; start the spec with 'version: {SPEC_VERSION}')"


@dataclass(frozen=True, kw_only=True)
class Arch(Spec):
    """A whole accelerator: frozen, validated once at load (``xbarsim.load_arch``)."""

    section_doc = "an accelerator: its crossbar and, around it, the chip hierarchy"

    version: int = param(_VERSION, SPEC_VERSION, f"spec format version; this xbarsim reads {SPEC_VERSION}",
                         required=True)
    name: str = param(Text(), "custom", "a short name shown in reports", affects=("price",))
    energy_table: str = param(Text(), "isaac",
                              "energy table (preset name or YAML path) used unless simulate(energy=...) says otherwise",
                              affects=("price",))
    schedule: str = param(Choice(*SCHEDULES), "layer",
                          "the chip's natural schedule, used unless simulate(schedule=...) says otherwise: "
                          "'layer' (one layer at a time) or 'pipeline' (ISAAC's inter-layer pipeline)")
    crossbar: CrossbarSpec = param(Section(CrossbarSpec), factory=CrossbarSpec,
                                   doc="the analog arrays, converters and devices")
    chip: ChipSpec = param(Section(ChipSpec), factory=ChipSpec, doc="chip-level counts and clock")
    tile: TileSpec = param(Section(TileSpec), factory=TileSpec, doc="tiles: PEs, buffer, activation and pooling")
    pe: PeSpec = param(Section(PeSpec), factory=PeSpec, doc="processing elements: arrays, ADCs, timing")
    global_buffer: GlobalBufferSpec = param(Section(GlobalBufferSpec), factory=GlobalBufferSpec,
                                      doc="on-chip buffer shared by all tiles (size 0: none, as in ISAAC)")
    interconnect: InterconnectSpec = param(Section(InterconnectSpec), factory=InterconnectSpec,
                                           doc="network between tiles and the global buffer")
    dram: DramSpec = param(Section(DramSpec), factory=DramSpec, doc="off-chip memory")
    programming: ProgrammingSpec = param(Section(ProgrammingSpec), factory=ProgrammingSpec,
                                         doc="writing weights into arrays")
    mapping: MappingSpec = param(Section(MappingSpec), factory=MappingSpec, doc="how layers are cut into steps")
    products: ProductsSpec = param(Section(ProductsSpec), factory=ProductsSpec,
                                   doc="where products of two activations (attention) run and their operands live")

    def _validate(self) -> None:
        self._check_cycles()
        if self.pe.adcs_per_array > self.crossbar.cols:
            raise ConfigError(("pe", "adcs_per_array"), f"an integer 1..{self.crossbar.cols} (at most crossbar.cols)",
                              self.pe.adcs_per_array)
        if self.chip.activation == "chip" and self.interconnect.topology != "bus":
            raise ConfigError(("chip", "activation"), "'tile' unless interconnect.topology is 'bus' (chip-level "
                              "units are placed on the bus; their place on a mesh is not modelled)",
                              self.chip.activation)
        if self.chip.activation == "chip" and self.chip.activation_units < 1:
            raise ConfigError(("chip", "activation_units"), "an integer >= 1 with chip.activation: chip",
                              self.chip.activation_units)
        if self.chip.activation == "chip" and self.tile.psum_port_bits < 1:
            raise ConfigError(("tile", "psum_port_bits"), "an integer >= 1 with chip.activation: chip",
                              self.tile.psum_port_bits)
        if self.programming.rows_in_parallel > self.crossbar.rows:
            raise ConfigError(("programming", "rows_in_parallel"),
                              f"an integer 1..{self.crossbar.rows} (at most crossbar.rows)",
                              self.programming.rows_in_parallel)

    def _check_cycles(self) -> None:
        """Every time an operation takes per unit of work must be a sane number of clock cycles.

        The event model counts whole cycles in 64-bit integers; a per-unit time of more than
        :data:`MAX_UNIT_CYCLES` cycles (a read of 1,000,000 s, a DRAM of 1 fB/s, a 1e30 Hz clock)
        would overflow them in a run, so it is refused here, naming the field.
        """
        clock = self.chip.clock
        for section, field, kind, seconds in (
                ("pe", "read_latency", "time", self.pe.read_latency),
                ("pe", "adc_rate", "frequency", 1 / self.pe.adc_rate),
                ("tile", "bus_bandwidth", "bandwidth", 1 / self.tile.bus_bandwidth),
                ("tile.buffer", "bandwidth", "bandwidth", 1 / self.tile.buffer.bandwidth),
                ("tile.buffer", "latency", "time", self.tile.buffer.latency),
                ("global_buffer", "bandwidth", "bandwidth", 1 / self.global_buffer.bandwidth),
                ("global_buffer", "latency", "time", self.global_buffer.latency),
                ("interconnect", "bandwidth", "bandwidth", 1 / self.interconnect.bandwidth),
                ("interconnect", "hop_latency", "time", self.interconnect.hop_latency),
                ("dram", "bandwidth", "bandwidth", 1 / self.dram.bandwidth),
                ("dram", "latency", "time", self.dram.latency),
                ("programming", "write_pulse", "time", self.programming.write_pulse)):
            if seconds * clock > MAX_UNIT_CYCLES:
                path = tuple(section.split(".")) + (field,)
                node = self
                for part in path:
                    node = getattr(node, part)
                per = {"time": "", "frequency": " per conversion", "bandwidth": " per byte"}[kind]
                text = f"{node:g}s" if kind == "time" else units.format(node, kind)
                shown = units.format(clock, "frequency") if 1 <= clock <= 1e15 else f"{clock:g}Hz"
                raise ConfigError(path, f"a {kind} of at most {MAX_UNIT_CYCLES:,} cycles of chip.clock ({shown}){per}",
                                  described(f"'{text}' ({seconds * clock:.3g} cycles{per})"))

    # -- counts of the hierarchy -------------------------------------------------------------

    @property
    def pes(self) -> int:
        """PEs on the chip."""
        return self.chip.tiles * self.tile.pes

    @property
    def arrays(self) -> int:
        """Crossbar arrays on the chip."""
        return self.pes * self.pe.arrays

    @property
    def routers(self) -> int:
        """Routers of the on-chip network (``ceil(tiles / tiles_per_router)``; 0 for a bus)."""
        if self.interconnect.topology == "bus":
            return 0
        return -(-self.chip.tiles // self.interconnect.tiles_per_router)
