"""The discrete-event model: simpy executes an operation stream on contended resources.

Semantics (mirrored, cycle by cycle, by the reference in ``tests/naive_timing.py``):

* time is an integer number of clock cycles; every operation lasts at least one cycle;
* a step starts when all the steps it depends on have finished; its operations then run as
  its DAG says: an operation *requests* its resources once its predecessors have ended; a step
  finishes when all its operations have;
* an operation that writes into a tile-buffer region first waits until the region admits it.
  A region's writes have an order (``op_seq``: the order in which its readers need the data);
  write q is admitted as soon as the bytes of writes 0..q, minus those already freed, fit the
  region's capacity, so room is always kept for every earlier write (whichever arrives first)
  and the bytes held never exceed the capacity. Bytes leave when every step that uses them has
  released them (at its end);
* a resource has ``capacity`` servers and a queue; operations are served in *priority order*:
  first come (the cycle they joined the queue), first served, ties going to the lower step
  index, then the lower operation. An operation holds all its resources at once (a transfer
  holds every link of its route) and holds none while it waits. Arbitration visits the waiting
  operations in priority order and starts each one whose resources all have a free server
  (greedy allocation, oldest first, as a network with virtual channels allocates: an operation
  that waits for one busy resource does not hold back later ones whose resources are free,
  so there is no head-of-line blocking). An earlier operation always wins a server that a later
  one also wants; nothing waits while holding, so there is no deadlock. A multi-resource
  operation may be overtaken again and again while its resources are never free together (no
  bound on its wait short of the stream's end); on ResNet-18 batch 16 on isaac the longest wait
  of a transfer is shorter than under strict head-of-line order (benchmarks/README.md);
* everything that ends in a cycle is processed first; then the cycle's *arbitration* admits
  what regions can take and grants operations, until nothing changes. Its outcome is set by the
  priority order, not by the order in which the engine visits regions and resources.

Simpy is the calendar: one event per cycle in which something ends or becomes ready, never one
per cycle of waiting; all per-operation state lives in integer arrays. Queues are heaps of one
integer per entry. A resource no operation shares with another (an array copy, a unit) serves
its queue in order; the queues of *coupled* resources (held together by some operation: ports,
links, a tile's buffer and bus) are merged in priority order when any of them has a free
server, and an operation not startable when visited is set aside until the end of that
arbitration (grants only take servers, so it cannot become startable in it). An operation that
started is dropped lazily from its other queues.

The engine also records, for every operation, what made it start when it did (``cause``): the
operation whose end enabled it, freed a resource it waited for, or freed the region space it
waited for. Following causes back from the last operation gives a critical path that covers
the run exactly.
"""

from __future__ import annotations

import gc
import bisect
import heapq
from contextlib import contextmanager
from typing import Callable, Optional

import numpy as np
import simpy
from simpy.events import NORMAL, Event

from ..errors import MappingError
from .timeline import Timeline, critical_path  # noqa: F401  (re-exported)

__all__ = ["Timeline", "run_stream", "paused_gc", "critical_path"]  # Timeline, critical_path: see .timeline


