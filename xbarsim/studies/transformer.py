"""Transformers against CNNs of similar size on crossbars: the models, their training, the study.

The transformer is a small ViT (Dosovitskiy et al., ICLR 2021) written in plain PyTorch: a
patch embedding (a p x p convolution of stride p; 1 x p for MNIST-1D's signals), a learned class
token and learned position embeddings, pre-LN encoder blocks (``nn.TransformerEncoderLayer``:
multi-head self-attention and a GELU MLP, each with a residual add), a final layer norm and a
linear classifier on the class token. The CNN it is compared with is the study family's
ResNet of matching parameter count (``xbarsim.studies.families``, 6 weight layers, width 16).
Both are trained by :func:`xbarsim.studies.train.fit` (the study recipe: Adam, learning rate
2e-3, weight decay 1e-4, cosine schedule, batch 64, 60 epochs, one torch thread) from seeds
0 .. 4, exported with ``from_torch`` and shipped as ``.npz`` files:

    python -m xbarsim.studies.train --transformers [--dataset digits|mnist1d|all] [--seeds N]

The study (``xbarsim accuracy --family transformer``) runs every seed's models through the
functional model on the whole test set, with programming variation swept and the products of
two activations on the digital unit and written into crossbars; it reports the mean accuracy
and a 95% confidence interval over seeds and draws (:func:`mean_ci`).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..config.arch import Arch
from ..nn.engine import Model
from ..nn.weights import load_model, save_model
from .data import load_dataset
from .families import MODEL_PACKAGE, StudyModel

__all__ = ["TransformerModel", "COMPARISON", "SEEDS", "comparison_models", "build", "mean_ci",
           "train_comparison", "run_comparison", "ComparisonResult"]

#: Seeds the comparison's models are trained from, per dataset.
SEEDS = {"digits": (0, 1, 2, 3, 4), "mnist1d": (0, 1, 2, 3, 4)}


@dataclass(frozen=True)
class TransformerModel:
    """A small ViT for one dataset."""

    dataset: str
    width: int
    """Features per token (d)."""
    heads: int
    blocks: int
    mlp: int
    """Hidden features of each block's MLP."""
    patch: int
    """Patch side (digits: p x p pixels; MNIST-1D: p samples)."""
    seed: int = 0

    @property
    def name(self) -> str:
        return f"{self.dataset}-vit-p{self.patch}-d{self.width}-h{self.heads}-b{self.blocks}-s{self.seed}"

    @property
    def path(self):
        """Where its trained weights ship (inside the package)."""
        return resources.files(MODEL_PACKAGE).joinpath(f"{self.name}.npz")


#: Per dataset: the transformer and the CNN of similar parameter count (seed 0; other seeds alike).
COMPARISON: Dict[str, Tuple[TransformerModel, StudyModel]] = {
    "digits": (TransformerModel("digits", width=32, heads=2, blocks=2, mlp=64, patch=2),
               StudyModel("digits", blocks=1, width=16, kernel=3)),
    "mnist1d": (TransformerModel("mnist1d", width=20, heads=2, blocks=2, mlp=40, patch=4),
                StudyModel("mnist1d", blocks=1, width=16, kernel=3)),
}


def cnn_name(spec: StudyModel, seed: int) -> str:
    """The CNN's file name for a seed: seed 0 is the family's shipped model itself."""
    return spec.name if seed == 0 else f"{spec.name}-s{seed}"


def comparison_models(dataset: str, seeds: Optional[Sequence[int]] = None) -> Dict[str, List[Tuple[Model, dict]]]:
    """The shipped models of the comparison: ``{"transformer": [(model, meta) per seed], "cnn": [...]}``
    (default: every seed of :data:`SEEDS`)."""
    vit, cnn = COMPARISON[dataset]
    seeds = SEEDS[dataset] if seeds is None else seeds
    found: Dict[str, List[Tuple[Model, dict]]] = {"transformer": [], "cnn": []}
    for seed in seeds:
        for kind, name in (("transformer", dataclasses.replace(vit, seed=seed).name), ("cnn", cnn_name(cnn, seed))):
            path = resources.files(MODEL_PACKAGE).joinpath(f"{name}.npz")
            if not path.is_file():
                raise FileNotFoundError(f"no trained weights for {name} at {path}; train them with "
                                        "python -m xbarsim.studies.train --transformers (needs PyTorch)")
            with path.open("rb") as handle:
                found[kind].append(load_model(handle))
    return found


