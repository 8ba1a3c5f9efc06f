"""The study model families: small ResNets in the spirit of the CIFAR ResNets (He et al., 2016).

A model is a k x k stem convolution of width w (1 x k for 1-D signals; stride ``stem_stride``),
``stages`` stages of n basic blocks (widths w, 2w, 4w; every stage after the first halves the resolution with a
strided block and a 1x1 projection), global average pooling and a 10-way classifier:
``2 * stages * n + 2`` weight layers (projections not counted, as He et al. count them). Batch
norm follows every conv during training and is folded in on export. The multi-exit variant
(BranchyNet, Teerapittayanon et al., 2016) adds a classifier (average pooling and a linear
layer) after every stage but the last.

* ``fashion-mnist`` (28x28x1): three stages as the CIFAR ResNets, after a stem of stride 2, so
  the stages run at 14x14, 7x7 and 4x4 (a quarter of the work of a stride-1 stem, which two
  shared CPU cores could not sweep); depth n = 1..4 (ResNet-8, 14, 20, 26), width w = 8, 16, 32
  (the NeuroSim study's 8/16/32 at the first stage), kernel k = 3, 5, 7, each trained with
  three seeds (0, 1, 2). The base model is ResNet-14, w = 16, k = 3 (the reference study's
  base is ResNet-20; see ``docs/accuracy-studies.md`` for the compute budget).
* ``digits`` (8x8) and ``mnist1d`` (40 samples): two stages, depth n = 1..4 (6, 10, 14, 18
  layers), width 8/16/32, kernel 1/3/5, one seed. Kept for continuity with earlier studies.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from importlib import resources
from typing import Dict, List, Tuple

from ..errors import ArgumentError

__all__ = ["StudyModel", "DatasetFamilies", "DATASET_FAMILIES", "FAMILIES", "family", "all_models",
           "base_model", "parse_name", "MODEL_PACKAGE"]

MODEL_PACKAGE = "xbarsim.studies.models"


@dataclass(frozen=True)
class StudyModel:
    """One trained study model: architecture and training seed."""

    dataset: str
    blocks: int = 2
    """Basic blocks per stage."""
    width: int = 16
    """Channels of the stem and the first stage."""
    kernel: int = 3
    """Kernel size of every non-projection conv."""
    exits: bool = False
    """Multi-exit (BranchyNet) variant."""
    stages: int = 2
    """Stages of blocks (widths w, 2w, 4w, ...)."""
    seed: int = 0
    """Training seed."""
    stem_stride: int = 1
    """Stride of the stem convolution."""
    seeded_name: bool = False
    """Whether the name carries the seed (``-s0``): datasets trained with several seeds."""

    @property
    def depth(self) -> int:
        """Weight layers on the main path: ``2 * stages * blocks + 2``."""
        return 2 * self.stages * self.blocks + 2

    @property
    def architecture(self) -> str:
        """The name without the seed, shared by all seeds of one architecture."""
        suffix = "-exits" if self.exits else ""
        return f"{self.dataset}-d{self.depth}-w{self.width}-k{self.kernel}{suffix}"

    @property
    def name(self) -> str:
        return f"{self.architecture}-s{self.seed}" if self.seeded_name else self.architecture

    @property
    def path(self):
        """Where its trained weights ship (inside the package)."""
        return resources.files(MODEL_PACKAGE).joinpath(f"{self.name}.npz")


@dataclass(frozen=True)
class DatasetFamilies:
    """The model families trained on one dataset."""

    stages: int
    base: Dict[str, int]
    families: Dict[str, Tuple[dict, ...]]
    seeds: Tuple[int, ...]
    stem_stride: int = 1

    def models(self, dataset: str, name: str) -> List[StudyModel]:
        base = StudyModel(dataset=dataset, stages=self.stages, seeded_name=len(self.seeds) > 1,
                          stem_stride=self.stem_stride, **self.base)
        return [replace(base, seed=seed, **changes) for changes in self.families[name] for seed in self.seeds]


_TWO_STAGE = DatasetFamilies(
    stages=2, base={"blocks": 2, "width": 16, "kernel": 3}, seeds=(0,),
    families={"depth": tuple({"blocks": n} for n in (1, 2, 3, 4)),
              "width": tuple({"width": w} for w in (8, 16, 32)),
              "kernel": tuple({"kernel": k} for k in (1, 3, 5)),
              "exits": ({"blocks": 3, "exits": True},)})

DATASET_FAMILIES: Dict[str, DatasetFamilies] = {
    "fashion-mnist": DatasetFamilies(
        stages=3, base={"blocks": 2, "width": 16, "kernel": 3}, seeds=(0, 1, 2), stem_stride=2,
        families={"depth": tuple({"blocks": n} for n in (1, 2, 3, 4)),
                  "width": tuple({"width": w} for w in (8, 16, 32)),
                  "kernel": tuple({"kernel": k} for k in (3, 5, 7)),
                  "exits": ({"exits": True},)}),
    "digits": _TWO_STAGE,
    "mnist1d": _TWO_STAGE,
}
"""Per dataset: stages, the base model, the families and the training seeds."""

FAMILIES = ("depth", "width", "kernel", "exits")


def _families(dataset: str) -> DatasetFamilies:
    if dataset not in DATASET_FAMILIES:
        raise ArgumentError(f"dataset: expected one of {', '.join(DATASET_FAMILIES)}, got {dataset!r}")
    return DATASET_FAMILIES[dataset]


def family(name: str, dataset: str) -> List[StudyModel]:
    """The models of one family on one dataset, every training seed of each architecture in turn."""
    if name not in FAMILIES:
        raise ArgumentError(f"family: expected one of {', '.join(FAMILIES)}, got {name!r}")
    return _families(dataset).models(dataset, name)


def base_model(dataset: str) -> List[StudyModel]:
    """The base architecture of ``dataset``, one entry per training seed."""
    spec = _families(dataset)
    return [m for m in family("depth", dataset) if m.blocks == spec.base["blocks"]]


def all_models(dataset: str) -> List[StudyModel]:
    """Every distinct model (architecture and seed) of every family on ``dataset``."""
    seen: Dict[str, StudyModel] = {}
    for name in FAMILIES:
        for model in family(name, dataset):
            seen.setdefault(model.name, model)
    return list(seen.values())


def parse_name(name: str):
    """The :class:`StudyModel` a name like ``fashion-mnist-d14-w16-k3-s1`` or
    ``digits-d10-w16-k3[-exits]`` denotes, or None."""
    import re

    match = re.fullmatch(r"([a-z0-9-]+?)-d(\d+)-w(\d+)-k(\d+)(-exits)?(?:-s(\d+))?", name)
    if not match or match.group(1) not in DATASET_FAMILIES:
        return None
    spec = DATASET_FAMILIES[match.group(1)]
    seeded = len(spec.seeds) > 1
    if seeded != (match.group(6) is not None) or (int(match.group(2)) - 2) % (2 * spec.stages):
        return None
    return StudyModel(dataset=match.group(1), blocks=(int(match.group(2)) - 2) // (2 * spec.stages),
                      width=int(match.group(3)), kernel=int(match.group(4)), exits=bool(match.group(5)),
                      stages=spec.stages, seed=int(match.group(6) or 0), seeded_name=seeded,
                      stem_stride=spec.stem_stride)
