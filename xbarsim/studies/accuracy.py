"""Accuracy sweeps: trained study models through the crossbar model, on real test data.

A study is a table: rows are models (a family) or settings of one parameter for the base
model; columns are the values of a swept parameter. Each cell runs ``draws`` independent
programmings (programming variation, faults and read noise drawn from seeds 0, 1, ...) over
the whole test set and reports the mean and standard deviation of the accuracy.

    xbarsim accuracy --dataset digits --family depth --sweep variation --draws 5
    xbarsim accuracy --dataset mnist1d --rows weight-bits --sweep variation
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..config.arch import Arch
from ..config.crossbar import CrossbarSpec
from ..config.loader import load_arch
from ..nn.engine import ActivationNoise, Model, accuracy, softmax
from ..nn.weights import load_model
from ..outputs import Output
from .data import load_dataset
from .families import StudyModel, family

__all__ = ["PARAMETERS", "Setting", "StudyResult", "run_study", "load_study_model", "early_exit"]


@dataclass(frozen=True)
class Parameter:
    """A knob a study can sweep: how a value changes the crossbar or the noise."""

    label: str
    values: Tuple[float, ...]
    apply: Callable[[CrossbarSpec, float], Tuple[CrossbarSpec, Optional[ActivationNoise]]]


def _crossbar(field_name: str):
    def apply(spec: CrossbarSpec, value):
        changes = {field_name: type(getattr(spec, field_name))(value)}
        if field_name == "weight_bits":
            changes["cell_bits"] = min(spec.cell_bits, int(value))
        return dataclasses.replace(spec, **changes), None
    return apply


def _slices(spec: CrossbarSpec, value):
    return dataclasses.replace(spec, cell_bits=-(-spec.weight_bits // int(value))), None


def _noise(mode: str):
    def apply(spec: CrossbarSpec, value):
        return spec, ActivationNoise(float(value), mode)
    return apply


PARAMETERS: Dict[str, Parameter] = {
    "variation": Parameter("programming variation sigma", (0.0, 0.05, 0.1, 0.15, 0.2), _crossbar("variation_sigma")),
    "read-noise": Parameter("read noise sigma", (0.0, 0.01, 0.02, 0.05, 0.1), _crossbar("read_noise_sigma")),
    "activation-noise": Parameter("activation noise sigma (fixed)", (0.0, 0.05, 0.1, 0.2, 0.4), _noise("fixed")),
    "activation-noise-rescaled": Parameter("activation noise sigma (x max |activation|)",
                                           (0.0, 0.01, 0.02, 0.05, 0.1), _noise("rescaled")),
    "weight-bits": Parameter("weight bits", (2, 3, 4, 5, 6, 7, 8), _crossbar("weight_bits")),
    "adc-bits": Parameter("ADC bits", (4, 5, 6, 7, 8, 9, 10), _crossbar("adc_bits")),
    "cells-per-weight": Parameter("cells per weight", (1, 2, 4, 8), _slices),
}
"""Everything a study can sweep (as columns) or vary (as rows), with default values."""


def load_study_model(spec: StudyModel) -> Tuple[Model, dict]:
    """The shipped trained model and its metadata (float test accuracy, ...)."""
    if not spec.path.is_file():
        raise FileNotFoundError(f"no trained weights for {spec.name} at {spec.path}; "
                                "train them with python -m xbarsim.studies.train (needs PyTorch)")
    with spec.path.open("rb") as handle:
        return load_model(handle)


@dataclass(frozen=True)
class Setting:
    """One row: a model (with one of its outputs) under one crossbar base."""

    label: str
    model: Model
    meta: dict
    crossbar: CrossbarSpec
    noise: Optional[ActivationNoise] = None
    output: Optional[str] = None
    dynamic: Optional[str] = None
    """Where products of two activations run (transformers): ``digital`` (default) or ``crossbar``."""


@dataclass
class StudyResult:
    """Accuracies per row and column (one per draw), plus what produced them."""

    title: str
    dataset: str
    column_label: str
    columns: Tuple[float, ...]
    rows: List[str]
    accuracies: Dict[str, List[List[float]]]
    """row -> one list of per-draw accuracies per column."""
    float_accuracy: Dict[str, float]
    draws: int
    seconds: float
    extra: Dict[str, object] = field(default_factory=dict)

    def mean(self, row: str) -> np.ndarray:
        return np.array([np.mean(a) for a in self.accuracies[row]])

    def std(self, row: str) -> np.ndarray:
        return np.array([np.std(a) for a in self.accuracies[row]])

    def table(self) -> str:
        """Markdown table: rows x columns of 'mean ± std' accuracy in percent."""
        header = "| model | float | " + " | ".join(_fmt(c) for c in self.columns) + " |"
        lines = [f"{self.column_label} (accuracy in %, mean ± std over {self.draws} draws, "
                 f"{self.dataset} test set)", "", header, "|" + "---|" * (len(self.columns) + 2)]
        for row in self.rows:
            cells = [f"{100 * m:.1f} ± {100 * s:.1f}" for m, s in zip(self.mean(row), self.std(row))]
            lines.append(f"| {row} | {100 * self.float_accuracy[row]:.1f} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"title": self.title, "dataset": self.dataset, "column_label": self.column_label,
                "columns": list(self.columns), "rows": self.rows, "accuracies": self.accuracies,
                "float_accuracy": self.float_accuracy, "draws": self.draws, "seconds": self.seconds,
                "extra": self.extra}

    def plot(self, path) -> Path:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.5, 4.2))
        ax = fig.add_subplot()
        for row in self.rows:
            ax.errorbar(self.columns, 100 * self.mean(row), yerr=100 * self.std(row), marker="o", capsize=3,
                        label=row)
        ax.set_xlabel(self.column_label)
        ax.set_ylabel(f"test accuracy (%), mean ± std of {self.draws} draws")
        ax.set_title(self.title)
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        FigureCanvasAgg(fig)
        path = Path(path)
        fig.savefig(path, dpi=120, bbox_inches="tight")
        return path


def _fmt(value) -> str:
    return f"{value:g}"


def _random(spec: CrossbarSpec, noise: Optional[ActivationNoise]) -> bool:
    return not spec.ideal_devices or (noise is not None and noise.sigma > 0)


def _evaluate(setting: Setting, spec: CrossbarSpec, noise, x, y, calibration, seed: int) -> float:
    programmed = setting.model.program(spec, calibration, rng=seed, dynamic=setting.dynamic)
    logits = programmed.forward(x, noise=noise, rng=seed + 1_000_003)
    if isinstance(logits, dict):
        logits = logits[setting.output or setting.model.outputs[-1]]
    return accuracy(logits, y)


def run_study(settings: Sequence[Setting], dataset: str, sweep: str, values: Optional[Sequence[float]] = None,
              draws: int = 5, title: str = "", progress: Optional[Callable[[str], None]] = None,
              test_limit: Optional[int] = None) -> StudyResult:
    """Sweep ``sweep`` over ``values`` for every setting; ``draws`` programmings per cell."""
    parameter = PARAMETERS[sweep]
    values = tuple(values) if values is not None else parameter.values
    data = load_dataset(dataset)
    x, y = data.x_test, data.y_test
    if test_limit:
        x, y = x[:test_limit], y[:test_limit]
    calibration = data.calibration()
    start = time.perf_counter()
    accuracies: Dict[str, List[List[float]]] = {}
    floats: Dict[str, float] = {}
    for setting in settings:
        row = []
        float_logits = setting.model.forward(x)
        if isinstance(float_logits, dict):
            float_logits = float_logits[setting.output or setting.model.outputs[-1]]
        floats[setting.label] = accuracy(float_logits, y)
        for value in values:
            spec, noise = parameter.apply(setting.crossbar, value)
            noise = noise or setting.noise
            if _random(spec, noise):
                row.append([_evaluate(setting, spec, noise, x, y, calibration, seed) for seed in range(draws)])
            else:  # nothing random: one evaluation stands for every draw
                row.append([_evaluate(setting, spec, noise, x, y, calibration, 0)] * draws)
            if progress:
                progress(f"{setting.label} {parameter.label}={value:g}: {100 * np.mean(row[-1]):.1f}%")
        accuracies[setting.label] = row
    return StudyResult(title=title or f"{dataset}: {parameter.label}", dataset=dataset, column_label=parameter.label,
                       columns=values, rows=[s.label for s in settings], accuracies=accuracies, float_accuracy=floats,
                       draws=draws, seconds=time.perf_counter() - start)


def family_settings(name: str, dataset: str, arch: Arch) -> List[Setting]:
    """One setting per model of a family (the multi-exit family gives one row per exit)."""
    settings = []
    for spec in family(name, dataset):
        model, meta = load_study_model(spec)
        if spec.exits:
            for i, output in enumerate(model.outputs):
                label = f"{spec.name} exit {i + 1}" if i < len(model.outputs) - 1 else f"{spec.name} final"
                settings.append(Setting(label, model, meta, arch.crossbar, output=output))
        else:
            settings.append(Setting(spec.name, model, meta, arch.crossbar))
    return settings


def parameter_settings(parameter: str, dataset: str, arch: Arch, values=None) -> List[Setting]:
    """Rows of one parameter's values for the base model of ``dataset``."""
    spec = family("depth", dataset)[1]  # the base model (2 blocks per stage)
    model, meta = load_study_model(spec)
    p = PARAMETERS[parameter]
    rows = []
    for value in (values or p.values):
        crossbar, noise = p.apply(arch.crossbar, value)
        rows.append(Setting(f"{p.label} = {value:g}", model, meta, crossbar, noise))
    return rows


