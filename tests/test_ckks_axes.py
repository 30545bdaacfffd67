"""The architecture axes of issue 14 under the CKKS family (pidse/cost/ckks/ops.py): a polynomial activation
(`poly`, MPCFormer's Quad at degree 2) and 2ReLU attention (`relu_softmax`) priced by depth and products; 2Quad
as a Power-Softmax of power 2 after a public shift; a router's top-k and token pruning declared `unknown: why` by
every shipped CKKS table (an error, or uncosted with --allow-missing). Counts are derived by hand from ops.py's
rules (poly_depth: OpenFHE's Chebyshev table; poly_cmul: baby-step giant-step products), and a BERT-tiny-shaped
model is walked end to end with its levels and bootstraps derived by hand."""
from __future__ import annotations

import copy

import pytest

from conftest import TINY_CKKS, assert_one_line_error, invoke, write_yaml
from pidse.cost.ckks.ops import UNPRICED, expand, poly_cmul, poly_depth
from pidse.cost.registry import list_tables, load_table, price_op
from pidse.cost.setting import resolve_setting
from pidse.errors import InputError
from pidse.model.estimate import estimate
from pidse.spec.load import load_spec

CKKS_TABLES = list_tables("ckks")
NEW_KINDS = ("poly", "relu_softmax", "topk", "prune")

# 16 slots, every primitive 1 s, levels enough that no step is split: counts and depths read directly.
WIDE = {**TINY_CKKS, "name": "wide-ckks",
        "params": {**TINY_CKKS["params"], "log_q": 900, "levels_fresh": 20, "levels_after_bootstrap": 20},
        "packing": {"scores": "rows_in_slots", "bootstraps": "cheapest"},
        "ops": {"relu": {"degree": 5}, "power_softmax": {"goldschmidt_iterations": 2}}}


@pytest.fixture
def wide(tmp_path):
    def make(ops=None):
        data = copy.deepcopy(WIDE)
        if ops is not None:
            data["ops"] = ops
        return load_table(str(write_yaml(tmp_path / "wide-ckks.yaml", data)))
    return make


def longest(steps) -> int:
    """Levels on the longest path through an op's steps."""
    depth = {}
    for s in steps:
        depth[s.name] = max([depth[i] for i in s.inputs if i in depth] + [0]) + s.depth
    return max(depth.values())


# ---- poly: one polynomial on every slot ---------------------------------------------------------------------

# degree d: depth by OpenFHE's table (d <= 2: d levels; 3-5: 4; 14-27: 6). Products: b = ceil(sqrt(d + 1)) baby
# powers, g = ceil((d + 1) / b) blocks, min(d - 1, b - 1 + ceil(log2 g) + g - 1):
#   d = 2:  b = 2, g = 2: min(1, 1 + 1 + 1 = 3) = 1        (Quad: one square)
#   d = 4:  b = 3, g = 2: min(3, 2 + 1 + 1 = 4) = 3        (the power basis x^2, x^3, x^4)
#   d = 27: b = 6, g = 5: min(26, 5 + 3 + 4 = 12) = 12
# per ciphertext: cmul = products, pmul = add = d (one scalar multiply and add per coefficient), rescale = products + 1
POLY = [(2, 2, 1), (4, 4, 3), (27, 6, 12)]


@pytest.mark.parametrize("degree, depth, products", POLY, ids=[f"degree{d}" for d, _, _ in POLY])
def test_poly_depth_and_counts_by_hand(wide, degree, depth, products):
    assert poly_depth(degree) == depth and poly_cmul(degree) == products
    # 4 x 8 = 32 values: 2 ciphertexts of 16 slots
    steps = expand("poly", {"rows": 4, "cols": 8}, {"degree": degree}, [2], wide())
    assert [(s.name, s.depth, s.cts) for s in steps] == [("poly", depth, 2)]
    assert steps[0].counts == {"cmul": 2 * products, "pmul": 2 * degree, "add": 2 * degree,
                               "rescale": 2 * (products + 1)}


def test_poly_priced_alone_has_its_levels_and_calls(wide):
    """Quad on 4 x 8 (2 ciphertexts), every primitive 1 s: 2 x (1 + 2 + 2 + 2) = 14 calls, 2 levels, 7 s each."""
    table = wide()
    row = price_op(table, "poly", {"rows": 4, "cols": 8}, resolve_setting(table), {"degree": 2})
    assert row["levels"] == 2 and row["bootstraps"] == 0
    assert (row["n_cmul"], row["n_pmul"], row["n_add"], row["n_rescale"]) == (2, 4, 4, 4)
    assert row["compute_s"] == pytest.approx(14)


