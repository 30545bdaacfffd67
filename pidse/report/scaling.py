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
    """Left: communication (GB) above latency (min), each on its own labelled log axis against T; right: each
    op kind's share of communication. Without a table: FLOPs against T. Contexts beyond the model's
    max_context (priced as a what-if) are shaded and the limit marked; crossovers are dashed or dotted lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    T = [r["context"] for r in rows]
    priced = "comm_bytes" in rows[0]
    fig = plt.figure(figsize=(12.5, 6.2) if priced else (7, 4.6), constrained_layout=True)
    if priced:
        grid = fig.add_gridspec(2, 2, width_ratios=[1, 1.15])
        comm = fig.add_subplot(grid[0, 0])
        lat = fig.add_subplot(grid[1, 0], sharex=comm)
        right = fig.add_subplot(grid[:, 1])
        comm.plot(T, [r["comm_bytes"] / 1e9 for r in rows], "o-", color="C0")
        comm.set_ylabel("communication per\ninference (GB)")
        lat.plot(T, [r["latency_s"] / 60 for r in rows], "s-", color="C1")
        lat.set_ylabel("latency per\ninference (min)")
        curves = [comm, lat]
        kinds = sorted({k.split(":")[1] for r in rows for k in r if k.startswith("comm_pct:")},
                       key=lambda k: -max(r.get(f"comm_pct:{k}", 0) for r in rows))
        top, rest = kinds[:6], kinds[6:]
        stacks = [[r.get(f"comm_pct:{k}", 0) for r in rows] for k in top]
        stacks.append([sum(r.get(f"comm_pct:{k}", 0) for k in rest) for r in rows])
        right.stackplot(T, stacks, labels=top + ["other"], alpha=0.85)
        right.set_ylabel("share of communication (%)")
        right.set_ylim(0, 100)
        right.set_title("each op kind's share of communication", fontsize=9.5)
        subtitle = f"{table.name}, {network.name}" if table else ""
    else:
        comm = lat = fig.add_subplot(1, 1, 1)
        comm.plot(T, [r["flops"] / 1e9 for r in rows], "o-", color="C0")
        comm.set_ylabel("FLOPs per inference (G)")
        curves, right = [comm], None
        subtitle = "counts only"
    plain = FuncFormatter(lambda v, _: f"{v:,.0f}")
    panels = curves + ([right] if right is not None else [])
    for ax in panels:
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(plain)
        ax.set_xlim(T[0] / 1.25, T[-1] * 1.25)
        ax.grid(True, which="major" if ax is right else "both", alpha=0.3)
    for ax in curves:
        ax.set_yscale("log")
    if priced:
        comm.tick_params(labelbottom=False)
    lat.set_xlabel("context T (tokens)")
    if right is not None:
        right.set_xlabel("context T (tokens)")
    limit = spec.model.max_context
    if limit < T[-1]:  # beyond the positions the model has: priced as a what-if only
        for ax in panels:
            ax.axvspan(limit, T[-1] * 1.25, color="0.5", alpha=0.12, lw=0, zorder=0)
            ax.axvline(limit, color="#b03a2e", lw=1.4, zorder=1,
                       label=f"model's max_context = {limit:,}; shaded beyond it: a what-if (priced as if the "
                             "model had positions that far)" if ax is comm else None)
    styles = iter(["--", ":", "-."] * 3)
    for c in crossings:
        if c.context is not None and T[0] <= c.context <= T[-1]:
            style = next(styles)
            for ax in panels:
                ax.axvline(c.context, color="0.25", ls=style, lw=1.0,
                           label=f"{c.what.split(' (')[0]} (T = {c.context:,.0f})" if ax is comm else None)
    lines = comm.get_legend_handles_labels()
    if lines[0]:
        fig.legend(*lines, loc="outside lower center", ncol=1, fontsize=8, frameon=False)
    if right is not None:
        right.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, title="op kind")
    fig.suptitle(f"{spec.name}: how private-inference cost grows with context ({subtitle})", fontsize=11)
    fig.savefig(path, dpi=130)
    plt.close(fig)
