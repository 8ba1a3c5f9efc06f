"""From a mapping to the operation stream: what every resource does, in which order, on what data.

A **step** is one output row of one image through one layer copy (or pooling/add unit), or
the programming of one copy, or a barrier. It runs a chain of **operations**, each on one
resource (a layer copy's arrays, a tile-buffer port, the network, the global buffer, DRAM, a
tile's activation/pooling/shift-and-add units) and waits for the steps it depends on:

* data: the producer rows its input window needs (``pipeline``), or the whole producer layer
  (``layer`` schedule, and across programming rounds);
* double buffering: a copy (or unit) starts its j-th step after its (j-2)-th has finished;
* programming: a copy's rows wait for its weights to be written (when the chip is reprogrammed).

Where activations live: the network input and output in DRAM; in ``pipeline``, a layer's
output stays in the tile buffer of the copy that produced it when its readers run in the same
round; otherwise (``layer`` schedule, or a later round) in the global buffer if it fits next to
the feature maps still waiting for readers, else in DRAM.

Operations carry amounts (vectors, bytes, operations, rows), never durations: durations come
from :class:`~xbarsim.timing.durations.Durations` of an arch, so the same stream can be re-timed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from typing import Dict, List, Optional, Sequence, Tuple

from ..config.arch import Arch
from ..mapping.placement import LayerMapping, Mapping, PartMapping
from ..workload.network import Layer

__all__ = ["Op", "Step", "OpStream", "build_stream", "OP_KINDS", "layer_bits"]

OP_KINDS = (
    "fetch_dram", "fetch_glb", "fetch_noc", "buffer_read", "mvm", "reduce", "act", "pool", "eltwise",
    "buffer_write", "store_glb", "store_dram", "weights_dram", "program",
)


@dataclass(frozen=True)
class Op:
    """One hardware operation: ``amount`` of work of ``kind`` on ``resource``."""

    resource: str
    """Resource name: ``copy:<layer>.<part>.<copy>``, ``tile_buffer:<t>``, ``noc`` or ``noc:<t>``, ``glb``,
    ``dram``, ``act:<t>``, ``pool:<t>``, ``tsa:<t>``."""
    kind: str
    """One of OP_KINDS."""
    amount: int
    """Vectors (mvm), bytes (transfers), operations (act, pool, eltwise) or rows (program)."""
    hops: int = 0
    """Routers crossed (network transfers)."""
    part: int = 0
    """Part of the layer (mvm, program)."""
    items: Optional[int] = None
    """Array read items actually executed (mvm with zero skipping on real data); None: all."""


@dataclass(frozen=True)
class Step:
    """A chain of operations that waits for ``deps`` (step indices) first."""

    index: int
    layer: int
    """Layer index, or -1 for barriers."""
    image: int
    row: int
    deps: Tuple[int, ...]
    ops: Tuple[Op, ...]
    label: str = ""
    """What it is, for traces (``conv1 copy 3 image 0 row 5``)."""


@dataclass(frozen=True)
class OpStream:
    """Every step of a run, in priority order (lower index wins a same-cycle tie)."""

    steps: Tuple[Step, ...]
    capacities: Dict[str, int]
    """Servers per resource."""
    batch: int
    notes: Tuple[str, ...] = ()
    """Facts about data placement worth telling the user."""

    @property
    def operations(self) -> int:
        return sum(len(s.ops) for s in self.steps)


def layer_bits(layer: Layer, arch: Arch) -> Tuple[int, int]:
    """(input bits, output bits) of a layer, defaults resolved against the arch."""
    inp = layer.input_bits if layer.input_bits is not None else arch.crossbar.input_bits
    out = layer.output_bits if layer.output_bits is not None else inp
    return inp, out


def _nbytes(bits: int) -> int:
    return -(-bits // 8)


class _Mesh:
    """Router coordinates of tiles: routers on a near-square grid, hops = Manhattan distance + 1."""

    def __init__(self, arch: Arch):
        self.bus = arch.interconnect.topology == "bus"
        self.per_router = arch.interconnect.tiles_per_router
        routers = -(-arch.chip.tiles // self.per_router)
        self.width = max(1, math.isqrt(routers - 1) + 1) if routers > 1 else 1

    def hops(self, a: int, b: int) -> int:
        if self.bus:
            return 1
        ra, rb = a // self.per_router, b // self.per_router
        return abs(ra % self.width - rb % self.width) + abs(ra // self.width - rb // self.width) + 1

    def port(self, tile: int) -> str:
        return "noc" if self.bus else f"noc:{tile}"


class _Builder:
    def __init__(self, mapping: Mapping, batch: int, items: Optional[Dict[int, np.ndarray]] = None):
        self.mapping = mapping
        self.items = items or {}
        self.arch = mapping.arch
        self.layers = mapping.network.layers
        self.batch = batch
        self.mesh = _Mesh(self.arch)
        self.steps: List[Step] = []
        self.capacities: Dict[str, int] = {"dram": self.arch.dram.channels, "glb": self.arch.global_buffer.ports}
        self.rounds = {m.layer.index: m.round for m in mapping.layers}
        self.row_step: Dict[Tuple[int, int, int], int] = {}  # (layer, image, row) -> step that completes it
        self.row_tile: Dict[Tuple[int, int, int], int] = {}  # (layer, image, row) -> tile holding it
        self.layer_steps: Dict[int, List[int]] = {}
        self.barrier: Dict[int, int] = {}  # layer -> its barrier step (layer schedule)
        self.round_barrier: Dict[int, int] = {}
        self.program_step: Dict[Tuple[int, int, int], int] = {}  # (layer, part, copy) -> step
        self.sequence: Dict[str, List[int]] = {}  # owner -> its steps, for double buffering
        self.held: Dict[Tuple[str, int, int], Tuple[int, int]] = {}  # (owner, source, image) -> rows held
        self.loaded: Dict[Tuple[int, int, int, int], Tuple[int, int]] = {}  # (reader, source, image, row) -> (step, tile)
        self.current_round = 0
        self.location = self._locations()

    # -- bookkeeping ---------------------------------------------------------------------------

    def add(self, layer: int, image: int, row: int, deps: Sequence[int], ops: Sequence[Op], label: str,
            owner: Optional[str] = None) -> int:
        """Append a step; it also waits for the previous round and, for an owner, its step before last."""
        deps = set(deps)
        if self.current_round > 0:
            deps.add(self.round_barrier[self.current_round - 1])
        if owner is not None:
            seq = self.sequence.setdefault(owner, [])
            if len(seq) >= 2:
                deps.add(seq[-2])
            seq.append(len(self.steps))
        for op in ops:
            if op.resource not in self.capacities:
                kind = op.resource.split(":")[0]
                self.capacities[op.resource] = self.arch.tile.buffer.ports if kind == "tile_buffer" else 1
        index = len(self.steps)
        self.steps.append(Step(index=index, layer=layer, image=image, row=row, deps=tuple(sorted(deps)),
                               ops=tuple(ops), label=label))
        if layer >= 0:
            self.layer_steps.setdefault(layer, []).append(index)
        return index

    def _locations(self) -> Dict[int, str]:
        """Where each layer's output lives: 'tile', 'glb' or 'dram' (see the module notes)."""
        mapping, arch = self.mapping, self.arch
        readers = mapping.network.consumers()
        parts = {m.layer.index: len(m.parts) for m in mapping.layers}
        location: Dict[int, str] = {}
        live: Dict[int, int] = {}  # layer -> bytes it holds in the global buffer
        for layer in self.layers:
            for source in [s for s in live if max(readers[s]) < layer.index]:
                del live[source]  # its last reader has run
            users = readers[layer.index]
            if not users:
                location[layer.index] = "dram"  # the network output leaves the chip
                continue
            same_round = all(self.rounds[u] == self.rounds[layer.index] for u in users)
            if mapping.schedule == "pipeline" and same_round and parts[layer.index] <= 1:
                location[layer.index] = "tile"
                continue
            size = layer.output_elements * _nbytes(layer_bits(layer, arch)[1]) * self.batch
            if sum(live.values()) + size <= arch.global_buffer.size:
                live[layer.index] = size
                location[layer.index] = "glb"
            else:
                location[layer.index] = "dram"
        return location

    # -- inputs ----------------------------------------------------------------------------------

    def _window(self, layer: Layer, source: int, e: int) -> Tuple[int, int]:
        """First and last row of ``source``'s output that output row ``e`` of ``layer`` reads."""
        rows = self.mapping.network.spec.input.H if source < 0 else self.layers[source].E
        if layer.type == "fc":
            return 0, rows - 1
        if layer.type == "add":
            return e, e
        first = e * layer.stride - layer.padding
        return max(0, first), min(rows - 1, first + layer.R - 1)

    def _row_bytes(self, source: int) -> int:
        """Bytes of one row of ``source``'s output as stored (-1: the network input)."""
        if source < 0:
            net = self.mapping.network.spec.input
            return net.W * net.C * _nbytes(layer_bits(self.layers[0], self.arch)[0])
        producer = self.layers[source]
        return producer.F * producer.M * _nbytes(layer_bits(producer, self.arch)[1])

    def _inputs(self, layer: Layer, image: int, e: int, home: int, owner: str) -> Tuple[List[Op], List[int]]:
        """Operations that bring the rows output row ``e`` needs to ``home``, and the steps to wait for.

        Rows held in a producer's tile buffer travel over the network. Rows in DRAM or the global
        buffer are loaded once per reading layer, by a load step landing on the tile of the first
        copy that needs them; other copies get them from there over the network.
        """
        ops: List[Op] = []
        deps: List[int] = []
        for source in layer.inputs:
            first, last = self._window(layer, source, e)
            window = range(first, last + 1)
            data_deps: List[int] = []
            if source >= 0:
                if self.mapping.schedule == "layer":
                    data_deps.append(self.barrier[source])
                elif self.rounds[source] == self.current_round:
                    data_deps += [self.row_step[(source, image, r)] for r in window]
            deps += data_deps
            held = self.held.get((owner, source, image))
            self.held[(owner, source, image)] = (first, last)
            new = [r for r in window if held is None or not held[0] <= r <= held[1]]
            if not new:
                continue
            if source >= 0 and self.location[source] == "tile":
                ops += self._from_tiles(source, image, new, home, lambda r: self.row_tile[(source, image, r)])
                continue
            unloaded = [r for r in new if (layer.index, source, image, r) not in self.loaded]
            if unloaded:
                load = self._load(layer, source, image, unloaded, home, owner, data_deps)
                for r in unloaded:
                    self.loaded[(layer.index, source, image, r)] = (load, home)
            deps += sorted({self.loaded[(layer.index, source, image, r)][0] for r in new})
            ops += self._from_tiles(source, image, new, home, lambda r: self.loaded[(layer.index, source, image, r)][1])
        return ops, deps

    def _from_tiles(self, source: int, image: int, rows: List[int], home: int, tile_of) -> List[Op]:
        """Network transfers of ``rows`` (of ``source``'s output) from the tiles holding them to ``home``."""
        row_bytes = self._row_bytes(source)
        by_tile: Dict[int, int] = {}
        for r in rows:
            tile = tile_of(r)
            by_tile[tile] = by_tile.get(tile, 0) + row_bytes
        return [Op(self.mesh.port(t), "fetch_noc", n, hops=self.mesh.hops(t, home))
                for t, n in sorted(by_tile.items()) if t != home]

    def _load(self, layer: Layer, source: int, image: int, rows: List[int], home: int, owner: str,
              data_deps: List[int]) -> int:
        """A step reading ``rows`` of ``source``'s output from DRAM or the global buffer into ``home``.

        It waits for the same data and double-buffering turn as the step that needs it, so loads
        run at most two steps ahead of their reader.
        """
        where = "dram" if source < 0 else self.location[source]
        nbytes = len(rows) * self._row_bytes(source)
        op = Op("dram", "fetch_dram", nbytes) if where == "dram" else Op("glb", "fetch_glb", nbytes)
        deps = list(data_deps)
        seq = self.sequence.get(owner, [])
        if len(seq) >= 2:
            deps.append(seq[-2])
        name = "input" if source < 0 else self.layers[source].name
        return self.add(layer.index, image, rows[0], deps, (op,),
                        f"load {name} rows {rows[0]}-{rows[-1]} image {image} for {layer.name}")

    def _store(self, layer: Layer, nbytes: int, home: int) -> Op:
        where = self.location[layer.index]
        if where == "tile":
            return Op(f"tile_buffer:{home}", "buffer_write", nbytes)
        if where == "glb":
            return Op("glb", "store_glb", nbytes)
        return Op("dram", "store_dram", nbytes)

    def _completes(self, layer: int, image: int, e: int, step: int, home: int) -> None:
        self.row_step[(layer, image, e)] = step
        self.row_tile[(layer, image, e)] = home

    # -- steps ----------------------------------------------------------------------------------

    def weight_rows(self, m: LayerMapping, part: PartMapping) -> None:
        """Every output row of every image through the copies of one part of a weight layer."""
        layer, low = m.layer, part.lowered
        inp, out = layer_bits(layer, self.arch)
        in_vector = low.groups * low.tiling.in_features * _nbytes(inp)
        psum = _nbytes(self.arch.pe.psum_bits)
        name = f"{layer.name} part {low.part}" if low.parts > 1 else layer.name
        for image in range(self.batch):
            for e in range(layer.E):
                c = (image * layer.E + e) % part.copies
                place = part.placements[c]
                home = place.home_tile
                copy = f"copy:{layer.index}.{low.part}.{c}"
                ops, deps = self._inputs(layer, image, e, home, copy)
                ops.append(Op(f"tile_buffer:{home}", "buffer_read", layer.F * in_vector))
                executed = self.items.get(layer.index)
                ops.append(Op(copy, "mvm", layer.F, part=low.part,
                              items=None if executed is None else int(executed[image, e])))
                if len(place.tiles) > 1:  # partial sums from the copy's other tiles to its home tile
                    far = max(self.mesh.hops(t, home) for t in place.tiles[1:])
                    ops.append(Op(self.mesh.port(home), "reduce",
                                  layer.F * low.out_channels * psum * (len(place.tiles) - 1), hops=far))
                if layer.activation != "none":
                    ops.append(Op(f"act:{home}", "act", layer.F * low.out_channels))
                ops.append(self._store(layer, layer.F * low.out_channels * _nbytes(out), home))
                if (layer.index, low.part, c) in self.program_step:
                    deps.append(self.program_step[(layer.index, low.part, c)])
                step = self.add(layer.index, image, e, deps, ops, f"{name} copy {c} image {image} row {e}",
                                owner=copy)
                if low.parts > 1:
                    self.part_rows.setdefault((layer.index, image, e), []).append(step)
                else:
                    self._completes(layer.index, image, e, step, home)

    def unit_rows(self, m: LayerMapping) -> None:
        """Pooling and residual-add rows, each on the units of the tile holding its first input row
        (so a replicated producer spreads them over its tiles), else of the layer's home tile."""
        layer = m.layer
        out = layer_bits(layer, self.arch)[1]
        source = layer.inputs[0]
        for image in range(self.batch):
            for e in range(layer.E):
                first, _ = self._window(layer, source, e)
                home = m.home_tile
                if source >= 0 and self.location[source] == "tile":
                    home = self.row_tile[(source, image, first)]
                owner = f"unit:{layer.index}.{home}"
                ops, deps = self._inputs(layer, image, e, home, owner)
                if layer.type == "pool":
                    ops.append(Op(f"pool:{home}", "pool", layer.F * layer.C * layer.R * layer.S))
                else:
                    ops.append(Op(f"tsa:{home}", "eltwise", layer.F * layer.C * (len(layer.inputs) - 1)))
                if layer.activation != "none":
                    ops.append(Op(f"act:{home}", "act", layer.F * layer.M))
                ops.append(self._store(layer, layer.F * layer.M * _nbytes(out), home))
                step = self.add(layer.index, image, e, deps, ops, f"{layer.name} image {image} row {e}", owner=owner)
                self._completes(layer.index, image, e, step, home)

    def program(self, m: LayerMapping, part: PartMapping) -> None:
        """Fetch a part's weights from DRAM and write them into each of its copies."""
        low = part.lowered
        weight_bytes = low.groups * low.tiling.in_features * low.tiling.out_features * _nbytes(low.crossbar.weight_bits)
        rows = min(low.crossbar.rows, low.tiling.in_features * max(1, low.groups_per_array))
        name = f"{m.layer.name} part {low.part}" if low.parts > 1 else m.layer.name
        for c in range(part.copies):
            ops = [Op("dram", "weights_dram", weight_bytes),
                   Op(f"copy:{m.layer.index}.{low.part}.{c}", "program", rows, part=low.part)]
            self.program_step[(m.layer.index, low.part, c)] = self.add(m.layer.index, -1, -1, (), ops,
                                                                       f"program {name} copy {c}")

    def build(self) -> OpStream:
        self.part_rows: Dict[Tuple[int, int, int], List[int]] = {}
        mapping = self.mapping
        for r in range(mapping.rounds):
            self.current_round = r
            first_step = len(self.steps)
            if mapping.reprograms:
                for m in mapping.layers:
                    for part in m.parts:
                        if part.round == r:
                            self.program(m, part)
            for m in mapping.layers:
                for part in m.parts:
                    if part.round == r:
                        self.weight_rows(m, part)
                if m.round != r:
                    continue
                if len(m.parts) > 1:  # a row of a split layer is complete when every part has produced it
                    for (index, image, e), steps in sorted(self.part_rows.items()):
                        if index == m.layer.index:
                            done = self.add(-1, image, e, steps, (), f"{m.layer.name} image {image} row {e} done")
                            self._completes(index, image, e, done, m.home_tile)
                elif not m.parts:
                    self.unit_rows(m)
                if mapping.schedule == "layer":
                    self.barrier[m.layer.index] = self.add(-1, -1, -1, self.layer_steps.get(m.layer.index, []), (),
                                                           f"{m.layer.name} done")
            self.round_barrier[r] = self.add(-1, -1, -1, range(first_step, len(self.steps)), (), f"round {r} done")
        return OpStream(steps=tuple(self.steps), capacities=dict(self.capacities), batch=self.batch,
                        notes=self._notes())

    def _notes(self) -> Tuple[str, ...]:
        readers = self.mapping.network.consumers()
        spilled = [layer.name for layer in self.layers if readers[layer.index] and self.location[layer.index] == "dram"]
        if not spilled:
            return ()
        size = self.arch.global_buffer.size
        room = "there is no global buffer" if size == 0 else f"the {size / 1024:g} KiB global buffer is full"
        return (f"{len(spilled)} of {len(self.layers)} feature maps go through DRAM because {room}: "
                + ", ".join(spilled[:4]) + (", ..." if len(spilled) > 4 else ""),)


def build_stream(mapping: Mapping, batch: int = 1, items: Optional[Dict[int, np.ndarray]] = None) -> OpStream:
    """The operation stream of ``batch`` images through ``mapping``.

    ``items`` (layer index -> (batch, E) array) gives, for data-aware runs with zero skipping,
    the array read items each output row actually executes.
    """
    if batch < 1:
        raise ValueError(f"batch: expected an integer >= 1, got {batch}")
    return _Builder(mapping, batch, items).build()
