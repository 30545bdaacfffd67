"""Hand-derived counts at tiny dimensions for every op kind the graph emits, and counting properties.

The tiny model (conftest.TINY): L=2, H=2, d=8 (head dim dh=4), d_ff=16, V=10, T=4, max_context=8, biases on,
pre-LN LayerNorms, softmax attention, GELU FFN, learned positions, tied LM head. Each expected node is
(kind, shape, params, MACs, dense FLOPs, aero FLOPs); dense is 2 FLOPs per MAC everywhere; aero counts A.V at
1 FLOP per MAC (0 without a V projection) and excludes the embeddings and the head.
"""
from __future__ import annotations

import networkx as nx
import pytest

from conftest import SHIPPED, rows
from pidse.model.estimate import GROUPINGS, estimate
from pidse.ops import OP_KINDS
from pidse.spec.load import load_spec


def rc(rows_, cols):
    return {"rows": rows_, "cols": cols}


def brc(batch, rows_, cols):
    return {"batch": batch, "rows": rows_, "cols": cols}


def mkn(m, k, n):
    return {"m": m, "k": k, "n": n}


def bmkn(batch, m, k, n):
    return {"batch": batch, "m": m, "k": k, "n": n}


NONE = (0, 0, 0, 0)  # params, MACs, dense FLOPs, aero FLOPs of an op with no weights and no MACs

# Layer 0 of the tiny model; layer 1 is the same with L1 in the names.
LAYER0 = {
    # LayerNorm over T x d = 4 x 8, gain and bias: 2*8 = 16 params
    "L0.attn.norm": ("layernorm", rc(4, 8), 16, 0, 0, 0),
    # (4 x 8)(8 x 8): 8*8 + 8 = 72 params, 4*8*8 = 256 MACs, 512 FLOPs in both conventions
    "L0.attn.q": ("linear", mkn(4, 8, 8), 72, 256, 512, 512),
    "L0.attn.k": ("linear", mkn(4, 8, 8), 72, 256, 512, 512),
    "L0.attn.v": ("linear", mkn(4, 8, 8), 72, 256, 512, 512),
    # QK^T: H=2 heads of (4 x 4)(4 x 4): 2*4*4*4 = 128 MACs, 256 FLOPs in both conventions
    "L0.attn.scores": ("matmul", bmkn(2, 4, 4, 4), 0, 128, 256, 256),
    # 1/sqrt(dh) on H*T = 8 rows of T = 4 scores
    "L0.attn.scale": ("scale", rc(8, 4), *NONE),
    # 2 heads, each a softmax over 4 rows of 4 scores
    "L0.attn.softmax": ("softmax", brc(2, 4, 4), *NONE),
    # A.V: 2 heads of (4 x 4)(4 x 4): 128 MACs; dense 256, aero 1 FLOP per MAC = 128
    "L0.attn.context": ("matmul", bmkn(2, 4, 4, 4), 0, 128, 256, 128),
    "L0.attn.o": ("linear", mkn(4, 8, 8), 72, 256, 512, 512),
    "L0.attn.residual": ("add", rc(4, 8), *NONE),
    "L0.ffn.norm": ("layernorm", rc(4, 8), 16, 0, 0, 0),
    # (4 x 8)(8 x 16): 8*16 + 16 = 144 params, 4*8*16 = 512 MACs, 1024 FLOPs
    "L0.ffn.up": ("linear", mkn(4, 8, 16), 144, 512, 1024, 1024),
    "L0.ffn.act": ("gelu", rc(4, 16), *NONE),
    # (4 x 16)(16 x 8): 16*8 + 8 = 136 params, 512 MACs
    "L0.ffn.down": ("linear", mkn(4, 16, 8), 136, 512, 1024, 1024),
    "L0.ffn.residual": ("add", rc(4, 8), *NONE),
}
BASE = {
    # a gather of T=4 ids from a V x d = 10 x 8 table: 80 params, no MACs
    "embed.tokens": ("embedding", {"tokens": 4, "vocab": 10, "dim": 8}, 80, 0, 0, 0),
    # learned positions: max_context x d = 8 x 8 = 64 params, added to the 4 x 8 activations
    "embed.positions": ("add", rc(4, 8), 64, 0, 0, 0),
    **LAYER0,
    **{name.replace("L0.", "L1."): node for name, node in LAYER0.items()},
    # the head runs on the last position only: LayerNorm over 1 x 8 (16 params)
    "head.norm": ("layernorm", rc(1, 8), 16, 0, 0, 0),
    # tied to the embedding: no own params; (1 x 8)(8 x 10) = 80 MACs, dense 160, aero excludes the head
    "head.lm": ("lm_head", mkn(1, 8, 10), 0, 80, 160, 0),
    "head.argmax": ("argmax", rc(1, 10), *NONE),
}


