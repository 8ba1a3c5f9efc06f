"""Golden runs on the ``tiny`` chip, with cycle and action counts worked out by hand.

The tiny chip: 1 GHz clock; 16x16 arrays of 2-bit cells; 4-bit weights (2 slices, offset
mapping) and 4-bit inputs through 1-bit DACs (4 input cycles); 2 ADCs per array at 2 GS/s;
every duration is a whole number of nanoseconds:

* crossbar read: 2 ns = 2 cycles; conversion stage: ceil(columns / 2 ADCs) x 0.5 ns;
* an MVM of n items with sample-and-hold: a + b + (n - 1) max(a, b);
* tile buffer (and a feed over the 8 GB/s bus): 1 ns + bytes / 8 GB/s; DRAM: 10 ns + bytes / 1 GB/s;
* activation: one output per cycle.
"""

import numpy as np
import pytest

import xbarsim

FC16 = {"version": 1, "name": "fc16", "input": {"H": 1, "W": 1, "C": 16},
        "layers": [{"name": "fc", "type": "fc", "M": 8}]}


def ops_of(result):
    """(kind, amount, start, end) of every operation, step by step."""
    st, tl = result.stream, result.timeline
    return [(st.op_names[st.op_kind[o]], int(st.op_amount[o]), int(tl.start[o]), int(tl.end[o]))
            for o in range(st.operations)]


def test_one_fc_layer_by_hand():
    """A 16 -> 8 fc layer: one array (16 rows; 8 weights x 2 slices = 16 columns), one vector.

    * load the input: DRAM read of 16 B = 10 + 16 = 26 cycles, then its write into the tile
      buffer region: 1 + 16 / 8 = 3 cycles (0-26, 26-29);
    * feed it to the PE (buffer read over the bus): 1 + 16 / 8 = 3 cycles (29-32);
    * MVM: 4 items (input cycles), a = 2, b = 16 / 2 x 0.5 = 4: 2 + 4 + 3 x 4 = 18 (32-50);
    * store the 8 outputs to DRAM: 10 + 8 = 18 cycles (50-68).

    Counts: 4 array reads; 4 x 16 = 64 row activations, DAC conversions, samples, conversions
    and shift-and-adds; 16 B into the input register and over the bus; 8 outputs x 1 B into
    the output registers; 16 B = 2 accesses of 64 bits read and 2 written; DRAM 16 B read and
    8 B written, 24 B over the off-chip link.
    """
    r = xbarsim.simulate("tiny", FC16)
    assert r.cycles == 68
    assert ops_of(r) == [("dram_read", 16, 0, 26), ("buffer_write", 16, 26, 29), ("feed", 16, 29, 32),
                         ("mvm", 1, 32, 50), ("dram_write", 8, 50, 68)]
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
    assert r.layers[0].critical_cycles == 68  # every cycle of the run is on its critical path


def test_two_images_share_dram_first_come_first_served():
    """Batch 2, one copy: both loads are ready at cycle 0 and DRAM has one channel.

    Loads: image 0 0-26 (+ write 26-29), image 1 26-52 (+ write 52-55). Image 0: feed 29-32,
    MVM 32-50, its store asks for DRAM at 50 but image 1's load holds it until 52: 52-70.
    Image 1: feed 55-58, MVM 58-76, store 76-94. Total 94 cycles.
    """
    r = xbarsim.simulate("tiny", FC16, batch=2)
    assert r.cycles == 94
    assert ops_of(r) == [("dram_read", 16, 0, 26), ("buffer_write", 16, 26, 29), ("feed", 16, 29, 32),
                         ("mvm", 1, 32, 50), ("dram_write", 8, 52, 70), ("dram_read", 16, 26, 52),
                         ("buffer_write", 16, 52, 55), ("feed", 16, 55, 58), ("mvm", 1, 58, 76),
                         ("dram_write", 8, 76, 94)]
    store = 4
    assert r.timeline.request[store] == 50 and r.timeline.start[store] == 52  # it waited for DRAM
    assert r.count("adc.convert") == 128


