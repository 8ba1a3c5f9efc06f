"""A naive cycle-stepped model of the timing semantics, for checking the simpy event model.

It advances one clock cycle at a time. Each cycle: (1) operations ending now complete, steps
advance, and steps whose dependencies are all done issue their next request; (2) every
resource with a free server serves its waiting requests, oldest first, ties by step index.
Durations are recomputed here from the arch parameters, and an MVM burst is simulated cycle
by cycle as a two-stage pipeline, independently of the closed forms in xbarsim.timing.
Only for small runs.
"""

from __future__ import annotations

import math


def _cycles(seconds: float, clock: float) -> int:
    return max(0, math.ceil(seconds * clock - 1e-6))


def pipeline_cycles(items: int, read: int, convert: int, overlap: bool) -> int:
    """Cycles for ``items`` reads and conversions, stepped one cycle at a time.

    One sample-and-hold slot sits between the reader and the converter. At the start of each
    cycle the converter takes a held sample if it is idle; the reader starts the next item if
    it is idle and the slot is empty (with overlap) or everything has drained (without).
    """
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


def op_cycles(op, layer, mapping, arch) -> int:
    clock = arch.chip.clock
    kind, n = op.kind, op.amount
    if kind == "mvm":
        part = next(p.lowered for m in mapping.layers for p in m.parts
                    if m.layer.index == layer and p.lowered.part == op.part)
        xb = part.crossbar
        read = max(1, _cycles(arch.pe.read_latency, clock))
        per_adc = -(-part.active_columns // arch.pe.adcs_per_array)
        convert = max(1, _cycles(per_adc / arch.pe.adc_rate, clock))
        if xb.adc_position == "after_accumulation":
            items = n if op.items is None else op.items
            return max(1, pipeline_cycles(items, read * xb.input_cycles, convert, arch.pe.sample_hold))
        items = n * xb.input_cycles if op.items is None else op.items
        return max(1, pipeline_cycles(items, read, convert, arch.pe.sample_hold))
    if kind in ("buffer_read", "buffer_write"):
        b = arch.tile.buffer
        return max(1, _cycles(b.latency + n / b.bandwidth, clock))
    if kind in ("fetch_glb", "store_glb"):
        b = arch.global_buffer
        return max(1, _cycles(b.latency + n / b.bandwidth, clock))
    if kind in ("fetch_dram", "store_dram", "weights_dram"):
        return max(1, _cycles(arch.dram.latency + n / arch.dram.bandwidth, clock))
    if kind in ("fetch_noc", "reduce"):
        net = arch.interconnect
        return max(1, _cycles(op.hops * net.hop_latency + n / net.bandwidth, clock))
    units = {"act": arch.tile.activation_units, "pool": arch.tile.pooling_units,
             "eltwise": arch.tile.shift_add_units}
    if kind in units:
        return max(1, -(-n // units[kind]))
    if kind == "program":
        groups = -(-n // arch.programming.rows_in_parallel)
        return max(1, _cycles(groups * arch.programming.write_pulse, clock))
    raise ValueError(kind)


def naive_makespan(stream, mapping, arch, limit: int = 2_000_000) -> int:
    """Makespan of ``stream`` by stepping every cycle."""
    return naive_run(stream, mapping, arch, limit)[0]


def naive_run(stream, mapping, arch, limit: int = 2_000_000):
    """(makespan, {(step, op): (start, end)}, durations) of ``stream``, stepping every cycle."""
    steps = stream.steps
    durations = [[op_cycles(op, s.layer, mapping, arch) for op in s.ops] for s in steps]
    free = dict(stream.capacities)
    waiting = {name: [] for name in free}  # resource -> [(arrival, step)]
    state = {}  # step -> ("deps",) | ("wait", op) | ("run", op, end) | ("done", t)
    for s in steps:
        state[s.index] = ("deps",)
    done = set()
    times = {}
    makespan = 0
    t = 0
    while len(done) < len(steps):
        if t > limit:
            raise RuntimeError("naive model did not finish")
        # phase 1: completions at t, then cascades of newly ready steps
        for s in steps:
            st = state[s.index]
            if st[0] == "run" and st[2] == t:
                free[s.ops[st[1]].resource] += 1
                makespan = max(makespan, t)
                nxt = st[1] + 1
                if nxt < len(s.ops):
                    state[s.index] = ("wait", nxt)
                    waiting[s.ops[nxt].resource].append((t, s.index))
                else:
                    state[s.index] = ("done", t)
                    done.add(s.index)
        changed = True
        while changed:
            changed = False
            for s in steps:
                if state[s.index][0] == "deps" and all(d in done for d in s.deps):
                    changed = True
                    if s.ops:
                        state[s.index] = ("wait", 0)
                        waiting[s.ops[0].resource].append((t, s.index))
                    else:
                        state[s.index] = ("done", t)
                        done.add(s.index)
        # phase 2: arbitration
        for name, queue in waiting.items():
            queue.sort()
            while free[name] > 0 and queue:
                _, index = queue.pop(0)
                free[name] -= 1
                op_index = state[index][1]
                state[index] = ("run", op_index, t + durations[index][op_index])
                times[(index, op_index)] = (t, t + durations[index][op_index])
        t += 1
    return makespan, times, durations
