"""cost_tables/powerformer.yaml: Powerformer (Park, Lee, Lee; ACL 2025), RNS-CKKS in Lattigo on one CPU thread.

(a) each op kind's HE expansion by hand at a tiny shape, priced with the table's primitive prices;
(b) Powerformer Table 7 (BERT-tiny: 2 layers, d 128, 2 heads, d_ff 512, T 128), op by op with
    pidse.cost.ckks.price.op_alone at the paper's shapes. Rows used to fit a price or a setting say IN-SAMPLE;
    rows pidse cannot express are strict xfails that state the numbers;
(c) the whole model (published_ops.csv row 229, 503 s) as validation only, and the CLI.
Table 7 has no communication (the server computes alone): only latency is compared, and an op's latency here
is its compute (a server op sends nothing).
"""
from __future__ import annotations

import csv
import re
import pytest
from typer.testing import CliRunner

from pidse.cli import app
from pidse.cost.ckks.price import op_alone
from pidse.cost.registry import load_table
from pidse.model.estimate import estimate
from pidse.resources import DATA_DIR
from pidse.spec.load import load_spec

NAME = "powerformer"
TOP = 16  # levels after a bootstrap: op_alone at 16 runs every Table 7 op without a bootstrap inside it
PRICES = {"encode": 0.02333, "pmul": 0.02026, "cmul": 0.1556, "rot": 0.1262, "rescale": 0.04531, "add": 0.002684,
          "bootstrap": 22.09}
BERT_TINY = ["model.layers=2", "model.d_model=128", "model.heads=2", "model.d_ff=512"]
# Powerformer's substitutions: BRPmax -> pidse's power_softmax (a spec needs an even power: p = 6 has the same
# calls as BRPmax's p = 5 in ops.py, 3 levels and 4 products), GELU -> ReLU, and the embedding LayerNorm on the
# client (Table 7 counts 4 LayerNorms: 2 per layer).
POWERFORMER = BERT_TINY + ["attention.kind=power_softmax", "attention.power=6", "ffn.activation=relu",
                           "norm.embedding=false"]


@pytest.fixture(scope="module")
def table():
    return load_table(NAME)


def run(table, kind, shape, attrs=None, level=TOP):
    """op_alone: {primitive: {count, seconds}} for one op on inputs at `level`."""
    return op_alone(kind, shape, attrs or {}, table, level)


def seconds(table, kind, shape, attrs=None, level=TOP) -> float:
    return sum(v["seconds"] for v in run(table, kind, shape, attrs, level).values())


def counts(table, kind, shape, attrs=None, level=TOP) -> dict:
    return {p: v["count"] for p, v in run(table, kind, shape, attrs, level).items() if v["count"]}


def by_hand(**calls) -> float:
    return sum(PRICES[p] * n for p, n in calls.items())


def test_table_loads_with_the_paper_setting(table):
    assert table.params["ring_dim"] == 2 ** 16 and table.slots == 2 ** 15
    assert table.params["scale_bits"] == 45 and table.params["levels_after_bootstrap"] == 16
    assert {p: table.seconds(p, 8) for p in PRICES} == PRICES  # flat in the level
    hw = table.hardware  # §5.2: one thread of a Threadripper PRO 5995WX at 2.7 GHz
    assert (hw.kind, hw.threads, hw.ghz) == ("cpu", 1, 2.7)
    assert table.offline == "none" and table.units == {"comm": "GB", "scope": "total"}
    with (DATA_DIR / "published_ops.csv").open(newline="") as fh:
        matched = [r["id"] for r in csv.DictReader(fh) if any(re.search(p, r["system"]) for p in table.matches)]
    assert matched == ["229"]  # the whole-model row; Table 7's per-op timings are not in the CSV


# ---- (a) each expansion by hand at a tiny shape (32,768 slots: every tiny tensor is 1 ciphertext) ----------

def test_linear_by_hand(table):
    """m=2, k=4, n=4: ceil(2*4*4 / 32768) = 1 product; baby steps b = ceil(sqrt(4)) = 2 -> 1 rotation per input
    ciphertext, ceil(1 / 2) = 1 giant step: 2 rotations; encodes and adds 1 + 1 bias; 1 rescale.
    2 x 0.02333 + 0.02026 + 2 x 0.1262 + 2 x 0.002684 + 0.04531 = 0.369998 s."""
    assert counts(table, "linear", {"m": 2, "k": 4, "n": 4}) == {"encode": 2, "pmul": 1, "rot": 2, "add": 2,
                                                                  "rescale": 1}
    assert seconds(table, "linear", {"m": 2, "k": 4, "n": 4}) == pytest.approx(0.369998)


