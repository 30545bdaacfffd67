"""cost_tables/puma.yaml: PUMA (3PC replicated sharing on SecretFlow SPU ABY3) with PUMA's constructions.

(a) each formula by hand at a tiny shape (SPU ABY3 primitives x 3 parties: multiply 24 B / 1 round, truncation
    96 B / 3 rounds, comparison 192 B / 8 rounds; reciprocal 912 B / 32, 1/sqrt 1272 B / 44; exp t = 5);
(b) no per-op measurement of PUMA on SPU exists: nothing is fitted. Rows 162-168 (PUMA's approximations run on
    CrypTen by SecFormer, another backend) are a CROSS-CHECK of PUMA's operation counts: this table's formulas
    with CrypTen's primitive costs substituted;
(c) the whole-model rows 102 (RoBERTa-base, ONE party's bytes) and 177 (SPU ABY3 baseline, by Ditto) as
    validation only, and the CLI.
"""
from __future__ import annotations

import csv
import dataclasses
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pidse.cli import app
from pidse.cost.registry import load_table, price_op
from pidse.cost.setting import Network, Setting
from pidse.model.estimate import estimate
from pidse.resources import DATA_DIR
from pidse.spec.load import load_spec

NAME = "puma"
ROOT = Path(__file__).resolve().parents[1]
BERT = ROOT / "arch_specs" / "bert_base.yaml"
LARGE = ["model.layers=24", "model.d_model=1024", "model.heads=16", "model.d_ff=4096"]
GB = 1e9


@pytest.fixture(scope="module")
def table():
    return load_table(NAME)


def one(table, kind, attrs=None, **shape):
    return price_op(table, kind, shape, Setting(Network("test", 8.0, 0.0)), attrs)


def test_table_metadata(table):
    raw = yaml.safe_load((ROOT / "cost_tables" / f"{NAME}.yaml").read_text())
    assert raw["offline"] == "none" and raw["units"] == {"comm": "GB", "scope": "per_party"}
    assert raw["hardware"] == {**raw["hardware"], "kind": "cpu", "threads": 32, "ghz": 2.7}
    assert table.constants["exp_n"] == 5  # PUMA §4.4: t = 5
    with (DATA_DIR / "published_ops.csv").open(newline="") as fh:
        ids = [r["id"] for r in csv.DictReader(fh) if any(re.search(p, r["system"]) for p in raw["matches"])]
    assert ids == ["102", "177"]  # not the PUMA-on-CrypTen rows 162-168 (another backend)


# ---- (a) by hand ------------------------------------------------------------------------------------------------

HAND = [
    # linear m=2 k=3 n=4: 8 outputs x (24 + 96) = 960 B; 1 + 3 = 4 rounds.
    ("linear", {"m": 2, "k": 3, "n": 4}, 960, 4),
    # embedding 2 tokens, vocab 10, dim 8: 20 equality tests x 192 + 16 outputs x 24 = 3840 + 384 = 4224 B; 8 + 1.
    ("embedding", {"tokens": 2, "vocab": 10, "dim": 8}, 4224, 9),
    # gelu 2 x 3: 3 x 192 + 4 x 120 + 2 x 96 + 3 x 24 = 1320 B per element -> 7920 B; max(8, 12) + 3 + 1 = 16.
    ("gelu", {"rows": 2, "cols": 3}, 7920, 16),
    # softmax one row of 4: max tree 3 x (192 + 24) = 648; per element 96 + 5 x 120 + 192 + 24 + 24 + 96 = 1032,
    # x 4 = 4128; reciprocal 912 -> 5688 B. Rounds 2 x 9 + 3 + 5 x 4 + 1 + 32 + 1 + 3 = 78.
    ("softmax", {"batch": 1, "rows": 1, "cols": 4}, 5688, 78),
    # layernorm 2 rows x 4: 8 x 3 x 120 = 2880 + 2 x (2 x 96 + 1272) = 2928 -> 5808 B; 3 + 4 + 3 + 44 + 8 = 62.
    ("layernorm", {"rows": 2, "cols": 4}, 5808, 62),
    # argmax over 5: 4 x (192 + 48) = 960 B; 3 levels x 9 = 27 rounds.
    ("argmax", {"rows": 1, "cols": 5}, 960, 27),
    # scale 2 x 3: 6 truncations x 96 = 576 B, 3 rounds.
    ("scale", {"rows": 2, "cols": 3}, 576, 3),
]


