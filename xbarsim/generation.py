"""Prefill and decode: running a decoder the way it generates text.

A network with ``sequence.decode: T`` is run as T + 1 passes on the same chip and mapping: the
**prefill** (the network as written: the prompt of L tokens at once; :func:`xbarsim.simulate`
returns its result) and T **decode steps**, each one token at position L + t against caches of
L + t + 1 keys (:meth:`xbarsim.workload.Network.decode_step`). A decode step cannot start
before the previous one's token exists, so the passes run one after another; each is its own
operation stream, timed from an idle chip (every buffer drained), with:

* the weights where the prefill's mapping put them (reprogrammed in every pass when the network
  needs more than one programming round);
* each digital product's operand store (the KV cache) at the level the prefill chose, holding
  the prompt's keys and those decoded so far: a step reads all of it and appends one token;
* each crossbar product's arrays holding the keys written so far: a step writes one more.

Decode steps differ only in the cache length. ``decode="exact"`` simulates every one;
``decode=k`` simulates k evenly spaced steps (the first and the last included) and interpolates
the others' cycles and energies linearly in the cache length (their action counts are affine in
it; their timing nearly so: ``tests/unit/test_generation.py`` bounds the error on the tiny
decoder).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple, Union

import numpy as np

from .counting import ActionCounts, count_stream
from .energy.pricing import price
from .hardware import REGISTRY
from .mapping.placement import Mapping, for_phase
from .timing.stream import LOCATIONS, build_stream
from .timing.timeline import critical_path

__all__ = ["DecodeReport", "simulate_decode", "critical_by_kind", "critical_by_layer", "store_summary", "cell_writes",
           "endurance_lines", "sequence_lines", "check_decode_choice"]


def critical_by_kind(stream, timeline, credit: Optional[np.ndarray] = None) -> Dict[str, int]:
    """Cycles of the critical path spent in each operation kind (they sum to the latency): where a
    pass's time goes."""
    credit = critical_path(stream, timeline) if credit is None else credit
    sums = np.bincount(stream.op_kind.astype(np.int64), weights=credit, minlength=len(stream.op_names))
    return {name: int(v) for name, v in zip(stream.op_names, sums) if v}


def critical_by_layer(stream, timeline, credit: Optional[np.ndarray] = None) -> Dict[str, int]:
    """Cycles of the critical path spent in each layer's operations."""
    credit = critical_path(stream, timeline) if credit is None else credit
    layer = stream.op_layer.astype(np.int64)
    sums = np.bincount(layer[layer >= 0], weights=credit[layer >= 0], minlength=len(stream.layer_names))
    return {name: int(v) for name, v in zip(stream.layer_names, sums) if v}


def store_summary(stream) -> str:
    """Where the products' operands (a decoder's KV cache) live, in words."""
    stores = stream.stores
    if not len(stores):
        return ""
    parts = []
    for code, level in enumerate(LOCATIONS):
        mine = stores[(stores["level"] == code) & (stores["bytes"] > 0)]
        if len(mine):
            parts.append(f"{len(mine)} in {'tile buffers' if level == 'tile' else level} "
                         f"({int(mine['bytes'].sum()) / 1e6:.3g} MB)")
    units = {"digital": int((stores["unit"] == 0).sum()), "crossbar": int((stores["unit"] == 1).sum())}
    where = ", ".join(f"{n} {unit}" for unit, n in units.items() if n)
    return f"{len(stores)} products of activations ({where}); operands b: " + (", ".join(parts) or "none stored")


