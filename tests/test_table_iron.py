"""cost_tables/iron.yaml (Iron, Hao et al., NeurIPS 2022): every formula by hand at a tiny shape, every per-op row
of published_ops.csv the table covers at the paper's shape and network, and the CLI.

Three sources measure Iron; which rows fit the table and which check it:
  - Iron's own Table 1 (rows 150, 152): linear layers. Bytes fitted to row 150 (IN-SAMPLE), row 152 out-of-sample;
    compute fitted to both (latency IN-SAMPLE for both).
  - BOLT's re-implementation of Iron (BOLT Table 3, rows 121-135): softmax, GELU, LayerNorm and Softmax x V
    IN-SAMPLE; Linear 1 out-of-sample; Linear 2-4 KNOWN MISSES (BOLT's HE parameters: 3.08x Iron's own bytes).
  - CipherGPT's run of Iron's GELU (row 149): compute fitted (latency IN-SAMPLE), bytes a KNOWN MISS (+40%).
Published rows are copied below (published_ops.csv is outside the clone in CI); a test checks the copies against
that file where it is present. MB = 1e6 B.
"""
from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costs_helpers import assert_priced_by_hand
from pidse.cli import app
from pidse.cost.registry import load_table, price_op
from pidse.cost.setting import Hardware, Network, Setting
from pidse.model.estimate import estimate
from pidse.spec.load import load_spec

NAME = "iron"
ROOT = Path(__file__).resolve().parents[1]
SHARED_CSV = ROOT.parent / "shared" / "reference" / "published_ops.csv"
IRON_LAN = ("iron-lan", 377e6 * 8, 0.8e-3)  # "377 MBps" = megabytes per second, "echo latency 0.8 ms"


def priced(kind: str, shape: dict, net=("test", 8.0, 0.0), hardware: Hardware | None = None,
           attrs: dict | None = None) -> dict:
    table = load_table(NAME)
    scale = 1.0 if hardware is None else table.hardware.throughput / hardware.throughput
    return price_op(table, kind, shape, Setting(Network(*net), hardware, "total", scale), attrs)


def total(ops: list[tuple[str, dict]], net=("test", 8.0, 0.0)) -> dict:
    rows = [priced(kind, shape, net) for kind, shape in ops]
    return {m: sum(r[m] for r in rows) for m in ("comm_bytes", "rounds", "compute_s", "latency_s")}


