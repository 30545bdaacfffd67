"""Plots of a sweep (matplotlib, Agg backend, imported only when a plot is drawn).

    front_plot(df, 128, "comm_bytes", "front_comm_T128.png")   # perplexity vs cost, the front as a staircase
    savings_bars(df, 128, "savings_T128.png")                  # AERO's steps from SM+LN+G, x-fold savings
    breakdown_plot(df, 128, "breakdown_T128.png")              # cost by op kind for the same steps

`df` is the frame of pidse.sweep.sweep; each plot takes the rows of one context (and one protocol and network:
the first in the frame unless named). Numbers become GB or MB, minutes or seconds here, at the output edge.
"""
from __future__ import annotations

import math

import numpy as np

from pidse.ops import OP_KINDS
from pidse.report.labels import column_labels, place_labels, step_boxes


def axis(objective: str, values) -> tuple[float, str, str]:
    """(scale from the column's unit, axis label, short unit) for costs of this size: GB or MB; h, min or s
    (hours from 5 h, as pidse.report.text.duration writes them)."""
    top = float(np.nanmax(values)) if len(values) else 0.0
    if objective == "comm_bytes":
        scale, unit = (1e-9, "GB") if top >= 1e9 else (1e-6, "MB")
        return scale, f"communication per inference ({unit}, total over all parties)", unit
    scale, unit = (1 / 3600, "h") if top >= 5 * 3600 else (1 / 60, "min") if top >= 120 else (1.0, "s")
    return scale, f"latency per inference ({unit})", unit


FLAT = 0.01  # a cost whose spread across designs is below this fraction of its largest value does not vary


