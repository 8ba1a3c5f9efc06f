"""Transformer layers in numpy: functions of the digital units in float, and products of two
activations (``matmul``) in float, exact on a digital unit, or written into crossbar arrays.

Activations keep the engine's NCHW layout: a token sequence of L tokens of d features is an
(N, d, 1, L) array (the workload vocabulary's ``H = 1, W = L, C = d``). Semantics, layer by
layer (``xbarsim.workload.network`` defines the shapes):

* ``linear`` is a weight layer like ``conv`` and ``fc`` (the engine lowers it as a 1 x 1 conv
  over the tokens): quantized, programmed once, read through the crossbars.
* ``softmax`` normalizes each token's C / heads values of every head (``exp(x - max)``, so
  masked scores of ``-inf`` become exact zeros); ``layernorm`` is ``(x - mean) / sqrt(var + eps)
  * gain + bias`` over the C features of each position (biased variance, as PyTorch);
  ``rmsnorm`` is ``x / sqrt(mean(x^2) + eps) * gain``; ``eps`` is :data:`NORM_EPS` unless the
  layer's parameters hold an ``eps`` value; ``gelu`` is the exact form ``x Phi(x)`` (erf),
  ``silu`` is ``x sigmoid(x)``; ``mul`` and ``add`` are elementwise. All run in float64, as the
  digital vector unit's functions (their own precision is not modelled).
* ``embedding``: ``lookup: token`` reads token ids (integers 0 .. vocab - 1) and returns their
  table rows; ``position`` returns the rows of the positions of its input's tokens (``layer.
  position`` onwards: 0 in a prefill, L + t in decode step t); ``segment`` returns row 0 for
  every token (a single-segment input). ``tokens`` flattens H x W positions row by row,
  prepends its learned ``extra_tokens`` and keeps the first or last ``keep``.
* ``matmul``: per head, a (L x K) times b' (K x N) (``transpose_b``: b' = b^T, Q K^T; else
  b' = b, attention x V). Causal masking (query i at position ``keys - L + i`` sees the keys
  up to its position): the masked scores of a product with ``transpose_b`` are ``-inf`` (so a
  softmax gives them weight 0); a product without it sums only over visible keys (the masked
  entries of a are zeroed before anything else, so on crossbars their rows are not driven).

Through the crossbar model (``ProgrammedModel``), products of two activations are quantized
with scales calibrated once, like a weight layer's inputs, because b is not known before the
input arrives and a per-input scale would need a reduction over the whole operand first:

* a (``input_bits`` of the layer): ``s_a = max |a| / (2^B - 1)`` over the calibration inputs
  (unsigned), or ``/ (2^(B-1) - 1)`` and two's complement if the calibration saw negative values;
  ``a_int = clip(rint(a / s_a))`` to the B-bit range.
* b (``weight_bits``): signed and symmetric like weights, ``s_b = max |b| / (2^(B-1) - 1)`` over
  the calibration inputs, ``b_int = clip(rint(b / s_b), -(2^(B-1) - 1), 2^(B-1) - 1)`` (1-bit
  operands hold the sign of negative values, as 1-bit weights).
* ``dynamic="digital"``: a digital matrix unit computes ``a_int b_int`` exactly at those
  widths; the result is ``a_int b_int * s_a * s_b``.
* ``dynamic="crossbar"``: for every input and head, ``b_int`` (K x N) is written into crossbar
  arrays (the layer's crossbar spec: slicing, mapping, programming variation and stuck-at
  faults drawn anew for every write), and ``a_int`` is read through them (DACs, read noise,
  ADC), then rescaled by ``s_a s_b``. With ``adc_range: calibrated`` one set of ADC ranges per
  layer is fixed at programming: the envelope of the ranges calibrated on the calibration
  inputs' own writes.

``exact=True`` replaces every crossbar read, of static weights and of written operands alike,
by the exact integer product, so an ideal crossbar reproduces it bit for bit.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional

import numpy as np
from scipy import special

from ..config.crossbar import CrossbarSpec
from ..errors import ArgumentError, ConfigError, XbarsimError
from ..functional.matrix import MvmStats, ProgrammedMatrix, program
from ..functional.converters import ranges_from_limits
from ..workload.network import Layer, Network

__all__ = ["DYNAMIC", "NORM_EPS", "FUNCTIONS", "PARAMETER_LAYERS", "DecodeError", "Decoder", "OperandQuantization",
           "activate", "calibrate_operands", "check_parameters", "dynamic_modes", "float_matmul", "function",
           "matmul_output", "operand_heads", "product_kind", "quantized_matmul", "visible_keys"]

#: Where products of two activations run: a digital matrix unit, or written into crossbar arrays.
DYNAMIC = ("digital", "crossbar")
#: Epsilon of layer and RMS norms without an ``eps`` parameter (PyTorch's ``nn.LayerNorm`` default).
NORM_EPS = 1e-5
#: Layer kinds computed here in float (the digital units).
FUNCTIONS = ("softmax", "layernorm", "rmsnorm", "gelu", "silu", "mul", "embedding", "tokens")
#: Layers without crossbar weights that still hold trained parameters.
PARAMETER_LAYERS = ("layernorm", "rmsnorm", "embedding", "tokens")


# -- parameters -----------------------------------------------------------------------------------

def _parameter_shapes(layer: Layer) -> Dict[str, tuple]:
    """Required parameter arrays of a parameter layer, by key."""
    if layer.type == "layernorm":
        return {"weight": (layer.C,), "bias": (layer.C,)}
    if layer.type == "rmsnorm":
        return {"weight": (layer.C,)}
    if layer.type == "embedding":
        return {"weight": (layer.vocab, layer.M)}
    if layer.type == "tokens" and layer.extra_tokens:
        return {"weight": (layer.extra_tokens, layer.C)}
    return {}


def check_parameters(network: Network, weights: Mapping[str, Mapping[str, np.ndarray]]) -> Dict[str, Dict]:
    """The parameters of every layer that holds some besides crossbar weights, as float64, checked.

    Layer norm: ``weight`` (gain) and ``bias`` of (C,); RMS norm: ``weight`` of (C,); both may
    give ``eps`` (a scalar). Embedding: ``weight`` of (vocab, M). Tokens with ``extra_tokens``:
    ``weight`` of (extra_tokens, C), prepended in that order.
    """
    checked: Dict[str, Dict] = {}
    for layer in network.layers:
        shapes = _parameter_shapes(layer)
        if not shapes:
            continue
        entry = weights.get(layer.name)
        if entry is None:
            raise ArgumentError(f"weights: expected an entry for {layer.type} layer {layer.name!r} with "
                             f"{', '.join(repr(k) for k in shapes)}, got none")
        out = {}
        for key, shape in shapes.items():
            if key not in entry:
                raise ArgumentError(f"weights[{layer.name!r}]: expected a {key!r} array of shape {shape}, got none")
            value = np.asarray(entry[key], dtype=np.float64)
            if value.shape != shape:
                raise ArgumentError(f"weights[{layer.name!r}][{key!r}]: expected shape {shape}, got {value.shape}")
            out[key] = value
        allowed = set(shapes) | ({"eps"} if layer.type in ("layernorm", "rmsnorm") else set())
        extra = sorted(set(entry) - allowed)
        if extra:
            raise ArgumentError(f"weights[{layer.name!r}]: expected only {sorted(allowed)}, got {extra}")
        if "eps" in entry:
            eps = np.asarray(entry["eps"], dtype=np.float64)
            if eps.shape not in ((), (1,)) or not np.isfinite(eps).all() or float(eps.reshape(-1)[0]) <= 0:
                raise ArgumentError(f"weights[{layer.name!r}]['eps']: expected one number > 0, got {entry['eps']!r}")
            out["eps"] = eps.reshape(())
        checked[layer.name] = out
    return checked


# -- digital functions ------------------------------------------------------------------------------

def activate(y: np.ndarray, kind: str) -> np.ndarray:
    """A layer's ``activation``: none, relu, gelu (exact, erf), silu or tanh."""
    if kind == "none":
        return y
    if kind == "relu":
        return np.maximum(y, 0.0)
    if kind == "gelu":
        return 0.5 * y * (1.0 + special.erf(y / np.sqrt(2.0)))
    if kind == "silu":
        return y * special.expit(y)
    if kind == "tanh":
        return np.tanh(y)
    raise ArgumentError(f"activation: expected one of none, relu, gelu, silu, tanh, got {kind!r}")


