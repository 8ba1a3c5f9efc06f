"""Cost of the hardware-efficiency analysis (bottleneck attribution, ladders, energy by data type)
relative to the simulation it explains.

Runs each network on the isaac preset (batch 1), then times ``xbarsim.efficiency.analyze`` and
``energy_by_data`` on the result; prints min/median/max over interleaved repetitions of the
ratio analysis time / simulation time, measured in the same repetition.

    python benchmarks/bench_efficiency.py [--repeats 3] [--networks resnet18 resnet50]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, installed or not
import xbarsim  # noqa: E402
from xbarsim.efficiency import analyze, energy_by_data  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--networks", nargs="+", default=["resnet18", "resnet50"])
    args = parser.parse_args()
    print("| network | operations | simulate (median) | analysis (median) | analysis / simulate: min / median / max |")
    print("|---|---|---|---|---|")
    for net in args.networks:
        ratios, sims, costs = [], [], []
        for _ in range(args.repeats):
            t = time.perf_counter()
            result = xbarsim.simulate("isaac", net)
            sim = time.perf_counter() - t
            t = time.perf_counter()
            analyze(result)
            energy_by_data(result)
            cost = time.perf_counter() - t
            sims.append(sim), costs.append(cost), ratios.append(cost / sim)
        print(f"| {net} | {result.stream.operations:,} | {statistics.median(sims):.2f} s | "
              f"{statistics.median(costs):.2f} s | {min(ratios):.3f} / {statistics.median(ratios):.3f} / "
              f"{max(ratios):.3f} |")


if __name__ == "__main__":
    main()
