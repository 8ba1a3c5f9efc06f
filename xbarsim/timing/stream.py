"""The operation stream: every hardware operation of a run, as numpy columns.

A **step** is a small DAG of operations that runs once the steps it depends on have finished:
one row segment of one image through a layer copy (or a pooling/add unit), the load of one
input row into a tile buffer, the programming of one copy, or a barrier. An **operation**
holds resources (a copy's arrays, a tile-buffer port and its bus, the links of a route, DRAM) for a number
of cycles that its kind's formula gives (:mod:`xbarsim.hardware`); a transfer between tiles
holds every link of its route at once. Operations carry amounts (vectors, bytes, operations,
rows), never durations, so a stream can be re-timed. Inside a step an operation asks for its
resources once its predecessors have ended.

**Where data lives.** The network input and output are in DRAM. A layer's output goes, in
the ``pipeline`` schedule when all its readers run in the same round, straight into the tile
buffers of the tiles that read it (*pushed* there over the network); otherwise (``layer``
schedule, a later round, a split layer) to the global buffer if it fits beside the feature
maps still waiting for readers, else to DRAM, from where its readers *load* it row by row.
On a mesh, pushed outputs cross the links once per destination router: the router's first
destination tile relays them to its other tiles (a buffer read there and a transfer through
the router's ports), as a concentrated mesh's router delivers to its local tiles.

**Chip-level activation** (``chip.activation: chip``, NeuroSim's ``chipActivation``): a weight
layer's home tile does not activate; its partial sums, ``tile.psum_bits`` each, pass through its
buffer and over the bus to the chip-level activation units, and the outputs leave from there
(:meth:`_Builder._chip_activation`). Off (``tile``, the default), nothing of this is emitted.

**Regions and back-pressure.** Data arriving at a tile for a layer is held in that layer's
*input region* of the tile buffer, one region per (reading layer, source, tile), until every
step on that tile that needs it has finished. A write into a region first waits for space
(the stall is attributed to that region's buffer), and regions admit data in the order their
readers need it, so a reader's next unit can always get in. Each region must hold its
readers' working set: the units one step needs, plus the units its source must run ahead
for the step's other inputs to arrive (a residual connection's skew). A tile whose regions'
working sets exceed its buffer is a :class:`~xbarsim.errors.MappingError`. The buffer is
divided among its regions in proportion to their working sets (see :func:`region_capacities`).

**Order.** Steps are numbered in priority order (round, layer, part, image, row, segment;
loads just before the step that first needs them); a lower index wins a same-cycle tie. A
copy (or unit) starts a step only after its step before last has finished (double buffering).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..config.arch import Arch
from ..errors import MappingError
from ..hardware import REGISTRY
from ..hardware.network import Mesh
from ..mapping import activity as activity_module
from ..hardware.matrix import passes as mxu_passes
from ..mapping.lowering import layer_bits, on_crossbars
from ..mapping.placement import LayerMapping, Mapping, PartMapping, segment_bounds
from ..workload.network import Layer

__all__ = ["OpStream", "build_stream", "layer_bits", "region_capacities", "STEP_KINDS", "LOCATIONS",
           "PART_DTYPE", "ACTIVITY_DTYPE", "RESOURCE_DTYPE", "REGION_DTYPE", "COPY_DTYPE", "LAYER_DTYPE", "STORE_DTYPE"]

STEP_KINDS = ("compute", "load", "gather", "program", "barrier")
LOCATIONS = ("tile", "glb", "dram", "store")
"""Where a layer's output goes: pushed to its readers' tiles, the global buffer, DRAM, or (only
read as a product's operand b) the operand stores of its products."""

PART_DTYPE = np.dtype([
    ("layer", "<i4"), ("part", "<i4"), ("round", "<i4"), ("copies", "<i4"), ("input_cycles", "<i8"),
    ("active_columns", "<i8"), ("accumulate", "?"), ("arrays", "<i8"), ("rows_driven", "<i8"),
    ("out_channels", "<i8"), ("row_tiles", "<i8"), ("reduction_adds", "<i8"), ("in_bytes", "<i8"),
    ("psum_bytes", "<i8"), ("out_bytes", "<i8"), ("cells_used", "<i8"), ("cells_available", "<i8"),
    ("program_rows", "<i8"), ("weight_bytes", "<i8"), ("groups", "<i8"), ("in_features", "<i8")])
"""One row per layer part: what its operations' formulas need (recorded in traces)."""

ACTIVITY_DTYPE = np.dtype([("part", "<i4"), ("vector", "<i8"), ("vectors", "<i8")]
                          + [(name, "<i8") for name in activity_module.FIELDS])
"""One row per array MVM: its part, its first vector and count, and its activity."""

RESOURCE_DTYPE = np.dtype([("kind", "<i2"), ("tile", "<i4"), ("a", "<i4"), ("b", "<i4")])
"""One row per resource: its kind (registry index), its tile (-1: none), and kind-specific keys
(copy: layer, part*65536 + copy; link: from router, to router)."""

REGION_DTYPE = np.dtype([("tile", "<i4"), ("layer", "<i4"), ("source", "<i4"), ("min_bytes", "<i8"),
                         ("total_bytes", "<i8"), ("phase", "<i4")])
"""One row per tile-buffer region: (tile, reading layer, source layer or -1), its working set, the
bytes that ever pass through it, and its phase (regions of one tile and phase share its buffer)."""

COPY_DTYPE = np.dtype([("layer", "<i4"), ("part", "<i4"), ("copy", "<i4"), ("round", "<i4"), ("first_pe", "<i8"),
                       ("pes", "<i8"), ("first_tile", "<i4"), ("last_tile", "<i4"), ("resource", "<i4")])
"""The recorded placement: one row per copy."""

LAYER_DTYPE = np.dtype([("round", "<i4"), ("parts", "<i4"), ("copies", "<i4"), ("segments", "<i4"),
                        ("home_tile", "<i4"), ("location", "<i1")])
"""The recorded mapping: one row per layer (location indexes LOCATIONS)."""

STORE_DTYPE = np.dtype([("layer", "<i4"), ("source", "<i4"), ("level", "<i1"), ("tile", "<i4"), ("bytes", "<i8"),
                        ("unit", "<i1")])
"""One row per product of two activations: its operand b's store (the KV cache of a decoder): the
product, b's producer, the level (indexes LOCATIONS: tile, glb, dram), the tile (tile level, or
where a crossbar product's copies are), the bytes reserved, and where the product ran (0: the
digital matrix unit, 1: crossbar arrays)."""


def _nbytes(bits: int) -> int:
    return -(-bits // 8)


@dataclass(eq=False)
class OpStream:
    """Every step and operation of a run, as numpy columns (CSR for lists)."""

    batch: int
    layer_names: Tuple[str, ...]
    # steps
    step_layer: np.ndarray
    step_image: np.ndarray
    step_row: np.ndarray
    step_segment: np.ndarray
    step_kind: np.ndarray
    step_tile: np.ndarray
    step_ops: np.ndarray
    """CSR: the operations of step s are ``step_ops[s]:step_ops[s+1]``."""
    dep_ptr: np.ndarray
    dep: np.ndarray
    """CSR: step s waits for steps ``dep[dep_ptr[s]:dep_ptr[s+1]]``."""
    rel_ptr: np.ndarray
    rel: np.ndarray
    """CSR: when step s ends, it releases its use of the region data written by operations ``rel[...]``."""
    # operations
    op_kind: np.ndarray
    """Index into ``op_names``."""
    res_ptr: np.ndarray
    res: np.ndarray
    """CSR: operation o holds resources ``res[res_ptr[o]:res_ptr[o+1]]`` (all at once)."""
    op_amount: np.ndarray
    op_aux: np.ndarray
    """Kind-specific: the activity row of an mvm, the part of a program, routers entered by a network hop."""
    op_region: np.ndarray
    """Region an operation writes into (it waits for space first), or -1."""
    op_seq: np.ndarray
    """Order of that write among the region's writes."""
    op_uses: np.ndarray
    """Steps that must release it before its bytes leave the region."""
    pred_ptr: np.ndarray
    pred: np.ndarray
    """CSR: operation o asks for its resources once ``pred[pred_ptr[o]:pred_ptr[o+1]]`` have ended."""
    # tables
    op_names: Tuple[str, ...]
    resource_names: Tuple[str, ...]
    """Resource kinds, indexed by ``resources["kind"]``."""
    resources: np.ndarray
    regions: np.ndarray
    parts: np.ndarray
    activity: np.ndarray
    copies: np.ndarray
    layers: np.ndarray
    notes: Tuple[str, ...] = ()
    data_aware: bool = False
    stores: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=STORE_DTYPE))
    """Operand stores of the products of two activations (STORE_DTYPE), empty without products."""

    def __eq__(self, other) -> bool:
        if not isinstance(other, OpStream):
            return NotImplemented
        for name, value in vars(self).items():
            theirs = getattr(other, name)
            same = np.array_equal(value, theirs) if isinstance(value, np.ndarray) else value == theirs
            if not same:
                return False
        return True

    __hash__ = None

    # -- sizes ---------------------------------------------------------------------------------

    @property
    def steps(self) -> int:
        return len(self.step_layer)

    @property
    def operations(self) -> int:
        return len(self.op_kind)

    @property
    def op_step(self) -> np.ndarray:
        """Step of every operation."""
        return np.repeat(np.arange(self.steps, dtype=np.int64), np.diff(self.step_ops))

    @property
    def op_resource(self) -> np.ndarray:
        """The first resource of every operation (its only one, except for transfers)."""
        return self.res[self.res_ptr[:-1]]

    @property
    def op_layer(self) -> np.ndarray:
        """Layer index of every operation (-1: none)."""
        return self.step_layer[self.op_step]

    def kind_mask(self, name: str) -> np.ndarray:
        return self.op_kind == self.op_names.index(name)

    @property
    def nbytes(self) -> int:
        """Memory held by the stream's arrays."""
        return sum(v.nbytes for v in vars(self).values() if isinstance(v, np.ndarray))

    # -- names -----------------------------------------------------------------------------------

    def resource_name(self, index: int) -> str:
        """Readable name: ``copy:conv1.0.3``, ``tile_buffer:5``, ``link:3>4``, ``dram``."""
        kind, tile, a, b = self.resources[index].tolist()
        name = self.resource_names[kind]
        if name == "copy":
            return f"copy:{self.layer_names[a]}.{b >> 16}.{b & 0xFFFF}"
        if name == "link":
            return f"link:{a}>{b}"
        return f"{name}:{tile}" if tile >= 0 else name

    def region_name(self, index: int) -> str:
        tile, layer, source = self.regions[index][["tile", "layer", "source"]].tolist()
        src = "input" if source < 0 else self.layer_names[source]
        return f"tile_buffer:{tile}[{self.layer_names[layer]} <- {src}]"

    def step_label(self, s: int) -> str:
        """A readable label (``conv1 image 0 row 5 segment 1``, ``load input row 3 for conv1 on tile 2``)."""
        kind = STEP_KINDS[int(self.step_kind[s])]
        layer = int(self.step_layer[s])
        name = self.layer_names[layer] if layer >= 0 else ""
        image, row, seg, tile = (int(self.step_image[s]), int(self.step_row[s]), int(self.step_segment[s]),
                                 int(self.step_tile[s]))
        if kind == "compute":
            return f"{name} image {image} row {row} segment {seg} on tile {tile}"
        if kind == "load":
            return f"load row {row} segment {seg} for {name} image {image} on tile {tile}"
        if kind == "gather":
            return f"gather row {row} segment {seg} into {name} image {image} on tile {tile}"
        if kind == "program":
            return f"program {name} part {row} copy {seg}"
        return f"{name} done" if layer >= 0 else ("round done" if row >= 0 else "barrier")


