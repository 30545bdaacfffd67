"""Generations: decode steps priced as templates (pidse/steps.py) give exactly the numbers of pricing every step
as its own rows (`estimate(..., per_step=True)`, the graph as it was built before templates): totals, every
breakdown, the inventory, the JSON and text output, and every per-step row the templates stand for. Small sizes,
under every shipped table (MPC and CKKS), with a sliding window the cache grows past, token pruning, experts and a
batch; then the sweep's values, `--by step` and the API's by("step")."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import invoke
from pidse.cost.registry import list_tables, load_table
from pidse.model.estimate import counted, estimate
from pidse.model.pieces import Pieces, one_layer, with_depth
from pidse.report.render import summary, to_json, to_table
from pidse.spec.load import load_spec

TABLES = list_tables()
# name -> (spec, overrides): each has decode steps whose sizes differ from step to step
VARIANTS = {
    # context 6, window 8: the decode steps see 7, 8, 8, 8 keys (the window fills at step 2)
    "window": ("gpt2_sm_ln_g", ["model.layers=2", "inference.context=6", "inference.generate=5",
                                "attention.window=8"]),
    # layer 0 keeps 8 prompt tokens, layers 1-2 ceil(0.5 x 8) = 4: their decode steps read a pruned cache
    "pruned": ("gpt2_sm_ln_g", ["model.layers=3", "inference.context=8", "inference.generate=4",
                                "pruning.schedule=[{after: 1, keep: 0.5}]"]),
    "experts_batch": ("tinyllama_1.1b", ["model.layers=2", "inference.context=8", "inference.generate=3",
                                         "inference.batch=2", "ffn.experts=4", "ffn.top_k=2"]),
    "linear_bidirectional": ("gpt2_sm_ln_g", ["model.layers=2", "inference.context=8", "inference.generate=3",
                                              "attention.kind=linear", "attention.causal=false"]),
}


def assert_same_numbers(est, ref):
    """`est` (templates) and `ref` (one row per op per step) agree exactly, output included."""
    assert est.totals == ref.totals
    for by in ("kind", "layer", "block", "step"):
        assert est.breakdown(by) == ref.breakdown(by), by
    assert (est.nonlinear_ops, est.head_nonlinear_ops) == (ref.nonlinear_ops, ref.head_nonlinear_ops)
    assert est.flops_by_block == ref.flops_by_block
    assert est.uncosted == ref.uncosted
    rows, edges = est.per_step()
    assert edges == ref.edges
    assert [r["op"] for r in rows] == [r["op"] for r in ref.ops]
    for mine, theirs in zip(rows, ref.ops):
        assert mine == theirs, mine["op"]
    without_ops = (lambda data: {k: v for k, v in data.items() if k != "ops"})  # noqa: E731
    assert without_ops(summary(est)) == without_ops(summary(ref))
    assert without_ops(json.loads(to_json(est, "layer"))) == without_ops(json.loads(to_json(ref, "layer")))
    assert to_table(est, "kind") == to_table(ref, "kind")


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("table", [None] + TABLES)
def test_templates_price_as_every_step(table, variant):
    name, overrides = VARIANTS[variant]
    spec = load_spec(name, overrides)
    priced = {} if table is None else {"table": load_table(table), "allow_missing": True}
    est = estimate(spec, **priced)
    ref = estimate(spec, per_step=True, **priced)
    assert len(est.ops) < len(ref.ops)
    assert_same_numbers(est, ref)


@pytest.mark.parametrize("table", ["puma-aby3", "bolt", "sigma-fss", "bumblebee", "secformer"])
def test_templates_at_a_real_size(table):
    """Llama-2-7B's layer at 128 prompt tokens and 64 generated: KV lengths 129..191, every formula on arrays."""
    spec = load_spec("llama2_7b", ["model.layers=1", "inference.generate=64"], 128)
    assert_same_numbers(estimate(spec, table=load_table(table), allow_missing=True),
                        estimate(spec, table=load_table(table), allow_missing=True, per_step=True))


