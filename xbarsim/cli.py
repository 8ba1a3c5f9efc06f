"""Command line: ``xbarsim run | replay | report | accuracy | mvm | presets | check | energy-table | validate |
sweep | sweep-report``.

The only place where errors become exit codes:

* 0: done;
* 1: a user failure: a bad spec, an unmappable workload, a damaged trace, an output that
  cannot be written, a run too large for the memory (an :class:`~xbarsim.errors.XbarsimError`),
  or a file the system refuses (``OSError``); one line on stderr;
* 2: bad usage: unknown options, malformed or conflicting arguments (argparse's one line);
* 3: an internal error, i.e. a bug in xbarsim: "internal error in xbarsim: please report"
  and the traceback.

``--debug`` shows the traceback of every failure.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

from . import __version__
from .config import arch_presets, dump_yaml, evolve, load_arch
from .errors import ArgumentError, XbarsimError, one_line
from .outputs import Output, check_destination

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_BUG = 0, 1, 2, 3


def _shape(text: str):
    try:
        k, m = (int(v) for v in text.lower().split("x"))
        if k < 1 or m < 1:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected KxM with positive integers, e.g. 512x256, got {text!r}") from None
    return k, m


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 1 << 63:
        raise argparse.ArgumentTypeError(f"expected an integer 0..2**63-1, got {text!r}")
    return value


def _mvm_variants(crossbar):
    """The settings compared by ``xbarsim mvm``: as specified, then one non-ideality at a time."""
    variants = [("as specified", crossbar)]
    variants.append(("programming variation 5%", evolve(crossbar, {"variation_sigma": 0.05})))
    variants.append(("read noise 1%", evolve(crossbar, {"read_noise_sigma": 0.01})))
    if crossbar.adc_bits > 1:
        fewer = crossbar.adc_bits - 1
        variants.append((f"ADC {fewer} bits", evolve(crossbar, {"adc_bits": fewer})))
    return variants


def cmd_mvm(args) -> int:
    """Run the functional model on random integers and compare with the exact product."""
    from .functional import exact_mvm, program

    from .functional.matrix import program_memory
    from .limits import require_memory

    arch = load_arch(args.arch)
    xb = arch.crossbar
    k, m = args.size
    # the weights, inputs and exact products (int64 and float64), then the programmed matrix
    require_memory("--size and --vectors", 8 * (2 * k * m + 2 * args.vectors * k + 3 * args.vectors * m)
                   + program_memory(xb, k, m), f"a {k:,}x{m:,} matrix and {args.vectors:,} vectors on the "
                   f"{xb.rows:,}x{xb.cols:,} arrays of '{arch.name}'")
    rng = np.random.default_rng(args.seed)
    half = 1 << (xb.weight_bits - 1)
    weights = rng.integers(-half, half, (k, m))
    if xb.signed_inputs:
        lo, hi = -(1 << (xb.input_bits - 1)), 1 << (xb.input_bits - 1)
    else:
        lo, hi = 0, 1 << xb.input_bits
    inputs = rng.integers(lo, hi, (args.vectors, k))
    exact = exact_mvm(inputs, weights).astype(np.float64)
    scale = float(np.sqrt(np.mean(exact**2))) or 1.0

    print(f"xbarsim {__version__}: functional model of the '{arch.name}' crossbar")
    print(f"  array {xb.rows}x{xb.cols}, {xb.cell_bits}-bit cells, {xb.weight_bits}-bit weights "
          f"({xb.weight_mapping} mapping, {xb.slices} slices), {xb.input_bits}-bit "
          f"{'signed' if xb.signed_inputs else 'unsigned'} inputs through {xb.dac_bits}-bit DACs "
          f"({xb.input_cycles} cycles), {xb.adc_bits}-bit ADC ({xb.adc_range}, {xb.adc_position}, "
          f"{xb.column_encoding} columns; exact needs {xb.exact_adc_bits})")
    print(f"  workload: {k}x{m} random weights, {args.vectors} random input vectors (seed {args.seed})")
    rows = []
    for label, spec in _mvm_variants(xb):
        start = time.perf_counter()
        calibration = inputs if spec.adc_range == "calibrated" else None
        pm = program(weights, spec, rng=args.seed, calibration=calibration)
        y, stats = pm.mvm(inputs, stats=True)
        seconds = time.perf_counter() - start
        error = y - exact
        rows.append((label, np.abs(error).max(), np.sqrt(np.mean(error**2)), seconds, stats))
    t = pm.tiling
    print(f"  mapping: {t.row_tiles} row tiles x {t.col_tiles} column tiles = {t.arrays} arrays, "
          f"{t.cells_used:,} cells, utilization {t.utilization:.1%}")
    s = rows[0][4]
    print(f"  per run: {s.array_reads:,} array reads, {s.adc_conversions:,} ADC conversions, "
          f"{s.active_row_fraction:.1%} of row drives active, {s.zero_bitplane_fraction:.1%} zero bit-planes")
    print()
    print(f"  {'setting':28s} {'max |error|':>14s} {'RMS error':>14s} {'RMS / RMS(exact)':>17s} "
          f"{'clipped':>9s} {'time':>8s}")
    for label, worst, rms, seconds, stats in rows:
        print(f"  {label:28s} {worst:14.6g} {rms:14.6g} {rms / scale:17.3e} "
              f"{stats.clipped_conversions:9d} {seconds:7.2f}s")
    return EXIT_OK


def _trained_model(name: str):
    """(Model, dataset) for a shipped study model name or a model .npz file."""
    from .nn.weights import load_model
    from .studies.families import StudyModel
    from .studies.families import parse_name

    path = Path(name)
    if path.suffix == ".npz" and path.is_file():
        model, meta = load_model(path)
        return model, meta.get("dataset")
    spec = parse_name(name)
    if not isinstance(spec, StudyModel) or not spec.path.is_file():
        raise ArgumentError(f"--model: expected a study model name (e.g. digits-d10-w16-k3; see "
                            f"xbarsim presets) or a model .npz file, got {name!r}")
    with spec.path.open("rb") as handle:
        model, meta = load_model(handle)
    return model, spec.dataset


def cmd_run(args) -> int:
    """Simulate a network on a chip and print the summary."""
    from .simulation import check_arguments, simulate

    workload, inputs, weights = args.workload or "resnet18", None, None
    batch = args.batch or 1
    check_arguments(batch=batch, schedule=args.schedule, detail=args.detail, seed=args.seed)
    if args.out is not None:
        check_destination(args.out, what="trace", overwrite=args.force)
    if args.model:
        from .studies.data import load_dataset

        weights, dataset = _trained_model(args.model)
        if dataset is None:
            raise ArgumentError(f"--model: {args.model} does not say which dataset it was trained on")
        workload = weights.network
        inputs = load_dataset(dataset).x_test[: args.images or 64]
        batch = len(inputs)
    result = simulate(args.arch, workload, batch=batch, schedule=args.schedule, seed=args.seed,
                      energy=args.energy, trace=args.out, detail=args.detail, overwrite=args.force,
                      progress=not args.quiet, inputs=inputs, weights=weights, decode=args.decode)
    print(result)
    if result.data_stats:
        total = result.data_stats["total"]
        print(f"\n  data-aware: {batch} real inputs; "
              f"{total['active_row_fraction']:.1%} of row drives carry a non-zero digit, "
              f"{total['read_fraction']:.1%} of the array reads and "
              f"{total['executed_item_fraction']:.1%} of the input cycles executed"
              + (" (zero skipping on)" if result.arch.pe.zero_skip else " (zero skipping off)"))
    if result.trace_path is not None:
        print(f"\n  trace written to {result.trace_path}")
    return EXIT_OK


def _differences(old, new) -> List[str]:
    """Lines comparing the headline numbers of two runs."""
    from .result import _energy, _time

    rows = [("cycles", old["cycles"], new.cycles, lambda v: f"{int(v):,}"),
            ("latency", old["latency_s"], new.latency_s, _time),
            ("energy per batch", old["energy_pj"], new.energy_pj, _energy),
            ("average power", old["power_w"], new.power_w, lambda v: f"{v:.3g} W"),
            ("TOPS/W", old["tops_per_w"], new.tops_per_w, lambda v: f"{v:.3g}"),
            ("area", old["area_mm2"], new.area_mm2, lambda v: f"{v:.2f} mm2"),
            ("peak power", old["peak_power_w"], new.peak_power_w, lambda v: f"{v:.3g} W")]
    lines = []
    for label, a, b, fmt in rows:
        if a == b:
            change = "unchanged"
        else:
            change = f"{(b - a) / a:+.1%}" if a else "new"
        lines.append(f"  {label:18s} {fmt(a):>16s} -> {fmt(b):>16s}  {change}")
    return lines


def cmd_replay(args) -> int:
    """Re-price and/or re-time a recorded run."""
    from .replaying import replay
    from .trace.reader import open_trace

    if args.out is not None:
        check_destination(args.out, what="trace", overwrite=args.force)
    with open_trace(args.trace) as trace:
        recorded = dict(trace.summary)
        result = replay(trace, energy=args.energy, arch=args.arch, out=args.out, overwrite=args.force)
    print(result)
    what = [w for w, given in (("re-priced", args.energy), ("re-timed", args.arch)) if given] or ["reproduced"]
    print(f"\n  {' and '.join(what)} from {args.trace}; differences from the recorded run:")
    for line in _differences(recorded, result):
        print(line)
    if result.trace_path is not None:
        print(f"\n  trace written to {result.trace_path}")
    return EXIT_OK


def cmd_report(args) -> int:
    """Figures and a Markdown summary of a trace."""
    from .report import write_report

    out = args.out or str(Path(args.trace).with_suffix("")) + "-report"
    files = write_report(args.trace, out, overwrite=args.force)
    print(f"report of {args.trace} written to {out}/:")
    for name, path in files.items():
        print(f"  {path.name}")
    return EXIT_OK


def _values(text: str):
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, e.g. 0,0.05,0.1, got {text!r}") from None


def _progress_lines(cells: int):
    """A progress callback printing each finished cell with its number and the time left (extrapolated)."""
    started = time.perf_counter()
    done = [0]

    def say(text: str) -> None:
        done[0] += 1
        elapsed = time.perf_counter() - started
        left = elapsed / done[0] * (cells - done[0])
        eta = f", about {left / 60:.0f} min left" if left >= 90 else (f", about {left:.0f} s left" if left else "")
        print(f"  [{done[0]}/{cells}, {elapsed:.0f} s{eta}] {text}", file=sys.stderr, flush=True)
    return say


def cmd_accuracy(args) -> int:
    """Accuracy of trained study models through the crossbar model, swept over one parameter."""
    from .studies.accuracy import PARAMETERS, Semantics, family_settings, parameter_settings, run_study, \
        study_files, write_study
    from .studies.data import load_dataset

    what = args.rows or args.family or "depth"
    seeds = _comparison_seeds(args, what)
    overrides = tuple((key, value) for key, value in (("variation_draw", args.variation_draw),
                                                      ("on_off_ratio", args.on_off_ratio),
                                                      ("adc_range", args.adc_range)) if value is not None)
    suffix = ("" if args.semantics == "chip" else f"-{args.semantics}") + ("-custom" if overrides else "")
    name = f"{args.dataset}-{what}-{args.sweep}{suffix}"
    out = Path(args.out or f"accuracy-{name}")
    check_destination(out, what="study results", members=list(study_files(name).values()), overwrite=args.force)
    arch = load_arch(args.arch)
    if what == "transformer":
        return _transformer_study(args, arch, seeds, out, name)
    load_dataset(args.dataset)  # a missing dataset is the first thing to say
    semantics = Semantics(args.semantics, overrides, args.batch)
    semantics.crossbar(arch.crossbar)  # a bad combination fails here, before any work
    if args.rows:
        settings = parameter_settings(args.rows, args.dataset, arch, values=args.row_values)
    else:
        settings = family_settings(what, args.dataset, arch, trained_only=True)
        if not settings:
            raise ArgumentError(f"--family {what}: no trained {args.dataset} model in this family; train them with "
                                "python -m xbarsim.studies.train (needs PyTorch)")
    rows = len({id(s.models) for s in settings})  # the exits of one model share every forward pass
    cells = rows * len(args.values or PARAMETERS[args.sweep].values)
    say = (lambda text: None) if args.quiet else _progress_lines(cells)
    limit = None if args.test_limit is None else (args.test_limit or 10 ** 9)
    if not args.quiet:
        print(f"  {rows} models x {cells // max(1, rows)} values x up to {args.draws or 'the default'} draws per "
              f"seed on {'the first ' + str(args.test_limit) if args.test_limit else 'the default'} {args.dataset} "
              f"test examples: {cells} cells, one line each as it finishes, with the time left",
              file=sys.stderr, flush=True)
    exits = what == "exits" and not args.rows and args.sweep == "variation"
    result = run_study(settings, args.dataset, args.sweep, values=args.values, draws=args.draws,
                       title=f"{args.dataset}: {what} x {args.sweep} on {arch.name}", progress=say,
                       test_limit=limit, semantics=semantics, early_exit_threshold=args.threshold if exits else None)
    files = write_study(result, out, name, overwrite=args.force)
    print(result.table())
    if "early_exit" in result.extra:
        policy = result.extra["early_exit"]
        exits = len(policy["shares"][0])
        print(f"\nearly exit at softmax entropy < {policy['threshold']:g} nats: accuracy [95% CI] and share of inputs "
              "per exit")
        print("| sigma | accuracy | " + " | ".join(f"exit {i + 1}" for i in range(exits)) + " |")
        print("|---|---|" + "---|" * exits)
        for sigma, acc, low, high, shares in zip(policy["sigmas"], policy["accuracy"], policy["low"], policy["high"],
                                                  policy["shares"]):
            print(f"| {sigma:g} | {100 * acc:.1f} [{100 * low:.1f}, {100 * high:.1f}] | "
                  + " | ".join(f"{100 * v:.0f}%" for v in shares) + " |")
    print(f"\n{result.seconds:.1f} s; wrote {files['table']}, {files['json']}, {files['plot']}")
    return EXIT_OK


def _comparison_seeds(args, what: str):
    """The training seeds ``--family transformer`` uses (None for other studies, which take no
    ``--seeds`` or ``--dynamic``)."""
    from .studies.transformer import SEEDS

    if what != "transformer":
        for flag, value in (("--seeds", args.seeds), ("--dynamic", args.dynamic)):
            if value is not None:
                raise ArgumentError(f"{flag}: expected only with --family transformer, got it with {what}")
        return None
    if args.sweep != "variation":
        raise ArgumentError(f"--sweep: expected variation with --family transformer, got {args.sweep}")
    if args.dataset not in SEEDS:
        raise ArgumentError(f"--dataset: expected {' or '.join(SEEDS)} with --family transformer (the datasets its "
                            f"models are trained on), got {args.dataset}")
    shipped = SEEDS[args.dataset]
    if args.seeds is not None and args.seeds > len(shipped):
        raise ArgumentError(f"--seeds: expected 1..{len(shipped)} (the trained seeds shipped for {args.dataset}), "
                            f"got {args.seeds}")
    return shipped[:args.seeds] if args.seeds else shipped


def _transformer_study(args, arch, seeds, out: Path, name: str) -> int:
    """``xbarsim accuracy --family transformer``: the transformer-vs-CNN comparison."""
    from .studies.transformer import run_comparison

    from .studies.accuracy import DEFAULT_DRAWS

    dynamic = args.dynamic or ("digital", "crossbar")
    sigmas = args.values or (0.0, 0.05, 0.1, 0.15, 0.2)
    draws = args.draws or DEFAULT_DRAWS[args.dataset]
    cells = (len(dynamic) + 1) * len(sigmas)
    say = (lambda text: None) if args.quiet else _progress_lines(cells)
    if not args.quiet:
        print(f"  {len(dynamic) + 1} rows x {len(sigmas)} sigmas x {len(seeds)} seeds x {draws} draws on "
              f"{'the first ' + str(args.test_limit) if args.test_limit else 'all'} {args.dataset} test examples: "
              f"{cells} cells, one line each as it finishes, with the time left", file=sys.stderr, flush=True)
    result = run_comparison(args.dataset, arch, sigmas=sigmas, draws=draws, seeds=seeds, dynamic=dynamic,
                            test_limit=args.test_limit or None, progress=say)
    files = result.write(out, name, overwrite=args.force)
    print(result.table())
    print(f"\n{result.seconds:.1f} s; wrote {files['table']}, {files['json']}, {files['plot']}")
    return EXIT_OK


def _dynamic_modes(text: str):
    modes = tuple(v.strip() for v in text.split(",") if v.strip())
    if not modes or any(m not in ("digital", "crossbar") for m in modes):
        raise argparse.ArgumentTypeError(f"expected digital, crossbar or digital,crossbar, got {text!r}")
    return modes


def cmd_presets(args) -> int:
    from .energy import energy_presets
    from .workload import zoo_names

    print("architectures:  " + ", ".join(arch_presets()))
    print("energy tables:  " + ", ".join(energy_presets()))
    print("networks:       " + ", ".join(zoo_names()))
    from .studies.families import MODEL_PACKAGE
    from importlib import resources
    models = sorted(p.name[:-4] for p in resources.files(MODEL_PACKAGE).iterdir() if p.name.endswith(".npz"))
    print("trained models: " + ", ".join(models))
    return EXIT_OK


def cmd_sweep(args) -> int:
    """Run a design-space sweep (local Dask cluster, remote scheduler or serial) into a results folder."""
    from .sweeps.run import dry_run_lines, run_sweep

    out = args.out or f"{Path(args.spec).stem}.parquet"
    if args.dry_run:
        print("\n".join(dry_run_lines(args.spec, out, force=args.force, traces=args.traces)))
        return EXIT_OK
    say = (lambda text: None) if args.quiet else (lambda text: print(text, file=sys.stderr, flush=True))
    try:
        run = run_sweep(args.spec, out, scheduler=args.scheduler, workers=args.workers, force=args.force,
                        traces=args.traces, progress=not args.quiet, say=say)
    except KeyboardInterrupt:
        print(f"xbarsim: sweep interrupted; finished points are kept in {out}: the same command resumes",
              file=sys.stderr)
        raise
    counts = run.counts()
    print(f"{run.points} points: {counts['ok']} ok, {counts['invalid']} invalid, {counts['error']} failed "
          f"({run.cached} from earlier runs) in {run.seconds:.1f} s; results in {out}")
    if counts["error"]:
        print(f"xbarsim: {counts['error']} points failed (see the error column); the same command retries them",
              file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def cmd_sweep_report(args) -> int:
    """Pareto-front figures and a Markdown summary of a sweep's results."""
    from .sweeps.report import sweep_report

    files = sweep_report(args.results, args.out)
    print(f"wrote {files['report']}" + "".join(f", {path.name}" for name, path in files.items() if name != "report"))
    return EXIT_OK


