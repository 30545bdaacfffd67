"""cost_tables/ditto.yaml: Ditto (arXiv 2405.05525, ICML 2024), SPU ABY3 with mixed 32/64-bit rings, a table that
`extends: puma.yaml`.

Ditto publishes no per-op cost and none of its own rows is in published_ops.csv (row 177 is its SPU ABY3 baseline,
priced by puma.yaml): NOTHING is fitted or checked against a measurement here. The tests pin
(a) the table's identity and setting (Ditto's machine and LAN, units, no fit, every kind accounted for);
(b) the constants' derivations: SPU ABY3's per-party kernel costs at K = 32 (half of K = 64's bytes; comparison
    log2(32) + 2 = 7 rounds) x 3 parties; UpCast (Alg. 4) = 16 + 8 + 16 = 40 B, 3 rounds; DownCast local;
(c) each override by hand at tiny shapes;
(d) inheritance: every op not overridden prices as puma's (bytes and rounds exactly; compute re-priced by
    2.7 / 3.6 GHz);
(e) BERT-base T = 128 with Quad, end to end through the CLI, by op kind against puma.
"""
from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import pytest
import yaml

from conftest import invoke
from pidse.cost.registry import load_table, price_op
from pidse.cost.setting import Network, Setting
from pidse.ops import OP_KINDS
from pidse.resources import DATA_DIR

NAME = "ditto"
ROOT = Path(__file__).resolve().parents[1]
PATH = ROOT / "cost_tables" / f"{NAME}.yaml"
GB = 1e9
OVERRIDDEN = {"linear", "lm_head", "matmul", "scale", "poly", "softmax", "layernorm", "rmsnorm"}
INHERITED = set(OP_KINDS) - OVERRIDDEN
SCALE = 0.04514 / 0.0602  # ditto's spu_scale / puma's: (2 x 2.6 / (32 x 3.6)) / (2 x 2.6 / (32 x 2.7)) ~ 2.7 / 3.6


@pytest.fixture(scope="module")
def table():
    return load_table(NAME)


@pytest.fixture(scope="module")
def puma():
    return load_table("puma")


def one(table, kind, attrs=None, **shape):
    """One op priced on an 8 bit/s network with no RTT (latency - compute = bytes)."""
    return price_op(table, kind, shape, Setting(Network("test", 8.0, 0.0)), attrs)


# ---- (a) identity, setting, grades ------------------------------------------------------------------------------

