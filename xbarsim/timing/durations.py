"""How long each hardware operation takes, in whole cycles of the chip clock (pure arithmetic).

Every duration is rounded up to whole cycles of ``chip.clock`` and is at least one cycle, so
that the event model and the cycle-stepped reference agree on what happens within a cycle.

Array MVM. A burst of V vectors on a layer copy is a two-stage pipeline per array: stage 1
reads the crossbar (``read_latency``: DAC drive, settling, sample-and-hold), stage 2 converts
the sampled columns (``ceil(active columns / ADCs per array)`` conversions at ``adc_rate``).
Items are the input cycles of every vector (``adc_position: per_cycle``) or whole vectors
whose ``T`` reads precede one conversion (``after_accumulation``). With sample-and-hold the
next read overlaps the conversions: ``a + b + (n - 1) * max(a, b)`` cycles for n items of
stage times a and b; without it ``n * (a + b)``. The digital shift-and-add is pipelined
behind the ADC and keeps pace (ISAAC sizes it so). Arrays of a copy work in lockstep; the
copy takes as long as its slowest array (the one with most active columns).
"""

from __future__ import annotations

import math
from typing import Callable, Dict, Optional

from ..config.arch import Arch
from ..config.hierarchy import BufferSpec

__all__ = ["Durations", "cycles_of"]

_TOLERANCE = 1e-6  # cycles: absorbs float error in seconds x hertz (100 ns x 1.2 GHz = 120.00000000000001)


def cycles_of(seconds: float, clock_hz: float) -> int:
    """Whole cycles needed to cover ``seconds``: ``ceil(seconds * clock - 1e-6)``, at least 0."""
    return max(0, math.ceil(seconds * clock_hz - _TOLERANCE))


class Durations:
    """Durations of every operation kind for one architecture (cycles, all >= 1)."""

    def __init__(self, arch: Arch):
        self.arch = arch
        self.clock_hz = arch.chip.clock
        self.read = max(1, cycles_of(arch.pe.read_latency, self.clock_hz))
        """Crossbar read stage, cycles."""
        self._transfers: Dict[str, Callable[[int], int]] = {}

    def cycles(self, seconds: float) -> int:
        return cycles_of(seconds, self.clock_hz)

    def conversion(self, active_columns: int) -> int:
        """Conversion stage for one read: ``ceil(active_columns / ADCs)`` conversions, cycles."""
        per_adc = -(-active_columns // self.arch.pe.adcs_per_array)
        return max(1, self.cycles(per_adc / self.arch.pe.adc_rate))

    def mvm(self, vectors: int, input_cycles: int, active_columns: int, accumulate: bool,
            items: Optional[int] = None) -> int:
        """A burst of ``vectors`` on a copy whose busiest array has ``active_columns`` columns.

        ``items`` overrides the number of pipeline items (input cycles, or vectors when
        accumulating) when zero skipping drops some; a burst takes at least one cycle.
        """
        a = self.read * (input_cycles if accumulate else 1)
        b = self.conversion(active_columns)
        n = (vectors if accumulate else vectors * input_cycles) if items is None else items
        if n == 0:
            return 1
        if self.arch.pe.sample_hold:
            return a + b + (n - 1) * max(a, b)
        return n * (a + b)

    def mvm_period(self, input_cycles: int, active_columns: int, accumulate: bool) -> int:
        """Steady-state cycles per vector (used to balance pipeline stages and for peak throughput)."""
        a = self.read * (input_cycles if accumulate else 1)
        b = self.conversion(active_columns)
        items = 1 if accumulate else input_cycles
        return items * (max(a, b) if self.arch.pe.sample_hold else a + b)

    def _buffer(self, buffer: BufferSpec, nbytes: int) -> int:
        return max(1, self.cycles(buffer.latency + nbytes / buffer.bandwidth))

    def tile_buffer(self, nbytes: int) -> int:
        """Read or write ``nbytes`` through one tile-buffer port."""
        return self._buffer(self.arch.tile.buffer, nbytes)

    def global_buffer(self, nbytes: int) -> int:
        """Read or write ``nbytes`` through one global-buffer port."""
        return self._buffer(self.arch.global_buffer, nbytes)

    def dram(self, nbytes: int) -> int:
        """Move ``nbytes`` over one DRAM channel, latency included."""
        return max(1, self.cycles(self.arch.dram.latency + nbytes / self.arch.dram.bandwidth))

    def network(self, nbytes: int, hops: int) -> int:
        """Move ``nbytes`` over the bus or one mesh port, ``hops`` routers away."""
        net = self.arch.interconnect
        return max(1, self.cycles(hops * net.hop_latency + nbytes / net.bandwidth))

    def units(self, operations: int, units: int) -> int:
        """``operations`` spread over ``units`` that each do one per cycle."""
        return max(1, -(-operations // max(1, units)))

    def program(self, rows: int) -> int:
        """Write ``rows`` rows of every array of a copy (arrays in parallel, one pulse per row group)."""
        groups = -(-rows // self.arch.programming.rows_in_parallel)
        return max(1, self.cycles(groups * self.arch.programming.write_pulse))


def stream_durations(stream, mapping, arch: Arch) -> list:
    """Cycles of every operation of ``stream`` on ``arch``: ``result[step][op]``.

    ``mapping`` supplies the lowered layers (active columns, input cycles) of mvm operations;
    ``arch`` supplies every speed, so re-timing is this function with another arch.
    """
    d = Durations(arch)
    tile = arch.tile
    lowered = {(m.layer.index, p.lowered.part): p.lowered for m in mapping.layers for p in m.parts}
    cache: Dict[tuple, int] = {}

    def cycles(layer: int, op) -> int:
        key = (op.kind, op.amount, op.hops, layer if op.kind == "mvm" else -1, op.part, op.items)
        if key in cache:
            return cache[key]
        kind, n = op.kind, op.amount
        if kind == "mvm":
            low = lowered[(layer, op.part)]
            value = d.mvm(n, low.crossbar.input_cycles, low.active_columns,
                          low.crossbar.adc_position == "after_accumulation", op.items)
        elif kind in ("buffer_read", "buffer_write"):
            value = d.tile_buffer(n)
        elif kind in ("fetch_glb", "store_glb"):
            value = d.global_buffer(n)
        elif kind in ("fetch_dram", "store_dram", "weights_dram"):
            value = d.dram(n)
        elif kind in ("fetch_noc", "reduce"):
            value = d.network(n, op.hops)
        elif kind == "act":
            value = d.units(n, tile.activation_units)
        elif kind == "pool":
            value = d.units(n, tile.pooling_units)
        elif kind == "eltwise":
            value = d.units(n, tile.shift_add_units)
        elif kind == "program":
            value = d.program(n)
        else:  # pragma: no cover - OP_KINDS is closed
            raise ValueError(f"unknown operation kind {kind!r}")
        cache[key] = value
        return value

    return [[cycles(step.layer, op) for op in step.ops] for step in stream.steps]