@dataclass
class DecodeReport:
    """The decode steps of a run: per step (simulated or interpolated) cycles and energy."""

    steps: np.ndarray
    """Decode step indices 0 .. T - 1."""
    keys: np.ndarray
    """Tokens in context at each step (position + 1: L + t + 1)."""
    cycles: np.ndarray
    """Latency of each step (cycles of ``chip.clock``)."""
    energy_pj: np.ndarray
    """Energy of each step (the batch), pJ."""
    energy_by_component: Dict[str, np.ndarray]
    """Energy of each step by component (dynamic and leakage), pJ."""
    critical_by_kind: Dict[str, np.ndarray]
    """Critical-path cycles of each step by operation kind (summing to ``cycles``)."""
    critical_by_layer: Dict[str, np.ndarray]
    """Critical-path cycles of each step by layer."""
    simulated: np.ndarray
    """Whether each step was simulated (True) or interpolated."""
    batch: int
    clock_hz: float
    counts: ActionCounts = field(default_factory=ActionCounts)
    """Action counts summed over the simulated steps."""
    last: Optional[object] = None
    """The full result of the last simulated step."""

    @property
    def tokens(self) -> int:
        """Tokens generated per sequence (decode steps)."""
        return len(self.steps)

    @property
    def method(self) -> str:
        n = int(self.simulated.sum())
        return "every step simulated" if n == len(self.steps) else \
            f"{n} of {len(self.steps)} steps simulated, the others interpolated in the cache length"

    @property
    def latency_s(self) -> float:
        """Time of all decode steps, seconds."""
        return float(self.cycles.sum()) / self.clock_hz

    @property
    def time_per_token_s(self) -> float:
        """Mean time per output token (one decode step), seconds."""
        return self.latency_s / max(1, self.tokens)

    @property
    def energy_total_pj(self) -> float:
        return float(self.energy_pj.sum())

    @property
    def energy_per_token_pj(self) -> float:
        """Energy per generated token of one sequence: a step's energy over the batch, averaged."""
        return self.energy_total_pj / max(1, self.tokens * self.batch)

    def component_energy_pj(self) -> Dict[str, float]:
        """Energy of all steps by component, pJ."""
        return {name: float(v.sum()) for name, v in self.energy_by_component.items()}

    def critical_cycles(self) -> Dict[str, int]:
        """Critical-path cycles of all steps by operation kind."""
        return {name: int(round(float(v.sum()))) for name, v in self.critical_by_kind.items()}

    def critical_layer_cycles(self) -> Dict[str, int]:
        """Critical-path cycles of all steps by layer."""
        return {name: int(round(float(v.sum()))) for name, v in self.critical_by_layer.items()}


