"""xbarsim: a cycle-level simulator of analog crossbar (compute-in-memory) DNN accelerators.

>>> import xbarsim
>>> result = xbarsim.simulate("tiny", "mlp")
>>> result.cycles > 0 and result.count("adc.convert") > 0
True
"""

from ._version import __version__
from .config import Arch, CrossbarSpec, arch_presets, evolve, load_arch
from .energy import EnergyTable, energy_presets, load_energy
from .errors import ConfigError, MappingError, TraceError, XbarsimError
from .result import SimulationResult
from .simulate import simulate
from .workload import Network, load_workload, zoo_names

__all__ = [
    "__version__",
    "Arch",
    "ConfigError",
    "CrossbarSpec",
    "EnergyTable",
    "MappingError",
    "Network",
    "SimulationResult",
    "TraceError",
    "XbarsimError",
    "arch_presets",
    "energy_presets",
    "evolve",
    "load_arch",
    "load_energy",
    "load_workload",
    "simulate",
    "zoo_names",
]
