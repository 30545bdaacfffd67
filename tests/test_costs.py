"""Cost tables priced by hand at tiny shapes, network presets and the latency model, missing ops, bad tables."""
from __future__ import annotations

import copy
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SPECS, assert_one_line_error, invoke, write_yaml
from costs_helpers import HAND, HAND_TINY, HAND_TOTALS, entry, hand_table, tiny_spec
from pidse.cost.family import COST_COLUMNS
from pidse.cost.registry import list_tables, load_table
from pidse.cost.setting import Network, load_networks, resolve_network
from pidse.errors import InputError
from pidse.model.estimate import estimate
from pidse.spec.load import load_spec


def by_op(est) -> dict:
    return {row["op"]: row for row in est.per_step()[0]}


# ---- the hand-made table at tiny shapes ----------------------------------------------------------------------

def test_hand_table_per_op(tmp_path):
    est = estimate(load_spec(tiny_spec(tmp_path)), table=load_table(str(hand_table(tmp_path))))
    rows = by_op(est)
    assert list(rows) == list(HAND_TINY)  # execution order, nothing missing or extra
    for op, (comm, rounds, compute) in HAND_TINY.items():
        row = rows[op]
        assert (row["comm_bytes"], row["rounds"]) == pytest.approx((comm, rounds), rel=1e-12), op
        assert row["compute_s"] == pytest.approx(compute, rel=1e-12, abs=1e-15), op
        # the table's network: 8 Mbit/s (B bytes take B microseconds) and 10 ms per round
        assert row["latency_s"] == pytest.approx(compute + comm * 1e-6 + rounds * 0.01, rel=1e-12), op
        assert row["source"] == f"hand.yaml#ops.{row['kind']}"
        assert row["grade"] == ("derived" if row["kind"] == "add" else "estimate")
    assert {k: est.totals[k] for k in HAND_TOTALS} == pytest.approx(HAND_TOTALS, rel=1e-12)
    assert est.network.name == "hand-net" and est.uncosted == []


def test_table_constants_are_usable_in_formulas(tmp_path):
    # linear: w * m * n with the constant w = 8; w = 3 makes q (m=4, n=8) 3 * 32 = 96 B
    path = hand_table(tmp_path, constants={"w": 3})
    rows = by_op(estimate(load_spec(tiny_spec(tmp_path)), table=load_table(str(path))))
    assert rows["L0.attn.q"]["comm_bytes"] == 96
    assert rows["L0.ffn.up"]["comm_bytes"] == 3 * 4 * 16


# ---- causal masking: `kept`, the scores a softmax's mask keeps ----------------------------------------------

@pytest.mark.parametrize("causal, generate, kept", [
    # prefill, T = 4, H = 2: query i (0-based) sees i + 1 keys: 2 x (1 + 2 + 3 + 4) = 20 of the 2 x 16 = 32
    (True, 1, {"L0.attn.softmax": 20}),
    (False, 1, {"L0.attn.softmax": 32}),  # an encoder keeps every score
    # two decode steps (generate 3): one new query over 5, then 6 positions, all before it: 2 x 5, 2 x 6
    (True, 3, {"L0.attn.softmax": 20, "step1.L0.attn.softmax": 10, "step2.L0.attn.softmax": 12}),
])
def test_softmax_kept_by_hand(tmp_path, causal, generate, kept):
    ops = dict(HAND["ops"], softmax=entry("kept", 0, 0))
    spec = load_spec(tiny_spec(tmp_path), [f"attention.causal={str(causal).lower()}",
                                           f"inference.generate={generate}"])
    rows = by_op(estimate(spec, table=load_table(str(hand_table(tmp_path, ops=ops)))))
    assert {op: r["comm_bytes"] for op, r in rows.items() if r["kind"] == "softmax"} == kept


@given(rows=st.integers(1, 64), extra=st.integers(0, 64))
@settings(max_examples=50, deadline=None)
def test_causal_kept_counts_the_lower_triangle(rows, extra):
    from pidse.ops import causal_kept

    cols = rows + extra  # the rows are the last `rows` of `cols` positions
    mask = [[key <= cols - rows + q for key in range(cols)] for q in range(rows)]
    assert causal_kept(rows, cols) == sum(map(sum, mask))


