"""On-chip buffers: the tile buffer (and the bus from it to the PEs) and the global buffer.

A transfer through a buffer port lasts ``latency + bytes / bandwidth`` (whole cycles, at least
one). Input vectors reach a tile's PEs by a *feed*: a read through a buffer port streamed over
the tile bus, both held for ``latency + bytes / min(port, bus bandwidth)``. A tile buffer has
``tile.buffer.ports`` ports; its capacity is divided among the *input regions* of the layers
that run on the tile (:mod:`xbarsim.timing.stream`), and a producer waits for space in the
region it writes to. The global buffer holds the feature maps the location planner put there
for as long as their readers need them (a static allocation: they never exceed its size).
Accesses are counted in units of the buffer's width.
"""

from __future__ import annotations

from .registry import Component, Family, OpKind, ResourceKind, cycles, register

__all__ = ["TILE_BUFFER", "TILE_BUS", "GLOBAL_BUFFER"]


def _accesses(nbytes, width_bits):
    return -(-nbytes * 8 // width_bits)


def _port(spec):
    def duration(arch, stream, index):
        buffer = spec(arch)
        return cycles(buffer.latency + stream.op_amount[index] / buffer.bandwidth, arch.chip.clock)
    return duration


def _access(component, action, spec):
    def actions(arch, stream, index):
        return {(component, action): _accesses(stream.op_amount[index], spec(arch).width_bits)}
    return actions


def _tile(arch):
    return arch.tile.buffer


def _glb(arch):
    return arch.global_buffer


TILE_BUFFER = register(Family(
    name="tile_buffer",
    doc="the tile buffer (ISAAC: 64 KB eDRAM, 2 banks): input regions of the layers running on the tile",
    sections=("tile.buffer",),
    components=(Component("tile_buffer", "tile buffer (eDRAM or SRAM)", {
        "read": "one access of width_bits", "write": "one access of width_bits"}, instances=lambda a: a.chip.tiles),),
    resources=(ResourceKind("tile_buffer", "the ports of a tile buffer", scope="tile",
                            servers=lambda a: a.tile.buffer.ports),),
    ops=(
        OpKind("buffer_read", "read input vectors or window elements from a tile buffer", ("tile_buffer",), "bytes",
               _port(_tile), _access("tile_buffer", "read", _tile), group="data movement"),
        OpKind("buffer_write", "write arriving data into a region of a tile buffer", ("tile_buffer",), "bytes",
               _port(_tile), _access("tile_buffer", "write", _tile), group="data movement"),
    ),
))


def _bus_duration(arch, stream, index):
    return cycles(stream.op_amount[index] / arch.tile.bus_bandwidth, arch.chip.clock)


def _feed_duration(arch, stream, index):
    buffer = arch.tile.buffer
    rate = min(buffer.bandwidth, arch.tile.bus_bandwidth)
    return cycles(buffer.latency + stream.op_amount[index] / rate, arch.chip.clock)


def _feed_actions(arch, stream, index):
    n = stream.op_amount[index]
    return {("tile_buffer", "read"): _accesses(n, arch.tile.buffer.width_bits), ("tile_bus", "transfer_bytes"): n}


TILE_BUS = register(Family(
    name="tile_bus",
    doc="the bus from a tile buffer to the input registers of the tile's PEs (ISAAC: 384 wires)",
    sections=("tile.bus_bandwidth",),
    components=(Component("tile_bus", "bus from the tile buffer to its PEs", {"transfer_bytes": "one byte moved"},
                          instances=lambda a: a.chip.tiles),),
    resources=(ResourceKind("tile_bus", "the tile's buffer-to-PE bus", scope="tile", servers=lambda a: 1),),
    ops=(
        OpKind("feed", "read input vectors from the tile buffer into the tile's PEs over the bus",
               ("tile_buffer", "tile_bus"), "bytes", _feed_duration, _feed_actions, group="data movement"),
        OpKind("tile_bus", "move input vectors that arrived over the network into the tile's PEs", ("tile_bus",),
               "bytes", _bus_duration,
               lambda arch, stream, index: {("tile_bus", "transfer_bytes"): stream.op_amount[index]},
               group="data movement"),
    ),
))


GLOBAL_BUFFER = register(Family(
    name="global_buffer",
    doc="the on-chip buffer shared by all tiles (none in ISAAC): feature maps between layers or rounds",
    sections=("global_buffer",),
    components=(Component("glb", "global buffer", {"read": "one access of width_bits",
                                                    "write": "one access of width_bits"},
                          instances=lambda a: 1 if a.global_buffer.size > 0 else 0),),
    resources=(ResourceKind("glb", "the ports of the global buffer", scope="chip",
                            servers=lambda a: a.global_buffer.ports),),
    ops=(
        OpKind("glb_read", "read feature-map rows from the global buffer", ("glb",), "bytes",
               _port(_glb), _access("glb", "read", _glb), group="data movement"),
        OpKind("glb_write", "write output rows into the global buffer", ("glb",), "bytes",
               _port(_glb), _access("glb", "write", _glb), group="data movement"),
    ),
))
