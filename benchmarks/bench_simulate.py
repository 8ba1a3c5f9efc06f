"""Architecture-model speed: ResNet-18 (batch 1 and 16) and VGG-8 on the isaac preset, both schedules.

Prints, per case, the median wall time of ``xbarsim.simulate`` (mapping, operation stream,
event model, counting and pricing), the simpy events processed, and events per simulated
array MVM (one MVM operation = one burst of vectors on one layer copy's arrays). Also the
ratio of batch-16 to batch-1 wall time (target: no worse than linear, i.e. <= 16).
Target: ResNet-18 batch 1 under 5 s on a 2-core machine. For scale, NeuroSim's C++ estimator
takes about 3 minutes for VGG-8 on such a machine (REFERENCE_DATA.md).

    python benchmarks/bench_simulate.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, installed or not
import xbarsim  # noqa: E402


def measure(workload: str, batch: int, schedule: str, repeats: int):
    times = []
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = xbarsim.simulate("isaac", workload, batch=batch, schedule=schedule)
        times.append(time.perf_counter() - start)
    mvms = sum(1 for step in result.stream.steps for op in step.ops if op.kind == "mvm")
    return statistics.median(times), result.timeline.events, mvms, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{'case':34s} {'wall':>8s} {'events':>10s} {'MVM ops':>8s} {'events/MVM':>10s} {'simulated':>12s}")
    walls = {}
    for workload, batch in (("resnet18", 1), ("resnet18", 16), ("vgg8", 1)):
        for schedule in ("layer", "pipeline"):
            wall, events, mvms, result = measure(workload, batch, schedule, args.repeats)
            walls[(workload, batch, schedule)] = wall
            print(f"{workload} batch {batch:<3d} {schedule:9s}          {wall:7.2f}s {events:10,d} {mvms:8,d} "
                  f"{events / mvms:10.1f} {result.latency_s * 1e3:9.2f} ms")
    for schedule in ("layer", "pipeline"):
        ratio = walls[("resnet18", 16, schedule)] / walls[("resnet18", 1, schedule)]
        print(f"resnet18 {schedule}: batch 16 / batch 1 wall time = {ratio:.1f} (linear would be 16)")


if __name__ == "__main__":
    main()
