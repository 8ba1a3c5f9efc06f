"""Reading specs: preset names, YAML files and dicts in; frozen, validated specs out.

``load_arch`` is the front door. A spec may name a ``base`` preset or file and override
some of its keys (deep merge), so "ISAAC with a 6-bit ADC" is three lines of YAML. YAML
syntax errors and unknown names become :class:`~xbarsim.errors.ConfigError` with the file,
line and column; nothing from inside PyYAML reaches the user.
"""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Union

import yaml

from ..errors import ConfigError, described
from .arch import _VERSION, Arch

__all__ = ["load_arch", "load_spec", "arch_presets", "preset_names", "preset_text", "read_yaml", "dump_yaml",
           "merge", "resolve_base"]

PRESET_PACKAGE = "xbarsim.config.presets"


_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when PyYAML has it


class _Loader(_BASE_LOADER):
    """A safe loader that also reads ``1e-3`` as a float (YAML 1.1 wants ``1.0e-3``) and refuses
    duplicate keys (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # ``<<: *base`` may be overridden by design
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: the base class reports it
                    continue
                if first is not None:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"duplicate key {key!r} (first given at line {first.line + 1})", key_node.start_mark)
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def read_yaml(text: str, source: str = "<string>") -> Any:
    """Parse YAML text; syntax errors become ConfigError naming ``source``, line and column."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        raise ConfigError((source,), "valid YAML", described(f"{exc.problem} at {where}")) from None
    except yaml.YAMLError as exc:
        raise ConfigError((source,), "valid YAML", described(str(exc))) from None


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's emitter when PyYAML has it


def dump_yaml(data: Mapping[str, Any]) -> str:
    """YAML text for a resolved spec dict, keys in declaration order."""
    return yaml.dump(dict(data), Dumper=_DUMPER, sort_keys=False, default_flow_style=False)


def preset_names(package: str) -> List[str]:
    """Names of the ``*.yaml`` presets shipped in ``package``."""
    return sorted(p.name[:-5] for p in resources.files(package).iterdir() if p.name.endswith(".yaml"))


def preset_text(package: str, name: str) -> str:
    """The text of a shipped preset."""
    return resources.files(package).joinpath(f"{name}.yaml").read_text(encoding="utf-8")


def arch_presets() -> List[str]:
    """Names of the built-in architecture presets."""
    return preset_names(PRESET_PACKAGE)


def read_named(name: Union[str, os.PathLike], presets: Mapping[str, Callable[[], Any]], what: str,
               noun: str) -> Dict[str, Any]:
    """The raw mapping of a preset (``presets[name]()`` gives YAML text or a dict) or of a YAML file."""
    text_name = os.fspath(name)
    if text_name in presets:
        data, source = presets[text_name](), f"preset {text_name}"
        if isinstance(data, str):
            data = read_yaml(data, source)
    else:
        path = Path(text_name)
        if not path.is_file():
            raise ConfigError((what,), f"{noun} ({', '.join(presets)}) or a YAML file", text_name,
                              hint="no such preset or file")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError((what,), "a readable UTF-8 YAML file", text_name, hint=str(exc)) from None
        source = str(path)
        data = read_yaml(text, source)
    if not isinstance(data, Mapping):
        raise ConfigError((source,), "a YAML mapping (key: value lines)",
                          described("an empty file" if data is None else f"a {type(data).__name__}"))
    return dict(data)


def load_spec(spec: Any, *, what: str, noun: str, presets: Mapping[str, Callable[[], Any]], build: Callable,
              version: str) -> Any:
    """The common path of every loader: a name or path or mapping -> version check -> ``base:`` -> ``build``."""
    if isinstance(spec, (str, os.PathLike)):
        data = read_named(spec, presets, what, noun)
    elif isinstance(spec, Mapping):
        data = dict(spec)
    else:
        raise ConfigError((what,), f"{noun}, a YAML path or a mapping", described(type(spec).__name__))
    if "version" not in data:
        raise ConfigError(("version",), version, described("nothing"))
    data = resolve_base(data, lambda name: read_named(name, presets, "base", noun))
    return build(data)


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> Dict[str, Any]:
    """Deep merge: mappings merge key by key, anything else in ``override`` replaces."""
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merge(result[key], value)
        else:
            result[key] = value
    return result


def resolve_base(data: Dict[str, Any], read_raw, depth: int = 0) -> Dict[str, Any]:
    """Apply a ``base:`` key recursively: ``read_raw(name)`` returns the base's raw mapping."""
    if "base" not in data:
        return data
    if depth > 8:
        raise ConfigError(("base",), "a chain of at most 8 bases", described("a longer or circular chain"))
    data = dict(data)
    base_name = data.pop("base")
    if not isinstance(base_name, str):
        raise ConfigError(("base",), "a preset name or a YAML path", base_name)
    parent = resolve_base(read_raw(base_name), read_raw, depth + 1)
    return merge(parent, data)


def load_arch(spec: Union[str, os.PathLike, Mapping[str, Any], Arch]) -> Arch:
    """A frozen, validated :class:`Arch` from a preset name, a YAML path, a dict or an Arch.

    >>> load_arch("tiny").crossbar.rows
    16

    Raises :class:`~xbarsim.errors.ConfigError` naming the dotted path of any bad value.
    """
    if isinstance(spec, Arch):
        return spec
    presets = {name: (lambda name=name: preset_text(PRESET_PACKAGE, name)) for name in arch_presets()}
    return load_spec(spec, what="arch", noun="a preset name", presets=presets, build=_build_arch,
                     version=_VERSION.expected)


def _build_arch(data: Dict[str, Any]) -> Arch:
    try:
        _VERSION.convert(data["version"])
    except ConfigError as exc:
        raise exc.under("version") from None
    return Arch.from_dict(data)
