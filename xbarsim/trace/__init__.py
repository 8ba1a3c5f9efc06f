"""HDF5 traces: a versioned schema, an atomic writer, a lazy read-only reader."""

from .reader import Trace, open_trace
from .schema import DETAILS, FORMAT, SCHEMA_VERSION
from .writer import TraceWriter

__all__ = ["DETAILS", "FORMAT", "SCHEMA_VERSION", "Trace", "TraceWriter", "open_trace"]
