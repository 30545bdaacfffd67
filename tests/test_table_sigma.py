"""cost_tables/sigma.yaml: SIGMA (PoPETs 2024), 2PC function secret sharing with a trusted dealer, on GPUs.

(a) each formula by hand at a tiny shape (online and, for a few kinds, the dealer's keys);
(b) SIGMA Table 3 (S-GPU column; published_ops.csv rows 19-33): GeLU, softmax and LayerNorm communication of five
    models at T = 128, priced at the paper's shapes and ring widths. Rows 22-24 (BERT-base) were used to solve the
    tables' reveal counts: IN-SAMPLE. BERT-tiny's rows are printed to one significant figure;
(c) the CLI, and the whole-model rows 1 and 34 as validation only (reported, loosely bounded).
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
from pidse.cost.mpc import price
from pidse.cost.registry import load_table, price_op
from pidse.cost.setting import Network, Setting
from pidse.model.estimate import estimate
from pidse.resources import DATA_DIR
from pidse.spec.load import load_spec

NAME = "sigma"
ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "arch_specs"
GiB = 2 ** 30
LAN = Network("sigma-lan", 9.4e9, 5e-5)  # SIGMA §7: 9.4 Gbps, 0.05 ms


@pytest.fixture(scope="module")
def table():
    return load_table(NAME)


def with_bits(table, n_bits):
    """The table at another ring width (SIGMA picks n per model: 37 for BERT-tiny, 50 or 51 for the others)."""
    return dataclasses.replace(table, constants={**table.constants, "n_bits": n_bits})


def one(table, kind, phase="online", attrs=None, **shape):
    return price_op(table, kind, shape, Setting(Network("test", 8.0, 0.0), None, phase), attrs)


def test_table_metadata(table):
    raw = yaml.safe_load((ROOT / "cost_tables" / f"{NAME}.yaml").read_text())
    assert raw["offline"] == "per_op" and raw["default_phase"] == "online"
    assert raw["units"] == {"comm": "GiB", "scope": "total"}
    assert raw["hardware"]["kind"] == "gpu" and raw["hardware"]["tflops"] == 38.7
    assert table.network.bandwidth_bps == 9.4e9 and table.network.rtt_s == 5e-5
    assert table.constants["n_bits"] == 50 and table.constants["f_bits"] == 12
    assert "power_softmax" in table.unknown
    with (DATA_DIR / "published_ops.csv").open(newline="") as fh:
        ids = [r["id"] for r in csv.DictReader(fh) if any(re.search(p, r["system"]) for p in raw["matches"])]
    assert ids == [str(i) for i in range(19, 34)] + ["1", "34"]


# ---- (a) by hand, n = 50, f = 12, lam = 127, nu = 7: K(w) = (w - 7) x 129 + 254 -------------------------------

def test_gelu_by_hand(table):
    """2 x 3 GeLUs: 6n - 4f + 34 = 300 - 48 + 34 = 286 bits each -> 6 x 286 / 8 = 214.5 B; 4 + 1 = 5 rounds.
    Key per party: K(n - 2f + 6 = 32) = 25 x 129 + 254 = 3479; TR 254 + 2 x 32 = 318; 3 DReLU bits; clip select
    24; LUT K(8) + 8 + 100 = 383 + 108 = 491; ReLU select 150 -> 4465 bits. Dealer sends both parties' keys:
    6 x 2 x 4465 / 8 = 6697.5 B. Online compute = 8.96e-11 s/B x 6 x 4465 / 8."""
    row = one(table, "gelu", rows=2, cols=3)
    assert row["comm_bytes"] == pytest.approx(214.5) and row["rounds"] == 5
    assert row["compute_s"] == pytest.approx(8.96e-11 * 6 * 4465 / 8)
    off = one(table, "gelu", "offline", rows=2, cols=3)
    assert off["comm_bytes"] == pytest.approx(6697.5) and off["rounds"] == 0 and off["compute_s"] == 0
    total = one(table, "gelu", "total", rows=2, cols=3)
    assert total["comm_bytes"] == pytest.approx(214.5 + 6697.5)


def test_softmax_by_hand(table):
    """One head, 2 rows of 4 scores (8 kept): max 8 - 2 = 6 comparisons x (2 + 2 x 38) = 468 bits; nExp and
    normalisation 11.13 x 8 x 2 x 39 = 6945.12 bits; inverse 2 rows x 100 = 200 -> 7613.12 bits = 951.64 B.
    Rounds 2 x ceil(log2 4) + 9 = 13. Causal (kept = 2 x 4 - 2 x 1 / 2 = 7 for the last 2 of 4 positions):
    5 x 78 + 11.13 x 7 x 78 + 200 = 390 + 6076.98 + 200 = 6666.98 bits = 833.3725 B."""
    row = one(table, "softmax", batch=1, rows=2, cols=4)
    assert row["comm_bytes"] == pytest.approx(951.64) and row["rounds"] == 13
    causal = one(table, "softmax", attrs={"causal": True}, batch=1, rows=2, cols=4)
    assert causal["comm_bytes"] == pytest.approx(833.3725)


def test_layernorm_by_hand(table):
    """2 rows of 4: 4 reveals x 100 bits x 8 elements = 3200; per row 76 + 4 + 400 = 480 x 2 = 960 -> 4160 bits =
    520 B; 10 rounds. rmsnorm: 3200 + 2 x 400 = 4000 bits = 500 B, 7 rounds."""
    row = one(table, "layernorm", rows=2, cols=4)
    assert row["comm_bytes"] == pytest.approx(520) and row["rounds"] == 10
    rms = one(table, "rmsnorm", rows=2, cols=4)
    assert rms["comm_bytes"] == pytest.approx(500) and rms["rounds"] == 7


def test_linear_and_matmul_by_hand(table):
    """linear m=2 k=3 n=4: 8 outputs x (2n Beaver + 2n GapARS = 200 bits) = 200 B, 2 rounds. Key per party:
    50 x (6 + 12 + 8) = 1300 + 8 x (K(12) = 5 x 129 + 254 = 899, + 100) = 7992 -> 9292 bits; dealer 2 x 9292 / 8 =
    2323 B. matmul batch 2 of the same: 400 B, 2 rounds."""
    row = one(table, "linear", m=2, k=3, n=4)
    assert row["comm_bytes"] == pytest.approx(200) and row["rounds"] == 2
    assert one(table, "linear", "offline", m=2, k=3, n=4)["comm_bytes"] == pytest.approx(2323)
    assert one(table, "matmul", batch=2, m=2, k=3, n=4)["comm_bytes"] == pytest.approx(400)


def test_small_kinds_by_hand(table):
    """relu 6 elements x (2 + 100) bits = 76.5 B, 2 rounds; mul 6 x 200 bits = 150 B; rope 6 x 100 bits = 75 B;
    embedding 2 tokens x 8 dims x 100 bits = 200 B, 1 round; argmax over 5: 4 x (2 + 200) bits = 101 B,
    2 x ceil(log2 5) = 6 rounds; add and scale are free."""
    assert one(table, "relu", rows=2, cols=3)["comm_bytes"] == pytest.approx(76.5)
    assert one(table, "mul", rows=2, cols=3)["comm_bytes"] == pytest.approx(150)
    assert one(table, "rope", rows=2, cols=3)["comm_bytes"] == pytest.approx(75)
    emb = one(table, "embedding", tokens=2, vocab=50, dim=8)
    assert emb["comm_bytes"] == pytest.approx(200) and emb["rounds"] == 1
    arg = one(table, "argmax", rows=1, cols=5)
    assert arg["comm_bytes"] == pytest.approx(101) and arg["rounds"] == 6
    for kind in ("add", "scale"):
        assert one(table, kind, rows=2, cols=3)["comm_bytes"] == 0


def test_ring_width_is_a_constant(table):
    """BERT-tiny's n = 37: GeLU 6 x 37 - 48 + 34 = 208 bits per element."""
    assert one(with_bits(table, 37), "gelu", rows=1, cols=8)["comm_bytes"] == pytest.approx(208)