@contextmanager
def paused_gc():
    """Pause Python's cyclic garbage collector (restoring its state after).

    A run allocates many long-lived objects; with the collector on, its full passes rescan them
    again and again (measured: batch-16 runs 19-21x slower than batch 1 for 16x the work). Also
    usable as a decorator: ``@paused_gc()``.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def run_stream(stream, durations: np.ndarray, capacities: np.ndarray, region_capacity: np.ndarray,
               progress: Optional[Callable[[int], None]] = None) -> Timeline:
    """Execute ``stream`` with per-operation ``durations`` (cycles, >= 1).

    ``capacities``: servers per resource; ``region_capacity``: bytes per region. ``progress(n)``
    is called now and then with the number of operations finished since its last call.
    """
    n_ops, n_steps = stream.operations, stream.steps
    env = simpy.Environment()
    # -- static structure, as flat lists ----------------------------------------------------
    # every per-operation column is a numpy array indexed through a memoryview: 8 bytes (or 4) an
    # entry, no copy of the stream, and as fast to index as a list
    res_count = np.diff(stream.res_ptr)
    single = _view(np.where(res_count == 1, stream.res[stream.res_ptr[:-1]], -1))  # the resource, or -1
    multi = [None] * n_ops  # the resources of operations holding several (one shared tuple per route)
    routes: dict = {}
    for o in np.flatnonzero(res_count != 1).tolist():
        route = tuple(stream.res[stream.res_ptr[o]:stream.res_ptr[o + 1]].tolist())
        multi[o] = routes.setdefault(route, route)
    # resources some operation holds together with others: their grants are coupled
    coupled = bytearray(len(capacities))
    for route in routes:
        for r in route:
            coupled[r] = 1
    del routes
    gone = bytearray(n_ops)  # operations that started (their entries in other queues are stale)
    region = memoryview(stream.op_region)
    amount = memoryview(stream.op_amount)
    dur = _view(durations)
    pred_count = np.diff(stream.pred_ptr)
    order = np.argsort(stream.pred, kind="stable")
    succ_ptr = np.zeros(n_ops + 1, dtype=np.int64)
    np.cumsum(np.bincount(stream.pred, minlength=n_ops), out=succ_ptr[1:])
    succ = _view(np.repeat(np.arange(n_ops, dtype=np.int64), pred_count)[order])
    succ_ptr = _view(succ_ptr)
    del order
    npred = _view(pred_count)
    root_ops = np.flatnonzero(pred_count == 0)
    root_ptr = _view(np.searchsorted(root_ops, stream.step_ops))
    root_ops = _view(root_ops)
    step_of = _view(stream.op_step)
    left = _view(np.diff(stream.step_ops))
    dorder = np.argsort(stream.dep, kind="stable")
    dependents = _view(np.repeat(np.arange(n_steps, dtype=np.int64), np.diff(stream.dep_ptr))[dorder])
    dptr = np.zeros(n_steps + 1, dtype=np.int64)
    np.cumsum(np.bincount(stream.dep, minlength=n_steps), out=dptr[1:])
    dptr = _view(dptr)
    del dorder
    ndeps = _view(np.diff(stream.dep_ptr))
    rel_ptr = memoryview(stream.rel_ptr)
    rel = memoryview(stream.rel)
    uses = _view(stream.op_uses)
    # -- state ----------------------------------------------------------------------------------
    # A resource's queue is a heap of keys t * n + x (request cycle t, operation x): the
    # operations of a step are contiguous and steps are numbered in order, so this orders as
    # (cycle, step, operation), the documented tie rule, with one integer per entry.
    n = max(n_ops, 1)
    free = np.asarray(capacities, dtype=np.int64).tolist()
    n_res = max(len(free), 1)
    queues = [[] for _ in free]
    cap = np.asarray(region_capacity, dtype=np.int64).tolist()
    level = [0] * len(cap)
    peak = [0] * len(cap)
    pending = [[] for _ in cap]  # region -> heap of (seq, write) waiting to be admitted
    trigger = [-1] * len(cap)
    seq = memoryview(stream.op_seq)
    # bytes of each region's writes in sequence order, cumulated: write q may enter once
    # cum[g][q + 1] - freed[g] <= capacity (room kept for every earlier write)
    writes = np.flatnonzero(stream.op_region >= 0)
    worder = writes[np.lexsort((stream.op_seq[writes], stream.op_region[writes]))]
    wreg = stream.op_region[worder]
    cum = [[0] for _ in cap]
    for g, first in zip(*np.unique(wreg, return_index=True)):
        stop = np.searchsorted(wreg, g, side="right")
        cum[int(g)] = [0] + np.cumsum(stream.op_amount[worder[first:stop]]).tolist()
    freed = [0] * len(cap)
    limit = [bisect.bisect_right(cum[g], cap[g]) - 2 for g in range(len(cap))]  # largest admissible seq
    out = {name: np.zeros(n_ops, dtype=np.int64) for name in ("request", "admit", "start")}
    out.update({name: np.full(n_ops, -1, dtype=np.int64) for name in ("cause", "free_time")})
    out["step_end"] = np.zeros(n_steps, dtype=np.int64)
    request, admit, started = (memoryview(out[k]) for k in ("request", "admit", "start"))
    cause, free_time, step_end = (memoryview(out[k]) for k in ("cause", "free_time", "step_end"))
    calendar = {}
    dirty_regions = set()
    last_end = [-1]  # the operation that ended last (the latest in its cycle's bucket)
    done = [0, 0, 0]  # operations finished, at the last progress call; steps finished
    queue_heap = env._queue  # noqa: SLF001 (the calendar's own heap: see start())
    eid = env._eid  # noqa: SLF001

    heappush, heappop = heapq.heappush, heapq.heappop
    released_at = [-1] * len(free)  # cycle of each resource's last release
    released_by = [-1] * len(free)  # and the operation that released it
    dirty = []  # resources whose queue or servers changed this cycle (repeats are harmless)

    def ask(x: int, t: int, why: int) -> None:
        """Operation x asks for its region (if any) and resources at cycle t, enabled by ``why``."""
        request[x] = t
        cause[x] = why  # replaced below if a region or a resource makes it wait
        g = region[x]
        if g >= 0:
            if seq[x] > limit[g]:
                heappush(pending[g], (seq[x], x))
                return
            lv = level[g] + amount[x]
            level[g] = lv
            if lv > peak[g]:
                peak[g] = lv
        admit[x] = t
        r = single[x]
        if r >= 0:
            heappush(queues[r], t * n + x)
            dirty.append(r)
        else:
            key = t * n + x
            for r in multi[x]:
                heappush(queues[r], key)
                dirty.append(r)

    def begin_step(s: int, t: int, why: int) -> None:
        stack = [s]
        while stack:
            s = stack.pop()
            a, b = root_ptr[s], root_ptr[s + 1]
            if a == b:  # no operations: done at once
                step_end[s] = t
                finish_step(s, t, why, stack)
            else:
                for i in range(a, b):
                    ask(root_ops[i], t, why)

    def finish_step(s: int, t: int, why: int, stack: list) -> None:
        done[2] += 1
        for i in range(rel_ptr[s], rel_ptr[s + 1]):
            u = rel[i]
            uses[u] -= 1
            if uses[u] == 0:
                g = region[u]
                level[g] -= amount[u]
                freed[g] += amount[u]
                free_time[u] = t
                trigger[g] = why
                limit[g] = bisect.bisect_right(cum[g], cap[g] + freed[g]) - 2
                if pending[g]:
                    dirty_regions.add(g)
        for i in range(dptr[s], dptr[s + 1]):
            d = dependents[i]
            ndeps[d] -= 1
            if ndeps[d] == 0:
                stack.append(d)

    def start(x: int, t: int) -> None:
        """Operation x starts at t (its servers are taken): note why, and when it ends."""
        started[x] = t
        if t > admit[x]:  # it waited for a resource: one released now made it start
            why = -1
            r = single[x]
            for r in ((r,) if r >= 0 else multi[x]):
                if released_at[r] == t:
                    why = released_by[r]
                    break
            cause[x] = why if why >= 0 else last_end[0]
        end_at = t + dur[x]
        bucket = calendar.get(end_at)
        if bucket is None:
            calendar[end_at] = [x]
            # an already-triggered event calling process() at end_at: what Environment.schedule
            # does, without its call (simpy's calendar is a heap of (time, priority, id, event))
            event = Event(env)
            event._ok = True
            event._value = None
            event.callbacks.append(process)
            heappush(queue_heap, (end_at, NORMAL, next(eid), event))
        else:
            bucket.append(x)

    def arbitrate(t: int) -> None:
        while dirty_regions or dirty:
            if dirty_regions:
                regions_now = list(dirty_regions)
                dirty_regions.clear()
                for g in regions_now:
                    queue = pending[g]
                    while queue and queue[0][0] <= limit[g]:
                        x = heappop(queue)[1]
                        level[g] += amount[x]
                        if level[g] > peak[g]:
                            peak[g] = level[g]
                        cause[x] = trigger[g]
                        admit[x] = t
                        r = single[x]
                        key = t * n + x
                        for r in ((r,) if r >= 0 else multi[x]):
                            heappush(queues[r], key)
                            dirty.append(r)
            resources_now = dirty[:]
            dirty.clear()
            merged = []
            for r in resources_now:
                if not free[r]:
                    continue
                if coupled[r]:
                    if queues[r]:
                        merged.append(r)
                    continue
                queue = queues[r]  # only single-resource operations wait here: first come, first served
                while queue and free[r] > 0:
                    x = heappop(queue) % n
                    free[r] -= 1
                    start(x, t)
            if merged:
                grant(merged, t)

    def grant(resources_now: list, t: int) -> None:
        """Visit the operations waiting for ``resources_now`` (coupled resources with a free server)
        in priority order, merging their queues, and start each whose resources all have a free
        server. Grants only take servers, so one not startable when visited stays so in this pass."""
        merge = []  # entries key * n_res + resource: the head of each queue being merged
        listed = set()
        for r in resources_now:
            if r in listed:
                continue
            queue = queues[r]
            while queue and gone[queue[0] % n]:
                heappop(queue)
            if queue:
                merge.append(queue[0] * n_res + r)
                listed.add(r)
        heapq.heapify(merge)
        aside = []  # (resource, key) visited and not startable: back into their queues at the end
        failed = set()
        while merge:
            key, r = divmod(heappop(merge), n_res)
            queue = queues[r]
            while queue and gone[queue[0] % n]:
                heappop(queue)
            if not queue or free[r] <= 0:
                continue
            if queue[0] != key:  # it started through another of its resources: look at the new head
                heappush(merge, queue[0] * n_res + r)
                continue
            heappop(queue)
            x = key % n
            held = multi[x]
            if held is None:
                free[r] -= 1
                start(x, t)
            else:
                ok = x not in failed
                if ok:
                    for q in held:
                        if free[q] <= 0:
                            ok = False
                            break
                if ok:
                    for q in held:
                        free[q] -= 1
                    gone[x] = 1
                    start(x, t)
                else:
                    failed.add(x)
                    aside.append((r, key))
            while queue and gone[queue[0] % n]:
                heappop(queue)
            if queue and free[r] > 0:
                heappush(merge, queue[0] * n_res + r)
        for r, key in aside:
            heappush(queues[r], key)

    def process(event) -> None:
        t = env.now
        bucket = calendar.pop(t)
        last_end[0] = bucket[-1]
        for o in bucket:
            r = single[o]
            if r >= 0:
                free[r] += 1
                released_at[r] = t
                released_by[r] = o
                dirty.append(r)
            else:
                for r in multi[o]:
                    free[r] += 1
                    released_at[r] = t
                    released_by[r] = o
                    dirty.append(r)
            for i in range(succ_ptr[o], succ_ptr[o + 1]):
                x = succ[i]
                k = npred[x] - 1
                npred[x] = k
                if k == 0:
                    ask(x, t, o)
            s = step_of[o]
            k = left[s] - 1
            left[s] = k
            if k == 0:
                step_end[s] = t
                stack = []
                finish_step(s, t, o, stack)
                while stack:
                    begin_step(stack.pop(), t, o)
        done[0] += len(bucket)
        arbitrate(t)
        if progress is not None and done[0] - done[1] >= 65536:
            progress(done[0] - done[1])
            done[1] = done[0]

    with paused_gc():
        for s in [s for s in range(n_steps) if ndeps[s] == 0]:
            begin_step(s, 0, -1)
        arbitrate(0)
        env.run()
    if progress is not None and done[0] > done[1]:
        progress(done[0] - done[1])
    if done[2] != n_steps:
        _deadlock(stream, level, cap, pending)
    # the closures reference each other through their cells: break the cycle so that their
    # state is freed now (the garbage collector is paused for the whole run)
    ask = begin_step = finish_step = start = arbitrate = process = None  # noqa: F841
    # every operation ran for exactly its duration, holding each of its resources
    end = out["start"] + np.asarray(durations, dtype=np.int64)
    busy = np.bincount(stream.res, weights=np.repeat(np.asarray(durations, dtype=np.float64), res_count),
                       minlength=len(free)).astype(np.int64)
    return Timeline(cycles=int(end.max()) if n_ops else 0, busy=busy, end=end,
                    region_peak=np.array(peak, dtype=np.int64), events=next(env._eid), **out)


def _view(values) -> memoryview:
    """A writable memoryview of a copy of ``values``, int32 when every value fits (4 bytes an entry),
    else int64: a Python list of ints takes about 36, and indexing the view is as fast as a list."""
    values = np.asarray(values)
    small = values.size == 0 or (values.min() >= -(1 << 31) and values.max() < (1 << 31))
    return memoryview(np.array(values, dtype=np.int32 if small else np.int64))


def _deadlock(stream, level, cap, pending) -> None:
    """The run stopped with work left: region writes waiting for space their readers cannot free."""
    blocked = [g for g, queue in enumerate(pending) if queue]
    if blocked:
        detail = "; ".join(f"{stream.region_name(g)} holds {level[g]:,} of {cap[g]:,} B" for g in blocked[:3])
        raise MappingError(f"the run deadlocked: tile-buffer regions are too small for the data their readers wait "
                           f"for ({sum(len(pending[g]) for g in blocked)} writes waiting; {detail}); enlarge "
                           "tile.buffer.size (this is not expected when the working sets fit: please report it)")
    raise RuntimeError("the event model stopped with operations left and no region waiting: a dependency cycle in "
                       "the operation stream (a bug in xbarsim's stream builder, please report it)")
