"""Golden runs on the ``tiny`` chip, with cycle and action counts worked out by hand.

The tiny chip: 1 GHz clock; 16x16 arrays of 2-bit cells; 4-bit weights (2 slices, offset
mapping) and 4-bit inputs through 1-bit DACs (4 input cycles); 2 ADCs per array at 2 GS/s;
100% of durations are whole nanoseconds:

* crossbar read: 2 ns = 2 cycles;
* conversion stage for 16 active columns: 16 / 2 ADCs = 8 conversions x 0.5 ns = 4 cycles;
* tile buffer: 1 ns + bytes / 8 GB/s; DRAM: 10 ns + bytes / 1 GB/s.
"""

import pytest

import xbarsim

FC16 = {"version": 1, "name": "fc16", "input": {"H": 1, "W": 1, "C": 16},
        "layers": [{"name": "fc", "type": "fc", "M": 8}]}


def test_one_fc_layer_by_hand():
    """A 16 -> 8 fc layer: one array (16 rows; 8 weights x 2 slices = 16 columns), one vector.

    Operations of its single step, in order:

    * fetch the input from DRAM: 16 inputs x 1 byte = 16 B -> 10 + 16 = 26 cycles;
    * read it from the tile buffer: 16 B -> 1 + 16 / 8 = 3 cycles;
    * MVM: 1 vector x 4 input cycles = 4 items through read (a = 2) and conversion (b = 4)
      with sample-and-hold: a + b + 3 max(a, b) = 2 + 4 + 12 = 18 cycles;
    * store the 8 outputs (1 byte each) to DRAM: 10 + 8 = 18 cycles.

    Total 26 + 3 + 18 + 18 = 65 cycles.

    Counts: 4 array reads; 4 x 16 = 64 row activations and DAC conversions; 4 x 16 = 64
    samples, ADC conversions and shift-and-adds; 16 B into the input register and over the
    tile bus; 8 outputs x 1 row tile x 1 B (8-bit partial sums) into the output register;
    16 B in 64-bit accesses = 2 tile-buffer reads, and 2 writes when the input lands;
    DRAM 16 B read, 8 B written, 24 B over the off-chip link; 8 B through the tile output
    register.
    """
    r = xbarsim.simulate("tiny", FC16)
    assert r.cycles == 65
    ops = [(op.kind, int(e - s)) for op, s, e in zip([o for st in r.stream.steps for o in st.ops],
                                                     r.timeline.start, r.timeline.end)]
    assert ops == [("fetch_dram", 26), ("buffer_read", 3), ("mvm", 18), ("store_dram", 18)]
    expected = {
        "xbar.read": 4, "xbar.row_activation": 64, "dac.convert": 64, "sh.sample": 64, "adc.convert": 64,
        "shift_add.op": 64, "ireg.write_bytes": 16, "tile_bus.transfer_bytes": 16, "oreg.write_bytes": 8,
        "tile_shift_add.op": 0, "tile_buffer.read": 2, "tile_buffer.write": 2, "dram.read_bytes": 16,
        "dram.write_bytes": 8, "offchip.transfer_bytes": 24, "tile_oreg.write_bytes": 8, "act.op": 0,
        "xbar.write": 0,
    }
    assert {action: r.count(action) for action in expected} == expected
    assert r.dram_bytes == 24
    assert r.layers[0].arrays == 1 and r.layers[0].utilization == 1.0


def test_two_images_share_dram_first_come_first_served():
    """Batch 2: both steps of the copy may start at once (double buffering).

    DRAM (one channel): fetch 0 runs 0-26, fetch 1 26-52. Image 0: buffer read 26-29, MVM 29-47,
    its store is requested at 47 but DRAM is busy until 52, so it runs 52-70. Image 1: buffer
    read 52-55, MVM 55-73, store requested at 73, runs 73-91. Total 91 cycles.
    """
    r = xbarsim.simulate("tiny", FC16, batch=2)
    assert r.cycles == 91
    spans = [(op.kind, int(s), int(e)) for op, s, e in zip([o for st in r.stream.steps for o in st.ops],
                                                           r.timeline.start, r.timeline.end)]
    assert spans[:8] == [("fetch_dram", 0, 26), ("buffer_read", 26, 29), ("mvm", 29, 47), ("store_dram", 52, 70),
                         ("fetch_dram", 26, 52), ("buffer_read", 52, 55), ("mvm", 55, 73), ("store_dram", 73, 91)]
    assert r.count("adc.convert") == 128


def test_conv_row_by_hand():
    """A 3x3 conv, 1 -> 2 channels, on a 3x3 input with padding 1, relu, one copy (layer schedule).

    K = 1 x 3 x 3 = 9 rows, 2 filters x 2 slices = 4 columns: one array. Each of the 3 output
    rows has 3 vectors: 12 items (3 vectors x 4 cycles) with a = 2 and b = ceil(4 / 2) x 0.5 ns
    = 1 cycle: 2 + 1 + 11 x 2 = 25 cycles per row. The relu of a row: 3 x 2 outputs on one
    activation unit = 6 cycles. Input rows (3 x 1 byte each) come from DRAM: output row 0
    reads input rows 0-1, row 1 adds row 2, row 2 needs nothing new.

    The pipeline schedule replicates the layer into 3 copies (one per output row, PEs to
    spare); copies 0 and 1 share tile 0, copy 2 sits on tile 1. Input rows are read from DRAM
    once: rows 0-1 for copy 0 and row 2 for copy 1, both landing on tile 0; copy 2 receives
    its rows 1-2 (6 bytes) from tile 0 over the network.
    """
    net = {"version": 1, "name": "conv", "input": {"H": 3, "W": 3, "C": 1},
           "layers": [{"name": "conv", "type": "conv", "M": 2, "R": 3, "padding": 1, "activation": "relu"}]}
    r = xbarsim.simulate("tiny", net, schedule="layer")
    assert r.layers[0].copies == 1
    ops = [(op.kind, op.amount, int(e - s)) for op, s, e in zip([o for st in r.stream.steps for o in st.ops],
                                                                r.timeline.start, r.timeline.end)]
    row0 = ops[:5]
    assert row0 == [("fetch_dram", 6, 16), ("buffer_read", 27, 5), ("mvm", 3, 25), ("act", 6, 6),
                    ("store_dram", 6, 16)]
    fetches = [amount for kind, amount, _ in ops if kind == "fetch_dram"]
    assert fetches == [6, 3]  # rows 0-1, then row 2; output row 2 reuses what the copy holds
    assert r.count("adc.convert") == 9 * 4 * 4  # 9 vectors x 4 cycles x 4 columns
    assert r.count("act.op") == 18
    assert r.network.macs == 9 * 2 * 9
    piped = xbarsim.simulate("tiny", net, schedule="pipeline")
    assert piped.layers[0].copies == 3
    assert [op.amount for st in piped.stream.steps for op in st.ops if op.kind == "fetch_dram"] == [6, 3]
    assert [op.amount for st in piped.stream.steps for op in st.ops if op.kind == "fetch_noc"] == [6]
    assert piped.count("dram.read_bytes") == 9
    assert piped.cycles < r.cycles


@pytest.mark.parametrize("schedule", ["layer", "pipeline"])
def test_mlp_fits_tiny_and_runs(schedule):
    r = xbarsim.simulate("tiny", "mlp", schedule=schedule)
    assert r.mapping.rounds == 1
    assert [layer.arrays for layer in r.layers] == [16, 4]
    assert r.count("adc.convert") == 1 * (4 * 64 + 2 * 20) * 4
