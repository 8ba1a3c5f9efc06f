"""Bit-serial, bit-sliced matrix-vector multiplication on analog crossbars, vectorized.

``program(weights, spec)`` maps a signed integer matrix (K, M) onto arrays and returns a
:class:`ProgrammedMatrix`; its ``mvm(inputs)`` returns the (N, M) estimate of ``inputs @
weights`` that the hardware would produce.

How the work is laid out (so that it runs at BLAS speed). With R row tiles of ``rows``, T
input cycles, J = polarities x slices physical column kinds and a chunk of n vectors:

1. digits (R, n*T, rows) @ conductances (R, rows, J*M) -> analog partial sums (R, n, T, J, M),
   one batched matrix product for every cycle, slice and row tile at once;
2. read noise: one more product of squared digits and squared conductances gives each
   partial sum's variance; one Gaussian sample per conversion;
3. (``after_accumulation``) the cycles of each phase are summed with weights 2**(t*dac_bits)
   (one phase unless ``phase_cycles``; then the codes of phase g are weighted by 2**(first*dac_bits));
4. the ADC turns every partial sum into a code, in place;
5. shift-and-add: one contraction of the codes with weights ``2**(t*dac_bits) *
   2**(s*cell_bits) * sign * step`` over (cycle, column kind), summed over row tiles;
6. digital corrections: ADC offsets, flipped columns, the offset-mapping bias.

Intermediates are float32 whenever every value that must be exact is an integer below 2**24,
float64 otherwise. Nothing loops over cells, columns, bits or vectors in Python; the only
loop is over chunks of vectors, which bounds memory.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional, Tuple, Union

import numpy as np

from ..config.crossbar import CrossbarSpec
from ..mapping import activity
from ..mapping.tiling import ArrayTiling
from ..limits import require_memory
from .checks import integer_array
from .converters import (
    AdcRanges, conversion_weights, digit_bounds, explicit_ranges, phase_weights, full_scale_ranges, input_bounds,
    input_planes, quantize_dynamic, quantize_to_codes, ranges_from_limits,
)
from .devices import DRAW_CHUNK, ProgrammedCells, cycle_conductances, level_step_s, program_cells, standard_normal
from .slicing import encode_weights, flip_columns, slice_max_levels
from ..errors import ArgumentError

__all__ = ["program", "mvm", "ProgrammedMatrix", "MvmStats", "Seed", "make_rng", "program_memory"]

Seed = Union[None, int, np.random.SeedSequence, np.random.Generator]

_EXACT_FLOAT32 = 1 << 24  # integers below this are exact in float32
_CHUNK_BYTES = 2 << 20  # partial sums held at once: with their digits, small enough to stay in cache between
# the passes, large enough that per-call overheads stay small (measured on the study's layer shapes,
# K = 9..576, M = 16..128, at load 5-6: 2 MiB is the fastest or within 8% of the fastest of 0.5-4 MiB
# for each; 4 MiB was up to 25% slower on 3x3 convolutions of 16 channels, 1 MiB 10-25% slower on
# the narrowest and the widest layers)
_CALIBRATION_SAMPLES = 1 << 16  # values kept per conversion kind and chunk for percentiles


def make_rng(seed: Seed) -> np.random.Generator:
    """A Generator from None (fresh OS entropy), an int, a SeedSequence or a Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, (int, np.integer, np.random.SeedSequence)) and not isinstance(seed, bool)):
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed < 0:
            raise ArgumentError(f"rng: expected a seed >= 0, got {seed}")
        return np.random.default_rng(seed)
    raise ArgumentError(f"rng: expected None, an int seed, a SeedSequence or a Generator, got {type(seed).__name__}")


@dataclass(frozen=True)
class MvmStats:
    """What one or more ``mvm`` calls did: the counts the energy model prices.

    Structural counts follow from the shapes; ``active_row_drives``, ``zero_bitplanes`` and
    ``clipped_conversions`` depend on the data.
    """

    vectors: int = 0
    """Input vectors processed."""
    input_cycles: int = 0
    """Input cycles per vector (``ceil(input_bits / dac_bits)``)."""
    array_reads: int = 0
    """Analog array reads: vectors x input cycles x arrays."""
    row_drives: int = 0
    """DAC conversions: vectors x input cycles x used rows x column tiles."""
    active_row_drives: int = 0
    """Row drives with a non-zero digit (rows that actually conduct)."""
    bitplanes: int = 0
    """Input digit planes: vectors x input cycles x row tiles."""
    zero_bitplanes: int = 0
    """Digit planes that are all zero: their reads could be skipped."""
    adc_conversions: int = 0
    """Partial sums digitized: vectors x row tiles x conversions per vector x used columns."""
    clipped_conversions: int = 0
    """Conversions whose analog value lay outside the ADC range."""
    reference_conversions: int = 0
    """Conversions of NeuroSim's mid-scale dummy column (``reference_column: midscale``), on top
    of ``adc_conversions``: one per vector, row tile, conversion per vector and column kind
    (weight slice), as NeuroSim digitizes ``outputDummy`` once per subarray, input bit and
    weight slice; 0 otherwise."""

    def __add__(self, other: "MvmStats") -> "MvmStats":
        if not isinstance(other, MvmStats):
            return NotImplemented
        if self.vectors and other.vectors and self.input_cycles != other.input_cycles:
            raise ArgumentError("cannot add MvmStats of different input_cycles")
        merged = {f.name: getattr(self, f.name) + getattr(other, f.name) for f in dataclasses.fields(self)}
        merged["input_cycles"] = self.input_cycles or other.input_cycles
        return MvmStats(**merged)

    @property
    def active_row_fraction(self) -> float:
        """Share of row drives with a non-zero digit."""
        return self.active_row_drives / self.row_drives if self.row_drives else 0.0

    @property
    def zero_bitplane_fraction(self) -> float:
        """Share of digit planes that are all zero."""
        return self.zero_bitplanes / self.bitplanes if self.bitplanes else 0.0


