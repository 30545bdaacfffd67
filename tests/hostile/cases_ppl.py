"""Hostile input to the perplexity database: `ppl import` CSV files (cells, headers, sizes, encodings, specs),
`ppl add` and `ppl list` options, `ppl export` targets, and `--db` paths and corrupt database files (built here
with sqlite3, then damaged page by page)."""
from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

from hostile import Case

SPEC = """version: 1
model: {layers: 2, heads: 2, d_model: 8, d_ff: 16, vocab_size: 10, max_context: 256}
inference: {context: 4}
"""
HEADER = "spec,context,dataset,train_tokens,ppl,status,source\n"
ROW = {"spec": "s.yaml", "context": "128", "dataset": "codeparrot", "train_tokens": "2.1e9", "ppl": "3.5",
       "status": "ok", "source": "my run"}


def csv_text(**cells) -> str:
    """HEADER and one row: ROW with `cells` replaced (raw CSV text, already quoted where needed)."""
    row = {**ROW, **cells}
    return HEADER + ",".join(row[c] for c in HEADER.strip().split(",")) + "\n"


def import_case(id: str, text, *needles, files=None) -> Case:
    return Case(id, ("ppl", "import", "{tmp}/runs.csv", "--db", "{tmp}/db.sqlite"),
                {"runs.csv": text, "s.yaml": SPEC, **(files or {})}, needles)


def add_case(id: str, *args, needles=()) -> Case:
    return Case(id, ("ppl", "add", "{tmp}/s.yaml", "--db", "{tmp}/db.sqlite", *args), {"s.yaml": SPEC}, needles)


OK_ADD = ("-T", "128", "--ppl", "3.5", "--source", "my run", "--dataset", "d")

# ---- database files, built and damaged -----------------------------------------------------------------------


def database(rows: int = 300, schema=None) -> bytes:
    """A pidse perplexity database (the runs table spans several pages, its index too) as bytes."""
    from pidse.ppl.db import SCHEMA

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.sqlite"
        conn = sqlite3.connect(path)
        for statement in schema or SCHEMA:
            conn.execute(statement)
        if schema is None:
            conn.executemany(
                "INSERT INTO runs (arch_key, arch, spec, label, family, layers, heads, d_model, vocab_size, context,"
                " dataset, train_tokens, ppl, status, source, added) VALUES (?, 'a', 's.yaml', NULL, NULL, 2, 2, 8,"
                " 10, 128, 'codeparrot', NULL, 3.5, 'ok', ?, '2025-01-01')",
                [(f"{i:016x}", f"run {i} " + "x" * 100) for i in range(rows)])
        conn.commit()
        conn.close()
        return path.read_bytes()


def damaged(data: bytes, page: int, start: int = 8, length: int = 32, fill: int = 0xEE) -> bytes:
    """`data` with `length` bytes of page `page` (1-based; 4096-byte pages) from `start` overwritten: on a b-tree
    page, its cell pointers."""
    out = bytearray(data)
    at = (page - 1) * 4096 + start
    out[at:at + length] = bytes([fill]) * length
    return bytes(out)


def root_pages(data: bytes) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.sqlite"
        path.write_bytes(data)
        conn = sqlite3.connect(path)
        pages = dict(conn.execute("SELECT name, rootpage FROM sqlite_master"))
        conn.close()
        return pages


