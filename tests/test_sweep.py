"""The design-space sweep: the 1-layer decomposition against full estimates, fronts at AERO's contexts, diverged
runs, the break-even property, the report helpers and `pidse sweep` (files, summary formats, one-line errors)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml

from conftest import assert_one_line_error, invoke, write_yaml
from pidse.cost.registry import load_table
from pidse.cost.setting import resolve_network
from pidse.model.estimate import estimate
from pidse.ops import OP_KINDS
from pidse.search.pareto import pareto_mask
from pidse.ppl.db import open_db
from pidse.report.sweep_data import wish_list
from pidse.search.space import SPACES_DIR, load_space
from pidse.search.sweep import KIND_METRICS, METRICS, sweep, with_depth
from pidse.spec.labels import aero_label

AERO = SPACES_DIR / "aero.yaml"


def space_file(path, **changes):
    """The default space with top-level keys replaced (base made absolute so the file can live anywhere)."""
    data = yaml.safe_load(AERO.read_text())
    data["base"] = str((AERO.parent / data["base"]).resolve())
    data.update(changes)
    return write_yaml(path, data)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    with open_db(tmp_path_factory.mktemp("ppl") / "ppl.sqlite") as store:
        yield store


@pytest.fixture(scope="module")
def aero(db):
    """The default sweep at AERO's three contexts."""
    return sweep(load_space("aero"), [128, 256, 512], db=db)


# ---- the 1-layer decomposition ----------------------------------------------------------------------------

SMALL_AXES = {  # standard and fused FFNs, full and Q/K-only attention, pre-LN and one LayerNorm
    "norm": {"LN": {}, "one-LN": {"norm.attention": False, "norm.ffn": False, "norm.final": False,
                                  "norm.embedding": True}},
    "attention": {"SM": {}, "H&H": {"attention.projections": ["q", "k"]}},
    "ffn": {"gelu": {}, "fused": {"ffn.activation": "identity", "ffn.scaled": True, "ffn.fused": True}},
}


@pytest.mark.parametrize("context, layers, prune", [(64, 1, 0), (64, 1, 1), (128, 3, 0), (128, 3, 2),
                                                    (128, 5, 5), (512, 5, 3)])
def test_decomposition_matches_full_estimate(tmp_path, context, layers, prune):
    """fixed + L x layer + (L - k) x ffn, priced once on a 1-layer graph, equals pricing the L-layer graph with
    its k deepest FFNs pruned, for every total and every op kind (T=512 also carries a vocab override)."""
    space = load_space(str(space_file(tmp_path / "s.yaml", axes=SMALL_AXES,
                                      ranges={"layers": [1, 3, 5], "prune_last": "0..layers"})))
    table = load_table("aero-secretflow")
    net = resolve_network(table=table)
    df = sweep(space, [context])
    structures, _ = space.structures(context)
    rows = df[(df["layers"] == layers) & (df["prune_last"] == prune)]
    assert len(rows) == len(structures) == 8
    for _, row in rows.iterrows():
        full = estimate(with_depth(structures[row["structure"]].spec, layers, prune), table=table, network=net)
        assert full.spec.context == context
        for metric in METRICS + ("latency_s",):
            assert row[metric] == pytest.approx(full.totals[metric], rel=1e-9, abs=1e-12), metric
        by_kind = {r["kind"]: r for r in full.breakdown("kind")}
        for metric in KIND_METRICS + ("latency_s",):
            for kind in OP_KINDS:
                expected = by_kind[kind][metric] if kind in by_kind else 0.0
                assert row.get(f"{metric}:{kind}", 0.0) == pytest.approx(expected, rel=1e-9, abs=1e-12), (metric, kind)
        assert row["label"] == aero_label(full.spec)  # labelled per depth without building the spec


def test_labels_follow_depth(db):
    df = sweep(load_space("aero"), [128], db=db)
    structure = df.loc[df["label"] == "SM+ScFuFFN", "structure"].iloc[0]
    fused = df[df["structure"] == structure].set_index("prune_last")
    assert fused.loc[0, "label"] == "SM+ScFuFFN"
    assert fused.loc[6, "label"] == "SM+ScFuFFNi6"
    assert fused.loc[12, "label"] == "SM+noFFN"


