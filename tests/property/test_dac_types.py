"""DAC types (issue 9): voltage DACs hold a row at d / D of the read voltage, pulse-width DACs at the
full voltage for d / D of the read time. The same MVM, timing and structural counts; on data a
cell's read energy grows with d^2 or with |d| D, so switching to pulse width never lowers it."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import xbarsim
from xbarsim.config import evolve
from xbarsim.energy.table import EnergyTable, resolve
from xbarsim.functional import program
from xbarsim.mapping import activity
from xbarsim.nn import Model
from xbarsim.workload import NetBuilder, load_workload

from ..strategies import crossbar_specs, driven_layouts, input_matrices, seeds, small_archs, small_networks, \
    simulate_mappable, weight_matrices

MODEL_TABLE = {"version": 1, "name": "models-32nm", "model": {"node": "32nm"}}
TYPES = ("voltage", "pulse_width")


def _with_type(layout, dac_type):
    return dataclasses.replace(layout, crossbar=dataclasses.replace(layout.crossbar, dac_type=dac_type))


def _digits(value: int, spec) -> list:
    """The DAC digits of one input, least significant first, from the documented encoding
    (docs/functional-model.md): ``dac_bits`` per cycle, the top digit narrower when ``dac_bits`` does
    not divide ``input_bits``, and two's complement for signed inputs."""
    b, bits = spec.dac_bits, spec.input_bits
    u = value % (1 << bits)
    out = []
    for t in range(-(-bits // b)):
        width = min(b, bits - t * b)
        d = (u >> (t * b)) & ((1 << width) - 1)
        if spec.signed_inputs and t * b + width == bits and d >= 1 << (width - 1):
            d -= 1 << width
        out.append(d)
    return out


@given(driven_layouts(), st.sampled_from(TYPES))
def test_drive_fields_follow_the_dac_type_by_a_naive_loop(case, dac_type):
    """Per vector, over every digit d of every matrix row: ``dac_steps = sum |d|``, ``cell_drives =
    cols x sum u`` and ``cell_levels = sum u x (the row's half level steps)`` with ``u = d^2`` for a
    voltage DAC and ``u = |d| D`` for a pulse-width DAC, once per array the row drives."""
    layout, x, levels = case
    layout = _with_type(layout, dac_type)
    spec = layout.crossbar
    full = (1 << spec.dac_bits) - 1
    arrays = 1 if layout.groups_per_array else layout.tiling.col_tiles
    seen = activity.observe(layout, x, False, row_levels=levels)
    for n in range(x.shape[0]):
        steps = drives = cells = 0
        for g in range(x.shape[1]):
            for k in range(x.shape[2]):
                for d in _digits(int(x[n, g, k]), spec):
                    u = abs(d) * full if dac_type == "pulse_width" else d * d
                    steps += abs(d) * arrays
                    drives += u * spec.cols * arrays
                    cells += u * int(levels[g, k])
        assert (int(seen["dac_steps"][n]), int(seen["cell_drives"][n]), int(seen["cell_levels"][n])) == \
            (steps, drives, cells)


@given(driven_layouts(signed_inputs=False))
def test_full_scale_digits_count_the_same_for_both_types(case):
    """Every digit 0 or full scale (the structural assumption, and zero data): |d| D = d^2."""
    layout, x, levels = case
    spec = layout.crossbar
    x = np.where(x % 2 == 1, (1 << spec.input_bits) - 1, 0)  # every digit of an input 0 or its top value
    if spec.input_bits % spec.dac_bits:  # a narrower top digit cannot reach D: drop it
        x &= (1 << (spec.input_bits - spec.input_bits % spec.dac_bits)) - 1
    a, b = (activity.observe(_with_type(layout, t), x, False, row_levels=levels) for t in TYPES)
    for name in activity.FIELDS:
        assert (a[name] == b[name]).all(), name
    assert activity.structural(_with_type(layout, "voltage")) == activity.structural(_with_type(layout, "pulse_width"))


@given(crossbar_specs(ideal=False, exact_adc=False), st.integers(1, 20), st.integers(1, 6), st.integers(1, 4),
       st.data(), seeds)
def test_the_mvm_does_not_depend_on_the_dac_type(spec, k, m, n, data, seed):
    """A cell adds the same charge either way (V d / D for t, or V for t d / D): the functional model,
    ideal or not, gives the same result for the same draws."""
    w = data.draw(weight_matrices(spec, k, m))
    x = data.draw(input_matrices(spec, n, k))
    out = [program(w, dataclasses.replace(spec, dac_type=t), seed).mvm(x, seed) for t in TYPES]
    np.testing.assert_array_equal(out[0], out[1])


@given(small_archs(), small_networks(max_layers=3))
def test_structural_runs_are_identical_for_both_types_but_the_dac_price(arch, network):
    """Without data every digit is full scale: the same stream, cycles and counts for both types."""
    runs = [simulate_mappable(evolve(arch, {"crossbar.dac_type": t}), network, "layer") for t in TYPES]
    assert runs[0].cycles == runs[1].cycles
    assert dict(runs[0].actions.as_dict()) == dict(runs[1].actions.as_dict())


def _arch(dac_bits: int, dac_type: str, signed: bool):
    """The tiny chip with 4-bit inputs (signed or not), ``dac_bits``-bit DACs of ``dac_type``."""
    return evolve(xbarsim.load_arch("tiny"), {"crossbar.dac_bits": dac_bits, "crossbar.input_bits": 4,
                                              "crossbar.signed_inputs": signed, "crossbar.on_off_ratio": 10.0,
                                              "crossbar.adc_bits": 8, "crossbar.dac_type": dac_type})


def _fc(arch, seed: int, table):
    """A data-aware fc layer 20 -> 10 of random weights on 3 random inputs (ReLU'd unless signed)."""
    net = NetBuilder("fc20", 1, 1, 20)
    net.fc("fc", 10)
    network = load_workload(net.spec)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(3, 20, 1, 1)) * (rng.random((3, 20, 1, 1)) < 0.7)
    model = Model(network, {"fc": {"weight": rng.normal(size=(10, 20)), "bias": np.zeros(10)}})
    signed = arch.crossbar.signed_inputs
    return xbarsim.simulate(arch, network, inputs=x if signed else np.maximum(x, 0), weights=model, energy=table)


@pytest.mark.parametrize("signed", [False, True])
@given(dac_bits=st.integers(1, 4), seed=seeds)
def test_switching_to_pulse_width_never_lowers_the_energy(signed, dac_bits, seed):
    """|d| D >= d^2 for |d| <= D: on any data the pulse-width run counts at least the voltage run's cell
    current and every other action the same, so it costs at least as much, priced by one fixed table
    or each by its own component models (whose pulse-width DAC charges a row to full scale and counts
    its digit); with 1-bit DACs the two are one circuit: identical counts and energy."""
    archs = [_arch(dac_bits, t, signed) for t in TYPES]
    fixed = EnergyTable.from_dict(resolve(xbarsim.load_energy(MODEL_TABLE), archs[0]).to_dict())
    for table in (fixed, MODEL_TABLE):
        voltage, pulse = (_fc(arch, seed, table) for arch in archs)
        cv, cp = dict(voltage.actions.as_dict()), dict(pulse.actions.as_dict())
        assert cv.keys() == cp.keys()
        for key in cv:
            if key[1:] == ("xbar", "conduct"):
                assert cp[key] >= cv[key]
            else:
                assert cp[key] == cv[key], key
        if dac_bits == 1:
            assert cp == cv
            assert pulse.energy.dynamic_pj == pytest.approx(voltage.energy.dynamic_pj, rel=1e-12)
            assert pulse.energy.leakage_pj == pytest.approx(voltage.energy.leakage_pj, rel=1e-12)
        else:
            assert pulse.energy.dynamic_pj >= voltage.energy.dynamic_pj * (1 - 1e-12)
