"""``xbarsim validate``: every case within the tolerance it declares (docs/validation.md).

The whole table runs VGG-8 data-aware on two NeuroSim chips (minutes): those tests are slow; the
published chips' cases (ISAAC, NeuRRAM, Sinangil) run in every suite.
"""

import dataclasses

import pytest

from xbarsim.cli import main
import numpy as np

import xbarsim
from xbarsim import ConfigError
from xbarsim.energy.validation import (CASES, SERIAL_GROUPS, Case, Conventions, Metric, failures, format_table,
                                       run_case, run_validation, serial_layer_cycles, target_errors)
from xbarsim.hardware import REGISTRY

CHIPS = tuple(c for c in CASES if not c.name.startswith("neurosim"))


@pytest.fixture(scope="module")
def rows():
    return run_validation()


@pytest.fixture(scope="module")
def chip_rows():
    return run_validation(CHIPS)


@pytest.mark.slow
def test_every_case_is_within_its_tolerance(rows):
    assert not failures(rows), format_table(failures(rows))


def test_published_chips_are_within_tolerance_and_meet_the_targets(chip_rows):
    """ISAAC, NeuRRAM and the Sinangil macro: within their guards, and within the targets (10% mean,
    25% worst |error| on throughput and efficiency, calibration points excluded)."""
    assert not failures(chip_rows), format_table(failures(chip_rows))
    errors = target_errors(chip_rows)
    assert len(errors) == 12  # ISAAC peak TOPS; NeuRRAM 4b/6b TOPS, 1b/3b, 2b/4b, 3b/5b and 8b/10b TOPS and TOPS/W;
    # Sinangil TOPS and TOPS/W
    assert max(errors) <= 0.25 and sum(errors) / len(errors) <= 0.10, format_table(chip_rows)


def test_calibration_points_are_shown_but_not_targets(chip_rows):
    calibrated = [(c.name, m.name) for c, m, _, _ in chip_rows if m.calibration]
    assert calibrated == [("neurram-4b6b", "peak_tops_per_w"), ("sinangil-sram7", "peak_tops")]
    table = format_table(chip_rows)
    assert "| peak_tops_per_w (calibration) |" in table
    assert "(12 figures, calibration points excluded)" in table


@pytest.mark.parametrize("code, tops_per_w", [(0, 610.5), (15, 262.3)])
def test_sinangil_outputs_0_and_15_calibrate_on_data(code, tops_per_w):
    """Table I's extreme points, run data-aware with pulse-width inputs: every input and weight code 0
    (output 0) or 15 (output 15, weights 7 = code 15 with the offset of 8) gives the published figure."""
    from xbarsim.energy.validation import _MACRO, _scoped, sinangil_output6

    network, model, x = sinangil_output6()
    arch = xbarsim.load_arch("sinangil-sram7")
    assert arch.crossbar.dac_type == "pulse_width"
    table = _scoped(xbarsim.load_energy(arch.energy_table), arch, _MACRO.scope)
    weights = np.full((16, 64, 1, 1), 7.0)
    model = type(model)(network, {"conv": {"weight": weights, "bias": np.zeros(16)}})
    run = xbarsim.simulate(arch, network, inputs=np.full_like(x, float(code)), weights=model, energy=table)
    assert 2 * network.macs / run.energy.dynamic_pj == pytest.approx(tops_per_w, rel=2e-4)


def test_sinangil_check_runs_at_mean_output_6():
    """The data of the average-output check: outputs average exactly 6 of 15 on the full-scale range."""
    from xbarsim.energy.validation import sinangil_output6

    network, model, x = sinangil_output6()
    vectors = x[0].reshape(64, -1).T  # (256, 64)
    u = np.asarray(model.weights["conv"]["weight"])[:, :, 0, 0] + 8  # (16, 64) stored codes
    outputs = vectors @ u.T * 15 / (64 * 15 * 15)
    assert outputs.mean() == pytest.approx(6.0, rel=1e-12)
    assert vectors.min() >= 5 and vectors.max() == 15 and u.min() == 4 and u.max() == 15


