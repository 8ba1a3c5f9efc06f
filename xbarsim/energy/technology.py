"""Technology scaling between CMOS nodes: Stillmaker & Baas (2017).

A. Stillmaker and B. Baas, "Scaling equations for the accurate prediction of CMOS device
performance from 180 nm to 7 nm", Integration, the VLSI Journal 58 (2017) 74-81,
doi:10.1016/j.vlsi.2017.02.002. Their area scaling factors between nodes and their fitted
energy-versus-supply polynomials per node are carried over here as tabulated in the
MIT-licensed ``hwcomponents`` package (``scaling/techscaling.py``, version 1.0.114).

* Area: ``AREA_FACTOR[i][j]`` multiplies an area at ``NODES_M[i]`` to give it at ``NODES_M[j]``.
* Energy: energy at node n and supply V is proportional to ``a_n V^2 + b_n V + c_n``.

Between tabulated nodes, the logarithm of a factor is interpolated linearly in the logarithm
of the node (xbarsim's choice; the paper tabulates nodes only). Nodes outside 7-130 nm are
refused rather than extrapolated.
"""

from __future__ import annotations

import math
from typing import Tuple

from ..errors import ConfigError

__all__ = ["NODES_M", "area_factor", "energy_factor", "check_node"]

NODES_M = (130e-9, 90e-9, 65e-9, 45e-9, 32e-9, 20e-9, 16e-9, 14e-9, 10e-9, 7e-9)
"""Tabulated nodes, largest first (Stillmaker & Baas tabulate 180 nm too; not carried over)."""

_AREA = (
    (1, 0.44, 0.23, 0.16, 0.072, 0.033, 0.03, 0.027, 0.016, 0.0092),
    (2.3, 1, 0.53, 0.35, 0.16, 0.075, 0.067, 0.061, 0.036, 0.021),
    (4.3, 1.9, 1, 0.66, 0.31, 0.14, 0.13, 0.12, 0.068, 0.039),
    (6.4, 2.8, 1.5, 1, 0.46, 0.21, 0.19, 0.17, 0.1, 0.059),
    (14, 6.1, 3.3, 2.2, 1, 0.46, 0.41, 0.38, 0.22, 0.13),
    (30, 13, 7.1, 4.7, 2.2, 1, 0.89, 0.82, 0.48, 0.28),
    (34, 15, 7.9, 5.3, 2.4, 1.1, 1, 0.91, 0.54, 0.31),
    (37, 16, 8.7, 5.8, 2.7, 1.2, 1.1, 1, 0.59, 0.34),
    (63, 28, 15, 9.8, 4.5, 2.1, 1.9, 1.7, 1, 0.58),
    (110, 48, 25, 17, 7.8, 3.6, 3.2, 2.9, 1.7, 1),
)
_ENERGY = (  # a, b, c of a V^2 + b V + c, per node
    (7.171, -6.709, 2.904), (4.762, -4.781, 2.092), (3.755, -4.398, 1.975), (1.103, -0.362, 0.2767),
    (0.9559, -0.7823, 0.471), (0.373, -0.1582, 0.04104), (0.2958, -0.1241, 0.03024),
    (0.2363, -0.09675, 0.02239), (0.2068, -0.09311, 0.02375), (0.1776, -0.09097, 0.02447),
)


def check_node(node_m: float, path=("model", "node")) -> float:
    """``node_m`` if Stillmaker & Baas cover it (7-130 nm), else a ConfigError naming ``path``."""
    if not (NODES_M[-1] * (1 - 1e-9) <= node_m <= NODES_M[0] * (1 + 1e-9)):
        raise ConfigError(path, "a technology node from 7nm to 130nm (the range of Stillmaker & Baas's scaling "
                          "tables)", f"{node_m * 1e9:g}nm")
    return node_m


def _bracket(node_m: float) -> Tuple[int, int, float]:
    """Indices of the tabulated nodes around ``node_m`` and the log-position between them."""
    check_node(node_m)
    for i in range(len(NODES_M) - 1):
        hi, lo = NODES_M[i], NODES_M[i + 1]
        if lo <= node_m <= hi:
            return i, i + 1, math.log(hi / node_m) / math.log(hi / lo)
    return len(NODES_M) - 1, len(NODES_M) - 1, 0.0  # pragma: no cover - check_node bounds it


def _log_area_from_130(node_m: float) -> float:
    i, j, f = _bracket(node_m)
    return (1 - f) * math.log(_AREA[0][i]) + f * math.log(_AREA[0][j])


def area_factor(from_m: float, to_m: float) -> float:
    """Multiplier of an area designed at ``from_m`` when built at ``to_m``."""
    return math.exp(_log_area_from_130(to_m) - _log_area_from_130(from_m))


def _log_energy(node_m: float, vdd: float) -> float:
    i, j, f = _bracket(node_m)
    value = [a * vdd * vdd + b * vdd + c for a, b, c in (_ENERGY[i], _ENERGY[j])]
    return (1 - f) * math.log(value[0]) + f * math.log(value[1])


def energy_factor(from_m: float, to_m: float, vdd: float = 0.8) -> float:
    """Multiplier of an energy at ``from_m`` when built at ``to_m``, both at supply ``vdd``
    (Stillmaker & Baas's fitted energy; 0.8 V is the supply hwcomponents assumes)."""
    return math.exp(_log_energy(to_m, vdd) - _log_energy(from_m, vdd))