def rows_as_built(est) -> dict:
    """Op rows by name as the estimate holds them (decode steps as templates)."""
    return {row["op"]: row for row in est.ops}


def check_nodes(dense, aero, expected: dict):
    d, a = rows(dense), rows(aero)
    for name, (kind, shape, params, macs, dense_flops, aero_flops) in expected.items():
        assert name in d, f"{name} missing; ops: {list(d)}"
        got = (d[name]["kind"], d[name]["shape"], d[name]["params"], d[name]["macs"], d[name]["flops"],
               a[name]["flops"])
        assert got == (kind, shape, params, macs, dense_flops, aero_flops), name


def test_base_every_node(tiny):
    dense, aero = tiny()
    # Execution order: embeddings, layer 0, layer 1, head; nothing else.
    assert [row["op"] for row in dense.ops] == list(BASE)
    check_nodes(dense, aero, BASE)


def test_base_blocks_and_layers(tiny):
    # embed.* -> embedding, head.* -> head (final norm included); inside layer i: norms -> norm,
    # Li.attn.* -> attention, Li.ffn.* -> ffn.
    for row in tiny()[0].ops:
        first, second = row["op"].split(".")[:2]
        if first in ("embed", "head"):
            layer, block = None, {"embed": "embedding", "head": "head"}[first]
        else:
            layer = int(first[1:])
            block = "norm" if row["op"].endswith(".norm") else {"attn": "attention", "ffn": "ffn"}[second]
        assert (row["layer"], row["block"], row["stage"], row["step"]) == (layer, block, "prefill", 0), row["op"]


def test_base_totals_and_inventory(tiny):
    dense, aero = tiny()
    # params: embed 80 + positions 64 + 2 layers x (norms 2*16 + q,k,v,o 4*72 + up 144 + down 136 = 600)
    #         + head norm 16 = 80 + 64 + 1200 + 16 = 1360
    # MACs: per layer 4*256 + 128 + 128 + 2*512 = 2304; x2 = 4608; + LM head 80 = 4688
    assert dense.totals == {"params": 1360, "macs": 4688, "flops": 2 * 4688}
    # aero: per layer 4*512 + 256 + 128 + 2*1024 = 4480; x2 = 8960 (no head)
    assert aero.totals == {"params": 1360, "macs": 4688, "flops": 8960}
    # dense by block: attention 2 x (4*512 + 256 + 256) = 5120; ffn 2 x 2048 = 4096; head 160
    assert dense.flops_by_block == {"embedding": 0, "attention": 5120, "ffn": 4096, "norm": 0, "head": 160}
    # aero by block: attention 2 x (2048 + 256 + 128) = 4864; ffn 4096
    assert aero.flops_by_block == {"embedding": 0, "attention": 4864, "ffn": 4096, "norm": 0, "head": 0}
    # AERO's notation: L*H = 4 softmaxes over 4 x 4, 2L = 4 LayerNorms over 4 x 8, L = 2 GELUs over 4 x 16
    assert dense.nonlinear_ops == "SM:4xR4x4 LN:4xR4x8 G:2xR4x16"
    assert dense.head_nonlinear_ops == "LN:1xR1x8 ARGMAX:1xR1x10"


def test_base_edges(tiny):
    g = tiny()[0].graph
    assert nx.is_directed_acyclic_graph(g)
    preds = lambda node: set(g.predecessors(node))  # noqa: E731
    assert preds("L0.attn.norm") == {"embed.positions"}
    assert preds("L0.attn.scores") == {"L0.attn.q", "L0.attn.k"}
    assert preds("L0.attn.context") == {"L0.attn.softmax", "L0.attn.v"}
    assert preds("L0.attn.residual") == {"embed.positions", "L0.attn.o"}
    assert preds("L0.ffn.residual") == {"L0.attn.residual", "L0.ffn.down"}
    assert preds("L1.attn.norm") == {"L0.ffn.residual"}
    assert preds("head.norm") == {"L1.ffn.residual"}
    assert [n for n in g if g.in_degree(n) == 0] == ["embed.tokens"]
    assert [n for n in g if g.out_degree(n) == 0] == ["head.argmax"]