def test_matmul_by_hand(table):
    """Ciphertext x ciphertext, 1 head, 2x2 by 2x2: 1 product, 1 aligning rotation, 1 add, 1 rescale:
    0.1556 + 0.1262 + 0.002684 + 0.04531 = 0.329794 s."""
    shape = {"batch": 1, "m": 2, "k": 2, "n": 2}
    assert counts(table, "matmul", shape) == {"cmul": 1, "rot": 1, "add": 1, "rescale": 1}
    assert seconds(table, "matmul", shape) == pytest.approx(0.329794)


def test_relu_by_hand(table):
    """Degree 75: b = ceil(sqrt(76)) = 9 baby powers, g = ceil(76 / 9) = 9 blocks: 8 + ceil(log2 9) + 8 = 20
    products (8 levels, OpenFHE 60-119); 75 scalar products and adds, 21 rescales:
    20 x 0.1556 + 75 x 0.02026 + 75 x 0.002684 + 21 x 0.04531 = 5.78431 s per ciphertext."""
    assert counts(table, "relu", {"rows": 1, "cols": 4}) == {"cmul": 20, "pmul": 75, "add": 75, "rescale": 21}
    assert seconds(table, "relu", {"rows": 1, "cols": 4}) == pytest.approx(5.78431)


def test_layernorm_by_hand(table):
    """cols 4 (log2 = 2): mean rot 2, add 3; variance cmul 1, rot 2, add 2, rescale 1; Newton, 6 iterations:
    pmul 1, cmul 18, add 7, rescale 19; normalise cmul 1, rescale 1. Total cmul 20, rot 4, add 12, rescale 21,
    pmul 1: 20 x 0.1556 + 4 x 0.1262 + 12 x 0.002684 + 21 x 0.04531 + 0.02026 = 4.620778 s."""
    assert counts(table, "layernorm", {"rows": 1, "cols": 4}) == {"cmul": 20, "rot": 4, "add": 12, "rescale": 21,
                                                                   "pmul": 1}
    assert seconds(table, "layernorm", {"rows": 1, "cols": 4}) == pytest.approx(4.620778)


def test_power_softmax_by_hand(table):
    """p = 5 (BRPmax's), 1 head, 2 x 4 scores: x^5 in 3 levels with 4 products (ops.py: ceil(log2 5) squarings
    + popcount(5) - 1), 4 rescales; row sum (rows in slots) rot 2, add 2; Goldschmidt, 1 iteration (mean
    domain): pmul 1, cmul 1, add 2, rescale 2; normalise cmul 1, rescale 1. cmul 6, rot 2, add 4, rescale 7,
    pmul 1: 6 x 0.1556 + 2 x 0.1262 + 4 x 0.002684 + 7 x 0.04531 + 0.02026 = 1.534166 s."""
    shape = {"batch": 1, "rows": 2, "cols": 4}
    assert counts(table, "power_softmax", shape, {"power": 5}) == {"cmul": 6, "rot": 2, "add": 4, "rescale": 7,
                                                                    "pmul": 1}
    assert seconds(table, "power_softmax", shape, {"power": 5}) == pytest.approx(1.534166)
    assert counts(table, "power_softmax", shape, {"power": 6}) == counts(table, "power_softmax", shape, {"power": 5})


def test_bootstrap_inside_an_op_by_hand(table):
    """The ReLU needs 8 levels: arriving at level 4 its ciphertext is bootstrapped first (1 call, 22.09 s)."""
    res = run(table, "relu", {"rows": 1, "cols": 4}, level=4)
    assert res["bootstrap"]["count"] == 1
    assert sum(v["seconds"] for v in res.values()) == pytest.approx(5.78431 + 22.09)


def test_upload_and_download_bytes_by_hand(table):
    """BERT-tiny's 128 x 128 input is 1 ciphertext at level 16: 2 x 65536 x (55 + 16 x 45) / 8 = 12,697,600 B up;
    the logits come back as 1 ciphertext at level 0: 2 x 65536 x 55 / 8 = 901,120 B. One round trip."""
    est = estimate(load_spec("bert_base", POWERFORMER, 128), table=table)
    assert est.totals["comm_bytes"] == 12_697_600 + 901_120 and est.totals["rounds"] == 1


# ---- (b) Powerformer Table 7, op by op at BERT-tiny's shapes ----------------------------------------------

SQUARE = {"m": 128, "k": 128, "n": 128}  # Q, K, V, O (and the pooler, classifier)
UP, DOWN = {"m": 128, "k": 128, "n": 512}, {"m": 128, "k": 512, "n": 128}
QK = {"batch": 2, "m": 128, "k": 64, "n": 128}
AV = {"batch": 2, "m": 128, "k": 128, "n": 64}
SCORES = {"batch": 2, "rows": 128, "cols": 128}


