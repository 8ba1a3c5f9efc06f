"""Registers: the PE input and output registers and the tile output register.

They are streaming stages between the tile buffer, the arrays and the tile's outputs, each
sized to hold one input vector's worth of what passes through it (ISAAC Table I: a 2 KB
input register = 8 arrays x 128 rows x 2 B; a 256 B output register = 8 arrays x 16 outputs x
2 B; a 3 KB tile output register = 12 IMAs x 256 B). A mapping whose working set does not fit
(one vector's inputs or partial sums of a PE) is refused with a :class:`MappingError` naming
the register, its size and the bytes needed. Their writes are counted by the array MVM that
fills them.
"""

from __future__ import annotations

from ..errors import MappingError
from .registry import Component, Family, register

__all__ = ["FAMILY", "check_registers"]


def _size(nbytes: float) -> str:
    return f"{nbytes:,.0f} B"


def check_registers(arch, mapping) -> None:
    """Refuse a mapping whose per-PE input vector or partial sums exceed the registers."""
    psum = -(-arch.pe.psum_bits // 8)
    for m, part in mapping.parts():
        low = part.lowered
        in_bytes = -(-low.crossbar.input_bits // 8)
        rows, outputs = low.pe_working_set(arch.pe.arrays)
        name = m.layer.name if low.parts == 1 else f"{m.layer.name} part {low.part}"
        checks = (
            ("pe.input_register", arch.pe.input_register, rows * in_bytes,
             f"one input vector of its busiest PE ({rows} rows x {in_bytes} B)"),
            ("pe.output_register", arch.pe.output_register, outputs * psum,
             f"one vector's partial sums of its busiest PE ({outputs} values x {psum} B)"),
            ("tile.output_register", arch.tile.output_register, outputs * psum * min(arch.tile.pes, low_pes(low, arch)),
             f"one vector's partial sums of the PEs it occupies on a tile ({outputs} values x {psum} B x "
             f"{min(arch.tile.pes, low_pes(low, arch))} PEs)"),
        )
        for field, size, need, what in checks:
            if need > size:
                raise MappingError(f"layer {name!r} does not fit the {field} ({_size(size)}): it needs {_size(need)} "
                                   f"for {what}; enlarge {field} or use smaller arrays or fewer bits")


def low_pes(low, arch) -> int:
    """PEs one copy of a lowered layer occupies."""
    return -(-low.arrays // arch.pe.arrays)


FAMILY = register(Family(
    name="registers",
    doc="PE input and output registers and the tile output register (streaming stages, one vector deep)",
    sections=("pe.input_register", "pe.output_register", "tile.output_register"),
    components=(
        Component("ireg", "PE input register", {"write_bytes": "one byte written"}, instances=lambda a: a.pes),
        Component("oreg", "PE output register", {"write_bytes": "one byte written"}, instances=lambda a: a.pes),
        Component("tile_oreg", "tile output register", {"write_bytes": "one byte written"},
                  instances=lambda a: a.chip.tiles),
    ),
    checks=(check_registers,),
))
