"""``make_neurosim_traces.py`` writes files NeuroSim V1.4's reader accepts, holding the data xbarsim ran.

The reference semantics are NeuroSim's own, restated here from its sources (not from the script):

* ``Chip.cpp LoadInWeightData``: rows split on newlines, values on commas; each value ``f`` is
  normalized to the level ``(2^B - 0) / (max - min) x (f - max) + 2^B`` with ``B = synapseBit = 8``
  and ``algoWeightMax / Min = +-1`` (Param.cpp), i.e. ``128 f + 128``, rounded half away from zero;
  a level must lie in 0..255 to fit 8 one-bit cells.
* ``utee/hook.py``: the weight file is ``weight.reshape(M, -1).T`` (K rows in (channel, kernel row,
  kernel column) order, M columns); the input file has K rows and ``length`` columns per input
  vector, written by ``dec2bin``: the first column is the two's-complement sign (weight
  ``-2^(n-1)``), then the magnitude bits, most significant first.

Checked on a tiny conv + fc model against the float weights and image (each within half a
quantization step of the decoded integers), with an im2col written here for the conv input.
"""

import numpy as np
import pytest

from xbarsim.config.loader import load_arch
from xbarsim.energy.data.make_neurosim_traces import write_traces
from xbarsim.nn import Model
from xbarsim.workload.loader import load_workload
from xbarsim.workload.zoo import NetBuilder

BITS = 8


def _read_like_neurosim(path):
    """The matrix NeuroSim's loaders read: lines, then comma-separated values (as ``istringstream >> f``)."""
    rows = [line.split(",") for line in path.read_text().split("\n") if line]
    widths = {len(r) for r in rows}
    assert len(widths) == 1, f"{path.name}: ragged rows {sorted(widths)}"
    return np.array([[float(v) for v in r] for r in rows])


def _neurosim_level(f):
    """Chip.cpp LoadInWeightData at synapseBit 8, algoWeightMax 1, algoWeightMin -1."""
    top = 2.0 ** BITS
    x = top / (1.0 - (-1.0)) * (f - 1.0) + top
    return np.where(x >= 0, np.trunc(x + 0.5), np.trunc(x - 0.5)).astype(np.int64), x


def _decode_bits(matrix, length=BITS):
    """hook.py dec2bin inverted: per vector ``length`` columns, sign (weight -2^(n-1)) first, then MSB..LSB."""
    k, cols = matrix.shape
    assert cols % length == 0
    bits = matrix.reshape(k, cols // length, length).astype(np.int64)
    weights = np.array([-(2 ** (length - 1))] + [2 ** (length - 2 - i) for i in range(length - 1)])
    return (bits * weights).sum(axis=2)  # (K, vectors)


def _im2col(image, R, pad):
    """(C R S, E F) patches of a stride-1 conv, channel-major then kernel row then column (hook.py's
    stretch_input), output positions row by row."""
    c, h, w = image.shape
    x = np.pad(image, ((0, 0), (pad, pad), (pad, pad)))
    e, f = h + 2 * pad - R + 1, w + 2 * pad - R + 1
    cols = [x[:, i:i + R, j:j + R].reshape(-1) for i in range(e) for j in range(f)]
    return np.stack(cols, axis=1)


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    net = NetBuilder("tiny-neurosim", 6, 6, 2)
    net.conv("conv", 4, 3)
    net.fc("fc", 3)
    network = load_workload(net.spec)
    rng = np.random.default_rng(7)
    weights = {"conv": {"weight": rng.normal(0, 0.3, (4, 2, 3, 3)), "bias": np.zeros(4)},
               "fc": {"weight": rng.normal(0, 0.1, (3, 4 * 6 * 6)), "bias": np.zeros(3)}}
    image = rng.normal(size=(1, 2, 6, 6))
    out = tmp_path_factory.mktemp("traces")
    write_traces(out, Model(network, weights), image, load_arch("neurosim-sram22"))
    return out, weights, image


def test_files_and_arguments(traces):
    out, _, _ = traces
    args = (out / "args.txt").read_text().split()
    assert args == [str(out / "weight0.csv"), str(out / "input0.csv"), str(out / "weight1.csv"), str(out / "input1.csv")]


@pytest.mark.parametrize("index, name", [(0, "conv"), (1, "fc")])
def test_weights_are_levels_neurosim_maps_to_eight_cells(traces, index, name):
    out, weights, _ = traces
    f = _read_like_neurosim(out / f"weight{index}.csv")
    w = weights[name]["weight"]
    expected = w.reshape(w.shape[0], -1).T  # hook.py: weight.reshape(cout, -1).transpose()
    assert f.shape == expected.shape
    assert (f >= -1).all() and (f < 1).all()
    level, exact = _neurosim_level(f)
    assert np.abs(exact - level).max() < 1e-4  # each value is an integer level / 128, as written
    assert level.min() >= 0 and level.max() <= 2 ** BITS - 1  # fits 8 one-bit cells
    signed = level - 128  # the offset mapping: level w + 128
    step = np.abs(w).max() / (2 ** (BITS - 1) - 1)  # symmetric 8-bit quantization over the layer
    assert np.abs(signed * step - expected).max() <= step / 2 + 1e-12
    assert np.abs(signed).max() == 2 ** (BITS - 1) - 1  # the largest weight takes the top level


def test_conv_input_bits_are_the_padded_image_patches(traces):
    out, _, image = traces
    bits = _read_like_neurosim(out / "input0.csv")
    assert set(np.unique(bits)) <= {0.0, 1.0}
    patches = _im2col(image[0], 3, 1)  # 'same' 3x3 conv: 36 output positions
    assert bits.shape == (patches.shape[0], patches.shape[1] * BITS)
    x = _decode_bits(bits)
    step = np.abs(image).max() / (2 ** (BITS - 1) - 1)
    assert np.abs(x * step - patches).max() <= step / 2 + 1e-12


def test_fc_input_is_one_vector_of_unsigned_activations(traces):
    """After a ReLU xbarsim's inputs are unsigned 8-bit: the file holds the bit planes its DACs drive,
    most significant first. NeuroSim's C++ estimator feeds each column as one input cycle and prices
    the driven rows, so the energy sees the same bits (hook.py's dec2bin would spend the first column
    on a sign that is always 0: the written planes are xbarsim's, not a re-quantization)."""
    out, _, _ = traces
    bits = _read_like_neurosim(out / "input1.csv")
    assert bits.shape == (4 * 6 * 6, BITS)
    x = (bits * 2.0 ** np.arange(BITS - 1, -1, -1)).sum(axis=1)
    # calibrated on this image, the largest activation lands near the top level (the 4-bit ADC's
    # rounding moves it a little): the first column is a magnitude bit, not a sign
    assert 2 ** (BITS - 1) <= x.max() <= 2 ** BITS - 1 and (bits[:, 0] == 1).any()
    assert (x == 0).any()  # ReLU zeros
