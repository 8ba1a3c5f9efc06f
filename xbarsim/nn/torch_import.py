"""Import a PyTorch model as an xbarsim workload plus float weights (torch is optional).

The module is traced with ``torch.fx`` and run once on the example input, so every node's
shape (and every value computed from shapes, such as ``math.sqrt(d // heads)``) is known.
Supported nodes:

* ``Conv1d``/``Conv2d`` (stride, padding, groups, bias), ``Linear``: weight layers. 1-D layers
  become H = 1 layers with padding ``[0, p]``. ``Linear`` on a flat (N, F) tensor is ``fc``; on
  a token sequence (N, L, C) it is ``linear`` (applied to every token);
* ``BatchNorm1d``/``BatchNorm2d`` directly after a conv or linear layer, folded into it:
  ``w' = w * gamma / sqrt(var + eps)``, ``b' = (b - mean) * gamma / sqrt(var + eps) + beta``;
* ``ReLU`` (module, ``torch.relu``, ``F.relu``, ``.relu()``) on a value nothing else reads:
  the producing layer's activation; ``Tanh``/``torch.tanh`` likewise; ``GELU`` (exact, not
  ``approximate="tanh"``) and ``SiLU`` (modules or ``F.gelu``/``F.silu``): the producing weight
  layer's activation when nothing else reads it, else ``gelu``/``silu`` layers;
* ``MaxPool1d/2d``, ``AvgPool1d/2d``, ``AdaptiveAvgPool1d/2d`` to 1: pooling layers;
* ``+`` / ``torch.add``: residual adds; ``*`` / ``torch.mul`` of two tensors: ``mul``;
  ``Flatten``, ``flatten``, ``view``/``reshape`` to (N, -1), ``Dropout``, ``Identity``: no-ops.
  A tuple of outputs gives a multi-exit model.

Transformer layers, for token sequences laid out (N, L, C) as PyTorch's ``batch_first``:

* ``Embedding`` on token ids (an integer example input (N, L): the workload input is
  ``H = 1, W = L, C = 1``): ``embedding``;
* a learned parameter added to a sequence (``x + self.pos``, of shape (1, L, C) or (L, C)):
  a position ``embedding`` and an ``add``; ``torch.cat([cls.expand(N, -1, -1), x], dim=1)`` with a
  learned (1, k, C) parameter: a ``tokens`` layer with ``extra_tokens: k``;
* the ViT patch embedding ``conv(x).flatten(2).transpose(1, 2)``: the conv, then a ``tokens``
  layer (H x W positions, row by row; 1-D convs need none);
* ``x[:, 0]``, ``x[:, -1]``, ``x[:, :k]``, ``x[:, -k:]``: ``tokens`` with ``keep``;
  ``x.mean(dim=1)``: average pooling over the tokens;
* ``LayerNorm`` (and ``RMSNorm``) over the last dimension: ``layernorm`` (``rmsnorm``), their
  ``eps`` kept with the parameters; ``softmax`` over the last dimension (``nn.Softmax``,
  ``torch.softmax``, ``F.softmax``, ``.softmax``): ``softmax``, per head on attention scores;
* attention written out: per-head views ``q.view(N, L, h, d).transpose(1, 2)`` (or
  ``permute(0, 2, 1, 3)``), ``q @ k.transpose(-2, -1)`` (``torch.matmul``): a ``matmul`` with
  ``heads: h, transpose_b: true``; ``scores @ v``: a ``matmul``; back with ``.transpose(1,
  2).reshape(N, L, h d)``; a constant factor on q or on the scores (``/ math.sqrt(d)``) is
  folded into q's linear layer (which nothing else may read);
  ``F.scaled_dot_product_attention(q, k, v, is_causal=...)`` (no mask, no dropout) likewise,
  causal products marked ``causal: true``;
* ``MultiheadAttention`` (``batch_first=True``, no masks or extra key/value biases): q, k and v
  ``linear`` layers from its input projection (``1/sqrt(d/h)`` folded into q), the two products
  and the softmax, the output projection; ``TransformerEncoderLayer`` (``batch_first=True``,
  ReLU or GELU, pre- or post-norm) and ``TransformerEncoder`` are expanded into those layers,
  norms, residual adds and the feed-forward layers.

Anything else is refused with the node that could not be imported.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..workload.loader import load_workload
from .engine import Model
from ..errors import ArgumentError

__all__ = ["from_torch"]


@dataclass(frozen=True)
class _Value:
    """A tensor xbarsim tracks: the layer holding its data (``""``: the network input) and how
    PyTorch lays it out.

    Kinds: ``map`` (N, C, H, W) or (N, C, L); ``flat`` (N, F); ``ids`` (N, L) token ids; ``spatial``
    (N, C, H W), a 2-D map flattened; ``seq`` (N, L, C), and ``seq_t`` its transpose; ``split``
    (N, L, h, C/h); ``heads`` (N, h, L, C/h) and ``heads_t`` its transpose; ``scores`` (N, h, L,
    Lk); ``tuple`` (a MultiheadAttention result: ``name`` is its output)."""

    kind: str
    name: str
    heads: int = 1
    pending: bool = False
    """A ``seq`` whose layer still holds an H x W map (a tokens layer flattens it when needed)."""


@dataclass(frozen=True)
class _Ref:
    """A tracked value passed where an fx node is expected (inside expanded modules)."""

    value: _Value


def _perm(ndim: int, args, transpose: bool) -> Tuple[int, ...]:
    """The permutation of ``transpose(x, d0, d1)`` or ``permute(x, dims)``, normalized."""
    if transpose:
        d0, d1 = (int(a) % ndim for a in args[1:3])
        order = list(range(ndim))
        order[d0], order[d1] = order[d1], order[d0]
        return tuple(order)
    dims = args[1:] if len(args) > 2 else args[1]
    return tuple(int(d) % ndim for d in dims)


class _Import:
    def __init__(self, torch, gm, example, values):
        self.torch, self.nn, self.F = torch, torch.nn, torch.nn.functional
        self.gm = gm
        self.modules = dict(gm.named_modules())
        self.layers: List[Dict] = []
        self.weights: Dict[str, Dict[str, np.ndarray]] = {}
        self.value: Dict[object, _Value] = {}  # fx node -> tracked tensor
        self.concrete = values  # fx node -> its value on the example input
        self.one_d = example.dim() == 3
        self.folds: Dict[str, float] = {}  # linear layer -> factor folded into it
        self.fold_nodes: List[Tuple[object, str]] = []

    # -- bookkeeping ---------------------------------------------------------------------------

    def fail(self, node, what: str):
        return ArgumentError(f"from_torch: cannot import node {node.name!r} ({node.op} {node.target}): {what}")

    def tracked(self, node, arg) -> _Value:
        if isinstance(arg, _Ref):
            return arg.value
        try:
            return self.value[arg]
        except (KeyError, TypeError):
            raise self.fail(node, f"its input {arg} is not a tensor xbarsim tracks") from None

    def source(self, node, arg) -> str:
        return self.tracked(node, arg).name

    def shape(self, arg) -> Tuple[int, ...]:
        return tuple(self.concrete[arg].shape)

    def constant(self, arg):
        """A number the node computes from shapes or literals, or None."""
        if isinstance(arg, (int, float)) and not isinstance(arg, bool):
            return float(arg)
        if hasattr(arg, "op") and arg not in self.value:
            value = self.concrete.get(arg)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
            if isinstance(value, self.torch.Tensor) and value.numel() == 1 and value.dim() == 0:
                return float(value)
        return None

    def parameter(self, arg) -> Optional[np.ndarray]:
        """The value of a tensor computed only from parameters and constants, or None."""
        if hasattr(arg, "op") and arg not in self.value and isinstance(self.concrete.get(arg), self.torch.Tensor):
            return self.concrete[arg].detach().double().numpy()
        return None

    def add_layer(self, layer: Dict, inputs: List[str]) -> str:
        """Append a layer (renamed ``name_2``, ... if a module is called again); returns its name."""
        layer.setdefault("activation", "none")
        taken = {existing["name"] for existing in self.layers}
        base, count = layer["name"], 1
        while layer["name"] in taken:
            count += 1
            layer["name"] = f"{base}_{count}"
        previous = self.layers[-1]["name"] if self.layers else ""
        if inputs != [previous]:
            layer["inputs"] = [name if name else self._input_error() for name in inputs]
        self.layers.append(layer)
        return layer["name"]

    def _input_error(self):
        raise ArgumentError("from_torch: a layer other than the first reads the network input directly; "
                         "xbarsim workloads read the input only through their first layer")

    def layer(self, name: str) -> Dict:
        return next(layer for layer in self.layers if layer["name"] == name)

    def sole_reader(self, node) -> bool:
        return len(node.args) > 0 and len(node.args[0].users) == 1

    def pair(self, value):
        value = tuple(value) if isinstance(value, (tuple, list)) else (value,)
        return [0, value[0]] if self.one_d else list(value)

    def sequence(self, node, arg) -> _Value:
        """A token sequence (N, L, C), with a tokens layer flattening a 2-D map first if needed."""
        value = self.tracked(node, arg)
        if value.kind != "seq":
            raise self.fail(node, f"expected a token sequence (N, L, C), got a {value.kind} tensor")
        if value.pending:  # arg is an fx node: only those can be pending
            name = self.add_layer({"name": f"{arg.name}_tokens", "type": "tokens"}, [value.name])
            value = _Value("seq", name)
            self.value[arg] = value
        return value

    # -- CNN layers ------------------------------------------------------------------------------

    def conv(self, node, m) -> _Value:
        if self.tracked(node, node.args[0]).kind != "map":
            raise self.fail(node, "a convolution must read a feature map")
        name = node.target
        weight = m.weight.detach().double().numpy()
        if self.one_d:
            weight = weight[:, :, None, :]
        if isinstance(m.padding, str) or m.dilation not in ((1,), (1, 1)) or m.padding_mode != "zeros":
            raise self.fail(node, "only numeric zero padding without dilation is supported")
        stride = [1, m.stride[0]] if self.one_d else list(m.stride)
        padding = [0, m.padding[0]] if self.one_d else list(m.padding)
        layer = {"name": name, "type": "conv", "M": int(m.out_channels), "R": int(weight.shape[2]),
                 "S": int(weight.shape[3]), "stride": stride, "padding": padding, "groups": int(m.groups)}
        bias = m.bias.detach().double().numpy() if m.bias is not None else np.zeros(m.out_channels)
        name = self.add_layer(layer, [self.source(node, node.args[0])])
        self.weights[name] = {"weight": weight, "bias": bias}
        return _Value("map", name)

    def linear(self, node, m) -> _Value:
        name = node.target
        bias = m.bias.detach().double().numpy() if m.bias is not None else np.zeros(m.out_features)
        kind = self.tracked(node, node.args[0]).kind
        if kind == "seq":
            source = self.sequence(node, node.args[0]).name
            layer = {"name": name, "type": "linear", "M": int(m.out_features), "bias": m.bias is not None}
        elif kind in ("flat", "map") and len(self.shape(node.args[0])) == 2:
            source, layer = self.source(node, node.args[0]), {"name": name, "type": "fc", "M": int(m.out_features)}
        else:
            raise self.fail(node, f"Linear reads a flat (N, F) tensor or a token sequence (N, L, C), got a "
                            f"{kind} tensor of shape {self.shape(node.args[0])}")
        name = self.add_layer(layer, [source])
        self.weights[name] = {"weight": m.weight.detach().double().numpy(), "bias": bias}
        return _Value("seq" if kind == "seq" else "flat", name)

    def batchnorm(self, node, m) -> _Value:
        value = self.tracked(node, node.args[0])
        producer = value.name
        if producer not in self.weights or not self.sole_reader(node) or self.layer(producer)["activation"] != "none":
            raise self.fail(node, "batch norm must directly follow a conv or linear layer that nothing else reads")
        scale = (m.weight.detach().double() / self.torch.sqrt(m.running_var.double() + m.eps)).numpy()
        entry = self.weights[producer]
        shape = (-1,) + (1,) * (entry["weight"].ndim - 1)
        entry["weight"] = entry["weight"] * scale.reshape(shape)
        entry["bias"] = (entry["bias"] - m.running_mean.double().numpy()) * scale + m.bias.detach().double().numpy()
        return value

    def relu(self, node) -> _Value:
        return self.fuse(node, "relu", standalone=False)

    def fuse(self, node, kind: str, standalone: bool) -> _Value:
        """An activation fused into the layer producing its input, or (``standalone``) a layer."""
        value = self.tracked(node, node.args[0])
        producer = value.name
        fusable = bool(producer) and not value.pending and self.sole_reader(node) and \
            self.layer(producer)["activation"] == "none"
        if kind != "relu":  # gelu, silu, tanh: only weight layers apply them (relu: any layer, as before)
            fusable = fusable and self.layer(producer)["type"] in ("conv", "fc", "linear")
        if fusable:
            self.layer(producer)["activation"] = kind
            return value
        if not standalone:
            what = "ReLU" if kind == "relu" else kind
            raise self.fail(node, f"{what} must follow a layer whose output nothing else reads")
        if value.kind not in ("map", "flat", "seq"):
            raise self.fail(node, f"{kind} of a {value.kind} tensor is not supported")
        source = self.sequence(node, node.args[0]).name if value.kind == "seq" else producer
        return _Value(value.kind, self.add_layer({"name": node.name, "type": kind}, [source]))

    def pool(self, node, m, kind: str) -> _Value:
        if self.tracked(node, node.args[0]).kind != "map":
            raise self.fail(node, "pooling must read a feature map")
        source = self.source(node, node.args[0])
        shape = tuple(node.args[0].meta["tensor_meta"].shape)
        if isinstance(m, (self.nn.AdaptiveAvgPool1d, self.nn.AdaptiveAvgPool2d)):
            target = m.output_size if isinstance(m.output_size, (tuple, list)) else (m.output_size,)
            if any(t not in (1, None) for t in target):
                raise self.fail(node, "adaptive pooling is supported to size 1 only")
            window = [1, shape[-1]] if self.one_d else [shape[-2], shape[-1]]
            layer = {"R": window[0], "S": window[1], "stride": window, "padding": 0}
        else:
            kernel = m.kernel_size if isinstance(m.kernel_size, (tuple, list)) else (m.kernel_size,) * (1 if self.one_d else 2)
            stride = m.stride if m.stride is not None else kernel
            stride = stride if isinstance(stride, (tuple, list)) else (stride,) * len(kernel)
            padding = m.padding if isinstance(m.padding, (tuple, list)) else (m.padding,) * len(kernel)
            if getattr(m, "ceil_mode", False) or getattr(m, "dilation", 1) not in (1, (1, 1)):
                raise self.fail(node, "ceil_mode and dilation are not supported")
            if kind == "avg" and any(padding) and not m.count_include_pad:
                raise self.fail(node, "padded average pooling must count the padding (count_include_pad=True)")
            if self.one_d:
                layer = {"R": 1, "S": kernel[0], "stride": [1, stride[0]], "padding": [0, padding[0]]}
            else:
                layer = {"R": kernel[0], "S": kernel[1], "stride": list(stride), "padding": list(padding)}
        layer.update({"name": node.name, "type": "pool", "pool": kind})
        return _Value("map", self.add_layer(layer, [source]))

    def elementwise(self, node, kind: str) -> _Value:
        """``a + b`` (residual add) or ``a * b`` of two tensors laid out alike."""
        if len(node.args) != 2 or node.kwargs:
            raise self.fail(node, f"only a {'+' if kind == 'add' else '*'} b of two tensors is supported")
        values = [self.tracked(node, arg) for arg in node.args]
        kinds = {v.kind for v in values}
        if len(kinds) != 1 or not kinds <= {"map", "flat", "seq"} or self.shape(node.args[0]) != self.shape(node.args[1]):
            raise self.fail(node, "both operands must be feature maps, flat tensors or token sequences of one shape")
        kind_in = values[0].kind
        sources = [self.sequence(node, arg).name if kind_in == "seq" else self.source(node, arg) for arg in node.args]
        return _Value(kind_in, self.add_layer({"name": node.name, "type": kind}, sources))

    # -- transformer layers ----------------------------------------------------------------------

    def embedding(self, node, m) -> _Value:
        if self.tracked(node, node.args[0]).kind != "ids":
            raise self.fail(node, "an embedding must read token ids (an integer example input of shape (N, L))")
        if m.max_norm is not None:
            raise self.fail(node, "max_norm is not supported")
        layer = {"name": node.target, "type": "embedding", "vocab": int(m.num_embeddings), "M": int(m.embedding_dim)}
        name = self.add_layer(layer, [self.source(node, node.args[0])])
        self.weights[name] = {"weight": m.weight.detach().double().numpy()}
        return _Value("seq", name)

    def norm(self, node, m, kind: str) -> _Value:
        value = self.tracked(node, node.args[0])
        shape = self.shape(node.args[0])
        if value.kind not in ("seq", "flat") or tuple(m.normalized_shape) != (shape[-1],):
            raise self.fail(node, f"{type(m).__name__} must normalize the features of a token sequence or a "
                            "flat tensor (normalized_shape = its last dimension)")
        c = shape[-1]
        weight = m.weight.detach().double().numpy() if m.weight is not None else np.ones(c)
        if kind == "layernorm":
            bias = getattr(m, "bias", None)
            entry = {"weight": weight, "bias": bias.detach().double().numpy() if bias is not None else np.zeros(c),
                     "eps": np.array(float(m.eps))}
        else:  # RMSNorm: eps None means the input dtype's machine epsilon (float32 here)
            eps = m.eps if m.eps is not None else float(self.torch.finfo(self.torch.float32).eps)
            entry = {"weight": weight, "eps": np.array(float(eps))}
        source = self.sequence(node, node.args[0]).name if value.kind == "seq" else value.name
        name = self.add_layer({"name": node.target, "type": kind}, [source])
        self.weights[name] = entry
        return _Value(value.kind, name)

    def softmax(self, node, dim) -> _Value:
        value = self.tracked(node, node.args[0])
        ndim = len(self.shape(node.args[0]))
        if dim is None or int(dim) % ndim != ndim - 1:
            raise self.fail(node, "softmax is supported over the last dimension only")
        if value.kind not in ("scores", "seq", "flat"):
            raise self.fail(node, f"softmax of a {value.kind} tensor is not supported")
        source = self.sequence(node, node.args[0]).name if value.kind == "seq" else value.name
        layer = {"name": node.name, "type": "softmax"}
        if value.heads > 1:
            layer["heads"] = value.heads
        return _Value(value.kind, self.add_layer(layer, [source]), heads=value.heads)

    def matmul(self, node, a_arg, b_arg, causal: bool = False, name: Optional[str] = None) -> _Value:
        a, b = self.tracked(node, a_arg), self.tracked(node, b_arg)
        name = name or node.name
        if a.kind in ("heads", "seq") and b.kind in ("heads_t", "seq_t") and a.heads == b.heads:
            qa = self.sequence(node, a_arg).name if a.kind == "seq" else a.name
            layer = {"name": name, "type": "matmul", "transpose_b": True}
            kind = "scores"
        elif a.kind == "scores" and b.kind in ("heads", "seq") and a.heads == b.heads:
            qa = a.name
            layer = {"name": name, "type": "matmul"}
            kind = "heads" if b.kind == "heads" else "seq"
        else:
            raise self.fail(node, f"a product of a {a.kind} and a {b.kind} tensor is not an attention product "
                            "(q @ k.transpose(-2, -1) per head, then scores @ v)")
        kb = b.name if b.kind != "seq" else self.sequence(node, b_arg).name
        if a.heads > 1:
            layer["heads"] = a.heads
        if causal:
            layer["causal"] = True
        return _Value(kind, self.add_layer(layer, [qa, kb]), heads=a.heads)

    def scale(self, node, arg, factor: float) -> _Value:
        """A constant factor on q (heads or sequence of a linear layer) or on Q K^T: folded into q's
        linear layer (checked at the end: nothing else may read it)."""
        value = self.tracked(node, arg)
        if len(arg.users) != 1:
            raise self.fail(node, "a scaled value must have no other reader")
        if value.kind == "scores":
            target = self.layer(value.name)
            if target["type"] != "matmul" or not target.get("transpose_b"):
                raise self.fail(node, "only the scores q @ k^T themselves can be scaled (before the softmax)")
            target_name = target.get("inputs", [self.layers[self.layers.index(target) - 1]["name"]])[0]
        elif value.kind in ("heads", "seq", "split"):
            target_name = value.name
        else:
            raise self.fail(node, f"a constant factor on a {value.kind} tensor is not supported")
        if target_name not in self.weights or self.layer(target_name)["type"] != "linear" or \
                self.layer(target_name)["activation"] != "none":
            raise self.fail(node, "a constant factor must be folded into a linear layer producing q, but q is not "
                            "the output of a linear layer without activation")
        self.folds[target_name] = self.folds.get(target_name, 1.0) * factor
        self.fold_nodes.append((node, target_name))
        return value

    def reshape(self, node, out_shape) -> _Value:
        value = self.tracked(node, node.args[0])
        in_shape = self.shape(node.args[0])
        out_shape = tuple(out_shape)
        if value.kind in ("map", "flat") and len(out_shape) == 2:
            return _Value("flat", value.name)
        if value.kind == "seq" and len(out_shape) == 4 and out_shape[:2] == in_shape[:2] and \
                out_shape[2] * out_shape[3] == in_shape[2]:
            return _Value("split", self.sequence(node, node.args[0]).name, heads=out_shape[2])
        if value.kind == "split" and len(out_shape) == 3 and out_shape[:2] == in_shape[:2]:
            return _Value("seq", value.name)
        if value.kind == "seq" and out_shape == in_shape:
            return value
        raise self.fail(node, f"reshaping a {value.kind} tensor {in_shape} to {out_shape} is not supported")

    def flatten(self, node, start: int) -> _Value:
        value = self.tracked(node, node.args[0])
        in_shape = self.shape(node.args[0])
        start %= len(in_shape)
        if value.kind in ("map", "flat") and start == 1:
            return _Value("flat", value.name)
        if value.kind == "map" and start == 2 and len(in_shape) == 4:
            return _Value("spatial", value.name, pending=in_shape[2] > 1)
        if value.kind == "split" and start == 2:
            return _Value("seq", value.name)
        raise self.fail(node, f"flattening a {value.kind} tensor from dimension {start} is not supported")

    def permute(self, node, order: Tuple[int, ...]) -> _Value:
        value = self.tracked(node, node.args[0])
        if order == tuple(range(len(order))):
            return value
        moves = {("spatial", (0, 2, 1)): "seq", ("seq", (0, 2, 1)): "seq_t", ("seq_t", (0, 2, 1)): "seq",
                 ("split", (0, 2, 1, 3)): "heads", ("heads", (0, 2, 1, 3)): "split",
                 ("heads", (0, 1, 3, 2)): "heads_t", ("heads_t", (0, 1, 3, 2)): "heads"}
        kind = value.kind
        if kind == "seq" and value.pending:  # a transposed 2-D map: flattened into tokens first
            value = self.sequence(node, node.args[0])
        if kind == "map" and self.one_d and order == (0, 2, 1):  # (N, C, L) signals -> (N, L, C) tokens
            kind = "spatial"
        target = moves.get((kind, order))
        if target is None:
            raise self.fail(node, f"permuting a {value.kind} tensor by {order} is not supported")
        return replace(value, kind=target)

    def select(self, node, index) -> _Value:
        """``x[:, i]`` or ``x[:, a:b]`` on a token sequence: a tokens layer keeping them."""
        value = self.tracked(node, node.args[0])
        if value.kind == "tuple":
            if index != 0:
                raise self.fail(node, "only the output (item 0) of MultiheadAttention is supported")
            return _Value("seq", value.name)
        length = self.shape(node.args[0])[1] if value.kind == "seq" else 0
        index = index if isinstance(index, tuple) else (index,)
        rest = index[2:]
        if value.kind != "seq" or len(index) < 2 or index[0] != slice(None) or any(r != slice(None) for r in rest):
            raise self.fail(node, "only x[:, i] and x[:, a:b] on token sequences are supported")
        pick = index[1]
        if isinstance(pick, int):
            keep, kind = 1, "flat"
            first = pick % length == 0
            if not first and pick % length != length - 1:
                raise self.fail(node, "only the first or the last token can be selected")
        elif isinstance(pick, slice) and pick.step in (None, 1):
            lo, hi, _ = pick.indices(length)
            keep, kind = hi - lo, "seq"
            first = lo == 0
            if keep < 1 or not (first or hi == length):
                raise self.fail(node, "only the first or the last tokens can be kept")
        else:
            raise self.fail(node, f"selecting tokens by {pick!r} is not supported")
        layer = {"name": node.name, "type": "tokens", "keep": keep}
        if not first:
            layer["keep_from"] = "last"
        return _Value(kind, self.add_layer(layer, [self.sequence(node, node.args[0]).name]))

    def mean(self, node, dims, keepdim) -> _Value:
        value = self.tracked(node, node.args[0])
        dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
        if value.kind != "seq" or keepdim or len(dims) != 1 or int(dims[0]) % 3 != 1:
            raise self.fail(node, "only the mean over the tokens of a sequence, x.mean(dim=1), is supported")
        length = self.shape(node.args[0])[1]
        layer = {"name": node.name, "type": "pool", "pool": "avg", "R": 1, "S": length, "stride": [1, length]}
        return _Value("flat", self.add_layer(layer, [self.sequence(node, node.args[0]).name]))

    def concatenate(self, node, items, dim) -> _Value:
        """``torch.cat([learned, x], dim=1)``: learned tokens prepended to a sequence."""
        if len(items) != 2 or int(dim) % 3 != 1:
            raise self.fail(node, "only torch.cat([learned_tokens, x], dim=1) is supported")
        learned = self.parameter(items[0])
        value = self.tracked(node, items[1])
        if learned is None or value.kind != "seq" or learned.ndim != 3 or not np.allclose(learned, learned[:1]):
            raise self.fail(node, "only learned tokens (a parameter of shape (1, k, C), expanded to the batch) "
                            "prepended to a token sequence are supported")
        layer = {"name": node.name, "type": "tokens", "extra_tokens": int(learned.shape[1])}
        name = self.add_layer(layer, [value.name])  # a pending 2-D map is flattened by this layer itself
        self.weights[name] = {"weight": learned[0]}
        return _Value("seq", name)

    def add(self, node) -> _Value:
        """A residual add, or a learned (1, L, C) parameter added to a sequence (position embedding)."""
        table = [self.parameter(arg) for arg in node.args[:2]]
        if len(node.args) == 2 and not node.kwargs and sum(t is not None for t in table) == 1:
            j = 0 if table[0] is None else 1
            table = table[1 - j]
            value = self.tracked(node, node.args[j])
            length, width = self.shape(node.args[j])[1:] if value.kind == "seq" else (0, 0)
            if value.kind != "seq" or table.reshape(-1).size != length * width or table.shape[-2:] != (length, width):
                raise self.fail(node, "only a learned (1, L, C) parameter added to a token sequence (a position "
                                "embedding) is supported")
            source = self.sequence(node, node.args[j]).name
            pos = self.add_layer({"name": f"{node.name}_position", "type": "embedding", "lookup": "position",
                                  "vocab": length, "M": width}, [source])
            self.weights[pos] = {"weight": table.reshape(length, width)}
            return _Value("seq", self.add_layer({"name": node.name, "type": "add"}, [source, pos]))
        return self.elementwise(node, "add")

    def attention(self, node, m, query, key, value, prefix: str) -> _Value:
        """nn.MultiheadAttention as q, k, v linear layers, Q K^T, softmax, attention x V, projection."""
        nn = self.nn
        if not m.batch_first:
            raise self.fail(node, "MultiheadAttention needs batch_first=True ((N, L, C) sequences)")
        if not m._qkv_same_embed_dim or m.bias_k is not None or m.add_zero_attn:
            raise self.fail(node, "MultiheadAttention with separate key/value sizes, bias_k/bias_v or add_zero_attn "
                            "is not supported")
        d, h = int(m.embed_dim), int(m.num_heads)
        weight = m.in_proj_weight.detach().double().numpy()
        bias = m.in_proj_bias.detach().double().numpy() if m.in_proj_bias is not None else np.zeros(3 * d)
        names = []
        for i, (part, arg) in enumerate((("q", query), ("k", key), ("v", value))):
            w, b = weight[i * d:(i + 1) * d], bias[i * d:(i + 1) * d]
            if part == "q":  # softmax(q k^T / sqrt(d/h)): the scale folded into q
                w, b = w / math.sqrt(d // h), b / math.sqrt(d // h)
            name = self.add_layer({"name": f"{prefix}.{part}", "type": "linear", "M": d,
                                   "bias": m.in_proj_bias is not None}, [self.sequence(node, arg).name])
            self.weights[name] = {"weight": w, "bias": b}
            names.append(name)
        heads = {"heads": h} if h > 1 else {}
        scores = self.add_layer({"name": f"{prefix}.qk", "type": "matmul", "transpose_b": True, **heads},
                                [names[0], names[1]])
        probs = self.add_layer({"name": f"{prefix}.softmax", "type": "softmax", **heads}, [scores])
        out = self.add_layer({"name": f"{prefix}.av", "type": "matmul", **heads}, [probs, names[2]])
        proj: nn.Linear = m.out_proj
        name = self.add_layer({"name": f"{prefix}.out_proj", "type": "linear", "M": d,
                               "bias": proj.bias is not None}, [out])
        self.weights[name] = {"weight": proj.weight.detach().double().numpy(),
                              "bias": proj.bias.detach().double().numpy() if proj.bias is not None else np.zeros(d)}
        return _Value("seq", name)

    def encoder_layer(self, node, m, arg, prefix: str) -> str:
        """nn.TransformerEncoderLayer: attention and feed-forward blocks with residuals and norms."""
        F = self.F
        if not m.self_attn.batch_first:
            raise self.fail(node, "TransformerEncoderLayer needs batch_first=True")
        act = m.activation
        kind = "relu" if act in (F.relu,) or isinstance(act, self.nn.ReLU) else \
            "gelu" if act in (F.gelu,) or (isinstance(act, self.nn.GELU) and act.approximate == "none") else None
        if kind is None:
            raise self.fail(node, "TransformerEncoderLayer's activation must be ReLU or exact GELU")
        source = self.sequence(node, arg).name

        def norm(norm_module, x, name):
            entry = {"weight": norm_module.weight.detach().double().numpy(),
                     "bias": norm_module.bias.detach().double().numpy(), "eps": np.array(float(norm_module.eps))}
            out = self.add_layer({"name": name, "type": "layernorm"}, [x])
            self.weights[out] = entry
            return out

        def block_attention(x):
            return self.attention(node, m.self_attn, *(_Ref(_Value("seq", x)),) * 3, prefix=f"{prefix}.self_attn").name

        def feed_forward(x):
            first = self.add_layer({"name": f"{prefix}.linear1", "type": "linear", "M": int(m.linear1.out_features),
                                    "bias": True, "activation": kind}, [x])
            second = self.add_layer({"name": f"{prefix}.linear2", "type": "linear", "M": int(m.linear2.out_features),
                                     "bias": True}, [first])
            for name, lin in ((first, m.linear1), (second, m.linear2)):
                self.weights[name] = {"weight": lin.weight.detach().double().numpy(),
                                      "bias": lin.bias.detach().double().numpy()}
            return second

        if m.norm_first:
            attn = block_attention(norm(m.norm1, source, f"{prefix}.norm1"))
            mid = self.add_layer({"name": f"{prefix}.add1", "type": "add"}, [source, attn])
            ff = feed_forward(norm(m.norm2, mid, f"{prefix}.norm2"))
            return self.add_layer({"name": f"{prefix}.add2", "type": "add"}, [mid, ff])
        attn = block_attention(source)
        mid = norm(m.norm1, self.add_layer({"name": f"{prefix}.add1", "type": "add"}, [source, attn]),
                   f"{prefix}.norm1")
        ff = feed_forward(mid)
        return norm(m.norm2, self.add_layer({"name": f"{prefix}.add2", "type": "add"}, [mid, ff]), f"{prefix}.norm2")

    # -- the graph ---------------------------------------------------------------------------------

    def module(self, node, m) -> _Value:
        nn = self.nn
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            return self.conv(node, m)
        if isinstance(m, nn.Linear):
            return self.linear(node, m)
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            return self.batchnorm(node, m)
        if isinstance(m, nn.ReLU):
            return self.relu(node)
        if isinstance(m, nn.Tanh):
            return self.fuse(node, "tanh", standalone=False)
        if isinstance(m, nn.GELU):
            if m.approximate != "none":
                raise self.fail(node, "only the exact GELU is supported (approximate='none'), got "
                                f"approximate={m.approximate!r}")
            return self.fuse(node, "gelu", standalone=True)
        if isinstance(m, nn.SiLU):
            return self.fuse(node, "silu", standalone=True)
        if isinstance(m, (nn.MaxPool1d, nn.MaxPool2d)):
            return self.pool(node, m, "max")
        if isinstance(m, (nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)):
            return self.pool(node, m, "avg")
        if isinstance(m, nn.Flatten):
            return self.flatten(node, m.start_dim) if m.end_dim == -1 else self._unsupported(node, "Flatten end_dim")
        if isinstance(m, (nn.Dropout, nn.Identity)):
            return self.tracked(node, node.args[0])
        if isinstance(m, nn.LayerNorm):
            return self.norm(node, m, "layernorm")
        if hasattr(nn, "RMSNorm") and isinstance(m, nn.RMSNorm):
            return self.norm(node, m, "rmsnorm")
        if isinstance(m, nn.Softmax):
            return self.softmax(node, m.dim)
        if isinstance(m, nn.Embedding):
            return self.embedding(node, m)
        if isinstance(m, nn.MultiheadAttention):
            args = list(node.args) + [node.kwargs.get(k) for k in ("query", "key", "value")[len(node.args):]]
            extra = {k: v for k, v in node.kwargs.items() if k not in ("query", "key", "value", "need_weights",
                                                                      "average_attn_weights")}
            if any(v not in (None, False) for v in extra.values()) or len(args) < 3:
                raise self.fail(node, "MultiheadAttention(query, key, value) without masks is supported")
            out = self.attention(node, m, args[0], args[1], args[2], prefix=node.target)
            return _Value("tuple", out.name)
        if isinstance(m, (nn.TransformerEncoderLayer, nn.TransformerEncoder)):
            if node.kwargs and any(v not in (None, False) for v in node.kwargs.values()) or len(node.args) != 1:
                raise self.fail(node, f"{type(m).__name__}(x) without masks is supported")
            arg = node.args[0]
            if isinstance(m, nn.TransformerEncoderLayer):
                return _Value("seq", self.encoder_layer(node, m, arg, node.target))
            name = self.sequence(node, arg).name
            for i, block in enumerate(m.layers):
                name = self.encoder_layer(node, block, _Ref(_Value("seq", name)), f"{node.target}.layers.{i}")
            if m.norm is not None:
                entry = {"weight": m.norm.weight.detach().double().numpy(),
                         "bias": m.norm.bias.detach().double().numpy(), "eps": np.array(float(m.norm.eps))}
                name = self.add_layer({"name": f"{node.target}.norm", "type": "layernorm"}, [name])
                self.weights[name] = entry
            return _Value("seq", name)
        raise self.fail(node, f"module {type(m).__name__} is not supported")

    def _unsupported(self, node, what):
        raise self.fail(node, f"{what} is not supported")

    def function(self, node) -> Optional[_Value]:
        torch, F = self.torch, self.F
        target, args, kwargs = node.target, node.args, node.kwargs
        if target in (operator.add, torch.add):
            return self.add(node)
        if target in (operator.mul, torch.mul, operator.truediv, torch.div):
            factor = self.constant(args[1]) if len(args) == 2 else None
            if factor is None and target in (operator.mul, torch.mul) and len(args) == 2 and \
                    self.constant(args[0]) is not None and args[1] in self.value:
                return self.scale(node, args[1], self.constant(args[0]))  # c * x
            if factor is not None and not kwargs:
                return self.scale(node, args[0], factor if target in (operator.mul, torch.mul) else 1.0 / factor)
            if target in (operator.mul, torch.mul):
                return self.elementwise(node, "mul")
            raise self.fail(node, "only division by a constant is supported")
        if target in (torch.relu, F.relu):
            return self.relu(node)
        if target is torch.tanh:
            return self.fuse(node, "tanh", standalone=False)
        if target is F.gelu:
            if kwargs.get("approximate", "none") != "none":
                raise self.fail(node, "only the exact GELU is supported (approximate='none')")
            return self.fuse(node, "gelu", standalone=True)
        if target is F.silu:
            return self.fuse(node, "silu", standalone=True)
        if target is torch.flatten:
            return self.flatten(node, args[1] if len(args) > 1 else kwargs.get("start_dim", 0))
        if target in (torch.softmax, F.softmax):
            return self.softmax(node, args[1] if len(args) > 1 else kwargs.get("dim"))
        if target in (operator.matmul, torch.matmul):
            return self.matmul(node, args[0], args[1])
        if target is F.scaled_dot_product_attention:
            return self.sdpa(node)
        if target is torch.cat:
            return self.concatenate(node, args[0], args[1] if len(args) > 1 else kwargs.get("dim", 0))
        if target is operator.getitem:
            return self.select(node, args[1])
        if target in (torch.transpose, torch.permute):
            return self.permute(node, _perm(len(self.shape(args[0])), args, target is torch.transpose))
        if target is torch.mean:
            return self.mean(node, args[1] if len(args) > 1 else kwargs.get("dim"), kwargs.get("keepdim", False))
        raise self.fail(node, "function not supported")

    def sdpa(self, node) -> _Value:
        names = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale")
        given = dict(zip(names, node.args))
        given.update(node.kwargs)
        if given.get("attn_mask") is not None or given.get("dropout_p", 0.0) not in (0, 0.0) or \
                set(given) - set(names) - {"enable_gqa"} or given.get("enable_gqa", False):
            raise self.fail(node, "scaled_dot_product_attention without attn_mask or dropout is supported")
        q, k, v = given["query"], given["key"], given["value"]
        for arg in (q, k, v):
            if self.tracked(node, arg).kind != "heads":
                raise self.fail(node, "q, k and v must be per-head views (N, h, L, d)")
        factor = given.get("scale")
        factor = 1.0 / math.sqrt(self.shape(q)[-1]) if factor is None else float(factor)
        q_name = self.tracked(node, q).name
        if q_name not in self.weights or self.layer(q_name)["type"] != "linear" or self.layer(q_name)["activation"] != "none":
            raise self.fail(node, "q must be the output of a linear layer (its scale is folded into it)")
        self.folds[q_name] = self.folds.get(q_name, 1.0) * factor
        self.fold_nodes.append((node, q_name))
        causal = bool(given.get("is_causal", False))
        k_t = _Ref(replace(self.tracked(node, k), kind="heads_t"))
        scores = self.matmul(node, q, k_t, causal=causal, name=f"{node.name}.qk")
        heads = {"heads": scores.heads} if scores.heads > 1 else {}
        probs = self.add_layer({"name": f"{node.name}.softmax", "type": "softmax", **heads}, [scores.name])
        return self.matmul(node, _Ref(_Value("scores", probs, heads=scores.heads)), v, causal=causal,
                           name=f"{node.name}.av")

    def method(self, node) -> Optional[_Value]:
        target, args, kwargs = node.target, node.args, node.kwargs
        if target == "relu":
            return self.relu(node)
        if target in ("view", "reshape"):
            return self.reshape(node, self.shape(node))
        if target == "flatten":
            return self.flatten(node, args[1] if len(args) > 1 else kwargs.get("start_dim", 0))
        if target == "contiguous":
            return self.tracked(node, args[0])
        if target in ("transpose", "permute"):
            return self.permute(node, _perm(len(self.shape(args[0])), args, target == "transpose"))
        if target == "softmax":
            return self.softmax(node, args[1] if len(args) > 1 else kwargs.get("dim"))
        if target == "mean":
            return self.mean(node, args[1] if len(args) > 1 else kwargs.get("dim"), kwargs.get("keepdim", False))
        if target == "matmul":
            return self.matmul(node, args[0], args[1])
        if target == "tanh":
            return self.fuse(node, "tanh", standalone=False)
        raise self.fail(node, "method not supported")

    def run(self, example) -> List[str]:
        outputs: List[str] = []
        for node in self.gm.graph.nodes:
            if node.op == "placeholder":
                integer = not example.is_floating_point()
                if integer and example.dim() != 2:
                    raise self.fail(node, "an integer input must be token ids of shape (N, L)")
                self.value[node] = _Value("ids" if integer else "map", "")
                continue
            if node.op == "output":
                result = node.args[0]
                items = result if isinstance(result, (tuple, list)) else [result]
                outputs = [self.source(node, item) for item in items]
                continue
            result = self.concrete.get(node)
            holds_tensor = isinstance(result, self.torch.Tensor) or (
                isinstance(result, tuple) and any(isinstance(r, self.torch.Tensor) for r in result))
            if not holds_tensor or node.op == "get_attr" or not any(a in self.value for a in node.all_input_nodes):
                continue  # a number, a shape, or a tensor computed from parameters only: known constants
            if node.op == "call_module":
                value = self.module(node, self.modules[node.target])
            elif node.op == "call_function":
                value = self.function(node)
            else:
                value = self.method(node)
            if value is not None:
                self.value[node] = value
        self._fold()
        return outputs

    def _fold(self) -> None:
        """Apply constant factors to the q layers they were folded into, once every reader is known."""
        readers: Dict[str, int] = {}
        previous = ""
        for layer in self.layers:
            for source in layer.get("inputs", [previous]):
                readers[source] = readers.get(source, 0) + 1
            previous = layer["name"]
        for node, name in self.fold_nodes:
            if readers.get(name, 0) != 1:
                raise self.fail(node, f"its constant factor is folded into {name!r}, which must have no other "
                                f"reader (it has {readers.get(name, 0)})")
        for name, factor in self.folds.items():
            self.weights[name] = {key: value * factor for key, value in self.weights[name].items()}


def from_torch(module, example_input, name: str = "torch", outputs=None) -> Model:
    """A :class:`~xbarsim.nn.Model` (workload plus weights) equivalent to ``module`` in eval mode.

    ``example_input``: a tensor of shape (N, C, H, W), (N, C, L) for 1-D models (imported as
    H = 1), or integer token ids (N, L). The model's forward must be traceable by ``torch.fx``.
    Outputs come in the engine's layout: (N, F) for flat outputs, (N, C, H, W) for feature maps,
    (N, C, 1, L) for token sequences (PyTorch's (N, L, C) transposed).
    """
    try:
        import torch
        import torch.fx
        from torch.fx.passes.shape_prop import ShapeProp
    except ImportError:  # pragma: no cover - exercised only without torch
        raise ImportError("from_torch needs PyTorch: pip install torch") from None
    module = module.eval()
    gm = torch.fx.symbolic_trace(module)
    values: Dict[object, object] = {}

    class Recorder(ShapeProp):
        def run_node(self, n):
            result = super().run_node(n)
            values[n] = result
            return result

    with torch.no_grad():
        Recorder(gm).propagate(example_input)
    importer = _Import(torch, gm, example_input, values)
    found = importer.run(example_input)
    shape = tuple(example_input.shape)
    if not example_input.is_floating_point():
        H, W, C = 1, shape[1], 1
    else:
        H, W = (1, shape[2]) if len(shape) == 3 else (shape[2], shape[3])
        C = shape[1]
    network = load_workload({"version": 1, "name": name, "input": {"H": int(H), "W": int(W), "C": int(C)},
                             "layers": importer.layers})
    return Model(network, importer.weights, outputs=outputs or found)