def _column(values: array, dtype) -> np.ndarray:
    """A numpy column from an int64 ``array.array`` (no copy when the dtype is int64)."""
    out = np.frombuffer(values, dtype=np.int64) if len(values) else np.zeros(0, dtype=np.int64)
    return out if np.dtype(dtype) == np.int64 else out.astype(dtype)


_NONE, _ZERO = array("i", [-1]), array("i", [0])


def _column32(values: array) -> np.ndarray:
    """A numpy int32 column from an ``array.array('i')``, without a copy."""
    return np.frombuffer(values, dtype=np.int32) if len(values) else np.zeros(0, dtype=np.int32)


def _flatten(units: List[List[int]]):
    """(all unit indices, the step each belongs to, where each step's start) of per-step unit lists."""
    counts = np.array([len(u) for u in units], dtype=np.int64)
    flat = np.concatenate([np.asarray(u, dtype=np.int64) for u in units])
    return flat, np.repeat(np.arange(len(units)), counts), np.concatenate([[0], np.cumsum(counts)[:-1]])


def _merge(a: Dict[int, np.ndarray], b: Dict[int, np.ndarray]) -> Dict[int, np.ndarray]:
    """Elementwise maximum of two {ancestor: per-step last unit needed} maps."""
    out = dict(a)
    for key, value in b.items():
        out[key] = np.maximum(out[key], value) if key in out else value
    return out


#: Layers whose output at a position needs their inputs at that position only.
_POSITIONWISE = ("add", "mul", "matmul", "softmax", "layernorm", "rmsnorm", "gelu", "silu", "embedding")


def _reads(layer: Layer, k: int) -> bool:
    """Whether ``layer`` reads the data of its k-th input through a tile-buffer region: not a
    product's operand b (kept in its store) nor what position and segment embeddings look up
    (only the input's length)."""
    if layer.type == "matmul":
        return k == 0
    if layer.type == "embedding":
        return layer.lookup == "token"
    return True


