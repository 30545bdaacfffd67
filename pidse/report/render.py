"""Output edge: estimates (and calibration residuals) as a table, Markdown, JSON or CSV.

Numbers become text only here: GB, minutes, "14.5G".
"""
from __future__ import annotations

import json

from pidse.model.estimate import Estimate
from pidse.ops import SHAPE_KEYS
from pidse.steps import is_template, plain
from pidse.report.text import (byte_sizes, csv_text, duration, durations, facts_block, gigabytes, grid,
                               shape_text, si)

FORMATS = ("table", "json", "csv", "markdown")
SHAPE_COLUMNS = tuple(dict.fromkeys(k for keys in SHAPE_KEYS.values() for k in keys))
OP_COLUMNS = ("op", "kind", "layer", "block", "stage", "step", "shape", "attrs", "params", "macs", "flops")


def family_output(family: str) -> tuple:
    """Output a family adds besides the rows: (JSON key, plain data, facts lines, text sections). Imported when an
    estimate has it: the CKKS modules are a tenth of an unpriced `pidse estimate`'s start-up."""
    from pidse.report import ckks

    return {"ckks": ("he", ckks.he_summary, ckks.he_facts, ckks.he_text)}[family]


# ---- plain data (the JSON schema) ---------------------------------------------------------------------------

def savings(est: Estimate, baseline: Estimate) -> dict:
    """Baseline over estimate: 4.0 means the estimate costs a quarter of the baseline."""
    out = {"baseline": baseline.spec.name}
    for col in ("comm_bytes", "latency_s", "rounds", "flops"):
        if col in est.totals and est.totals[col]:
            out[f"{col}_x"] = baseline.totals[col] / est.totals[col]
    return out


def summary(est: Estimate, baseline: Estimate | None = None) -> dict:
    spec = est.spec
    data = {
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
    }
    if est.table is not None:
        net = est.network
        data["protocol"] = {"table": est.table.name, "path": est.table.path, "parties": est.table.parties,
                            "description": est.table.protocol}
        data["network"] = {"name": net.name, "bandwidth_bps": net.bandwidth_bps, "rtt_s": net.rtt_s}
        hw = est.setting.hardware
        data["hardware"] = None if hw is None else {
            "name": hw.name, "kind": hw.kind, "threads": hw.threads, "ghz": hw.ghz, "tflops": hw.tflops,
            "compute_scale": est.setting.compute_scale}
        data["phase"] = est.setting.phase
        data["uncosted"] = est.uncosted
        data["by_kind"] = shares(est.breakdown("kind"), est.totals)
    if getattr(spec, "unsupported", None) is not None:  # a traced model (pidse.trace): what it left out, and why
        data["unsupported"] = [dict(u, shape=list(u["shape"])) for u in spec.unsupported]
        data["trace_notes"] = list(spec.notes)
    if baseline is not None:
        data["savings"] = savings(est, baseline)
    cost_keys = ("comm_bytes", "rounds", "compute_s", "latency_s", "source", "grade") if est.table else ()
    if est.details is not None:  # a family's own results (CKKS: primitives, depth and bootstraps)
        key, details_summary, _, _ = family_output(est.table.family)
        data[key] = details_summary(est)
        cost_keys += est.family.row_keys
    data["ops"] = [op_record(row, OP_COLUMNS + cost_keys) for row in est.ops]
    return data


def op_record(row: dict, keys: tuple) -> dict:
    """One op's JSON object; a decode template adds `steps` (the steps it stands for, from `step`), its sizes that
    grow with the steps shown as ranges and its counts and costs summed over the steps."""
    if not is_template(row):
        return {k: row[k] for k in keys}
    row = plain(row)
    out = {}
    for k in keys:
        out[k] = row[k]
        if k == "step":
            out["steps"] = row["steps"]
    return out


