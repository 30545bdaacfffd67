"""SecretFlow SPU engine: log parsing (always), and real tiny SPU measurements (seconds, with the spu extra):
bytes counted over parties, warm < cold, server-held weights cheaper than secret-shared ones, ABY3's weight
sharing kept apart, a small calibration that loads as a cost table, and a whole tiny transformer validated.
The full calibration and the small-transformer validations against the shipped tables are marked slow."""
from __future__ import annotations

import pytest
import yaml

from conftest import ROOT, invoke, tiny_spec, write_yaml
from pidse.calibrate.engines.spu import Measurement, RunStats, parse_run

# Two parties' lines as SPU 0.9.5 logs them (CHEETAH, a 16 x 64 @ 64 x 64 matmul), interleaved as threads do.
LOG = """\
2026-11-22 07:15:18.201 [info] [api.cc:printProfilingData:223] - trunc_a, executed 1 times, duration 1.2s, \
send bytes 269331 recv bytes 128, send actions 1282, recv actions 1
2026-11-22 07:15:18.202 [info] [api.cc:printProfilingData:223] - trunc_a, executed 1 times, duration 1.2s, \
send bytes 128 recv bytes 269331, send actions 1, recv actions 1282
2026-11-22 07:15:18.201 [info] [api.cc:printProfilingData:223] - v2a, executed 2 times, duration 4.5e-05s, \
send bytes 0 recv bytes 32768, send actions 0, recv actions 1
2026-11-22 07:15:18.201 [info] [api.cc:printProfilingData:233] Link details: total send bytes 454342, recv bytes \
254506, send actions 1283, recv actions 2
2026-11-22 07:15:18.202 [info] [api.cc:printProfilingData:223] - v2a, executed 2 times, duration 4.5e-05s, \
send bytes 32768 recv bytes 0, send actions 1, recv actions 0
2026-11-22 07:15:18.202 [info] [api.cc:printProfilingData:233] Link details: total send bytes 254506, recv bytes \
454342, send actions 2, recv actions 1283
"""


def test_parse_run_sums_parties_and_keeps_weight_sharing_apart():
    run = parse_run(LOG, parties=2, wall_s=1.5)
    assert run.send_bytes == run.recv_bytes == 454342 + 254506
    assert run.messages == (1283, 2)  # per party, descending: the lines name no party
    assert run.rounds == 2  # the second-largest message count
    assert run.kernels["trunc_a"] == 269331 + 128
    assert run.weight_share_bytes == 32768  # v2a: sharing a private weight, one-time in a deployment
    assert run.query_bytes == 454342 + 254506 - 32768


def test_parse_run_rejects_missing_or_inconsistent_lines():
    with pytest.raises(RuntimeError, match="2 'Link details' lines for one run of 3"):
        parse_run(LOG, parties=3)
    bad = LOG.replace("recv bytes \\\n254506", "recv bytes 1").replace("recv bytes 254506", "recv bytes 1")
    with pytest.raises(RuntimeError, match="disagree"):
        parse_run(bad, parties=2)


def test_measurement_averages_warm_runs_and_reports_setup():
    # CHEETAH refills its buffers in some runs only: the mean of the warm runs is what a model pays per query
    runs = [RunStats(b, b, (3, 3), {}, 0.1) for b in (900, 120, 100, 101)]
    m = Measurement(runs[0], runs[1:])
    assert m.query_bytes == 107 and m.median_bytes == 101 and m.setup_bytes == 793
    record = m.record()
    assert (record["warm_runs"], record["warm_bytes_min"], record["warm_bytes_max"]) == (3, 100, 120)


def test_cli_engine_errors_are_one_line():
    result = invoke("calibrate", "--engine", "nope", "--protocol", "semi2k")
    assert result.exit_code == 2 and "--engine: expected an engine name" in result.output
    result = invoke("calibrate", "--engine", "spu", "--protocol", "spdz")
    assert result.exit_code == 2 and "--protocol: expected an SPU protocol" in result.output
    result = invoke("calibrate")
    assert result.exit_code == 2 and "DATA.csv and --template" in result.output


