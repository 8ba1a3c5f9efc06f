"""Frozen, validated configuration: the arch tree, its sections and the spec loader."""

from .arch import SPEC_VERSION, Arch
from .crossbar import CrossbarSpec
from .fields import Spec, evolve
from .loader import arch_presets, dump_yaml, load_arch

__all__ = ["Arch", "CrossbarSpec", "Spec", "SPEC_VERSION", "arch_presets", "dump_yaml", "evolve", "load_arch"]
