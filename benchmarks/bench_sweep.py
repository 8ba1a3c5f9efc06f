"""Sweep speed: serial against a local Dask cluster, and what each point costs beyond its simulation.

Two sweeps (the issue's cases): 200 Latin-hypercube points of ``tiny``/``mlp`` (about a
millisecond of simulation each) and 40 grid points of ``isaac``/``resnet18`` (ADC bits 4-8 x
arrays 64..512 square x both schedules; about 0.1 s each). For each, interleaved over the
repeats so that machine load hits every variant alike:

* ``serial``: ``scheduler="serial"``, every point in this process;
* ``cluster``: a local cluster of ``--workers`` processes started once, warmed up, and passed
  as ``scheduler=<address>`` (what a user with a running cluster sees);
* ``cold``: the default ``xbarsim.sweep(spec, workers=W)``, cluster start-up included.

Printed per sweep: min / median / max of each wall time, the speed-up serial / cluster (and
serial / cold), the simulation time per point (the ``seconds`` column: serial run, and on the
workers, which is longer when other processes compete for the cores), and the per-point
overhead of the cluster, ``(W x cluster - sum of the workers' seconds) / points``: worker time
a point costs beyond its own simulation (scheduling, serialization, transfer, workers idle at
the start and end). Also the planning cost per point (resolve and hash, in the client) and the
load average, since the machine is shared.
Targets (issue 11): speed-up >= 1.7 for the isaac points with 2 workers on a 2-core machine;
overhead < 50 ms per point. Nothing is asserted.

    python benchmarks/bench_sweep.py [--repeats 5] [--workers 2]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, installed or not
import xbarsim  # noqa: E402
from xbarsim.sweeps import run_sweep  # noqa: E402
from xbarsim.sweeps.run import plan  # noqa: E402
from xbarsim.sweeps.spec import load_sweep  # noqa: E402

TINY = {"version": 1, "name": "tiny-mlp", "arch": "tiny", "workloads": "mlp", "combine": "lhs", "samples": 200,
        "axes": {"crossbar.adc_bits": [4, 5, 6, 7, 8, 9, 10], "crossbar.variation_sigma": {"min": 0.0, "max": 0.2},
                 "chip.tiles": {"min": 2, "max": 16}}}
ISAAC = {"version": 1, "name": "isaac-resnet18", "arch": "isaac", "workloads": "resnet18",
         "schedules": ["layer", "pipeline"],
         "axes": {"crossbar.adc_bits": [4, 5, 6, 7, 8],
                  "array": [{"crossbar.rows": n, "crossbar.cols": n} for n in (64, 128, 256, 512)]}}


def _spread(values) -> str:
    return f"{min(values):7.2f} {statistics.median(values):7.2f} {max(values):7.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from distributed import LocalCluster

    specs = {"tiny": load_sweep(TINY), "isaac": load_sweep(ISAAC)}
    times = {(name, variant): [] for name in specs for variant in ("serial", "cluster", "cold")}
    compute, plans = {name: [] for name in specs}, {name: [] for name in specs}
    on_workers = {name: [] for name in specs}
    load = [os.getloadavg()[0]]
    xbarsim.simulate("isaac", "resnet18")  # warm this process as the workers are warmed below
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster:
        address = cluster.scheduler_address
        for spec in specs.values():  # warm the workers: imports and first-call caches
            run_sweep(spec, scheduler=address)
        for _ in range(args.repeats):
            for name, spec in specs.items():
                start = time.perf_counter()
                plan(spec)
                plans[name].append((time.perf_counter() - start) / len(plan(spec).items))
                start = time.perf_counter()
                serial = run_sweep(spec, scheduler="serial")
                times[(name, "serial")].append(time.perf_counter() - start)
                compute[name].append(float(serial.frame["seconds"].sum()) / serial.points)
                start = time.perf_counter()
                warm = run_sweep(spec, scheduler=address)
                times[(name, "cluster")].append(time.perf_counter() - start)
                on_workers[name].append(float(warm.frame["seconds"].sum()))
                start = time.perf_counter()
                run_sweep(spec, workers=args.workers)
                times[(name, "cold")].append(time.perf_counter() - start)
    load.append(os.getloadavg()[0])
    w = args.workers
    print(f"{args.repeats} repeats, {w} workers, {os.cpu_count()} cores, load average {load[0]:.1f} at the start and "
          f"{load[1]:.1f} at the end; wall times in s as min median max")
    for name, spec in specs.items():
        n = len(plan(spec).items)
        serial, cluster, cold = (times[(name, v)] for v in ("serial", "cluster", "cold"))
        speedups = [s / c for s, c in zip(serial, cluster)]
        cold_speedups = [s / c for s, c in zip(serial, cold)]
        overhead = [(w * c - busy) / n * 1e3 for c, busy in zip(cluster, on_workers[name])]
        print(f"\n{spec.name}: {n} points, simulation per point (median) {statistics.median(compute[name]) * 1e3:.1f} "
              f"ms serial, {statistics.median(on_workers[name]) / n * 1e3:.1f} ms on the workers; planning "
              f"{statistics.median(plans[name]) * 1e3:.2f} ms per point")
        print(f"  serial                {_spread(serial)}")
        print(f"  cluster (warm)        {_spread(cluster)}   speed-up {_spread(speedups)}")
        print(f"  cluster (cold start)  {_spread(cold)}   speed-up {_spread(cold_speedups)}")
        print(f"  overhead per point    {_spread(overhead)} ms  (W x cluster - worker seconds) / points")


if __name__ == "__main__":
    main()
