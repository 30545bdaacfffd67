"""CKKS backend: depth accounting by hand at tiny sizes, OpenFHE's degree -> depth table, bootstrap placement
properties, the Power-Softmax paper's published numbers as targets (App. G shares, Table 5), the sweep's exact
per-depth values, the CLI, and the TenSEAL engine when it is installed."""
from __future__ import annotations

import copy
import json
import math

import pytest
import yaml

from conftest import SPECS, TINY_CKKS, assert_one_line_error, invoke, write_yaml
from pidse.cost.registry import load_table
from pidse.cost.setting import resolve_network
from pidse.model.estimate import estimate
from pidse.cost.ckks.price import op_alone
from pidse.cost.ckks.ops import Step, expand, poly_cmul, poly_depth, split_deep
from pidse.cost.ckks.table import PRIMITIVES
from pidse.spec.load import load_spec

GPU = "ckks-powersoftmax-gpu"
PSM = SPECS / "pythia_70m_psm.yaml"

# TINY_CKKS (conftest): every primitive costs 1 s, so an op's compute_s is its number of calls. 16 slots; a fresh
# ciphertext has 6 levels, a bootstrapped one 4; ciphertext bytes = 2 x 32 x (60 + 40 x level) / 8.


@pytest.fixture
def tiny_ckks(tmp_path):
    def make(**changes):
        data = copy.deepcopy(TINY_CKKS)
        data.update(changes)
        return load_table(str(write_yaml(tmp_path / "tiny-ckks.yaml", data)))
    return make


def by_op(est) -> dict:
    return {r["op"]: r for r in est.per_step()[0]}


# ---- depth accounting by hand --------------------------------------------------------------------------------

def test_tiny_layer_levels_and_bootstraps_by_hand(tiny_file, tiny_ckks):
    """One layer of the tiny model (H=2, d=8, d_ff=16, T=4), no norms, Power-Softmax p=2, GELU degree 3.
    Activations are 4 x 8 = 32 values: 2 ciphertexts of 16 slots; the FFN's 4 x 16: 4; the scores 2 x 4 x 4: 2.
      embed.tokens     client's input, fresh                                               level 6
      embed.positions  plaintext add (0 levels)                                                  6
      attn.q/k/v       plaintext weights: 1 level each                                           5
      attn.scores      Q K^T, one product: 1                                                     4
      attn.scale       1/sqrt(d_h) folded into the weights: 0                                    4
      attn.softmax     power x^2: 1 -> 3; row sum (additions): 0 -> 3 on 1 compact ciphertext (2 keys per
                       ciphertext x 2 heads x 4 queries = 16 slots); Goldschmidt, 1 iteration: 1 + 1 = 2
                       -> 1; normalise (x^2 at 3, inverse at 1): 1 -> 0. Its own longest path: 1 + 2 + 1 = 4
      attn.context     A.V needs 1 level but the probabilities are at 0: bootstrap them (the normalise step
                       has two inputs, so no ancestor can stand in): 2 ciphertexts -> 4, then 1 -> 3
      attn.o           2;  attn.residual: min(6, 2) = 2
      ffn.up           1 (4 ciphertexts)
      ffn.act          degree 3 takes 4 levels (OpenFHE) but up is at 1: bootstrap. Its parent, the residual
                       stream (2 ciphertexts), would leave 4 - 1 = 3 < 4 levels, too few: so up itself (4) -> 4,
                       then 4 -> 0
      ffn.down         needs 1, GELU's output is at 0; its parent `up` was bootstrapped already, so GELU's
                       output (4 ciphertexts) -> 4, then 1 -> 3;  ffn.residual: min(2, 3) = 2
      head.lm          1 (1 ciphertext of 10 logits); argmax on the client
    Bootstraps: 2 + 4 + 4 = 10 ciphertexts. Multiplicative depth of the layer (bootstraps ignored): q 1,
    scores 2, softmax 6, context 7, o 8, up 9, GELU 13, down 14."""
    spec = load_spec(tiny_file(model={"layers": 1}, norm={"kind": "none"},
                               attention={"kind": "power_softmax", "power": 2}))
    est = estimate(spec, table=tiny_ckks())
    ops = by_op(est)
    levels = {op: r["level_out"] for op, r in ops.items() if r["level_out"] is not None}
    assert levels == {"embed.tokens": 6, "embed.positions": 6, "L0.attn.q": 5, "L0.attn.k": 5, "L0.attn.v": 5,
                      "L0.attn.scores": 4, "L0.attn.scale": 4, "L0.attn.softmax": 0, "L0.attn.context": 3,
                      "L0.attn.o": 2, "L0.attn.residual": 2, "L0.ffn.up": 1, "L0.ffn.act": 0, "L0.ffn.down": 3,
                      "L0.ffn.residual": 2, "head.lm": 1}
    assert {op: r["bootstraps"] for op, r in ops.items() if r["bootstraps"]} == \
        {"L0.attn.context": 2, "L0.ffn.act": 4, "L0.ffn.down": 4}
    assert ops["L0.attn.softmax"]["levels"] == 4 and ops["L0.ffn.act"]["levels"] == 4
    assert [layer["depth"] for layer in est.details.layers] == [14]
    assert est.details.layers[0]["positions"] == ["L0.attn.softmax.normalise (2 ct)", "L0.ffn.up.matmul (4 ct)",
                                             "L0.ffn.act.poly (4 ct)"]
    # Upload: 2 fresh ciphertexts of 2 x 32 x (60 + 6 x 40) / 8 = 2,400 B; download: 1 at level 0, 480 B.
    assert ops["embed.tokens"]["comm_bytes"] == 4800 and ops["head.argmax"]["comm_bytes"] == 480
    assert est.totals["rounds"] == 1


