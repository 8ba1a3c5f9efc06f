"""Accuracy-study speed: images per second through the crossbar model, and the standard depth study.

* images/s: the base study model (10 weight layers, width 16, kernel 3) on each dataset's test
  set through the ``study`` crossbar (8-bit weights in two 4-bit cells, 8-bit inputs through
  1-bit DACs, 10-bit ADC, 10% programming variation); programming excluded, median of 3.
* the standard depth study: 4 models x 5 sigmas x 5 draws on the whole test set, as
  ``xbarsim accuracy --family depth --sweep variation`` runs it (sigma 0 is evaluated once).

    python benchmarks/bench_accuracy.py [--study] [--dataset digits]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, installed or not
import xbarsim  # noqa: E402
from xbarsim.studies.accuracy import family_settings, load_study_model, run_study  # noqa: E402
from xbarsim.studies.data import load_dataset  # noqa: E402
from xbarsim.studies.families import family  # noqa: E402


def images_per_second(dataset: str) -> float:
    model, _ = load_study_model(family("depth", dataset)[1])
    data = load_dataset(dataset)
    crossbar = xbarsim.evolve(xbarsim.load_arch("study"), {"crossbar.variation_sigma": 0.1}).crossbar
    programmed = model.program(crossbar, data.calibration(), rng=0)
    programmed.forward(data.x_test[:32])
    times = []
    for _ in range(3):
        start = time.perf_counter()
        programmed.forward(data.x_test)
        times.append(time.perf_counter() - start)
    return len(data.x_test) / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--study", action="store_true", help="also time the standard depth study")
    parser.add_argument("--dataset", choices=("digits", "mnist1d", "both"), default="both")
    args = parser.parse_args()
    datasets = ("digits", "mnist1d") if args.dataset == "both" else (args.dataset,)
    for dataset in datasets:
        print(f"{dataset}: {images_per_second(dataset):,.0f} images/s through the crossbar model (base model)")
    if args.study:
        for dataset in datasets:
            settings = family_settings("depth", dataset, xbarsim.load_arch("study"))
            start = time.perf_counter()
            result = run_study(settings, dataset, "variation", draws=5)
            evaluations = len(settings) * (1 + 5 * (len(result.columns) - 1))
            print(f"{dataset}: standard depth study {time.perf_counter() - start:.1f} s "
                  f"({evaluations} programmings x {len(load_dataset(dataset).y_test)} test images)")


if __name__ == "__main__":
    main()