# The architecture-axis kinds (no SIGMA figure exists for any: constructions on SIGMA's gates, graded estimate).
# K(n = 50) = 43 x 129 + 254 = 5801, K(f = 12) = 5 x 129 + 254 = 899, K(13) = 6 x 129 + 254 = 1028 bits.

def test_poly_by_hand(table):
    """Quad on 2 x 3: one Beaver product + GapARS (4n = 200 bits) and the GapARS after the public coefficients
    (2n = 100): 300 bits x 6 = 225 B; 2 x 1 + 1 = 3 rounds. Degree 5: 4 x 200 + 100 = 900 bits = 112.5 B per
    element, 2 x 3 + 1 = 7 rounds. Key per party per element (d = 2): 3n + K(f) + 2n = 1149, + K(f) + 2n = 999 ->
    2148 bits; dealer 6 x 2 x 2148 / 8 = 3222 B."""
    row = one(table, "poly", attrs={"degree": 2}, rows=2, cols=3)
    assert row["comm_bytes"] == pytest.approx(225) and row["rounds"] == 3
    assert row["compute_s"] == pytest.approx(8.96e-11 * 6 * 2148 / 8)
    assert one(table, "poly", "offline", attrs={"degree": 2}, rows=2, cols=3)["comm_bytes"] == pytest.approx(3222)
    row = one(table, "poly", attrs={"degree": 5}, rows=1, cols=1)
    assert row["comm_bytes"] == pytest.approx(112.5) and row["rounds"] == 7