def build(spec: TransformerModel, in_channels: int, length: int):
    """The PyTorch module of a transformer model; ``length``: image side (digits) or samples (MNIST-1D)."""
    import torch
    from torch import nn

    one_d = spec.dataset == "mnist1d"
    tokens = length // spec.patch if one_d else (length // spec.patch) ** 2

    class ViT(nn.Module):
        def __init__(self):
            super().__init__()
            conv = nn.Conv1d if one_d else nn.Conv2d
            self.patch = conv(in_channels, spec.width, spec.patch, stride=spec.patch)
            self.cls = nn.Parameter(torch.zeros(1, 1, spec.width))
            self.pos = nn.Parameter(torch.zeros(1, tokens + 1, spec.width))
            nn.init.trunc_normal_(self.cls, std=0.02)
            nn.init.trunc_normal_(self.pos, std=0.02)
            block = nn.TransformerEncoderLayer(spec.width, spec.heads, spec.mlp, dropout=0.0, activation="gelu",
                                               batch_first=True, norm_first=True)
            self.encoder = nn.TransformerEncoder(block, spec.blocks, norm=nn.LayerNorm(spec.width),
                                                 enable_nested_tensor=False)
            self.head = nn.Linear(spec.width, 10)

        def forward(self, x):
            x = self.patch(x)
            x = x.transpose(1, 2) if one_d else x.flatten(2).transpose(1, 2)
            x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
            return self.head(self.encoder(x)[:, 0])

    return ViT()


def parameter_count(model: Model) -> int:
    """Trained values of a model: weights, biases, norm gains and biases, tokens, embeddings."""
    return int(sum(value.size for entry in model.weights.values() for key, value in entry.items() if key != "eps"))


def train_comparison(out_dir: Path, datasets: Sequence[str], seeds: Sequence[int], epochs: int,
                     say: Callable[[str], None] = print) -> List[dict]:
    """Train the comparison's transformers and CNNs (seed 0's CNN is the family's: not retrained)."""
    import torch

    from . import train as training

    written = []
    for dataset in datasets:
        data = load_dataset(dataset)
        vit, cnn = COMPARISON[dataset]
        for seed in seeds:
            jobs = [("transformer", dataclasses.replace(vit, seed=seed).name)]
            if seed != 0:
                jobs.append(("cnn", cnn_name(cnn, seed)))
            for kind, name in jobs:
                torch.manual_seed(seed)
                torch.set_num_threads(1)  # the same float reductions on any machine; fastest for these sizes
                if kind == "transformer":
                    spec = dataclasses.replace(vit, seed=seed)
                    net = build(spec, data.shape[0], data.shape[2])  # (C, H, W): the side, or the samples
                    details = {"width": spec.width, "heads": spec.heads, "blocks": spec.blocks, "mlp": spec.mlp,
                               "patch": spec.patch}
                else:
                    net = training.build(cnn, data.shape[0])
                    details = {"blocks": cnn.blocks, "width": cnn.width, "kernel": cnn.kernel, "depth": cnn.depth}
                seconds = training.fit(net, data, epochs, seed)
                model, accuracies, torch_accuracy = training.export(net, data, name)
                meta = {"name": name, "dataset": dataset, "kind": kind, **details, "epochs": epochs, "seed": seed,
                        "float_test_accuracy": accuracies[-1], "torch_test_accuracy": torch_accuracy[-1],
                        "torch_version": torch.__version__, "train_seconds": round(seconds, 1),
                        "test_images": int(len(data.y_test)), "weights": int(model.network.weights),
                        "parameters": parameter_count(model)}
                out_dir.mkdir(parents=True, exist_ok=True)
                save_model(out_dir / f"{name}.npz", model, meta)
                say(f"{name:36s} float test accuracy {meta['float_test_accuracy']:.4f} "
                    f"({meta['parameters']:,} parameters, {meta['train_seconds']} s)")
                written.append(meta)
    return written


# -- the study ------------------------------------------------------------------------------------

def mean_ci(groups: Sequence[Sequence[float]], level: float = 0.95) -> Tuple[float, float, float]:
    """(mean, low, high): the mean accuracy and a ``level`` confidence interval, from the draws'
    accuracies of each training seed (``groups[seed][draw]``, equally many draws per seed).

    Seeds are the independent units: the interval is Student's t over the seeds' mean
    accuracies (each the mean of its draws), so it covers the spread between trained models and
    between programmed chips alike. With one seed, the draws are the units. A single value (or
    values that do not vary) gives a zero-width interval."""
    from .statistics import estimate

    found = estimate(groups, confidence=level)  # the studies' one definition (xbarsim.studies.statistics)
    return found.mean, found.low, found.high


