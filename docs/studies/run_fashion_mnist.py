"""Rerun the Fashion-MNIST studies of ``docs/accuracy-studies.md`` under one crossbar semantics.

    python docs/studies/run_fashion_mnist.py --semantics chip      # then --semantics neurosim

Six sweeps over conductance variation on the ``study`` chip, written to
``docs/studies/fashion-mnist/<semantics>/``: the depth, width and kernel families, weight bits
and ADC bits (rows, base architecture), and the multi-exit model with its early-exit policy.
They share one evaluation cache, so the base architecture, which appears in five of them, is
evaluated once per setting. Each is exactly what ``xbarsim accuracy`` runs with the same
options (the command is printed with each table). Wall time per sweep is printed and kept in
the JSON files.

With ``--reuse``, the (row, training seed) pairs the sweep's existing JSON file holds are taken
from it and only the others are evaluated (the models trained since): each evaluation depends
only on (model, setting, draw), so the table equals a full rerun. As a guard, one reused pair
is evaluated again at the last column and must give the stored accuracies exactly.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout, installed or not
import xbarsim  # noqa: E402
from xbarsim.studies.families import family  # noqa: E402
from xbarsim.studies.accuracy import (Semantics, Setting, family_settings, load_study, parameter_settings,  # noqa: E402
                                     run_study, write_study)

SIGMAS = (0.0, 0.05, 0.1, 0.15, 0.2)
SWEEPS = (("family", "depth"), ("rows", "weight-bits"), ("rows", "adc-bits"), ("family", "exits"),
          ("family", "width"), ("family", "kernel"))
ROWS = {"weight-bits": (3, 4, 5, 6, 8), "adc-bits": (5, 6, 7, 8, 10)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--semantics", choices=("chip", "neurosim"), required=True)
    parser.add_argument("--test-images", type=int, default=None, help="default: the study default")
    parser.add_argument("--draws", type=int, default=None, help="default: the study default")
    parser.add_argument("--sigmas", default=None, help="conductance variation columns (comma-separated; default: "
                        + ",".join(map(str, SIGMAS)) + ")")
    parser.add_argument("--only", default=None, help="run only these sweeps (comma-separated: depth, width, ...)")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "fashion-mnist"))
    parser.add_argument("--reuse", action="store_true",
                        help="take the cells of (row, seed) pairs already in the sweep's JSON file from there")
    args = parser.parse_args()
    arch = xbarsim.load_arch("study")
    semantics = Semantics(args.semantics)
    out = Path(args.out) / args.semantics
    sigmas = tuple(float(v) for v in args.sigmas.split(",")) if args.sigmas else SIGMAS
    cache: dict = {}
    for kind, what in SWEEPS:
        if args.only and what not in args.only.split(","):
            continue
        if kind == "family":
            settings = family_settings(what, "fashion-mnist", arch, trained_only=True)
            if not settings:
                print(f"{what}: no trained model, skipped", flush=True)
                continue
        else:
            settings = parameter_settings(what, "fashion-mnist", arch, values=ROWS[what])
        command = (f"xbarsim accuracy --{kind} {what} --sweep variation --semantics {args.semantics}"
                   + (f" --row-values {','.join(map(str, ROWS[what]))}" if kind == "rows" else "")
                   + (f" --test-limit {args.test_images}" if args.test_images else "")
                   + (f" --draws {args.draws}" if args.draws else "")
                   + (f" --values {args.sigmas}" if args.sigmas else ""))
        earlier_file = out / f"{what}-variation.json"
        earlier = load_study(earlier_file) if args.reuse and earlier_file.is_file() and what != "exits" else None
        start = time.perf_counter()
        result = run_study(settings, "fashion-mnist", "variation", values=sigmas, draws=args.draws,
                           title=f"Fashion-MNIST: {what}, {args.semantics} semantics", test_limit=args.test_images,
                           semantics=semantics, early_exit_threshold=0.5 if what == "exits" else None, cache=cache,
                           progress=lambda text: print(f"  {text}", file=sys.stderr, flush=True), reuse=earlier)
        if earlier is not None:
            check_reuse(earlier, settings, semantics, sigmas, args)
            result.extra["reused_from"] = {row: seeds for row, seeds in earlier.extra.get("row_seeds", {}).items()
                                           if row in result.rows}
        result.extra["command"] = command
        if kind == "family":
            result.extra["untrained"] = sorted({spec.architecture for spec in family(what, "fashion-mnist")
                                                if not any(s.architecture == spec.architecture and s.path.is_file()
                                                           for s in family(what, "fashion-mnist"))})
        result.extra["wall_seconds"] = time.perf_counter() - start
        files = write_study(result, out, f"{what}-variation", overwrite=True)
        print(f"{what}: {result.extra['wall_seconds']:.0f} s wall -> {files['table']}", flush=True)
    return 0


def check_reuse(earlier, settings, semantics, sigmas, args) -> None:
    """Evaluate the first reused (row, seed) again at the last column; stop if it differs."""
    row_seeds = earlier.extra.get("row_seeds", {})
    for setting in settings:
        shared = [s for s in setting.seeds if s in row_seeds.get(setting.label, [])]
        if shared:
            index = setting.seeds.index(shared[0])
            single = Setting(setting.label, (setting.models[index],), (setting.metas[index],), setting.crossbar,
                             setting.noise, setting.output, (shared[0],))
            again = run_study([single], "fashion-mnist", "variation", values=sigmas[-1:], draws=args.draws,
                              test_limit=args.test_images, semantics=semantics)
            stored = earlier.accuracies[setting.label][earlier.columns.index(sigmas[-1])]
            stored = stored[row_seeds[setting.label].index(shared[0])]
            if again.accuracies[setting.label][0][0] != stored:
                raise SystemExit(f"reuse check failed: {setting.label} seed {shared[0]} at sigma {sigmas[-1]:g} "
                                 f"gives {again.accuracies[setting.label][0][0]}, the stored file {stored}")
            print(f"  reuse check: {setting.label} seed {shared[0]} at sigma {sigmas[-1]:g} reproduces {stored}",
                  file=sys.stderr, flush=True)
            return


if __name__ == "__main__":
    sys.exit(main())
