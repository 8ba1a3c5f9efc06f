"""Architecture-model speed and memory, against a baseline version of xbarsim in the same run.

    python benchmarks/bench_simulate.py [--repeats 3] [--baseline REV]
    python benchmarks/bench_simulate.py --sensitivity
    python benchmarks/bench_simulate.py --floor [--repeats 3]

Every measurement runs ``xbarsim.simulate`` on the ``isaac`` preset in a fresh subprocess
(so peak memory is its own), alternating between this checkout and the baseline (a detached
git worktree of ``--baseline``, by default the commit before the architecture core was
rebuilt), case after case, repeat after repeat, so machine load hits both alike. Printed per
case and version: wall time (min / median / max), operations, microseconds per operation,
peak resident memory growth per operation; and the ratios baseline / this. Operations are
each version's own: the rebuilt stream models more (a transfer per route, feeds, gathers,
finer steps), so it has more, cheaper operations.

Also, for this checkout only: ResNet-50 batch 64 pipelined (target: under 5 s on a 2-core
machine) and ResNet-18 batch 16 pipelined in steady state against the array-time bound.
``--sensitivity`` measures only that steady state, on isaac and with faster links and larger
tile buffers (what bounds it); ``--against REV`` measures a git revision beside it. The steady
state is set against two bounds: the array-time bound (every PE of the chip busy, the layers'
MVM work pooled) and the resource-time bound (per resource, the busy cycles an image puts on it
over its servers: the busiest resource bounds the long-run period of any schedule of that
stream); the binding resource is named. ``--floor`` splits a run into its phases (stream building, event
model, the rest) and sets the event model's cost per simpy event beside simpy's own floor, an
empty callback event scheduled and fired on the same calendar, measured in the same process:
the least any engine that keeps simpy as its calendar, one event per cycle in which something
ends, can cost.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "da952a1"  # main before the rebuild of the architecture core

CASE = r"""
import gc, json, resource, sys, time
sys.path.insert(0, {root!r})
import xbarsim

def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0

gc.collect()
before = rss()
start = time.perf_counter()
result = xbarsim.simulate({arch!r}, {workload!r}, batch={batch}, schedule={schedule!r})
wall = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
ops = result.stream.operations
out = dict(wall=wall, ops=ops, grown=max(0, peak - before), latency=result.latency_s)
if {steady}:
    import numpy as np
    from xbarsim.hardware.arrays import mvm_period
    st, tl, arch = result.stream, result.timeline, result.arch
    last = st.op_layer == len(st.layer_names) - 1
    ends = np.zeros({batch}, dtype=np.int64)
    np.maximum.at(ends, st.step_image[st.op_step[last]], tl.end[last])
    a, b = {batch} // 4, {batch} - 1
    out["steady_ips"] = (b - a) / ((ends[b] - ends[a]) / arch.chip.clock)
    pes = {{(int(c["layer"]), int(c["part"])): int(c["pes"]) for c in st.copies}}
    pe_cycles = sum(result.network.layers[int(p["layer"])].vectors
                    * mvm_period(arch, int(p["input_cycles"]), int(p["active_columns"]), bool(p["accumulate"]))
                    * pes[(int(p["layer"]), int(p["part"]))] for p in st.parts)
    out["bound_ips"] = arch.pes / (pe_cycles / arch.chip.clock)
    from xbarsim.timing.durations import resource_capacities
    servers = resource_capacities(st, arch)
    busy = tl.busy / (tl.cycles * servers)  # fraction of the servers' time
    top = np.argsort(-busy)[:3]
    out["busiest"] = [(st.resource_name(int(i)), round(float(busy[i]), 2)) for i in top]
    # resource-time bound: per resource, the busy cycles an image puts on it (the work of the
    # batch's images, programming excluded, per image) over its servers; the busiest resource
    # bounds the period of any schedule of this stream in the long run (the measured window may
    # beat it by a little: early layers of the images after it work inside it, and copies take
    # rows in turn, so their shares of a few images vary)
    holder = np.repeat(np.arange(ops), np.diff(st.res_ptr))
    mine = st.step_image[st.op_step[holder]] >= 0
    work = np.bincount(st.res[mine], weights=result.durations[holder[mine]], minlength=len(servers)) / {batch}
    per = work / servers
    worst = int(np.argmax(per))
    out["resource_ips"] = arch.chip.clock / per[worst]
    out["binding"] = st.resource_name(worst)
    transfers = st.kind_mask("transfer")
    out["max_transfer_wait"] = int((tl.start - tl.admit)[transfers].max()) if transfers.any() else 0