@pytest.mark.parametrize("kind,shape,comm,rounds", HAND, ids=[h[0] for h in HAND])
def test_formulas_by_hand(table, kind, shape, comm, rounds):
    row = one(table, kind, **shape)
    assert row["comm_bytes"] == pytest.approx(comm) and row["rounds"] == rounds


def test_compute_is_spu_aby3s_repriced(table):
    """gelu 2 x 3: spu-aby3 measures 2.34314e-5 x 6 + 0.0349911 s on 2 threads x 2.6 GHz; x (2 x 2.6) / (32 x 2.7)
    = 0.0602 on PUMA's servers."""
    row = one(table, "gelu", rows=2, cols=3)
    assert row["compute_s"] == pytest.approx(0.0602 * (2.34314e-5 * 6 + 0.0349911))
    assert 2 * 2.6 / (32 * 2.7) == pytest.approx(0.0602, abs=1e-4)


# ---- (b) cross-check of PUMA's operation counts on CrypTen (rows 162-168, SecFormer Table 3; NOT a fit) ---------

def on_crypten(table):
    """This table's formulas with CrypTen's primitive costs (total over its 2 parties): product 32 B, comparison
    432 B, truncation local (0)."""
    return dataclasses.replace(table, constants={**table.constants, "mul_B": 32, "trunc_B": 0, "cmp_B": 432})


def bert_gb(table, sets, kind):
    spec = load_spec(BERT, list(sets), 512)
    rows = estimate(spec, table=table, setting=Setting(Network("x", 1e10, 0.0), None)).ops
    return sum(r["comm_bytes"] for r in rows if r["kind"] == kind) / GB


def test_crosscheck_gelu_rows_162_166(table):
    """PUMA's GeLU counts on CrypTen: 3 x 432 + 4 x 32 + 0 + 3 x 32 = 1520 B per element; BERT-base T = 512:
    18,874,368 x 1520 = 28.689 GB = row 162 (0.00%). Row 166 (BERT-large, 57.378 GB) matches at d_ff = 3072 (the
    setting SecFormer's BERT-large GeLU cells are at), not at BERT-large's 4096 (1.33x)."""
    crypten_costs = on_crypten(table)
    assert one(crypten_costs, "gelu", rows=1, cols=1)["comm_bytes"] == 1520
    assert bert_gb(crypten_costs, (), "gelu") == pytest.approx(28.689, rel=0.001)
    assert bert_gb(crypten_costs, LARGE[:3] + ["model.d_ff=3072"], "gelu") == pytest.approx(57.378, rel=0.001)


@pytest.mark.parametrize("row,sets,published", [(163, (), 67.837), (167, LARGE, 180.898)],
                         ids=["row163", "row167-large"])
def test_crosscheck_softmax_rows_163_167(table, row, sets, published):
    """SecFormer's PUMA softmax keeps CrypTen's max (one-hot argmax) and swaps CrypTen's exp (8 squarings, 128 B)
    for PUMA's clipped exp: t = 5 products + a comparison + a select, with CrypTen costs 5 x 32 + 432 + 32 = 624 B:
    CrypTen's 1332.1 B per score + 496 = 1828.1 B; x 37,748,736 scores = 69.01 GB (+1.7%); BERT-large +1.7%."""
    puma_exp = table.constants["exp_n"] * 32 + 432 + 32  # this table's exp construction on CrypTen primitives
    assert puma_exp == 624
    layers, heads = (24, 16) if sets else (12, 12)
    scores = layers * heads * 512 * 512
    predicted = bert_gb(load_table("crypten"), sets, "softmax") + scores * (puma_exp - 128) / GB
    assert predicted == pytest.approx(published, rel=0.03)
    assert 100 * (predicted / published - 1) == pytest.approx(1.7, abs=0.1)


