"""Functional-model speed against the BLAS floor, measured in one run (ratios, not seconds).

Standard case (issue #2): 1024 x 1024 weights on one 1024 x 1024 array, 1024 input vectors,
8-bit unsigned inputs through 1-bit DACs (8 input cycles), 8-bit weights in 2-bit cells (4
slices), offset mapping, 8-bit ADC, 5% programming variation.

The floor is the time of the same count of float32 matrix products as the hardware performs
(input cycles x weight slices = 32 products of (1024 x 1024) @ (1024 x 1024)). Runs are
interleaved (floor, noiseless, noisy, floor, ...) so that machine load affects all alike; the
script prints medians and the ratios of medians.

Targets: noiseless <= 1.5x the floor; with 1% read noise <= 2x the noiseless time.

    python benchmarks/bench_mvm.py [--repeats 7] [--vectors 1024]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, installed or not
from _timing import interleaved  # noqa: E402  (benchmarks/, the script's own folder)
from xbarsim.functional import CrossbarSpec, program  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="interleaved repetitions (default 7)")
    parser.add_argument("--vectors", type=int, default=1024, help="input vectors (default 1024)")
    args = parser.parse_args()

    size = 1024
    spec = CrossbarSpec(rows=size, cols=size, cell_bits=2, weight_bits=8, input_bits=8, dac_bits=1,
                        adc_bits=8, weight_mapping="offset", variation_sigma=0.05)
    noisy_spec = CrossbarSpec(**{**spec.to_dict(), "read_noise_sigma": 0.01})
    rng = np.random.default_rng(0)
    weights = rng.integers(-128, 128, (size, size))
    inputs = rng.integers(0, 256, (args.vectors, size))
    quiet = program(weights, spec, rng=1)
    noisy = program(weights, noisy_spec, rng=1)
    products = spec.input_cycles * spec.slices
    a = rng.random((args.vectors, size), dtype=np.float32)
    b = rng.random((size, size), dtype=np.float32)

    def floor() -> None:
        for _ in range(products):
            a @ b

    cases = {"floor": floor, "noiseless": lambda: quiet.mvm(inputs), "read noise 1%": lambda: noisy.mvm(inputs)}
    times = interleaved(cases, args.repeats, warmup=True)  # warm-up: caches, thread pools and BLAS
    median = {name: statistics.median(values) for name, values in times.items()}

    print(f"case: {size}x{size} weights, {args.vectors} vectors, {spec.input_cycles} input cycles x "
          f"{spec.slices} slices = {products} products; median of {args.repeats} interleaved runs")
    for name, value in median.items():
        spread = f"{min(times[name]):.3f}..{max(times[name]):.3f}"
        print(f"  {name:14s} {value:7.3f} s   (range {spread} s)")
    ratio = median["noiseless"] / median["floor"]
    noise_ratio = median["read noise 1%"] / median["noiseless"]
    print(f"noiseless / floor      = {ratio:.2f}   (target <= 1.5)")
    print(f"read noise / noiseless = {noise_ratio:.2f}   (target <= 2.0)")


if __name__ == "__main__":
    main()