def test_relu_softmax_by_hand(table):
    """2ReLU, one head, 2 rows of 4: per score ReLU 2 + 100, product 100, GapARS 100 = 302 bits x 8 = 2416; per row
    interval lookup 200 + LUT 100 = 300 x 2 = 600 -> 3016 bits = 377 B; 6 rounds. Causal (7 kept scores): 2114 +
    600 = 2714 bits = 339.25 B. Keys per party: per score 5801 + 899 + 1 + 400 = 7101 (x 8 = 56,808), per row
    2 x 5801 + 1028 + 13 + 300 = 12,943 (x 2 = 25,886) -> 82,694 bits; dealer 2 x 82,694 / 8 = 20,673.5 B."""
    row = one(table, "relu_softmax", batch=1, rows=2, cols=4)
    assert row["comm_bytes"] == pytest.approx(377) and row["rounds"] == 6
    assert one(table, "relu_softmax", attrs={"causal": True}, batch=1, rows=2, cols=4)["comm_bytes"] == \
        pytest.approx(339.25)
    assert one(table, "relu_softmax", "offline", batch=1, rows=2, cols=4)["comm_bytes"] == pytest.approx(20673.5)


def test_topk_by_hand(table):
    """Top 2 of 8 experts, one token: 2 trees of 7 comparisons x (2 + 200) = 2828 bits, one one-hot between the
    passes 8 x 100 = 800 -> 3628 bits = 453.5 B; 2 x 2 x 3 + 1 = 13 rounds. Key per party: 2 x 7 x (5801 + 1 + 300)
    = 85,428, one-hot: the index domain (3 bits) is below nu, a 254-bit seed, + 8 x 50 = 654 -> 86,082 bits;
    dealer 21,520.5 B."""
    row = one(table, "topk", attrs={"top": 2}, rows=1, cols=8)
    assert row["comm_bytes"] == pytest.approx(453.5) and row["rounds"] == 13
    assert one(table, "topk", "offline", attrs={"top": 2}, rows=1, cols=8)["comm_bytes"] == pytest.approx(21520.5)


@pytest.mark.parametrize("method,comm,rounds,key_B", [("sort", 226.5, 6, 9378), ("threshold", 154, 7, 6261)])
def test_prune_by_hand(table, method, comm, rounds, key_B):
    """4 tokens of 2 elements: S = 3 stages of 2 swaps = 6 swaps.
    sort: per swap DReLU bit 2 + select over 3 elements 300 = 302 bits x 6 = 1812 bits = 226.5 B; 2 x 3 = 6 rounds.
      Key per party per swap 5801 + 1 + 450 = 6252 x 6 = 37,512 bits; dealer 2 x 37,512 / 8 = 9378 B.
    threshold: 4 DReLU bits x 2 = 8, per swap AND 2 + select over the row 200 + key bit 2 = 204 x 6 = 1224 ->
      1232 bits = 154 B; 1 + 6 = 7 rounds. Key 4 x 5802 + 6 x (6 + 300) = 23,208 + 1836 = 25,044 bits; dealer
      6261 B."""
    row = one(table, "prune", attrs={"method": method}, batch=1, rows=4, cols=2, kept=2)
    assert row["comm_bytes"] == pytest.approx(comm) and row["rounds"] == rounds
    off = one(table, "prune", "offline", attrs={"method": method}, batch=1, rows=4, cols=2, kept=2)
    assert off["comm_bytes"] == pytest.approx(key_B)


