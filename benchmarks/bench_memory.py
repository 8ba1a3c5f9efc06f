"""Memory per unit of work, measured, against the estimates xbarsim.limits refuses runs with.

Prints three tables:

1. ``simulate``: peak RSS growth per stream operation (each run in a fresh process), ResNet-18 on
   ISAAC, with and without a trace of every event; ``limits.BYTES_PER_OPERATION`` must exceed it.
2. operations per step (row segment of a layer part), zoo networks on ISAAC, both schedules; the
   estimate ``limits.simulation_estimate`` divided by the operations actually built (>= 1).
3. ``program``: peak bytes (tracemalloc) per cell of the arrays, for the ISAAC crossbar with and
   without non-idealities, against ``program_memory`` (ratio >= 1).

    python benchmarks/bench_memory.py [--batches 32,128]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout, installed or not
import xbarsim  # noqa: E402
from xbarsim.functional import program  # noqa: E402
from xbarsim.functional.matrix import program_memory  # noqa: E402
from xbarsim.limits import BYTES_PER_OPERATION, simulation_estimate  # noqa: E402
from xbarsim.mapping.placement import map_network  # noqa: E402
from xbarsim.timing.durations import stage_cost  # noqa: E402
from xbarsim.timing.stream import build_stream  # noqa: E402

_CHILD = """
import json, resource, sys, tempfile, os
sys.path.insert(0, {root!r})
import xbarsim
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with tempfile.TemporaryDirectory() as folder:
    trace = os.path.join(folder, "t.h5") if {trace} else None
    result = xbarsim.simulate("isaac", "resnet18", batch={batch}, trace=trace, detail="event" if {trace} else "auto")
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"operations": result.stream.operations, "growth": (after - before) * 1024}}))
"""


def simulate_table(batches) -> None:
    print("simulate, ResNet-18 on isaac, layer schedule: peak RSS growth per operation (fresh process each)")
    print("| batch | trace | operations | bytes per operation | BYTES_PER_OPERATION / measured |")
    print("|---|---|---|---|---|")
    for batch in batches:
        for trace in (False, True):
            code = _CHILD.format(root=str(ROOT), batch=batch, trace=trace)
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            data = json.loads(out.strip().splitlines()[-1])
            per = data["growth"] / data["operations"]
            print(f"| {batch} | {'every event' if trace else 'none'} | {data['operations']:,} | {per:,.0f} | "
                  f"{BYTES_PER_OPERATION / per:.2f} |")


def operations_table() -> None:
    print("\noperations per step (batch 2), and the estimate over the operations built")
    print("| network | schedule | operations | per step | estimate / built |")
    print("|---|---|---|---|---|")
    arch = xbarsim.load_arch("isaac")
    for name in xbarsim.zoo_names():
        network = xbarsim.load_workload(name)
        for schedule in ("layer", "pipeline"):
            mapping = map_network(arch, network, schedule, stage_cost(arch))
            built = build_stream(mapping, 2).operations
            rows = sum(max(1, m.layer.E) * m.segments * max(1, len(m.parts)) for m in mapping.layers)
            estimate = simulation_estimate(mapping, 2)[0]
            print(f"| {name} | {schedule} | {built:,} | {built / 2 / rows:.2f} | {estimate / built:.2f} |")


def program_table() -> None:
    print("\nprogram(), 1000 x 700 weights on isaac's crossbar: peak bytes per cell (tracemalloc) and the estimate")
    print("| devices | measured | program_memory | estimate / measured |")
    print("|---|---|---|---|")
    base = xbarsim.load_arch("isaac").crossbar
    k, m = 1000, 700
    for label, changes in (("ideal", {}), ("5% variation", {"variation_sigma": 0.05}),
                           ("1% read noise", {"read_noise_sigma": 0.01}), ("1% stuck at on", {"stuck_at_on": 0.01}),
                           ("all three", {"variation_sigma": 0.05, "read_noise_sigma": 0.01, "stuck_at_on": 0.01})):
        spec = xbarsim.evolve(base, changes)
        w = np.random.default_rng(0).integers(-(1 << 15), 1 << 15, (k, m))
        program(w, spec, rng=0)  # warm caches
        tracemalloc.start()
        program(w, spec, rng=0)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        cells = spec.polarities * spec.slices * -(-k // spec.rows) * spec.rows * m
        estimate = program_memory(spec, k, m)
        print(f"| {label} | {peak / cells:.1f} | {estimate / cells:.1f} | {estimate / peak:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", default="32,128", help="ResNet-18 batches to measure (default 32,128)")
    args = parser.parse_args()
    simulate_table([int(b) for b in args.batches.split(",")])
    operations_table()
    program_table()


if __name__ == "__main__":
    main()