def shares(rows: list[dict], totals: dict) -> list[dict]:
    """Add `<col>_pct` shares of the totals for the cost columns (what dominates)."""
    out = []
    for r in rows:
        r = dict(r)
        for col in ("comm_bytes", "latency_s", "rounds"):
            if col in r:
                r[f"{col}_pct"] = None if r[col] is None else (100.0 * r[col] / totals[col] if totals.get(col)
                                                               else 0.0)
        out.append(r)
    return out


def to_json(est: Estimate, by: str = "op", baseline: Estimate | None = None) -> str:
    data = summary(est, baseline)
    if by != "op":
        data["breakdown"] = {"by": by, "rows": shares(est.breakdown(by), est.totals)}
    return json.dumps(_whole_rounds(data), indent=2)


def _whole_rounds(node):
    """Round trips are whole numbers: formulas with log2 of a non-power of two give fractions, rounded here."""
    if isinstance(node, dict):
        return {k: (round(v) if k == "rounds" and isinstance(v, float) else _whole_rounds(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_whole_rounds(v) for v in node]
    return node


def to_csv(est: Estimate, by: str = "op") -> str:
    rows = est.breakdown(by)
    if by == "op":
        extra = ("source", "grade") if est.table is not None else ()
        steps = ["steps"] if any(is_template(r) for r in rows) else []  # a generation's decode templates
        head = ["op", "kind", "layer", "block", "stage", "step", *steps, *SHAPE_COLUMNS, *est.columns, *extra]
        rows = [{**r, **r["shape"]} for r in map(plain, rows)]
    else:
        head = [by, "ops", *est.columns]
    return csv_text(rows, head, ignore_extra=True)


# ---- tables -------------------------------------------------------------------------------------------------

def to_table(est: Estimate, by: str = "block", markdown: bool = False, baseline: Estimate | None = None) -> str:
    spec, totals = est.spec, est.totals
    code = (lambda s: f"`{s}`") if markdown else (lambda s: s)
    facts = [
        ("spec", spec.source),
        ("context", f"{spec.context} tokens, generate {spec.inference.generate}"),
        ("params", f"{totals['params']:,} ({si(totals['params'])})"),
        ("MACs", si(totals["macs"])),
        (f"FLOPs ({est.convention})", si(totals["flops"])),
        ("nonlinear ops", code(est.nonlinear_ops or "none")),
        ("head nonlinear ops", code(est.head_nonlinear_ops or "none")),
    ]
    if getattr(spec, "unsupported", None):  # a traced model's ops it could not classify (--allow-unsupported)
        facts.append(("UNSUPPORTED", "; ".join(f"{u['op']} x{u['calls']}" for u in spec.unsupported)
                      + ": not counted, not priced (listed on stderr)"))
    priced = est.table is not None
    if priced:
        net = est.network
        facts += [
            ("protocol", f"{est.table.name} ({est.table.parties} parties)"),
            ("network", f"{net.name}: {net.bandwidth_bps / 1e6:,.0f} Mbps, RTT {net.rtt_s * 1e3:.1f} ms"),
            ("compute on", hardware_text(est.setting, est.table)),
            ("phase", est.setting.phase),
            ("communication", gigabytes(totals["comm_bytes"]) + f" ({est.family.comm_meaning})"),
            ("rounds", f"{totals['rounds']:,.0f}"),
            ("latency", duration(totals["latency_s"]) + f" (compute {duration(totals['compute_s'])})"),
        ]
        if est.uncosted:
            facts.append(("UNCOSTED", ", ".join(est.uncosted) + ": not in the table, left out of the totals"))
        if baseline is not None:
            s = savings(est, baseline)
            facts.append((f"vs {baseline.spec.name}", f"communication {s.get('comm_bytes_x', 0):.2f}x less, "
                                                       f"latency {s.get('latency_s_x', 0):.2f}x less"))
    elif baseline is not None:  # counts only: the FLOPs saving
        facts.append((f"vs {baseline.spec.name}", f"FLOPs {savings(est, baseline).get('flops_x', 0):.2f}x less"))
    he = ""
    if est.details is not None:
        _, _, details_facts, details_text = family_output(est.table.family)
        facts += details_facts(est)
        he = "\n\n" + details_text(est, markdown)
    title = spec.name + (f" ({spec.label})" if spec.label else "")
    return facts_block(title, facts, markdown) + "\n\n" + grid(*breakdown_grid(est, by), markdown) + he + "\n"


def hardware_text(setting, table) -> str:
    hw = setting.hardware
    if hw is None:
        return "the table's measurement machine (not stated by the table)"
    if setting.compute_scale == 1.0:
        return hw.summary() + ", as measured"
    own = table.hardware
    return f"{hw.summary()}, re-priced from {own.summary()} (x{setting.compute_scale:.3g})"


def breakdown_grid(est: Estimate, by: str) -> tuple[list[str], list[list[str]]]:
    rows, totals = shares(est.breakdown(by), est.totals), est.totals
    label_cols = ["op", "kind", "layer", "block", "shape"] if by == "op" else [by]
    header = label_cols + ([] if by == "op" else ["ops"]) + ["params", "MACs", "FLOPs", "FLOPs %"]
    if est.table is not None:
        header += ["comm", "comm %", "rounds", "latency", "latency %"]
    body = []
    for r in rows:
        cells = [shape_text(plain(r)["shape"]) if c == "shape" else ("-" if r[c] is None else str(r[c]))
                 for c in label_cols]
        cells += ([] if by == "op" else [str(r["ops"])])
        cells += [si(r["params"]), si(r["macs"]), si(r["flops"]),
                  f"{100 * r['flops'] / (totals['flops'] or 1):.1f}"]
        if est.table is not None:
            if r.get("comm_bytes") is None:
                cells += ["uncosted", "-", "-", "-", "-"]
            else:
                cells += [None, f"{r['comm_bytes_pct']:.1f}", f"{r['rounds']:.0f}", None,
                          f"{r['latency_s_pct']:.1f}"]
        body.append(cells)
    if est.table is not None:  # one unit per column
        at = header.index("comm")
        comm = byte_sizes([r.get("comm_bytes") for r in rows])
        latency = durations([r.get("latency_s") for r in rows])
        for cells, c, lat in zip(body, comm, latency):
            if cells[at] is None:
                cells[at], cells[at + 3] = c, lat
    return header, body


def render(est: Estimate, fmt: str, by: str, baseline: Estimate | None = None) -> str:
    if fmt == "json":
        return to_json(est, by, baseline)
    if fmt == "csv":
        return to_csv(est, by)
    return to_table(est, by, markdown=fmt == "markdown", baseline=baseline)


# ---- calibration residuals ----------------------------------------------------------------------------------

def residual_report(result, fmt: str = "table") -> str:
    """Measured vs fitted per row, the coefficients and the effective network of a calibration."""
    if fmt == "json":
        return json.dumps({"coefficients": result.coefficients, "bandwidth_bps": result.bandwidth_bps,
                           "rtt_s": result.rtt_s, "residuals": result.residuals,
                           "warnings": result.warnings}, indent=2)
    if fmt == "csv":
        return csv_text(result.residuals)
    markdown = fmt == "markdown"
    header = ["row", "comm", "fit", "error %", "latency", "fit", "error %"]
    body = []
    for r in result.residuals:
        timed = "latency_s" in r
        body.append([r["row"], gigabytes(r["comm_bytes"]), gigabytes(r["comm_bytes_fit"]),
                     f"{r['comm_error_pct']:+.2f}",
                     duration(r["latency_s"]) if timed else "-", duration(r["latency_s_fit"]) if timed else "-",
                     f"{r['latency_error_pct']:+.2f}" if timed else "-"])
    coefs = [[name, f"{value:.4g}"] for name, value in sorted(result.coefficients.items())]
    text = grid(header, body, markdown) + "\n\n" + grid(["coefficient", "value"], coefs, markdown)
    if result.bandwidth_bps is not None:
        text += (f"\n\neffective network: {result.bandwidth_bps / 1e6:,.0f} Mbps, "
                 f"RTT {result.rtt_s * 1e3:.1f} ms")
    return text + "\n"
