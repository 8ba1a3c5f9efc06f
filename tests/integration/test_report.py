"""Reports: every figure is a real PNG, the summary links them, both timeline styles work."""


import pytest

import xbarsim
import xbarsim.report as report_module
from xbarsim.report import write_report

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def trace(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "run.h5"
    xbarsim.simulate("tiny", "mlp", batch=3, schedule="pipeline", trace=path)
    return path


def test_report_writes_figures_and_summary(trace, tmp_path):
    files = write_report(trace, tmp_path / "out")
    assert set(files) == {"energy_by_component", "energy_by_layer", "timeline", "layers", "bottlenecks", "roofline",
                          "energy_by_data", "report"}
    for name, path in files.items():
        assert path.exists() and path.stat().st_size > 1000
        if name != "report":
            assert path.read_bytes()[:8] == PNG
    text = files["report"].read_text()
    assert text.startswith("# mlp on tiny")
    for name in ("energy_by_component.png", "energy_by_layer.png", "timeline.png", "layers.png", "bottlenecks.png",
                 "roofline.png", "energy_by_data.png"):
        assert f"]({name})" in text
    assert "| fc1 | fc |" in text
    assert "## Bottlenecks" in text and "## Ladder from peak to achieved" in text and "| input activations |" in text


def test_large_runs_draw_busy_fractions(trace, tmp_path, monkeypatch):
    monkeypatch.setattr(report_module, "_GANTT_LIMIT", 5)
    path = report_module.timeline(xbarsim.open_trace(trace), tmp_path / "heat.png")
    assert path.read_bytes()[:8] == PNG


def test_summary_traces_say_they_have_no_events(tmp_path):
    path = tmp_path / "summary.h5"
    xbarsim.simulate("tiny", "mlp", trace=path, detail="summary")
    files = write_report(path, tmp_path / "out")
    assert files["timeline"].read_bytes()[:8] == PNG
