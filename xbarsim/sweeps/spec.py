"""The sweep spec: what to run, over which values, and how to combine them.

A sweep spec is YAML (or a dict) with ``version: 1``, validated like every xbarsim spec: a
frozen :class:`SweepSpec` exists only if it is valid, and errors name the dotted path of the
bad value (``axes.crossbar.adc_bit: expected a field of the arch ...``). ::

    version: 1
    name: adc-vs-array
    arch: isaac                      # preset, YAML path or mapping: the base every point changes
    workloads: [resnet18, vgg8]      # crossed with every design point
    schedules: [layer, pipeline]
    batches: [1]
    energy_tables: [null]            # null: the arch's own table
    seed: 0
    axes:
      crossbar.adc_bits: [4, 6, 8]   # a list of values
      crossbar.variation_sigma: {min: 0.0, max: 0.2, num: 5}   # a range
      array:                         # a linked axis: values move together
        - {crossbar.rows: 64, crossbar.cols: 64}
        - {crossbar.rows: 128, crossbar.cols: 128}
    combine: grid                    # grid | zip | random | lhs (with samples: N)
    accuracy:                        # optional
      model: digits-d10-w16-k3
      draws: 3

Values of an axis are not checked against their field here: a value the field refuses makes
that point invalid (recorded with its error), not the sweep. Paths, ranges and the structure
of the spec are checked here.
"""

from __future__ import annotations

import difflib
import math
import numbers
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

from ..config.arch import Arch
from ..config.fields import (Boolean, Choice, FieldType, Integer, Items, Maybe, Section, Spec, Text, param)
from ..config.loader import arch_presets, load_arch, load_spec
from ..energy.table import energy_presets, load_energy
from ..errors import ConfigError, described
from ..mapping.placement import SCHEDULES
from ..workload.loader import load_workload
from ..workload.zoo import zoo_names
from .accuracy import AccuracyModel, load_accuracy_model

__all__ = ["SweepSpec", "AccuracySpec", "Axis", "Range", "load_sweep", "COMBINE", "SWEEP_VERSION"]

SWEEP_VERSION = 1
COMBINE = ("grid", "zip", "random", "lhs")

_VERSION = Integer(SWEEP_VERSION, SWEEP_VERSION)
_VERSION.expected = f"{SWEEP_VERSION} (the sweep spec version this xbarsim reads; start the spec with " \
                    f"'version: {SWEEP_VERSION}')"

# Axes may not set these: the spec has a key for each (energy_tables), or they are not knobs.
_RESERVED_PATHS = {"version": "the spec version is not a design knob",
                   "energy_table": "list tables under energy_tables instead, as simulate's energy override"}


def _strip(exc: ConfigError, head: str) -> ConfigError:
    """A loader error re-rooted under our field: loaders name their own argument (``arch``) first."""
    path = exc.path[1:] if exc.path[:1] == (head,) else exc.path
    return ConfigError(path, exc.expected, exc.got, hint=exc.hint)


class OneOrMany(FieldType):
    """A value, or a non-empty list of values, of one type; held as a tuple."""

    def __init__(self, inner: FieldType):
        self.inner = inner
        self.items = Items(inner, min_items=1)
        self.expected = f"{inner.expected}, or a list of them"

    def convert(self, value):
        if isinstance(value, (list, tuple)):
            if not value:
                raise self.fail(value, "give at least one")
            return self.items.convert(value)
        return (self.inner.convert(value),)

    def dump(self, value):
        return self.items.dump(value)


@dataclass(frozen=True)
class Named:
    """A loaded spec object with the name the sweep spec gave it (shown in the results table)."""

    label: str
    value: Any


class _Ref(FieldType):
    """A preset name, a YAML path or a mapping, loaded (and so validated) at spec load.

    Held as the loaded object when ``kind`` is given (the base arch), else as :class:`Named`
    with the name the spec gave (workloads, energy tables: the name goes in the results table).
    """

    def __init__(self, load, head: str, noun: str, names, kind=None):
        self.load, self.head, self.kind = load, head, kind
        self.expected = f"{noun} ({', '.join(names())}), a YAML path or a mapping"

    def convert(self, value):
        if isinstance(value, Named) or (self.kind is not None and isinstance(value, self.kind)):
            return value
        if not isinstance(value, (str, os.PathLike, Mapping)):
            raise self.fail(value)
        try:
            loaded = self.load(value)
        except ConfigError as exc:
            raise _strip(exc, self.head) from None
        if self.kind is not None:
            return loaded
        label = os.fspath(value) if isinstance(value, (str, os.PathLike)) else getattr(loaded, "name", self.head)
        return Named(label, loaded)

    def dump(self, value):
        return value.to_dict() if self.kind is not None else value.label