def test_kept_is_a_softmax_symbol_only(tmp_path):
    ops = dict(HAND["ops"], gelu=entry("kept", 0, 0))
    expected = r"ops\.gelu\.comm_bytes: expected only the symbols cols, elements, rows, w, got 'kept'"
    with pytest.raises(InputError, match=expected):
        load_table(str(hand_table(tmp_path, ops=ops)))


# ---- aero-secretflow at tiny shapes ---------------------------------------------------------------------------
# The formulas are the template's (cost_tables/templates/aero-secretflow.yaml) with the fitted coefficients c
# (the table's fit.coefficients) substituted; written out here by hand for each op of the tiny spec.
# The numbers in the comments are for the coefficients of the table as committed (c_he_in 21.329,
# c_trunc 70.4054, c_mm_in 462.337, c_softmax 1043.81, c_layernorm 1013.17, c_gelu 3427.8, k_he 5.45535e-9,
# k_mm 1.7907e-7, k_scale_call 1.8264 s; the other coefficients 0).

def aero_tiny(c: dict) -> dict:
    lin_mk_mn = lambda mk, mn, mkn: (c["c_he_in"] * mk + c["c_trunc"] * mn + c["c_he_call"], 3,
                                     c["k_he"] * mkn + c["k_he_call"])
    mm = (c["c_mm_in"] * 2 * (4 * 4 + 4 * 4) + c["c_trunc"] * 2 * 4 * 4, 3, c["k_mm"] * 2 * 4 * 4 * 4)
    ln = lambda rows: (c["c_layernorm"] * rows * 8, 30, c["k_layernorm"] * rows * 8)
    return {
        # one-hot T x V times the V x d table: 21.329 * 4*10 + 70.4054 * 4*8 = 853.16 + 2252.97 = 3106.13 B
        "embed.tokens": lin_mk_mn(4 * 10, 4 * 8, 4 * 10 * 8),
        "embed.positions": (0, 0, 0),
        "L0.attn.norm": ln(4),  # 1013.17 * 32 = 32,421.44 B, 30 rounds
        "L0.attn.q": lin_mk_mn(32, 32, 256),  # (21.329 + 70.4054) * 32 = 2935.50 B; 5.45535e-9 * 256 s
        "L0.attn.k": lin_mk_mn(32, 32, 256),
        "L0.attn.v": lin_mk_mn(32, 32, 256),
        "L0.attn.scores": mm,  # 462.337 * 64 + 70.4054 * 32 = 29,589.57 + 2252.97 = 31,842.54 B
        "L0.attn.scale": (c["c_trunc"] * 32, 1, c["k_scale_call"]),  # 2252.97 B, 1.8264 s per call
        "L0.attn.softmax": (c["c_softmax"] * 32, 6 * 2 + 30, c["k_softmax"] * 32 + c["k_softmax_call"]),
        "L0.attn.context": mm,
        "L0.attn.o": lin_mk_mn(32, 32, 256),
        "L0.attn.residual": (0, 0, 0),
        "L0.ffn.norm": ln(4),
        "L0.ffn.up": lin_mk_mn(4 * 8, 4 * 16, 4 * 8 * 16),  # 682.53 + 4505.95 = 5188.47 B
        "L0.ffn.act": (c["c_gelu"] * 64, 25, c["k_gelu"] * 64),  # 3427.8 * 64 = 219,379.2 B
        "L0.ffn.down": lin_mk_mn(4 * 16, 4 * 8, 4 * 16 * 8),  # 1365.06 + 2252.97 = 3618.03 B
        "L0.ffn.residual": (0, 0, 0),
        "head.norm": ln(1),  # 8105.36 B
        "head.lm": lin_mk_mn(1 * 8, 1 * 10, 1 * 8 * 10),  # 170.63 + 704.05 = 874.69 B
        "head.argmax": (172 * 10, 8 * math.log2(10), 0),  # 1720 B, 26.58 rounds
    }


