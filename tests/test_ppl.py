"""The measured-perplexity database: canonical keys, the shipped seed, validation, duplicates, CSV round trips,
the `pidse ppl` commands, concurrent writers and a writer killed mid-transaction."""
from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import typer
from typer.testing import CliRunner

from conftest import SPECS, assert_one_line_error, write_yaml
from pidse.errors import InputError
from pidse.ppl.db import SEED_CSV, arch_key, open_db
from pidse.cli.ppl import app as ppl_app
from pidse.spec.load import load_spec

GPT2 = SPECS / "gpt2_sm_ln_g.yaml"
FUSED = SPECS / "gpt2_sm_scfuffn.yaml"
EREG = SPECS / "gpt2_sm_t_scfuffn_ereg.yaml"
with open(SEED_CSV, newline="") as handle:
    PUBLISHED = list(csv.DictReader(handle))


def key(path, *overrides) -> str:
    return arch_key(load_spec(path, overrides))


@pytest.fixture
def db(db_path):
    with open_db(db_path) as store:
        yield store


def count(path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM runs").fetchone()[0]


def write_runs(path, rows, header=("spec", "context", "dataset", "train_tokens", "ppl", "status", "source")):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# ---- the canonical architecture key ---------------------------------------------------------------------

def test_key_is_the_same_for_every_spelling_of_one_model():
    base = key(EREG)
    assert key(EREG, "model.kv_heads=12", "model.head_dim=64") == base  # the defaults, written out
    assert key(EREG, "attention.projections=[o,v,k,q]") == base
    assert key(EREG, "norm.final=false", "norm.attention=false") == base  # no norm: its sites are moot
    assert key(EREG, "model.d_ff=1024") == base  # a fused FFN is d x d: d_ff is gone
    assert key(EREG, "training.entropy_lambda=1.0e-5") == key(EREG, "training.entropy_lambda=0.00001")
    assert key(EREG, "label=other", "name=x", "description=y", "inference.context=512",
               "training.dataset=languini_books", "training.tokens=4.8e+9", "model.max_context=2048") == base
    wn = ["training.weight_norm=weight"]
    assert key(FUSED, *wn, "training.weight_norm_on=[ffn,k,q]") == key(FUSED, *wn, "training.weight_norm_on=[q,k,ffn]")
    assert key(GPT2, "norm.kind=layernorm", "norm.attention=false", "norm.ffn=false", "norm.final=false") == \
        key(GPT2, "norm.kind=none")
    assert key(GPT2, "attention.causal=true") == key(GPT2)  # the default; keys from before the flag still hold


@pytest.mark.parametrize("override", [
    "model.layers=18", "model.vocab_size=16384", "model.kv_heads=4", "ffn.prune_last=6",
    "training.entropy_lambda=5.0e-5", "training.entropy_reg=false", "attention.temperature=fixed",
    "model.bias=false", "embeddings.tied_head=false", "attention.causal=false",
])
def test_key_changes_with_every_cost_or_training_field(override):
    assert key(EREG, override) != key(EREG)


def test_key_separates_norm_kind_and_ffn_width():
    assert key(GPT2, "norm.kind=rmsnorm") != key(GPT2)
    assert key(GPT2, "model.d_ff=1024") != key(GPT2)  # an unfused FFN's width matters


# ---- the shipped seed ----------------------------------------------------------------------------------------

def test_seed_holds_every_published_row_with_its_source(db):
    rows = db.query()
    assert len(rows) == len(PUBLISHED) == 78
    got = sorted((r["family"], r["label"], r["layers"], r["context"], r["dataset"], r["train_tokens"] or 0,
                  r["ppl"] or 0, r["status"], r["source"]) for r in rows)
    want = sorted((p["family"], p["arch"], int(p["layers"]), int(p["context"]), p["dataset"],
                   float(p["train_tokens"] or 0), float(p["ppl"] or 0), p["status"], p["source"]) for p in PUBLISHED)
    assert got == want
    diverged = [r for r in rows if r["status"] == "diverged"]
    assert len(diverged) == sum(p["status"] == "diverged" for p in PUBLISHED) == 6
    assert all(r["ppl"] is None for r in diverged)
    assert all(r["train_tokens"] is None for r in rows if r["family"] == "ablation_pythia70m")


@pytest.mark.parametrize("family, label, context, dataset, spec, overrides", [
    ("baseline", "SM+LN+G", 128, "codeparrot", GPT2, []),
    ("aero", "EReg(SM(t)+ScFuFFNi6)", 128, "codeparrot", EREG, ["ffn.prune_last=6"]),
    ("aero", "EReg(SM(t)+ScFuFFNi4)", 128, "codeparrot", EREG, ["ffn.prune_last=4", "model.layers=18"]),
    ("aero", "EReg(SM(t)+ScFuFFNi1)", 512, "languini_books", EREG,
     ["ffn.prune_last=1", "model.vocab_size=16384", "training.entropy_lambda=5.0e-5"]),
    ("he_hofmann", "SM+ScFuFFNi4", 128, "codeparrot", SPECS / "gpt2_sas_scfuffn.yaml", ["ffn.prune_last=4"]),
    ("ablation_pythia70m", "SM+R", 256, "codeparrot", SPECS / "pythia_70m.yaml",
     ["norm.kind=none", "ffn.activation=relu"]),
    ("ablation_norm", "SM+SNorm(QK+FFN)", 128, "codeparrot", SPECS / "gpt2_sm.yaml",
     ["training.weight_norm=spectral", "training.weight_norm_on=[q,k,ffn]"]),
])
def test_seed_maps_each_label_to_its_spec(db, family, label, context, dataset, spec, overrides):
    want = load_spec(spec, overrides)
    rows = [r for r in db.query(context=context, dataset=dataset)
            if (r["family"], r["label"], r["layers"]) == (family, label, want.model.layers)]
    assert len(rows) >= 1
    assert {r["arch_key"] for r in rows} == {arch_key(want)}


def test_published_baselines_are_found_from_the_shipped_spec(db):
    rows = db.query(arch_key=key(GPT2), context=128, dataset="codeparrot")
    assert sorted(r["ppl"] for r in rows) == [2.688, 2.69]  # Table 4 and the ablation (Fig. 3)


def test_seeding_is_idempotent(db_path):
    open_db(db_path).close()
    assert count(db_path) == len(PUBLISHED)
    with open_db(db_path) as store:
        stored = store.import_csv(SEED_CSV)
    assert stored.added == [] and len(stored.duplicates) == len(PUBLISHED)
    assert count(db_path) == len(PUBLISHED)


# ---- adding, validation, duplicates ----------------------------------------------------------------------

def test_add_then_query_by_an_equivalent_spelling(db):
    stored = db.add(FUSED, overrides=["ffn.prune_last=3"], context=256, dataset="codeparrot", train_tokens=1e9,
                    ppl=3.3, source="test run 1")
    assert len(stored.added) == 1 and stored.duplicates == []
    rows = db.query(arch_key=key(FUSED, "ffn.prune_last=3", "attention.projections=[v,o,q,k]", "model.kv_heads=12"))
    assert [(r["ppl"], r["context"], r["train_tokens"], r["label"]) for r in rows] == [(3.3, 256, 1e9, "SM+ScFuFFN")]
    assert rows[0]["spec"] == "arch_specs/gpt2_sm_scfuffn.yaml --set ffn.prune_last=3"


def test_a_diverged_run_is_stored_without_a_number(db):
    db.add(FUSED, context=128, status="diverged", source="test run 2")
    row = db.query(arch_key=key(FUSED), context=128, status="diverged")
    assert [(r["ppl"], r["source"]) for r in row][-1] == (None, "test run 2")
    frame = db.frame(status="diverged")
    assert frame["ppl"].isna().all() and len(frame) == 7


@pytest.mark.parametrize("cells, message", [
    (["3", "ok"], None),
    (["abc", "ok"], "line 3: ppl: expected a number >= 1 when status is ok, got 'abc'"),
    (["0.5", "ok"], "line 3: ppl: expected a number >= 1 when status is ok (perplexity is at least 1), "
                    "got 0.5"),
    (["", "ok"], "line 3: ppl: expected a number >= 1 when status is ok"),
    (["inf", "ok"], "line 3: ppl: expected a number >= 1"),
    (["3.1", "diverged"], "line 3: ppl: expected no value when status is diverged"),
    (["3.1", "nan"], "line 3: status: expected ok or diverged, got 'nan'"),
])
def test_ppl_and_status_are_checked(tmp_path, db, cells, message):
    path = write_runs(tmp_path / "runs.csv", [[str(GPT2), 128, "codeparrot", "", "3.0", "ok", "good row"],
                                              [str(GPT2), 128, "codeparrot", "", *cells, "bad row"]])
    before = count(db.path)
    if message is None:
        assert len(db.import_csv(path).added) == 2
        return
    with pytest.raises(InputError) as err:
        db.import_csv(path)
    assert str(err.value).startswith(f"{path}: {message}"), str(err.value)
    assert count(db.path) == before  # all rows or none


@pytest.mark.parametrize("column, value, message", [
    ("context", "0", "context: expected a positive integer, got 0"),
    ("context", "12.5", "context: expected an integer, got '12.5'"),
    ("context", "4096", "context: expected at most the spec's model.max_context (1024), got 4096"),
    ("dataset", "", "dataset: expected a non-empty text"),
    ("source", "", "source: expected a non-empty text"),
    ("train_tokens", "-1", "train_tokens: expected a positive number, or empty when unknown, got -1.0"),
    ("train_tokens", "lots", "train_tokens: expected a positive number, or empty when unknown, got 'lots'"),
    ("added", "yesterday", "added: expected an ISO date (YYYY-MM-DD), got 'yesterday'"),
    ("layers", "13", "layers: expected 12, the value of the spec column's spec"),
    ("arch_key", "0123456789abcdef", "arch_key: expected " + key(GPT2)),
    ("spec", "nowhere.yaml", "spec: expected a loadable spec (nowhere.yaml: expected an existing spec file"),
    ("spec", f"{GPT2} --set model.layerz=3", "spec: expected a loadable spec (--set: model.layerz: expected a spec key"),
    ("spec", f"{GPT2} model.layers=3", "spec: expected a spec file followed by --set KEY=VALUE items"),
])
def test_every_cell_is_checked_and_named(tmp_path, db, column, value, message):
    row = {"spec": str(GPT2), "context": "128", "dataset": "codeparrot", "train_tokens": "", "ppl": "3.0",
           "status": "ok", "source": "a run", "added": "2025-01-02", "layers": "12", "arch_key": key(GPT2)}
    row[column] = value
    path = write_runs(tmp_path / "runs.csv", [row.values()], header=row.keys())
    with pytest.raises(InputError) as err:
        db.import_csv(path)
    assert str(err.value).startswith(f"{path}: line 2: {message}"), str(err.value)


def test_bad_files_and_headers(tmp_path, db):
    with pytest.raises(InputError, match="expected a readable CSV file"):
        db.import_csv(tmp_path / "missing.csv")
    path = write_runs(tmp_path / "runs.csv", [], header=("spec", "context", "dataset", "ppl", "staus", "source"))
    with pytest.raises(InputError, match=r"line 1: staus: expected a known column \(did you mean 'status'\?\)"):
        db.import_csv(path)
    path = write_runs(tmp_path / "runs.csv", [], header=("spec", "context", "ppl"))
    with pytest.raises(InputError, match="line 1: expected columns dataset, source"):
        db.import_csv(path)
    path.write_text("spec,context,dataset,ppl,source\nx,1,d,3,s,extra\n")
    with pytest.raises(InputError, match="line 2: expected 5 cells, as in the header"):
        db.import_csv(path)


def test_published_layout_refuses_unknown_labels_and_widths(tmp_path, db):
    header = list(PUBLISHED[0])
    row = dict(PUBLISHED[0], source="another paper")
    path = write_runs(tmp_path / "pub.csv", [dict(row, arch="SM+LN+GG").values()], header=header)
    with pytest.raises(InputError, match=r"pub.csv: line 2: arch: expected a label of family 'baseline' in "
                                         r"ppl_labels.yaml \(did you mean 'SM\+LN\+G'\?\)"):
        db.import_csv(path)
    path = write_runs(tmp_path / "pub.csv", [dict(row, d_model="1024").values()], header=header)
    with pytest.raises(InputError, match="d_model: expected the spec's d_model"):
        db.import_csv(path)
    path = write_runs(tmp_path / "pub.csv", [dict(row, layers="24").values()], header=header)
    assert db.query(arch_key=key(GPT2, "model.layers=24")) == []
    db.import_csv(path)
    assert [r["ppl"] for r in db.query(arch_key=key(GPT2, "model.layers=24"))] == [2.69]


def test_duplicates_are_reported_and_skipped(tmp_path, db):
    runs = [[str(GPT2), 128, "codeparrot", "", "3.0", "ok", "dup test"],  # unknown tokens: NULL, still unique
            [str(GPT2), 128, "codeparrot", "2e9", "3.0", "ok", "dup test"],
            [str(GPT2), 128, "codeparrot", "", "3.0", "ok", "dup test"]]  # repeats line 2 of this file
    path = write_runs(tmp_path / "runs.csv", runs)
    first = db.import_csv(path)
    assert len(first.added) == 2
    assert first.duplicates == [f"{path}: line 4: duplicate of row {first.added[0]} (same architecture, context, "
                                "dataset, training tokens and source); skipped"]
    again = db.import_csv(path)
    assert again.added == [] and len(again.duplicates) == 3
    # another spelling of the same model is the same run
    respelled = write_runs(tmp_path / "respelled.csv", [[f"{GPT2} --set model.kv_heads=12", 128, "codeparrot",
                                                        "2e9", "3.0", "ok", "dup test"]])
    assert db.import_csv(respelled).added == []


def test_a_conflicting_duplicate_is_an_error(tmp_path, db):
    before = count(db.path)
    path = write_runs(tmp_path / "runs.csv", [[str(GPT2), 256, "codeparrot", "", "3.0", "ok", "new"],
                                              [str(GPT2), 128, "codeparrot", "2.1e9", "", "diverged",
                                               PUBLISHED[0]["source"]]])
    with pytest.raises(InputError, match=r"line 3: ppl: expected the value stored for this run in row 1 \(2.69\)"):
        db.import_csv(path)
    assert count(db.path) == before


def test_export_then_import_round_trips(tmp_path, db):
    db.add(GPT2, overrides=["model.layers=6", "training.weight_norm_on=[k,q]", "training.weight_norm=weight"],
           context=64, ppl=5.5, source="quoted, \"odd\" source", train_tokens=123456789)
    out = tmp_path / "all.csv"
    db.export_csv(out)
    with open_db(tmp_path / "fresh.sqlite", seed=False) as fresh:
        stored = fresh.import_csv(out)
        assert len(stored.added) == len(PUBLISHED) + 1
        assert fresh.query() == db.query()  # ids included: inserted in the same order


# ---- the command line ----------------------------------------------------------------------------------------

def run_cli(db_path, *args):
    app = typer.Typer()
    app.callback()(lambda: None)
    app.add_typer(ppl_app, name="ppl")  # as pidse/cli.py mounts it
    return CliRunner().invoke(app, ["ppl", *map(str, args), "--db", str(db_path)])


def test_cli_list_formats_and_filters(db_path):
    table = run_cli(db_path, "list", "--arch", FUSED, "--set", "ffn.prune_last=6")
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].split()[:4] == ["id", "family", "label", "arch_key"]
    assert len(lines) == 2 + 2 and all("SM+ScFuFFNi6" in line for line in lines[2:])
    listed = json.loads(run_cli(db_path, "list", "-f", "json", "--dataset", "languini_books", "-T", "512").stdout)
    assert len(listed) == sum(p["context"] == "512" for p in PUBLISHED) == 24
    assert {(r["context"], r["dataset"]) for r in listed} == {(512, "languini_books")}
    diverged = [r for r in listed if r["status"] == "diverged"]
    assert len(diverged) == 3 and all(r["ppl"] is None for r in diverged)
    markdown = run_cli(db_path, "list", "-f", "markdown", "-T", "256")
    assert markdown.stdout.startswith("| id | family |") and "| diverged |" in markdown.stdout
    rows = list(csv.DictReader(run_cli(db_path, "list", "-f", "csv", "-T", "256").stdout.splitlines()))
    assert len(rows) == 14 and {r["ppl"] for r in rows if r["status"] == "diverged"} == {""}