class _ModelRef(FieldType):
    expected = "a study model name (e.g. digits-d10-w16-k3; see xbarsim presets) or a model .npz file"

    def convert(self, value):
        if isinstance(value, AccuracyModel):
            return value
        if not isinstance(value, (str, os.PathLike)):
            raise self.fail(value)
        model = load_accuracy_model(os.fspath(value))
        if model is None:
            raise self.fail(os.fspath(value), "no such study model or .npz file")
        return model

    def dump(self, value):
        return value.name


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class _Number(FieldType):
    """A finite number, kept as an int when given as one (integer ranges draw integers)."""

    expected = "a finite number"

    def convert(self, value):
        if not _is_number(value) or not math.isfinite(value):
            raise self.fail(value)
        return int(value) if isinstance(value, numbers.Integral) else float(value)


@dataclass(frozen=True, kw_only=True)
class Range(Spec):
    """A numeric range of an axis: ``{min, max}`` for sampling, plus ``num`` for grid and zip."""

    section_doc = "a numeric range: sampled uniformly (random, lhs) or split into num values (grid, zip)"

    min: float = param(_Number(), 0, "lowest value (inclusive)", required=True)
    max: float = param(_Number(), 1, "highest value (inclusive)", required=True)
    num: Optional[int] = param(Maybe(Integer(1, 1_000_000)), None,
                               "number of values for grid and zip: evenly spaced from min to max")
    log: bool = param(Boolean(), False, "space values (and sample) evenly in log: min and max must be > 0")

    def _validate(self) -> None:
        if self.max < self.min:
            raise ConfigError(("max",), f"a number >= min ({self.min})", self.max)
        if self.log and self.min <= 0:
            raise ConfigError(("min",), "a number > 0 (log: true)", self.min)
        if self.num is not None and self.integer:
            values = self.grid()
            if len(set(values)) != len(values) or (not self.log and self.num > 1 and
                                                   (self.max - self.min) % (self.num - 1)):
                raise ConfigError(("num",), f"a number of {'log-' if self.log else 'evenly '}spaced distinct "
                                  f"integers in [{self.min}, {self.max}]", self.num,
                                  hint="or give min and max as reals, or list the values")

    def grid(self) -> Tuple:
        """The ``num`` values of a grid or zip: evenly spaced from min to max (in log with ``log``)."""
        import numpy as np

        if self.num == 1:
            return (self.min,)
        space = np.geomspace if self.log else np.linspace
        values = space(self.min, self.max, self.num)
        if self.integer:
            return tuple(int(v) for v in np.rint(values))
        return tuple(float(v) for v in values)

    def sample(self, u):
        """Values at positions ``u`` in [0, 1) of the range (uniform, or log-uniform with ``log``)."""
        import numpy as np

        u = np.asarray(u, dtype=np.float64)
        lo, hi = self.min, self.max
        if self.integer:
            if self.log:
                values = np.floor(np.exp(np.log(lo) + u * (np.log(hi + 1) - np.log(lo))))
            else:
                values = lo + np.floor(u * (hi - lo + 1))
            return [int(v) for v in np.clip(values, lo, hi)]
        if self.log:
            values = np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo)))
        else:
            values = lo + u * (hi - lo)
        return [float(v) for v in np.clip(values, lo, hi)]

    @property
    def integer(self) -> bool:
        """Both ends given as integers: the range holds integers only."""
        return isinstance(self.min, int) and isinstance(self.max, int)


@dataclass(frozen=True)
class Axis:
    """One axis: the fields it sets and the values it takes.

    A plain axis sets one field (``paths == (name,)``); a linked axis sets several fields
    together, one mapping per value. ``values[i][j]`` is the value of ``paths[j]`` at position
    ``i``; a range axis has ``values == ()`` and a :class:`Range`.
    """

    name: str
    paths: Tuple[str, ...]
    values: Tuple[Tuple[Any, ...], ...] = ()
    range: Optional[Range] = None

    @property
    def linked(self) -> bool:
        return self.paths != (self.name,)