def test_aero_table_per_op_by_hand(tmp_path):
    table = load_table("aero-secretflow")
    fit = table.raw["fit"]
    c = {"c_he_call": 0.0, "k_he_call": 0.0, "k_softmax": 0.0, "k_softmax_call": 0.0, "k_layernorm": 0.0,
         "k_gelu": 0.0, **fit["coefficients"]}
    net = table.network
    # the default network is the one the fit found
    assert (net.bandwidth_bps, net.rtt_s) == (fit["effective_network"]["bandwidth_bps"],
                                              fit["effective_network"]["rtt_s"])
    est = estimate(load_spec(tiny_spec(tmp_path)), table=table)
    rows, expected = by_op(est), aero_tiny(c)
    assert list(rows) == list(expected)
    for op, (comm, rounds, compute) in expected.items():
        row = rows[op]
        assert row["comm_bytes"] == pytest.approx(comm, rel=1e-9, abs=1e-9), op
        assert row["rounds"] == pytest.approx(rounds, rel=1e-12), op
        assert row["compute_s"] == pytest.approx(compute, rel=1e-9, abs=1e-15), op
        latency = compute + 8 * comm / net.bandwidth_bps + rounds * net.rtt_s
        assert row["latency_s"] == pytest.approx(latency, rel=1e-9), op
    # rounds by hand: 3 (embedding) + 30 + 4*3 + 3 + 1 + 42 + 3 + 30 + 3 + 25 + 3 + 30 + 3 + 8 log2 10
    assert est.totals["rounds"] == pytest.approx(188 + 8 * math.log2(10))
    assert est.totals["comm_bytes"] == pytest.approx(sum(v[0] for v in expected.values()), rel=1e-12)


def test_aero_table_prices_every_gpt2_and_pythia_op():
    table = load_table("aero-secretflow")
    for path in sorted(SPECS.glob("gpt2_*.yaml")) + [SPECS / "pythia_70m.yaml"]:
        est = estimate(load_spec(path, context=8), table=table)
        assert est.uncosted == [], path
        assert all(row[c] is not None and row[c] >= 0 for row in est.ops for c in COST_COLUMNS), path


def test_shipped_tables_load():
    assert "aero-secretflow" in list_tables()
    for name in list_tables("mpc"):
        table = load_table(name)
        assert table.entries and all(e.source and e.grade for e in table.entries.values())


# ---- networks --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, bandwidth_bps, rtt_s", [
    ("lan", 3e9, 0.8e-3), ("wan", 200e6, 40e-3), ("wan-aero", 100e6, 80e-3),
])
def test_network_presets(name, bandwidth_bps, rtt_s):
    net = load_networks()[name]
    assert (net.bandwidth_bps, net.rtt_s) == pytest.approx((bandwidth_bps, rtt_s), rel=1e-12)
    assert net.source
    assert resolve_network(name) == net


def test_every_preset_has_a_source():
    assert all(net.source and net.bandwidth_bps > 0 and net.rtt_s >= 0 for net in load_networks().values())


def test_latency_model_by_hand():
    # 0.5 s compute + 8 * 1000 B / 8 Mbit/s = 1 ms + 3 rounds * 10 ms = 0.531 s
    assert Network("x", 8e6, 0.01).latency_s(1000, 3, 0.5) == pytest.approx(0.531, rel=1e-12)


def test_resolve_network_overrides(tmp_path):
    table = load_table(str(hand_table(tmp_path)))
    assert resolve_network(table=table) == table.network
    assert resolve_network("table", table=table) == table.network
    wan = resolve_network("wan", rtt_s=0.01)
    assert (wan.name, wan.bandwidth_bps, wan.rtt_s) == ("wan (custom)", 200e6, 0.01)
    own = resolve_network(None, bandwidth_bps=1e9, table=table)  # the table's RTT is kept
    assert (own.bandwidth_bps, own.rtt_s) == (1e9, 0.01)
    custom = resolve_network(None, 5e8, 0.002)
    assert (custom.name, custom.bandwidth_bps, custom.rtt_s) == ("custom", 5e8, 0.002)


@pytest.mark.parametrize("kwargs, needles", [
    ({"name": "wan-aro"}, ["--network", "did you mean 'wan-aero'"]),
    ({"name": "lna"}, ["--network", "did you mean 'lan'"]),
    ({"name": None}, ["--network", "--bandwidth and --rtt"]),  # no table, so no default
    ({"name": None, "bandwidth_bps": 1e9}, ["--network"]),
    ({"name": "lan", "bandwidth_bps": 0}, ["--bandwidth", "positive"]),
    ({"name": "lan", "rtt_s": -1}, ["--rtt"]),
])
def test_resolve_network_errors(kwargs, needles):
    with pytest.raises(InputError) as err:
        resolve_network(**kwargs)
    line = str(err.value)
    assert "\n" not in line and all(n in line for n in needles), line


