"""Accuracy-study speed: images per second through the crossbar model against the GEMM floor.

For one model per study family (ResNet-20 of the depth family, the width-32 and the kernel-7
ResNet-14), on Fashion-MNIST test images through the ``study`` crossbar (8-bit weights in two
4-bit cells, 8-bit inputs through 1-bit DACs: T = 8 input cycles, S = 2 slices, 10-bit ADC, 10%
programming variation), programming excluded:

* **engine**: ``ProgrammedModel.forward`` on ``--images`` images;
* **floor**: for every weight layer, T x S float32 GEMMs (vectors, K) @ (K, M) of that layer's
  shapes (the bit-serial, bit-sliced products and nothing else: no im2col, ADC, shift-and-add);
* **tile floor**: the same, but one GEMM per row tile of the crossbar, (vectors, rows) @ (rows,
  M): each row tile's partial sums are digitized on their own, so a layer of K = 144 rows on
  128-row arrays writes twice the outputs the layer floor does. What the crossbar computes can
  not cost less than this;
* **baseline** (``--baseline DIR``): the engine of another checkout (e.g. ``git archive da952a1 |
  tar -x -C DIR``), run in a subprocess on the same images and model.

Repetitions are interleaved (engine, floor, baseline, engine, ...) so that load from other work
on the machine hits all alike; ratios are formed per repetition and reported as min / median /
max. ``--semantics neurosim`` times the NeuroSim profile instead (per-cycle variation, dynamic ADC).
``--blas-threads N`` sets OpenBLAS's threads for the engine and the floors (``threadpoolctl``,
which scikit-learn brings; default: what the environment says, e.g. ``OMP_NUM_THREADS``);
``--blas-threads 1,2`` times both counts, interleaved within each repetition, and reports each.

    python benchmarks/bench_accuracy.py [--images 200] [--repeats 5] [--baseline DIR] [--semantics chip]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, installed or not
import xbarsim  # noqa: E402
from xbarsim.functional import NEUROSIM_BATCH, apply_profile  # noqa: E402
from xbarsim.nn.engine import CROSSBAR_BATCH  # noqa: E402
from xbarsim.nn import load_model  # noqa: E402
from xbarsim.studies.data import load_dataset  # noqa: E402
from xbarsim.studies.families import parse_name  # noqa: E402

MODELS = ("fashion-mnist-d20-w16-k3-s0", "fashion-mnist-d14-w32-k3-s0", "fashion-mnist-d14-w16-k7-s2")

_BASELINE = r"""
import sys, time, json, numpy as np
import xbarsim
from xbarsim.nn import load_model
model, _ = load_model(sys.argv[1])
data = np.load(sys.argv[2])
crossbar = xbarsim.evolve(xbarsim.load_arch("study"), {"crossbar.variation_sigma": 0.1}).crossbar
chip = model.program(crossbar, data["calibration"], rng=0)
chip.forward(data["x"][:4])
start = time.perf_counter()
chip.forward(data["x"])
print(json.dumps({"seconds": time.perf_counter() - start}))
"""

# Wall time of each step of the engine (DAC digits, bit-serial GEMMs, ADC, shift-and-add, the
# quantization and im2col of layer inputs), summed over forward passes; the methods exist in the
# engine since issue 12's first round, so a baseline checkout can be broken down the same way.
_BREAKDOWN = r"""
import sys, time, json, collections, numpy as np
import xbarsim
from xbarsim.nn import load_model
from xbarsim.nn import engine as E
from xbarsim.functional import matrix as Mx
model, _ = load_model(sys.argv[1])
data = np.load(sys.argv[2])
crossbar = xbarsim.evolve(xbarsim.load_arch("study"), {"crossbar.variation_sigma": 0.1}).crossbar
chip = model.program(crossbar, data["calibration"], rng=0)
spent = collections.Counter()
def timed(cls, name, key):
    method = getattr(cls, name)
    def wrapper(*a, **k):
        start = time.perf_counter(); value = method(*a, **k); spent[key] += time.perf_counter() - start
        return value
    setattr(cls, name, wrapper)
