"""DNN workloads described by layer shapes, in the notation of Sze et al.

A layer reads an input of H x W x C and, for conv, applies M filters of R x S x (C/groups)
with a stride and zero padding, producing E x F x M (N, the batch, is a simulation
parameter). Fully connected layers are 1 x 1 convolutions over a flattened input; pooling
keeps channels; ``add`` sums equally shaped inputs (residual connections).

A :class:`NetworkSpec` is what a YAML file or dict says; :class:`Network` is its resolved
form, where every layer knows its shapes (inferred from its inputs when not given, checked
when given), its inputs by index, its bit widths, and its MAC and weight counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from ..config.fields import Choice, Integer, IntPair, Items, Maybe, Section, Spec, Text, param
from ..errors import ConfigError, described

__all__ = ["LayerSpec", "InputSpec", "NetworkSpec", "Layer", "Network", "WEIGHT_LAYER_TYPES"]

WEIGHT_LAYER_TYPES = ("conv", "fc")
_BITS = Maybe(Integer(1, 16))
_DIM = Maybe(Integer(1, 1 << 20))


@dataclass(frozen=True, kw_only=True)
class LayerSpec(Spec):
    section_doc = "one layer"

    name: str = param(Text(), "layer", "unique layer name", required=True)
    type: str = param(Choice("conv", "fc", "pool", "add"), "conv", "layer kind", required=True)
    inputs: Tuple[str, ...] = param(Items(Text()), (), "names of the layers it reads (default: the previous layer)")
    H: Optional[int] = param(_DIM, None, "input height (inferred from the input layer if omitted)")
    W: Optional[int] = param(_DIM, None, "input width (inferred if omitted)")
    C: Optional[int] = param(_DIM, None, "input channels, or input features of fc (inferred if omitted)")
    R: Optional[int] = param(_DIM, None, "filter or pooling window height (conv, pool)")
    S: Optional[int] = param(_DIM, None, "filter or pooling window width (default: R)")
    M: Optional[int] = param(_DIM, None, "output channels (conv) or features (fc)")
    stride: Tuple[int, int] = param(IntPair(1, 1 << 16), 1, "stride: one for both dimensions, or [h, w]")
    padding: Tuple[int, int] = param(IntPair(0, 1 << 16), 0,
                                     "zero padding on each side: one for both dimensions, or [h, w] "
                                     "(a 1-D signal is an H = 1 input with padding [0, p])")
    groups: int = param(Integer(1, 1 << 20), 1, "channel groups (C and M divisible by it; groups = C = M is depthwise)")
    pool: str = param(Choice("max", "avg"), "max", "pooling kind")
    activation: str = param(Choice("none", "relu"), "none", "activation applied to the output")
    input_bits: Optional[int] = param(_BITS, None, "input precision (default: the network's, then the arch's)")
    weight_bits: Optional[int] = param(_BITS, None, "weight precision (default: the network's, then the arch's)")
    output_bits: Optional[int] = param(_BITS, None, "output precision (default: the network's, then input_bits)")


@dataclass(frozen=True, kw_only=True)
class InputSpec(Spec):
    section_doc = "the network input"

    H: int = param(Integer(1, 1 << 20), 1, "height", required=True)
    W: int = param(Integer(1, 1 << 20), 1, "width", required=True)
    C: int = param(Integer(1, 1 << 20), 1, "channels", required=True)


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
    output_bits: Optional[int]
    stride_w: int = 1
    """Stride along W (columns)."""
    padding_w: int = 0
    """Zero padding along W (columns)."""

    @property
    def has_weights(self) -> bool:
        """Conv and fc layers hold weights and map onto crossbars."""
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
        """Input vectors per image: one per output pixel, ``E * F``."""
        return self.E * self.F

    @property
    def macs(self) -> int:
        """Multiply-accumulates per image: ``E * F * M * (C / groups) * R * S``."""
        return self.vectors * self.M * self.rows_per_group if self.has_weights else 0

    @property
    def weights(self) -> int:
        """Weights: ``M * (C / groups) * R * S``."""
        return self.M * self.rows_per_group if self.has_weights else 0

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
    section_doc = "a DNN: input shape, default precisions and layers in order"

    version: int = param(Integer(1, 1), 1, "spec format version (1)", required=True)
    name: str = param(Text(), "network", "network name")
    input: InputSpec = param(Section(InputSpec), factory=lambda: InputSpec(H=1, W=1, C=1), doc="input shape",
                             required=True)
    input_bits: Optional[int] = param(_BITS, None, "default input precision (default: the arch's)")
    weight_bits: Optional[int] = param(_BITS, None, "default weight precision (default: the arch's)")
    output_bits: Optional[int] = param(_BITS, None, "default output precision (default: input precision)")
    layers: Tuple[LayerSpec, ...] = param(Items(Section(LayerSpec), min_items=1), (LayerSpec(name="layer"),),
                                          "layers in execution order", required=True)

    def _validate(self) -> None:
        _resolve(self)  # raises ConfigError naming the layer and field at fault


class Network:
    """A resolved network: ``layers`` in order, with shapes, inputs and counts."""

    def __init__(self, spec: NetworkSpec):
        self.spec = spec
        """The spec it was resolved from (``to_dict`` gives it back)."""
        self.name = spec.name
        """Network name."""
        self.layers: Tuple[Layer, ...] = _resolve(spec)
        """Resolved layers in execution order."""

    @classmethod
    def from_dict(cls, data) -> "Network":
        return cls(NetworkSpec.from_dict(data))

    def to_dict(self):
        return self.spec.to_dict()

    def __eq__(self, other) -> bool:
        return isinstance(other, Network) and other.spec == self.spec

    def __hash__(self) -> int:
        return hash(self.spec)

    def __repr__(self) -> str:
        return f"Network({self.name!r}: {len(self.layers)} layers, {self.macs:,} MACs, {self.weights:,} weights)"

    def layer(self, name: str) -> Layer:
        """The layer called ``name``."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer named {name!r} in {self.name}")

    @property
    def weight_layers(self) -> Tuple[Layer, ...]:
        """Conv and fc layers."""
        return tuple(layer for layer in self.layers if layer.has_weights)

    @property
    def macs(self) -> int:
        """Multiply-accumulates per image."""
        return sum(layer.macs for layer in self.layers)

    @property
    def weights(self) -> int:
        """Weights in all layers."""
        return sum(layer.weights for layer in self.layers)

    def consumers(self) -> Dict[int, List[int]]:
        """For each layer index (and -1, the input), the indices of layers reading it."""
        readers: Dict[int, List[int]] = {i: [] for i in range(-1, len(self.layers))}
        for layer in self.layers:
            for source in layer.inputs:
                readers[source].append(layer.index)
        return readers


