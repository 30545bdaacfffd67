"""Rows of the perplexity database: validated runs, the specs they name, and the CSV layouts.

Two CSV layouts are read: the export layout (a `spec` column: a spec file and its --set overrides; what
`pidse ppl export` writes) and the published one (family, arch label, dims: ppl_published.csv), whose labels map to
shipped specs through pidse/data/ppl_labels.yaml, read by pidse.spec.labels. Every bad cell is one InputError naming
file, line and column.
"""
from __future__ import annotations

import csv
import datetime
import io
import json
import math
import re
import shlex
from dataclasses import dataclass, fields
from pathlib import Path

from pidse.spec.archkey import arch_key, describe_arch
from pidse.errors import InputError, cut
from pidse.resources import DATA_DIR, SPECS_DIR
from pidse.schema import suggest
from pidse.spec.labels import LABELS_YAML, LabelMap, label_map, resolve_label  # LABELS_YAML: for ppl.db too
from pidse.spec.definition import Spec
from pidse.spec.load import is_file, load_spec

DATA = DATA_DIR
STATUSES = ("ok", "diverged")
MAX_TEXT = 500  # characters of a dataset, source, label or family
MAX_PROVENANCE = 2000  # characters of a run's provenance (JSON)
MAX_SEED = 2**63 - 1  # an SQLite integer
MAX_CSV_BYTES = 64 * 2**20
_INT = re.compile(r"[0-9]{1,18}", re.ASCII)  # what a CSV integer cell may hold (not '1_000', not Unicode digits)
_NUMBER = re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?", re.ASCII)  # no nan, inf, 1_0


# ---- one run: validated values ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Run:
    """One measured training run: a database row without its id."""
    arch_key: str
    arch: str  # describe_arch(spec)
    spec: str  # the spec file and --set overrides it was loaded with
    label: str | None
    family: str | None
    layers: int
    heads: int
    d_model: int
    vocab_size: int
    context: int
    dataset: str
    train_tokens: float | None
    ppl: float | None  # None exactly when status is diverged
    status: str
    source: str
    added: str  # ISO date
    seed: int | None = None  # the training seed (None: unknown, as for published runs)
    provenance: str | None = None  # JSON object: steps, device, host, pidse version, executor, attempt


COLUMNS = ("id", *(f.name for f in fields(Run)))


def make_run(spec: Spec, spec_ref: str, *, context, dataset, source, ppl=None, status="ok", train_tokens=None,
             label=None, family=None, added=None, seed=None, provenance=None, where: str = "ppl") -> Run:
    """Check one run's values against the table's rules; errors name `where` (e.g. 'runs.csv: line 7')."""
    if status not in STATUSES:
        raise InputError(where, "status", "ok or diverged", status)
    if status == "ok" and not (_is_number(ppl) and math.isfinite(ppl) and ppl >= 1):
        raise InputError(where, "ppl", "a number >= 1 when status is ok (perplexity is at least 1)", ppl)
    if status == "diverged" and ppl is not None:
        raise InputError(where, "ppl", "no value when status is diverged (a diverged run has no perplexity)", ppl)
    if not (isinstance(context, int) and not isinstance(context, bool) and context > 0):
        raise InputError(where, "context", "a positive integer", context)
    if context > spec.model.max_context:
        raise InputError(where, "context", f"at most the spec's model.max_context ({spec.model.max_context})",
                         context)
    if train_tokens is not None and not (_is_number(train_tokens) and math.isfinite(train_tokens)
                                         and train_tokens > 0):
        raise InputError(where, "train_tokens", "a positive number, or empty when unknown", train_tokens)
    for key, value in (("dataset", dataset), ("source", source)):
        if not isinstance(value, str) or not value.strip() or value != value.strip():
            raise InputError(where, key, "a non-empty text without surrounding spaces", value)
    for key, value in (("dataset", dataset), ("source", source), ("label", label), ("family", family)):
        if value is not None and not (isinstance(value, str) and len(value) <= MAX_TEXT and value.isprintable()):
            raise InputError(where, key, f"a text on one line of at most {MAX_TEXT} characters", value)
    added = added or datetime.date.today().isoformat()
    try:
        datetime.date.fromisoformat(added)
    except (TypeError, ValueError):
        raise InputError(where, "added", "an ISO date (YYYY-MM-DD)", added) from None
    if seed is not None and not (isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed <= MAX_SEED):
        raise InputError(where, "seed", "a non-negative integer, or empty when unknown", seed)
    m = spec.model
    return Run(arch_key(spec), describe_arch(spec), spec_ref, label or None, family or None, m.layers, m.heads,
               m.d_model, m.vocab_size, context, dataset, None if train_tokens is None else float(train_tokens),
               None if ppl is None else float(ppl), status, source, added, seed,
               _provenance(provenance, where))