def test_table_network_by_preset_name(tmp_path):
    table = load_table(str(hand_table(tmp_path, network="wan-aero")))
    assert table.network == load_networks()["wan-aero"]
    assert load_table(str(hand_table(tmp_path, "none.yaml", network=None))).network is None


SMALL_GPT2 = load_spec(SPECS / "gpt2_sm_ln_g.yaml", ["model.layers=1", "model.vocab_size=100"], 8)
AERO = load_table("aero-secretflow")


@settings(max_examples=30, deadline=None)
@given(bandwidth=st.floats(1e6, 1e11), rtt=st.floats(0, 1), slower_bw=st.floats(1.0, 100.0),
       slower_rtt=st.floats(0, 1))
def test_slower_network_means_more_latency(bandwidth, rtt, slower_bw, slower_rtt):
    fast = estimate(SMALL_GPT2, table=AERO, network=Network("fast", bandwidth, rtt)).totals
    slow = estimate(SMALL_GPT2, table=AERO,
                    network=Network("slow", bandwidth / slower_bw, rtt + slower_rtt)).totals
    assert (slow["comm_bytes"], slow["rounds"]) == (fast["comm_bytes"], fast["rounds"])  # the network changes time
    assert slow["latency_s"] >= fast["latency_s"]
    if slower_bw > 1.0001 or slower_rtt > 1e-6:
        assert slow["latency_s"] > fast["latency_s"]


# ---- missing ops: an error, or with allow_missing uncosted (None), never 0 --------------------------------

TINYLLAMA = SPECS / "tinyllama_1.1b.yaml"


@pytest.mark.parametrize("mul, why", [(None, "not listed"), ({"unknown": "no gated FFN measured"},
                                                              "no gated FFN measured")])
def test_missing_op_is_an_error(tmp_path, mul, why):
    ops = copy.deepcopy(HAND["ops"])
    if mul:
        ops["mul"] = mul
    path = hand_table(tmp_path, ops=ops)
    with pytest.raises(InputError) as err:
        estimate(load_spec(TINYLLAMA, context=8), table=load_table(str(path)))
    line = str(err.value)
    assert "\n" not in line
    assert line.startswith(f"{path}: ops.mul: ")
    assert "(used by L0.ffn.mul)" in line and why in line and "--allow-missing" in line


def test_allow_missing_leaves_costs_none(tmp_path):
    table = load_table(str(hand_table(tmp_path)))
    est = estimate(load_spec(TINYLLAMA, context=8), table=table, allow_missing=True)
    assert est.uncosted == ["mul"]
    mul = [row for row in est.ops if row["kind"] == "mul"]
    assert len(mul) == 22  # one per layer
    assert all(row[c] is None for row in mul for c in (*COST_COLUMNS, "source", "grade"))
    others = [row for row in est.ops if row["kind"] != "mul"]
    assert all(row[c] is not None for row in others for c in COST_COLUMNS)
    assert est.totals["comm_bytes"] == pytest.approx(sum(row["comm_bytes"] for row in others))


def test_aero_table_lists_every_missing_llama_kind():
    est = estimate(load_spec(TINYLLAMA, context=8), table=AERO, allow_missing=True)
    assert est.uncosted == ["rmsnorm", "silu", "mul"]  # in order of first use


# ---- bad table files: one line each, naming the file and the key ----------------------------------------------

def gelu(**changes):
    def change(data):
        data["ops"]["gelu"].update(changes)
        for key in [k for k, v in changes.items() if v is None]:
            del data["ops"]["gelu"][key]
    return change


def top(key, value):
    def change(data):
        if value is None:
            del data[key]
        else:
            data[key] = value
    return change


def rename_op(old, new):
    def change(data):
        data["ops"][new] = data["ops"].pop(old)
    return change