# ---- real SPU runs (tiny shapes, seconds) -------------------------------------------------------------------

@pytest.fixture(scope="module")
def spu_module():
    return pytest.importorskip("spu")


@pytest.fixture(scope="module")
def sessions(spu_module):
    from pidse.calibrate.engines.spu import Session

    made = {}

    def get(protocol):
        if protocol not in made:
            made[protocol] = Session(protocol)
        return made[protocol]
    return get


def test_semi2k_linear_bytes_by_hand(sessions):
    from pidse.calibrate.engines.spu_calibrate import measure_op

    m, error = measure_op(sessions("semi2k"), "linear", {"m": 4, "k": 16, "n": 16}, repeats=2)
    # Beaver matmul opens x - a (m*k) and W - b (k*n): 8 B per element per party, 2 parties -> 16 B;
    # truncating the m*n outputs costs 4 B per element per party -> 8 B: 16*(64 + 256) + 8*64 = 5,632
    assert m.query_bytes == 5632 and m.setup_bytes == 0 and m.weight_share_bytes == 0
    assert m.rounds == 2 and error < 1e-3


def test_cheetah_warm_runs_below_cold_and_server_weights_cheaper(sessions):
    import numpy as np

    from pidse.calibrate.engines.spu import SERVER
    from pidse.calibrate.engines.spu_calibrate import measure_op

    s = sessions("cheetah")
    m, error = measure_op(s, "scale", {"rows": 8, "cols": 16}, repeats=2)
    assert 0 < m.query_bytes < m.first.send_bytes and m.setup_bytes > 0 and error < 1e-3
    x = np.ones((4, 16), np.float32)
    w = np.full((16, 16), 0.5, np.float32)
    s.put("x", x)
    s.put("w_server", w, owner=SERVER)  # the server's private input (colocated optimisation)
    s.put("w_shared", w)  # the same weights as secret shares
    held = s.measure(s.compile(lambda a, b: a @ b, [x, w], ["x", "w_server"], ["y"]), 2)
    assert np.allclose(s.reveal("y"), x @ w, atol=1e-3)
    shared = s.measure(s.compile(lambda a, b: a @ b, [x, w], ["x", "w_shared"], ["y"]), 2)
    assert 0 < held.query_bytes < shared.query_bytes


def test_aby3_weight_sharing_is_reported_apart(sessions):
    from pidse.calibrate.engines.spu_calibrate import measure_op

    m, _ = measure_op(sessions("aby3"), "linear", {"m": 4, "k": 16, "n": 8}, repeats=1)
    # ABY3 secret-shares the server's private W (16 x 8) and b at every run, b as SPU broadcasts it to the
    # output (4 x 8): the owner sends two 8-byte shares per element: 16 * (128 + 32) = 2,560 B, one-time in a
    # deployment (which shares the weights once), not in query_bytes
    assert m.weight_share_bytes == 2560
    # per query: reshare of the m*n = 32 products (3 parties x 8 B) + truncation (28 B): 52 * 32 = 1,664
    assert m.query_bytes == 1664


def test_small_calibration_writes_a_loadable_table(sessions, tmp_path):
    from pidse.cost.registry import load_table
    from pidse.ops import shape_values
    from pidse.calibrate.engines import spu_calibrate as C

    table = C.calibrate("semi2k", "small", repeats=1, kinds=("scale", "relu", "add"), log=lambda line: None)
    path = tmp_path / "spu-semi2k-small.yaml"
    C.write(table, path)
    loaded = load_table(str(path))
    assert set(loaded.entries) == {"scale", "relu", "add"} and "gelu" in loaded.unknown
    for row in table["fit"]["measurements"]:
        f = loaded.entries[row["kind"]].formulas["comm_bytes"]
        values = shape_values(row["kind"], row["shape"])
        assert f(**{s: values[s] for s in f.symbols}) == pytest.approx(row["comm_bytes"], rel=1e-6)
    assert table["fit"]["spu_version"] and table["online_only"] is True
    assert "Generated by `pidse calibrate`" in path.read_text()


