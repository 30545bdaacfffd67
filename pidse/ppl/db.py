"""Measured perplexities: an SQLite store of training runs, keyed by the canonical architecture key.

A run is (architecture, context, dataset, training tokens, seed, source) -> a perplexity, or status `diverged` with
no number (a diverged run must never be plotted as one: its `ppl` is NULL / None / NaN). A run trained here records
its seed and its provenance (JSON: steps, device, host, pidse version, executor, attempt); published runs have
neither (NULL), and two seeds of one architecture are two rows. The architecture is
`arch_key(spec)` (pidse.spec.archkey); labels are kept for reading, never for matching.

Writes are `BEGIN IMMEDIATE` transactions in WAL mode with a busy timeout, so concurrent writers queue rather
than fail; an import is one transaction (all rows or none); a writer killed mid-transaction leaves the database
as it was. A database made before seeds were recorded gains the two columns when it is opened (one transaction,
its rows kept). The database ($PIDSE_DB, else ~/.local/share/pidse/ppl.sqlite) is created on first use and seeded
with the published perplexities shipped in pidse/data (ppl_published.csv; labels -> specs in ppl_labels.yaml).

    db = open_db()
    db.add("arch_specs/gpt2_sm_scfuffn.yaml", overrides=["ffn.prune_last=6"], context=128,
           dataset="codeparrot", train_tokens=2.1e9, ppl=3.54, source="my run, 2025-01-02")
    db.query(arch_key=arch_key(spec), context=128)   # list of dicts, ppl None when diverged
"""
from __future__ import annotations

import hashlib
import math
import os
import sqlite3
import sys
import warnings
from contextlib import contextmanager
from dataclasses import astuple, dataclass, field
from pathlib import Path

from pidse.spec.archkey import arch_key  # noqa: F401  (part of this module's API: query by arch_key(spec))
from pidse.errors import InputError, cut, short
from pidse.ppl.rows import COLUMNS, DATA, LABELS_YAML, Run, SpecCache, make_run, read_csv, write_csv

SEED_CSV = DATA / "ppl_published.csv"
BUSY_TIMEOUT_S = 60.0  # how long a writer waits for another writer's transaction before giving up


def default_db_path() -> Path:
    return Path(os.environ.get("PIDSE_DB") or Path.home() / ".local/share/pidse/ppl.sqlite")


SCHEMA = (
    """CREATE TABLE IF NOT EXISTS runs (
        id INTEGER PRIMARY KEY,
        arch_key TEXT NOT NULL CHECK (length(arch_key) = 16),
        arch TEXT NOT NULL,
        spec TEXT NOT NULL,
        label TEXT,
        family TEXT,
        layers INTEGER NOT NULL CHECK (typeof(layers) = 'integer' AND layers > 0),
        heads INTEGER NOT NULL CHECK (typeof(heads) = 'integer' AND heads > 0),
        d_model INTEGER NOT NULL CHECK (typeof(d_model) = 'integer' AND d_model > 0),
        vocab_size INTEGER NOT NULL CHECK (typeof(vocab_size) = 'integer' AND vocab_size > 0),
        context INTEGER NOT NULL CHECK (typeof(context) = 'integer' AND context > 0),
        dataset TEXT NOT NULL CHECK (dataset <> ''),
        train_tokens REAL CHECK (train_tokens IS NULL OR train_tokens > 0),
        ppl REAL,
        status TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source <> ''),
        added TEXT NOT NULL,
        seed INTEGER CHECK (seed IS NULL OR (typeof(seed) = 'integer' AND seed >= 0)),
        provenance TEXT,
        CHECK ((status = 'ok' AND ppl >= 1) OR (status = 'diverged' AND ppl IS NULL)))""",
    # NULL tokens compare unequal in a plain UNIQUE: index ifnull(...) so unknown-token duplicates are caught.
    """CREATE UNIQUE INDEX IF NOT EXISTS runs_identity
        ON runs (arch_key, context, dataset, ifnull(train_tokens, 0), source, ifnull(seed, -1))""",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
IDENTITY = ("arch_key = ? AND context = ? AND dataset = ? AND ifnull(train_tokens, 0) = ifnull(?, 0) AND source = ? "
            "AND ifnull(seed, -1) = ifnull(?, -1)")
# A database from before seeds were recorded: its runs table ends at `added`. Opening it adds the two columns (NULL
# in its rows) and replaces the identity index with one that tells seeds apart, in the transaction that opens it.
OLD_COLUMNS = COLUMNS[:-2]
MIGRATION = (
    "ALTER TABLE runs ADD COLUMN seed INTEGER CHECK (seed IS NULL OR (typeof(seed) = 'integer' AND seed >= 0))",
    "ALTER TABLE runs ADD COLUMN provenance TEXT",
    "DROP INDEX IF EXISTS runs_identity",
)


@dataclass
class Stored:
    """What a write did: ids of the new rows, and one line per row that was already stored."""
    added: list[int] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)