def test_conv_rows_by_hand():
    """A 3x3 conv, 1 -> 2 channels, on a 3x3 input with padding 1, relu, on one tile with one PE
    (so one copy, whole-row steps), layer by layer.

    K = 9 rows, 2 filters x 2 slices = 4 columns: one array. Input rows are loaded from DRAM
    as first needed (row 0 needs rows 0-1, row 1 adds row 2): 3 B each, 10 + 3 = 13 cycles
    (0-13, 13-26, 26-39), then 1 + 3/8 -> 2 cycles into the buffer (13-15, 26-28, 39-41).

    * row 0: feed 3 vectors x 9 B = 27 B, 1 + 27/8 -> 5 cycles (28-33); MVM 12 items, a = 2,
      b = ceil(4 / 2) x 0.5 -> 1: 2 + 1 + 11 x 2 = 25 (33-58); relu of 6 outputs (58-64);
      store 6 B, 16 cycles (64-80);
    * row 1: feed once row 2 is in (41-46); MVM waits for the copy (58-83); relu 83-89;
      store 89-105;
    * row 2: waits for row 0's step to end (double buffering): feed 80-85, MVM 85-110,
      relu 110-116, store 116-132.
    """
    one = xbarsim.evolve(xbarsim.load_arch("tiny"), {"chip.tiles": 1, "tile.pes": 1})
    net = {"version": 1, "name": "conv", "input": {"H": 3, "W": 3, "C": 1},
           "layers": [{"name": "conv", "type": "conv", "M": 2, "R": 3, "padding": 1, "activation": "relu"}]}
    r = xbarsim.simulate(one, net)
    assert r.layers[0].copies == 1 and r.cycles == 132
    assert ops_of(r) == [
        ("dram_read", 3, 0, 13), ("buffer_write", 3, 13, 15), ("dram_read", 3, 13, 26), ("buffer_write", 3, 26, 28),
        ("feed", 27, 28, 33), ("mvm", 3, 33, 58), ("act", 6, 58, 64), ("dram_write", 6, 64, 80),
        ("dram_read", 3, 26, 39), ("buffer_write", 3, 39, 41),
        ("feed", 27, 41, 46), ("mvm", 3, 58, 83), ("act", 6, 83, 89), ("dram_write", 6, 89, 105),
        ("feed", 27, 80, 85), ("mvm", 3, 85, 110), ("act", 6, 110, 116), ("dram_write", 6, 116, 132)]
    assert r.count("adc.convert") == 9 * 4 * 4  # 9 vectors x 4 cycles x 4 columns
    assert r.count("act.op") == 18 and r.count("dram.read_bytes") == 9
    assert r.count("tile_buffer.read") == 3 * 4 and r.count("tile_buffer.write") == 3  # 27 B = 4 accesses
    assert r.network.macs == 9 * 2 * 9
    # the critical path: loads of rows 0-1, row 0's feed and MVM, rows 1 and 2's MVMs (the copy
    # is the bottleneck), row 2's relu and store
    assert sum(x.critical_cycles for x in r.layers) == 132


def test_pipeline_pushes_into_the_readers_region_by_hand():
    """Two 1x1 convs on one tile, pipelined: a's output is pushed into b's input region.

    Input 1 x 2 x 4 (8 B): DRAM 10 + 8 = 18 (0-18), buffer write 1 + 1 = 2 (18-20).
    a: feed 2 vectors x 4 B = 8 B, 2 cycles (20-22); MVM 8 items, b = 8 / 2 x 0.5 = 2:
    2 + 2 + 7 x 2 = 18 (22-40); relu 8 outputs (40-48); its 8 B written into b's region
    (48-50). b: feed (50-52); MVM, 4 columns: b = 1: 2 + 1 + 7 x 2 = 17 (52-69); store 4 B to
    DRAM, 14 cycles (69-83). The region held 8 B at most.
    """
    one = xbarsim.evolve(xbarsim.load_arch("tiny"), {"chip.tiles": 1})
    net = {"version": 1, "name": "two", "input": {"H": 1, "W": 2, "C": 4}, "layers": [
        {"name": "a", "type": "conv", "M": 4, "R": 1, "activation": "relu"}, {"name": "b", "type": "conv", "M": 2, "R": 1}]}
    r = xbarsim.simulate(one, net, schedule="pipeline")
    assert r.cycles == 83
    assert ops_of(r) == [("dram_read", 8, 0, 18), ("buffer_write", 8, 18, 20), ("feed", 8, 20, 22),
                         ("mvm", 2, 22, 40), ("act", 8, 40, 48), ("buffer_write", 8, 48, 50), ("feed", 8, 50, 52),
                         ("mvm", 2, 52, 69), ("dram_write", 4, 69, 83)]
    names = [r.stream.region_name(g) for g in range(len(r.stream.regions))]
    assert names == ["tile_buffer:0[a <- input]", "tile_buffer:0[b <- a]"]
    assert list(r.timeline.region_peak) == [8, 8]
    assert r.layer_location("a") == "tile" and r.layer_location("b") == "dram"


@pytest.mark.parametrize("schedule", ["layer", "pipeline"])
def test_mlp_fits_tiny_and_runs(schedule):
    r = xbarsim.simulate("tiny", "mlp", schedule=schedule)
    assert r.rounds == 1
    assert [layer.arrays // layer.copies for layer in r.layers] == [16, 4]
    assert r.count("adc.convert") == 1 * (4 * 64 + 2 * 20) * 4
    assert np.all(r.durations >= 1)
