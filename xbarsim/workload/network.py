"""DNN workloads described by layer shapes, in the notation of Sze et al.

A layer reads an input of H x W x C and, for conv, applies M filters of R x S x (C/groups)
with a stride and zero padding, producing E x F x M (N, the batch, is a simulation
parameter). Fully connected layers are 1 x 1 convolutions over a flattened input; pooling
keeps channels; ``add`` sums equally shaped inputs (residual connections).

**Token sequences** (transformers) use the same notation: a sequence of L tokens of d
features is a feature map with ``H = 1, W = L, C = d``, so every per-position rule (vectors,
rows, segments, buffers) applies to tokens unchanged. The transformer vocabulary:

* ``linear``: static weights applied to every position (a 1 x 1 conv: ``H W`` vectors of C in,
  M out); it holds weights and maps onto crossbars. ``fc`` keeps its meaning (it reads its
  input flattened: one vector per image).
* ``matmul``: the product of two activations, ``inputs: [a, b]``, computed per head. With
  ``heads: h`` and ``transpose_b: true`` (Q K^T), a is L x (h dk) and b is Lk x (h dk); the
  output is L x (h Lk). Without (attention V), a is L x (h Lk) and b is Lk x (h dv); the output
  is L x (h dv). Per head, a (L x K) times b' (K x N), ``K`` the *contraction* and ``N`` the
  *head columns*; MACs are ``h L K N`` (``h L Lk d``). ``keys`` is Lk, the tokens of b.
  ``cache: true`` marks b as a KV-cache operand: while decoding, the producer of b computes
  the new token's row only and the product reads the whole cache (``keys`` grows by one per
  step). ``causal: true`` marks a causally masked product (query i sees the keys up to its own
  position); whether the masked products are computed is the network's
  ``sequence.masked_products`` (below). The operand bits: ``input_bits`` are a's, ``weight_bits``
  b's (b plays the weights' part; written into crossbar arrays when products run there).
* ``softmax`` (over each head's row of C / heads values), ``layernorm`` (mean and variance
  over C; 2 C parameters), ``rmsnorm`` (C parameters), ``gelu``, ``silu``: elementwise or per
  position functions that keep the shape. ``activation:`` also accepts ``gelu`` and ``silu``.
* ``mul``: elementwise product of equally shaped inputs (SwiGLU's gate); ``add`` as before.
* ``embedding``: a ``vocab`` x M table lookup per position. ``lookup: token`` reads token ids
  (an input with C = 1); ``lookup: position`` looks up the position of each token of its input
  (learned position embeddings; its table must have a row for every position); ``lookup:
  segment`` a segment id per token (BERT's token types; 0 for a single-segment input). Position
  and segment lookups read only the token count of their input, which may be any sequence.
* ``tokens``: reshapes H x W x C to 1 x (H W + extra_tokens) x C (ViT's patches to a sequence,
  with ``extra_tokens`` learned tokens prepended: the class token), or keeps only ``keep``
  tokens (the first, or with ``keep_from: last`` the last: a classifier's class token, a
  language model's last position).
* ``bias: true`` on conv, fc and linear adds M parameters (added digitally to the outputs);
  ``tied: <embedding>`` says a linear layer's weights are that table, transposed (GPT-2's
  output layer): they are counted once among the parameters, but still occupy crossbars.
* ``activation:`` takes ``none``, ``relu``, ``gelu``, ``silu`` or ``tanh`` (BERT's pooler).

**Sequences and phases.** A network's ``sequence`` section says how it is run: ``decode: T``
tokens generated one at a time after the first pass, ``max_length`` (the context window, or
null), and ``masked_products`` (``computed``: causally masked products are computed and
discarded, as dense hardware does and as CiMLoop-style workload counts assume; ``skipped``:
only the products under the mask are computed and counted). The network as written is the
first pass, the **prefill**: its input is the prompt (``input: {H: 1, W: L, C: 1}`` token ids,
L the *prompt length*) or, for an encoder, whatever its layers make of the input (ViT: 197
tokens from the image). A **decode step** t (0 .. T - 1) runs the same layers on one token (at
position L + t; input W = 1), and every cached product reads ``L + t + 1`` keys: the prefill's
keys plus one per step. ``Network.decode_step(t)`` resolves that network. Decoding requires a
token input (H = 1) and per-token layers only.

A :class:`NetworkSpec` is what a YAML file or dict says; :class:`Network` is its resolved
form, where every layer knows its shapes (inferred from its inputs when not given, checked
when given), its inputs by index, its bit widths, and its MAC, weight and parameter counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from ..config.fields import Boolean, Choice, Integer, IntPair, Items, Maybe, Section, Spec, Text, param
from ..errors import ConfigError, described

__all__ = ["LayerSpec", "InputSpec", "SequenceSpec", "NetworkSpec", "Layer", "Network", "LAYER_TYPES",
           "WEIGHT_LAYER_TYPES", "TOKEN_LAYER_TYPES", "VECTOR_FUNCTIONS", "ACTIVATIONS"]

#: Every layer kind a workload may use.
LAYER_TYPES = ("conv", "fc", "pool", "add", "linear", "matmul", "softmax", "layernorm", "rmsnorm", "gelu", "silu",
               "mul", "embedding", "tokens")
#: Layers with static weights, mapped onto crossbars.
WEIGHT_LAYER_TYPES = ("conv", "fc", "linear")
#: Layers that work on each token alone or on whole token sequences: the only ones a decoding
#: network may hold (a decode step has one token).
TOKEN_LAYER_TYPES = ("linear", "matmul", "softmax", "layernorm", "rmsnorm", "gelu", "silu", "mul", "add",
                     "embedding", "tokens")
#: Functions of the digital vector unit (as layers; ``gelu`` and ``silu`` also as activations).
VECTOR_FUNCTIONS = ("softmax", "layernorm", "rmsnorm", "gelu", "silu")
#: Activations a layer may apply to its output.
ACTIVATIONS = ("none", "relu", "gelu", "silu", "tanh")

_BITS = Maybe(Integer(1, 16))
_DIM = Maybe(Integer(1, 1 << 20))
_SHAPE_KEEPING = ("pool", "add", "mul", "softmax", "layernorm", "rmsnorm", "gelu", "silu", "tokens")


@dataclass(frozen=True, kw_only=True)
class LayerSpec(Spec):
    section_doc = "one layer"

    name: str = param(Text(), "layer", "unique layer name", required=True)
    type: str = param(Choice(*LAYER_TYPES), "conv", "layer kind", required=True)
    inputs: Tuple[str, ...] = param(Items(Text()), (), "names of the layers it reads (default: the previous layer)")
    H: Optional[int] = param(_DIM, None, "input height (inferred from the input layer if omitted)")
    W: Optional[int] = param(_DIM, None, "input width, or tokens of a sequence (inferred if omitted)")
    C: Optional[int] = param(_DIM, None,
                             "input channels, features of a token, or input features of fc (inferred if omitted)")
    R: Optional[int] = param(_DIM, None, "filter or pooling window height (conv, pool)")
    S: Optional[int] = param(_DIM, None, "filter or pooling window width (default: R)")
    M: Optional[int] = param(_DIM, None, "output channels (conv), features (fc, linear) or embedding width")
    stride: Tuple[int, int] = param(IntPair(1, 1 << 16), 1, "stride: one for both dimensions, or [h, w]")
    padding: Tuple[int, int] = param(IntPair(0, 1 << 16), 0,
                                     "zero padding on each side: one for both dimensions, or [h, w] "
                                     "(a 1-D signal is an H = 1 input with padding [0, p])")
    groups: int = param(Integer(1, 1 << 20), 1, "channel groups (C and M divisible by it; groups = C = M is depthwise)")
    pool: str = param(Choice("max", "avg"), "max", "pooling kind")
    activation: str = param(Choice(*ACTIVATIONS), "none", "activation applied to the output")
    bias: bool = param(Boolean(), False, "conv, fc, linear: a bias per output (M parameters, added digitally)")
    heads: Optional[int] = param(_DIM, None,
                                 "matmul, softmax: attention heads; the features of each operand (softmax: of "
                                 "its input) are split evenly among them (default 1)")
    transpose_b: bool = param(Boolean(), False,
                              "matmul: multiply by b transposed (Q K^T: a and b have the same features per head)")
    cache: bool = param(Boolean(), False,
                        "matmul: b is a KV-cache operand (while decoding, b's producer adds one token per step and "
                        "the product reads the whole cache)")
    causal: bool = param(Boolean(), False,
                         "matmul: causally masked (query i sees keys up to its position); see "
                         "sequence.masked_products")
    vocab: Optional[int] = param(Maybe(Integer(1, 1 << 24)), None, "embedding: rows of the table (vocabulary, or "
                                 "positions for a position embedding)")
    lookup: str = param(Choice("token", "position", "segment"), "token",
                        "embedding: look up the input's token ids (C = 1), or, for each token of any input, "
                        "its position or its segment id (BERT's token types: 0 for a single segment)")
    tied: Optional[str] = param(Maybe(Text()), None,
                                "linear, fc: its weights are an earlier embedding's table, transposed (a language "
                                "model's output layer): counted once among the parameters")
    extra_tokens: int = param(Integer(0, 1 << 20), 0,
                              "tokens: learned tokens prepended to the sequence (ViT's class token: 1)")
    keep: Optional[int] = param(_DIM, None, "tokens: keep only this many tokens (default: all)")
    keep_from: str = param(Choice("first", "last"), "first", "tokens: which end the kept tokens come from")
    input_bits: Optional[int] = param(_BITS, None, "input precision (default: the network's, then the arch's); "
                                      "matmul: operand a's")
    weight_bits: Optional[int] = param(_BITS, None, "weight precision (default: the network's, then the arch's); "
                                       "matmul: operand b's")
    output_bits: Optional[int] = param(_BITS, None, "output precision (default: the network's, then input_bits)")


@dataclass(frozen=True, kw_only=True)
class InputSpec(Spec):
    section_doc = "the network input"

    H: int = param(Integer(1, 1 << 20), 1, "height (1 for a token sequence)", required=True)
    W: int = param(Integer(1, 1 << 20), 1, "width, or tokens of a sequence (the prompt length)", required=True)
    C: int = param(Integer(1, 1 << 20), 1, "channels (1 for token ids)", required=True)


@dataclass(frozen=True, kw_only=True)
class SequenceSpec(Spec):
    section_doc = "how a sequence model is run: tokens decoded after the first pass, context window"

    decode: int = param(Integer(0, 1 << 20), 0,
                        "tokens generated one at a time after the prefill (decode steps; 0: one pass only)")
    max_length: Optional[int] = param(Maybe(Integer(1, 1 << 24)), None,
                                      "context window: the prompt plus the decoded tokens, and every product's "
                                      "keys, may not exceed it (null: no limit)")
    masked_products: str = param(Choice("computed", "skipped"), "computed",
                                 "causally masked products: 'computed' and discarded (dense hardware, CiMLoop-"
                                 "style counts of L x L), or 'skipped' (only the L (L + 1) / 2 per head under the "
                                 "mask are computed and counted)")


@dataclass(frozen=True)
class Layer:
    """A resolved layer: every shape known, inputs by index (-1 is the network input)."""

    index: int
    name: str
    type: str
    inputs: Tuple[int, ...]
    H: int
    W: int
    C: int
    R: int
    S: int
    M: int
    E: int
    F: int
    stride: int
    """Stride along H (rows)."""
    padding: int
    """Zero padding along H (rows)."""
    groups: int
    pool: str
    activation: str
    input_bits: Optional[int]
    weight_bits: Optional[int]
    """Weight bits; of a matmul, operand b's."""
    output_bits: Optional[int]
    stride_w: int = 1
    """Stride along W (columns)."""
    padding_w: int = 0
    """Zero padding along W (columns)."""
    bias: bool = False
    """A bias per output (conv, fc, linear)."""
    heads: int = 1
    """Heads of a matmul or softmax."""
    transpose_b: bool = False
    cache: bool = False
    """A matmul whose b is a KV-cache operand."""
    causal: bool = False
    """A causally masked matmul."""
    skip_masked: bool = False
    """The masked products of a causal matmul are skipped (``sequence.masked_products``)."""
    keys: int = 0
    """Tokens of a matmul's operand b (Lk; while decoding, the cache's length)."""
    contraction: int = 0
    """K of a matmul: the products summed per output, per head."""
    vocab: int = 0
    """Rows of an embedding table."""
    lookup: str = "token"
    extra_tokens: int = 0
    """Tokens prepended by a ``tokens`` layer."""
    keep_from: str = "first"
    """Which end of its sequence a ``tokens`` layer keeps (``first`` or ``last``)."""
    position: int = 0
    """Position of the first token this layer's output holds: 0 in a prefill, L + t in decode step t."""
    tied: int = -1
    """Index of the embedding whose table this layer's weights are (-1: its own weights)."""

    @property
    def has_weights(self) -> bool:
        """Conv, fc and linear layers hold static weights and map onto crossbars."""
        return self.type in WEIGHT_LAYER_TYPES

    @property
    def rows_per_group(self) -> int:
        """K of the lowered matrix of one group: ``C / groups * R * S`` (0 without weights)."""
        return self.C // self.groups * self.R * self.S if self.has_weights else 0

    @property
    def cols_per_group(self) -> int:
        """Output channels of one group, ``M / groups`` (0 without weights)."""
        return self.M // self.groups if self.has_weights else 0

    @property
    def vectors(self) -> int:
        """Input vectors per image: one per output pixel (or token), ``E * F``."""
        return self.E * self.F

    @property
    def head_columns(self) -> int:
        """N of a matmul: outputs per head and query, ``M / heads`` (0 for other layers)."""
        return self.M // self.heads if self.type == "matmul" else 0

    @property
    def visible_keys(self) -> int:
        """Sum over the queries of the keys each sees: ``vectors * keys`` unless causally masked
        products are skipped; then query i (at position ``keys - queries + i``) sees
        ``keys - queries + i + 1`` keys (``L (L + 1) / 2`` for a prefill of L tokens)."""
        if self.type != "matmul":
            return 0
        queries = self.vectors
        if not (self.causal and self.skip_masked):
            return queries * self.keys
        offset = self.keys - queries
        return queries * offset + queries * (queries + 1) // 2

    @property
    def macs(self) -> int:
        """Multiply-accumulates per image: ``E * F * M * (C / groups) * R * S`` for weight layers;
        ``heads * K * N / keys * visible_keys`` for a matmul (``heads * L * Lk * d`` unmasked)."""
        if self.has_weights:
            return self.vectors * self.M * self.rows_per_group
        if self.type == "matmul":
            return self.heads * self.contraction * self.head_columns * self.visible_keys // self.keys
        return 0

    @property
    def weights(self) -> int:
        """Static weights on crossbars: ``M * (C / groups) * R * S`` (0 for other layers)."""
        return self.M * self.rows_per_group if self.has_weights else 0

    @property
    def params(self) -> int:
        """Parameters: weights and biases, normalization gains (and biases), embedding tables,
        prepended tokens (what a model's published parameter count counts)."""
        if self.has_weights:
            return (self.weights if self.tied < 0 else 0) + (self.M if self.bias else 0)
        if self.type == "layernorm":
            return 2 * self.C
        if self.type == "rmsnorm":
            return self.C
        if self.type == "embedding":
            return self.vocab * self.M
        if self.type == "tokens":
            return self.extra_tokens * self.C
        return 0

    @property
    def operand_elements(self) -> int:
        """Elements of a matmul's operand b (``keys * C_b``): what is written into arrays, or read
        by the digital unit, per image (0 for other layers)."""
        if self.type != "matmul":
            return 0
        per_head = self.contraction * self.head_columns  # K x N per head = keys x (features of b per head)
        return self.heads * per_head

    @property
    def input_elements(self) -> int:
        """Elements of one input feature map, ``H * W * C``."""
        return self.H * self.W * self.C

    @property
    def output_elements(self) -> int:
        """Elements of one output feature map, ``E * F * M``."""
        return self.E * self.F * self.M


