"""The architecture spec: the root of the config tree (``version``, ``name``, sections)."""

from __future__ import annotations

from dataclasses import dataclass

from .crossbar import CrossbarSpec
from .fields import Integer, Section, Spec, Text, param

__all__ = ["Arch", "SPEC_VERSION"]

#: The spec version this xbarsim reads and writes.
SPEC_VERSION = 1

_VERSION = Integer(SPEC_VERSION, SPEC_VERSION)
_VERSION.expected = f"{SPEC_VERSION} (the spec version this xbarsim reads; start the spec with 'version: {SPEC_VERSION}')"


@dataclass(frozen=True, kw_only=True)
class Arch(Spec):
    """A whole accelerator: frozen, validated once at load (``xbarsim.load_arch``)."""

    section_doc = "an accelerator: its crossbar and, around it, the chip hierarchy"

    version: int = param(_VERSION, SPEC_VERSION,
                         f"spec format version; this xbarsim reads {SPEC_VERSION}", required=True)
    name: str = param(Text(), "custom",
                      "a short name shown in reports")
    crossbar: CrossbarSpec = param(Section(CrossbarSpec), factory=CrossbarSpec,
                                   doc="the analog arrays, converters and devices")
