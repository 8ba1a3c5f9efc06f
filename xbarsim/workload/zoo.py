"""Built-in networks, as spec dicts built layer by layer (shapes are inferred on resolution).

MAC and weight totals are checked against published figures in ``tests/unit/test_zoo.py``.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional
from ..errors import ArgumentError

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

    def conv(self, name: str, M: int, R: int, stride=1, padding=None, groups: int = 1,
             activation: str = "relu", inputs: Optional[List[str]] = None, S: Optional[int] = None,
             bias: bool = False) -> str:
        """A conv of R x S (S defaults to R); padding defaults to 'same' for odd kernels."""
        S = R if S is None else S
        if padding is None:
            padding = R // 2 if R == S else [R // 2, S // 2]
        layer = {"name": name, "type": "conv", "M": M, "R": R, "stride": stride, "padding": padding,
                 "groups": groups, "activation": activation}
        if S != R:
            layer["S"] = S
        if bias:
            layer["bias"] = True
        return self._add(layer, inputs)

    def fc(self, name: str, M: int, activation: str = "none", inputs: Optional[List[str]] = None) -> str:
        return self._add({"name": name, "type": "fc", "M": M, "activation": activation}, inputs)

    def pool(self, name: str, R: int, stride=None, padding=0, kind: str = "max",
             inputs: Optional[List[str]] = None, S: Optional[int] = None) -> str:
        layer = {"name": name, "type": "pool", "R": R, "stride": stride or (R if S in (None, R) else [R, S]),
                 "padding": padding, "pool": kind}
        if S is not None and S != R:
            layer["S"] = S
        return self._add(layer, inputs)

    def add(self, name: str, inputs: List[str], activation: str = "relu") -> str:
        return self._add({"name": name, "type": "add", "activation": activation}, inputs)

    # -- token sequences (transformers) ----------------------------------------------------------

    def linear(self, name: str, M: int, activation: str = "none", bias: bool = False,
               inputs: Optional[List[str]] = None, tied: Optional[str] = None) -> str:
        """Static weights applied to every token (C in, M out)."""
        layer = {"name": name, "type": "linear", "M": M, "activation": activation, "bias": bias}
        if tied is not None:
            layer["tied"] = tied
        return self._add(layer, inputs)

    def matmul(self, name: str, a: str, b: str, heads: int = 1, transpose_b: bool = False, cache: bool = False,
               causal: bool = False) -> str:
        """The per-head product of two activations a and b (b transposed for Q K^T)."""
        return self._add({"name": name, "type": "matmul", "heads": heads, "transpose_b": transpose_b,
                          "cache": cache, "causal": causal}, [a, b])

    def function(self, name: str, kind: str, heads: Optional[int] = None, inputs: Optional[List[str]] = None) -> str:
        """A vector-unit function layer: softmax (per head), layernorm, rmsnorm, gelu or silu."""
        layer = {"name": name, "type": kind}
        if heads is not None:
            layer["heads"] = heads
        return self._add(layer, inputs)

    def mul(self, name: str, inputs: List[str]) -> str:
        return self._add({"name": name, "type": "mul"}, inputs)

    def embedding(self, name: str, vocab: int, M: int, lookup: str = "token",
                  inputs: Optional[List[str]] = None) -> str:
        return self._add({"name": name, "type": "embedding", "vocab": vocab, "M": M, "lookup": lookup}, inputs)

    def tokens(self, name: str, extra_tokens: int = 0, keep: Optional[int] = None, keep_from: str = "first",
               inputs: Optional[List[str]] = None) -> str:
        """A feature map as a token sequence (with prepended tokens), or some of its tokens."""
        layer = {"name": name, "type": "tokens", "extra_tokens": extra_tokens, "keep_from": keep_from}
        if keep is not None:
            layer["keep"] = keep
        return self._add(layer, inputs)

    def sequence(self, decode: int = 0, max_length: Optional[int] = None, masked_products: str = "computed") -> None:
        """How the network is run: decode steps after the prefill, the context window."""
        self.spec["sequence"] = {"decode": decode, "max_length": max_length, "masked_products": masked_products}


def _attention(net: NetBuilder, prefix: str, d: int, heads: int, causal: bool = False, cache: bool = False,
               bias: bool = True) -> str:
    """Multi-head self-attention on ``net.last``: Q, K, V projections (one fused 3d projection in
    GPT-2, the same MACs and parameters), Q K^T per head, softmax (its 1/sqrt(d) scale folded in),
    attention x V, output projection."""
    source = net.last
    q = net.linear(f"{prefix}.q", d, bias=bias, inputs=[source])
    k = net.linear(f"{prefix}.k", d, bias=bias, inputs=[source])
    v = net.linear(f"{prefix}.v", d, bias=bias, inputs=[source])
    net.matmul(f"{prefix}.qk", q, k, heads, transpose_b=True, cache=cache, causal=causal)
    p = net.function(f"{prefix}.softmax", "softmax", heads=heads)
    net.matmul(f"{prefix}.av", p, v, heads, cache=cache, causal=causal)
    return net.linear(f"{prefix}.proj", d, bias=bias)


def _pre_ln_block(net: NetBuilder, prefix: str, d: int, heads: int, ff: int, causal: bool = False,
                  cache: bool = False) -> str:
    """A pre-LN transformer block (GPT-2, ViT): x + attn(ln(x)), then h + mlp(ln(h)), GELU MLP."""
    source = net.last
    net.function(f"{prefix}.ln1", "layernorm", inputs=[source])
    attn = _attention(net, f"{prefix}.attn", d, heads, causal, cache)
    mid = net.add(f"{prefix}.add1", [attn, source], activation="none")
    net.function(f"{prefix}.ln2", "layernorm", inputs=[mid])
    net.linear(f"{prefix}.fc", ff, activation="gelu", bias=True)
    out = net.linear(f"{prefix}.fc_proj", d, bias=True)
    return net.add(f"{prefix}.add2", [out, mid], activation="none")


def _post_ln_block(net: NetBuilder, prefix: str, d: int, heads: int, ff: int) -> str:
    """A post-LN transformer block (BERT): ln(x + attn(x)), then ln(h + mlp(h)), GELU MLP."""
    source = net.last
    attn = _attention(net, f"{prefix}.attn", d, heads)
    net.add(f"{prefix}.add1", [attn, source], activation="none")
    mid = net.function(f"{prefix}.ln1", "layernorm")
    net.linear(f"{prefix}.fc", ff, activation="gelu", bias=True)
    out = net.linear(f"{prefix}.fc_proj", d, bias=True)
    net.add(f"{prefix}.add2", [out, mid], activation="none")
    return net.function(f"{prefix}.ln2", "layernorm")


def gpt2(name: str = "gpt2-small", prompt: int = 128, decode: int = 128, layers: int = 12, d: int = 768,
         heads: int = 12, vocab: int = 50257, context: int = 1024) -> Dict:
    """GPT-2 (Radford et al. 2019; small: 12 layers, d 768, 12 heads, 124 M parameters with the
    output layer tied to the token embedding), a prompt of ``prompt`` tokens then ``decode``
    tokens generated against KV caches. Causal attention; the output layer runs on the last
    position only (the one a generated token needs)."""
    net = NetBuilder(name, 1, prompt, 1)
    net.embedding("wte", vocab, d)
    net.embedding("wpe", context, d, lookup="position", inputs=["wte"])
    net.add("embed", ["wte", "wpe"], activation="none")
    for i in range(layers):
        _pre_ln_block(net, f"h{i}", d, heads, 4 * d, causal=True, cache=True)
    net.function("ln_f", "layernorm")
    net.tokens("last", keep=1, keep_from="last")
    net.linear("lm_head", vocab, tied="wte")
    net.sequence(decode=decode, max_length=context)
    return net.spec


def bert_base(sequence: int = 128) -> Dict:
    """BERT-base (Devlin et al. 2019: 12 layers, d 768, 12 heads, FFN 3072, 110 M parameters) on a
    sequence of ``sequence`` tokens, with its pooler (a tanh linear layer on the first token)."""
    d, vocab = 768, 30522
    net = NetBuilder("bert-base", 1, sequence, 1)
    net.embedding("word", vocab, d)
    net.embedding("position", 512, d, lookup="position", inputs=["word"])
    net.embedding("segment", 2, d, lookup="segment", inputs=["word"])
    net.add("embed", ["word", "position", "segment"], activation="none")
    net.function("embed_ln", "layernorm")
    for i in range(12):
        _post_ln_block(net, f"layer{i}", d, 12, 4 * d)
    net.tokens("cls", keep=1)
    net.linear("pooler", d, activation="tanh", bias=True)
    net.sequence(max_length=512)
    return net.spec


def vit_b16(image: int = 224, classes: int = 1000) -> Dict:
    """ViT-B/16 (Dosovitskiy et al., ICLR 2021: 16x16 patches, 12 layers, d 768, 12 heads, MLP
    3072, 86 M parameters): patch embedding, class token, learned position embeddings, pre-LN
    blocks, head on the class token."""
    d = 768
    net = NetBuilder("vit-b16", image, image, 3)
    net.conv("patch", d, 16, 16, padding=0, activation="none", bias=True)
    seq = net.tokens("tokens", extra_tokens=1)
    tokens = (image // 16) ** 2 + 1
    net.embedding("pos", tokens, d, lookup="position", inputs=[seq])
    net.add("embed", [seq, "pos"], activation="none")
    for i in range(12):
        _pre_ln_block(net, f"block{i}", d, 12, 4 * d)
    net.function("norm", "layernorm")
    net.tokens("cls", keep=1)
    net.linear("head", classes, bias=True)
    net.sequence(max_length=tokens)
    return net.spec


def tiny_decoder() -> Dict:
    """A two-block decoder (vocabulary 64, d 16, 2 heads, MLP 64, a prompt of 8 tokens and 4
    decoded, context 16), small enough for quick tests (a few tiles of ``isaac-llm``)."""
    spec = gpt2("tiny-decoder", prompt=8, decode=4, layers=2, d=16, heads=2, vocab=64, context=16)
    return spec


def _basic_block(net: NetBuilder, prefix: str, M: int, stride: int, project: bool) -> None:
    """ResNet basic block: two 3x3 convs and a shortcut (1x1 projection when the shape changes)."""
    source = net.last
    net.conv(f"{prefix}.conv1", M, 3, stride)
    main = net.conv(f"{prefix}.conv2", M, 3, 1, activation="none")
    shortcut = source
    if project:
        shortcut = net.conv(f"{prefix}.downsample", M, 1, stride, padding=0, activation="none", inputs=[source])
    net.add(f"{prefix}.add", [main, shortcut])


def _bottleneck(net: NetBuilder, prefix: str, M: int, stride: int, project: bool) -> None:
    """ResNet bottleneck (v1: the stride is on the first 1x1 conv): 1x1 M, 3x3 M, 1x1 4M."""
    source = net.last
    net.conv(f"{prefix}.conv1", M, 1, stride, padding=0)
    net.conv(f"{prefix}.conv2", M, 3)
    main = net.conv(f"{prefix}.conv3", 4 * M, 1, padding=0, activation="none")
    shortcut = source
    if project:
        shortcut = net.conv(f"{prefix}.downsample", 4 * M, 1, stride, padding=0, activation="none", inputs=[source])
    net.add(f"{prefix}.add", [main, shortcut])


def resnet_imagenet(name: str, blocks, bottleneck: bool) -> Dict:
    """ImageNet ResNets (He et al., CVPR 2016, Table 1): 7x7 stem, max-pool, 4 stages, avg-pool, fc."""
    net = NetBuilder(name, 224, 224, 3)
    net.conv("conv1", 64, 7, 2, padding=3)
    net.pool("maxpool", 3, 2, padding=1)
    channels = 64
    for stage, (M, count) in enumerate(zip((64, 128, 256, 512), blocks), start=1):
        for block in range(count):
            stride = 2 if block == 0 and stage > 1 else 1
            if bottleneck:
                _bottleneck(net, f"layer{stage}.{block}", M, stride, project=(block == 0))
                channels = 4 * M
            else:
                _basic_block(net, f"layer{stage}.{block}", M, stride, project=(stride != 1 or M != channels))
                channels = M
    net.pool("avgpool", 7, 7, kind="avg")
    net.fc("fc", 1000)
    return net.spec


def resnet18() -> Dict:
    """ResNet-18 for ImageNet (He et al., CVPR 2016): about 1.82 GMACs, 11.7 M weights."""
    return resnet_imagenet("resnet18", (2, 2, 2, 2), bottleneck=False)


def wide_resnet(depth: int = 28, widen: int = 10, classes: int = 10) -> Dict:
    """Wide ResNet WRN-d-k for CIFAR (Zagoruyko & Komodakis, BMVC 2016): (d-4)/6 blocks of two 3x3
    convs per stage, widths 16k, 32k, 64k. WRN-28-10: 36.5 M parameters."""
    if (depth - 4) % 6:
        raise ArgumentError(f"depth: expected 6n+4 (16, 22, 28, 40, ...), got {depth}")
    return _cifar_resnet(f"wrn{depth}-{widen}", 16, (16 * widen, 32 * widen, 64 * widen), (depth - 4) // 6, classes)


def vgg16() -> Dict:
    """VGG-16 for ImageNet (Simonyan & Zisserman, 2015, configuration D): 15.5 GMACs, 138 M weights."""
    net = NetBuilder("vgg16", 224, 224, 3)
    index = 0
    for stage, (M, count) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)), start=1):
        for _ in range(count):
            index += 1
            net.conv(f"conv{index}", M, 3)
        net.pool(f"pool{stage}", 2)
    net.fc("fc6", 4096, activation="relu")
    net.fc("fc7", 4096, activation="relu")
    net.fc("fc8", 1000)
    return net.spec


def mobilenet_v2() -> Dict:
    """MobileNetV2 1.0 at 224 (Sandler et al., CVPR 2018, Table 2): inverted residuals with depthwise
    3x3 convs; 300 M multiply-adds, 3.4 M parameters. ReLU6 is modelled as ReLU."""
    net = NetBuilder("mobilenet_v2", 224, 224, 3)
    net.conv("conv1", 32, 3, 2)
    channels = 32
    index = 0
    for t, c, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                       (6, 160, 3, 2), (6, 320, 1, 1)):
        for i in range(n):
            stride = s if i == 0 else 1
            source = net.last
            prefix = f"block{index}"
            hidden = channels * t
            if t != 1:
                net.conv(f"{prefix}.expand", hidden, 1, padding=0)
            net.conv(f"{prefix}.dw", hidden, 3, stride, groups=hidden)
            out = net.conv(f"{prefix}.project", c, 1, padding=0, activation="none")
            if stride == 1 and channels == c:
                net.add(f"{prefix}.add", [out, source], activation="none")
            channels = c
            index += 1
    net.conv("conv_last", 1280, 1, padding=0)
    net.pool("avgpool", 7, 7, kind="avg")
    net.fc("fc", 1000)
    return net.spec


def resnet_cifar(depth: int, width: int = 16, name: Optional[str] = None, classes: int = 10) -> Dict:
    """CIFAR ResNet (He et al. 2016, Sec. 4.2): 3 stages of (depth-2)/6 basic blocks, widths w, 2w, 4w.

    Shape changes use 1x1 projection shortcuts (option B), which add about 1% to option A's count.
    """
    if (depth - 2) % 6:
        raise ArgumentError(f"depth: expected 6n+2 (20, 32, 44, 56, ...), got {depth}")
    return _cifar_resnet(name or f"resnet{depth}", width, (width, 2 * width, 4 * width), (depth - 2) // 6, classes)


def _cifar_resnet(name: str, stem: int, widths, blocks: int, classes: int) -> Dict:
    """A 3x3 stem of ``stem`` channels, three stages of ``blocks`` basic blocks (the first of
    stages 2 and 3 strided, projection shortcuts on shape changes), 8x8 average pool, fc."""
    net = NetBuilder(name, 32, 32, 3)
    net.conv("conv1", stem, 3)
    channels = stem
    for stage, M in enumerate(widths, start=1):
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
    "resnet34": lambda: resnet_imagenet("resnet34", (3, 4, 6, 3), bottleneck=False),
    "resnet50": lambda: resnet_imagenet("resnet50", (3, 4, 6, 3), bottleneck=True),
    "resnet20": lambda: resnet_cifar(20),
    "resnet32": lambda: resnet_cifar(32),
    "resnet44": lambda: resnet_cifar(44),
    "resnet56": lambda: resnet_cifar(56),
    "wrn28-10": wide_resnet,
    "vgg16": vgg16,
    "mobilenet_v2": mobilenet_v2,
    "vgg8": vgg8,
    "alexnet": alexnet,
    "mlp": mlp,
    "gpt2-small": gpt2,
    "bert-base": bert_base,
    "vit-b16": vit_b16,
    "tiny-decoder": tiny_decoder,
}
"""Built-in networks by name."""


def zoo_names() -> List[str]:
    """Names of the built-in networks."""
    return sorted(ZOO)


def zoo_spec(name: str) -> Dict:
    """The spec dict of a built-in network."""
    return ZOO[name]()
