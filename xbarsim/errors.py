"""Exceptions raised by xbarsim.

A user error (a bad spec, a bad argument, a workload that cannot be mapped, a damaged trace,
an output that cannot be written, a run too large for the memory) is an :class:`XbarsimError`;
anything else that escapes is a simulator bug, and the command line says so (exit code 3)
instead of disguising it as a user error. Every user error also subclasses the built-in
exception a Python caller would expect (``ValueError``, ``OSError``, ``MemoryError``), so
plain ``except ValueError`` still catches a bad value.

Messages are one line: :func:`one_line` escapes control characters of user-given text.
"""

from __future__ import annotations

from typing import Any, Sequence, Union

__all__ = ["XbarsimError", "ConfigError", "ArgumentError", "MappingError", "TraceError", "ReplayError", "OutputError",
           "ResourceError", "format_path", "one_line"]

PathPart = Union[str, int]


def one_line(text: str) -> str:
    """``text`` with line breaks, tabs and other control characters escaped (``\\n``, ``\\x1b``)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def format_path(parts: Sequence[PathPart]) -> str:
    """Render path parts as a dotted path: ``("tiles", 3, "adc", "bits")`` -> ``tiles[3].adc.bits``.

    Control characters in keys are escaped, so the path stays on one line.
    """
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            part = one_line(str(part))
            text += f".{part}" if text else part
    return text


class XbarsimError(Exception):
    """Base class of every error caused by user input rather than by a bug.

    A message is kept on one line: control characters from user-given text (a key, a file
    name, an object name in a damaged file) are escaped.
    """

    def __init__(self, *args):
        if len(args) == 1 and isinstance(args[0], str):
            args = (one_line(args[0]),)
        super().__init__(*args)


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
        return one_line(f"{text} ({self.hint})" if self.hint else text)

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


class ArgumentError(XbarsimError, ValueError):
    """A function or command argument (not a spec value) is of the wrong type or out of range.

    The message reads ``<argument>: expected <expected>, got <got>``.
    """


class MappingError(XbarsimError, ValueError):
    """A workload cannot be mapped onto the given architecture."""


class TraceError(XbarsimError, OSError):
    """A file is not a readable xbarsim trace (not a trace, truncated, or too new)."""


class ReplayError(XbarsimError, ValueError):
    """A replay was asked to change what a trace cannot be replayed with (e.g. the mapping)."""


class OutputError(XbarsimError, OSError):
    """An output (trace, report, study) cannot be written where asked: it exists, another
    process is writing it, or its folder cannot be created."""


class ResourceError(XbarsimError, MemoryError):
    """A run would need more memory than is available (or than ``XBARSIM_MAX_MEMORY`` allows)."""
