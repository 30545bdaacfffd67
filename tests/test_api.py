"""The Python API (names in, DataFrames out) and `pidse compare`, against the estimator they wrap."""
from __future__ import annotations

import pytest

import pidse
from conftest import TINY, assert_one_line_error, invoke
from pidse.cost.registry import load_table
from pidse.errors import InputError
from pidse.model.estimate import estimate as raw_estimate
from pidse.spec.load import load_spec


def test_estimate_takes_names_and_dict_overrides():
    r = pidse.estimate("gpt2_sm_scfuffn", protocol="aero-secretflow", context=256, overrides={"model.layers": 6})
    raw = raw_estimate(load_spec("gpt2_sm_scfuffn", ["model.layers=6"], 256), table=load_table("aero-secretflow"))
    assert r.totals.loc[0, "comm_bytes"] == pytest.approx(raw.totals["comm_bytes"])
    assert r.totals.loc[0, "phase"] == "total" and r.totals.loc[0, "context"] == 256
    assert len(r.ops) == len(raw.ops)


def test_estimate_takes_a_mapping_and_a_spec():
    # the tiny model: 2 layers, d 8, V 10, T 4 (conftest's TINY); its parameters are the estimator's
    from_dict = pidse.estimate(TINY)
    assert from_dict.totals.loc[0, "context"] == 4
    spec = load_spec("gpt2_sm_ln_g")
    assert pidse.estimate(spec).totals.loc[0, "params"] == 124_439_808  # HF GPT-2's count
    assert pidse.estimate(spec, overrides=["model.layers=2"]).spec.model.layers == 2


def test_by_sums_to_totals():
    r = pidse.estimate("gpt2_sm_ln_g", protocol="sigma-fss")
    for group in ("kind", "layer", "block", "part"):
        frame = r.by(group)
        assert frame["comm_bytes"].sum() == pytest.approx(r.totals.loc[0, "comm_bytes"])
        assert frame["flops"].sum() == r.totals.loc[0, "flops"]
    with pytest.raises(InputError):
        r.by("colour")


def test_parts_multiply_out_to_the_total():
    # fixed + L x layer + (L - k) x ffn, on the graph's `part` column: the decomposition the sweep uses
    one = pidse.estimate("gpt2_sm_ln_g", protocol="sigma-fss", overrides={"model.layers": 1}).by("part")
    parts = dict(zip(one["part"], one["comm_bytes"]))
    full = pidse.estimate("gpt2_sm_ln_g", protocol="sigma-fss", overrides={"model.layers": 5,
                                                                          "ffn.prune_last": 2})
    assert full.totals.loc[0, "comm_bytes"] == pytest.approx(parts["fixed"] + 5 * parts["layer"] + 3 * parts["ffn"])


def test_repr_is_short_and_html_renders():
    r = pidse.estimate("gpt2_sm_ln_g", protocol="aero-secretflow")
    assert len(repr(r)) < 200 and "gpt2_sm_ln_g" in repr(r)
    assert "<table" in r._repr_html_()


def test_compare_savings_against_a_baseline():
    frame = pidse.compare(["gpt2_sm_ln_g", "gpt2_sm_scfuffn"], baseline="gpt2_sm_ln_g", protocol="aero-secretflow",
                          context=[128, 256])
    assert list(frame["context"]) == [128, 128, 256, 256]
    assert frame.loc[0, "comm_bytes_x"] == 1.0
    assert frame.loc[1, "comm_bytes_x"] == pytest.approx(frame.loc[0, "comm_bytes"] / frame.loc[1, "comm_bytes"])


def test_sweep_returns_a_frame():
    frame = pidse.sweep("aero", context=128)
    assert {"comm_bytes", "latency_s", "ppl", "pareto_comm_bytes"} <= set(frame.columns)


def test_bad_input_is_one_error():
    with pytest.raises(InputError, match="a protocol"):
        pidse.estimate("gpt2_sm_ln_g", network="lan")
    with pytest.raises(InputError, match="spec key"):
        pidse.estimate("gpt2_sm_ln_g", overrides={"model.layrs": 3})


