"""Properties of sweep point generation, resolution and Pareto fronts.

References come from the documented semantics (docs/sweeps.md, docs/config.md), not from the
code under test: grid sizes are products of axis lengths, a Latin hypercube puts exactly one
sample in each stratum, a point is valid exactly when each swept value is in its field's
documented range, and the Pareto front is the brute-force set of non-dominated points.
"""

import itertools
import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tests.strategies import SWEEP_FIELD_RANGES, grid_specs, objective_values, sweep_axes, sweep_ranges

import xbarsim
from xbarsim import evolve, load_arch
from xbarsim.errors import MappingError
from xbarsim.sweeps import load_sweep, pareto_front, sweep
from xbarsim.sweeps.points import design, points
from xbarsim.sweeps.run import plan


def _length(axis):
    return axis["num"] if isinstance(axis, dict) else len(axis)


@given(grid_specs())
def test_grid_size_is_the_product_of_the_axes_and_settings(data):
    spec = load_sweep(data)
    expected = math.prod(_length(a) for a in data["axes"].values())
    expected *= len(data["workloads"]) * len(data["schedules"]) * len(data["batches"])
    generated = points(spec)
    assert len(generated) == expected
    assert [p.index for p in generated] == list(range(expected))
    # every combination of axis values appears (the documented grid: product of the axes' values)
    expected_combos = set(itertools.product(*[tuple(_values(a)) for a in data["axes"].values()]))
    assert {tuple(v for _, v in p.overrides) for p in generated} == expected_combos


def _values(axis):
    if isinstance(axis, dict):  # a range with num: evenly spaced from min to max
        return [float(v) for v in np.linspace(axis["min"], axis["max"], axis["num"])]
    return axis


@given(st.integers(1, 6), st.lists(st.sampled_from(["crossbar.adc_bits", "crossbar.rows", "chip.tiles"]),
                                   min_size=1, max_size=3, unique=True), st.data())
def test_zip_takes_the_ith_value_of_every_axis(n, names, data):
    axes = {name: data.draw(st.lists(st.integers(1, 64), min_size=n, max_size=n)) for name in names}
    spec = load_sweep({"version": 1, "arch": "tiny", "workloads": "mlp", "axes": axes, "combine": "zip"})
    generated = design(spec)
    assert len(generated) == n
    for i, overrides in enumerate(generated):
        assert dict(overrides) == {name: axes[name][i] for name in names}


@given(st.sampled_from(["random", "lhs"]), st.lists(sweep_ranges(), min_size=1, max_size=3), st.integers(1, 40),
       st.integers(0, 2**32 - 1))
def test_samples_stay_in_their_ranges_and_repeat_with_the_seed(combine, ranges, n, seed):
    fields = ["crossbar.variation_sigma", "crossbar.read_noise_sigma", "crossbar.adc_percentile"]
    axes = dict(zip(fields, ranges))
    spec = {"version": 1, "arch": "tiny", "workloads": "mlp", "axes": axes, "combine": combine, "samples": n,
            "seed": seed}
    first = design(load_sweep(spec))
    assert len(first) == n
    assert first == design(load_sweep(spec))  # same spec and seed: same points
    for overrides in first:
        for path, value in overrides:
            r = axes[path]
            assert r["min"] <= value <= r["max"]
            if isinstance(r["min"], int) and isinstance(r["max"], int):
                assert isinstance(value, int)


@given(st.integers(1, 30), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_latin_hypercube_puts_one_sample_in_each_stratum(n, d, seed):
    fields = ["crossbar.variation_sigma", "crossbar.read_noise_sigma", "crossbar.stuck_at_on", "crossbar.stuck_at_off"]
    axes = {f: {"min": 0.0, "max": 1.0} for f in fields[:d]}
    spec = load_sweep({"version": 1, "arch": "tiny", "workloads": "mlp", "axes": axes, "combine": "lhs",
                       "samples": n, "seed": seed})
    generated = design(spec)
    for field in fields[:d]:
        strata = sorted(int(dict(o)[field] * n) for o in generated)
        assert strata == list(range(n))


@given(st.integers(1, 12), st.integers(0, 2**32 - 1))
def test_latin_hypercube_over_a_list_takes_every_value_once(n, seed):
    values = list(range(1, n + 1))
    spec = load_sweep({"version": 1, "arch": "tiny", "workloads": "mlp", "axes": {"crossbar.adc_bits": values},
                       "combine": "lhs", "samples": n, "seed": seed})
    assert sorted(dict(o)["crossbar.adc_bits"] for o in design(spec)) == values


@given(sweep_axes(), st.sampled_from(["grid", "random", "lhs"]), st.integers(0, 1000))
def test_every_point_validates_or_is_recorded_invalid(axes, combine, seed):
    spec = {"version": 1, "arch": "tiny", "workloads": "mlp", "axes": axes, "combine": combine, "seed": seed}
    if combine != "grid":
        spec["samples"] = 6
    assume(len(points(load_sweep(spec))) <= 16)
    frame = sweep(spec, scheduler="serial")
    generated = points(load_sweep(spec))
    assert list(frame["point"]) == [p.index for p in generated]
    for p, (_, row) in zip(generated, frame.iterrows()):
        values = dict(p.overrides)
        bad = [path for path, value in values.items()
               if not SWEEP_FIELD_RANGES[path][0] <= value <= SWEEP_FIELD_RANGES[path][1]]
        if bad:
            assert row["status"] == "invalid"
            assert any(row["error"].startswith(path + ":") for path in bad), row["error"]
            assert math.isnan(row["latency_s"])
        elif row["status"] == "invalid":
            # every field in range, yet the network does not map (e.g. a register too small for
            # the vectors of a taller array): simulate itself must refuse the point
            with pytest.raises(MappingError):
                xbarsim.simulate(evolve(load_arch("tiny"), values), "mlp")
        else:
            assert row["status"] == "ok", row["error"]
            assert row["latency_s"] > 0 and row["energy_pj"] > 0
        for path, value in values.items():
            assert row[path] == value


@given(st.lists(st.integers(1, 16), min_size=2, max_size=6, unique=True))
def test_distinct_configs_have_distinct_hashes(adc_bits):
    spec = load_sweep({"version": 1, "arch": "tiny", "workloads": "mlp", "axes": {"crossbar.adc_bits": adc_bits}})
    hashes = [item.hash for item in plan(spec).items]
    assert len(set(hashes)) == len(adc_bits)
    assert all(len(h) == 16 and int(h, 16) >= 0 for h in hashes)


def _dominated(i, x, y):
    return any(x[j] <= x[i] and y[j] <= y[i] and (x[j] < x[i] or y[j] < y[i])
               for j in range(len(x)) if j != i and not (math.isnan(x[j]) or math.isnan(y[j])))


@given(st.lists(st.tuples(objective_values, objective_values), max_size=40), st.booleans(), st.booleans())
def test_pareto_front_is_the_set_of_non_dominated_points(pairs, x_min, y_min):
    x = [p[0] for p in pairs]
    y = [p[1] for p in pairs]
    sx = [v if x_min else -v for v in x]  # the brute-force reference minimizes
    sy = [v if y_min else -v for v in y]
    expected = [not (math.isnan(sx[i]) or math.isnan(sy[i])) and not _dominated(i, sx, sy) for i in range(len(x))]
    assert list(pareto_front(x, y, (x_min, y_min))) == expected
