"""Off-chip memory: DRAM channels behind the chip's off-chip links.

A transfer takes ``dram.latency + bytes / dram.bandwidth`` on one of ``dram.channels``
channels (any free one: addresses are taken to interleave across channels). Every byte is counted as a DRAM access and
as a byte over an off-chip link. DRAM traffic reaches the tiles over a memory path that is
not the tile network (not timed beyond the channel, and not priced beyond the off-chip link).
"""

from __future__ import annotations

from .registry import Component, Family, OpKind, ResourceKind, cycles, register

__all__ = ["FAMILY"]


def _duration(arch, stream, index):
    return cycles(arch.dram.latency + stream.op_amount[index] / arch.dram.bandwidth, arch.chip.clock)


def _actions(action):
    def actions(arch, stream, index):
        n = stream.op_amount[index]
        return {("dram", action): n, ("offchip", "transfer_bytes"): n}
    return actions


FAMILY = register(Family(
    name="dram",
    doc="off-chip DRAM and the off-chip links to it (ISAAC: 4 HyperTransport links)",
    sections=("dram", "chip.offchip_links"),
    components=(
        Component("offchip", "off-chip link", {"transfer_bytes": "one byte moved"},
                  instances=lambda a: a.chip.offchip_links),
        Component("dram", "off-chip DRAM (energy only: not on the chip)", {
            "read_bytes": "one byte read", "write_bytes": "one byte written"}, instances=lambda a: 0),
    ),
    resources=(ResourceKind("dram", "DRAM channels", scope="chip", servers=lambda a: a.dram.channels),),
    ops=(
        OpKind("dram_read", "read input rows or weights from DRAM", ("dram",), "bytes", _duration,
               _actions("read_bytes"), group="data movement"),
        OpKind("dram_write", "write output rows to DRAM", ("dram",), "bytes", _duration,
               _actions("write_bytes"), group="data movement"),
    ),
))