def test_tiny_linear_counts_by_hand(tiny_file, tiny_ckks):
    """attn.q: 4 tokens x 8 -> 8 with 16 slots. Products: 4 x 8 x 8 / 16 = 16 (each does 16 MACs), each weight
    diagonal encoded at use, plus 2 bias encodes; rotations: baby steps b = ceil(sqrt(8)) = 3, so 2 per input
    ciphertext x 2 inputs = 4, and ceil(16 / 3) = 6 giant steps: 10; adds 16 + 2 bias; one rescale per output
    ciphertext: 2. Calls: 18 + 16 + 10 + 18 + 2 = 64 at 1 s each."""
    spec = load_spec(tiny_file(model={"layers": 1}, norm={"kind": "none"}))
    q = by_op(estimate(spec, table=tiny_ckks()))["L0.attn.q"]
    assert (q["n_encode"], q["n_pmul"], q["n_rot"], q["n_add"], q["n_rescale"], q["n_cmul"]) == (18, 16, 10, 18, 2, 0)
    assert q["compute_s"] == 64


@pytest.mark.parametrize("method, iterations, degree, depth", [
    # mean 0, variance 1, inverse sqrt (a linear first guess 1 + 2 per Newton iteration), normalise 1
    ("newton", 1, None, 0 + 1 + 3 + 1),
    ("newton", 3, None, 0 + 1 + 7 + 1),
    ("poly", None, 15, 0 + 1 + 6 + 1),  # degree 15: 6 levels (OpenFHE 14-27)
])
def test_layernorm_depth(tiny_ckks, method, iterations, degree, depth):
    settings = {"method": method, **({"iterations": iterations} if iterations else {"degree": degree})}
    table = tiny_ckks(params={**TINY_CKKS["params"], "levels_fresh": 12, "levels_after_bootstrap": 12},
                      ops={"layernorm": settings})
    steps = expand("layernorm", {"rows": 4, "cols": 8}, {}, [2], table)
    longest = {}
    for s in steps:
        longest[s.name] = max([longest[i] for i in s.inputs if i in longest] + [0]) + s.depth
    assert longest["normalise"] == depth


