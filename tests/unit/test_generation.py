"""Transformers on a chip: prefill and decode, the KV cache's level and traffic, products on the
digital matrix unit or written into crossbars, and the errors a bad combination gives."""

import numpy as np
import pytest

import xbarsim
from xbarsim import MappingError
from xbarsim.mapping import map_network
from xbarsim.timing.stream import LOCATIONS
from xbarsim.workload import NetBuilder, load_workload
from xbarsim.workload.zoo import gpt2

SMALL = {"version": 1, "base": "isaac-llm", "chip": {"tiles": 16}}


def chip(**changes):
    spec = {**SMALL}
    for dotted, value in changes.items():
        node = spec
        *parents, last = dotted.split(".")
        for key in parents:
            node[key] = dict(node.get(key, {}))
            node = node[key]
        node[last] = value
    return xbarsim.load_arch(spec)


def decoder(prompt=8, decode=4, layers=2, d=16, heads=2):
    return load_workload(gpt2("t", prompt=prompt, decode=decode, layers=layers, d=d, heads=heads, vocab=64,
                              context=prompt + decode))


def test_prefill_then_every_decode_step():
    result = xbarsim.simulate(chip(), "tiny-decoder")
    decode = result.decode
    assert result.network.phase == "prefill" and decode.tokens == 4 and decode.simulated.all()
    assert decode.keys.tolist() == [9, 10, 11, 12]  # a prompt of 8, then one token each
    assert decode.time_per_token_s == pytest.approx(decode.cycles.mean() / result.arch.chip.clock)
    assert decode.energy_per_token_pj == pytest.approx(decode.energy_pj.mean())
    for name in ("prefill   8 tokens: time to first token", "decode    4 tokens:", "per output token",
                 "every step simulated", "tokens/s"):
        assert name in str(result)
    # the last step's full result is kept: one token through every layer
    last = decode.last
    assert last.network.step == 3 and all(layer.vectors == 1 for layer in last.network.layers if layer.has_weights)
    assert decode.cycles[-1] == last.cycles and decode.energy_pj[-1] == pytest.approx(last.energy_pj)


def test_sampled_decode_interpolates_between_simulated_steps():
    network = decoder(decode=12)
    exact = xbarsim.simulate(chip(), network).decode
    sampled = xbarsim.simulate(chip(), network, decode=3).decode
    assert sampled.simulated.sum() == 3 and sampled.simulated[[0, 11]].all()
    known = sampled.simulated
    assert np.array_equal(sampled.cycles[known], exact.cycles[known])
    # cycles and energy are nearly affine in the cache length (steps of one buffer access)
    assert np.abs(sampled.cycles / exact.cycles - 1).max() < 0.01
    assert np.abs(sampled.energy_pj / exact.energy_pj - 1).max() < 0.02
    assert "3 of 12 steps simulated" in sampled.method
    with pytest.raises(ValueError, match="decode: expected 'exact' or an integer >= 2"):
        xbarsim.simulate(chip(), network, decode=1)


def stores(result):
    return {result.stream.layer_names[int(r["layer"])]: LOCATIONS[int(r["level"])] for r in result.stream.stores}


def test_the_kv_cache_goes_to_the_first_level_with_room():
    network = decoder(prompt=16, d=64)  # a cache of 20 keys x 64 B = 1,280 B per product
    small = {"mapping.segment_bytes": "64B"}
    roomy = xbarsim.simulate(chip(**small, **{"tile.buffer.size": "1MiB"}), network)
    assert set(stores(roomy).values()) == {"tile"}
    # tile buffers too small to hold a cache beside their working sets: the global buffer
    tight = xbarsim.simulate(chip(**small, **{"tile.buffer.size": "1KiB"}), network)
    assert set(stores(tight).values()) == {"glb"}
    none = xbarsim.simulate(chip(**small, **{"tile.buffer.size": "1KiB", "global_buffer.size": "0B"}), network)
    assert set(stores(none).values()) == {"dram"}
    assert "operands b: 4 in dram (0.00512 MB)" in str(none)
    # a decode step finds the cache where the prefill put it
    assert set(stores(none.decode.last).values()) == {"dram"}


def test_cache_traffic_is_counted_where_the_cache_lives():
    """With the cache in DRAM, a decode step's product reads every key (L + t + 1 of d bytes) once
    and the K and V projections write one new row each."""
    network = decoder()
    result = xbarsim.simulate(chip(**{"products.store": "dram"}), network)
    last = result.decode.last
    d, keys = 16, 8 + 3 + 1
    for block in ("h0", "h1"):
        assert last.count("dram.read_bytes", f"{block}.attn.qk") == keys * d
        assert last.count("dram.read_bytes", f"{block}.attn.av") == keys * d
        assert last.count("dram.write_bytes", f"{block}.attn.k") == d
        assert last.count("dram.write_bytes", f"{block}.attn.v") == d
        # the prefill wrote the prompt's keys and values
        assert result.count("dram.write_bytes", f"{block}.attn.k") == 8 * d


def test_forced_levels_that_do_not_fit_are_refused():
    network = decoder(prompt=16, d=64)
    with pytest.raises(MappingError, match=r"operand b \(1,280 B at its longest, the KV cache when decoding\) does "
                                           r"not fit the buffer of tile \d+ .*\(products.store: tile\)"):
        xbarsim.simulate(chip(**{"products.store": "tile", "tile.buffer.size": "1KiB",
                                 "mapping.segment_bytes": "64B"}), network)
    with pytest.raises(MappingError, match=r"does not fit the global buffer \(0 B free of 0 B\)"):
        xbarsim.simulate(chip(**{"products.store": "glb", "global_buffer.size": "0B"}), network)