class _Axes(FieldType):
    expected = ("a mapping of dotted field paths (crossbar.adc_bits) to a list of values or a range "
                "{min, max, num}; or of a label to a list of mappings (a linked axis)")

    def convert(self, value):
        if isinstance(value, tuple) and all(isinstance(a, Axis) for a in value):
            return value
        if not isinstance(value, Mapping):
            raise self.fail(value)
        axes = []
        for name, spec in value.items():
            if not isinstance(name, str) or not name.strip():
                raise ConfigError((str(name),), "a dotted field path or a label", name)
            try:
                axes.append(self._axis(name, spec))
            except ConfigError as exc:
                raise exc.under(name) from None
        return tuple(axes)

    @staticmethod
    def _axis(name: str, spec) -> Axis:
        if isinstance(spec, Mapping):
            return Axis(name, (name,), range=Range.from_dict(spec))
        if isinstance(spec, (str, bytes)) or not isinstance(spec, Sequence) or not spec:
            raise ConfigError((), "a non-empty list of values, a range {min, max, num} or a list of mappings",
                              spec if not isinstance(spec, (list, tuple)) else described("an empty list"))
        if all(isinstance(v, Mapping) for v in spec):
            paths = tuple(spec[0])
            if not paths:
                raise ConfigError((0,), "a mapping of dotted field paths to values", described("an empty mapping"))
            values = []
            for index, item in enumerate(spec):
                if tuple(item) != paths:
                    raise ConfigError((index,), f"the same keys as the first value ({', '.join(paths)})",
                                      described(", ".join(map(str, item)) or "no keys"))
                values.append(tuple(item[p] for p in paths))
            return Axis(name, paths, tuple(values))
        for index, item in enumerate(spec):
            if isinstance(item, (Mapping, list, tuple)):
                raise ConfigError((index,), "a single value (number, string, true/false or null)",
                                  described(f"a {type(item).__name__}"))
        return Axis(name, (name,), tuple((v,) for v in spec))

    def dump(self, value):
        out = {}
        for axis in value:
            if axis.range is not None:
                out[axis.name] = axis.range.to_dict()
            elif axis.linked:
                out[axis.name] = [dict(zip(axis.paths, v)) for v in axis.values]
            else:
                out[axis.name] = [v[0] for v in axis.values]
        return out


@dataclass(frozen=True, kw_only=True)
class AccuracySpec(Spec):
    """Accuracy of a trained model through each point's crossbar, on real test data."""

    section_doc = "accuracy of trained study models through the point's crossbar"

    model: Tuple[AccuracyModel, ...] = param(OneOrMany(_ModelRef()), None, "trained model(s): study model names or "
                                             ".npz files; crossed with the other settings", required=True)
    dataset: Optional[str] = param(Maybe(Choice("digits", "mnist1d")), None,
                                   "test set (default: the one the model was trained on)")
    sigma: Optional[Tuple[float, ...]] = param(Maybe(OneOrMany(_Number())), None,
                                               "programming variation sigma(s): sets crossbar.variation_sigma; "
                                               "a list is crossed with the other settings")
    draws: int = param(Integer(1, 1000), 5, "independent programmings per point (seeds 0..draws-1)")
    test_limit: Optional[int] = param(Maybe(Integer(1, None)), None, "use only the first N test examples")

    def _validate(self) -> None:
        for index, model in enumerate(self.model):
            if self.dataset is not None and model.dataset not in (None, self.dataset):
                raise ConfigError(("dataset",), f"{model.dataset!r} (the dataset {model.name} was trained on)",
                                  self.dataset)
            if model.dataset is None and self.dataset is None:
                raise ConfigError(("dataset",), f"a dataset ({model.name} does not say which one it was trained "
                                  "on)", described("nothing"))
        if self.sigma is not None:
            for index, sigma in enumerate(self.sigma):
                if sigma < 0:
                    raise ConfigError(("sigma", index), "a number >= 0", sigma)

    def dataset_of(self, model: AccuracyModel) -> str:
        return self.dataset or model.dataset


def _workload_ref():
    return _Ref(load_workload, "workload", "a built-in network", zoo_names)


def _energy_ref():
    return _Ref(load_energy, "energy", "an energy table preset", energy_presets)


