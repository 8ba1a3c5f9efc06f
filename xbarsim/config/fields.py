"""Typed, documented config fields and the frozen :class:`Spec` base class.

A config section is a frozen, keyword-only dataclass deriving from :class:`Spec`, whose
fields are declared with :func:`param`: a type (which knows its range, its unit and how to
say what it expects), a default and one line of documentation. Validation happens once,
at construction (``__post_init__``), so a spec object that exists is valid; the rest of
xbarsim trusts it.

Errors are :class:`~xbarsim.errors.ConfigError` with the dotted path of the value, what was
expected and what was given; nested sections prefix their field name on the way out.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
from typing import Any, ClassVar, Dict, Iterator, Mapping, Optional, Sequence, Tuple, Type, TypeVar

from .. import units
from ..errors import ConfigError, described

__all__ = [
    "FieldType", "Integer", "Real", "Boolean", "Text", "Choice", "Quantity", "Maybe", "Section", "Items",
    "MappingOf", "FrozenDict", "IntPair",
    "param", "Spec", "evolve", "EFFECTS", "field_effects",
]

S = TypeVar("S", bound="Spec")


class FieldType:
    """How one field is checked, converted and written back out."""

    expected: str = "a value"

    def convert(self, value: Any) -> Any:
        """Return the validated value or raise ConfigError with an empty (relative) path."""
        raise NotImplementedError

    def dump(self, value: Any) -> Any:
        """Plain Python (YAML-safe) form of a converted value."""
        return value

    def fail(self, value: Any, hint: str = "") -> ConfigError:
        got = value if not isinstance(value, (dict, list, tuple)) else described(f"a {type(value).__name__}")
        return ConfigError((), self.expected, got, hint=hint)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _bounds_text(lo, hi, lo_open=False, hi_open=False, fmt=str) -> str:
    if lo is not None and hi is not None:
        if not lo_open and not hi_open:
            return f"in [{fmt(lo)}, {fmt(hi)}]"
        return f"in {'(' if lo_open else '['}{fmt(lo)}, {fmt(hi)}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {fmt(lo)}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {fmt(hi)}"
    return ""


class Integer(FieldType):
    """An integer in ``[lo, hi]`` (booleans and floats are refused, even ``8.0``)."""

    def __init__(self, lo: Optional[int] = None, hi: Optional[int] = None):
        self.lo, self.hi = lo, hi
        if lo is not None and hi is not None:
            self.expected = f"an integer {lo}..{hi}"
        else:
            self.expected = f"an integer {_bounds_text(lo, hi)}".rstrip()

    def convert(self, value):
        if not _is_int(value):
            raise self.fail(value)
        value = int(value)
        if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
            raise self.fail(value)
        return value


class Real(FieldType):
    """A real number within bounds; NaN is always refused, infinity only if allowed."""

    def __init__(self, lo=None, hi=None, *, lo_open=False, hi_open=False, allow_inf=False):
        self.lo, self.hi, self.lo_open, self.hi_open = lo, hi, lo_open, hi_open
        self.allow_inf = allow_inf
        bounds = _bounds_text(lo, hi, lo_open, hi_open)
        self.expected = f"a number {bounds}".rstrip() + (" (or .inf)" if allow_inf else "")

    def convert(self, value):
        if not _is_real(value):
            raise self.fail(value)
        value = float(value)
        if math.isnan(value) or (math.isinf(value) and not self.allow_inf):
            raise self.fail(value)
        if self.lo is not None and (value < self.lo or (self.lo_open and value == self.lo)):
            raise self.fail(value)
        if self.hi is not None and not math.isinf(value) and (value > self.hi or (self.hi_open and value == self.hi)):
            raise self.fail(value)
        if self.hi is not None and math.isinf(value) and value > 0 and not self.allow_inf:
            raise self.fail(value)
        return value


class IntPair(FieldType):
    """One integer for both dimensions, or ``[h, w]``; held as an (h, w) tuple, written back as one
    integer when both are equal."""

    def __init__(self, lo: int = 0, hi: int = 1 << 20):
        self.one = Integer(lo, hi)
        self.expected = f"{self.one.expected} or a pair [h, w] of them"

    def convert(self, value):
        if isinstance(value, (list, tuple)):
            if len(value) != 2:
                raise self.fail(value)
            try:
                return (self.one.convert(value[0]), self.one.convert(value[1]))
            except ConfigError:
                raise self.fail(value) from None
        try:
            number = self.one.convert(value)
        except ConfigError:
            raise self.fail(value) from None
        return (number, number)

    def dump(self, value):
        return value[0] if value[0] == value[1] else [value[0], value[1]]


class Boolean(FieldType):
    expected = "true or false"

    def convert(self, value):
        if isinstance(value, bool):
            return value
        raise self.fail(value)


class Text(FieldType):
    """A non-empty string."""

    expected = "a non-empty string"

    def convert(self, value):
        if isinstance(value, str) and value.strip():
            return value
        raise self.fail(value)


class Choice(FieldType):
    """One of a fixed set of strings."""

    def __init__(self, *options: str):
        self.options = tuple(options)
        self.expected = "one of " + ", ".join(repr(o) for o in options)

    def convert(self, value):
        if isinstance(value, str) and value in self.options:
            return value
        hint = ""
        if isinstance(value, str):
            close = difflib.get_close_matches(value, self.options, n=1)
            hint = f"did you mean {close[0]!r}?" if close else ""
        raise self.fail(value, hint)


class Quantity(FieldType):
    """A physical quantity given with its unit (``"100ns"``), held as a float in SI base units."""

    def __init__(self, kind: str, lo: Optional[float] = None, hi: Optional[float] = None, *, lo_open=False):
        self.kind, self.lo, self.hi, self.lo_open = kind, lo, hi, lo_open
        example = units.KINDS[kind].example
        bounds = _bounds_text(lo, hi, lo_open, fmt=lambda v: units.format(v, kind))
        article = "an" if kind[0] in "aeiou" else "a"
        self.expected = f"{article} {kind} {bounds} such as '{example}'".replace("  ", " ")

    def convert(self, value):
        try:
            number = units.parse(value, self.kind)
        except units.UnitError as exc:
            text = str(exc)
            hint = text if "ambiguous" in text else ("a bare number has no unit" if "bare number" in text else
                                                     "out of range" if "out of range" in text else "")
            raise self.fail(value, hint) from None
        if not math.isfinite(number):
            raise self.fail(value)
        if self.lo is not None and (number < self.lo or (self.lo_open and number == self.lo)):
            raise self.fail(value)
        if self.hi is not None and number > self.hi:
            raise self.fail(value)
        return number

    def dump(self, value):
        return units.format(value, self.kind)


class Maybe(FieldType):
    """``None`` (not set) or a value of the inner type."""

    def __init__(self, inner: FieldType):
        self.inner = inner
        self.expected = f"{inner.expected} or null"

    def convert(self, value):
        return None if value is None else self.inner.convert(value)

    def dump(self, value):
        return None if value is None else self.inner.dump(value)


class Section(FieldType):
    """A nested spec section, given as a mapping or as an instance of its class."""

    def __init__(self, cls: Type["Spec"]):
        self.cls = cls
        self.expected = f"a mapping of {cls.__name__} fields"

    def convert(self, value):
        if isinstance(value, self.cls):
            return value
        return self.cls.from_dict(value)

    def dump(self, value):
        return value.to_dict()


class Items(FieldType):
    """A list of values of one type, held as a tuple so the spec stays hashable and frozen."""

    def __init__(self, inner: FieldType, *, min_items: int = 0):
        self.inner, self.min_items = inner, min_items
        self.expected = f"a list of {inner.expected}" + (f" (at least {min_items})" if min_items else "")

    def convert(self, value):
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
            raise self.fail(value)
        if len(value) < self.min_items:
            raise self.fail(value)
        items = []
        for index, item in enumerate(value):
            try:
                items.append(self.inner.convert(item))
            except ConfigError as exc:
                raise exc.under(index) from None
        return tuple(items)

    def dump(self, value):
        return [self.inner.dump(v) for v in value]


class FrozenDict(dict):
    """A dict that refuses changes and hashes, so frozen specs can hold mappings."""

    def _refuse(self, *args, **kwargs):
        raise TypeError("a spec mapping cannot be changed; use evolve()")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items(), key=lambda item: repr(item[0]))))

    def __reduce__(self):  # pickle rebuilds it whole, never item by item through the refused __setitem__
        return (FrozenDict, (dict(self),))


class MappingOf(FieldType):
    """A mapping from names (optionally from a known set) to values of one type."""

    def __init__(self, value: FieldType, keys=None, key_kind: str = "name", key_type: FieldType = None):
        self.value, self.keys, self.key_kind, self.key_type = value, keys, key_kind, key_type
        self.expected = f"a mapping of {key_kind} to {value.expected}"

    def convert(self, value):
        if not isinstance(value, Mapping):
            raise self.fail(value)
        result = {}
        for key, item in value.items():
            if self.key_type is not None:
                try:
                    key = self.key_type.convert(key)
                except ConfigError:
                    raise ConfigError((str(key),), f"a {self.key_kind}: {self.key_type.expected}", key) from None
            elif not isinstance(key, str) or (self.keys is not None and key not in self.keys):
                close = difflib.get_close_matches(str(key), list(self.keys or ()), n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(self.keys or ())}"
                raise ConfigError((str(key),), f"a known {self.key_kind}", described(f"unknown {key!r}"), hint=hint)
            try:
                result[key] = self.value.convert(item)
            except ConfigError as exc:
                raise exc.under(key) from None
        return FrozenDict(result)

    def dump(self, value):
        return {k: self.value.dump(v) for k, v in value.items()}


#: What a change of a field can alter, from the most to the least structural:
#: ``mapping`` (lowering, placement or the operation stream), ``timing`` (operation durations,
#: server counts and buffer capacities), ``counts`` (action counts derived from the stream),
#: ``function`` (what the functional model computes) and ``price`` (energy, power, area or
#: names only). A recorded trace can be replayed with changes to ``timing``, ``counts`` and
#: ``price`` fields (and ``function`` fields when its counts did not come from real data).
EFFECTS = ("mapping", "timing", "counts", "function", "price")


def param(kind: FieldType, default: Any = dataclasses.MISSING, doc: str = "", *, factory=None, required=False,
          affects: Sequence[str] = ("mapping",)):
    """Declare a spec field: its type, default, one line of documentation and what it affects.

    ``required`` fields have a default for Python construction but must appear in a dict
    or YAML spec (``version``). ``affects`` names the parts of a run a change of the field can
    alter (:data:`EFFECTS`); it decides what a replay may change and is printed in
    ``docs/config.md``. Unannotated fields are taken to alter the mapping (the safe side).
    """
    effects = (affects,) if isinstance(affects, str) else tuple(affects)
    unknown = [e for e in effects if e not in EFFECTS]
    if unknown or not effects:
        raise TypeError(f"affects: expected some of {EFFECTS}, got {effects!r}")
    metadata = {"type": kind, "doc": doc, "required": required, "affects": frozenset(effects)}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


class Spec:
    """Base of every frozen config section; subclasses are ``@dataclass(frozen=True, kw_only=True)``."""

    section_doc: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            kind = f.metadata.get("type")
            if kind is None:
                continue
            try:
                value = kind.convert(getattr(self, f.name))
            except ConfigError as exc:
                raise exc.under(f.name) from None
            object.__setattr__(self, f.name, value)
        self._validate()

    def _validate(self) -> None:
        """Cross-field checks; raise ConfigError naming the field at fault."""

    @classmethod
    def _fields(cls) -> Iterator[dataclasses.Field]:
        return (f for f in dataclasses.fields(cls) if "type" in f.metadata)

    @classmethod
    def _normalize(cls, data: Dict[str, Any]) -> Dict[str, Any]:
        """Rewrite accepted aliases (e.g. ``g_off`` for ``on_off_ratio``) before construction."""
        return data

    @classmethod
    def from_dict(cls: Type[S], data: Any) -> S:
        """Build and validate a section from a mapping of its field names (as read from YAML)."""
        if not isinstance(data, Mapping):
            got = data if not isinstance(data, (list, tuple)) else described(f"a {type(data).__name__}")
            raise ConfigError((), f"a mapping of {cls.__name__} fields", got)
        names = [f.name for f in cls._fields()]
        data = dict(data)
        aliases = getattr(cls, "aliases", {})
        for key in data:
            if not isinstance(key, str) or (key not in names and key not in aliases):
                close = difflib.get_close_matches(str(key), names, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(names)}"
                raise ConfigError((str(key),), f"a key of {cls.__name__}", described("an unknown key"), hint=hint)
        for f in cls._fields():
            if f.metadata.get("required") and f.name not in data:
                raise ConfigError((f.name,), f.metadata["type"].expected, described("nothing"))
        data = cls._normalize(data)
        return cls(**data)

    def to_dict(self) -> Dict[str, Any]:
        """The resolved spec as plain data: every field, defaults filled in, units as text."""
        return {f.name: f.metadata["type"].dump(getattr(self, f.name)) for f in self._fields()}

    @classmethod
    def effects(cls) -> Dict[str, frozenset]:
        """What each field affects, by dotted path (nested sections flattened)."""
        return field_effects(cls)

    @classmethod
    def describe(cls) -> Tuple[Tuple[str, str, str, str, str], ...]:
        """(name, expected, default, doc, affects) for every field: the reference table of this section."""
        rows = []
        for f in cls._fields():
            kind = f.metadata["type"]
            if f.default is not dataclasses.MISSING:
                default = kind.dump(kind.convert(f.default)) if f.default is not None else None
            elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
                default = "(section)"
            else:
                default = "(required)"
            effects = "" if isinstance(kind, Section) else ", ".join(e for e in EFFECTS if e in f.metadata["affects"])
            rows.append((f.name, kind.expected, repr(default), f.metadata["doc"], effects))
        return tuple(rows)


def field_effects(cls: Type["Spec"], prefix: str = "") -> Dict[str, frozenset]:
    """``{dotted path: effects}`` of every leaf field of a spec class (see :func:`param`)."""
    out: Dict[str, frozenset] = {}
    for f in cls._fields():
        kind = f.metadata["type"]
        if isinstance(kind, Section):
            out.update(field_effects(kind.cls, f"{prefix}{f.name}."))
        else:
            out[f"{prefix}{f.name}"] = f.metadata["affects"]
    return out


def evolve(spec: S, changes: Mapping[str, Any]) -> S:
    """A copy of ``spec`` with dotted-path changes applied and validated again.

    >>> from xbarsim.functional import CrossbarSpec
    >>> evolve(CrossbarSpec(), {"adc_bits": 6}).adc_bits
    6
    """
    data = spec.to_dict()
    for dotted, value in changes.items():
        parts = dotted.split(".")
        node = data
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part) if isinstance(node, dict) else None
            if not isinstance(child, dict):
                raise ConfigError(tuple(parts[: depth + 1]), "a section of the spec", described("no such section"))
            node = child
        if parts[-1] not in node:
            raise ConfigError(tuple(parts), f"a key of {type(spec).__name__}", described("an unknown key"))
        node[parts[-1]] = value
    return type(spec).from_dict(data)