def _softmax(x: np.ndarray, heads: int) -> np.ndarray:
    n, c = x.shape[:2]
    z = x.reshape(n, heads, c // heads, *x.shape[2:])
    z = np.exp(z - z.max(axis=2, keepdims=True))
    return (z / z.sum(axis=2, keepdims=True)).reshape(x.shape)


def _token_ids(x: np.ndarray, layer: Layer) -> np.ndarray:
    ids = np.asarray(x)[:, 0]  # (N, H, W): the single channel of a token-id input
    rounded = np.rint(ids)
    if ids.size and (not np.array_equal(rounded, ids) or rounded.min() < 0 or rounded.max() >= layer.vocab):
        bad = ids[(rounded != ids) | (rounded < 0) | (rounded >= layer.vocab)].reshape(-1)[0]
        raise ConfigError(("inputs",), f"token ids for {layer.name!r}: integers 0..{layer.vocab - 1}", float(bad))
    return rounded.astype(np.int64)


def function(layer: Layer, inputs: List[np.ndarray], params: Optional[Dict[str, np.ndarray]]) -> np.ndarray:
    """The output of a digital layer (one of :data:`FUNCTIONS`) for its NCHW inputs, float64."""
    x = inputs[0]
    kind = layer.type
    if kind == "softmax":
        return _softmax(x, layer.heads)
    if kind in ("layernorm", "rmsnorm"):
        eps = float(params.get("eps", NORM_EPS))
        gain = params["weight"][None, :, None, None]
        if kind == "layernorm":
            centered = x - x.mean(axis=1, keepdims=True)
            return centered / np.sqrt((centered * centered).mean(axis=1, keepdims=True) + eps) * gain \
                + params["bias"][None, :, None, None]
        return x / np.sqrt((x * x).mean(axis=1, keepdims=True) + eps) * gain
    if kind in ("gelu", "silu"):
        return activate(x, kind)
    if kind == "mul":
        out = inputs[0]
        for other in inputs[1:]:
            out = out * other
        return out
    if kind == "embedding":
        table = params["weight"]  # (vocab, M)
        n = x.shape[0]
        if layer.lookup == "token":
            rows = table[_token_ids(x, layer)]  # (N, H, W, M)
        else:
            index = (layer.position + np.arange(layer.E * layer.F)) if layer.lookup == "position" else \
                np.zeros(layer.E * layer.F, dtype=np.int64)
            rows = np.broadcast_to(table[index].reshape(1, layer.E, layer.F, layer.M), (n, layer.E, layer.F, layer.M))
        return np.ascontiguousarray(rows.transpose(0, 3, 1, 2))
    if kind == "tokens":
        n, c = x.shape[:2]
        seq = x.reshape(n, c, 1, -1)  # positions row by row, as ViT's flatten(2)
        if layer.extra_tokens:
            learned = np.broadcast_to(params["weight"].T[None, :, None, :], (n, c, 1, layer.extra_tokens))
            seq = np.concatenate([learned, seq], axis=3)
        if layer.F != seq.shape[3]:  # keep: a prefill's kept tokens start at position 0 (first) or later (last)
            seq = seq[..., :layer.F] if layer.position == 0 else seq[..., seq.shape[3] - layer.F:]
        return seq
    raise ValueError(f"layer {layer.name!r}: {kind} is not a digital function")  # pragma: no cover


# -- products of two activations ----------------------------------------------------------------

def dynamic_modes(dynamic, target=None) -> Dict[str, str]:
    """Where each kind of product runs, ``{"qk": mode, "av": mode}`` (``qk``: products with
    ``transpose_b``, Q K^T; ``av``: the others), from ``dynamic``: ``"digital"``, ``"crossbar"``, a
    dict with both keys (a split by kind), or None: the arch's ``products`` section if ``target``
    is an arch that has one, else digital."""
    if dynamic is None:
        products = getattr(target, "products", None)
        if products is not None and hasattr(products, "qk") and hasattr(products, "av"):
            dynamic = {"qk": products.qk, "av": products.av}
        else:
            dynamic = "digital"
    if isinstance(dynamic, str):
        if dynamic not in DYNAMIC:
            raise ConfigError(("dynamic",), "'digital' or 'crossbar' (or {'qk': ..., 'av': ...})", dynamic)
        return {"qk": dynamic, "av": dynamic}
    if isinstance(dynamic, Mapping):
        if set(dynamic) != {"qk", "av"}:
            raise ConfigError(("dynamic",), "a mapping with exactly the keys 'qk' and 'av'", sorted(dynamic))
        for key in ("qk", "av"):
            if dynamic[key] not in DYNAMIC:
                raise ConfigError(("dynamic", key), "'digital' or 'crossbar'", dynamic[key])
        return {"qk": dynamic["qk"], "av": dynamic["av"]}
    raise ConfigError(("dynamic",), "'digital', 'crossbar' or {'qk': ..., 'av': ...}", type(dynamic).__name__)


def product_kind(layer: Layer) -> str:
    """``qk`` for a product with ``transpose_b`` (Q K^T), ``av`` otherwise."""
    return "qk" if layer.transpose_b else "av"


def visible_keys(layer: Layer) -> Optional[np.ndarray]:
    """(L, Lk) boolean mask of the keys each query sees, or None if the product is not causal.

    Query i sits at position ``keys - L + i`` and sees keys 0 .. that position."""
    if not layer.causal:
        return None
    queries = layer.E * layer.F
    position = layer.keys - queries + np.arange(queries)
    return np.arange(layer.keys)[None, :] <= position[:, None]


def operand_heads(layer: Layer, a: np.ndarray, b: np.ndarray):
    """Per-head operands of a matmul: a (N, h, L, K) and b' (N, h, K, N_cols), float64.

    ``a`` (N, Ca, 1, L) and ``b`` (N, Cb, 1, Lk) are NCHW token sequences. A causal product
    without ``transpose_b`` has the masked entries of a zeroed (those products are not summed)."""
    h = layer.heads
    n, ca, _, queries = a.shape
    cb, keys = b.shape[1], b.shape[3]
    A = a[:, :, 0, :].reshape(n, h, ca // h, queries).transpose(0, 1, 3, 2)  # (N, h, L, Ca/h)
    Bt = b[:, :, 0, :].reshape(n, h, cb // h, keys)  # (N, h, Cb/h, Lk): b per head, transposed
    B = Bt if layer.transpose_b else Bt.transpose(0, 1, 3, 2)
    mask = visible_keys(layer)
    if mask is not None and not layer.transpose_b:
        A = np.where(mask, A, 0.0)
    return A, B


def matmul_output(layer: Layer, y: np.ndarray) -> np.ndarray:
    """(N, h, L, N_cols) per-head products -> the layer's NCHW output (N, h N_cols, 1, L); masked
    scores of a causal Q K^T are ``-inf``."""
    mask = visible_keys(layer)
    if mask is not None and layer.transpose_b:
        y = np.where(mask, y, -np.inf)
    n, h, queries, cols = y.shape
    return np.ascontiguousarray(y.transpose(0, 1, 3, 2).reshape(n, h * cols, 1, queries))


def float_matmul(layer: Layer, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The float64 product of two activations."""
    A, B = operand_heads(layer, a, b)
    return matmul_output(layer, np.matmul(A, B))


@dataclass(frozen=True)
class OperandQuantization:
    """How a product of two activations is quantized and where it runs."""

    crossbar: CrossbarSpec
    """The crossbar spec at the layer's precision (a's signedness from calibration): a's bits are its
    input bits, b's its weight bits."""
    dynamic: str
    """``digital`` or ``crossbar``."""
    a_scale: float
    """Float value of one step of operand a."""
    b_scale: float
    """Float value of one step of operand b."""
    ranges: object = None
    """ADC ranges shared by every write (``adc_range: calibrated``), else None (the spec's own)."""

    def a_integers(self, A: np.ndarray) -> np.ndarray:
        """Operand a as clamped integers (unsigned, or two's complement)."""
        bits = self.crossbar.input_bits
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if self.crossbar.signed_inputs else (0, (1 << bits) - 1)
        return np.clip(np.rint(A / self.a_scale), lo, hi).astype(np.int64)

    def b_integers(self, B: np.ndarray) -> np.ndarray:
        """Operand b as symmetric signed integers (1 bit: -1 for negative values, else 0)."""
        top = (1 << (self.crossbar.weight_bits - 1)) - 1
        if top == 0:
            return -(B < 0).astype(np.int64)
        return np.clip(np.rint(B / self.b_scale), -top, top).astype(np.int64)


def calibrate_operands(layer: Layer, crossbar: CrossbarSpec, dynamic: str, A: np.ndarray, B: np.ndarray,
                       rng: np.random.Generator) -> OperandQuantization:
    """Scales from calibration operands ``A`` (N, h, L, K) and ``B`` (N, h, K, N_cols), and for
    crossbar products with ``adc_range: calibrated`` the ADC ranges of the layer: the envelope
    of the ranges each calibration input's own writes calibrate to."""
    signed = bool(A.min() < 0)
    spec = crossbar if signed == crossbar.signed_inputs else dataclasses.replace(crossbar, signed_inputs=signed)
    top_a = (1 << (spec.input_bits - 1)) - 1 if signed else (1 << spec.input_bits) - 1
    peak_a = float(np.abs(A).max()) if A.size else 0.0
    a_scale = (peak_a / top_a if top_a else peak_a) or 1.0
    top_b = (1 << (spec.weight_bits - 1)) - 1
    peak_b = float(np.abs(B).max()) if B.size else 0.0
    b_scale = (peak_b / top_b if top_b else peak_b) or 1.0
    q = OperandQuantization(crossbar=spec, dynamic=dynamic, a_scale=a_scale, b_scale=b_scale)
    if dynamic != "crossbar" or spec.adc_range != "calibrated":
        return q
    a_int, b_int = q.a_integers(A), q.b_integers(B)
    lows, highs = [], []
    for n in range(A.shape[0]):
        for h in range(A.shape[1]):
            ranges = program(b_int[n, h], spec, rng, calibration=a_int[n, h]).ranges
            lows.append(ranges.lo)
            highs.append(ranges.hi)
    ranges = ranges_from_limits(np.min(lows, axis=0), np.max(highs, axis=0), spec.adc_bits)
    return OperandQuantization(crossbar=spec, dynamic=dynamic, a_scale=a_scale, b_scale=b_scale, ranges=ranges)


def quantized_matmul(layer: Layer, q: OperandQuantization, A: np.ndarray, B: np.ndarray, *, exact: bool,
                     write_rng: np.random.Generator, read_rng: Optional[np.random.Generator],
                     stats: Optional[Dict[str, MvmStats]] = None) -> np.ndarray:
    """Per-head products (N, h, L, N_cols) of quantized operands: exact integer products (``exact``
    or a digital unit), or each input's b written into crossbar arrays and a read through them."""
    a_int, b_int = q.a_integers(A), q.b_integers(B)
    if exact or q.dynamic == "digital":
        # float64 products of integers below 2^16 over at most 2^20 terms are exact (< 2^53)
        return np.matmul(a_int.astype(np.float64), b_int.astype(np.float64)) * (q.a_scale * q.b_scale)
    n_images, heads, queries = A.shape[:3]
    out = np.empty((n_images, heads, queries, B.shape[3]))
    for n in range(n_images):
        for h in range(heads):
            matrix = _write(b_int[n, h], q, write_rng)
            if stats is not None:
                out[n, h], s = matrix.mvm(a_int[n, h], rng=read_rng, stats=True)
                stats[layer.name] = stats.get(layer.name, MvmStats()) + s
            else:
                out[n, h] = matrix.mvm(a_int[n, h], rng=read_rng)
    return out * (q.a_scale * q.b_scale)


def _write(b_int: np.ndarray, q: OperandQuantization, rng: np.random.Generator) -> ProgrammedMatrix:
    """Program one input's operand b (K x N) into arrays: variation and faults drawn for this write."""
    matrix = program(b_int, q.crossbar, rng)
    if q.ranges is not None:
        matrix.ranges = q.ranges
    return matrix


class DecodeError(XbarsimError, ValueError):
    """A model cannot be decoded token by token as asked."""


class Decoder:
    """A causal model run token by token: the prefill on a prompt, then decode steps, each one new
    token per input against the KV caches (the cached products' operands b, kept in float and
    quantized on use with the layer's static scale, exactly as in a full-sequence pass).

    Build it with ``model.decoder(prompt)`` (a float :class:`~xbarsim.nn.Model`, or a
    :class:`~xbarsim.nn.ProgrammedModel` whose products run on the digital unit)."""

    def __init__(self, runner, prompt, outputs, **kw):
        network = runner.network
        if not network.decode_steps:
            raise DecodeError(f"sequence.decode: expected decode steps (> 0) to decode {network.name!r} token by "
                              "token, got 0")
        products = getattr(runner, "products", {})
        written = sorted(name for name, q in products.items() if q.dynamic == "crossbar" and network.layer(name).cache)
        if written:
            raise DecodeError(f"dynamic: expected 'digital' for cached products to decode token by token, got "
                              f"'crossbar' for {', '.join(written)} (appending to an operand already written into "
                              "arrays is not modelled; a full-sequence forward is)")
        self._runner, self._names, self._kw = runner, tuple(outputs), kw
        self.caches: Dict[str, np.ndarray] = {}
        """Operand b of every cached product so far, (N, C_b, 1, tokens), by layer name."""
        self.steps = 0
        """Decode steps run so far."""
        self.outputs = self._result(runner._run(prompt, None, None, self._names, caches=self.caches, **kw))
        """The prefill's outputs."""

    def _result(self, values):
        return values[self._names[0]] if len(self._names) == 1 else values

    def step(self, tokens):
        """Decode step ``steps``: ``tokens`` (N, 1) token ids (one per input, at position L + steps);
        returns the outputs for that position."""
        network = self._runner.network
        if self.steps >= network.decode_steps:
            raise DecodeError(f"step: expected at most sequence.decode = {network.decode_steps} decode steps of "
                              f"{network.name!r}, got step {self.steps + 1}")
        values = self._runner._run(tokens, None, None, self._names, network=network.decode_step(self.steps),
                                   caches=self.caches, **self._kw)
        self.steps += 1
        return self._result(values)
