"""Trace cost: size on disk and write overhead per detail level; replay time (re-price, re-time).

ResNet-18 on the isaac preset (pipeline schedule), batch 1 and 16. Times are medians of
interleaved repetitions; overhead is (time with trace - time without) / time without.
Targets: an event-level trace adds under 30% to the simulation's wall time; re-pricing takes
well under a second.

    python benchmarks/bench_trace.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, installed or not
import xbarsim  # noqa: E402
from xbarsim.config import evolve  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="xbarsim-bench-"))
    for batch in (1, 16):
        runs = {"none": [], "summary": [], "layer": [], "event": []}
        for _ in range(args.repeats):
            for detail in runs:
                trace = None if detail == "none" else folder / f"b{batch}-{detail}.h5"
                gc.collect()  # the previous run's garbage is not this run's cost
                start = time.perf_counter()
                xbarsim.simulate("isaac", "resnet18", batch=batch, schedule="pipeline", trace=trace,
                                 detail=detail if trace else "auto", overwrite=True)
                runs[detail].append(time.perf_counter() - start)
        base = statistics.median(runs["none"])
        print(f"resnet18 pipeline batch {batch}: no trace {base:.2f} s")
        for detail in ("summary", "layer", "event"):
            wall = statistics.median(runs[detail])
            size = (folder / f"b{batch}-{detail}.h5").stat().st_size / 1e6
            print(f"  {detail:8s} {size:7.2f} MB  {wall:6.2f} s  overhead {(wall - base) / base:+6.1%}")
        trace = folder / f"b{batch}-event.h5"
        faster = evolve(xbarsim.load_arch("isaac"), {"chip.clock": "1.5GHz", "dram.bandwidth": "12.8GB/s"})
        reprice, retime = [], []
        for _ in range(args.repeats):
            gc.collect()
            start = time.perf_counter()
            xbarsim.replay(trace, energy="tiny")
            reprice.append(time.perf_counter() - start)
            gc.collect()
            start = time.perf_counter()
            xbarsim.replay(trace, arch=faster)
            retime.append(time.perf_counter() - start)
        print(f"  replay: re-price {statistics.median(reprice):.2f} s, re-time {statistics.median(retime):.2f} s")


if __name__ == "__main__":
    main()