@pytest.mark.parametrize("kind,shape,attrs,comm,rounds", [
    # poly d = 2 on 2 x 3: (2 x 1 + 1) reveals x 16 B x 6 = 288 B; 3 rounds. d = 4: 7 x 16 = 112 B, 5 rounds.
    ("poly", {"rows": 2, "cols": 3}, {"degree": 2}, 288, 3), ("poly", {"rows": 1, "cols": 1}, {"degree": 4}, 112, 5),
    # relu_softmax 2 x 4: 4 reveals x 16 x 8 scores = 512 + 3 x 16 x 2 rows = 96 -> 608 B; 6 rounds.
    ("relu_softmax", {"batch": 1, "rows": 2, "cols": 4}, None, 608, 6),
    # topk 2 of 8: 16 x (3 x 2 x 7 + 8) = 800 B; 2 x 2 x 3 + 1 = 13 rounds.
    ("topk", {"rows": 1, "cols": 8}, {"top": 2}, 800, 13),
    # prune 4 tokens of 2: 6 swaps x (2 + 2) reveals x 16 = 384 B, 6 rounds; threshold 16 x (4 + 24) = 448 B, 7.
    ("prune", {"batch": 1, "rows": 4, "cols": 2, "kept": 2}, {"method": "sort"}, 384, 6),
    ("prune", {"batch": 1, "rows": 4, "cols": 2, "kept": 2}, {"method": "threshold"}, 448, 7)])
def test_sigma_fss_new_kinds_by_hand(kind, shape, attrs, comm, rounds):
    """sigma-fss (the earlier literature table, 16 B per 64-bit reveal, no compute): the same constructions counted
    in reveals."""
    row = price_op(load_table("sigma-fss"), kind, shape, Setting(Network("test", 8.0, 0.0)), attrs)
    assert (row["comm_bytes"], row["rounds"], row["compute_s"]) == (comm, rounds, 0)


def test_cli_prices_the_new_axes():
    for spec, sets in (("bert_base", ["attention.kind=relu", "ffn.activation=quad"]),
                       ("bert_base", ["pruning.schedule=[{after: 1, keep: 0.5}]"]),
                       ("tinyllama_1.1b", ["ffn.experts=8", "ffn.top_k=2", "model.layers=2"])):
        for name in (NAME, "sigma-fss"):
            args = [a for s_ in sets for a in ("--set", s_)]
            result = CliRunner().invoke(app, ["estimate", spec, "-p", name, *args])
            assert result.exit_code == 0, (name, sets, result.output)


# ---- (b) SIGMA Table 3, S-GPU column (GiB, all layers, T = 128) ---------------------------------------------------

MODELS = {  # spec, --set overrides, SIGMA's ring width
    "BERT-tiny": ("bert_base", ["model.layers=2", "model.d_model=128", "model.heads=2", "model.d_ff=512"], 37),
    "BERT-base": ("bert_base", [], 50),
    "BERT-large": ("bert_base", ["model.layers=24", "model.d_model=1024", "model.heads=16", "model.d_ff=4096"], 50),
    "GPT-2": ("gpt2_sm_ln_g", [], 50),
    "GPT-Neo-1.3B": ("gpt2_sm_ln_g", ["model.layers=24", "model.d_model=2048", "model.heads=16",
                                      "model.d_ff=8192"], 51),
}
# id, model, kind, published GiB, IN-SAMPLE
ROWS = [
    (19, "BERT-tiny", "gelu", 0.003, False), (20, "BERT-tiny", "softmax", 0.005, False),
    (21, "BERT-tiny", "layernorm", 0.002, False),
    (22, "BERT-base", "gelu", 0.16, True), (23, "BERT-base", "softmax", 0.26, True),
    (24, "BERT-base", "layernorm", 0.11, True),
    (25, "BERT-large", "gelu", 0.42, False), (26, "BERT-large", "softmax", 0.69, False),
    (27, "BERT-large", "layernorm", 0.30, False),
    (28, "GPT-2", "gelu", 0.16, False), (29, "GPT-2", "softmax", 0.13, False), (30, "GPT-2", "layernorm", 0.11, False),
    (31, "GPT-Neo-1.3B", "gelu", 0.86, False), (32, "GPT-Neo-1.3B", "softmax", 0.36, False),
    (33, "GPT-Neo-1.3B", "layernorm", 0.60, False),
]


def model_ops(table, model, tokens=128, n_bits=None):
    spec_name, sets, bits = MODELS[model]
    spec = load_spec(SPECS / f"{spec_name}.yaml", sets, tokens)
    return estimate(spec, table=with_bits(table, n_bits or bits), setting=Setting(LAN, table.hardware)).ops


