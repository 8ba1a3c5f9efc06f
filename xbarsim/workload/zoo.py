"""Built-in networks, as spec dicts built layer by layer (shapes are inferred on resolution).

MAC and weight totals are checked against published figures in ``tests/unit/test_zoo.py``.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional

__all__ = ["ZOO", "zoo_names", "zoo_spec", "NetBuilder"]


class NetBuilder:
    """Append layers in order; each method returns the new layer's name."""

    def __init__(self, name: str, H: int, W: int, C: int, **bits: int):
        self.spec: Dict = {"version": 1, "name": name, "input": {"H": H, "W": W, "C": C}, "layers": [], **bits}
        self.last: Optional[str] = None

    def _add(self, layer: Dict, inputs: Optional[List[str]]) -> str:
        if inputs is not None:
            layer["inputs"] = list(inputs)
        self.spec["layers"].append(layer)
        self.last = layer["name"]
        return layer["name"]

    def conv(self, name: str, M: int, R: int, stride: int = 1, padding: Optional[int] = None, groups: int = 1,
             activation: str = "relu", inputs: Optional[List[str]] = None) -> str:
        padding = R // 2 if padding is None else padding
        return self._add({"name": name, "type": "conv", "M": M, "R": R, "stride": stride, "padding": padding,
                          "groups": groups, "activation": activation}, inputs)

    def fc(self, name: str, M: int, activation: str = "none", inputs: Optional[List[str]] = None) -> str:
        return self._add({"name": name, "type": "fc", "M": M, "activation": activation}, inputs)

    def pool(self, name: str, R: int, stride: Optional[int] = None, padding: int = 0, kind: str = "max",
             inputs: Optional[List[str]] = None) -> str:
        return self._add({"name": name, "type": "pool", "R": R, "stride": stride or R, "padding": padding,
                          "pool": kind}, inputs)

    def add(self, name: str, inputs: List[str], activation: str = "relu") -> str:
        return self._add({"name": name, "type": "add", "activation": activation}, inputs)


def _basic_block(net: NetBuilder, prefix: str, M: int, stride: int, project: bool) -> None:
    """ResNet basic block: two 3x3 convs and a shortcut (1x1 projection when the shape changes)."""
    source = net.last
    net.conv(f"{prefix}.conv1", M, 3, stride)
    main = net.conv(f"{prefix}.conv2", M, 3, 1, activation="none")
    shortcut = source
    if project:
        shortcut = net.conv(f"{prefix}.downsample", M, 1, stride, padding=0, activation="none", inputs=[source])
    net.add(f"{prefix}.add", [main, shortcut])


def resnet18() -> Dict:
    """ResNet-18 for ImageNet (He et al., CVPR 2016): about 1.82 GMACs, 11.7 M weights."""
    net = NetBuilder("resnet18", 224, 224, 3)
    net.conv("conv1", 64, 7, 2, padding=3)
    net.pool("maxpool", 3, 2, padding=1)
    channels = 64
    for stage, M in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            stride = 2 if block == 0 and stage > 1 else 1
            _basic_block(net, f"layer{stage}.{block}", M, stride, project=(stride != 1 or M != channels))
            channels = M
    net.pool("avgpool", 7, 7, kind="avg")
    net.fc("fc", 1000)
    return net.spec


def resnet_cifar(depth: int, width: int = 16, name: Optional[str] = None, classes: int = 10) -> Dict:
    """CIFAR ResNet (He et al. 2016, Sec. 4.2): 3 stages of (depth-2)/6 basic blocks, widths w, 2w, 4w.

    Shape changes use 1x1 projection shortcuts (option B), which add about 1% to option A's count.
    """
    if (depth - 2) % 6:
        raise ValueError(f"depth: expected 6n+2 (20, 32, 44, 56, ...), got {depth}")
    blocks = (depth - 2) // 6
    net = NetBuilder(name or f"resnet{depth}", 32, 32, 3)
    net.conv("conv1", width, 3)
    channels = width
    for stage, M in enumerate((width, 2 * width, 4 * width), start=1):
        for block in range(blocks):
            stride = 2 if block == 0 and stage > 1 else 1
            _basic_block(net, f"layer{stage}.{block}", M, stride, project=(stride != 1 or M != channels))
            channels = M
    net.pool("avgpool", 8, 8, kind="avg")
    net.fc("fc", classes)
    return net.spec


def vgg8() -> Dict:
    """The CIFAR-10 VGG-8 of DNN+NeuroSim (its NetWork.csv): 6 convs (128-128-256-256-512-512), 2 fc."""
    net = NetBuilder("vgg8", 32, 32, 3)
    for i, M in enumerate((128, 128, 256, 256, 512, 512), start=1):
        net.conv(f"conv{i}", M, 3)
        if i % 2 == 0:
            net.pool(f"pool{i // 2}", 2)
    net.fc("fc1", 1024, activation="relu")
    net.fc("fc2", 10)
    return net.spec


def alexnet() -> Dict:
    """AlexNet (Krizhevsky et al. 2012) with its two-group convs: 724 M MACs, 61 M weights."""
    net = NetBuilder("alexnet", 227, 227, 3)
    net.conv("conv1", 96, 11, 4, padding=0)
    net.pool("pool1", 3, 2)
    net.conv("conv2", 256, 5, 1, padding=2, groups=2)
    net.pool("pool2", 3, 2)
    net.conv("conv3", 384, 3, 1, padding=1)
    net.conv("conv4", 384, 3, 1, padding=1, groups=2)
    net.conv("conv5", 256, 3, 1, padding=1, groups=2)
    net.pool("pool5", 3, 2)
    net.fc("fc6", 4096, activation="relu")
    net.fc("fc7", 4096, activation="relu")
    net.fc("fc8", 1000)
    return net.spec


def mlp() -> Dict:
    """A tiny multilayer perceptron (64-32-10) that fits the ``tiny`` chip."""
    net = NetBuilder("mlp", 1, 1, 64)
    net.fc("fc1", 32, activation="relu")
    net.fc("fc2", 10)
    return net.spec


ZOO: Dict[str, Callable[[], Dict]] = {
    "resnet18": resnet18,
    "resnet20": lambda: resnet_cifar(20),
    "vgg8": vgg8,
    "alexnet": alexnet,
    "mlp": mlp,
}
"""Built-in networks by name."""


def zoo_names() -> List[str]:
    """Names of the built-in networks."""
    return sorted(ZOO)


def zoo_spec(name: str) -> Dict:
    """The spec dict of a built-in network."""
    return ZOO[name]()
