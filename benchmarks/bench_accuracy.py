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
which scikit-learn brings; default: what the environment says, e.g. ``OMP_NUM_THREADS``).

    python benchmarks/bench_accuracy.py [--images 200] [--repeats 5] [--baseline DIR] [--semantics chip]
"""

from __future__ import annotations

import argparse
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
    parser.add_argument("--blas-threads", type=int, default=None, help="BLAS threads (default: the environment's)")
    args = parser.parse_args()
    if args.blas_threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.blas_threads, user_api="blas")
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
            times = {"engine": [], "floor": [], "tile floor": [], "baseline": []}
            for _ in range(args.repeats):
                start = time.perf_counter()
                chip.forward(x, batch=batch)
                times["engine"].append(time.perf_counter() - start)
                times["floor"].append(floor_seconds(model, crossbar, args.images))
                times["tile floor"].append(floor_seconds(model, crossbar, args.images, tiles=True))
                if args.baseline:
                    env = dict(os.environ, PYTHONPATH=str(Path(args.baseline).resolve()))
                    run = subprocess.run([sys.executable, "-c", _BASELINE, str(path), str(inputs)], env=env,
                                         capture_output=True, text=True, check=True, cwd=tmp)
                    times["baseline"].append(json.loads(run.stdout.strip().splitlines()[-1])["seconds"])

            def spread(values):
                return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"

            per_image = [args.images / t for t in times["engine"]]
            ratio = [e / f for e, f in zip(times["engine"], times["floor"])]
            print(f"\n{name}: {model.network.weights:,} weights")
            print(f"  engine   {spread(per_image)} images/s (min / median / max)")
            print(f"  floor    {spread([args.images / t for t in times['floor']])} images/s")
            print(f"  tile floor {spread([args.images / t for t in times['tile floor']])} images/s")
            print(f"  engine / floor time  {spread(ratio)}")
            print(f"  engine / tile floor time  {spread([e / f for e, f in zip(times['engine'], times['tile floor'])])}")
            if args.baseline:
                before = [args.images / t for t in times["baseline"]]
                speedup = [b / e for b, e in zip(times["baseline"], times["engine"])]
                print(f"  baseline {spread(before)} images/s; speed-up {spread(speedup)}")
                print(f"  baseline / floor time  {spread([b / f for b, f in zip(times['baseline'], times['floor'])])}")


if __name__ == "__main__":
    main()
