"""The trace file format, version 1 (documented for plain-h5py readers in docs/trace-format.md)."""

from __future__ import annotations

import numpy as np

__all__ = ["FORMAT", "SCHEMA_VERSION", "DETAILS", "AUTO_EVENT_LIMIT", "EVENT_DTYPE", "STEP_DTYPE",
           "OP_DTYPE", "STEP_TIME_DTYPE", "CHUNK_ROWS", "string_table_dtype"]

FORMAT = "xbarsim-trace"
"""Value of the root attribute ``format`` of every trace."""
SCHEMA_VERSION = 1
"""Schema this xbarsim writes and the newest it reads."""
DETAILS = ("summary", "layer", "event")
"""Trace detail levels: no timeline; one row per step; one row per operation."""
AUTO_EVENT_LIMIT = 2_000_000
"""``detail="auto"`` records every operation up to this many operations, else one row per step."""
CHUNK_ROWS = 1 << 16
"""Rows per compressed chunk of the event table (and per write while the simulation runs)."""

EVENT_DTYPE = np.dtype([("start", "<i8"), ("end", "<i8"), ("resource", "<i4"), ("kind", "<i2"),
                        ("layer", "<i4"), ("step", "<i8"), ("op", "<i8"), ("amount", "<i8")])
"""One operation: start and end cycle, indices into /names/resources, /names/kinds and
/names/layers (-1: none), its step, its index in /stream/ops, and its amount (vectors, bytes,
operations or rows)."""

STEP_DTYPE = np.dtype([("layer", "<i4"), ("image", "<i4"), ("row", "<i4"), ("op_start", "<i8"),
                       ("op_count", "<i4"), ("dep_start", "<i8"), ("dep_count", "<i8")])
"""One step of the operation stream: its operations are /stream/ops[op_start:op_start+op_count],
its dependencies /stream/deps[dep_start:dep_start+dep_count]."""

OP_DTYPE = np.dtype([("resource", "<i4"), ("kind", "<i2"), ("amount", "<i8"), ("hops", "<i4"), ("part", "<i4"),
                     ("items", "<i8")])
"""One operation of the stream (indices into /names/resources and /names/kinds); ``items`` is
the number of array read items an mvm actually executed (zero skipping on real data), -1 when
all of them ran."""

STEP_TIME_DTYPE = np.dtype([("start", "<i8"), ("end", "<i8")])
"""When each step's first operation started and its last ended (detail ``layer`` and ``event``)."""


def string_table_dtype(width: int) -> np.dtype:
    """Fixed-width byte strings, at least 1 wide."""
    return np.dtype(f"S{max(1, width)}")
