"""Exceptions raised by xbarsim.

A user error (a bad spec, a workload that cannot be mapped, a damaged trace) is an
:class:`XbarsimError`; anything else that escapes is a simulator bug. Every user error
subclasses a built-in exception so plain ``except ValueError`` also catches it.
"""

from __future__ import annotations

from typing import Any, Sequence, Union

__all__ = ["XbarsimError", "ConfigError", "MappingError", "TraceError", "ReplayError", "DataError", "format_path"]

PathPart = Union[str, int]


def format_path(parts: Sequence[PathPart]) -> str:
    """Render path parts as a dotted path: ``("tiles", 3, "adc", "bits")`` -> ``tiles[3].adc.bits``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


class XbarsimError(Exception):
    """Base class of every error caused by user input rather than by a bug."""


class ConfigError(XbarsimError, ValueError):
    """A spec value is missing, unknown, of the wrong type or out of range.

    The message reads ``<dotted.path>: expected <expected>, got <got>``; the three parts are
    kept as attributes so callers (and tests) need not parse the message.
    """

    def __init__(self, path: Sequence[PathPart], expected: str, got: Any, *, hint: str = ""):
        self.path = tuple(path)
        """Path of the offending value inside the spec, as a tuple of keys and indices."""
        self.expected = expected
        """What the field accepts, in words."""
        self.got = got
        """What was given (the raw value, or a description of it)."""
        self.hint = hint
        """Optional advice appended to the message."""
        super().__init__(self._message())

    def _message(self) -> str:
        where = format_path(self.path) or "spec"
        got = self.got if isinstance(self.got, _Described) else repr(self.got)
        text = f"{where}: expected {self.expected}, got {got}"
        return f"{text} ({self.hint})" if self.hint else text

    def under(self, *parents: PathPart) -> "ConfigError":
        """The same error, seen from a parent whose path is prefixed by ``parents``."""
        return ConfigError(tuple(parents) + self.path, self.expected, self.got, hint=self.hint)

    def __reduce__(self):  # keep the structured fields through pickling (multiprocessing)
        return (_rebuild_config_error, (self.path, self.expected, self.got, self.hint))


def _rebuild_config_error(path, expected, got, hint):
    return ConfigError(path, expected, got, hint=hint)


class _Described(str):
    """A ``got`` that is a description ("nothing", "a list") rather than a value to repr."""


def described(text: str) -> _Described:
    """Mark ``text`` as a description for :class:`ConfigError` (printed without quotes)."""
    return _Described(text)


class MappingError(XbarsimError, ValueError):
    """A workload cannot be mapped onto the given architecture."""


class TraceError(XbarsimError, OSError):
    """A file is not a readable xbarsim trace (not a trace, truncated, or too new)."""


class ReplayError(XbarsimError, ValueError):
    """A replay was asked to change what a trace cannot be replayed with (e.g. the mapping)."""


class DataError(XbarsimError, FileNotFoundError):
    """A study dataset is not installed or its files are unreadable."""
