"""The on-chip network between tiles: a shared bus, or a mesh of routers with XY routing.

**Bus.** One shared channel (one resource): a transfer takes ``hop_latency + bytes /
bandwidth`` and crosses one router's worth of switching (``noc.byte_hop`` once per byte).

**Mesh.** Routers sit on a near-square grid, ``interconnect.tiles_per_router`` tiles each.
Each tile has a port into its router (``noc_out``) and one out of it (``noc_in``); each
direction of each link between neighbouring routers is a resource. A transfer from tile a to
tile b holds, all at once for its whole duration (as a circuit, or a wormhole packet whose
flits fill its route), a's out-port, the links of its XY route (X first, then Y) and b's
in-port; it lasts ``routers x hop_latency + bytes / bandwidth``, where ``routers`` counts the
routers it enters (links + 1). Energy is counted per byte and router entered.
"""

from __future__ import annotations

import math
from typing import List, Tuple


from .registry import Component, Family, OpKind, ResourceKind, cycles, register

__all__ = ["FAMILY", "Mesh"]


class Mesh:
    """Router coordinates of tiles and XY routes between them."""

    def __init__(self, arch):
        self.bus = arch.interconnect.topology == "bus"
        self.per_router = arch.interconnect.tiles_per_router
        routers = -(-arch.chip.tiles // self.per_router)
        self.width = max(1, math.isqrt(routers - 1) + 1) if routers > 1 else 1

    def router(self, tile: int) -> Tuple[int, int]:
        r = tile // self.per_router
        return r % self.width, r // self.width

    def route(self, a: int, b: int) -> List[Tuple[int, int]]:
        """Links (from router, to router) from tile a's router to tile b's, X first then Y."""
        (x, y), (tx, ty) = self.router(a), self.router(b)
        links = []
        while x != tx:
            step = 1 if tx > x else -1
            links.append((x + y * self.width, x + step + y * self.width))
            x += step
        while y != ty:
            step = 1 if ty > y else -1
            links.append((x + y * self.width, x + (y + step) * self.width))
            y += step
        return links


def _duration(arch, stream, index):
    """``routers x hop_latency + bytes / bandwidth`` (the op's aux counts the routers it enters)."""
    net = arch.interconnect
    return cycles(stream.op_aux[index] * net.hop_latency + stream.op_amount[index] / net.bandwidth, arch.chip.clock)


def _byte_hops(arch, stream, index):
    return {("noc", "byte_hop"): stream.op_amount[index] * stream.op_aux[index]}


FAMILY = register(Family(
    name="interconnect",
    doc="the network between tiles: a bus, or a mesh of routers with XY routing",
    sections=("interconnect",),
    components=(Component("noc", "on-chip network: routers (mesh) or the bus", {"byte_hop": "one byte into one router"},
                          instances=lambda a: a.routers if a.interconnect.topology == "mesh" else 1),),
    resources=(
        ResourceKind("bus", "the shared bus", scope="chip", servers=lambda a: 1),
        ResourceKind("noc_out", "a tile's port into its router", scope="tile", servers=lambda a: 1),
        ResourceKind("noc_in", "a router's port into a tile", scope="tile", servers=lambda a: 1),
        ResourceKind("link", "one direction of a link between two routers", scope="link", servers=lambda a: 1),
    ),
    ops=(
        OpKind("transfer", "move data from one tile to another over the bus or the mesh",
               ("bus", "noc_out", "link", "noc_in"), "bytes", _duration, _byte_hops, group="data movement"),
    ),
))