def test_validate_tiny_transformer_under_semi2k(spu_module, tmp_path):
    spec = write_yaml(tmp_path / "tiny.yaml", tiny_spec())
    result = invoke("validate", spec, "--protocol", "semi2k", "--repeats", "1")
    assert result.exit_code == 0, result.output
    assert "total (whole program)" in result.output and "output matches plaintext JAX" in result.output
    for kind in ("embedding", "layernorm", "linear", "matmul", "softmax", "gelu", "lm_head", "argmax"):
        assert f"\n{kind} " in result.output


# ---- the shipped tables at GPT-2 size (fast: reads the tables, needs no SPU) ---------------------------------

GPT2_KINDS = {"linear", "lm_head", "matmul", "softmax", "power_softmax", "layernorm", "rmsnorm", "gelu", "relu",
              "silu", "mul", "add", "scale", "rope", "argmax"}  # + embedding (not CHEETAH: see GPT2_CHEETAH)


@pytest.mark.parametrize("protocol", ["semi2k", "aby3", "cheetah"])
def test_shipped_tables_reproduce_their_gpt2_size_measurements_in_sample(protocol):
    """IN-SAMPLE, not a validation: the GPT-2-size rows (gpt2_size: T 128, d 768, 12 heads, d_ff 3072; CHEETAH
    softmax at 4 heads) of each table's fit data, measured under SPU 0.9.5 by `pidse calibrate --engine spu
    --shapes full` on the date in fit.date (2026-11-29, 2 shared cores), were part of the fit (weighted
    fit.gpt2_size.weight); the committed comm_bytes formulas reproduce every one within 10%. Before they were
    fitted to (small shapes only), CHEETAH's missed them by up to -41% (linear), +319% (matmul)."""
    from pidse.cost.registry import load_table
    from pidse.ops import shape_values

    path = ROOT / "cost_tables" / f"spu-{protocol}.yaml"
    raw = yaml.safe_load(path.read_text())
    table = load_table(str(path))
    rows = [r for r in raw["fit"]["measurements"] if r.get("gpt2_size")]
    assert raw["fit"]["date"] and raw["fit"]["gpt2_size"]["weight"] >= 1
    assert {r["kind"] for r in rows} >= GPT2_KINDS | ({"embedding"} if protocol != "cheetah" else set())
    for r in rows:
        f = table.entries[r["kind"]].formulas["comm_bytes"]
        values = shape_values(r["kind"], r["shape"])
        predicted = float(f(**{s: values[s] for s in f.symbols}))
        assert predicted == pytest.approx(r["comm_bytes"], rel=0.10, abs=1.0), (r["kind"], r["shape"])


# ---- slow: the checks against the shipped tables (minutes; run with -m slow) -------------------------

SMALL = ["model.layers=2", "model.d_model=64", "model.heads=2", "model.d_ff=256", "model.vocab_size=512"]
MODELS = [("gpt2_sm_ln_g.yaml", SMALL), ("gpt2_sm.yaml", SMALL)]


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["semi2k", "aby3", "cheetah"])
@pytest.mark.parametrize("spec,overrides", MODELS)
def test_small_transformers_within_10_percent(spu_module, protocol, spec, overrides):
    from pidse.calibrate.engines.spu_validate import validate
    from pidse.spec.load import load_spec

    v = validate(load_spec(ROOT / "arch_specs" / spec, overrides, 16), protocol, repeats=2)
    assert v.output_ok
    assert abs(v.error_pct) <= 10, v.rows


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["semi2k", "aby3", "cheetah"])
def test_recalibration_within_5_percent(spu_module, protocol):
    from pidse.calibrate.engines import spu_calibrate as C

    shipped = yaml.safe_load((ROOT / "cost_tables" / f"spu-{protocol}.yaml").read_text())
    again = C.calibrate(protocol, "full", repeats=3, kinds=("linear", "softmax", "gelu", "layernorm", "scale"),
                        log=lambda line: None)
    rows = [r for r in C.stability(shipped, again) if r["kind"] in again["fit"]["coefficients"]]
    assert rows and all(r["within"] for r in rows), [r for r in rows if not r["within"]]
