"""Reliability, measured as a new user and a fuzzer would: every failure a one-line error, no data lost.

Runs five families of inputs against this checkout and prints one table row per family with
the inputs tried, how many were accepted, refused in one line (exit 1 or 2 with a single
``xbarsim: error:`` line, or a one-line ``XbarsimError`` in Python), ended in a traceback (an
internal error, exit 3, any other exception) and how many lost or half-wrote data:

1. hand-made bad inputs through the command line (every arch field x bad values, workloads,
   energy tables, arguments, output paths);
2. hypothesis-mutated specs (arch, energy table, workload dicts and YAML texts) loaded, and for
   the tiny chip also simulated;
3. damaged traces (truncations, byte flips, edited and removed attributes, removed objects)
   through ``replay`` and ``report``;
4. concurrent writers of one trace (two ``xbarsim run --out`` started together);
5. ``kill -9`` at random moments of a run writing a trace, then the next run of the same name.

Data loss counts: a trace silently replaced, a final file or folder that is partial, a report
folder without report.md, an orphan temporary or lock left after the next run, work thrown away
by a late output error.

    python benchmarks/fuzz_reliability.py [--mutations 25000] [--kills 45] [--only hand,damaged,...] [--quick]

Heavy parts run with ``nice``; ``--quick`` runs a tenth of everything (a smoke run).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout, installed or not
sys.path.insert(0, str(ROOT / "tests"))

import xbarsim  # noqa: E402
from xbarsim.cli import main  # noqa: E402
from xbarsim.config.loader import dump_yaml  # noqa: E402


class Tally:
    """Outcomes of one family of inputs."""

    def __init__(self, name: str):
        self.name = name
        self.tried = self.accepted = self.one_line = self.tracebacks = self.data_loss = 0
        self.examples = []
        self.notes = []

    def add(self, outcome: str, detail: str = "") -> None:
        self.tried += 1
        setattr(self, outcome, getattr(self, outcome) + 1)
        if outcome in ("tracebacks", "data_loss") and len(self.examples) < 5:
            self.examples.append(detail[:300])


def _cli(argv, cwd) -> tuple:
    """(exit code, stderr) of ``xbarsim argv`` run in this process (the CLI's own error handling)."""
    err, out = io.StringIO(), io.StringIO()
    here = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse
                code = exc.code
            except BaseException as exc:  # anything escaping main is a traceback by definition
                import traceback
                traceback.print_exception(type(exc), exc, exc.__traceback__, file=err)
                code = 99
    finally:
        os.chdir(here)
    return code, err.getvalue()


def _classify(code, stderr: str) -> str:
    if code == 0:
        return "accepted"
    if "Traceback" in stderr or code not in (1, 2):
        return "tracebacks"
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("xbarsim") and "error:" in line]
    if code == 1 and len(lines) == 1 and errors:
        return "one_line"
    if code == 2 and errors and errors[-1] == lines[-1]:  # argparse: usage lines, then one error line
        return "one_line"
    if code == 2 and lines and lines[0].startswith("usage: xbarsim"):  # no command: the help, as usage
        return "one_line"
    return "tracebacks"


# -- 1. hand-made bad inputs ----------------------------------------------------------------------

BAD_VALUES = [0, -1, 2**63, "abc", None, [], {"x": 1}, True, float("nan"), "1e999999999ns", "1e300J", "1fB/s",
              "1000000s", "1KB", "a\nb"]


def _leaves(node, prefix=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, prefix + (key,))
    else:
        yield prefix


