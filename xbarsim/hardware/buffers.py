"""On-chip buffers: the tile buffer (and the bus from it to the PEs) and the global buffer.

A transfer through a buffer port lasts ``latency + bytes / bandwidth`` (whole cycles, at least
one). Input vectors reach a tile's PEs by a *feed*: a read through a buffer port streamed over
the tile bus, both held for ``latency + bytes / min(port, bus bandwidth)``. A tile buffer has
``tile.buffer.ports`` ports; its capacity is divided among the *input regions* of the layers
that run on the tile (:mod:`xbarsim.timing.stream`), and a producer waits for space in the
region it writes to. The global buffer holds the feature maps the location planner put there
for as long as their readers need them (a static allocation: they never exceed its size).
Accesses are counted in units of the buffer's width.

With ``chip.activation: chip`` a tile's partial sums stream through its buffer on a port of their
own, ``tile.psum_port_bits`` per clock (NeuroSim's tile output buffer): each byte is written and
read (both counted) while the port moves ``psum_port_bits`` per cycle, the write of one datum
overlapping the read of another. NeuroSim times its buffers the same way (Tile.cpp: ``numBit /
interface_width / 2`` reads plus as many writes, Buffer.cpp ``CalculateLatency`` with
``synchronous``: one line per cycle), i.e. ``numBit / interface_width`` cycles in all. With
``tile.psum_bus`` the partial sums first cross the tile bus from the PEs (``psum_bus``: ``bytes /
bus_bandwidth``), as NeuroSim's tile H-tree carries them (Tile.cpp ``TileCalculatePerformance``:
``hTreeCM->CalculateLatency(..., (numBitToLoadOut + numBitToLoadIn) / busWidth)``, one read of
``busWidth`` bits per cycle, HTree.cpp with ``synchronous``).
"""

from __future__ import annotations

from .registry import Component, Family, OpKind, ResourceKind, cycles, register

__all__ = ["TILE_BUFFER", "PSUM_PORT", "TILE_BUS", "GLOBAL_BUFFER"]


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
        "read": "one access of width_bits", "write": "one access of width_bits"}, instances=lambda a: a.chip.tiles,
        data={"read": "input activations", "write": "output activations"}),),
    resources=(ResourceKind("tile_buffer", "the ports of a tile buffer", scope="tile",
                            servers=lambda a: a.tile.buffer.ports, level="tile buffer",
                            bandwidth=lambda a: a.tile.buffer.bandwidth),),
    ops=(
        OpKind("buffer_read", "read input vectors or window elements from a tile buffer", ("tile_buffer",), "bytes",
               _port(_tile), _access("tile_buffer", "read", _tile), group="data movement", time="tile buffer"),
        OpKind("buffer_write", "write arriving data into a region of a tile buffer", ("tile_buffer",), "bytes",
               _port(_tile), _access("tile_buffer", "write", _tile), group="data movement", time="tile buffer"),
    ),
))


def _psum_port(arch, stream, index):
    return cycles(arch.tile.buffer.latency
                  + stream.op_amount[index] * 8 / max(1, arch.tile.psum_port_bits) / arch.chip.clock, arch.chip.clock)


def _psum_actions(arch, stream, index):
    n = _accesses(stream.op_amount[index], arch.tile.buffer.width_bits)
    return {("tile_buffer", "write"): n, ("tile_buffer", "read"): n}


PSUM_PORT = register(Family(
    name="psum_port",
    doc="the tile buffer's partial-sum port, with chip.activation: chip (NeuroSim's tile output buffer interface)",
    sections=("tile.psum_port_bits",),
    components=(),
    resources=(ResourceKind("psum_port", "a tile buffer's partial-sum port", scope="tile", servers=lambda a: 1),),
    ops=(
        OpKind("psum_out", "stream a layer's partial sums through the home tile's buffer towards the chip-level "
               "activation units (written and read at once)", ("psum_port",), "bytes", _psum_port, _psum_actions,
               group="data movement", time="tile buffer",
               data={("tile_buffer", "write"): "partial sums", ("tile_buffer", "read"): "partial sums"}),
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


def _bus_actions(arch, stream, index):
    return {("tile_bus", "transfer_bytes"): stream.op_amount[index]}


TILE_BUS = register(Family(
    name="tile_bus",
    doc="the bus between a tile buffer and the tile's PEs (ISAAC: 384 wires to the input registers; NeuroSim: the "
        "tile's H-tree, which with tile.psum_bus also carries the partial sums back)",
    sections=("tile.bus_bandwidth", "tile.psum_bus"),
    components=(Component("tile_bus", "bus from the tile buffer to its PEs", {"transfer_bytes": "one byte moved"},
                          instances=lambda a: a.chip.tiles, data={"transfer_bytes": "input activations"}),),
    resources=(ResourceKind("tile_bus", "the tile's buffer-to-PE bus", scope="tile", servers=lambda a: 1),),
    ops=(
        OpKind("feed", "read input vectors from the tile buffer into the tile's PEs over the bus",
               ("tile_buffer", "tile_bus"), "bytes", _feed_duration, _feed_actions, group="data movement",
               time="tile buffer"),
        OpKind("tile_bus", "move input vectors that arrived over the network into the tile's PEs", ("tile_bus",),
               "bytes", _bus_duration, _bus_actions, group="data movement", time="tile buffer"),
        OpKind("psum_bus", "move a layer's partial sums from the home tile's PEs to its partial-sum port over the "
               "tile bus (tile.psum_bus, chip.activation: chip)", ("tile_bus",), "bytes", _bus_duration,
               _bus_actions, group="data movement", time="tile buffer",
               data={("tile_bus", "transfer_bytes"): "partial sums"}),
    ),
))


GLOBAL_BUFFER = register(Family(
    name="global_buffer",
    doc="the on-chip buffer shared by all tiles (none in ISAAC): feature maps between layers or rounds",
    sections=("global_buffer",),
    components=(Component("glb", "global buffer", {"read": "one access of width_bits",
                                                    "write": "one access of width_bits"},
                          instances=lambda a: 1 if a.global_buffer.size > 0 else 0,
                          data={"read": "input activations", "write": "output activations"}),),
    resources=(ResourceKind("glb", "the ports of the global buffer", scope="chip",
                            servers=lambda a: a.global_buffer.ports, level="global buffer",
                            bandwidth=lambda a: a.global_buffer.bandwidth),),
    ops=(
        OpKind("glb_read", "read feature-map rows from the global buffer", ("glb",), "bytes",
               _port(_glb), _access("glb", "read", _glb), group="data movement", time="global buffer"),
        OpKind("glb_write", "write output rows into the global buffer", ("glb",), "bytes",
               _port(_glb), _access("glb", "write", _glb), group="data movement", time="global buffer"),
    ),
))