BASE_INVENTORY = "SM:4xR4x4 LN:4xR4x8 G:2xR4x16"
CASES = [
    pytest.param(dict(
        # GQA: H=4 query heads share KV=2 K/V heads; dh = 8/4 = 2.
        sections={"model": {"heads": 4, "kv_heads": 2}},
        nodes={
            "L0.attn.q": ("linear", mkn(4, 8, 8), 72, 256, 512, 512),  # H*dh = 8 outputs
            # KV*dh = 4 outputs: 8*4 + 4 = 36 params, 4*8*4 = 128 MACs
            "L0.attn.k": ("linear", mkn(4, 8, 4), 36, 128, 256, 256),
            "L0.attn.v": ("linear", mkn(4, 8, 4), 36, 128, 256, 256),
            # every query head scores: 4 heads of (4 x 2)(2 x 4) = 4*4*2*4 = 128 MACs
            "L0.attn.scores": ("matmul", bmkn(4, 4, 2, 4), 0, 128, 256, 256),
            "L0.attn.scale": ("scale", rc(16, 4), *NONE),  # H*T = 16 rows
            "L0.attn.softmax": ("softmax", brc(4, 4, 4), *NONE),
            "L0.attn.context": ("matmul", bmkn(4, 4, 4, 2), 0, 128, 256, 128),
            "L0.attn.o": ("linear", mkn(4, 8, 8), 72, 256, 512, 512),
        },
        # k and v shrink from 72 to 36 params: 1360 - 2 layers x 2 x 36 = 1216
        params=1216, inventory="SM:8xR4x4 LN:4xR4x8 G:2xR4x16"), id="gqa"),
    pytest.param(dict(
        # multi-query: both heads share one K/V head (dh = 4): k and v have 1*4 outputs
        sections={"model": {"kv_heads": 1}},
        nodes={"L0.attn.k": ("linear", mkn(4, 8, 4), 36, 128, 256, 256),
               "L0.attn.v": ("linear", mkn(4, 8, 4), 36, 128, 256, 256),
               "L0.attn.scores": ("matmul", bmkn(2, 4, 4, 4), 0, 128, 256, 256)},
        params=1216, inventory=BASE_INVENTORY), id="multi-query"),
    pytest.param(dict(
        # explicit head_dim 8 with H=2: H*dh = 16 != d
        sections={"model": {"head_dim": 8}},
        nodes={"L0.attn.q": ("linear", mkn(4, 8, 16), 144, 512, 1024, 1024),  # 8*16 + 16 params
               "L0.attn.scores": ("matmul", bmkn(2, 4, 8, 4), 0, 256, 512, 512),  # 2*4*8*4 MACs
               "L0.attn.o": ("linear", mkn(4, 16, 8), 136, 512, 1024, 1024)},  # 16*8 + 8 params
        # q, k, v: 144 each, o: 136 -> 568 instead of 288 per layer: 1360 + 2 x 280 = 1920
        params=1920, inventory=BASE_INVENTORY), id="head-dim"),
    pytest.param(dict(
        # He & Hofmann (SAS): only Q and K projections; the values are the normed input itself.
        sections={"attention": {"projections": ["q", "k"]}},
        nodes={"L0.attn.context": ("matmul", bmkn(2, 4, 4, 4), 0, 128, 256, 0)},  # aero: 0 without V
        absent=("L0.attn.v", "L0.attn.o", "L1.attn.v", "L1.attn.o"),
        preds={"L0.attn.context": {"L0.attn.softmax", "L0.attn.norm"},
               "L0.attn.residual": {"embed.positions", "L0.attn.context"}},
        attrs={"L0.attn.context": {"values_projected": False}},
        params=1360 - 2 * 2 * 72, inventory=BASE_INVENTORY), id="he-hofmann-qk"),
    pytest.param(dict(
        # ScFFN: beta * x + FFN(x) / alpha, one learnable scalar each
        sections={"ffn": {"scaled": True}},
        nodes={"L0.ffn.alpha": ("scale", rc(4, 8), 1, 0, 0, 0), "L0.ffn.beta": ("scale", rc(4, 8), 1, 0, 0, 0)},
        preds={"L0.ffn.alpha": {"L0.ffn.down"}, "L0.ffn.beta": {"L0.attn.residual"},
               "L0.ffn.residual": {"L0.ffn.alpha", "L0.ffn.beta"}},
        params=1360 + 2 * 2, inventory=BASE_INVENTORY), id="scaled-ffn"),
    pytest.param(dict(
        # fused: with an identity activation, up (8 x 16) and down (16 x 8) fold into one 8 x 8 linear layer
        sections={"ffn": {"activation": "identity", "fused": True}},
        nodes={"L0.ffn.fused": ("linear", mkn(4, 8, 8), 72, 256, 512, 512)},  # aero's 2*T*d^2 = 2*4*64 = 512
        absent=("L0.ffn.up", "L0.ffn.act", "L0.ffn.down"),
        preds={"L0.ffn.fused": {"L0.ffn.norm"}},
        # 1360 - 2 x (144 + 136) + 2 x 72 = 944
        params=944, inventory="SM:4xR4x4 LN:4xR4x8"), id="fused-ffn"),
    pytest.param(dict(
        # prune the FFN of the deepest layer (L1); L0 keeps its FFN
        sections={"ffn": {"prune_last": 1}},
        nodes={"L0.ffn.up": ("linear", mkn(4, 8, 16), 144, 512, 1024, 1024)},
        absent=("L1.ffn.norm", "L1.ffn.up", "L1.ffn.act", "L1.ffn.down", "L1.ffn.residual"),
        preds={"head.norm": {"L1.attn.residual"}},
        # 1360 - (16 + 144 + 136) = 1064; one LN and one GELU fewer
        params=1064, inventory="SM:4xR4x4 LN:3xR4x8 G:1xR4x16"), id="prune-last"),
    pytest.param(dict(
        # SwiGLU: silu(x W_gate) * (x W_up), then W_down
        sections={"ffn": {"activation": "silu", "gated": True}},
        nodes={"L0.ffn.up": ("linear", mkn(4, 8, 16), 144, 512, 1024, 1024),
               "L0.ffn.gate": ("linear", mkn(4, 8, 16), 144, 512, 1024, 1024),
               "L0.ffn.act": ("silu", rc(4, 16), *NONE),
               "L0.ffn.mul": ("mul", rc(4, 16), *NONE),
               "L0.ffn.down": ("linear", mkn(4, 16, 8), 136, 512, 1024, 1024)},
        preds={"L0.ffn.act": {"L0.ffn.gate"}, "L0.ffn.mul": {"L0.ffn.act", "L0.ffn.up"},
               "L0.ffn.down": {"L0.ffn.mul"}},
        params=1360 + 2 * 144, inventory="SM:4xR4x4 LN:4xR4x8 SiLU:2xR4x16"), id="swiglu"),
    pytest.param(dict(
        # Llama-style RMSNorm (gain only: 8 params) and no biases anywhere
        sections={"norm": {"kind": "rmsnorm"}, "model": {"bias": False}},
        nodes={"L0.attn.norm": ("rmsnorm", rc(4, 8), 8, 0, 0, 0),
               "L0.attn.q": ("linear", mkn(4, 8, 8), 64, 256, 512, 512),  # 8*8, no bias
               "L0.ffn.down": ("linear", mkn(4, 16, 8), 128, 512, 1024, 1024),
               "head.norm": ("rmsnorm", rc(1, 8), 8, 0, 0, 0)},
        # 80 + 64 + 2 x (8 + 8 + 4*64 + 128 + 128 = 528) + 8 = 1208
        params=1208, inventory="SM:4xR4x4 RMS:4xR4x8 G:2xR4x16", head_inventory="RMS:1xR1x8 ARGMAX:1xR1x10"),
        id="rmsnorm-no-bias"),
    pytest.param(dict(
        # LayerNorm without bias: gain only
        sections={"model": {"bias": False}},
        nodes={"L0.ffn.norm": ("layernorm", rc(4, 8), 8, 0, 0, 0)},
        params=1208, inventory=BASE_INVENTORY), id="layernorm-no-bias"),
    pytest.param(dict(
        # GPT-NeoX parallel residual: x + attn(norm(x)) + ffn(norm(x)), one add of the three
        sections={"model": {"parallel_residual": True}},
        nodes={"L0.residual": ("add", rc(4, 8), *NONE)},
        absent=("L0.attn.residual", "L0.ffn.residual"),
        preds={"L0.residual": {"embed.positions", "L0.attn.o", "L0.ffn.down"},
               "L0.ffn.norm": {"embed.positions"}, "L1.attn.norm": {"L0.residual"}},
        params=1360, inventory=BASE_INVENTORY), id="parallel-residual"),
    pytest.param(dict(
        # rotary on half of each head's dims: (H + KV) * dh * 0.5 = (2 + 2) * 4 * 0.5 = 8 rotated columns
        sections={"embeddings": {"positions": "rotary", "rotary_fraction": 0.5}},
        nodes={"L0.attn.rope": ("rope", rc(4, 8), *NONE)},
        absent=("embed.positions",),
        preds={"L0.attn.rope": {"L0.attn.q", "L0.attn.k"}, "L0.attn.scores": {"L0.attn.rope"},
               "L0.attn.norm": {"embed.tokens"}},
        params=1360 - 64, inventory=BASE_INVENTORY), id="rotary-half"),
    pytest.param(dict(
        # rotary with GQA: (H + KV) * dh = (4 + 2) * 2 = 12 rotated columns
        sections={"embeddings": {"positions": "rotary"}, "model": {"heads": 4, "kv_heads": 2}},
        nodes={"L0.attn.rope": ("rope", rc(4, 12), *NONE)},
        params=1216 - 64, inventory="SM:8xR4x4 LN:4xR4x8 G:2xR4x16"), id="rotary-gqa"),
    pytest.param(dict(
        # AERO's SM(t): a learnable temperature per head and query position, H * max_context = 2*8 = 16
        sections={"attention": {"temperature": "learnable"}},
        nodes={"L0.attn.scale": ("scale", rc(8, 4), 16, 0, 0, 0)},
        attrs={"L0.attn.scale": {"temperature": "learnable"}},
        params=1360 + 2 * 16, inventory=BASE_INVENTORY), id="learnable-temperature"),
    pytest.param(dict(
        sections={"attention": {"kind": "power_softmax", "power": 2}},
        nodes={"L0.attn.softmax": ("power_softmax", brc(2, 4, 4), *NONE)},
        attrs={"L0.attn.softmax": {"power": 2}},
        params=1360, inventory="PSM:4xR4x4 LN:4xR4x8 G:2xR4x16"), id="power-softmax"),
    pytest.param(dict(
        sections={"ffn": {"activation": "relu"}},
        nodes={"L0.ffn.act": ("relu", rc(4, 16), *NONE)},
        params=1360, inventory="SM:4xR4x4 LN:4xR4x8 R:2xR4x16"), id="relu"),
    pytest.param(dict(
        # untied LM head: its own d x V = 80 weights (no bias)
        sections={"embeddings": {"tied_head": False}},
        nodes={"head.lm": ("lm_head", mkn(1, 8, 10), 80, 80, 160, 0)},
        params=1360 + 80, inventory=BASE_INVENTORY), id="untied-head"),
    pytest.param(dict(
        # one LayerNorm right after the embeddings (He & Hofmann's kept LN), in the norm block
        sections={"norm": {"embedding": True}},
        nodes={"embed.norm": ("layernorm", rc(4, 8), 16, 0, 0, 0)},
        preds={"embed.norm": {"embed.positions"}, "L0.attn.norm": {"embed.norm"}},
        params=1360 + 16, inventory="SM:4xR4x4 LN:5xR4x8 G:2xR4x16"), id="embedding-norm"),
    pytest.param(dict(
        # no norms at all: 5 LayerNorms of 16 params gone
        sections={"norm": {"kind": "none"}},
        nodes={}, absent=("L0.attn.norm", "L0.ffn.norm", "L1.attn.norm", "L1.ffn.norm", "head.norm"),
        preds={"L0.attn.q": {"embed.positions"}, "head.lm": {"L1.ffn.residual"}},
        params=1360 - 5 * 16, inventory="SM:4xR4x4 G:2xR4x16", head_inventory="ARGMAX:1xR1x10"), id="no-norm"),
]