def test_table_metadata(table, puma):
    raw = yaml.safe_load(PATH.read_text())
    assert raw["extends"] == "puma.yaml"
    assert table.name == NAME and table.matches == ("^Ditto",) and "Ditto" in table.system
    assert table.parties == 3 and table.offline == "none"
    # Ditto prints GB; read as a total over the 3 parties, as published_ops.csv records Ditto's Table 2 (row 177)
    assert table.units == {"comm": "GB", "scope": "total"} != puma.units
    # Ditto §5: one 32-core 3.6 GHz AMD Ryzen machine; LAN 5 Gbps, 0.4 ms RTT
    hw = table.hardware
    assert (hw.kind, hw.threads, hw.ghz) == ("cpu", 32, 3.6) and "Ditto" in hw.source
    assert (table.network.bandwidth_bps, table.network.rtt_s) == (5e9, 0.4e-3) and "Ditto" in table.network.source
    # no row of published_ops.csv is Ditto's own (row 177, its SPU ABY3 baseline, is puma.yaml's)
    with (DATA_DIR / "published_ops.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["id"] for r in rows if any(re.search(p, r["system"]) for p in table.matches)] == []
    assert [r["id"] for r in rows if any(re.search(p, r["system"]) for p in puma.matches)] == ["102", "177"]


def test_nothing_fitted_and_every_kind_accounted_for(table):
    raw = yaml.safe_load(PATH.read_text())
    assert "fit" not in raw and "anchors" not in raw
    assert "NOTHING HERE IS FITTED" in PATH.read_text()  # the header says so
    assert set(raw["ops"]) == OVERRIDDEN
    assert set(table.entries) | set(table.unknown) == set(OP_KINDS)
    for kind, entry in table.entries.items():
        assert entry.grade in ("derived", "estimate"), kind
        assert re.search(r"\([PRSD]( -> D)?\)", entry.source), (kind, entry.source)
    for kind in OVERRIDDEN:
        assert "Ditto" in table.entries[kind].source, kind


# ---- (b) constants ----------------------------------------------------------------------------------------------

def test_constants_derivations(table, puma):
    """SPU ABY3's per-party bytes are linear in the ring width K: at K = 32 half of puma's K = 64 figures (x 3
    parties already in both); rounds: multiply 1, truncation 3, comparison log2(K) + 2 = 7."""
    c = table.constants
    assert (c["mul32_B"], c["trunc32_B"], c["cmp32_B"]) == (3 * 4, 3 * 16, 3 * 32)
    assert (c["mul32_B"], c["trunc32_B"], c["cmp32_B"]) == (c["mul_B"] / 2, c["trunc_B"] / 2, c["cmp_B"] / 2)
    assert (c["mul32_r"], c["trunc32_r"], c["cmp32_r"]) == (1, 3, math.log2(32) + 2)
    # UpCast (Alg. 4): P2 deals P1's shares of r and r_31 over Z_2^64 (2 x 8 B), P0 and P1 open y = x + r over
    # Z_2^32 (2 x 4 B), P0 and P1 each send P2 one 64-bit share of the re-shared result (2 x 8 B); 3 rounds.
    assert (c["upcast_B"], c["upcast_r"]) == (2 * 8 + 2 * 4 + 2 * 8, 3)
    assert (c["downcast_B"], c["downcast_r"]) == (0, 0)  # Alg. 3: local
    # the rest is puma's: 64-bit primitives, exp t = 5, reciprocal and 1/sqrt
    assert {k: v for k, v in c.items() if k in puma.constants and k != "spu_scale"} == \
        {k: v for k, v in puma.constants.items() if k != "spu_scale"}
    # compute: spu-aby3 (2 threads x 2.6 GHz) re-priced to Ditto's 32 threads x 3.6 GHz
    assert c["spu_scale"] == pytest.approx(2 * 2.6 / (32 * 3.6), abs=1e-5)
    assert c["spu_scale"] / puma.constants["spu_scale"] == pytest.approx(
        puma.hardware.throughput / table.hardware.throughput, rel=1e-3)


# ---- (c) overrides by hand --------------------------------------------------------------------------------------

HAND = [
    # linear m=2 k=3 n=4 in Z_2^32: 8 outputs x (12 + 48) = 480 B (puma 960); 1 + 3 = 4 rounds.
    ("linear", None, {"m": 2, "k": 3, "n": 4}, 480, 4),
    # lm_head m=1 k=8 n=10: Ditto's last layer stays in Z_2^64: 10 x (24 + 96) = 1200 B (= puma); 4 rounds.
    ("lm_head", None, {"m": 1, "k": 8, "n": 10}, 1200, 4),
    # matmul batch=2 m=2 n=4 in Z_2^32: 16 outputs x 60 = 960 B (puma 1920); 4 rounds.
    ("matmul", None, {"batch": 2, "m": 2, "k": 3, "n": 4}, 960, 4),
    # scale 2 x 3 (scores in Z_2^32): 6 truncations x 48 = 288 B (puma 576); 3 rounds.
    ("scale", None, {"rows": 2, "cols": 3}, 288, 3),
    # Quad 2 x 3 in Z_2^32: the square (12 + 48) and one truncation (48) = 108 B per element -> 648 B (puma 1296);
    # ceil(log2 2) x (1 + 3) + 3 = 7 rounds.
    ("poly", {"degree": 2}, {"rows": 2, "cols": 3}, 648, 7),
    # degree 4 (not Ditto's): 3 x 60 + 48 = 228 B per element -> 1368 B; 2 x 4 + 3 = 11 rounds.
    ("poly", {"degree": 4}, {"rows": 2, "cols": 3}, 1368, 11),
    # softmax one row of 4: max tree in Z_2^32 3 x (96 + 12) = 324; per element UpCast 40 + exp (96 + 5 x 120 +
    # 192 + 24) + product (24 + 96) + DownCast 0 = 1072, x 4 = 4288; reciprocal 912 -> 5524 B (puma 5688).
    # Rounds 2 levels x (7 + 1) + 3 + 3 + 5 x 4 + 1 + 32 + 1 + 3 = 79 (puma 78).
    ("softmax", None, {"batch": 1, "rows": 1, "cols": 4}, 5524, 79),
    # layernorm 2 rows x 4: 8 x (40 + 3 x 120) = 3200 + 2 x (2 x 96 + 1272) = 2928 -> 6128 B (puma 5808);
    # 3 + (3 + 4 + 3 + 44 + 2 x 4) = 65 rounds (puma 62).
    ("layernorm", None, {"rows": 2, "cols": 4}, 6128, 65),
    # rmsnorm 2 rows x 4: 8 x 400 = 3200 + 2 x (96 + 1272) = 2736 -> 5936 B (puma 5616); 3 + 4 + 3 + 44 + 8 = 62.
    ("rmsnorm", None, {"rows": 2, "cols": 4}, 5936, 62),
]


@pytest.mark.parametrize("kind,attrs,shape,comm,rounds", HAND, ids=[f"{h[0]}-{i}" for i, h in enumerate(HAND)])
def test_overrides_by_hand(table, kind, attrs, shape, comm, rounds):
    row = one(table, kind, attrs, **shape)
    assert (row["comm_bytes"], row["rounds"]) == (comm, rounds)
    assert row["latency_s"] - row["compute_s"] == pytest.approx(comm)  # 8 bit/s, no RTT
    assert row["source"] == f"{NAME}.yaml#ops.{kind}"


@pytest.mark.parametrize("kind", ["layernorm", "rmsnorm"])
def test_norms_are_pumas_plus_one_upcast_per_element(table, puma, kind):
    """The norms are puma's construction after an UpCast of every element: 40 B and 3 rounds more; same compute."""
    ours, theirs = one(table, kind, rows=3, cols=16), one(puma, kind, rows=3, cols=16)
    assert ours["comm_bytes"] - theirs["comm_bytes"] == 40 * 48
    assert ours["rounds"] - theirs["rounds"] == 3
    assert ours["compute_s"] == pytest.approx(SCALE * theirs["compute_s"], rel=1e-3)


def test_softmax_is_pumas_with_a_32_bit_max_and_an_upcast(table, puma):
    """Per row of cols scores: the max tree costs (96 + 12) instead of (192 + 24) per comparison, each score gets an
    UpCast (40 B); rounds: ceil(log2 cols) x 8 instead of x 9, plus 3."""
    shape = {"batch": 2, "rows": 3, "cols": 16}
    ours, theirs = one(table, "softmax", **shape), one(puma, "softmax", **shape)
    rows, elements = 6, 96
    assert theirs["comm_bytes"] - ours["comm_bytes"] == 108 * rows * 15 - 40 * elements
    assert ours["rounds"] - theirs["rounds"] == 3 - 4  # 4 levels x (9 - 8) fewer, 3 more


# ---- (d) inheritance --------------------------------------------------------------------------------------------

INHERITED_CASES = [
    ("embedding", None, {"tokens": 2, "vocab": 10, "dim": 8}), ("gelu", None, {"rows": 2, "cols": 3}),
    ("relu", None, {"rows": 2, "cols": 3}), ("silu", None, {"rows": 2, "cols": 3}),
    ("mul", None, {"rows": 2, "cols": 3}), ("add", None, {"rows": 2, "cols": 3}),
    ("rope", None, {"rows": 2, "cols": 4}), ("argmax", None, {"rows": 1, "cols": 5}),
    ("power_softmax", {"power": 2}, {"batch": 1, "rows": 2, "cols": 4}),
    ("relu_softmax", None, {"batch": 1, "rows": 2, "cols": 4}),
    ("topk", {"top": 2}, {"rows": 4, "cols": 8}),
    ("prune", {"method": "sort"}, {"batch": 1, "rows": 4, "cols": 8, "kept": 2})]


def test_inherited_cases_cover_every_kind_not_overridden():
    assert {c[0] for c in INHERITED_CASES} == INHERITED


@pytest.mark.parametrize("kind,attrs,shape", INHERITED_CASES, ids=[c[0] for c in INHERITED_CASES])
def test_inherited_entries_price_as_pumas(table, puma, kind, attrs, shape):
    """Bytes and rounds exactly puma's; compute puma's borrowed fit at Ditto's spu_scale (x 0.75: 2.7 / 3.6 GHz at
    32 threads both). The entry (formulas, source, grade) is puma's; a priced row names the table it came from."""
    ours, theirs = one(table, kind, attrs, **shape), one(puma, kind, attrs, **shape)
    assert (ours["comm_bytes"], ours["rounds"]) == (theirs["comm_bytes"], theirs["rounds"])
    assert ours["compute_s"] == pytest.approx(SCALE * theirs["compute_s"], rel=1e-12)
    assert SCALE == pytest.approx(2.7 / 3.6, rel=1e-3)
    assert table.entries[kind].source == puma.entries[kind].source and ours["grade"] == theirs["grade"]
    assert ours["source"] == f"{NAME}.yaml#ops.{kind}"


# ---- (e) BERT-base T = 128, Quad GeLU and softmax, through the CLI ----------------------------------------------

def by_kind(protocol: str, *extra) -> tuple[dict, dict]:
    result = invoke("estimate", "bert_base", "-p", protocol, "--set", "ffn.activation=quad", "-T", "128",
                    "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    return {row["kind"]: row for row in data["by_kind"]}, data["totals"]


# Bytes per unit under ditto and puma (BERT-base: 12 layers, 12 heads, d = 768, d_ff = 3072, T = 128):
#   linear, matmul, scale, poly: every byte is in Z_2^32 -> exactly 0.5x;
#   softmax, per row of 128 scores: ditto 127 x 108 + 128 x 1072 + 912 = 151,844 B, puma 127 x 216 + 128 x 1032
#     + 912 = 160,440 B -> 0.94642x;
#   layernorm, per row of 768: ditto 768 x 400 + 1464 = 308,664 B, puma 768 x 360 + 1464 = 277,944 B -> 1.11053x;
#   embedding, add, lm_head (Ditto's last layer in Z_2^64), argmax: as puma.
RATIOS = {"linear": 0.5, "matmul": 0.5, "scale": 0.5, "poly": 0.5, "softmax": 151_844 / 160_440,
          "layernorm": 308_664 / 277_944, "embedding": 1.0, "add": 1.0, "lm_head": 1.0, "argmax": 1.0}


def test_bert_base_quad_by_kind_against_puma():
    ours, _ = by_kind(NAME)
    theirs, _ = by_kind("puma")
    assert set(ours) == set(theirs) == set(RATIOS)
    for kind, ratio in RATIOS.items():
        if kind == "add":
            assert ours[kind]["comm_bytes"] == theirs[kind]["comm_bytes"] == 0
            continue
        assert ours[kind]["comm_bytes"] / theirs[kind]["comm_bytes"] == pytest.approx(ratio, rel=1e-9), kind
        if ratio < 1:  # the 32-bit ring applies: ditto sends less
            assert ours[kind]["comm_bytes"] < theirs[kind]["comm_bytes"], kind
    # absolute bytes from the per-element derivations
    assert ours["poly"]["comm_bytes"] == 12 * 128 * 3072 * 108
    assert ours["softmax"]["comm_bytes"] == 12 * 12 * 128 * 151_844
    assert ours["layernorm"]["comm_bytes"] == 25 * 128 * 308_664
    # rounds per op: softmax 7 x 8 + 3 + 3 + 20 + 1 + 32 + 1 + 3 = 119 (puma 123); layernorm 65 (puma 62)
    assert (ours["softmax"]["rounds"], theirs["softmax"]["rounds"]) == (12 * 119, 12 * 123)
    assert (ours["layernorm"]["rounds"], theirs["layernorm"]["rounds"]) == (25 * 65, 25 * 62)
    for kind in ("linear", "matmul", "scale", "poly", "embedding", "lm_head", "argmax"):
        assert ours[kind]["rounds"] == theirs[kind]["rounds"], kind


def test_bert_base_quad_totals():
    """Totals, each table on its own setting (ditto: 5 Gbps / 0.4 ms, 32 x 3.6 GHz; puma: 5 Gbps / 1 ms, 32 x 2.7
    GHz): ditto 6.02 GB, 3705 rounds, 28.7 s; puma 7.55 GB, 3678 rounds, 39.2 s. On Ditto's setting puma would take
    17.61 + 8 x 7.5545 / 5 + 3678 x 0.0004 = 31.17 s: the mixed rings save 20% of the bytes and 8% of the time."""
    _, ours = by_kind(NAME)
    _, theirs = by_kind("puma")
    assert ours["comm_bytes"] / GB == pytest.approx(6.0228, abs=1e-3)
    assert theirs["comm_bytes"] / GB == pytest.approx(7.5545, abs=1e-3)
    assert ours["comm_bytes"] / theirs["comm_bytes"] == pytest.approx(0.797, abs=1e-3)
    assert (ours["rounds"], theirs["rounds"]) == (3705, 3678)
    assert ours["latency_s"] == pytest.approx(28.72, abs=0.01)
    assert theirs["latency_s"] == pytest.approx(39.25, abs=0.01)
    assert ours["compute_s"] == pytest.approx(SCALE * theirs["compute_s"], rel=1e-9)
    puma_on_dittos_setting = ours["compute_s"] + 8 * theirs["comm_bytes"] / 5e9 + theirs["rounds"] * 0.4e-3
    assert puma_on_dittos_setting == pytest.approx(31.17, abs=0.01)
    assert ours["latency_s"] / puma_on_dittos_setting == pytest.approx(0.921, abs=1e-3)


def test_cli_wan_and_gelu_spec():
    """Ditto's WAN (400 Mbps, 40 ms) is the cheetah-wan preset; a GeLU spec prices with puma's inherited gelu."""
    result = invoke("estimate", "bert_base", "-p", NAME, "--network", "cheetah-wan", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["network"]["bandwidth_bps"], data["network"]["rtt_s"]) == (400e6, 40e-3)
    gelu = {row["kind"]: row for row in data["by_kind"]}["gelu"]
    assert gelu["comm_bytes"] == 12 * 128 * 3072 * 1320  # puma's GeLU, 1320 B per element, no UpCast
    assert invoke("estimate", "bert_base", "-p", NAME, "--phase", "offline").exit_code == 0  # offline: none -> 0