def test_macro_scope_prices_only_the_arrays_and_converters():
    """A macro measurement covers the arrays and converters: the chip around them costs nothing."""
    case = next(c for c in CASES if c.name == "neurram-1b3b")
    arrays = run_case(case)
    chip = run_case(dataclasses.replace(case, conventions=Conventions()))
    assert arrays["peak_tops"] == chip["peak_tops"]
    assert arrays["peak_tops_per_w"] > chip["peak_tops_per_w"] and arrays["area_mm2"] < chip["area_mm2"]


@pytest.mark.slow
def test_isaac_table_i_is_reproduced(rows):
    for case, metric, value, error in rows:
        if case.name == "isaac":
            assert abs(error) <= 0.02, (metric.name, value)


def test_neurosim_conventions_are_explicit_and_change_the_result():
    case = next(c for c in CASES if c.name == "neurosim-sram22")
    assert case.conventions == Conventions(post_layout_factor=1.22, conv_vectors="valid", offchip=False,
                                           layer_time="serial", static="in_use")
    assert case.data == "neurosim"
    structural = dataclasses.replace(case, data=None)  # the conventions' effect, without the data-aware run
    plain = dataclasses.replace(structural, conventions=Conventions())
    with_conventions, without = run_case(structural), run_case(plain)
    assert with_conventions["tops_per_w"] != pytest.approx(without["tops_per_w"])
    assert with_conventions["tops"] != pytest.approx(without["tops"])
    valid = run_case(dataclasses.replace(plain, conventions=Conventions(conv_vectors="valid")))
    assert valid["tops"] > without["tops"]  # the bottleneck's valid vectors
    serial = run_case(dataclasses.replace(plain, conventions=Conventions(layer_time="serial")))
    assert serial["tops"] != pytest.approx(without["tops"])
    # NeuroSim's period: the slowest layer's serial sum, from the larger batch's run
    run = xbarsim.simulate(case.arch, "vgg8", batch=case.batches[1])
    period_s = max(sum(p.values()) for p in serial_layer_cycles(run).values()) / case.batches[1] / run.arch.chip.clock
    assert serial["tops"] == pytest.approx(2 * run.network.macs / period_s / 1e12, rel=1e-9)
    in_use = run_case(dataclasses.replace(plain, conventions=Conventions(static="in_use")))
    assert in_use["energy_per_inference_uj"] <= without["energy_per_inference_uj"]
    # leaving DRAM out lowers the energy, the post-layout factor lowers TOPS/W by exactly 1.22
    chip_only = run_case(dataclasses.replace(plain, conventions=Conventions(offchip=False)))
    assert chip_only["energy_per_inference_uj"] < without["energy_per_inference_uj"]
    zeta = run_case(dataclasses.replace(plain, conventions=Conventions(offchip=False, post_layout_factor=1.22)))
    assert zeta["tops_per_w"] == pytest.approx(chip_only["tops_per_w"] / 1.22, rel=1e-9)


def test_command_prints_the_table_and_fails_beyond_tolerance(capsys, monkeypatch):
    assert main(["validate", "--case", "isaac"]) == 0
    out = capsys.readouterr().out
    assert "| isaac | peak_tops | 41.3 |" in out
    strict = Case("isaac", "isaac", None, (Metric("peak_tops", 30.0, "a deliberately wrong figure", 0.01),))
    monkeypatch.setattr("xbarsim.energy.validation.CASES", (strict,))
    assert main(["validate"]) == 1
    assert "beyond their case's tolerance" in capsys.readouterr().err
    assert main(["validate", "--case", "nope"]) == 1


def _serial_by_loop(result, offchip=True):
    """NeuroSim's serial layer latency restated operation by operation: per (layer, operation kind,
    first resource) the summed durations; per (layer, kind) the busiest resource; kinds added into
    their group (programming left out, DRAM only with offchip)."""
    stream = result.stream
    group_of = {t: g for g, times in SERIAL_GROUPS.items() for t in times}
    busy = {}
    for o in range(stream.operations):
        layer = int(stream.step_layer[np.searchsorted(stream.step_ops, o, side="right") - 1])
        kind = stream.op_names[stream.op_kind[o]]
        group = group_of.get(REGISTRY.ops[kind].time)
        if layer < 0 or group is None or (group == "DRAM" and not offchip):
            continue
        key = (layer, kind, int(stream.res[stream.res_ptr[o]]))
        busy[key] = busy.get(key, 0) + int(result.durations[o])
    out = {name: {g: 0.0 for g in SERIAL_GROUPS} for name in stream.layer_names}
    best = {}
    for (layer, kind, _), cycles in busy.items():
        best[(layer, kind)] = max(best.get((layer, kind), 0), cycles)
    for (layer, kind), cycles in best.items():
        out[stream.layer_names[layer]][group_of[REGISTRY.ops[kind].time]] += cycles
    return out