@pytest.mark.parametrize("case", CASES)
def test_variant(tiny, case):
    dense, aero = tiny(**case["sections"])
    check_nodes(dense, aero, case["nodes"])
    d, g = rows(dense), dense.graph
    for name in case.get("absent", ()):
        assert name not in d
    for name, expected in case.get("preds", {}).items():
        assert set(g.predecessors(name)) == expected, name
    for name, attrs in case.get("attrs", {}).items():
        assert d[name]["attrs"].items() >= attrs.items(), name
    assert dense.totals["params"] == case["params"]
    assert dense.nonlinear_ops == case["inventory"]
    assert dense.head_nonlinear_ops == case.get("head_inventory", "LN:1xR1x8 ARGMAX:1xR1x10")
    assert nx.is_directed_acyclic_graph(g)


# The axes of the private-inference literature (issue 14), on the same tiny model.
AXES = [
    pytest.param(dict(
        # MPCFormer's Quad: 0.125 x^2 + 0.25 x + 0.5 on the 4 x 16 FFN activations, a degree-2 polynomial
        sections={"ffn": {"activation": "quad"}},
        nodes={"L0.ffn.act": ("poly", rc(4, 16), *NONE)},
        attrs={"L0.ffn.act": {"degree": 2, "symbol": "Quad"}},
        params=1360, inventory="SM:4xR4x4 LN:4xR4x8 Quad:2xR4x16"), id="quad"),
    pytest.param(dict(
        sections={"ffn": {"activation": "poly", "degree": 3}},
        nodes={"L0.ffn.act": ("poly", rc(4, 16), *NONE)},
        attrs={"L0.ffn.act": {"degree": 3}},
        params=1360, inventory="SM:4xR4x4 LN:4xR4x8 Poly3:2xR4x16"), id="poly3"),
    pytest.param(dict(
        # MPCFormer's 2Quad (x + 5)^2 / sum (x + 5)^2: a Power-Softmax with p = 2 after a public shift
        sections={"attention": {"kind": "2quad"}},
        nodes={"L0.attn.softmax": ("power_softmax", brc(2, 4, 4), *NONE)},
        attrs={"L0.attn.softmax": {"power": 2, "shift": 5, "symbol": "2Quad"}},
        params=1360, inventory="2Quad:4xR4x4 LN:4xR4x8 G:2xR4x16"), id="2quad"),
    pytest.param(dict(
        # MPCFormer's 2ReLU relu(x) / sum relu(x), its own op kind
        sections={"attention": {"kind": "relu"}},
        nodes={"L0.attn.softmax": ("relu_softmax", brc(2, 4, 4), *NONE)},
        params=1360, inventory="2ReLU:4xR4x4 LN:4xR4x8 G:2xR4x16"), id="2relu"),
    pytest.param(dict(
        # causal linear attention: per position an outer product k_j v_j^T per KV head, (B KV T) = 8 products of
        # (4 x 1)(1 x 4) = 128 MACs; a running sum of the 8 states of 4 x 4 = 16; each query times its state,
        # 8 products of (1 x 4)(4 x 4) = 128 MACs (aero: A.V-like, 1 FLOP per MAC); no scores, no softmax
        sections={"attention": {"kind": "linear"}},
        nodes={"L0.attn.kv": ("matmul", bmkn(8, 4, 1, 4), 0, 128, 256, 256),
               "L0.attn.kv_sum": ("add", rc(8, 16), *NONE),
               "L0.attn.context": ("matmul", bmkn(8, 1, 4, 4), 0, 128, 256, 128),
               "L0.attn.scale": ("scale", rc(4, 8), *NONE)},
        absent=("L0.attn.scores", "L0.attn.softmax"),
        preds={"L0.attn.kv": {"L0.attn.k", "L0.attn.v"}, "L0.attn.context": {"L0.attn.q", "L0.attn.kv_sum"},
               "L0.attn.o": {"L0.attn.scale"}},
        params=1360, inventory="LN:4xR4x8 G:2xR4x16"), id="linear-causal"),
    pytest.param(dict(
        # bidirectional linear attention: K^T V per head, (4 x 4)(4 x 4) x 2 = 128 MACs; Q (K^T V) 128 MACs
        sections={"attention": {"kind": "linear", "causal": False}},
        nodes={"L0.attn.kv": ("matmul", bmkn(2, 4, 4, 4), 0, 128, 256, 256),
               "L0.attn.context": ("matmul", bmkn(2, 4, 4, 4), 0, 128, 256, 128)},
        absent=("L0.attn.kv_sum", "L0.attn.softmax"),
        params=1360, inventory="LN:4xR4x8 G:2xR4x16"), id="linear-bidirectional"),
    pytest.param(dict(
        # a sliding window of 2 keys: scores (4 x 4)(4 x 2) per head = 64 MACs, softmax rows of 2, A.V 64 MACs
        sections={"attention": {"window": 2}},
        nodes={"L0.attn.scores": ("matmul", bmkn(2, 4, 4, 2), 0, 64, 128, 128),
               "L0.attn.scale": ("scale", rc(8, 2), *NONE),
               "L0.attn.softmax": ("softmax", brc(2, 4, 2), *NONE),
               "L0.attn.context": ("matmul", bmkn(2, 4, 2, 4), 0, 64, 128, 64)},
        attrs={"L0.attn.softmax": {"window": 2, "positions": 4}},
        params=1360, inventory="SM:4xR4x2 LN:4xR4x8 G:2xR4x16"), id="window"),
    pytest.param(dict(
        # a batch of 2 sequences: every token row doubles (8 x d), heads x 2 in the attention, the head runs
        # on the 2 last positions
        sections={"inference": {"context": 4, "batch": 2}},
        nodes={"embed.tokens": ("embedding", {"tokens": 8, "vocab": 10, "dim": 8}, 80, 0, 0, 0),
               "L0.attn.q": ("linear", mkn(8, 8, 8), 72, 512, 1024, 1024),
               "L0.attn.scores": ("matmul", bmkn(4, 4, 4, 4), 0, 256, 512, 512),
               "L0.attn.softmax": ("softmax", brc(4, 4, 4), *NONE),
               "head.lm": ("lm_head", mkn(2, 8, 10), 0, 160, 320, 0),
               "head.argmax": ("argmax", rc(2, 10), *NONE)},
        params=1360, inventory="SM:8xR4x4 LN:4xR8x8 G:2xR8x16",
        head_inventory="LN:1xR2x8 ARGMAX:1xR2x10"), id="batch"),
    pytest.param(dict(
        # 2 experts, top 1: router (4 x 8)(8 x 2) + bias = 18 params, 64 MACs; top-1 of 2 logits per token; a
        # softmax over the 1 kept logit; both experts run on every token (routing is secret): per layer
        # 18 + 2 x 280 = 578 FFN params instead of 280: 1360 + 2 x 298 = 1956
        sections={"ffn": {"experts": 2, "top_k": 1}},
        nodes={"L0.ffn.router": ("linear", mkn(4, 8, 2), 18, 64, 128, 128),
               "L0.ffn.topk": ("topk", rc(4, 2), *NONE),
               "L0.ffn.gates": ("softmax", brc(1, 4, 1), *NONE),
               "L0.ffn.e1.up": ("linear", mkn(4, 8, 16), 144, 512, 1024, 1024),
               "L0.ffn.e1.act": ("gelu", rc(4, 16), *NONE),
               "L0.ffn.e1.down": ("linear", mkn(4, 16, 8), 136, 512, 1024, 1024),
               "L0.ffn.e1.weight": ("mul", rc(4, 8), *NONE),
               "L0.ffn.combine": ("add", rc(4, 8), *NONE)},
        absent=("L0.ffn.up",),
        attrs={"L0.ffn.topk": {"top": 1}, "L0.ffn.gates": {"causal": False}},
        preds={"L0.ffn.e1.weight": {"L0.ffn.e1.down", "L0.ffn.gates"},
               "L0.ffn.combine": {"L0.ffn.e0.weight", "L0.ffn.e1.weight"},
               "L0.ffn.residual": {"L0.attn.residual", "L0.ffn.combine"}},
        params=1956, inventory="SM:4xR4x4 Router-SM:2xR4x1 LN:4xR4x8 G:4xR4x16 TopK:2xR4x2"), id="moe"),
    pytest.param(dict(
        # BOLT's word elimination after layer 1 keeping half: a prune op ranks the 4 tokens by the attention
        # they got in layer 0, layer 1 runs on ceil(0.5 x 4) = 2 tokens (scores (2 x 4)(4 x 2) per head)
        sections={"pruning": {"schedule": [{"after": 1, "keep": 0.5}]}},
        nodes={"L0.prune": ("prune", {"batch": 1, "rows": 4, "cols": 8, "kept": 2}, *NONE),
               "L1.attn.q": ("linear", mkn(2, 8, 8), 72, 128, 256, 256),
               "L1.attn.scores": ("matmul", bmkn(2, 2, 4, 2), 0, 32, 64, 64),
               "L1.attn.softmax": ("softmax", brc(2, 2, 2), *NONE),
               "L1.ffn.up": ("linear", mkn(2, 8, 16), 144, 256, 512, 512)},
        attrs={"L0.prune": {"method": "sort"}},
        preds={"L0.prune": {"L0.ffn.residual", "L0.attn.softmax"}, "L1.attn.norm": {"L0.prune"},
               "L1.attn.residual": {"L0.prune", "L1.attn.o"}},
        params=1360,
        inventory="SM:2xR4x4 SM:2xR2x2 LN:2xR4x8 LN:2xR2x8 G:1xR4x16 G:1xR2x16 Prune:1xR4x8"), id="prune"),
]
CASES += AXES