# ---- fronts at AERO's contexts ----------------------------------------------------------------------------

@pytest.mark.parametrize("context", [128, 256, 512])
@pytest.mark.parametrize("objective", ["comm_bytes", "latency_s"])
def test_fronts_hold_aero_models(aero, context, objective):
    front = set(aero[(aero["context"] == context) & aero[f"pareto_{objective}"]]["label"])
    assert "SM+LN+G" in front
    assert front & {"EReg(SM(t)+ScFuFFN)", "EReg(SM(t)+ScFuFFNi6)", "EReg(SM(t)+ScFuFFNi1)"}


def test_diverged_runs_get_no_number_and_no_front(aero):
    diverged = aero[aero["ppl_status"] == "diverged"]
    assert len(diverged) >= 3  # AERO's SM at T=128 and He & Hofmann's at T=256 and T=512
    assert diverged["ppl"].isna().all()
    assert not diverged[["pareto_comm_bytes", "pareto_latency_s"]].any().any()
    assert diverged[["break_even_comm_bytes", "break_even_latency_s"]].isna().all().all()
    assert aero.loc[aero["ppl_status"] == "ok", "ppl"].notna().all()
    assert aero.loc[aero["ppl_status"] == "unmeasured", "ppl"].isna().all()


@pytest.mark.parametrize("objective", ["comm_bytes", "latency_s"])
def test_break_even_is_the_threshold_of_joining_the_front(aero, objective):
    """A point with perplexity just below its break-even joins the measured front; just above, it does not."""
    rows = aero[aero["context"] == 128]
    measured = rows[rows["ppl_status"] == "ok"][[objective, "ppl"]].to_numpy()
    todo = rows[rows["ppl_status"] == "unmeasured"]
    be = todo[f"break_even_{objective}"].to_numpy()
    finite, infinite = np.flatnonzero(np.isfinite(be)), np.flatnonzero(np.isinf(be))
    assert len(finite) and len(infinite)
    picks = np.concatenate([finite[:: max(1, len(finite) // 25)], infinite[:: max(1, len(infinite) // 5)]])
    cost = todo[objective].to_numpy()

    def joins(i, ppl) -> bool:
        return bool(pareto_mask(np.vstack([measured, [cost[i], ppl]]), "min")[-1])

    for i in picks:
        if np.isinf(be[i]):
            assert joins(i, 1e9)
        else:
            assert joins(i, be[i] * (1 - 1e-9))
            assert not joins(i, be[i] * (1 + 1e-9))


def test_wish_list_ranks_by_break_even(aero):
    rows = aero[aero["context"] == 128]
    wish, n_any = wish_list(rows)
    assert len(wish) == 15 and n_any > 0
    be = wish["break_even"].to_numpy()
    assert list(be) == sorted(be, reverse=True)  # highest first, infinite ones at the top
    top = wish[np.isinf(be)]
    assert np.all(np.diff(top["comm_bytes"].to_numpy()) >= 0)  # those by cost
    assert wish["arch_key"].is_unique


# ---- pidse sweep ---------------------------------------------------------------------------------------------

def small_space(tmp_path):
    """AERO's steps from SM+LN+G to EReg(SM(t)+ScFuFFN), 12 layers, pruning 0 and 6."""
    axes = {"norm": {"LN": {}, "none": {"norm.kind": "none"}},
            "attention": {"SM": {}, "SM(t)": {"attention.temperature": "learnable"}},
            "activation": {"G": {}, "R": {"ffn.activation": "relu"}, "identity": {"ffn.activation": "identity"}},
            "ffn": {"standard": {}, "scaled": {"ffn.scaled": True}, "fused": {"ffn.scaled": True,
                                                                             "ffn.fused": True}},
            "entropy_reg": {"off": {}, "on": {"training.entropy_reg": True, "training.entropy_lambda": 1.0e-5,
                                              "training.entropy_gamma": 0.2}}}
    return space_file(tmp_path / "small.yaml", axes=axes, ranges={"layers": [12], "prune_last": [0, 6]})


def test_cli_writes_csv_report_and_plots(tmp_path, monkeypatch):
    monkeypatch.setenv("PIDSE_DB", str(tmp_path / "ppl.sqlite"))
    out = tmp_path / "out"
    result = invoke("sweep", "--context", "128", "--space", small_space(tmp_path), "--out", out, "-f", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [s["context"] for s in summary] == [128]
    front = {f["label"] for f in summary[0]["front"]}
    assert {"SM+LN+G", "EReg(SM(t)+ScFuFFN)"} <= front
    headline = summary[0]["headline"]
    assert headline["model"] == "EReg(SM(t)+ScFuFFNi6)"
    assert headline["comm_bytes"]["savings_x"] == pytest.approx(4.0, abs=0.1)
    assert headline["paper"]["comm_bytes"]["savings_x"] == pytest.approx(25.32 / 6.29)
    names = {p.name for p in out.iterdir()}
    assert names == {"sweep.csv", "sweep.md", "front_comm_T128.png", "front_latency_T128.png",
                     "savings_T128.png", "breakdown_T128.png"}
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import pandas as pd

    csv = pd.read_csv(out / "sweep.csv")
    assert len(csv) == summary[0]["points"] and {"label", "ppl", "pareto_comm_bytes"} <= set(csv.columns)
    report = (out / "sweep.md").read_text()
    for needle in ("## What was swept", "front_comm_T128.png", "savings_T128.png", "Measurement wish list",
                   "4.03x", "SM+LN+G"):
        assert needle in report


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv"])
def test_summary_formats(aero, fmt):
    from pidse.report.sweep import render_summary

    text = render_summary(aero, fmt)
    assert text.count("SM+LN+G") >= 3  # on the front at every context
    if fmt == "csv":
        assert text.splitlines()[0].startswith("context,protocol,network,label")
    else:
        assert "4.00x less" in text and "(paper: 4.03x, 1.94x)" in text


@pytest.mark.parametrize("args, needles", [
    (["--space", "nope"], ["--space", "nope"]),
    (["--context", "128,x"], ["--context", "128,x"]),
    (["--context", "0"], ["--context"]),
    (["--protocol", "nope"], ["--protocol", "nope"]),
    (["--network", "nope"], ["nope"]),
])
def test_cli_bad_options(tmp_path, monkeypatch, args, needles):
    monkeypatch.setenv("PIDSE_DB", str(tmp_path / "ppl.sqlite"))
    assert_one_line_error(invoke("sweep", "--out", tmp_path / "out", *args), *needles)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("changes, needles", [
    ({"axis": {}}, ["axis", "known space key"]),
    ({"ranges": {"layers": "12..1"}}, ["ranges.layers"]),
    ({"ranges": {"layers": [12], "prune_last": "all"}}, ["ranges.prune_last"]),
    ({"axes": {"ffn": {"fused": {"ffn.fusd": True}}}}, ["fusd"]),
    ({"axes": {"ffn": ["fused"]}}, ["axes.ffn"]),
    ({"contexts": {"long": {}}}, ["contexts.long"]),
    ({"contexts": {128: {"datset": "x"}}}, ["contexts.128.datset"]),
    ({"base": "missing.yaml"}, ["missing.yaml"]),
])
def test_invalid_space_files(tmp_path, monkeypatch, changes, needles):
    monkeypatch.setenv("PIDSE_DB", str(tmp_path / "ppl.sqlite"))
    path = space_file(tmp_path / "bad.yaml", **changes)
    assert_one_line_error(invoke("sweep", "--space", path, "--out", tmp_path / "out"), *needles)


def test_malformed_space_yaml(tmp_path):
    path = write_yaml(tmp_path / "bad.yaml", "version: 1\nbase: [unclosed\n")
    assert_one_line_error(invoke("sweep", "--space", path, "--out", tmp_path / "out"), "bad.yaml")


def test_paper_numbers_only_cited(aero):
    """T=512 has no published costs in the repository: the headline says so rather than inventing them."""
    from pidse.report.plots import rows_of
    from pidse.report.sweep_data import headline

    assert headline(rows_of(aero, 512))["paper"] is None
    h = headline(rows_of(aero, 256))
    assert h["model"] == "EReg(SM(t)+ScFuFFNi6)"
    assert h["paper"]["comm_bytes"]["savings_x"] == pytest.approx(58.51 / 20.59)
    assert math.isclose(h["comm_bytes"]["savings_x"], h["comm_bytes"]["baseline"] / h["comm_bytes"]["model"])


def test_plots_without_measurements(tmp_path):
    """A context with no measured run: the front plot says so (costs only), the wish list is empty."""
    from pidse.report import plots

    df = sweep(load_space(str(small_space(tmp_path))), [64])
    assert (df["ppl_status"] == "unmeasured").all() and not df["pareto_comm_bytes"].any()
    plots.front_plot(df, 64, "comm_bytes", tmp_path / "front.png")
    plots.savings_bars(df, 64, tmp_path / "savings.png")
    assert (tmp_path / "front.png").stat().st_size > 0 and (tmp_path / "savings.png").stat().st_size > 0
    wish, n_any = wish_list(df)
    assert wish.empty and n_any == 0


class _Runs:
    """A perplexity database stand-in: `query()` returns the given run rows."""

    def __init__(self, runs):
        self.runs = runs

    def query(self):
        return self.runs


def test_seeds_pool_into_mean_and_spread(tmp_path, monkeypatch):
    """Seeds of one design (a pidse train grid) pool into ppl = their mean and ppl_std = their sample standard
    deviation; a diverged seed is left out of both; seedless runs and a larger budget keep the old rule (the most
    tokens win, then the first stored). By hand: seeds at 3.0, 3.2, 3.4 -> mean 3.2, s.d. sqrt(((-0.2)^2 + 0 +
    0.2^2) / 2) = 0.2; a second run of seed 1 (other settings, stored later) is not another seed. The front plot
    draws the error bar and the report prints the spread."""
    from pidse.report import plots
    from pidse.report.sweep import markdown
    from pidse.report.sweep_data import front_rows
    from pidse.spec.archkey import arch_key

    design = load_space(str(small_space(tmp_path)))
    structures, _ = design.structures(64)
    spec = with_depth(structures[0].spec, 12, 0)
    seeded = with_depth(structures[0].spec, 12, 6)
    m = spec.model

    def run(i, key, ppl, seed, tokens=1e6, status="ok", source="pidse train"):
        return dict(id=i, arch_key=key, dataset="python_stdlib", train_tokens=tokens, layers=m.layers,
                    d_model=m.d_model, heads=m.heads, vocab_size=m.vocab_size, context=64, ppl=ppl, status=status,
                    source=f"{source} s{seed}", seed=seed)

    k1, k2 = arch_key(seeded), arch_key(spec)
    runs = [run(1, k1, 3.0, 0), run(2, k1, 3.2, 1), run(3, k1, None, 2, status="diverged"), run(4, k1, 3.4, 3),
            run(5, k1, 2.0, 0, tokens=1e3),  # a smaller budget: ignored
            run(8, k1, 9.9, 1, source="pidse train --precision bf16"),  # seed 1 again: not a fourth seed
            run(6, k2, 4.0, None), run(7, k2, 9.0, None)]  # no seeds: the first stored stands alone
    df = sweep(design, [64], db=_Runs(runs))
    pooled = df[(df["arch_key"] == k1)].iloc[0]
    assert pooled["ppl"] == pytest.approx(3.2) and pooled["ppl_std"] == pytest.approx(0.2)
    assert pooled["ppl_runs"] == 3 and pooled["ppl_status"] == "ok"
    alone = df[(df["arch_key"] == k2)].iloc[0]
    assert alone["ppl"] == 4.0 and math.isnan(alone["ppl_std"]) and alone["ppl_runs"] == 1
    assert df.loc[df["ppl_status"] == "unmeasured", ["ppl", "ppl_std", "ppl_runs"]].isna().all().all()

    fronts = {f["label"]: f for f in front_rows(df)}
    assert fronts[pooled["label"]]["ppl_std"] == pytest.approx(0.2)
    assert "| 3.20 ± 0.2 (3 seeds) |" in markdown(df, design, {}, "pidse sweep")
    from matplotlib.axes import Axes

    drawn = []
    monkeypatch.setattr(Axes, "errorbar", lambda self, x, y, **kw: drawn.append((list(x), list(y), list(kw["yerr"]))))
    plots.front_plot(df, 64, "comm_bytes", tmp_path / "front.png")
    assert [y for _, ys, _ in drawn for y in ys] == [pytest.approx(3.2)]
    assert [e for _, _, es in drawn for e in es] == [pytest.approx(0.2)]
