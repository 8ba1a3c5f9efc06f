"""Transformer inference speed through the crossbar model: what writing the products of two
activations into crossbars costs against computing them on the digital unit.

The digits ViT of the transformer study (seed 0; 2 blocks, 2 heads, 17 tokens of 32 features:
4 products of two activations per image, 8 writes per image) on the 360 test images, through
the ``study`` crossbar with 10% programming variation: images per second in float, with
products digital, and with products written into crossbars (one write per image and head);
the three cases interleaved, min / median / max over the repeats, and the ratios within each
repeat. Programming (and ADC calibration) is excluded.

    python benchmarks/bench_transformer.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, installed or not
from _timing import interleaved  # noqa: E402  (benchmarks/, the script's own folder)
import xbarsim  # noqa: E402
from xbarsim.studies.data import load_dataset  # noqa: E402
from xbarsim.studies.transformer import comparison_models  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    model, _ = comparison_models("digits", seeds=(0,))["transformer"][0]
    data = load_dataset("digits")
    crossbar = dataclasses.replace(xbarsim.load_arch("study").crossbar, variation_sigma=0.1)
    chips = {mode: model.program(crossbar, data.calibration(), rng=0, dynamic=mode) for mode in ("digital", "crossbar")}
    cases = {"float": lambda: model.forward(data.x_test),
             "digital": lambda: chips["digital"].forward(data.x_test, rng=1),
             "crossbar": lambda: chips["crossbar"].forward(data.x_test, rng=1)}
    times = interleaved(cases, args.repeats)
    images = len(data.x_test)
    for name, values in times.items():
        rates = sorted(images / t for t in values)
        print(f"{name:9s} {rates[0]:8.0f} / {statistics.median(rates):8.0f} / {rates[-1]:8.0f} images/s "
              "(min / median / max)")
    for name, base in (("crossbar", "digital"), ("digital", "float")):
        ratios = sorted(a / b for a, b in zip(times[name], times[base]))
        print(f"{name} / {base} time: {ratios[0]:.2f} / {statistics.median(ratios):.2f} / {ratios[-1]:.2f}")


if __name__ == "__main__":
    main()