# ---- polynomial depth (OpenFHE's Chebyshev table, he.md) ------------------------------------------------------

@pytest.mark.parametrize("low, high, levels", [(3, 5, 4), (6, 13, 5), (14, 27, 6), (28, 59, 7), (60, 119, 8),
                                               (120, 247, 9), (248, 495, 10)])
def test_polynomial_depth_follows_openfhe(low, high, levels):
    assert poly_depth(low) == poly_depth(high) == levels
    assert poly_depth(low - 1) == levels - 1 or low == 3


def test_polynomial_products():
    # b = ceil(sqrt(d + 1)) baby powers, g = ceil((d + 1) / b) blocks: b - 1 + ceil(log2 g) + g - 1
    assert [poly_cmul(d) for d in (1, 2, 3, 8, 59)] == [0, 1, 2, 2 + 2 + 2, 7 + 3 + 7]


def test_deep_steps_are_split_at_the_budget():
    steps = split_deep([Step("p", ("in0",), 10, 3, {"cmul": 30})], budget=4)
    assert [(s.name, s.depth, s.inputs) for s in steps] == [("p.1", 4, ("in0",)), ("p.2", 3, ("p.1",)),
                                                            ("p", 3, ("p.2",))]
    assert sum(s.counts["cmul"] for s in steps) == 30


# ---- bootstrap placement properties --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["gpt2_sm_ln_g", "pythia_70m_psm", "tinyllama_1.1b", "gpt2_sm_scfuffn"])
def test_walk_never_exceeds_the_budget(name):
    table = load_table(GPU)
    est = estimate(load_spec(SPECS / f"{name}.yaml", ["model.layers=3"], 64), table=table)
    walk = est.details.walk
    assert all(0 <= t.level <= table.params["levels_fresh"] for t in walk.tensors)
    for _, step, tid in walk.steps:
        assert walk.level_in(tid) >= step.depth  # every step had the levels it consumes
        assert step.depth <= table.params["levels_after_bootstrap"]
    assert all(walk.tensors[b.tensor].level == table.params["levels_after_bootstrap"] for b in walk.boots)


def test_bootstraps_grow_with_layers_and_context():
    table = load_table(GPU)
    counts = [estimate(load_spec(PSM, [f"model.layers={L}"]), table=table).totals["bootstraps"] for L in range(1, 7)]
    assert counts == sorted(counts) and counts[-1] > counts[0]
    by_t = [estimate(load_spec(PSM, [], T), table=table).totals["bootstraps"] for T in (64, 256, 1024)]
    assert by_t == sorted(by_t) and by_t[-1] > by_t[0]


def test_unknown_bootstrapping_is_an_error_or_uncosted(tiny_file, tiny_ckks):
    prims = {**TINY_CKKS["primitives"], "bootstrap": {"unknown": "no bootstrapping in this library"}}
    spec = load_spec(tiny_file(model={"layers": 1}, norm={"kind": "none"}))
    with pytest.raises(Exception, match="bootstrapping"):
        estimate(spec, table=tiny_ckks(primitives=prims))
    est = estimate(spec, table=tiny_ckks(primitives=prims), allow_missing=True)
    assert est.uncosted and all(r["compute_s"] is None for r in est.ops if r["bootstraps"])


# ---- the Power-Softmax paper (arXiv 2410.09457), with the published GPU table ---------------------------------

@pytest.fixture(scope="module")
def app_g():
    """Polynomial Pythia-70M at 128 tokens, as App. G ran it."""
    return estimate(load_spec(PSM), table=load_table(GPU))


def test_app_g_bootstrapping_share_by_primitive(app_g):
    """App. G: bootstrapping 33 s of 93 s by primitive, '34%'. The table's bootstrap price is derived from this
    very total, so this checks the derivation, not an independent prediction; the +-10 pp target holds."""
    share = 100 * app_g.details.by_primitive(app_g.ops)["bootstrap"]["seconds"] / app_g.totals["compute_s"]
    assert share == pytest.approx(34, abs=10)
    assert app_g.totals["compute_s"] == pytest.approx(93, rel=0.02)


