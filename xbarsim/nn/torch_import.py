"""Import a PyTorch model as an xbarsim workload plus float weights (torch is optional).

The module is traced with ``torch.fx``; supported nodes:

* ``Conv1d``/``Conv2d`` (stride, padding, groups, bias), ``Linear``: weight layers. 1-D layers
  become H = 1 layers with padding ``[0, p]``;
* ``BatchNorm1d``/``BatchNorm2d`` directly after a conv or linear layer, folded into it:
  ``w' = w * gamma / sqrt(var + eps)``, ``b' = (b - mean) * gamma / sqrt(var + eps) + beta``;
* ``ReLU`` (module, ``torch.relu``, ``F.relu``, ``.relu()``) on a value nothing else reads:
  the producing layer's activation;
* ``MaxPool1d/2d``, ``AvgPool1d/2d``, ``AdaptiveAvgPool1d/2d`` to 1: pooling layers;
* ``+`` / ``torch.add``: residual adds; ``Flatten``, ``flatten``, ``view``/``reshape`` to (N, -1),
  ``Dropout``, ``Identity``: no-ops. A tuple of outputs gives a multi-exit model.

Anything else is refused with the node that could not be imported.
"""

from __future__ import annotations

import operator
from typing import Dict, List, Optional

import numpy as np

from ..workload.loader import load_workload
from .engine import Model
from ..errors import ArgumentError

__all__ = ["from_torch"]


class _Import:
    def __init__(self, torch, gm, example):
        self.torch, self.nn, self.F = torch, torch.nn, torch.nn.functional
        self.gm = gm
        self.modules = dict(gm.named_modules())
        self.layers: List[Dict] = []
        self.weights: Dict[str, Dict[str, np.ndarray]] = {}
        self.value: Dict[object, Optional[str]] = {}  # fx node -> layer name ("" = the network input)
        self.one_d = example.dim() == 3

    def fail(self, node, what: str):
        return ArgumentError(f"from_torch: cannot import node {node.name!r} ({node.op} {node.target}): {what}")

    def source(self, node, arg) -> str:
        try:
            return self.value[arg]
        except KeyError:
            raise self.fail(node, f"its input {arg} is not a tensor xbarsim tracks") from None

    def add_layer(self, layer: Dict, inputs: List[str]) -> str:
        layer.setdefault("activation", "none")
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

    def conv(self, node, m) -> str:
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
        self.weights[name] = {"weight": weight, "bias": bias}
        return self.add_layer(layer, [self.source(node, node.args[0])])

    def linear(self, node, m) -> str:
        name = node.target
        bias = m.bias.detach().double().numpy() if m.bias is not None else np.zeros(m.out_features)
        self.weights[name] = {"weight": m.weight.detach().double().numpy(), "bias": bias}
        return self.add_layer({"name": name, "type": "fc", "M": int(m.out_features)}, [self.source(node, node.args[0])])

    def batchnorm(self, node, m) -> str:
        producer = self.source(node, node.args[0])
        if producer not in self.weights or not self.sole_reader(node) or self.layer(producer)["activation"] != "none":
            raise self.fail(node, "batch norm must directly follow a conv or linear layer that nothing else reads")
        scale = (m.weight.detach().double() / self.torch.sqrt(m.running_var.double() + m.eps)).numpy()
        entry = self.weights[producer]
        shape = (-1,) + (1,) * (entry["weight"].ndim - 1)
        entry["weight"] = entry["weight"] * scale.reshape(shape)
        entry["bias"] = (entry["bias"] - m.running_mean.double().numpy()) * scale + m.bias.detach().double().numpy()
        return producer

    def relu(self, node) -> str:
        producer = self.source(node, node.args[0])
        if not producer or not self.sole_reader(node) or self.layer(producer)["activation"] != "none":
            raise self.fail(node, "ReLU must follow a layer whose output nothing else reads")
        self.layer(producer)["activation"] = "relu"
        return producer

    def pool(self, node, m, kind: str) -> str:
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
        return self.add_layer(layer, [source])

    def add(self, node) -> str:
        sources = [self.source(node, arg) for arg in node.args[:2]]
        if len(node.args) != 2 or node.kwargs:
            raise self.fail(node, "only a + b of two tensors is supported")
        return self.add_layer({"name": node.name, "type": "add"}, sources)

    def run(self) -> List[str]:
        nn, F, torch = self.nn, self.F, self.torch
        outputs: List[str] = []
        for node in self.gm.graph.nodes:
            if node.op == "placeholder":
                self.value[node] = ""
            elif node.op == "call_module":
                m = self.modules[node.target]
                if isinstance(m, (nn.Conv1d, nn.Conv2d)):
                    self.value[node] = self.conv(node, m)
                elif isinstance(m, nn.Linear):
                    self.value[node] = self.linear(node, m)
                elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                    self.value[node] = self.batchnorm(node, m)
                elif isinstance(m, nn.ReLU):
                    self.value[node] = self.relu(node)
                elif isinstance(m, (nn.MaxPool1d, nn.MaxPool2d)):
                    self.value[node] = self.pool(node, m, "max")
                elif isinstance(m, (nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)):
                    self.value[node] = self.pool(node, m, "avg")
                elif isinstance(m, (nn.Flatten, nn.Dropout, nn.Identity)):
                    self.value[node] = self.source(node, node.args[0])
                else:
                    raise self.fail(node, f"module {type(m).__name__} is not supported")
            elif node.op == "call_function":
                if node.target in (operator.add, torch.add):
                    self.value[node] = self.add(node)
                elif node.target in (torch.relu, F.relu):
                    self.value[node] = self.relu(node)
                elif node.target is torch.flatten:
                    self.value[node] = self.source(node, node.args[0])
                else:
                    raise self.fail(node, "function not supported")
            elif node.op == "call_method":
                if node.target == "relu":
                    self.value[node] = self.relu(node)
                elif node.target in ("flatten", "view", "reshape", "contiguous"):
                    self.value[node] = self.source(node, node.args[0])
                elif node.target == "size":
                    continue
                else:
                    raise self.fail(node, "method not supported")
            elif node.op == "output":
                result = node.args[0]
                items = result if isinstance(result, (tuple, list)) else [result]
                outputs = [self.source(node, item) for item in items]
            elif node.op == "get_attr":
                raise self.fail(node, "parameters used outside modules are not supported")
        return outputs


def from_torch(module, example_input, name: str = "torch", outputs=None) -> Model:
    """A :class:`~xbarsim.nn.Model` (workload plus weights) equivalent to ``module`` in eval mode.

    ``example_input``: a tensor of shape (N, C, H, W), or (N, C, L) for 1-D models (imported as
    H = 1). The model's forward must be traceable by ``torch.fx``.
    """
    try:
        import torch
        import torch.fx
        from torch.fx.passes.shape_prop import ShapeProp
    except ImportError:  # pragma: no cover - exercised only without torch
        raise ImportError("from_torch needs PyTorch: pip install torch") from None
    module = module.eval()
    gm = torch.fx.symbolic_trace(module)
    with torch.no_grad():
        ShapeProp(gm).propagate(example_input)
    importer = _Import(torch, gm, example_input)
    found = importer.run()
    shape = tuple(example_input.shape)
    H, W = (1, shape[2]) if len(shape) == 3 else (shape[2], shape[3])
    network = load_workload({"version": 1, "name": name, "input": {"H": int(H), "W": int(W), "C": int(shape[1])},
                             "layers": importer.layers})
    return Model(network, importer.weights, outputs=outputs or found)