def _set(data, path, value):
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def hand_made(folder: Path, quick: bool) -> Tally:
    import copy

    tally = Tally("hand-made bad inputs (CLI)")
    arch = xbarsim.load_arch("isaac").to_dict()
    cases = []
    for path in _leaves(arch):
        for value in BAD_VALUES:
            data = copy.deepcopy(arch)
            _set(data, path, value)
            cases.append(("check", data))
    for extra in ({"tiles": 4}, {"crossbar": {"rowz": 3}}, {"crossbar": {"a\nb": 3}}, {"version": 2}, {"base": "nope"},
                  {"base": 3}):
        data = copy.deepcopy(arch)
        data.update(extra)
        cases.append(("check", data))
    texts = ["", "version: 1\ncrossbar:\n  adc_bits: 6\n  adc_bits: 7\n", "version: 1\n  bad: indent\n", "[1, 2]",
             "version: 1\nbase: isaac\nbase: tiny\n", "\x00\x01", "version: 1\ncrossbar: !!python/name:os.system\n",
             "version: 1\nbase: tiny\npe:\n  read_latency: 1e999999999ns\n",
             "version: 1\nbase: tiny\ndram:\n  bandwidth: 1fB/s\n", "version: 1\nbase: isaac\nchip:\n  offchip_links: 0\n"]
    cases += [("text", t) for t in texts]
    workloads = ["version: 1\nname: w\ninput: {H: 8, W: 8, C: 3}\nlayers: []\n",
                 "version: 1\nname: w\ninput: {H: 8, W: 8, C: 3}\nlayers:\n  - {name: a, type: conv, R: 9, M: 4}\n",
                 "version: 1\nname: w\ninput: {H: 8, W: 8, C: 3}\nlayers:\n  - {name: a, type: fc, M: 0}\n",
                 "version: 1\nname: w\ninput: {H: 8, W: 8, C: 3}\nlayers:\n  - {name: a, type: add, inputs: [a]}\n",
                 "version: 1\nname: w\ninput: {H: 8, W: 8, C: 3}\nlayers:\n  - {name: a, type: pool, R: 2}\n"
                 "  - {name: a, type: fc, M: 3}\n"]
    cases += [("workload", t) for t in workloads]
    tables = ["version: 1\nbase: isaac\ncomponents:\n  adc:\n    area: 1mm2\n    power: 1W\n    actions:\n"
              "      convert: 1e300J\n", "version: 1\ncomponents: {}\n", "version: 1\nbase: isaac\ncomponents:\n"
              "  adc: {area: -1mm2, power: 1W}\n", "version: 1\nbase: isaac\ncomponents:\n  adc:\n    area: 1mm2\n"
              "    power: 1W\n    actions: {convert: {by: volts, values: {1: 1pJ}}}\n"]
    cases += [("energy", t) for t in tables]
    trace = folder / "ok.h5"
    xbarsim.simulate("tiny", "mlp", trace=trace)
    afile = folder / "afile"
    afile.write_text("x")
    argvs = [["run", "--batch", "0"], ["run", "--batch", "x"], ["run", "--batch", "1000000000"], ["run", "--seed", "-1"],
             ["run", "--seed", "x"], ["run", "--schedule", "x"], ["run", "--detail", "x"], ["run", "--workload", "nope"],
             ["run", "--arch", "nope"], ["run", "--energy", "nope"], ["run", "--arch", str(folder)],
             ["run", "--images", "3"], ["run", "--model", "nope"], ["run", "--model", "digits-d10-w16-k3", "--batch", "2"],
             ["run", "--arch", "tiny", "--workload", "alexnet"], ["run", "--out", str(afile / "r.h5")],
             ["run", "--arch", "tiny", "--workload", "mlp", "--out", "/proc/x/r.h5"],
             ["run", "--arch", "tiny", "--workload", "mlp", "--out", str(folder)],
             ["replay", str(folder / "missing.h5")], ["replay", str(folder)], ["replay", str(afile)],
             ["replay", str(trace), "--out", str(afile / "x.h5")], ["replay", str(trace), "--arch", "isaac"],
             ["replay", str(trace), "--energy", "nope"], ["report", str(trace), "--out", str(afile)],
             ["report", str(afile)], ["report", "/proc/self/mem"], ["accuracy", "--out", str(afile)],
             ["accuracy", "--family", "depth", "--rows", "adc-bits"], ["accuracy", "--values", "a,b"],
             ["accuracy", "--draws", "0"], ["mvm", "--size", "0x3"], ["mvm", "--size", "65536x65536"],
             ["mvm", "--vectors", "-2"], ["mvm", "--arch", "nope"], ["check", "/proc/self/mem"], ["check", str(folder)],
             ["check", "--kind", "workload", "isaac"], ["frobnicate"], []]
    cases += [("argv", a) for a in argvs]
    if quick:
        cases = cases[::10]
    spec = folder / "spec.yaml"
    for kind, payload in cases:
        if kind == "argv":
            argv = payload
        else:
            text = dump_yaml(payload) if kind == "check" else payload
            try:
                spec.write_text(text, encoding="utf-8")
            except (TypeError, ValueError):
                continue
            argv = ["check", str(spec)] + (["--kind", kind] if kind in ("workload", "energy") else [])
        code, err = _cli(argv, folder)
        tally.add(_classify(code, err), f"{argv}: {err}")
    return tally


# -- 2. hypothesis-mutated specs --------------------------------------------------------------------

