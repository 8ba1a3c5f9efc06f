"""The sweep's one door into the accuracy studies (``xbarsim.studies``).

Everything the sweep needs from the studies goes through this module: finding a trained
model by name or file, and measuring its accuracy through a crossbar. Keeping the coupling
here lets the studies change without touching the rest of the sweep code.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, Optional

from ..config.crossbar import CrossbarSpec
from ..workload.network import Network

__all__ = ["AccuracyModel", "load_accuracy_model", "measure_accuracy"]


@dataclass(frozen=True)
class AccuracyModel:
    """A trained model a sweep measures: how to find it again, what it is, and its content digest."""

    name: str
    """The study model name or .npz path as the spec gives it (workers load it again from this)."""
    dataset: Optional[str]
    """The dataset it was trained on (None if its file does not say)."""
    digest: str
    """sha256 of the model file: part of each point's content hash."""
    network: Network
    """Its network (the workload simulated when the spec lists no workloads)."""


def _model_file(name: str):
    """The file of a study model name or of an .npz path, or None."""
    from ..studies.train import parse_name

    path = Path(name)
    if path.suffix == ".npz" and path.is_file():
        return path
    spec = parse_name(name)
    if spec is not None and spec.path.is_file():
        return spec.path
    return None


@lru_cache(maxsize=32)
def _load(name: str):
    from ..nn.weights import load_model
    from ..studies.train import parse_name

    path = _model_file(name)
    if path is None:
        return None
    data = path.read_bytes()
    model, meta = load_model(io.BytesIO(data))
    study = parse_name(name)
    dataset = study.dataset if study is not None else meta.get("dataset")
    return model, meta, dataset, hashlib.sha256(data).hexdigest()


def load_accuracy_model(name: str) -> Optional[AccuracyModel]:
    """The model a name denotes (a shipped study model or an .npz file), or None if there is none."""
    loaded = _load(name)
    if loaded is None:
        return None
    model, _, dataset, digest = loaded
    return AccuracyModel(name=name, dataset=dataset, digest=digest, network=model.network)


def measure_accuracy(model: AccuracyModel, crossbar: CrossbarSpec, dataset: str, draws: int,
                     test_limit: Optional[int]) -> Dict[str, float]:
    """Test accuracy of ``model`` through ``crossbar``: mean and std over ``draws`` programmings, and float.

    One cell of an accuracy study (``xbarsim.studies.accuracy.run_study``) whose sweep is the
    crossbar's own programming variation, so every field of ``crossbar`` (ADC bits, cells,
    noise, faults) takes effect and the draws use the studies' seeds 0..draws-1.
    """
    from ..studies.accuracy import Setting, run_study

    loaded = _load(model.name)
    if loaded is None or loaded[3] != model.digest:
        raise FileNotFoundError(f"accuracy.model: {model.name} is not the model the sweep planned "
                                f"(missing or changed on this worker)")
    network_model, meta, _, _ = loaded
    setting = Setting(model.name, network_model, meta, crossbar)
    study = run_study([setting], dataset, "variation", values=(crossbar.variation_sigma,), draws=draws,
                      test_limit=test_limit)
    return {"accuracy": float(study.mean(model.name)[0]), "accuracy_std": float(study.std(model.name)[0]),
            "accuracy_float": float(study.float_accuracy[model.name])}
