"""The hardware vocabulary, declared once: component families and the registry that holds them.

Importing this package registers every family (:mod:`.arrays`, :mod:`.registers`,
:mod:`.buffers`, :mod:`.units`, :mod:`.network`, :mod:`.memory`, :mod:`.vector`, :mod:`.matrix`) in
:data:`REGISTRY`; the
stream builder, durations, counting, pricing, reports and traces read it.
"""

from .registry import GROUPS, REGISTRY, Component, Family, OpKind, Registry, ResourceKind, cycles, cycles_of, register
# the families register themselves
from . import arrays, registers, buffers, units, network, memory, vector, matrix  # noqa: E402,F401

__all__ = ["GROUPS", "REGISTRY", "Component", "Family", "OpKind", "Registry", "ResourceKind", "cycles", "cycles_of",
           "register"]
