"""Small networks with random weights and inputs shared by tests of data-aware runs."""

import numpy as np

from xbarsim.workload import NetBuilder, load_workload


def conv_depthwise_fc(name: str, size: int, images: int, seed: int, biases: bool):
    """(network, weights, inputs): conv -> depthwise conv (8 groups) -> fc on a size x size x 3
    input, standard-normal weights (and biases, else zeros), ``images`` ReLU'd normal inputs."""
    net = NetBuilder(name, size, size, 3)
    net.conv("conv", 8, 3, 1, padding=1)
    net.conv("dw", 8, 3, 1, padding=1, groups=8)
    net.fc("fc", 10)
    network = load_workload(net.spec)
    rng = np.random.default_rng(seed)
    weights = {layer.name: {"weight": rng.normal(size=(layer.M, layer.C // layer.groups, layer.R, layer.S))
                            if layer.type == "conv" else rng.normal(size=(layer.M, layer.C)),
                            "bias": rng.normal(size=layer.M) if biases else np.zeros(layer.M)}
               for layer in network.layers}
    return network, weights, np.maximum(rng.normal(size=(images, 3, size, size)), 0)
