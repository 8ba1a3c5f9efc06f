"""Placing lowered layers on the chip: rounds, replication, segments, PEs and tiles.

* A **copy** of a weight layer occupies whole PEs (``ceil(arrays / pe.arrays)``), allocated
  in layer order; its *home tile* is the tile of its first PE, where its inputs are buffered
  and its digital post-processing runs.
* **Rounds.** When the weight layers do not all fit, consecutive layers are grouped into
  rounds that do; the chip is reprogrammed before each round. A layer larger than the whole
  chip is split by output channels (or groups) into parts, each in its own round; if one
  output channel alone is larger than the chip there is no legal mapping (MappingError).
* **Steps and segments.** A layer's output is computed in *steps* of one row segment: each
  output row is cut into ``segments`` pieces of about ``F / segments`` output pixels (one
  input vector each), at most ``mapping.segment_bytes`` of output each. A row is shared by
  ``groups`` copies (the copies that share a tile, or more when copies outnumber rows), each
  taking a run of its segments; rows are dealt to consecutive groups of copies in turn, image
  after image, so a copy serves an interleaved share of the layer's vectors and the copies on a
  tile read one common input window.
* **Replication.** ``stage_cost(lowered)`` gives the cycles one copy spends per vector (the
  caller's timing model; the mapper imports none). ``pipeline`` (ISAAC): while PEs are left in
  a round, the stage with the largest ``vectors per image / copies x cost`` gets more copies,
  up to one copy per vector; it stops when that stage cannot grow. ``layer``: layers run one
  at a time, so every spare PE goes where it shortens the sum of the layers' times most per PE,
  up to one copy per vector.
"""

from __future__ import annotations

import dataclasses
import heapq
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from ..config.arch import SCHEDULES, Arch
from ..errors import MappingError
from ..workload.network import Layer, Network
from .lowering import LoweredLayer, layer_bits, longest, lower, matrix_shape, on_crossbars, product_unit

__all__ = ["SCHEDULES", "CopyPlacement", "PartMapping", "LayerMapping", "Mapping", "map_network", "segment_bounds",
           "for_phase"]

StageCost = Callable[[LoweredLayer], float]


@dataclass(frozen=True)
class CopyPlacement:
    """Where one copy of a weight layer (part) sits."""

    copy: int
    first_pe: int
    """Index of its first PE on the chip."""
    pes: int
    """PEs it occupies."""
    tiles: Tuple[int, ...]
    """Tiles it spans, home tile first."""

    @property
    def home_tile(self) -> int:
        return self.tiles[0]


@dataclass(frozen=True)
class PartMapping:
    """One part of a weight layer on the chip (the whole layer unless it had to be split)."""

    lowered: LoweredLayer
    round: int
    """Programming round of this part."""
    placements: Tuple[CopyPlacement, ...]
    """Its copies."""

    @property
    def copies(self) -> int:
        return len(self.placements)

    @property
    def pes(self) -> int:
        return sum(p.pes for p in self.placements)

    @property
    def arrays(self) -> int:
        return self.lowered.arrays * self.copies

    @property
    def home_tile(self) -> int:
        return self.placements[0].home_tile


@dataclass(frozen=True)
class LayerMapping:
    """One layer on the chip."""

    layer: Layer
    round: int
    """Round in which its output is complete (its last part's round)."""
    parts: Tuple[PartMapping, ...] = ()
    """Crossbar parts with their copies (weight layers only)."""
    home_tile: int = 0
    """Tile where its first part's first copy sits (weight layers), or where its first input is
    produced (pool, add)."""
    segments: int = 1
    """Steps per output row (row segments)."""
    groups: int = 1
    """Copies sharing one output row (each takes a run of consecutive segments)."""

    @property
    def lowered(self) -> Optional[LoweredLayer]:
        """The lowered matrices of the first part (None for layers without weights)."""
        return self.parts[0].lowered if self.parts else None

    @property
    def copies(self) -> int:
        """Copies of the first part (1 for layers without weights)."""
        return self.parts[0].copies if self.parts else 1

    @property
    def pes(self) -> int:
        """PEs occupied by all parts and copies."""
        return sum(p.pes for p in self.parts)

    @property
    def arrays(self) -> int:
        """Arrays occupied by all parts and copies."""
        return sum(p.arrays for p in self.parts)

    @property
    def cells_used(self) -> int:
        """Cells holding weights, all parts and copies."""
        return sum(p.lowered.cells_used * p.copies for p in self.parts)

    @property
    def cells_available(self) -> int:
        """Cells of the arrays occupied, all parts and copies."""
        return sum(p.lowered.cells_available * p.copies for p in self.parts)

    @property
    def utilization(self) -> float:
        """Used cells / cells of the arrays the layer occupies (0 for layers without weights)."""
        return self.cells_used / self.cells_available if self.parts else 0.0

    @property
    def vectors(self) -> int:
        """Input vectors per image (0 for layers without weights)."""
        return self.layer.vectors if self.parts else 0

    @property
    def steps_per_image(self) -> int:
        """Steps per image: rows x segments."""
        return self.layer.E * self.segments


