"""Calibration: known coefficients recovered from synthetic data, the written table, the fit record, the
inconsistent-network warning, and aero-secretflow reproducing every row of AERO Tables 4-5."""
from __future__ import annotations

import copy
import csv
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from conftest import ROOT, invoke, write_yaml
from costs_helpers import TINY1
from pidse.calibrate.fit import Row, fit, read_rows, write_table
from pidse.cost.registry import load_table
from pidse.cost.setting import Network
from pidse.errors import InputError
from pidse.model.estimate import estimate
from pidse.spec.load import load_spec, merge

# ---- synthetic data from known coefficients ---------------------------------------------------------------
# Coefficients: communication c_* (bytes), compute k_* (seconds); every other name is a shape symbol.
# Six significant digits each: what the written table keeps (pidse.calibrate.fit writes coefficients to 6 digits).
TRUE = {"c_a": 1043.81, "c_b": 70.4054, "c_mm": 462.337, "c_ln": 1013.17, "c_g": 3427.8, "c_r": 86.1234,
        "k_lin": 1.23457e-4, "k_g": 9.87654e-4}
BANDWIDTH, RTT = 1.23457e7, 0.0104321  # so that compute, bytes and rounds each take a fair share of the time


def ops(v: dict) -> dict:
    """Per-op formulas over the coefficients v (names for the template, numbers for the truth)."""
    def e(comm, rounds, compute):
        return {"comm_bytes": comm, "rounds": rounds, "compute_s": compute, "source": "synthetic",
                "grade": "estimate"}
    linear = e(f"{v['c_b']} * m * n", 2, f"{v['k_lin']} * m * k * n")
    return {
        "embedding": e(f"{v['c_b']} * tokens * dim", 1, 0),
        "linear": linear,
        "lm_head": linear,
        "matmul": e(f"{v['c_mm']} * batch * (m * k + k * n)", 2, f"{v['k_lin']} * batch * m * k * n"),
        "softmax": e(f"{v['c_a']} * elements", "2 * log2(cols) + 4", 0),
        "layernorm": e(f"{v['c_ln']} * elements", 5, 0),
        "gelu": e(f"{v['c_g']} * elements", 4, f"{v['k_g']} * elements"),
        "relu": e(f"{v['c_r']} * elements", 3, 0),
        "add": e(0, 0, 0),
        "scale": e(f"{v['c_b']} * elements", 1, 0),
        "argmax": e("100 * elements", "log2(cols)", 0),  # no coefficient: the fit's fixed remainder
    }


def table_data(v: dict, **extra) -> dict:
    return {"version": 1, "name": "synthetic", "parties": 2, "protocol": "synthetic", "ops": ops(v), **extra}


# Tiny models that differ in depth, context, vocabulary, activation and norms, so that the columns of the
# system (softmax T^2 elements, linear m*n, GELU vs ReLU elements, LayerNorms, rounds) are independent.
VARIANTS = [
    ([], 4),
    (["model.layers=2"], 8),
    (["ffn.activation=relu"], 16),
    (["norm.kind=none"], 8),
    (["model.layers=3", "model.vocab_size=50"], 4),
    (["ffn.activation=identity"], 32),
    (["model.layers=2", "ffn.activation=relu"], 12),
]


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    """The base spec; truth_table(coefficients); measure(coefficients): rows measured with that table on the
    true network; template(method): the template's path."""
    d = tmp_path_factory.mktemp("synth")
    base = write_yaml(d / "base.yaml", merge(copy.deepcopy(TINY1), {"model": {"max_context": 64}}))

    def truth_table(truth: dict):
        name = "truth-" + "-".join(f"{v:g}" for _, v in sorted(truth.items())) + ".yaml"
        return load_table(str(write_yaml(d / name, table_data(truth))))

    def measure(truth: dict) -> list[Row]:
        # Totals are linear in the coefficients, and no table may price a negative cost (issue 17): an impossible
        # negative truth is priced as its positive part - its negative part + the coefficient-free remainder.
        parts = [(truth, 1)]
        if any(v < 0 for v in truth.values()):
            parts = [({k: max(v, 0.0) for k, v in truth.items()}, 1),
                     ({k: max(-v, 0.0) for k, v in truth.items()}, -1), ({k: 0.0 for k in truth}, 1)]
        tables = [(truth_table(t), sign) for t, sign in parts]
        rows = []
        for i, (overrides, context) in enumerate(VARIANTS):
            spec = load_spec(base, overrides, context)
            totals = [(estimate(spec, table=t, network=Network("true", BANDWIDTH, RTT)).totals, sign)
                      for t, sign in tables]
            rows.append(Row(f"v{i} T={context}", spec, sum(s * t["comm_bytes"] for t, s in totals),
                            sum(s * t["latency_s"] for t, s in totals), None, "synthetic"))
        return rows

    def template(method: str) -> Path:
        return write_yaml(d / f"template-{method}.yaml", table_data({k: k for k in TRUE},
                                                                    calibration={"method": method}))
    return SimpleNamespace(base=base, truth_table=truth_table, measure=measure, template=template, dir=d)