def test_templates_keep_memory_flat_in_generated_tokens():
    """The graph holds the prefill and one template per op whatever the generation: only the per-step arrays of
    the sizes and costs that grow with the KV cache get longer."""
    sizes = {}
    for generate in (2, 300):
        est = estimate(load_spec("gpt2_sm_ln_g", ["model.layers=1", f"inference.generate={generate}"], 8),
                       table=load_table("puma-aby3"))
        sizes[generate] = len(est.ops)
        scores = next(r for r in est.ops if r["op"] == "decode.L0.attn.scores")
        assert (scores["step"], scores["steps"]) == (1, generate - 1)
        if generate == 300:  # keys 9..307 at steps 1..299; a linear layer costs the same at every step
            assert scores["shape"]["n"].tolist() == list(range(9, 308))
            assert len(scores["per_step"]["comm_bytes"]) == 299
            linear = next(r for r in est.ops if r["op"] == "decode.L0.attn.q")
            assert isinstance(linear["per_step"]["comm_bytes"], float)
    assert sizes[2] == sizes[300]


class PerStepPieces(Pieces):
    """Pieces whose graphs have one row per op per decode step: the sweep as it was before templates."""

    def one(self, pruned: bool = False):
        return counted(one_layer(self.spec, pruned), self.convention, per_step=True)

    def full(self, layers: int, prune_last: int):
        return counted(with_depth(self.spec, layers, prune_last), self.convention, per_step=True)


@pytest.mark.parametrize("table, overrides", [
    ("puma-aby3", []),
    ("bolt", ["pruning.schedule=[{after: 1, keep: 0.5}]"]),  # priced whole at each depth
    ("ckks-tenseal-cpu", []),  # the walk goes through every decode step
])
def test_sweep_values_of_a_generation_as_every_step(table, overrides):
    from pidse.cost.registry import family_of
    from pidse.search.sweep import COLUMNS

    spec = load_spec("gpt2_sm_ln_g", ["inference.generate=4", "model.max_context=64", *overrides], 8)
    loaded = load_table(table)
    depth = [(1, 0), (2, 0), (2, 1), (3, 1)]
    values = family_of(loaded).depth_values(Pieces(spec), loaded, depth, COLUMNS)
    expected = family_of(loaded).depth_values(PerStepPieces(spec), loaded, depth, COLUMNS)
    assert np.array_equal(values, expected)


# ---- the template arithmetic on its own (pidse/steps.py) ----------------------------------------------------

def test_ordered_sum_adds_in_the_per_step_rows_order():
    """Float sums in another order differ in the last digits; ordered_sum adds the prefill, then step 1's ops,
    step 2's, ... as one row per op per step did (an uncosted step: skipped)."""
    from pidse.steps import fold, ordered_sum

    rng = np.random.default_rng(0)
    prefill = [{"c": float(v)} for v in rng.random(5) * 1e3]
    templates = []
    for i in range(4):
        row = {"op": f"decode.op{i}", "step": 1, "steps": 7}
        values = rng.random(7) * 10.0 ** rng.integers(-3, 9)
        if i == 2:  # one value for every step
            values = float(values[0])
        if i == 3:  # step 4 uncosted (a CKKS primitive missing with --allow-missing)
            values = np.array([*values[:3], None, *values[4:]], dtype=object)
        row.update(fold(row, {"c": values}))
        templates.append(row)
    expected = 0
    for row in prefill:
        expected = expected + row["c"]
    for j in range(7):
        for row in templates:
            value = row["per_step"]["c"]
            value = value[j] if isinstance(value, np.ndarray) else value
            if value is not None:
                expected = expected + float(value)
    assert ordered_sum(prefill + templates, "c") == expected
    assert templates[3]["c"] is None  # the template itself: unknown, never a partial sum