# ---- (a) formulas by hand at tiny shapes --------------------------------------------------------------------
# Constants (iron.yaml): N = 4096, 56,900 B per RLWE ciphertext, 2 sqrt(m k n / N) ciphertexts per product;
# compute 17.42 ns per MAC + 1.2975 ms per ciphertext. Secret x secret: 3,202,070 B per 8192-MAC block, 36 rounds,
# 8.913 us per MAC. GELU 20,243.33 B / 256 rounds / 120.99 us per element; softmax 18,291.83 B per score,
# 8 x ceil(log2 cols) + 196 rounds, 19.544 ns per byte; LayerNorm 4,432.47 B / 109 rounds / 19.340 ns per byte;
# primitives as in bolt.yaml (comparison 674.5 B / 6, multiplexer 41.25 B / 2, truncation 613.3 B / 8,
# multiplication 1359.75 B / 2) at 8.390 ns per OT byte.
HAND = [
    # linear (32, 8, 16): m k n = 4096 = N: 2 sqrt(1) = 2 ct x 56,900 = 113,800 B; 2 rounds;
    # compute 17.42e-9 x 4096 + 1.2975e-3 x 2 = 2.6664e-3 s.
    ("linear", {"m": 32, "k": 8, "n": 16}, 113800, 2, 1.742e-8 * 4096 + 1.2975e-3 * 2),
    # linear (4, 16, 1024): m k n = 65,536 = 16 N: 2 sqrt(16) = 8 ct = 455,200 B.
    ("linear", {"m": 4, "k": 16, "n": 1024}, 455200, 2, 1.742e-8 * 65536 + 1.2975e-3 * 8),
    ("lm_head", {"m": 1, "k": 64, "n": 64}, 113800, 2, 1.742e-8 * 4096 + 1.2975e-3 * 2),
    # embedding: one-hot (2 x 64) times W_E (64 x 32): 4096 MACs, 2 ct = 113,800 B.
    ("embedding", {"tokens": 2, "vocab": 64, "dim": 32}, 113800, 2, 1.742e-8 * 4096 + 1.2975e-3 * 2),
    # matmul batch 1, (4, 16, 128): 8192 MACs = one block: 3,202,070 B; 36 rounds; 8.913 us x 8192.
    ("matmul", {"batch": 1, "m": 4, "k": 16, "n": 128}, 3202070, 36, 8.913e-6 * 8192),
    # softmax 2 x 3 x 4 = 24 scores x 18,291.83 = 439,003.92 B; rounds 8 x 2 + 196 = 212.
    ("softmax", {"batch": 2, "rows": 3, "cols": 4}, 439003.92, 212, 1.9544e-8 * 439003.92),
    # gelu 6 x 20,243.33 = 121,459.98 B; 256 rounds; 6 x 120.99 us.
    ("gelu", {"rows": 2, "cols": 3}, 121459.98, 256, 1.2099e-4 * 6),
    # layernorm 8 x 4,432.47 = 35,459.76 B; 109 rounds.
    ("layernorm", {"rows": 2, "cols": 4}, 35459.76, 109, 1.9340e-8 * 35459.76),
    ("rmsnorm", {"rows": 2, "cols": 4}, 35459.76, 109, 1.9340e-8 * 35459.76),
    # relu 6 x 715.75 = 4294.5 B, 8 rounds; mul 6 x 1973.05 = 11,838.3 B, 10 rounds; rope 6 x 613.3, 8 rounds.
    ("relu", {"rows": 2, "cols": 3}, 4294.5, 8, 8.39e-9 * 4294.5),
    ("mul", {"rows": 2, "cols": 3}, 11838.3, 10, 8.39e-9 * 11838.3),
    ("rope", {"rows": 2, "cols": 3}, 3679.8, 8, 8.39e-9 * 3679.8),
    # argmax over 5: 4 x 757 = 3028 B; 3 levels x 8 = 24 rounds.
    ("argmax", {"rows": 1, "cols": 5}, 3028.0, 24, 8.39e-9 * 3028),
    ("add", {"rows": 2, "cols": 3}, 0, 0, 0),
    ("scale", {"rows": 2, "cols": 3}, 0, 0, 0),
]


@pytest.mark.parametrize("kind,shape,comm,rounds,compute", HAND)
def test_formula_by_hand(kind, shape, comm, rounds, compute):
    assert_priced_by_hand(priced(kind, shape), comm, rounds, compute)


