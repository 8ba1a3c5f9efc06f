"""Accuracy sweeps: trained study models through the crossbar model, on real test data.

A study is a table: rows are architectures (a family) or settings of one parameter for the base
architecture; columns are the values of a swept parameter. A row holds every training seed of
its architecture; each cell runs ``draws`` independent programmings (variation, faults and
noise drawn from seeds 0, 1, ...: the same seeds for every model, so comparisons are paired)
of every seed's model on the same test images, and reports the mean over seeds x draws with a
95% confidence interval (:mod:`xbarsim.studies.statistics`). A setting with nothing random is
evaluated once per seed.

The crossbar semantics are explicit (:class:`Semantics`): the ``chip`` profile (the arch's
crossbar as configured; for ``study``: variation drawn once per programming, on/off ratio 100,
full-scale ADC) or ``neurosim`` (NeuroSim V1.4's semantics, :mod:`xbarsim.functional.profiles`),
each with optional overrides, and the number of images per batch. Every table says which.

    xbarsim accuracy --dataset fashion-mnist --family depth --sweep variation --semantics neurosim
    xbarsim accuracy --dataset digits --rows weight-bits --sweep variation
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
from ..functional.profiles import NEUROSIM_BATCH, PROFILES, apply_profile
from ..nn.engine import CROSSBAR_BATCH, ActivationNoise, Model, accuracy, softmax
from ..nn.weights import load_model
from ..errors import ArgumentError, DataError
from ..outputs import Output
from .data import load_dataset
from .families import StudyModel, base_model, family
from .statistics import Estimate, estimate

__all__ = ["PARAMETERS", "Semantics", "Setting", "StudyResult", "run_study", "load_study_model", "early_exit",
           "family_settings", "parameter_settings", "write_study", "DEFAULT_TEST_IMAGES", "DEFAULT_DRAWS"]

DEFAULT_TEST_IMAGES = {"fashion-mnist": 100, "digits": None, "mnist1d": None}
"""Test images a study uses by default (None: the whole test set): the first N of the test set.
For Fashion-MNIST, 100 images: the depth family (3 architectures x 3 seeds x (1 + 4 noisy
columns x 2 draws)) took 446 s (chip) and 759 s (neurosim) on a 2-core machine shared
with other jobs (load average 10-13); 300 images took 2,524 s for the weight-bits rows, over the
20 minutes a sweep should take there."""
DEFAULT_DRAWS = {"fashion-mnist": 2, "digits": 5, "mnist1d": 5}
"""Variation draws per seed and cell by default (x 3 seeds for Fashion-MNIST, x 1 for the others)."""


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
    "variation": Parameter("conductance variation sigma", (0.0, 0.05, 0.1, 0.15, 0.2), _crossbar("variation_sigma")),
    "read-noise": Parameter("read noise sigma", (0.0, 0.01, 0.02, 0.05, 0.1), _crossbar("read_noise_sigma")),
    "activation-noise": Parameter("activation noise sigma (fixed)", (0.0, 0.05, 0.1, 0.2, 0.4), _noise("fixed")),
    "activation-noise-rescaled": Parameter("activation noise sigma (x max |MAC|)",
                                           (0.0, 0.01, 0.02, 0.05, 0.1), _noise("rescaled")),
    "weight-bits": Parameter("weight bits", (2, 3, 4, 5, 6, 7, 8), _crossbar("weight_bits")),
    "adc-bits": Parameter("ADC bits", (4, 5, 6, 7, 8, 9, 10), _crossbar("adc_bits")),
    "cells-per-weight": Parameter("cells per weight", (1, 2, 4, 8), _slices),
}
"""Everything a study can sweep (as columns) or vary (as rows), with default values."""


@dataclass(frozen=True)
class Semantics:
    """How the crossbar behaves in a study: a profile, overrides of its fields, images per batch."""

    profile: str = "chip"
    """``chip`` (the arch's crossbar as configured) or ``neurosim``."""
    overrides: Tuple[Tuple[str, object], ...] = ()
    """(field, value) pairs set after the profile, e.g. ``(("adc_range", "full_scale"),)``."""
    batch: Optional[int] = None
    """Images per batch (one ``mvm`` call per layer); None: NeuroSim's 200 for ``neurosim``, else
    :data:`~xbarsim.nn.engine.CROSSBAR_BATCH`."""

    def __post_init__(self):
        if self.profile not in PROFILES:
            raise ArgumentError(f"semantics: expected one of {', '.join(PROFILES)}, got {self.profile!r}")

    @property
    def images_per_batch(self) -> int:
        if self.batch is not None:
            return self.batch
        return NEUROSIM_BATCH if self.profile == "neurosim" else CROSSBAR_BATCH

    def crossbar(self, spec: CrossbarSpec) -> CrossbarSpec:
        spec = apply_profile(spec, self.profile)
        return dataclasses.replace(spec, **dict(self.overrides)) if self.overrides else spec

    def describe(self, spec: CrossbarSpec) -> str:
        """One line on what the semantics do to ``spec`` (the crossbar after :meth:`crossbar`)."""
        draw = ("drawn once per programming (a fixed chip)" if spec.variation_draw == "programming"
                else "redrawn every input cycle of every batch (NeuroSim's vari)")
        adc = {"full_scale": "full-scale range", "calibrated": "range calibrated per layer",
               "explicit": "explicit range",
               "dynamic": "dynamic per-call min..max range, floor rounding (NeuroSim)"}[spec.adc_range]
        reference = ("mid-scale dummy column digitized and subtracted (NeuroSim)" if spec.reference_column == "midscale"
                     else "G_off reference column")
        return (f"semantics '{self.profile}'{' with ' + ', '.join(f'{k}={v}' for k, v in self.overrides) if self.overrides else ''}:"
                f" variation {draw}; on/off ratio {spec.on_off_ratio:g}; {spec.adc_bits}-bit ADC, {adc}; "
                f"{reference}; {spec.weight_mapping} mapping; {self.images_per_batch} images per batch")

    def to_json(self) -> dict:
        return {"profile": self.profile, "overrides": [list(pair) for pair in self.overrides],
                "images_per_batch": self.images_per_batch}


def load_study_model(spec: StudyModel) -> Tuple[Model, dict]:
    """The shipped trained model and its metadata (float test accuracy, training time, ...)."""
    if not spec.path.is_file():
        raise DataError(f"no trained weights for {spec.name} at {spec.path}; "
                                "train them with python -m xbarsim.studies.train (needs PyTorch)")
    with spec.path.open("rb") as handle:
        return load_model(handle)


@dataclass(frozen=True)
class Setting:
    """One row: an architecture (one trained model per seed, with one of its outputs) under one crossbar."""

    label: str
    models: Tuple[Model, ...]
    """One model per training seed."""
    metas: Tuple[dict, ...]
    crossbar: CrossbarSpec
    noise: Optional[ActivationNoise] = None
    output: Optional[str] = None
    seeds: Tuple[int, ...] = ()
    """Training seed of each model (empty: not recorded)."""
    dynamic: Optional[str] = None
    """Where products of two activations run (transformers): ``digital`` (default) or ``crossbar``."""


@dataclass
class StudyResult:
    """Accuracies per row and column, (seeds, draws) each, plus what produced them."""

    title: str
    dataset: str
    column_label: str
    columns: Tuple[float, ...]
    rows: List[str]
    accuracies: Dict[str, List[List[List[float]]]]
    """row -> per column a (seeds x draws) nested list of accuracies."""
    float_accuracy: Dict[str, List[float]]
    """row -> per seed, float accuracy on the same test images."""
    draws: int
    seeds: int
    test_images: int
    semantics: str
    """What the crossbar did (:meth:`Semantics.describe`)."""
    seconds: float
    extra: Dict[str, object] = field(default_factory=dict)

    def cell(self, row: str, column: int) -> np.ndarray:
        """Accuracies of one cell, (seeds, draws)."""
        return np.asarray(self.accuracies[row][column], dtype=np.float64)

    def estimates(self, row: str) -> List[Estimate]:
        return [estimate(self.cell(row, c)) for c in range(len(self.columns))]

    def mean(self, row: str) -> np.ndarray:
        return np.array([e.mean for e in self.estimates(row)])

    def float_estimate(self, row: str) -> Estimate:
        return estimate(np.asarray(self.float_accuracy[row])[:, None])

    def header(self) -> str:
        seeds = f"{self.seeds} training seeds x {self.draws} draws" if self.seeds > 1 else f"1 training seed x {self.draws} draws"
        basis = ("over seed means" if self.seeds > 1 else "over draws (one seed: training variance not included)")
        basis += ", clipped to [0, 100]"
        row_seeds = self.extra.get("row_seeds", {})
        fewer = [f"{row} (seeds {', '.join(map(str, row_seeds[row]))})" for row in self.rows
                 if row in row_seeds and len(row_seeds[row]) < self.seeds]
        partial = (f" Rows trained with fewer seeds (the others were not trained in time): {'; '.join(fewer)}."
                   if fewer else "")
        if self.extra.get("untrained"):
            partial += f" Not trained, so not in this table: {', '.join(self.extra['untrained'])}."
        return (f"{self.title}. {self.column_label}; accuracy in % on the first {self.test_images:,} "
                f"{self.dataset} test images, mean over {seeds} per cell [95% CI {basis}]; a setting with nothing "
                f"random is evaluated once per seed.{partial} {self.semantics[0].upper() + self.semantics[1:]}.")

    def table(self) -> str:
        """Markdown table: rows x columns of 'mean [low, high]' accuracy in percent."""
        lines = [self.header(), "", "| model | float | " + " | ".join(_fmt(c) for c in self.columns) + " |",
                 "|" + "---|" * (len(self.columns) + 2)]
        for row in self.rows:
            cells = [_cell(e) for e in self.estimates(row)]
            lines.append(f"| {row} | {_cell(self.float_estimate(row))} | " + " | ".join(cells) + " |")
        policy = self.extra.get("early_exit")
        if policy:
            exits = len(policy["shares"][0])
            lines += ["", f"Early exit at softmax entropy < {policy['threshold']:g} nats: accuracy [95% CI, clipped to "
                      "[0, 100]] and share of inputs leaving at each exit:", "",
                      "| sigma | accuracy | " + " | ".join(f"exit {i + 1}" for i in range(exits)) + " |",
                      "|" + "---|" * (exits + 2)]
            for sigma, found, shares in zip(policy["sigmas"], policy["accuracies"], policy["shares"]):
                lines.append(f"| {_fmt(sigma)} | {_cell(estimate(np.asarray(found, dtype=np.float64)))} | "
                             + " | ".join(f"{100 * v:.0f}%" for v in shares) + " |")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"title": self.title, "dataset": self.dataset, "column_label": self.column_label,
                "columns": list(self.columns), "rows": self.rows, "accuracies": self.accuracies,
                "float_accuracy": self.float_accuracy, "draws": self.draws, "seeds": self.seeds,
                "test_images": self.test_images, "semantics": self.semantics, "seconds": self.seconds,
                "extra": self.extra}

    @classmethod
    def from_json(cls, data: dict) -> "StudyResult":
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        values["columns"] = tuple(values["columns"])
        return cls(**values)

    def plot(self, path) -> Path:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.5, 4.2))
        ax = fig.add_subplot()
        for row in self.rows:
            found = self.estimates(row)
            means = np.array([100 * e.mean for e in found])
            errors = np.array([[100 * (e.mean - e.low) for e in found], [100 * (e.high - e.mean) for e in found]])
            ax.errorbar(self.columns, means, yerr=errors, marker="o", capsize=3, label=row)
        ax.set_xlabel(self.column_label)
        ax.set_ylabel("test accuracy (%), mean and 95% CI")
        ax.set_title(self.title, fontsize=9)
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        FigureCanvasAgg(fig)
        path = Path(path)
        fig.savefig(path, dpi=120, bbox_inches="tight")
        return path


