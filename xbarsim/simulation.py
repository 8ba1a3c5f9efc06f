"""``xbarsim.simulate``: a network on an architecture, end to end.

spec -> mapping -> operation stream -> event model (timing) -> action counts -> energy.
"""

from __future__ import annotations

import numbers
import os
from typing import Callable, List, Optional, Tuple, Union

from .config.arch import Arch
from .config.loader import load_arch
from .counting import count_stream
from .energy.pricing import area_mm2, peak_power_w, price
from .energy.table import EnergyTable, load_energy
from .errors import ArgumentError
from .limits import require_memory, simulation_estimate
from .outputs import check_destination
from .mapping.placement import SCHEDULES, map_network
from .result import SimulationResult, layer_reports
from .timing.durations import Durations, stream_durations
from .timing.engine import paused_gc, run_stream
from .timing.schedule import build_stream
from .trace.schema import AUTO_EVENT_LIMIT, DETAILS
from .trace.writer import TraceWriter
from .workload.loader import load_workload
from .workload.network import Network

__all__ = ["simulate", "peak_tops", "assemble", "choose_detail"]


def peak_tops(arch: Arch) -> float:
    """Peak throughput at the crossbar's precision: every array busy, all columns in use.

    ``2 x arrays x rows x floor(cols / (slices x polarities)) / (time per vector)``, where a
    vector takes ``input_cycles`` reads of ``max(read, conversion)`` cycles (with
    sample-and-hold; their sum without).
    """
    xb = arch.crossbar
    per_vector = Durations(arch).mvm_period(xb.input_cycles, xb.cols, xb.adc_position == "after_accumulation")
    seconds = per_vector / arch.chip.clock
    macs = arch.arrays * xb.rows * (xb.cols // xb.columns_per_weight)
    return 2 * macs / seconds / 1e12


DETAIL_CHOICES = ("auto",) + DETAILS


def choose_detail(detail: str, stream) -> Tuple[str, str]:
    """The trace detail to write and why (``auto`` records events for runs of moderate size)."""
    if detail not in DETAIL_CHOICES:
        raise ArgumentError(f"detail: expected one of {', '.join(DETAIL_CHOICES)}, got {detail!r}")
    if detail != "auto":
        return detail, "requested"
    n = stream.operations
    if n <= AUTO_EVENT_LIMIT:
        return "event", f"auto: {n:,} operations <= {AUTO_EVENT_LIMIT:,}, every operation recorded"
    return "layer", f"auto: {n:,} operations > {AUTO_EVENT_LIMIT:,}, one row per step instead of per operation"


def _callbacks(callbacks: List[Callable]) -> Optional[Callable]:
    callbacks = [c for c in callbacks if c is not None]
    if not callbacks:
        return None
    if len(callbacks) == 1:
        return callbacks[0]

    def both(step, op, start, end):
        for callback in callbacks:
            callback(step, op, start, end)
    return both


class _Progress:
    """A tqdm bar over operations, shown only if the run lasts more than two seconds."""

    def __init__(self, total: int, enabled: bool, label: str):
        self.bar = None
        self.pending = 0
        if enabled:
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit="op", delay=2.0, desc=label, leave=False, dynamic_ncols=True)

    def __call__(self, step, op, start, end):
        self.pending += 1
        if self.pending == 4096:
            self.bar.update(self.pending)
            self.pending = 0

    @property
    def callback(self):
        return self if self.bar is not None else None

    def close(self):
        if self.bar is not None:
            self.bar.update(self.pending)
            self.bar.close()


def _functional_run(arch, network, inputs, weights, batch, seed):
    """Run the functional model on real inputs; (batch, digit statistics per layer, summary)."""

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
    _, data = programmed.digit_statistics(x, rng=seed)
    summary = {}
    planes_all = skipped_all = cycles_all = active_all = drives_all = 0
    for name, stats in data.items():
        layer = network.layer(name)
        spec = programmed.quantization[name].crossbar
        T = spec.input_cycles
        vectors = len(stats.cycles)
        k = layer.rows_per_group
        drives = vectors * T * k * layer.groups
        possible_cycles = vectors * (T if spec.adc_position == "per_cycle" else 1)
        planes = vectors * T * layer.groups * len(stats.planes)
        summary[name] = {"active_row_fraction": stats.active / drives,
                         "nonzero_plane_fraction": float(stats.planes.sum()) / planes,
                         "executed_cycle_fraction": float(stats.cycles.sum()) / possible_cycles}
        planes_all += planes
        skipped_all += planes - int(stats.planes.sum())
        cycles_all += possible_cycles
        active_all += stats.active
        drives_all += drives
    summary["total"] = {"active_row_fraction": active_all / max(1, drives_all),
                        "nonzero_plane_fraction": 1 - skipped_all / max(1, planes_all),
                        "executed_cycle_fraction": sum(int(s.cycles.sum()) for s in data.values()) / max(1, cycles_all)}
    return len(x), data, summary


def _flat(stats):
    """A data-aware summary flattened to HDF5 attributes (``layer/key``)."""
    if not stats:
        return None
    return {f"{layer}/{key}": value for layer, values in stats.items() for key, value in values.items()}