def _provenance(value, where: str) -> str | None:
    """A run's provenance as stored: a JSON object (a dict, or its text), keys sorted; None when unknown."""
    if value is None or value == "":
        return None
    try:
        record = json.loads(value) if isinstance(value, str) and len(value) <= MAX_PROVENANCE else value
        text = json.dumps(record, sort_keys=True, allow_nan=False) if isinstance(record, dict) else None
    except (ValueError, TypeError, RecursionError):  # not JSON, NaN, a value JSON cannot hold, nested too deep
        text = None
    if text is None or len(text) > MAX_PROVENANCE:
        raise InputError(where, "provenance", f"a JSON object of at most {MAX_PROVENANCE} characters, or empty",
                         value)
    return text


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ---- specs: where they are, how a row names one -------------------------------------------------------------

def resolve_spec(text: str) -> Path:
    """A spec path as given, else relative to the repository root, else a bare name in arch_specs/."""
    try:
        path = Path(text).expanduser()
    except RuntimeError:  # "~nosuchuser/x": no home folder to expand to
        path = Path(text)
    if path.is_absolute() or _exists(path):
        return path
    for base in (SPECS_DIR.parent, SPECS_DIR):
        if _exists(base / path):
            return base / path
    return path


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long, a NUL byte: no such file
        return False


def spec_ref(path: Path, overrides) -> str:
    """How a row records its spec: the file (relative to the repository when inside it) and its --set items."""
    path = Path(path).resolve()
    try:
        path = path.relative_to(SPECS_DIR.parent)
    except ValueError:
        pass
    return shlex.join([str(path), *(x for o in overrides for x in ("--set", o))])


def parse_spec_ref(text: str, where: str) -> tuple[str, list[str]]:
    """'FILE [--set KEY=VALUE]...' -> (FILE, overrides)."""
    try:
        words = shlex.split(text)
    except ValueError:
        words = []
    if not words or len(words) % 2 == 0 or any(w != "--set" for w in words[1::2]):
        raise InputError(where, "spec", "a spec file followed by --set KEY=VALUE items", text)
    return words[0], words[2::2]


class SpecCache:
    """Loads each (file, overrides) once per import: a seed or a large file names few distinct specs."""

    def __init__(self):
        self.specs: dict = {}

    def load(self, path_text: str, overrides, where: str) -> tuple[Spec, str]:
        key = (path_text, tuple(overrides))
        if key not in self.specs:
            path = resolve_spec(path_text)
            try:
                self.specs[key] = (load_spec(path, overrides), spec_ref(path, overrides))
            except InputError as err:
                raise InputError(where, "spec", f"a loadable spec ({err})") from None
        return self.specs[key]


# ---- published labels -> specs -----------------------------------------------------------------------------

def published_spec(row: dict, where: str, labels: LabelMap, specs: SpecCache) -> tuple[Spec, str]:
    """A row of the published table (family, arch label, dims) -> its spec, per ppl_labels.yaml."""
    path, overrides = resolve_label(row["family"], row["arch"], row, where, labels)
    return specs.load(str(path), overrides, where)


# ---- CSV files ---------------------------------------------------------------------------------------------

# Two layouts: the export layout (a `spec` column: file + overrides) and the published one (family + arch label).
# An exported `id` and `arch` (description) are read but not used: a row gets a new id, and both follow the spec.
SPEC_LAYOUT = {"required": ("spec", "context", "dataset", "source"),
               "optional": ("id", "arch_key", "arch", "label", "family", "layers", "heads", "d_model",
                            "vocab_size", "train_tokens", "ppl", "status", "added", "seed", "provenance")}
PUBLISHED_LAYOUT = {"required": ("family", "arch", "layers", "heads", "d_model", "context", "vocab", "dataset",
                                 "source"),
                    "optional": ("train_tokens", "ppl", "status", "added")}
DERIVED = ("arch_key", "layers", "heads", "d_model", "vocab_size")  # checked against the spec when given