@pytest.mark.parametrize("method", ["lsq", "minimax"])
def test_recovers_known_coefficients(synth, method):
    result = fit(synth.template(method), synth.measure(TRUE))
    assert result.coefficients == pytest.approx(TRUE, rel=1e-6)
    assert result.bandwidth_bps == pytest.approx(BANDWIDTH, rel=1e-6)
    assert result.rtt_s == pytest.approx(RTT, rel=1e-6)
    assert result.warnings == []
    for res in result.residuals:
        assert abs(res["comm_error_pct"]) < 1e-6 and abs(res["latency_error_pct"]) < 1e-6


@pytest.mark.parametrize("method", ["lsq", "minimax"])
def test_impossible_negative_coefficient_is_clipped_to_zero(synth, method):
    result = fit(synth.template(method), synth.measure({**TRUE, "c_r": -50.0}))  # ReLU "saves" 50 B per element
    assert all(value >= 0 for value in result.coefficients.values()), result.coefficients
    assert result.coefficients["c_r"] == 0
    assert "coefficient c_r fitted to 0: the data do not support this term" in result.warnings


@pytest.fixture(scope="module")
def written(synth):
    """The lsq fit of the noiseless data, written to YAML and loaded back as a cost table."""
    rows = synth.measure(TRUE)
    result = fit(synth.template("lsq"), rows)
    path = synth.dir / "fitted.yaml"
    write_table(result, path)
    return rows, result, path, load_table(str(path))


def test_written_table_prices_like_the_fit(written, synth):
    rows, result, _, table = written
    truth = synth.truth_table(TRUE)
    assert (table.network.bandwidth_bps, table.network.rtt_s) == pytest.approx((BANDWIDTH, RTT), rel=1e-6)
    for row, res in zip(rows, result.residuals):
        est = estimate(row.spec, table=table)  # the table's default network: the fitted one
        assert est.totals["comm_bytes"] == pytest.approx(res["comm_bytes_fit"], rel=1e-9)
        assert est.totals["latency_s"] == pytest.approx(res["latency_s_fit"], rel=1e-9)
        # and op by op as the true table (the true coefficients have no more than the 6 digits written)
        true_ops = estimate(row.spec, table=truth, network=Network("true", BANDWIDTH, RTT)).ops
        for got, want in zip(est.ops, true_ops):
            assert (got["comm_bytes"], got["latency_s"]) == pytest.approx((want["comm_bytes"], want["latency_s"]),
                                                                          rel=1e-9, abs=1e-12), got["op"]


def test_written_table_records_the_fit(written):
    rows, result, path, table = written
    assert path.read_text().startswith("# Generated by `pidse calibrate` from 7 measured rows")
    record = table.raw["fit"]
    assert record["template"] == "template-lsq.yaml"
    assert "nnls" in record["method"]
    assert record["coefficients"] == pytest.approx(TRUE, rel=1e-6)
    assert record["effective_network"] == pytest.approx({"bandwidth_bps": BANDWIDTH, "rtt_s": RTT}, rel=1e-6)
    assert [d["row"] for d in record["data"]] == [r.name for r in rows]
    assert all(d["spec"] == r.spec.source and d["source"] == "synthetic" and d["weight"] == 1.0
               for d, r in zip(record["data"], rows))
    assert record["data"][4]["overrides"].startswith("context=4, layers=3, vocab=50")
    assert [r["row"] for r in record["residuals"]] == [r.name for r in rows]
    for res, row in zip(record["residuals"], rows):
        assert res["comm_bytes"] == pytest.approx(row.comm_bytes, rel=1e-5)
        assert res["latency_s"] == pytest.approx(row.latency_s, rel=1e-5)
        assert res["comm_error_pct"] == 0 and res["latency_error_pct"] == 0  # rounded to 3 decimals
    # fitted entries say where they came from
    gelu = table.entries["gelu"]
    assert (gelu.grade, gelu.source) == ("derived", "fitted to 7 measured rows (see fit); template: synthetic")
    assert table.entries["argmax"].grade == "estimate"  # nothing fitted there


