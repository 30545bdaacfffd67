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
    depth = np.array([(L, k) for L in space.layers for k in space.prune_values(L)], dtype=float).reshape(-1, 2)
    Lp, kp = depth[:, 0], depth[:, 1]
    frames, skipped = [], 0
    jobs = [(T, p) for T in contexts for p in protocols]
    for T, protocol in jobs:
        structures, n_skipped = space.structures(T)
        skipped += n_skipped
        table = tables[protocol]
        n_s, n_d = len(structures), len(depth)
        family = family_of(table)
        todo = progress(structures, f"T={T} {protocol}") if progress else structures
        blocks = [family.depth_values(Pieces(st.spec), table, depth, COLUMNS) for st in todo]
        sid = np.repeat(np.arange(n_s), n_d)
        columns = {"structure": sid, "layers": np.tile(Lp, n_s).astype(int),
                   "prune_last": np.tile(kp, n_s).astype(int)}
        for axis in space.axes:  # categorical: a code per row, the names once
            codes, names = pd.factorize(np.array([st.choices[axis] for st in structures], dtype=object))
            columns[axis] = pd.Categorical.from_codes(codes[sid], categories=list(names))
        ids = pd.DataFrame(columns)
        # per-kind columns only for the kinds some point has (a space uses about half of them): memory and
        # file size; sweep() fills a kind another job has with 0
        used = np.logical_or.reduce([b.any(axis=0) for b in blocks]) if blocks else np.zeros(len(COLUMNS), bool)
        kinds = [k for k in OP_KINDS if any(used[INDEX[f"{m}:{k}"]] for m in KIND_METRICS)]
        kept = list(METRICS) + [f"{m}:{k}" for m in KIND_METRICS for k in kinds]
        values = np.empty((n_s * n_d, len(kept)), order="F")  # kept columns (pandas' layout), block by block
        for s, block in enumerate(blocks):
            values[s * n_d:(s + 1) * n_d] = block[:, [INDEX[c] for c in kept]]
        del blocks
        at = {c: i for i, c in enumerate(kept)}
        # (total, per kind) of each metric: the kinds of one metric are adjacent columns, so slices (views)
        start = {m: len(METRICS) + j * len(kinds) for j, m in enumerate(KIND_METRICS)}
        cols = {m: [at[m], slice(start[m], start[m] + len(kinds))] for m in KIND_METRICS}
        costs = pd.DataFrame(values, columns=kept, copy=False)
        labels = _labels(structures, Lp, kp)
        for name in networks:
            net = resolve_network(name, table=table)
            latency = np.empty((len(values), 1 + len(kinds)))
            for j, where in enumerate((0, slice(1, None))):
                parts = (values[:, cols[m][j]] for m in ("compute_s", "comm_bytes", "rounds"))
                latency[:, where] = latency_s(*parts, net.bandwidth_bps, net.rtt_s)
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


