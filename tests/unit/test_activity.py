"""Array activity, the one definition of what arrays do per vector (structural and on real data)."""

import numpy as np
import pytest

import xbarsim
from xbarsim.config import evolve
from xbarsim.mapping import activity, lower
from xbarsim.mapping.tiling import ArrayTiling
from xbarsim.workload import NetBuilder, load_workload


def test_unpacked_activity_by_hand():
    """K = 20 rows on 16-row arrays (2 row tiles: 16 + 4 rows), 2 column tiles, 2 input cycles.

    One vector whose digits are non-zero only in the first row tile, first cycle, 3 rows:
    row activations 3 rows x 2 column tiles = 6; with zero skipping 1 plane reads, on 2
    arrays (its column tiles): 2 reads, 16 rows x 2 DAC conversions, samples and conversions
    of the row tile's physical columns.
    """
    spec = xbarsim.CrossbarSpec(rows=16, cols=16, cell_bits=2, weight_bits=4, input_bits=2, dac_bits=1, adc_bits=8)
    layout = activity.Layout(ArrayTiling(20, 12, 16, 16, spec.slices, spec.polarities), spec)
    assert layout.tiling.col_tiles == 2 and layout.tiling.physical_columns == 24
    counts = np.zeros((2, 1, 1, 2), dtype=np.int64)
    counts[0, 0, 0, 0] = 3
    skip = activity.from_counts(layout, counts, zero_skip=True)
    plain = activity.from_counts(layout, counts, zero_skip=False)
    base = activity.structural(layout)
    assert base == {"items": 2, "reads": 2 * 4, "row_activations": 2 * 20 * 2, "dac": 2 * 20 * 2,
                    "sh": 2 * 24 * 2, "adc": 24 * 2 * 2}
    assert {k: int(v[0]) for k, v in skip.items()} == {"items": 1, "reads": 2, "row_activations": 6, "dac": 32,
                                                       "sh": 24, "adc": 24}
    assert {k: int(v[0]) for k, v in plain.items()} == {**base, "row_activations": 6}


def test_packed_groups_read_once_per_array():
    """Depthwise 3x3 over 8 channels: 9 rows per group, 8 groups packed in one array. A vector with
    non-zero digits in 3 groups in one cycle reads the shared array once, not three times."""
    spec = xbarsim.load_arch("isaac").crossbar
    net = NetBuilder("dw", 4, 4, 8)
    net.conv("dw", 8, 3, 1, padding=1, groups=8)
    layer = load_workload(net.spec).layers[0]
    low = lower(layer, spec)[0]
    assert low.groups_per_array >= 8 and low.arrays == 1
    counts = np.zeros((1, 1, 8, spec.input_cycles), dtype=np.int64)
    counts[0, 0, [1, 4, 6], 0] = 2
    seen = activity.from_counts(low, counts, zero_skip=True)
    assert int(seen["reads"][0]) == 1 and int(seen["row_activations"][0]) == 6 and int(seen["items"][0]) == 1
    assert int(seen["dac"][0]) == 8 * 9  # every row of the array that read


def test_grouped_convs_count_no_more_reads_with_data_than_without():
    """The case of the issue: conv -> depthwise (8 groups) -> fc on isaac with zero skipping; the
    depthwise layer's data-aware array reads once exceeded its structural ones fourfold."""
    from xbarsim.nn import Model
    net = NetBuilder("dwnet", 8, 8, 3)
    net.conv("conv", 8, 3, 1, padding=1)
    net.conv("dw", 8, 3, 1, padding=1, groups=8)
    net.fc("fc", 10)
    network = load_workload(net.spec)
    rng = np.random.default_rng(0)
    weights = {layer.name: {"weight": rng.normal(size=(layer.M, layer.C // layer.groups, layer.R, layer.S))
                            if layer.type == "conv" else rng.normal(size=(layer.M, layer.C)),
                            "bias": rng.normal(size=layer.M)} for layer in network.layers}
    arch = evolve(xbarsim.load_arch("isaac"), {"pe.zero_skip": True})
    x = np.maximum(rng.normal(size=(4, 3, 8, 8)), 0)
    structural = xbarsim.simulate(arch, network, batch=4)
    aware = xbarsim.simulate(arch, network, inputs=x, weights=Model(network, weights))
    for action in ("xbar.read", "xbar.row_activation", "dac.convert", "sh.sample", "adc.convert"):
        for layer in ("conv", "dw", "fc"):
            assert aware.count(action, layer) <= structural.count(action, layer), (action, layer)
    assert aware.count("xbar.read", "dw") < structural.count("xbar.read", "dw")


def test_functional_stats_come_from_the_same_definition():
    from xbarsim.functional import program
    spec = xbarsim.CrossbarSpec(rows=16, cols=16, cell_bits=2, weight_bits=4, input_bits=4, dac_bits=1, adc_bits=8)
    rng = np.random.default_rng(1)
    w = rng.integers(-8, 8, (40, 5))
    x = rng.integers(0, 16, (7, 40)) * (rng.random((7, 40)) < 0.3)
    _, stats = program(w, spec).mvm(x, stats=True)
    layout = activity.Layout(ArrayTiling(40, 5, 16, 16, spec.slices, spec.polarities), spec)
    seen = activity.observe(layout, x[:, None, :], zero_skip=True)
    assert stats.active_row_drives == int(seen["row_activations"].sum())
    assert stats.array_reads == 7 * activity.structural(layout)["reads"]
    t = layout.tiling
    assert stats.zero_bitplanes == 7 * spec.input_cycles * t.row_tiles - int(seen["reads"].sum()) // t.col_tiles
    assert stats.zero_bitplanes > 0
    with pytest.raises(ValueError):
        activity.observe(layout, x[:, None, :5], zero_skip=True)
