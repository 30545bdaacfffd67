"""Sweep a design space: price every point, join measured perplexities, mark Pareto fronts.

Vectorised: transformer layers are identical, so a structure (all choices but layers and pruning) is priced
once, on a 1-layer graph split into three parts: `fixed` (embedding, head), `layer` (everything in a layer but
its FFN) and `ffn`. A point with L layers and its k deepest FFNs pruned then costs
    fixed + L * layer + (L - k) * ffn
for every metric and op kind at once: one numpy expression per structure, whatever the number of points.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from pidse.costs import load_table, resolve_network
from pidse.graph import OP_KINDS
from pidse.space import ContextSetting, Space, aero_label

METRICS = ("params", "flops", "comm_bytes", "rounds", "compute_s")
KIND_METRICS = ("comm_bytes", "rounds", "compute_s")
COLUMNS = METRICS + tuple(f"{m}:{k}" for m in KIND_METRICS for k in OP_KINDS)
INDEX = {c: i for i, c in enumerate(COLUMNS)}


@dataclass
class Parts:
    fixed: np.ndarray
    layer: np.ndarray
    ffn: np.ndarray


def layer_parts(spec, table) -> Parts:
    """Price a 1-layer copy of `spec` and split its ops into fixed / layer / ffn vectors over COLUMNS."""
    from pidse.estimate import estimate

    one = spec.replace(model=dataclasses.replace(spec.model, layers=1),
                       ffn=dataclasses.replace(spec.ffn, prune_last=0))
    parts = {"fixed": np.zeros(len(COLUMNS)), "layer": np.zeros(len(COLUMNS)), "ffn": np.zeros(len(COLUMNS))}
    for row in estimate(one, table=table, network=resolve_network(table=table) if table.network else
                        resolve_network("lan")).ops:
        part = "fixed" if row["layer"] is None else ("ffn" if ".ffn." in row["op"] else "layer")
        vec = parts[part]
        for m in METRICS:
            vec[INDEX[m]] += row[m]
        for m in KIND_METRICS:
            vec[INDEX[f"{m}:{row['kind']}"]] += row[m]
    return Parts(**parts)


def evaluate(space: Space, contexts, protocols=None, networks=None, progress=None):
    """Every point of `space` at every context, protocol and network: a list of (context, structures, frame)
    with one tidy pandas DataFrame per (context, protocol, network), and the number of invalid combinations."""
    import pandas as pd

    protocols = protocols or space.protocols
    networks = networks or space.networks
    tables = {p: load_table(p) for p in protocols}
    depth = [(L, k) for L in space.layers for k in space.prune_values(L)]
    Lp, kp = (np.array(v, dtype=float) for v in zip(*depth))
    frames, skipped = [], 0
    jobs = [(T, p) for T in contexts for p in protocols]
    for T, protocol in (progress(jobs) if progress else jobs):
        structures, n_skipped = space.structures(T)
        skipped += n_skipped
        table = tables[protocol]
        parts = [layer_parts(st.spec, table) for st in structures]
        fixed, layer, ffn = (np.array([getattr(p, name) for p in parts]) for name in ("fixed", "layer", "ffn"))
        sid = np.repeat(np.arange(len(structures)), len(depth))
        L, k = np.tile(Lp, len(structures)), np.tile(kp, len(structures))
        values = fixed[sid] + L[:, None] * layer[sid] + (L - k)[:, None] * ffn[sid]
        columns = {"structure": sid, "layers": L.astype(int), "prune_last": k.astype(int)}
        for axis in space.axes:
            names = [st.choices[axis] for st in structures]
            columns[axis] = pd.Categorical.from_codes(sid, categories=list(dict.fromkeys(names))) \
                if len(set(names)) == len(names) else np.array(names, dtype=object)[sid]
        base = pd.DataFrame({**columns, **dict(zip(COLUMNS, values.T))})
        base["context"], base["protocol"] = T, protocol
        base["label"] = _labels(structures, sid, L, k)
        for name in networks:
            net = resolve_network(name, table=table)
            latency = {"latency_s": base["compute_s"] + 8 * base["comm_bytes"] / net.bandwidth_bps
                       + base["rounds"] * net.rtt_s}
            for kind in OP_KINDS:
                latency[f"latency_s:{kind}"] = base[f"compute_s:{kind}"] \
                    + 8 * base[f"comm_bytes:{kind}"] / net.bandwidth_bps + base[f"rounds:{kind}"] * net.rtt_s
            frames.append((T, structures, pd.concat([base, pd.DataFrame(latency)], axis=1).assign(network=net.name)))
    return frames, skipped


def _labels(structures, sid, L, k) -> np.ndarray:
    """AERO label per row, computed once per (structure, prune depth, whether every FFN is pruned)."""
    keys = np.stack([sid, k, (k >= L)], axis=1)
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    # any depth above k labels a partly pruned model the same way; k itself labels a fully pruned one
    names = [aero_label(with_depth(structures[int(s)].spec, int(kk) + (0 if full else 1), int(kk)))
             for s, kk, full in unique]
    return np.array(names, dtype=object)[inverse.ravel()]


def with_depth(spec, layers: int, prune_last: int):
    return spec.replace(model=dataclasses.replace(spec.model, layers=int(layers)),
                        ffn=dataclasses.replace(spec.ffn, prune_last=int(prune_last)))


# ---- perplexities and fronts ----------------------------------------------------------------------------------

def join_ppl(frame, structures, setting, runs: list[dict]):
    """Add ppl, ppl_status (ok / diverged / unmeasured), ppl_source and arch_key to the rows of one context.

    Several runs of one architecture: the one with the most training tokens wins (then the first stored),
    so AERO's main tables beat its smaller ablation re-runs.
    """
    from pidse.archkey import arch_key

    runs = [r for r in runs if setting.dataset is None or r["dataset"] == setting.dataset]
    if setting.train_tokens is not None:
        runs = [r for r in runs if r["train_tokens"] in (None, setting.train_tokens)]
    best = {}
    for r in sorted(runs, key=lambda r: (-(r["train_tokens"] or 0), r["id"])):
        best.setdefault(r["arch_key"], r)
    dims = {(r["layers"], r["d_model"], r["heads"], r["vocab_size"]) for r in best.values()}
    keys, cache = [], {}
    for sid, L, k in zip(frame["structure"], frame["layers"], frame["prune_last"]):
        spec = structures[sid].spec
        if (L, spec.model.d_model, spec.model.heads, spec.model.vocab_size) not in dims:
            keys.append(None)  # no run of these dimensions exists: skip the hashing
            continue
        if (sid, L, k) not in cache:
            cache[(sid, L, k)] = arch_key(with_depth(spec, L, k))
        keys.append(cache[(sid, L, k)])
    frame["arch_key"] = keys
    matched = [best.get(key) for key in keys]
    frame["ppl"] = [r["ppl"] if r and r["status"] == "ok" else np.nan for r in matched]
    frame["ppl_status"] = [r["status"] if r else "unmeasured" for r in matched]
    frame["ppl_source"] = [r["source"] if r else "" for r in matched]
    return frame


def mark_fronts(frame, objectives=("comm_bytes", "latency_s")):
    """Per objective: `pareto_<obj>` (perplexity vs that cost, both minimised, measured points only) and
    `break_even_<obj>` for unmeasured points (the highest perplexity at which they would still join it)."""
    from pidse.pareto import break_even, pareto_mask

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
    """The whole sweep as one DataFrame: costs, measured perplexities, fronts, break-even perplexities."""
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
    result.attrs["skipped_invalid"] = skipped
    return result