def test_app_g_linear_layers_share(app_g):
    """App. G by op: plaintext-matrix multiplies 28 s (30%) + ciphertext-matrix multiplies 17 s (18%) = 48%,
    with bootstrapping nodes (19.4%) and adds/rescales/repacking (16%) as their own lines. pidse's linear and
    matmul ops, without their bootstraps, adds and rescales (App. G's other lines), within 10 pp. Not fitted:
    the by-op split is no input of the derivation."""
    linear = sum(r["compute_s"] - r["bootstrap_s"] - r["add_s"] - r["rescale_s"] for r in app_g.ops
                 if r["kind"] in ("linear", "matmul"))
    assert 100 * linear / app_g.totals["compute_s"] == pytest.approx(48, abs=10)


def test_gpu_table_is_the_derivation_of_app_g():
    from pidse.calibrate.ckks import derive
    from pidse.resources import TABLES_DIR

    derived = derive(TABLES_DIR / "templates" / f"{GPU}.yaml", TABLES_DIR / "data" / f"{GPU}.csv")
    shipped = yaml.safe_load((TABLES_DIR / f"{GPU}.yaml").read_text())
    assert {p: v["seconds"] for p, v in derived["primitives"].items()} == \
        {p: v["seconds"] for p, v in shipped["primitives"].items()}


# Table 5: softmax alone, seconds per variant, summed over a model's layers. Shapes: (heads, tokens, layers).
TABLE5 = {"pythia-70m T=1024": ((8, 1024, 6), {"cho": 173.4, "nexus": 83.9, "power": 8.6}),
          "pythia-70m T=128": ((8, 128, 6), {"cho": 7.42, "nexus": 3.6, "power": 2.7}),
          "llama-7b T=128": ((32, 128, 32), {"cho": 84.05, "nexus": 46.1, "power": 16.6})}


@pytest.fixture(scope="module")
def table5():
    """pidse's seconds per variant and shape. Scores arrive at the level the full-model walk gives them in its
    steady state (layer 5 of App. G's run), for every shape: Table 5 times the softmax by itself."""
    from pidse.cost.ckks.table import load_ckks

    table = load_table(GPU)
    level = by_op(estimate(load_spec(PSM), table=table))["L5.attn.scores"]["level_out"]
    out = {}
    for name, ((heads, T, layers), _) in TABLE5.items():
        out[name] = {}
        for method in ("cho", "nexus", "power"):
            data = copy.deepcopy(table.raw)
            data["ops"]["softmax"]["method"] = "nexus" if method == "power" else method
            variant = load_ckks(table.path, data)
            kind = "power_softmax" if method == "power" else "softmax"
            res = op_alone(kind, {"batch": heads, "rows": T, "cols": T}, {"power": 4}, variant, level)
            out[name][method] = layers * sum(v["seconds"] for v in res.values())
    return out


@pytest.mark.parametrize("shape", TABLE5)
def test_table5_power_softmax_seconds(table5, shape):
    """Not fitted: primitive prices come from App. G alone, yet Power-Softmax by itself lands within 30% of
    Table 5 at all three shapes (pidse 11.1 s vs 8.6 s at 1024 tokens, 2.7 vs 2.7 s at 128, 16.4 vs 16.6 s for
    the 32-layer Llama-7B shape, which nothing in the derivation saw)."""
    assert table5[shape]["power"] == pytest.approx(TABLE5[shape][1]["power"], rel=0.30)


@pytest.mark.parametrize("shape", TABLE5)
def test_table5_order(table5, shape):
    assert table5[shape]["cho"] > table5[shape]["nexus"] > table5[shape]["power"]


