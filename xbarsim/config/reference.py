"""The config reference in Markdown, generated from the field declarations themselves.

``python -m xbarsim.config.reference > docs/config.md`` regenerates it; a test keeps the
committed copy current.
"""

from __future__ import annotations

import dataclasses
from typing import List, Type

from .arch import Arch
from .fields import Section, Spec


def _sections(cls: Type[Spec], prefix: str = "") -> List[tuple]:
    found = [(prefix or "(top level)", cls)]
    for f in dataclasses.fields(cls):
        kind = f.metadata.get("type")
        if isinstance(kind, Section):
            found += _sections(kind.cls, f"{prefix}{f.name}.")
    return found


def markdown() -> str:
    """Every section and field of an arch spec: type and range, default, meaning."""
    lines = [
        "# Config reference",
        "",
        "Generated from the field declarations (`python -m xbarsim.config.reference`). Quantities",
        "take a unit (`100ns`, `1.28GHz`, `64KiB`); a spec starts with `version: 1` and may extend a",
        "preset or file with `base:`.",
        "",
        "The last column says what a change of the field can alter: `mapping` (lowering, placement,",
        "the operation stream), `timing` (operation durations, server counts, buffer capacities),",
        "`counts` (action counts derived from the stream), `function` (what the functional model",
        "computes) or `price` (energy, power, area, names). `xbarsim replay --arch` accepts changes to",
        "`timing`, `counts` and `price` fields, and to `function` fields unless the trace's counts came",
        "from real data; anything touching `mapping` needs a new simulation.",
        "",
    ]
    lines += _tables(_sections(Arch))
    from ..workload.network import NetworkSpec  # imported late: the workload imports the config

    lines += [
        "# Workload reference",
        "",
        "A workload spec (`xbarsim.load_workload`, YAML or dict) describes a network: its input, default",
        "precisions, its layers in order and, for sequence models, how it is run (`sequence`). Layer",
        "kinds and their semantics: `docs/architecture-model.md` (Workloads) and `docs/transformers.md`.",
        "Every workload field alters the mapping.",
        "",
    ]
    from ..workload.network import LayerSpec

    lines += _tables(_sections(NetworkSpec) + [("layers[i]", LayerSpec)], effects=False)
    from ..energy.models import TechnologySpec  # the energy side: imported late, it imports the config

    lines += [
        "# Energy model reference",
        "",
        "An energy spec (`xbarsim.energy.load_energy`, YAML or dict; `docs/energy-table.md`) may carry a",
        "`model` section instead of, or besides, hand-written `components`: the technology the component",
        "models compute the table for (`docs/energy-model.md`). Every model field alters the price only.",
        "",
    ]
    lines += _tables([("model", TechnologySpec)], effects=False)
    return "\n".join(lines)


def _tables(sections, effects: bool = True) -> List[str]:
    lines: List[str] = []
    for path, cls in sections:
        head = "| field | expected | default | meaning |" + (" affects |" if effects else "")
        lines += [f"## `{path.rstrip('.')}`: {cls.section_doc}", "", head,
                  "|---|---|---|---|" + ("---|" if effects else "")]
        for name, expected, default, doc, affected in cls.describe():
            lines.append(f"| `{name}` | {expected} | `{default}` | {doc} |" + (f" {affected} |" if effects else ""))
        aliases = getattr(cls, "aliases", {})
        for alias, target in aliases.items():
            lines.append(f"| `{alias}` | alias | | may be given instead of `{target}` |" + (" |" if effects else ""))
        lines.append("")
    return lines


if __name__ == "__main__":  # pragma: no cover
    print(markdown(), end="")
