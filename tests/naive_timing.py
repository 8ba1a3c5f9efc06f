"""Independent references for the timing model: a cycle-stepped engine and, for small cases, a
derivation of the operation stream itself from the documented semantics.

Nothing here imports xbarsim's timing code. Durations are recomputed from the arch parameters
(docs/architecture-model.md, "Timing semantics"); an MVM burst is simulated cycle by cycle as a
two-stage pipeline; arbitration is stepped one cycle at a time in passes. Only for small runs.
"""

from __future__ import annotations

import math
from typing import Dict, List, Tuple


def _cycles(seconds: float, clock: float, minimum: int = 1) -> int:
    return max(minimum, math.ceil(seconds * clock - 1e-6))


def pipeline_cycles(items: int, read: int, convert: int, overlap: bool) -> int:
    """Cycles for ``items`` reads and conversions, stepped one cycle at a time.

    One sample-and-hold slot sits between the reader and the converter. At the start of each
    cycle the converter takes a held sample if it is idle; the reader starts the next item if
    it is idle and the slot is empty (with overlap) or everything has drained (without).
    """
    if items == 0:
        return 1
    t = 0
    reading = converting = 0
    held = False
    started = finished = 0
    while finished < items:
        if converting == 0 and held:
            held, converting = False, convert
        drained = converting == 0 and not held
        if reading == 0 and started < items and not held and (overlap or drained):
            started, reading = started + 1, read
        t += 1
        if reading:
            reading -= 1
            if reading == 0:
                held = True
        if converting:
            converting -= 1
            if converting == 0:
                finished += 1
    return t


def phases(arch, input_cycles: int) -> Tuple[int, int]:
    """(phases per vector, reads per phase) after accumulation (docs/architecture-model.md, "Array
    MVM"): ``crossbar.phase_cycles`` unset, one phase of every input cycle; else the cycles are
    split into ceil(T / phase_cycles) phases of near-equal length, each given the longest's reads."""
    cap = arch.crossbar.phase_cycles
    if cap is None:
        return 1, input_cycles
    count = math.ceil(input_cycles / cap)
    return count, math.ceil(input_cycles / count)


