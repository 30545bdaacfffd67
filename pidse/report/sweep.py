"""The sweep's outputs: a tidy CSV, a Markdown report with its plots, and a short summary for the terminal.

    write_outputs(df, space, out_dir, command)   # sweep.csv (or .parquet), sweep.md, the PNGs of every context
    summary(df)                                  # fronts and headline savings per context, as plain data

Every number in the report is pidse's (cost table, sweep, measured-perplexity database). The paper's costs
appear only beside them, labelled as the paper's, read from the calibration data the repository keeps
(cost_tables/data/aero-secretflow.csv: AERO Tables 4-5); they never enter a computation.
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

from pidse.report import plots
from pidse.report.he_vs_mpc import he_vs_mpc
from pidse.report.plots import aero_steps, ppl_text, rows_of
from pidse.report.text import csv_text, duration, gigabytes, grid
from pidse.resources import TABLES_DIR

ROOT = TABLES_DIR.parent
PUBLISHED = TABLES_DIR / "data" / "aero-secretflow.csv"
PAPER_PROTOCOL = "aero-secretflow"  # the paper's costs compare only with the table fitted to them
WISH_LIST = 15
WISH_ANY = 5  # wish-list rows cheaper than every measured run (break-even infinite)
PLOTS = ("front_comm", "front_latency", "savings", "breakdown")


# ---- plain data ---------------------------------------------------------------------------------------------

def jobs(df) -> list[tuple]:
    """(context, protocol, network) of the sweep, in the frame's order."""
    keys = df[["context", "protocol", "network"]].drop_duplicates()  # vectorised: a sweep has millions of rows
    return [(int(c), p, n) for c, p, n in keys.itertuples(index=False)]


def headline(rows) -> dict | None:
    """AERO's final model (the last of its steps) against SM+LN+G at one context: pidse's costs and savings,
    and the paper's where the repository has them. None when the space lacks either model."""
    steps = aero_steps(rows)
    if len(steps) < 2 or steps[0]["label"] != "SM+LN+G":
        return None
    base, final = steps[0], steps[-1]
    out = {"model": final["label"], "ppl": _num(final["ppl"]), "baseline": base["label"],
           "baseline_ppl": _num(base["ppl"])}
    for col in ("comm_bytes", "latency_s"):
        out[col] = {"baseline": float(base[col]), "model": float(final[col]),
                    "savings_x": float(base[col] / final[col])}
    out["paper"] = paper_savings(int(rows["context"].iloc[0]), base["label"], final["label"]) \
        if rows["protocol"].iloc[0] == PAPER_PROTOCOL else None
    return out


def paper_savings(context: int, baseline: str, model: str) -> dict | None:
    """The paper's published costs of `baseline` and `model` at `context` (AERO Tables 4-5, as kept in the
    calibration data), or None when the repository does not have them (e.g. T=512)."""
    with open(PUBLISHED, newline="") as f:
        rows = {(r["label"], int(r["context"])): r for r in csv.DictReader(f)}
    b, m = rows.get((baseline, context)), rows.get((model, context))
    if b is None or m is None:
        return None
    out = {"source": m["source"].split(";")[0]}
    for col, field, scale in (("comm_bytes", "comm_gb", 1e9), ("latency_s", "latency_min", 60.0)):
        bv, mv = float(b[field]) * scale, float(m[field]) * scale
        out[col] = {"baseline": bv, "model": mv, "savings_x": bv / mv}
    return out


def front_rows(rows) -> list[dict]:
    """Measured points on either front (perplexity vs communication, vs latency), cheapest first."""
    on = rows[rows["pareto_comm_bytes"] | rows["pareto_latency_s"]].sort_values(["comm_bytes", "ppl"])
    return [{"label": r["label"], "layers": int(r["layers"]), "prune_last": int(r["prune_last"]),
             "ppl": float(r["ppl"]), "comm_bytes": float(r["comm_bytes"]), "latency_s": float(r["latency_s"]),
             "front_comm": bool(r["pareto_comm_bytes"]), "front_latency": bool(r["pareto_latency_s"]),
             "source": r["ppl_source"], **_spread(r)} for _, r in on.iterrows()]


def _spread(row) -> dict:
    """ppl_std and ppl_runs of a front row measured with several seeds (pidse train grids), else nothing."""
    std = row.get("ppl_std")
    if std is None or math.isnan(std):
        return {}
    return {"ppl_std": float(std), "ppl_runs": int(row["ppl_runs"])}