def test_cli_compare_prints_one_table():
    result = invoke("compare", "gpt2_sm_ln_g", "gpt2_sm_scfuffn", "gpt2_sm_t_scfuffn_ereg", "-p", "aero-secretflow",
                    "-T", "128,256")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["spec", "label", "T"] and len(lines) == 2 + 6 + 2
    assert "x = baseline / this" in result.stdout
    assert invoke("compare", "gpt2_sm_ln_g", "pythia_70m", "--format", "json").exit_code == 0
    assert_one_line_error(invoke("compare", "gpt2_sm_ln_g", "nosuch"), "nosuch")


def test_outputs_never_overwrite_by_default(tmp_path, monkeypatch):
    # no --out: a new folder in the working directory, then -2; --out onto an earlier sweep needs --overwrite
    monkeypatch.chdir(tmp_path)
    space = ["--space", "he_vs_mpc", "-p", "aero-secretflow", "-n", "wan"]
    assert invoke("sweep", *space).exit_code == 0
    assert invoke("sweep", *space).exit_code == 0
    assert (tmp_path / "pidse-sweep" / "sweep.md").is_file() and (tmp_path / "pidse-sweep-2" / "sweep.md").is_file()
    assert_one_line_error(invoke("sweep", *space, "--out", tmp_path / "pidse-sweep"), "--overwrite")
    assert invoke("sweep", *space, "--out", tmp_path / "pidse-sweep", "--overwrite").exit_code == 0
    assert invoke("validate", "--published").exit_code == 0
    assert (tmp_path / "pidse-validation" / "validation.md").is_file()
    assert_one_line_error(invoke("validate", "--published", "--out", tmp_path / "pidse-validation"), "--overwrite")


def test_cli_consistency_fixes(tmp_path):
    # formula's default metric works without a table; --by kind is the per-kind view (op is its old name)
    assert invoke("formula", "gpt2_sm_ln_g").stdout.startswith("flops of gpt2_sm_ln_g")
    by_kind = invoke("formula", "gpt2_sm_ln_g", "-p", "sigma-fss", "--by", "kind").stdout
    assert by_kind == invoke("formula", "gpt2_sm_ln_g", "-p", "sigma-fss", "--by", "op").stdout
    assert "softmax" in by_kind
    # a context past max_context names the override that prices it
    assert_one_line_error(invoke("estimate", "gpt2_sm_ln_g", "-T", "4096"), "--set model.max_context=4096")
    # 31 decode steps: one softmax entry with the KV-length range, not 31 entries
    text = invoke("estimate", "gpt2_sm_ln_g", "--set", "inference.generate=32").stdout
    line = next(x for x in text.splitlines() if x.strip().startswith("nonlinear ops"))
    assert "SM:4464xR1x129..159" in line and line.count("SM:") == 2  # 12 layers x 12 heads x 31 steps = 4464


def test_sweep_warns_when_latencies_use_different_networks(tmp_path):
    result = invoke("sweep", "--space", "he_vs_mpc", "-p", "aero-secretflow,ckks-tenseal-cpu", "-n", "table",
                    "--out", tmp_path / "s")
    assert result.exit_code == 0 and "warning: latencies use each table's own network" in result.stderr


def test_more_consistency(tmp_path):
    # validate's -p names a table, as everywhere (the engine protocol follows); scaling says when T passes
    # max_context; train takes -T
    result = invoke("scaling", "gpt2_sm_ln_g", "-T", "512:4096")
    assert result.exit_code == 0 and "exceed this model's max_context (1,024)" in result.stderr
    assert "--context" in invoke("train", "-h").stdout
    assert "SPU table to check" in " ".join(invoke("validate", "-h").stdout.split())


def test_atomic_writer_keeps_the_usual_file_mode(tmp_path):
    import os

    from pidse.files import write_text_atomic

    write_text_atomic(tmp_path / "t.yaml", "x: 1\n")
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(tmp_path / "t.yaml").st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's 0600


