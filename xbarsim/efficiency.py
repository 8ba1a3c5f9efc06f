"""Hardware-efficiency analysis: where each layer's time went, why it falls short of the chip's
peak, and what data each joule was spent on (``docs/hardware-studies.md``).

Everything is derived from a run's own record (the stream, the timeline, the counts and their
prices), never from a second timing or energy model.

**Bottleneck attribution.** A layer's time is its span, from its first operation's start to its
last operation's end. Follow the run's ``cause`` chain (the operation whose end, resource release
or region release made each operation start: :mod:`xbarsim.timing.engine`) back from the
layer's last-ending operation, exactly as :func:`xbarsim.timing.timeline.critical_path` does for
the whole run: the chain's intervals ``[start of x, start of the operation x enabled)`` tile
time, so clipped to the span they cover it exactly once. An interval of one of the layer's own
operations is charged to that operation's category (``OpKind.time``: ``tile buffer``,
``DRAM``, ``interconnect``, ``digital units``, ... ; an MVM split into ``array read`` and ``ADC
conversion`` by the arrays' two-stage model, ``OpKind.split``). An interval of another layer's
operation is time the layer waited, charged by what its next own operation on the chain (``y``)
was doing then: before ``y`` asked for its resources, ``dependency wait`` (its inputs were not
ready: pipeline stalls); between the request and the admission into its tile-buffer region,
``back-pressure`` (the region was full: its readers had not consumed older data); after it,
``wait: <resource kind>`` (the resource it waited for was busy with another layer's work). The
categories sum to the span exactly (property-tested). The **bound** is the largest category,
and the **bound resource** the resource instance most of the span was spent on or waiting for.

**The ladder** (after Eyexam, Chen, Yang, Emer & Sze, "Efficient Processing of Deep Neural
Networks", 2020, ch. 6): from the chip's peak rate ``R0`` (every array doing full MVMs at the
fastest period ``P``) down to the layer's achieved rate, ``2 x MACs / span``, each step a
measured factor:

* array size and shape, ``macs / (N x a x m)``: MACs used of the capacity of the arrays the
  vectors pass through (``N`` vectors, ``a`` arrays per copy, ``m = rows x cols / columns per
  weight`` MACs a full array does per vector): partially filled arrays;
* mapping and replication, ``arrays / (chip arrays x rounds)``: the share of the chip holding
  this layer's copies in the ``rounds`` it is programmed in;
* utilization, ``(N x P x rounds / copies) / T``: the time the copies would take at the peak
  period, evenly loaded, over ``T``, the busiest copy's MVM time (summed over its rounds):
  conversion-bound periods, imbalance between copies, partial bursts (above 1 when fewer active
  columns make conversions faster than a full array's);
* bandwidth, ``T / span``: the share of the span the busiest copy's arrays computed; the rest
  went to data movement, dependencies and back-pressure (the attribution says which).

The peak is :func:`peak_ops` (``peak_tops`` when columns hold whole weights). The factors
multiply to achieved / peak exactly. For the whole network the same steps use the
sums over the weight layers on crossbars (products of two activations written into arrays are
left out), ``T`` being the cycles during which any array computed.

**Energy by data type.** Every (component, action) declares the data it works on
(``Component.data``: weights, input activations, partial sums, output activations), an
operation kind may override it for what it emits (a residual add's shift-and-adds add output
activations; a weight fetch from DRAM feeds a ``program`` operation and so carries weights:
``OpKind.carries``); static (leakage) energy is its own category. The dynamic energy of each
(layer, component, action) is split in proportion to the counts the operations of each type
emitted; the types sum to the total energy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from .hardware import REGISTRY
from .hardware.arrays import mvm_period
from .hardware.registry import DATA_TYPES, WAITS

__all__ = ["Ladder", "LayerBottleneck", "Bottlenecks", "attribute", "ladder_of", "analyze", "data_counts",
           "energy_by_data", "DataEnergy", "STATIC", "LADDER_STEPS", "peak_ops", "level_bytes", "level_roofs"]

STATIC = "static"
"""The data-type category of leakage energy."""

LADDER_STEPS = ("array size/shape", "mapping/replication", "utilization", "bandwidth")
"""The factors of a ladder, from peak to achieved."""


@dataclass(frozen=True)
class Ladder:
    """Rates in operations per second (2 per MAC) from the peak down to the achieved."""

    peak: float
    factors: Tuple[float, ...]
    """One per :data:`LADDER_STEPS`."""

    @property
    def rates(self) -> Tuple[float, ...]:
        """Peak, then the rate after each step (the last is the achieved rate)."""
        out = [self.peak]
        for f in self.factors:
            out.append(out[-1] * f)
        return tuple(out)

    @property
    def achieved(self) -> float:
        return self.rates[-1]


@dataclass(frozen=True)
class LayerBottleneck:
    """Where one layer's time went."""

    name: str
    cycles: Dict[str, int]
    """Cycles of its span by category (:attr:`xbarsim.hardware.Registry.time_categories`); they sum
    to the span."""
    bound: str
    """The category with the most cycles ("" for a layer with no time)."""
    bound_resource: str
    """The resource instance the most cycles were spent on or waiting for ("" if none)."""
    ladder: Optional[Ladder]
    """From the chip's peak to its achieved rate (None for a layer without MACs on arrays)."""

    @property
    def span(self) -> int:
        return int(sum(self.cycles.values()))


