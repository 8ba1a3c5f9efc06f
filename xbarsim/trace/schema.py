"""The trace file format, version 2 (documented for plain-h5py readers in docs/trace-format.md).

Version 2 stores the operation stream as its columns (the recorded mapping included), so a
replay re-times exactly what was simulated and a report never maps the network again.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FORMAT", "SCHEMA_VERSION", "DETAILS", "AUTO_EVENT_LIMIT", "STREAM_ARRAYS", "STREAM_TABLES",
           "TIMELINE_ARRAYS", "COMPRESSION", "string_table_dtype"]

FORMAT = "xbarsim-trace"
"""Value of the root attribute ``format`` of every trace."""
SCHEMA_VERSION = 2
"""Schema this xbarsim writes and the only one it reads."""
DETAILS = ("summary", "layer", "event")
"""Trace detail levels: no timeline; step end times; every operation's times."""
AUTO_EVENT_LIMIT = 2_000_000
"""``detail="auto"`` records every operation up to this many operations, else step end times."""

STREAM_ARRAYS = (
    "step_layer", "step_image", "step_row", "step_segment", "step_kind", "step_tile", "step_ops",
    "dep_ptr", "dep", "rel_ptr", "rel",
    "op_kind", "res_ptr", "res", "op_amount", "op_aux", "op_region", "op_seq", "op_uses", "pred_ptr", "pred",
)
"""Plain columns of ``/stream`` (the names and meanings of :class:`xbarsim.timing.stream.OpStream`)."""
STREAM_TABLES = ("resources", "regions", "parts", "activity", "copies", "layers", "stores")
"""Structured tables of ``/stream``: resources, tile-buffer regions, layer parts, MVM activity, the
recorded mapping (copies and layers), and the operand stores of products of activations (absent
from traces written before them: read as empty)."""
TIMELINE_ARRAYS = ("request", "admit", "start", "end", "cause")
"""Per-operation columns of ``/timeline`` (detail ``event``)."""
COMPRESSION = dict(compression="gzip", compression_opts=1, shuffle=True)
"""How large datasets are compressed (fast gzip with byte shuffling)."""


def string_table_dtype(width: int) -> np.dtype:
    """Fixed-width byte strings, at least 1 wide."""
    return np.dtype(f"S{max(1, width)}")
