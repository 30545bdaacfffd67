"""The closed forms (pidse formula / scaling) are the same model as pidse estimate, and read correctly."""
import math
import shutil
import subprocess

import pytest
import sympy
import yaml

from conftest import SHIPPED, SPECS
from pidse.model import symbolic
from pidse.search import scaling
from pidse.cli import app
from pidse.cost.registry import load_table
from pidse.cost.setting import resolve_network
from pidse.model.estimate import estimate
from pidse.resources import TABLES_DIR
from pidse.spec.load import load_spec
from typer.testing import CliRunner

# Paths from this file, not the working directory: the suite passes from any folder.
GPT2 = str(SPECS / "gpt2_sm_ln_g.yaml")
# Every shipped MPC table (SPU's measured ones too); the CKKS tables hold primitive seconds, not formulas.
TABLES = tuple(sorted(p.stem for p in TABLES_DIR.glob("*.yaml")
                      if yaml.safe_load(p.read_text()).get("family") != "ckks"))
PAIRS = {"params": "params", "macs": "macs", "flops": "flops", "comm": "comm_bytes", "rounds": "rounds",
         "compute": "compute_s", "latency": "latency_s"}


def _close(a, b):
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-30)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
@pytest.mark.parametrize("context", [7, 128, 500])
@pytest.mark.parametrize("convention", ["dense", "aero"])
def test_counts_formula_equals_estimate(path, context, convention):
    spec = load_spec(path, [], min(context, 500))
    totals = estimate(spec, convention).totals
    forms = symbolic.closed_forms(spec, convention=convention)["total"]
    for metric in ("params", "macs", "flops"):
        assert _close(symbolic.evaluate(forms[metric], spec), totals[metric]), metric


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
@pytest.mark.parametrize("table_name", TABLES)
@pytest.mark.parametrize("context", [16, 333])
def test_cost_formula_equals_estimate(path, table_name, context):
    table = load_table(table_name)
    spec = load_spec(path, ["ffn.prune_last=1"] if "sm_scfuffn" in path.name else [], context)
    kinds = {row["kind"] for row in estimate(spec).ops}
    if not kinds <= set(table.entries):
        pytest.skip(f"{table_name} cannot price {sorted(kinds - set(table.entries))}")
    network = resolve_network(table=table)
    totals = estimate(spec, table=table, network=network).totals
    forms = symbolic.closed_forms(spec, table)["total"]
    for metric, column in PAIRS.items():
        assert _close(symbolic.evaluate(forms[metric], spec, network), totals[column]), metric


def test_by_kind_forms_sum_to_the_total():
    spec, table = load_spec(GPT2), load_table("aero-secretflow")
    total = symbolic.closed_forms(spec, table)["total"]["comm"]
    summed = sum(p["comm"] for p in symbolic.closed_forms(spec, table, by="op").values())
    for T in (1, 128, 4096):  # equal up to float summation order
        at = load_spec(GPT2, ["model.max_context=4096"], T)
        assert _close(symbolic.evaluate(summed, at), symbolic.evaluate(total, at))


def test_gpt2_small_flops_in_closed_form():
    # AERO convention, per layer: attention 8Td^2 + 3T^2d, FFN 16Td^2 (d_ff = 4d gives 4 T d d_ff).
    spec = load_spec(GPT2)
    blocks = symbolic.closed_forms(spec, convention="aero", by="block")
    S = symbolic.symbols()
    T, L, d, d_ff = S["T"], S["L"], S["d"], S["d_ff"]
    assert sympy.expand(blocks["attention"]["flops"] - (8 * L * T * d**2 + 3 * L * T**2 * d)) == 0
    assert sympy.expand(blocks["ffn"]["flops"] - 4 * L * T * d * d_ff) == 0


def test_attention_ffn_crossover_is_8d_over_3():
    # 3 T^2 d + 8 T d^2 = 16 T d^2  =>  T = 8d/3 = 2048 for d = 768 (AERO: FFN FLOPs dominate up to ~2K).
    spec = load_spec(GPT2)
    first = scaling.crossovers(spec)[0]
    assert first.context == pytest.approx(2048, rel=1e-9)
    wide = load_spec(GPT2, ["model.d_model=1536", "model.d_ff=6144"])
    assert scaling.crossovers(wide)[0].context == pytest.approx(4096, rel=1e-9)


