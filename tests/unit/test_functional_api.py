"""Public surface of the functional model: what it reports and how it refuses bad arguments."""

import numpy as np
import pytest

import xbarsim
import xbarsim.functional as functional
from xbarsim.functional import CrossbarSpec, exact_mvm, mvm, program
from xbarsim.mapping import ArrayTiling

SPEC = CrossbarSpec(rows=16, cols=16, cell_bits=2, weight_bits=4, input_bits=4, adc_bits=6)


def test_functional_never_imports_simpy_placement_or_timing():
    import subprocess
    import sys
    code = ("import sys, xbarsim.functional; print(sorted(m for m in sys.modules if m == 'simpy' or "
            "m.startswith(('xbarsim.timing', 'xbarsim.mapping.placement', 'xbarsim.simulation'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_reading_a_trace_needs_no_simpy():
    import subprocess
    import sys
    from pathlib import Path
    sample = Path(__file__).resolve().parents[2] / "traces" / "samples" / "tiny-mlp-layer.h5"
    code = (f"import sys, xbarsim; t = xbarsim.open_trace({str(sample)!r}); t.stream; t.timeline(); t.counts; "
            "t.layers; print('simpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_functional_sources_import_no_timing_or_simpy():
    import ast
    from pathlib import Path
    root = Path(functional.__file__).parent
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [("." * node.level) + (node.module or "")]
            for name in names:
                assert "simpy" not in name and "timing" not in name, f"{path.name} imports {name}"


def test_reports_what_it_occupies():
    w = np.zeros((40, 5), dtype=np.int64)
    pm = program(w, SPEC)
    t = pm.tiling
    # 40 rows -> 3 row tiles; 5 weights x 2 slices = 10 columns -> 1 column tile
    assert (t.row_tiles, t.col_tiles, pm.arrays) == (3, 1, 3)
    assert t.rows_per_tile == (16, 16, 8) and t.cols_per_tile == (10,)
    assert pm.cells_used == 40 * 10 and t.utilization == pytest.approx(400 / (3 * 256))
    assert "3 arrays" in repr(pm)
    assert pm.cell_levels.shape == (1, 2, 40, 5) and pm.conductance_s.shape == (1, 2, 40, 5)


def test_tiling_geometry():
    t = ArrayTiling(300, 20, 128, 128, slices=8, polarities=2)
    assert t.physical_columns == 320 and t.row_tiles == 3 and t.col_tiles == 3 and t.arrays == 9
    assert t.cols_per_tile == (128, 128, 64)
    assert t.cells_used == 300 * 320 and 0 < t.utilization <= 1
    with pytest.raises(ValueError, match="rows: expected an integer >= 1, got 0"):
        ArrayTiling(1, 1, 0, 1, 1, 1)


def test_docstring_example():
    import doctest
    assert doctest.testmod(functional, verbose=False).failed == 0


@pytest.mark.parametrize("weights, message", [
    (np.ones((4, 3)), "weights: expected an integer array, got dtype float64; round and cast"),
    (np.ones(4, dtype=int), r"weights: expected a 2-D array, got shape \(4,\)"),
    (np.zeros((0, 3), dtype=int), "weights: expected a non-empty array"),
    (np.full((4, 3), 8), r"weights: expected 4-bit signed integers in \[-8, 7\], got values in \[8, 8\]"),
    (np.array([["a"]]), "weights: expected an integer array, got dtype <U1"),
])
def test_bad_weights(weights, message):
    with pytest.raises(ValueError, match=message):
        program(weights, SPEC)


@pytest.mark.parametrize("inputs, message", [
    (np.ones((2, 4)), "inputs: expected an integer array, got dtype float64"),
    (np.ones((2, 5), dtype=int), r"inputs: expected a last axis of length 4, got shape \(2, 5\)"),
    (np.ones((1, 2, 4), dtype=int), "inputs: expected a 1-D or 2-D array"),
    (np.full((2, 4), 16), r"inputs: expected 4-bit unsigned integers in \[0, 15\], got values in \[16, 16\]"),
    (np.full((2, 4), -1), r"inputs: expected 4-bit unsigned integers in \[0, 15\]"),
])
def test_bad_inputs(inputs, message):
    pm = program(np.zeros((4, 3), dtype=int), SPEC)
    with pytest.raises(ValueError, match=message):
        pm.mvm(inputs)


def test_signed_input_range_is_named():
    spec = CrossbarSpec(rows=16, cols=16, weight_bits=4, input_bits=4, adc_bits=6, signed_inputs=True)
    pm = program(np.zeros((4, 3), dtype=int), spec)
    with pytest.raises(ValueError, match=r"4-bit signed integers in \[-8, 7\]"):
        pm.mvm(np.full((1, 4), 8))


def test_bad_spec_and_rng():
    with pytest.raises(ValueError, match="spec: expected a CrossbarSpec, got dict"):
        program(np.zeros((2, 2), dtype=int), {"rows": 4})
    with pytest.raises(ValueError, match="rng: expected a seed >= 0"):
        program(np.zeros((2, 2), dtype=int), SPEC, rng=-1)
    with pytest.raises(ValueError, match="rng: expected None, an int seed"):
        program(np.zeros((2, 2), dtype=int), SPEC, rng="seed")
    with pytest.raises(ValueError, match="calibration: given, but spec.adc_range is 'full_scale'"):
        program(np.zeros((2, 2), dtype=int), SPEC, calibration=np.zeros((1, 2), dtype=int))


def test_exact_reference_guards_overflow():
    assert np.array_equal(exact_mvm(np.array([[1, 2]]), np.array([[3], [4]])), [[11]])
    with pytest.raises(ValueError, match="beyond int64"):
        exact_mvm(np.full((1, 4), 2**40), np.full((4, 1), 2**40))


def test_convenience_mvm_returns_stats():
    w = np.array([[1, -2], [3, 4]])
    y, stats = mvm(w, np.array([[5, 6]]), SPEC, stats=True)
    assert np.array_equal(y, [[23, 14]]) and stats.vectors == 1 and stats.input_cycles == 4
    assert 0 <= stats.active_row_fraction <= 1 and 0 <= stats.zero_bitplane_fraction <= 1


def test_rng_none_and_seeds_mean_the_same_for_program_and_mvm():
    """An int seed gives the same chip and the same noise in every process; None a fresh draw every call,
    in program, in the convenience mvm, and in a matrix's own read-noise stream when it was programmed with None."""
    import subprocess
    import sys

    code = ("import numpy as np; from xbarsim.functional import CrossbarSpec, program, mvm; "
            "s = CrossbarSpec(rows=8, cols=8, variation_sigma=0.1, read_noise_sigma=0.1); "
            "w = np.ones((8, 4), int); x = np.ones((3, 8), int); "
            "print((program(w, s, rng=3).mvm(x).tolist(), mvm(w, x, s, rng=3).tolist(), "
            "program(w, s).mvm(x).tolist(), mvm(w, x, s).tolist()))")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(2)]
    seeded = [eval(r)[:2] for r in runs]  # noqa: S307 - our own printout
    fresh = [eval(r)[2:] for r in runs]  # noqa: S307
    assert seeded[0] == seeded[1]
    assert fresh[0][0] != fresh[1][0] and fresh[0][1] != fresh[1][1]
    with pytest.raises(ValueError, match="rng: expected None, an int seed"):
        program(np.zeros((2, 2), dtype=int), SPEC, rng=True)
    with pytest.raises(xbarsim.ArgumentError):
        program(np.zeros((2, 2), dtype=int), SPEC, rng=-1)