def test_table5_growth_with_length(table5):
    long, short = table5["pythia-70m T=1024"], table5["pythia-70m T=128"]
    assert long["nexus"] / long["power"] > short["nexus"] / short["power"]


# Why NEXUS-style and Cho et al. miss. Per layer, fit F + c * n_s to each variant's two Pythia lengths (n_s =
# score ciphertexts per layer, 8 at 128 tokens and 512 at 1024, 16,384 slots): F = 0.43 / 0.39 / 0.80 s and
# c = 1.95 / 26.6 / 54.9 ms for Power-Softmax / NEXUS-style / Cho et al. (c = (y1024 - y128) / 504, F = y128 -
# 8 c, y per layer). The same F and c give the Llama-7B shape (n_s = 32, 32 layers) within 14%: 15.9 / 39.6 /
# 81.7 s vs 16.6 / 46.1 / 84.05 s, so the form holds. F is one bootstrap (two for Cho) at App. G's
# 0.41 s: consistent with pidse. c is not: Power-Softmax's 1.95 ms covers >= 3 ciphertext products per score
# ciphertext (x^2, x^4, the normalising product), so a product costs <= 0.65 ms, and NEXUS-style's 26.6 ms is
# >= 40 products per score ciphertext, where a Taylor-8 exp and a normalising product take <= 8; or it is a
# bootstrap per score ciphertext at <= 27 ms, 15x below App. G's 0.41 s per ciphertext. Cho's 54.9 ms is
# likewise >= 84 products, or bootstraps far below App. G's price. No one set of primitive prices fits App. G
# and Table 5's NEXUS-style and Cho columns under any packing that treats the three variants alike.
INCONSISTENT = ("Table 5's NEXUS-style and Cho et al. columns cost 26.6 and 54.9 ms per score ciphertext per "
                "layer, >= 40 ciphertext products at the <= 0.65 ms its Power-Softmax column allows, or a "
                "bootstrap per score ciphertext 15x cheaper than App. G's 0.41 s (derivation above)")


@pytest.mark.parametrize("shape, method", [
    pytest.param(shape, method, marks=[] if (shape, method) == ("llama-7b T=128", "nexus")
                 else pytest.mark.xfail(strict=True, reason=INCONSISTENT))
    for shape in TABLE5 for method in ("cho", "nexus")])
def test_table5_ratios_to_power_softmax(table5, shape, method):
    """Within 30% of the published ratio. Only NEXUS-style at the Llama-7B shape lands (pidse 2.10 vs 2.78),
    and by cancellation: pidse's NEXUS-style bootstraps its row sums twice per layer where Table 5's F says
    once (+0.41 s), and lacks the 26.6 ms per score ciphertext (-0.7 s per layer at 32 ciphertexts)."""
    pidse = table5[shape][method] / table5[shape]["power"]
    published = TABLE5[shape][1][method] / TABLE5[shape][1]["power"]
    assert pidse == pytest.approx(published, rel=0.30)


# ---- sweep: exact per depth --------------------------------------------------------------------------------

@pytest.mark.parametrize("name, context", [("pythia_70m_psm", 128), ("gpt2_sm_ln_g", 64), ("gpt2_sm_scfuffn", 256)])
def test_sweep_transitions_equal_full_estimates(name, context):
    from pidse.cost.ckks.depth import depth_values
    from pidse.model.pieces import Pieces, with_depth
    from pidse.search.sweep import COLUMNS, INDEX

    table = load_table(GPU)
    spec = load_spec(SPECS / f"{name}.yaml", [], context)
    depth = [(L, k) for L in (1, 3, 6) for k in range(L + 1)]
    values = depth_values(Pieces(spec), table, depth, COLUMNS)
    for (L, k), row in zip(depth, values):
        full = estimate(with_depth(spec, L, k), table=table)
        for metric in ("comm_bytes", "rounds", "compute_s", "flops", "params"):
            assert row[INDEX[metric]] == pytest.approx(full.totals[metric], rel=1e-9), (L, k, metric)
        for r in full.breakdown("kind"):
            assert row[INDEX[f"compute_s:{r['kind']}"]] == pytest.approx(r["compute_s"], rel=1e-9, abs=1e-12)