def test_window_keeps_the_scores_inside_it():
    from pidse.ops import shape_values
    # window 2 over a 4-token prompt: query i sees min(i + 1, 2) keys: 1 + 2 + 2 + 2 = 7 per head
    assert shape_values("softmax", brc(2, 4, 2), {"causal": True, "window": 2, "positions": 4})["kept"] == 14
    # decode step: 1 query among 7 positions, window 3: sees 3
    assert shape_values("softmax", brc(1, 1, 3), {"causal": True, "window": 3, "positions": 7})["kept"] == 3
    # a window wider than the positions changes nothing: 4 x 4 - 4 x 3 / 2 = 10
    assert shape_values("softmax", brc(1, 4, 4), {"causal": True, "window": 9, "positions": 4})["kept"] == 10


def test_pruned_decode_reads_the_pruned_cache(tiny):
    dense, _ = tiny(pruning={"schedule": [{"after": 1, "keep": 0.5}]}, inference={"context": 4, "generate": 2})
    d = rows(dense)
    # decode step 1: layer 0 attends over 4 + 1 keys, layer 1 over its 2 kept + 1; no pruning in decode steps
    assert d["step1.L0.attn.scores"]["shape"] == bmkn(2, 1, 4, 5)
    assert d["step1.L1.attn.scores"]["shape"] == bmkn(2, 1, 4, 3)
    assert "step1.L0.prune" not in d


