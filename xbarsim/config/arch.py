"""The architecture spec: the root of the config tree (``version``, ``name``, sections)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from .crossbar import CrossbarSpec
from .fields import Choice, Integer, Section, Spec, Text, param
from .hierarchy import (ChipSpec, DramSpec, GlobalBufferSpec, InterconnectSpec, MappingSpec, PeSpec, ProductsSpec,
                        ProgrammingSpec, TileSpec)

__all__ = ["Arch", "SPEC_VERSION", "SCHEDULES"]

#: Schedules of a network on a chip: layer by layer, or ISAAC's inter-layer pipeline.
SCHEDULES = ("layer", "pipeline")

#: The spec version this xbarsim reads and writes.
SPEC_VERSION = 1

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
        if self.pe.adcs_per_array > self.crossbar.cols:
            raise ConfigError(("pe", "adcs_per_array"), f"an integer 1..{self.crossbar.cols} (at most crossbar.cols)",
                              self.pe.adcs_per_array)
        if self.programming.rows_in_parallel > self.crossbar.rows:
            raise ConfigError(("programming", "rows_in_parallel"),
                              f"an integer 1..{self.crossbar.rows} (at most crossbar.rows)",
                              self.programming.rows_in_parallel)

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
