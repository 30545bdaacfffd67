"""`pidse scaling`'s output: the table of costs against context, the crossovers, and the plot."""
from __future__ import annotations

import json

from pidse.report.text import csv_text, duration, gigabytes, grid, si


def render(spec, rows: list[dict], crossings: list, fmt: str = "table") -> str:
    """The scaling table (costs and the largest communication shares per context) and the crossovers."""
    if fmt == "json":
        return json.dumps({"spec": spec.name, "rows": rows, "crossovers": [
            {"what": c.what, "context": c.context, "equation": c.equation, "otherwise": c.otherwise}
            for c in crossings]}, indent=2)
    if fmt == "csv":
        return csv_text(rows)
    priced = "comm_bytes" in rows[0]
    shares = sorted({k for r in rows for k in r if k.startswith("comm_pct:")},
                    key=lambda k: -max(r.get(k, 0) for r in rows))[:5]
    header = ["T", "FLOPs"] + (["comm", "rounds", "latency"] + [s.split(":")[1] + " %" for s in shares]
                               if priced else [])
    body = []
    for r in rows:
        cells = [str(r["context"]), si(r["flops"])]
        if priced:
            cells += [gigabytes(r["comm_bytes"]), f"{r['rounds']:,.0f}", duration(r["latency_s"])]
            cells += [f"{r.get(s, 0):.1f}" for s in shares]
        body.append(cells)
    markdown = fmt == "markdown"
    text = grid(header, body, markdown)
    bullet = "- " if markdown else "  "
    return f"{spec.name}: costs against context\n\n{text}\n\ncrossovers:\n" + "\n".join(
        bullet + c.line() for c in crossings) + "\n"


def plot(spec, rows: list[dict], crossings: list, path, table=None, network=None) -> None:
    """Left: costs against T (log-log); right: each op kind's share of communication (or FLOPs by block)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    T = [r["context"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6), constrained_layout=True)
    if "comm_bytes" in rows[0]:
        left.plot(T, [r["comm_bytes"] / 1e9 for r in rows], "o-", label="communication (GB)")
        left.plot(T, [r["latency_s"] / 60 for r in rows], "s-", label="latency (min)")
        kinds = sorted({k.split(":")[1] for r in rows for k in r if k.startswith("comm_pct:")},
                       key=lambda k: -max(r.get(f"comm_pct:{k}", 0) for r in rows))
        top, rest = kinds[:6], kinds[6:]
        stacks = [[r.get(f"comm_pct:{k}", 0) for r in rows] for k in top]
        stacks.append([sum(r.get(f"comm_pct:{k}", 0) for k in rest) for r in rows])
        right.stackplot(T, stacks, labels=top + ["other"], alpha=0.85)
        right.set_ylabel("share of communication (%)")
        right.set_ylim(0, 100)
        subtitle = f"{table.name}, {network.name}" if table else ""
    else:
        left.plot(T, [r["flops"] / 1e9 for r in rows], "o-", label="FLOPs (G)")
        right.set_visible(False)
        subtitle = "counts only"
    from matplotlib.ticker import FuncFormatter

    plain = FuncFormatter(lambda v, _: f"{v:,.0f}")
    left.set_xscale("log", base=2)
    left.xaxis.set_major_formatter(plain)
    left.set_yscale("log")
    left.set_xlabel("context T (tokens)")
    left.grid(True, which="both", alpha=0.3)
    right.set_xscale("log", base=2)
    right.xaxis.set_major_formatter(plain)
    right.set_xlabel("context T (tokens)")
    for c in crossings:
        if c.context is not None and T[0] <= c.context <= T[-1]:
            for ax in (left, right):
                ax.axvline(c.context, color="0.3", ls="--", lw=0.8)
            left.annotate(c.what.split(" (")[0], (c.context, left.get_ylim()[1]), rotation=90, va="top",
                          ha="right", fontsize=7, color="0.25")
    left.legend(loc="upper left", fontsize=8)
    if right.get_visible():
        right.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, title="op kind")
    fig.suptitle(f"{spec.name}: how private-inference cost grows with context ({subtitle})", fontsize=11)
    fig.savefig(path, dpi=130)
    plt.close(fig)
