"""``xbarsim.simulate``: a network on an architecture, end to end.

spec -> mapping -> operation stream -> event model (timing) -> action counts -> energy -> trace.
"""

from __future__ import annotations

import numbers
import os
from typing import Dict, Optional, Tuple, Union

import numpy as np

from .config.arch import SCHEDULES, Arch
from .config.loader import load_arch
from .counting import count_stream
from .energy.pricing import area_mm2, peak_power_w, price
from .energy.table import EnergyTable, load_energy
from .errors import ArgumentError, MappingError
from .generation import check_decode_choice, simulate_decode
from .limits import require_memory, simulation_estimate
from .mapping import activity as activity_module
from .mapping.placement import Mapping, map_network
from .outputs import check_destination
from .result import SimulationResult, layer_reports
from .timing.durations import op_durations, peak_tops, resource_capacities, stage_cost
from .timing.engine import paused_gc, run_stream
from .timing.timeline import Timeline, critical_path
from .timing.stream import OpStream, build_stream, region_capacities
from .trace.schema import AUTO_EVENT_LIMIT, DETAILS
from .trace.writer import TraceWriter
from .workload.loader import load_workload
from .workload.network import Network

__all__ = ["simulate", "peak_tops", "assemble", "choose_detail", "execute"]

DETAIL_CHOICES = ("auto",) + DETAILS


def choose_detail(detail: str, stream: OpStream) -> Tuple[str, str]:
    """The trace detail to write and why (``auto`` records events for runs of moderate size)."""
    if detail not in DETAIL_CHOICES:
        raise ArgumentError(f"detail: expected one of {', '.join(DETAIL_CHOICES)}, got {detail!r}")
    if detail != "auto":
        return detail, "requested"
    n = stream.operations
    if n <= AUTO_EVENT_LIMIT:
        return "event", f"auto: {n:,} operations <= {AUTO_EVENT_LIMIT:,}, every operation recorded"
    return "layer", f"auto: {n:,} operations > {AUTO_EVENT_LIMIT:,}, one row per step instead of per operation"


class _Progress:
    """A tqdm bar over operations, shown only if the run lasts more than two seconds."""

    def __init__(self, total: int, enabled: bool, label: str):
        self.bar = None
        if enabled:
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit="op", delay=2.0, desc=label, leave=False, dynamic_ncols=True)

    def __call__(self, n: int) -> None:
        self.bar.update(n)

    @property
    def callback(self):
        return self if self.bar is not None else None

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def execute(stream: OpStream, arch: Arch, progress=None) -> Tuple[Timeline, np.ndarray]:
    """Time ``stream`` on ``arch``: (timeline, per-operation durations)."""
    durations = op_durations(stream, arch)
    timeline = run_stream(stream, durations, resource_capacities(stream, arch), region_capacities(stream, arch),
                          progress=progress)
    return timeline, durations


def _part_groups(mapping: Mapping) -> Dict[Tuple[int, int], Tuple[object, int, int]]:
    """(layer, part) -> (lowered, first group, last group + 1) of every weight-layer part."""
    out = {}
    for m in mapping.layers:
        first = 0
        for part in m.parts:
            low = part.lowered
            groups = low.groups if m.layer.groups > 1 else 1
            out[(m.layer.index, low.part)] = (low, first, first + groups)
            first += groups if m.layer.groups > 1 else 0
    return out


def _check_decoding(arch: Arch, network: Network, mapping: Mapping, batch: int) -> None:
    """A product on crossbars keeps its operand (the KV cache) in its arrays between decode steps:
    nothing may overwrite them (another programming round, another sequence of the batch)."""
    if not network.decode_steps:
        return
    cached = [m.layer.name for m in mapping.layers if m.parts and m.layer.type == "matmul" and m.layer.cache]
    if not cached:
        return
    if mapping.rounds > 1:
        raise MappingError(f"products on crossbars keep the KV cache in their arrays between decode steps, but the "
                           f"network needs {mapping.rounds} programming rounds, which overwrite them ({cached[0]}, "
                           "...); "
                           "use products.qk/av: digital or a chip that holds every weight")
    if batch > 1:
        raise MappingError(f"batch: expected 1 when decoding with products on crossbars (their arrays hold one "
                           f"sequence's KV cache), got {batch}")


