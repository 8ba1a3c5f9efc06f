"""Numpy inference of a network, in float or through the crossbar functional model.

Activations are NCHW float arrays; a 1-D signal is an H = 1 image, a token sequence an H = 1
image of W tokens. Conv, fc and linear layers are lowered to matrices exactly as the mapper
lowers them (im2col, one matrix per group); pooling, residual adds and activations run
digitally in float. Transformer layers (products of two activations, softmax, norms, GELU,
SiLU, embeddings, token reshapes) are computed by :mod:`xbarsim.nn.transformer`.

* :class:`Model` (float weights) runs in float64: the digital baseline.
* :meth:`Model.program` quantizes it (WAGE / NeuroSim style: weights clamped to max |w| and
  scaled to signed ``weight_bits`` integers; each layer's inputs scaled by the largest
  magnitude seen on calibration data to ``input_bits`` integers, unsigned if the calibration
  inputs were all non-negative) and programs every weight matrix onto crossbars once, drawing
  programming variation and faults: a :class:`ProgrammedModel`. Its ``forward`` multiplies
  through the crossbars (DACs, ADCs, read noise), then rescales: ``y = mvm(x_int) * w_scale *
  x_scale + bias``. Products of two activations run on a digital unit or are written into
  crossbars per input (``dynamic``; :mod:`xbarsim.nn.transformer`). ``forward(..., exact=True)``
  does the same with exact integer products: an ideal crossbar must reproduce it bit for bit.
* Optional activation noise (Yang & Sze, IEDM 2019): zero-mean Gaussian on the MAC output of
  every conv, fc and linear layer, before its bias and activation (an analog MAC is what is
  noisy; a residual block's second conv is noisy before the add, its first conv before its
  ReLU), with a fixed sigma or a sigma rescaled by the layer's largest MAC magnitude in the batch.
* Images run in batches (``batch``): every layer of a batch is one ``mvm`` call per group, the
  unit within which per-cycle variation is shared and the dynamic ADC range is taken.
* Causal models decode token by token against KV caches (:meth:`Model.decoder`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..config.arch import Arch
from ..config.crossbar import CrossbarSpec
from ..functional.matrix import MvmStats, Seed, make_rng, program
from ..functional.reference import exact_mvm
from ..mapping.lowering import layer_crossbar
from ..workload.network import Layer, Network
from ..errors import ArgumentError
from . import transformer

__all__ = ["ActivationNoise", "Model", "ProgrammedModel", "LayerQuantization", "accuracy", "softmax",
           "FLOAT_BATCH", "CROSSBAR_BATCH"]

FLOAT_BATCH = 50
"""Images per batch of float inference (small batches keep im2col in cache: measured 1.6x faster than 500)."""
CROSSBAR_BATCH = 200
"""Images per batch through the crossbars: one ``mvm`` call per layer and group (NeuroSim V1.4's
default test batch, ``inference.py --batch_size 200``)."""

Weights = Dict[str, Dict[str, np.ndarray]]


@dataclass(frozen=True)
class ActivationNoise:
    """Gaussian noise on every conv and fc MAC output: sigma fixed, or times the layer's max |MAC|."""

    sigma: float
    mode: str = "fixed"

    def __post_init__(self):
        if not np.isfinite(self.sigma) or self.sigma < 0:
            raise ArgumentError(f"sigma: expected a number >= 0, got {self.sigma!r}")
        if self.mode not in ("fixed", "rescaled"):
            raise ArgumentError(f"mode: expected 'fixed' or 'rescaled', got {self.mode!r}")

    def apply(self, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.sigma == 0:
            return y
        scale = self.sigma * (float(np.abs(y).max()) if self.mode == "rescaled" else 1.0)
        return y + rng.normal(0.0, scale, y.shape)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (N, classes) logits."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Share of rows whose largest logit is at the label."""
    return float(np.mean(np.argmax(logits, axis=1) == np.asarray(labels)))


# -- lowering activations -----------------------------------------------------------------------

_OFFSET_COPIES = 25
"""Kernels of at most this many taps are lowered one kernel offset at a time (R*S copies of
(N, E, F, C) each): measured 2.2-3.6x faster than one gather of all windows for 3x3 and 5x5
kernels on the study layers, but slower for 7x7 at 14x14 (49 small copies)."""


def _im2col(x: np.ndarray, layer: Layer) -> np.ndarray:
    """(N, C, H, W) -> (N*E*F, groups, K) with K = C/groups * R * S, in the weights' (c, r, s) order."""
    n = x.shape[0]
    ph, pw = layer.padding, layer.padding_w
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    R, S, E, F = layer.R, layer.S, layer.E, layer.F
    if R * S <= _OFFSET_COPIES:
        sh, sw = layer.stride, layer.stride_w
        out = np.empty((n, E, F, layer.C, R, S), dtype=x.dtype)
        for r in range(R):
            for s in range(S):
                out[:, :, :, :, r, s] = x[:, :, r:r + sh * (E - 1) + 1:sh, s:s + sw * (F - 1) + 1:sw].transpose(0, 2, 3, 1)
        return out.reshape(n * E * F, layer.groups, -1)
    windows = sliding_window_view(x, (layer.R, layer.S), axis=(2, 3))
    windows = windows[:, :, ::layer.stride, ::layer.stride_w][:, :, :layer.E, :layer.F]  # (N, C, E, F, R, S)
    g = layer.groups
    cg = layer.C // g
    cols = windows.reshape(n, g, cg, layer.E, layer.F, layer.R, layer.S).transpose(0, 3, 4, 1, 2, 5, 6)
    return cols.reshape(n * layer.E * layer.F, g, cg * layer.R * layer.S)


def _matrices(layer: Layer, weight: np.ndarray) -> np.ndarray:
    """Weights (M, C/groups, R, S) (or (M, C) for fc) -> (groups, K, M/groups)."""
    g = layer.groups
    w = np.asarray(weight, dtype=np.float64).reshape(g, layer.M // g, -1)
    return w.transpose(0, 2, 1)


def _to_nchw(y: np.ndarray, layer: Layer, n: int) -> np.ndarray:
    """(N*E*F, groups, M/groups) -> (N, M, E, F)."""
    return y.reshape(n, layer.E, layer.F, layer.M).transpose(0, 3, 1, 2)


def _pool(x: np.ndarray, layer: Layer) -> np.ndarray:
    ph, pw = layer.padding, layer.padding_w
    if ph or pw:
        fill = -np.inf if layer.pool == "max" else 0.0
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    windows = sliding_window_view(x, (layer.R, layer.S), axis=(2, 3))
    windows = windows[:, :, ::layer.stride, ::layer.stride_w][:, :, :layer.E, :layer.F]
    return windows.max(axis=(4, 5)) if layer.pool == "max" else windows.mean(axis=(4, 5))


def _check_weights(network: Network, weights: Weights) -> Weights:
    checked = transformer.check_parameters(network, weights)
    for layer in network.weight_layers:
        if layer.tied >= 0:  # the weights are an embedding's table (vocab x width = M x C)
            table = network.layers[layer.tied].name
            if "weight" in weights.get(layer.name, {}):
                raise ArgumentError(f"weights[{layer.name!r}]['weight']: expected none (the layer is tied to "
                                 f"{table!r}), got an array")
            weights = {**weights, layer.name: {**weights.get(layer.name, {}), "weight": checked[table]["weight"]}}
        if layer.name not in weights or "weight" not in weights[layer.name]:
            raise ArgumentError(f"weights: expected an entry for layer {layer.name!r} with a 'weight' array, got none")
        w = np.asarray(weights[layer.name]["weight"], dtype=np.float64)
        expected = (layer.M, layer.C // layer.groups, layer.R, layer.S) if layer.type == "conv" else (layer.M, layer.C)
        if w.shape != expected:
            raise ArgumentError(f"weights[{layer.name!r}]['weight']: expected shape {expected}, got {w.shape}")
        b = weights[layer.name].get("bias")
        b = np.zeros(layer.M) if b is None else np.asarray(b, dtype=np.float64)
        if b.shape != (layer.M,):
            raise ArgumentError(f"weights[{layer.name!r}]['bias']: expected shape ({layer.M},), got {b.shape}")
        checked[layer.name] = {"weight": w, "bias": b}
    unknown = set(weights) - set(checked)
    if unknown:
        raise ArgumentError(f"weights: expected only layers of {network.name} with weights or parameters, "
                         f"got {sorted(unknown)}")
    return checked


class _Runner:
    """Runs the graph; subclasses decide how a weight layer multiplies."""

    network: Network

    def _check_input(self, x, network: Optional[Network] = None) -> np.ndarray:
        network = network or self.network
        spec = network.spec.input
        W = 1 if network.step is not None else spec.W  # a decode step reads one token
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 3 and spec.H == 1:  # a batch of 1-D signals (N, C, L)
            x = x[:, :, None, :]
        if x.ndim == 2 and spec.H == 1 and spec.C == 1:  # a batch of token ids (N, L)
            x = x[:, None, None, :]
        if x.ndim != 4 or x.shape[1:] != (spec.C, spec.H, W):
            raise ArgumentError(f"inputs: expected shape (N, {spec.C}, {spec.H}, {W}) (N, C, H, W)"
                                + (f" or (N, {spec.C}, {W})" if spec.H == 1 else "")
                                + (f" or (N, {W}) token ids" if spec.H == 1 and spec.C == 1 else "") + f", got {x.shape}")
        return x

    def _weight_layer(self, layer: Layer, x: np.ndarray, **kw) -> np.ndarray:
        raise NotImplementedError

    def _bias(self, layer: Layer) -> np.ndarray:
        raise NotImplementedError

    def _matmul(self, layer: Layer, a: np.ndarray, b: np.ndarray, **kw) -> np.ndarray:
        raise NotImplementedError

    def _run(self, x, noise: Optional[ActivationNoise], rng, outputs: Sequence[str], batch: Optional[int] = None,
             network: Optional[Network] = None, caches: Optional[Dict[str, np.ndarray]] = None,
             **kw) -> Dict[str, np.ndarray]:
        """Run ``network`` (default: the model's; a decode step of it with ``caches``, the KV-cache
        operands by layer name, which it extends) on ``x`` in batches of ``batch`` images (default
        all; with caches always all, as the caches hold every input's operands)."""
        network = network or self.network
        x = self._check_input(x, network)
        if batch is None or caches is not None:
            batch = max(1, len(x))
        if not isinstance(batch, (int, np.integer)) or isinstance(batch, bool) or batch < 1:
            raise ArgumentError(f"batch: expected a positive integer (images per batch), got {batch!r}")
        noise_rng = make_rng(rng) if noise is not None else None
        parts = [self._run_batch(x[start:start + batch], noise, noise_rng, outputs, network, caches, **kw)
                 for start in range(0, len(x), batch)]
        if len(parts) == 1:
            return parts[0]
        return {name: np.concatenate([part[name] for part in parts]) for name in outputs}

    def _run_batch(self, x: np.ndarray, noise: Optional[ActivationNoise], noise_rng, outputs: Sequence[str],
                   network: Network, caches: Optional[Dict[str, np.ndarray]], **kw) -> Dict[str, np.ndarray]:
        readers = network.consumers()
        last_use = {i: max(readers[i]) if readers[i] else len(network.layers) for i in readers}
        keep = {network.layer(name).index for name in outputs}
        values: Dict[int, np.ndarray] = {-1: x}
        for layer in network.layers:
            inputs = [values[i] for i in layer.inputs]
            if layer.has_weights:
                source = inputs[0]
                if layer.type == "fc":
                    source = source.reshape(source.shape[0], -1, 1, 1)
                y = self._weight_layer(layer, source, **kw)  # the MAC, (N, M, E, F)
                if noise is not None:
                    y = noise.apply(y, noise_rng)
                y += self._bias(layer)[None, :, None, None]
            elif layer.type == "pool":
                y = _pool(inputs[0], layer)
            elif layer.type == "matmul":
                b = inputs[1]
                if caches is not None and layer.cache:  # the cache so far, then this pass's tokens
                    if layer.name in caches:
                        b = np.concatenate([caches[layer.name], b], axis=3)
                    caches[layer.name] = b
                y = self._matmul(layer, inputs[0], b, **kw)
            elif layer.type in transformer.FUNCTIONS:
                y = transformer.function(layer, inputs, self._parameters().get(layer.name))
            else:
                y = np.sum(inputs, axis=0)
            if layer.activation == "relu" and (layer.has_weights or layer.type in ("pool", "add")):
                np.maximum(y, 0.0, out=y)  # y is this layer's own array: in place
            else:
                y = transformer.activate(y, layer.activation)
            values[layer.index] = y
            for i in layer.inputs:
                if last_use[i] <= layer.index and i not in keep and i >= 0:
                    values.pop(i, None)
        return {name: values[network.layer(name).index].reshape(x.shape[0], -1) if
                network.layer(name).type == "fc" else values[network.layer(name).index]
                for name in outputs}

    def _parameters(self) -> Weights:
        raise NotImplementedError

    def decoder(self, prompt, rng: Seed = None, outputs: Optional[Sequence[str]] = None) -> "transformer.Decoder":
        """Run the prefill on ``prompt`` and keep the KV caches: a :class:`~xbarsim.nn.transformer.Decoder`
        whose ``step(tokens)`` runs the network's decode steps, one token per input each.

        ``rng`` drives read noise of a programmed model (None: the matrices' own streams)."""
        names = tuple(outputs) if outputs else self.outputs
        generator = None if rng is None else make_rng(rng)
        return transformer.Decoder(self, prompt, names, read_rng=generator)


class Model(_Runner):
    """A network with float weights (``{layer: {"weight": (M, C/groups, R, S), "bias": (M,)}}``)."""

    def __init__(self, network: Network, weights: Weights, outputs: Optional[Sequence[str]] = None):
        self.network = network
        """The workload."""
        self.weights = _check_weights(network, weights)
        """Float weights and biases per weight layer."""
        self.outputs: Tuple[str, ...] = tuple(outputs) if outputs else (network.layers[-1].name,)
        """Layers whose values ``forward`` returns (the last layer, or several exits)."""

    def _bias(self, layer: Layer) -> np.ndarray:
        return self.weights[layer.name]["bias"]

    def _parameters(self) -> Weights:
        return self.weights

    def _matmul(self, layer: Layer, a: np.ndarray, b: np.ndarray, **kw) -> np.ndarray:
        return transformer.float_matmul(layer, a, b)

    def _weight_layer(self, layer: Layer, x: np.ndarray, **kw) -> np.ndarray:
        cols = _im2col(x, layer)  # (NEF, G, K)
        w = _matrices(layer, self.weights[layer.name]["weight"])  # (G, K, Mg)
        if layer.groups == 1:
            y = (cols.reshape(cols.shape[0], -1) @ w[0])[:, None, :]
        else:
            y = np.einsum("ngk,gkm->ngm", cols, w, optimize=True)
        return _to_nchw(y, layer, x.shape[0])

    def forward(self, x, noise: Optional[ActivationNoise] = None, rng: Seed = None,
                outputs: Optional[Sequence[str]] = None,
                batch: int = FLOAT_BATCH) -> Union[np.ndarray, Dict[str, np.ndarray]]:
        """Float64 inference. Returns the last layer's values (N, classes), or a dict for several outputs."""
        names = tuple(outputs) if outputs else self.outputs
        result = self._run(x, noise, rng, names, batch)
        return result[names[0]] if len(names) == 1 else result

    def layer_inputs(self, x) -> Dict[str, np.ndarray]:
        """The input of every weight layer for ``x`` (float), e.g. to calibrate quantization; for
        a product of two activations, its per-head operands ``(a, b')`` (:func:`transformer.operand_heads`)."""
        seen: Dict[str, np.ndarray] = {}
        recorder = _Recorder(self, seen)
        x = self._check_input(x)
        recorder._run(x, None, None, (self.network.layers[-1].name,), max(1, len(x)))
        return seen

    def program(self, target: Union[Arch, CrossbarSpec], calibration, rng: Seed = None,
                dynamic=None) -> "ProgrammedModel":
        """Quantize (calibrated on ``calibration`` inputs) and program onto crossbars of ``target``.

        ``dynamic`` says where products of two activations run: ``"digital"`` (exact, on a digital
        unit), ``"crossbar"`` (written into arrays for every input) or ``{"qk": ..., "av": ...}``
        by kind; None takes the arch's ``products`` section if it has one, else digital."""
        crossbar = target.crossbar if isinstance(target, Arch) else target
        return ProgrammedModel(self, crossbar, calibration, rng, dynamic=transformer.dynamic_modes(dynamic, target))


class _Recorder(_Runner):
    def __init__(self, model: Model, seen: Dict[str, np.ndarray]):
        self.network, self.model, self.seen = model.network, model, seen

    def _bias(self, layer):
        return self.model._bias(layer)

    def _parameters(self) -> Weights:
        return self.model.weights

    def _weight_layer(self, layer, x, **kw):
        self.seen[layer.name] = x
        return self.model._weight_layer(layer, x)

    def _matmul(self, layer, a, b, **kw):
        self.seen[layer.name] = transformer.operand_heads(layer, a, b)
        return self.model._matmul(layer, a, b)


@dataclass(frozen=True)
class LayerQuantization:
    """How one weight layer's operands become integers."""

    crossbar: CrossbarSpec
    """The crossbar spec at the layer's precision (signed inputs if calibration saw negatives)."""
    weight_scale: float
    """Float value of one weight step."""
    input_scale: float
    """Float value of one input step."""
    weights: np.ndarray
    """Integer weights per group, (groups, K, M/groups)."""


def _quantize_weights(w: np.ndarray, bits: int) -> Tuple[np.ndarray, float]:
    top = (1 << (bits - 1)) - 1
    if top == 0:  # 1-bit signed weights hold {-1, 0}: the sign of negative weights
        return -(w < 0).astype(np.int64), float(np.abs(w).max() or 1.0)
    scale = float(np.abs(w).max()) / top or 1.0
    return np.clip(np.rint(w / scale), -top, top).astype(np.int64), scale


class ProgrammedModel(_Runner):
    """A model quantized and programmed onto crossbars: variation and faults are drawn once."""

    def __init__(self, model: Model, crossbar: CrossbarSpec, calibration, rng: Seed = None,
                 dynamic: Optional[Dict[str, str]] = None):
        self.model = model
        self.network = model.network
        self.outputs = model.outputs
        generator = make_rng(rng)
        inputs = model.layer_inputs(calibration)
        self.quantization: Dict[str, LayerQuantization] = {}
        """Scales and integer weights of each weight layer."""
        self.matrices: Dict[str, List] = {}
        """Programmed matrices of each weight layer, one per group."""
        for layer in self.network.weight_layers:
            spec = layer_crossbar(layer, crossbar)
            seen = inputs[layer.name]
            signed = bool(seen.min() < 0)
            if signed != spec.signed_inputs:
                spec = dataclasses.replace(spec, signed_inputs=signed)
            top = (1 << (spec.input_bits - 1)) - 1 if signed else (1 << spec.input_bits) - 1
            peak = float(np.abs(seen).max())
            input_scale = (peak / top if top else peak) or 1.0
            w_int, w_scale = _quantize_weights(_matrices(layer, model.weights[layer.name]["weight"]), spec.weight_bits)
            q = LayerQuantization(crossbar=spec, weight_scale=w_scale, input_scale=input_scale, weights=w_int)
            self.quantization[layer.name] = q
            calib = None
            if spec.adc_range == "calibrated":
                calib = self._integers(layer, seen, q)
            self.matrices[layer.name] = [
                program(w_int[g], spec, generator, calibration=None if calib is None else calib[:, g, :])
                for g in range(layer.groups)]
        self.dynamic: Dict[str, str] = dict(dynamic or transformer.dynamic_modes("digital"))
        """Where products of two activations run, by kind (``qk``, ``av``): digital or crossbar."""
        self.products: Dict[str, transformer.OperandQuantization] = {
            layer.name: transformer.calibrate_operands(layer, layer_crossbar(layer, crossbar),
                                                       self.dynamic[transformer.product_kind(layer)],
                                                       *inputs[layer.name], generator)
            for layer in self.network.layers if layer.type == "matmul"}
        """Scales (and where it runs) of every product of two activations."""
        self._writes = generator.spawn(1)[0]  # per-input writes of operands into crossbars

    def _parameters(self) -> Weights:
        return self.model.weights

    def _matmul(self, layer: Layer, a: np.ndarray, b: np.ndarray, exact: bool = False, read_rng=None, stats=None,
                **kw) -> np.ndarray:
        A, B = transformer.operand_heads(layer, a, b)
        writes = read_rng if read_rng is not None else self._writes  # forward's rng drives writes and reads
        y = transformer.quantized_matmul(layer, self.products[layer.name], A, B, exact=exact, write_rng=writes,
                                         read_rng=read_rng, stats=stats)
        return transformer.matmul_output(layer, y)

    def _bias(self, layer: Layer) -> np.ndarray:
        return self.model.weights[layer.name]["bias"]

    def _integers(self, layer: Layer, x: np.ndarray, q: LayerQuantization) -> np.ndarray:
        """Input vectors of a layer as clamped integers, (NEF, groups, K).

        Quantizing is elementwise (and maps the zero padding to 0), so it runs before im2col,
        which then copies 8-bit integers (16-bit above 8 input bits) instead of floats.
        """
        spec = q.crossbar
        if spec.signed_inputs:
            lo, hi = -(1 << (spec.input_bits - 1)), (1 << (spec.input_bits - 1)) - 1
            dtype = np.int8 if spec.input_bits <= 8 else np.int16 if spec.input_bits < 16 else np.int32
        else:
            lo, hi = 0, (1 << spec.input_bits) - 1
            dtype = np.uint8 if spec.input_bits <= 8 else np.uint16
        scaled = x * (1.0 / q.input_scale) if q.input_scale != 1.0 else x.copy()
        np.rint(scaled, out=scaled)
        np.clip(scaled, lo, hi, out=scaled)
        return _im2col(scaled.astype(dtype), layer)

    def _weight_layer(self, layer: Layer, x: np.ndarray, exact: bool = False, read_rng=None, stats=None,
                      observe=None) -> np.ndarray:
        q = self.quantization[layer.name]
        cols = self._integers(layer, x, q)
        if observe is not None:
            observe(layer, cols, q.crossbar)
        n = cols.shape[0]
        y = np.empty((n, layer.groups, layer.M // layer.groups), dtype=np.float64)
        for g, matrix in enumerate(self.matrices[layer.name]):
            vectors = cols.reshape(n, -1) if layer.groups == 1 else cols[:, g, :]
            if exact:
                y[:, g] = exact_mvm(vectors, q.weights[g])
            elif stats is not None:
                y[:, g], s = matrix._mvm(vectors, read_rng, stats=True)
                stats[layer.name] = stats.get(layer.name, MvmStats()) + s
            else:
                y[:, g] = matrix._mvm(vectors, read_rng)
        y *= q.weight_scale * q.input_scale
        return _to_nchw(y, layer, x.shape[0])

    def observe(self, x, callback, rng: Seed = None):
        """Run ``x`` through the crossbars, calling ``callback(layer, inputs, crossbar)`` for every
        weight layer with the integer vectors its DACs see, (N*E*F, groups, K) in (image, row,
        column) order, and the crossbar spec at its precision; returns the outputs.

        Data-aware energy (``xbarsim.simulate(inputs=..., weights=...)``) uses it to compute the
        arrays' activity in the mapper's layout (:mod:`xbarsim.mapping.activity`).
        """
        generator = None if rng is None else make_rng(rng)
        names = self.outputs
        result = self._run(x, None, generator, names, CROSSBAR_BATCH, read_rng=generator, observe=callback)
        return result[names[0]] if len(names) == 1 else result

    def forward(self, x, noise: Optional[ActivationNoise] = None, rng: Seed = None, *, exact: bool = False,
                stats: bool = False, outputs: Optional[Sequence[str]] = None, batch: int = CROSSBAR_BATCH):
        """Inference through the crossbars (or, with ``exact``, exact integer products).

        ``rng`` drives read noise, per-cycle variation and activation noise (None: the matrices'
        own streams, activation noise from fresh entropy). ``batch`` images share each layer's
        ``mvm`` call: the unit of per-cycle variation draws and of dynamic ADC ranges. With
        ``stats=True`` also returns ``{layer: MvmStats}``.
        """
        names = tuple(outputs) if outputs else self.outputs
        generator = None if rng is None else make_rng(rng)
        collected: Dict[str, MvmStats] = {} if stats else None
        result = self._run(x, noise, generator, names, batch, exact=exact, read_rng=generator, stats=collected)
        value = result[names[0]] if len(names) == 1 else result
        return (value, collected) if stats else value
