"""The discrete-event model: simpy executes an operation stream on contended resources.

Semantics (mirrored by the cycle-stepped reference in ``tests/naive_timing.py``):

* time is an integer number of clock cycles; every operation lasts at least one cycle;
* a step starts when all the steps it depends on have finished; it then runs its operations
  in order, each holding one server of its resource for the operation's duration;
* a resource has ``capacity`` servers and serves requests first come, first served; requests
  made in the same cycle are served in step-index order. To make that exact, a resource
  decides whom to serve only after everything else that happens in the current cycle (an
  arbitration event with a priority below simpy's NORMAL and URGENT).

One simpy event per operation plus a handful per step: never one per cycle or per cell.
"""

from __future__ import annotations

import gc
import heapq
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

import numpy as np
import simpy
from simpy.events import Event

from .schedule import OpStream

__all__ = ["Timeline", "run_stream", "paused_gc"]

_ARBITRATE = 2  # after simpy's URGENT (0) and NORMAL (1) events of the same cycle


@contextmanager
def paused_gc():
    """Pause Python's cyclic garbage collector (restoring its state after).

    Building and running a stream allocates hundreds of thousands of long-lived objects
    (steps, operations, generators, events); with the collector on, its full passes rescan all
    of them again and again, which made batch-16 runs 19-21x slower than batch 1 for 16x the
    work (measured). Cycles made meanwhile (simpy processes and their generators) are collected
    once it resumes. Also usable as a decorator: ``@paused_gc()``.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


class _Arbitration(Event):
    """An already-triggered event scheduled at the current time, after all NORMAL events."""

    def __init__(self, env: simpy.Environment, callback: Callable[[Event], None]):
        super().__init__(env)
        self._ok = True
        self._value = None
        self.callbacks.append(callback)
        env.schedule(self, _ARBITRATE)


class _Server:
    """``capacity`` identical servers; waiting requests ordered by (arrival cycle, step index)."""

    __slots__ = ("env", "free", "waiting", "pending", "busy_cycles")

    def __init__(self, env: simpy.Environment, capacity: int):
        self.env = env
        self.free = capacity
        self.waiting: list = []
        self.pending = False
        self.busy_cycles = 0

    def request(self, step: int) -> Event:
        event = Event(self.env)
        heapq.heappush(self.waiting, (self.env.now, step, event))
        self._wake()
        return event

    def release(self) -> None:
        self.free += 1
        self._wake()

    def _wake(self) -> None:
        if not self.pending and self.waiting and self.free > 0:
            self.pending = True
            _Arbitration(self.env, self._arbitrate)

    def _arbitrate(self, _event: Event) -> None:
        self.pending = False
        while self.free > 0 and self.waiting:
            _, _, event = heapq.heappop(self.waiting)
            self.free -= 1
            event.succeed()


@dataclass
class Timeline:
    """What the event model did: start and end cycle of every operation, and the makespan."""

    cycles: int
    """Makespan: cycle at which the last operation ended."""
    start: np.ndarray
    """Start cycle of operation i (operations numbered step by step, in order), int64."""
    end: np.ndarray
    """End cycle of operation i, int64."""
    step_of_op: np.ndarray
    """Step index of operation i."""
    step_end: np.ndarray
    """Cycle at which each step finished."""
    busy: Dict[str, int]
    """Busy server-cycles per resource."""
    events: int
    """simpy events processed."""


def run_stream(stream: OpStream, durations: List[List[int]],
               on_op: Optional[Callable[[int, int, int, int], None]] = None) -> Timeline:
    """Execute ``stream`` with ``durations[step][op]`` (cycles, >= 1) and return its timeline.

    ``on_op(step, op, start, end)``, if given, is called as each operation ends (for streaming
    traces).
    """
    env = simpy.Environment()
    servers = {name: _Server(env, capacity) for name, capacity in stream.capacities.items()}
    steps = stream.steps
    offsets = np.zeros(len(steps) + 1, dtype=np.int64)
    np.cumsum([len(s.ops) for s in steps], out=offsets[1:])
    n_ops = int(offsets[-1])
    start = np.zeros(n_ops, dtype=np.int64)
    end = np.zeros(n_ops, dtype=np.int64)
    step_of_op = np.repeat(np.arange(len(steps), dtype=np.int64), np.diff(offsets))
    step_end = np.zeros(len(steps), dtype=np.int64)
    # A step's process starts only once its last dependency has finished (not all at cycle 0
    # waiting on events): live generators stay few, which keeps per-event cost flat in batch.
    waiting = [len(step.deps) for step in steps]
    dependents: List[List[int]] = [[] for _ in steps]
    for step in steps:
        for d in step.deps:
            dependents[d].append(step.index)
    finished = [False] * len(steps)

    def run(step):
        base = int(offsets[step.index])
        for i, op in enumerate(step.ops):
            server = servers[op.resource]
            yield server.request(step.index)
            begin = env.now
            cycles = durations[step.index][i]
            yield env.timeout(cycles)
            server.busy_cycles += cycles
            server.release()
            start[base + i] = begin
            end[base + i] = env.now
            if on_op is not None:
                on_op(step.index, i, begin, env.now)
        step_end[step.index] = env.now
        finished[step.index] = True
        for j in dependents[step.index]:
            waiting[j] -= 1
            if waiting[j] == 0:
                env.process(run(steps[j]))

    with paused_gc():
        for step in steps:
            if not step.deps:
                env.process(run(step))
        env.run()
    unfinished = [s.index for s in steps if not finished[s.index]]
    if unfinished:  # a dependency cycle would be a bug in the schedule builder
        raise RuntimeError(f"{len(unfinished)} steps never ran (first: {steps[unfinished[0]].label})")
    events = next(env._eid)  # simpy's running event counter: events scheduled so far
    return Timeline(cycles=int(end.max()) if n_ops else 0, start=start, end=end, step_of_op=step_of_op,
                    step_end=step_end, busy={k: v.busy_cycles for k, v in servers.items()}, events=events)