def _functional_run(arch: Arch, network: Network, mapping: Mapping, inputs, weights, batch, seed):
    """Run the functional model on real inputs: (batch, activity per (layer, part), summary per layer)."""
    from .nn.engine import Model

    if inputs is None or weights is None:
        raise ArgumentError("inputs and weights: a data-aware run needs both (inputs (N, C, H, W) and the float "
                         "weights or an xbarsim.nn.Model)")
    model = weights if isinstance(weights, Model) else Model(network, weights)
    if model.network != network:
        raise ArgumentError(f"weights: expected a model of {network.name!r}, got one of {model.network.name!r}")
    x = model._check_input(inputs)
    if batch not in (1, len(x)):
        raise ArgumentError(f"batch: expected {len(x)} (the number of inputs) or the default, got {batch}")
    programmed = model.program(arch.crossbar, calibration=x, rng=seed)
    parts = _part_groups(mapping)
    activity: Dict[Tuple[int, int], Dict[str, np.ndarray]] = {}

    def observe(layer, inputs_int, crossbar):
        for (index, part), (low, g0, g1) in parts.items():
            if index == layer.index:
                activity[(index, part)] = activity_module.observe(low, inputs_int[:, g0:g1, :], arch.pe.zero_skip)

    programmed.observe(x, observe, rng=seed)
    summary: Dict[str, Dict[str, float]] = {}
    totals = np.zeros(6)
    for (index, part), observed in activity.items():
        low = parts[(index, part)][0]
        base = activity_module.structural(low)
        n = len(observed["items"])
        row = np.array([observed["row_activations"].sum(), base["row_activations"] * n, observed["reads"].sum(),
                        base["reads"] * n, observed["items"].sum(), base["items"] * n], dtype=np.float64)
        totals += row
        name = network.layers[index].name
        previous = summary.get(name, {}).get("_raw", np.zeros(6))
        summary[name] = {"_raw": previous + row}
    for name in list(summary):
        raw = summary[name].pop("_raw")
        summary[name] = _fractions(raw)
    summary["total"] = _fractions(totals)
    return len(x), activity, summary


def _fractions(raw) -> Dict[str, float]:
    return {"active_row_fraction": raw[0] / max(1.0, raw[1]), "read_fraction": raw[2] / max(1.0, raw[3]),
            "executed_item_fraction": raw[4] / max(1.0, raw[5])}


def _flat(stats):
    """A data-aware summary flattened to HDF5 attributes (``layer/key``)."""
    if not stats:
        return None
    return {f"{layer}/{key}": value for layer, values in stats.items() for key, value in values.items()}