def _resolve(spec: NetworkSpec) -> Tuple[Layer, ...]:
    """Shapes and inputs of every layer, checked; ConfigError paths read ``layers[i].field``."""
    names: Dict[str, int] = {}
    shapes: Dict[int, Tuple[int, int, int]] = {-1: (spec.input.H, spec.input.W, spec.input.C)}
    resolved: List[Layer] = []
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
        if ls.type == "add":
            if len(sources) < 2:
                raise fail("inputs", "at least two layers to add", list(ls.inputs) or described("one input"))
        elif len(sources) != 1:
            raise fail("inputs", f"exactly one input for a {ls.type} layer", list(ls.inputs))
        H, W, C = shapes[sources[0]]
        if ls.type == "fc":  # an fc layer reads its input flattened
            H, W, C = 1, 1, H * W * C
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
            raise fail("R", f"1 or nothing for a {ls.type} layer", ls.R)
        if ls.type == "conv":
            if ls.M is None:
                raise fail("M", "the number of filters", None)
            M = ls.M
        elif ls.type == "fc":
            if ls.M is None:
                raise fail("M", "the number of output features", None)
            M = ls.M
            if ls.stride != (1, 1) or ls.padding != (0, 0):
                raise fail("stride", "1 (and padding 0) for an fc layer", ls.stride[0])
        else:
            if ls.M is not None and ls.M != C:
                raise fail("M", f"{C} (a {ls.type} layer keeps its channels)", ls.M)
            M = C
        if ls.type == "add":
            stride, stride_w, padding, padding_w = 1, 1, 0, 0
        if ls.type in ("pool", "add", "fc") and groups != 1:
            raise fail("groups", f"1 for a {ls.type} layer", groups)
        if C % groups or M % groups:
            raise fail("groups", f"a divisor of C={C} and M={M}", groups)
        if ls.type == "add":
            for j, source in enumerate(sources[1:], start=1):
                if shapes[source] != (H, W, C):
                    raise ConfigError(("layers", i, "inputs", j),
                                      f"a layer whose output is {H}x{W}x{C} like the first input", ls.inputs[j],
                                      hint=f"it is {'x'.join(map(str, shapes[source]))}")
            E, F = H, W
        else:
            E = (H + 2 * padding - R) // stride + 1
            F = (W + 2 * padding_w - S) // stride_w + 1
            if E < 1 or F < 1 or R > H + 2 * padding or S > W + 2 * padding_w:
                raise fail("R", f"a window that fits the {H + 2 * padding}x{W + 2 * padding_w} padded input",
                           f"{R}x{S}")
        layer = Layer(index=i, name=ls.name, type=ls.type, inputs=tuple(sources), H=H, W=W, C=C, R=R, S=S, M=M,
                      E=E, F=F, stride=stride, padding=padding, groups=groups, pool=ls.pool,
                      activation=ls.activation, input_bits=defaults["input_bits"],
                      weight_bits=defaults["weight_bits"] if ls.type in WEIGHT_LAYER_TYPES else None,
                      output_bits=out_bits, stride_w=stride_w, padding_w=padding_w)
        names[ls.name] = i
        shapes[i] = (E, F, M)
        resolved.append(layer)
    return tuple(resolved)