@dataclass(frozen=True, kw_only=True)
class NetworkSpec(Spec):
    section_doc = "a DNN: input shape, default precisions, layers in order, and how sequences are run"

    version: int = param(Integer(1, 1), 1, "spec format version (1)", required=True)
    name: str = param(Text(), "network", "network name")
    input: InputSpec = param(Section(InputSpec), factory=lambda: InputSpec(H=1, W=1, C=1), doc="input shape",
                             required=True)
    input_bits: Optional[int] = param(_BITS, None, "default input precision (default: the arch's)")
    weight_bits: Optional[int] = param(_BITS, None, "default weight precision (default: the arch's)")
    output_bits: Optional[int] = param(_BITS, None, "default output precision (default: input precision)")
    sequence: SequenceSpec = param(Section(SequenceSpec), factory=SequenceSpec,
                                   doc="decoding and the context window (sequence models)")
    layers: Tuple[LayerSpec, ...] = param(Items(Section(LayerSpec), min_items=1), (LayerSpec(name="layer"),),
                                          "layers in execution order", required=True)

    def _validate(self) -> None:
        prefill = _resolve(self)  # raises ConfigError naming the layer and field at fault
        _check_sequence(self, prefill)
        if self.sequence.decode:  # the last decode step has the longest cache
            try:
                _resolve(self, self.sequence.decode - 1, prefill)
            except ConfigError as exc:
                hint = "; ".join(h for h in (exc.hint, f"in decode step {self.sequence.decode - 1}") if h)
                raise ConfigError(exc.path, exc.expected, exc.got, hint=hint) from None