@dataclass(frozen=True)
class Mapping:
    """A network placed on an architecture under a schedule."""

    arch: Arch
    network: Network
    schedule: str
    layers: Tuple[LayerMapping, ...]
    rounds: int
    notes: Tuple[str, ...] = field(default=())

    @property
    def reprograms(self) -> bool:
        """True when the network is time-multiplexed (weights written during the run)."""
        return self.rounds > 1

    def parts(self) -> List[Tuple[LayerMapping, PartMapping]]:
        """Every (layer, part) with weights, in order."""
        return [(m, p) for m in self.layers for p in m.parts]

    def pes_used(self, round_index: int) -> int:
        """PEs occupied in a round."""
        return sum(p.pes for _, p in self.parts() if p.round == round_index)

    @property
    def arrays_used(self) -> int:
        """Arrays occupied, summed over rounds."""
        return sum(m.arrays for m in self.layers)

    @property
    def utilization(self) -> float:
        """Used cells / cells of all occupied arrays (over all rounds)."""
        available = sum(m.cells_available for m in self.layers)
        return sum(m.cells_used for m in self.layers) / available if available else 0.0


def segment_bounds(width: int, segments: int) -> List[Tuple[int, int]]:
    """Output columns [start, stop) of each segment of a row of ``width`` (as even as possible)."""
    return [(width * s // segments, width * (s + 1) // segments) for s in range(segments)]


def _split(arch: Arch, layer: Layer) -> Tuple[LoweredLayer, ...]:
    """The layer lowered whole if one copy fits on the chip, else in the fewest parts that fit."""
    capacity = arch.pes
    whole = lower(layer, arch.crossbar)
    need = -(-whole[0].arrays // arch.pe.arrays)
    if need <= capacity:
        return whole
    parts = -(-need // capacity)
    if layer.type == "matmul" and matrix_shape(layer)[0] == 1:
        # a product's operand b grows with the sequence: split by heads, each part keeps its heads
        # as keys arrive; a split of one head's keys or columns over parts is not modelled
        raise MappingError(
            f"layer {layer.name!r}: its operand b needs {need} PEs but the chip has {capacity}, and a product "
            f"of two activations in crossbars is split across the chip only by heads (it has one); run it on "
            f"the digital matrix unit (the arch's products section), or use a larger chip or larger arrays")
    while True:
        pieces = lower(layer, arch.crossbar, parts)
        largest = max(-(-p.arrays // arch.pe.arrays) for p in pieces)
        if largest <= capacity:
            return pieces
        if len(pieces) < parts:  # one channel (or group) per part already: cannot split further
            raise MappingError(
                f"layer {layer.name!r}: even one output channel needs {largest} PEs but the chip has {capacity}: "
                f"{largest - capacity} missing, no legal mapping; use a larger chip, larger arrays or fewer weight bits")
        parts += 1


def _rounds(arch: Arch, network: Network, lowered: Dict[int, Tuple[LoweredLayer, ...]]) -> Dict[Tuple[int, int], int]:
    """Round of every (layer, part): greedy packing in order; a new round when the chip is full."""
    capacity = arch.pes
    rounds: Dict[Tuple[int, int], int] = {}
    current, used = 0, 0
    for layer in network.layers:
        for low in lowered.get(layer.index, ()):
            need = -(-low.arrays // arch.pe.arrays)
            if used + need > capacity:
                current, used = current + 1, 0
            used += need
            rounds[(layer.index, low.part)] = current
    return rounds


def _replicate(arch: Arch, units: List[LoweredLayer], rounds: Dict[Tuple[int, int], int],
               copies: Dict[Tuple[int, int], int], schedule: str, stage_cost: StageCost) -> None:
    """Give spare PEs of each round to copies, as the schedule wants (module notes)."""
    key = {id(u): (u.layer.index, u.part) for u in units}
    pes = {key[id(u)]: -(-u.arrays // arch.pe.arrays) for u in units}
    work = {key[id(u)]: u.layer.vectors * float(stage_cost(u)) for u in units}  # copy-cycles per image
    # a product's operand is written into every copy for every input: copies would multiply its
    # writes, which the stage cost does not see, so products on crossbars get one copy
    limit = {key[id(u)]: 1 if u.layer.type == "matmul" else u.layer.vectors for u in units}
    for r in sorted(set(rounds.values())):
        members = [k for k in rounds if rounds[k] == r]
        spare = arch.pes - sum(pes[k] * copies[k] for k in members)
        if schedule == "pipeline":
            heap = [(-work[k] / copies[k], k) for k in members]
            heapq.heapify(heap)
            while heap:
                _, k = heap[0]
                if copies[k] >= limit[k] or pes[k] > spare:
                    break  # the slowest stage cannot grow: more copies elsewhere cannot raise throughput
                copies[k] += 1
                spare -= pes[k]
                heapq.heapreplace(heap, (-work[k] / copies[k], k))
        else:
            def gain(k):  # time saved per PE by one more copy
                return work[k] * (1 / copies[k] - 1 / (copies[k] + 1)) / pes[k]
            heap = [(-gain(k), k) for k in members if copies[k] < limit[k]]
            heapq.heapify(heap)
            while heap:
                _, k = heapq.heappop(heap)
                if pes[k] > spare or copies[k] >= limit[k]:
                    continue
                copies[k] += 1
                spare -= pes[k]
                if copies[k] < limit[k]:
                    heapq.heappush(heap, (-gain(k), k))


#: Layers (and activations) that run on the tile's digital vector unit.
VECTOR_LAYERS = ("softmax", "layernorm", "rmsnorm", "gelu", "silu", "mul")
VECTOR_ACTIVATIONS = ("gelu", "silu", "tanh")


def _check_units(arch: Arch, network: Network) -> None:
    for layer in network.layers:
        vector = layer.type in VECTOR_LAYERS or layer.activation in VECTOR_ACTIVATIONS
        if vector and arch.tile.vector_unit.lanes == 0:
            what = layer.type if layer.type in VECTOR_LAYERS else f"{layer.activation} activation"
            raise MappingError(f"layer {layer.name!r} needs a vector unit for its {what} but tiles have none "
                               "(tile.vector_unit.lanes: 0)")
        digital = layer.type == "matmul" and product_unit(arch, layer) == "digital"
        if digital and arch.tile.matrix_unit.macs_per_cycle == 0:
            field = "products.qk" if layer.transpose_b else "products.av"
            raise MappingError(f"layer {layer.name!r} multiplies two activations on the digital matrix unit ({field}: "
                               "digital) but tiles have none (tile.matrix_unit.macs_per_cycle: 0); give tiles one or "
                               f"set {field}: crossbar")
        at_chip = arch.chip.activation == "chip" and on_crossbars(arch, layer)  # activated by the chip's units
        if layer.activation == "relu" and arch.tile.activation_units == 0 and not at_chip:
            raise MappingError(f"layer {layer.name!r} has a {layer.activation} activation but tiles have no "
                               "activation units (tile.activation_units: 0)")
        if layer.type == "pool" and arch.tile.pooling_units == 0:
            raise MappingError(f"layer {layer.name!r} pools but tiles have no pooling units (tile.pooling_units: 0)")
        if layer.bias and arch.tile.vector_unit.lanes == 0 and arch.tile.shift_add_units == 0:
            raise MappingError(f"layer {layer.name!r} adds a bias but tiles have neither a vector unit nor "
                               "shift-and-add units (tile.vector_unit.lanes, tile.shift_add_units: 0)")
        if layer.type == "add" and arch.tile.shift_add_units == 0:
            raise MappingError(f"layer {layer.name!r} adds feature maps but tiles have no shift-and-add units "
                               "(tile.shift_add_units: 0)")


def _segments(arch: Arch, layer: Layer) -> int:
    """Segments per output row by size: a segment of output holds at most
    ``mapping.segment_bytes`` (never more segments than F). A product's segment also reads at most
    that much of operand a (attention x V reads a row of heads x keys per token, writes d)."""
    inp, out = layer_bits(layer, arch)
    row_bytes = layer.F * layer.M * -(-out // 8)
    if layer.type == "matmul":
        row_bytes = max(row_bytes, layer.F * layer.C * -(-inp // 8))
    return max(1, min(layer.F, -(-row_bytes // max(1, int(arch.mapping.segment_bytes)))))


def _default_cost(low: LoweredLayer) -> float:
    """Without a timing model: every vector costs its input cycles (reads in lockstep)."""
    return float(low.crossbar.input_cycles)


def map_network(arch: Arch, network: Network, schedule: str = "layer",
                stage_cost: Optional[StageCost] = None) -> Mapping:
    """Lower, split, group into rounds, replicate and place every layer of ``network``.

    ``stage_cost(lowered)`` is the steady-state cycles per vector of one copy, used to balance
    replication (default: its input cycles).
    """
    if schedule not in SCHEDULES:
        raise MappingError(f"schedule: expected one of {', '.join(SCHEDULES)}, got {schedule!r}")
    _check_units(arch, network)
    cost = stage_cost or _default_cost
    decode = network.decode_steps
    lowered = {layer.index: _split(arch, longest(layer, decode)) for layer in network.layers
               if on_crossbars(arch, layer)}
    rounds = _rounds(arch, network, lowered)
    copies = {k: 1 for k in rounds}
    _replicate(arch, [u for parts in lowered.values() for u in parts], rounds, copies, schedule, cost)
    next_pe: Dict[int, int] = {}
    mappings: List[LayerMapping] = []
    homes: Dict[int, int] = {-1: 0}
    layer_round: Dict[int, int] = {-1: 0}
    for layer in network.layers:
        if layer.index in lowered:
            parts = []
            for low in lowered[layer.index]:
                r = rounds[(layer.index, low.part)]
                pes = -(-low.arrays // arch.pe.arrays)
                placements = []
                for c in range(copies[(layer.index, low.part)]):
                    first = next_pe.get(r, 0)
                    next_pe[r] = first + pes
                    tiles = tuple(range(first // arch.tile.pes, (first + pes - 1) // arch.tile.pes + 1))
                    placements.append(CopyPlacement(copy=c, first_pe=first, pes=pes, tiles=tiles))
                parts.append(PartMapping(lowered=low, round=r, placements=tuple(placements)))
            mapping = _weight_mapping(arch, layer, parts)
        else:
            r = max(layer_round[i] for i in layer.inputs)
            mapping = LayerMapping(layer=layer, round=r, home_tile=homes[layer.inputs[0]],
                                   segments=_segments(arch, layer))
        mappings.append(mapping)
        homes[layer.index] = mapping.home_tile
        layer_round[layer.index] = mapping.round
    total_rounds = max(m.round for m in mappings) + 1
    notes = []
    if total_rounds > 1:
        notes.append(f"the weights need {total_rounds} programming rounds: the chip is reprogrammed "
                     f"{total_rounds} times per batch")
    if any(len(m.parts) > 1 for m in mappings):
        notes.append("split by output channels to fit the chip: " + ", ".join(
            f"{m.layer.name} ({len(m.parts)} parts)" for m in mappings if len(m.parts) > 1))
    mapping = Mapping(arch=arch, network=network, schedule=schedule, layers=tuple(mappings), rounds=total_rounds,
                      notes=tuple(notes))
    return for_phase(mapping, network) if decode else mapping


def _weight_mapping(arch: Arch, layer: Layer, parts) -> LayerMapping:
    """A crossbar layer's mapping from its parts: segments and the copies sharing a row."""
    most = max(p.copies for p in parts)
    pes = max(p.placements[0].pes for p in parts)
    share = max(1, arch.tile.pes // pes)  # copies sharing a tile
    groups = min(layer.F, max(-(-most // layer.E), min(share, most)))
    return LayerMapping(layer=layer, round=parts[-1].round, parts=tuple(parts), home_tile=parts[0].home_tile,
                        segments=max(groups, _segments(arch, layer)), groups=groups)


def for_phase(mapping: Mapping, network: Network) -> Mapping:
    """The mapping of ``network`` (a phase of the mapped network: its prefill or a decode step)
    with the placements of ``mapping``: weights stay where they were programmed; a product on
    crossbars is lowered at its current length within the arrays sized for its longest; steps
    and segments follow the phase's shapes."""
    if network.spec != mapping.network.spec:
        raise ValueError("network: expected a phase of the mapped network")
    arch = mapping.arch
    layers = []
    for m, layer in zip(mapping.layers, network.layers):
        if not m.parts:
            layers.append(dataclasses.replace(m, layer=layer, segments=_segments(arch, layer)))
            continue
        parts = []
        for part in m.parts:
            if layer.type == "matmul":
                low = lower(layer, arch.crossbar, part.lowered.parts)[part.lowered.part]
                if -(-low.arrays // arch.pe.arrays) > part.placements[0].pes:  # pragma: no cover (sized for it)
                    raise MappingError(f"layer {layer.name!r}: its operand outgrew the arrays sized for it")
            else:
                low = dataclasses.replace(part.lowered, layer=layer)
            parts.append(dataclasses.replace(part, lowered=low))
        layers.append(_weight_mapping(arch, layer, parts))
    return dataclasses.replace(mapping, network=network, layers=tuple(layers))