def mutated(total: int) -> Tally:
    from hypothesis import HealthCheck, given, settings

    from strategies import mutated_specs, mutated_texts

    tally = Tally("hypothesis-mutated specs and YAML texts")
    kinds = [(lambda: xbarsim.load_arch("isaac").to_dict(), xbarsim.load_arch, False),
             (lambda: xbarsim.load_arch("tiny").to_dict(), xbarsim.load_arch, True),
             (lambda: xbarsim.load_energy("isaac").to_dict(), xbarsim.load_energy, False),
             (lambda: xbarsim.load_workload("resnet20").to_dict(), xbarsim.load_workload, False)]
    per = max(1, total // (2 * len(kinds)))
    options = dict(max_examples=per, database=None, deadline=None, derandomize=False,
                   suppress_health_check=list(HealthCheck))

    def judge(load, data, simulate):
        try:
            loaded = load(data)
        except xbarsim.ConfigError as exc:
            tally.add("one_line" if str(exc).isprintable() else "tracebacks", f"multi-line: {exc!r}")
            return
        except Exception as exc:  # noqa: BLE001 - counting what escapes
            tally.add("tracebacks", f"{type(exc).__name__}: {exc}")
            return
        if simulate:
            try:
                result = xbarsim.simulate(loaded, "mlp", batch=2)
                assert 0 < result.energy_pj < float("inf")
            except xbarsim.XbarsimError as exc:
                tally.add("one_line" if str(exc).isprintable() else "tracebacks", repr(exc))
                return
            except Exception as exc:  # noqa: BLE001
                tally.add("tracebacks", f"simulate: {type(exc).__name__}: {exc}")
                return
        tally.add("accepted")

    with tempfile.TemporaryDirectory() as name:
        path = Path(name) / "spec.yaml"
        for make, load, simulate in kinds:
            base = make()

            @settings(**options)
            @given(mutated_specs(base))
            def dicts(data):
                judge(load, data, simulate)

            @settings(**options)
            @given(mutated_texts(dump_yaml(base)))
            def texts(text):
                path.write_text(text, encoding="utf-8", errors="surrogatepass")
                judge(load, str(path), False)

            dicts()
            texts()
    return tally


# -- 3. damaged traces ------------------------------------------------------------------------------

def damaged(folder: Path, count: int) -> Tally:
    from hypothesis import HealthCheck, given, settings

    from strategies import damage_trace, trace_damages

    tally = Tally("damaged traces (replay and report)")
    pristine = folder / "pristine.h5"
    xbarsim.simulate("tiny", "mlp", batch=2, schedule="pipeline", trace=pristine, detail="event")
    data = pristine.read_bytes()
    reference = _content(pristine)
    silent = [0]

    @settings(max_examples=count, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(trace_damages)
    def one(damage):
        with tempfile.TemporaryDirectory(dir=folder) as name:
            work = Path(name)
            path = work / "run.h5"
            path.write_bytes(data)
            what = damage_trace(path, damage)
            try:
                same = _content(path) == reference
            except xbarsim.TraceError:
                same = None
            if same is False:  # accepted, but not what was written: wrong numbers without an error
                silent[0] += 1
                tally.data_loss += 1
                tally.examples.append(f"{what}: read back different content without an error")
            for argv, out in ((["replay", str(path), "--out", str(work / "new.h5")], work / "new.h5"),
                              (["report", str(path), "--out", str(work / "rep")], work / "rep")):
                code, err = _cli(argv, work)
                outcome = _classify(code, err)
                if code != 0 and out.exists():
                    outcome = "data_loss"
                if code == 0 and argv[0] == "report" and not (out / "report.md").exists():
                    outcome = "data_loss"
                tally.add(outcome, f"{what}: {argv[0]}: {err}")
            stray = [p.name for p in work.iterdir() if p.name.startswith(".")]
            if stray:
                tally.data_loss += 1
                tally.examples.append(f"{what}: temporaries left: {stray}")

    one()
    tally.notes.append(f"every damaged trace that open_trace accepted read back the undamaged content "
                       f"({silent[0]} did not)")
    return tally


def _content(path: Path):
    """Everything a trace says, for comparing a damaged trace with the original."""
    with xbarsim.open_trace(path) as t:
        timeline = t.timeline()
        times = b"".join(getattr(timeline, name).tobytes() for name in ("request", "admit", "start", "end", "cause",
                                                                       "free_time", "step_end", "busy", "region_peak"))
        return (t.summary, sorted(t.counts.items()), t.layers, t.stream, times,
                [t.config_text(k) for k in ("arch", "workload", "energy")], t.notes, t.names,
                (t.seed, t.schedule, t.batch, t.detail, t.detail_reason, t.created, t.xbarsim_version, t.data_aware),
                t.functional_stats)


# -- 4. concurrent writers -------------------------------------------------------------------------

def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _xbarsim(*args):
    return ["nice", "-n", "10", sys.executable, "-m", "xbarsim", *args]


def concurrent(folder: Path, trials: int) -> Tally:
    tally = Tally("concurrent writers of one trace (pairs)")
    for trial in range(trials):
        out = folder / f"c{trial}" / "r.h5"
        runs = [subprocess.Popen(_xbarsim("run", "--workload", "resnet18", "--batch", "8", "--quiet", "--out", str(out),
                                          "--seed", str(i)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, env=_env()) for i in range(2)]
        results = [(run.wait(), *run.communicate()) for run in runs]
        codes = sorted(code for code, _, _ in results)
        said_written = sum("trace written" in text for _, text, _ in results)
        losers = [err for code, _, err in results if code != 0]
        if codes == [0, 1] and said_written == 1 and all(_classify(1, e) == "one_line" for e in losers):
            with xbarsim.open_trace(out) as trace:
                winner = next(i for i, (code, _, _) in enumerate(results) if code == 0)
                ok = trace.seed == winner
            tally.add("one_line" if ok else "data_loss", f"trial {trial}: the trace is not the winner's")
        else:
            tally.add("data_loss", f"trial {trial}: exit codes {codes}, {said_written} said 'trace written'")
    return tally


# -- 5. kill -9 ------------------------------------------------------------------------------------

def kills(folder: Path, trials: int, seed: int = 0) -> Tally:
    tally = Tally("kill -9 during a run, then the next run")
    rng = random.Random(seed)
    killed = with_temporary = 0
    for trial in range(trials):
        work = folder / f"k{trial}"
        work.mkdir()
        out = work / "k.h5"
        run = subprocess.Popen(_xbarsim("run", "--workload", "resnet18", "--batch", "32", "--quiet", "--out", str(out)),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())
        if rng.random() < 0.2:  # early: while starting, loading or mapping
            time.sleep(rng.uniform(0.1, 1.5))
        else:  # while the trace is being written: wait for its temporary, then a random moment
            deadline = time.monotonic() + 60
            while run.poll() is None and time.monotonic() < deadline and not any(work.glob(".k.h5.*.tmp")):
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 3.0))
        finished = run.poll() is not None
        if not finished:
            os.kill(run.pid, signal.SIGKILL)
            killed += 1
        run.wait()
        partial = out.exists() and not finished and not _complete(out)
        after_kill = sorted(p.name for p in work.iterdir())
        with_temporary += any(name.endswith(".tmp") for name in after_kill)
        code = subprocess.run(_xbarsim("run", "--arch", "tiny", "--workload", "mlp", "--quiet", "--out", str(out),
                                       "--force"), capture_output=True, env=_env()).returncode
        left = sorted(p.name for p in work.iterdir())
        if partial or code != 0 or left != ["k.h5"] or not _complete(out):
            tally.add("data_loss", f"trial {trial}: after kill {after_kill}, after next run {left}, exit {code}")
        else:
            tally.add("accepted")
    tally.notes.append(f"{killed} of {trials} runs killed before they finished, {with_temporary} of them while "
                       "writing a temporary trace; every next run left only the complete trace")
    return tally


def _complete(path: Path) -> bool:
    try:
        with xbarsim.open_trace(path):
            return True
    except xbarsim.TraceError:
        return False


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mutations", type=int, default=25000, help="hypothesis-mutated specs (default 25,000)")
    parser.add_argument("--damaged", type=int, default=200, help="damaged traces (default 200)")
    parser.add_argument("--pairs", type=int, default=6, help="concurrent-writer pairs (default 6)")
    parser.add_argument("--kills", type=int, default=45, help="kill -9 trials (default 45)")
    parser.add_argument("--quick", action="store_true", help="a tenth of everything")
    parser.add_argument("--only", default="hand,mutated,damaged,concurrent,kills",
                        help="families to run, comma-separated (default: all five)")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    only = set(args.only.split(","))
    os.nice(10)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        families = {"hand": lambda: hand_made(folder, args.quick), "mutated": lambda: mutated(args.mutations // scale),
                    "damaged": lambda: damaged(folder, max(10, args.damaged // scale)),
                    "concurrent": lambda: concurrent(folder, max(2, args.pairs // scale)),
                    "kills": lambda: kills(folder, max(3, args.kills // scale))}
        tallies = [run() for key, run in families.items() if key in only]
    print(f"xbarsim {xbarsim.__version__}, {time.perf_counter() - started:.0f} s\n")
    print("| inputs | tried | accepted | one-line errors | tracebacks | data-loss cases |")
    print("|---|---|---|---|---|---|")
    for t in tallies:
        print(f"| {t.name} | {t.tried:,} | {t.accepted:,} | {t.one_line:,} | {t.tracebacks:,} | {t.data_loss:,} |")
    total = Tally("total")
    for t in tallies:
        for key in ("tried", "accepted", "one_line", "tracebacks", "data_loss"):
            setattr(total, key, getattr(total, key) + getattr(t, key))
    print(f"| **total** | {total.tried:,} | {total.accepted:,} | {total.one_line:,} | {total.tracebacks:,} | "
          f"{total.data_loss:,} |")
    for t in tallies:
        for note in t.notes:
            print(f"\n{t.name}: {note}")
        for example in t.examples:
            print(f"\n{t.name}: {example}")


if __name__ == "__main__":
    main_()