# ---- CLI ----------------------------------------------------------------------------------------------------

def test_cli_estimate_json_has_he_breakdowns():
    result = invoke("estimate", PSM, "-p", GPU, "-f", "json", "--by", "kind")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    he = data["he"]
    assert set(he) >= {"params", "bootstraps", "by_primitive", "by_op", "layers", "upload_bytes",
                       "download_bytes", "keys_bytes"}
    assert set(he["by_primitive"]) == set(PRIMITIVES) and "bootstrapping" in he["by_op"]
    assert [layer["layer"] for layer in he["layers"]] == list(range(6))
    assert all(layer["positions"] for layer in he["layers"])
    assert data["totals"]["rounds"] == 1 and data["totals"]["bootstraps"] == he["bootstraps"]
    assert math.isclose(he["upload_bytes"] + he["download_bytes"], data["totals"]["comm_bytes"])
    assert {"levels", "bootstraps", "n_rot", "bootstrap_s", "level_out"} <= set(data["ops"][0])


def test_cli_estimate_table_and_baseline():
    result = invoke("estimate", PSM, "-p", GPU, "--baseline", SPECS / "pythia_70m.yaml")
    assert result.exit_code == 0, result.output
    for needle in ("HE time by primitive", "bootstrapping", "Depth and bootstraps per layer", "vs pythia_70m",
                   "upload + download"):
        assert needle in result.stdout
    csv = invoke("estimate", PSM, "-p", GPU, "-f", "csv")
    assert csv.exit_code == 0 and "bootstrap_s" in csv.stdout.splitlines()[0]


def test_cli_calibrate_from_published_totals(tmp_path):
    from pidse.resources import TABLES_DIR

    out = tmp_path / "gpu.yaml"
    result = invoke("calibrate", TABLES_DIR / "data" / f"{GPU}.csv", "-t", TABLES_DIR / "templates" / f"{GPU}.yaml",
                    "-o", out)
    assert result.exit_code == 0, result.output
    assert "bootstrap" in result.stdout and load_table(str(out)).primitives["bootstrap"].top_s > 0


def test_cli_bad_ckks_table_is_one_line(tmp_path):
    data = copy.deepcopy(TINY_CKKS)
    data["ops"] = {"softmax": {"method": "taylor"}}
    path = write_yaml(tmp_path / "bad.yaml", data)
    assert_one_line_error(invoke("estimate", PSM, "-p", path), "ops.softmax.method", "nexus, cho, power")
    data = copy.deepcopy(TINY_CKKS)
    del data["primitives"]["rot"]
    path = write_yaml(tmp_path / "bad2.yaml", data)
    assert_one_line_error(invoke("estimate", PSM, "-p", path), "primitives.rot")


# ---- TenSEAL engine ------------------------------------------------------------------------------------------

def test_tenseal_engine_times_primitives(tmp_path):
    pytest.importorskip("tenseal")
    from pidse.calibrate.engines import tenseal

    measured = tenseal.measure((8192,), repeats=1)
    m = measured[8192]
    assert m["levels"] == 2 and all(m[w][p]["median_s"] >= 0 for w in ("top", "bottom") for p in tenseal.TIMED)
    assert m["top"]["cmul"]["median_s"] > m["top"]["add"]["median_s"]
    out = tmp_path / "t.yaml"
    from pidse.calibrate.ckks import write_table

    write_table(tenseal.table_from(measured, 1), out, "test")
    table = load_table(str(out))
    assert table.params["ring_dim"] == 8192 and table.primitives["cmul"].grade == "measured"
    est = estimate(load_spec(SPECS / "gpt2_sm_ln_g.yaml", ["model.layers=1"], 8), table=table,
                   network=resolve_network("lan"))
    assert est.totals["compute_s"] > 0


