"""HDF5 traces: a versioned schema, an atomic streaming writer, a lazy read-only reader."""

from .reader import EventTable, Trace, open_trace
from .schema import DETAILS, FORMAT, SCHEMA_VERSION
from .writer import TraceWriter

__all__ = ["DETAILS", "EventTable", "FORMAT", "SCHEMA_VERSION", "Trace", "TraceWriter", "open_trace"]
