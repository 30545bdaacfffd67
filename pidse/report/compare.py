"""`pidse compare`: specs side by side (one row per spec, context and table), savings against a baseline."""
from __future__ import annotations

import math

from pidse.report.text import byte_sizes, csv_text, duration, durations, gigabytes, grid, si


def render(frame, fmt: str) -> str:
    """`frame` is pidse.api.compare's DataFrame."""
    if fmt == "json":
        return frame.to_json(orient="records", indent=2)
    if fmt == "csv":
        return csv_text(frame.to_dict("records"))
    records = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
               for r in frame.to_dict("records")]
    priced = "comm_bytes" in frame
    saved = "flops_x" in frame
    tables = "unpriced" in frame  # several tables: one row each, at its own setting
    header = ["spec", "label", "T"] + (["table", "network", "machine", "phase"] if tables else []) + \
        ["params", "FLOPs"] + (["comm", "rounds", "latency"] if priced else [])
    if saved:
        header += ["FLOPs x"] + (["comm x", "latency x"] if priced else [])
    if tables:
        header.append("not priced")
    if priced and tables:  # values over several orders of magnitude: each cell its own unit
        comm = ["-" if r["comm_bytes"] is None else gigabytes(r["comm_bytes"]) for r in records]
        latency = ["-" if r["latency_s"] is None else duration(r["latency_s"]) for r in records]
    elif priced:  # one unit per column
        comm = byte_sizes([r["comm_bytes"] for r in records])
        latency = durations([r["latency_s"] for r in records])
    body = []
    for i, r in enumerate(records):
        cells = [r["spec"], r["label"] or "-", str(r["context"])]
        if tables:
            cells += [r["protocol"], r["network"], r["hardware"] or "-", r["phase"]]
        cells += [si(r["params"]), si(r["flops"])]
        if priced:
            cells += [comm[i], "-" if r["rounds"] is None else f"{r['rounds']:,.0f}", latency[i]]
        if saved:
            xs = ["flops_x"] + (["comm_bytes_x", "latency_s_x"] if priced else [])
            cells += [f"{r[x]:.2f}" if r.get(x) is not None else "-" for x in xs]
        if tables:
            cells.append(f"no cost for {r['unpriced']}" if r["unpriced"] else "")
        body.append(cells)
    notes = []
    if priced and tables:
        notes.append("each table at its paper's network and machine unless -n / --hardware chose one: compare "
                     "latencies across tables with care; comm is the total over parties")
    elif priced:
        first = records[0]
        notes.append(f"priced with {first['protocol']} on {first['network']}, phase {first['phase']}")
    if saved:
        notes.append("x = baseline / this (higher is cheaper)" + (", under the same table" if tables else ""))
    return grid(header, body, markdown=fmt == "markdown") + ("\n\n" + "; ".join(notes) if notes else "")
