"""DNN workloads: layer shapes (H W C R S M E F), token sequences, networks, the model zoo, the loader."""

from .loader import load_workload
from .network import Layer, LayerSpec, Network, NetworkSpec, SequenceSpec
from .zoo import NetBuilder, zoo_names

__all__ = ["Layer", "LayerSpec", "NetBuilder", "Network", "NetworkSpec", "SequenceSpec", "load_workload", "zoo_names"]
