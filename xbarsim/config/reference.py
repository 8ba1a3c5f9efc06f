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
    for path, cls in _sections(Arch):
        lines += [f"## `{path.rstrip('.')}`: {cls.section_doc}", "",
                  "| field | expected | default | meaning | affects |", "|---|---|---|---|---|"]
        for name, expected, default, doc, effects in cls.describe():
            lines.append(f"| `{name}` | {expected} | `{default}` | {doc} | {effects} |")
        aliases = getattr(cls, "aliases", {})
        for alias, target in aliases.items():
            lines.append(f"| `{alias}` | alias | | may be given instead of `{target}` | |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(markdown(), end="")
