"""Mapping: how weight matrices are tiled onto crossbar arrays (and, later, placed on tiles)."""

from .tiling import ArrayTiling

__all__ = ["ArrayTiling"]
