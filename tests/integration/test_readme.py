"""Every command and every Python block of the README runs, as a newcomer would type them.

The quick start (the first block: install, then run) is what CI runs on a fresh checkout
(``tests/integration/test_cli.py::test_readme_quick_start_is_what_ci_runs``). The blocks after it
run here, in order, in a scratch folder holding a link to ``examples/``: ``xbarsim`` is this
interpreter's ``python -m xbarsim`` and ``source .venv/bin/activate`` is skipped (the test
already runs inside the environment). Accuracy commands take minutes at full size, so they run
with ``--draws 1 --test-limit 60 --values 0,0.1`` appended: the same code on less data.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", README, flags=re.S)
QUICK_ACCURACY = ["--draws", "1", "--test-limit", "60", "--values", "0,0.1"]


def _commands():
    """The bash blocks after the quick start, as lists of words (comments dropped)."""
    bash = [text for lang, text in BLOCKS if lang == "bash"][1:]
    blocks = []
    for text in bash:
        lines = [shlex.split(line, comments=True) for line in text.splitlines()]
        blocks.append([words for words in lines if words and words[0] != "source"])
    return blocks


COMMAND_BLOCKS = _commands()
PYTHON_BLOCKS = [text for lang, text in BLOCKS if lang == "python"]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("readme")
    (folder / "examples").symlink_to(ROOT / "examples")
    return folder


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["MPLBACKEND"] = "Agg"
    return env


def test_the_readme_has_what_this_test_runs():
    assert len(COMMAND_BLOCKS) >= 3 and len(PYTHON_BLOCKS) >= 2
    words = [w for block in COMMAND_BLOCKS for line in block for w in line]
    for name in ("examples/survey-adc-energy.yaml", "examples/faster-adc.yaml", "examples/my-chip.yaml"):
        assert name in words and (ROOT / name).is_file(), name


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(COMMAND_BLOCKS)))
def test_readme_commands_run(index, scratch):
    for words in COMMAND_BLOCKS[index]:
        assert words[0] == "xbarsim", f"README commands start with xbarsim: {words}"
        argv = [sys.executable, "-m", "xbarsim"] + words[1:]
        if words[1] == "accuracy":
            argv += QUICK_ACCURACY + ["--force"]
        result = subprocess.run(argv, cwd=scratch, capture_output=True, text=True, env=_env(), timeout=600)
        assert result.returncode == 0, f"{' '.join(words)}\n{result.stderr}"
    if any(words[:2] == ["xbarsim", "report"] for words in COMMAND_BLOCKS[index]):
        assert (scratch / "traces" / "vgg8-report" / "report.md").is_file()


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_readme_python_runs(index, scratch):
    result = subprocess.run([sys.executable, "-c", PYTHON_BLOCKS[index]], cwd=scratch, capture_output=True,
                            text=True, env=_env(), timeout=600)
    assert result.returncode == 0, result.stderr
