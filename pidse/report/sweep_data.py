"""The sweep as plain data: its (context, protocol, network) jobs, the fronts, AERO's headline savings (and the
paper's, where the repository keeps them) and the wish list of untrained designs ranked by break-even perplexity.
pidse/report/sweep.py writes them out.
"""
from __future__ import annotations

import csv
import math

import numpy as np

from pidse.report.plots import aero_steps, rows_of
from pidse.resources import TABLES_DIR

PUBLISHED = TABLES_DIR / "data" / "aero-secretflow.csv"
PAPER_PROTOCOL = "aero-secretflow"  # the paper's costs compare only with the table fitted to them
WISH_LIST = 15
WISH_ANY = 5  # wish-list rows cheaper than every measured run (break-even infinite)


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
    out = {"model": final["label"], "ppl": as_number(final["ppl"]), "baseline": base["label"],
           "baseline_ppl": as_number(base["ppl"])}
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


def as_number(value) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