class Network:
    """A resolved network: ``layers`` in order, with shapes, inputs and counts.

    ``phase`` is ``prefill`` (the network as written: one pass over its input) or ``decode``
    (step ``step`` of :meth:`decode_step`: one token against the caches)."""

    def __init__(self, spec: NetworkSpec, step: Optional[int] = None):
        self.spec = spec
        """The spec it was resolved from (``to_dict`` gives it back)."""
        self.name = spec.name
        """Network name."""
        self.step = step
        """Decode step (None: the prefill)."""
        if step is not None and not 0 <= step < spec.sequence.decode:
            raise ValueError(f"step: expected a decode step 0..{spec.sequence.decode - 1}, got {step}")
        self.layers: Tuple[Layer, ...] = _resolve(spec) if step is None else _resolve(spec, step, _resolve(spec))
        """Resolved layers in execution order."""

    @classmethod
    def from_dict(cls, data) -> "Network":
        return cls(NetworkSpec.from_dict(data))

    def to_dict(self):
        return self.spec.to_dict()

    def __eq__(self, other) -> bool:
        return isinstance(other, Network) and other.spec == self.spec and other.step == self.step

    def __hash__(self) -> int:
        return hash((self.spec, self.step))

    def __repr__(self) -> str:
        phase = "" if self.step is None else f", decode step {self.step}"
        return (f"Network({self.name!r}{phase}: {len(self.layers)} layers, {self.macs:,} MACs, "
                f"{self.weights:,} weights)")

    @property
    def phase(self) -> str:
        """``prefill`` (the first pass) or ``decode``."""
        return "prefill" if self.step is None else "decode"

    @property
    def decode_steps(self) -> int:
        """Decode steps after the prefill (``sequence.decode``)."""
        return self.spec.sequence.decode

    @property
    def prompt_tokens(self) -> Optional[int]:
        """Tokens of the prefill's input (the prompt), for a token input (H = 1); else None."""
        inp = self.spec.input
        return inp.W if inp.H == 1 else None

    @property
    def input_shape(self) -> Tuple[int, int, int]:
        """(H, W, C) of this phase's input: the spec's, or one token while decoding."""
        inp = self.spec.input
        return inp.H, (1 if self.step is not None else inp.W), inp.C

    def decode_step(self, step: int) -> "Network":
        """The network of decode step ``step`` (0-based): one token at position L + step, every
        cached product reading L + step + 1 keys."""
        return Network(self.spec, step)

    def layer(self, name: str) -> Layer:
        """The layer called ``name``."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer named {name!r} in {self.name}")

    @property
    def weight_layers(self) -> Tuple[Layer, ...]:
        """Conv, fc and linear layers."""
        return tuple(layer for layer in self.layers if layer.has_weights)

    @property
    def macs(self) -> int:
        """Multiply-accumulates per image (per pass: the prefill, or one decode step)."""
        return sum(layer.macs for layer in self.layers)

    @property
    def weights(self) -> int:
        """Static weights in all layers (what the crossbars hold)."""
        return sum(layer.weights for layer in self.layers)

    @property
    def params(self) -> int:
        """Parameters in all layers (weights, biases, norms, embedding tables, extra tokens)."""
        return sum(layer.params for layer in self.layers)

    def consumers(self) -> Dict[int, List[int]]:
        """For each layer index (and -1, the input), the indices of layers reading it."""
        readers: Dict[int, List[int]] = {i: [] for i in range(-1, len(self.layers))}
        for layer in self.layers:
            for source in layer.inputs:
                readers[source].append(layer.index)
        return readers


def _check_sequence(spec: NetworkSpec, layers: Tuple[Layer, ...]) -> None:
    """Decoding needs a token input and per-token layers; nothing may exceed the context window."""
    seq = spec.sequence
    tokens = spec.input.W if spec.input.H == 1 else None
    if seq.decode:
        if spec.input.H != 1:
            raise ConfigError(("input", "H"), "1 (a token sequence) in a network that decodes (sequence.decode > 0)",
                              spec.input.H)
        for layer in layers:
            if layer.type not in TOKEN_LAYER_TYPES:
                raise ConfigError(("layers", layer.index, "type"),
                                  f"a per-token layer ({', '.join(TOKEN_LAYER_TYPES)}) in a network that decodes "
                                  "(sequence.decode > 0)", layer.type)
    for layer in layers:
        if layer.type == "embedding" and layer.lookup == "position":
            last = layer.E * layer.F + seq.decode  # positions 0 .. prompt + decode - 1
            if last > layer.vocab:
                where = ("sequence", "decode") if seq.decode and layer.E * layer.F <= layer.vocab else \
                    ("layers", layer.index, "vocab")
                raise ConfigError(where, f"at most {layer.vocab} positions in all (the rows of "
                                  f"{layer.name!r}'s position table)",
                                  described(f"{layer.E * layer.F} + {seq.decode} decoded"))
    if seq.max_length is None:
        return
    if tokens is not None and tokens > seq.max_length:
        raise ConfigError(("input", "W"), f"a prompt of at most sequence.max_length = {seq.max_length} tokens", tokens)
    if tokens is not None and tokens + seq.decode > seq.max_length:
        raise ConfigError(("sequence", "decode"),
                          f"at most {seq.max_length - tokens} tokens (sequence.max_length {seq.max_length} minus a "
                          f"prompt of {tokens})", seq.decode)
    for layer in layers:
        if layer.type == "matmul" and layer.keys > seq.max_length:
            raise ConfigError(("layers", layer.index, "inputs", 1),
                              f"an operand of at most sequence.max_length = {seq.max_length} tokens", layer.keys)


def _resolve(spec: NetworkSpec, step: Optional[int] = None,
             prefill: Optional[Tuple[Layer, ...]] = None) -> Tuple[Layer, ...]:
    """Shapes and inputs of every layer, checked; ConfigError paths read ``layers[i].field``.

    With ``step`` (and the resolved ``prefill``), the layers of that decode step: the input is one
    token, cached products read the prefill's keys plus ``step + 1``."""
    names: Dict[str, int] = {}
    inp = spec.input
    decoding = step is not None
    position = inp.W + step if decoding else 0
    shapes: Dict[int, Tuple[int, int, int]] = {-1: (inp.H, 1 if decoding else inp.W, inp.C)}
    positions: Dict[int, int] = {-1: position}
    resolved: List[Layer] = []
    skip_masked = spec.sequence.masked_products == "skipped"
    for i, ls in enumerate(spec.layers):

        def fail(field, expected, got, hint=""):
            return ConfigError(("layers", i, field), expected, got, hint=hint)

        if ls.name in names:
            raise fail("name", "a name not used by an earlier layer", ls.name)
        if ls.inputs:
            sources = []
            for j, source in enumerate(ls.inputs):
                if source not in names:
                    raise ConfigError(("layers", i, "inputs", j), "the name of an earlier layer", source)
                sources.append(names[source])
        else:
            sources = [i - 1]
        if ls.type in ("add", "mul"):
            if len(sources) < 2:
                raise fail("inputs", f"at least two layers to {'add' if ls.type == 'add' else 'multiply'}",
                           list(ls.inputs) or described("one input"))
        elif ls.type == "matmul":
            if len(sources) != 2:
                raise fail("inputs", "exactly two layers [a, b] for a matmul",
                           list(ls.inputs) or described("one input"))
        elif len(sources) != 1:
            raise fail("inputs", f"exactly one input for {_a(ls.type)} layer", list(ls.inputs))
        H, W, C = shapes[sources[0]]
        if ls.type == "fc":  # an fc layer reads its input flattened
            H, W, C = 1, 1, H * W * C
        if not decoding:  # while decoding, the spec's shapes are the prefill's: not checked again
            for field, given, inferred in (("H", ls.H, H), ("W", ls.W, W), ("C", ls.C, C)):
                if given is not None and given != inferred:
                    where = spec.layers[sources[0]].name if sources[0] >= 0 else "the network input"
                    raise fail(field, f"{inferred} (from {where})", given)
        defaults = {"input_bits": ls.input_bits if ls.input_bits is not None else spec.input_bits,
                    "weight_bits": ls.weight_bits if ls.weight_bits is not None else spec.weight_bits}
        out_bits = ls.output_bits if ls.output_bits is not None else spec.output_bits
        if out_bits is None:
            out_bits = defaults["input_bits"]
        R = S = 1
        (stride, stride_w), (padding, padding_w), groups = ls.stride, ls.padding, ls.groups
        if ls.type in ("conv", "pool"):
            if ls.R is None:
                raise fail("R", f"the {'filter' if ls.type == 'conv' else 'window'} height", None)
            R = ls.R
            S = ls.S if ls.S is not None else ls.R
        elif ls.R not in (None, 1) or ls.S not in (None, 1):
            raise fail("R", f"1 or nothing for {_a(ls.type)} layer", ls.R)
        if ls.type not in ("conv", "pool") and (ls.stride != (1, 1) or ls.padding != (0, 0)):
            raise fail("stride", f"1 (and padding 0) for {_a(ls.type)} layer", ls.stride[0])
        if ls.bias and ls.type not in WEIGHT_LAYER_TYPES:
            raise fail("bias", f"false for {_a(ls.type)} layer (only {', '.join(WEIGHT_LAYER_TYPES)} have biases)",
                       ls.bias)
        _only(ls, i, "matmul", ("transpose_b", "cache", "causal"))
        _only(ls, i, "embedding", ("vocab",))
        tied = _tied(ls, i, names, resolved)
        _only(ls, i, "tokens", ("extra_tokens", "keep"))
        if ls.heads is not None and ls.type not in ("matmul", "softmax"):
            raise fail("heads", f"nothing for {_a(ls.type)} layer (only matmul and softmax have heads)", ls.heads)
        heads = ls.heads or 1
        keys = contraction = vocab = extra = 0
        E, F = H, W
        if ls.type in ("conv", "fc", "linear", "embedding"):
            if ls.M is None:
                what = {"conv": "the number of filters", "embedding": "the embedding width"}.get(
                    ls.type, "the number of output features")
                raise fail("M", what, None)
            M = ls.M
        elif ls.type == "matmul":
            M = C  # set below
        else:
            if ls.M is not None and ls.M != C:
                raise fail("M", f"{C} ({_a(ls.type)} layer keeps its channels)", ls.M)
            M = C
        if tied >= 0 and C != resolved[tied].M:
            raise fail("C", f"{resolved[tied].M} (the width of the tied table {ls.tied!r})", C)
        if ls.type not in ("conv",) and groups != 1:
            raise fail("groups", f"1 for {_a(ls.type)} layer", groups)
        if C % groups or M % groups:
            raise fail("groups", f"a divisor of C={C} and M={M}", groups)
        if ls.type in ("add", "mul"):
            for j, source in enumerate(sources[1:], start=1):
                if shapes[source] != (H, W, C):
                    raise ConfigError(("layers", i, "inputs", j),
                                      f"a layer whose output is {H}x{W}x{C} like the first input", ls.inputs[j],
                                      hint=f"it is {'x'.join(map(str, shapes[source]))}")
        elif ls.type == "matmul":
            M, keys, contraction = _matmul_shape(spec, ls, i, sources, shapes, heads, step, prefill)
        elif ls.type == "softmax":
            if C % heads:
                raise fail("heads", f"a divisor of C={C} (each head normalizes C / heads values)", heads)
        elif ls.type == "embedding":
            vocab = ls.vocab if ls.vocab is not None else 0
            if not vocab:
                raise fail("vocab", "the rows of the table (vocabulary size, or positions)", None)
            if ls.lookup == "token" and C != 1:
                raise fail("inputs", "token ids (an input with C = 1) for a token lookup",
                           list(ls.inputs) or described(f"an input of {H}x{W}x{C}"),
                           hint="lookup: position or segment looks up per token of any input")
        elif ls.type == "tokens":
            extra = ls.extra_tokens
            if decoding and extra:
                raise fail("extra_tokens", "0 in a network that decodes (a decode step holds one new token)", extra)
            count = H * W + extra
            if ls.keep is not None:
                if ls.keep > count:
                    raise fail("keep", f"at most the {count} tokens of the sequence", ls.keep)
                count = ls.keep
            E, F = 1, count
        elif ls.type in ("conv", "pool"):
            E = (H + 2 * padding - R) // stride + 1
            F = (W + 2 * padding_w - S) // stride_w + 1
            if E < 1 or F < 1 or R > H + 2 * padding or S > W + 2 * padding_w:
                raise fail("R", f"a window that fits the {H + 2 * padding}x{W + 2 * padding_w} padded input",
                           f"{R}x{S}")
        first = positions[sources[0]]  # a decode step's tokens keep their position
        if ls.type == "tokens" and not decoding:  # a new sequence: positions count from its start
            first = H * W + extra - F if ls.keep_from == "last" else 0
        layer = Layer(index=i, name=ls.name, type=ls.type, inputs=tuple(sources), H=H, W=W, C=C, R=R, S=S, M=M,
                      E=E, F=F, stride=stride, padding=padding, groups=groups, pool=ls.pool,
                      activation=ls.activation, input_bits=defaults["input_bits"],
                      weight_bits=defaults["weight_bits"] if ls.type in WEIGHT_LAYER_TYPES + ("matmul",) else None,
                      output_bits=out_bits, stride_w=stride_w, padding_w=padding_w, bias=ls.bias, heads=heads,
                      transpose_b=ls.transpose_b, cache=ls.cache, causal=ls.causal, skip_masked=skip_masked,
                      keys=keys, contraction=contraction, vocab=vocab, lookup=ls.lookup, extra_tokens=extra,
                      position=first, tied=tied, keep_from=ls.keep_from)
        names[ls.name] = i
        shapes[i] = (E, F, M)
        positions[i] = first
        resolved.append(layer)
    return tuple(resolved)