def _fmt(value) -> str:
    return f"{value:g}"


def _cell(e: Estimate) -> str:
    """'mean [low, high]' in percent; the interval is clipped to [0, 100], where accuracy lives.
    A point only when nothing varied; seed means that happen to agree give a zero-width interval."""
    if e.basis == "none":
        return f"{100 * e.mean:.1f}"
    return f"{100 * e.mean:.1f} [{100 * max(e.low, 0.0):.1f}, {100 * min(e.high, 1.0):.1f}]"


def _random(spec: CrossbarSpec, noise: Optional[ActivationNoise]) -> bool:
    return not spec.ideal_devices or (noise is not None and noise.sigma > 0)


def _test_data(dataset: str, test_limit: Optional[int]):
    data = load_dataset(dataset)
    limit = test_limit if test_limit is not None else DEFAULT_TEST_IMAGES.get(dataset)
    x, y = data.x_test, data.y_test
    if limit:
        x, y = x[:limit], y[:limit]
    return data, np.asarray(x, dtype=np.float64), y


def _logits(out, model: Model, output: Optional[str]):
    return out[output or model.outputs[-1]] if isinstance(out, dict) else out


def run_study(settings: Sequence[Setting], dataset: str, sweep: str, values: Optional[Sequence[float]] = None,
              draws: Optional[int] = None, title: str = "", progress: Optional[Callable[[str], None]] = None,
              test_limit: Optional[int] = None, semantics: Semantics = Semantics(),
              early_exit_threshold: Optional[float] = None, cache: Optional[dict] = None,
              reuse: Optional["StudyResult"] = None) -> StudyResult:
    """Sweep ``sweep`` over ``values`` for every setting; ``draws`` programmings per seed and cell.

    ``test_limit``: use the first N test images (None: :data:`DEFAULT_TEST_IMAGES`). Settings
    that differ only in their output (the exits of one model) share every forward pass. With
    ``early_exit_threshold``, such a group also gets the early-exit policy (:func:`early_exit`)
    from the same passes, in ``extra["early_exit"]``. ``cache``: a dict shared between studies,
    so that an evaluation they have in common (the base model in several families) runs once;
    its key is the model's name, the crossbar, the noise, the draw, the test images and the batch.

    ``reuse``: an earlier result of the same study (same dataset, draws, test images and
    semantics, checked): a (row, training seed) it holds takes its cells from there instead of
    being evaluated again, so a family study can be extended as models land. Every evaluation
    depends only on (model, setting, draw), whose programming and noise seeds are fixed (``rng=draw``
    and ``draw + 1_000_003``), so the result equals a full run. Not for early-exit policies
    (their per-draw exit shares are not stored).
    """
    parameter = PARAMETERS[sweep]
    values = tuple(values) if values is not None else parameter.values
    draws = draws or DEFAULT_DRAWS.get(dataset, 5)
    data, x, y = _test_data(dataset, test_limit)
    if reuse is not None:
        spec, _ = parameter.apply(semantics.crossbar(settings[0].crossbar), values[0])
        _check_reuse(reuse, dataset, parameter.label, draws, len(y), semantics.describe(spec))
    calibration = np.asarray(data.calibration(), dtype=np.float64)
    batch = semantics.images_per_batch
    start = time.perf_counter()
    accuracies: Dict[str, List[List[List[float]]]] = {s.label: [] for s in settings}
    floats: Dict[str, List[float]] = {}
    extra: Dict[str, object] = {}
    if any(s.seeds for s in settings):
        extra["row_seeds"] = {s.label: list(s.seeds) for s in settings}
    described = None
    groups: Dict[tuple, List[Setting]] = {}
    for setting in settings:
        groups.setdefault((id(setting.models), setting.crossbar, setting.noise), []).append(setting)
    for group in groups.values():
        first = group[0]
        outputs = [s.output or s.models[0].outputs[-1] for s in group]
        policy = early_exit_threshold is not None and len(first.models[0].outputs) > 1
        float_out = [_all_outputs(model.forward(x, outputs=model.outputs), model) for model in first.models]
        for setting, output in zip(group, outputs):
            floats[setting.label] = [accuracy(out[output], y) for out in float_out]
        if policy:
            extra["early_exit"] = {"threshold": early_exit_threshold, "sigmas": list(values), "accuracies": [],
                                   "accuracy": [], "low": [], "high": [], "shares": []}
        for value in values:
            spec, noise = parameter.apply(semantics.crossbar(first.crossbar), value)
            noise = noise or first.noise
            described = described or semantics.describe(spec)
            random = _random(spec, noise)
            cells = {s.label: [] for s in group}
            exits, shares = [], []
            for index, (model, meta) in enumerate(zip(first.models, first.metas)):
                earlier = (None if reuse is None or policy
                           else _reused(reuse, group, first.seeds[index] if first.seeds else None, value))
                if earlier is not None:
                    for label, found in earlier.items():
                        cells[label].append(found)
                    continue
                per_draw = {s.label: [] for s in group}
                per_draw_exit = []
                for draw in range(draws if random else 1):
                    key = (meta.get("name", id(model)), spec, noise, first.dynamic, draw, len(y), batch,
                           early_exit_threshold if policy else None)
                    if cache is not None and key in cache:
                        found, exit_policy = cache[key]
                    else:
                        out = _all_outputs(model.program(spec, calibration, rng=draw, dynamic=first.dynamic).forward(
                            x, noise=noise, rng=draw + 1_000_003, outputs=model.outputs, batch=batch), model)
                        found = {name: accuracy(out[name], y) for name in model.outputs}
                        exit_policy = (_policy([out[name] for name in model.outputs], y, early_exit_threshold)
                                       if policy else None)
                        if cache is not None:
                            cache[key] = (found, exit_policy)
                    for setting, output in zip(group, outputs):
                        per_draw[setting.label].append(found[output])
                    if policy:
                        per_draw_exit.append(exit_policy[0])
                        shares.append(exit_policy[1])
                repeat = draws // len(per_draw[first.label])  # nothing random: one evaluation per seed
                for label, found in per_draw.items():
                    cells[label].append(found * repeat)
                exits.append(per_draw_exit * repeat)
            for label, cell in cells.items():
                accuracies[label].append(cell)
            if policy:
                found = estimate(exits)
                table = extra["early_exit"]
                table["accuracies"].append(exits)
                table["accuracy"].append(found.mean)
                table["low"].append(found.low)
                table["high"].append(found.high)
                table["shares"].append([float(v) for v in np.mean(shares, axis=0)])
            if progress:
                progress(f"{first.label} {parameter.label}={value:g}: {100 * np.mean(cells[first.label]):.1f}% "
                         f"({time.perf_counter() - start:.0f} s)")
    return StudyResult(title=title or f"{dataset}: {parameter.label}", dataset=dataset, column_label=parameter.label,
                       columns=values, rows=[s.label for s in settings], accuracies=accuracies, float_accuracy=floats,
                       draws=draws, seeds=max(len(s.models) for s in settings), test_images=len(y),
                       semantics=described or semantics.profile, seconds=time.perf_counter() - start, extra=extra)


