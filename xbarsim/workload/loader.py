"""Reading workloads: a zoo name, a YAML path, a dict or a Network in; a resolved Network out."""

from __future__ import annotations

import os
from typing import Any, Mapping, Union

from ..config.loader import load_spec
from .network import Network, NetworkSpec
from .zoo import zoo_names, zoo_spec

__all__ = ["load_workload"]


def load_workload(spec: Union[str, os.PathLike, Mapping[str, Any], Network]) -> Network:
    """A resolved :class:`Network` from a built-in name, a YAML path, a dict or a Network.

    >>> load_workload("alexnet").macs
    724406816
    """
    if isinstance(spec, Network):
        return spec
    if isinstance(spec, NetworkSpec):
        return Network(spec)
    presets = {name: (lambda name=name: zoo_spec(name)) for name in zoo_names()}
    return load_spec(spec, what="workload", noun="a built-in network", presets=presets, build=Network.from_dict,
                     version="1 (start the workload with 'version: 1')")
