"""What a run did, per operation: the timeline the event model records (pure numpy: reading a
trace needs no simpy), and the critical path through it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Timeline", "critical_path"]


@dataclass
class Timeline:
    """What the event model did, per operation (int64 arrays aligned with the stream's operations)."""

    cycles: int
    """Makespan: cycle at which the last operation ended."""
    request: np.ndarray
    """Cycle at which the operation asked for its region (if any) or its resource."""
    admit: np.ndarray
    """Cycle at which its region admitted it (its request cycle when it writes no region)."""
    start: np.ndarray
    end: np.ndarray
    cause: np.ndarray
    """Operation that made it start when it did (-1: nothing; it started at its step's start)."""
    step_end: np.ndarray
    """Cycle at which each step finished."""
    busy: np.ndarray
    """Busy server-cycles of each resource."""
    region_peak: np.ndarray
    """Largest number of bytes each region held."""
    free_time: np.ndarray
    """Cycle at which a region write's bytes left their region (-1: not a region write)."""
    events: int
    """simpy events processed."""

    @property
    def wait(self) -> np.ndarray:
        """Cycles each operation waited for its resource (after its region admitted it)."""
        return self.start - self.admit

    @property
    def stall(self) -> np.ndarray:
        """Cycles each operation waited for space in its region (back-pressure)."""
        return self.admit - self.request


def critical_path(stream, timeline: Timeline) -> np.ndarray:
    """Cycles of the critical path attributed to each operation (int64, sums to the makespan).

    From the operation that ends last, follow ``cause`` back: each operation on the path is
    credited from its start to the moment it enabled the next one (its end, or its start plus
    its lag over a streaming edge), and the first from cycle 0.
    """
    credit = np.zeros(stream.operations, dtype=np.int64)
    if not stream.operations:
        return credit
    start, end, cause = timeline.start, timeline.end, timeline.cause
    x = int(np.argmax(end))
    out = int(end[x])
    while x >= 0:
        begin = int(start[x])
        c = int(cause[x])
        credit[x] += out - (begin if c >= 0 else 0)
        out = begin
        x = c
    return credit