def test_cli_add_import_export(tmp_path, db_path):
    added = run_cli(db_path, "add", FUSED, "--set", "ffn.prune_last=2", "-T", "128", "--ppl", "3.6",
                    "--tokens", "2.1e9", "--source", "cli run")
    assert added.exit_code == 0, added.output
    assert added.stdout == f"add: 1 added (row {len(PUBLISHED) + 1}), 0 duplicate(s) skipped\n"
    again = run_cli(db_path, "add", FUSED, "--set", "ffn.prune_last=2", "-T", "128", "--ppl", "3.6",
                    "--tokens", "2.1e9", "--source", "cli run")
    assert again.exit_code == 0 and "0 added" in again.stdout and "duplicate of row" in again.stderr
    for seed in ("1", "2"):  # the same run with a seed each: a row each (seeds pool in `pidse sweep`)
        seeded = run_cli(db_path, "add", FUSED, "--set", "ffn.prune_last=2", "-T", "128", "--ppl", "3.6",
                         "--tokens", "2.1e9", "--source", "cli run", "--seed", seed)
        assert seeded.exit_code == 0 and "1 added" in seeded.stdout, seeded.output
    bad = run_cli(db_path, "add", FUSED, "-T", "128", "--ppl", "3.6", "--source", "s", "--seed", "-1")
    assert bad.exit_code == 2 and "seed" in bad.stderr
    out = tmp_path / "out.csv"
    assert run_cli(db_path, "export", out).exit_code == 0
    exported = list(csv.DictReader(out.open()))
    assert len(exported) == len(PUBLISHED) + 3 and exported[-1]["source"] == "cli run"
    assert [r["seed"] for r in exported[-3:]] == ["", "1", "2"]
    assert run_cli(db_path, "export").stdout == out.read_text()
    imported = run_cli(tmp_path / "other.sqlite", "import", out)
    assert imported.exit_code == 0 and f"{len(PUBLISHED) + 3} duplicate(s)" not in imported.stdout
    assert "3 added" in imported.stdout and f"{len(PUBLISHED)} duplicate(s) skipped" in imported.stdout