def spread(values) -> float:
    """(max - min) / max of a cost across designs: 0 when every design costs the same."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    top = float(values.max()) if len(values) else 0.0
    return float(values.max() - values.min()) / top if top > 0 else 0.0


def is_flat(values) -> bool:
    """Whether a cost barely varies across designs (relative spread below FLAT), e.g. a CKKS table's
    communication, which is the encrypted prompt and logits whatever the architecture."""
    return len(values) > 1 and spread(values) < FLAT


# AERO's path from the standard GPT-2 to its softmax-only model; the pruned final model is found by pattern
STEPS = ("SM+LN+G", "SM+LN+R", "SM+ScFFN", "SM+ScFuFFN", "EReg(SM(t)+ScFuFFN)")
FINAL = r"EReg\(SM\(t\)\+ScFuFFNi\d+\)"
KIND_COLOURS = dict(zip(OP_KINDS, [  # stable: an op kind keeps its colour in every plot
    "#8c564b", "#1f77b4", "#c5b0d5", "#17becf", "#d62728", "#ff9896", "#2ca02c", "#98df8a",
    "#ff7f0e", "#ffbb78", "#bcbd22", "#9467bd", "#c7c7c7", "#7f7f7f", "#aec7e8", "#e377c2"]))
FRONT, FADED, DIVERGED = "#1f4e9c", "#9aa7b8", "#c0392b"
DPI = 150


def rows_of(df, context: int, protocol: str | None = None, network: str | None = None):
    """The rows of one context, protocol and network (the first protocol and network of that context by
    default)."""
    sub = df[df["context"] == context]
    if sub.empty:
        raise ValueError(f"no rows at context {context}")
    protocol = protocol or sub["protocol"].iloc[0]
    network = network or sub["network"].iloc[0]
    return sub[(sub["protocol"] == protocol) & (sub["network"] == network)]


def aero_steps(rows) -> list:
    """AERO's steps present in `rows` (one context): SM+LN+G, SM+LN+R, SM+ScFFN, SM+ScFuFFN,
    EReg(SM(t)+ScFuFFN), then the cheapest measured EReg(SM(t)+ScFuFFNi<k>) (AERO: i6 at T=128/256, i1 at 512).

    One row per step (a pandas Series), at the layer count most of the measured runs have (the largest when
    none is measured); steps not in the space are left out.
    """
    measured = rows[rows["ppl_status"] == "ok"]
    counts = measured["layers"].value_counts()
    layers = counts.index[0] if len(counts) else rows["layers"].max()
    at = rows[rows["layers"] == layers]
    out = [at[at["label"] == label].iloc[0] for label in STEPS if (at["label"] == label).any()]
    pruned = measured[(measured["layers"] == layers) & measured["label"].str.fullmatch(FINAL)]
    if len(pruned):
        out.append(pruned.sort_values(["comm_bytes", "ppl"]).iloc[0])
    return out


def front_plot(df, context: int, objective: str, path, protocol=None, network=None) -> None:
    """Perplexity vs `objective` (comm_bytes or latency_s) at one context: measured runs as dots, the Pareto
    front as a staircase with its points labelled, dominated runs faded, diverged runs as crosses on a strip
    above the axes (they have no perplexity), unmeasured designs as grey ticks along the cost axis. When the
    cheapest runs crowd together, a second panel zooms in on them. When the cost barely varies across designs
    (is_flat: a CKKS table's communication), the axis starts at 0 instead of zooming into the noise, and a note
    on the plot says so."""
    plt = pyplot()
    rows = rows_of(df, context, protocol, network)
    scale = axis(objective, rows[objective])[0]
    x_all = rows[objective].to_numpy() * scale
    flat = is_flat(rows[objective].to_numpy())
    if flat:  # every design at one cost: an honest axis from 0, the dots to the right of the note
        full, zoom = (0.0, 1.45 * x_all.max()), None
    else:
        pad = 0.04 * (x_all.max() - x_all.min() or 1)
        full = (x_all.min() - pad, x_all.max() + 8 * pad)
        zoom = _zoom_window(rows, objective, scale)
    fig = plt.figure(figsize=(15.5 if zoom else 9.5, 6.4), dpi=DPI)
    grid = fig.add_gridspec(2, 2 if zoom else 1, height_ratios=[1, 11], hspace=0.04, wspace=0.2)
    axes = []
    for col, xlim in enumerate([full] + ([zoom] if zoom else [])):
        ax = fig.add_subplot(grid[1, col])
        strip = fig.add_subplot(grid[0, col], sharex=ax)
        ax.set_xlim(*xlim)
        axes.append((ax, strip))
        _front_panel(fig, ax, strip, rows, objective, skip=zoom if col == 0 else None,
                     note=_flat_note(rows, objective) if flat else None)
    handles, labels = axes[0][0].get_legend_handles_labels()
    strip_handles, strip_labels = axes[0][1].get_legend_handles_labels()
    fig.legend(handles + strip_handles, labels + strip_labels, loc="upper center", ncol=5 if zoom else 2,
               fontsize=8.5, frameon=False, bbox_to_anchor=(0.5, 0.03))
    if zoom:
        ax, zax = axes[0][0], axes[1][0]
        ax.axvspan(*zoom, color="#f2e8c9", alpha=0.6, zorder=0, lw=0)
        zax.set_facecolor("#fcf8ec")
        axes[1][1].set_title("zoom on the shaded band: the cheapest measured runs", fontsize=9, color="#8a7a4a")
    what = "communication" if objective == "comm_bytes" else "latency"
    fig.suptitle(f"Perplexity vs {what}, T = {context} ({_dataset(rows)}); {rows['protocol'].iloc[0]}, "
                 f"network {rows['network'].iloc[0]}", fontsize=11, y=0.97)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


def _flat_note(rows, objective: str) -> str:
    """What a plot says when `objective` barely varies across the designs of `rows` (one context)."""
    import textwrap

    scale, _, unit = axis(objective, rows[objective])
    values = rows[objective].to_numpy()
    what = "communication" if objective == "comm_bytes" else "latency"
    lo, hi = f"{values.min() * scale:.4g}", f"{values.max() * scale:.4g}"
    same = f"{hi} {unit}" if lo == hi else f"{lo} to {hi} {unit}"
    change = 100 * spread(values)
    change = f"{change:.2g}%" if change >= 0.01 else "under 0.01%"
    text = (f"{what.capitalize()} barely varies across designs: {same} for all {len(values):,} "
            f"(they differ by {change}), so this axis cannot separate them; it starts at 0 rather than "
            "zooming into the noise.")
    protocol = rows["protocol"].iloc[0]
    if objective == "comm_bytes" and not _interactive(protocol):
        text += (f" {protocol} is non-interactive (HE): one round trip carrying the encrypted prompt and logits, "
                 "whose size the architecture does not change.")
    ok = rows[rows["ppl_status"] == "ok"]
    if len(ok):
        best = ok.sort_values(["ppl", objective]).iloc[0]
        text += f" The front is the best perplexity alone: {best['label']} ({ppl_text(best['ppl'])})."
    return "\n".join(textwrap.wrap(text, 58))


def _interactive(protocol: str) -> bool:
    """Whether a cost table's family is interactive (MPC); True when the table cannot be loaded."""
    try:
        from pidse.cost.registry import family_of, load_table

        return family_of(load_table(protocol)).interactive
    except Exception:  # a table given by path that moved, ...: no claim about its family
        return True


def _zoom_window(rows, objective: str, scale: float):
    """x range of the cheapest measured runs when at least three crowd into the cheapest 15% of the measured
    cost range (AERO's softmax-only models do), else None."""
    measured = rows.loc[rows["ppl_status"] != "unmeasured", objective].to_numpy() * scale
    if len(measured) < 4:
        return None
    lo, hi = measured.min(), measured.max()
    inside = measured[measured <= lo + 0.15 * (hi - lo)]
    if len(inside) < 3 or len(inside) == len(measured):
        return None
    pad = max(0.08 * (inside.max() - lo), 0.004 * lo)
    return lo - pad, inside.max() + 6 * pad


def _front_panel(fig, ax, strip, rows, objective: str, skip=None, note=None) -> None:
    """One panel of front_plot; points with x inside `skip` (shown in the zoom panel) stay unlabelled; `note`,
    when given, is boxed in the upper left (labels keep clear of it)."""
    scale, xlabel, _ = axis(objective, rows[objective])
    lo_x, hi_x = ax.get_xlim()
    ok = rows[rows["ppl_status"] == "ok"]
    on_front = ok[ok[f"pareto_{objective}"]].sort_values(objective)
    dominated = ok[~ok[f"pareto_{objective}"]]
    diverged = rows[rows["ppl_status"] == "diverged"].drop_duplicates("label")
    unmeasured = rows.loc[rows["ppl_status"] == "unmeasured", objective].to_numpy() * scale
    unmeasured = np.unique(np.round(unmeasured[(unmeasured >= lo_x) & (unmeasured <= hi_x)], 3))

    ax.scatter(dominated[objective] * scale, dominated["ppl"], s=30, color=FADED, alpha=0.6, zorder=3,
               label="measured, dominated")
    fx, fy = on_front[objective].to_numpy() * scale, on_front["ppl"].to_numpy()
    sx, sy = (np.append(fx, hi_x), np.append(fy, fy[-1:])) if len(fy) else (fx, fy)
    ax.step(sx, sy, where="post", color=FRONT, lw=1.6, zorder=2,
            label="Pareto front (best perplexity within a budget)")
    ax.scatter(fx, fy, s=42, color=FRONT, zorder=4, label="measured, on the front")
    spread = ok[ok["ppl_std"].notna()] if "ppl_std" in ok else ok.iloc[:0]
    if len(spread):  # several seeds of one design (pidse train grids): the mean, +- one standard deviation
        ax.errorbar(spread[objective] * scale, spread["ppl"], yerr=spread["ppl_std"], fmt="none", ecolor="#4d4d4d",
                    elinewidth=1.1, capsize=3, zorder=5, label="±1 s.d. over training seeds (dot: their mean)")
    n_unmeasured = int((rows["ppl_status"] == "unmeasured").sum())
    if n_unmeasured:
        ax.scatter(unmeasured, np.zeros_like(unmeasured), marker="|", s=90, color="#b0b0b0", alpha=0.5,
                   transform=ax.get_xaxis_transform(), clip_on=False, zorder=1,
                   label=f"unmeasured designs ({n_unmeasured:,}): cost only")
    visible = ok[(ok[objective] * scale >= lo_x) & (ok[objective] * scale <= hi_x)]
    if len(visible):
        std = visible["ppl_std"].fillna(0.0) if "ppl_std" in visible else 0.0  # error bars stay inside
        lo, hi = (visible["ppl"] - std).min(), (visible["ppl"] + std).max()
        ax.set_ylim(lo - 0.08 * (hi - lo or 1), hi + 0.14 * (hi - lo or 1))
    else:
        ax.text(0.5, 0.5, "no measured perplexity here: no front\n(the grey ticks are the designs' costs)",
                transform=ax.transAxes, ha="center", va="center", color="#6b7785")
        ax.set_yticks([])
    ax.set_xlabel(xlabel)
    ax.set_ylabel("perplexity (lower is better)")
    ax.grid(alpha=0.25)

    dx = diverged[objective].to_numpy() * scale
    strip.scatter(dx, np.zeros(len(diverged)), marker="x", s=40, color=DIVERGED,
                  label="diverged in training (no perplexity)")
    for x, label in zip(dx, diverged["label"]):
        if lo_x <= x <= hi_x and not (skip and skip[0] <= x <= skip[1]):
            strip.annotate(label, (x, 0), xytext=(6, 0), textcoords="offset points", va="center",
                           fontsize=7.5, color=DIVERGED)
    strip.set_yticks([0], ["diverged"], fontsize=8, color=DIVERGED)
    strip.set_ylim(-1, 1)
    strip.tick_params(axis="x", labelbottom=False, bottom=False)
    strip.tick_params(axis="y", length=0)
    for side in ("top", "right", "left"):
        strip.spines[side].set_visible(False)

    obstacles = step_boxes(ax, sx, sy)
    if note:
        box = ax.text(0.02, 0.97, note, transform=ax.transAxes, ha="left", va="top", fontsize=8.5,
                      color="#5a4a1a", zorder=6, linespacing=1.35,
                      bbox=dict(boxstyle="round,pad=0.5", facecolor="#fcf8ec", edgecolor="#d9c89a"))
        extent = box.get_window_extent(fig.canvas.get_renderer())  # the text; its frame pads ~0.5 em
        margin = 0.9 * 8.5 * fig.dpi / 72
        obstacles.append((extent.x0 - margin, extent.y0 - margin, extent.x1 + margin, extent.y1 + margin))
    keep = (lambda x: not (skip[0] <= x <= skip[1])) if skip else (lambda x: True)
    points = [(x, y, label, True) for x, y, label in zip(fx, fy, on_front["label"]) if keep(x)]
    points += [(x, y, label, False) for x, y, label
               in zip(dominated[objective] * scale, dominated["ppl"], dominated["label"]) if keep(x)]
    dots = [(x, y) for x, y in zip(np.append(fx, dominated[objective] * scale),
                                   np.append(fy, dominated["ppl"]))]
    if note:  # every dot on one vertical line: the front's labels beside their dots, the rest in a column
        place_labels(fig, ax, [p for p in points if p[3]], dots, obstacles)
        floor = ax.transData.transform((0, fy.max()))[1] if len(fy) else None
        column_labels(fig, ax, [p for p in points if not p[3]], floor)
    else:
        place_labels(fig, ax, points, dots, obstacles)


def savings_bars(df, context: int, path, protocol=None, network=None) -> None:
    """AERO-style bars: communication and latency of each step from SM+LN+G to the softmax-only model, with
    the x-fold reduction against SM+LN+G on every bar and the measured perplexity under each label."""
    plt = pyplot()
    rows = rows_of(df, context, protocol, network)
    steps = aero_steps(rows)
    if not steps:
        raise ValueError(f"no AERO steps (SM+LN+G, ...) in the space at context {context}")
    names = [f"{s['label']}\n{_ppl_text(s)}" for s in steps]
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.2), dpi=DPI)
    colours = ["#7f7f7f"] + [plt.cm.Blues(v) for v in np.linspace(0.45, 0.9, len(steps) - 1)]
    for ax, objective in zip(axes, ("comm_bytes", "latency_s")):
        raw = np.array([s[objective] for s in steps])
        scale, label, unit = axis(objective, raw)
        values = raw * scale
        bars = ax.bar(range(len(steps)), values, color=colours, width=0.7)
        base = values[0]
        for i, (bar, v) in enumerate(zip(bars, values)):
            ax.annotate(f"{_short(v)} {unit}\n" + (f"{base / v:.2f}x" if i else "baseline"),
                        (bar.get_x() + bar.get_width() / 2, v), xytext=(0, 3), textcoords="offset points",
                        ha="center", va="bottom", fontsize=8)
        ax.set_xticks(range(len(steps)), names, rotation=35, ha="right", rotation_mode="anchor", fontsize=8)
        what = "Communication" if objective == "comm_bytes" else "Latency"
        if is_flat(rows[objective].to_numpy()):  # no step changes it: say so rather than show 1.00x bars
            ax.set_ylim(0, values.max() * 1.55)
            note = f"No reduction: every step costs {values.max():.4g} {unit}."
            if objective == "comm_bytes" and not _interactive(rows["protocol"].iloc[0]):
                note += ("\nCKKS is non-interactive: it sends the encrypted\nprompt and logits, whatever "
                         "the architecture.")
            ax.text(0.5, 0.97, note, transform=ax.transAxes, ha="center", va="top", fontsize=8.5,
                    color="#5a4a1a", bbox=dict(boxstyle="round,pad=0.5", facecolor="#fcf8ec", edgecolor="#d9c89a"))
            ax.set_title(f"{what}: the same for every step", fontsize=10)
        else:
            ax.set_ylim(0, values.max() * 1.18)
            ax.set_title(f"{what} reduction vs SM+LN+G", fontsize=10)
        ax.set_ylabel(label.replace("per inference ", ""))
        ax.grid(axis="y", alpha=0.25)
        ax.set_axisbelow(True)
    fig.suptitle(f"AERO's steps to a softmax-only model, T = {context} ({_dataset(rows)}, "
                 f"{int(steps[0]['layers'])} layers); {rows['protocol'].iloc[0]}, network {rows['network'].iloc[0]}",
                 fontsize=10.5)
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