for cls, name, key in ((Mx.ProgrammedMatrix, "_digits", "digits"), (Mx.ProgrammedMatrix, "_product", "GEMMs"),
                       (Mx.ProgrammedMatrix, "_quantize_folded", "ADC"), (Mx.ProgrammedMatrix, "_shift_add", "shift-and-add"),
                       (E.ProgrammedModel, "_integers", "quantize + im2col")):
    timed(cls, name, key)
chip.forward(data["x"][:4]); spent.clear()
start = time.perf_counter()
for _ in range(int(sys.argv[3])):
    chip.forward(data["x"])
spent["total"] = time.perf_counter() - start
print(json.dumps(dict(spent)))
"""


def breakdown(path: Path, inputs: Path, passes: int, root: Path, cwd: str) -> dict:
    """Seconds per engine step over ``passes`` forward passes, run by the checkout at ``root``."""
    env = dict(os.environ, PYTHONPATH=str(root.resolve()))
    run = subprocess.run([sys.executable, "-c", _BREAKDOWN, str(path), str(inputs), str(passes)], env=env,
                         capture_output=True, text=True, check=True, cwd=cwd)
    return json.loads(run.stdout.strip().splitlines()[-1])


def floor_seconds(model, crossbar, images: int, tiles: bool = False) -> float:
    """Time of T x S float32 GEMMs per weight layer (and group), at that layer's shapes (with
    ``tiles``, per row tile of ``crossbar.rows`` rows)."""
    rng = np.random.default_rng(0)
    products = crossbar.input_cycles * crossbar.slices
    operands = []
    for layer in model.network.weight_layers:
        k = layer.C // layer.groups * layer.R * layer.S
        vectors = images * layer.E * layer.F
        parts = [min(crossbar.rows, k - start) for start in range(0, k, crossbar.rows)] if tiles else [k]
        for _ in range(layer.groups):
            for rows in parts:
                operands.append((rng.random((vectors, rows), dtype=np.float32),
                                 rng.random((rows, layer.M // layer.groups), dtype=np.float32)))
    start = time.perf_counter()
    for a, b in operands:
        for _ in range(products):
            np.matmul(a, b)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=200, help="test images per timing (default: 200)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repetitions (default: 5)")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated shipped model names or .npz files")
    parser.add_argument("--baseline", default=None, metavar="DIR", help="a checkout whose engine to time too")
    parser.add_argument("--semantics", choices=("chip", "neurosim"), default="chip")
    parser.add_argument("--chunk-mib", default=None, metavar="SIZES",
                        help="also time the engine with these partial-sum chunk sizes (MiB, comma-separated, "
                             "interleaved), each against the first")
    parser.add_argument("--breakdown", type=int, default=0, metavar="PASSES",
                        help="also time each engine step over PASSES forward passes (and the baseline's), "
                             "as fractions of the floor measured right after")
    parser.add_argument("--blas-threads", default=None,
                        help="BLAS threads, or several comma-separated counts timed interleaved (default: the "
                             "environment's)")
    args = parser.parse_args()
    threads = [int(v) for v in args.blas_threads.split(",")] if args.blas_threads else [None]
    data = load_dataset("fashion-mnist")
    x = data.x_test[: args.images].astype(np.float64)
    calibration = data.calibration().astype(np.float64)
    crossbar = xbarsim.evolve(xbarsim.load_arch("study"), {"crossbar.variation_sigma": 0.1}).crossbar
    batch = CROSSBAR_BATCH
    if args.semantics == "neurosim":
        crossbar, batch = apply_profile(crossbar, "neurosim"), NEUROSIM_BATCH
    print(f"{args.images} Fashion-MNIST test images, study crossbar ({args.semantics} semantics, sigma 0.1, "
          f"T = {crossbar.input_cycles}, S = {crossbar.slices}), {args.repeats} interleaved repetitions, "
          f"load average {os.getloadavg()[0]:.1f} at the start")
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "inputs.npz"
        np.savez(inputs, x=x, calibration=calibration)
        for name in args.models.split(","):
            path = Path(name) if name.endswith(".npz") else parse_name(name).path
            model, _ = load_model(path)
            chip = model.program(crossbar, calibration, rng=0)
            chip.forward(x[:4], batch=batch)
            times = {n: {"engine": [], "floor": [], "tile floor": [], "baseline": []} for n in threads}
            for _ in range(args.repeats):
                for n in threads:  # thread counts interleaved too, so load hits them alike
                    with _blas_threads(n):
                        start = time.perf_counter()
                        chip.forward(x, batch=batch)
                        times[n]["engine"].append(time.perf_counter() - start)
                        times[n]["floor"].append(floor_seconds(model, crossbar, args.images))
                        times[n]["tile floor"].append(floor_seconds(model, crossbar, args.images, tiles=True))
                    if args.baseline:
                        env = dict(os.environ, PYTHONPATH=str(Path(args.baseline).resolve()))
                        if n:
                            env.update(OPENBLAS_NUM_THREADS=str(n), OMP_NUM_THREADS=str(n))
                        run = subprocess.run([sys.executable, "-c", _BASELINE, str(path), str(inputs)], env=env,
                                             capture_output=True, text=True, check=True, cwd=tmp)
                        times[n]["baseline"].append(json.loads(run.stdout.strip().splitlines()[-1])["seconds"])
            print(f"\n{name}: {model.network.weights:,} weights")
            for n in threads:
                _report(times[n], args.images, f"{n} BLAS thread{'s' if n > 1 else ''}" if n else None)
            if args.chunk_mib:
                from xbarsim.functional import matrix

                sizes = [float(v) for v in args.chunk_mib.split(",")]
                chunked = {size: [] for size in sizes}
                original = matrix._CHUNK_BYTES
                try:
                    for _ in range(args.repeats):
                        for size in sizes:
                            matrix._CHUNK_BYTES = int(size * (1 << 20))
                            start = time.perf_counter()
                            chip.forward(x, batch=batch)
                            chunked[size].append(time.perf_counter() - start)
                finally:
                    matrix._CHUNK_BYTES = original
                for size in sizes:
                    relative = [t / f for t, f in zip(chunked[size], chunked[sizes[0]])]
                    print(f"  chunk {size:g} MiB: {statistics.median(chunked[size]):.3f} s median per pass; "
                          f"time / {sizes[0]:g} MiB's {min(relative):.2f} / {statistics.median(relative):.2f} / "
                          f"{max(relative):.2f}")
            if args.breakdown:
                if args.semantics != "chip":
                    raise SystemExit("--breakdown times the chip semantics' steps only")
                roots = [("engine", Path(__file__).resolve().parents[1])]
                roots += [("baseline", Path(args.baseline))] if args.baseline else []
                for label, root in roots:
                    spent = breakdown(path, inputs, args.breakdown, root, tmp)
                    floor = args.breakdown * floor_seconds(model, crossbar, args.images)
                    steps = ", ".join(f"{key} {value / floor:.2f}" for key, value in spent.items() if key != "total")
                    print(f"  {label} steps / floor time (wall time counters, {args.breakdown} passes): "
                          f"whole pass {spent['total'] / floor:.2f}; {steps}")
            print(f"  load average {os.getloadavg()[0]:.1f} after this model")


def _blas_threads(n):
    """A context limiting BLAS to ``n`` threads (threadpoolctl), or one doing nothing for None."""
    if n is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(n, user_api="blas")


def _report(times, images: int, label) -> None:
    def spread(values):
        return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"

    if label:
        print(f" {label}:")
    per_image = [images / t for t in times["engine"]]
    ratio = [e / f for e, f in zip(times["engine"], times["floor"])]
    print(f"  engine   {spread(per_image)} images/s (min / median / max)")
    print(f"  floor    {spread([images / t for t in times['floor']])} images/s")
    print(f"  tile floor {spread([images / t for t in times['tile floor']])} images/s")
    print(f"  engine / floor time  {spread(ratio)}; fastest engine / fastest floor "
          f"{min(times['engine']) / min(times['floor']):.2f} (the least loaded moments of each)")
    print(f"  engine / tile floor time  {spread([e / f for e, f in zip(times['engine'], times['tile floor'])])}")
    if times["baseline"]:
        before = [images / t for t in times["baseline"]]
        speedup = [b / e for b, e in zip(times["baseline"], times["engine"])]
        print(f"  baseline {spread(before)} images/s; speed-up {spread(speedup)}")
        print(f"  baseline / floor time  {spread([b / f for b, f in zip(times['baseline'], times['floor'])])}; "
              f"fastest baseline / fastest floor {min(times['baseline']) / min(times['floor']):.2f}")

if __name__ == "__main__":
    main()