@pytest.mark.parametrize("row,sets,published", [(164, (), 0.477), (168, LARGE, 1.254)], ids=["row164", "row168"])
def test_crosscheck_layernorm_rows_164_168(table, row, sets, published):
    """PUMA's LayerNorm (square, one 1/sqrt per row, two products) is CrypTen's construction: crypten.yaml gives
    0.4771 GB (+0.0%) and 1.2436 GB (-0.8%)."""
    assert bert_gb(load_table("crypten"), sets, "layernorm") == pytest.approx(published, rel=0.01)


# ---- (c) whole-model rows (validation only) and the CLI ------------------------------------------------------------

@pytest.mark.parametrize("row,sets,tokens,network,published_gb,parties,published_s,comm_ratio,latency_ratio", [
    (102, ["model.vocab_size=50265"], 128, Network("puma", 5e9, 1e-3), 3.821, 3, 55.046, 1.16, 1.05),
    (177, [], 32, Network("ditto", 5e9, 0.4e-3), 2.79, 1, 13.57, 0.91, 1.47),
], ids=["row102-RoBERTa-base-one-party", "row177-SPU-ABY3-baseline"])
def test_whole_model_validation_only(table, row, sets, tokens, network, published_gb, parties, published_s,
                                     comm_ratio, latency_ratio):
    """Never fitted. Row 102 prints ONE party's bytes (PUMA v1): compare total / 3. Row 177 is SPU ABY3 WITHOUT
    PUMA's approximations (Ditto's baseline), so PUMA's constructions are not what it ran. Ratios predicted /
    published pinned to 0.01 (they are the final report's)."""
    spec = load_spec(BERT, sets, tokens)
    rows = estimate(spec, table=table, setting=Setting(network, table.hardware)).ops
    comm = sum(r["comm_bytes"] for r in rows) / parties / GB
    latency = sum(r["latency_s"] for r in rows)
    assert comm / published_gb == pytest.approx(comm_ratio, abs=0.01)
    assert latency / published_s == pytest.approx(latency_ratio, abs=0.01)


def test_cli_estimate_bert_base():
    result = CliRunner().invoke(app, ["estimate", "bert_base", "-p", NAME])
    assert result.exit_code == 0, result.output


# ---- (d) issue 14's op kinds, by hand (puma and puma-aby3 share the constructions; puma-aby3 has no compute) ----