def _tied(ls: LayerSpec, i: int, names: Dict[str, int], resolved: List[Layer]) -> int:
    """Index of the embedding a linear or fc layer's weights are tied to (-1: none), checked."""
    if ls.tied is None:
        return -1
    if ls.type not in ("linear", "fc"):
        raise ConfigError(("layers", i, "tied"), f"nothing for {_a(ls.type)} layer (only linear and fc layers "
                          "can share an embedding's table)", ls.tied)
    table = resolved[names[ls.tied]] if ls.tied in names else None
    if table is None or table.type != "embedding":
        raise ConfigError(("layers", i, "tied"), "the name of an earlier embedding layer", ls.tied)
    if ls.M is not None and ls.M != table.vocab:
        raise ConfigError(("layers", i, "M"), f"{table.vocab} (the rows of the tied table {ls.tied!r})", ls.M)
    return table.index


def _a(kind: str) -> str:
    """``a conv``, ``an fc``: the article a layer kind takes."""
    return ("an " if kind[0] in "aeiouf" or kind.startswith("rms") else "a ") + kind


def _only(ls: LayerSpec, i: int, kind: str, fields: Tuple[str, ...]) -> None:
    """Fields meaningful for one layer kind must keep their defaults elsewhere."""
    if ls.type == kind:
        return
    for field in fields:
        value = getattr(ls, field)
        if value not in (None, False, 0):
            raise ConfigError(("layers", i, field), f"nothing for {_a(ls.type)} layer (a {kind} field)", value)


