"""docs/sweeps.md holds the spec and column references generated from their declarations."""

import re
from pathlib import Path

from xbarsim.sweeps import columns, spec

DOC = Path(__file__).resolve().parents[2] / "docs" / "sweeps.md"


def _block(text: str, name: str) -> str:
    match = re.search(rf"<!-- {name}:[^>]*-->\n(.*?)<!-- end {name} -->", text, re.S)
    assert match, f"docs/sweeps.md lacks the {name} block"
    return match.group(1).strip()


def test_spec_reference_is_current():
    assert _block(DOC.read_text(), "spec-reference") == spec.reference_markdown().strip(), \
        "regenerate with: python -c 'from xbarsim.sweeps.spec import reference_markdown; print(reference_markdown())'"


def test_columns_reference_is_current():
    assert _block(DOC.read_text(), "columns-reference") == columns.reference_markdown().strip()


def test_sweeps_are_in_the_public_namespace():
    import xbarsim
    import xbarsim.sweeps

    assert xbarsim.sweep is xbarsim.sweeps.sweep and xbarsim.load_sweep is xbarsim.sweeps.load_sweep
    assert xbarsim.read_results is xbarsim.sweeps.read_results
    assert {"sweep", "load_sweep", "read_results"} <= set(xbarsim.__all__)
