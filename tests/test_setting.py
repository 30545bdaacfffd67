"""The Setting: hardware re-pricing, phases, table metadata, `pidse list` and `pidse validate --published`,
derived by hand on a two-op toy table."""
from __future__ import annotations

import csv

import pytest

from conftest import assert_one_line_error, invoke, write_yaml
from pidse.calibrate.published import compare, network_of, published_bytes
from pidse.cost.mpc import price
from pidse.cost.registry import load_table
from pidse.cost.setting import Hardware, Network, Setting, latency_s, resolve_hardware, resolve_setting

# A toy per_op table on a 4-thread 2.5 GHz CPU (throughput 10): a GELU costs 100 B, 2 rounds, 1 ms per element
# online, and its dealer key 1000 B per element offline (no rounds, no compute).
TOY = {
    "version": 1, "name": "toy", "parties": 2, "protocol": "toy FSS", "network": "lan",
    "system": "Toy (a test system)", "matches": ["^Toy"],
    "hardware": {"name": "toy-cpu", "kind": "cpu", "threads": 4, "ghz": 2.5, "source": "test"},
    "offline": "per_op", "units": {"comm": "GiB", "scope": "total"},
    "ops": {
        "gelu": {"comm_bytes": "100 * elements", "rounds": 2, "compute_s": "1e-3 * elements",
                 "offline": {"comm_bytes": "1000 * elements", "rounds": 0, "compute_s": 0},
                 "source": "test", "grade": "estimate"},
        "layernorm": {"unknown": "not in the test"},
    },
}


@pytest.fixture
def toy(tmp_path):
    return load_table(str(write_yaml(tmp_path / "toy.yaml", TOY)))


def gelu(elements: int) -> dict:
    return {"op": "g", "kind": "gelu", "shape": {"rows": 1, "cols": elements}, "attrs": {}}


def test_latency_model_by_hand():
    # 0.5 s compute + 8 x 1e6 B / 8e6 b/s = 1 s + 3 rounds x 0.1 s = 1.8 s
    assert latency_s(0.5, 1e6, 3, 8e6, 0.1) == pytest.approx(1.8)


@pytest.mark.parametrize("phase, comm, rounds, compute", [
    ("online", 1000.0, 2.0, 0.01),  # 10 elements x 100 B; 2 rounds; 10 x 1 ms
    ("offline", 10000.0, 0.0, 0.0),  # 10 x 1000 B of dealer keys
    ("total", 11000.0, 2.0, 0.01),
])
def test_phases_by_hand(toy, phase, comm, rounds, compute):
    row = gelu(10)
    price([row], [], toy, Setting(Network("n", 8e6, 0.1), toy.hardware, phase))
    assert (row["comm_bytes"], row["rounds"], row["compute_s"]) == pytest.approx((comm, rounds, compute))
    # latency = compute + 8 comm / 8e6 + rounds x 0.1
    assert row["latency_s"] == pytest.approx(compute + comm / 1e6 + rounds * 0.1)


def test_hardware_repricing_by_hand(toy):
    # server-32c is 32 threads x 2.7 GHz = 86.4; the toy machine 4 x 2.5 = 10: compute x 10 / 86.4
    setting = resolve_setting(toy, hardware="server-32c")
    assert setting.compute_scale == pytest.approx(10 / 86.4)
    row = gelu(1000)  # 1 s on the toy machine
    price([row], [], toy, setting)
    assert row["compute_s"] == pytest.approx(10 / 86.4)
    assert row["comm_bytes"] == 100_000  # communication does not depend on the hardware


def test_this_machine_is_read_at_run_time():
    hw = resolve_hardware("this-machine")
    assert hw.kind == "cpu" and hw.threads >= 1 and hw.ghz > 0


def test_hardware_refuses_another_kind_and_unknown_names(toy):
    with pytest.raises(Exception, match="one kind only"):
        resolve_setting(toy, hardware="a100")
    with pytest.raises(Exception, match="did you mean 'a100'"):
        resolve_setting(toy, hardware="a10")


def test_tables_without_hardware_cannot_be_repriced():
    with pytest.raises(Exception, match="does not say what machine"):
        resolve_setting(load_table("sigma-fss"), hardware="laptop-8c")