print(json.dumps(out))
"""

FLOOR = r"""
import gc, json, sys, time
sys.path.insert(0, {root!r})
import simpy
from simpy.events import NORMAL, Event
import xbarsim
from xbarsim.config.loader import load_arch
from xbarsim.workload.loader import load_workload
from xbarsim.mapping.placement import map_network
from xbarsim.simulation import execute
from xbarsim.timing.durations import stage_cost
from xbarsim.timing.engine import paused_gc
from xbarsim.timing.stream import build_stream

def bare_events(n):
    # n events on simpy's calendar, each scheduled by the previous one's callback (as the engine does)
    env = simpy.Environment()
    left = [n]
    def fire(event):
        left[0] -= 1
        if left[0]:
            nxt = Event(env); nxt._ok = True; nxt._value = None; nxt.callbacks.append(fire)
            env.schedule(nxt, NORMAL, 1)
    fire(None)
    start = time.perf_counter()
    env.run()
    return (time.perf_counter() - start) / (n - 1)

arch, network = load_arch("isaac"), load_workload({workload!r})
with paused_gc():
    t0 = time.perf_counter()
    mapping = map_network(arch, network, {schedule!r}, stage_cost(arch))
    stream = build_stream(mapping, {batch}, None, arch.pe.zero_skip)
    t1 = time.perf_counter()
    timeline, _ = execute(stream, arch)
    t2 = time.perf_counter()
    floor = bare_events(500_000)
t3 = time.perf_counter()
xbarsim.simulate("isaac", {workload!r}, batch={batch}, schedule={schedule!r})
total = time.perf_counter() - t3
print(json.dumps(dict(ops=stream.operations, events=int(timeline.events), stream=t1 - t0, engine=t2 - t1,
                      total=total, floor=floor)))