@dataclass(frozen=True)
class Bottlenecks:
    """Bottleneck attribution of every layer, and the network's ladder."""

    categories: Tuple[str, ...]
    layers: Tuple[LayerBottleneck, ...]
    network: Optional[Ladder]
    """The whole network's ladder (crossbar MACs only), None without MACs on arrays."""

    def __getitem__(self, name: str) -> LayerBottleneck:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def matrix(self) -> np.ndarray:
        """Cycles, layers x categories (int64)."""
        return np.array([[b.cycles.get(c, 0) for c in self.categories] for b in self.layers],
                        dtype=np.int64).reshape(len(self.layers), len(self.categories))


# -- attribution ---------------------------------------------------------------------------------

def _own_categories(stream, arch, durations: np.ndarray, categories: Tuple[str, ...]):
    """Per operation: its category index (or -1 for a split kind), and for split kinds a sparse
    table {op: (category indices, cycles)}."""
    cat = np.full(stream.operations, -1, dtype=np.int64)
    split: Dict[int, Tuple[np.ndarray, np.ndarray]] = {}
    for code, name in enumerate(stream.op_names):
        index = np.flatnonzero(stream.op_kind == code)
        if not len(index):
            continue
        kind = REGISTRY.ops[name]
        if kind.split is None:
            cat[index] = categories.index(kind.time)
        else:
            parts = np.stack([np.asarray(p, dtype=np.int64) for p in kind.split(arch, stream, index)], axis=1)
            codes = np.array([categories.index(p) for p in kind.phases], dtype=np.int64)
            for o, row in zip(index.tolist(), parts):
                split[o] = (codes, row)
    return cat, split


def _waited_resource(stream, y: int, c: int) -> int:
    """The resource operation ``y`` waited for: one it shares with ``c`` (which released it), else its first."""
    mine = stream.res[stream.res_ptr[y]:stream.res_ptr[y + 1]]
    if c >= 0:
        theirs = stream.res[stream.res_ptr[c]:stream.res_ptr[c + 1]]
        common = np.intersect1d(mine, theirs)
        if len(common):
            return int(common[0])
    return int(mine[0]) if len(mine) else -1