def kind_bytes(ops, kind):
    # SIGMA Table 1 counts 2 LayerNorms per layer (#rsqrt = 2 L T): the embedding (BERT) and final (GPT-2)
    # LayerNorms of pidse's graphs are left out of the LayerNorm rows.
    return sum(o["comm_bytes"] for o in ops if o["kind"] == kind and (kind != "layernorm" or o["layer"] is not None))


@pytest.mark.parametrize("row,model,kind,published,in_sample", ROWS, ids=[
    f"row{r[0]}-{r[1]}-{r[2]}{'-IN-SAMPLE' if r[4] else ''}" for r in ROWS])
def test_table3_communication(table, row, model, kind, published, in_sample):
    """Within 10% (BERT-base IN-SAMPLE); BERT-tiny's one-significant-figure values within half a unit of the last
    printed digit (0.002 means 0.0015-0.0025 GiB: the +14% LayerNorm residual is inside that)."""
    predicted = kind_bytes(model_ops(table, model), kind) / GiB
    if model == "BERT-tiny":
        assert abs(predicted - published) <= 0.0005, (predicted, published)
    else:
        assert predicted == pytest.approx(published, rel=0.10), (predicted, published)


RESIDUALS = {  # predicted / published - 1 (%), pinned to 0.1 point: the numbers the final report quotes
    19: 5.8, 20: -3.7, 21: 14.0, 22: -1.8, 23: 0.0, 24: 0.0, 25: -0.3, 26: 0.4, 27: -2.2,
    28: -1.8, 29: 0.8, 30: 0.0, 31: -0.5, 32: -0.5, 33: -0.3,
}


@pytest.mark.parametrize("row,model,kind,published,in_sample", ROWS, ids=[f"row{r[0]}" for r in ROWS])
def test_table3_residuals_as_reported(table, row, model, kind, published, in_sample):
    predicted = kind_bytes(model_ops(table, model), kind) / GiB
    assert 100 * (predicted / published - 1) == pytest.approx(RESIDUALS[row], abs=0.1)


def test_gpt_neo_at_50_bits_also_within_10_percent(table):
    """The paper says '50 or 51' bits for the non-tiny models; at 50 GPT-Neo's rows are -2.6%, -3.0%, -2.3%."""
    ops = model_ops(table, "GPT-Neo-1.3B", n_bits=50)
    for kind, published in (("gelu", 0.86), ("softmax", 0.36), ("layernorm", 0.60)):
        assert kind_bytes(ops, kind) / GiB == pytest.approx(published, rel=0.04)


def test_microbenchmark_1m_gelu(table):
    """§5.1: 1M GeLUs take ~70 ms: 16 ms compute + 34 ms key transfer (our compute_s, derived from them, at
    n = 50) and 20 ms of communication (at 9.4 Gbps our 286 bits per GeLU move in 30.4 ms: the microbenchmark's
    20 ms is 188 bits, the protocol without the ReLU select). Latency within 25% of 70 ms."""
    row = {"op": "t", "kind": "gelu", "shape": {"rows": 1, "cols": 10 ** 6}, "attrs": {}}
    price([row], [], table, Setting(LAN, table.hardware))
    assert row["compute_s"] == pytest.approx(0.050, rel=0.01)
    assert row["latency_s"] == pytest.approx(0.070, rel=0.25)


# ---- (c) CLI, phases, and the whole-model rows (validation only) ---------------------------------------------

def test_cli_estimate_bert_base():
    runner = CliRunner()
    for extra in ([], ["--phase", "offline"], ["--phase", "total"]):
        result = runner.invoke(app, ["estimate", "bert_base", "-p", NAME, *extra])
        assert result.exit_code == 0, result.output


def test_whole_model_bert_tiny_validation_only(table):
    """Rows 1 and 34 (never fitted): BERT-tiny T = 128, 0.02 GiB online, 0.09 s (row 1), 188 rounds (row 34).
    pidse's graph adds an LM head and an argmax over 30,522 words (2 + 30 rounds). Loose bounds; the ratios are
    in the final report."""
    ops = model_ops(table, "BERT-tiny")
    comm = sum(o["comm_bytes"] for o in ops) / GiB
    rounds = sum(o["rounds"] for o in ops)
    latency = sum(o["latency_s"] for o in ops)
    assert 0.5 < comm / 0.02 < 1.5
    assert 0.5 < rounds / 188 < 1.5
    assert 0.5 < latency / 0.09 < 2.0
