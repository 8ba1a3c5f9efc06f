"""``xbarsim.simulate``: a network on an architecture, end to end.

spec -> mapping -> operation stream -> event model (timing) -> action counts -> energy.
"""

from __future__ import annotations

from typing import Optional, Union

from .config.arch import Arch
from .config.loader import load_arch
from .counting import count_stream
from .energy.pricing import area_mm2, peak_power_w, price
from .energy.table import EnergyTable, load_energy
from .mapping.placement import SCHEDULES, map_network
from .result import SimulationResult, layer_reports
from .timing.durations import Durations, stream_durations
from .timing.engine import run_stream
from .timing.schedule import build_stream
from .workload.loader import load_workload
from .workload.network import Network

__all__ = ["simulate", "peak_tops"]


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


def simulate(arch: Union[str, dict, Arch] = "isaac", workload: Union[str, dict, Network] = "resnet18", *,
             batch: int = 1, schedule: str = "layer", seed: int = 0,
             energy: Optional[Union[str, dict, EnergyTable]] = None) -> SimulationResult:
    """Simulate ``batch`` inferences of ``workload`` on ``arch``.

    ``arch`` and ``workload`` take preset names, YAML paths, dicts or loaded objects;
    ``schedule`` is ``"layer"`` (layer by layer) or ``"pipeline"`` (ISAAC's inter-layer
    pipeline with replication); ``energy`` overrides the arch's energy table. ``seed`` makes
    the data-dependent parts of a run reproducible.
    """
    arch = load_arch(arch)
    network = load_workload(workload)
    table = load_energy(energy if energy is not None else arch.energy_table)
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise ValueError(f"batch: expected an integer >= 1, got {batch!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule: expected one of {', '.join(SCHEDULES)}, got {schedule!r}")
    mapping = map_network(arch, network, schedule)
    stream = build_stream(mapping, batch)
    timeline = run_stream(stream, stream_durations(stream, mapping, arch))
    return assemble(arch, network, table, mapping, stream, timeline, count_stream(stream, mapping), seed)


def assemble(arch, network, table, mapping, stream, timeline, counts, seed, data_stats=None) -> SimulationResult:
    """Price and package a timed run (shared by simulate and replay)."""
    seconds = timeline.cycles / arch.chip.clock
    energy = price(counts, table, arch, seconds)
    area, area_parts = area_mm2(table, arch)
    power, power_parts = peak_power_w(table, arch)
    return SimulationResult(
        arch=arch, network=network, energy_table=table, schedule=mapping.schedule, batch=stream.batch, seed=seed,
        mapping=mapping, stream=stream, timeline=timeline, actions=counts, energy=energy, area_mm2=area,
        area_by_component=area_parts, peak_power_w=power, peak_power_by_component=power_parts,
        peak_tops=peak_tops(arch), layers=layer_reports(mapping, stream, timeline, energy, stream.batch),
        notes=mapping.notes + stream.notes, data_stats=data_stats)