def test_a_non_interactive_ckks_table_has_nothing_offline():
    # nexus: `offline: none` (one upload, one download, no preprocessing; its one-time keys are reported apart):
    # offline is zero in every cost column and in the HE breakdown, total is online
    import pidse

    kw = dict(protocol="nexus", overrides=["model.layers=1", "model.vocab_size=512"], context=16)
    online, offline, total = (pidse.estimate("gpt2_sm_ln_g", phase=p, **kw) for p in ("online", "offline", "total"))
    assert online.totals.loc[0, "latency_s"] > 0 and online.totals.loc[0, "comm_bytes"] > 0
    assert all(offline.totals.loc[0, c] == 0 for c in ("comm_bytes", "rounds", "compute_s", "latency_s"))
    assert (offline.ops["bootstrap_s"].fillna(0) == 0).all() and (offline.ops["rot_s"].fillna(0) == 0).all()
    for c in ("comm_bytes", "rounds", "compute_s", "latency_s"):
        assert total.totals.loc[0, c] == online.totals.loc[0, c]


def test_phase_defaults_and_refusals(toy):
    assert resolve_setting(toy).phase == "online"
    aero = load_table("aero-secretflow")  # end-to-end totals AERO does not split
    assert resolve_setting(aero).phase == "total"
    with pytest.raises(Exception, match="total for aero-secretflow: its costs are end-to-end"):
        resolve_setting(aero, phase="offline")
    sigma = load_table("sigma-fss")  # online only: the dealer's keys are not modelled
    with pytest.raises(Exception, match="online for sigma-fss"):
        resolve_setting(sigma, phase="total")


@pytest.mark.parametrize("text, bps, rtt", [
    ("9.4 Gbps, 0.05 ms ping (LAN)", 9.4e9, 0.05e-3),
    ("400 Mbps, 4 ms ping (WAN)", 400e6, 4e-3),
    ("377 MBps, 0.8 ms echo latency (LAN)", 377 * 8e6, 0.8e-3),  # megabytes per second
    ("10GbE, RTT not stated (GPU, CrypTen)", 10e9, 0.8e-3),  # RTT from the table's own network (lan)
])
def test_published_networks(toy, text, bps, rtt):
    net = network_of(text, toy)
    assert (net.bandwidth_bps, net.rtt_s) == pytest.approx((bps, rtt))


def test_published_units():
    assert published_bytes({"comm_gb_published": "0.5", "comm_unit": "GiB (2^30 B)"}) == 0.5 * 2 ** 30
    assert published_bytes({"comm_gb_published": "0.5", "comm_unit": "GB (1e9 B)"}) == 0.5e9
    assert published_bytes({"comm_gb_published": "", "comm_unit": "GB (1e9 B)"}) is None


def _csv(path, rows):
    columns = ["id", "system", "model", "layers", "d_model", "heads", "d_ff", "vocab", "input_tokens",
               "generated_tokens", "op", "comm_gb_published", "comm_unit", "comm_scope", "rounds_published",
               "latency_s_published", "network", "online_offline"]
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, columns)
        writer.writeheader()
        writer.writerows([dict(zip(columns, r)) for r in rows])
    return path


