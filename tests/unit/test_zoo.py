"""Built-in networks against published MAC and weight counts."""

import pytest

from xbarsim.workload import load_workload, zoo_names


def test_alexnet_724m_macs_61m_weights():
    net = load_workload("alexnet")
    assert net.macs == 724_406_816  # 724 M MACs (Sze et al.)
    assert abs(net.weights / 61e6 - 1) < 0.01
    convs = [layer for layer in net.layers if layer.type == "conv"]
    # REFERENCE_DATA: filter size, filters, channels, stride of conv1..conv5
    assert [(c.R, c.M, c.C // c.groups, c.stride) for c in convs] == [
        (11, 96, 3, 4), (5, 256, 48, 1), (3, 384, 256, 1), (3, 384, 192, 1), (3, 256, 192, 1)]


def test_resnet18_1_82_gmacs_11_7m_weights():
    net = load_workload("resnet18")
    assert abs(net.macs / 1.82e9 - 1) < 0.01
    assert abs(net.weights / 11.69e6 - 1) < 0.01


def test_resnet20_cifar():
    net = load_workload("resnet20")
    assert abs(net.weights / 0.27e6 - 1) < 0.02  # He et al.: 0.27 M parameters
    assert abs(net.macs / 40.8e6 - 1) < 0.02
    assert sum(layer.type == "add" for layer in net.layers) == 9


def test_vgg8_matches_neurosim():
    """DNN_NeuroSim V1.4 models/VGG.py: 6 convs (128-128-256-256-512-512), fc 8192->1024->10."""
    net = load_workload("vgg8")
    convs = [(layer.H, layer.C, layer.M) for layer in net.layers if layer.type == "conv"]
    assert convs == [(32, 3, 128), (32, 128, 128), (16, 128, 256), (16, 256, 256), (8, 256, 512), (8, 512, 512)]
    fcs = [(layer.C, layer.M) for layer in net.layers if layer.type == "fc"]
    assert fcs == [(8192, 1024), (1024, 10)]


@pytest.mark.parametrize("name", zoo_names())
def test_every_zoo_network_round_trips(name):
    net = load_workload(name)
    assert load_workload(net.to_dict()) == net
    assert net.macs >= 0 and len(net.layers) >= 1


@pytest.mark.parametrize("name, gmacs, mweights, tolerance, source", [
    ("vgg16", 15.47, 138.3, 0.01, "Simonyan & Zisserman 2015 (configuration D)"),
    ("resnet34", 3.66, 21.8, 0.01, "He et al. 2016, Table 1 (3.6 GFLOPs)"),
    ("resnet50", 3.85, 25.5, 0.01, "REFERENCE_DATA: 7.7 G operations, 25.5 MB of int8 weights"),
    ("resnet32", 0.069, 0.46, 0.02, "He et al. 2016, Table 6"),
    ("resnet44", 0.097, 0.66, 0.02, "He et al. 2016, Table 6"),
    ("resnet56", 0.125, 0.85, 0.02, "He et al. 2016, Table 6"),
    ("wrn28-10", 5.25, 36.5, 0.01, "Zagoruyko & Komodakis 2016"),
    ("mobilenet_v2", 0.300, 3.4, 0.02, "Sandler et al. 2018, Table 4 (MobileNetV2 1.0: 300 M MAdds, 3.4 M)"),
])
def test_published_totals(name, gmacs, mweights, tolerance, source):
    net = load_workload(name)
    assert abs(net.macs / (gmacs * 1e9) - 1) <= tolerance, source
    assert abs(net.weights / (mweights * 1e6) - 1) <= max(tolerance, 0.021), source


def test_mobilenet_v2_uses_depthwise_convs():
    net = load_workload("mobilenet_v2")
    depthwise = [layer for layer in net.layers if layer.groups > 1]
    assert len(depthwise) == 17 and all(layer.groups == layer.C == layer.M for layer in depthwise)


# -- transformers: parameters exactly as the released checkpoints count them, MACs against
# published figures and the scaling-law formula ---------------------------------------------

@pytest.mark.parametrize("name, params, source", [
    ("gpt2-small", 124_439_808, "GPT-2 small, 124 M: the released checkpoint's count (output layer tied to wte)"),
    ("bert-base", 109_482_240, "BERT-base, 110 M (Devlin et al. 2019): the released checkpoint with its pooler"),
    ("vit-b16", 86_567_656, "ViT-B/16, 86 M (Dosovitskiy et al. 2021): the released ImageNet-1k checkpoint"),
])
def test_transformer_parameters(name, params, source):
    assert load_workload(name).params == params, source


def test_bert_base_macs_at_sequence_128():
    """MobileBERT (Sun et al., ACL 2020), Table 4: BERT-base 22.5 GFLOPs (2 per MAC) at sequence 128."""
    net = load_workload("bert-base")
    assert net.prompt_tokens == 128
    assert abs(2 * net.macs / 22.5e9 - 1) < 0.01


def test_vit_b16_macs_at_224():
    """Swin Transformer (Liu et al., ICCV 2021), Table 1: DeiT-B (the ViT-B/16 architecture) at
    224x224: 17.5 G FLOPs (multiply-adds), 86 M parameters."""
    net = load_workload("vit-b16")
    assert abs(net.macs / 17.5e9 - 1) < 0.01
    assert max(layer.keys for layer in net.layers) == 197  # 14 x 14 patches + the class token


def test_gpt2_small_per_token_macs_follow_kaplan():
    """Kaplan et al. 2020 (Scaling laws), Table 1: N = 2 d n_layer (2 d_attn + d_ff) non-embedding
    parameters (12 d^2 n_layer), forward cost 2 N + 2 n_layer n_ctx d_attn FLOPs per token (its
    attention term counts Q K^T; attention x V adds as much again), plus 2 d n_vocab for the
    de-embedding. One decode step is one token against n_ctx = L + t + 1 keys."""
    net = load_workload("gpt2-small")
    d, n_layer, vocab, L = 768, 12, 50257, 128
    N = 2 * d * n_layer * (2 * d + 4 * d)
    assert N == 12 * d * d * n_layer
    assert sum(layer.weights for layer in net.layers if layer.name != "lm_head") == N
    for t in (0, 50, 127):
        n_ctx = L + t + 1
        assert net.decode_step(t).macs == N + 2 * n_layer * n_ctx * d + d * vocab
    # the prefill: every token through the blocks, the output layer on the last one only
    assert net.macs == L * N + 2 * n_layer * L * L * d + d * vocab


def test_tiny_decoder_is_small():
    net = load_workload("tiny-decoder")
    assert net.decode_steps == 4 and net.prompt_tokens == 8 and net.params < 10_000