class ProgrammedMatrix:
    """A weight matrix programmed onto crossbar arrays; build it with :func:`program`.

    Programming variation and faults are fixed at construction. Each :meth:`mvm` call draws
    fresh read noise, from the ``rng`` it is given or else from the matrix's own stream
    (seeded at programming, so a sequence of calls is reproducible).
    """

    def __init__(self, *, spec: CrossbarSpec, shape: Tuple[int, int], tiling: ArrayTiling,
                 stored_levels: np.ndarray, flipped: Optional[np.ndarray], cells: ProgrammedCells,
                 read_rng: np.random.Generator, ranges: Optional[AdcRanges] = None):
        self.spec = spec
        """The crossbar spec the matrix was programmed with."""
        self.shape = shape
        """(K, M) of the weight matrix."""
        self.tiling = tiling
        """Arrays, row and column tiles, cells used and utilization."""
        self._stored = stored_levels  # (P, S, R, rows, M) uint8
        self._flipped = flipped  # (P, S, R, M) bool or None
        self._cells = cells
        self._read_rng = read_rng
        self.ranges = ranges
        """ADC transfer (lo, step per conversion kind); None until calibrated if adc_range is 'calibrated'."""

        P, S, R, rows, M = stored_levels.shape
        J = P * S
        self._dims = (R, rows, J, M)
        self._slice_max = slice_max_levels(spec)
        self._dtype = np.float32 if self._analog_bound() < _EXACT_FLOAT32 else np.float64
        # conductance matrices in GEMM layout: the full row tiles (R-1, rows, J*M) batched, the last
        # row tile (rows_last, J*M) with only its used rows, so padding rows cost nothing
        self._rows_last = tiling.rows_per_tile[-1]
        source = cells.levels if cells.varied is None else cells.varied  # (P, S, R, rows, M)
        signal = self._gemm_layout(source, lambda tile: tile)
        self._a = self._split(signal)
        self._a2 = None  # read-noise variance per unit drive: (sigma * conductance)**2
        if spec.read_noise_sigma > 0:
            sigma, g_off = spec.read_noise_sigma, cells.g_off
            self._a2 = self._split(self._gemm_layout(source, lambda tile: (sigma * (tile + g_off)) ** 2))
        self._cycle_variation = spec.variation_draw == "cycle" and spec.variation_sigma > 0
        self._nominal = self._stuck = None
        if self._cycle_variation:  # conductances are drawn per call and cycle from these
            self._nominal = signal
            if cells.stuck_on is not None:
                self._stuck = (cells.stuck_on | cells.stuck_off).transpose(2, 3, 0, 1, 4).reshape(R, rows, J * M)
        # NeuroSim's dummy column: mid-scale cells, digitized and subtracted (offset mapping only)
        self._midscale = None
        if spec.reference_column == "midscale":
            self._midscale = cells.g_off + self._slice_max.astype(np.float64) / 2.0  # (S,) = (J,)
        # variances need squared digits, except 1-bit unsigned ones (0 or 1: their own squares)
        self._square_digits = not (spec.dac_bits == 1 and not spec.signed_inputs)
        # shift-and-add weights of the column kinds: sign of the polarity x 2**(s*cell_bits)
        signs = np.array([1, -1][:P], dtype=np.float64)
        self._w_j = (signs[:, None] * np.exp2(np.arange(S) * spec.cell_bits)[None, :]).ravel()  # (J,)
        self._w_g = conversion_weights(spec).astype(np.float64)  # (G,)
        if flipped is not None:
            f = flipped.transpose(2, 0, 1, 3).reshape(R, J, M)  # (R, J, M)
            self._sign = np.where(f, -1.0, 1.0)
            level_max = np.tile(self._slice_max, P).astype(np.float64)
            self._flip_corr = np.einsum("rjm,j->rm", f.astype(np.float64), self._w_j * level_max)
        else:
            self._sign = None
            self._flip_corr = None
        self._fold_cache = None  # (ranges, a, a2, folded, in_range): operands divided by the ADC steps
        self._shift_add_cache = None  # (ranges, dtype, constants of the shift-and-add)
        xmin, xmax = input_bounds(spec)  # input sums by a float32 product where they are exact
        self._ones = np.ones(shape[0], dtype=np.float32) if shape[0] * max(abs(xmin), xmax) < _EXACT_FLOAT32 else None

    # -- what the matrix occupies ------------------------------------------------------------

    @property
    def cells_used(self) -> int:
        """Cells holding weight data."""
        return self.tiling.cells_used

    @property
    def arrays(self) -> int:
        """Arrays occupied."""
        return self.tiling.arrays

    @property
    def cell_levels(self) -> np.ndarray:
        """Stored level of every used cell, (P, S, K, M) uint8 (flipped columns complemented)."""
        P, S, R, rows, M = self._stored.shape
        return self._stored.reshape(P, S, R * rows, M)[:, :, : self.shape[0], :]

    @property
    def conductance_s(self) -> np.ndarray:
        """Programmed conductance of every used cell in siemens, (P, S, K, M) float64."""
        P, S, R, rows, M = self._stored.shape
        g = self._cells.conductance.reshape(P, S, R * rows, M)[:, :, : self.shape[0], :]
        return g * level_step_s(self.spec)

    @property
    def nominal_conductance_s(self) -> np.ndarray:
        """Conductance each used cell was meant to have (no variation, no faults), (P, S, K, M)."""
        return (self.cell_levels.astype(np.float64) + self._cells.g_off) * level_step_s(self.spec)

    @property
    def stuck_cells(self) -> Tuple[int, int]:
        """Number of used cells stuck at (G_on, G_off)."""
        if self._cells.stuck_on is None:
            return 0, 0
        P, S, R, rows, M = self._stored.shape

        def used(mask):
            return int(mask.reshape(P, S, R * rows, M)[:, :, : self.shape[0], :].sum())

        return used(self._cells.stuck_on), used(self._cells.stuck_off)

    def __repr__(self) -> str:
        t = self.tiling
        return (f"ProgrammedMatrix({self.shape[0]}x{self.shape[1]} on {t.arrays} arrays of "
                f"{t.rows}x{t.cols}: {t.row_tiles} row tiles x {t.col_tiles} column tiles, "
                f"utilization {t.utilization:.1%})")

    # -- computing -----------------------------------------------------------------------------

    def _analog_bound(self) -> int:
        """Largest magnitude an ideal analog value can reach (partial or accumulated sum)."""
        dlo, dhi = digit_bounds(self.spec)
        digit = max(abs(int(dlo.min())), int(dhi.max()))
        column = self.spec.rows * self.spec.max_level
        if self.spec.adc_position == "after_accumulation":  # the widest phase's accumulated digits
            weights = phase_weights(self.spec)
            digit = int(max(np.abs(dlo @ weights).max(), (dhi @ weights).max()))
        return column * digit

    def _check_inputs(self, inputs) -> Tuple[np.ndarray, bool]:
        xmin, xmax = input_bounds(self.spec)
        kind = "signed" if self.spec.signed_inputs else "unsigned"
        x = integer_array(inputs, "inputs", ndim=(1, 2), lo=xmin, hi=xmax,
                          what=f"{self.spec.input_bits}-bit {kind}", rows=self.shape[0])
        return (x[None, :], True) if x.ndim == 1 else (x, False)

    def _chunks(self, n_vectors: int):
        R, rows, J, M = self._dims
        T = self.spec.input_cycles
        per_vector = R * T * J * M * np.dtype(self._dtype).itemsize * (2 if self._a2 is not None else 1)
        size = max(1, min(n_vectors, _CHUNK_BYTES // max(per_vector, 1)))
        for start in range(0, n_vectors, size):
            yield slice(start, min(n_vectors, start + size))

    def _gemm_layout(self, cells: np.ndarray, values) -> np.ndarray:
        """``values(cells of one row tile)`` for every row tile, in GEMM layout (R, rows, J*M) and dtype.

        ``cells`` is (P, S, R, rows, M); ``values`` computes in float64 one row tile at a time,
        so the only full-size array is the result, in the GEMM dtype.
        """
        R, rows, J, M = self._dims
        out = np.empty((R, rows, J * M), dtype=self._dtype)
        for r in range(R):
            tile = values(cells[:, :, r].astype(np.float64, copy=False))  # (P, S, rows, M)
            out[r] = tile.transpose(2, 0, 1, 3).reshape(rows, J * M)
        return out

    def _split(self, matrix: np.ndarray):
        """(full row tiles (R-1, rows, JM) or None, last row tile (rows_last, JM)), contiguous, GEMM dtype."""
        R = matrix.shape[0]
        full = np.ascontiguousarray(matrix[:R - 1], dtype=self._dtype) if R > 1 else None
        return full, np.ascontiguousarray(matrix[R - 1, : self._rows_last], dtype=self._dtype)

    def _digits(self, x: np.ndarray):
        """DAC digits of a chunk of validated inputs in read layout, cycle-major: (full tiles
        (R-1, T, n, rows) or None, last tile (1, T, n, rows_last)), GEMM dtype. Cycle-major, each
        cycle's digits are written as contiguous blocks (measured 4-10x faster than interleaving
        the cycles per vector) and a matrix per cycle reads them in place."""
        R, rows, _, _ = self._dims
        cut = (R - 1) * rows
        full = input_planes(x[:, :cut], self.spec, R - 1, rows, self._dtype, True) if R > 1 else None
        return full, input_planes(x[:, cut:], self.spec, 1, self._rows_last, self._dtype, True)

    @staticmethod
    def _vectors_cycles(digits) -> Tuple[int, int]:
        """(n, T) of a chunk's digits."""
        T, n = digits[1].shape[1:3]
        return n, T

    def _product(self, digits, matrices, square: bool = False) -> np.ndarray:
        """Column sums of every row tile, (R, T*n, J*M): full tiles batched, the last on its own;
        with a matrix per input cycle (variation drawn per cycle), one product per cycle.

        ``square`` multiplies squared digits (for read-noise variances).
        """
        full, last = digits
        n, T = self._vectors_cycles(digits)
        R = self._dims[0]
        out = np.empty((R, T * n, matrices[1].shape[-1]), dtype=self._dtype)
        if matrices[1].ndim == 3:
            cycles = out.reshape(R, T, n, -1)
            if full is not None:
                v = full * full if square else full  # (R-1, T, n, rows)
                for t in range(T):
                    np.matmul(v[:, t], matrices[0][t], out=cycles[:R - 1, t])
            v = last[0] * last[0] if square else last[0]  # (T, n, rows_last)
            np.matmul(v, matrices[1], out=cycles[R - 1])
            return out
        if full is not None:
            v = full.reshape(R - 1, T * n, -1)
            np.matmul(v * v if square else v, matrices[0], out=out[:R - 1])
        v = last.reshape(T * n, -1)
        np.matmul(v * v if square else v, matrices[1], out=out[R - 1])
        return out

    def _draw_cycle_cells(self, rng: np.random.Generator):
        """Conductances for one mvm call with variation drawn per input cycle: ``(a, a2)`` in the
        layout of ``_a`` and ``_a2`` with a leading cycle axis."""
        T = self.spec.input_cycles
        g_off = self._cells.g_off
        signal = cycle_conductances(self._nominal, g_off, self._stuck, self.spec, T, rng)  # (T, R, rows, JM)
        R = self._dims[0]

        def split(matrix):
            full = np.ascontiguousarray(matrix[:, :R - 1], dtype=self._dtype) if R > 1 else None
            return full, np.ascontiguousarray(matrix[:, R - 1, : self._rows_last], dtype=self._dtype)

        a2 = split((self.spec.read_noise_sigma * (signal + g_off)) ** 2) if self.spec.read_noise_sigma > 0 else None
        return split(signal), a2

    def _analog(self, digits, rng: np.random.Generator, cells=None) -> np.ndarray:
        """Analog values reaching the ADC, (R, G, n, J, M) (conversion-major), for the digits of
        :meth:`_digits`. ``cells``: per-call conductances from :meth:`_draw_cycle_cells`."""
        R, rows, J, M = self._dims
        n, T = self._vectors_cycles(digits)
        a, a2 = cells if cells is not None else (self._a, self._a2)
        sums = self._product(digits, a).reshape(R, T, n, J, M)
        noise = None
        if a2 is not None:  # variance of each column sum: a second product, no per-cell draw
            noise = self._product(digits, a2, square=self._square_digits).reshape(R, T, n, J, M)
        if self.spec.adc_position == "after_accumulation":  # each phase's cycles add up before its conversion
            w = phase_weights(self.spec).astype(self._dtype)  # (T, G)
            sums = np.einsum("rtnjm,tg->rgnjm", sums, w)
            if noise is not None:
                noise = np.einsum("rtnjm,tg->rgnjm", noise, w * w)
        if noise is not None:
            np.sqrt(noise, out=noise)
            noise *= standard_normal(rng, noise.shape, self._dtype)
            sums += noise
        return sums

    def _contract(self, total: np.ndarray, weights: np.ndarray, dtype) -> np.ndarray:
        """``y[n, m] = sum_gj weights[g, j] * total[g, n, j, m]`` as float64 (n, M): one broadcast
        vector-matrix product per conversion kind (measured 20x faster than a GEMM with a
        block-diagonal weight matrix)."""
        y = None
        for g in range(total.shape[0]):
            part = np.matmul(weights[g].astype(dtype), total[g].astype(dtype, copy=False))  # (n, M)
            y = part.astype(np.float64) if y is None else y + part
        return y

    def _shift_add(self, codes: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Digital result (n, M) float64 from ADC codes (R, G, n, J, M) and the chunk's inputs.

        The codes are weighed by the shift-and-add weights of the (cycle, column kind) pairs and
        summed over row tiles, cycles and column kinds (codes are small integers: exact).
        """
        R, rows, J, M = self._dims
        ranges = self.ranges
        G, n = codes.shape[1:3]
        if self._sign is not None:
            codes *= self._sign[:, None, None, :, :].astype(codes.dtype)
        c = self._shift_add_constants(codes.dtype)
        if c["factored"]:
            # the shift-and-add weights factor as w_g x (w_j * step_j): one matrix-vector product
            # sums the conversions of each column kind over the row tiles and g (integers, exact),
            # then J scaled adds (measured 4-6x faster than a broadcast product per g; summing
            # the row tiles inside the product saves a pass over the codes)
            flat = codes.reshape(R * G, -1)
            summed = (c["w_rg"] @ flat.astype(c["w_rg"].dtype, copy=False)).reshape(n, J, M)
            per_kind = c["per_kind"]
            y = summed[:, 0].astype(np.float64) * per_kind[0]
            for j in range(1, J):
                y += summed[:, j] * per_kind[j]
        else:
            total = codes[0]
            for r in range(1, R):
                total += codes[r]
            y = self._contract(total, c["weights"], c["dtype"])
        # code-independent parts: the ADC offsets (lo), flipped columns, the mapping bias
        y += c["offsets"]
        if self._sign is not None:
            tile_sums = np.pad(x, ((0, 0), (0, R * rows - x.shape[1]))).reshape(n, R, rows).sum(axis=2, dtype=np.int64)
            y += tile_sums.astype(np.float64) @ self._flip_corr
        if self.spec.weight_mapping == "offset":
            y -= float(1 << (self.spec.weight_bits - 1)) * self._input_sums(x)[:, None]
        return y

    def _shift_add_constants(self, dtype) -> dict:
        """What the shift-and-add needs besides the codes, computed once per ADC ranges (a
        matrix calls it for every chunk of vectors)."""
        ranges = self.ranges
        cached = self._shift_add_cache
        if cached is not None and cached[0] is ranges and cached[1] == dtype:
            return cached[2]
        R = self._dims[0]
        step = ranges.step  # (G, J)
        c = {"factored": bool(np.all(step == step[:1]))}
        if c["factored"]:
            bound = R * float(ranges.top.max()) * float(np.abs(self._w_g).sum())
            c["w_rg"] = np.tile(self._w_g, R).astype(np.float64 if bound >= _EXACT_FLOAT32 else dtype)
            c["per_kind"] = self._w_j * step[0]  # (J,)
        else:
            c["weights"] = self._w_g[:, None] * self._w_j[None, :] * step  # (G, J)
            bound = R * float(ranges.top.max()) * float(np.abs(c["weights"]).sum())
            c["dtype"] = np.float64 if (ranges.exact and bound >= _EXACT_FLOAT32) else dtype
        lo_w = (self._w_g[:, None] * ranges.lo).sum(axis=0) * self._w_j  # (J,)
        if self._sign is not None:
            c["offsets"] = np.einsum("rjm,j->m", self._sign, lo_w)[None, :]
        else:
            c["offsets"] = R * lo_w.sum()
        self._shift_add_cache = (ranges, dtype, c)
        return c

    def _input_sums(self, x: np.ndarray) -> np.ndarray:
        """Sum of each input vector, (n,) float64: a float32 matrix-vector product where every
        sum is an integer below 2**24 (exact; measured 2x faster than an int64 reduction of
        8-bit inputs), else the int64 reduction."""
        if self._ones is not None:
            return (x.astype(np.float32) @ self._ones).astype(np.float64)
        return x.sum(axis=1, dtype=np.int64).astype(np.float64)

    def _code_operands(self, cells):
        """GEMM operands ``(a, a2, folded, in_range)``: with ``folded`` the columns are pre-divided
        by their ADC step, so the products come out in code units and the ADC needs no division
        pass. Folding needs every conversion of a column kind to share one step (true unless a
        narrower top DAC digit or a calibration gives cycles different steps); unit steps need
        nothing. ``in_range`` says that no conversion can clip (:meth:`_never_clips`)."""
        a, a2 = cells if cells is not None else (self._a, self._a2)
        ranges = self.ranges
        step = ranges.step
        if np.all(step == 1) or np.any(step != step[:1]):
            return a, a2, False, False
        if cells is None and self._fold_cache is not None and self._fold_cache[0] is ranges:
            return self._fold_cache[1:]
        R, rows, J, M = self._dims
        scale = np.repeat(1.0 / step[0], M)  # (J*M,), column order j-major

        def times(pair, factor):
            if pair is None:
                return None
            full, last = pair
            return (None if full is None else (full * factor).astype(self._dtype),
                    (last * factor).astype(self._dtype))

        folded = (times(a, scale), times(a2, scale * scale), True)
        if cells is None:
            folded += (a2 is None and self._never_clips(folded[0]),)
            self._fold_cache = (ranges,) + folded
        else:
            folded += (False,)
        return folded

    def _never_clips(self, folded) -> bool:
        """True if no input can drive a conversion outside the ADC range: for every conversion
        kind and column, the extreme analog values the digits can produce (each row at its
        smallest or largest digit, whichever gives the extreme; in code units, with a bound on
        float32 rounding) round inside [0, top]. Then the ADC's clipping is the identity and
        is skipped. Only without read noise and for conductances fixed at programming, where
        the bound holds for every call."""
        if self.spec.adc_position != "per_cycle":
            return False
        ranges = self.ranges
        dlo, dhi = (d.astype(np.float64) for d in digit_bounds(self.spec))  # (T,) each
        shift = ranges.lo / ranges.step  # (G, J), G = T
        R, rows, J, M = self._dims
        full, last = folded
        tiles = ([full[r] for r in range(R - 1)] if full is not None else []) + [last]
        for tile in tiles:  # (rows, J*M)
            g = tile.astype(np.float64)
            pos, neg = np.maximum(g, 0).sum(axis=0), np.minimum(g, 0).sum(axis=0)  # (J*M,)
            # rows x unit roundoff of float32 (twice, with the shift) bounds the product's error
            slack = (tile.shape[0] + 2) * 2.0 ** -23 * (pos - neg)[None, :] * np.maximum(abs(dlo), abs(dhi))[:, None]
            high = np.maximum(dhi[:, None] * pos, dlo[:, None] * pos) + np.maximum(dhi[:, None] * neg, dlo[:, None] * neg)
            low = np.minimum(dhi[:, None] * pos, dlo[:, None] * pos) + np.minimum(dhi[:, None] * neg, dlo[:, None] * neg)
            shift_m = np.repeat(shift, M, axis=1)  # (T, J*M)
            top_m = np.repeat(ranges.top, M, axis=1)
            if np.any(high - shift_m + slack >= top_m + 0.5) or np.any(low - shift_m - slack <= -0.5):
                return False
        return True

    def _quantize_folded(self, values: np.ndarray, count_clipped: bool, in_range: bool = False) -> Optional[int]:
        """ADC codes in place for values already in code units (see :meth:`_code_operands`);
        ``in_range``: no value can clip, so codes are only rounded."""
        ranges = self.ranges
        shift = ranges.lo / ranges.step  # (G, J), broadcast over (R, G, n, J, M) as (G, 1, J, 1)
        if np.any(shift != 0):
            np.subtract(values, shift[:, None, :, None].astype(values.dtype), out=values)
        np.rint(values, out=values)
        if in_range:
            return 0 if count_clipped else None
        clipped = None
        top = ranges.top
        if count_clipped:
            clipped = int(np.count_nonzero(values < 0)) + int(np.count_nonzero(values > top[:, None, :, None]))
        if np.all(top == top.flat[0]):
            np.clip(values, 0, float(top.flat[0]), out=values)
        else:
            np.maximum(values, 0, out=values)
            np.minimum(values, top[:, None, :, None].astype(values.dtype), out=values)
        return clipped

    def mvm(self, inputs, rng: Seed = None, *, stats: bool = False):
        """The crossbar's estimate of ``inputs @ weights``.

        ``inputs``: integer array (N, K) or (K,), unsigned or two's-complement signed as the
        spec says. Returns float64 (N, M) (or (M,)); with ``stats=True`` returns ``(outputs,
        MvmStats)``. Ideal devices and an ADC of at least ``spec.exact_adc_bits`` bits on the
        full-scale range give exactly the integer product.

        Read noise (and variation drawn per cycle) is drawn from ``rng`` when given (an int seeds
        it). With None it continues the matrix's own stream, spawned at programming from
        :func:`program`'s generator: a matrix programmed with a seed gives the same sequence of
        results in every process, one programmed with ``rng=None`` a fresh one (None never means
        "the same every time" by itself). Raises :class:`~xbarsim.errors.ResourceError` if the
        outputs would not fit in memory.
        """
        if self.ranges is None and self.spec.adc_range != "dynamic":
            raise ArgumentError("adc_range is 'calibrated' but this matrix has no ADC ranges yet: "
                             "call .calibrate(inputs) or program(..., calibration=inputs)")
        x, single = self._check_inputs(inputs)
        require_memory("inputs", x.shape[0] * self.shape[1] * 8 + 4 * _CHUNK_BYTES,
                       f"{x.shape[0]:,} vectors x {self.shape[1]:,} outputs")
        result = self._mvm(x, rng, stats)
        if not stats:
            return result[0] if single else result
        return (result[0][0] if single else result[0]), result[1]

    def _mvm(self, x: np.ndarray, rng: Seed = None, stats: bool = False):
        """:meth:`mvm` of inputs (N, K) already known to be integers in range (any integer dtype)."""
        noise_rng = self._read_rng if rng is None else make_rng(rng)
        cells = self._draw_cycle_cells(noise_rng) if self._cycle_variation else None
        if self.spec.adc_range == "dynamic":
            out, clipped, counts = self._mvm_dynamic(x, noise_rng, cells, stats)
        else:
            out = np.empty((x.shape[0], self.shape[1]), dtype=np.float64)
            clipped = 0
            counts = []
            a, a2, folded, in_range = self._code_operands(cells)
            for part in self._chunks(x.shape[0]):
                digits = self._digits(x[part])
                values = self._analog(digits, noise_rng, (a, a2))
                if folded:
                    count = self._quantize_folded(values, count_clipped=stats, in_range=in_range)
                else:
                    count = quantize_to_codes(values, self.ranges, count_clipped=stats)
                if stats:
                    clipped += count
                    # digits are cycle-major, (R, T, n, rows): counts (R, T, n) -> (R, n, T)
                    counts.append(np.concatenate([np.count_nonzero(tile, axis=3) for tile in digits
                                                  if tile is not None]).transpose(0, 2, 1))
                out[part] = self._shift_add(values, x[part])
            counts = np.concatenate(counts, axis=1) if stats else None
        if not stats:
            return out
        return out, self._stats(x.shape[0], clipped, counts)

    def _mvm_dynamic(self, x: np.ndarray, rng: np.random.Generator, cells, stats: bool):
        """The mvm with NeuroSim's dynamic ADC range, one (row tile, input cycle) block at a time.

        The range of a conversion kind is the min..max of the whole call's values, so a block
        holds every vector of the call: its digits, its partial sums (vectors x columns), their
        extremes per column kind, their codes and their share of the shift-and-add are computed
        while the block is in cache, and nothing else is kept (measured 2x faster than keeping
        all partial sums of the call between two passes). Accumulated conversions
        (``after_accumulation``) add a tile's cycles first and digitize once.
        """
        spec = self.spec
        R, rows, J, M = self._dims
        n = x.shape[0]
        a, a2 = cells if cells is not None else (self._a, self._a2)
        # each conversion integrates its phase's cycles (one cycle each per cycle), then is weighted
        weights_t = phase_weights(spec).sum(axis=1).astype(np.float64)  # (T,) weight within its phase
        conversion_of = np.repeat(np.arange(len(spec.phase_sizes)), spec.phase_sizes)
        last_cycle = np.cumsum(spec.phase_sizes) - 1
        w_g = self._w_g
        y = np.zeros((n, M))
        counts = np.zeros((R, n, spec.input_cycles), dtype=np.int64) if stats else None
        small = np.int16 if spec.signed_inputs else np.uint8 if spec.input_bits <= 8 else np.uint16
        for r in range(R):
            width = rows if r < R - 1 else self._rows_last
            tile = input_planes(x[:, r * rows: r * rows + width], spec, 1, width, small, True)[0]  # (T, n, width)
            values = sums = None
            for t in range(spec.input_cycles):
                digits = tile[t].astype(self._dtype)
                if stats:
                    counts[r, :, t] = np.count_nonzero(digits, axis=1)
                block = digits @ self._tile_matrix(a, r, t)  # (n, J*M)
                if a2 is not None:  # read noise: variance by a second product, one sample per conversion
                    square = digits * digits if self._square_digits else digits
                    noise = square @ self._tile_matrix(a2, r, t)
                    np.sqrt(noise, out=noise)
                    noise *= standard_normal(rng, noise.shape, self._dtype)
                    block += noise
                row_sum = digits.sum(axis=1, dtype=np.float64) if self._midscale is not None else None
                values = block * weights_t[t] if values is None else values + block * weights_t[t]
                if row_sum is not None:
                    sums = row_sum * weights_t[t] if sums is None else sums + row_sum * weights_t[t]
                g = conversion_of[t]
                if t == last_cycle[g]:  # the phase is complete: convert it, shift and add
                    y += w_g[g] * self._digitize_block(values, sums, r)
                    values = sums = None
        if self._flip_corr is not None:
            tile_sums = np.pad(x, ((0, 0), (0, R * rows - x.shape[1]))).reshape(n, R, rows).sum(axis=2)
            y += tile_sums.astype(np.float64) @ self._flip_corr
        if spec.weight_mapping == "offset":
            offset = float(1 << (spec.weight_bits - 1))
            if self._midscale is not None:
                offset -= ((1 << spec.weight_bits) - 1) / 2.0  # the dummy already removed (2**B - 1) / 2
            y -= offset * x.sum(axis=1, dtype=np.int64)[:, None].astype(np.float64)
        return y, 0, counts

    def _tile_matrix(self, matrices, r: int, t: int) -> np.ndarray:
        """The conductance (or variance) matrix of row tile ``r`` in cycle ``t``, (rows, J*M)."""
        full, last = matrices
        per_cycle = last.ndim == 3
        if r < self._dims[0] - 1:
            return full[t, r] if per_cycle else full[r]
        return last[t] if per_cycle else last

    def _digitize_block(self, block: np.ndarray, row_sum: Optional[np.ndarray], r: int) -> np.ndarray:
        """The shift-and-added value (n, M) of one conversion of every vector and column of row
        tile ``r``: NeuroSim's dynamic range per column kind, floor codes read back, weighted by
        the column kinds (and, with the mid-scale reference, minus the digitized dummy column)."""
        R, rows, J, M = self._dims
        n = block.shape[0]
        bits = self.spec.adc_bits
        if self._midscale is not None:  # the data columns keep their off-state current
            block += (self._cells.g_off * row_sum).astype(block.dtype)[:, None]
        kinds = block.reshape(n, J, M).transpose(1, 0, 2)
        if J > 1:
            kinds = np.ascontiguousarray(kinds)  # each column kind contiguous: fast extremes
        lo = np.array([kinds[j].min() for j in range(J)], dtype=np.float64)
        hi = np.array([kinds[j].max() for j in range(J)], dtype=np.float64)
        step = quantize_dynamic(kinds, lo[:, None, None], hi[:, None, None], bits)  # codes in place
        w = self._w_j * step.ravel()  # (J,)
        if self._sign is not None:
            kinds *= self._sign[r][:, None, :].astype(kinds.dtype)
            value = np.einsum("jnm,j->nm", kinds, w) + np.einsum("j,jm->m", self._w_j * lo, self._sign[r])[None, :]
        else:
            value = np.matmul(w.astype(kinds.dtype), kinds.transpose(1, 0, 2)).astype(np.float64)
            value += float(np.dot(self._w_j, lo))
        if self._midscale is not None:
            dummy = row_sum[None, :] * self._midscale[:, None]  # (J, n)
            dlo, dhi = dummy.min(axis=1), dummy.max(axis=1)
            dstep = quantize_dynamic(dummy, dlo[:, None], dhi[:, None], bits)
            read = dummy * dstep.reshape(J, 1) + dlo[:, None]
            value -= (self._w_j @ read)[:, None]
        return value

    def _stats(self, n: int, clipped: int, counts: np.ndarray) -> MvmStats:
        """What n vectors did: structural counts from the arrays' activity per vector
        (:mod:`xbarsim.mapping.activity`, the one place that defines it), plus what the data did
        (``counts``: non-zero digits per row tile, vector and input cycle, (R, n, T))."""
        t, T = self.tiling, self.spec.input_cycles
        layout = activity.Layout(t, self.spec)
        per = activity.structural(layout)
        seen = activity.from_counts(layout, counts[:, :, None, :], zero_skip=True)
        nonzero_planes = int(seen["reads"].sum()) // t.col_tiles
        return MvmStats(
            vectors=n, input_cycles=T, array_reads=n * per["reads"], row_drives=n * per["dac"],
            active_row_drives=int(seen["row_activations"].sum()), bitplanes=n * T * t.row_tiles,
            zero_bitplanes=n * T * t.row_tiles - nonzero_planes, adc_conversions=n * per["adc"],
            clipped_conversions=clipped,
            reference_conversions=(n * t.row_tiles * self.spec.conversions_per_read_group * self._dims[2]
                                   if self._midscale is not None else 0),
        )

    def calibrate(self, inputs, rng: Seed = None, percentile: Optional[float] = None) -> "ProgrammedMatrix":
        """A copy whose ADC ranges cover the analog values these inputs produce.

        For every conversion kind (input cycle and column kind) the range runs from the
        ``100 - percentile`` to the ``percentile`` percentile of the observed values (default:
        ``spec.adc_percentile``), widened to integers and to include zero.
        """
        p = self.spec.adc_percentile if percentile is None else float(percentile)
        if not 50 < p <= 100:
            raise ArgumentError(f"percentile: expected a number in (50, 100], got {percentile!r}")
        if self.spec.adc_range == "dynamic":
            raise ArgumentError("calibrate: adc_range is 'dynamic' (set per call from the data); nothing to calibrate")
        x, _ = self._check_inputs(inputs)
        noise_rng = self._read_rng if rng is None else make_rng(rng)
        cells = self._draw_cycle_cells(noise_rng) if self._cycle_variation else None
        lows, highs, samples = [], [], []
        for part in self._chunks(x.shape[0]):
            values = self._analog(self._digits(x[part]), noise_rng, cells)  # (R, G, n, J, M)
            G, J = values.shape[1], values.shape[3]
            flat = values.transpose(1, 3, 0, 2, 4).reshape(G, J, -1)
            if p == 100:
                lows.append(flat.min(axis=2))
                highs.append(flat.max(axis=2))
            else:
                stride = max(1, flat.shape[2] // _CALIBRATION_SAMPLES)
                samples.append(np.asarray(flat[:, :, ::stride], dtype=np.float64))
        if p == 100:
            lo, hi = np.min(lows, axis=0), np.max(highs, axis=0)
        else:
            data = np.concatenate(samples, axis=2)
            lo, hi = np.percentile(data, [100 - p, p], axis=2)
        lo = np.minimum(0.0, np.floor(lo.astype(np.float64)))
        hi = np.maximum(0.0, np.ceil(hi.astype(np.float64)))
        clone = object.__new__(ProgrammedMatrix)
        clone.__dict__.update(self.__dict__)
        clone.ranges = ranges_from_limits(lo, hi, self.spec.adc_bits)
        return clone


def program_memory(spec: CrossbarSpec, k: int, m: int) -> int:
    """Peak bytes :func:`program` needs for a (k, m) weight matrix (besides the weights themselves).

    Per cell of the arrays it fills (``polarities x slices x row tiles x rows x m``: rows of the
    last row tile count whole, since cells are laid out per array): 1 byte of level, 2 more for
    the padded and flipped copies, 8 for the float64 conductances when variation or faults move
    them, 2 for the fault masks, and the GEMM matrix (4 or 8 bytes, twice with read noise); per
    weight, 16 bytes of int64 digits per polarity; 48 bytes per cell of one chunk of random
    draws (:data:`~xbarsim.functional.devices.DRAW_CHUNK`); and 1 MiB for the objects, ranges
    and tables of any matrix. ``benchmarks/bench_memory.py`` compares it with measured peaks.
    """
    rows = -(-k // spec.rows) * spec.rows
    cells = spec.polarities * spec.slices * rows * m
    faults = spec.stuck_at_on > 0 or spec.stuck_at_off > 0
    varied = spec.variation_sigma > 0 or faults
    per_cell = 3 + 8 * varied + 2 * faults + 8 * (2 if spec.read_noise_sigma > 0 else 1)
    draws = 48 * min(cells, DRAW_CHUNK) if varied else 0
    return cells * per_cell + 16 * spec.polarities * k * m + draws + (1 << 20)


def program(weights, spec: CrossbarSpec, rng: Seed = None, *, calibration=None) -> ProgrammedMatrix:
    """Program a signed integer weight matrix (K, M) onto crossbar arrays described by ``spec``.

    Slices each weight over ``ceil(weight_bits / cell_bits)`` cells, maps signs
    (``spec.weight_mapping``), tiles rows and columns over arrays, and draws stuck-at faults
    and programming variation once from ``rng``: an int or a SeedSequence seeds it (the same
    seed gives the same chip in every process), a Generator is used as is, and None draws
    fresh entropy from the OS (a different chip every call). The matrix's own read-noise
    stream is spawned from the same generator (see :meth:`ProgrammedMatrix.mvm`).
    ``calibration`` inputs set the ADC ranges when ``spec.adc_range`` is ``"calibrated"``.

    Raises :class:`~xbarsim.errors.ArgumentError` for bad arguments and
    :class:`~xbarsim.errors.ResourceError` when the arrays would not fit in the memory
    available (:func:`program_memory`, :mod:`xbarsim.limits`).
    """
    if not isinstance(spec, CrossbarSpec):
        raise ArgumentError(f"spec: expected a CrossbarSpec, got {type(spec).__name__}")
    half = 1 << (spec.weight_bits - 1)
    w = integer_array(weights, "weights", ndim=(2,), lo=-half, hi=half - 1,
                      what=f"{spec.weight_bits}-bit signed")
    K, M = w.shape
    tiling = ArrayTiling(K, M, spec.rows, spec.cols, spec.slices, spec.polarities)
    R, rows = tiling.row_tiles, spec.rows
    require_memory("weights", program_memory(spec, K, M),
                   f"a {K:,}x{M:,} weight matrix on {tiling.arrays:,} arrays of {rows:,}x{spec.cols:,} cells")
    levels = encode_weights(w, spec)  # (P, S, K, M)
    if R * rows > K:
        levels = np.pad(levels, ((0, 0), (0, 0), (0, R * rows - K), (0, 0)))
    P, S = levels.shape[:2]
    levels = levels.reshape(P, S, R, rows, M)
    slice_max = slice_max_levels(spec)
    flipped = None
    if spec.column_encoding == "flip":
        levels, flipped = flip_columns(levels, tiling.rows_per_tile, slice_max)
    generator = make_rng(rng)
    cells = program_cells(levels, spec, generator)
    read_rng = generator.spawn(1)[0]
    if spec.adc_range == "full_scale":
        ranges = full_scale_ranges(spec, slice_max)
    elif spec.adc_range == "explicit":
        ranges = explicit_ranges(spec, slice_max)
    else:  # calibrated (set by calibrate) or dynamic (set per call)
        ranges = None
    matrix = ProgrammedMatrix(spec=spec, shape=(K, M), tiling=tiling, stored_levels=levels,
                              flipped=flipped, cells=cells, read_rng=read_rng, ranges=ranges)
    if calibration is not None:
        if spec.adc_range != "calibrated":
            raise ArgumentError(f"calibration: given, but spec.adc_range is {spec.adc_range!r}, not 'calibrated'")
        matrix = matrix.calibrate(calibration)
    return matrix


def mvm(weights, inputs, spec: CrossbarSpec, rng: Seed = None, *, stats: bool = False):
    """Program ``weights`` and multiply ``inputs`` once: ``program(weights, spec, rng).mvm(inputs)``.

    With ``adc_range: calibrated`` the ADC is calibrated on these same inputs. ``rng`` drives
    programming and read noise alike: an int gives the same result in every process, None a
    fresh draw every call (as for :func:`program`).
    """
    generator = make_rng(rng)
    calibration = inputs if spec.adc_range == "calibrated" else None
    return program(weights, spec, generator, calibration=calibration).mvm(inputs, stats=stats)
