"""Fuzzing: whatever a user or a damaged disk hands xbarsim, it loads it or refuses it in one line.

* mutated specs (arch, workload, energy table) and mutated YAML texts only ever load or raise
  ``ConfigError`` with a one-line message whose path exists in what was given;
* damaged traces (truncations, byte flips, edited or removed attributes, removed objects) only
  ever raise ``TraceError`` from ``open_trace``, ``replay`` and ``write_report``, and a refused
  replay or report leaves no output and no temporary behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given

import xbarsim
from xbarsim import ConfigError, TraceError, load_arch, load_energy, load_workload
from xbarsim.config.loader import dump_yaml

from ..strategies import damage_trace, mutated_specs, mutated_texts, trace_damages


def _one_line(message: str) -> bool:
    return bool(message) and message.isprintable()


def _names_a_real_path(data, path) -> bool:
    """Every part of ``path`` but the last exists in ``data``; the last exists or is what is missing or unknown."""
    node = data
    for depth, part in enumerate(path):
        last = depth == len(path) - 1
        if isinstance(node, dict):
            match = [k for k in node if k == part or str(k) == str(part)]
            if not match:
                return last
            node = node[match[0]]
        elif isinstance(node, (list, tuple)) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return last
    return True


SPECS = {
    "arch isaac": (lambda: load_arch("isaac").to_dict(), load_arch),
    "arch tiny": (lambda: load_arch("tiny").to_dict(), load_arch),
    "arch study": (lambda: load_arch("study").to_dict(), load_arch),
    "energy isaac": (lambda: load_energy("isaac").to_dict(), load_energy),
    "workload resnet20": (lambda: load_workload("resnet20").to_dict(), load_workload),
    "workload mlp": (lambda: load_workload("mlp").to_dict(), load_workload),
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_mutated_specs_load_or_raise_one_line_config_errors_naming_a_real_path(name):
    make, load = SPECS[name]

    @given(mutated_specs(make()))
    def check(data):
        try:
            load(data)
        except ConfigError as exc:
            assert _one_line(str(exc)), repr(str(exc))
            assert _names_a_real_path(data, exc.path), (exc.path, str(exc))

    check()


@pytest.mark.parametrize("name", ["arch isaac", "energy isaac", "workload mlp"])
def test_mutated_yaml_texts_load_or_raise_one_line_config_errors(name, tmp_path):
    make, load = SPECS[name]
    text = dump_yaml(make())
    path = tmp_path / "spec.yaml"

    @given(mutated_texts(text))
    def check(mutated):
        path.write_text(mutated, encoding="utf-8", errors="surrogatepass")
        try:
            load(str(path))
        except ConfigError as exc:
            assert _one_line(str(exc)), repr(str(exc))

    check()


_PRISTINE = {}


def _pristine_trace() -> bytes:
    """A small, complete trace (tiny chip, mlp, every event), made once."""
    if "bytes" not in _PRISTINE:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "run.h5"
            xbarsim.simulate("tiny", "mlp", batch=2, schedule="pipeline", trace=path, detail="event")
            _PRISTINE["bytes"] = path.read_bytes()
    return _PRISTINE["bytes"]


def _leftovers(folder: Path, keep) -> list:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


@pytest.mark.slow
@given(trace_damages)
def test_damaged_traces_only_raise_trace_errors_and_leave_no_output(damage):
    from xbarsim.report import write_report

    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        path = folder / "run.h5"
        path.write_bytes(_pristine_trace())
        what = damage_trace(path, damage)
        readable = True
        try:
            with xbarsim.open_trace(path) as trace:
                trace.summary, trace.counts, trace.layers, trace.stream, trace.timeline()
        except TraceError as exc:
            assert _one_line(str(exc)) and str(path) in str(exc), (what, str(exc))
            readable = False
        out = folder / "replayed.h5"
        try:
            xbarsim.replay(path, out=out)
            assert readable, f"{what}: open_trace refused it but replay did not"
        except TraceError as exc:
            assert _one_line(str(exc)), (what, str(exc))
            assert not out.exists()
        report = folder / "report"
        try:
            write_report(path, report)
        except TraceError as exc:
            assert _one_line(str(exc)), (what, str(exc))
            assert not report.exists()
        assert _leftovers(folder, {"run.h5", "replayed.h5", "report"}) == [], what


def test_a_byte_flip_in_the_event_table_is_a_trace_error_naming_it(tmp_path):
    """The issue's case: one flipped byte inside a compressed chunk of the per-operation times
    (an h5py read failure before)."""
    import h5py

    path = tmp_path / "run.h5"
    xbarsim.simulate("isaac", "vgg8", trace=path, detail="event")  # large enough for chunked columns
    with h5py.File(path, "r") as f:
        assert f["timeline/start"].chunks is not None
        offset = f["timeline/start"].id.get_chunk_info(0).byte_offset
    data = bytearray(path.read_bytes())
    data[offset + 40] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(TraceError, match=r"run\.h5: /timeline/start"):
        xbarsim.replay(path)


def test_an_edited_value_is_refused(tmp_path):
    import h5py

    path = tmp_path / "run.h5"
    path.write_bytes(_pristine_trace())
    with h5py.File(path, "r+") as f:
        f["summary"].attrs["cycles"] = 1
    with pytest.raises(TraceError, match="/summary attributes: they do not match their checksum"):
        xbarsim.open_trace(path)
    with h5py.File(path, "r+") as f:
        del f.attrs["checksums"]
    with pytest.raises(TraceError, match="has no checksums"):
        xbarsim.open_trace(path)


@pytest.mark.parametrize("name", ["status", "format", "schema_version"])
def test_header_attributes_of_any_type_are_trace_errors(name, tmp_path):
    """Found by benchmarks/fuzz_reliability.py: an array where a string belongs made `!=` ambiguous."""
    import h5py

    path = tmp_path / "run.h5"
    path.write_bytes(_pristine_trace())
    with h5py.File(path, "r+") as f:
        f.attrs[name] = [-3, 220, 0]
    with pytest.raises(TraceError):
        xbarsim.open_trace(path)


def test_names_read_from_a_damaged_file_are_escaped(tmp_path):
    """Found with HYPOTHESIS_PROFILE=thorough: a flipped byte renamed /layers to '/lay\\x05rs'."""
    import h5py

    path = tmp_path / "run.h5"
    path.write_bytes(_pristine_trace())
    with h5py.File(path, "r+") as f:
        f.move("layers", "lay\x05rs")
    with pytest.raises(TraceError, match=r"unexpected /lay\\x05rs") as info:
        xbarsim.open_trace(path)
    assert _one_line(str(info.value))
    assert str(xbarsim.OutputError("a\nb")) == "a\\nb" and str(xbarsim.ArgumentError("\x1b[31m")) == "\\x1b[31m"


def test_no_temporaries_outlive_a_failed_open(tmp_path):
    path = tmp_path / "run.h5"
    path.write_bytes(_pristine_trace()[:1000])
    with pytest.raises(TraceError):
        xbarsim.replay(path, out=tmp_path / "new.h5")
    assert sorted(os.listdir(tmp_path)) == ["run.h5"]


@given(mutated_specs(load_arch("tiny").to_dict()))
def test_mutated_chips_that_load_also_simulate_or_raise_user_errors(data):
    """What load accepts must not crash later (an overflow inside the event model, an infinity in energy)."""
    try:
        arch = load_arch(data)
    except ConfigError:
        return
    try:
        result = xbarsim.simulate(arch, "mlp", batch=2)
    except xbarsim.XbarsimError as exc:
        assert _one_line(str(exc)), repr(str(exc))
        return
    assert result.cycles > 0 and 0 < result.energy_pj < float("inf") and result.tops_per_w > 0
