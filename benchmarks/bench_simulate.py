"""Architecture-model speed: ResNet-18 (batch 1 and 16) and VGG-8 on the isaac preset, both schedules.

Prints, per case, the median wall time of ``xbarsim.simulate`` (mapping, operation stream,
event model, counting and pricing), the simpy events processed, and events per simulated
array MVM (one MVM operation = one burst of vectors on one layer copy's arrays). Also the
ratio of batch-16 to batch-1 wall time (target: no worse than linear, i.e. <= 16).
Target: ResNet-18 batch 1 under 5 s on a 2-core machine. For scale, NeuroSim's C++ estimator
takes about 3 minutes for VGG-8 on such a machine (REFERENCE_DATA.md).

    python benchmarks/bench_simulate.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, installed or not
import xbarsim  # noqa: E402


CASES = [(w, b, s) for w, b in (("resnet18", 1), ("resnet18", 16), ("vgg8", 1)) for s in ("layer", "pipeline")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    times = {case: [] for case in CASES}
    figures = {}
    for _ in range(args.repeats):  # interleaved, so that machine load hits every case alike
        for case in CASES:
            workload, batch, schedule = case
            gc.collect()  # start each run from the same heap; keep no earlier result alive
            start = time.perf_counter()
            result = xbarsim.simulate("isaac", workload, batch=batch, schedule=schedule)
            times[case].append(time.perf_counter() - start)
            mvms = sum(1 for step in result.stream.steps for op in step.ops if op.kind == "mvm")
            figures[case] = (result.timeline.events, mvms, result.latency_s)
            del result
    print(f"{'case':34s} {'wall':>8s} {'events':>10s} {'MVM ops':>8s} {'events/MVM':>10s} {'simulated':>12s}")
    walls = {}
    for case in CASES:
        workload, batch, schedule = case
        events, mvms, latency = figures[case]
        wall = walls[case] = statistics.median(times[case])
        print(f"{workload} batch {batch:<3d} {schedule:9s}          {wall:7.2f}s {events:10,d} {mvms:8,d} "
              f"{events / mvms:10.1f} {latency * 1e3:9.2f} ms")
    for schedule in ("layer", "pipeline"):
        ratio = walls[("resnet18", 16, schedule)] / walls[("resnet18", 1, schedule)]
        events = figures[("resnet18", 16, schedule)][0] / figures[("resnet18", 1, schedule)][0]
        print(f"resnet18 {schedule}: batch 16 / batch 1 wall time = {ratio:.1f} (events {events:.1f}x)")


if __name__ == "__main__":
    main()