def test_quad_is_shallower_than_the_gelu_it_replaces():
    for name in CKKS_TABLES:
        table = load_table(name)
        gelu = expand("gelu", {"rows": 4, "cols": 8}, {}, [1], table)
        quad = expand("poly", {"rows": 4, "cols": 8}, {"degree": 2}, [1], table)
        assert longest(quad) == 2 < longest(gelu), name


# ---- relu_softmax: the table's ReLU polynomial, then softmax's normalisation -----------------------------------

def test_relu_softmax_steps_by_hand(wide):
    """2 heads x 4 queries x 8 keys = 64 scores: 4 ciphertexts (rows_in_slots). relu: degree 5 (4 levels,
    products min(4, 2 + 1 + 1) = 4 with b = 3, g = 2); row sum: log2(8) = 3 rotate-and-adds per ciphertext;
    Goldschmidt with power_softmax's 2 iterations (no relu_softmax settings: it normalises as Power-Softmax):
    2 + 1 = 3 levels, 2 x 2 - 1 = 3 products; normalise 1 level. Longest path 4 + 0 + 3 + 1 = 8."""
    steps = expand("relu_softmax", {"batch": 2, "rows": 4, "cols": 8}, {}, [4], wide())
    assert [(s.name, s.depth, s.cts) for s in steps] == [("relu", 4, 4), ("sum", 0, 4), ("inverse", 3, 4),
                                                         ("normalise", 1, 4)]
    assert steps[0].counts == {"cmul": 16, "pmul": 20, "add": 20, "rescale": 20}
    assert steps[1].counts == {"rot": 12, "add": 12}
    assert steps[2].counts == {"pmul": 4, "cmul": 12, "add": 16, "rescale": 16}
    assert longest(steps) == 8


def test_relu_softmax_settings_of_its_own(wide):
    """relu_softmax's own settings win over power_softmax's: 4 iterations -> 5 levels; the sum domain adds
    log2(8) = 3 more -> 8; relu degree 27 -> 6 levels. Longest path 6 + 8 + 1 = 15."""
    table = wide({"relu": {"degree": 27}, "power_softmax": {"goldschmidt_iterations": 2},
                  "relu_softmax": {"goldschmidt_iterations": 4, "inverse_domain": "sum"}})
    steps = expand("relu_softmax", {"batch": 2, "rows": 4, "cols": 8}, {}, [4], table)
    assert [s.depth for s in steps] == [6, 0, 8, 1] and longest(steps) == 15


def test_relu_softmax_levels_in_every_table():
    """relu polynomial + 0 (sum) + Goldschmidt (iterations + 1) + 1, with each table's settings:
    nexus and powerformer: relu degree 75 (8 levels), 3 iterations: 8 + 4 + 1 = 13;
    ckks-powersoftmax-gpu and ckks-tenseal-cpu: relu degree 59 (7 levels), 5 iterations: 7 + 6 + 1 = 14."""
    expected = {"nexus": 13, "powerformer": 13, "ckks-powersoftmax-gpu": 14, "ckks-tenseal-cpu": 14}
    assert set(expected) == set(CKKS_TABLES)
    for name, levels in expected.items():
        table = load_table(name)
        row = price_op(table, "relu_softmax", {"batch": 2, "rows": 128, "cols": 128}, resolve_setting(table))
        assert row["levels"] == levels and row["compute_s"] > 0, name


# ---- 2Quad: Power-Softmax of power 2 after a public shift -----------------------------------------------------

def test_2quad_is_power_2_with_a_shift(wide):
    """(x + 5)^2 / sum (x + 5)^2: the shift is one scalar add per score ciphertext (no level), the square one
    product and one level; then the same normalisation as any Power-Softmax (2 iterations: 3 levels, +1)."""
    table = wide()
    shape = {"batch": 2, "rows": 4, "cols": 8}
    quad = expand("power_softmax", shape, {"power": 2, "shift": 5}, [4], table)
    plain = expand("power_softmax", shape, {"power": 2}, [4], table)
    assert quad[0].counts == {"cmul": 4, "rescale": 4, "add": 4} and plain[0].counts == {"cmul": 4, "rescale": 4}
    assert [s.depth for s in quad] == [s.depth for s in plain] == [1, 0, 3, 1]
    assert quad[1:] == plain[1:]


