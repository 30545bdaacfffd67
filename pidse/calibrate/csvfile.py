"""A user's CSV of measurements (calibration data, published rows), read whole or refused in one line: not a
file, too big, not UTF-8, cells beyond the csv module's limit, NUL bytes, rows with more cells than the header,
missing columns, too many rows. Numbers in it are checked by `number` (finite, within stated limits)."""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from pidse.errors import InputError
from pidse.spec.load import MAX_FILE_BYTES

MAX_ROWS = 1000  # measurement rows in one file (every row is priced: a whole-model estimate each)
MAX_CELL_CHARS = csv.field_size_limit()  # the csv module's own limit (131,072)


def is_file(path) -> bool:
    """Path.is_file that answers False for a path that cannot exist (too long, a NUL byte) instead of raising."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def read_csv(path, what: str, columns: tuple = ()) -> list[tuple[int, dict]]:
    """(line number, row) for each row of the CSV at `path` (`what` says what it holds, for errors); every name
    in `columns` must be a column. Empty cells and cells missing at the end of a row are ''."""
    path = Path(path)
    if not is_file(path):
        raise InputError(path, None, f"an existing CSV of {what}")
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except (OSError, ValueError) as err:
        raise InputError(path, None, f"a readable CSV of {what} ({getattr(err, 'strerror', None) or err})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(path, None, f"a CSV of at most {MAX_FILE_BYTES // 2**20} MiB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(path, None, f"a UTF-8 text CSV of {what}") from None
    if "\0" in text:
        raise InputError(path, None, f"a text CSV of {what} (it holds NUL bytes)")
    reader = csv.DictReader(io.StringIO(text, newline=""), restval="", restkey="\0extra", strict=True)
    rows = []
    try:
        fields = reader.fieldnames or []
        missing = [c for c in columns if c not in fields]
        if missing:
            raise InputError(path, missing[0], f"a column of the {what} layout ({', '.join(columns)})")
        for rec in reader:
            if "\0extra" in rec:
                raise InputError(path, f"line {reader.line_num}", f"at most {len(fields)} cells, as many as the "
                                 "header has (a comma inside a cell needs quotes)")
            if len(rows) == MAX_ROWS:
                raise InputError(path, None, f"at most {MAX_ROWS:,} rows of {what}")
            rows.append((reader.line_num, rec))
    except csv.Error as err:
        raise InputError(path, f"line {reader.line_num}", f"well-formed CSV (quotes closed, cells of at most "
                         f"{MAX_CELL_CHARS:,} characters): {err}") from None
    return rows


def number(text, path, where: str, low: float, high: float, whole: bool = False) -> float:
    """A cell as a finite number from `low` to `high` (a whole number with `whole`), or an InputError naming
    the line and column."""
    raw = str(text).strip()
    try:
        value = float(raw) if raw.isascii() and len(raw) <= 40 else math.nan
    except ValueError:
        value = math.nan
    if not low <= value <= high or (whole and value != int(value)):
        if whole:
            raise InputError(path, where, f"a whole number from {low:,} to {high:,}", raw)
        raise InputError(path, where, f"a number from {low:g} to {high:g}", raw)
    return int(value) if whole else value