@dataclass(frozen=True, kw_only=True)
class SweepSpec(Spec):
    """A design-space sweep: frozen and validated at load (:func:`load_sweep`)."""

    section_doc = "a design-space sweep: base arch, settings, axes and how to combine them"

    version: int = param(_VERSION, SWEEP_VERSION, f"sweep spec format version; this xbarsim reads {SWEEP_VERSION}",
                         required=True)
    name: str = param(Text(), "sweep", "a short name shown in reports")
    arch: Arch = param(_Ref(load_arch, "arch", "an arch preset", arch_presets, Arch), "isaac",
                       "the base architecture every point changes: preset, YAML path or mapping")
    workloads: Optional[Tuple[Named, ...]] = param(
        Maybe(OneOrMany(_workload_ref())), None,
        "workload(s): zoo names, YAML paths or mappings (default: resnet18; with accuracy: the models' networks)")
    schedules: Optional[Tuple[str, ...]] = param(Maybe(OneOrMany(Choice(*SCHEDULES))), None,
                                                 "schedule(s) (default: the base arch's own, arch.schedule)")
    batches: Tuple[int, ...] = param(OneOrMany(Integer(1, 1 << 20)), (1,), "batch size(s)")
    energy_tables: Tuple[Optional[Named], ...] = param(
        OneOrMany(Maybe(_energy_ref())), (None,),
        "energy table(s): presets, YAML paths or mappings; null: the arch's own")
    seed: int = param(Integer(0, 2**32 - 1), 0, "seed of sampling (random, lhs) and of every simulation")
    axes: Tuple[Axis, ...] = param(_Axes(), (), "swept fields: dotted path -> list of values or range; "
                                   "label -> list of mappings (linked)")
    combine: str = param(Choice(*COMBINE), "grid", "how axes combine: full grid, zipped, random or Latin hypercube "
                         "samples")
    samples: Optional[int] = param(Maybe(Integer(1, 10_000_000)), None, "number of samples (random, lhs)")
    accuracy: Optional[AccuracySpec] = param(Maybe(Section(AccuracySpec)), None,
                                             "measure accuracy of trained models (optional)")

    def _validate(self) -> None:
        leaves = _leaf_paths(self.arch.to_dict())
        seen: Dict[str, Tuple] = {}
        for axis in self.axes:
            for index, path in enumerate(axis.paths):
                where = ("axes", axis.name) + ((index, path) if axis.linked else ())
                if path in _RESERVED_PATHS:
                    raise ConfigError(where, "a field of the arch other than version and energy_table",
                                      path, hint=_RESERVED_PATHS[path])
                if path not in leaves:
                    close = difflib.get_close_matches(path, sorted(leaves), n=1)
                    section = path in _section_paths(self.arch.to_dict())
                    hint = ("a section: name one of its fields" if section else
                            f"did you mean {close[0]!r}?" if close else "see docs/config.md for the fields")
                    raise ConfigError(where, "a field of the arch (a dotted path such as crossbar.adc_bits)",
                                      described("a section" if section else "an unknown field"), hint=hint)
                if path in seen:
                    raise ConfigError(where, "a field no other axis sets", described(f"{path}, set by axis "
                                                                                     f"{seen[path][1]} too"))
                seen[path] = (where, axis.name)
        if self.accuracy is not None and self.accuracy.sigma is not None and "crossbar.variation_sigma" in seen:
            raise ConfigError(("accuracy", "sigma"), "nothing when an axis sets crossbar.variation_sigma",
                              list(self.accuracy.sigma), hint=f"axis {seen['crossbar.variation_sigma'][1]}")
        sampled = self.combine in ("random", "lhs")
        if sampled and self.samples is None:
            raise ConfigError(("samples",), f"an integer >= 1 (combine: {self.combine} draws that many points)",
                              described("nothing"))
        if not sampled and self.samples is not None:
            raise ConfigError(("samples",), f"nothing (combine: {self.combine} takes every value; samples is for "
                              "random and lhs)", self.samples)
        if not sampled:
            for axis in self.axes:
                if axis.range is not None and axis.range.num is None:
                    raise ConfigError(("axes", axis.name, "num"), f"an integer >= 1 (combine: {self.combine} needs "
                                      "a number of values for a range)", described("nothing"))
        if self.combine == "zip" and self.axes:
            lengths = {axis.name: _length(axis) for axis in self.axes}
            first = self.axes[0].name
            for name, length in lengths.items():
                if length != lengths[first]:
                    raise ConfigError(("axes", name), f"{lengths[first]} values (combine: zip; axis {first} has "
                                      f"{lengths[first]})", described(f"{length} value{'s' if length != 1 else ''}"))

    @property
    def settings_workloads(self) -> Tuple[Named, ...]:
        """The workloads the points run: as given, else the accuracy models' networks, else resnet18."""
        if self.workloads is not None:
            return self.workloads
        if self.accuracy is not None:
            return tuple(Named(m.name, m.network) for m in self.accuracy.model)
        return (Named("resnet18", load_workload("resnet18")),)