def test_table7_plaintext_matmuls_per_layer_in_sample(table):
    """IN-SAMPLE (fits the non-key-switching scale u). Per layer 4 PARCONSTMATRIXMULT (Q, K, V, O) at 79/10 s
    and 3 PARCONSTRECMATRIXMULT (FFN) at 49/6 s: 31.6 + 24.5 = 56.1 s; pidse 4 x 5.178 + 16.153 + 19.236."""
    pidse = 4 * seconds(table, "linear", SQUARE) + seconds(table, "linear", UP) + seconds(table, "linear", DOWN)
    assert pidse == pytest.approx(4 * 79 / 10 + 3 * 49 / 6, rel=0.001)


def test_table7_ciphertext_matmuls_per_layer_in_sample(table):
    """IN-SAMPLE (fits the key-switching scale v). Per layer: BLOCK 28/2 + TRANSPOSE 11/2 + REC 34/2 = 36.5 s;
    pidse 2 x (64 cmul + 64 rot + 64 add + 1 rescale) = 2 x 18.2523 s."""
    assert counts(table, "matmul", QK) == counts(table, "matmul", AV) == {"cmul": 64, "rot": 64, "add": 64,
                                                                          "rescale": 1}
    pidse = seconds(table, "matmul", QK) + seconds(table, "matmul", AV)
    assert pidse == pytest.approx((28 + 11 + 34) / 2, rel=0.001)


def test_table7_qk_with_transpose(table):
    """Not fitted (only the sum above is): PARCIPHERTEXTMATRIXMULTBLOCK 14 s + PARTRANSPOSE 5.5 s per layer =
    19.5 s; pidse 18.25 s (-6.4%)."""
    assert seconds(table, "matmul", QK) == pytest.approx(28 / 2 + 11 / 2, rel=0.25)


def test_table7_attention_times_values(table):
    """Not fitted: PARCIPHERTEXTRECMATRIXMULT 34 / 2 = 17 s per layer; pidse 18.25 s (+7.4%)."""
    assert seconds(table, "matmul", AV) == pytest.approx(34 / 2, rel=0.25)


def test_table7_relu_in_sample(table):
    """IN-SAMPLE (fits the polynomial's degree): approximate ReLU 4 calls / 23 s = 11.5 s per layer over the
    FFN's 128 x 512 activation (2 ciphertexts); pidse 2 x 5.784 = 11.57 s (+0.6%)."""
    assert seconds(table, "relu", {"rows": 128, "cols": 512}) == pytest.approx(23 / 2, rel=0.25)
    assert seconds(table, "relu", {"rows": 128, "cols": 512}) == pytest.approx(23 / 2, rel=0.01)


def test_table7_layernorm_in_sample(table):
    """IN-SAMPLE (fits the Newton iteration count): approximate layer normalization 4 calls / 23 s = 5.75 s per
    LayerNorm of 128 x 128 (1 ciphertext); pidse 5.910 s (+2.8%)."""
    assert seconds(table, "layernorm", {"rows": 128, "cols": 128}) == pytest.approx(23 / 4, rel=0.05)


def test_table7_bootstrap_price_in_sample(table):
    """IN-SAMPLE: bootstrapping 11 calls / 243 s = 22.0909 s per ciphertext (price rounded to 22.09)."""
    res = run(table, "relu", {"rows": 1, "cols": 4}, level=0)
    assert res["bootstrap"]["count"] == 1
    assert res["bootstrap"]["seconds"] == pytest.approx(243 / 11, rel=0.001)


@pytest.mark.xfail(strict=True, reason="pidse's dense diagonal packing prices a plaintext-weight matmul by its "
                   "MACs / slots; Powerformer's parallel (X/X) algorithms cost about the same per call, square "
                   "or rectangular (7.9 vs 8.17 s): a 128x128x128 product is 5.18 s in pidse vs 7.9 s (-34%)")
def test_table7_square_plaintext_matmul(table):
    """PARCONSTMATRIXMULT 10 calls / 79 s = 7.9 s per call (Q, K, V, O, pooler, classifier); only the per-layer
    sum with the rectangular calls is fitted."""
    assert seconds(table, "linear", SQUARE) == pytest.approx(79 / 10, rel=0.25)


@pytest.mark.xfail(strict=True, reason="as the square matmul: the FFN's up + down cost 35.39 s in pidse vs "
                   "24.5 s for Powerformer's 3 rectangular calls (+44%)")
def test_table7_rectangular_plaintext_matmuls(table):
    """PARCONSTRECMATRIXMULT 6 calls / 49 s = 24.5 s per layer (FFN up: 2 output ciphertexts, down: 1)."""
    pidse = seconds(table, "linear", UP) + seconds(table, "linear", DOWN)
    assert pidse == pytest.approx(49 / 2, rel=0.25)


