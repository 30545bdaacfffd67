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
    tables = "not_priced" in frame  # several tables: one row each, at its own setting
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
            cells.append(r["not_priced"] or "")
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


def plot(frame, path) -> None:
    """Communication and latency per cost table (log axes, so that systems orders of magnitude apart share one
    figure), one bar per spec and context; a table that cannot price a spec says so where its bar would be.
    Each table's row names the network and machine it is priced at."""
    from pidse.report.plots import DPI, pyplot

    plt = pyplot()
    records = frame.to_dict("records")
    tables = list(dict.fromkeys(r["protocol"] for r in records))
    series = list(dict.fromkeys((r["spec"], r["context"]) for r in records))
    rows = {(r["protocol"], r["spec"], r["context"]): r for r in records}
    labels = []
    for name in tables:
        first = next(r for r in records if r["protocol"] == name)
        labels.append(f"{name}\n{first['network']}, {first['hardware'] or 'machine not stated'}, {first['phase']}")
    height = 0.8 / len(series)
    fig, axes = plt.subplots(1, 2, figsize=(13, 0.55 * len(tables) * max(1, len(series) ** 0.5) + 1.6),
                             sharey=True)
    for ax, column, unit, scale, what in ((axes[0], "comm_bytes", "GB", 1e9, "communication (total over parties)"),
                                          (axes[1], "latency_s", "s", 1.0, "latency")):
        finite = [r[column] / scale for r in records if _number(r.get(column))]
        low = min(finite, default=1.0) / 3
        for j, (spec, context) in enumerate(series):
            ys = [i - 0.4 + (j + 0.5) * height for i in range(len(tables))]
            values = [rows.get((name, spec, context), {}).get(column) for name in tables]
            widths = [v / scale if _number(v) else 0 for v in values]
            bars = ax.barh(ys, widths, height * 0.9, left=0, label=f"{spec}, T = {context}", color=f"C{j % 10}")
            for bar, v, name in zip(bars, values, tables):
                row = rows.get((name, spec, context))
                if _number(v):
                    ax.annotate(_short(v / scale, unit), (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                                xytext=(3, 0), textcoords="offset points", va="center", fontsize=7)
                elif row is not None:
                    ax.annotate(f"not priced: {row.get('not_priced') or 'no cost'}",
                                (low, bar.get_y() + bar.get_height() / 2), xytext=(3, 0),
                                textcoords="offset points", va="center", fontsize=7, color="#888888")
        ax.set_xscale("log")
        ax.set_xlim(low, max(finite, default=10.0) * 20)  # room for the largest bar's label
        ax.set_xlabel(f"{what} ({unit}, log scale)")
        ax.grid(axis="x", alpha=0.3)
        ax.set_axisbelow(True)
    axes[0].set_yticks(range(len(tables)), labels, fontsize=8)
    axes[0].set_ylim(len(tables) - 0.5, -0.5)  # the first table on top, no empty band
    if len(series) > 1:
        axes[1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    fig.suptitle("Cost under each system, at each table's own network and machine (latencies compare setups, "
                 "not only protocols)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / fig.get_figheight()))  # half an inch on top for the title
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)


def _number(value) -> bool:
    return value is not None and value == value


def _short(value: float, unit: str) -> str:
    text = f"{value:.3g}"
    return f"{text} {unit}" if unit == "GB" else duration(value)