def _length(axis: Axis) -> int:
    return axis.range.num if axis.range is not None else len(axis.values)


def _leaf_paths(tree: Mapping, prefix: str = "") -> set:
    paths = set()
    for key, value in tree.items():
        if isinstance(value, Mapping):
            paths |= _leaf_paths(value, f"{prefix}{key}.")
        else:
            paths.add(f"{prefix}{key}")
    return paths


def _section_paths(tree: Mapping, prefix: str = "") -> set:
    paths = set()
    for key, value in tree.items():
        if isinstance(value, Mapping):
            paths.add(f"{prefix}{key}")
            paths |= _section_paths(value, f"{prefix}{key}.")
    return paths


def _relative_to(value, folder: Optional[Path], presets: Sequence[str]):
    """A relative YAML path in a spec file means relative to that file, as a reader expects."""
    if folder is None or not isinstance(value, str) or value in presets or os.path.isabs(value):
        return value
    candidate = folder / value
    return str(candidate) if candidate.is_file() else value


def _resolve_paths(data: Dict[str, Any], folder: Optional[Path]) -> Dict[str, Any]:
    data = dict(data)
    if "arch" in data:
        data["arch"] = _relative_to(data["arch"], folder, arch_presets())
    for key, presets in (("workloads", zoo_names()), ("energy_tables", energy_presets())):
        value = data.get(key)
        if isinstance(value, list):
            data[key] = [_relative_to(v, folder, presets) for v in value]
        elif value is not None:
            data[key] = _relative_to(value, folder, presets)
    accuracy = data.get("accuracy")
    if isinstance(accuracy, Mapping) and "model" in accuracy:
        models = accuracy["model"]
        accuracy = dict(accuracy)
        accuracy["model"] = ([_relative_to(m, folder, ()) for m in models] if isinstance(models, list)
                             else _relative_to(models, folder, ()))
        data["accuracy"] = accuracy
    return data


def load_sweep(spec: Union[str, os.PathLike, Mapping[str, Any], SweepSpec]) -> SweepSpec:
    """A frozen, validated :class:`SweepSpec` from a YAML path, a dict or a spec.

    Relative paths inside a spec file (arch, workloads, energy tables, models) are read
    relative to that file. Raises :class:`~xbarsim.errors.ConfigError` naming the dotted path
    of any bad value.

    >>> load_sweep({"version": 1, "arch": "tiny", "axes": {"crossbar.adc_bits": [4, 6]}}).axes[0].paths
    ('crossbar.adc_bits',)
    """
    if isinstance(spec, SweepSpec):
        return spec
    folder = None
    if isinstance(spec, (str, os.PathLike)):
        if not Path(spec).is_file():
            raise ConfigError(("sweep",), "a sweep spec YAML file or a mapping", os.fspath(spec), hint="no such file")
        folder = Path(spec).parent

    def build(data):
        try:
            _VERSION.convert(data["version"])
        except ConfigError as exc:
            raise exc.under("version") from None
        return SweepSpec.from_dict(_resolve_paths(data, folder))

    return load_spec(spec, what="sweep", noun="a sweep spec", presets={}, build=build,
                     version=_VERSION.expected)


def reference_markdown() -> str:
    """The sweep spec's field tables in Markdown (kept in docs/sweeps.md; a test checks they match)."""
    lines = []
    sections = (("top level", SweepSpec), ("`accuracy`", AccuracySpec), ("a range axis `{min, max, ...}`", Range))
    for title, cls in sections:
        lines += [f"**{title}**: {cls.section_doc}", "", "| field | expected | default | meaning |",
                  "|---|---|---|---|"]
        for name, expected, default, doc, _affects in cls.describe():
            default = "'isaac'" if cls is SweepSpec and name == "arch" else default  # not the whole resolved preset
            lines.append(f"| `{name}` | {expected} | `{default}` | {doc} |")
        lines.append("")
    return "\n".join(lines)
