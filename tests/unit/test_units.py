"""Quantities are parsed in one place and written back so they read in exactly."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xbarsim import units

from ..strategies import quantities


@pytest.mark.parametrize("text, kind, value", [
    ("100ns", "time", 1e-7), ("1.28GHz", "frequency", 1.28e9), ("64KiB", "size", 65536.0),
    ("64kB", "size", 64000.0), ("2mW", "power", 2e-3), ("1.56pJ", "energy", 1.56e-12),
    ("100uS", "conductance", 1e-4), ("100µS", "conductance", 1e-4), ("0.0096mm2", "area", 0.0096e-6),
    ("6.4GB/s", "bandwidth", 6.4e9), ("1e-3s", "time", 1e-3), ("0", "time", 0.0), (0, "power", 0.0),
    ("  5 ms ", "time", 5e-3), ("2MiB", "size", 2.0 * 2**20), ("1mS", "conductance", 1e-3),
    ("1200um2", "area", 1200e-12), ("1m^2", "area", 1.0),
])
def test_parse(text, kind, value):
    assert units.parse(text, kind) == pytest.approx(value, rel=1e-15)


@pytest.mark.parametrize("text, kind, message", [
    ("100", "time", "with a unit"), (100, "time", "bare number"), ("100nm", "time", "unit 'nm'"),
    ("64KB", "size", "ambiguous"), ("fast", "time", "such as '100ns'"), (True, "time", "such as"),
    ("1.2 GHz/s", "frequency", "unit"), ([1], "time", "list"),
])
def test_parse_refuses(text, kind, message):
    with pytest.raises(units.UnitError, match=message):
        units.parse(text, kind)


@pytest.mark.parametrize("value, kind, text", [
    (1e-7, "time", "100ns"), (65536.0, "size", "64KiB"), (1.28e9, "frequency", "1.28GHz"),
    (0.0, "power", "0W"), (300.0, "size", "300B"), (16e-3, "power", "16mW"),
    (0.0096e-6, "area", "0.0096mm2"), (1200e-12, "area", "0.0012mm2"),
])
def test_format(value, kind, text):
    assert units.format(value, kind) == text


@given(quantities, st.floats(min_value=-1e30, max_value=1e30, allow_nan=False, allow_infinity=False))
def test_format_then_parse_is_exact(kind, value):
    assert units.parse(units.format(value, kind), kind) == value


def test_format_refuses_infinity():
    with pytest.raises(ValueError):
        units.format(math.inf, "time")
