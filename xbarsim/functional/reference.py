"""The exact integer oracle: what an ideal crossbar must reproduce bit for bit."""

from __future__ import annotations

import numpy as np

from .checks import integer_array
from ..errors import ArgumentError

__all__ = ["exact_mvm"]

_INT64 = np.iinfo(np.int64)


def exact_mvm(inputs, weights) -> np.ndarray:
    """``inputs @ weights`` in exact int64 arithmetic; inputs (N, K) or (K,), weights (K, M).

    Raises ValueError if the product could overflow int64.
    """
    w = integer_array(weights, "weights", ndim=(2,), lo=_INT64.min, hi=_INT64.max, what="int64")
    x = integer_array(inputs, "inputs", ndim=(1, 2), lo=_INT64.min, hi=_INT64.max, what="int64",
                      rows=w.shape[0])
    bound = int(np.abs(x).max()) * int(np.abs(w).max()) * w.shape[0]
    if bound > _INT64.max:
        raise ArgumentError(f"inputs @ weights: a sum may reach {bound}, beyond int64")
    return x @ w