def test_fused_ffn_attention_always_larger():
    # fused FFN: 2 T d^2 per layer < 8 T d^2 of the projections alone, at every T
    first = scaling.crossovers(load_spec(SPECS / "gpt2_sm_scfuffn.yaml"))[0]
    assert first.context is None and "every T" in first.line()


def test_softmax_crossover_is_where_softmax_leads():
    spec, table = load_spec(GPT2), load_table("aero-secretflow")
    at = next(c for c in scaling.crossovers(spec, table) if "softmax" in c.what).context
    assert at is not None
    for T, leads in ((int(at * 0.9), False), (int(at * 1.1) + 1, True)):
        rows = {r["kind"]: r["comm_bytes"]
                for r in estimate(load_spec(GPT2, [], T), table=table).breakdown("kind")}
        assert (max(rows, key=rows.get) == "softmax") is leads, T


def test_bandwidth_rtt_crossover_balances_latency_terms():
    spec, table = load_spec(GPT2), load_table("aero-secretflow")
    net = resolve_network("wan", table=table)
    at = next(c for c in scaling.crossovers(spec, table, net) if "bandwidth" in c.what).context
    for T, bw_larger in ((max(1, int(at * 0.8)), False), (int(at * 1.25) + 1, True)):
        tot = estimate(load_spec(GPT2, [], T), table=table, network=net).totals
        assert (8 * tot["comm_bytes"] / net.bandwidth_bps > tot["rounds"] * net.rtt_s) is bw_larger, T


def test_solve_t_exact_and_log():
    T = symbolic.symbols()["T"]
    assert scaling.solve_t(T**2, 9 * T) == pytest.approx(9)
    root = scaling.solve_t(T, 1000 + 10 * sympy.log(T, 2))  # one root, near 1100: bisection (log term)
    assert 1000 < root < 1200 and abs(root - 1000 - 10 * math.log2(root)) < 1e-6
    assert scaling.solve_t(T + 1, T) is None


def test_formula_cli_text_and_latex():
    runner = CliRunner()
    text = runner.invoke(app, ["formula", GPT2, "-m", "comm", "-p", "aero-secretflow"])
    assert text.exit_code == 0, text.output
    assert "comm = " in text.output and "T**2" in text.output and "where T = 128 (context)" in text.output
    latex = runner.invoke(app, ["formula", GPT2, "-m", "flops", "--by", "block", "-f", "latex"])
    assert latex.exit_code == 0 and "\\begin{align*}" in latex.output and "T^{2}" in latex.output
    missing = runner.invoke(app, ["formula", GPT2, "-m", "latency"])
    assert missing.exit_code == 2 and "--protocol" in missing.stderr


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex on this machine")
def test_latex_compiles(tmp_path):
    runner = CliRunner()
    out = runner.invoke(app, ["formula", str(SPECS / "gpt2_sm_t_scfuffn_ereg.yaml"), "-m", "latency", "-p",
                              "aero-secretflow", "--by", "op", "-f", "latex"]).output
    doc = tmp_path / "f.tex"
    doc.write_text("\\documentclass{article}\\usepackage{amsmath}\\begin{document}\n" + out +
                   "\n\\end{document}\n")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]


def test_scaling_cli_table_and_plot(tmp_path):
    runner = CliRunner()
    png = tmp_path / "s.png"
    res = runner.invoke(app, ["scaling", GPT2, "-T", "128:1024", "-p", "aero-secretflow", "--plot", str(png)])
    assert res.exit_code == 0, res.output
    assert "T = 2,048" in res.output and png.stat().st_size > 10_000
    lines = [l for l in res.output.splitlines() if l.strip().startswith(("128 ", "1024 "))]
    assert len(lines) == 2
    bad = runner.invoke(app, ["scaling", GPT2, "-T", "1024:128"])
    assert bad.exit_code == 2 and "--context" in bad.stderr


def test_causal_softmax_in_closed_form():
    # sigma-fss prices a softmax at softmax_B = 118 B per kept score: a causal decoder keeps T (T + 1) / 2 of
    # each head's T x T, an encoder all of them.
    S = symbolic.symbols()
    T, L, H = S["T"], S["L"], S["H"]
    table = load_table("sigma-fss")
    for causal, kept in (("true", T * (T + 1) / 2), ("false", T**2)):
        spec = load_spec(GPT2, [f"attention.causal={causal}"])
        softmax = symbolic.closed_forms(spec, table, by="op")["softmax"]["comm"]
        assert sympy.expand(softmax - 118 * H * L * kept) == 0
