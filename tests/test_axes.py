"""The literature's architecture axes on real models: sliding windows at long context, the sweep's depth pricing
of pruned (non-uniform) structures against full estimates, and the closed forms of every axis against the
numeric estimator. Tiny hand derivations of each axis's ops are in test_graph_counts.py (AXES)."""
from __future__ import annotations

import json

import pytest
import yaml

from conftest import SPECS, assert_one_line_error, invoke, write_yaml
from pidse.cost.registry import load_table
from pidse.cost.setting import resolve_network
from pidse.model.estimate import estimate
from pidse.model.symbolic import closed_forms, numbers
from pidse.ops import OP_KINDS, shape_values
from pidse.search.space import SPACES_DIR, load_space
from pidse.search.sweep import KIND_METRICS, METRICS, sweep, with_depth
from pidse.spec.load import load_spec


def rows_by_name(est) -> dict:
    return {r["op"]: r for r in est.per_step()[0]}


def test_mistral_window_sizes_scores_by_the_window_at_8k():
    """Mistral-7B at 8,192 tokens with its 4,096-token window: every layer's QK^T is 32 heads of
    (8192 x 128)(128 x 4096), its softmax rows 4,096 wide, not 8,192."""
    windowed = estimate(load_spec("mistral_7b", context=8192))
    full = estimate(load_spec("mistral_7b", ["attention.window=null"], context=8192))
    w, f = rows_by_name(windowed), rows_by_name(full)
    assert w["L0.attn.scores"]["shape"] == {"batch": 32, "m": 8192, "k": 128, "n": 4096}
    assert f["L0.attn.scores"]["shape"] == {"batch": 32, "m": 8192, "k": 128, "n": 8192}
    assert w["L0.attn.context"]["shape"] == {"batch": 32, "m": 8192, "k": 4096, "n": 128}
    assert windowed.nonlinear_ops == "SM:1024xR8192x4096 RMS:64xR8192x4096 SiLU:32xR8192x14336"
    # Scores the window keeps per head: query i sees min(i + 1, 4096): 1 + ... + 4095 + 4097 x 4096
    # = 8,386,560 + 16,781,312 = 25,167,872; a causal mask alone keeps 8192^2 - 8192 x 8191 / 2 = 33,558,528.
    softmax = w["L0.attn.softmax"]
    assert shape_values("softmax", softmax["shape"], softmax["attrs"])["kept"] == 32 * 25_167_872
    softmax = f["L0.attn.softmax"]
    assert shape_values("softmax", softmax["shape"], softmax["attrs"])["kept"] == 32 * 33_558_528
    # attention matmuls: 2 x 32 x 8192 x 128 x 4096 MACs per layer instead of 2 x 32 x 8192 x 128 x 8192
    matmul = lambda est: sum(r["macs"] for r in est.ops if r["kind"] == "matmul")  # noqa: E731
    assert matmul(windowed) == 32 * 2 * 32 * 8192 * 128 * 4096
    assert matmul(full) == 2 * matmul(windowed)
    # below the window nothing changes
    short = estimate(load_spec("mistral_7b", context=4096))
    assert short.totals == estimate(load_spec("mistral_7b", ["attention.window=null"], context=4096)).totals


def test_mistral_decode_past_the_window_reads_only_the_window():
    est = estimate(load_spec("mistral_7b", ["inference.generate=3", "model.layers=1"], context=4095))
    r = rows_by_name(est)
    # prompt 4,095 < 4,096: no effect in prefill; decode steps see 4,096 and then min(4,097, 4,096) = 4,096 keys
    assert r["L0.attn.scores"]["shape"]["n"] == 4095
    assert r["step1.L0.attn.scores"]["shape"]["n"] == 4096
    assert r["step2.L0.attn.scores"]["shape"]["n"] == 4096


AXES = {
    "activation": {"G": {}, "Quad": {"ffn.activation": "quad"}, "Poly4": {"ffn.activation": "poly", "ffn.degree": 4}},
    "attention": {"SM": {}, "2Quad": {"attention.kind": "2quad"}, "2ReLU": {"attention.kind": "relu"}},
    "tokens": {"all": {}, "W.E.": {"pruning.schedule": [{"after": 1, "keep": 0.5}]},
               "threshold": {"pruning.method": "threshold", "pruning.schedule": [{"after": 2, "keep": 0.25}]}},
}


