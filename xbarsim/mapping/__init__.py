"""Mapping: layers lowered to matrices, tiled onto arrays, grouped into rounds, placed on tiles."""

from .lowering import LoweredLayer, lower
from .placement import SCHEDULES, CopyPlacement, LayerMapping, Mapping, PartMapping, map_network
from .tiling import ArrayTiling

__all__ = ["ArrayTiling", "CopyPlacement", "LayerMapping", "LoweredLayer", "Mapping", "PartMapping", "SCHEDULES", "lower",
           "map_network"]
