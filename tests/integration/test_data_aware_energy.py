"""Data-aware crossbar and DAC energy (issue 9, item 2): the programmed levels and the digits
price the read, checked against a brute-force sum of V^2 G t over every driven cell, and the
per-layer structural estimate checked against a structural run of the same batch."""

import numpy as np
import pytest

import xbarsim
from xbarsim.config import evolve
from xbarsim.nn import Model
from xbarsim.workload import NetBuilder, load_workload

from ..networks import conv_depthwise_fc

MODEL_TABLE = {"version": 1, "name": "models-32nm", "model": {"node": "32nm"}}


def _arch(**changes):
    # 2-bit DACs (digits 0..3 of 4-bit inputs), 2-bit cells, a finite on/off ratio (G_off > 0)
    base = {"crossbar.dac_bits": 2, "crossbar.input_bits": 4, "crossbar.on_off_ratio": 10.0,
            "crossbar.adc_bits": 8}
    base.update(changes)
    return evolve(xbarsim.load_arch("tiny"), base)


def _fc_run(arch, seed=0):
    """An fc layer 20 -> 10 whose float weights and inputs quantize to themselves: integer weights
    in [-7, 7] with |w| = 7 present (scale 1), integer inputs in [0, 15] with 15 present."""
    rng = np.random.default_rng(seed)
    net = NetBuilder("fc20", 1, 1, 20)
    net.fc("fc", 10)
    network = load_workload(net.spec)
    w = rng.integers(-7, 8, size=(10, 20)).astype(float)
    w[0, 0] = 7
    x = rng.integers(0, 16, size=(5, 20)) * (rng.random((5, 20)) < 0.6)
    x[0, 0] = 15
    model = Model(network, {"fc": {"weight": w, "bias": np.zeros(10)}})
    result = xbarsim.simulate(arch, network, inputs=x.reshape(5, 20, 1, 1).astype(float), weights=model,
                              energy=MODEL_TABLE)
    return result, w.astype(np.int64).T, x  # weights as the (K, M) matrix


@pytest.mark.parametrize("dac_type", ["voltage", "pulse_width"])
def test_crossbar_read_energy_is_v2_g_t_over_every_driven_cell(dac_type):
    """A voltage DAC holds the row at d / D of the read voltage: (V d / D)^2 G t per cell; a pulse-width
    DAC at the full read voltage for d / D of the read: V^2 G t d / D. Either drives |d| steps per
    digit (row charge or counter counts) and, pulse width, charges the row once per non-zero digit,
    on each of the row's 2 arrays."""
    arch = _arch(**{"crossbar.dac_type": dac_type})
    result, w, x = _fc_run(arch)
    xb, pe = arch.crossbar, arch.pe
    assert result.mapping.layers[0].parts[0].lowered.tiling.col_tiles == 2  # 20 cells per row on 16-column arrays
    # levels: offset mapping stores w + 8 as two 2-bit cells; the rest of each 2 x 16-cell array row at G_off
    u = w + 8
    levels = np.stack([u & 3, u >> 2])  # (slices, K, M)
    step = (xb.g_on - xb.g_off) / 3
    row_g = (xb.g_off + levels * step).sum(axis=(0, 2)) + (2 * 16 - 20) * xb.g_off  # siemens per matrix row
    digits = np.stack([x & 3, x >> 2], axis=1)  # (N, T, K): the 2-bit digits of each input cycle
    on = digits / 3 if dac_type == "pulse_width" else (digits / 3) ** 2  # share of V_read^2 t at digit d of D = 3
    expected_pj = float((0.55 ** 2 * on * row_g).sum() * pe.read_latency) * 1e12  # the model's default V_read
    # counts are whole: G_off (1/3 of a level step here) is rounded to half steps once per MVM operation
    table = xbarsim.energy.table.resolve(xbarsim.energy.load_energy(MODEL_TABLE), arch)
    per_count = table.components["xbar"].actions["conduct"].joules * 1e12
    mvms = int((result.stream.op_kind == result.stream.op_names.index("mvm")).sum())
    assert result.energy.by_action[("fc", "xbar", "conduct")] == pytest.approx(expected_pj, abs=0.5 * mvms * per_count)
    per_step = table.components["dac"].actions["drive"].joules * 1e12
    assert result.energy.by_action[("fc", "dac", "drive")] == pytest.approx(digits.sum() * 2 * per_step, rel=1e-12)
    per_row = table.components["xbar"].actions["row_activation"].joules * 1e12
    assert (per_row > 0) == (dac_type == "pulse_width")
    assert result.energy.by_action.get(("fc", "xbar", "row_activation"), 0.0) == pytest.approx(
        np.count_nonzero(digits) * 2 * per_row, rel=1e-12)