@pytest.mark.parametrize("args, needle", [
    (["add", GPT2, "-T", "128", "--source", "s"], "--ppl: expected a perplexity, or --diverged"),
    (["add", GPT2, "-T", "128", "--ppl", "3", "--diverged", "--source", "s"], "--ppl: expected a perplexity"),
    (["add", GPT2, "-T", "128", "--ppl", "0.9", "--source", "s"], "ppl add: ppl: expected a number >= 1"),
    (["add", "missing.yaml", "-T", "128", "--ppl", "3", "--source", "s"], "spec: expected a loadable spec"),
    (["list", "--arch", GPT2, "--set", "model.layerz=2"], "--set: model.layerz: expected a spec key"),
    (["import", "missing.csv"], "missing.csv: expected a readable CSV file"),
])
def test_cli_bad_input_is_one_line(db_path, args, needle):
    assert_one_line_error(run_cli(db_path, *args), needle)


def test_a_file_that_is_not_a_database_is_refused(tmp_path):
    path = write_yaml(tmp_path / "not.sqlite", "just text, not SQLite\n" * 100)
    assert_one_line_error(run_cli(path, "list"), "expected a pidse perplexity database")


# ---- concurrency and crashes ---------------------------------------------------------------------------------

APPEND = """
import sys
from pidse.ppl.db import open_db
path, worker, spec = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open_db(path) as db:
    for i in range(50):
        stored = db.add(spec, context=128, ppl=3 + i / 100, source=f"worker {worker} run {i}")
        assert len(stored.added) == 1, stored
"""