def test_table7_rectangular_and_square_split_numbers(table):
    """The numbers the two xfails above state."""
    assert seconds(table, "linear", SQUARE) == pytest.approx(5.178, abs=0.001)
    assert seconds(table, "linear", UP) + seconds(table, "linear", DOWN) == pytest.approx(35.39, abs=0.01)


BRPMAX_REASON = ("pidse/cost/ckks/ops.py has no BRPmax (ReLU(x + c)^p times a public constant 1/R_d): its "
                 "power_softmax prices x^5 plus a row sum, a Goldschmidt inverse and a normalising product BRPmax "
                 "does not have, and lacks BRPmax's ReLU: 2.18 s vs 6.5 s (-66%)")


@pytest.mark.xfail(strict=True, reason=BRPMAX_REASON)
def test_table7_brpmax(table):
    """Approximate softmax (BRPmax) 2 calls / 13 s = 6.5 s per layer over the 2 x 128 x 128 scores (1 ct)."""
    assert seconds(table, "power_softmax", SCORES, {"power": 5}) == pytest.approx(13 / 2, rel=0.25)


def test_brpmax_as_ops_py_would_need_it(table):
    """What a BRPmax expansion (the missing feature) would give at these prices: the ReLU polynomial on the
    scores' 1 ciphertext (5.784 s) and x^5 in 3 products, x^2, x^4, x^5 (3 x (0.1556 + 0.04531) = 0.6027 s),
    the constant 1/R_d folded: 6.387 s vs 6.5 s (-1.7%). pidse's power_softmax today: 2.179 s."""
    relu = seconds(table, "relu", {"rows": 1, "cols": 2 * 128 * 128})
    brpmax = relu + 3 * (PRICES["cmul"] + PRICES["rescale"])
    assert brpmax == pytest.approx(13 / 2, rel=0.05)
    assert seconds(table, "power_softmax", SCORES, {"power": 5}) == pytest.approx(2.179, abs=0.001)


@pytest.fixture(scope="module")
def bert_tiny(table):
    """BERT-tiny with Powerformer's substitutions, as Table 7 ran it (validation only)."""
    return estimate(load_spec("bert_base", POWERFORMER, 128), table=table)


@pytest.mark.xfail(strict=True, reason="pidse's walk places 7 single-ciphertext bootstraps (154.6 s) where "
                   "Powerformer runs 11 (243 s, -36%): its stand-ins are shallower than Powerformer's (the ReLU "
                   "polynomial has 8 levels; power_softmax lacks BRPmax's ReLU), and with a 14-level ReLU the "
                   "walk still needs only 8")
def test_table7_bootstrapping_over_bert_tiny(bert_tiny):
    """Bootstrapping 11 calls / 243 s over the whole of BERT-tiny."""
    assert bert_tiny.details.by_primitive(bert_tiny.ops)["bootstrap"]["seconds"] == pytest.approx(243, rel=0.25)


def test_bootstrap_count_over_bert_tiny(bert_tiny):
    """The number the xfail above states: 7 bootstraps, 1 ciphertext each."""
    assert bert_tiny.totals["bootstraps"] == 7


# ---- (c) whole model (validation, never fitted) and the CLI -------------------------------------------------

def test_whole_model_ratio_reported(bert_tiny):
    """published_ops.csv row 229: 503 s (the sum of Table 7's rows). pidse: 399.3 s, ratio 0.79: 4 bootstraps
    fewer (-88 s), BRPmax -8.7 s, and pidse's head (an LM head over the last position, 8.3 s) against BERT-tiny's
    pooler and classifier (2 square calls, ~15.8 s). Checked loosely: the ratio is reported, not fitted."""
    ratio = bert_tiny.totals["latency_s"] / 503
    assert 0.5 < ratio < 1.5
    assert ratio == pytest.approx(0.794, abs=0.01)


def test_stock_bert_tiny_as_validate_reads_row_229(table):
    """`pidse validate --published` reads row 229 as stock BERT-tiny (softmax, GELU, embedding LayerNorm), which
    this table prices with NEXUS's constructions for softmax and GELU: 626.6 s, ratio 1.25. Reported only."""
    est = estimate(load_spec("bert_base", BERT_TINY, 128), table=table)
    assert est.totals["latency_s"] / 503 == pytest.approx(1.246, abs=0.01)


def test_cli_estimate_bert_base():
    result = CliRunner().invoke(app, ["estimate", "bert_base", "-p", NAME])
    assert result.exit_code == 0, result.output
    assert "bootstrapping" in result.stdout
