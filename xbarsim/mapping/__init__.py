"""Mapping: layers lowered to matrices, tiled onto arrays, grouped into rounds, placed on tiles.

Submodules load on first use, so that the functional model can use the pure-arithmetic parts
(:mod:`.tiling`, :mod:`.activity`) without loading the placement.
"""

from importlib import import_module

__all__ = ["ArrayTiling", "CopyPlacement", "LayerMapping", "LoweredLayer", "Mapping", "PartMapping", "SCHEDULES",
           "lower", "map_network"]

_WHERE = {"ArrayTiling": ".tiling", "LoweredLayer": ".lowering", "lower": ".lowering", "CopyPlacement": ".placement",
          "LayerMapping": ".placement", "Mapping": ".placement", "PartMapping": ".placement",
          "SCHEDULES": ".placement", "map_network": ".placement"}


def __getattr__(name):
    if name in _WHERE:
        return getattr(import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