def attribute(stream, timeline, durations: np.ndarray, arch) -> Tuple[np.ndarray, List[str], List[str]]:
    """Cycles of every layer's span by category: (layers x :attr:`Registry.time_categories` int64,
    bound category per layer, bound resource name per layer). See the module docstring."""
    categories = REGISTRY.time_categories
    n_layers = len(stream.layer_names)
    out = np.zeros((n_layers, len(categories)), dtype=np.int64)
    bounds, bound_res = [""] * n_layers, [""] * n_layers
    if not stream.operations:
        return out, bounds, bound_res
    start, end, cause = timeline.start, timeline.end, timeline.cause
    request, admit = timeline.request, timeline.admit
    own_cat, split = _own_categories(stream, arch, durations, categories)
    dep, back = categories.index(WAITS[0]), categories.index(WAITS[1])
    wait_of_kind = np.array([categories.index(f"wait: {k}") for k in stream.resource_names], dtype=np.int64)
    first_res = np.where(np.diff(stream.res_ptr) > 0, stream.res[np.minimum(stream.res_ptr[:-1], len(stream.res) - 1)],
                         -1) if len(stream.res) else np.full(stream.operations, -1)
    layer_of = stream.op_layer.astype(np.int64)
    cause_list = cause.tolist()
    start_list = start.tolist()
    for L in range(n_layers):
        mine = np.flatnonzero(layer_of == L)
        if not len(mine):
            continue
        s_L = int(start[mine].min())
        x = int(mine[np.argmax(end[mine])])
        e_L = int(end[x])
        # the chain from the layer's last operation back to its first start
        chain, his, los = [], [], []
        hi = e_L
        while x >= 0 and hi > s_L:
            c = cause_list[x]
            lo = max(start_list[x] if c >= 0 else 0, s_L)
            chain.append(x)
            his.append(hi)
            los.append(lo)
            hi = lo
            x = c
        row = out[L]
        tally: Dict[int, int] = {}
        if hi > s_L:  # nothing caused the chain's first operation: it waited for its step
            row[dep] += hi - s_L
        if not chain:
            continue
        ch = np.array(chain, dtype=np.int64)
        hi_a, lo_a = np.array(his, dtype=np.int64), np.array(los, dtype=np.int64)
        length = hi_a - lo_a
        own = layer_of[ch] == L
        # own operations: their category, or their phases (scaled to the piece on the chain)
        single = own & (own_cat[ch] >= 0)
        np.add.at(row, own_cat[ch[single]], length[single])
        for k in np.flatnonzero(own & (own_cat[ch] < 0)).tolist():
            codes, cycles = split[int(ch[k])]
            piece, whole = int(length[k]), int(cycles.sum())
            shares = cycles * piece // max(whole, 1) if piece != whole else cycles.copy()
            shares[-1] += piece - int(shares.sum())
            np.add.at(row, codes, shares)
        for k in np.flatnonzero(own).tolist():
            r = int(first_res[ch[k]])
            if r >= 0:
                tally[r] = tally.get(r, 0) + int(length[k])
        # others' operations: what the layer's next own operation on the chain was waiting for
        positions = np.where(own, np.arange(len(ch)), -1)
        last_own = np.maximum.accumulate(positions)
        foreign = np.flatnonzero(~own)
        if len(foreign):
            y = ch[last_own[foreign]]
            lo, hi_f = lo_a[foreign], hi_a[foreign]
            req, adm = request[y], admit[y]
            d = np.clip(np.minimum(hi_f, req) - lo, 0, None)
            b = np.clip(np.minimum(hi_f, adm) - np.maximum(lo, req), 0, None)
            w = np.clip(hi_f - np.maximum(lo, adm), 0, None)
            row[dep] += int(d.sum())
            row[back] += int(b.sum())
            for k in np.flatnonzero(w).tolist():
                yy = int(y[k])
                r = _waited_resource(stream, yy, int(cause[yy]))
                if r >= 0:
                    row[wait_of_kind[stream.resources["kind"][r]]] += int(w[k])
                    tally[r] = tally.get(r, 0) + int(w[k])
                else:
                    row[dep] += int(w[k])
        if row.any():
            bounds[L] = categories[int(np.argmax(row))]
        if tally:
            bound_res[L] = stream.resource_name(max(tally, key=tally.get))
    return out, bounds, bound_res


# -- the ladder ----------------------------------------------------------------------------------

def _full_array(arch) -> Tuple[float, int]:
    """(MACs a full array does per vector, weights packed across column boundaries; cycles per
    vector at the peak period, as ``peak_tops``)."""
    xb = arch.crossbar
    return (xb.rows * xb.cols / xb.columns_per_weight,
            mvm_period(arch, xb.input_cycles, xb.cols, xb.adc_position == "after_accumulation"))


def peak_ops(arch) -> float:
    """The ladder's peak, operations per second: every array doing full MVMs at the fastest period,
    ``2 x arrays x rows x cols / columns per weight / period``. It is ``peak_tops`` x 1e12 when the
    columns hold whole weights (every preset), a little more otherwise."""
    m_full, period = _full_array(arch)
    return 2 * arch.arrays * m_full * arch.chip.clock / period