def test_validate_published_by_hand(tmp_path, toy, monkeypatch):
    import pidse.calibrate.published as published

    monkeypatch.setattr(published, "list_tables", lambda: [str(tmp_path / "toy.yaml")])
    # GELU |x| = 2^10 microbenchmark: online 100 B x 1024 = 102,400 B; published 0.0001 GiB = 107,374 B
    # (ratio 0.954); latency on 8 Mbps / 10 ms: 1.024 s + 0.1024 s + 0.02 s = 1.1464 s against 1.2 s.
    # One party's bytes: the predicted total / 2 parties.
    rows = _csv(tmp_path / "pub.csv", [
        ["1", "Toy sys", "(microbenchmark)", "", "", "", "", "", "", "", "GeLU |x|=2^10", "0.0001", "GiB (2^30 B)",
         "total over parties", "", "1.2", "8 Mbps, 10 ms", "online"],
        ["2", "Toy sys", "(microbenchmark)", "", "", "", "", "", "", "", "GeLU |x|=2^10", "0.0000512", "GB",
         "one party", "", "", "8 Mbps, 10 ms", "online"],
        ["3", "Other", "(microbenchmark)", "", "", "", "", "", "", "", "GeLU |x|=2^10", "1", "GB", "total", "",
         "", "", "online"],
        ["4", "Toy sys", "BERT-tiny", "2", "128", "2", "512", "30522", "128", "1", "LayerNorm (all layers)", "1",
         "GB", "total", "", "", "", "online"],
    ])
    out = {r["id"]: r for r in compare(rows)}
    assert out["1"]["comm_ratio"] == pytest.approx(102_400 / (0.0001 * 2 ** 30))
    assert out["1"]["latency_pred"] == pytest.approx(1.024 + 0.1024 + 0.02)
    assert out["2"]["per_party"] and out["2"]["comm_pred"] == pytest.approx(51_200)
    assert "no cost table models 'Other'" in out["3"]["why"]
    assert "layernorm" in out["4"]["why"]  # the toy table has no LayerNorm: unexpressed, with the reason


def test_validation_summary_medians_by_hand():
    from pidse.report.validation import summary_grid
    # ratios 2.0 and 0.8: median of logs (ln 2 + ln 0.8) / 2 = 0.2350 -> 1.26x (leans over);
    # median of |logs| (0.6931 + 0.2231) / 2 = 0.4581 -> 1.58x off either way
    rows = [{"system": "S", "comm_ratio": r, "comm_ok": False, "latency_ok": None} for r in (2.0, 0.8)]
    head, body = summary_grid(rows + [{"system": "T", "comm_ratio": None, "comm_ok": None, "latency_ok": None}],
                              "system")
    assert head[-2:] == ["median comm ratio", "median comm factor off"]
    assert body == [["S", "2", "0/2", "-", "1.26x", "1.58x"], ["T", "1", "-", "-", "-", "-"]]