def test_compare_uses_one_unit_per_column():
    # SM+LN+G takes minutes under BumbleBee, SM+ScFuFFN under two: both rows in minutes
    lines = invoke("compare", "gpt2_sm_ln_g", "gpt2_sm_scfuffn", "-p", "bumblebee").stdout.splitlines()[2:4]
    assert all(line.split()[-4] == "min" for line in lines), lines


# ---- one spec under several systems -----------------------------------------------------------------------

LLAMA_TINY = ["model.layers=2", "model.d_model=64", "model.heads=4", "model.kv_heads=2", "model.d_ff=128",
              "model.vocab_size=256", "model.max_context=64", "inference.context=16"]


def test_compare_under_several_tables_prices_each_at_its_own_setting():
    frame = pidse.compare(["llama2_7b", "gpt2_sm_ln_g"], baseline="llama2_7b", protocol=["sigma", "bolt", "puma"],
                          overrides=LLAMA_TINY)
    assert list(frame["protocol"]) == ["sigma", "sigma", "bolt", "bolt", "puma", "puma"]
    for _, row in frame[frame["protocol"] != "bolt"].iterrows():  # the same numbers as one estimate each
        alone = pidse.estimate(row["spec"], protocol=row["protocol"], overrides=LLAMA_TINY).totals.iloc[0]
        assert row["comm_bytes"] == alone["comm_bytes"] and row["latency_s"] == alone["latency_s"]
        assert row["network"] == alone["network"] and row["hardware"] == alone["hardware"] != ""
        assert row["not_priced"] == ""
    # BOLT has no SiLU: the LLaMA rows say so and carry no cost (a partial sum would read as the cost);
    # GPT-2 (GELU) is priced under BOLT as usual
    llama_bolt, gpt2_bolt = frame[frame["protocol"] == "bolt"].to_dict("records")
    assert llama_bolt["not_priced"] == "no cost for silu" and llama_bolt["comm_bytes"] != llama_bolt["comm_bytes"]  # NaN
    assert llama_bolt["params"] > 0 and llama_bolt["comm_bytes_x"] != llama_bolt["comm_bytes_x"]  # no saving
    assert gpt2_bolt["not_priced"] == "" and gpt2_bolt["comm_bytes"] > 0
    # savings against the baseline under the same table
    sigma = frame[frame["protocol"] == "sigma"].reset_index()
    assert sigma.loc[1, "comm_bytes_x"] == pytest.approx(sigma.loc[0, "comm_bytes"] / sigma.loc[1, "comm_bytes"])


def test_compare_under_every_table():
    from pidse.cost.registry import list_tables

    frame = pidse.compare(["gpt2_sm_ln_g"], protocol="all", overrides=["model.layers=2"])
    assert list(frame["protocol"]) == list_tables() and len(frame) >= 20
    priced = frame[frame["not_priced"] == ""]
    assert (priced["comm_bytes"] > 0).all() and (priced["latency_s"] > 0).all()


def test_cli_compare_under_several_tables():
    result = invoke("compare", "llama2_7b", *[a for item in LLAMA_TINY for a in ("--set", item)],
                    "-p", "sigma, bolt")
    assert result.exit_code == 0, result.output
    header, _, sigma, bolt, _, note = result.stdout.splitlines()
    assert " table " in header and " machine " in header and header.endswith("not priced")
    assert " sigma  sigma-lan  sigma-a6000 " in sigma and ("GB" in sigma or "MB" in sigma)
    assert " bolt " in bolt and bolt.endswith("no cost for silu") and "GB" not in bolt and "MB" not in bolt
    assert "each table at its paper's network and machine" in note
    for bad, needle in (("sigma,,bolt", "each once"), ("sigma,sigma", "each once"), ("sigma,nope", "nope")):
        assert_one_line_error(invoke("compare", "gpt2_sm_ln_g", "-p", bad), "--protocol", needle)
    # estimate prices with one table and says where several go
    assert_one_line_error(invoke("estimate", "gpt2_sm_ln_g", "-p", "sigma,bolt"), "--protocol", "pidse compare")