# The architecture-axis kinds (poly, topk, prune), estimates from the same primitives at 8.39 ns per OT byte.
# A product with its truncation 1359.75 + 613.3 = 1973.05 B; Iron's optimised square (cross term only, §4.2.2)
# 1359.75 / 2 + 613.3 = 1293.175 B; 2 + 8 = 10 rounds either way.
HAND_AXES = [
    # poly degree 2: x^2 is a square: 6 x 1293.175 = 7759.05 B; 1 round of products.
    ("poly", {"rows": 2, "cols": 3}, {"degree": 2}, 7759.05, 10, 8.39e-9 * 7759.05),
    # degree 4: x^2, x^4 squares, x^3 a product: 6 x (2 x 1293.175 + 1973.05) = 27,356.4 B; 2 rounds of products.
    ("poly", {"rows": 2, "cols": 3}, {"degree": 4}, 27356.4, 20, 8.39e-9 * 27356.4),
    # degree 5: floor(5/2) = 2 squares (x^2, x^4), ceil(5/2) - 1 = 2 products (x^3, x^5):
    # 6 x (2 x 1293.175 + 2 x 1973.05) = 39,194.7 B; ceil(log2 5) = 3 -> 30 rounds.
    ("poly", {"rows": 2, "cols": 3}, {"degree": 5}, 39194.7, 30, 8.39e-9 * 39194.7),
    # topk 2 of 8, 2 rows: per row 2 passes x 7 x 757 = 10,598 + a masking 8 x 715.75 = 5,726 -> x 2 = 32,648 B;
    # rounds 2 x 3 x 8 + 8 = 56. topk 1 of 5 = the argmax: 3028 B, 24 rounds.
    ("topk", {"rows": 2, "cols": 8}, {"top": 2}, 32648.0, 56, 8.39e-9 * 32648),
    ("topk", {"rows": 1, "cols": 5}, {"top": 1}, 3028.0, 24, 8.39e-9 * 3028),
    # prune sort = 1, 4 tokens x 8: 6 compare-and-swaps x (674.5 + 18 x 41.25) = 8502 B; 3 stages x 8 = 24 rounds.
    ("prune", {"batch": 1, "rows": 4, "cols": 8, "kept": 2}, {"method": "sort"}, 8502.0, 24, 8.39e-9 * 8502),
    # sort = 0, 2 sequences: (4 x 674.5 + 6 x (18.5 + 742.5)) x 2 = 14,528 B; 6 + 3 x (2 + 2) = 18 rounds.
    ("prune", {"batch": 2, "rows": 4, "cols": 8, "kept": 2}, {"method": "threshold"}, 14528.0, 18,
     8.39e-9 * 14528),
    ("prune", {"batch": 1, "rows": 1, "cols": 8, "kept": 1}, {"method": "sort"}, 0, 0, 0),
]


@pytest.mark.parametrize("kind,shape,attrs,comm,rounds,compute", HAND_AXES,
                         ids=[f"{k}-{'-'.join(map(str, a.values()))}" for k, _, a, _, _, _ in HAND_AXES])
def test_axis_kinds_by_hand(kind, shape, attrs, comm, rounds, compute):
    assert_priced_by_hand(priced(kind, shape, attrs=attrs), comm, rounds, compute)


def test_kinds_iron_never_ran_are_unknown_with_a_reason():
    table = load_table(NAME)
    assert set(table.unknown) == {"power_softmax", "silu", "relu_softmax"}  # relu_softmax: no reciprocal cost
    assert all(why.strip() for why in table.unknown.values())


def test_table_names_system_hardware_and_phases():
    table = load_table(NAME)
    assert table.system.startswith("Iron")
    assert (table.hardware.kind, table.hardware.threads, table.hardware.ghz) == ("cpu", 1, 3.6)
    assert table.offline == "none"
    assert table.network.bandwidth_bps == pytest.approx(3.016e9) and table.network.rtt_s == 0.8e-3
    systems = ["Iron", "Iron (as implemented by BOLT)", "Iron (run by CipherGPT)", "Iron (reported by CipherPrune)"]
    others = ["Cheetah (run by Iron)", "BOLT w/o W.E.", "CipherGPT (2PC HE+OT, SIRNN/Cheetah-based, 37-bit ring)"]
    matches = lambda s: any(re.search(p, s) for p in table.matches)  # noqa: E731
    assert all(matches(s) for s in systems) and not any(matches(s) for s in others)


# ---- (b) published per-op rows ------------------------------------------------------------------------------
# id: (system, op, comm GB (1e9 B), rounds, latency_s)
PUBLISHED = {
    121: ("Iron (as implemented by BOLT)", "Linear 1 (QKV + Q.K^T) [per layer]", 4.84414, 38, None),
    123: ("Iron (as implemented by BOLT)", "Softmax x V [per layer]", 4.91838, 36, None),
    125: ("Iron (as implemented by BOLT)", "Linear 2 (attn out) [per layer]", 0.04765, 2, None),
    127: ("Iron (as implemented by BOLT)", "Linear 3 (FFN up) [per layer]", 0.0954, 2, None),
    129: ("Iron (as implemented by BOLT)", "Linear 4 (FFN down) [per layer]", 0.09521, 2, None),
    131: ("Iron (as implemented by BOLT)", "Softmax [per layer]", 3.59632, 252, None),
    133: ("Iron (as implemented by BOLT)", "GELU [per layer]", 7.96, 256, None),
    135: ("Iron (as implemented by BOLT)", "LayerNorm (both of the layer) [per layer]", 0.87146, 218, None),
    149: ("Iron (run by CipherGPT)", "GELU on 3072 elements (37-bit)", 0.0443, None, 0.694),
    150: ("Iron", "matmul Dims=(128, 768, 768)", 0.01545, None, 1.71),
    152: ("Iron", "matmul Dims=(128, 64, 128)", 0.00174, None, 0.066),
}
BERT_L = {"m": 128, "k": 768, "n": 768}