@pytest.mark.parametrize("arch, workload", [("tiny", "mlp"), ("isaac", "resnet20"), ("neurosim-sram22", "vgg8")])
def test_serial_layer_time_adds_each_kind_of_work_on_its_busiest_instance(arch, workload):
    result = xbarsim.simulate(arch, workload, batch=2)
    for offchip in (True, False):
        assert serial_layer_cycles(result, offchip) == _serial_by_loop(result, offchip)
    serial = serial_layer_cycles(result)
    # each layer's serial time is at least its busiest copy's MVM time and at most all its work in turn
    stream = result.stream
    mvm = stream.kind_mask("mvm")
    for i, name in enumerate(stream.layer_names):
        mask = stream.op_layer == i
        assert sum(serial[name].values()) <= result.durations[mask].sum()
        if (mask & mvm).any():
            per_copy = np.bincount(stream.op_resource[mask & mvm], weights=result.durations[mask & mvm])
            assert serial[name]["compute"] >= per_copy.max()


def test_conventions_reject_unknown_values_in_one_line():
    with pytest.raises(ConfigError) as info:
        Conventions(layer_time="parallel")
    assert str(info.value) == "conventions.layer_time: expected 'overlapped' or 'serial', got 'parallel'"
    with pytest.raises(ConfigError, match="conventions.static"):
        Conventions(static="some")


@pytest.mark.parametrize("preset", ["neurosim-sram22", "neurosim-rram22"])
def test_neurosim_presets_carry_neurosims_partial_sums(preset):
    """The presets activate at chip level (NeuroSim's chipActivation) with partial sums as wide as
    NeuroSim derives them from their own ADC bits, rows, input bits and weight slices (26 bits for
    Table VII's settings), through a port of two of them per clock (Tile.cpp: numPECM = 2)."""
    from xbarsim.config import evolve
    from xbarsim.energy.validation import neurosim_psum_bits

    arch = xbarsim.load_arch(preset)
    assert arch.chip.activation == "chip"
    assert arch.tile.psum_bits == neurosim_psum_bits(arch) == 26
    assert arch.tile.psum_port_bits == 2 * arch.tile.psum_bits
    # the width follows the design: a 5-bit ADC reading all 128 rows at once (NeuroSim's defaults)
    assert neurosim_psum_bits(evolve(arch, {"crossbar.adc_bits": 5, "crossbar.rows": 128})) == 26
    assert neurosim_psum_bits(evolve(arch, {"crossbar.input_bits": 4})) == 22


def test_neurram_two_phase_case_times_each_phase_as_cimloop_decomposes():
    """8-bit signed inputs: 7 magnitude bits in phases of 4 and 3 (CiMLoop's split), each phase of m
    bits integrated for (2**m - 1) x 0.27 us plus 0.3 us and converted at 10 bits (0.3 us per bit);
    48 cores of 256 x 128 signed weights: the peak throughput from that, to the 10 ns clock."""
    from xbarsim.timing.durations import peak_tops

    case = next(c for c in CASES if c.name == "neurram-8b10b")
    arch = xbarsim.evolve(xbarsim.load_arch(case.arch), dict(case.changes))
    assert arch.crossbar.phase_sizes == (3, 4) and arch.crossbar.conversions_per_read_group == 2
    vector_s = (15 + 7) * 0.27e-6 + 2 * 0.3e-6 + 2 * 10 * 0.3e-6
    expected = 2 * 48 * 256 * 128 / vector_s / 1e12
    assert abs(peak_tops(arch) / expected - 1) < 0.005
