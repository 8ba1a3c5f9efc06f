"""from_torch on transformer layers: the imported model's float output equals torch's (skipped
without torch), and what cannot be imported is refused naming the node."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from xbarsim.nn import from_torch, load_model, save_model  # noqa: E402


def _randomize(net):
    """Non-trivial parameters everywhere (norm gains and biases, learned tokens), eval mode."""
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if "norm" in name or name.startswith("ln") or ".ln" in name:
                p.copy_(1 + 0.2 * torch.randn_like(p) if name.endswith("weight") else 0.2 * torch.randn_like(p))
            elif p.dim() == 3 or "pos" in name or "cls" in name:
                p.normal_(0, 0.5)
    return net.eval()


def _check(net, x, types=None, atol=1e-5):
    model = from_torch(net, x, name="t")
    with torch.no_grad():
        expected = net(x).numpy()
    got = model.forward(x.numpy())
    if got.ndim == 4 and expected.ndim == 3:  # a token sequence: (N, C, 1, L) in the engine, (N, L, C) in torch
        got = got[:, :, 0, :].transpose(0, 2, 1)
    assert got.shape == expected.shape
    assert np.allclose(got, expected, atol=atol, rtol=1e-4), np.abs(got - expected).max()
    if types is not None:
        assert [layer.type for layer in model.network.layers] == types
    return model


class Heads(nn.Module):
    """Explicit multi-head attention: separate q, k, v projections, per-head views, a scale."""

    def __init__(self, d, h, causal=False, sdpa=False):
        super().__init__()
        self.h, self.causal, self.sdpa = h, causal, sdpa
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x):
        n, length, d = x.shape
        q = self.q(x).view(n, length, self.h, d // self.h).transpose(1, 2)
        k = self.k(x).view(n, length, self.h, d // self.h).permute(0, 2, 1, 3)
        v = self.v(x).view(n, length, self.h, d // self.h).transpose(1, 2)
        if self.sdpa:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        else:
            y = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d // self.h), dim=-1) @ v
        return self.o(y.transpose(1, 2).reshape(n, length, d))


class ViT(nn.Module):
    """ViT-style: 2x2 patches of an 8x8 image, a class token, learned positions, pre-LN blocks
    (one explicit, one nn.MultiheadAttention), a GELU MLP, the head on the class token."""

    def __init__(self, d=16, h=2):
        super().__init__()
        self.patch = nn.Conv2d(1, d, 2, stride=2)
        self.cls = nn.Parameter(torch.zeros(1, 1, d))
        self.pos = nn.Parameter(torch.zeros(1, 17, d))
        self.ln1, self.ln2, self.ln3, self.ln4 = (nn.LayerNorm(d) for _ in range(4))
        self.attn = Heads(d, h)
        self.mha = nn.MultiheadAttention(d, h, batch_first=True)
        self.fc1, self.fc2 = nn.Linear(d, 2 * d), nn.Linear(2 * d, d)
        self.act = nn.GELU()
        self.head = nn.Linear(d, 10)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        x = x + self.attn(self.ln1(x))
        h = self.ln2(x)
        x = x + self.mha(h, h, h, need_weights=False)[0]
        x = x + self.fc2(self.act(self.fc1(self.ln3(x))))
        return self.head(self.ln4(x)[:, 0])


def test_vit_with_explicit_attention_and_multihead_attention_matches_torch():
    net = _randomize(ViT())
    x = torch.rand(6, 1, 8, 8)
    model = _check(net, x)
    types = [layer.type for layer in model.network.layers]
    assert types[:4] == ["conv", "tokens", "embedding", "add"]
    assert types.count("matmul") == 4 and types.count("softmax") == 2 and types.count("layernorm") == 4
    qk = [layer for layer in model.network.layers if layer.type == "matmul" and layer.transpose_b]
    assert all(layer.heads == 2 and layer.keys == 17 for layer in qk)
    fc1 = model.network.layer("fc1")
    assert fc1.type == "linear" and fc1.activation == "gelu" and fc1.bias
    assert model.network.layers[-1].type == "fc"
    assert model.network.layer("cat").extra_tokens == 1


class Decoder(nn.Module):
    """A causal language model: token and learned position embeddings, causal SDPA, RMS norm, a
    SwiGLU feed-forward (SiLU gate times a linear), the last position's logits."""

    def __init__(self, vocab=20, d=16, h=4, length=6):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.zeros(1, length, d))
        self.norm1, self.norm2 = nn.RMSNorm(d), nn.RMSNorm(d, eps=1e-6)
        self.attn = Heads(d, h, causal=True, sdpa=True)
        self.gate, self.up, self.down = nn.Linear(d, 32, bias=False), nn.Linear(d, 32), nn.Linear(32, d)
        self.out = nn.Linear(d, vocab)

    def forward(self, ids):
        x = self.tok(ids) + self.pos
        x = x + self.attn(self.norm1(x))
        h = self.norm2(x)
        x = x + self.down(F.silu(self.gate(h)) * self.up(h))
        return self.out(x[:, -1])