def published_bytes(row_id: int) -> float:
    return PUBLISHED[row_id][2] * 1e9


# BOLT Table 3, Iron column: one layer of BERT-base T=128 (comm and rounds).
TABLE3 = [
    (123, [("matmul", {"batch": 12, "m": 128, "k": 128, "n": 64})], True),
    (131, [("softmax", {"batch": 12, "rows": 128, "cols": 128})], True),
    (133, [("gelu", {"rows": 128, "cols": 3072})], True),
    (135, [("layernorm", {"rows": 128, "cols": 768})] * 2, True),
]


@pytest.mark.parametrize("row_id,ops,in_sample", TABLE3, ids=[f"row{r}-IN-SAMPLE" for r, _, _ in TABLE3])
def test_bolt_iron_per_layer_rows(row_id, ops, in_sample):
    got = total(ops)
    assert got["comm_bytes"] == pytest.approx(published_bytes(row_id), rel=1e-4)
    assert got["rounds"] == PUBLISHED[row_id][3]


def test_bolt_iron_linear1_out_of_sample():
    """Row 121 (Linear 1 = Q, K, V projections + Q.K^T): out-of-sample, +2.5% (4964.73 vs 4844.14 MB). Rounds:
    pidse sums the three projections in sequence, 3 x 2 + 36 = 42 against BOLT's 38."""
    got = total([("linear", BERT_L)] * 3 + [("matmul", {"batch": 12, "m": 128, "k": 64, "n": 128}),
                                             ("scale", {"rows": 12 * 128, "cols": 128})])
    assert got["comm_bytes"] == pytest.approx(published_bytes(121), rel=0.10)
    assert got["comm_bytes"] / published_bytes(121) - 1 == pytest.approx(0.0249, abs=0.001)
    assert got["rounds"] == 42


@pytest.mark.parametrize("row_id,shape", [(125, BERT_L), (127, {"m": 128, "k": 768, "n": 3072}),
                                          (129, {"m": 128, "k": 3072, "n": 768})],
                         ids=["row125-KNOWN-MISS", "row127-KNOWN-MISS", "row129-KNOWN-MISS"])
def test_bolt_iron_linear_rows_are_a_constant_3_08x(row_id, shape):
    """KNOWN MISSES (-68%), by design: the table's linear layers are Iron's own (Table 1, N = 4096); BOLT ran them
    with its n = 8192, log q ~ 180 parameters. The ratio is the same on all three shapes (3.081-3.087), so the
    sqrt(m k n) structure holds and only the ciphertext size differs. Rounds agree (2)."""
    row = priced("linear", shape)
    assert published_bytes(row_id) / row["comm_bytes"] == pytest.approx(3.084, abs=0.005)
    assert row["rounds"] == PUBLISHED[row_id][3]


# Iron's own Table 1 (377 MBps, 0.8 ms), and CipherGPT's run of Iron's GELU (same instance type, one thread).
OWN = [
    # (id, kind, shape, comm_in_sample, comm_tolerance)
    (150, "linear", BERT_L, True, 1e-4),
    (152, "linear", {"m": 128, "k": 64, "n": 128}, False, 0.10),  # +4.6%
]


@pytest.mark.parametrize("row_id,kind,shape,comm_in,tol", OWN, ids=[
    "row150-comm-IN-SAMPLE-latency-IN-SAMPLE", "row152-comm-out-of-sample-latency-IN-SAMPLE"])
def test_iron_table1_rows(row_id, kind, shape, comm_in, tol):
    row = priced(kind, shape, IRON_LAN)
    assert row["comm_bytes"] == pytest.approx(published_bytes(row_id), rel=tol)
    assert row["latency_s"] == pytest.approx(PUBLISHED[row_id][4], rel=0.25)  # compute fitted to both: +0.00%, +0.33%


