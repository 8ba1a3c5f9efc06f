"""Points of a sweep: the design (axes combined) crossed with the settings lists.

The axes are combined into *design points* by ``combine``:

* ``grid``: every combination (``itertools.product``; the last axis varies fastest), so the
  number of design points is the product of the axes' lengths;
* ``zip``: the i-th value of every axis together (all axes have the same length);
* ``random``: ``samples`` points, each coordinate uniform in its axis (numpy's PCG64 seeded
  with the spec's seed);
* ``lhs``: ``samples`` points of a Latin hypercube (``scipy.stats.qmc.LatinHypercube``, seeded
  alike): each axis is cut into ``samples`` equal strata and each stratum holds exactly one
  point.

A sampled coordinate ``u`` in [0, 1) becomes a value of its axis: ``values[floor(u * n)]`` for
a list of ``n`` values (so a list is sampled uniformly, or stratified by lhs), or the range's
uniform (log-uniform with ``log: true``; integers when min and max are integers) value.

The design is then crossed with the settings, outermost first: workloads, schedules, batch
sizes, energy tables, accuracy models (when the spec lists workloads) and accuracy sigmas.
Every workload therefore sees the same design points, which makes comparisons fair.
"""

from __future__ import annotations

import itertools
import json
import numbers
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .columns import ACCURACY, SETTINGS
from .spec import Axis, SweepSpec

__all__ = ["Point", "design", "points", "swept_columns", "unit_samples"]

SIGMA_PATH = "crossbar.variation_sigma"


@dataclass(frozen=True)
class Point:
    """One point: which settings (indices into the spec's lists) and which arch changes."""

    index: int
    workload: int
    """Index into ``spec.settings_workloads``."""
    schedule: str
    batch: int
    energy: int
    """Index into ``spec.energy_tables``."""
    model: Optional[int]
    """Index into ``spec.accuracy.model`` (None without accuracy)."""
    overrides: Tuple[Tuple[str, Any], ...]
    """(dotted arch path, value) pairs, in axis order."""


def unit_samples(spec: SweepSpec) -> np.ndarray:
    """(samples, axes) coordinates in [0, 1) of a random or Latin-hypercube design."""
    n, d = spec.samples, len(spec.axes)
    if spec.combine == "random":
        return np.random.default_rng(spec.seed).random((n, d))
    from scipy.stats import qmc

    try:
        sampler = qmc.LatinHypercube(d=d, rng=spec.seed)
    except TypeError:  # scipy < 1.15 names the seed argument ``seed``
        sampler = qmc.LatinHypercube(d=d, seed=spec.seed)
    return sampler.random(n)


def _grid_positions(axis: Axis) -> List[Tuple[Any, ...]]:
    if axis.range is not None:
        return [(v,) for v in axis.range.grid()]
    return list(axis.values)


def _sampled_positions(axis: Axis, u: np.ndarray) -> List[Tuple[Any, ...]]:
    if axis.range is not None:
        return [(v,) for v in axis.range.sample(u)]
    index = np.minimum((u * len(axis.values)).astype(np.int64), len(axis.values) - 1)
    return [axis.values[i] for i in index]


def design(spec: SweepSpec) -> List[Tuple[Tuple[str, Any], ...]]:
    """The design points: each a tuple of (dotted path, value) over every axis's paths."""
    axes = spec.axes
    if not axes:
        return [()]
    if spec.combine in ("random", "lhs"):
        u = unit_samples(spec)
        columns = [_sampled_positions(axis, u[:, j]) for j, axis in enumerate(axes)]
        combos = zip(*columns)
    elif spec.combine == "zip":
        combos = zip(*(_grid_positions(axis) for axis in axes))
    else:
        combos = itertools.product(*(_grid_positions(axis) for axis in axes))
    return [tuple(pair for axis, values in zip(axes, combo) for pair in zip(axis.paths, values)) for combo in combos]


def points(spec: SweepSpec) -> List[Point]:
    """Every point of the sweep, in order (see the module docstring)."""
    accuracy = spec.accuracy
    paired = accuracy is not None and spec.workloads is None  # each model runs its own network
    models: Sequence[Optional[int]] = (None,) if accuracy is None or paired else range(len(accuracy.model))
    sigmas: Sequence[Optional[float]] = accuracy.sigma if accuracy is not None and accuracy.sigma else (None,)
    designs = design(spec)
    result = []
    schedules = spec.schedules if spec.schedules is not None else (spec.arch.schedule,)
    settings = itertools.product(range(len(spec.settings_workloads)), schedules, spec.batches,
                                 range(len(spec.energy_tables)), models, sigmas)
    for workload, schedule, batch, energy, model, sigma in settings:
        if paired:
            model = workload
        extra = ((SIGMA_PATH, sigma),) if sigma is not None else ()
        for overrides in designs:
            result.append(Point(len(result), workload, schedule, batch, energy, model, extra + overrides))
    return result


def _column_type(values: Sequence[Any]) -> str:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return "bool"
    if all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in present):
        return "int64"
    if all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in present):
        return "double"
    return "string"


def swept_columns(spec: SweepSpec) -> Dict[str, str]:
    """Column name -> Arrow type of everything a point's row records about its settings and axes."""
    columns = {c.name: c.type for c in SETTINGS}
    if spec.accuracy is not None:
        columns[ACCURACY[0].name] = ACCURACY[0].type
        if spec.accuracy.sigma:
            columns[SIGMA_PATH] = "double"
    for axis in spec.axes:
        for j, path in enumerate(axis.paths):
            if axis.range is not None:
                columns[path] = "int64" if axis.range.integer else "double"
            else:
                columns[path] = _column_type([v[j] for v in axis.values])
    return columns


def cell(value: Any, type_name: str) -> Any:
    """A swept value as its column holds it (numbers widened, anything else in a string column as text)."""
    if value is None:
        return None
    if type_name == "double":
        return float(value)
    if type_name == "string" and not isinstance(value, str):
        return json.dumps(value)
    return value


def point_values(spec: SweepSpec, point: Point, types: Dict[str, str]) -> Dict[str, Any]:
    """The swept columns of ``point``'s row."""
    energy = spec.energy_tables[point.energy]
    values: Dict[str, Any] = {
        "workload": spec.settings_workloads[point.workload].label, "schedule": point.schedule,
        "batch": point.batch, "energy_table": energy.label if energy is not None else None, "seed": spec.seed}
    if point.model is not None:
        values[ACCURACY[0].name] = spec.accuracy.model[point.model].name
    for path, value in point.overrides:
        values[path] = cell(value, types[path])
    return values
