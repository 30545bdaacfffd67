"""Numbers as text, at the output edge: units (GB, min, "14.5B"), aligned grids, Markdown tables, CSV.

Counts use K / M / B / T (thousand, million, billion, trillion). A column of a table uses one unit for all its
rows (`column_units`), so that a reader compares digits, not units."""
from __future__ import annotations

import csv
import io


def si(value: float, unit: str = "") -> str:
    """124439808 -> '124.44M'; 1.24e9 -> '1.24B'."""
    for factor, prefix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= factor:
            return f"{value / factor:.2f}{prefix}{unit}"
    return f"{value:.3g}{unit}"


def gigabytes(n_bytes: float) -> str:
    if n_bytes >= 1e12:
        return f"{n_bytes / 1e12:.2f} TB"
    return f"{n_bytes / 1e9:.2f} GB" if n_bytes >= 1e7 else f"{n_bytes / 1e6:.2f} MB"


def duration(seconds: float) -> str:
    if seconds >= 5 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.2f} min" if seconds >= 120 else f"{seconds:.2f} s"


def durations(values) -> list[str]:
    """Times in one unit, the one duration() picks for the largest ('-' for None)."""
    largest = max((v for v in values if v is not None), default=0.0)
    unit, scale = ("h", 3600) if largest >= 5 * 3600 else ("min", 60) if largest >= 120 else ("s", 1)
    return _fixed(values, scale, unit)


def byte_sizes(values) -> list[str]:
    """Byte counts in one unit, the one gigabytes() picks for the largest ('-' for None)."""
    largest = max((v for v in values if v is not None), default=0.0)
    unit, scale = ("TB", 1e12) if largest >= 1e12 else ("GB", 1e9) if largest >= 1e7 else ("MB", 1e6)
    return _fixed(values, scale, unit)


def _fixed(values, scale: float, unit: str) -> list[str]:
    """Two decimals in `unit`; a non-zero value that rounds to 0.00 shows as <0.01 (never a false zero)."""
    def one(v):
        if v is None:
            return "-"
        text = f"{v / scale:.2f}"
        return f"<0.01 {unit}" if v and text in ("0.00", "-0.00") else f"{text} {unit}"
    return [one(v) for v in values]


def shape_text(shape: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in shape.items())


def csv_text(rows, columns=None, ignore_extra: bool = False) -> str:
    """Rows (dicts) as CSV text; columns default to every key seen, in first-seen order."""
    rows = list(rows)
    columns = list(columns) if columns is not None else list(dict.fromkeys(k for r in rows for k in r))
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, extrasaction="ignore" if ignore_extra else "raise", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def grid(header: list[str], rows: list[list[str]], markdown: bool) -> str:
    """Aligned plain-text columns (text left, numbers right), or a Markdown table."""
    numeric = [all(_is_number(r[i]) for r in rows) for i in range(len(header))]
    if markdown:
        lines = ["| " + " | ".join(header) + " |",
                 "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(x) for x in col) for col in zip(header, *rows)]
    fmt = lambda r: "  ".join(c.rjust(w) if n else c.ljust(w) for c, w, n in zip(r, widths, numeric)).rstrip()
    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *map(fmt, rows)])


def _is_number(text: str) -> bool:
    text = text[1:] if text.startswith("<") else text  # "<0.01 GB"
    return bool(text) and (text[0].isdigit() or text[0] in "-+" and text[1:2].isdigit() or text == "-")


def facts_block(title: str, facts: list[tuple[str, str]], markdown: bool) -> str:
    if markdown:
        return "\n".join([f"### {title}", ""] + [f"- **{k}**: {v}" for k, v in facts])
    width = max(len(k) for k, _ in facts)
    return "\n".join([title] + [f"  {k.ljust(width)}  {v}" for k, v in facts])
