"""Resource estimates: big runs are refused at once, in one line; the estimates are upper bounds."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import xbarsim
from xbarsim import ConfigError, ResourceError
from xbarsim.functional import program
from xbarsim.functional.matrix import program_memory
from xbarsim.limits import ENVIRONMENT, available_memory, require_memory, simulation_estimate
from xbarsim.mapping.placement import map_network
from xbarsim.timing.durations import stage_cost
from xbarsim.timing.stream import build_stream

from ..strategies import crossbar_specs, small_archs, small_networks


def test_the_limit_comes_from_the_environment_or_the_machine(monkeypatch):
    monkeypatch.delenv(ENVIRONMENT, raising=False)
    limit, source = available_memory()
    assert limit is None or limit > 0 and source
    monkeypatch.setenv(ENVIRONMENT, "2GiB")
    assert available_memory() == (2 << 30, f"{ENVIRONMENT}=2GiB")
    for bad in ("lots", "2KB", "0B", "-1GiB", "1e999999GB"):
        monkeypatch.setenv(ENVIRONMENT, bad)
        with pytest.raises(ConfigError, match=f"^{ENVIRONMENT}: expected a size"):
            available_memory()


def test_require_memory_names_the_setting_the_estimate_and_the_limit(monkeypatch):
    monkeypatch.setenv(ENVIRONMENT, "1MiB")
    require_memory("batch", 1 << 20, "a run")
    with pytest.raises(ResourceError) as info:
        require_memory("batch", 3 << 20, "a run")
    assert str(info.value) == (f"batch: a run need about 3 MiB of memory, more than the 1 MiB of {ENVIRONMENT}=1MiB; "
                               f"make it smaller, or set {ENVIRONMENT} to allow more")
    assert isinstance(info.value, MemoryError) and isinstance(info.value, xbarsim.XbarsimError)


def test_a_billion_images_are_refused_before_any_work():
    """The issue's case: `xbarsim run --batch 1000000000` grew 4.7 GB a minute until a MemoryError."""
    started = time.perf_counter()
    with pytest.raises(ResourceError, match=r"^batch: 1,000,000,000 images of resnet18 on isaac \(up to [\d,]+ operations\)"):
        xbarsim.simulate("isaac", "resnet18", batch=10**9)
    assert time.perf_counter() - started < 5


def test_huge_arrays_are_refused_before_programming(monkeypatch):
    """The issue's case: mvm on 65536 x 65536 arrays tried for minutes to allocate 16 GiB.

    512 x 256 weights fill 8 slices x 65,536 padded rows x 256 columns = 134M cells (estimated 1.4 GiB
    ideal, 3.4 GiB with variation and read noise): refused under a 1 GiB limit.
    """
    monkeypatch.setenv(ENVIRONMENT, "1GiB")
    spec = xbarsim.evolve(xbarsim.load_arch("isaac"), {"crossbar.rows": 65536, "crossbar.cols": 65536}).crossbar
    started = time.perf_counter()
    with pytest.raises(ResourceError, match=r"^weights: a 512x256 weight matrix on 1 arrays of 65,536x65,536 cells"):
        program(np.zeros((512, 256), dtype=np.int64), spec)
    assert time.perf_counter() - started < 5


@given(small_archs(), small_networks(), st.integers(1, 3), st.sampled_from(["layer", "pipeline"]))
def test_the_operation_estimate_bounds_the_stream(arch, network, batch, schedule):
    try:
        mapping = map_network(arch, network, schedule, stage_cost(arch))
    except xbarsim.MappingError:
        return
    operations, nbytes = simulation_estimate(mapping, batch)
    assert build_stream(mapping, batch).operations <= operations
    assert nbytes == operations * xbarsim.limits.BYTES_PER_OPERATION


@pytest.mark.parametrize("network", ["resnet18", "vgg8", "mobilenet_v2", "alexnet", "mlp"])
def test_the_operation_estimate_bounds_the_zoo(network):
    net = xbarsim.load_workload(network)
    for arch in ("isaac", "tiny"):  # tiny: layers split into parts, the chip reprogrammed (where it maps)
        for schedule in ("layer", "pipeline"):
            try:
                mapping = map_network(xbarsim.load_arch(arch), net, schedule, stage_cost(xbarsim.load_arch(arch)))
            except xbarsim.MappingError:  # too large for tiny even when split
                continue
            assert build_stream(mapping, 2).operations <= simulation_estimate(mapping, 2)[0]


def _programming_peak(spec, k: int, m: int) -> int:
    """Peak bytes (tracemalloc) of programming random (k, m) weights, after a first call fills caches."""
    w = np.random.default_rng(0).integers(-(1 << (spec.weight_bits - 1)), 1 << (spec.weight_bits - 1), (k, m))
    program(w, spec, rng=1)  # first calls fill caches (imports, tables) that later calls reuse
    tracemalloc.start()
    try:
        program(w, spec, rng=1)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@given(crossbar_specs(ideal=False, exact_adc=False, max_rows=40), st.integers(1, 90), st.integers(1, 40))
def test_programming_stays_within_its_memory_estimate(spec, k, m):
    assert _programming_peak(spec, k, m) <= program_memory(spec, k, m)


@pytest.mark.parametrize("changes", [{}, {"variation_sigma": 0.05}, {"read_noise_sigma": 0.01},
                                     {"variation_sigma": 0.05, "read_noise_sigma": 0.01, "stuck_at_on": 0.01}])
def test_the_programming_estimate_is_an_upper_bound_within_a_factor_of_two_and_a_half(changes):
    spec = xbarsim.evolve(xbarsim.load_arch("isaac"), {f"crossbar.{k}": v for k, v in changes.items()}).crossbar
    peak = _programming_peak(spec, 600, 300)
    assert peak <= program_memory(spec, 600, 300) <= 2.5 * peak