@paused_gc()  # a context decorator: functools.wraps keeps the signature and docstring
def simulate(arch: Union[str, dict, Arch] = "isaac", workload: Union[str, dict, Network] = "resnet18", *,
             batch: int = 1, schedule: Optional[str] = None, seed: int = 0,
             energy: Optional[Union[str, dict, EnergyTable]] = None, trace: Optional[Union[str, os.PathLike]] = None,
             detail: str = "auto", overwrite: bool = False, progress: bool = False, inputs=None,
             weights=None, decode: Union[str, int] = "exact") -> SimulationResult:
    """Simulate ``batch`` inferences of ``workload`` on ``arch``.

    ``arch`` and ``workload`` take preset names, YAML paths, dicts or loaded objects;
    ``schedule`` is ``"layer"`` (layer by layer) or ``"pipeline"`` (ISAAC's inter-layer
    pipeline with replication), by default the arch's own (``arch.schedule``); ``energy``
    overrides the arch's energy table. ``seed`` makes the data-dependent parts of a run
    reproducible.

    ``trace`` writes an HDF5 trace (``docs/trace-format.md``) of ``detail`` ``summary``,
    ``layer``, ``event`` or ``auto``; the file appears only when the run succeeded, and an
    existing one is replaced only with ``overwrite=True``. ``progress`` shows a progress bar
    on runs longer than a couple of seconds.

    Data-aware runs: ``inputs`` (N, C, H, W) with ``weights`` (a dict of float weights, or an
    :class:`xbarsim.nn.Model` of this workload) run the functional model on real data (batch =
    N); row activations then count the rows actually driven, and with ``pe.zero_skip`` reads of
    all-zero digit planes are skipped, in counts and in time.

    Before any work: a bad argument raises :class:`~xbarsim.errors.ArgumentError` (``seed`` is
    an integer 0..2**63-1), a trace that cannot be written there
    :class:`~xbarsim.errors.OutputError`, and a run whose estimated memory exceeds what is
    available (:mod:`xbarsim.limits`) :class:`~xbarsim.errors.ResourceError`.

    A decoder (``sequence.decode: T`` in the workload) is run as it generates: the result is its
    prefill's, and ``result.decode`` (:class:`xbarsim.generation.DecodeReport`) holds its T decode
    steps (time per output token, energy per token); ``decode`` is ``"exact"`` (every step
    simulated) or the number of steps to simulate, the others interpolated (``docs/transformers.md``).
    """
    check_arguments(batch=batch, schedule=schedule, detail=detail, seed=seed)
    if trace is not None:
        check_destination(trace, what="trace", overwrite=overwrite)
    arch = load_arch(arch)
    network = load_workload(workload)
    table = load_energy(energy if energy is not None else arch.energy_table)
    schedule = arch.schedule if schedule is None else schedule
    mapping = map_network(arch, network, schedule, stage_cost(arch))
    images = max(batch, len(inputs) if hasattr(inputs, "__len__") else 0)
    operations, estimate = simulation_estimate(mapping, images)
    require_memory("batch", estimate, f"{images:,} images of {network.name} on {arch.name} (up to {operations:,} "
                                      "operations)")
    _check_decoding(arch, network, mapping, batch)
    if network.decode_steps:
        check_decode_choice(decode)
    activity, data_stats = None, None
    if inputs is not None or weights is not None:
        batch, activity, data_stats = _functional_run(arch, network, mapping, inputs, weights, batch, seed)
    stream = build_stream(mapping, batch, activity, arch.pe.zero_skip)
    writer = TraceWriter(trace, overwrite) if trace is not None else None
    bar = _Progress(stream.operations, progress, f"{network.name} on {arch.name}")
    try:
        timeline, durations = execute(stream, arch, bar.callback)
        counts = count_stream(stream, arch)
        result = assemble(arch, network, table, schedule, stream, timeline, durations, counts, seed,
                          mapping=mapping, data_stats=data_stats)
        if network.decode_steps:
            result.decode = simulate_decode(arch, network, mapping, stream, table, batch, decode, execute)
        if writer is not None:
            level, reason = choose_detail(detail, stream)
            writer.write(result, level, reason, _flat(data_stats))
            result.trace_path = writer.commit()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    finally:
        bar.close()
    return result


def check_arguments(*, batch, schedule: Optional[str], detail: str, seed) -> None:
    """Raise :class:`~xbarsim.errors.ArgumentError` for a bad ``simulate`` argument (before any work;
    ``schedule`` None is the arch's own)."""
    if not isinstance(batch, numbers.Integral) or isinstance(batch, bool) or batch < 1:
        raise ArgumentError(f"batch: expected an integer >= 1, got {batch!r}")
    if schedule is not None and (not isinstance(schedule, str) or schedule not in SCHEDULES):
        raise ArgumentError(f"schedule: expected one of {', '.join(SCHEDULES)}, got {schedule!r}")
    if not isinstance(detail, str) or detail not in DETAIL_CHOICES:
        raise ArgumentError(f"detail: expected one of {', '.join(DETAIL_CHOICES)}, got {detail!r}")
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or not 0 <= seed < 1 << 63:
        raise ArgumentError(f"seed: expected an integer 0..2**63-1, got {seed!r}")


def assemble(arch, network, table, schedule, stream, timeline, durations, counts, seed, *, mapping=None,
             data_stats=None, spans=None, critical=None) -> SimulationResult:
    """Price and package a timed run (shared by simulate and replay).

    ``spans`` and ``critical`` (per layer) replace what the timeline would give, for replays of
    traces recorded without per-operation times.
    """
    seconds = timeline.cycles / arch.chip.clock
    energy = price(counts, table, arch, seconds)
    area, area_parts = area_mm2(table, arch)
    power, power_parts = peak_power_w(table, arch)
    if critical is None and spans is None:
        credit = critical_path(stream, timeline)
    else:
        credit = None
    return SimulationResult(
        arch=arch, network=network, energy_table=table, schedule=schedule, batch=stream.batch, seed=seed,
        mapping=mapping, stream=stream, timeline=timeline, durations=durations, actions=counts, energy=energy,
        area_mm2=area, area_by_component=area_parts, peak_power_w=power, peak_power_by_component=power_parts,
        peak_tops=peak_tops(arch),
        layers=layer_reports(network, stream, timeline, energy, credit, spans, critical),
        notes=stream.notes, data_stats=data_stats)
