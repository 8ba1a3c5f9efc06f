"""The study model families: small ResNets in the spirit of the CIFAR ResNets (He et al., 2016).

A model is a 3x3 (or k x k; 1 x k for 1-D signals) stem convolution of width w, two stages of
n basic blocks (widths w and 2w, the second stage halving the resolution with a strided block
and a 1x1 projection), global average pooling and a 10-way classifier: ``4n + 2`` weight
layers. Batch norm follows every conv during training and is folded in on export. The
multi-exit variant (BranchyNet, Teerapittayanon et al., 2016) adds a classifier after the
first block and after the first stage.

Families (defaults in :data:`BASE`): depth n = 1..4 (6, 10, 14, 18 layers); width w = 8, 16,
32 (as the NeuroSim study's 8/16/32 at the first stage); kernel k = 1, 3, 5.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from importlib import resources
from typing import Dict, List
from ..errors import ArgumentError

__all__ = ["StudyModel", "BASE", "FAMILIES", "family", "all_models", "MODEL_PACKAGE"]

MODEL_PACKAGE = "xbarsim.studies.models"


@dataclass(frozen=True)
class StudyModel:
    dataset: str
    blocks: int = 2
    """Basic blocks per stage (depth = 4 * blocks + 2 weight layers)."""
    width: int = 16
    """Channels of the stem and the first stage."""
    kernel: int = 3
    """Kernel size of every non-projection conv."""
    exits: bool = False
    """Multi-exit (BranchyNet) variant."""

    @property
    def depth(self) -> int:
        return 4 * self.blocks + 2

    @property
    def name(self) -> str:
        suffix = "-exits" if self.exits else ""
        return f"{self.dataset}-d{self.depth}-w{self.width}-k{self.kernel}{suffix}"

    @property
    def path(self):
        """Where its trained weights ship (inside the package)."""
        return resources.files(MODEL_PACKAGE).joinpath(f"{self.name}.npz")


BASE = {"blocks": 2, "width": 16, "kernel": 3}

FAMILIES: Dict[str, List[dict]] = {
    "depth": [{"blocks": n} for n in (1, 2, 3, 4)],
    "width": [{"width": w} for w in (8, 16, 32)],
    "kernel": [{"kernel": k} for k in (1, 3, 5)],
    "exits": [{"blocks": 3, "exits": True}],
}


def family(name: str, dataset: str) -> List[StudyModel]:
    """The models of one family on one dataset."""
    if name not in FAMILIES:
        raise ArgumentError(f"family: expected one of {', '.join(FAMILIES)}, got {name!r}")
    base = StudyModel(dataset=dataset, **BASE)
    return [replace(base, **changes) for changes in FAMILIES[name]]


def all_models(dataset: str) -> List[StudyModel]:
    """Every distinct model of every family on ``dataset``."""
    seen: Dict[str, StudyModel] = {}
    for name in FAMILIES:
        for model in family(name, dataset):
            seen.setdefault(model.name, model)
    return list(seen.values())