def _check_reuse(reuse: "StudyResult", dataset: str, column_label: str, draws: int, images: int, described: str):
    wanted = {"dataset": dataset, "column_label": column_label, "draws": draws, "test_images": images,
              "semantics": described}
    for name, value in wanted.items():
        if getattr(reuse, name) != value:
            raise ArgumentError(f"reuse.{name}: expected {value!r} (this study's), got {getattr(reuse, name)!r}")


def _reused(reuse: "StudyResult", group: Sequence[Setting], seed: Optional[int], value: float):
    """The earlier cells (draws) of every row of ``group`` for training seed ``seed`` at column
    ``value``, or None when the earlier result lacks any of them."""
    if seed is None or value not in reuse.columns:
        return None
    column = reuse.columns.index(value)
    row_seeds = reuse.extra.get("row_seeds", {})
    found = {}
    for setting in group:
        seeds = row_seeds.get(setting.label, [])
        if seed not in seeds:
            return None
        found[setting.label] = list(reuse.accuracies[setting.label][column][seeds.index(seed)])
    return found


def _all_outputs(out, model: Model) -> Dict[str, np.ndarray]:
    return out if isinstance(out, dict) else {model.outputs[-1]: out}


def _policy(logits: Sequence[np.ndarray], y: np.ndarray, threshold: float) -> Tuple[float, List[float]]:
    """BranchyNet's rule: leave at the first exit whose softmax entropy is below ``threshold``;
    returns the accuracy and the share of inputs leaving at each exit."""
    probs = [softmax(z) for z in logits]
    entropy = [-(p * np.log(np.clip(p, 1e-12, None))).sum(axis=1) for p in probs]
    chosen = np.full(len(y), len(probs) - 1)
    for i in range(len(probs) - 2, -1, -1):
        chosen = np.where(entropy[i] < threshold, i, chosen)
    predictions = np.stack([p.argmax(axis=1) for p in probs])[chosen, np.arange(len(y))]
    return float((predictions == y).mean()), [float((chosen == i).mean()) for i in range(len(probs))]