def test_concurrent_writers_lose_and_duplicate_nothing(tmp_path):
    path = tmp_path / "shared.sqlite"  # fresh: the four also race to create and seed it
    procs = [subprocess.Popen([sys.executable, "-c", APPEND, str(path), str(w), str(GPT2)], stderr=subprocess.PIPE)
             for w in range(4)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    with open_db(path) as db:
        runs = [r for r in db.query() if r["source"].startswith("worker ")]
        assert len(db.query()) == len(PUBLISHED) + 200
    assert sorted(r["source"] for r in runs) == sorted(f"worker {w} run {i}" for w in range(4) for i in range(50))


KILLED = """
import sys, time
import pidse.ppl.db as ppl
db = ppl.open_db(sys.argv[1], seed=False)
db.conn.execute("PRAGMA cache_size=8")  # a tiny page cache: uncommitted pages spill into the WAL file
insert, n = ppl.PplDB._insert, [0]
def slow_insert(self, run):
    n[0] += 1
    if n[0] == 1500:
        print("writing", flush=True)
    if n[0] >= 1500:
        time.sleep(0.01)
    return insert(self, run)
ppl.PplDB._insert = slow_insert
db.import_csv(sys.argv[2])
print("committed", flush=True)
"""


def test_a_writer_killed_mid_import_leaves_a_valid_database(tmp_path, db_path):
    big = write_runs(tmp_path / "big.csv", [[str(GPT2), 128, "codeparrot", "", 3 + i / 1e4, "ok", f"bulk {i}"]
                                            for i in range(3000)])
    before = count(db_path)
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(db_path), str(big)], stdout=subprocess.PIPE)
    assert proc.stdout.readline() == b"writing\n"
    time.sleep(0.05)
    wal = db_path.with_name(db_path.name + "-wal")
    assert wal.stat().st_size > 0  # the transaction has written to disk: the kill lands mid-write
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert count(db_path) == before
    with open_db(db_path) as db:  # and it takes writes again: no stale lock
        assert len(db.add(GPT2, context=128, ppl=4.0, source="after the crash").added) == 1
    assert count(db_path) == before + 1
