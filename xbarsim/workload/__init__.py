"""DNN workloads: layer shapes (H W C R S M E F), networks, the model zoo, the loader."""

from .loader import load_workload
from .network import Layer, LayerSpec, Network, NetworkSpec
from .zoo import NetBuilder, zoo_names

__all__ = ["Layer", "LayerSpec", "NetBuilder", "Network", "NetworkSpec", "load_workload", "zoo_names"]