def _interpolate(x_known: np.ndarray, values: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.interp(x, x_known, values)


def check_decode_choice(decode) -> None:
    """``decode`` must be ``"exact"`` or the number (>= 2) of decode steps to simulate."""
    if decode != "exact" and (isinstance(decode, bool) or not isinstance(decode, int) or decode < 2):
        raise ValueError(f"decode: expected 'exact' or an integer >= 2 (steps to simulate), got {decode!r}")


def simulate_decode(arch, network, mapping: Mapping, prefill_stream, table, batch: int,
                    decode: Union[str, int] = "exact", execute=None) -> DecodeReport:
    """The decode steps after a prefill (``prefill_stream``, whose stores fix the caches' levels)."""
    steps_total = network.decode_steps
    check_decode_choice(decode)
    if decode == "exact":
        chosen = list(range(steps_total))
    else:
        chosen = sorted(set(np.linspace(0, steps_total - 1, min(decode, steps_total)).round().astype(int).tolist()))
    given = {int(r["layer"]): (LOCATIONS[int(r["level"])], int(r["tile"])) for r in prefill_stream.stores
             if not r["unit"]}
    clock = arch.chip.clock
    cycles, energy, components, kinds, layers = [], [], [], [], []
    counts = ActionCounts()
    last = None
    for t in chosen:
        phase = network.decode_step(t)
        stream = build_stream(for_phase(mapping, phase), batch, stores=given)
        timeline, durations = execute(stream, arch)
        step_counts = count_stream(stream, arch)
        seconds = timeline.cycles / clock
        bill = price(step_counts, table, arch, seconds)
        counts = counts + step_counts
        cycles.append(timeline.cycles)
        energy.append(bill.total_pj)
        components.append(dict(bill.by_component))
        credit = critical_path(stream, timeline)
        kinds.append(critical_by_kind(stream, timeline, credit))
        layers.append(critical_by_layer(stream, timeline, credit))
        if t == chosen[-1]:
            from .simulation import assemble
            last = assemble(arch, phase, table, mapping.schedule, stream, timeline, durations, step_counts, 0,
                            mapping=for_phase(mapping, phase))
    steps = np.arange(steps_total)
    prompt = network.prompt_tokens or 0
    keys = prompt + steps + 1
    known = np.asarray(chosen)
    names = sorted({n for c in components for n in c})
    by_component = {n: _interpolate(known, np.array([c.get(n, 0.0) for c in components]), steps) for n in names}
    kind_names = [k for k in REGISTRY.op_names if any(k in d for d in kinds)]
    by_kind = {k: _interpolate(known, np.array([d.get(k, 0) for d in kinds], dtype=np.float64), steps)
               for k in kind_names}
    by_layer = {layer.name: _interpolate(known, np.array([d.get(layer.name, 0) for d in layers], dtype=np.float64),
                                         steps) for layer in network.layers if any(layer.name in d for d in layers)}
    simulated = np.isin(steps, known)
    cyc = np.rint(_interpolate(known, np.array(cycles, dtype=np.float64), steps)).astype(np.int64)
    return DecodeReport(steps=steps, keys=keys, cycles=cyc,
                        energy_pj=_interpolate(known, np.array(energy), steps),
                        energy_by_component=by_component, critical_by_kind=by_kind, critical_by_layer=by_layer,
                        simulated=simulated,
                        batch=batch, clock_hz=clock, counts=counts, last=last)


def cell_writes(result) -> Tuple[float, List[str]]:
    """Most writes a cell receives in one run (the prefill and every decode step), and why.

    With more than one programming round, every pass writes each round's weights into its PEs:
    a cell is written once per round using its PE, per pass. A product on crossbars writes its
    operand's cells once per sequence of the batch (the prefill writes the prompt's keys, each
    decode step one more key into fresh cells)."""
    stream = result.stream
    writes, reasons = 0.0, []
    passes = 1 + (result.decode.tokens if result.decode is not None else 0)
    if result.rounds > 1 and len(stream.copies):
        copies = stream.copies
        weights = copies[np.isin(copies["layer"], stream.stores["layer"], invert=True)] if len(stream.stores) \
            else copies
        used = np.zeros(int((copies["first_pe"] + copies["pes"]).max()), dtype=np.int64)
        for r in np.unique(weights["round"]):
            mine = np.zeros_like(used, dtype=bool)
            for first, pes in weights[weights["round"] == r][["first_pe", "pes"]].tolist():
                mine[first:first + pes] = True
            used += mine
        writes += passes * int(used.max())
        reasons.append(f"weights reprogrammed in each of {passes} pass{'es' if passes > 1 else ''}")
    if len(stream.stores) and (stream.stores["unit"] == 1).any():
        writes += result.batch
        reasons.append("operands written into arrays once per sequence")
    return writes, reasons


def endurance_lines(result) -> List[str]:
    """How long the arrays last: cell writes per run against ``programming.endurance``."""
    writes, reasons = cell_writes(result)
    if not writes:
        return []
    endurance = result.arch.programming.endurance
    return [f"  endurance {writes:g} writes per cell per run at most ({'; '.join(reasons)}): "
            f"{endurance / writes:.3g} runs before programming.endurance ({endurance:.3g} writes)"]



def sequence_lines(result) -> List[str]:
    """Summary lines of a run with products of activations or decode steps (nothing otherwise)."""
    from .result import _energy, _time

    lines: List[str] = []
    stores = store_summary(result.stream)
    if stores:
        arch = result.arch
        lines.append(f"  products  {stores} (products.qk: {arch.products.qk}, products.av: {arch.products.av})")
    decode = result.decode
    if decode is not None:
        prompt = result.network.prompt_tokens or 0
        per_prompt = result.energy_pj / max(1, prompt * result.batch)
        lines.append(f"  prefill   {prompt} tokens: time to first token {_time(result.latency_s)}, "
                     f"{_energy(result.energy_per_inference_pj)} per sequence ({_energy(per_prompt)} per prompt token)")
        lines.append(f"  decode    {decode.tokens} tokens: {_time(decode.time_per_token_s)} per output token "
                     f"({_time(decode.cycles.min() / decode.clock_hz)} .. "
                     f"{_time(decode.cycles.max() / decode.clock_hz)}),"
                     f" {_energy(decode.energy_per_token_pj)} per token; {decode.method}")
        total = result.latency_s + decode.latency_s
        lines.append(f"  total     {_time(total)} for {decode.tokens * result.batch} generated tokens "
                     f"({decode.tokens * result.batch / total:,.1f} tokens/s)")
    lines += endurance_lines(result)
    return lines