# ---- topk and prune: unknown in every CKKS table --------------------------------------------------------------

@pytest.mark.parametrize("name", CKKS_TABLES)
def test_every_ckks_table_prices_or_declares_each_new_kind(name):
    table = load_table(name)
    assert set(UNPRICED) == {"topk", "prune"}
    for kind in NEW_KINDS:
        if kind in UNPRICED:
            assert kind in table.unknown_ops and len(table.unknown_ops[kind]) > 40, (name, kind)
        else:
            assert kind not in table.unknown_ops, (name, kind)
    assert set(table.ops["relu_softmax"]) >= {"goldschmidt_iterations", "inverse_domain", "source"}


def test_generated_tables_carry_their_templates_new_entries():
    """ckks-powersoftmax-gpu and ckks-tenseal-cpu are written from cost_tables/templates: the new entries are
    the same in both places (a re-calibration keeps them)."""
    from pidse.resources import TABLES_DIR
    from pidse.spec.load import read_mapping

    for name in ("ckks-powersoftmax-gpu", "ckks-tenseal-cpu"):
        template = read_mapping(TABLES_DIR / "templates" / f"{name}.yaml")["ops"]
        shipped = read_mapping(TABLES_DIR / f"{name}.yaml")["ops"]
        for kind in ("relu_softmax", "topk", "prune"):
            assert template[kind] == shipped[kind], (name, kind)


MOE = ["model.layers=2", "ffn.experts=4", "ffn.top_k=2"]
PRUNED = ["model.layers=2", "pruning.schedule=[{after: 1, keep: 0.5}]"]


@pytest.mark.parametrize("spec, sets, kind", [("tinyllama_1.1b", MOE, "topk"), ("bert_base", PRUNED, "prune")])
def test_topk_and_prune_are_a_clean_error_or_uncosted(spec, sets, kind):
    table = load_table("nexus")
    with pytest.raises(InputError, match=rf"ops\.{kind}: .*no HE construction in our notes"):
        estimate(load_spec(spec, sets, 16), table=table)
    est = estimate(load_spec(spec, sets, 16), table=table, allow_missing=True)
    assert est.uncosted == [kind]
    ops = [r for r in est.ops if r["kind"] == kind]
    assert ops and all(r["compute_s"] is None and r["comm_bytes"] is None and r["source"] is None for r in ops)
    assert all(r["compute_s"] is not None for r in est.ops if r["kind"] != kind)
    assert all(r["levels"] == 0 and r["bootstraps"] == 0 for r in ops)  # the stand-in passes its input on


def test_cli_error_is_one_line():
    assert_one_line_error(invoke("estimate", "bert_base", "-p", "powerformer", "--set", "model.layers=2", "--set",
                                 "pruning.schedule=[{after: 1, keep: 0.5}]"), "ops.prune", "--allow-missing")


# ---- end to end: BERT-tiny's shapes with Quad + 2Quad against GELU + softmax ------------------------------------

TINY_BERT = ["model.layers=2", "model.d_model=128", "model.heads=2", "model.d_ff=512", "norm.kind=none"]


@pytest.fixture(scope="module")
def bert_tiny_walks():
    table = load_table("powerformer")
    return {variant: estimate(load_spec("bert_base", TINY_BERT + sets, 128), table=table)
            for variant, sets in (("gelu", []), ("quad", ["ffn.activation=quad", "attention.kind=2quad"]))}