def _matmul_shape(spec, ls, i, sources, shapes, heads, step, prefill) -> Tuple[int, int, int]:
    """(M, keys, contraction) of a matmul, its operands checked."""
    (Ha, Wa, Ca), (Hb, Wb, Cb) = shapes[sources[0]], shapes[sources[1]]
    for j, (h, w, c) in enumerate(((Ha, Wa, Ca), (Hb, Wb, Cb))):
        if h != 1:
            raise ConfigError(("layers", i, "inputs", j), "a token sequence (H = 1)", ls.inputs[j],
                              hint=f"it is {h}x{w}x{c}; a tokens layer turns a feature map into one")
    keys = Wb
    if step is not None and ls.cache:
        keys = prefill[i].keys + step + 1  # the prefill's keys, then one more per decode step
    if Ca % heads:
        raise ConfigError(("layers", i, "heads"), f"a divisor of operand a's C={Ca} (the model width)", heads)
    if Cb % heads:
        raise ConfigError(("layers", i, "heads"), f"a divisor of operand b's C={Cb}", heads)
    if ls.transpose_b:
        if Ca != Cb:
            raise ConfigError(("layers", i, "inputs", 1),
                              f"a layer with C={Ca} like operand a (Q K^T: the same features per head)", ls.inputs[1],
                              hint=f"it has C={Cb}")
        contraction, columns = Ca // heads, keys
    else:
        if Ca // heads != keys:
            raise ConfigError(("layers", i, "inputs", 1),
                              f"a layer of {Ca // heads} tokens (operand a's C / heads), or transpose_b: true",
                              ls.inputs[1], hint=f"it has {keys}")
        contraction, columns = keys, Cb // heads
    if ls.causal and Wa > keys:
        raise ConfigError(("layers", i, "causal"), f"false: {Wa} queries cannot be causally masked against "
                          f"{keys} keys (more queries than keys)", ls.causal)
    return heads * columns, keys, contraction
