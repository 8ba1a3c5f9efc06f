"""Interleaved timing shared by the benchmarks: the machine is shared and noisy, so cases are
run one after the other within each repeat (load hits them alike) and reported as min / median /
max over the repeats, never as one absolute time."""

from __future__ import annotations

import time
from typing import Callable, Dict, List


def interleaved(cases: Dict[str, Callable[[], object]], repeats: int, warmup: bool = False) -> Dict[str, List[float]]:
    """Seconds per call of each case, ``repeats`` rounds, the cases interleaved within a round.

    ``warmup`` runs every case once first (caches, thread pools, BLAS), untimed."""
    if warmup:
        for run in cases.values():
            run()
    times: Dict[str, List[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, run in cases.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return times