def _ppl_cell(front: dict) -> str:
    """3.54, or 3.54 ± 0.021 (3 seeds): the mean over seeds and their standard deviation."""
    text = ppl_text(front["ppl"])
    return f"{text} ± {front['ppl_std']:.2g} ({front['ppl_runs']} seeds)" if "ppl_std" in front else text


def wish_list(rows, n: int = WISH_LIST, cheapest_any: int = WISH_ANY):
    """Unmeasured points ranked by break-even perplexity, the highest perplexity at which a point would still
    join a front (the larger of its two break-evens), highest first.

    One row per architecture (arch_key), and designs with the same costs and break-even (training-only or
    plaintext-scale variants: EReg, SM(t)) share a row, their labels joined by " / ". Infinite break-evens
    (cheaper than every measured run) rank first, by cost; only the `cheapest_any` cheapest of them are kept,
    so that the list also shows finite targets. Returns (rows, number of infinite groups in all).
    """
    import pandas as pd

    keep = ["label", "layers", "arch_key", "comm_bytes", "latency_s", "break_even_comm_bytes", "break_even_latency_s"]
    todo = rows.loc[rows["ppl_status"] == "unmeasured", keep]
    todo["break_even"] = np.fmax(todo["break_even_comm_bytes"], todo["break_even_latency_s"])
    todo = todo[todo["break_even"].notna()]
    # integer keys, not text: a sweep has millions of points (labels and keys are Categoricals there)
    names, uniques = pd.factorize(todo["label"])
    text_rank = np.argsort(np.argsort(np.asarray(uniques, dtype=object)))  # labels in text order
    lengths = np.array([len(x) for x in uniques], dtype=int)
    archs = pd.factorize(todo["arch_key"])[0]  # -1: no key, then one per (label, layers)
    layers = todo["layers"].to_numpy()
    unkeyed = -1 - (names.astype(np.int64) * (int(layers.max(initial=0)) + 1) + layers)
    key = np.where(archs >= 0, archs, unkeyed)
    be, comm, lat = (todo[c].to_numpy() for c in ("break_even", "comm_bytes", "latency_s"))
    order = np.lexsort((text_rank[names], lengths[names], lat, comm, -be))  # best first, then shortest label
    order = order[np.sort(np.unique(key[order], return_index=True)[1])]  # one row per architecture
    todo = todo.iloc[order]
    same = ["break_even", "break_even_comm_bytes", "break_even_latency_s", "comm_bytes", "latency_s", "layers"]
    infinite = np.isinf(todo["break_even"].to_numpy())
    n_infinite = len(todo.loc[infinite, same].drop_duplicates())
    # A group lies inside one run of equal (break_even, comm, latency): whole runs, enough for the n groups shown
    sorted_costs = todo[["break_even", "comm_bytes", "latency_s"]].to_numpy()
    run = np.cumsum(np.concatenate([np.zeros(min(1, len(todo)), bool),
                                    (sorted_costs[1:] != sorted_costs[:-1]).any(axis=1)]))
    first_runs = [np.unique(run[where])[:limit] for where, limit in ((infinite, cheapest_any), (~infinite, n))]
    todo = todo[np.isin(run, np.concatenate(first_runs))]
    group = todo.groupby(same, sort=False, dropna=False).ngroup().to_numpy()  # in order of first appearance
    firsts = np.unique(group, return_index=True)[1]
    first = todo.iloc[firsts].copy()
    shown_inf = np.isinf(first["break_even"].to_numpy())
    kept = (np.flatnonzero(shown_inf)[:cheapest_any].tolist() + np.flatnonzero(~shown_inf).tolist())[:n]
    first = first.iloc[kept]
    labels = todo["label"].astype(object).to_numpy()
    first["label"] = [" / ".join(labels[group == g]) for g in group[firsts[kept]]]
    first["arch_key"] = first["arch_key"].astype(object)
    return first, n_infinite


def summary(df) -> list[dict]:
    """Per (context, protocol, network): counts, the fronts and the headline savings."""
    out = []
    for context, protocol, network in jobs(df):
        rows = rows_of(df, context, protocol, network)
        status = rows["ppl_status"].value_counts()
        out.append({"context": int(context), "protocol": protocol, "network": network,
                    "dataset": rows["dataset"].iloc[0], "structures": int(rows["structure"].nunique()),
                    "points": len(rows),
                    "measured": int(status.get("ok", 0)), "diverged": int(status.get("diverged", 0)),
                    "unmeasured": int(status.get("unmeasured", 0)),
                    "front": front_rows(rows), "headline": headline(rows)})
    return out


# ---- files --------------------------------------------------------------------------------------------------