def test_causal_decoder_with_sdpa_rmsnorm_and_swiglu_matches_torch():
    net = _randomize(Decoder())
    ids = torch.randint(0, 20, (5, 6))
    model = _check(net, ids)
    layers = model.network.layers
    assert model.network.spec.input.W == 6 and model.network.spec.input.C == 1
    assert layers[0].type == "embedding" and layers[0].lookup == "token"
    assert [layer.lookup for layer in layers if layer.type == "embedding"] == ["token", "position"]
    assert all(layer.causal for layer in layers if layer.type == "matmul")
    assert {"rmsnorm", "mul"} <= {layer.type for layer in layers}
    assert model.network.layer("gate").activation == "silu"
    last = [layer for layer in layers if layer.type == "tokens"][-1]
    assert last.F == 1 and last.position == 5  # the last token


@pytest.mark.parametrize("norm_first", [True, False])
def test_transformer_encoder_layers_are_expanded(norm_first):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Conv1d(1, 16, 4, stride=4)  # MNIST-1D style patches: 1-D, no tokens layer needed
            layer = nn.TransformerEncoderLayer(16, 2, 24, dropout=0.0, activation="gelu", batch_first=True,
                                               norm_first=norm_first)
            self.encoder = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(16) if norm_first else None,
                                                 enable_nested_tensor=False)
            self.block = nn.TransformerEncoderLayer(16, 4, 24, dropout=0.0, batch_first=True, norm_first=norm_first)
            self.head = nn.Linear(16, 10)

        def forward(self, x):
            x = self.embed(x).transpose(1, 2)
            return self.head(self.block(self.encoder(x)).mean(dim=1))

    net = _randomize(Net())
    x = torch.randn(4, 1, 40)
    model = _check(net, x)
    types = [layer.type for layer in model.network.layers]
    assert types[0] == "conv" and "tokens" not in types and types[-2:] == ["pool", "fc"]
    assert types.count("matmul") == 6 and types.count("layernorm") == 6 + (1 if norm_first else 0)


def test_single_head_attention_without_views_and_scale_on_q():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Linear(8, 8)
            self.q, self.k, self.v = nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 6)
            self.norm = nn.LayerNorm(8, elementwise_affine=False)

        def forward(self, x):
            x = self.embed(x.transpose(1, 2))  # (N, C, L) signals as (N, L, C) tokens
            q = self.q(x) * 0.25
            scores = F.softmax(torch.matmul(q, self.k(x).transpose(1, 2)), dim=-1)
            return (scores @ self.v(self.norm(x)))[:, :3]

    net = _randomize(Net())
    x = torch.randn(3, 8, 5)
    model = _check(net, x)
    qk = model.network.layers[[layer.type for layer in model.network.layers].index("matmul")]
    assert qk.heads == 1 and qk.transpose_b
    assert np.allclose(model.weights["q"]["weight"], 0.25 * net.q.weight.detach().double().numpy())


def test_imported_transformer_files_round_trip(tmp_path):
    net = _randomize(ViT())
    x = torch.rand(3, 1, 8, 8)
    model = from_torch(net, x, name="vit")
    save_model(tmp_path / "vit.npz", model)
    loaded, _ = load_model(tmp_path / "vit.npz")
    assert np.allclose(loaded.forward(x.numpy()), model.forward(x.numpy()), atol=1e-5)


@pytest.mark.parametrize("make, match", [
    (lambda: nn.Sequential(nn.Conv1d(1, 4, 2), nn.GELU(approximate="tanh")), "only the exact GELU"),
    (lambda: _Masked(), "cannot import node .gt. .call_function"),
    (lambda: _Shared(), "must have no other reader"),
    (lambda: nn.MultiheadAttention(4, 2), "batch_first=True"),
])
def test_unsupported_transformer_pieces_are_refused(make, match):
    x = torch.randn(2, 1, 8) if not isinstance(make(), nn.MultiheadAttention) else torch.randn(2, 4, 4)
    net = make()
    if isinstance(net, nn.MultiheadAttention):
        net = _Wrap(net)
    with pytest.raises(ValueError, match=match):
        from_torch(net, x)


class _Wrap(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        h = self.lin(x.transpose(1, 2))
        return self.m(h, h, h)[0]


class _Masked(nn.Module):
    """Attention masked with masked_fill (only is_causal of SDPA is supported)."""

    def __init__(self):
        super().__init__()
        self.embed, self.q, self.k = nn.Linear(1, 4), nn.Linear(4, 4), nn.Linear(4, 4)

    def forward(self, x):
        x = self.embed(x.transpose(1, 2))
        s = self.q(x) @ self.k(x).transpose(1, 2)
        return s.masked_fill(s > 0, 0.0)


class _Shared(nn.Module):
    """A scale on q whose unscaled value is also used elsewhere cannot be folded."""

    def __init__(self):
        super().__init__()
        self.embed, self.q, self.k = nn.Linear(1, 4), nn.Linear(4, 4), nn.Linear(4, 4)

    def forward(self, x):
        x = self.embed(x.transpose(1, 2))
        q = self.q(x)
        return torch.softmax((q / 2) @ self.k(x).transpose(1, 2), dim=-1) @ q
