"""The GPT-2 study of ``docs/transformers.md``: GPT-2 small on an ISAAC-like chip, prefill and
decode, products of activations on the digital matrix unit or written into crossbars, for
several prompt lengths.

For each prompt length S and each placement of the products, one run: a prefill of S tokens,
then 128 tokens decoded (every decode step simulated unless ``--sample``). Per phase and per
token: energy by component group, and latency by the operation kinds on the critical path.
``python -m xbarsim.llm_study --out docs/studies/gpt2`` writes ``gpt2-study.json``, a Markdown
table (``gpt2-study.md``) and a figure (``gpt2-study.png``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .config.loader import load_arch
from .energy.pricing import price
from .generation import critical_by_kind, critical_by_layer
from .simulation import simulate
from .timing.stream import LOCATIONS
from .workload.loader import load_workload
from .workload.zoo import gpt2

__all__ = ["ENERGY_GROUPS", "STATIC", "LATENCY_GROUPS", "study_arch", "run_case", "run_study", "main"]

#: Component actions shown together in the study: (group, ((component, action or None), ...)).
ENERGY_GROUPS = (
    ("ADC", (("adc", None),)),
    ("DAC, S&H", (("dac", None), ("sh", None))),
    ("crossbar reads", (("xbar", "read"), ("xbar", "row_activation"))),
    ("crossbar writes", (("xbar", "write"),)),
    ("registers, shift-add", (("ireg", None), ("oreg", None), ("tile_oreg", None), ("shift_add", None),
                              ("tile_shift_add", None))),
    ("vector unit", (("vec", None), ("act", None), ("pool", None))),
    ("matrix unit", (("mxu", None), ("mxu_buffer", None))),
    ("tile buffers, bus", (("tile_buffer", None), ("tile_bus", None))),
    ("network", (("noc", None),)),
    ("global buffer", (("glb", None),)),
    ("DRAM, off-chip", (("dram", None), ("offchip", None))),
)
#: The energy group of every component's static power over the phase's time (not an action).
STATIC = "static power"
#: Operation kinds shown together in the latency breakdown.
LATENCY_GROUPS = (
    ("crossbar MVMs", ("mvm",)),
    ("operand writes", ("write_operand", "program")),
    ("matrix unit", ("matmul", "mxu_load")),
    ("vector unit, adds", ("vec", "act", "pool", "eltwise")),
    ("on-chip network", ("transfer",)),
    ("tile buffers", ("buffer_read", "buffer_write", "feed", "tile_bus")),
    ("global buffer", ("glb_read", "glb_write")),
    ("DRAM", ("dram_read", "dram_write")),
)
UNITS = ("digital", "crossbar")


def study_arch(unit: str, tiles: int = 400, matrix_buffer: Optional[str] = None):
    """The isaac-llm chip with ``tiles`` tiles (400: the crossbar products of a 1,152-token context
    fit beside GPT-2's weights in one round) and both kinds of products placed on ``unit``
    (optionally another size of the matrix unit's buffer)."""
    spec = {"version": 1, "base": "isaac-llm", "chip": {"tiles": tiles}, "products": {"qk": unit, "av": unit}}
    if matrix_buffer is not None:
        spec["tile"] = {"matrix_unit": {"buffer": {"size": matrix_buffer}}}
    return load_arch(spec)


def _energy_groups(by_action: Dict[tuple, float], static_pj: float) -> Dict[str, float]:
    out = {name: 0.0 for name, _ in ENERGY_GROUPS}
    out[STATIC] = static_pj
    for (_, component, action), pj in by_action.items():
        for name, members in ENERGY_GROUPS:
            if any(component == c and (a is None or a == action) for c, a in members):
                out[name] += pj
                break
        else:  # pragma: no cover - every counted component is grouped
            raise KeyError(f"{component}.{action} is in no study group")
    return out


def _latency_groups(cycles_by_kind: Dict[str, float]) -> Dict[str, float]:
    out = {name: 0.0 for name, _ in LATENCY_GROUPS}
    for kind, cycles in cycles_by_kind.items():
        for name, kinds in LATENCY_GROUPS:
            if kind in kinds:
                out[name] += cycles
                break
        else:  # pragma: no cover
            raise KeyError(f"operation kind {kind} is in no study group")
    return out


def _dominant(groups: Dict[str, float]) -> str:
    name = max(groups, key=groups.get)
    total = sum(groups.values()) or 1.0
    return f"{name} ({groups[name] / total:.0%})"


def run_case(prompt: int, unit: str, decode_tokens: int = 128, sample: Optional[int] = None,
             tiles: int = 400, matrix_buffer: Optional[str] = None) -> Dict:
    """One run (prefill of ``prompt`` tokens, ``decode_tokens`` decoded) and its per-token breakdowns."""
    arch = study_arch(unit, tiles, matrix_buffer)
    # GPT-2 small; beyond its 1,024 positions the table is extended (a lookup costs the same)
    network = load_workload(gpt2(prompt=prompt, decode=decode_tokens, context=max(1024, prompt + decode_tokens)))
    started = time.perf_counter()
    result = simulate(arch, network, decode="exact" if sample is None else sample)
    wall = time.perf_counter() - started
    clock = arch.chip.clock
    decode = result.decode
    decode_priced = price(decode.counts, result.energy_table, arch, decode.latency_s)
    decode_energy = decode_priced.by_action
    if sample is not None:  # counts of the simulated steps only: scale the dynamic part to all steps
        scale = (decode.energy_total_pj - decode_priced.leakage_pj) / sum(decode_energy.values())
        decode_energy = {k: v * scale for k, v in decode_energy.items()}
    stores = result.stream.stores
    levels = sorted({LOCATIONS[int(level)] for level in stores["level"]})
    phases = {
        "prefill": {
            "tokens": prompt,
            "latency_s": result.latency_s,
            "energy_pj": result.energy_pj,
            "energy_per_token_pj": _scale(_energy_groups(result.energy.by_action, result.energy.leakage_pj), 1 / prompt),
            "latency_per_token_s": _scale(_latency_groups(critical_by_kind(result.stream, result.timeline)),
                                          1 / (prompt * clock)),
        },
        "decode": {
            "tokens": decode.tokens,
            "latency_s": decode.latency_s,
            "energy_pj": decode.energy_total_pj,
            "energy_per_token_pj": _scale(_energy_groups(decode_energy, decode_priced.leakage_pj), 1 / decode.tokens),
            "latency_per_token_s": _scale(_latency_groups(decode.critical_cycles()), 1 / (decode.tokens * clock)),
        },
    }
    output = {"prefill": critical_by_layer(result.stream, result.timeline).get("lm_head", 0) / max(1, result.cycles),
              "decode": decode.critical_layer_cycles().get("lm_head", 0) / max(1, int(decode.cycles.sum()))}
    for name, phase in phases.items():
        energy = phase["energy_per_token_pj"]
        phase["static_share"] = energy[STATIC] / (sum(energy.values()) or 1.0)
        phase["dominant_energy"] = _dominant({k: v for k, v in energy.items() if k != STATIC})
        phase["dominant_latency"] = _dominant(phase["latency_per_token_s"])
        phase["output_layer_latency_share"] = output[name]
    return {
        "prompt": prompt, "decode_tokens": decode_tokens, "products": unit, "tiles": tiles,
        "matrix_buffer_bytes": arch.tile.matrix_unit.buffer.size,
        "rounds": result.rounds, "kv_levels": levels, "kv_bytes": int(stores["bytes"].sum()),
        "ttft_s": result.latency_s, "tpot_s": decode.time_per_token_s,
        "prefill_energy_per_token_pj": result.energy_pj / prompt, "decode_energy_per_token_pj":
            decode.energy_per_token_pj, "decode_method": decode.method, "area_mm2": result.area_mm2,
        "cell_writes_per_run": _writes(result), "phases": phases, "simulation_s": wall,
    }


def _writes(result) -> float:
    from .generation import cell_writes

    return cell_writes(result)[0]


def _scale(values: Dict[str, float], factor: float) -> Dict[str, float]:
    return {k: v * factor for k, v in values.items()}


def _figure(cases: List[Dict], path: Path) -> Path:
    """Shares of energy and latency per token by group (stacked to 100%), the totals above the bars."""
    import matplotlib

    fig = Figure(figsize=(13, 8.5))
    labels = [f"S={c['prompt']}\n{c['products']}" for c in cases]
    panels = (("energy_per_token_pj", "energy per token", ENERGY_GROUPS + ((STATIC, ()),), "tab20", lambda v: _energy_text(v)),
              ("latency_per_token_s", "latency per token (critical path)", LATENCY_GROUPS, "Dark2",
               lambda v: _time_text(v)))
    for row, phase in enumerate(("prefill", "decode")):
        for col, (key, title, groups, colors, text) in enumerate(panels):
            ax = fig.add_subplot(2, 2, 2 * row + col + 1)
            cmap = matplotlib.colormaps[colors]
            totals = [sum(c["phases"][phase][key].values()) for c in cases]
            bottom = [0.0] * len(cases)
            for g, (name, _) in enumerate(groups):
                shares = [c["phases"][phase][key][name] / (t or 1.0) for c, t in zip(cases, totals)]
                if not any(shares):
                    continue
                ax.bar(range(len(cases)), shares, bottom=bottom, label=name, color=cmap(g % cmap.N))
                bottom = [b + h for b, h in zip(bottom, shares)]
            for x, total in enumerate(totals):
                ax.text(x, 1.01, text(total), ha="center", va="bottom", fontsize=8)
            ax.set_ylim(0, 1.1)
            ax.set_xticks(range(len(cases)), labels, fontsize=8)
            ax.set_ylabel("share")
            ax.set_title(f"{phase}: {title} (total above the bar)", fontsize=10)
            if row == 1:
                ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3)
    fig.suptitle(f"GPT-2 small on an ISAAC-like chip (isaac-llm, {cases[0]['tiles']} tiles): prefill of S tokens, "
                 f"{cases[0]['decode_tokens']} decoded", fontsize=11)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def _energy_text(pj: float) -> str:
    from .result import _energy

    return _energy(pj)


def _time_text(seconds: float) -> str:
    from .result import _time

    return _time(seconds)


def _kv(case: Dict) -> str:
    """Where the KV cache lives: a digital product's store, or a crossbar product's arrays (its
    store then only stages a pass's new keys)."""
    levels = f"{', '.join(case['kv_levels'])} ({case['kv_bytes'] / 1e6:.3g} MB)"
    return levels if case["products"] == "digital" else f"arrays (staged in {levels})"


def _per_token(phase: Dict) -> str:
    """Energy per token: total (its dynamic part)."""
    energy = phase["energy_per_token_pj"]
    total = sum(energy.values())
    return f"{total / 1e6:.3g} uJ ({(total - energy[STATIC]) / 1e6:.3g} uJ)"


def _markdown(cases: List[Dict]) -> str:
    lines = ["| S | products | KV cache | TTFT | prefill energy / token: total (dynamic) | TPOT | decode energy / "
             "token: total (dynamic) | static share (prefill / decode) | prefill: dynamic energy / latency dominated "
             "by | decode: dynamic energy / latency dominated by | output layer's share of latency (prefill / "
             "decode) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in cases:
        p, d = c["phases"]["prefill"], c["phases"]["decode"]
        lines.append(
            f"| {c['prompt']} | {c['products']} | {_kv(c)} | "
            f"{c['ttft_s'] * 1e3:.3g} ms | {_per_token(p)} | {c['tpot_s'] * 1e3:.3g} ms | {_per_token(d)} | "
            f"{p['static_share']:.0%} / {d['static_share']:.0%} | "
            f"{p['dominant_energy']} / {p['dominant_latency']} | {d['dominant_energy']} / {d['dominant_latency']} | "
            f"{p['output_layer_latency_share']:.0%} / {d['output_layer_latency_share']:.0%} |")
    return "\n".join(lines) + "\n"


def run_study(out: Path, prompts: Sequence[int] = (128, 512, 1024), decode_tokens: int = 128,
              sample: Optional[int] = None, tiles: int = 400, quiet: bool = False, units: Sequence[str] = UNITS,
              matrix_buffer: Optional[str] = None, stem: str = "gpt2-study") -> List[Dict]:
    out.mkdir(parents=True, exist_ok=True)
    cases = []
    for prompt in prompts:
        for unit in units:
            case = run_case(prompt, unit, decode_tokens, sample, tiles, matrix_buffer)
            cases.append(case)
            if not quiet:
                print(f"S={prompt} {unit}: TTFT {case['ttft_s'] * 1e3:.3g} ms, TPOT {case['tpot_s'] * 1e3:.3g} ms "
                      f"({case['simulation_s']:.0f} s)", flush=True)
    stem = out / stem
    tmp = stem.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"cases": cases}, indent=1))
    tmp.replace(stem.with_suffix(".json"))
    stem.with_suffix(".md").write_text(_markdown(cases))
    _figure(cases, stem.with_suffix(".png"))
    return cases


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xbarsim.llm_study", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/studies/gpt2", help="output folder (default: docs/studies/gpt2)")
    parser.add_argument("--prompts", default="128,512,1024", help="prompt lengths (default: 128,512,1024)")
    parser.add_argument("--decode", type=int, default=128, help="tokens decoded (default: 128)")
    parser.add_argument("--sample", type=int, default=None, help="simulate only N decode steps, interpolate the rest")
    parser.add_argument("--tiles", type=int, default=400, help="tiles of the isaac-llm chip (default: 400)")
    parser.add_argument("--units", default="digital,crossbar", help="where products run (default: digital,crossbar)")
    parser.add_argument("--matrix-buffer", default=None, help="size of the matrix unit's buffer (default: the preset's)")
    parser.add_argument("--name", default="gpt2-study", help="file name stem (default: gpt2-study)")
    args = parser.parse_args(argv)
    prompts = [int(v) for v in args.prompts.split(",")]
    run_study(Path(args.out), prompts, args.decode, args.sample, args.tiles, units=args.units.split(","),
              matrix_buffer=args.matrix_buffer, stem=args.name)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