def test_ciphergpt_iron_gelu_row149():
    """Row 149 (CipherGPT Table 4: Iron's GELU on 3072 37-bit elements, 44.3 MB, 694 ms, one thread).
    Latency IN-SAMPLE (GELU compute is fitted here): 0.741 s (+6.8%). Bytes are a KNOWN MISS, +40.4%: the table's
    GELU bytes are BOLT's re-implementation (20,243 B per element), CipherGPT's run costs 14,420 B."""
    row = priced("gelu", {"rows": 1, "cols": 3072}, IRON_LAN)
    assert row["latency_s"] == pytest.approx(PUBLISHED[149][4], rel=0.25)
    assert row["latency_s"] / PUBLISHED[149][4] - 1 == pytest.approx(0.068, abs=0.005)
    assert row["comm_bytes"] / published_bytes(149) - 1 == pytest.approx(0.404, abs=0.005)


@pytest.mark.skipif(not SHARED_CSV.is_file(), reason="shared/ reference data not beside the repo (CI)")
def test_copied_rows_match_published_ops_csv():
    rows = {int(r["id"]): r for r in csv.DictReader(SHARED_CSV.open())}
    for row_id, (system, op, comm, rounds, latency) in PUBLISHED.items():
        r = rows[row_id]
        assert (r["system"], r["op"]) == (system, op)
        assert float(r["comm_gb_published"]) == pytest.approx(comm, rel=1e-9)
        assert (int(r["rounds_published"]) if r["rounds_published"] else None) == rounds
        assert (float(r["latency_s_published"]) if r["latency_s_published"] else None) == latency
    table = load_table(NAME)
    mine = {i for i, r in rows.items() if r["op"] != "whole-model"
            and any(re.search(p, r["system"]) for p in table.matches)}
    assert mine == set(PUBLISHED)  # row 151 is Cheetah (run by Iron): not Iron's, not matched


# ---- whole model: validation only -----------------------------------------------------------------------------
BERT_MEDIUM = ["model.layers=8", "model.d_model=512", "model.heads=8", "model.d_ff=2048"]


def test_whole_model_row140_validation_only():
    """Row 140 (Iron as reported by CipherPrune, BERT-medium, T = 128 assumed, 3 Gbps / 0.8 ms): 124.5 GB, 442.4 s.
    pidse: 119.8 GB (0.962); latency 2,354 s (5.3x) on the table's one thread, 383 s (0.87) re-priced to 32 threads
    x 3.9 GHz (CipherPrune's Threadripper PRO 3955WX, 16 cores / 32 threads; its thread count is our assumption)."""
    table = load_table(NAME)
    spec = load_spec("bert_base", BERT_MEDIUM, 128)
    net = Network("cipherprune-lan", 3.0e9, 0.8e-3)
    own = estimate(spec, table=table, setting=Setting(net)).totals
    assert own["comm_bytes"] / 124.5e9 == pytest.approx(0.962, abs=0.01)
    assert own["latency_s"] / 442.4 == pytest.approx(5.32, abs=0.05)
    threadripper = Hardware("threadripper-3955wx", "cpu", threads=32, ghz=3.9)
    scale = table.hardware.throughput / threadripper.throughput
    repriced = estimate(spec, table=table, setting=Setting(net, threadripper, "online", scale)).totals
    assert repriced["latency_s"] / 442.4 == pytest.approx(0.87, abs=0.02)


# ---- (c) the CLI ------------------------------------------------------------------------------------------------
def test_cli_estimates_bert_base():
    result = CliRunner().invoke(app, ["estimate", "bert_base", "-p", NAME, "--format", "json"])
    assert result.exit_code == 0, result.output
    totals = json.loads(result.stdout)["totals"]
    assert math.isclose(totals["comm_bytes"], 269.2e9, rel_tol=0.01)  # BOLT's Iron: ~280 GB with truncations
    assert totals["rounds"] > 0 and totals["latency_s"] > 0