def test_every_op_kind_is_covered(tiny):
    kinds = {row["kind"] for row in tiny()[0].ops}
    for case in CASES:
        kinds |= {row["kind"] for row in tiny(**case.values[0]["sections"])[0].ops}
    assert kinds == set(OP_KINDS)


def test_generate_decode_steps(tiny):
    dense, aero = tiny(inference={"context": 4, "generate": 3})
    # prefill of T=4, then ONE decode template per op standing for steps s=1, 2 (m=1, kv_len = T + s keys) ...
    assert [row["op"] for row in dense.ops] == list(BASE) + [f"decode.{n}" for n in BASE]
    template = rows_as_built(dense)["decode.L0.attn.scores"]
    assert (template["step"], template["steps"], template["shape"]["n"].tolist()) == (1, 2, [5, 6])
    assert template["macs"] == 40 + 48  # 2*1*4*5 and 2*1*4*6 MACs, summed over its steps
    # ... which stands for one copy of every op per step
    assert [row["op"] for row in dense.per_step()[0]] == (list(BASE) + [f"step1.{n}" for n in BASE]
                                                          + [f"step2.{n}" for n in BASE])
    check_nodes(dense, aero, {
        # params are counted once, on the prefill nodes
        "step1.embed.tokens": ("embedding", {"tokens": 1, "vocab": 10, "dim": 8}, *NONE),
        "step1.embed.positions": ("add", rc(1, 8), *NONE),
        "step1.L0.attn.q": ("linear", mkn(1, 8, 8), 0, 64, 128, 128),  # 1*8*8 MACs
        "step1.L0.attn.scores": ("matmul", bmkn(2, 1, 4, 5), 0, 40, 80, 80),  # 2*1*4*5 MACs
        "step1.L0.attn.scale": ("scale", rc(2, 5), *NONE),
        "step1.L0.attn.softmax": ("softmax", brc(2, 1, 5), *NONE),
        "step2.L1.attn.context": ("matmul", bmkn(2, 1, 6, 4), 0, 48, 96, 48),  # 2*1*6*4 MACs
        "step2.L1.ffn.up": ("linear", mkn(1, 8, 16), 0, 128, 256, 256),
        "step2.head.lm": ("lm_head", mkn(1, 8, 10), 0, 80, 160, 0),
    })
    d = rows(dense)
    assert (d["step2.L1.attn.context"]["stage"], d["step2.L1.attn.context"]["step"]) == ("decode", 2)
    assert (d["L1.attn.context"]["stage"], d["L1.attn.context"]["step"]) == ("prefill", 0)
    # decode MACs: step 1: 2 layers x (4*64 + 2*128 + 40 + 40 = 592) + 80 = 1264;
    #              step 2: 2 x (256 + 256 + 48 + 48 = 608) + 80 = 1296; prefill 4688 -> 7248
    assert dense.totals == {"params": 1360, "macs": 7248, "flops": 2 * 7248}
    assert dense.nonlinear_ops == ("SM:4xR4x4 SM:4xR1x5 SM:4xR1x6 LN:4xR4x8 LN:8xR1x8 G:2xR4x16 G:4xR1x16")
    assert dense.head_nonlinear_ops == "LN:3xR1x8 ARGMAX:3xR1x10"
    g = dense.graph
    assert nx.is_directed_acyclic_graph(g)
    # each step starts from the token the previous one emitted, and reads the prefill's K/V cache
    assert set(g.predecessors("step1.embed.tokens")) == {"head.argmax"}
    assert set(g.predecessors("step2.embed.tokens")) == {"step1.head.argmax"}
    assert "L0.attn.k" in set(g.predecessors("step1.L0.attn.scores"))
    assert "L0.attn.v" in set(g.predecessors("step1.L0.attn.context"))


# ---- properties over the shipped specs -----------------------------------------------------------------

@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_counts_grow_with_context(path):
    for convention in ("dense", "aero"):
        ests = [estimate(load_spec(path, context=t), convention) for t in (16, 32, 64)]
        flops = [e.totals["flops"] for e in ests]
        macs = [e.totals["macs"] for e in ests]
        assert flops[0] < flops[1] < flops[2], (convention, flops)
        assert macs[0] < macs[1] < macs[2], macs
        assert len({e.totals["params"] for e in ests}) == 1  # weights do not depend on T


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
@pytest.mark.parametrize("convention", ["dense", "aero"])
def test_breakdowns_sum_to_totals(path, convention):
    est = estimate(load_spec(path, context=32), convention)
    totals = est.totals
    assert sum(est.flops_by_block.values()) == totals["flops"]
    for by in GROUPINGS:
        groups = est.breakdown(by)
        assert sum(g.get("ops", 1) for g in groups) == len(est.ops)
        for col in ("params", "macs", "flops"):
            assert sum(g[col] for g in groups) == totals[col], (by, col)
        if by != "op":
            assert len({g[by] for g in groups}) == len(groups)  # one row per group
    if convention == "dense":
        assert totals["flops"] == 2 * totals["macs"]
