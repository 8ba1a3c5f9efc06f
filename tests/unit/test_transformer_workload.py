"""The transformer workload vocabulary: token sequences, products of activations, caches,
prefill and decode phases; counts from independent formulas; bad input named by path."""

import itertools

import pytest

from xbarsim import ConfigError, load_workload
from xbarsim.workload import NetBuilder


def attention(L=6, d=8, heads=2, causal=False, cache=False, decode=0, max_length=None, masked="computed"):
    """Token ids -> embedding -> Q, K, V -> Q K^T -> softmax -> A V -> projection."""
    net = NetBuilder("attn", 1, L, 1)
    net.embedding("emb", 32, d)
    q = net.linear("q", d, inputs=["emb"])
    k = net.linear("k", d, inputs=["emb"])
    v = net.linear("v", d, inputs=["emb"])
    net.matmul("qk", q, k, heads, transpose_b=True, cache=cache, causal=causal)
    net.function("sm", "softmax", heads=heads)
    net.matmul("av", "sm", v, heads, cache=cache, causal=causal)
    net.linear("proj", d, bias=True)
    net.sequence(decode=decode, max_length=max_length, masked_products=masked)
    return net.spec


def brute_force_products(queries, keys, per_pair, heads, causal_skip):
    """Products of a per-head attention product counted pair by pair: query i (the last
    ``queries`` of ``keys`` positions) and key j, ``per_pair`` each; masked pairs j > position(i)
    dropped when skipped."""
    offset = keys - queries
    pairs = sum(1 for i, j in itertools.product(range(queries), range(keys))
                if not causal_skip or j <= offset + i)
    return heads * pairs * per_pair


def test_shapes_of_an_attention_block():
    net = load_workload(attention())
    emb, q, k, v, qk, sm, av, proj = net.layers
    assert (emb.E, emb.F, emb.M, emb.params) == (1, 6, 8, 32 * 8)
    assert (q.C, q.M, q.vectors, q.macs, q.weights) == (8, 8, 6, 6 * 8 * 8, 64)
    assert (qk.M, qk.keys, qk.contraction, qk.head_columns) == (2 * 6, 6, 4, 6)  # L x (h Lk), K = dk
    assert qk.macs == 2 * 6 * 6 * 4 == brute_force_products(6, 6, 4, 2, False)
    assert (sm.M, sm.heads) == (12, 2)
    assert (av.M, av.keys, av.contraction, av.head_columns) == (8, 6, 6, 4)  # L x (h dv), K = Lk
    assert av.macs == 2 * 6 * 6 * 4
    assert qk.weights == av.weights == 0 and qk.operand_elements == av.operand_elements == 6 * 8
    assert proj.params == 64 + 8  # a bias per output
    assert net.macs == 4 * 6 * 64 + 2 * 2 * 6 * 6 * 4
    assert net.params == 32 * 8 + 4 * 64 + 8 and net.weights == 4 * 64


@pytest.mark.parametrize("L", [1, 2, 5, 9])
@pytest.mark.parametrize("masked", ["computed", "skipped"])
def test_causal_products_counted_pair_by_pair(L, masked):
    net = load_workload(attention(L=L, causal=True, masked=masked))
    qk, av = net.layer("qk"), net.layer("av")
    skip = masked == "skipped"
    assert qk.macs == brute_force_products(L, L, 4, 2, skip)
    assert av.macs == brute_force_products(L, L, 4, 2, skip)
    if skip:
        assert qk.macs == 2 * 4 * L * (L + 1) // 2


def test_decode_steps_read_a_growing_cache():
    net = load_workload(attention(L=5, causal=True, cache=True, decode=3, masked="skipped"))
    assert net.phase == "prefill" and net.decode_steps == 3 and net.prompt_tokens == 5
    for t in range(3):
        step = net.decode_step(t)
        assert step.phase == "decode" and step.step == t
        qk, sm, av = step.layer("qk"), step.layer("sm"), step.layer("av")
        assert step.layer("q").vectors == 1 and step.layer("emb").position == 5 + t
        assert qk.keys == av.keys == 5 + t + 1
        assert (qk.M, sm.C, av.contraction) == (2 * (6 + t), 2 * (6 + t), 6 + t)
        # one query at the newest position sees every key, masked or not
        assert qk.macs == brute_force_products(1, 6 + t, 4, 2, True)
    assert net.decode_step(0) != net and net.decode_step(1) != net.decode_step(0)
    with pytest.raises(ValueError, match="decode step 0..2"):
        net.decode_step(3)


def test_tokens_layer_and_position_embedding():
    net = NetBuilder("vit", 8, 8, 3)
    net.conv("patch", 16, 4, 4, padding=0, activation="none", bias=True)
    seq = net.tokens("tokens", extra_tokens=1)
    net.embedding("pos", 5, 16, lookup="position", inputs=[seq])
    net.add("x", [seq, "pos"], activation="none")
    net.function("ln", "layernorm")
    net.linear("fc", 32, activation="gelu", bias=True)
    net.function("act", "silu")
    net.tokens("cls", keep=1)
    net.linear("head", 10, bias=True)
    layers = load_workload(net.spec).layers
    patch, tokens, pos, x, ln, fc, act, cls, head = layers
    assert (tokens.E, tokens.F, tokens.M, tokens.params) == (1, 5, 16, 16)  # 2x2 patches + class token
    assert (pos.F, pos.params, ln.params) == (5, 5 * 16, 32)
    assert fc.activation == "gelu" and act.M == 32
    assert (cls.F, cls.position, head.vectors, head.macs) == (1, 0, 1, 32 * 10)
    last = NetBuilder("lm", 1, 7, 1)
    last.embedding("e", 9, 4)
    last.tokens("t", keep=2, keep_from="last")
    assert load_workload(last.spec).layers[1].position == 5