def test_desilofhe_bootstrap_priced_by_n_log_n():
    """A bootstrap of 170 s at N = 2^16 prices 170 x (2^15 x 15) / (2^16 x 16) = 170 x 0.46875 = 79.69 s at the
    table's N = 2^15, graded derived (scaled), with the measurement kept beside it."""
    from pidse.calibrate.engines import desilo
    from pidse.calibrate.engines.tenseal import TEMPLATE
    from pidse.spec.load import read_mapping

    table = read_mapping(TEMPLATE)
    measured = {"library": "desilofhe 2.0.0", "ring_dim": 65536, "median_s": 170.0, "level_in": 3, "level_out": 17}
    desilo.price(table, measured, "2026-11-22")
    boot = table["primitives"]["bootstrap"]
    assert boot["seconds"] == pytest.approx(79.69, abs=0.005) and boot["grade"] == "derived"
    assert "170.0 s at N = 65536" in boot["source"] and table["measurements"]["bootstrap"] is measured


def test_calibrate_bootstrap_option_is_checked(tmp_path):
    out = tmp_path / "t.yaml"
    assert_one_line_error(invoke("calibrate", "--engine", "spu", "--protocol", "semi2k", "--bootstrap",
                                 "desilofhe", "-o", out), "--bootstrap", "only with --engine tenseal")
    pytest.importorskip("tenseal")  # the engine checks --bootstrap before it times anything
    assert_one_line_error(invoke("calibrate", "--engine", "tenseal", "--bootstrap", "lattigo", "-o", out),
                          "--bootstrap", "anchor, desilofhe")
    assert not out.exists()


@pytest.mark.slow
def test_desilofhe_bootstraps_on_this_machine():
    """One real bootstrap with the small key (~3 min, ~7 GB): it refreshes a level-3 ciphertext to more levels
    than it had and keeps the values."""
    pytest.importorskip("desilofhe")
    from pidse.calibrate.engines import desilo

    m = desilo.measure()
    assert m["ring_dim"] == 65536 and m["level_out"] > m["level_in"] and m["median_s"] > 0
    assert m["max_abs_error"] < 1e-3


# ---- MPC and HE side by side in a sweep ----------------------------------------------------------------------

def test_sweep_puts_mpc_and_he_side_by_side(tmp_path, monkeypatch):
    from pidse.search.space import SPACES_DIR

    monkeypatch.setenv("PIDSE_DB", str(tmp_path / "ppl.sqlite"))
    data = yaml.safe_load((SPACES_DIR / "he_vs_mpc.yaml").read_text())
    data["base"] = str((SPACES_DIR / data["base"]).resolve())
    data["protocols"] = ["aero-secretflow", GPU]
    data["axes"] = {"norm": data["axes"]["norm"], "activation": data["axes"]["activation"]}
    space = write_yaml(tmp_path / "space.yaml", data)
    out = tmp_path / "out"
    result = invoke("sweep", "--space", space, "--out", out, "-f", "json")
    assert result.exit_code == 0, result.output
    assert {s["protocol"] for s in json.loads(result.stdout)} == {"aero-secretflow", GPU}
    assert (out / f"he_vs_mpc_T128_aero-secretflow_{GPU}.png").read_bytes()[:4] == b"\x89PNG"
    report = (out / "sweep.md").read_text()
    assert "## When HE beats MPC" in report and "BW* at wan" in report


