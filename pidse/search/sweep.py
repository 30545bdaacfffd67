"""Sweep a design space: price every point, join measured perplexities, mark Pareto fronts.

Vectorised: transformer layers are identical, so a structure (all choices but layers and pruning) is handed to
its table's family as Pieces (pidse.model.pieces), and the family returns every depth's values at once. Under
MPC a point with L layers and its k deepest FFNs pruned costs fixed + L * layer + (L - k) * ffn for every metric
and op kind: one numpy expression per structure, whatever the number of points; CKKS chains layers per level.
Latency is then one vectorised call of the one latency model per network.
"""
from __future__ import annotations

import numpy as np

from pidse.cost.registry import family_of, load_table
from pidse.cost.setting import latency_s, resolve_network
from pidse.model.pieces import Pieces, with_depth
from pidse.ops import OP_KINDS
from pidse.search.pareto import break_even, pareto_mask
from pidse.search.space import ContextSetting, Space
from pidse.spec.archkey import arch_key
from pidse.spec.labels import aero_label

METRICS = ("params", "flops", "comm_bytes", "rounds", "compute_s")
KIND_METRICS = ("comm_bytes", "rounds", "compute_s")
COLUMNS = METRICS + tuple(f"{m}:{k}" for m in KIND_METRICS for k in OP_KINDS)
INDEX = {c: i for i, c in enumerate(COLUMNS)}


def evaluate(space: Space, contexts, protocols=None, networks=None, progress=None):
    """Every point of `space` at every context, protocol and network: a list of (context, structures, frame)
    with one tidy pandas DataFrame per (context, protocol, network), and the number of invalid combinations.
    `progress(items, label)`, if given, wraps each (context, protocol)'s structures (a progress bar).

    Rows are structure-major (every depth of structure 0, then of structure 1, ...), so that costs and labels
    are broadcasts and tiles, never per-row gathers or Python loops.
    """
    import pandas as pd

    protocols = protocols or space.protocols
    networks = networks or space.networks
    tables = {p: load_table(p) for p in protocols}
    depth = [(L, k) for L in space.layers for k in space.prune_values(L)]
    Lp, kp = (np.array(v, dtype=float) for v in zip(*depth))
    frames, skipped = [], 0
    jobs = [(T, p) for T in contexts for p in protocols]
    for T, protocol in jobs:
        structures, n_skipped = space.structures(T)
        skipped += n_skipped
        table = tables[protocol]
        n_s, n_d = len(structures), len(depth)
        family = family_of(table)
        todo = progress(structures, f"T={T} {protocol}") if progress else structures
        values = np.concatenate([family.depth_values(Pieces(st.spec), table, depth, COLUMNS) for st in todo]
                                or [np.zeros((0, len(COLUMNS)))])
        sid = np.repeat(np.arange(n_s), n_d)
        columns = {"structure": sid, "layers": np.tile(Lp, n_s).astype(int),
                   "prune_last": np.tile(kp, n_s).astype(int)}
        for axis in space.axes:  # categorical: a code per row, the names once
            codes, names = pd.factorize(np.array([st.choices[axis] for st in structures], dtype=object))
            columns[axis] = pd.Categorical.from_codes(codes[sid], categories=list(names))
        ids = pd.DataFrame(columns)
        # per-kind columns only for the kinds some point has (a space uses about half of them): memory and
        # file size; sweep() fills a kind another job has with 0
        used = values.any(axis=0)
        kinds = [k for k in OP_KINDS if any(used[INDEX[f"{m}:{k}"]] for m in KIND_METRICS)]
        kept = list(METRICS) + [f"{m}:{k}" for m in KIND_METRICS for k in kinds]
        values = values[:, [INDEX[c] for c in kept]]
        at = {c: i for i, c in enumerate(kept)}
        by_kind = {m: [at[f"{m}:{k}"] for k in kinds] for m in KIND_METRICS}
        costs = pd.DataFrame(values, columns=kept, copy=False)
        labels = _labels(structures, Lp, kp)
        for name in networks:
            net = resolve_network(name, table=table)
            latency = np.column_stack([
                latency_s(values[:, at["compute_s"]], values[:, at["comm_bytes"]], values[:, at["rounds"]],
                          net.bandwidth_bps, net.rtt_s),
                latency_s(values[:, by_kind["compute_s"]], values[:, by_kind["comm_bytes"]],
                          values[:, by_kind["rounds"]], net.bandwidth_bps, net.rtt_s),
            ]) if len(values) else np.zeros((0, 1 + len(kinds)))
            tail = pd.DataFrame({"context": np.full(len(values), T), "label": labels,
                                 "protocol": pd.Categorical.from_codes(np.zeros(len(values), dtype=np.int8),
                                                                       [protocol]),
                                 "network": pd.Categorical.from_codes(np.zeros(len(values), dtype=np.int8),
                                                                      [net.name])})
            latency_columns = ["latency_s"] + [f"latency_s:{k}" for k in kinds]
            frame = pd.concat([ids, costs, tail, pd.DataFrame(latency, columns=latency_columns, copy=False)],
                              axis=1)
            frames.append((T, structures, frame))
    return frames, skipped


