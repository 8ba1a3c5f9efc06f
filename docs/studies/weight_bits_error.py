"""Why 5-bit weights do worse than 4-bit ones under the ``neurosim`` semantics (docs/accuracy-studies.md).

    python docs/studies/weight_bits_error.py

One 128 x 64 layer (Gaussian weights quantized to 3-8 bits, 8-bit inputs with half of them
zero, 400 vectors) through the ``study`` crossbar at conductance variation sigma 0.1; printed:
the RMS error of the crossbar's product against the exact integer product, relative to the
RMS of the exact product, mean over 3 programmings. Variants switch off one ingredient of
NeuroSim's semantics at a time (on/off ratio, mid-scale dummy column, dynamic ADC range,
variation) to see which one makes 5 bits worse than 4.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout, installed or not
import xbarsim  # noqa: E402
from xbarsim.functional import apply_profile, program  # noqa: E402

BITS = (3, 4, 5, 6, 8)
VARIANTS = (
    ("neurosim", "neurosim", {}),
    ("neurosim, on/off ratio 1000", "neurosim", {"on_off_ratio": 1000.0}),
    ("neurosim, G_off reference column", "neurosim", {"reference_column": "g_off"}),
    ("neurosim, 16-bit full-scale ADC", "neurosim", {"reference_column": "g_off", "adc_range": "full_scale",
                                                     "adc_bits": 16}),
    ("neurosim, sigma 0", "neurosim", {"variation_sigma": 0.0}),
    ("chip", "chip", {}),
)


def relative_error(spec, w: np.ndarray, x: np.ndarray, draws: int = 3) -> float:
    exact = x @ w
    errors = [np.sqrt(np.mean((program(w, spec, d).mvm(x, d + 7) - exact) ** 2)) / np.sqrt(np.mean(exact ** 2))
              for d in range(draws)]
    return float(np.mean(errors))


def main() -> int:
    base = xbarsim.load_arch("study").crossbar
    rng = np.random.default_rng(0)
    k, m, n = 128, 64, 400
    x = rng.integers(0, 256, (n, k))
    x[rng.random(x.shape) < 0.5] = 0
    weights = rng.normal(0, 1, (k, m))
    weights /= np.abs(weights).max()
    print("| semantics | " + " | ".join(f"{b} bits" for b in BITS) + " |")
    print("|---|" + "---|" * len(BITS))
    for label, profile, changes in VARIANTS:
        row = []
        for bits in BITS:
            spec = dataclasses.replace(base, weight_bits=bits, cell_bits=min(base.cell_bits, bits), variation_sigma=0.1)
            spec = dataclasses.replace(apply_profile(spec, profile), **changes)
            top = (1 << (bits - 1)) - 1
            w = np.clip(np.round(weights * top), -top - 1, top).astype(np.int64)
            row.append(f"{relative_error(spec, w, x):.3f}")
        print(f"| {label} | " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
