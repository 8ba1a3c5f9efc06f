"""The on-chip network between tiles: a shared bus, or a mesh of routers with XY routing.

**Bus.** One shared channel (one resource): a transfer takes ``hop_latency + bytes /
bandwidth`` and crosses one router's worth of switching (``noc.byte_hop`` once per byte).

**Mesh.** Routers sit on a near-square grid, ``interconnect.tiles_per_router`` tiles each.
Tiles are numbered along a snake through the grid, which the mapper fills in layer order, so
that a layer's tiles are next to the next layer's (ISAAC, Shafiee et al., ISCA 2016, Sec. V):
the grid is cut into horizontal stripes of ``ceil(sqrt(height))`` rows, and the snake runs
column by column through a stripe (down one column, up the next), then back through the next
stripe (with an even number of columns, a stripe ends at its top row, a stripe's height away
from where the next begins). A run of consecutive routers (a layer) is then a compact block of whole stripe
columns, and the traffic to the next layer crosses their boundary on one link per row of the
stripe, not on the single link of a grid row (measured on ResNet-18 batch 16 on ``isaac``,
``benchmarks/README.md``: stripes of 2, 3 and 6 rows give 2,376, 2,659 and 2,469 images/s in
steady state). Each tile has a port into its router (``noc_out``) and one out of it
(``noc_in``); each direction of each link between neighbouring routers is a resource. A transfer from tile a to
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
    """Router coordinates of tiles (the stripe snake) and XY routes between them."""

    def __init__(self, arch):
        self.bus = arch.interconnect.topology == "bus"
        self.per_router = arch.interconnect.tiles_per_router
        routers = -(-arch.chip.tiles // self.per_router)
        self.width = max(1, math.isqrt(routers - 1) + 1) if routers > 1 else 1
        self.height = -(-routers // self.width)
        self.stripe = math.isqrt(self.height - 1) + 1 if self.height > 1 else 1  # ceil(sqrt(height)) rows

    def router(self, tile: int) -> Tuple[int, int]:
        """Grid coordinates (x, y) of the router of ``tile`` (module notes: the stripe snake)."""
        r = tile // self.per_router
        h = self.stripe
        stripe, k = divmod(r, h * self.width)
        rows = min(h, self.height - stripe * h)
        x, y = divmod(k, rows)
        if x % 2:
            y = rows - 1 - y
        if stripe % 2:
            x = self.width - 1 - x
        return x, stripe * h + y

    def _index(self, x: int, y: int) -> int:
        return x + y * self.width

    def distance(self, tile: int, others) -> int:
        """Links between ``tile``'s router and the nearest router of the tiles ``others``."""
        x, y = self.router(tile)
        return min(abs(x - ox) + abs(y - oy) for ox, oy in (self.router(int(o)) for o in others))

    def route(self, a: int, b: int) -> List[Tuple[int, int]]:
        """Links (from router, to router) from tile a's router to tile b's, X first then Y."""
        (x, y), (tx, ty) = self.router(a), self.router(b)
        links = []
        while x != tx:
            step = 1 if tx > x else -1
            links.append((self._index(x, y), self._index(x + step, y)))
            x += step
        while y != ty:
            step = 1 if ty > y else -1
            links.append((self._index(x, y), self._index(x, y + step)))
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
                          instances=lambda a: a.routers if a.interconnect.topology == "mesh" else 1,
                          data={"byte_hop": "output activations"}),),
    resources=(
        ResourceKind("bus", "the shared bus", scope="chip", servers=lambda a: 1, level="interconnect",
                     bandwidth=lambda a: a.interconnect.bandwidth),
        ResourceKind("noc_out", "a tile's port into its router", scope="tile", servers=lambda a: 1,
                     level="interconnect", bandwidth=lambda a: a.interconnect.bandwidth),
        ResourceKind("noc_in", "a router's port into a tile", scope="tile", servers=lambda a: 1),
        ResourceKind("link", "one direction of a link between two routers", scope="link", servers=lambda a: 1),
    ),
    ops=(
        OpKind("transfer", "move data from one tile to another over the bus or the mesh",
               ("bus", "noc_out", "link", "noc_in"), "bytes", _duration, _byte_hops, group="data movement",
               time="interconnect"),
    ),
))