def test_tied_output_layer_counts_its_table_once():
    net = NetBuilder("lm", 1, 4, 1)
    net.embedding("wte", 50, 8)
    net.function("ln", "rmsnorm")
    net.linear("lm_head", 50, tied="wte")
    layers = load_workload(net.spec).layers
    assert layers[2].tied == 0 and layers[2].weights == 400 and layers[2].params == 0
    assert load_workload(net.spec).params == 400 + 8


def test_swiglu_mlp():
    net = NetBuilder("swiglu", 1, 3, 1)
    net.embedding("e", 10, 8)
    gate = net.linear("gate", 16, activation="silu", inputs=["e"])
    up = net.linear("up", 16, inputs=["e"])
    net.mul("mul", [gate, up])
    net.linear("down", 8)
    layers = load_workload(net.spec).layers
    assert (layers[3].M, layers[3].macs, layers[4].macs) == (16, 0, 3 * 16 * 8)


def test_cnn_specs_are_unchanged_by_the_sequence_section():
    net = load_workload("resnet20")
    assert net.to_dict()["sequence"] == {"decode": 0, "max_length": None, "masked_products": "computed"}
    assert load_workload(net.to_dict()) == net and net.params == net.weights


def _net(*changes):
    spec = attention(causal=True, cache=True, decode=2, max_length=16)
    for path, value in changes:
        node = spec
        *parents, last = path
        for key in parents:
            node = node[key]
        node[last] = value
    return spec


@pytest.mark.parametrize("changes, path, fragment", [
    ([(("layers", 4, "heads"), 3)], "layers[4].heads", "a divisor of operand a's C=8"),
    ([(("layers", 5, "heads"), 5)], "layers[5].heads", "a divisor of C=12"),
    ([(("sequence", "decode"), 11)], "sequence.decode", "at most 10 tokens"),
    ([(("input", "W"), 17), (("sequence", "decode"), 0)], "input.W", "at most sequence.max_length = 16"),
    ([(("layers", 4, "transpose_b"), False)], "layers[4].inputs[1]", "a layer of 4 tokens"),
    ([(("layers", 2, "M"), 4)], "layers[4].inputs[1]", "a layer with C=8"),
    ([(("layers", 4, "inputs"), ["q"])], "layers[4].inputs", "exactly two layers"),
    ([(("layers", 1, "cache"), True)], "layers[1].cache", "nothing for a linear layer"),
    ([(("layers", 1, "heads"), 2)], "layers[1].heads", "only matmul and softmax"),
    ([(("layers", 5, "bias"), True)], "layers[5].bias", "false for a softmax layer"),
    ([(("layers", 0, "vocab"), None)], "layers[0].vocab", "the rows of the table"),
    ([(("layers", 1, "stride"), 2)], "layers[1].stride", "1 (and padding 0) for a linear layer"),
    ([(("layers", 4, "type"), "matmull")], "layers[4].type", "one of 'conv'"),
    ([(("layers", 6, "cache"), False)], "layers[6].inputs[1]", "decode step 1"),
])
def test_bad_transformer_specs_name_their_field(changes, path, fragment):
    with pytest.raises(ConfigError) as info:
        load_workload(_net(*changes))
    assert str(info.value).startswith(f"{path}: expected"), str(info.value)
    assert fragment in str(info.value), str(info.value)


def test_decoding_needs_tokens_and_per_token_layers():
    net = NetBuilder("cnn", 4, 4, 1)
    net.conv("c", 2, 3)
    net.sequence(decode=2)
    with pytest.raises(ConfigError, match=r"^input\.H: expected 1 \(a token sequence\)"):
        load_workload(net.spec)
    net = NetBuilder("cnn1d", 1, 8, 1)
    net.conv("c", 2, 1)
    net.sequence(decode=2)
    with pytest.raises(ConfigError, match=r"^layers\[0\]\.type: expected a per-token layer"):
        load_workload(net.spec)


def test_position_table_must_cover_every_position():
    net = NetBuilder("lm", 1, 6, 1)
    net.embedding("wte", 10, 4)
    net.embedding("wpe", 8, 4, lookup="position", inputs=["wte"])
    net.sequence(decode=3)
    with pytest.raises(ConfigError, match=r"^sequence\.decode: expected at most 8 positions"):
        load_workload(net.spec)
    net.spec["input"]["W"] = 9
    with pytest.raises(ConfigError, match=r"^layers\[1\]\.vocab: expected at most 8 positions"):
        load_workload(net.spec)


def test_token_lookup_needs_token_ids():
    net = NetBuilder("x", 1, 4, 3)
    net.embedding("e", 10, 4)
    with pytest.raises(ConfigError, match=r"^layers\[0\]\.inputs: expected token ids"):
        load_workload(net.spec)


def test_causal_product_needs_no_more_queries_than_keys():
    net = NetBuilder("x", 1, 4, 1)
    net.embedding("e", 10, 4)
    net.tokens("few", keep=2)
    net.matmul("qk", "e", "few", transpose_b=True, causal=True)
    with pytest.raises(ConfigError, match=r"^layers\[2\]\.causal: expected false: 4 queries"):
        load_workload(net.spec)