def test_expand_gives_each_step_its_values():
    from pidse.steps import expand

    template = {"op": "decode.L0.attn.softmax", "kind": "softmax", "stage": "decode", "step": 1, "steps": 3,
                "shape": {"batch": 2, "rows": 1, "cols": np.array([5, 6, 6])}, "attrs": {"window": 6},
                "comm_bytes": 33.0, "grade": "estimate",
                "per_step": {"comm_bytes": np.array([10.0, 11.0, 12.0]), "level_out": np.array([3, 2, 3]),
                             "grade": np.array(["measured", "estimate", "measured"], dtype=object)}}
    token = {"op": "decode.head.argmax", "kind": "argmax", "stage": "decode", "step": 1, "steps": 3,
             "shape": {"rows": 1, "cols": 10}, "attrs": {}, "per_step": {}}
    prefill = {"op": "head.argmax", "kind": "argmax", "stage": "prefill", "step": 0, "shape": {}, "attrs": {}}
    edges = [("L0.attn.k", "decode.L0.attn.softmax"), ("decode.head.argmax", "decode.L0.attn.softmax"),
             ("decode.L0.attn.softmax", "decode.head.argmax")]
    rows, flat_edges = expand([prefill, template, token], edges)
    assert [r["op"] for r in rows] == ["head.argmax", "step1.L0.attn.softmax", "step1.head.argmax",
                                       "step2.L0.attn.softmax", "step2.head.argmax", "step3.L0.attn.softmax",
                                       "step3.head.argmax"]
    second = rows[3]
    assert (second["step"], second["shape"]["cols"], second["comm_bytes"], second["level_out"], second["grade"]) == \
        (2, 6, 11.0, 2, "estimate")
    assert type(second["shape"]["cols"]) is int and type(second["comm_bytes"]) is float
    assert "steps" not in second and "per_step" not in second
    # the cache edge from the prefill at every step; the token edge (a back edge) from the step before
    assert flat_edges[:3] == [("L0.attn.k", "step1.L0.attn.softmax"), ("head.argmax", "step1.L0.attn.softmax"),
                              ("step1.L0.attn.softmax", "step1.head.argmax")]
    assert ("step1.head.argmax", "step2.L0.attn.softmax") in flat_edges


# ---- per-step rows only when asked: --by step, by("step") -----------------------------------------------------

def test_cli_by_step_table_json_and_csv():
    spec = ["gpt2_sm_ln_g", "-T", "8", "--set", "model.layers=1", "--set", "inference.generate=3", "-p", "puma-aby3"]
    ref = estimate(load_spec("gpt2_sm_ln_g", ["model.layers=1", "inference.generate=3"], 8),
                   table=load_table("puma-aby3"), per_step=True)
    expected = ref.breakdown("step")
    assert [r["step"] for r in expected] == [0, 1, 2]

    text = invoke("estimate", *spec, "--by", "step")
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("step"))
    body = [line.split() for line in lines[header + 2:header + 5]]
    assert [(cells[0], cells[1]) for cells in body] == [("0", str(expected[0]["ops"])), ("1", "20"), ("2", "20")]

    data = json.loads(invoke("estimate", *spec, "--by", "step", "--format", "json").stdout)
    assert data["breakdown"]["by"] == "step"
    rows = data["breakdown"]["rows"]
    assert [(r["step"], r["ops"], r["flops"], r["comm_bytes"]) for r in rows] == \
        [(r["step"], r["ops"], r["flops"], r["comm_bytes"]) for r in expected]
    assert sum(r["flops"] for r in rows) == data["totals"]["flops"]
    # the op rows: the prefill's, then one template per op standing for steps 1 and 2
    template = next(r for r in data["ops"] if r["op"] == "decode.L0.attn.scores")
    assert (template["stage"], template["step"], template["steps"], template["shape"]["n"]) == \
        ("decode", 1, 2, "9..10")
    assert template["macs"] == 12 * 64 * (9 + 10)  # 12 heads x 1 query x 64 dims x keys, summed over the steps

    csv_lines = invoke("estimate", *spec, "--by", "step", "--format", "csv").stdout.splitlines()
    assert csv_lines[0].startswith("step,ops,params,macs,flops,comm_bytes") and len(csv_lines) == 4
    op_csv = invoke("estimate", *spec, "--format", "csv").stdout.splitlines()
    assert op_csv[0].startswith("op,kind,layer,block,stage,step,steps,")
    assert any(line.startswith("decode.L0.attn.scores,matmul,0,attention,decode,1,2,") for line in op_csv)


def test_api_by_step():
    import pidse

    r = pidse.estimate("gpt2_sm_ln_g", protocol="puma-aby3", context=8,
                       overrides={"model.layers": 1, "inference.generate": 3})
    steps = r.by("step")
    assert steps["step"].tolist() == [0, 1, 2]
    assert steps["flops"].sum() == r.totals["flops"].iloc[0]
    assert r.ops["op"].str.startswith("decode.").sum() == 20  # one template per op