@paused_gc()  # a context decorator: functools.wraps keeps the signature and docstring
def simulate(arch: Union[str, dict, Arch] = "isaac", workload: Union[str, dict, Network] = "resnet18", *,
             batch: int = 1, schedule: str = "layer", seed: int = 0,
             energy: Optional[Union[str, dict, EnergyTable]] = None, trace: Optional[Union[str, os.PathLike]] = None,
             detail: str = "auto", overwrite: bool = False, progress: bool = False, inputs=None,
             weights=None) -> SimulationResult:
    """Simulate ``batch`` inferences of ``workload`` on ``arch``.

    ``arch`` and ``workload`` take preset names, YAML paths, dicts or loaded objects;
    ``schedule`` is ``"layer"`` (layer by layer) or ``"pipeline"`` (ISAAC's inter-layer
    pipeline with replication); ``energy`` overrides the arch's energy table. ``seed`` makes
    the data-dependent parts of a run reproducible.

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
    """
    check_arguments(batch=batch, schedule=schedule, detail=detail, seed=seed)
    if trace is not None:
        check_destination(trace, what="trace", overwrite=overwrite)
    arch = load_arch(arch)
    network = load_workload(workload)
    table = load_energy(energy if energy is not None else arch.energy_table)
    mapping = map_network(arch, network, schedule)
    images = max(batch, len(inputs) if hasattr(inputs, "__len__") else 0)
    operations, estimate = simulation_estimate(mapping, images)
    require_memory("batch", estimate, f"{images:,} images of {network.name} on {arch.name} (up to {operations:,} "
                                      "operations)")
    data, data_stats = None, None
    if inputs is not None or weights is not None:
        batch, data, data_stats = _functional_run(arch, network, inputs, weights, batch, seed)
    items = None
    if data is not None and arch.pe.zero_skip:
        items = {network.layer(name).index: stats.cycles.reshape(batch, -1, network.layer(name).F).sum(axis=2)
                 for name, stats in data.items()}
    stream = build_stream(mapping, batch, items)
    durations = stream_durations(stream, mapping, arch)
    writer = TraceWriter(trace, overwrite) if trace is not None else None
    bar = _Progress(stream.operations, progress, f"{network.name} on {arch.name}")
    try:
        level = None
        if writer is not None:
            level, reason = choose_detail(detail, stream)
            writer.header(arch=arch, network=network, table=table, schedule=schedule, batch=batch, seed=seed,
                          detail=level, reason=reason, data_aware=data is not None)
            writer.stream(stream, [layer.name for layer in network.layers])
            if level == "event":
                writer.begin_events()
        on_op = _callbacks([writer.on_op if level == "event" else None, bar.callback])
        timeline = run_stream(stream, durations, on_op=on_op)
        by_index = None if data is None else {network.layer(name).index: stats for name, stats in data.items()}
        counts = count_stream(stream, mapping, by_index, arch.pe.zero_skip)
        result = assemble(arch, network, table, mapping, stream, timeline, counts, seed, data_stats=data_stats)
        if writer is not None:
            if level == "event":
                writer.end_events()
            if level in ("layer", "event"):
                writer.step_times(stream, timeline)
            writer.results(result, _flat(data_stats))
            result.trace_path = writer.commit()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    finally:
        bar.close()
    return result


def check_arguments(*, batch, schedule: str, detail: str, seed) -> None:
    """Raise :class:`~xbarsim.errors.ArgumentError` for a bad ``simulate`` argument (before any work)."""
    if not isinstance(batch, numbers.Integral) or isinstance(batch, bool) or batch < 1:
        raise ArgumentError(f"batch: expected an integer >= 1, got {batch!r}")
    if not isinstance(schedule, str) or schedule not in SCHEDULES:
        raise ArgumentError(f"schedule: expected one of {', '.join(SCHEDULES)}, got {schedule!r}")
    if not isinstance(detail, str) or detail not in DETAIL_CHOICES:
        raise ArgumentError(f"detail: expected one of {', '.join(DETAIL_CHOICES)}, got {detail!r}")
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or not 0 <= seed < 1 << 63:
        raise ArgumentError(f"seed: expected an integer 0..2**63-1, got {seed!r}")


def assemble(arch, network, table, mapping, stream, timeline, counts, seed, data_stats=None,
             spans=None) -> SimulationResult:
    """Price and package a timed run (shared by simulate and replay).

    ``spans`` (layer name -> (start, end) cycle) replaces the per-layer spans the timeline would
    give, for replays of traces without per-operation times.
    """
    seconds = timeline.cycles / arch.chip.clock
    energy = price(counts, table, arch, seconds)
    area, area_parts = area_mm2(table, arch)
    power, power_parts = peak_power_w(table, arch)
    return SimulationResult(
        arch=arch, network=network, energy_table=table, schedule=mapping.schedule, batch=stream.batch, seed=seed,
        mapping=mapping, stream=stream, timeline=timeline, actions=counts, energy=energy, area_mm2=area,
        area_by_component=area_parts, peak_power_w=power, peak_power_by_component=power_parts,
        peak_tops=peak_tops(arch), layers=layer_reports(mapping, stream, timeline, energy, stream.batch, spans),
        notes=mapping.notes + stream.notes, data_stats=data_stats)