def test_layers_split_into_parts_read_their_own_columns():
    """A chip of 2 arrays cannot hold the layer's 4: it is split by outputs, and each part reads its
    own columns' cells. With G_off = 0 (unused cells carry nothing) the parts' conduction adds up to
    the whole layer's."""
    ideal = {"crossbar.on_off_ratio": float("inf")}
    split, _, _ = _fc_run(_arch(**{"chip.tiles": 1, "tile.pes": 1, "pe.arrays": 2}, **ideal))
    joined, _, _ = _fc_run(_arch(**ideal))
    assert len(split.mapping.layers[0].parts) > 1 and len(joined.mapping.layers[0].parts) == 1
    assert split.energy.by_action[("fc", "xbar", "conduct")] == pytest.approx(
        joined.energy.by_action[("fc", "xbar", "conduct")], rel=1e-12)


def _net():
    network, weights, x = conv_depthwise_fc("mixed", 6, images=3, seed=3, biases=False)
    return network, Model(network, weights), x


@pytest.mark.parametrize("zero_skip", [False, True])
def test_structural_estimate_is_the_structural_run(zero_skip):
    """The per-layer estimate a data-aware run reports is what a structural run of the same batch
    prices, layer by layer; the data (zeros, small digits, real levels) costs less."""
    arch = _arch(**{"pe.zero_skip": zero_skip})
    network, model, x = _net()
    aware = xbarsim.simulate(arch, network, inputs=x, weights=model, energy=MODEL_TABLE)
    plain = xbarsim.simulate(arch, network, batch=len(x), energy=MODEL_TABLE)
    estimate = aware.structural_estimate
    for layer in ("conv", "dw", "fc"):
        data, structural = estimate[layer]
        assert data == pytest.approx(aware.energy.by_layer[layer], rel=1e-12)
        assert structural == pytest.approx(plain.energy.by_layer[layer], rel=1e-9)
        assert data < structural
    assert estimate["total"][1] == pytest.approx(plain.energy.dynamic_pj, rel=1e-9)
    assert plain.structural_estimate is None
    text = str(aware)
    assert "data-aware dynamic energy vs the structural estimate" in text and "total" in text
    # the best case assumes full-scale data: a data-aware run says its data may draw less
    assert "full-scale data: this run's data may draw less" in text
    assert "full-scale data" not in str(plain)


def test_the_estimate_survives_a_trace_and_follows_repricing(tmp_path):
    arch = _arch()
    network, model, x = _net()
    path = tmp_path / "aware.h5"
    aware = xbarsim.simulate(arch, network, inputs=x, weights=model, energy=MODEL_TABLE, trace=path)
    replayed = xbarsim.replay(path)
    for layer, (data, structural) in aware.structural_estimate.items():
        assert replayed.structural_estimate[layer] == pytest.approx((data, structural), rel=1e-12)
    other = {"version": 1, "name": "models-65nm", "model": {"node": "65nm"}}
    repriced = xbarsim.replay(path, energy=other)
    plain = xbarsim.simulate(arch, network, batch=len(x), energy=other)
    assert repriced.structural_estimate["total"][1] == pytest.approx(plain.energy.dynamic_pj, rel=1e-9)