def _load(specs: Sequence[StudyModel]):
    loaded = [load_study_model(spec) for spec in specs]
    return tuple(m for m, _ in loaded), tuple(meta for _, meta in loaded)


def _by_architecture(specs: Sequence[StudyModel]) -> Dict[str, List[StudyModel]]:
    groups: Dict[str, List[StudyModel]] = {}
    for spec in specs:
        groups.setdefault(spec.architecture, []).append(spec)
    return groups


def family_settings(name: str, dataset: str, arch: Arch, trained_only: bool = False) -> List[Setting]:
    """One row per architecture of a family (every seed in it); the multi-exit family gives one row per exit.

    ``trained_only``: use the seeds whose weights exist and leave out architectures with none
    (the table header then names what is missing) instead of failing on the first missing file.
    """
    settings = []
    for architecture, specs in _by_architecture(family(name, dataset)).items():
        if trained_only:
            specs = [spec for spec in specs if spec.path.is_file()]
            if not specs:
                continue
        models, metas = _load(specs)
        seeds = tuple(spec.seed for spec in specs)
        if specs[0].exits:
            for i, output in enumerate(models[0].outputs):
                label = f"{architecture} exit {i + 1}" if i < len(models[0].outputs) - 1 else f"{architecture} final"
                settings.append(Setting(label, models, metas, arch.crossbar, output=output, seeds=seeds))
        else:
            settings.append(Setting(architecture, models, metas, arch.crossbar, seeds=seeds))
    return settings


