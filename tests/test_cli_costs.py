"""`pidse estimate --protocol` through typer's CliRunner: priced JSON, savings, breakdowns, networks, missing
ops, and the shape of the costs (what dominates, growth with context)."""
from __future__ import annotations

import json
import re

import pytest

from conftest import SPECS, assert_one_line_error, invoke
from costs_helpers import HAND_TOTALS, hand_table, tiny_spec
from pidse.cost.registry import load_table
from pidse.model.estimate import estimate
from pidse.spec.load import load_spec

GPT2 = SPECS / "gpt2_sm_ln_g.yaml"
TINYLLAMA = SPECS / "tinyllama_1.1b.yaml"
GPT2_SPECS = sorted(SPECS.glob("gpt2_*.yaml"))


def run(*args) -> str:
    result = invoke("estimate", *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def run_json(*args) -> dict:
    return json.loads(run(*args, "--format", "json"))


def kind_share(out: dict, kind: str, col: str = "comm_bytes") -> float:
    return next(r[f"{col}_pct"] for r in out["by_kind"] if r["kind"] == kind)


# ---- the priced JSON ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gpt2_json() -> dict:
    return run_json(GPT2, "-p", "aero-secretflow")


def test_json_priced_keys(gpt2_json):
    out, table = gpt2_json, load_table("aero-secretflow")
    assert {"comm_bytes", "rounds", "compute_s", "latency_s"} <= set(out["totals"])
    assert out["protocol"]["table"] == "aero-secretflow" and out["protocol"]["parties"] == 2
    assert out["network"] == {"name": "aero-secretflow-effective", "bandwidth_bps": table.network.bandwidth_bps,
                              "rtt_s": table.network.rtt_s}
    assert out["uncosted"] == []
    for op in out["ops"]:
        assert op["source"] == f"aero-secretflow.yaml#ops.{op['kind']}"
        assert all(isinstance(op[k], float) and op[k] >= 0 for k in ("comm_bytes", "latency_s"))
        assert isinstance(op["rounds"], int) and op["rounds"] >= 0  # whole round trips in JSON
    for col in ("comm_bytes", "latency_s"):
        assert out["totals"][col] == pytest.approx(sum(op[col] for op in out["ops"]), rel=1e-12)
    # each op's rounds and the total are rounded apart: they differ by at most half a round per op
    assert abs(out["totals"]["rounds"] - sum(op["rounds"] for op in out["ops"])) <= len(out["ops"]) / 2
    # the API gives the same totals
    api = estimate(load_spec(GPT2), table=table).totals
    assert out["totals"] == pytest.approx({**api, "rounds": round(api["rounds"])}, rel=1e-12)


def test_by_kind_shares_sum_to_100(gpt2_json):
    rows = gpt2_json["by_kind"]
    assert {r["kind"] for r in rows} == {"embedding", "add", "layernorm", "linear", "matmul", "scale", "softmax",
                                         "gelu", "lm_head", "argmax"}
    for col in ("comm_bytes", "latency_s", "rounds"):
        assert sum(r[f"{col}_pct"] for r in rows) == pytest.approx(100.0, rel=1e-12)
    total = gpt2_json["totals"]["comm_bytes"]
    gelu = next(r for r in rows if r["kind"] == "gelu")
    assert gelu["comm_bytes_pct"] == pytest.approx(100 * gelu["comm_bytes"] / total)


def test_gelu_dominates_gpt2_communication_at_128(gpt2_json):
    shares = {r["kind"]: r["comm_bytes_pct"] for r in gpt2_json["by_kind"]}
    assert max(shares, key=shares.get) == "gelu"
    assert shares["gelu"] > 50
    # by hand: 12 GELUs of 128 x 3072 at c_gelu B each over the total
    c_gelu = load_table("aero-secretflow").raw["fit"]["coefficients"]["c_gelu"]
    assert shares["gelu"] == pytest.approx(100 * 12 * 128 * 3072 * c_gelu / gpt2_json["totals"]["comm_bytes"])


def test_softmax_share_grows_with_context():
    shares = [kind_share(run_json(GPT2, "-p", "aero-secretflow", "--context", t), "softmax")
              for t in (128, 256, 512, 1024)]
    assert all(a < b for a, b in zip(shares, shares[1:])), shares


@pytest.mark.parametrize("path", GPT2_SPECS, ids=[p.stem for p in GPT2_SPECS])
def test_cost_grows_with_context(path):
    table = load_table("aero-secretflow")
    totals = [estimate(load_spec(path, context=t), table=table).totals
              for t in (1, 2, 3, 64, 128, 129, 256, 1000, 1024)]
    for a, b in zip(totals, totals[1:]):
        assert b["comm_bytes"] > a["comm_bytes"] and b["latency_s"] > a["latency_s"]
        assert b["rounds"] >= a["rounds"] and b["compute_s"] >= a["compute_s"]


# ---- savings and human-readable views -------------------------------------------------------------------------

def test_baseline_savings():
    fused = SPECS / "gpt2_sm_scfuffn.yaml"
    out = run_json(fused, "-p", "aero-secretflow", "--baseline", GPT2)
    table = load_table("aero-secretflow")
    est, base = (estimate(load_spec(p), table=table).totals for p in (fused, GPT2))
    assert out["savings"]["baseline"] == "gpt2_sm_ln_g"
    assert out["savings"]["comm_bytes_x"] == pytest.approx(base["comm_bytes"] / est["comm_bytes"], rel=1e-12)
    assert out["savings"]["latency_s_x"] == pytest.approx(base["latency_s"] / est["latency_s"], rel=1e-12)
    assert out["savings"]["comm_bytes_x"] > 3  # AERO: 25.32 / 6.43 = 3.94x
    text = run(fused, "-p", "aero-secretflow", "--baseline", GPT2)
    line = next(line for line in text.splitlines() if line.lstrip().startswith("vs gpt2_sm_ln_g"))
    s = out["savings"]
    assert line.endswith(f"communication {s['comm_bytes_x']:.2f}x less, latency {s['latency_s_x']:.2f}x less")


def test_no_savings_without_baseline(gpt2_json):
    assert "savings" not in gpt2_json
    assert "x less" not in run(GPT2, "-p", "aero-secretflow")


def test_table_by_kind_shows_units():
    text = run(GPT2, "-p", "aero-secretflow", "--by", "kind")
    assert re.search(r"\n  communication +\d+\.\d\d GB \(total over parties\)\n", text)  # 25.30 GB
    rows = {line.split()[0]: line for line in text.splitlines()[-10:]}
    # one unit per column, the one its largest value needs: GB and minutes here (gelu: 16.17 GB, 1.xx min)
    assert all(" GB " in row and " min " in row for row in rows.values())
    assert "0.00 GB" in rows["add"]  # a local op: exactly zero


# ---- networks on the command line ---------------------------------------------------------------------------

@pytest.mark.parametrize("args, name, bandwidth, rtt", [
    ([], "hand-net", 8e6, 0.01),  # the table's own
    (["--network", "lan"], "lan", 3e9, 0.8e-3),
    (["--network", "wan"], "wan", 200e6, 40e-3),
    (["--network", "wan-aero"], "wan-aero", 100e6, 80e-3),
    (["--network", "wan", "--rtt", "0.01"], "wan (custom)", 200e6, 0.01),
    (["--bandwidth", "1e9"], "hand-net (custom)", 1e9, 0.01),
    (["--network", "lan", "--bandwidth", "8e6", "--rtt", "0.01"], "lan (custom)", 8e6, 0.01),
])
def test_network_options(tmp_path, args, name, bandwidth, rtt):
    out = run_json(tiny_spec(tmp_path), "-p", hand_table(tmp_path), *args)
    assert out["network"] == {"name": name, "bandwidth_bps": bandwidth, "rtt_s": rtt}
    t = HAND_TOTALS  # comm 23,826 B, 44 rounds, 4.08 ms compute (tests/costs_helpers.py)
    assert out["totals"]["latency_s"] == pytest.approx(t["compute_s"] + 8 * t["comm_bytes"] / bandwidth
                                                       + t["rounds"] * rtt, rel=1e-12)
    # e.g. lan: 4.08e-3 + 8 * 23,826 / 3e9 + 44 * 0.8e-3 = 0.0393435 s


@pytest.mark.parametrize("args, needles", [
    (["-p", "aero-secretflow", "--network", "wan-aro"], ["--network", "did you mean 'wan-aero'"]),
    (["-p", "aero-secretflow", "--bandwidth", "0"], ["--bandwidth"]),
    (["--network", "lan"], ["--protocol"]),  # a network only applies to a priced estimate
    (["--hardware", "laptop-8c"], ["--protocol"]),
])
def test_network_errors(args, needles):
    assert_one_line_error(invoke("estimate", GPT2, *args), *needles)


def test_baseline_without_a_table_compares_flops():
    # SM+ScFuFFN against SM+LN+G, counts only: 22.42B / 9.74B FLOPs = 2.30x (dense convention)
    out = invoke("estimate", "gpt2_sm_scfuffn", "--baseline", GPT2)
    assert out.exit_code == 0 and "vs gpt2_sm_ln_g     FLOPs 2.30x less" in out.stdout
    data = json.loads(invoke("estimate", "gpt2_sm_scfuffn", "--baseline", GPT2, "-f", "json").stdout)
    assert data["savings"]["flops_x"] == pytest.approx(22_420_000_000 / 9_740_000_000, rel=2e-3)


# ---- missing ops ------------------------------------------------------------------------------------------------

def test_missing_op_cli_error(tmp_path):
    path = hand_table(tmp_path)  # everything TinyLlama needs except `mul`
    line = assert_one_line_error(invoke("estimate", TINYLLAMA, "-p", path), str(path), "ops.mul")
    assert line.startswith(f"error: {path}: ops.mul: expected a cost entry for op kind 'mul'")


def test_allow_missing_json(tmp_path):
    out = run_json(TINYLLAMA, "-p", hand_table(tmp_path), "--allow-missing")
    assert out["uncosted"] == ["mul"]
    mul = [op for op in out["ops"] if op["kind"] == "mul"]
    assert len(mul) == 22
    for op in mul:
        assert all(op[k] is None for k in ("comm_bytes", "rounds", "compute_s", "latency_s", "source", "grade"))
    assert all(op["comm_bytes"] is not None for op in out["ops"] if op["kind"] != "mul")


def test_allow_missing_table_view(tmp_path):
    text = run(TINYLLAMA, "-p", "aero-secretflow", "--allow-missing")
    assert "UNCOSTED            rmsnorm, silu, mul: not in the table, left out of the totals" in text
    default_block_rows = [line for line in text.splitlines() if line.startswith("ffn ")]
    assert len(default_block_rows) == 1  # the ffn block: the costed ops' sum, the UNCOSTED line says what is out


def test_allow_missing_table_by_op(tmp_path):
    ops = run(TINYLLAMA, "-p", hand_table(tmp_path), "--allow-missing", "--by", "op", "--context", "4")
    mul = [line for line in ops.splitlines() if line.startswith("L0.ffn.mul ")]
    assert len(mul) == 1 and "uncosted" in mul[0]


def test_allow_missing_by_kind_json_has_no_zero(tmp_path):
    out = run_json(TINYLLAMA, "-p", hand_table(tmp_path), "--allow-missing")
    mul = next(r for r in out["by_kind"] if r["kind"] == "mul")
    assert mul["comm_bytes"] is None and mul["latency_s"] is None


def test_allow_missing_by_kind_table_says_uncosted(tmp_path):
    text = run(TINYLLAMA, "-p", hand_table(tmp_path), "--allow-missing", "--by", "kind")
    mul = next(line for line in text.splitlines() if line.startswith("mul "))
    assert "uncosted" in mul