def _add_sweep_parsers(sub) -> None:
    sweep = sub.add_parser("sweep", help="run a design-space sweep (Dask: local cluster or a scheduler)",
                           description="Run every point of a sweep spec (docs/sweeps.md) and append one row per "
                                       "point to a Parquet results folder as points finish. Points already in the "
                                       "folder are skipped, so an interrupted sweep resumes where it stopped.",
                           epilog="examples:\n  xbarsim sweep adc.yaml\n  xbarsim sweep adc.yaml --out adc.parquet "
                                  "--workers 8\n  xbarsim sweep adc.yaml --scheduler tcp://10.0.0.5:8786\n"
                                  "  xbarsim sweep adc.yaml --scheduler serial --traces traces/adc",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    sweep.add_argument("spec", help="sweep spec (YAML)")
    sweep.add_argument("--out", default=None, metavar="RESULTS.parquet",
                       help="results folder, a Parquet dataset (default: adc.parquet for adc.yaml, in this folder)")
    sweep.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="a running Dask scheduler (tcp://host:8786 or a scheduler file), or 'serial' to run in "
                            "this process (default: start a local cluster)")
    sweep.add_argument("--workers", type=_positive, default=None,
                       help="local cluster: worker processes (default: one per core); with --scheduler: wait for "
                            "this many workers")
    sweep.add_argument("--force", action="store_true", help="run every point again, even those already in the results")
    sweep.add_argument("--traces", default=None, metavar="DIR", help="keep each point's HDF5 trace in DIR, named by "
                       "its hash (a folder every worker can write)")
    sweep.add_argument("--dry-run", action="store_true", help="list the points and what would run, run nothing")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar or messages")
    sweep.set_defaults(func=cmd_sweep)
    report = sub.add_parser("sweep-report", help="Pareto fronts and a summary of sweep results",
                            description="Draw Pareto fronts (energy vs latency, accuracy vs energy, TOPS/W vs area) "
                                        "with the front highlighted and labelled by swept values, and write a "
                                        "Markdown summary of the best points per objective.",
                            epilog="example:\n  xbarsim sweep-report adc.parquet --out reports/adc",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("results", help="a results folder written by xbarsim sweep")
    report.add_argument("--out", default=None, metavar="DIR", help="output folder (default: RESULTS-report/)")
    report.set_defaults(func=cmd_sweep_report)


def cmd_check(args) -> int:
    """Validate an arch, workload or energy-table spec and print it resolved."""
    from .energy.table import load_energy
    from .workload.loader import load_workload

    kind = args.kind
    if kind == "auto":
        kind = _guess_kind(args.config)
    spec = {"arch": load_arch, "workload": load_workload, "energy": load_energy}[kind](args.config)
    print(f"# {args.config}: a valid {kind} spec; resolved:")
    print(dump_yaml(spec.to_dict()), end="")
    return EXIT_OK


def _guess_kind(name: str) -> str:
    """arch, workload or energy, from a preset name or a file's top-level keys."""
    from .config.loader import read_yaml
    from .energy.table import energy_presets
    from .workload.zoo import zoo_names

    if name in arch_presets():
        return "arch"
    if name in zoo_names():
        return "workload"
    if name in energy_presets():
        return "energy"
    path = Path(name)
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return "arch"  # the arch loader says what is wrong with the file
        data = read_yaml(text, str(path))
        if isinstance(data, dict):
            if "layers" in data:
                return "workload"
            if "components" in data:
                return "energy"
    return "arch"


def cmd_energy_table(args) -> int:
    """Write the resolved energy table of an arch: every entry's value and where it came from."""
    from .config.loader import dump_yaml as dump
    from .energy.table import load_energy, rescale, resolve
    from .units import parse

    arch = load_arch(args.arch)
    table = load_energy(args.energy if args.energy else arch.energy_table)
    if args.node:
        try:
            node = parse(args.node, "length")
        except ValueError:
            raise ArgumentError(f"--node: expected a technology node such as '22nm', got {args.node!r}") from None
        table = rescale(table, node)
    resolved = resolve(table, arch)
    text = (f"# energy table {resolved.name!r} resolved for arch {arch.name!r}"
            + (f" at {resolved.node * 1e9:g} nm" if resolved.node else "") + "; every entry names its source\n"
            + dump(resolved.to_dict()))
    if args.out:
        with Output(args.out, what="energy table", overwrite=args.force) as out:
            out.temp.write_text(text, encoding="utf-8")
            path = out.commit()
        print(f"energy table written to {path}")
    else:
        print(text, end="")
    return EXIT_OK


def cmd_validate(args) -> int:
    """Compare xbarsim with published chips and tools; fail when an error exceeds its tolerance."""
    from .energy.validation import CASES, failures, format_table, run_validation

    cases = [c for c in CASES if not args.case or c.name in args.case]
    unknown = sorted(set(args.case or ()) - {c.name for c in CASES})
    if unknown:
        raise ArgumentError(f"--case: expected some of {', '.join(c.name for c in CASES)}, got {', '.join(unknown)}")
    rows = run_validation(cases)
    print(format_table(rows))
    bad = failures(rows)
    if bad:
        print(f"\n{len(bad)} metric(s) beyond their case's tolerance: "
              + ", ".join(f"{c.name} {m.name} ({e:+.1%} > {m.tolerance:.0%})" for c, m, _, e in bad), file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def _add_run_options(run) -> None:
    run.add_argument("--arch", default="isaac", help="preset name or YAML file (default: isaac)")
    what = run.add_mutually_exclusive_group()
    what.add_argument("--workload", default=None, help="built-in network or YAML file (default: resnet18)")
    what.add_argument("--model", default=None, help="a trained model (study model name or .npz): simulate its "
                      "network on real test data (data-aware counts; instead of --workload and --batch)")
    run.add_argument("--batch", type=_positive, default=None, help="images per run (default: 1)")
    run.add_argument("--images", type=_positive, default=None, help="with --model: test images to run (default: 64)")
    run.add_argument("--schedule", choices=("layer", "pipeline"), default=None,
                     help="layer by layer, or ISAAC's inter-layer pipeline (default: the arch's own; isaac: pipeline)")
    run.add_argument("--energy", default=None, help="energy table preset or YAML file (default: the arch's)")
    run.add_argument("--seed", type=_seed, default=0, help="random seed, 0..2**63-1 (default: 0)")
    run.add_argument("--out", default=None, metavar="TRACE.h5", help="write an HDF5 trace of the run")
    run.add_argument("--detail", choices=("auto", "summary", "layer", "event"), default="auto",
                     help="trace detail (default: auto = every operation unless the run is very large)")
    run.add_argument("--force", action="store_true", help="replace an existing trace")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--decode", type=_decode_steps, default="exact", metavar="exact|N",
                     help="decoders: simulate every decode step (exact, the default) or N of them, the others "
                          "interpolated in the cache length")


def _decode_steps(text: str):
    if text == "exact":
        return text
    try:
        value = _positive(text)
    except argparse.ArgumentTypeError:
        value = 0
    if value < 2:
        raise argparse.ArgumentTypeError(f"expected 'exact' or an integer >= 2, got {text!r}")
    return value


def _check_run_options(args) -> None:
    """Conflicts argparse cannot express: --images needs --model, which replaces --batch."""
    parser = args.command_parser
    if args.images is not None and not args.model:
        parser.error("argument --images: only with --model (a batch of random images is --batch)")
    if args.model and args.batch is not None:
        parser.error("argument --batch: not allowed with argument --model (the batch is --images)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xbarsim",
        description="Cycle-level simulator of analog crossbar (compute-in-memory) DNN accelerators.",
        epilog="examples:\n  xbarsim run\n  xbarsim run --workload vgg8 --schedule pipeline --out traces/vgg8.h5\n"
               "  xbarsim replay traces/vgg8.h5 --energy my-table.yaml\n  xbarsim report traces/vgg8.h5\n"
               "  xbarsim mvm --arch tiny --size 40x10\n  xbarsim check my-chip.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"xbarsim {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def functional_options(p):
        p.add_argument("--arch", default="isaac", help="preset name or YAML file (default: isaac)")
        p.add_argument("--size", type=_shape, default=(512, 256), metavar="KxM",
                       help="weight matrix shape (default: 512x256)")
        p.add_argument("--vectors", type=_positive, default=256, help="input vectors (default: 256)")
        p.add_argument("--seed", type=_seed, default=0, help="random seed, 0..2**63-1 (default: 0)")

    run = sub.add_parser("run", help="simulate a network on a chip (default: resnet18 on isaac)",
                         description="Simulate inference of a network on an accelerator: latency, throughput, "
                                     "energy and its breakdown, area, utilization; optionally write a trace.",
                         epilog="examples:\n  xbarsim run\n  xbarsim run --workload vgg8 --schedule pipeline --batch 16"
                                "\n  xbarsim run --arch my-chip.yaml --workload my-net.yaml --out traces/run.h5",
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_run_options(run)
    run.set_defaults(func=cmd_run, command_parser=run)
    replay = sub.add_parser("replay", help="re-price or re-time a trace without re-running it",
                            description="Re-price a recorded run with another energy table and/or re-time it "
                                        "with an arch whose changes leave the mapping intact (clock, converter "
                                        "speed, bandwidths, latencies); prints the summary and the differences.",
                            epilog="examples:\n  xbarsim replay traces/run.h5\n"
                                   "  xbarsim replay traces/run.h5 --energy my-table.yaml\n"
                                   "  xbarsim replay traces/run.h5 --arch faster-adc.yaml --out traces/faster.h5",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    replay.add_argument("trace", help="a trace written by xbarsim run --out")
    replay.add_argument("--energy", default=None, help="energy table preset or YAML file to re-price with")
    replay.add_argument("--arch", default=None, help="arch preset or YAML file to re-time with")
    replay.add_argument("--out", default=None, metavar="NEW.h5", help="write the replayed run as a new trace")
    replay.add_argument("--force", action="store_true", help="replace an existing output trace")
    replay.set_defaults(func=cmd_replay)
    report = sub.add_parser("report", help="figures and a Markdown summary of a trace",
                            description="Write PNG figures (energy by component and by layer, activity timeline, "
                                        "per-layer utilization and latency) and report.md for a trace.",
                            epilog="example:\n  xbarsim report traces/run.h5 --out reports/run",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("trace", help="a trace written by xbarsim run --out")
    report.add_argument("--out", default=None, metavar="DIR", help="output folder (default: TRACE-report/)")
    report.add_argument("--force", action="store_true", help="replace an existing report folder")
    report.set_defaults(func=cmd_report)
    mvm = sub.add_parser("mvm", help="functional model against the exact product",
                         description="Program random weights, multiply random inputs, and report the "
                                     "error against the exact integer product for the crossbar as specified "
                                     "and with one non-ideality added at a time.",
                         epilog="example:\n  xbarsim mvm --arch tiny --size 40x10 --vectors 64",
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    functional_options(mvm)
    mvm.set_defaults(func=cmd_mvm)
    acc = sub.add_parser("accuracy", help="accuracy of trained models through the crossbar model",
                         description="Run trained study models (shipped with xbarsim) on a real test set through "
                                     "the crossbar functional model, sweeping one parameter; print a table of the "
                                     "mean over training seeds x independent draws with 95% confidence intervals "
                                     "and write it with the raw accuracies and a plot.",
                         epilog="examples:\n  xbarsim accuracy --family depth --sweep variation\n"
                                "  xbarsim accuracy --family depth --semantics neurosim\n"
                                "  xbarsim accuracy --rows adc-bits --sweep variation --adc-range calibrated\n"
                                "  xbarsim accuracy --dataset digits --rows weight-bits --sweep variation\n"
                                "  xbarsim accuracy --family exits --threshold 0.3\n"
                                "  xbarsim accuracy --family width --sweep activation-noise-rescaled --draws 2\n"
                                "  xbarsim accuracy --family transformer --dataset digits --draws 3",
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    acc.add_argument("--dataset", choices=("fashion-mnist", "digits", "mnist1d"), default="fashion-mnist",
                     help="fashion-mnist (needs Debian's dataset-fashion-mnist), digits or mnist1d")
    rows = acc.add_mutually_exclusive_group()
    rows.add_argument("--family", choices=("depth", "width", "kernel", "exits", "transformer"), default=None,
                      help="models to compare, one row each (default: depth); transformer: a small ViT "
                           "(products of activations digital and in crossbars) against a CNN of similar size, "
                           "over training seeds")
    rows.add_argument("--rows", choices=("weight-bits", "adc-bits", "cells-per-weight", "activation-noise",
                                         "activation-noise-rescaled", "read-noise"), default=None,
                      help="instead of a family: rows are values of this parameter for the base model")
    acc.add_argument("--sweep", default="variation",
                     choices=("variation", "read-noise", "activation-noise", "activation-noise-rescaled",
                              "weight-bits", "adc-bits", "cells-per-weight"),
                     help="the swept parameter, one column per value (default: variation)")
    acc.add_argument("--values", type=_values, default=None, help="comma-separated sweep values (default: per sweep)")
    acc.add_argument("--row-values", type=_values, default=None,
                     help="with --rows: comma-separated values of the row parameter (default: per parameter)")
    acc.add_argument("--draws", type=_positive, default=None,
                     help="independent programmings per training seed and cell (default: 2 for fashion-mnist, "
                          "else 5)")
    acc.add_argument("--semantics", choices=("chip", "neurosim"), default="chip",
                     help="chip: the arch's crossbar as configured (study: variation drawn once per programming, "
                          "on/off 100, full-scale ADC); neurosim: NeuroSim V1.4's (variation redrawn every input "
                          "cycle, on/off 10, dynamic min..max ADC with floor rounding, mid-scale dummy column)")
    acc.add_argument("--variation-draw", choices=("programming", "cycle"), default=None,
                     help="override when variation is drawn: once per programming, or every input cycle")
    acc.add_argument("--on-off-ratio", type=float, default=None, help="override the on/off conductance ratio")
    acc.add_argument("--adc-range", choices=("full_scale", "calibrated", "dynamic"), default=None,
                     help="override the ADC range policy")
    acc.add_argument("--batch", type=_positive, default=None,
                     help="images per batch: one mvm call per layer, the unit of per-cycle draws and dynamic ADC "
                          "ranges (default: 200)")
    acc.add_argument("--arch", default="study", help="arch whose crossbar the models run on (default: study)")
    acc.add_argument("--threshold", type=float, default=0.5,
                     help="multi-exit models: exit when softmax entropy (nats) is below this (default: 0.5)")
    acc.add_argument("--test-limit", type=_count, default=None,
                     help="use the first N test examples (default: 100 for fashion-mnist, all otherwise; 0: all)")
    acc.add_argument("--seeds", type=_positive, default=None,
                     help="--family transformer: how many of the trained seeds to use (default: all 5)")
    acc.add_argument("--dynamic", type=_dynamic_modes, default=None,
                     help="--family transformer: where products of two activations run, digital, crossbar or "
                          "both (default: digital,crossbar)")
    acc.add_argument("--out", default=None, metavar="DIR", help="output folder (default: accuracy-...); may hold "
                     "other studies")
    acc.add_argument("--force", action="store_true", help="replace this study's files if they exist")
    acc.add_argument("--quiet", action="store_true", help="no progress lines")
    acc.set_defaults(func=cmd_accuracy)
    presets = sub.add_parser("presets", help="list built-in presets")
    presets.set_defaults(func=cmd_presets)
    check = sub.add_parser("check", help="validate a spec and print it resolved",
                           description="Validate an arch, workload or energy-table spec (preset or YAML file) and "
                                       "print it with every default filled in.",
                           epilog="examples:\n  xbarsim check my-chip.yaml\n  xbarsim check --kind workload net.yaml",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("config", help="preset name or YAML file")
    check.add_argument("--kind", choices=("auto", "arch", "workload", "energy"), default="auto",
                       help="what the spec is (default: guessed from its keys)")
    check.set_defaults(func=cmd_check)
    table = sub.add_parser("energy-table", help="write an arch's resolved energy table with its sources",
                           description="Resolve the energy table of an arch (its component models, or its "
                                       "hand-written entries) into plain entries, each with its value and source; "
                                       "--node carries it to another technology node (Stillmaker & Baas).",
                           epilog="examples:\n  xbarsim energy-table neurosim-sram22\n"
                                  "  xbarsim energy-table isaac --node 22nm --out isaac22.yaml",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    table.add_argument("arch", help="arch preset or YAML file")
    table.add_argument("--energy", default=None, help="energy spec to resolve instead of the arch's")
    table.add_argument("--node", default=None, help="technology node to scale to, e.g. 22nm")
    table.add_argument("--out", default=None, metavar="TABLE.yaml", help="write to a file (default: stdout)")
    table.add_argument("--force", action="store_true", help="replace an existing --out file")
    table.set_defaults(func=cmd_energy_table)
    validate = sub.add_parser("validate", help="compare with published chips and NeuroSim",
                              description="Run every validation case (docs/validation.md) and print, per case and "
                                          "metric, the published value, its source, xbarsim's value and the error; "
                                          "exit 1 when an error exceeds the tolerance its case declares.")
    validate.add_argument("--case", action="append", default=None, help="run only this case (repeatable)")
    validate.set_defaults(func=cmd_validate)
    _add_sweep_parsers(sub)
    return parser


def _user_os_error(exc: OSError) -> str:
    """One line for an OSError on a user's path (``cannot read 'x.yaml': Permission denied``)."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename is not None:
        return one_line(f"{exc.filename}: {reason}")
    return one_line(reason)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if args.func is cmd_run:
        _check_run_options(args)
    try:
        return args.func(args)
    except XbarsimError as exc:  # a user error, by construction
        if args.debug:
            raise
        print(f"xbarsim: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("xbarsim: interrupted", file=sys.stderr)
        return EXIT_FAILURE
    except BrokenPipeError:  # output piped into `head` and closed: not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:  # the system refused a file or device the user named (disk full, permissions)
        if args.debug:
            raise
        print(f"xbarsim: error: {_user_os_error(exc)}", file=sys.stderr)
        return EXIT_FAILURE
    except MemoryError:
        if args.debug:
            raise
        print("xbarsim: error: out of memory (the estimate before the run was too low); reduce --batch or the "
              "sizes, or free memory", file=sys.stderr)
        return EXIT_FAILURE
    except ImportError as exc:
        if args.debug:
            raise
        if (exc.name or "xbarsim").split(".")[0] == "xbarsim":
            return _internal_error(exc)
        print(f"xbarsim: error: {one_line(str(exc))} (an optional dependency; see README)", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as exc:  # anything else is a bug: say so, with the traceback
        if args.debug:
            raise
        return _internal_error(exc)


def _internal_error(exc: BaseException) -> int:
    import traceback

    print(f"xbarsim: internal error in xbarsim {__version__}: please report it with the command line and "
          "this traceback", file=sys.stderr)
    traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    return EXIT_BUG


def entry_point() -> None:  # pragma: no cover - thin wrapper for console_scripts
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    entry_point()