def write_csv(path: Path, base: Path, rows: list[Row], network: str) -> Path:
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["label", "spec", "set", "context", "comm_bytes", "latency_s", "network", "source"])
        for (overrides, context), row in zip(VARIANTS, rows):
            out.writerow([row.name.split()[0], base, ";".join(overrides), context, repr(row.comm_bytes),
                          repr(row.latency_s), network, "synthetic"])
    return path


def test_read_rows_from_csv(synth):
    rows = synth.measure(TRUE)
    read = read_rows(write_csv(synth.dir / "rows.csv", synth.base, rows, "lan"))
    assert [(r.name, r.spec, r.comm_bytes, r.latency_s, r.network) for r in read] == \
        [(r.name, r.spec, r.comm_bytes, r.latency_s, "lan") for r in rows]


def test_cli_consistent_data_gives_no_warning(synth):
    # The data were made on a 12.3 Mbit/s network; claiming LAN (3 Gbit/s) is consistent with them.
    data = write_csv(synth.dir / "consistent.csv", synth.base, synth.measure(TRUE), "lan")
    out = synth.dir / "cli-fitted.yaml"
    result = invoke("calibrate", data, "-t", synth.template("minimax"), "-o", out)
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr
    assert result.stderr.strip() == f"wrote {out}"
    assert "effective network: 12 Mbps, RTT 10.4 ms" in result.stdout
    assert load_table(str(out)).raw["fit"]["coefficients"] == pytest.approx(TRUE, rel=1e-6)


@pytest.mark.parametrize("change, key", [
    ({"rounds": "r_c * 3"}, "ops.gelu.rounds"),  # rounds x RTT would not be linear
    ({"comm_bytes": "c_g * c_g * elements"}, "ops.gelu.comm_bytes"),  # not linear in c_g
    ({"compute_s": "c_g * elements"}, "ops.gelu.compute_s"),  # one coefficient, two metrics
])
def test_template_errors(synth, change, key):
    data = table_data({k: k for k in TRUE})
    data["ops"]["gelu"].update(change)
    path = write_yaml(synth.dir / "bad-template.yaml", data)
    with pytest.raises(InputError) as err:
        fit(path, synth.measure(TRUE)[:1])
    assert key in str(err.value) and "\n" not in str(err.value)


# ---- AERO: the shipped table and its calibration ------------------------------------------------------------

AERO_DATA = ROOT / "cost_tables" / "data" / "aero-secretflow.csv"
AERO_TEMPLATE = ROOT / "cost_tables" / "templates" / "aero-secretflow.yaml"
AERO_ROWS = list(csv.DictReader(AERO_DATA.open()))


@pytest.fixture(scope="module")
def aero_cli(tmp_path_factory):
    """`pidse calibrate` on AERO's data, run once (~1.5 s): the CLI result and the table it wrote."""
    out = tmp_path_factory.mktemp("aero") / "aero-secretflow.yaml"
    result = invoke("calibrate", AERO_DATA, "-t", AERO_TEMPLATE, "-o", out)
    assert result.exit_code == 0, result.output
    return result, yaml.safe_load(out.read_text())


def test_calibrate_warns_that_aero_needs_more_than_its_stated_network(aero_cli):
    # The most demanding row: SM+LN+G at T=256 moves 58.51 GB in 16.57 min,
    # 8 * 58.51e9 B / 994.2 s = 470.8 Mbit/s; at T=128, 8 * 25.32e9 / 492.6 s = 411.2 Mbit/s. wan-aero: 100 Mbit/s.
    result, _ = aero_cli
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: inconsistent network")]
    assert len(warnings) == 1
    assert warnings[0].startswith("warning: inconsistent network: SM+LN+G T=256 moved 58.51 GB in 16.57 min, at "
                                  "least 471 Mbps, but its stated network wan-aero has 100 Mbps; the fitted "
                                  "effective bandwidth is ")
    fitted_mbps = float(warnings[0].rsplit(" ", 2)[-2])
    assert fitted_mbps > 471  # the effective network must be faster than what the data need


def test_calibrate_regenerates_the_shipped_table(aero_cli):
    result, regenerated = aero_cli
    shipped = load_table("aero-secretflow").raw
    assert regenerated["fit"]["coefficients"] == pytest.approx(shipped["fit"]["coefficients"], rel=1e-4,
                                                               abs=1e-12)
    for key in ("bandwidth_bps", "rtt_s"):
        assert regenerated["network"][key] == pytest.approx(shipped["network"][key], rel=1e-4)
    assert len(regenerated["fit"]["residuals"]) == len(AERO_ROWS) == 19
    # the record of the data: every row with its weight and source, in the CSV's order
    assert [(d["row"], d["weight"], d["source"]) for d in regenerated["fit"]["data"]] == \
        [(f"{r['label']} T={r['context']}", float(r["weight"]), r["source"]) for r in AERO_ROWS]
    table_lines = [line for line in result.stdout.splitlines() if " T=" in line]
    assert len(table_lines) == 19