def _token_units(layer: Layer, f0: int, f1: int, width: int, bounds) -> List[int]:
    """Units (row x segments + segment) of a tokens layer's input that its output tokens [f0, f1)
    come from: token t is element ``t + start - extra_tokens`` of the input read row by row
    (``start``: the first kept token); prepended tokens come from no unit."""
    start = layer.H * layer.W + layer.extra_tokens - layer.F if layer.keep_from == "last" else 0
    p0 = max(0, f0 + start - layer.extra_tokens)
    p1 = f1 + start - layer.extra_tokens
    out: List[int] = []
    for r in range(p0 // width, -(-p1 // width) if p1 > p0 else p0 // width):
        c0, c1 = max(p0 - r * width, 0), min(p1 - r * width, width) - 1
        out += [r * len(bounds) + s for s, (a, b) in enumerate(bounds) if a <= c1 and b - 1 >= c0]
    return out


def _operand_write(low, layer: Layer, tokens: int) -> Tuple[int, int]:
    """(rows written per array, cells written) when ``tokens`` new keys of a crossbar product's
    operand are written into one copy: K^T (Q K^T) gains columns, so each of its rows is written
    (``program_rows``); V (attention x V) gains ``tokens`` rows per head block."""
    cells = low.groups * tokens * (layer.contraction if layer.transpose_b else layer.head_columns) * \
        low.cells_per_weight
    if layer.transpose_b:
        return low.program_rows, cells
    return min(low.crossbar.rows, tokens * max(1, low.groups_per_array)), cells


def copy_of(m: LayerMapping, copies: int, batch: int) -> np.ndarray:
    """Copy serving each step, (batch, rows x segments): each row is cut into ``m.groups`` runs of
    consecutive segments, dealt to consecutive copies; rows are dealt in turn, image after image.
    The copies of a row (and of neighbouring rows) thus sit on the same or neighbouring tiles.

    Each time the dealing has gone round all the copies, the runs of a row go to the same copies
    as they would, but rotated by one among them, so that every copy takes every run position in
    turn: segments (and runs) differ in length when they do not divide evenly, and without the
    rotation a copy keeps the same position whenever the runs per row divide the copies
    (ResNet-18's layer2.0 downsample: 28 pixels in 11 segments of 2 or 3 over 11 copies, some
    copies doing 3/2 of the others' work, bound the whole pipeline). A row's copies, and hence
    where its steps run, are unchanged."""
    E, S = m.layer.E, m.segments
    groups = max(1, min(S, m.groups, copies))
    rows = np.arange(batch)[:, None] * E + np.arange(E)[None, :]                 # (batch, E)
    group = (np.arange(S) * groups) // S                                         # (S,)
    turn = (rows * groups) // copies                                             # (batch, E): rounds dealt
    index = (rows * groups)[:, :, None] + (group[None, None, :] + turn[:, :, None]) % groups
    return (index % copies).reshape(batch, E * S)


# -- region capacities -----------------------------------------------------------------------


def region_capacities(stream: OpStream, arch: Arch) -> np.ndarray:
    """Bytes each region may hold: the tile buffer split among the regions on its tile.

    Each region gets its working set plus a share of the rest of the buffer in proportion to
    its working set, but never more than all the bytes that ever pass through it (water-filling
    the surplus). Raises MappingError when a tile's working sets exceed its buffer.
    """
    regions = stream.regions
    capacity = np.zeros(len(regions), dtype=np.int64)
    if not len(regions):
        return capacity
    size = int(arch.tile.buffer.size)
    groups = np.unique(regions[["tile", "phase"]])
    for tile, phase in groups.tolist():
        members = np.flatnonzero((regions["tile"] == tile) & (regions["phase"] == phase))
        need = regions["min_bytes"][members].astype(np.int64)
        top = np.maximum(regions["total_bytes"][members].astype(np.int64), need)
        if need.sum() > size:
            worst = members[np.argsort(-need)][:3]
            detail = ", ".join(f"{stream.region_name(r)} needs {int(regions['min_bytes'][r]):,} B" for r in worst)
            raise MappingError(
                f"the tile buffer of tile {int(tile)} (tile.buffer.size: {size:,} B) cannot hold the working sets of "
                f"the layers that read from it ({int(need.sum()):,} B): {detail}; enlarge tile.buffer.size or use a "
                "mapping with fewer layers per tile")
        cap = need.copy()
        free = size - int(need.sum())
        open_ = cap < top
        while free > 0 and open_.any():
            weights = need[open_].astype(np.float64) + 1e-12
            grant = np.floor(free * weights / weights.sum()).astype(np.int64)
            if not grant.any():
                grant[np.argmax(weights)] = free
            room = top[open_] - cap[open_]
            grant = np.minimum(grant, room)
            cap[open_] += grant
            free -= int(grant.sum())
            open_ = cap < top
            if not grant.any():
                break
        capacity[members] = cap
    return capacity


# -- the builder ------------------------------------------------------------------------------


@dataclass
class _Source:
    """How a layer reads one of its inputs (source -1: the network input)."""

    source: int
    where: str          # "tile" (pushed by the producer in this round) or "glb" / "dram"
    units: List[List[int]]  # per step of the reader: unit indices of the source it needs
    unit_bytes: np.ndarray  # bytes of every unit of the source (per image)
    unit_elements: np.ndarray
    unit_row: np.ndarray
    unit_segment: np.ndarray


class _Builder:
    def __init__(self, mapping: Mapping, batch: int, activity_data: Optional[Dict] = None, zero_skip: bool = False,
                 stores: Optional[Dict[int, Tuple[str, int]]] = None):
        self.mapping = mapping
        self.arch = arch = mapping.arch
        self.network = mapping.network
        self.layers = self.network.layers
        self.lm = {m.layer.index: m for m in mapping.layers}
        self.batch = batch
        self.mesh = Mesh(arch)
        self.activity_data = activity_data or {}
        self.zero_skip = zero_skip
        self.kind = {name: i for i, name in enumerate(REGISTRY.op_names)}
        self.rkind = {name: i for i, name in enumerate(REGISTRY.resource_names)}
        # step and operation columns: int64 arrays (8 bytes an entry), viewed by numpy at the end
        self.s_layer, self.s_image, self.s_row, self.s_seg, self.s_kind, self.s_tile = (array("q") for _ in range(6))
        self.s_ops = array("q", [0])
        self.dep_ptr, self.deps = array("q", [0]), array("q")
        self.rel_ptr, self.rels = array("q", [0]), array("q")
        self.o_kind, self.o_res, self.o_amount, self.o_aux = array("q"), array("q"), array("q"), array("q")
        # per operation: the region it writes (-1: none), its place in the region's order, its users
        # (dense int32 columns: 12 bytes an operation, where dicts of the region writes took ~100 each)
        self.o_region, self.o_seq, self.o_uses = array("i"), array("i"), array("i")
        self.routes: Dict[Tuple[int, int], tuple] = {}
        self.templates: Dict[tuple, tuple] = {}
        self.res_ptr = array("q", [0])
        self.pred_ptr, self.preds = array("q", [0]), array("q")
        # tables
        self.res_index: Dict[tuple, int] = {}
        self.res_rows: List[tuple] = []
        self.region_index: Dict[tuple, int] = {}
        self.region_rows: List[list] = []
        self.region_next: List[int] = []
        self.act_rows: List[tuple] = []
        self.parts_rows: List[tuple] = []
        self.part_of: Dict[Tuple[int, int], int] = {}
        self.copy_rows: List[tuple] = []
        # bookkeeping
        self.round = 0
        self.round_barrier: Dict[int, int] = {}
        self.layer_barrier: Dict[int, int] = {}
        self.program_step: Dict[Tuple[int, int, int], int] = {}
        self.sequence: Dict[object, List[int]] = {}
        self.layer_steps: Dict[int, List[int]] = {}
        self.gate: Optional[int] = None  # layer schedule: the previous layer's barrier
        self.last_step: Dict[object, int] = {}
        self.products = {layer.index: layer for layer in self.layers if layer.type == "matmul"}
        self.sequence_model = any(layer.type in ("linear", "matmul", "embedding", "tokens") for layer in self.layers)
        self.b_readers: Dict[int, List[int]] = {}  # b's producer -> the products reading it as operand b
        for index, layer in self.products.items():
            self.b_readers.setdefault(layer.inputs[1], []).append(index)
        self.data_readers = {i: [] for i in range(-1, len(self.layers))}  # readers of data through regions
        for layer in self.layers:
            for k, source in enumerate(layer.inputs):
                if _reads(layer, k) and layer.index not in self.data_readers[source]:
                    self.data_readers[source].append(layer.index)
        self.glb_peak = 0
        self.location = self._locations()
        self.sources = {layer.index: [self._source(layer, s) for k, s in enumerate(layer.inputs) if _reads(layer, k)]
                        for layer in self.layers}
        self.units_per_image = {m.layer.index: m.layer.E * m.segments for m in mapping.layers}
        self.produced: Dict[Tuple[int, int, int], List[int]] = {}  # (layer, image, unit) -> steps (all parts)
        self.pushed: Dict[Tuple[int, int, int, int, int], int] = {}  # (reader, source, image, unit, tile) -> op
        self.loaded: Dict[Tuple[int, int, int, int], Tuple[int, int]] = {}  # (region, image, unit) -> (step, op)
        self.homes = self._homes()
        self._place_units()
        self.stores = self._stores(stores or {})
        self.loaded_keys: Dict[Tuple[int, int], int] = {}  # (product, image) -> keys already in its unit's buffer
        self.consumers = self._consumer_tiles()

    # -- tables ----------------------------------------------------------------------------------

    def resource(self, kind: str, tile: int = -1, a: int = -1, b: int = -1) -> int:
        key = (kind, tile, a, b)
        index = self.res_index.get(key)
        if index is None:
            index = self.res_index[key] = len(self.res_rows)
            self.res_rows.append((self.rkind[kind], tile, a, b))
        return index

    def copy_resource(self, layer: int, part: int, copy: int, tile: int) -> int:
        return self.resource("copy", tile, layer, (part << 16) | copy)

    def region(self, reader: int, source: int, tile: int) -> int:
        """The region of ``tile``'s buffer holding ``reader``'s data from ``source`` in this round.

        Regions that can be live at once share their tile's buffer: in the pipeline schedule all
        regions of a round, layer by layer only those of one layer (its *phase*)."""
        key = (reader, source, tile, self.round)
        index = self.region_index.get(key)
        if index is None:
            index = self.region_index[key] = len(self.region_rows)
            phase = self.round * (len(self.layers) + 1) + (reader + 1 if self.mapping.schedule == "layer" else 0)
            self.region_rows.append([tile, reader, source, 0, 0, phase])
            self.region_next.append(0)
        return index

    # -- where outputs live, who reads what --------------------------------------------------------

    def _locations(self) -> Dict[int, str]:
        mapping, arch = self.mapping, self.arch
        readers = self.data_readers
        location: Dict[int, str] = {}
        live: Dict[int, int] = {}
        for layer in self.layers:
            for source in [s for s in live if max(readers[s]) < layer.index]:
                del live[source]
            users = readers[layer.index]
            m = self.lm[layer.index]
            if not users:  # read only as a product's operand b (written to its store), or the network output
                location[layer.index] = "store" if layer.index in self.b_readers else "dram"
                continue
            same_round = all(self.lm[u].round == m.round for u in users)
            if mapping.schedule == "pipeline" and same_round and len(m.parts) <= 1:
                location[layer.index] = "tile"
                continue
            size = layer.output_elements * _nbytes(layer_bits(layer, arch)[1]) * self.batch
            if sum(live.values()) + size <= arch.global_buffer.size:
                live[layer.index] = size
                location[layer.index] = "glb"
                self.glb_peak = max(self.glb_peak, sum(live.values()))
            else:
                location[layer.index] = "dram"
        return location

    def _source_geometry(self, source: int):
        """(rows, width, segments, bytes per output column) of a source's output."""
        if source < 0:
            H, W, C = self.network.input_shape
            return H, W, 1, C * _nbytes(layer_bits(self.layers[0], self.arch)[0])
        producer = self.layers[source]
        return producer.E, producer.F, self.lm[source].segments, producer.M * _nbytes(layer_bits(producer, self.arch)[1])

    def _source(self, layer: Layer, source: int) -> _Source:
        rows, width, segs, col_bytes = self._source_geometry(source)
        bounds = segment_bounds(width, segs)
        unit_row = np.repeat(np.arange(rows), segs)
        unit_seg = np.tile(np.arange(segs), rows)
        unit_bytes = np.tile(np.array([(b - a) * col_bytes for a, b in bounds], dtype=np.int64), rows)
        channels = self.network.input_shape[2] if source < 0 else self.layers[source].M
        unit_elements = np.tile(np.array([(b - a) * channels for a, b in bounds], dtype=np.int64), rows)
        m = self.lm[layer.index]
        units = []
        for e in range(layer.E):
            for f0, f1 in segment_bounds(layer.F, m.segments):
                if layer.type == "fc":
                    r0, r1, c0, c1 = 0, rows - 1, 0, width - 1
                elif layer.type == "tokens":
                    units.append(_token_units(layer, f0, f1, width, bounds))
                    continue
                elif layer.type in _POSITIONWISE:
                    r0 = r1 = e
                    c0, c1 = f0, f1 - 1
                else:
                    first = e * layer.stride - layer.padding
                    r0, r1 = max(0, first), min(rows - 1, first + layer.R - 1)
                    left = f0 * layer.stride_w - layer.padding_w
                    c0, c1 = max(0, left), min(width - 1, (f1 - 1) * layer.stride_w - layer.padding_w + layer.S - 1)
                needed = [r * segs + s for r in range(r0, r1 + 1) for s, (a, b) in enumerate(bounds)
                          if a <= c1 and b - 1 >= c0]
                units.append(needed)
        where = "dram" if source < 0 else self.location[source]
        return _Source(source, where, units, unit_bytes, unit_elements, unit_row, unit_seg)

    def _homes(self) -> Dict[Tuple[int, int], np.ndarray]:
        """Home tile of every step: (layer, part) -> (batch, steps per image) array."""
        homes: Dict[Tuple[int, int], np.ndarray] = {}
        for layer in self.layers:
            m = self.lm[layer.index]
            spi = layer.E * m.segments
            if m.parts:
                for part in m.parts:
                    tiles = np.array([p.home_tile for p in part.placements], dtype=np.int64)
                    homes[(layer.index, part.lowered.part)] = tiles[copy_of(m, part.copies, self.batch)]
            else:  # pool / add: on the tile that produces its first needed input unit
                src = self.sources[layer.index][0] if self.sources[layer.index] else None
                if src is not None and src.source >= 0 and src.where == "tile":
                    first = np.array([u[0] for u in src.units], dtype=np.int64)
                    homes[(layer.index, 0)] = homes[(src.source, 0)][:, first]
                else:
                    homes[(layer.index, 0)] = np.full((self.batch, spi), m.home_tile, dtype=np.int64)
        return homes

    def _consumer_tiles(self) -> Dict[int, List[Tuple[int, List[List[set]]]]]:
        """For a tile-located layer: per reader, per image, per unit: the tiles its readers run on."""
        out: Dict[int, list] = {}
        for layer in self.layers:
            seen = set()
            for src in self.sources[layer.index]:
                if src.source < 0 or src.where != "tile" or src.source in seen:
                    continue  # a source read twice (x + x) is sent once and used twice
                seen.add(src.source)
                units = self.units_per_image[src.source]
                homes = self.homes[(layer.index, 0)]
                per_image = []
                for n in range(self.batch):
                    tiles: List[set] = [set() for _ in range(units)]
                    for i, needed in enumerate(src.units):
                        t = int(homes[n, i])
                        for j in needed:
                            tiles[j].add(t)
                    per_image.append([sorted(t) for t in tiles])
                out.setdefault(src.source, []).append((layer.index, per_image))
        return out

    # -- steps and operations ------------------------------------------------------------------

    def end_step(self, kind: str, layer: int, image: int, row: int, segment: int, tile: int, deps: Sequence[int],
                 releases: Sequence[int] = (), owner=None) -> int:
        """Close the step whose operations were just added; returns its index."""
        index = len(self.s_layer)
        deps = set(deps)
        if self.round > 0:
            deps.add(self.round_barrier[self.round - 1])
        if self.gate is not None and kind in ("compute", "load", "gather"):
            deps.add(self.gate)
        if owner is not None:
            seq = self.sequence.setdefault(owner, [])
            if len(seq) >= 2:
                deps.add(seq[-2])
            seq.append(index)
        self.s_layer.append(layer)
        self.s_image.append(image)
        self.s_row.append(row)
        self.s_seg.append(segment)
        self.s_kind.append(STEP_KINDS.index(kind))
        self.s_tile.append(tile)
        self.s_ops.append(len(self.o_kind))
        self.deps.extend(sorted(deps))
        self.dep_ptr.append(len(self.deps))
        self.rels.extend(releases)
        self.rel_ptr.append(len(self.rels))
        if layer >= 0:
            self.layer_steps.setdefault(layer, []).append(index)
        return index

    def op(self, kind: str, resources, amount: int, preds: Sequence[int] = (), aux: int = 0, region: int = -1) -> int:
        """Add an operation holding ``resources`` (one id or a list) after ``preds`` have ended."""
        index = len(self.o_kind)
        self.o_kind.append(self.kind[kind])
        if resources.__class__ is int:
            self.o_res.append(resources)
        else:
            self.o_res.extend(resources)
        self.res_ptr.append(len(self.o_res))
        self.o_amount.append(amount)
        self.o_aux.append(aux)
        self.o_uses.append(0)
        self.o_region.append(region)
        if region >= 0:
            self.o_seq.append(self.region_next[region])
            self.region_next[region] += 1
            self.region_rows[region][4] += amount
        else:
            self.o_seq.append(-1)
        if preds:
            self.preds.extend(preds)
        self.pred_ptr.append(len(self.preds))
        return index

    def transfer(self, src: int, dst: int, nbytes: int, after: Sequence[int], region: int = -1) -> int:
        """One operation moving ``nbytes`` from tile src to tile dst after ``after`` have ended,
        holding the bus, or the out-port, the links of the XY route and the in-port."""
        known = self.routes.get((src, dst))
        if known is None:
            if self.mesh.bus:
                known = ([self.resource("bus")], 1)
            else:
                links = self.mesh.route(src, dst)
                route = [self.resource("noc_out", src)] + [self.resource("link", -1, a, b) for a, b in links]
                known = (route + [self.resource("noc_in", dst)], len(links) + 1)
            self.routes[(src, dst)] = known
        return self.op("transfer", known[0], nbytes, after, aux=known[1], region=region)

    # -- the build -----------------------------------------------------------------------------

    def build(self) -> OpStream:
        mapping = self.mapping
        self._part_table()
        for r in range(mapping.rounds):
            self.round = r
            first = len(self.s_layer)
            if mapping.reprograms:
                for m in mapping.layers:
                    for part in m.parts:
                        if part.round == r and m.layer.type != "matmul":  # a product's operand: per input
                            self.program(m, part)
            for m in mapping.layers:
                for part in m.parts:
                    if part.round == r:
                        self.layer_rows(m, part)
                if not m.parts and m.round == r:
                    self.layer_rows(m, None)
                if mapping.schedule == "layer" and m.round == r:
                    self.gate = self.layer_barrier[m.layer.index] = self.end_step(
                        "barrier", m.layer.index, -1, -1, -1, -1, self.layer_steps.get(m.layer.index, []))
            self.round_barrier[r] = self.end_step("barrier", -1, -1, r, -1, -1, range(first, len(self.s_layer)))
            self.gate = None
        return self._finish()

    def _part_table(self) -> None:
        arch = self.arch
        psum = _nbytes(arch.pe.psum_bits)
        for m, part in self.mapping.parts():
            low = part.lowered
            inp, out = layer_bits(m.layer, arch)
            self.part_of[(m.layer.index, low.part)] = len(self.parts_rows)
            self.parts_rows.append((
                m.layer.index, low.part, part.round, part.copies, low.crossbar.input_cycles, low.active_columns,
                low.crossbar.adc_position == "after_accumulation", low.arrays, low.rows_driven, low.out_channels,
                low.row_tiles, low.reduction_adds_per_vector, _nbytes(low.crossbar.input_bits), psum, _nbytes(out),
                low.cells_used, low.cells_available, low.program_rows, low.weight_bytes, low.groups,
                low.tiling.in_features))
            for place in part.placements:
                res = self.copy_resource(m.layer.index, low.part, place.copy, place.home_tile)
                self.copy_rows.append((m.layer.index, low.part, place.copy, part.round, place.first_pe, place.pes,
                                       place.tiles[0], place.tiles[-1], res))

    def program(self, m: LayerMapping, part: PartMapping) -> None:
        """Fetch a part's weights from DRAM and write them into each of its copies."""
        low = part.lowered
        index = self.part_of[(m.layer.index, low.part)]
        for place in part.placements:
            res = self.copy_resource(m.layer.index, low.part, place.copy, place.home_tile)
            fetch = self.op("dram_read", self.resource("dram"), low.weight_bytes)
            self.op("program", res, low.program_rows, preds=(fetch,), aux=index)
            self.program_step[(m.layer.index, low.part, place.copy)] = self.end_step(
                "program", m.layer.index, -1, low.part, place.copy, place.home_tile, ())

    def _units_of(self, src: "_Source", image: int, needed: Sequence[int], region: int, layer: Layer,
                  tile: int) -> Tuple[List[int], List[int]]:
        """(steps to wait for, region writes to release) for units of a source that a step on ``tile``
        reads from ``region``; units in DRAM or the global buffer are loaded there first."""
        deps: List[int] = []
        releases: List[int] = []
        if src.where == "tile":
            for j in needed:
                deps += self.produced[(src.source, image, j)]
                releases.append(self.pushed[(layer.index, src.source, image, j, tile)])
        else:
            for j in needed:
                key = (region, image, j)
                if key not in self.loaded:
                    self.loaded[key] = self.load(layer, src, image, j, tile, region)
                step, op = self.loaded[key]
                deps.append(step)
                releases.append(op)
        for op in releases:
            self.o_uses[op] += 1
        return deps, releases

    def load(self, layer: Layer, src: "_Source", image: int, unit: int, tile: int, region: int) -> Tuple[int, int]:
        """A step reading one unit of a source from DRAM or the global buffer into a tile's region."""
        nbytes = int(src.unit_bytes[unit])
        if src.where == "glb":
            read = self.op("glb_read", self.resource("glb"), nbytes, region=region)
        else:
            read = self.op("dram_read", self.resource("dram"), nbytes, region=region)
        self.op("buffer_write", self.resource("tile_buffer", tile), nbytes, preds=(read,))
        if src.source < 0 or self.mapping.schedule == "layer":
            deps: List[int] = []  # the network input; or, layer by layer, behind the previous layer's barrier
        else:  # produced in this round (earlier rounds are behind the round barrier anyway)
            deps = self.produced.get((src.source, image, unit), [])
        step = self.end_step("load", layer.index, image, int(src.unit_row[unit]), int(src.unit_segment[unit]), tile,
                             deps)
        return step, read

    def _deliver(self, tile: int, loads: List[Tuple[int, int, int]], vectors: int, rows_scale: float,
                 in_b: int) -> List[int]:
        """Bring input vectors from ``tile``'s buffer to a copy's PEs: a feed (buffer read streamed
        over the tile bus) to its PEs on that tile; for its PEs on other tiles, a read, a network
        transfer and their tile's bus.

        ``loads``: (tile, rows, outputs) per tile of the copy; ``rows_scale``: the share of each
        tile's rows this delivery carries (1 for whole vectors). Returns the operations."""
        ops = []
        for t, rows, _ in loads:
            nbytes = max(1, round(vectors * rows * in_b * rows_scale))
            if t == tile:
                ops.append(self.op("feed", [self.resource("tile_buffer", t), self.resource("tile_bus", t)], nbytes))
            else:
                read = self.op("buffer_read", self.resource("tile_buffer", tile), nbytes)
                hop = self.transfer(tile, t, nbytes, (read,))
                ops.append(self.op("tile_bus", self.resource("tile_bus", t), nbytes, preds=(hop,)))
        return ops

    def layer_rows(self, m: LayerMapping, part: Optional[PartMapping]) -> None:
        layer, arch = m.layer, self.arch
        inp, out = layer_bits(layer, arch)
        in_b, out_b = _nbytes(inp), _nbytes(out)
        bounds = segment_bounds(layer.F, m.segments)
        spi = layer.E * m.segments
        homes = self.homes[(layer.index, part.lowered.part if part else 0)]
        readers = self.consumers.get(layer.index, ())
        psum = _nbytes(arch.pe.psum_bits)
        sources = self.sources[layer.index]
        gather = self._gathers(layer)
        product = layer.index in self.stores
        self._pushing = layer.index
        if part is not None:
            low = part.lowered
            part_index = self.part_of[(layer.index, low.part)]
            copies_of = copy_of(m, part.copies, self.batch)
            loads = [self._tile_loads(low, place) for place in part.placements]
            out_channels = low.out_channels
        else:
            out_channels = layer.M
        for image in range(self.batch):
            if product and part is not None:
                written = self._write_operand(m, part, image, np.unique(copies_of[image]).tolist())
            for i in range(spi):
                e, s = divmod(i, m.segments)
                f0, f1 = bounds[s]
                vectors = f1 - f0
                tile = int(homes[image, i])
                deps: List[int] = []
                releases: List[int] = []
                variant = None
                if part is not None:
                    c = int(copies_of[image, i])
                    place = part.placements[c]
                    owner = ("copy", layer.index, low.part, c)
                    if (layer.index, low.part, c) in self.program_step:
                        deps.append(self.program_step[(layer.index, low.part, c)])
                else:
                    owner = ("unit", layer.index, tile)
                if product:  # operand b: written into the copy's arrays, or loaded into the matrix unit
                    keys = self._keys_needed(layer, f0, f1)
                    if part is not None:
                        deps += [step for first, step in written[c] if first < keys]
                    else:
                        variant, more = self._operand_load(layer, image, keys, f0, f1)
                        deps += more
                        if owner in self.last_step and self.stores[layer.index]["stationary"]:
                            deps.append(self.last_step[owner])  # the unit's buffer is filled step after step
                elif layer.type == "tokens":
                    variant = max(0, min(f1, layer.extra_tokens) - f0) if layer.keep_from == "first" else 0
                if gather:
                    deps += self._gather(layer, m, part, sources, image, i, tile, owner,
                                         loads[c] if part is not None else None, in_b, deps)
                else:
                    for src in sources:
                        region = self.region(layer.index, src.source, tile)
                        d, r = self._units_of(src, image, src.units[i], region, layer, tile)
                        deps += d
                        releases += r
                if part is not None:
                    self.act_rows.append((part_index, image * layer.vectors + e * layer.F + f0, vectors))
                dests = tuple((reader, tuple(per_image[image][i])) for reader, per_image in readers)
                key = (layer.index, part_index if part is not None else -1, c if part is not None else -1, tile,
                       vectors, dests, gather, variant)
                template = self.templates.get(key)
                if template is None:
                    base = (len(self.o_kind), len(self.o_res), len(self.preds))
                    pushes = self._compute_ops(layer, m, part, c if part is not None else -1, tile, vectors, [],
                                               loads if part is not None else None, out_channels, psum, out_b,
                                               dests, gather, variant)
                    self.templates[key] = self._capture(base, pushes)
                else:
                    pushes = self._emit(template)
                for op, reader, dst in pushes:
                    self.pushed[(reader, layer.index, image, i, dst)] = op
                step = self.end_step("compute", layer.index, image, e, s, tile, deps, releases, owner=owner)
                self.produced.setdefault((layer.index, image, i), []).append(step)
                self.last_step[owner] = step

    # -- products of two activations ---------------------------------------------------------------

    def _keys_needed(self, layer: Layer, f0: int, f1: int) -> int:
        """Keys the queries [f0, f1) of a product need: all, or with causally masked products skipped
        up to the last query's position (query q of L sits at key ``keys - L + q``)."""
        if layer.causal and layer.skip_masked:
            return min(layer.keys, layer.keys - layer.vectors + f1)
        return layer.keys

    def _operand_units(self, layer: Layer, image: int, first: int, last: int) -> List[Tuple[int, int, int]]:
        """(unit, first key, end key) of the units of operand b this run produces that hold keys in
        [first, last) (the keys before ``offset`` were stored by earlier runs)."""
        store = self.stores[layer.index]
        b = store["source"]
        if b < 0:
            return []
        producer, offset = self.layers[b], store["offset"]
        out = []
        for j, (a, z) in enumerate(segment_bounds(producer.F, self.lm[b].segments)):
            if offset + a < last and offset + z > first:
                out.append((j, offset + a, offset + z))
        return out

    def _operand_load(self, layer: Layer, image: int, keys: int, f0: int, f1: int):
        """A digital product's step: (its variant: bytes of b loaded into the matrix unit's buffer, MAC
        slots, bytes streamed from that buffer; the producer steps it waits for)."""
        store, arch = self.stores[layer.index], self.arch
        before = self.loaded_keys.get((layer.index, image), 0) if store["stationary"] else 0
        self.loaded_keys[(layer.index, image)] = max(before, keys)
        load = max(0, keys - before) * store["row"]
        queries = np.arange(f0, f1)
        if layer.causal and layer.skip_masked:
            seen = int(np.minimum(layer.keys, layer.keys - layer.vectors + queries + 1).sum())
        else:
            seen = layer.keys * len(queries)
        macs = layer.heads * (layer.contraction * layer.head_columns // layer.keys) * seen
        weight_bits = layer.weight_bits if layer.weight_bits is not None else arch.crossbar.weight_bits
        slots = macs * mxu_passes(arch, layer_bits(layer, arch)[0], weight_bits)
        deps = [step for j, _, _ in self._operand_units(layer, image, before if store["stationary"] else 0, keys)
                for step in self.produced[(store["source"], image, j)]]
        return (load, slots, keys * store["row"]), deps

    def _store_read(self, store: dict, nbytes: int, tile: int, preds: Sequence[int] = ()) -> int:
        """Read ``nbytes`` of a product's operand from its store, delivered to ``tile``: the last op."""
        if store["level"] == "tile":
            read = self.op("buffer_read", self.resource("tile_buffer", store["tile"]), nbytes, preds=preds)
            if store["tile"] != tile:
                read = self.transfer(store["tile"], tile, nbytes, (read,))
            return read
        kind = "glb_read" if store["level"] == "glb" else "dram_read"
        return self.op(kind, self.resource("glb" if store["level"] == "glb" else "dram"), nbytes, preds=preds)

    def _store_write(self, store: dict, nbytes: int, tile: int, preds: Sequence[int]) -> None:
        """Write ``nbytes`` produced on ``tile`` into a product's store."""
        if store["level"] == "tile":
            if store["tile"] != tile:
                preds = (self.transfer(tile, store["tile"], nbytes, preds),)
            self.op("buffer_write", self.resource("tile_buffer", store["tile"]), nbytes, preds=preds)
        elif store["level"] == "glb":
            self.op("glb_write", self.resource("glb"), nbytes, preds=preds)
        else:
            self.op("dram_write", self.resource("dram"), nbytes, preds=preds)

    def _write_operand(self, m: LayerMapping, part: PartMapping, image: int, copies: List[int]):
        """Write the units of operand b this run produces for ``image`` into each copy of a crossbar
        product: per unit, a read from its store, a transfer to the copy's tile, and the write of its
        rows (``write_operand``), after the copy's previous image's steps. Returns, per copy, the
        (first key, step) of every write."""
        layer, low = m.layer, part.lowered
        store = self.stores[layer.index]
        out: Dict[int, List[Tuple[int, int]]] = {}
        for c in copies:
            place = part.placements[c]
            res = self.copy_resource(layer.index, low.part, c, place.home_tile)
            owner = ("copy", layer.index, low.part, c)
            seq = self.sequence.get(owner, [])
            out[c] = []
            for j, first, end in self._operand_units(layer, image, 0, layer.keys):
                tokens = end - first
                read = self._store_read(store, tokens * store["row"], place.home_tile)
                rows, cells = _operand_write(low, layer, tokens)
                self.op("write_operand", res, rows, preds=(read,), aux=cells)
                deps = list(self.produced.get((store["source"], image, j), ()))
                if not out[c]:
                    deps += seq[-2:]  # the previous operand's reads are over
                out[c].append((first, self.end_step("program", layer.index, image, low.part, c, place.home_tile,
                                                    deps, owner=owner)))
        return out

    def _compute_ops(self, layer, m, part, c, tile, vectors, data, loads, out_channels, psum, out_b, dests,
                     gather, variant=None) -> List[Tuple[int, int, int]]:
        """The operations of one compute step (after its inputs are in ``tile``'s regions): deliver the
        vectors and run the MVM (or the unit's work), add biases, activate, then send the outputs on
        (and into the stores of the products reading them as operand b). Returns the region writes
        it makes: (operation, reader, tile)."""
        arch = self.arch
        in_b = _nbytes(layer_bits(layer, arch)[0])
        ops = arch.tile.vector_unit.ops
        if part is not None:
            low = part.lowered
            if not gather:
                data = self._deliver(tile, loads[c], vectors, 1.0, in_b)
            copy_res = self.copy_resource(layer.index, low.part, c, part.placements[c].home_tile)
            mvm = self.op("mvm", copy_res, vectors, preds=data, aux=len(self.act_rows) - 1)
            # partial sums travel down the chain of the copy's tiles to its home, each tile adding
            # its own to what arrives (so no single port receives them all)
            last = [mvm]
            chain = [t for t, _, _ in loads[c]]
            for k in range(len(chain) - 1, 0, -1):
                outputs = sum(out for _, _, out in loads[c][k:])
                hop = self.transfer(chain[k], chain[k - 1], vectors * min(outputs, out_channels) * psum, last)
                last = [mvm, hop] if k > 1 else [hop]
        elif gather:  # the pooling was done as the units arrived
            last = []
        elif layer.type == "pool":
            elements = vectors * layer.C * layer.R * layer.S
            read = self.op("buffer_read", self.resource("tile_buffer", tile), elements * in_b)
            last = [self.op("pool", self.resource("pool", tile), elements, preds=(read,))]
        elif layer.type in ("add", "mul"):
            width = len(layer.inputs)
            read = self.op("buffer_read", self.resource("tile_buffer", tile), vectors * layer.C * width * in_b)
            if layer.type == "add":
                last = [self.op("eltwise", self.resource("tsa", tile), vectors * layer.C * (width - 1), preds=(read,))]
            else:
                last = [self.op("vec", self.resource("vec", tile), vectors * layer.C * (width - 1) * ops["mul"],
                                preds=(read,))]
        elif layer.type in ("softmax", "layernorm", "rmsnorm", "gelu", "silu"):
            read = self.op("buffer_read", self.resource("tile_buffer", tile), vectors * layer.C * in_b)
            last = [self.op("vec", self.resource("vec", tile), vectors * layer.C * ops[layer.type], preds=(read,))]
        elif layer.type == "matmul":  # on the tile's matrix unit, operand b loaded from its store as needed
            load, slots, streamed = variant
            store = self.stores[layer.index]
            preds = [self.op("buffer_read", self.resource("tile_buffer", tile), vectors * layer.C * in_b)]
            if load:
                fetched = self._store_read(store, load, tile)
                preds.append(self.op("mxu_load", self.resource("mxu_buffer", tile), load, preds=(fetched,)))
            last = [self.op("matmul", self.resource("mxu", tile), slots, preds=preds, aux=streamed)]
        elif layer.type == "embedding":  # rows of its table, in DRAM
            preds = ()
            if layer.lookup == "token":  # the token ids
                preds = (self.op("buffer_read", self.resource("tile_buffer", tile), vectors * layer.C * in_b),)
            last = [self.op("dram_read", self.resource("dram"), vectors * layer.M * out_b, preds=preds)]
        else:  # tokens: a re-indexing of its input; prepended tokens (parameters) come from DRAM
            extra = variant or 0
            last = []
            if vectors > extra:
                last.append(self.op("buffer_read", self.resource("tile_buffer", tile),
                                    (vectors - extra) * layer.C * in_b))
            if extra:
                last.append(self.op("dram_read", self.resource("dram"), extra * layer.C * out_b))
        if layer.bias:  # one addition per output: on the vector unit, or the shift-and-add units without one
            if arch.tile.vector_unit.lanes:
                last = [self.op("vec", self.resource("vec", tile), vectors * out_channels, preds=last)]
            else:
                last = [self.op("eltwise", self.resource("tsa", tile), vectors * out_channels, preds=last)]
        from_chip = part is not None and arch.chip.activation == "chip"
        if from_chip:
            last = self._chip_activation(layer, tile, vectors, out_channels, last)
        elif layer.activation == "relu":
            last = [self.op("act", self.resource("act", tile), vectors * out_channels, preds=last)]
        elif layer.activation != "none":
            last = [self.op("vec", self.resource("vec", tile), vectors * out_channels * ops[layer.activation],
                            preds=last)]
        nbytes = vectors * out_channels * out_b
        for product in self.b_readers.get(layer.index, ()):
            self._store_write(self.stores[product], nbytes, tile, last)
        where = self.location[layer.index]
        pushes = []
        if where == "tile":
            # a router's first destination tile relays the outputs to its other tiles: the data
            # cross the mesh links once per router, not once per tile (module notes)
            relays: Dict[Tuple[int, int], Tuple[int, int]] = {}  # router -> (relay tile, its buffer write)
            here = self.mesh.router(tile)
            for reader, tiles in dests:
                for dst in tiles:
                    region = self.region(reader, layer.index, dst)
                    if dst == tile and not from_chip:  # from the chip's units, outputs come back over the bus
                        first = self.op("buffer_write", self.resource("tile_buffer", tile), nbytes, preds=last,
                                        region=region)
                        pushes.append((first, reader, dst))
                        continue
                    router = self.mesh.router(dst)
                    relay = None if self.mesh.bus or router == here else relays.get(router)
                    if relay is None:
                        first = self.transfer(tile, dst, nbytes, last, region=region)
                    else:
                        read = self.op("buffer_read", self.resource("tile_buffer", relay[0]), nbytes,
                                       preds=(relay[1],))
                        first = self.transfer(relay[0], dst, nbytes, (read,), region=region)
                    written = self.op("buffer_write", self.resource("tile_buffer", dst), nbytes, preds=(first,))
                    if relay is None and not self.mesh.bus and router != here:
                        relays[router] = (dst, written)
                    pushes.append((first, reader, dst))
        elif where == "glb":
            self.op("glb_write", self.resource("glb"), nbytes, preds=last)
        elif where == "dram":
            self.op("dram_write", self.resource("dram"), nbytes, preds=last)
        return pushes

    def _chip_activation(self, layer: Layer, tile: int, vectors: int, out_channels: int, last: List[int]) -> List[int]:
        """``chip.activation: chip`` (NeuroSim V1.4's ``chipActivation``, Param.cpp): a weight layer's
        finished partial sums, ``tile.psum_bits`` each, stream through the home tile's buffer on its
        partial-sum port (``tile.psum_port_bits`` per clock; NeuroSim's tile output buffer, Tile.cpp
        ``TileCalculatePerformance``: ``numBitToLoadIn`` = outputs x (adder stages + adder bits) per
        vector), cross the bus (one transfer: on a bus the source tile does not matter) and are
        activated by the chip-level units (Chip.cpp ``GreLu``); the outputs are then sent on as with
        tile-level activation. With ``tile.psum_bus`` the partial sums first cross the home tile's
        bus from its PEs to the port (``psum_bus``; NeuroSim's tile H-tree, Tile.cpp). Returns the
        operations the outputs wait for."""
        if layer.activation not in ("relu", "none"):
            raise MappingError(f"layer {layer.name!r}: chip.activation: chip activates with ReLU units only "
                               f"(NeuroSim's GreLu), got activation {layer.activation!r}")
        nbytes = -(-vectors * out_channels * self.arch.tile.psum_bits // 8)
        if self.arch.tile.psum_bus:
            last = [self.op("psum_bus", self.resource("tile_bus", tile), nbytes, preds=last)]
        streamed = self.op("psum_out", self.resource("psum_port", tile), nbytes, preds=last)
        sent = self.transfer(tile, tile, nbytes, (streamed,))
        if layer.activation == "none":
            return [sent]
        return [self.op("chip_act", self.resource("chip_act"), vectors * out_channels, preds=(sent,))]

    def _capture(self, base: Tuple[int, int, int], pushes) -> tuple:
        """The operations added since ``base`` as a template, relative to where they start."""
        op0, res0, pred0 = base
        end = len(self.o_kind)
        kinds = self.o_kind[op0:end]
        mvm = self.kind["mvm"]
        return (kinds, self.o_amount[op0:end], self.o_aux[op0:end],
                next((k for k, kind in enumerate(kinds) if kind == mvm), -1),
                self.o_res[res0:], array("q", (r - res0 for r in self.res_ptr[op0 + 1:end + 1])),
                array("q", (p - op0 for p in self.preds[pred0:])),
                array("q", (p - pred0 for p in self.pred_ptr[op0 + 1:end + 1])),
                [(op - op0, reader, dst) for op, reader, dst in pushes])

    def _emit(self, template) -> List[Tuple[int, int, int]]:
        """Add a template's operations (a step like one built before); returns its region writes."""
        kinds, amounts, aux, mvm, res, res_ptr, preds, pred_ptr, pushes = template
        op0, res0, pred0 = len(self.o_kind), len(self.o_res), len(self.preds)
        self.o_kind.extend(kinds)
        self.o_amount.extend(amounts)
        self.o_aux.extend(aux)
        n = len(kinds)
        self.o_region.extend(_NONE * n)
        self.o_seq.extend(_NONE * n)
        self.o_uses.extend(_ZERO * n)
        if mvm >= 0:
            self.o_aux[op0 + mvm] = len(self.act_rows) - 1
        self.o_res.extend(res)
        self.res_ptr.extend([res0 + r for r in res_ptr])
        self.preds.extend([op0 + p for p in preds])
        self.pred_ptr.extend([pred0 + p for p in pred_ptr])
        out = []
        for rel, reader, dst in pushes:
            op = op0 + rel
            region = self.region(reader, self._pushing, dst)
            self.o_region[op] = region
            self.o_seq[op] = self.region_next[region]
            self.region_next[region] += 1
            self.region_rows[region][4] += self.o_amount[op]
            out.append((op, reader, dst))
        return out

    def _gathers(self, layer: Layer) -> bool:
        """Layers whose steps read their whole input (fc, global pooling) take it unit by unit, in
        *gather* steps, into the PEs' input registers or the pooling unit's accumulator, so that
        the tile buffer never has to hold the whole input at once."""
        if not (layer.type == "fc" or (layer.type == "pool" and layer.E == 1 and layer.F == 1)):
            return False
        return any(len(units) > 1 for src in self.sources[layer.index] for units in src.units)

    def _gather(self, layer, m, part, sources, image, i, tile, owner, loads, in_b, deps) -> List[int]:
        """Gather steps of step i of ``layer``: one per input unit, each reading the unit from the
        tile's region and delivering it (to the copy's PEs, or into the pooling unit), then releasing
        it. They wait for the owner's previous step (its registers must have been read). Returns
        the gather steps."""
        steps: List[int] = []
        previous = self.last_step.get(owner)
        for src in sources:
            region = self.region(layer.index, src.source, tile)
            total = float(src.unit_elements.sum())
            for j in src.units[i]:
                d, r = self._units_of(src, image, (j,), region, layer, tile)
                elements = int(src.unit_elements[j])
                if part is not None:
                    self._deliver(tile, loads, 1, elements / total, in_b)
                else:
                    read = self.op("buffer_read", self.resource("tile_buffer", tile), elements * in_b)
                    self.op("pool", self.resource("pool", tile), elements, preds=(read,))
                gate = [previous] if previous is not None else []
                steps.append(self.end_step("gather", layer.index, image, int(src.unit_row[j]),
                                           int(src.unit_segment[j]), tile, list(d) + gate + list(deps), r))
        return steps

    def _tile_loads(self, low, place) -> List[Tuple[int, int, int]]:
        """(tile, input rows, output values) per vector for each tile a copy spans, home first.

        Input rows are the distinct rows its arrays on that tile read (the tile's bus broadcasts
        them to its PEs); output values, the partial (or complete) sums they produce."""
        rows, outputs = low.array_loads()
        slices = low.array_row_groups()
        tiles = (place.first_pe + np.arange(len(rows)) // self.arch.pe.arrays) // self.arch.tile.pes
        out = []
        for t in dict.fromkeys(tiles.tolist()):
            mine = tiles == t
            _, first = np.unique(slices[mine], return_index=True)
            out.append((t, int(rows[mine][first].sum()), int(outputs[mine].sum())))
        return out

    # -- finishing ------------------------------------------------------------------------------

    def _frontiers(self) -> None:
        """For every reader and source: the span of source units each step of the reader may force
        the reader's tile to hold at once (``self.spans``), home-independent.

        A step needs its window ``[first, last]`` of the source's units; while it waits for its
        other inputs, the source may run further ahead (:meth:`_run_ahead`)."""
        frontier: Dict[int, Dict[int, np.ndarray]] = {}  # layer -> {ancestor: last unit needed, per step}
        via: Dict[Tuple[int, int], Dict[int, np.ndarray]] = {}  # (layer, source) -> the same, through it
        for layer in self.layers:
            reach: Dict[int, np.ndarray] = {}
            inputs = [(src.source, src.units) for src in self.sources[layer.index]
                      if src.source >= 0 and src.where == "tile"]
            inputs += self._operand_needs(layer)
            for source, units in inputs:
                flat, owner, starts = _flatten(units)
                path = {source: np.maximum.reduceat(flat, starts)}
                for ancestor, values in frontier[source].items():
                    path[ancestor] = np.maximum.reduceat(values[flat], starts)
                via[(layer.index, source)] = _merge(via.get((layer.index, source), {}), path)
                reach = _merge(reach, path)
            frontier[layer.index] = reach
        self.spans: Dict[Tuple[int, int], tuple] = {}
        for layer in self.layers:
            for src in self.sources[layer.index]:
                flat, owner, starts = _flatten(src.units)
                low = np.minimum.reduceat(flat, starts)
                high = np.maximum.reduceat(flat, starts)
                if src.where == "tile":
                    others: Dict[int, np.ndarray] = {}
                    for (reader, other), path in via.items():  # the other inputs, operand b included
                        if reader == layer.index and other != src.source:
                            others = _merge(others, path)
                    ahead = self._run_ahead(frontier, others, src.source)
                    if len(ahead):
                        high = np.maximum(high, np.minimum(ahead, len(src.unit_bytes) - 1))
                self.spans[(layer.index, src.source)] = (low, high, flat, owner)

    def _operand_needs(self, layer: Layer) -> List[Tuple[int, List[List[int]]]]:
        """A product's operand b as a dependency (not data through a region): per step, the units of
        b's producer (in the same round) it waits for."""
        if layer.type != "matmul" or layer.inputs[1] < 0:
            return []
        b = layer.inputs[1]
        if self.lm[b].round != self.lm[layer.index].round:
            return []
        producer, m = self.layers[b], self.lm[layer.index]
        offset = layer.keys - producer.F
        bounds = segment_bounds(producer.F, self.lm[b].segments)
        units = []
        for e in range(layer.E):
            for f0, f1 in segment_bounds(layer.F, m.segments):
                keys = self._keys_needed(layer, f0, f1)
                units.append([j for j, (a, _) in enumerate(bounds) if offset + a < keys] or [0])
        return [(b, units)]

    def _needs(self, reader: int, src: "_Source", homes: Sequence[np.ndarray]) -> Dict[int, int]:
        """Working set per tile of the regions holding ``src`` for ``reader`` (steps placed by
        ``homes``, one (batch, steps) array per part): the most bytes a step's span of the units
        sent to its tile holds, at least the largest unit."""
        low, high, flat, owner = self.spans[(reader, src.source)]
        largest = int(src.unit_bytes.max())
        out: Dict[int, int] = {}
        gathers = self._gathers(self.layers[reader])
        for h in homes:
            for pattern in np.unique(h, axis=0):  # images placed alike give the same needs
                for tile in np.unique(pattern).tolist():
                    if gathers:  # one unit at a time
                        out[tile] = largest
                        continue
                    mine = pattern == tile
                    sent = np.zeros(len(src.unit_bytes), dtype=bool)
                    sent[flat[mine[owner]]] = True
                    prefix = np.concatenate([[0], np.cumsum(src.unit_bytes * sent)])
                    held = int((prefix[high[mine] + 1] - prefix[low[mine]]).max())
                    out[tile] = max(out.get(tile, largest), held)
        return out

    def _place_units(self) -> None:
        """Where pooling and residual-add steps run, and the working set of every region.

        Weight layers run on their copies. A pool or add step runs on the tile that produces its
        first needed input unit (by default), or of another input's producer, or spread over the
        tiles of its round nearest (in mesh links) to those producers, or over its least loaded
        tiles, rows dealt in turn (a residual add's shortcut rows then wait on several tiles
        instead of one): whichever keeps the largest per-tile sum of working sets (of regions that
        can be live together) smallest, unless a placement on or nearest the producers does not
        raise the largest sum already on the chip: then the smallest of those, as the data stay
        local (ISAAC pools in the producing tile). The rule does not depend on buffer sizes,
        which only decide whether the result fits."""
        self._frontiers()
        self.region_need: Dict[Tuple[int, int, int], int] = {}
        demand: Dict[Tuple[int, int], int] = {}
        pipeline = self.mapping.schedule == "pipeline"

        def phase(layer: Layer) -> int:
            return self.lm[layer.index].round * (len(self.layers) + 1) + (0 if pipeline else layer.index + 1)

        def add(layer: Layer, needs: Dict[Tuple[int, int], int]) -> None:
            for (source, tile), value in needs.items():
                self.region_need[(layer.index, source, tile)] = value
                key = (tile, phase(layer))
                demand[key] = demand.get(key, 0) + value

        def needs_of(layer: Layer, homes: Sequence[np.ndarray]) -> Dict[Tuple[int, int], int]:
            out = {}
            for src in {s.source: s for s in self.sources[layer.index]}.values():
                for tile, value in self._needs(layer.index, src, homes).items():
                    out[(src.source, tile)] = max(out.get((src.source, tile), 0), value)
            return out

        for layer in self.layers:
            m = self.lm[layer.index]
            if m.parts:
                add(layer, needs_of(layer, [self.homes[(layer.index, p.lowered.part)] for p in m.parts]))
        round_tiles: Dict[int, List[int]] = {}
        for (index, _), h in self.homes.items():
            round_tiles.setdefault(self.lm[index].round, []).extend(np.unique(h).tolist())
        for layer in self.layers:
            m = self.lm[layer.index]
            if m.parts:
                continue
            spi = layer.E * m.segments
            candidates = []
            local = 0  # candidates[:local] run next to their inputs' producers
            for src in self.sources[layer.index]:
                if src.source >= 0 and src.where == "tile":
                    first = np.array([min(u) for u in src.units], dtype=np.int64)
                    producer = self.homes[(src.source, 0)]
                    candidates.append(producer[:, self._unit_step(src.source, first)])
            if layer.type == "matmul":  # a digital product runs on one tile, whose matrix unit holds operand b
                b = layer.inputs[1]
                tiles = [int(c.flat[0]) for c in candidates] + ([int(self.homes[(b, 0)].flat[0])] if b >= 0 else [])
                pool = sorted(set(round_tiles.get(m.round, [m.home_tile])),
                              key=lambda t: (demand.get((t, phase(layer)), 0), t))
                candidates = [np.full((self.batch, spi), t, dtype=np.int64)
                              for t in dict.fromkeys(tiles + pool[:1] or [m.home_tile])]
            elif not candidates:
                candidates.append(np.full((self.batch, spi), m.home_tile, dtype=np.int64))
                if self.sequence_model and layer.E == 1:  # a token sequence: segments dealt over the round's tiles
                    pool = sorted(set(round_tiles.get(m.round, [m.home_tile])),
                                  key=lambda t: (demand.get((t, phase(layer)), 0), t))
                    for k in sorted({min(len(pool), f) for f in (2, 4, 16)}):  # the widest first: it wins ties
                        spread = np.array(pool[:k], dtype=np.int64)[np.arange(spi) % k]
                        candidates.insert(0, np.broadcast_to(spread, (self.batch, spi)).copy())
            else:
                local = len(candidates)  # candidates before this index run where their inputs are produced
                tiles = sorted(set(round_tiles.get(m.round, [m.home_tile])))
                producers = np.unique(np.concatenate([np.unique(c) for c in candidates]))
                nearest = sorted(tiles, key=lambda t: (self.mesh.distance(t, producers), demand.get((t, phase(layer)), 0),
                                                       t))
                loaded = sorted(tiles, key=lambda t: (demand.get((t, phase(layer)), 0), t))
                k0 = len(np.unique(candidates[0]))
                tokens = self.sequence_model and layer.E == 1  # a token sequence: segments dealt in turn
                for pool in (nearest, loaded):
                    for k in sorted({min(len(pool), k0 * f) for f in ((1, 2, 4, 16) if tokens else (1, 2, 4))}):
                        rows = np.arange(spi) if tokens else np.arange(spi) // m.segments  # neighbours on different tiles
                        spread = np.array(pool[:k], dtype=np.int64)[rows % k]
                        candidates.append(np.broadcast_to(spread, (self.batch, spi)).copy())
                    if pool is nearest:
                        local = len(candidates)
            # the smallest largest working set; but a placement next to the producers wins if it
            # does not raise the largest working set already on the chip (it keeps data local)
            peak = max((v for (_, p), v in demand.items() if p == phase(layer)), default=0)
            best = near = None
            for i, homes in enumerate(candidates):
                needs = needs_of(layer, [homes])
                score = max((demand.get((tile, phase(layer)), 0) + value for (_, tile), value in needs.items()),
                            default=0)
                if best is None or score < best[0]:
                    best = (score, homes, needs)
                if i < local and score <= peak and (near is None or score < near[0]):
                    near = (score, homes, needs)
            best = near or best
            self.homes[(layer.index, 0)] = best[1]
            add(layer, best[2])
        self.demand = demand
        self.phase_of = {layer.index: phase(layer) for layer in self.layers}

    def _stores(self, given: Dict[int, Tuple[str, int]]) -> Dict[int, dict]:
        """Where each product keeps its operand b, and how it reads it.

        A digital product's store holds b for the whole run at its longest (a decoder's KV cache:
        the prefill's keys and every decoded one), for the batch; a crossbar product's only what
        this run writes into its arrays (the arrays hold the rest). The level is
        ``products.store``, or with ``auto`` the first with room: the buffer of the tile the
        product runs on (beside the working sets of its regions and the stores already there),
        the global buffer (beside the feature maps it holds at their peak), DRAM. ``given``
        (product -> (level, tile)) fixes the levels of digital products, as a decode step must
        find its cache where the prefill put it. A digital product's operand stays in its
        matrix unit's buffer across its query steps (*stationary*) when it fits the buffer's
        share (the buffer split evenly among the products running on the tile together);
        otherwise it is streamed again for every step."""
        arch, network = self.arch, self.network
        remaining = network.decode_steps - (0 if network.step is None else network.step + 1)
        size, glb_free = int(arch.tile.buffer.size), int(arch.global_buffer.size) - self.glb_peak
        reserved: Dict[int, int] = {}
        sharing: Dict[Tuple[int, int], int] = {}
        out: Dict[int, dict] = {}
        for index, layer in self.products.items():
            crossbar = on_crossbars(arch, layer)
            b = layer.inputs[1]
            if b >= 0:
                producer = self.layers[b]
                tokens, row = producer.F, producer.M * _nbytes(layer_bits(producer, arch)[1])
            else:
                _, tokens, channels = self.network.input_shape
                row = channels * _nbytes(layer_bits(self.layers[0], arch)[0])
            m = self.lm[index]
            tile = m.home_tile if crossbar else int(self.homes[(index, 0)].flat[0])
            held = tokens if crossbar else layer.keys + (remaining if layer.cache else 0)
            nbytes = held * row * self.batch
            entry = {"crossbar": crossbar, "source": b, "row": row, "offset": layer.keys - tokens, "bytes": nbytes,
                     "tile": tile, "stationary": False}
            if b < 0:  # the network input, already in DRAM
                entry.update(level="dram", bytes=0)
            elif index in given and not crossbar:
                entry["level"], entry["tile"] = given[index]
            else:
                entry["level"] = self._store_level(layer, nbytes, tile, size, reserved, glb_free)
            if entry["level"] == "tile":
                reserved[entry["tile"]] = reserved.get(entry["tile"], 0) + nbytes
            elif entry["level"] == "glb":
                glb_free -= nbytes
                if glb_free < 0:
                    raise MappingError(f"layer {layer.name!r}: its operand b ({nbytes:,} B) no longer fits the global "
                                       f"buffer ({int(arch.global_buffer.size):,} B) beside this phase's feature maps")
            if not crossbar:
                key = (entry["tile"], self.phase_of[index])
                sharing[key] = sharing.get(key, 0) + 1
            out[index] = entry
        unit = arch.tile.matrix_unit.buffer.size
        for index, entry in out.items():
            if not entry["crossbar"]:
                share = unit / sharing[(entry["tile"], self.phase_of[index])]
                entry["stationary"] = self.products[index].keys * entry["row"] <= share
        self.reserved = reserved
        return out

    def _store_level(self, layer: Layer, nbytes: int, tile: int, size: int, reserved: Dict[int, int],
                     glb_free: int) -> str:
        """The level of a product's store (``products.store``; ``auto``: the first with room)."""
        wanted = self.arch.products.store
        need = max([v for (t, _), v in self.demand.items() if t == tile] + [0]) + reserved.get(tile, 0)
        fits = {"tile": need + nbytes <= size, "glb": nbytes <= glb_free, "dram": True}
        if wanted != "auto":
            if not fits[wanted]:
                where = (f"the buffer of tile {tile} ({size:,} B, {need:,} B of it taken by working sets and other "
                         "stores)" if wanted == "tile" else
                         f"the global buffer ({glb_free:,} B free of {int(self.arch.global_buffer.size):,} B)")
                raise MappingError(f"layer {layer.name!r}: its operand b ({nbytes:,} B at its longest, the KV cache "
                                   f"when decoding) does not fit {where} (products.store: {wanted}); use "
                                   "products.store: auto to take the first level with room")
            return wanted
        return next(level for level in ("tile", "glb", "dram") if fits[level])

    def _unit_step(self, source: int, units: np.ndarray) -> np.ndarray:
        """Step (within an image) of ``source`` that produces each of ``units`` (a unit is a step)."""
        return units

    def _working_sets(self) -> None:
        """Each region's working set, from the needs computed when steps were placed."""
        for (reader, source, tile, _), region in self.region_index.items():
            self.region_rows[region][3] = self.region_need[(reader, source, tile)]

    @staticmethod
    def _run_ahead(frontier, others: Dict[int, np.ndarray], source: int) -> np.ndarray:
        """Per step of a reader: the last unit of ``source`` that may have been produced before the
        step can run, given what the reader's *other* inputs need first (``others``: ancestor ->
        last unit needed through them, per step; -1 where they need none).

        Directly: the source units those other inputs need. Through common ancestors
        (reconvergent paths, e.g. a residual add whose shortcut is a short path from A and whose
        main branch a long one): the other inputs need each ancestor A up to ``others[A]``, and
        meanwhile the source can produce every unit whose own needs of all those ancestors stay
        within that (the most constraining ancestor decides).
        """
        if not others:
            return np.full(0, -1, dtype=np.int64)
        steps = len(next(iter(others.values())))
        direct = others.get(source, np.full(steps, -1, dtype=np.int64))
        producible = None
        for ancestor, needed in frontier[source].items():
            if ancestor in others:
                requirement = np.maximum.accumulate(needed)  # source unit j needs ancestor units <= this
                bound = np.searchsorted(requirement, others[ancestor], side="right") - 1
                producible = bound if producible is None else np.minimum(producible, bound)  # all at once
        return direct if producible is None else np.maximum(direct, producible)

    def _reserve_stores(self) -> None:
        """Tile buffers holding product stores: each gets a region with no writes whose working set
        is the store, in every phase of the tile, so the other regions share what remains."""
        for index, store in self.stores.items():
            if store["level"] != "tile":
                continue
            tile = store["tile"]
            phases = sorted({row[5] for row in self.region_rows if row[0] == tile} | {self.phase_of[index]})
            for phase in phases:
                self.region_rows.append([tile, index, store["source"], store["bytes"], store["bytes"], phase])
                self.region_next.append(0)

    def _store_table(self) -> np.ndarray:
        return np.array([(index, st["source"], LOCATIONS.index(st["level"]), st["tile"], st["bytes"],
                          int(st["crossbar"])) for index, st in self.stores.items()], dtype=STORE_DTYPE)

    def _finish(self) -> OpStream:
        self._working_sets()
        self._reserve_stores()
        for check in REGISTRY.checks():
            check(self.arch, self.mapping)
        i64, i32 = np.int64, np.int32
        n_ops = len(self.o_kind)
        parts = np.array(self.parts_rows, dtype=PART_DTYPE)
        acts = np.array([(p, v, n) + (0,) * len(activity_module.FIELDS) for p, v, n in self.act_rows],
                        dtype=ACTIVITY_DTYPE)
        self._fill_activity(acts, parts)
        layers = np.array([(m.round, len(m.parts), m.copies, m.segments, m.home_tile,
                            LOCATIONS.index(self.location[m.layer.index])) for m in self.mapping.layers],
                          dtype=LAYER_DTYPE)
        return OpStream(
            batch=self.batch, layer_names=tuple(layer.name for layer in self.layers),
            step_layer=_column(self.s_layer, i32), step_image=_column(self.s_image, i32),
            step_row=_column(self.s_row, i32), step_segment=_column(self.s_seg, i32),
            step_kind=_column(self.s_kind, np.int8), step_tile=_column(self.s_tile, i32),
            step_ops=_column(self.s_ops, i64), dep_ptr=_column(self.dep_ptr, i64),
            dep=_column(self.deps, i64), rel_ptr=_column(self.rel_ptr, i64),
            rel=_column(self.rels, i64),
            op_kind=_column(self.o_kind, np.int8), res_ptr=_column(self.res_ptr, i64),
            res=_column(self.o_res, i32),
            op_amount=_column(self.o_amount, i64), op_aux=_column(self.o_aux, i64),
            op_region=_column32(self.o_region), op_seq=_column32(self.o_seq),
            op_uses=_column32(self.o_uses), pred_ptr=_column(self.pred_ptr, i64),
            pred=_column(self.preds, i64),
            op_names=REGISTRY.op_names, resource_names=REGISTRY.resource_names,
            resources=np.array(self.res_rows, dtype=RESOURCE_DTYPE),
            regions=np.array([tuple(r) for r in self.region_rows], dtype=REGION_DTYPE),
            parts=parts, activity=acts, copies=np.array(self.copy_rows, dtype=COPY_DTYPE), layers=layers,
            notes=tuple(self.mapping.notes) + self._notes(), data_aware=bool(self.activity_data),
            stores=self._store_table())

    def _fill_activity(self, acts: np.ndarray, parts: np.ndarray) -> None:
        """Activity of every MVM: per-vector counts (structural, or observed on real data) summed
        over the vectors it runs."""
        lowered = {(m.layer.index, p.lowered.part): p.lowered for m, p in self.mapping.parts()}
        for index, row in enumerate(parts):
            low = lowered[(int(row["layer"]), int(row["part"]))]
            mine = np.flatnonzero(acts["part"] == index)
            if not len(mine):
                continue
            observed = self.activity_data.get((int(row["layer"]), int(row["part"])))
            if observed is None:
                per = activity_module.structural(low)
                for name in activity_module.FIELDS:
                    acts[name][mine] = per[name] * acts["vectors"][mine]
                continue
            order = mine[np.argsort(acts["vector"][mine], kind="stable")]
            starts = acts["vector"][order]
            for name in activity_module.FIELDS:
                values = np.asarray(observed[name], dtype=np.int64)
                acts[name][order] = np.add.reduceat(values, starts)

    def _notes(self) -> Tuple[str, ...]:
        readers = self.data_readers
        spilled = [layer.name for layer in self.layers if readers[layer.index] and self.location[layer.index] == "dram"]
        if not spilled:
            return ()
        size = self.arch.global_buffer.size
        room = "there is no global buffer" if size == 0 else f"the {size / 1024:g} KiB global buffer is full"
        return (f"{len(spilled)} of {len(self.layers)} feature maps go through DRAM because {room}: "
                + ", ".join(spilled[:4]) + (", ..." if len(spilled) > 4 else ""),)


def build_stream(mapping: Mapping, batch: int = 1, activity: Optional[Dict[Tuple[int, int], Dict]] = None,
                 zero_skip: bool = False, stores: Optional[Dict[int, Tuple[str, int]]] = None) -> OpStream:
    """The operation stream of ``batch`` images through ``mapping``.

    ``activity`` ((layer index, part) -> per-vector counts from
    :func:`xbarsim.mapping.activity.observe`, vectors ordered image, row, column) makes the
    MVMs' activity (counts and, with zero skipping, read items) that of real data. ``stores``
    (product layer index -> (level, tile)) places the operand stores of digital products where an
    earlier phase put them (a decode step finds its KV cache where the prefill left it).
    """
    if batch < 1:
        raise MappingError(f"batch: expected an integer >= 1, got {batch}")
    return _Builder(mapping, batch, activity, zero_skip, stores).build()