def test_crossing_bandwidth_equalises_latency():
    """At BW*, MPC (c 100 s, 10 GB, 1,000 rounds) and CKKS (c 400 s, 20 MB, 1 round) take the same time:
    BW* = 8 (1e10 - 2e7) / (400 - 100 - 999 x 0.04) = 8 x 9.98e9 / 260.04 = 307 Mbps."""
    import pandas as pd

    from pidse.report.he_vs_mpc import crossing_bps

    mpc = pd.DataFrame({"compute_s": [100.0], "comm_bytes": [1e10], "rounds": [1000.0]})
    he = pd.DataFrame({"compute_s": [400.0], "comm_bytes": [2e7], "rounds": [1.0]})
    bw = crossing_bps(mpc, he, 0.04)[0]
    assert bw == pytest.approx(8 * 9.98e9 / 260.04)
    lat = (lambda r: r["compute_s"][0] + 8 * r["comm_bytes"][0] / bw + r["rounds"][0] * 0.04)
    assert lat(mpc) == pytest.approx(lat(he))
    assert crossing_bps(mpc.assign(compute_s=500.0), he, 0.04)[0] == math.inf  # MPC's compute alone is slower


def test_closed_forms_refuse_a_ckks_table():
    for command in (["formula", SPECS / "gpt2_sm_ln_g.yaml", "-p", GPU],
                    ["scaling", SPECS / "gpt2_sm_ln_g.yaml", "-p", GPU, "-T", "128:256"]):
        assert_one_line_error(invoke(*command), "family", "depth walk")


def test_one_op_priced_alone_equals_op_alone():
    # registry.price_op on a CKKS table: the op's input arrives fresh (an edge from outside the op), so its
    # seconds are exactly op_alone's at the fresh level (the same steps, levels and bootstraps)
    from pidse.cost.ckks.price import op_alone
    from pidse.cost.registry import price_op
    from pidse.cost.setting import resolve_setting

    table = load_table(GPU)
    shape = {"rows": 128, "cols": 512}
    row = price_op(table, "gelu", shape, resolve_setting(table))
    alone = op_alone("gelu", shape, {}, table, table.params["levels_fresh"])
    assert row["compute_s"] == pytest.approx(sum(v["seconds"] for v in alone.values()), rel=1e-12)


# ---- an op kind a CKKS table cannot price: `ops.<kind>: {unknown: why}` ---------------------------------------

def test_unknown_op_kind_is_an_error_or_uncosted(tiny_file, tiny_ckks):
    """A table may declare any op kind `unknown: why` (as an MPC table does): an estimate that uses it fails
    naming the table, the kind, the op and the reason; with allow_missing the op is uncosted (None, never 0) and
    passes its input on unchanged (no levels, no calls), so every other op is still priced."""
    from pidse.errors import InputError

    ops = {**TINY_CKKS["ops"], "gelu": {"unknown": "no GELU construction in this test library"}}
    table = tiny_ckks(ops=ops)
    assert table.unknown_ops == {"gelu": "no GELU construction in this test library"} and "gelu" not in table.ops
    spec = load_spec(tiny_file(model={"layers": 1}, norm={"kind": "none"}))
    with pytest.raises(InputError, match=r"ops\.gelu: .*'gelu' \(used by L0\.ffn\.act\).*no GELU construction"):
        estimate(spec, table=table)
    est = estimate(spec, table=table, allow_missing=True)
    act = by_op(est)["L0.ffn.act"]
    assert est.uncosted == ["gelu"] and act["compute_s"] is None and act["levels"] == 0 and act["bootstraps"] == 0
    assert all(r["compute_s"] is not None for r in est.ops if r["kind"] != "gelu")


@pytest.mark.parametrize("entry, needle", [
    ({"gelu": {"unknown": ""}}, "ops.gelu"),  # a reason is required
    ({"gelu": {"unknown": "why", "degree": 3}}, "ops.gelu"),  # unknown alone, not beside settings
    ({"topkk": {"unknown": "why"}}, "ops.topkk"),  # not an op kind
])
def test_bad_unknown_op_entries_are_one_line(tmp_path, entry, needle):
    data = copy.deepcopy(TINY_CKKS)
    data["ops"] = {**data["ops"], **entry}
    path = write_yaml(tmp_path / "bad.yaml", data)
    assert_one_line_error(invoke("estimate", PSM, "-p", path), needle)