def _array_time(stream, durations) -> Tuple[np.ndarray, np.ndarray]:
    """Per layer: ``T``, the sum over the programming rounds it runs in of its busiest copy's MVM
    cycles in that round, and the number of those rounds (int64 arrays)."""
    n = len(stream.layer_names)
    time, rounds = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    if "mvm" not in stream.op_names or not len(stream.copies):
        return time, rounds
    mvm = np.flatnonzero(stream.op_kind == stream.op_names.index("mvm"))
    busy = np.bincount(stream.res[stream.res_ptr[mvm]], weights=durations[mvm],
                       minlength=len(stream.resources)).astype(np.int64)
    copies = stream.copies
    per_copy = busy[copies["resource"]]
    keys = copies["layer"].astype(np.int64) * (int(copies["round"].max()) + 1) + copies["round"]
    best: Dict[int, int] = {}
    for key, value in zip(keys.tolist(), per_copy.tolist()):
        best[key] = max(best.get(key, 0), value)
    width = int(copies["round"].max()) + 1
    for key, value in best.items():
        if value:
            time[key // width] += value
            rounds[key // width] += 1
    return time, rounds


def ladder_of(arch, peak_ops: float, macs: int, vectors: int, arrays: int, copies: int, busiest: int,
              span: int, rounds: int = 1) -> Optional[Ladder]:
    """A layer's ladder from its totals (``vectors`` over the batch; ``busiest``: its busiest copy's
    MVM cycles, summed over the ``rounds`` it is programmed in; ``span`` in cycles). None without
    MACs on arrays or time."""
    if not (macs and vectors and arrays and copies and busiest and span and rounds):
        return None
    m_full, period = _full_array(arch)
    per_copy = arrays / copies
    return Ladder(peak=peak_ops, factors=(
        macs / (vectors * per_copy * m_full),
        arrays / (arch.arrays * rounds),
        (vectors * period * rounds / copies) / busiest,
        busiest / span))


def _network_ladder(arch, peak_ops, reports, stream, timeline) -> Optional[Ladder]:
    rows = [r for r in reports if r.arrays and r.vectors and r.macs]
    mvm = np.flatnonzero(stream.op_kind == stream.op_names.index("mvm")) if "mvm" in stream.op_names else []
    if not rows or not len(mvm) or timeline.cycles <= 0 or not timeline.end[mvm].any():
        return None
    m_full, period = _full_array(arch)
    batch = stream.batch
    macs = sum(r.macs for r in rows)
    capacity = sum(r.vectors * batch * (r.arrays / r.copies) * m_full for r in rows)
    rounds = int(stream.layers["round"].max()) + 1 if len(stream.layers) else 1
    f_shape = macs / capacity
    f_map = sum(r.arrays for r in rows) / (arch.arrays * rounds)
    busy = _union(timeline.start[mvm], timeline.end[mvm])
    r2 = peak_ops * f_shape * f_map
    r3 = 2 * macs * arch.chip.clock / busy
    r4 = 2 * macs * arch.chip.clock / timeline.cycles
    return Ladder(peak=peak_ops, factors=(f_shape, f_map, r3 / r2, r4 / r3))


def _union(starts: np.ndarray, ends: np.ndarray) -> int:
    """Cycles covered by at least one interval."""
    order = np.argsort(starts, kind="stable")
    s, e = starts[order], np.maximum.accumulate(ends[order])
    gaps = np.maximum(s[1:] - e[:-1], 0)
    return int(e[-1] - s[0] - gaps.sum())


def layer_ladders(arch, peak_ops: float, reports, stream, durations) -> Dict[str, Optional[Ladder]]:
    """Every layer's ladder (from the stream, the durations and the layers' spans)."""
    busiest, rounds = _array_time(stream, durations)
    return {r.name: ladder_of(arch, peak_ops, r.macs, r.vectors * stream.batch, r.arrays, r.copies,
                              int(busiest[i]), r.cycles, int(rounds[i])) for i, r in enumerate(reports)}


def analyze(result) -> Bottlenecks:
    """Bottlenecks of a run with per-operation times."""
    stream, arch = result.stream, result.arch
    matrix, bounds, bound_res = attribute(stream, result.timeline, result.durations, arch)
    peak = peak_ops(arch)
    ladders = layer_ladders(arch, peak, result.layers, stream, result.durations)
    categories = REGISTRY.time_categories
    layers = tuple(LayerBottleneck(name=r.name, cycles=dict(zip(categories, matrix[i].tolist())), bound=bounds[i],
                                   bound_resource=bound_res[i], ladder=ladders[r.name])
                   for i, r in enumerate(result.layers))
    return Bottlenecks(categories=categories, layers=layers,
                       network=_network_ladder(arch, peak, result.layers, stream, result.timeline))


# -- memory levels (rooflines) -------------------------------------------------------------------

def level_bytes(stream) -> Dict[str, np.ndarray]:
    """Bytes each layer moved through each memory level (operation kinds whose amount is bytes,
    by their time category), float64 per layer."""
    n = len(stream.layer_names)
    out: Dict[str, np.ndarray] = {}
    layer = stream.op_layer.astype(np.int64)
    for code, name in enumerate(stream.op_names):
        kind = REGISTRY.ops[name]
        if kind.amount != "bytes" or kind.group != "data movement":
            continue
        mask = (stream.op_kind == code) & (layer >= 0)
        if mask.any():
            sums = np.bincount(layer[mask], weights=stream.op_amount[mask].astype(np.float64), minlength=n)
            out[kind.time] = out.get(kind.time, 0) + sums
    return out


def level_roofs(stream, arch) -> Dict[str, float]:
    """Bytes per second each memory level can move: the sum over its resource instances of servers
    x bandwidth (``ResourceKind.level``, ``ResourceKind.bandwidth``)."""
    out: Dict[str, float] = {}
    if not len(stream.resources):
        return out
    kinds = np.bincount(stream.resources["kind"], minlength=len(stream.resource_names))
    for k, name in enumerate(stream.resource_names):
        kind = REGISTRY.resources[name]
        if kind.level and kind.bandwidth is not None and kinds[k]:
            out[kind.level] = out.get(kind.level, 0.0) + kinds[k] * kind.servers(arch) * kind.bandwidth(arch)
    return out


# -- energy by data type -------------------------------------------------------------------------

def _data_codes(stream):
    """Per operation: the data type its inputs carry (index into DATA_TYPES), or -1."""
    carry = np.full(stream.operations, -1, dtype=np.int64)
    counts = np.diff(stream.pred_ptr)
    movers = np.array([REGISTRY.ops[k].group == "data movement" for k in stream.op_names], dtype=bool)
    for code, name in enumerate(stream.op_names):
        kind = REGISTRY.ops[name]
        if not kind.carries:
            continue
        index = np.flatnonzero(stream.op_kind == code)
        if not len(index):
            continue
        preds = stream.pred[np.concatenate([np.arange(stream.pred_ptr[o], stream.pred_ptr[o + 1])
                                            for o in index.tolist()])] if counts[index].sum() else []
        preds = np.asarray(preds, dtype=np.int64)
        preds = preds[movers[stream.op_kind[preds]]]
        carry[preds] = DATA_TYPES.index(kind.carries)
    return carry


def data_counts(stream, arch) -> Dict[Tuple[str, str, str], np.ndarray]:
    """Counts of every (layer, component, action) split by data type: {key: float64 array aligned
    with :data:`DATA_TYPES`}. Summed over types they are the run's counts."""
    carry = _data_codes(stream)
    layer_of = stream.op_layer.astype(np.int64) + 1
    bins = len(stream.layer_names) + 1
    names = ("",) + tuple(stream.layer_names)
    out: Dict[Tuple[str, str, str], np.ndarray] = {}
    for code, name in enumerate(stream.op_names):
        index = np.flatnonzero(stream.op_kind == code)
        if not len(index):
            continue
        kind = REGISTRY.ops[name]
        for (component, action), values in kind.actions(arch, stream, index).items():
            values = np.broadcast_to(np.asarray(values, dtype=np.float64), index.shape)
            default = DATA_TYPES.index(kind.data.get((component, action),
                                                    REGISTRY.components[component].data[action]))
            types = np.where(carry[index] >= 0, carry[index], default)
            table = np.zeros((bins, len(DATA_TYPES)))
            np.add.at(table, (layer_of[index], types), values)
            for b in np.flatnonzero(table.any(axis=1)).tolist():
                key = (names[b], component, action)
                out[key] = out.get(key, 0) + table[b]
    return out


@dataclass(frozen=True)
class DataEnergy:
    """Energy in pJ by data type."""

    by_layer: Dict[str, Dict[str, float]]
    """``{layer: {type: pJ}}`` over :data:`DATA_TYPES` (dynamic energy; ``""``: work of no layer)."""
    total: Dict[str, float]
    """The network's, over :data:`DATA_TYPES` and ``"static"`` (leakage, not split by layer): sums to
    the run's energy."""


def energy_by_data(result) -> DataEnergy:
    """Energy by data type, per layer and for the network. Each (layer, component, action)'s energy
    is split by the share of its counts each data type emitted."""
    shares = data_counts(result.stream, result.arch)
    out: Dict[str, Dict[str, float]] = {}
    total = {t: 0.0 for t in DATA_TYPES + (STATIC,)}
    for (layer, component, action), pj in result.energy.by_action.items():
        split = shares.get((layer, component, action))
        if split is None or not split.sum():  # not emitted by the stream: the component's own type
            split = np.array([t == REGISTRY.components[component].data[action] for t in DATA_TYPES], dtype=float)
        part = pj * split / split.sum()
        row = out.setdefault(layer, {t: 0.0 for t in DATA_TYPES})
        for t, value in zip(DATA_TYPES, part.tolist()):
            row[t] += value
            total[t] += value
    total[STATIC] = result.energy.leakage_pj
    return DataEnergy(by_layer=out, total=total)