def test_cli_compare_plots_the_tables(tmp_path):
    out = tmp_path / "systems.png"
    result = invoke("compare", "llama2_7b", "gpt2_sm_ln_g", *[a for item in LLAMA_TINY for a in ("--set", item)],
                    "-p", "sigma,bolt", "--plot", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"wrote {out}" in result.stderr
    assert_one_line_error(invoke("compare", "gpt2_sm_ln_g", "--plot", str(tmp_path / "x.png")), "--plot",
                          "--protocol as well")
    for bad, needle in ((tmp_path, "not a folder"), (tmp_path / "x.txt", "*.png, *.svg or *.pdf"),
                        (tmp_path / "missing" / "x.png", "an existing folder")):
        assert_one_line_error(invoke("compare", "gpt2_sm_ln_g", "-p", "sigma", "--plot", str(bad)), needle)
        assert_one_line_error(invoke("scaling", "gpt2_sm_ln_g", "-p", "sigma", "--plot", str(bad)), needle)
    assert not (tmp_path.parent / f"{tmp_path.name}.png").exists()  # matplotlib's own suffix, never added


def test_compare_a_phase_under_several_tables():
    # SIGMA's dealer keys are its offline phase; CrypTen's TTP traffic is in no source (online only): its row says
    # so instead of failing the comparison, and has no costs
    frame = pidse.compare(["gpt2_sm_ln_g"], protocol=["sigma", "crypten"], phase="total",
                          overrides=["model.layers=2"])
    sigma, crypten = frame.to_dict("records")
    alone = pidse.estimate("gpt2_sm_ln_g", protocol="sigma", phase="total", overrides=["model.layers=2"])
    assert sigma["comm_bytes"] == alone.totals.loc[0, "comm_bytes"] and sigma["not_priced"] == ""
    assert crypten["not_priced"] == "no total figure: it models the online phase only"
    assert crypten["phase"] == "total" and crypten["latency_s"] != crypten["latency_s"]  # NaN
    with pytest.raises(InputError, match="online for crypten"):  # one table: the error, as pidse estimate gives it
        pidse.compare(["gpt2_sm_ln_g"], protocol="crypten", phase="total")
    result = invoke("compare", "gpt2_sm_ln_g", "-p", "sigma,crypten", "--phase", "offline")
    assert result.exit_code == 0 and "no offline figure: it models the online phase only" in result.stdout
    assert_one_line_error(invoke("compare", "gpt2_sm_ln_g", "--phase", "total"), "--protocol TABLE as well")


def test_compare_on_one_machine_under_several_tables():
    # --hardware re-prices compute between machines of one kind: a CPU table on this machine, a GPU table not
    # (its row says so), a table that names no machine not at all; a misspelt preset stays one error
    frame = pidse.compare(["gpt2_sm_ln_g"], protocol=["bumblebee", "sigma", "puma-aby3"], hardware="this-machine",
                          overrides=["model.layers=2"])
    bumblebee, sigma, aby3 = frame.to_dict("records")
    assert bumblebee["hardware"] == "this-machine" and bumblebee["not_priced"] == ""
    assert bumblebee["latency_s"] > pidse.compare(["gpt2_sm_ln_g"], protocol=["bumblebee", "sigma"],
                                                  overrides=["model.layers=2"]).loc[0, "latency_s"]  # 2 cores
    assert sigma["not_priced"] == "not re-priced on this-machine: needs a GPU like sigma's sigma-a6000"
    assert aby3["not_priced"] == "not re-priced on this-machine: needs a table that names its hardware"
    with pytest.raises(InputError, match="got 'nope'"):
        pidse.compare(["gpt2_sm_ln_g"], protocol=["bumblebee", "sigma"], hardware="nope")