def _labels(structures, Lp, kp) -> np.ndarray:
    """AERO label per row (structure-major, then depth): one aero_label call per structure and distinct
    (prune depth, every FFN pruned) pair, since any depth above k labels a partly pruned model the same way."""
    k = kp.astype(int)
    keys, code = np.unique(2 * k + (kp >= Lp), return_inverse=True)
    names = [aero_label(st.spec, layers=int(key) // 2 + (0 if key % 2 else 1), prune_last=int(key) // 2)
             for st in structures for key in keys]
    return np.array(names, dtype=object).reshape(len(structures), len(keys))[:, code.ravel()].ravel()


# ---- perplexities and fronts ----------------------------------------------------------------------------------

def join_ppl(frame, structures, setting, runs: list[dict]):
    """Add ppl, ppl_status (ok / diverged / unmeasured), ppl_source and arch_key to the rows of one context.

    Several runs of one architecture: the one with the most training tokens wins (then the first stored),
    so AERO's main tables beat its smaller ablation re-runs. Only rows whose dimensions some run has are
    hashed, once per distinct (structure, layers, prune_last); the others get no key.
    """
    runs = [r for r in runs if setting.dataset is None or r["dataset"] == setting.dataset]
    if setting.train_tokens is not None:
        runs = [r for r in runs if r["train_tokens"] in (None, setting.train_tokens)]
    best = {}
    for r in sorted(runs, key=lambda r: (-(r["train_tokens"] or 0), r["id"])):
        best.setdefault(r["arch_key"], r)
    dims = {(r["layers"], r["d_model"], r["heads"], r["vocab_size"]) for r in best.values()}
    sid, L, k = (frame[c].to_numpy() for c in ("structure", "layers", "prune_last"))
    n = len(frame)
    known = np.zeros((len(structures), int(L.max(initial=0)) + 1), dtype=bool)  # structure x layers with runs
    for s, st in enumerate(structures):
        m = st.spec.model
        for layers, d_model, heads, vocab in dims:
            if (d_model, heads, vocab) == (m.d_model, m.heads, m.vocab_size) and layers < known.shape[1]:
                known[s, layers] = True
    rows = np.flatnonzero(known[sid, L]) if n else np.zeros(0, dtype=int)
    keys = np.full(n, None, dtype=object)
    ppl, status, source = np.full(n, np.nan), np.full(n, "unmeasured", dtype=object), np.full(n, "", dtype=object)
    if rows.size:
        distinct, inverse = np.unique(np.column_stack([sid[rows], L[rows], k[rows]]), axis=0, return_inverse=True)
        inverse = inverse.ravel()
        hashed = [arch_key(with_depth(structures[s].spec, layers, pruned)) for s, layers, pruned in distinct]
        matched = [best.get(key) for key in hashed]
        keys[rows] = np.array(hashed, dtype=object)[inverse]
        ppl[rows] = np.array([r["ppl"] if r and r["status"] == "ok" else np.nan for r in matched])[inverse]
        status[rows] = np.array([r["status"] if r else "unmeasured" for r in matched], dtype=object)[inverse]
        source[rows] = np.array([r["source"] if r else "" for r in matched], dtype=object)[inverse]
    frame["arch_key"], frame["ppl"], frame["ppl_status"], frame["ppl_source"] = keys, ppl, status, source
    return frame


def mark_fronts(frame, objectives=("comm_bytes", "latency_s")):
    """Per objective: `pareto_<obj>` (perplexity vs that cost, both minimised, measured points only) and
    `break_even_<obj>` for unmeasured points (the highest perplexity at which they would still join it)."""
    measured = frame["ppl_status"].eq("ok").to_numpy()
    for obj in objectives:
        values = frame[["ppl", obj]].to_numpy(dtype=float)
        mask = np.zeros(len(frame), dtype=bool)
        mask[measured] = pareto_mask(values[measured], "min")
        frame[f"pareto_{obj}"] = mask
        be = np.full(len(frame), np.nan)
        todo = frame["ppl_status"].eq("unmeasured").to_numpy()
        if measured.any() and todo.any():
            be[todo] = break_even(values[measured][:, [1, 0]], values[todo][:, [1]], ["min"])
        frame[f"break_even_{obj}"] = be
    return frame


def sweep(space: Space, contexts=None, protocols=None, networks=None, db=None, progress=None):
    """The whole sweep as one DataFrame: costs, measured perplexities, fronts, break-even perplexities. Per op
    kind (`comm_bytes:softmax`, ...) only the kinds some point has: a missing column is a kind no point uses."""
    import pandas as pd

    contexts = list(contexts or space.contexts or [128])
    frames, skipped = evaluate(space, contexts, protocols, networks, progress)
    runs = db.query() if db is not None else []
    out = []
    for T, structures, frame in frames:
        setting = space.contexts.get(T, ContextSetting(T))
        frame = join_ppl(frame, structures, setting, [r for r in runs if r["context"] == T])
        frame["dataset"] = setting.dataset
        out.append(mark_fronts(frame))
    result = pd.concat(out, ignore_index=True)
    kind_columns = [c for c in result.columns if ":" in c]  # a kind one job lacks costs 0 there, never NaN
    result[kind_columns] = result[kind_columns].fillna(0.0)
    result.attrs["skipped_invalid"] = skipped
    return result