def _labels(structures, Lp, kp):
    """AERO label per row (structure-major, then depth), as a pandas Categorical: one aero_label call per
    structure and distinct (prune depth, every FFN pruned) pair, since any depth above k labels a partly pruned
    model the same way."""
    import pandas as pd

    k = kp.astype(int)
    keys, code = np.unique(2 * k + (kp >= Lp), return_inverse=True)
    names = [aero_label(st.spec, layers=int(key) // 2 + (0 if key % 2 else 1), prune_last=int(key) // 2)
             for st in structures for key in keys]
    codes, uniques = pd.factorize(np.array(names, dtype=object))
    return pd.Categorical.from_codes(codes.reshape(len(structures), len(keys))[:, code.ravel()].ravel(),
                                     categories=uniques)


# ---- perplexities and fronts ----------------------------------------------------------------------------------

def join_ppl(frame, structures, setting, runs: list[dict]):
    """Add ppl, ppl_std, ppl_runs, ppl_status (ok / diverged / unmeasured), ppl_source and arch_key to the rows
    of one context (the text columns as pandas Categoricals: a few distinct values over up to millions of rows).

    Several runs of one architecture: the largest training budget wins, so AERO's main tables beat its smaller
    ablation re-runs. At that budget, runs that record a seed (pidse train grids) are pooled, one run per seed
    (the first stored): ppl is the mean of the seeds that trained, ppl_std their sample standard deviation (NaN
    for one seed) and ppl_runs how many; otherwise the first stored run stands alone. Only rows whose dimensions some run has are hashed, once per
    distinct (structure, layers, prune_last); the others get no key.
    """
    import pandas as pd

    runs = [r for r in runs if setting.dataset is None or r["dataset"] == setting.dataset]
    if setting.train_tokens is not None:
        runs = [r for r in runs if r["train_tokens"] in (None, setting.train_tokens)]
    best = {key: _pooled(mine) for key, mine in _by_key(runs).items()}
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
    numbers = np.full((n, 3), np.nan)  # ppl, ppl_std, ppl_runs
    codes = np.full((n, 3), -1)  # arch_key, source: -1 is missing; status: 2 is unmeasured
    codes[:, 2] = 2
    hashed, matched = [], []
    if rows.size:
        distinct, inverse = np.unique(np.column_stack([sid[rows], L[rows], k[rows]]), axis=0, return_inverse=True)
        inverse = inverse.ravel()
        hashed = [arch_key(with_depth(structures[s].spec, layers, pruned)) for s, layers, pruned in distinct]
        matched = [best.get(key) for key in hashed]
        numbers[rows] = np.array([(r["ppl"], r["ppl_std"], r["ppl_runs"]) if r else (np.nan,) * 3
                                  for r in matched]).reshape(-1, 3)[inverse]
        codes[rows, 0] = inverse
        codes[rows, 1] = np.array([j if r else -1 for j, r in enumerate(matched)], dtype=int)[inverse]
        codes[rows, 2] = np.array([STATUSES.index(r["status"]) if r else 2 for r in matched], dtype=int)[inverse]
    frame["arch_key"] = _categorical(codes[:, 0], hashed)
    frame["ppl"], frame["ppl_std"], frame["ppl_runs"] = numbers[:, 0], numbers[:, 1], numbers[:, 2]
    frame["ppl_status"] = pd.Categorical.from_codes(codes[:, 2], categories=STATUSES)
    frame["ppl_source"] = _categorical(codes[:, 1], [r["source"] if r else "" for r in matched], missing="")
    return frame


STATUSES = ("ok", "diverged", "unmeasured")


def _by_key(runs: list[dict]) -> dict:
    """Runs grouped by architecture, each group at its largest training budget, in stored order."""
    groups: dict = {}
    for r in sorted(runs, key=lambda r: (-(r["train_tokens"] or 0), r["id"])):
        mine = groups.setdefault(r["arch_key"], [])
        if not mine or r["train_tokens"] == mine[0]["train_tokens"]:
            mine.append(r)
    return groups


def _pooled(runs: list[dict]) -> dict:
    """One architecture's perplexity from its runs at one budget: the seeded runs' mean and spread, else the
    first stored run."""
    first = runs[0]
    by_seed: dict = {}  # one run per seed, the first stored: a seed re-run with other settings is not a new seed
    for r in runs:
        if r.get("seed") is not None:
            by_seed.setdefault(r["seed"], r)
    seeded = list(by_seed.values()) if first.get("seed") is not None else []
    ok = [r["ppl"] for r in seeded if r["status"] == "ok"]
    if len(seeded) < 2:
        return {**first, "ppl": first["ppl"] if first["status"] == "ok" else np.nan, "ppl_std": np.nan,
                "ppl_runs": 1.0 if first["status"] == "ok" else np.nan}
    if not ok:  # every seed diverged
        return {**first, "ppl": np.nan, "ppl_std": np.nan, "ppl_runs": np.nan}
    return {**first, "status": "ok", "ppl": float(np.mean(ok)), "ppl_std": float(np.std(ok, ddof=1))
            if len(ok) > 1 else np.nan, "ppl_runs": float(len(ok)),
            "source": f"{first['source']} (mean of {len(ok)} seeds)" if len(ok) > 1 else first["source"]}


def _categorical(codes: np.ndarray, texts: list, missing=None):
    """A Categorical of `texts[code]` per row; code -1 is `missing` (None: a missing value)."""
    import pandas as pd

    texts = list(texts) + ([] if missing is None else [missing])
    uniques, position = np.unique(np.array(texts, dtype=object), return_inverse=True)
    position = np.append(position.ravel(), -1 if missing is None else position.ravel()[-1])
    return pd.Categorical.from_codes(position[codes], categories=uniques)


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