def early_exit(model: Model, crossbar: CrossbarSpec, dataset: str, threshold: float, sigmas: Sequence[float],
               draws: int = 5, test_limit: Optional[int] = None) -> Dict[str, object]:
    """BranchyNet inference: leave at the first exit whose softmax entropy is below ``threshold``.

    Returns, per sigma, the mean accuracy of the policy and the mean share of inputs leaving at
    each exit.
    """
    data = load_dataset(dataset)
    x, y = data.x_test, data.y_test
    if test_limit:
        x, y = x[:test_limit], y[:test_limit]
    calibration = data.calibration()
    result = {"threshold": threshold, "sigmas": list(sigmas), "accuracy": [], "accuracy_std": [], "shares": []}
    for sigma in sigmas:
        spec = dataclasses.replace(crossbar, variation_sigma=float(sigma))
        accs, shares = [], []
        for seed in range(draws if sigma > 0 else 1):
            outputs = model.program(spec, calibration, rng=seed).forward(x)
            probs = [softmax(outputs[name]) for name in model.outputs]
            entropy = [-(p * np.log(np.clip(p, 1e-12, None))).sum(axis=1) for p in probs]
            chosen = np.full(len(y), len(probs) - 1)
            for i in range(len(probs) - 2, -1, -1):
                chosen = np.where(entropy[i] < threshold, i, chosen)
            predictions = np.array([probs[c][n].argmax() for n, c in enumerate(chosen)])
            accs.append(float((predictions == y).mean()))
            shares.append([float((chosen == i).mean()) for i in range(len(probs))])
        result["accuracy"].append(float(np.mean(accs)))
        result["accuracy_std"].append(float(np.std(accs)))
        result["shares"].append([float(v) for v in np.mean(shares, axis=0)])
    return result


def study_files(name: str) -> Dict[str, str]:
    """The files a study named ``name`` writes: table, raw accuracies and plot."""
    return {"table": f"{name}.md", "json": f"{name}.json", "plot": f"{name}.png"}


def write_study(result: StudyResult, out: Path, name: str, *, overwrite: bool = False) -> Dict[str, Path]:
    """``<name>.md`` (table), ``<name>.json`` (raw accuracies) and ``<name>.png`` (plot) in the folder ``out``.

    The folder may hold other studies. The three files are written to a temporary folder and
    moved into place when all are complete (:class:`xbarsim.outputs.Output`); existing ones are
    replaced only with ``overwrite``.
    """
    names = study_files(name)
    with Output(out, what="study results", members=list(names.values()), overwrite=overwrite) as output:
        temp = output.temp
        (temp / names["table"]).write_text(result.table() + "\n", encoding="utf-8")
        (temp / names["json"]).write_text(json.dumps(result.to_json(), indent=1), encoding="utf-8")
        result.plot(temp / names["plot"])
        final = output.commit()
    return {key: final / file for key, file in names.items()}


def load_arch_for_study(arch) -> Arch:
    return load_arch(arch)