AXES = [
    # poly degree 2 (Quad), 2 x 3: the square (24 + 96) and one truncation of the coefficient sum (96): 216 B per
    # element -> 1296 B; ceil(log2 2) x 4 + 3 = 7 rounds.
    ("poly", {"degree": 2}, {"rows": 2, "cols": 3}, 1296, 7),
    # degree 4: x^2, x^3, x^4 (3 x 120) + 96 = 456 B per element -> 2736 B; 2 x 4 + 3 = 11 rounds.
    ("poly", {"degree": 4}, {"rows": 2, "cols": 3}, 2736, 11),
    # degree 27, one element: 26 x 120 + 96 = 3216 B; ceil(log2 27) = 5: 5 x 4 + 3 = 23 rounds.
    ("poly", {"degree": 27}, {"rows": 1, "cols": 1}, 3216, 23),
    # relu_softmax, 1 head x 2 queries x 4 keys: 8 x (192 + 24 + 24 + 96) = 2688 + 2 reciprocals x 912 = 4512 B;
    # 8 + 1 + 32 + 1 + 3 = 45 rounds.
    ("relu_softmax", {}, {"batch": 1, "rows": 2, "cols": 4}, 4512, 45),
    # topk, 4 tokens x 8 experts, top 2: per token 2 x (7 x (192 + 48) + 8 x (192 + 24)) = 6816 -> 27,264 B;
    # 2 x (3 + 1) x 9 = 72 rounds.
    ("topk", {"top": 2}, {"rows": 4, "cols": 8}, 27264, 72),
    # prune, sort (BOLT), 4 tokens of 8 values: L = 2, 4/2 x 2 x 3/2 = 6 swaps in 3 stages:
    # 6 x (192 + 9 x 24) = 2448 B; 3 x (8 + 1) = 27 rounds. Two sequences: 4896 B, the same rounds.
    ("prune", {"method": "sort"}, {"batch": 1, "rows": 4, "cols": 8, "kept": 2}, 2448, 27),
    ("prune", {"method": "sort"}, {"batch": 2, "rows": 4, "cols": 8, "kept": 2}, 4896, 27),
    # prune, threshold (CipherPrune): 4 x 192 + 6 swaps x (24 + 9 x 24) = 768 + 1440 = 2208 B; 8 + 3 x 2 = 14.
    ("prune", {"method": "threshold"}, {"batch": 1, "rows": 4, "cols": 8, "kept": 2}, 2208, 14),
    # one token: nothing to sort (L = 0); the threshold still compares it: 192 B, 8 rounds.
    ("prune", {"method": "sort"}, {"batch": 1, "rows": 1, "cols": 8, "kept": 1}, 0, 0),
    ("prune", {"method": "threshold"}, {"batch": 1, "rows": 1, "cols": 8, "kept": 1}, 192, 8),
]


@pytest.mark.parametrize("name", ["puma", "puma-aby3"])
@pytest.mark.parametrize("kind,attrs,shape,comm,rounds", AXES,
                         ids=[f"{a[0]}-{i}" for i, a in enumerate(AXES)])
def test_new_kinds_by_hand(name, kind, attrs, shape, comm, rounds):
    row = one(load_table(name), kind, attrs, **shape)
    assert row["comm_bytes"] == pytest.approx(comm) and row["rounds"] == rounds
    assert row["grade"] == ("derived" if kind in ("poly", "relu_softmax") else "estimate")
    assert row["compute_s"] > 0 if name == "puma" else row["compute_s"] == 0


def test_new_kinds_compute_is_composed_from_borrowed_entries(table):
    """puma's compute for the new kinds is built from its own borrowed spu-aby3 entries: Quad on 2 x 3 = one mul
    and one scale per element (+ scale's per-call term); 2ReLU = relu + power_softmax."""
    quad = one(table, "poly", {"degree": 2}, rows=2, cols=3)["compute_s"]
    assert quad == pytest.approx(0.0602 * ((4.97849e-07 + 1.37673e-06) * 6 + 0.0111364))
    shape = {"batch": 1, "rows": 2, "cols": 4}
    relu_softmax = one(table, "relu_softmax", **shape)["compute_s"]
    assert relu_softmax == pytest.approx(one(table, "relu", rows=2, cols=4)["compute_s"]
                                         + one(table, "power_softmax", {"power": 2}, **shape)["compute_s"])


def test_crosscheck_quad_on_crypten():
    """SecFormer Table 3 (protocols.md §8) runs MPCFormer's Quad GeLU on CrypTen: 0.604 GB for BERT-base at
    T = 512 (not a CSV row). This table's poly count at degree 2 with CrypTen's costs (product 32 B, truncation
    local): 32 B per element x 12 x 512 x 3072 = 18,874,368 elements = 0.60398 GB (-0.003%). A cross-check of
    the construction's count (one square), not of SPU's bytes."""
    assert bert_gb(on_crypten(load_table(NAME)), ["ffn.activation=quad"], "poly") == pytest.approx(0.604, rel=1e-3)