def test_bert_tiny_quad_2quad_levels_and_bootstraps_by_hand(bert_tiny_walks):
    """BERT-tiny's shapes (2 layers, d 128, 2 heads, d_ff 512, T 128), no norms, under powerformer (2^15 slots,
    16 levels fresh and after a bootstrap). Every 128 x 128 activation is 1 ciphertext, the 2 x 128 x 128 scores 1,
    the FFN's 128 x 512 2. Levels per op: q, k, v, scores, context, o, up, down 1 each; scale and adds 0.
      softmax (nexus): exp degree 8 -> 5, sum 0, Goldschmidt 2 + log2(128) = 9 iterations (sum domain) -> 10,
        normalise 1: 16.  GELU: degree 840 -> 10 + ceil(log2(841 / 496)) = 11.
      2Quad: square 1, sum 0, Goldschmidt 1 iteration -> 2, normalise 1: 4.  Quad: degree 2 -> 2.
    Per-layer depth (input to output, bootstraps ignored): q 1, scores 2, softmax 2 + S, context, o, up 5 + S,
    activation 5 + S + A, down 6 + S + A: GELU 6 + 16 + 11 = 33, Quad 6 + 4 + 2 = 12.
    Walk, Quad + 2Quad: embed 16; L0 q 15, scores 14, softmax 10, context 9, o 8, residual 8, up 7, act 5,
      down 4, residual 4; L1 q 3, scores 2, softmax's square 1, and its inverse needs 2: bootstrap, up the
      single-input chain (sum, square, scale, scores: 1 ct each, the farthest back wins) the scores -> 16, so
      the softmax ends at 16 - 1 - 2 - 1 = 12; context min(12, v 3) - 1 = 2, o 1, residual 1, up 0: Quad needs
      2, bootstrap the residual (1 ct, cheaper than up's 2) -> 16, up 15, act 13, down 12, head 11. 2 bootstraps.
    Walk, GELU + softmax: L0 scores 14, exp 9, the inverse needs 10: bootstrap the scores -> 16, exp 11,
      inverse 1, normalise 0; context needs 1: bootstrap the normalise (two inputs: no ancestor) -> 16; context
      14, o 13, up 12, GELU 1, down 0, residual 0; L1's q needs 1: bootstrap the residual; then as L0 (2 more);
      the head's product needs 1: bootstrap the last residual. 2 + 3 + 1 = 6 bootstraps."""
    gelu, quad = bert_tiny_walks["gelu"], bert_tiny_walks["quad"]
    levels = {v: {r["kind"]: r["levels"] for r in est.ops if r["layer"] == 0} for v, est in bert_tiny_walks.items()}
    assert (levels["gelu"]["softmax"], levels["gelu"]["gelu"]) == (16, 11)
    assert (levels["quad"]["power_softmax"], levels["quad"]["poly"]) == (4, 2)
    assert [layer["depth"] for layer in gelu.details.layers] == [33, 33]
    assert [layer["depth"] for layer in quad.details.layers] == [12, 12]
    assert quad.details.layers[1]["positions"] == ["L1.attn.scores.matmul (1 ct)", "L1.attn.residual.add (1 ct)"]
    assert [b["after"] for b in gelu.details.boots] == [
        "L0.attn.scores.matmul", "L0.attn.softmax.normalise", "L0.ffn.residual.add", "L1.attn.scores.matmul",
        "L1.attn.softmax.normalise", "L1.ffn.residual.add"]
    assert (quad.totals["bootstraps"], gelu.totals["bootstraps"]) == (2, 6)
    level_out = {r["op"]: r["level_out"] for r in quad.ops}
    assert [level_out[op] for op in ("L0.attn.softmax", "L0.ffn.act", "L0.ffn.residual", "L1.attn.softmax",
                                     "L1.ffn.act", "head.lm")] == [10, 5, 4, 12, 13, 11]


def test_bert_tiny_quad_2quad_is_cheaper(bert_tiny_walks):
    """At powerformer's prices (one thread): 6 x 22.09 = 132.5 s of bootstrapping against 2 x 22.09 = 44.2 s; the
    nonlinear ops' own calls (bootstrapping apart) 138.4 s for GELU + softmax (GELU's 61 products of degree 840 on
    2 ciphertexts a layer dominate) against 4.3 s for Quad + 2Quad; the whole model 464.5 s against 242.0 s."""
    gelu, quad = bert_tiny_walks["gelu"], bert_tiny_walks["quad"]

    def calls(est, kinds):
        return sum(r["compute_s"] - r["bootstrap_s"] for r in est.ops if r["kind"] in kinds)

    assert calls(gelu, ("gelu", "softmax")) == pytest.approx(138.43, abs=0.01)
    assert calls(quad, ("poly", "power_softmax")) == pytest.approx(4.33, abs=0.01)
    assert sum(r["bootstrap_s"] for r in quad.ops) == pytest.approx(2 * 22.09)
    assert sum(r["bootstrap_s"] for r in gelu.ops) == pytest.approx(6 * 22.09)
    assert quad.totals["compute_s"] == pytest.approx(242.03, abs=0.01)
    assert gelu.totals["compute_s"] == pytest.approx(464.50, abs=0.01)