POINT_FORMATS = ("auto", "csv", "parquet")
CSV_MAX_POINTS = 200_000  # auto: above this, Parquet (formatting a million rows as text dominates a sweep)


def write_points(df, out: Path, points: str = "auto") -> Path:
    """Every point: sweep.csv, or sweep.parquet (columnar, pyarrow) when `points` says so or, with auto, when
    there are more than CSV_MAX_POINTS. Either reads back with pandas (read_csv / read_parquet)."""
    if points == "parquet" or (points == "auto" and len(df) > CSV_MAX_POINTS):
        path = out / "sweep.parquet"
        df.to_parquet(path, index=False, compression="zstd")
    else:  # Arrow's CSV writer: numbers in full (round-trip) precision, ~15x faster than DataFrame.to_csv's
        import pyarrow  # per-cell formatting
        import pyarrow.csv

        path = out / "sweep.csv"
        pyarrow.csv.write_csv(pyarrow.Table.from_pandas(df, preserve_index=False), path)
    return path


def write_outputs(df, space, out_dir, command: str, progress=None, points: str = "auto") -> list[Path]:
    """The points (sweep.csv or sweep.parquet), the plots of every context and sweep.md into `out_dir`; the
    paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [write_points(df, out, points)]
    several = len(jobs(df)) > len(set(df["context"]))
    images = {}
    todo = jobs(df)
    for job in (progress(todo, "plots") if progress else todo):
        context, protocol, network = job
        suffix = f"_T{context}" + (f"_{protocol}_{network}" if several else "")
        rows = rows_of(df, context, protocol, network)
        names = {}
        for kind in PLOTS:
            path = out / f"{kind}{suffix}.png"
            if kind.startswith("front"):
                plots.front_plot(rows, context, "comm_bytes" if kind == "front_comm" else "latency_s", path)
            elif not aero_steps(rows):
                continue  # a space without AERO's models: no steps to draw
            else:
                (plots.savings_bars if kind == "savings" else plots.breakdown_plot)(rows, context, path)
            names[kind] = path.name
            written.append(path)
        images[job] = names

    he_files, he_lines = he_vs_mpc(df, out)
    path = out / "sweep.md"
    text = markdown(df, space, images, command, written[0].name)
    path.write_text(text + "\n".join(he_lines) + ("\n" if he_lines else ""))
    return written + he_files + [path]


# ---- Markdown -----------------------------------------------------------------------------------------------

def markdown(df, space, images: dict, command: str, points_file: str = "sweep.csv") -> str:
    lines = [f"# Design-space sweep: {space.name}", "",
             f"Generated by `{command}`; regenerate with the same command. Costs come from the cost table, "
             "perplexities from the measured-perplexity database (`pidse ppl list`); fronts, savings and "
             "break-even perplexities are computed by pidse. The paper's numbers appear only where labelled "
             "as the paper's.", "", "## What was swept", ""]
    summaries = summary(df)
    lines += _swept(df, space, summaries)
    lines += ["", "## Headline: AERO's final softmax-only model against SM+LN+G", ""]
    lines += _headlines(summaries)
    for job in jobs(df):
        lines += [""] + _context_section(rows_of(df, *job), images.get(job, {}), points_file)
    lines += ["", "## Reading the wish list", "",
              "For a design without a measured perplexity, its break-even perplexity is the highest perplexity "
              "at which it would still join the front of the measured runs: the lowest perplexity among "
              "measured runs that cost no more than it (in communication, or in latency; the table gives the "
              "larger of the two). Train it and reach a perplexity below that, and it is a new Pareto-optimal "
              "design. `∞`: no measured run is as cheap, so any perplexity would put it on the front; those "
              "rank by cost, cheapest first. Designs identical for inference and training (the same "
              "architecture key) are listed once, and designs with the same costs and break-even (variants "
              "that differ only in training, EReg, or in a plaintext scale, SM(t)) share a row."]
    return "\n".join(lines) + "\n"


def _swept(df, space, summaries: list[dict]) -> list[str]:
    combos = math.prod(len(c) for c in space.axes.values())
    axes = "; ".join(f"`{a}`: {', '.join(map(str, c))}" for a, c in space.axes.items())
    prune = "every depth 0..layers" if isinstance(space.prune_last, str) else _ints(space.prune_last)
    lines = [f"- space: `{_relative(space.source)}`: {space.description}",
             f"- axes ({combos} combinations): {axes}",
             f"- layers: {_ints(space.layers)}; FFNs of the deepest layers pruned (`prune_last`): {prune}",
             f"- invalid combinations skipped (e.g. a fused FFN with a nonlinearity): "
             f"{df.attrs.get('skipped_invalid', 0)} in all ({len(summaries)} context x protocol x network "
             "jobs; the table counts the valid structures of each)",
             f"- points: {len(df):,} in all", ""]
    header = ["context", "dataset", "protocol", "network", "structures", "points", "measured", "diverged",
              "unmeasured"]
    body = []
    for s in summaries:
        setting = space.contexts.get(s["context"])
        dataset = s["dataset"] or "any"
        if setting is not None and setting.train_tokens:
            dataset += f" ({setting.train_tokens / 1e9:g}B tokens)"
        if setting is not None and setting.overrides:
            dataset += "; " + ", ".join(f"`{k}={v}`" for k, v in setting.overrides)
        body.append([str(s["context"]), dataset, s["protocol"], s["network"], str(s["structures"]),
                     f"{s['points']:,}", str(s["measured"]), str(s["diverged"]), f"{s['unmeasured']:,}"])
    return lines + [grid(header, body, markdown=True)]


def _headlines(summaries: list[dict]) -> list[str]:
    header = ["context", "model (ppl)", "communication (pidse)", "pidse", "paper", "latency (pidse)", "pidse",
              "paper"]
    body, notes, missing = [], set(), []
    for s in summaries:
        h = s["headline"]
        if h is None:
            continue
        paper = h["paper"]
        cells = [f"T={s['context']}",
                 f"{h['model']} ({_ppl(h['ppl'])}) vs {h['baseline']} ({_ppl(h['baseline_ppl'])})"]
        for col in ("comm_bytes", "latency_s"):
            c = h[col]
            cells += [f"{_cost(c['baseline'], col)} → {_cost(c['model'], col)}", f"**{c['savings_x']:.2f}x**"]
            if paper:
                p = paper[col]
                cells.append(f"{p['savings_x']:.2f}x ({_cost(p['baseline'], col)} → {_cost(p['model'], col)})")
            else:
                cells.append("not in the repository" if s["protocol"] == PAPER_PROTOCOL else "other protocol")
        if paper:
            notes.add(paper["source"])
        elif s["protocol"] == PAPER_PROTOCOL:
            missing.append(f"T={s['context']}")
        body.append(cells)
    if not body:
        return ["The space has no SM+LN+G or no AERO softmax-only model: no headline."]
    text = ("Savings are x-fold reductions against SM+LN+G at the same context. The final model is the cheapest "
            "measured `EReg(SM(t)+ScFuFFNi<k>)`, else `EReg(SM(t)+ScFuFFN)` (AERO prunes 6 of 12 FFNs at T=128/256 "
            "and 1 at T=512).")
    if notes:
        text += (" The paper's column cites " + ", ".join(sorted(notes)) + ", as kept in "
                 "`cost_tables/data/aero-secretflow.csv` (the data the aero-secretflow table was calibrated on; "
                 "the paper used a ~50K vocabulary, pidse prices the space's own).")
    if missing:
        text += (f" AERO's published costs at {', '.join(dict.fromkeys(missing))} are not in the repository: "
                 "there pidse's numbers are predictions with nothing published to compare.")
    return [grid(header, body, markdown=True), "", text]


def _context_section(rows, images: dict, points_file: str) -> list[str]:
    context, protocol, network = rows["context"].iloc[0], rows["protocol"].iloc[0], rows["network"].iloc[0]
    dataset = rows["dataset"].iloc[0] or "any dataset"
    lines = [f"## T = {context} ({dataset}; {protocol}, network {network})", ""]
    for kind, caption in (("front_comm", "perplexity vs communication"), ("front_latency", "perplexity vs latency")):
        if kind in images:
            lines += [f"![{caption}, T={context}]({images[kind]})", ""]
    front = front_rows(rows)
    lines += ["### Pareto fronts", "",
              "Measured runs no other measured run beats on both perplexity and cost (`comm`: on the "
              "perplexity-communication front, `latency`: on the perplexity-latency front).", ""]
    body = [[f["label"], _ppl_cell(f), _cost(f["comm_bytes"], "comm_bytes"), _cost(f["latency_s"], "latency_s"),
             ", ".join(n for n, on in (("comm", f["front_comm"]), ("latency", f["front_latency"])) if on),
             f["source"]] for f in front]
    lines.append(grid(["model", "ppl", "communication", "latency", "front", "perplexity source"], body, True)
                 if body else "No measured run at this context: no front.")
    steps = aero_steps(rows)
    if steps:
        lines += ["", "### AERO's steps from SM+LN+G", ""]
        if "savings" in images:
            lines += [f"![savings, T={context}]({images['savings']})", ""]
        base = steps[0]
        body = [[s["label"], _ppl(_num(s["ppl"]), s["ppl_status"]), _cost(s["comm_bytes"], "comm_bytes"),
                 f"{base['comm_bytes'] / s['comm_bytes']:.2f}x", _cost(s["latency_s"], "latency_s"),
                 f"{base['latency_s'] / s['latency_s']:.2f}x"] for s in steps]
        lines.append(grid(["model", "ppl", "communication", "vs " + base["label"], "latency",
                           "vs " + base["label"]], body, True))
        if "breakdown" in images:
            lines += ["", f"![cost by op kind, T={context}]({images['breakdown']})"]
    wish, n_any = wish_list(rows)
    lines += ["", "### Measurement wish list", "",
              f"Unmeasured designs ranked by break-even perplexity: train one to a perplexity below it and it joins "
              f"a front (top {WISH_LIST}; see the end of the report). Variants with the same costs and target "
              "share a row." + (f" {n_any} groups are cheaper than every measured run (`∞`); the "
                                f"{min(n_any, WISH_ANY)} cheapest are shown, `{points_file}` has every point."
                                if n_any else ""), ""]
    body = [[str(i + 1), r["label"], str(int(r["layers"])), _be(r["break_even"]), _be(r["break_even_comm_bytes"]),
             _be(r["break_even_latency_s"]), _cost(r["comm_bytes"], "comm_bytes"), _cost(r["latency_s"], "latency_s")]
            for i, (_, r) in enumerate(wish.iterrows())]
    lines.append(grid(["rank", "model", "layers", "break-even ppl", "by comm", "by latency", "communication",
                       "latency"], body, True) if body else "Nothing to rank: no measured run or no unmeasured "
                 "design at this context.")
    return lines


# ---- terminal summary ---------------------------------------------------------------------------------------

def render_summary(df, fmt: str) -> str:
    data = summary(df)
    if fmt == "json":
        return json.dumps(data, indent=2)
    if fmt == "csv":
        fields = ["context", "protocol", "network", "label", "layers", "prune_last", "ppl", "comm_bytes",
                  "latency_s", "front_comm", "front_latency", "source"]
        return csv_text(({**{k: s[k] for k in ("context", "protocol", "network")}, **f}
                         for s in data for f in s["front"]), fields)
    markdown_ = fmt == "markdown"
    parts = []
    for s in data:
        title = (f"T={s['context']} ({s['dataset'] or 'any dataset'}; {s['protocol']}, {s['network']}): "
                 f"{s['points']:,} points, {s['measured']} measured, {s['diverged']} diverged")
        body = [[f["label"], _ppl_cell(f), _cost(f["comm_bytes"], "comm_bytes"),
                 _cost(f["latency_s"], "latency_s"),
                 ", ".join(n for n, on in (("comm", f["front_comm"]), ("latency", f["front_latency"])) if on)]
                for f in s["front"]]
        text = ("### " if markdown_ else "") + title + "\n\n"
        text += grid(["front", "ppl", "comm", "latency", "on"], body, markdown_) if body else "no measured run"
        h = s["headline"]
        if h:
            text += (f"\n\n{h['model']} vs {h['baseline']}: communication {h['comm_bytes']['savings_x']:.2f}x "
                     f"less, latency {h['latency_s']['savings_x']:.2f}x less")
            if h["paper"]:
                text += (f" (paper: {h['paper']['comm_bytes']['savings_x']:.2f}x, "
                         f"{h['paper']['latency_s']['savings_x']:.2f}x)")
        parts.append(text)
    return "\n\n".join(parts)


# ---- formatting ---------------------------------------------------------------------------------------------

def _num(value) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _ppl(value, status: str = "ok") -> str:
    if status == "diverged":
        return "diverged"
    return "ppl unmeasured" if value is None else f"ppl {ppl_text(value)}"



def _cost(value: float, col: str) -> str:
    return gigabytes(value) if col == "comm_bytes" else duration(value)


def _be(value: float) -> str:
    return "-" if value is None or math.isnan(value) else ("∞" if math.isinf(value) else ppl_text(value))


def _ints(values) -> str:
    values = list(values)
    if len(values) > 2 and values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]}..{values[-1]}"
    return ", ".join(map(str, values))


def _relative(path: str) -> str:
    """A path inside the repository relative to its root (the committed report names no home folders)."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)
