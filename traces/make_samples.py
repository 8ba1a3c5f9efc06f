"""Regenerate the sample traces in traces/samples (small runs on the tiny chip).

    python traces/make_samples.py

Tests replay these files, so they double as a check that old traces stay readable.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout, installed or not
import xbarsim  # noqa: E402

SAMPLES = {
    "tiny-mlp-layer.h5": dict(arch="tiny", workload="mlp", batch=2, schedule="layer", detail="event"),
    "tiny-mlp-pipeline.h5": dict(arch="tiny", workload="mlp", batch=4, schedule="pipeline", detail="event"),
    "tiny-mlp-summary.h5": dict(arch="tiny", workload="mlp", batch=1, schedule="layer", detail="summary"),
}


def main() -> None:
    out = HERE / "samples"
    out.mkdir(exist_ok=True)
    for name, options in SAMPLES.items():
        result = xbarsim.simulate(trace=out / name, overwrite=True, **options)
        print(f"{name}: {result.cycles:,} cycles, {result.energy_pj:,.0f} pJ")


if __name__ == "__main__":
    main()