@dataclass
class ComparisonResult:
    """Accuracies of the comparison: ``accuracies[row][column][seed][draw]``."""

    dataset: str
    columns: Tuple[float, ...]
    """Programming variation sigmas."""
    rows: List[str]
    accuracies: Dict[str, List[List[List[float]]]]
    float_accuracy: Dict[str, List[float]]
    """Float test accuracy of each row's model, per seed."""
    parameters: Dict[str, int]
    """Trained values of each row's model (seed 0)."""
    draws: int
    seeds: Tuple[int, ...]
    test_images: int
    arch: str
    seconds: float

    def summary(self, row: str) -> List[Tuple[float, float, float]]:
        """(mean, low, high) per column."""
        return [mean_ci(cell) for cell in self.accuracies[row]]

    def table(self) -> str:
        """Markdown: mean accuracy and 95% CI (in %) per row and sigma."""
        lines = [f"{self.dataset}, {self.test_images} test images, chip {self.arch}: accuracy in % vs programming "
                 f"variation sigma, mean [95% CI] over {len(self.seeds)} training seeds x {self.draws} draws", "",
                 "| model | parameters | float | " + " | ".join(f"{c:g}" for c in self.columns) + " |",
                 "|---|---|---|" + "---|" * len(self.columns)]
        for row in self.rows:
            f_mean, f_lo, f_hi = mean_ci([[a] for a in self.float_accuracy[row]])
            cells = [f"{100 * m:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]" for m, lo, hi in self.summary(row)]
            lines.append(f"| {row} | {self.parameters[row]:,} | {100 * f_mean:.1f} [{100 * f_lo:.1f}, {100 * f_hi:.1f}] | "
                         + " | ".join(cells) + " |")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"dataset": self.dataset, "columns": list(self.columns), "rows": self.rows,
                "accuracies": self.accuracies, "float_accuracy": self.float_accuracy, "parameters": self.parameters,
                "draws": self.draws, "seeds": list(self.seeds), "test_images": self.test_images, "arch": self.arch,
                "seconds": self.seconds,
                "summary": {row: [list(s) for s in self.summary(row)] for row in self.rows}}

    def plot(self, path) -> Path:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.5, 4.2))
        ax = fig.add_subplot()
        for row in self.rows:
            mean, lo, hi = (100 * np.array(v) for v in zip(*self.summary(row)))
            ax.errorbar(self.columns, mean, yerr=[mean - lo, hi - mean], marker="o", capsize=3, label=row)
        ax.set_xlabel("programming variation sigma")
        ax.set_ylabel("test accuracy (%), mean and 95% CI")
        ax.set_title(f"{self.dataset}: transformer vs CNN ({len(self.seeds)} seeds x {self.draws} draws)")
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        FigureCanvasAgg(fig)
        path = Path(path)
        fig.savefig(path, dpi=120, bbox_inches="tight")
        return path

    def write(self, out: Path, name: str, *, overwrite: bool = False) -> Dict[str, Path]:
        """``<name>.md``, ``.json`` and ``.png`` in the folder ``out`` (which may hold other studies),
        moved into place together when all three are complete (:class:`xbarsim.outputs.Output`);
        existing ones are replaced only with ``overwrite``."""
        from ..outputs import Output
        from .accuracy import study_files

        names = study_files(name)
        with Output(out, what="study results", members=list(names.values()), overwrite=overwrite) as output:
            (output.temp / names["table"]).write_text(self.table() + "\n", encoding="utf-8")
            (output.temp / names["json"]).write_text(json.dumps(self.to_json(), indent=1), encoding="utf-8")
            self.plot(output.temp / names["plot"])
            final = output.commit()
        return {key: final / file for key, file in names.items()}


def run_comparison(dataset: str, arch: Arch, sigmas: Sequence[float] = (0.0, 0.05, 0.1, 0.15, 0.2), draws: int = 5,
                   seeds: Optional[Sequence[int]] = None, dynamic: Sequence[str] = ("digital", "crossbar"),
                   test_limit: Optional[int] = None, progress: Optional[Callable[[str], None]] = None
                   ) -> ComparisonResult:
    """The transformer (once per place its products run) and the CNN, every seed, through the
    crossbar model of ``arch`` with each variation sigma, ``draws`` programmings per seed."""
    from .accuracy import Setting, run_study

    seeds = SEEDS[dataset] if seeds is None else tuple(seeds)
    models = comparison_models(dataset, seeds)
    vit, cnn = COMPARISON[dataset]
    rows = [(f"transformer ({vit.name.rsplit('-s', 1)[0]}), products {mode}", "transformer", mode) for mode in dynamic]
    rows.append((f"CNN ({cnn.name})", "cnn", None))
    start = time.perf_counter()
    accuracies: Dict[str, List[List[List[float]]]] = {}
    floats: Dict[str, List[float]] = {}
    parameters: Dict[str, int] = {}
    test_images = 0
    for label, kind, mode in rows:
        setting = Setting(label, tuple(m for m, _ in models[kind]), tuple(meta for _, meta in models[kind]),
                          arch.crossbar, dynamic=mode, seeds=tuple(seeds))
        result = run_study([setting], dataset, "variation", values=sigmas, draws=draws, test_limit=test_limit,
                           progress=progress)
        accuracies[label] = result.accuracies[label]  # per column, (seeds x draws)
        floats[label] = list(result.float_accuracy[label])
        parameters[label] = parameter_count(models[kind][0][0])
        test_images = len(load_dataset(dataset).y_test[:test_limit] if test_limit else load_dataset(dataset).y_test)
    return ComparisonResult(dataset=dataset, columns=tuple(float(s) for s in sigmas), rows=[r[0] for r in rows],
                            accuracies=accuracies, float_accuracy=floats, parameters=parameters, draws=draws,
                            seeds=tuple(seeds), test_images=test_images, arch=arch.name,
                            seconds=time.perf_counter() - start)