def breakdown_plot(df, context: int, path, protocol=None, network=None) -> None:
    """Stacked horizontal bars, communication (left) and latency (right) by op kind, for AERO's steps."""
    plt = pyplot()
    rows = rows_of(df, context, protocol, network)
    steps = aero_steps(rows)[::-1]  # the baseline on top
    if not steps:
        raise ValueError(f"no AERO steps (SM+LN+G, ...) in the space at context {context}")
    kinds = [k for k in OP_KINDS if any(s.get(f"comm_bytes:{k}", 0) or s.get(f"latency_s:{k}", 0) for s in steps)]
    fig, axes = plt.subplots(1, 2, figsize=(13, 0.55 * len(steps) + 2.2), dpi=DPI, sharey=True)
    for ax, objective in zip(axes, ("comm_bytes", "latency_s")):
        scale, label, unit = axis(objective, [s[objective] for s in steps])
        left = np.zeros(len(steps))
        for kind in kinds:
            values = np.array([s[f"{objective}:{kind}"] for s in steps]) * scale
            ax.barh(range(len(steps)), values, left=left, color=KIND_COLOURS.get(kind, "#333333"), label=kind,
                    height=0.7, edgecolor="white", linewidth=0.4)
            left += values
        for i, total in enumerate(left):
            ax.annotate(f"{_short(total)} {unit}", (total, i), xytext=(3, 0), textcoords="offset points",
                        va="center", fontsize=8)
        ax.set_xlim(0, left.max() * 1.15)
        ax.set_xlabel(label)
        ax.grid(axis="x", alpha=0.25)
        ax.set_axisbelow(True)
    axes[0].set_yticks(range(len(steps)), [s["label"] for s in steps], fontsize=8.5)
    axes[0].set_title("Communication by op kind", fontsize=10)
    axes[1].set_title("Latency by op kind (compute + bytes / bandwidth + rounds x RTT)", fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=math.ceil(len(kinds) / math.ceil(len(kinds) / 11)),
               fontsize=8, frameon=False, bbox_to_anchor=(0.5, -0.01))
    fig.suptitle(f"Where the cost goes, T = {context} ({_dataset(rows)}); {rows['protocol'].iloc[0]}, "
                 f"network {rows['network'].iloc[0]}", fontsize=10.5)
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


# ---- helpers ------------------------------------------------------------------------------------------------

def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _short(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _dataset(rows) -> str:
    dataset = rows["dataset"].iloc[0]
    return dataset if isinstance(dataset, str) and dataset else "any dataset"


def ppl_text(value: float) -> str:
    """A perplexity as published: 3.50, 2.936, 26.74."""
    return f"{value:.2f}" if abs(value * 100 - round(value * 100)) < 1e-6 else f"{value:.4g}"


def _ppl_text(step) -> str:
    if step["ppl_status"] == "ok":
        return f"ppl {ppl_text(step['ppl'])}"
    return "diverged" if step["ppl_status"] == "diverged" else "ppl unmeasured"