def aero_key(rec) -> tuple[str, int]:
    return rec["label"], int(rec["context"])


@pytest.fixture(scope="module")
def aero_estimates() -> dict:
    """Every row of the AERO data priced through the public API with the shipped table and its network."""
    table = load_table("aero-secretflow")
    out = {}
    for rec in AERO_ROWS:
        spec = load_spec(AERO_DATA.parent / rec["spec"], [s for s in rec["set"].split(";") if s],
                         int(rec["context"]))
        totals = estimate(spec, table=table).totals
        out[aero_key(rec)] = (totals["comm_bytes"] / 1e9, totals["latency_s"] / 60,
                              float(rec["comm_gb"]), float(rec["latency_min"]))
    return out


def aero_params(xfail: dict | None = None) -> list:
    params = []
    for rec in AERO_ROWS:
        key = aero_key(rec)
        reason = f"latency savings off by more than 0.05x: {(xfail or {}).get(key)}; AERO's latencies are " \
                 "inconsistent (pruning 6 fused FFNs saves 0.53 min at T=128, 0.13 min at T=256)"
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if xfail and key in xfail else []
        params.append(pytest.param(key, id=f"{key[0]} T={key[1]}", marks=marks))
    return params


@pytest.mark.parametrize("key", aero_params())
def test_aero_communication_within_3pct(aero_estimates, key):
    model, _, published, _ = aero_estimates[key]
    assert model == pytest.approx(published, rel=0.03)


@pytest.mark.parametrize("key", aero_params())
def test_aero_latency_within_5pct(aero_estimates, key):
    _, model, _, published = aero_estimates[key]
    assert model == pytest.approx(published, rel=0.05)


@pytest.mark.parametrize("key", aero_params())
def test_aero_communication_savings_within_005x(aero_estimates, key):
    model, _, published, _ = aero_estimates[key]
    base_model, _, base_published, _ = aero_estimates[("SM+LN+G", key[1])]
    assert base_model / model == pytest.approx(base_published / published, abs=0.05)


# The latency savings the table cannot reproduce within 0.05x (pidse vs published = SM+LN+G / row at the same T).
# AERO's latencies are inconsistent here: pruning the 6 deepest fused FFNs saves 4.76 - 4.23 = 0.53 min at
# T=128 but 10.45 - 10.32 = 0.13 min at T=256, and pruning 4 in He & Hofmann's model saves 4.50 - 4.44 =
# 0.06 min at T=128; no per-op cost that grows with T can give all three.
LATENCY_SAVINGS_MISSES = {
    ("SM+ScFuFFNi6", 128): "pidse 1.857x vs published 8.21/4.23 = 1.941x (-0.084x)",
    ("EReg(SM(t)+ScFuFFNi6)", 128): "pidse 1.857x vs published 8.21/4.23 = 1.941x (-0.084x)",
    ("SM+ScFuFFNi6", 256): "pidse 1.703x vs published 16.57/10.32 = 1.606x (+0.097x)",
    ("EReg(SM(t)+ScFuFFNi6)", 256): "pidse 1.703x vs published 16.57/10.32 = 1.606x (+0.097x)",
    ("He&Hofmann SM+ScFuFFN", 128): "pidse 1.762x vs published 8.21/4.50 = 1.824x (-0.062x)",
}


@pytest.mark.parametrize("key", aero_params(LATENCY_SAVINGS_MISSES))
def test_aero_latency_savings_within_005x(aero_estimates, key):
    _, model, _, published = aero_estimates[key]
    _, base_model, _, base_published = aero_estimates[("SM+LN+G", key[1])]
    assert base_model / model == pytest.approx(base_published / published, abs=0.05)


def test_aero_published_csv_matches_the_calibration_data():
    # cost_tables/data/aero-secretflow.csv carries the numbers of the reference table (tests/data/aero_costs.csv)
    reference = {(r["arch"] if r["family"] != "he_hofmann" else f"He&Hofmann {r['arch']}", int(r["context"])):
                 (float(r["comm_gb"]), float(r["latency_min"]))
                 for r in csv.DictReader((Path(__file__).parent / "data" / "aero_costs.csv").open())}
    assert {aero_key(r): (float(r["comm_gb"]), float(r["latency_min"])) for r in AERO_ROWS} == reference
