"""Reading workloads: a zoo name, a YAML path, a dict or a Network in; a resolved Network out."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Union

from ..config.loader import read_yaml
from ..errors import ConfigError, described
from .network import Network, NetworkSpec
from .zoo import ZOO, zoo_names, zoo_spec

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
    if isinstance(spec, (str, os.PathLike)):
        name = os.fspath(spec)
        if name in ZOO:
            return Network.from_dict(zoo_spec(name))
        path = Path(name)
        if not path.is_file():
            raise ConfigError(("workload",), f"a built-in network ({', '.join(zoo_names())}) or a YAML file",
                              name, hint="no such network or file")
        try:
            data = read_yaml(path.read_text(encoding="utf-8"), str(path))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(("workload",), "a readable UTF-8 YAML file", name, hint=str(exc)) from None
    elif isinstance(spec, Mapping):
        data = spec
    else:
        raise ConfigError(("workload",), "a network name, a YAML path, a mapping or a Network",
                          described(type(spec).__name__))
    if not isinstance(data, Mapping):
        raise ConfigError(("workload",), "a YAML mapping", described(type(data).__name__))
    if "version" not in data:
        raise ConfigError(("version",), "1 (start the workload with 'version: 1')", described("nothing"))
    return Network.from_dict(data)
