"""`pidse compare`: specs side by side (one row per spec and context), savings against a baseline."""
from __future__ import annotations

from pidse.report.text import byte_sizes, csv_text, durations, grid, si


def render(frame, fmt: str) -> str:
    """`frame` is pidse.api.compare's DataFrame."""
    if fmt == "json":
        return frame.to_json(orient="records", indent=2)
    if fmt == "csv":
        return csv_text(frame.to_dict("records"))
    priced = "comm_bytes" in frame
    saved = "flops_x" in frame
    header = ["spec", "label", "T", "params", "FLOPs"] + (["comm", "rounds", "latency"] if priced else [])
    if saved:
        header += ["FLOPs x"] + (["comm x", "latency x"] if priced else [])
    body = []
    records = frame.to_dict("records")
    if priced:  # one unit per column
        comm = byte_sizes([r["comm_bytes"] for r in records])
        latency = durations([r["latency_s"] for r in records])
    for i, r in enumerate(records):
        cells = [r["spec"], r["label"] or "-", str(r["context"]), si(r["params"]), si(r["flops"])]
        if priced:
            cells += [comm[i], f"{r['rounds']:,.0f}", latency[i]]
        if saved:
            xs = ["flops_x"] + (["comm_bytes_x", "latency_s_x"] if priced else [])
            cells += [f"{r[x]:.2f}" if r.get(x) == r.get(x) and r.get(x) is not None else "-" for x in xs]
        body.append(cells)
    notes = []
    if priced:
        first = frame.iloc[0]
        notes.append(f"priced with {first['protocol']} on {first['network']}, phase {first['phase']}")
    if saved:
        notes.append("x = baseline / this (higher is cheaper)")
    return grid(header, body, markdown=fmt == "markdown") + ("\n\n" + "; ".join(notes) if notes else "")
