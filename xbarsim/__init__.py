"""xbarsim: a cycle-level simulator of analog crossbar (compute-in-memory) DNN accelerators."""

from ._version import __version__
from .config import Arch, CrossbarSpec, arch_presets, evolve, load_arch
from .errors import ConfigError, MappingError, TraceError, XbarsimError

__all__ = [
    "__version__",
    "Arch",
    "CrossbarSpec",
    "ConfigError",
    "MappingError",
    "TraceError",
    "XbarsimError",
    "arch_presets",
    "evolve",
    "load_arch",
]
