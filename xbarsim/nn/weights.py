"""Models in ``.npz`` files: the workload (as YAML text), float weights and parameters (a tied layer's
weights once, as its embedding's table) and metadata (JSON)."""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Optional

import numpy as np

from ..config.loader import dump_yaml, read_yaml
from ..workload.loader import load_workload
from .engine import Model

__all__ = ["save_model", "load_model"]


def save_model(path, model: Model, meta: Optional[Dict[str, Any]] = None, dtype=np.float32) -> None:
    """Write ``model`` (workload, weights, outputs) and JSON-able ``meta`` to ``path`` (.npz).

    Weights are stored as ``dtype`` (float32, or float16 to halve the file: its 11-bit
    significand is far below the 8-bit quantization that follows on a crossbar).
    """
    arrays = {"__workload__": np.array(dump_yaml(model.network.to_dict())),
              "__outputs__": np.array(json.dumps(list(model.outputs))),
              "__meta__": np.array(json.dumps(meta or {}))}
    tied = {layer.name for layer in model.network.weight_layers if layer.tied >= 0}
    for layer, entry in model.weights.items():
        for key, value in entry.items():
            if key == "weight" and layer in tied:  # stored once, as the embedding's table
                continue
            arrays[f"{layer}/{key}"] = np.asarray(value, dtype=dtype)
    tmp = f"{os.fspath(path)}.tmp.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def load_model(path):
    """(Model, meta) from a file written by :func:`save_model`."""
    with np.load(path, allow_pickle=False) as data:
        network = load_workload(read_yaml(str(data["__workload__"]), f"{path}:workload"))
        outputs = json.loads(str(data["__outputs__"]))
        meta = json.loads(str(data["__meta__"]))
        weights: Dict[str, Dict[str, np.ndarray]] = {}
        for key in data.files:
            if key.startswith("__"):
                continue
            layer, _, part = key.rpartition("/")
            weights.setdefault(layer, {})[part] = data[key].astype(np.float64)
    return Model(network, weights, outputs=outputs), meta
