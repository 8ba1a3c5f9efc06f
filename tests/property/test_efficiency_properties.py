"""Properties of the hardware-efficiency analysis (xbarsim.efficiency): the attribution covers each
layer's span exactly, the ladder's factors multiply to achieved / peak, and the data types cover
the energy; on random small chips and networks (CNNs and transformer blocks)."""

import math

from hypothesis import given, settings, strategies as st

import xbarsim
from xbarsim.hardware.registry import DATA_TYPES

from ..strategies import simulate_mappable as simulate, small_archs, small_networks, small_sequence_networks

schedules = st.sampled_from(["layer", "pipeline"])



def _check(result):
    b = result.bottlenecks
    clock = result.arch.chip.clock
    for report, layer in zip(result.layers, b.layers):
        # the categories tile the span: from the recorded timeline, first start to last end
        mine = result.stream.op_layer == result.layers.index(report)
        span = int(result.timeline.end[mine].max() - result.timeline.start[mine].min()) if mine.any() else 0
        assert sum(layer.cycles.values()) == span == report.cycles
        assert all(v >= 0 for v in layer.cycles.values())
        assert (layer.bound == "") == (span == 0) and (not layer.bound or layer.cycles[layer.bound] == max(
            layer.cycles.values()))
        if layer.ladder is not None:
            achieved = 2 * report.macs * clock / span  # ops/s over the layer's span
            xb = result.arch.crossbar
            if xb.cols % xb.columns_per_weight == 0:
                assert math.isclose(layer.ladder.peak, result.peak_tops * 1e12, rel_tol=1e-12)
            assert math.isclose(layer.ladder.peak * math.prod(layer.ladder.factors), achieved, rel_tol=1e-9)
            assert 0 < layer.ladder.factors[0] <= 1 + 1e-12 and 0 < layer.ladder.factors[1] <= 1
            assert 0 < layer.ladder.factors[3] <= 1  # the busiest copy computes within the span
    if b.network is not None:
        array_macs = sum(r.macs for r in result.layers if r.arrays and r.vectors)  # weight layers on arrays
        achieved = 2 * array_macs * clock / result.cycles
        assert math.isclose(b.network.peak * math.prod(b.network.factors), achieved, rel_tol=1e-9)
    data = result.energy_by_data
    assert math.isclose(sum(data.total.values()), result.energy_pj, rel_tol=1e-9, abs_tol=1e-9)
    assert all(v >= 0 for v in data.total.values())
    for name, pj in result.energy.by_layer.items():
        assert math.isclose(sum(data.by_layer[name][t] for t in DATA_TYPES), pj, rel_tol=1e-9, abs_tol=1e-9)


@settings(max_examples=40)
@given(small_archs(), small_networks(), schedules, st.integers(1, 2))
def test_attribution_ladder_and_data_types_cover_cnn_runs(arch, network, schedule, batch):
    _check(simulate(arch, network, schedule, batch))


@settings(max_examples=20)
# prefills only (decode steps are not attributed: result.decode); operand bits the test table prices
@given(small_archs(**{"tile.matrix_unit.operand_bits": 8}), small_sequence_networks(max_decode=0), schedules)
def test_attribution_ladder_and_data_types_cover_transformer_runs(arch, network, schedule):
    _check(simulate(arch, network, schedule))


@settings(max_examples=15)
@given(small_archs(), small_networks(), schedules)
def test_a_trace_of_any_detail_keeps_the_bottlenecks(tmp_path_factory, arch, network, schedule):
    result = simulate(arch, network, schedule)
    folder = tmp_path_factory.mktemp("traces")
    for detail in ("summary", "event"):
        path = folder / f"{detail}.h5"
        xbarsim.simulate(arch, network, schedule=schedule, trace=path, detail=detail, overwrite=True)
        replayed = xbarsim.replay(path)
        assert replayed.bottlenecks == result.bottlenecks
        assert replayed.energy_by_data.total == result.energy_by_data.total
