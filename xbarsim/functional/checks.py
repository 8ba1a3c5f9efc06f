"""Argument checks for the functional model: integer arrays of the right shape and range.

Every failure is an ArgumentError (a ValueError) that names the argument, what was expected and what was
given, raised before any numpy arithmetic can fail in a less readable way.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
from ..errors import ArgumentError

__all__ = ["integer_array"]


def integer_array(value, name: str, *, ndim: Tuple[int, ...], lo: int, hi: int, what: str,
                  rows: Optional[int] = None) -> np.ndarray:
    """``value`` as an int64 array, checked for integer dtype, dimensionality and value range.

    ``what`` describes the range in words for the message (``"8-bit unsigned"``); ``rows``,
    if given, is the required length of the last axis.
    """
    array = np.asarray(value)
    if array.dtype == object or array.dtype.kind not in "iu":
        hint = "; round and cast first, e.g. np.rint(x).astype(np.int64)" if array.dtype.kind == "f" else ""
        raise ArgumentError(f"{name}: expected an integer array, got dtype {array.dtype}{hint}")
    if array.ndim not in ndim:
        want = " or ".join(f"{d}-D" for d in ndim)
        raise ArgumentError(f"{name}: expected a {want} array, got shape {array.shape}")
    if array.size == 0:
        raise ArgumentError(f"{name}: expected a non-empty array, got shape {array.shape}")
    if rows is not None and array.shape[-1] != rows:
        raise ArgumentError(f"{name}: expected a last axis of length {rows}, got shape {array.shape}")
    smallest, largest = int(array.min()), int(array.max())
    if smallest < lo or largest > hi:
        raise ArgumentError(f"{name}: expected {what} integers in [{lo}, {hi}], "
                         f"got values in [{smallest}, {largest}]")
    return array.astype(np.int64, copy=False)