"""

COMPARED = [("resnet18", 16, "pipeline"), ("resnet18", 16, "layer"), ("resnet50", 16, "pipeline"),
            ("vgg8", 64, "pipeline")]


def baseline_root(rev: str) -> Path:
    """A detached worktree of ``rev`` (made once, in the temporary folder)."""
    path = Path(tempfile.gettempdir()) / f"xbarsim-baseline-{rev}"
    if not (path / "xbarsim").exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), rev], check=True,
                       capture_output=True)
    return path


#: Steady-state sensitivity (``--sensitivity``): ResNet-18 batch 16 pipelined on isaac with
#: larger tile buffers, faster links, and both.
SENSITIVITY = (
    ("isaac", "isaac"),
    ("tile buffers 1 MiB", {"version": 1, "base": "isaac", "tile": {"buffer": {"size": "1MiB"}}}),
    ("links x10 (48 GB/s)", {"version": 1, "base": "isaac", "interconnect": {"bandwidth": "48GB/s"}}),
    ("links x100 (480 GB/s)", {"version": 1, "base": "isaac", "interconnect": {"bandwidth": "480GB/s"}}),
    ("links x100, tile buffers 1 MiB", {"version": 1, "base": "isaac", "interconnect": {"bandwidth": "480GB/s"},
                                        "tile": {"buffer": {"size": "1MiB"}}}),
)


def measure(root: Path, workload: str, batch: int, schedule: str, steady: bool = False, arch="isaac") -> dict:
    code = CASE.format(root=str(root), workload=workload, batch=batch, schedule=schedule, steady=steady, arch=arch)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{workload} b{batch} {schedule} at {root}: {done.stderr.strip().splitlines()[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def floor_report(repeats: int) -> None:
    """Phases of a run and the event model's cost per simpy event against simpy's bare event."""
    print(f"{'case':24s} {'ops':>10s} {'events':>10s} {'stream s':>8s} {'engine s':>8s} {'total s':>8s} "
          f"{'us/event':>8s} {'simpy us/event':>14s} {'engine/floor':>12s}")
    for case in (("resnet18", 16, "pipeline"), ("resnet50", 16, "pipeline")):
        code = FLOOR.format(root=str(ROOT), workload=case[0], batch=case[1], schedule=case[2])
        samples = []
        for _ in range(repeats):
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(done.stderr.strip().splitlines()[-1])
            samples.append(json.loads(done.stdout.strip().splitlines()[-1]))
        med = {k: statistics.median(s[k] for s in samples) for k in ("stream", "engine", "total", "floor")}
        ratios = [s["engine"] / s["events"] / s["floor"] for s in samples]
        ops, events = samples[0]["ops"], samples[0]["events"]
        print(f"{case[0]} b{case[1]} {case[2]:13s} {ops:10,d} {events:10,d} {med['stream']:8.2f} {med['engine']:8.2f} "
              f"{med['total']:8.2f} {med['engine'] / events * 1e6:8.2f} {med['floor'] * 1e6:14.2f} "
              f"{spread(ratios):>12s}")
    print("(medians over repeats; engine/floor: min / median / max of the per-run ratio)")


def spread(values):
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", default=BASELINE, help=f"git revision to compare with (default {BASELINE})")
    parser.add_argument("--sensitivity", action="store_true",
                        help="only the steady-state sensitivity of ResNet-18 batch 16 (pipeline) to links and buffers")
    parser.add_argument("--against", metavar="REV",
                        help="with --sensitivity: measure git revision REV too, case by case")
    parser.add_argument("--floor", action="store_true",
                        help="only the phase split and the event model's cost per event against simpy's own floor")
    args = parser.parse_args()
    if args.floor:
        floor_report(args.repeats)
        return
    if args.sensitivity:
        roots = [("this", ROOT)] + ([(args.against, baseline_root(args.against))] if args.against else [])
        for label, arch in SENSITIVITY:
            for version, root in roots:
                out = measure(root, "resnet18", 16, "pipeline", steady=True, arch=arch)
                print(f"{label:32s} {version:8s} {steady_line(out)}", flush=True)
        return
    roots = {"baseline": baseline_root(args.baseline), "this": ROOT}
    runs = {(case, version): [] for case in COMPARED for version in roots}
    for _ in range(args.repeats):
        for case in COMPARED:
            for version, root in roots.items():
                runs[(case, version)].append(measure(root, *case))
    print(f"{'case':26s} {'version':9s} {'wall s (min/med/max)':>22s} {'ops':>10s} {'us/op':>7s} {'B/op':>7s}")
    for case in COMPARED:
        per = {}
        for version in roots:
            samples = runs[(case, version)]
            walls = [s["wall"] for s in samples]
            ops = samples[0]["ops"]
            us = statistics.median(walls) / ops * 1e6
            bpo = statistics.median(s["grown"] for s in samples) / ops
            per[version] = (us, bpo)
            print(f"{case[0]} b{case[1]} {case[2]:9s}      {version:9s} {spread(walls):>22s} {ops:10,d} "
                  f"{us:7.2f} {bpo:7.0f}")
        print(f"{'':26s} ratio     baseline/this: {per['baseline'][0] / per['this'][0]:.1f}x us/op, "
              f"{per['baseline'][1] / max(per['this'][1], 1e-9):.1f}x bytes/op")
    big = [measure(ROOT, "resnet50", 64, "pipeline") for _ in range(args.repeats)]
    print(f"\nresnet50 b64 pipeline (this): wall {spread([b['wall'] for b in big])} s, "
          f"{big[0]['ops']:,} operations, {statistics.median(b['wall'] for b in big) / big[0]['ops'] * 1e6:.2f} us/op, "
          f"peak growth {statistics.median(b['grown'] for b in big) / 2**20:.0f} MiB")
    steady = measure(ROOT, "resnet18", 16, "pipeline", steady=True)
    print(f"resnet18 b16 pipeline (this): {steady_line(steady)}")


def steady_line(out: dict) -> str:
    """The steady state of a run against the array-time and resource-time bounds."""
    return (f"steady state {out['steady_ips']:7,.0f} images/s; array-time bound {out['bound_ips']:,.0f} "
            f"({out['steady_ips'] / out['bound_ips']:.0%}); resource-time bound {out['resource_ips']:,.0f} "
            f"({out['steady_ips'] / out['resource_ips']:.0%}, {out['binding']}); busiest {out['busiest']}; "
            f"longest transfer wait {out['max_transfer_wait']:,} cycles")


if __name__ == "__main__":
    main()
