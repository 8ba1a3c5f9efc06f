"""xbarsim: a cycle-level simulator of analog crossbar (compute-in-memory) DNN accelerators.

>>> import xbarsim
>>> result = xbarsim.simulate("tiny", "mlp")
>>> result.cycles > 0 and result.count("adc.convert") > 0
True

Names that need the event model (``simulate``, ``SimulationResult``, ...) load on first use,
so ``import xbarsim.functional`` stays pure numpy.
"""

from importlib import import_module

from ._version import __version__
from .config import Arch, CrossbarSpec, arch_presets, evolve, load_arch
from .energy import EnergyTable, energy_presets, load_energy
from .errors import (ArgumentError, ConfigError, MappingError, OutputError, ReplayError, ResourceError, TraceError,
                     XbarsimError)
from .workload import Network, load_workload, zoo_names

_LAZY = {
    "simulate": "xbarsim.simulation",
    "SimulationResult": "xbarsim.result",
    "open_trace": "xbarsim.trace.reader",
    "Trace": "xbarsim.trace.reader",
    "replay": "xbarsim.replaying",
    "sweep": "xbarsim.sweeps",
    "load_sweep": "xbarsim.sweeps",
    "read_results": "xbarsim.sweeps",
}

__all__ = [
    "__version__",
    "Arch",
    "ArgumentError",
    "ConfigError",
    "CrossbarSpec",
    "EnergyTable",
    "MappingError",
    "Network",
    "OutputError",
    "ReplayError",
    "ResourceError",
    "SimulationResult",
    "Trace",
    "TraceError",
    "XbarsimError",
    "arch_presets",
    "energy_presets",
    "evolve",
    "load_arch",
    "load_energy",
    "load_sweep",
    "load_workload",
    "open_trace",
    "read_results",
    "replay",
    "simulate",
    "sweep",
    "zoo_names",
]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'xbarsim' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
