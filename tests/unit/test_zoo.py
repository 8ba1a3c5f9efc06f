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
