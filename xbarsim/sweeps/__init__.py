"""Design-space sweeps: one spec, many points, run serially, on a local Dask cluster or on a remote one.

>>> import xbarsim
>>> frame = xbarsim.sweep({"version": 1, "arch": "tiny", "workloads": "mlp",
...                        "axes": {"crossbar.adc_bits": [4, 6]}}, scheduler="serial")
>>> list(frame["crossbar.adc_bits"]), list(frame["status"])
([4, 6], ['ok', 'ok'])

See ``docs/sweeps.md`` for the spec, the results table and running on a cluster.
"""

from .columns import TIMING_COLUMNS
from .report import pareto_front, sweep_report
from .run import SERIAL, SweepRun, run_sweep, sweep
from .spec import SweepSpec, load_sweep
from .store import read_results

__all__ = ["SERIAL", "SweepRun", "SweepSpec", "TIMING_COLUMNS", "load_sweep", "pareto_front", "read_results",
           "run_sweep", "sweep", "sweep_report"]