GOOD = database()
ROOTS = root_pages(GOOD)
PAGES = len(GOOD) // 4096
DB_FILES = {
    "index-page": damaged(GOOD, ROOTS["runs_identity"]),
    "table-root-page": damaged(GOOD, ROOTS["runs"]),
    "last-page": damaged(GOOD, PAGES),
    "middle-page": damaged(GOOD, PAGES // 2, start=0, length=4096, fill=0x41),
    "schema-page": damaged(GOOD, 1, start=100, length=64),
    "truncated": GOOD[:3 * 4096],
    "header-only": GOOD[:100],
    "header-then-junk": GOOD[:100] + bytes(range(256)) * 40,
    "other-runs-table": database(schema=["CREATE TABLE runs (id INTEGER PRIMARY KEY, x TEXT)"]),
    "text-file": b"just text, not SQLite\n" * 100,
}


def db_case(id: str, name: str, *command) -> Case:
    return Case(id, ("ppl", *command, "--db", "{tmp}/db.sqlite"), {"db.sqlite": DB_FILES[name], "s.yaml": SPEC},
                ("db.sqlite",))


CASES = []
for name in DB_FILES:
    CASES.append(db_case(f"ppl-db-{name}-list", name, "list"))
    CASES.append(db_case(f"ppl-db-{name}-add", name, "add", "{tmp}/s.yaml", *OK_ADD))
CASES += [
    db_case("ppl-db-index-page-import", "index-page", "import", "{tmp}/runs.csv"),
    db_case("ppl-db-last-page-export", "last-page", "export"),
    Case("ppl-db-is-folder", ("ppl", "list", "--db", "{tmp}/folder"), {"folder/x": "x"}, ("folder", "folder")),
    Case("ppl-db-is-cwd", ("ppl", "list", "--db", "{tmp}"), {}, ("expected",)),
    Case("ppl-db-under-a-file", ("ppl", "list", "--db", "{tmp}/s.yaml/db.sqlite"), {"s.yaml": SPEC},
         ("db.sqlite",)),
    Case("ppl-db-under-proc", ("ppl", "list", "--db", "/proc/no-such-process/db.sqlite"), {}, ("db.sqlite",)),
    Case("ppl-db-dev-null", ("ppl", "list", "--db", "/dev/null"), {}, ("/dev/null",)),
    Case("ppl-db-add-folder", ("ppl", "add", "{tmp}/s.yaml", *OK_ADD, "--db", "{tmp}/folder"),
         {"folder/x": "x", "s.yaml": SPEC}, ("folder",)),
]

# ---- ppl import: the CSV file ----------------------------------------------------------------------------
CASES += [
    import_case("csv-cell-over-131072", csv_text(source="x" * 140_000), "runs.csv", "CSV"),
    import_case("csv-nul-byte", csv_text(source="a\x00b"), "runs.csv"),
    import_case("csv-not-utf8", b"spec,context\n\xff\xfe\xfa,1\n", "runs.csv", "UTF-8"),
    import_case("csv-binary", bytes(range(256)) * 10, "runs.csv"),
    import_case("csv-empty", "", "runs.csv", "columns"),
    import_case("csv-header-only-unknown", "what,ever\n", "runs.csv", "what"),
    import_case("csv-duplicate-column", "spec,spec,context,dataset,ppl,source\n", "runs.csv", "spec", "once"),
    import_case("csv-missing-columns", "spec,context\n", "runs.csv", "columns"),
    import_case("csv-extra-cell", HEADER + "s.yaml,128,codeparrot,,3.5,ok,src,EXTRA\n", "line 2", "cells"),
    import_case("csv-short-row", HEADER + "s.yaml,128\n", "line 2", "cells"),
    import_case("csv-huge-column-name", "spec,context,dataset,ppl,source," + "c" * 100_000 + "\n", "runs.csv",
                "known column"),
    import_case("csv-ppl-nan", csv_text(ppl="nan"), "line 2", "ppl"),
    import_case("csv-ppl-inf", csv_text(ppl="inf"), "line 2", "ppl"),
    import_case("csv-ppl-infinity-word", csv_text(ppl="Infinity"), "line 2", "ppl"),
    import_case("csv-ppl-negative", csv_text(ppl="-3"), "line 2", "ppl"),
    import_case("csv-ppl-below-one", csv_text(ppl="0.5"), "line 2", "ppl"),
    import_case("csv-ppl-text", csv_text(ppl="abc"), "line 2", "ppl"),
    import_case("csv-ppl-underscore", csv_text(ppl="3_5"), "line 2", "ppl"),
    import_case("csv-ppl-fullwidth", csv_text(ppl="３.５"), "line 2", "ppl"),
    import_case("csv-ppl-huge", csv_text(ppl="1e400"), "line 2", "ppl"),
    import_case("csv-ppl-diverged-with-number", csv_text(status="diverged"), "line 2", "ppl"),
    import_case("csv-status-bogus", csv_text(status="maybe"), "line 2", "status"),
    import_case("csv-context-zero", csv_text(context="0"), "line 2", "context"),
    import_case("csv-context-negative", csv_text(context="-128"), "line 2", "context"),
    import_case("csv-context-float", csv_text(context="1e3"), "line 2", "context"),
    import_case("csv-context-underscore", csv_text(context="1_28"), "line 2", "context"),
    import_case("csv-context-arabic-digits", csv_text(context="١٢٨"), "line 2", "context"),
    import_case("csv-context-5000-digits", csv_text(context="9" * 5000), "line 2", "context"),
    import_case("csv-context-over-max", csv_text(context="100000"), "line 2", "context"),
    import_case("csv-tokens-nan", csv_text(train_tokens="nan"), "line 2", "train_tokens"),
    import_case("csv-tokens-negative", csv_text(train_tokens="-5"), "line 2", "train_tokens"),
    import_case("csv-tokens-inf", csv_text(train_tokens="inf"), "line 2", "train_tokens"),
    import_case("csv-tokens-zero", csv_text(train_tokens="0"), "line 2", "train_tokens"),
    import_case("csv-source-empty", csv_text(source=""), "line 2", "source"),
    import_case("csv-source-newline", csv_text(source='"two\nlines"'), "source"),
    import_case("csv-source-too-long", csv_text(source="s" * 5000), "line 2", "source"),
    import_case("csv-dataset-control-char", csv_text(dataset="code\x1bparrot"), "line 2", "dataset"),
    import_case("csv-spec-missing", csv_text(spec="nope.yaml"), "line 2", "spec"),
    import_case("csv-spec-etc-shadow", csv_text(spec="/etc/shadow"), "line 2", "spec"),
    import_case("csv-spec-folder", csv_text(spec="."), "line 2", "spec"),
    import_case("csv-spec-unclosed-quote", csv_text(spec="\"s.yaml --set 'a\""), "line 2", "spec"),
    import_case("csv-spec-set-without-value", csv_text(spec='"s.yaml --set"'), "line 2", "spec"),
    import_case("csv-spec-bad-override", csv_text(spec='"s.yaml --set model.layers=1000000"'), "line 2", "spec"),
    import_case("csv-spec-billion-laughs", csv_text(spec="laughs.yaml"), "line 2", "spec",
                files={"laughs.yaml": "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
                    f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcde", "bcdef"))}),
    import_case("csv-derived-layers-wrong", HEADER.strip() + ",layers\n" + csv_text().splitlines()[1] + ",7\n",
                "line 2", "layers"),
    import_case("csv-added-bad-date", HEADER.strip() + ",added\n" + csv_text().splitlines()[1] + ",2024-13-45\n",
                "line 2", "added"),
    import_case("csv-published-unknown-label",
                "family,arch,layers,heads,d_model,context,vocab,dataset,source,ppl\n"
                "baseline,NOPE,12,12,768,128,50257,codeparrot,x,3\n", "line 2", "arch"),
    import_case("csv-published-layers-text",
                "family,arch,layers,heads,d_model,context,vocab,dataset,source,ppl\n"
                "baseline,SM+LN+G,twelve,12,768,128,50257,codeparrot,x,3\n", "line 2", "layers"),
    import_case("csv-published-d-model-wrong",
                "family,arch,layers,heads,d_model,context,vocab,dataset,source,ppl\n"
                "baseline,SM+LN+G,12,12,769,128,50257,codeparrot,x,3\n", "line 2", "d_model"),
    import_case("csv-published-layers-huge",
                "family,arch,layers,heads,d_model,context,vocab,dataset,source,ppl\n"
                "baseline,SM+LN+G,1000000,12,768,128,50257,codeparrot,x,3\n", "line 2", "model.layers"),
    import_case("csv-published-huge-family",
                "family,arch,layers,heads,d_model,context,vocab,dataset,source,ppl\n"
                + "f" * 100_000 + ",SM+LN+G,12,12,768,128,50257,codeparrot,x,3\n", "line 2", "arch"),
    Case("csv-dev-stdin", ("ppl", "import", "/dev/stdin", "--db", "{tmp}/db.sqlite"), {}, ("/dev/stdin",)),
    Case("csv-dev-zero", ("ppl", "import", "/dev/zero", "--db", "{tmp}/db.sqlite"), {}, ("/dev/zero",)),
    Case("csv-file-missing", ("ppl", "import", "{tmp}/nope.csv", "--db", "{tmp}/db.sqlite"), {}, ("nope.csv",)),
    Case("csv-file-is-folder", ("ppl", "import", "{tmp}/d.csv", "--db", "{tmp}/db.sqlite"), {"d.csv/x": "x"},
         ("d.csv",)),
]

# ---- ppl add, list, export -------------------------------------------------------------------------------------
CASES += [
    add_case("add-ppl-nan", "-T", "128", "--ppl", "nan", "--source", "s", needles=("ppl",)),
    add_case("add-ppl-inf", "-T", "128", "--ppl", "inf", "--source", "s", needles=("ppl",)),
    add_case("add-ppl-below-one", "-T", "128", "--ppl", "0.5", "--source", "s", needles=("ppl",)),
    add_case("add-ppl-and-diverged", "-T", "128", "--ppl", "3", "--diverged", "--source", "s", needles=("--ppl",)),
    add_case("add-neither", "-T", "128", "--source", "s", needles=("--ppl",)),
    add_case("add-context-zero", "-T", "0", "--ppl", "3", "--source", "s", needles=("context",)),
    add_case("add-context-negative", "-T", "-5", "--ppl", "3", "--source", "s", needles=("context",)),
    add_case("add-context-huge", "-T", str(10**30), "--ppl", "3", "--source", "s", needles=("context",)),
    add_case("add-tokens-nan", *OK_ADD, "--tokens", "nan", needles=("train_tokens",)),
    add_case("add-tokens-negative", *OK_ADD, "--tokens", "-1", needles=("train_tokens",)),
    add_case("add-tokens-inf", *OK_ADD, "--tokens", "inf", needles=("train_tokens",)),
    add_case("add-dataset-missing", "-T", "128", "--ppl", "3", "--source", "s", needles=("dataset",)),
    add_case("add-source-empty", "-T", "128", "--ppl", "3", "--dataset", "d", "--source", "", needles=("source",)),
    add_case("add-source-newline", "-T", "128", "--ppl", "3", "--dataset", "d", "--source", "a\nb",
             needles=("source",)),
    add_case("add-source-huge", "-T", "128", "--ppl", "3", "--dataset", "d", "--source", "s" * 10_000,
             needles=("source",)),
    add_case("add-label-newline", *OK_ADD, "--label", "a\u2028b", needles=("label",)),
    add_case("add-family-huge", *OK_ADD, "--family", "f" * 5000, needles=("family",)),
    add_case("add-dataset-blank", "-T", "128", "--ppl", "3", "--source", "s", "--dataset", " ",
             needles=("dataset",)),
    add_case("add-set-unknown", *OK_ADD, "--set", "model.layrs=3", needles=("model.layrs",)),
    add_case("add-set-huge", *OK_ADD, "--set", "model.layers=1000000", needles=("model.layers",)),
    Case("add-spec-missing", ("ppl", "add", "{tmp}/nope.yaml", *OK_ADD, "--db", "{tmp}/db.sqlite"), {},
         ("spec",)),
    Case("add-spec-folder", ("ppl", "add", "{tmp}", *OK_ADD, "--db", "{tmp}/db.sqlite"), {}, ("spec",)),
    Case("list-context-zero", ("ppl", "list", "-T", "0", "--db", "{tmp}/db.sqlite"), {}, ("--context",)),
    Case("list-context-negative", ("ppl", "list", "-T", "-5", "--db", "{tmp}/db.sqlite"), {}, ("--context",)),
    Case("list-set-without-arch", ("ppl", "list", "--set", "model.layers=2", "--db", "{tmp}/db.sqlite"), {},
         ("--set",)),
    Case("list-arch-missing", ("ppl", "list", "--arch", "{tmp}/nope.yaml", "--db", "{tmp}/db.sqlite"), {},
         ("nope.yaml",)),
    Case("list-arch-bad-set", ("ppl", "list", "--arch", "{tmp}/s.yaml", "--set", "model.layers=-1", "--db",
                               "{tmp}/db.sqlite"), {"s.yaml": SPEC}, ("model.layers",)),
    Case("export-to-folder", ("ppl", "export", "{tmp}/d", "--db", "{tmp}/db.sqlite"), {"d/x": "x"}, ("d",)),
    Case("export-to-missing-folder", ("ppl", "export", "{tmp}/no/such/out.csv", "--db", "{tmp}/db.sqlite"), {},
         ("out.csv",)),
    Case("export-under-a-file", ("ppl", "export", "{tmp}/s.yaml/out.csv", "--db", "{tmp}/db.sqlite"),
         {"s.yaml": SPEC}, ("out.csv",)),
]