def test_cli_validate_published_writes_the_report(tmp_path):
    result = invoke("validate", "--published", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    text = (tmp_path / "validation.md").read_text()
    assert "# Cost tables against published measurements" in text and (tmp_path / "validation.png").is_file()
    assert "Whole-model rows are never fitted" in text


def test_cli_validate_needs_spec_and_protocol_without_published():
    assert_one_line_error(invoke("validate"), "SPEC and --protocol")


@pytest.mark.parametrize("what, expect", [("tables", "aero-secretflow"), ("hardware", "this-machine"),
                                          ("networks", "wan-aero"), ("specs", "gpt2_sm_ln_g")])
def test_cli_list(what, expect):
    result = invoke("list", what)
    assert result.exit_code == 0 and expect in result.output
    assert invoke("list", what, "--format", "json").exit_code == 0


def test_list_tables_says_how_each_meets_its_published_rows():
    import json

    from pidse.calibrate.published import compare
    from pidse.report.validation import table_checks, verdicts

    checks = table_checks(compare(None, None))
    # the same counts as validation.md's "By table" summary, from the same rows
    sigma = [r for r in verdicts(compare(None, None)) if r["table"] == "sigma"]
    assert checks["sigma"] == (f"comm {sum(r['comm_ok'] for r in sigma if r['comm_ok'] is not None)}/"
                               f"{sum(r['comm_ok'] is not None for r in sigma)}, latency "
                               f"{sum(r['latency_ok'] for r in sigma if r['latency_ok'] is not None)}/"
                               f"{sum(r['latency_ok'] is not None for r in sigma)}")
    listed = {r["name"]: r for r in json.loads(invoke("list", "tables", "--format", "json").stdout)}
    assert listed["sigma"]["published rows within target"] == checks["sigma"]
    assert listed["spu-semi2k"]["published rows within target"] == "no published row"
    assert "published rows within target" in invoke("list", "tables").stdout.splitlines()[0]


def test_cli_estimate_hardware_and_phase(tmp_path):
    path = write_yaml(tmp_path / "toy.yaml", TOY)
    result = invoke("estimate", "gpt2_sm_ln_g", "-p", str(path), "--phase", "offline", "--allow-missing")
    assert result.exit_code == 0, result.output
    assert "phase               offline" in result.output
    result = invoke("estimate", "gpt2_sm_ln_g", "-p", str(path), "--hardware", "laptop-8c", "--allow-missing")
    assert "laptop-8c (cpu, 8 threads x 3 GHz), re-priced from toy-cpu" in result.output
    assert_one_line_error(invoke("estimate", "gpt2_sm_ln_g", "--phase", "online"), "--protocol TABLE")
    assert_one_line_error(invoke("estimate", "gpt2_sm_ln_g", "-p", str(path), "--phase", "sometimes"),
                          "online, offline, total")


def test_table_metadata_is_validated(tmp_path):
    for key, value, expect in (("offline", "maybe", "none, included, per_op"),
                               ("units", {"comm": "MB"}, "GB or GiB"),
                               ("matches", ["("], "valid regular expressions"),
                               ("hardware", {"kind": "cpu", "threads": 0, "ghz": 2}, "positive number")):
        path = write_yaml(tmp_path / "bad.yaml", {**TOY, key: value})
        assert_one_line_error(invoke("estimate", "gpt2_sm_ln_g", "-p", str(path)), expect)


def test_hardware_dataclass():
    assert Hardware("x", "cpu", 2, 3.0).throughput == 6.0
    assert Hardware("g", "gpu", tflops=19.5).summary() == "g (gpu, 19.5 TFLOP/s)"


@pytest.mark.parametrize("text, bps", [("100Mbps", 1e8), ("1 Gbps", 1e9), ("377MB/s", 377 * 8e6), ("1e9", 1e9),
                                       ("3.5gbps", 3.5e9)])
def test_bandwidth_units(text, bps):
    from pidse.schema import bandwidth_bps

    assert bandwidth_bps(text) == pytest.approx(bps)


@pytest.mark.parametrize("text, s", [("80ms", 0.08), ("0.5 ms", 5e-4), ("2s", 2.0), ("0.08", 0.08)])
def test_time_units(text, s):
    from pidse.schema import seconds

    assert seconds(text) == pytest.approx(s)


@pytest.mark.parametrize("option, value, expect", [("--bandwidth", "nan", "bits per second"),
                                                    ("--bandwidth", "fast", "bits per second"),
                                                    ("--rtt", "3parsecs", "a time"), ("--rtt", "inf", "a time"),
                                                    ("--bandwidth", "0Gbps", "positive bandwidth")])
def test_cli_rejects_bad_units(option, value, expect):
    assert_one_line_error(invoke("estimate", "gpt2_sm_ln_g", "-p", "sigma-fss", option, value), expect)


def test_cli_takes_human_units():
    result = invoke("estimate", "gpt2_sm_ln_g", "-p", "sigma-fss", "--bandwidth", "1Gbps", "--rtt", "80ms")
    assert result.exit_code == 0 and "1,000 Mbps, RTT 80.0 ms" in result.stdout
    assert invoke("estimate", "-h").exit_code == 0


def test_published_rows_name_aero_designs(tmp_path):
    # an AERO label in the model column picks the spec through the one label map (ScFuFFNi6 = 6 FFNs pruned), and
    # aero-secretflow keeps its fitted effective network (AERO's stated 100 Mbps cannot carry its own bytes)
    import pidse

    path = _csv(tmp_path / "aero.csv", [
        ["a", "AERO (SecretFlow)", "GPT-2 (EReg(SM(t)+ScFuFFNi6))", "12", "768", "12", "3072", "50000", "128", "1",
         "whole-model", "6.28", "GB (1e9 B)", "total over parties", "", "253.8", "100 Mbps, 80 ms RTT",
         "end-to-end"]])
    row = compare(path)[0]
    expected = pidse.estimate("gpt2_sm_t_scfuffn_ereg", protocol="aero-secretflow", context=128,
                              overrides={"ffn.prune_last": 6, "model.max_context": 1024})
    assert row["table"] == "aero-secretflow" and row["network"].name == "aero-secretflow-effective"
    assert row["comm_pred"] == pytest.approx(expected.totals.loc[0, "comm_bytes"])


def test_shipped_published_rows_regression():
    """The shipped published_ops.csv through every table (what reports/validation.md shows). Per-op rows are the
    tables' calibration material, so this is largely IN-SAMPLE: it guards against regressions, it does not
    validate. Whole-model rows are never fitted; their counts are pinned where they stand, so that a change in
    either direction is looked at."""
    from pidse.report.validation import verdicts

    rows = compare()
    judged = verdicts(rows)
    per_op = [r for r in judged if not r["whole_model"]]
    whole = [r for r in judged if r["whole_model"]]
    assert sum(bool(r["comm_ok"]) for r in per_op) >= 68 and len(per_op) == 78  # 162-168: puma-crypten
    assert all(r["latency_ok"] for r in per_op if r["latency_ok"] is not None)
    assert sum(bool(r["comm_ok"]) for r in whole) == 7 and len(whole) == 10
    missing = {r["id"]: r["why"] for r in rows if r["why"]}
    assert set(missing) == {"151"} and all(missing.values())


def test_validate_published_with_one_table(tmp_path):
    # -p prices every row with that table, whatever its system: BumbleBee's GeLU microbenchmark under BOLT is
    # BOLT's own 2^20 GeLU cost (the row BOLT's rerun published): 3.85 GiB within 10%
    path = _csv(tmp_path / "one.csv", [["1", "BumbleBee", "(microbenchmark)", "", "", "", "", "", "", "",
                                        "GeLU |x|=2^20", "3.85", "GiB (2^30 B)", "total over parties", "", "",
                                        "1 Gbps, 0.5 ms ping (LAN)", "end-to-end"]])
    row = compare(path, "bolt")[0]
    assert row["table"] == "bolt" and row["comm_ratio"] == pytest.approx(1.0, abs=0.1)
    result = invoke("validate", "--published", path, "-p", "bolt", "--out", tmp_path / "v")
    assert result.exit_code == 0 and "-p bolt" in (tmp_path / "v" / "validation.md").read_text()


def test_bad_cells_of_a_published_file_are_errors_naming_line_and_column(tmp_path):
    # a cell that is not a number is a malformed file (exit 2, its line and column named), not a row pidse
    # cannot express (issue 17: no bad input accepted with exit 0)
    path = _csv(tmp_path / "bad.csv", [
        ["1", "BumbleBee", "(microbenchmark)", "", "", "", "", "", "", "", "GeLU |x|=2^20", "lots", "GiB", "total",
         "", "", "", "online"],
    ])
    result = invoke("validate", "--published", path, "--out", tmp_path / "v")
    assert_one_line_error(result, "bad.csv", "line 2: comm_gb_published", "'lots'")
    path = _csv(tmp_path / "bad.csv", [
        ["2", "BumbleBee", "BERT-base", "twelve", "768", "12", "3072", "30522", "128", "1", "whole-model", "1", "GB",
         "total", "", "nan", "", "end-to-end"],
    ])
    assert_one_line_error(invoke("validate", "--published", path, "--out", tmp_path / "v2"), "line 2: layers")


def test_a_rerun_on_another_machine_reprices_compute():
    """published_map.yaml's `hardware` setting: CipherPrune reran Iron (row 140) on a 16-core 3.9 GHz Threadripper,
    while the iron table is priced on one 3.6 GHz thread. The row's compute is the table's x (1 x 3.6) /
    (16 x 3.9) = 0.0577; communication and rounds are untouched. Not fitted: the thread count is an assumption
    (one per core), and the row is whole-model validation (pidse 442 s vs 442.4 s; with 32 threads 0.87x)."""
    from pidse.calibrate.published import Rules, price_row, read_rows

    rules, table = Rules.load(), load_table("iron")
    row = next(r for r in read_rows() if r["id"] == "140")
    machine, scale = rules.hardware(row, table)
    assert (machine.threads, machine.ghz) == (16, 3.9)
    assert scale == pytest.approx(3.6 / (16 * 3.9))
    other = next(r for r in read_rows() if r["system"].startswith("Iron (as implemented by BOLT)"))
    assert rules.hardware(other, table) == (table.hardware, 1.0)
    priced = price_row(row, table, rules)
    assert priced["latency_s"] == pytest.approx(442.4, rel=0.05)