def test_bert_base_quad_2quad_by_kind():
    """BERT-base T = 128 with Quad and 2Quad: poly 12 x 128 x 3072 x 216 B = 1.0192 GB (GELU's 1320 B per element:
    6.2285 GB); 2Quad 12 x 12 x 128 x 128 x (2 x 120) + 12 x 12 x 128 x 912 = 0.5830 GB (softmax 2.9572 GB)."""
    spec = load_spec(BERT, ["ffn.activation=quad", "attention.kind=2quad"], 128)
    rows = estimate(spec, table=load_table(NAME), setting=Setting(Network("x", 1e10, 0.0), None)).ops
    by_kind = {k: sum(r["comm_bytes"] for r in rows if r["kind"] == k) for k in ("poly", "power_softmax")}
    assert by_kind["poly"] == 12 * 128 * 3072 * 216
    assert by_kind["power_softmax"] == 12 * 12 * 128 * 128 * 240 + 12 * 12 * 128 * 912


# ---- (e) a batch of sequences: the graph multiplies rows by inference.batch -------------------------------------

PRUNE_HALF = "pruning.schedule=[{after: 1, keep: 0.5}]"
BATCH_SPECS = [("bert_base", []),
               ("bert_base", ["ffn.activation=quad", "attention.kind=relu", PRUNE_HALF]),
               ("tinyllama_1.1b", ["model.layers=2", "ffn.experts=8", "ffn.top_k=2"])]


@pytest.mark.parametrize("spec,sets", BATCH_SPECS, ids=["bert", "bert-quad-relu-pruned", "tinyllama-moe"])
def test_batch_of_8_scales_bytes_exactly_8x_and_keeps_the_rounds(table, spec, sets):
    """Every PUMA formula is per output element, per row or per token (weights are shared once, not per query;
    the one-hot embedding and the LM head are per token): communication scales exactly 8x for every op kind, new
    ones included, and the batch runs side by side in the same rounds. Compute does not (spu-aby3's fits carry
    weight terms: linear k n, lm_head k n, the embedding's vocab x dim, and per-call constants)."""
    est = {b: estimate(load_spec(spec, sets + [f"inference.batch={b}"]), table=table,
                       setting=Setting(Network("x", 1e10, 1e-3), None)) for b in (1, 8)}
    kinds = {r["kind"] for r in est[1].ops}
    for kind in kinds:
        comm, rounds = ({b: sum(r[m] for r in est[b].ops if r["kind"] == kind) for b in (1, 8)}
                        for m in ("comm_bytes", "rounds"))
        assert comm[8] == pytest.approx(8 * comm[1], rel=1e-12, abs=0) and rounds[8] == rounds[1], kind
    lm_head = {b: sum(r["compute_s"] for r in est[b].ops if r["kind"] == "lm_head") for b in (1, 8)}
    assert lm_head[8] == pytest.approx(lm_head[1])  # k x n and a constant: no term in the batch


# ---- (f) the measured SPU tables: kinds their calibration has no program for are unknown, as it writes them ----

def test_spu_tables_mark_the_new_kinds_unknown_as_the_calibration_writes_them():
    from pidse.calibrate.engines.spu_calibrate import KINDS, NO_PROGRAM, unmeasured
    from pidse.ops import OP_KINDS

    assert {k: unmeasured(k) for k in ("poly", "relu_softmax", "topk", "prune")} == \
        {k: {"unknown": NO_PROGRAM} for k in ("poly", "relu_softmax", "topk", "prune")}
    assert all(unmeasured(k) == {"unknown": "not measured in this calibration run"} for k in KINDS)
    for protocol in ("aby3", "semi2k", "cheetah"):
        path = ROOT / "cost_tables" / f"spu-{protocol}.yaml"
        raw = yaml.safe_load(path.read_text())
        assert list(raw["ops"]) == list(OP_KINDS)  # the calibration's order
        table = load_table(str(path))
        for kind in set(OP_KINDS) - set(KINDS):
            assert raw["ops"][kind] == unmeasured(kind) and kind in table.unknown, (protocol, kind)