@pytest.mark.parametrize("layers, prune", [(1, 0), (2, 1), (3, 0), (3, 3)])
def test_sweep_prices_pruned_structures_depth_by_depth(tmp_path, layers, prune):
    """Pruned structures are not L equal layers: the sweep prices them whole at each depth. Every row (uniform
    or pruned) equals the full estimate of its spec at that depth, totals and per op kind."""
    data = yaml.safe_load((SPACES_DIR / "aero.yaml").read_text())
    data.update(base=str((SPECS / "gpt2_sm_ln_g.yaml").resolve()), axes=AXES, protocols=["crypten"],
                ranges={"layers": [1, 2, 3], "prune_last": "0..layers"},
                contexts={64: {}})
    space = load_space(str(write_yaml(tmp_path / "axes.yaml", data)))
    table = load_table("crypten")
    net = resolve_network(table=table)
    df = sweep(space, [64])
    structures, skipped = space.structures(64)
    assert len(structures) == 27 and skipped == 0
    rows = df[(df["layers"] == layers) & (df["prune_last"] == prune)]
    assert len(rows) == 27
    for _, row in rows.iterrows():
        full = estimate(with_depth(structures[row["structure"]].spec, layers, prune), table=table, network=net)
        for metric in METRICS + ("latency_s",):
            assert row[metric] == pytest.approx(full.totals[metric], rel=1e-9, abs=1e-12), metric
        by_kind = {r["kind"]: r for r in full.breakdown("kind")}
        for metric in KIND_METRICS:
            for kind in OP_KINDS:
                expected = by_kind[kind][metric] if kind in by_kind else 0.0
                assert row.get(f"{metric}:{kind}", 0.0) == pytest.approx(expected, rel=1e-9, abs=1e-12), (metric, kind)


@pytest.mark.parametrize("overrides", [
    ["ffn.activation=quad", "attention.kind=2quad"],
    ["ffn.activation=poly", "ffn.degree=5", "attention.kind=relu"],
    ["attention.kind=linear"],
    ["attention.kind=linear", "attention.causal=false"],
    ["attention.window=48"],
    ["inference.batch=4"],
    ["ffn.experts=4", "ffn.top_k=2"],
], ids=["quad-2quad", "poly5-2relu", "linear", "linear-bidirectional", "window", "batch", "moe"])
def test_closed_forms_follow_every_axis(overrides):
    """The closed forms run the same builder on symbols: substituted, they equal the numeric estimate."""
    spec = load_spec(SPECS / "gpt2_sm_ln_g.yaml", overrides, context=64)
    table = load_table("crypten")
    forms = closed_forms(spec, table)["total"]
    numeric = estimate(spec, table=table, network=resolve_network(table=table)).totals
    values = numbers(spec)
    for metric, column in (("params", "params"), ("flops", "flops"), ("comm", "comm_bytes"),
                           ("rounds", "rounds")):
        assert float(forms[metric].subs(values)) == pytest.approx(numeric[column], rel=1e-9), metric


def test_closed_forms_refuse_token_pruning():
    spec = load_spec(SPECS / "bert_base.yaml", ["pruning.schedule=[{after: 1, keep: 0.5}]"])
    result = invoke("formula", SPECS / "bert_base.yaml", "-p", "crypten", "--set",
                    "pruning.schedule=[{after: 1, keep: 0.5}]")
    assert_one_line_error(result, "pruning.schedule", "no token pruning in closed forms")
    assert spec.pruning.schedule  # the spec itself is valid: `pidse estimate` prices it


def test_estimate_prices_the_axes_from_the_command_line(tmp_path):
    result = invoke("estimate", SPECS / "bert_base.yaml", "-p", "crypten", "--set", "ffn.activation=quad",
                    "--set", "attention.kind=2quad", "--set", "pruning.schedule=[{after: 1, keep: 0.5}]",
                    "--by", "kind", "--format", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    kinds = {row["kind"] for row in out["breakdown"]["rows"]}
    assert {"poly", "power_softmax", "prune"} <= kinds
    assert "2Quad:12xR128x128 2Quad:132xR64x64" in out["nonlinear_ops"]


def test_shipped_space_adds_quad_2quad_and_word_elimination_to_aero():
    """arch_specs/spaces/aero_plus.yaml: AERO's axes x MPCFormer's Quad/2Quad x BOLT's word elimination. 2 norms x 3
    attentions x 2 entropy settings x 2 token choices x (4 activations x standard/scaled + the fused identity FFN)
    = 24 x 9 = 216 valid structures of 288 combinations."""
    space = load_space("aero_plus")
    structures, skipped = space.structures(128)
    assert (len(structures), skipped) == (216, 72)
    kinds = {(s.spec.attention.kind, s.spec.ffn.activation, bool(s.spec.pruning.schedule)) for s in structures}
    assert ("2quad", "quad", True) in kinds and ("softmax", "gelu", False) in kinds
