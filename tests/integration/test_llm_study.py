"""The GPT-2 study's machinery on a short prompt: every joule and cycle lands in one group."""

import json

import pytest

from xbarsim.llm_study import run_study


@pytest.mark.slow
def test_study_breakdowns_add_up(tmp_path):
    cases = run_study(tmp_path, prompts=(4,), decode_tokens=2, quiet=True)
    assert [c["products"] for c in cases] == ["digital", "crossbar"]
    for case in cases:
        for name, phase in case["phases"].items():
            tokens = phase["tokens"]
            assert sum(phase["energy_per_token_pj"].values()) * tokens == pytest.approx(phase["energy_pj"], rel=1e-9)
            assert sum(phase["latency_per_token_s"].values()) * tokens == pytest.approx(phase["latency_s"], rel=1e-9)
            assert 0 <= phase["output_layer_latency_share"] <= 1
        assert case["ttft_s"] == case["phases"]["prefill"]["latency_s"]
    assert cases[1]["phases"]["prefill"]["energy_per_token_pj"]["crossbar writes"] > 0
    assert cases[0]["phases"]["prefill"]["energy_per_token_pj"]["matrix unit"] > 0
    saved = json.loads((tmp_path / "gpt2-study.json").read_text())["cases"]
    assert len(saved) == 2 and (tmp_path / "gpt2-study.png").stat().st_size > 0
    assert "| 4 | digital |" in (tmp_path / "gpt2-study.md").read_text()