BAD_TABLES = [
    pytest.param(rename_op("gelu", "gleu"), ["ops.gleu", "an op kind", "did you mean 'gelu'"], id="unknown-kind"),
    pytest.param(gelu(comm_bytes="200 * elements +"), ["ops.gelu.comm_bytes", "a formula"], id="syntax"),
    pytest.param(gelu(comm_bytes="exp(elements)"), ["ops.gelu.comm_bytes", "unknown function"], id="function"),
    pytest.param(gelu(comm_bytes="elements.real"), ["ops.gelu.comm_bytes", "Attribute"], id="attribute"),
    pytest.param(gelu(comm_bytes="'200'"), ["ops.gelu.comm_bytes", "only numbers"], id="string"),
    pytest.param(gelu(rounds="lambda: 4"), ["ops.gelu.rounds", "Lambda"], id="lambda"),
    pytest.param(gelu(comm_bytes="200 * tokens"), ["ops.gelu.comm_bytes", "'tokens'", "cols, elements, rows"],
                 id="unknown-symbol"),
    pytest.param(gelu(compute_s=None), ["ops.gelu.compute_s", "a formula"], id="missing-metric"),
    pytest.param(gelu(grade=None), ["ops.gelu.grade", "measured, published, derived, estimate"],
                 id="missing-grade"),
    pytest.param(gelu(grade="guess"), ["ops.gelu.grade", "'guess'"], id="bad-grade"),
    pytest.param(gelu(source=None), ["ops.gelu.source"], id="missing-source"),
    pytest.param(gelu(source=""), ["ops.gelu.source"], id="empty-source"),
    pytest.param(top("netwrok", "lan"), ["netwrok", "did you mean 'network'"], id="unknown-top-key"),
    pytest.param(top("ops", None), ["ops", "this key"], id="no-ops"),
    pytest.param(top("constants", {"w": "eight"}), ["constants", "numbers"], id="constants"),
    pytest.param(top("network", {"bandwidth_bps": 1e9}), ["network", "rtt_s"], id="network-mapping"),
    pytest.param(lambda d: d["ops"].update(gelu=5), ["ops.gelu", "a mapping"], id="entry-not-mapping"),
]


@pytest.mark.parametrize("change, needles", BAD_TABLES)
def test_bad_table(tmp_path, change, needles):
    data = copy.deepcopy(HAND)
    change(data)
    path = write_yaml(tmp_path / "bad.yaml", data)
    with pytest.raises(InputError) as err:
        load_table(str(path))
    line = str(err.value)
    assert "\n" not in line and line.startswith(f"{path}: ")
    assert all(n in line for n in needles), line
    # the CLI: one line on stderr, exit code 2, no traceback
    assert_one_line_error(invoke("estimate", tiny_spec(tmp_path), "-p", path), path, needles[0])


def test_bad_network_preset_in_table_names_the_file(tmp_path):
    path = hand_table(tmp_path, network="lan2")
    with pytest.raises(InputError) as err:
        load_table(str(path))
    assert str(err.value).startswith(f"{path}: network")


def test_unknown_table_name():
    assert_one_line_error(invoke("estimate", SPECS / "gpt2_sm.yaml", "-p", "aero-secretflw"), "--protocol",
                          "aero-secretflow")


def test_role_symbols_follow_the_graph():
    # the graph names each projection's role; formulas see 0/1 flags: qkv (Q, K, V), input_reused (K, V, gate:
    # the input the projection before them read), scores (Q K^T, not A V); a bare op has all flags 0
    from pidse.model.graph import trace
    from pidse.ops import formula_symbols, shape_values
    from pidse.spec.load import load_spec

    nodes, _ = trace(load_spec("tinyllama_1.1b", ["model.layers=1"], 4))
    flags = {name.split(".", 1)[1]: shape_values(n["kind"], n["shape"], n["attrs"])
             for name, n in nodes.items() if n["kind"] in ("linear", "matmul")}
    assert (flags["attn.q"]["qkv"], flags["attn.q"]["input_reused"]) == (1, 0)
    assert (flags["attn.k"]["qkv"], flags["attn.k"]["input_reused"]) == (1, 1)
    assert (flags["attn.o"]["qkv"], flags["ffn.gate"]["input_reused"], flags["ffn.up"]["input_reused"]) == (0, 1, 0)
    assert (flags["attn.scores"]["scores"], flags["attn.context"]["scores"]) == (1, 0)
    assert shape_values("linear", {"m": 1, "k": 2, "n": 3}) == {"m": 1, "k": 2, "n": 3, "elements": 3, "qkv": 0,
                                                                "input_reused": 0}
    assert {"qkv", "input_reused"} <= formula_symbols("linear") and "scores" in formula_symbols("matmul")
