"""Output edge: an Estimate as a table, Markdown, JSON or CSV. Numbers become text only here."""
from __future__ import annotations

import csv
import io
import json

from pidse.estimate import COUNT_COLUMNS, Estimate
from pidse.graph import SHAPE_KEYS

FORMATS = ("table", "json", "csv", "markdown")
SHAPE_COLUMNS = tuple(dict.fromkeys(k for keys in SHAPE_KEYS.values() for k in keys))


def si(value: float, unit: str = "") -> str:
    """124439808 -> '124.44M'; keeps three significant-ish digits."""
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= factor:
            return f"{value / factor:.2f}{prefix}{unit}"
    return f"{value:g}{unit}"


def shape_text(shape: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in shape.items())


def summary(est: Estimate) -> dict:
    """The estimate as plain data: the documented JSON schema."""
    spec = est.spec
    return {
        "spec": spec.name,
        "label": spec.label,
        "source": spec.source,
        "context": spec.context,
        "generate": spec.inference.generate,
        "flops_convention": est.convention,
        "totals": est.totals,
        "flops_by_block": est.flops_by_block,
        "nonlinear_ops": est.nonlinear_ops,
        "head_nonlinear_ops": est.head_nonlinear_ops,
        "ops": [{k: row[k] for k in ("op", "kind", "layer", "block", "stage", "step", "shape", "attrs",
                                     *COUNT_COLUMNS)} for row in est.ops],
    }


def to_json(est: Estimate, by: str = "op") -> str:
    data = summary(est)
    if by != "op":
        data["breakdown"] = {"by": by, "rows": est.breakdown(by)}
    return json.dumps(data, indent=2)


def to_csv(est: Estimate, by: str = "op") -> str:
    rows = est.breakdown(by)
    if by == "op":
        head = ["op", "kind", "layer", "block", "stage", "step", *SHAPE_COLUMNS, *COUNT_COLUMNS]
        rows = [{**{k: r[k] for k in head if k in r}, **r["shape"]} for r in rows]
    else:
        head = [by, "ops", *COUNT_COLUMNS]
    out = io.StringIO()
    writer = csv.DictWriter(out, head, extrasaction="ignore", lineterminator="\n")
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
    return bool(text) and (text[0].isdigit() or text[0] == "-" and text[1:2].isdigit())


def to_table(est: Estimate, by: str = "block", markdown: bool = False) -> str:
    spec, totals = est.spec, est.totals
    title = f"{spec.name}" + (f" ({spec.label})" if spec.label else "")
    facts = [
        ("spec", spec.source),
        ("context", f"{spec.context} tokens, generate {spec.inference.generate}"),
        ("params", f"{totals['params']:,} ({si(totals['params'])})"),
        ("MACs", si(totals["macs"])),
        (f"FLOPs ({est.convention})", si(totals["flops"])),
        ("nonlinear ops", est.nonlinear_ops or "none"),
        ("head nonlinear ops", est.head_nonlinear_ops or "none"),
    ]
    if markdown:
        head = [f"### {title}", ""] + [f"- **{k}**: `{v}`" if "ops" in k else f"- **{k}**: {v}" for k, v in facts]
    else:
        width = max(len(k) for k, _ in facts)
        head = [title] + [f"  {k.ljust(width)}  {v}" for k, v in facts]

    rows = est.breakdown(by)
    total_flops = totals["flops"] or 1
    label_cols = ["op", "kind", "layer", "block", "shape"] if by == "op" else [by]
    header = label_cols + (["ops"] if by != "op" else []) + ["params", "MACs", "FLOPs", "FLOPs %"]
    body = []
    for r in rows:
        labels = [shape_text(r["shape"]) if c == "shape" else ("-" if r[c] is None else str(r[c]))
                  for c in label_cols]
        counts = ([str(r["ops"])] if by != "op" else []) + [si(r["params"]), si(r["macs"]), si(r["flops"]),
                                                            f"{100 * r['flops'] / total_flops:.1f}"]
        body.append(labels + counts)
    return "\n".join(head) + "\n\n" + grid(header, body, markdown) + "\n"


def render(est: Estimate, fmt: str, by: str) -> str:
    if fmt == "json":
        return to_json(est, by)
    if fmt == "csv":
        return to_csv(est, by)
    return to_table(est, by, markdown=fmt == "markdown")
