"""Memory devices: levels to conductances, programming variation, stuck-at faults, read noise.

Conductances are handled in *level units*: one level step ``(G_on - G_off) / (2**cell_bits -
1)`` is 1, so a nominal cell at level ``l`` has conductance ``g_off + l`` with ``g_off =
max_level / (on_off_ratio - 1)``. Multiply by :func:`level_step_s` for siemens.

Programming variation (device to device, drawn once per programming) multiplies each cell's
conductance by a factor of mean 1 and relative sigma ``variation_sigma``: ``1 + sigma * z``
(Gaussian, as NeuroSim; clipped at zero since a conductance cannot be negative) or a
lognormal factor with the same mean and sigma. A stuck cell sits at ``G_on`` or ``G_off`` and
is not programmed, so it carries no variation.

Read noise (per read) is a relative Gaussian perturbation of every cell's conductance with
sigma ``read_noise_sigma``. A column's current is then Gaussian with variance
``read_noise_sigma**2 * sum_i v_i**2 * g_i**2``: computed with a second matrix product of
squared digits and squared conductances, one sample per column read, never per cell.

Those samples come from :func:`standard_normal`, an inverse-CDF table sampler: each sample
is one of 2**16 equiprobable quantiles of N(0, 1), picked by 16 random bits. Its CDF is
within 8e-6 of the normal CDF everywhere (undetectable below ~10**10 samples), its mean is 0
and its variance exactly 1; it never exceeds 4.33 sigma (a normal does so with probability
1.5e-5). It is 3 to 5 times faster than numpy's ziggurat here, which is what keeps read
noise within 2x of a noiseless run (``benchmarks/bench_mvm.py``).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
from scipy.special import ndtri

from ..config.crossbar import CrossbarSpec

__all__ = ["g_off_levels", "level_step_s", "ProgrammedCells", "program_cells", "standard_normal", "DRAW_CHUNK"]

_TABLE_BITS = 16
_NORMAL_TABLE = ndtri((np.arange(1 << _TABLE_BITS) + 0.5) / (1 << _TABLE_BITS))
_NORMAL_TABLE /= math.sqrt(float(np.mean(_NORMAL_TABLE**2)))  # exactly unit variance
_NORMAL_TABLES = {np.dtype(np.float64): _NORMAL_TABLE, np.dtype(np.float32): _NORMAL_TABLE.astype(np.float32)}
_PARTS = 2  # fixed, so results do not depend on the machine's core count
_POOL: Optional[ThreadPoolExecutor] = None


def standard_normal(rng: np.random.Generator, shape: Tuple[int, ...], dtype=np.float32) -> np.ndarray:
    """Approximately N(0, 1) samples by inverse-CDF table lookup (see the module notes).

    The array is filled in two halves by two child generators spawned from ``rng``, on two
    threads; the result depends only on ``rng``'s state, not on thread timing.
    """
    global _POOL
    table = _NORMAL_TABLES[np.dtype(dtype)]
    out = np.empty(shape, dtype=dtype)
    flat = out.reshape(-1)
    children = rng.spawn(_PARTS)
    bounds = np.linspace(0, flat.size, _PARTS + 1).astype(np.int64)

    def fill(part: int) -> None:
        start, stop = int(bounds[part]), int(bounds[part + 1])
        words = -(-(stop - start) // 4)  # four 16-bit indices per 64-bit word
        index = children[part].bit_generator.random_raw(words).view(np.uint16)[: stop - start]
        np.take(table, index.astype(np.intp), out=flat[start:stop], mode="clip")

    if flat.size < (1 << 16):
        for part in range(_PARTS):
            fill(part)
    else:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=_PARTS, thread_name_prefix="xbarsim-noise")
        list(_POOL.map(fill, range(_PARTS)))
    return out


def g_off_levels(spec: CrossbarSpec) -> float:
    """Off-state conductance in level units: ``max_level / (on_off_ratio - 1)`` (0 if ideal)."""
    if math.isinf(spec.on_off_ratio):
        return 0.0
    return spec.max_level / (spec.on_off_ratio - 1.0)


def level_step_s(spec: CrossbarSpec) -> float:
    """Siemens per level unit: ``(G_on - G_off) / (2**cell_bits - 1)``."""
    return (spec.g_on - spec.g_off) / spec.max_level


@dataclass(frozen=True)
class ProgrammedCells:
    """Conductances of programmed cells, all in level units and with the input layout of ``levels``.

    ``signal`` is the conductance minus the reference column's ``g_off``: what a read
    contributes to the partial sum per unit of drive. It equals ``levels`` exactly when the
    devices are ideal, and is then not stored (8 bytes per cell saved) but derived on request.
    """

    levels: np.ndarray
    """The programmed levels (integers, the layout :func:`program_cells` was given)."""
    varied: Optional[np.ndarray]
    """Conductance minus g_off (level units, float64) when variation or faults moved it, else None."""
    stuck_on: Optional[np.ndarray]
    """Cells stuck at G_on (bool), or None when no faults are modelled."""
    stuck_off: Optional[np.ndarray]
    """Cells stuck at G_off (bool), or None when no faults are modelled."""
    g_off: float
    """Off-state conductance in level units."""

    @property
    def signal(self) -> np.ndarray:
        """Conductance minus g_off (level units), float64."""
        return self.levels.astype(np.float64) if self.varied is None else self.varied

    @property
    def conductance(self) -> np.ndarray:
        """Total conductance of each cell in level units (``signal + g_off``)."""
        return self.signal + self.g_off


def _variation_factor(spec: CrossbarSpec, shape, rng: np.random.Generator) -> np.ndarray:
    sigma = spec.variation_sigma
    z = rng.standard_normal(shape)
    if spec.variation_model == "gaussian":
        return np.maximum(0.0, 1.0 + sigma * z)
    s2 = math.log1p(sigma * sigma)  # lognormal with mean 1 and standard deviation sigma
    return np.exp(math.sqrt(s2) * z - 0.5 * s2)


DRAW_CHUNK = 1 << 18
"""Cells whose faults or variation are drawn at once: bounds programming's temporaries (about
48 bytes per cell of a chunk, 12 MB)."""


def program_cells(levels: np.ndarray, spec: CrossbarSpec, rng: Optional[np.random.Generator]) -> ProgrammedCells:
    """Program ``levels`` (any shape, integers): draw stuck-at faults, then programming variation.

    Draw order is fixed (faults, then variation, each over the whole array in C order), so
    the same generator state gives the same cells bit for bit. The draws are taken in chunks
    of the same sequence, so memory stays at the 8 bytes per cell of the result.
    """
    g_off = g_off_levels(spec)
    faults = spec.stuck_at_on > 0 or spec.stuck_at_off > 0
    if not faults and spec.variation_sigma == 0:
        return ProgrammedCells(levels=levels, varied=None, stuck_on=None, stuck_off=None, g_off=g_off)
    size = levels.size
    flat_levels = levels.reshape(-1)
    stuck_on = stuck_off = None
    if faults:
        stuck_on = np.empty(levels.shape, dtype=bool)
        stuck_off = np.empty(levels.shape, dtype=bool)
        on, off = stuck_on.reshape(-1), stuck_off.reshape(-1)
        for start in range(0, size, DRAW_CHUNK):
            part = slice(start, min(size, start + DRAW_CHUNK))
            u = rng.random(part.stop - part.start)
            on[part] = u < spec.stuck_at_on
            off[part] = (u >= spec.stuck_at_on) & (u < spec.stuck_at_on + spec.stuck_at_off)
    signal = levels.astype(np.float64)
    flat = signal.reshape(-1)
    if spec.variation_sigma > 0:
        for start in range(0, size, DRAW_CHUNK):
            part = slice(start, min(size, start + DRAW_CHUNK))
            factor = _variation_factor(spec, part.stop - part.start, rng)
            level = flat_levels[part].astype(np.float64)
            # (g_off + level) * factor - g_off, written so that factor == 1 gives level exactly
            flat[part] = level + (g_off + level) * (factor - 1.0)
    if faults:
        flat[on] = float(spec.max_level)
        flat[off] = 0.0
    return ProgrammedCells(levels=levels, varied=signal, stuck_on=stuck_on, stuck_off=stuck_off, g_off=g_off)