def test_matrix_unit_counts_mac_slots_of_its_operand_width():
    """16-bit activations on an 8-bit matrix unit take 4 passes per MAC."""
    network = decoder(decode=1)
    eight = xbarsim.simulate(chip(), network)
    sixteen = xbarsim.simulate(chip(**{"crossbar.input_bits": 16, "crossbar.weight_bits": 16,
                                       "pe.output_register": "1KiB", "tile.output_register": "12KiB"}), network)
    products = [layer for layer in network.layers if layer.type == "matmul"]
    macs = sum(layer.macs for layer in products)
    assert eight.count("mxu.mac") == macs and sixteen.count("mxu.mac") == 4 * macs


def test_products_on_crossbars_write_their_operands_into_arrays():
    network = decoder(decode=2)
    result = xbarsim.simulate(chip(**{"products.qk": "crossbar", "products.av": "crossbar"}), network)
    assert set(r["unit"] for r in result.stream.stores) == {1}
    assert result.count("mxu.mac") == 0 and result.count("xbar.write") > 0
    cells = result.arch.crossbar.columns_per_weight
    step = result.decode.last
    # one new key per product per step: K^T gains a column of d cells, V a row of d cells (x cells per weight)
    assert step.count("xbar.write") == 2 * 2 * 16 * cells
    assert "endurance" in str(result) and "operands written into arrays" in str(result)
    mixed = xbarsim.simulate(chip(**{"products.qk": "crossbar"}), network)
    units = {mixed.stream.layer_names[int(r["layer"])]: int(r["unit"]) for r in mixed.stream.stores}
    assert units == {"h0.attn.qk": 1, "h0.attn.av": 0, "h1.attn.qk": 1, "h1.attn.av": 0}


def test_crossbar_caches_cannot_be_overwritten_while_decoding():
    network = decoder(decode=2)
    crossbar = {"products.qk": "crossbar", "products.av": "crossbar"}
    with pytest.raises(MappingError, match=r"^batch: expected 1 when decoding with products on crossbars"):
        xbarsim.simulate(chip(**crossbar), network, batch=2)
    one_tile = {"chip.tiles": 1, "pe.arrays": 1}
    with pytest.raises(MappingError, match=r"programming rounds, which overwrite them"):
        xbarsim.simulate(chip(**crossbar, **one_tile), network)
    # digital products decode through reprogramming rounds (every pass reprograms)
    result = xbarsim.simulate(chip(**one_tile), network)
    assert result.rounds > 1 and result.decode.last.count("xbar.write") == result.count("xbar.write")
    assert "weights reprogrammed in each of 3 passes" in str(result)


def test_missing_digital_units_are_named():
    network = decoder(decode=0)
    with pytest.raises(MappingError, match=r"needs a vector unit for its layernorm .*tile.vector_unit.lanes: 0"):
        xbarsim.simulate(chip(**{"tile.vector_unit.lanes": 0}), network)
    with pytest.raises(MappingError, match=r"products.qk: digital\) but tiles have none "
                                           r"\(tile.matrix_unit.macs_per_cycle: 0\)"):
        xbarsim.simulate(chip(**{"tile.matrix_unit.macs_per_cycle": 0}), network)
    # products written into crossbars need no matrix unit
    fine = chip(**{"tile.matrix_unit.macs_per_cycle": 0, "products.qk": "crossbar", "products.av": "crossbar"})
    assert xbarsim.simulate(fine, network).count("xbar.write") > 0


def test_gpt2_on_isaac_is_reprogrammed_in_rounds():
    """GPT-2 small's 123.5 M weights (16-bit, 8 cells each) exceed ISAAC's 16,128 arrays: the output
    layer alone is split, and every pass reprograms the chip."""
    isaac = xbarsim.load_arch({"version": 1, "base": "isaac", "tile": {"vector_unit": {"lanes": 64},
                                                                        "matrix_unit": {"macs_per_cycle": 256}}})
    mapping = map_network(isaac, load_workload("gpt2-small"), "layer")
    assert mapping.rounds > 1
    assert any("programming rounds" in note for note in mapping.notes)
    assert any("lm_head" in note and "parts" in note for note in mapping.notes)
    fits = map_network(xbarsim.load_arch("isaac-llm"), load_workload("gpt2-small"), "layer")
    assert fits.rounds == 1


def test_a_layer_beyond_the_chip_says_how_much_is_missing():
    net = NetBuilder("wide", 1, 1, 16384)  # one output of 16,384 weights: 128 arrays of 128 rows
    net.fc("fc", 1)
    with pytest.raises(MappingError, match=r"needs 16 PEs but the chip has 12: 4 missing"):
        map_network(xbarsim.load_arch({"version": 1, "base": "isaac", "chip": {"tiles": 1}}),
                    load_workload(net.spec), "layer")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["bert-base", "vit-b16"])
def test_encoders_of_the_zoo_run_on_the_isaac_llm_chip(name):
    result = xbarsim.simulate("isaac-llm", name)
    network = result.network
    assert result.rounds == 1 and result.decode is None and len(result.stream.stores) == 24
    assert result.ops == 2 * network.macs
    # every product's MACs went through the matrix unit, one pass each (8-bit operands)
    assert result.count("mxu.mac") == sum(layer.macs for layer in network.layers if layer.type == "matmul")
    assert result.count("vec.op") > 0 and "prefill" not in str(result)