def parameter_settings(parameter: str, dataset: str, arch: Arch, values=None) -> List[Setting]:
    """Rows of one parameter's values for the base architecture of ``dataset`` (every seed)."""
    models, metas = _load(base_model(dataset))
    p = PARAMETERS[parameter]
    rows = []
    for value in (values or p.values):
        crossbar, noise = p.apply(arch.crossbar, value)
        rows.append(Setting(f"{p.label} = {value:g}", models, metas, crossbar, noise))
    return rows


def early_exit(setting: Setting, dataset: str, threshold: float, sigmas: Sequence[float], draws: Optional[int] = None,
               test_limit: Optional[int] = None, semantics: Semantics = Semantics()) -> Dict[str, object]:
    """BranchyNet inference of a multi-exit setting: leave at the first exit whose softmax
    entropy is below ``threshold``, swept over variation ``sigmas``.

    Per sigma: the policy's accuracy per (seed, draw), its mean and 95% CI, and the mean share
    of inputs leaving at each exit.
    """
    result = run_study([setting], dataset, "variation", values=sigmas, draws=draws, test_limit=test_limit,
                       semantics=semantics, early_exit_threshold=threshold)
    return result.extra["early_exit"]


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


def load_study(path) -> StudyResult:
    """A :class:`StudyResult` from the JSON file :func:`write_study` wrote."""
    return StudyResult.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