def mvm_cycles(arch, items: int, input_cycles: int, active_columns: int, accumulate: bool) -> int:
    clock = arch.chip.clock
    read = _cycles(arch.pe.read_latency, clock)
    convert = _cycles(-(-active_columns // arch.pe.adcs_per_array) / arch.pe.adc_rate, clock)
    if accumulate:
        read *= phases(arch, input_cycles)[1]
    return pipeline_cycles(items, read, convert, arch.pe.sample_hold)


def chip_activation_cycles(arch, kind: str, amount: int):
    """The two operations of chip-level activation (``chip.activation: chip``), or None for others.

    docs/architecture-model.md ("Chip-level activation"): the home tile streams a layer's partial
    sums through its buffer on its partial-sum port, ``tile.psum_port_bits`` per clock, after the
    port's access latency as any buffer port (``latency + bytes / bandwidth``, the bandwidth being
    the port's bits per clock): ``psum_out`` of ``amount`` bytes. The chip's activation units
    then activate them, ``chip.activation_units`` outputs per cycle: ``chip_act`` of ``amount``
    outputs, ``ceil(amount / units)`` cycles. Both last at least one cycle.
    """
    clock = arch.chip.clock
    if kind == "psum_out":
        return _cycles(arch.tile.buffer.latency + amount * 8 / arch.tile.psum_port_bits / clock, clock)
    if kind == "chip_act":
        return max(1, -(-amount // arch.chip.activation_units))
    return None


def psum_bus_cycles(arch, kind: str, amount: int):
    """The partial sums' crossing of the tile bus (``tile.psum_bus``), or None for other operations.

    docs/architecture-model.md ("Chip-level activation"): with ``tile.psum_bus`` a layer's partial
    sums cross the home tile's bus from its PEs before the partial-sum port streams them out: like
    any move over the tile bus, ``bytes / tile.bus_bandwidth`` with no access latency, at least
    one cycle.
    """
    if kind == "psum_bus":
        return _cycles(amount / arch.tile.bus_bandwidth, arch.chip.clock)
    return None


def op_cycles(arch, kind: str, amount: int, aux: int = 0, mvm=None) -> int:
    """Duration of one operation, from the documented formulas (``mvm``: (items, T, columns, accumulate))."""
    clock = arch.chip.clock
    buf, net = arch.tile.buffer, arch.interconnect
    if kind == "mvm":
        return mvm_cycles(arch, *mvm)
    if kind in ("buffer_read", "buffer_write"):
        return _cycles(buf.latency + amount / buf.bandwidth, clock)
    if kind == "feed":
        return _cycles(buf.latency + amount / min(buf.bandwidth, arch.tile.bus_bandwidth), clock)
    if kind == "tile_bus":
        return _cycles(amount / arch.tile.bus_bandwidth, clock)
    if kind in ("glb_read", "glb_write"):
        g = arch.global_buffer
        return _cycles(g.latency + amount / g.bandwidth, clock)
    if kind in ("dram_read", "dram_write"):
        return _cycles(arch.dram.latency + amount / arch.dram.bandwidth, clock)
    if kind == "transfer":
        return _cycles(aux * net.hop_latency + amount / net.bandwidth, clock)
    chip_level = chip_activation_cycles(arch, kind, amount)
    if chip_level is not None:
        return chip_level
    over_bus = psum_bus_cycles(arch, kind, amount)
    if over_bus is not None:
        return over_bus
    units = {"act": arch.tile.activation_units, "pool": arch.tile.pooling_units, "eltwise": arch.tile.shift_add_units}
    if kind in units:
        return max(1, -(-amount // units[kind]))
    if kind in ("program", "write_operand"):  # a part's weights, or rows of a product's operand
        return _cycles(-(-amount // arch.programming.rows_in_parallel) * arch.programming.write_pulse, clock)
    if kind == "vec":  # vector-unit operations, one per lane per cycle
        return max(1, -(-amount // arch.tile.vector_unit.lanes))
    unit = arch.tile.matrix_unit
    if kind == "matmul":  # MAC slots on the array, operand b streamed from the unit's buffer: the slower
        return max(1, -(-amount // unit.macs_per_cycle), _cycles(aux / unit.buffer.bandwidth, clock))
    if kind == "mxu_load":
        return _cycles(unit.buffer.latency + amount / unit.buffer.bandwidth, clock)
    raise ValueError(kind)


def stream_cycles(stream, arch) -> List[int]:
    """Durations of every operation of a built stream, from :func:`op_cycles`."""
    out = []
    for o in range(stream.operations):
        kind = stream.op_names[stream.op_kind[o]]
        mvm = None
        if kind == "mvm":
            act = stream.activity[stream.op_aux[o]]
            part = stream.parts[act["part"]]
            mvm = (int(act["items"]), int(part["input_cycles"]), int(part["active_columns"]), bool(part["accumulate"]))
        out.append(op_cycles(arch, kind, int(stream.op_amount[o]), int(stream.op_aux[o]), mvm))
    return out


# -- the cycle-stepped engine -----------------------------------------------------------------


def naive_run(ops: List[dict], steps: List[dict], capacities: Dict, regions: Dict, limit: int = 2_000_000):
    """Step every cycle. ``ops``: dicts with step, resources (tuple), duration, preds, region, seq,
    amount; ``steps``: dicts with deps, releases (op indices). ``regions``: capacity by region.

    Each cycle: (1) operations ending now release their resources; successors whose predecessors
    have all ended, and steps whose dependencies have all finished, ask for their resources;
    finished steps release their region data. (2) Passes until nothing changes: a region admits
    every waiting write q with cum[q + 1] - freed <= capacity; then the waiting operations are
    visited in priority order (the cycle they joined the queues, step, operation) and each whose
    resources all have a free server starts, taking them. Returns {op: (request, admit, start, end)}.
    """
    free = dict(capacities)
    queues: Dict = {r: [] for r in capacities}
    waiting_region: Dict = {g: [] for g in regions}
    freed = {g: 0 for g in regions}
    cum: Dict = {}
    for g in regions:
        writes = sorted((o["seq"], i) for i, o in enumerate(ops) if o["region"] == g)
        total, sums = 0, [0]
        for _, i in writes:
            total += ops[i]["amount"]
            sums.append(total)
        cum[g] = sums
    npred = [len(o["preds"]) for o in ops]
    succ: Dict[int, List[int]] = {i: [] for i in range(len(ops))}
    for i, o in enumerate(ops):
        for p in o["preds"]:
            succ[p].append(i)
    ndeps = [len(s["deps"]) for s in steps]
    dependents: Dict[int, List[int]] = {i: [] for i in range(len(steps))}
    for i, s in enumerate(steps):
        for d in s["deps"]:
            dependents[d].append(i)
    uses = {}
    for s in steps:
        for u in s["releases"]:
            uses[u] = uses.get(u, 0) + 1
    ops_of = {i: [] for i in range(len(steps))}
    for i, o in enumerate(ops):
        ops_of[o["step"]].append(i)
    left = {i: len(ops_of[i]) for i in range(len(steps))}
    times: Dict[int, list] = {}
    running: Dict[int, int] = {}  # op -> end cycle
    done_steps = 0
    t = 0

    def ask(i):
        times[i] = [t, None, None, None]
        g = ops[i]["region"]
        if g >= 0:
            waiting_region[g].append(i)
        else:
            times[i][1] = t
            for r in ops[i]["resources"]:
                queues[r].append((t, ops[i]["step"], i))

    def start_step(s):
        nonlocal done_steps
        stack = [s]
        while stack:
            s = stack.pop()
            if not ops_of[s]:
                finish_step(s, stack)
                continue
            for i in ops_of[s]:
                if npred[i] == 0:
                    ask(i)

    def finish_step(s, stack):
        nonlocal done_steps
        done_steps += 1
        for u in steps[s]["releases"]:
            uses[u] -= 1
            if uses[u] == 0:
                freed[ops[u]["region"]] += ops[u]["amount"]
        for d in dependents[s]:
            ndeps[d] -= 1
            if ndeps[d] == 0:
                stack.append(d)

    for s in range(len(steps)):
        if ndeps[s] == 0:
            start_step(s)
    while done_steps < len(steps):
        if t > limit:
            raise RuntimeError("the naive model did not finish")
        # (1) completions
        for i in sorted(i for i, e in running.items() if e == t):
            del running[i]
            times[i][3] = t
            for r in ops[i]["resources"]:
                free[r] += 1
            for x in succ[i]:
                npred[x] -= 1
                if npred[x] == 0:
                    ask(x)
            s = ops[i]["step"]
            left[s] -= 1
            if left[s] == 0:
                stack: list = []
                finish_step(s, stack)
                while stack:
                    start_step(stack.pop())
        # (2) arbitration in passes
        changed = True
        while changed:
            changed = False
            for g, waiting in waiting_region.items():
                for i in sorted(waiting, key=lambda i: ops[i]["seq"]):
                    if cum[g][ops[i]["seq"] + 1] - freed[g] <= regions[g]:
                        waiting.remove(i)
                        times[i][1] = t
                        for r in ops[i]["resources"]:
                            queues[r].append((t, ops[i]["step"], i))
                        changed = True
            # every waiting operation, earliest first; each starts if all its resources have a free server
            for key in sorted({key for queue in queues.values() for key in queue}):
                i = key[2]
                if all(free[r] > 0 for r in ops[i]["resources"]):
                    for r in ops[i]["resources"]:
                        queues[r].remove(key)
                        free[r] -= 1
                    times[i][2] = t
                    running[i] = t + ops[i]["duration"]
                    changed = True
        t += 1
    return {i: tuple(v) for i, v in times.items()}


def stream_run(stream, arch, capacities, region_capacity):
    """:func:`naive_run` on a stream built by xbarsim, with durations from :func:`stream_cycles`."""
    durations = stream_cycles(stream, arch)
    ops = [{"step": int(stream.op_step[o]), "resources": tuple(int(r) for r in stream.res[stream.res_ptr[o]:
                                                                                             stream.res_ptr[o + 1]]),
            "duration": durations[o], "preds": [int(p) for p in stream.pred[stream.pred_ptr[o]:stream.pred_ptr[o + 1]]],
            "region": int(stream.op_region[o]), "seq": int(stream.op_seq[o]), "amount": int(stream.op_amount[o])}
           for o in range(stream.operations)]
    steps = [{"deps": [int(d) for d in stream.dep[stream.dep_ptr[s]:stream.dep_ptr[s + 1]]],
              "releases": [int(u) for u in stream.rel[stream.rel_ptr[s]:stream.rel_ptr[s + 1]]]}
             for s in range(stream.steps)]
    caps = {r: int(c) for r, c in enumerate(capacities)}
    regions = {g: int(c) for g, c in enumerate(region_capacity)}
    return naive_run(ops, steps, caps, regions), durations


# -- an independent derivation of the stream, for small cases ---------------------------------


def reference_stream(arch, network, batch: int, schedule: str) -> Tuple[List[dict], List[dict]]:
    """The operations and steps of a run, derived from layer shapes and the documented semantics.

    Covers chips with one tile on which every weight layer gets exactly one copy (one PE each
    at most), networks whose rows fit one segment, and buffers too large to bind: enough to
    check how the stream builder turns layers into operations, independently of it. Token
    layers included (docs/transformers.md): products on the digital matrix unit with operand b
    in the tile's store and staying in the unit's buffer (both large enough), a prefill or one
    decode step (``network.decode_step``: older keys are already in the store). Operations are
    keyed by ``label`` (kind, layer, image, row, which) so the two can be compared.
    """
    xb = arch.crossbar
    ops: List[dict] = []
    steps: List[dict] = []
    res = {}
    vector_ops = arch.tile.vector_unit.ops

    def resource(name):
        return res.setdefault(name, len(res))

    def add_op(step, kind, resources, amount, preds=(), region=-1, seq=-1, mvm=None, aux=0, label=None):
        ops.append({"step": step, "kind": kind, "resources": tuple(resource(r) for r in resources), "amount": amount,
                    "preds": list(preds), "region": region, "seq": seq, "aux": aux,
                    "duration": op_cycles(arch, kind, amount, aux, mvm), "label": label})
        return len(ops) - 1

    def bits(layer):
        inp = layer.input_bits or xb.input_bits
        return inp, layer.output_bits or inp

    def reads_data(layer, k):  # a product's operand b sits in its store; position lookups read no data
        if layer.type == "matmul":
            return k == 0
        return layer.type != "embedding" or layer.lookup == "token"

    readers: Dict[int, List[int]] = {}
    operand_of: Dict[int, List[int]] = {}  # b's producer -> products
    for layer in network.layers:
        for k, s in enumerate(layer.inputs):
            if reads_data(layer, k):
                readers.setdefault(s, []).append(layer.index)
        if layer.type == "matmul":
            operand_of.setdefault(layer.inputs[1], []).append(layer.index)
    pipeline = schedule == "pipeline"
    region_of: Dict[Tuple[int, int], int] = {}
    seq_of: Dict[int, int] = {}
    produced: Dict[Tuple[int, int, int], int] = {}   # (layer, image, row) -> step
    pushed: Dict[Tuple[int, int, int, int], int] = {}  # (reader, source, image, row) -> op
    loaded: Dict[Tuple[int, int, int, int], Tuple[int, int]] = {}
    owners: Dict[int, List[int]] = {}
    gate = None

    def region(reader, source):
        key = (reader, source)
        if key not in region_of:
            region_of[key] = len(region_of)
            seq_of[region_of[key]] = 0
        return region_of[key]

    def window(layer, e):
        if layer.type == "fc":
            return list(range(layer_rows(layer.inputs[0])))
        if layer.type == "tokens":
            return [0]  # a one-row sequence (or the rows of one segment)
        if layer.type in ("add", "mul", "matmul", "softmax", "layernorm", "rmsnorm", "gelu", "silu", "embedding"):
            return [e]
        first = e * layer.stride - layer.padding
        return list(range(max(0, first), min(layer_rows(layer.inputs[0]) - 1, first + layer.R - 1) + 1))

    def layer_rows(source):
        return network.input_shape[0] if source < 0 else network.layers[source].E

    def row_bytes(source):
        if source < 0:
            _, W, C = network.input_shape
            return W * C * -(-bits(network.layers[0])[0] // 8)
        p = network.layers[source]
        return p.F * p.M * -(-bits(p)[1] // 8)

    def new_step(deps, releases=(), owner=None, chain=False):
        deps = set(deps)
        if gate is not None:
            deps.add(gate)
        if owner is not None:
            seq = owners.setdefault(owner, [])
            if len(seq) >= 2:
                deps.add(seq[-2])
            if chain and seq:  # a product's unit buffer fills step after step
                deps.add(seq[-1])
            seq.append(len(steps))
        steps.append({"deps": sorted(deps), "releases": list(releases)})
        return len(steps) - 1

    tile_buffer, bus = "tile_buffer", "tile_bus"
    last: Dict[int, int] = {}

    def input_unit(layer, src, n, r):
        """(steps to wait for, region data to release) for row r of ``src`` that ``layer`` reads:
        pushed by its producer in the pipeline, else loaded from DRAM when first needed."""
        g = region(layer.index, src)
        if src >= 0 and pipeline:
            return [produced[(src, n, r)]], [pushed[(layer.index, src, n, r)]]
        key = (g, n, r)
        if key not in loaded:
            step = len(steps)
            read = add_op(step, "dram_read", ["dram"], row_bytes(src), region=g, seq=seq_of[g],
                          label=("load", layer.index, n, r, src))
            seq_of[g] += 1
            add_op(step, "buffer_write", [tile_buffer], row_bytes(src), preds=[read],
                   label=("load-write", layer.index, n, r, src))
            new_step([])  # layer by layer, it waits for the previous layer's barrier (the gate)
            loaded[key] = (step, read)
        return [loaded[key][0]], [loaded[key][1]]

    for layer in network.layers:
        first_step = len(steps)
        inb, outb = (-(-b // 8) for b in bits(layer))
        location = "dram"
        if pipeline and readers.get(layer.index):
            location = "tile"
        elif not readers.get(layer.index) and layer.index in operand_of:
            location = "store"  # read only as operand b: written into the products' stores
        gather = layer.type == "pool" and layer.E == 1 and layer.F == 1 and layer_rows(layer.inputs[0]) > 1
        data_inputs = [s for k, s in enumerate(layer.inputs) if reads_data(layer, k)]
        for n in range(batch):
            for e in range(layer.E):
                deps, releases = [], []
                if gather:
                    # a global pool takes its input row by row as it arrives (after its previous step)
                    src = layer.inputs[0]
                    previous = last.get(layer.index)
                    for r in window(layer, e):
                        unit_deps, unit_releases = input_unit(layer, src, n, r)
                        step = len(steps)
                        elements = row_bytes(src) // inb
                        read = add_op(step, "buffer_read", [tile_buffer], elements * inb,
                                      label=("read", layer.index, n, r))
                        add_op(step, "pool", ["pool"], elements, preds=[read], label=("pool", layer.index, n, r))
                        deps.append(new_step(unit_deps + ([previous] if previous is not None else []), unit_releases))
                for src in ([] if gather else data_inputs):
                    for r in window(layer, e):
                        unit_deps, unit_releases = input_unit(layer, src, n, r)
                        deps += unit_deps
                        releases += unit_releases
                step = len(steps)
                F = layer.F
                if gather:  # the pooling was done as the rows arrived
                    last_ops = []
                elif layer.has_weights:
                    K = layer.C // layer.groups * layer.R * layer.S
                    low_inputs = K * layer.groups
                    feed = add_op(step, "feed", [tile_buffer, bus], F * low_inputs * inb,
                                  label=("feed", layer.index, n, e))
                    slices = -(-(layer.weight_bits or xb.weight_bits) // xb.cell_bits)
                    polarities = 2 if xb.weight_mapping == "differential" else 1
                    cols = layer.M // layer.groups * slices * polarities
                    T = -(-(layer.input_bits or xb.input_bits) // xb.dac_bits)
                    accumulate = xb.adc_position == "after_accumulation"
                    items = F * phases(arch, T)[0] if accumulate else F * T
                    last_ops = [add_op(step, "mvm", [f"copy:{layer.index}"], F, preds=[feed],
                                       mvm=(items, T, min(cols, xb.cols), accumulate),
                                       label=("mvm", layer.index, n, e))]
                elif layer.type == "pool":
                    elements = F * layer.C * layer.R * layer.S
                    read = add_op(step, "buffer_read", [tile_buffer], elements * inb, label=("read", layer.index, n, e))
                    last_ops = [add_op(step, "pool", ["pool"], elements, preds=[read],
                                       label=("pool", layer.index, n, e))]
                elif layer.type in ("add", "mul"):
                    width = len(layer.inputs)
                    read = add_op(step, "buffer_read", [tile_buffer], F * layer.C * width * inb,
                                  label=("read", layer.index, n, e))
                    if layer.type == "add":
                        last_ops = [add_op(step, "eltwise", ["tsa"], F * layer.C * (width - 1), preds=[read],
                                           label=("eltwise", layer.index, n, e))]
                    else:  # an elementwise product on the vector unit
                        last_ops = [add_op(step, "vec", ["vec"], F * layer.C * (width - 1) * vector_ops["mul"],
                                           preds=[read], label=("vec", layer.index, n, e))]
                elif layer.type in ("softmax", "layernorm", "rmsnorm", "gelu", "silu"):
                    read = add_op(step, "buffer_read", [tile_buffer], F * layer.C * inb,
                                  label=("read", layer.index, n, e))
                    last_ops = [add_op(step, "vec", ["vec"], F * layer.C * vector_ops[layer.type], preds=[read],
                                       label=("vec", layer.index, n, e))]
                elif layer.type == "embedding":  # its table's rows come from DRAM
                    preds = []
                    if layer.lookup == "token":
                        preds = [add_op(step, "buffer_read", [tile_buffer], F * layer.C * inb,
                                        label=("read", layer.index, n, e))]
                    last_ops = [add_op(step, "dram_read", ["dram"], F * layer.M * outb, preds=preds,
                                       label=("dram_read", layer.index, n, e))]
                elif layer.type == "tokens":
                    last_ops = [add_op(step, "buffer_read", [tile_buffer], F * layer.C * inb,
                                       label=("read", layer.index, n, e))]
                else:  # matmul on the matrix unit: operand b from the tile's store into the unit's buffer
                    producer = network.layers[layer.inputs[1]]
                    key_bytes = producer.M * -(-bits(producer)[1] // 8)
                    a = add_op(step, "buffer_read", [tile_buffer], F * layer.C * inb, label=("read", layer.index, n, e))
                    fetch = add_op(step, "buffer_read", [tile_buffer], layer.keys * key_bytes,
                                   label=("read", layer.index, n, e, 1))
                    load = add_op(step, "mxu_load", ["mxu_buffer"], layer.keys * key_bytes, preds=[fetch],
                                  label=("mxu_load", layer.index, n, e))
                    w = arch.tile.matrix_unit.operand_bits
                    a_bits, b_bits = layer.input_bits or xb.input_bits, layer.weight_bits or xb.weight_bits
                    passes = -(-a_bits // w) * -(-b_bits // w)
                    last_ops = [add_op(step, "matmul", ["mxu"], layer.macs * passes, preds=[a, load],
                                       aux=layer.keys * key_bytes, label=("matmul", layer.index, n, e))]
                    deps.append(produced[(layer.inputs[1], n, 0)])  # the keys and values of this pass
                if layer.bias:
                    last_ops = [add_op(step, "vec", ["vec"], F * layer.M, preds=last_ops,
                                       label=("bias", layer.index, n, e))]
                if layer.activation == "relu":
                    last_ops = [add_op(step, "act", ["act"], F * layer.M, preds=last_ops,
                                       label=("act", layer.index, n, e))]
                elif layer.activation != "none":
                    last_ops = [add_op(step, "vec", ["vec"], F * layer.M * vector_ops[layer.activation],
                                       preds=last_ops, label=("activation", layer.index, n, e))]
                nbytes = F * layer.M * outb
                for product in operand_of.get(layer.index, ()):  # new keys or values into the tile's store
                    add_op(step, "buffer_write", [tile_buffer], nbytes, preds=last_ops,
                           label=("store-write", layer.index, n, e, product))
                if location == "tile":
                    for reader in readers[layer.index]:
                        needed = {r for f in range(network.layers[reader].E) for r in window(network.layers[reader], f)}
                        if e not in needed:
                            continue  # no reader step needs this row: it is not sent
                        g = region(reader, layer.index)
                        pushed[(reader, layer.index, n, e)] = add_op(
                            step, "buffer_write", [tile_buffer], nbytes, preds=last_ops, region=g, seq=seq_of[g],
                            label=("push", layer.index, n, e, reader))
                        seq_of[g] += 1
                elif location == "dram":
                    add_op(step, "dram_write", ["dram"], nbytes, preds=last_ops, label=("store", layer.index, n, e))
                owner = ("copy", layer.index) if layer.has_weights else ("unit", layer.index)
                produced[(layer.index, n, e)] = last[layer.index] = new_step(deps, releases, owner=owner,
                                                                            chain=layer.type == "matmul")
        if not pipeline:
            mine = [i for i in range(first_step, len(steps))]
            gate = new_step(mine)
    return ops, steps, res
