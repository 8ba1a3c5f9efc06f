"""The one place that reads and writes physical quantities: ``"100ns"``, ``"1.28GHz"``, ``"64KiB"``.

Every quantity is held in its SI base unit as a float (seconds, hertz, bytes, watts, joules,
siemens, square metres, bytes per second, metres, volts); :func:`parse` converts text to that float and
:func:`format` converts it back. Arithmetic goes through :class:`decimal.Decimal`, so
``parse(format(x, kind), kind) == x`` holds exactly for every finite float ``x``: a resolved
config dump read back in is the same config.

Prefixes are case sensitive (``m`` milli, ``M`` mega). Sizes take SI (``kB`` = 1000 B) and
binary (``KiB`` = 1024 B) prefixes; the ambiguous ``KB`` is refused with a hint.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, DecimalException, localcontext
from typing import Dict, Tuple

__all__ = ["KINDS", "parse", "format", "UnitError", "SIFloat"]


class UnitError(ValueError):
    """Text that is not a quantity of the requested kind; the message says what was expected."""


class SIFloat(float):
    """A float known to be in SI base units because :func:`parse` produced it.

    Config fields accept these (so a validated spec can be copied and re-validated) but
    refuse plain non-zero numbers, whose unit would be a guess.
    """

    __slots__ = ()


@dataclass(frozen=True)
class _Kind:
    name: str  # "time"
    example: str  # "100ns"
    symbols: Tuple[str, ...]  # accepted base symbols; the first is used when formatting
    binary: bool = False  # accepts Ki/Mi/Gi/Ti prefixes (sizes)
    squared: bool = False  # prefix applies squared (areas: mm2 = 1e-6 m2)


KINDS: Dict[str, _Kind] = {
    k.name: k
    for k in (
        _Kind("time", "100ns", ("s",)),
        _Kind("frequency", "1.2GHz", ("Hz",)),
        _Kind("size", "64KiB", ("B",), binary=True),
        _Kind("bandwidth", "6.4GB/s", ("B/s",), binary=True),
        _Kind("power", "16mW", ("W",)),
        _Kind("energy", "1.56pJ", ("J",)),
        _Kind("conductance", "100uS", ("S",)),
        _Kind("area", "0.0096mm2", ("m2", "m^2"), squared=True),
        _Kind("length", "22nm", ("m",)),
        _Kind("voltage", "0.8V", ("V",)),
    )
}
"""Quantity kinds a config field may declare, keyed by name."""

_SI_PREFIX = {
    "f": -15, "p": -12, "n": -9, "u": -6, "µ": -6, "m": -3, "": 0,
    "k": 3, "M": 6, "G": 9, "T": 12,
}
_BINARY_PREFIX = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40}
_NUMBER = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*(\S*)\s*$")


def _a(noun: str) -> str:
    """``noun`` with its indefinite article: ``a time``, ``an energy``."""
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def _kind(kind: str) -> _Kind:
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown quantity kind {kind!r}; known: {', '.join(KINDS)}") from None


def _scale(unit: str, k: _Kind) -> Decimal:
    """Decimal factor that turns one ``unit`` into the SI base unit of ``k``."""
    for symbol in k.symbols:
        if not unit.endswith(symbol):
            continue
        prefix = unit[: len(unit) - len(symbol)]
        if prefix in _SI_PREFIX:
            power = _SI_PREFIX[prefix] * (2 if k.squared else 1)
            return Decimal(1).scaleb(power)
        if k.binary and prefix in _BINARY_PREFIX:
            return Decimal(2) ** _BINARY_PREFIX[prefix]
        if k.binary and prefix == "K":
            raise UnitError(
                f"'{unit}' is ambiguous: write 'k{symbol}' (1000 {symbol}) or 'Ki{symbol}' (1024 {symbol})"
            )
    raise UnitError(f"expected {_a(k.name)} such as '{k.example}', got unit '{unit}'")


def parse(text: object, kind: str) -> float:
    """The value of ``text`` (e.g. ``"100ns"``) in the SI base unit of ``kind`` (here seconds).

    A bare number is accepted only when it is zero: ``0`` is zero in every unit, any other
    unitless number would be a guess. Raises :class:`UnitError` with what was expected.
    """
    k = _kind(kind)
    if isinstance(text, bool):
        raise UnitError(f"expected {_a(k.name)} such as '{k.example}', got {text!r}")
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if isinstance(text, SIFloat) or text == 0:
            return SIFloat(text)
        raise UnitError(f"expected {_a(k.name)} with a unit such as '{k.example}', got the bare number {text!r}")
    if not isinstance(text, str):
        raise UnitError(f"expected {_a(k.name)} such as '{k.example}', got {type(text).__name__}")
    match = _NUMBER.match(text)
    if not match:
        raise UnitError(f"expected {_a(k.name)} such as '{k.example}', got {text!r}")
    number, unit = match.groups()
    if not unit:
        if Decimal(number) == 0:
            return SIFloat(0.0)
        raise UnitError(f"expected {_a(k.name)} with a unit such as '{k.example}', got {text!r}")
    try:
        with localcontext() as ctx:
            ctx.prec = 60
            value = Decimal(number) * _scale(unit, k)
    except DecimalException:  # an exponent beyond what decimal handles (1e999999999ns)
        raise UnitError(f"expected {_a(k.name)} such as '{k.example}', got {text!r}, out of range") from None
    result = float(value)
    if not math.isfinite(result):
        raise UnitError(f"expected {_a(k.name)} such as '{k.example}', got {text!r}, out of range") from None
    return SIFloat(result)


def format(value: float, kind: str) -> str:  # noqa: A001 - mirrors parse
    """Shortest text for ``value`` (SI base unit of ``kind``) that :func:`parse` maps back exactly.

    >>> format(1e-7, "time")
    '100ns'
    >>> format(65536.0, "size")
    '64KiB'
    """
    k = _kind(kind)
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"cannot format the non-finite {k.name} {value!r}")
    symbol = k.symbols[0]
    if value == 0:
        return f"0{symbol}"
    exact = Decimal(repr(value))
    if k.squared:  # areas read best in mm2 whatever their size
        return f"{_plain(exact.scaleb(6))}mm2"
    exponent = math.floor(math.log10(abs(value)) / 3) * 3
    exponent = max(min(exponent, 12), -15)
    prefix = {v: p for p, v in _SI_PREFIX.items() if p != "µ"}[exponent]
    text = f"{_plain(exact.scaleb(-exponent))}{prefix}{symbol}"
    if k.binary and value == int(value):  # 65536 B reads better as 64KiB, 4.8e9 B/s as 4.8GB/s
        for binary_prefix, power in sorted(_BINARY_PREFIX.items(), key=lambda item: -item[1]):
            step = 2**power
            if int(value) % step == 0 and abs(value) >= step:
                candidate = f"{int(value) // step}{binary_prefix}{symbol}"
                return candidate if len(candidate) < len(text) else text
    return text


def _plain(number: Decimal) -> str:
    """A decimal written without an exponent and without trailing zeros."""
    text = f"{number.normalize():f}"
    return text
