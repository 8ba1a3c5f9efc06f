"""Mapping: lowering, utilization, depthwise packing, splitting, rounds, replication, errors."""

import pytest

import xbarsim
from xbarsim import MappingError
from xbarsim.mapping import map_network
from xbarsim.workload import load_workload


def net(*layers, H=8, W=8, C=3):
    return load_workload({"version": 1, "name": "t", "input": {"H": H, "W": W, "C": C}, "layers": list(layers)})


def test_conv_lowering_and_utilization_on_isaac():
    arch = xbarsim.load_arch("isaac")
    m = map_network(arch, load_workload("resnet18"))
    conv1 = m.layers[0]
    low = conv1.lowered
    # K = 3*7*7 = 147 rows -> 2 row tiles; 64 filters x 8 slices = 512 columns -> 4 column tiles
    assert (low.tiling.in_features, low.tiling.row_tiles, low.tiling.col_tiles, low.arrays) == (147, 2, 4, 8)
    assert conv1.arrays == 8 * conv1.copies
    assert conv1.utilization == pytest.approx(147 * 512 / (8 * 128 * 128))
    assert conv1.vectors == 112 * 112


def test_depthwise_groups_pack_block_diagonally():
    arch = xbarsim.load_arch("isaac")
    m = map_network(arch, net({"name": "dw", "type": "conv", "M": 32, "R": 3, "padding": 1, "groups": 32}, C=32))
    low = m.layers[0].lowered
    # one group: 9 rows x 1 filter x 8 slices; an array takes min(128 // 9, 128 // 8) = 14 groups
    assert low.groups_per_array == 14 and low.arrays == 3
    assert m.layers[0].utilization == pytest.approx(32 * 9 * 8 / (3 * 128 * 128))


def test_layer_larger_than_the_chip_is_split_into_rounds():
    m = map_network(xbarsim.load_arch("isaac"), load_workload("alexnet"))
    fc6 = next(x for x in m.layers if x.layer.name == "fc6")
    assert len(fc6.parts) == 2 and fc6.parts[0].round != fc6.parts[1].round
    assert sum(p.lowered.out_channels for p in fc6.parts) == 4096
    assert m.rounds == 3 and m.reprograms
    for schedule in ("layer", "pipeline"):
        result = xbarsim.simulate("isaac", "alexnet", schedule=schedule)
        assert result.count("xbar.write") == sum(x.cells_used for x in result.mapping.layers)
        assert any("reprogrammed" in note for note in result.notes)


def test_no_legal_mapping_is_a_mapping_error():
    tiny = xbarsim.load_arch("tiny")
    wide = net({"name": "fc", "type": "fc", "M": 1}, H=1, W=1, C=100_000)
    with pytest.raises(MappingError, match="even one output channel needs"):
        map_network(tiny, wide)
    with pytest.raises(MappingError, match="schedule: expected one of layer, pipeline"):
        map_network(tiny, wide, "wavefront")
    no_pool = xbarsim.evolve(tiny, {"tile.pooling_units": 0})
    with pytest.raises(MappingError, match="no pooling units"):
        map_network(no_pool, net({"name": "p", "type": "pool", "R": 2, "stride": 2}))


def test_pipeline_replicates_the_slowest_stage_and_layer_fills_free_pes():
    from xbarsim.timing.durations import stage_cost
    arch = xbarsim.load_arch("isaac")
    cost = stage_cost(arch)
    m = map_network(arch, load_workload("vgg8"), "pipeline", cost)
    weight = [x for x in m.layers if x.parts]
    stage = [x.vectors * cost(x.lowered) / x.copies for x in weight]
    slowest = max(range(len(stage)), key=stage.__getitem__)
    # the pipeline stops when its slowest stage cannot grow: one copy per vector, or no PEs left
    pes = -(-weight[slowest].lowered.arrays // arch.pe.arrays)
    assert weight[slowest].copies == weight[slowest].vectors or m.pes_used(0) + pes > arch.pes
    assert weight[0].copies > 1 and m.pes_used(0) <= arch.pes
    # layer by layer: every layer's time shrinks with the free PEs, none gets more copies than vectors
    layered = map_network(arch, load_workload("vgg8"), "layer", cost)
    assert all(x.copies <= x.vectors and (x.copies > 1 or x.vectors == 1) for x in layered.layers if x.parts)
    assert layered.pes_used(0) <= arch.pes
    assert arch.pes - layered.pes_used(0) < max(-(-x.lowered.arrays // arch.pe.arrays) for x in layered.layers
                                                 if x.parts)


def test_the_mapper_imports_no_timing():
    import ast
    from pathlib import Path
    import xbarsim.mapping as mapping
    for path in Path(mapping.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert "timing" not in (node.module or "") and "hardware" not in (node.module or ""), path.name


def test_layer_precision_changes_slices_and_cycles():
    arch = xbarsim.load_arch("isaac")
    m = map_network(arch, load_workload({"version": 1, "name": "t", "input": {"H": 1, "W": 1, "C": 128},
                                         "weight_bits": 8, "input_bits": 8,
                                         "layers": [{"name": "fc", "type": "fc", "M": 16}]}))
    low = m.layers[0].lowered
    assert low.crossbar.slices == 4 and low.crossbar.input_cycles == 8
    with pytest.raises(MappingError, match="precision does not fit"):
        map_network(arch, load_workload({"version": 1, "name": "t", "input": {"H": 1, "W": 1, "C": 4},
                                         "weight_bits": 1, "layers": [{"name": "fc", "type": "fc", "M": 2}]}))


def test_copies_sharing_rows_take_every_position_in_turn():
    # ResNet-18's layer2.0 downsample on isaac: 11 copies on one tile share each row of 28 pixels,
    # cut into 11 segments of 2 or 3; every copy must serve the same number of vectors over a
    # whole turn of the rows, and a row's copies (so its tiles) stay those the dealing gives it
    import numpy as np

    from xbarsim.mapping.placement import segment_bounds
    from xbarsim.timing.durations import stage_cost
    from xbarsim.timing.stream import copy_of

    arch = xbarsim.load_arch("isaac")
    mapping = map_network(arch, load_workload("resnet18"), "pipeline", stage_cost(arch))
    m = next(m for m in mapping.layers if m.layer.name == "layer2.0.downsample")
    copies = m.parts[0].copies
    assert copies > 1 and len({b - a for a, b in segment_bounds(m.layer.F, m.segments)}) > 1
    batch = copies  # images x rows: whole turns of the dealing
    dealt = copy_of(m, copies, batch).reshape(batch * m.layer.E, m.segments)
    widths = np.array([b - a for a, b in segment_bounds(m.layer.F, m.segments)])
    served = np.bincount(dealt.ravel(), weights=np.tile(widths, len(dealt)), minlength=copies)
    assert served.min() == served.max()
    groups = max(1, min(m.segments, m.groups, copies))
    rows = np.arange(len(dealt))
    for row, got in zip(rows, dealt):
        assert set(got.tolist()) == {int(c) for c in (row * groups + np.arange(groups)) % copies}
