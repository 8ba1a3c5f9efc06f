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
    ]
    for path, cls in _sections(Arch):
        lines += [f"## `{path.rstrip('.')}`: {cls.section_doc}", "",
                  "| field | expected | default | meaning |", "|---|---|---|---|"]
        for name, expected, default, doc in cls.describe():
            lines.append(f"| `{name}` | {expected} | `{default}` | {doc} |")
        aliases = getattr(cls, "aliases", {})
        for alias, target in aliases.items():
            lines.append(f"| `{alias}` | alias | | may be given instead of `{target}` |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(markdown(), end="")