def read_csv(path, specs: SpecCache | None = None) -> list[tuple[Run, str]]:
    """Parse and validate every row of a CSV file: [(run, 'file: line N')]. The first bad row raises."""
    name, specs = str(path), specs or SpecCache()
    if not is_file(path):  # a folder, a pipe, /dev/stdin: nothing to read to its end
        raise InputError(name, None, "a readable CSV file (an existing regular file)")
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_CSV_BYTES + 1)
        text = raw.decode("utf-8-sig")  # -sig: a spreadsheet's byte-order mark is no column
    except OSError as err:
        raise InputError(name, None, f"a readable CSV file ({err.strerror})") from None
    except UnicodeDecodeError:
        raise InputError(name, None, "a UTF-8 text file") from None
    if len(raw) > MAX_CSV_BYTES:
        raise InputError(name, None, f"a CSV file of at most {MAX_CSV_BYTES // 2**20} MiB (split it)")
    reader = csv.DictReader(io.StringIO(text))
    try:
        return _read_rows(reader, name, specs)
    except csv.Error as err:  # a cell over csv.field_size_limit() (131,072 characters), a NUL byte
        raise InputError(f"{name}: line {reader.line_num + 1}", None, f"well-formed CSV ({cut(str(err), 100)})") \
            from None


def _read_rows(reader, name: str, specs: SpecCache) -> list[tuple[Run, str]]:
    header = reader.fieldnames or []
    twice = [c for c in header if header.count(c) > 1]
    if twice:
        raise InputError(f"{name}: line 1", twice[0], "each column once (a reader would keep the last)")
    layout = SPEC_LAYOUT if "spec" in header else PUBLISHED_LAYOUT
    allowed = layout["required"] + layout["optional"]
    for column in header:
        if column not in allowed:
            raise InputError(f"{name}: line 1", column, "a known column" + suggest(column, allowed)
                             + "; allowed: " + ", ".join(allowed))
    missing = [c for c in layout["required"] if c not in header]
    if missing or ("ppl" not in header and "status" not in header):
        raise InputError(f"{name}: line 1", None, "columns " + ", ".join(missing or ["ppl or status"]))
    labels = label_map() if layout is PUBLISHED_LAYOUT else None
    runs = []
    for row in reader:
        where = f"{name}: line {reader.line_num}"
        if None in row or None in row.values():
            raise InputError(where, None, f"{len(header)} cells, as in the header")
        row = {k: v.strip() for k, v in row.items()}
        runs.append((_run_from_row(row, where, labels, specs), where))
    return runs


def _run_from_row(row: dict, where: str, labels: LabelMap | None, specs: SpecCache) -> Run:
    if labels is None:
        spec, ref = specs.load(*parse_spec_ref(row["spec"], where), where)
    else:
        spec, ref = published_spec(row, where, labels, specs)
    status = row.get("status") or "ok"
    # Only an ok run's ppl is parsed; make_run refuses any text in a diverged run's (or checks status first).
    ppl = _float(row, "ppl", where, "a number >= 1 when status is ok") if status == "ok" else row.get("ppl") or None
    run = make_run(spec, ref, context=_int(row, "context", where), dataset=row["dataset"], source=row["source"],
                   ppl=ppl, status=status,
                   train_tokens=_float(row, "train_tokens", where, "a positive number, or empty when unknown"),
                   label=row.get("label") or (row["arch"] if labels else spec.label), family=row.get("family"),
                   added=row.get("added") or None, where=where,
                   seed=_int(row, "seed", where) if row.get("seed") else None, provenance=row.get("provenance"))
    for column in DERIVED:
        if row.get(column) and row[column] != str(getattr(run, column)):
            raise InputError(where, column, f"{getattr(run, column)}, the value of the spec column's spec "
                             "(derived columns follow the spec; change the spec or its --set items)", row[column])
    return run


def _int(row: dict, key: str, where: str) -> int:
    if not _INT.fullmatch(row[key]):
        raise InputError(where, key, "an integer", row[key])
    return int(row[key])


def _float(row: dict, key: str, where: str, expected: str) -> float | None:
    if not row.get(key):
        return None
    if not _NUMBER.fullmatch(row[key]):
        raise InputError(where, key, expected, row[key])
    return float(row[key])


def write_csv(rows: list[dict], out) -> None:
    """Rows (as from `query`) in the export layout, to a path or an open text file."""
    if not hasattr(out, "write"):
        try:
            with open(out, "w", newline="", encoding="utf-8") as handle:
                return write_csv(rows, handle)
        except OSError as err:
            raise InputError(out, None, f"a writable file ({err.strerror})") from None
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows([_cell(row[c]) for c in COLUMNS] for row in rows)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))  # 2.1e9 training tokens as 2100000000, not 2100000000.0
    return str(value)