class CorruptRowWarning(UserWarning):
    """A stored row that breaks the table's rules (edited outside pidse, or written by an older one): readers
    skip it and say so, one line per row, naming its id."""


class PplDB:
    def __init__(self, path: Path):
        self.path = path
        try:
            if path.is_dir():
                raise InputError(path, None, "a database file, not a folder")
            path.parent.mkdir(parents=True, exist_ok=True)
        except (OSError, ValueError) as err:
            raise InputError(path, None, "a database path in a writable folder ("
                             + (getattr(err, "strerror", None) or str(err)) + ")") from None
        try:
            self.conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as err:
            raise InputError(path, None, f"a database file SQLite can open ({err})") from None
        self.conn.row_factory = sqlite3.Row
        try:
            self._check_pages()  # before anything is written into the file
            self.conn.execute("PRAGMA journal_mode=WAL")  # readers never block the writer, nor it them
            with self.transaction():
                self.conn.execute(SCHEMA[0])
                if self._columns() == list(OLD_COLUMNS):
                    for statement in MIGRATION:
                        self.conn.execute(statement)
                self._check_columns()
                for statement in SCHEMA[1:]:
                    self.conn.execute(statement)
        except InputError:
            self.conn.close()
            raise
        except sqlite3.DatabaseError as err:
            self.conn.close()
            if "locked" in str(err) or "busy" in str(err):
                raise self._input_error(err) from None
            raise InputError(path, None, f"a pidse perplexity database (SQLite: {err})") from None

    def _check_pages(self) -> None:
        """PRAGMA quick_check: a malformed page is found when the file is opened, not halfway through a write or
        silently in a read."""
        problems = [line for row in self.conn.execute("PRAGMA quick_check(3)") for line in row[0].splitlines()
                    if not line.startswith("***")]
        if problems != ["ok"]:
            raise InputError(self.path, None, "an intact SQLite file (quick_check: " + cut("; ".join(problems), 160)
                             + "); restore it from a backup")

    def _columns(self) -> list[str]:
        return [row["name"] for row in self.conn.execute("PRAGMA table_info(runs)")]

    def _check_columns(self) -> None:
        columns = self._columns()
        if columns != list(COLUMNS):
            raise InputError(self.path, "runs", "a pidse perplexity database (its runs table has the columns "
                             + ", ".join(COLUMNS) + ")", columns)

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @contextmanager
    def transaction(self):
        """One write transaction; IMMEDIATE takes the write lock up front, so two writers never deadlock. SQLite's
        failures (a lock held past BUSY_TIMEOUT_S, a full disk, a read-only file) are one InputError line."""
        with self._sqlite_errors():
            self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException as err:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            if isinstance(err, sqlite3.Error):
                raise self._input_error(err) from None
            raise
        with self._sqlite_errors():
            self.conn.execute("COMMIT")

    @contextmanager
    def _sqlite_errors(self):
        try:
            yield
        except sqlite3.Error as err:
            raise self._input_error(err) from None

    def _input_error(self, err: sqlite3.Error) -> InputError:
        if "locked" in str(err) or "busy" in str(err):
            return InputError(self.path, None, f"a database not locked by another writer (waited "
                              f"{BUSY_TIMEOUT_S:g} s; another pidse process is writing to it, or is stuck)")
        return InputError(self.path, None, f"a pidse perplexity database it can write (SQLite: {err})")

    # -- writes
    def add(self, spec, *, context: int, source: str, ppl: float | None = None, status: str = "ok",
            dataset: str | None = None, train_tokens: float | None = None, overrides=(), label=None,
            family=None, added=None, seed: int | None = None, provenance=None) -> Stored:
        """Add one run of the spec file `spec` (with `--set` overrides). dataset, train_tokens and label
        default to the spec's training.dataset, training.tokens and label; provenance is a dict (or its JSON)."""
        where = "ppl add"
        loaded, ref = SpecCache().load(str(spec), list(overrides), where)
        run = make_run(loaded, ref, context=context, source=source, ppl=ppl, status=status,
                       dataset=dataset or loaded.training.dataset,
                       train_tokens=loaded.training.tokens if train_tokens is None else train_tokens,
                       label=label or loaded.label, family=family, added=added, seed=seed,
                       provenance=provenance, where=where)
        return self.store([(run, where)])

    def import_csv(self, path) -> Stored:
        """Every row of a CSV file (export or published layout) in one transaction: all rows or none."""
        return self.store(read_csv(path))

    def store(self, runs: list[tuple[Run, str]], conflicts: str = "raise") -> Stored:
        """Insert validated runs in one transaction. A run already stored with the same value is reported and
        skipped; one stored with another perplexity or status raises (or is skipped, conflicts='skip')."""
        with self.transaction():
            return self._store(runs, conflicts)

    def _store(self, runs: list[tuple[Run, str]], conflicts: str) -> Stored:
        result = Stored()
        for run, where in runs:
            old = self.conn.execute(f"SELECT id, ppl, status FROM runs WHERE {IDENTITY}",
                                    (run.arch_key, run.context, run.dataset, run.train_tokens,
                                     run.source, run.seed)).fetchone()
            if old is None:
                result.added.append(self._insert(run))
            elif (old["ppl"], old["status"]) == (run.ppl, run.status) or conflicts == "skip":
                result.duplicates.append(f"{where}: duplicate of row {old['id']} (same architecture, context, "
                                         "dataset, training tokens and source); skipped")
            else:
                stored = old["ppl"] if old["status"] == "ok" else "diverged"
                raise InputError(where, "ppl", f"the value stored for this run in row {old['id']} ({stored}), "
                                 "or another source", run.ppl if run.status == "ok" else "diverged")
        return result

    def _insert(self, run: Run) -> int:
        names = COLUMNS[1:]  # Run's fields, in order
        cursor = self.conn.execute(f"INSERT INTO runs ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                                   astuple(run))
        return cursor.lastrowid

    def seed(self) -> None:
        """Add the shipped published perplexities once (again only when the shipped files change)."""
        digest = hashlib.sha256(SEED_CSV.read_bytes() + LABELS_YAML.read_bytes()).hexdigest()
        if self._meta("seed") == digest:
            return
        runs = read_csv(SEED_CSV)  # outside the write lock: loading specs is the slow part
        with self.transaction():
            if self._meta("seed") != digest:  # another process may have seeded meanwhile
                self._store(runs, conflicts="skip")  # a user's conflicting row wins over the shipped one
                self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('seed', ?)", (digest,))

    def _meta(self, key: str) -> str | None:
        with self._sqlite_errors():
            row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row and row["value"]

    # -- reads
    def query(self, arch_key: str | None = None, context: int | None = None, dataset: str | None = None,
              status: str | None = None, seed: int | None = None) -> list[dict]:
        """Runs matching every filter given, in insertion order; `ppl` is None for a diverged run."""
        filters = {k: v for k, v in (("arch_key", arch_key), ("context", context), ("dataset", dataset),
                                     ("status", status), ("seed", seed)) if v is not None}
        where = " AND ".join(f"{k} = ?" for k in filters) or "1"
        with self._sqlite_errors():
            rows = [dict(row) for row in self.conn.execute(
                f"SELECT {', '.join(COLUMNS)} FROM runs WHERE {where} ORDER BY id", tuple(filters.values()))]
        good = []
        for row in rows:
            problem = row_problem(row)
            if problem:
                warnings.warn_explicit(CorruptRowWarning(f"row {short(row['id'])}: {problem}; skipped"),
                                       CorruptRowWarning, str(self.path), 0)
            else:
                good.append(row)
        return good

    def frame(self, **filters):
        """`query` as a pandas DataFrame; ppl is NaN for diverged runs: filter on status == 'ok' to plot."""
        import pandas as pd

        return pd.DataFrame(self.query(**filters), columns=list(COLUMNS))

    def export_csv(self, out=None, **filters) -> None:
        """Runs in the export layout (re-importable) to a path or text file; stdout by default."""
        write_csv(self.query(**filters), sys.stdout if out is None else out)


def row_problem(row: dict) -> str | None:
    """What breaks the table's rules in a stored row (as read back, before any use), or None. SQLite checks these
    on every write pidse makes; a row edited outside pidse (or by a file's older schema) can still break them."""
    def number(v):
        return type(v) in (int, float) and math.isfinite(v)

    for key in ("layers", "heads", "d_model", "vocab_size", "context"):
        if type(row[key]) is not int or row[key] <= 0:
            return f"{key}: expected a positive integer, got {short(row[key])}"
    for key in ("arch_key", "arch", "spec", "dataset", "status", "source", "added"):
        if not isinstance(row[key], str) or not row[key]:
            return f"{key}: expected a non-empty text, got {short(row[key])}"
    for key in ("label", "family", "provenance"):
        if row[key] is not None and not isinstance(row[key], str):
            return f"{key}: expected a text or null, got {short(row[key])}"
    if row["seed"] is not None and not (type(row["seed"]) is int and row["seed"] >= 0):
        return f"seed: expected a non-negative integer or null, got {short(row['seed'])}"
    if row["train_tokens"] is not None and not (number(row["train_tokens"]) and row["train_tokens"] > 0):
        return f"train_tokens: expected a positive number or null, got {short(row['train_tokens'])}"
    if row["status"] == "ok" and not (number(row["ppl"]) and row["ppl"] >= 1):
        return f"ppl: expected a number >= 1 when status is ok, got {short(row['ppl'])}"
    if row["status"] == "diverged" and row["ppl"] is not None:
        return f"ppl: expected null when status is diverged, got {short(row['ppl'])}"
    if row["status"] not in ("ok", "diverged"):
        return f"status: expected ok or diverged, got {short(row['status'])}"
    return None


def open_db(path=None, seed: bool = True) -> PplDB:
    """Open (creating and, with seed, seeding) the database at `path`, $PIDSE_DB or the user default."""
    db = PplDB(Path(path) if path is not None else default_db_path())
    if seed:
        try:
            db.seed()
        except BaseException:
            db.close()
            raise
    return db
