"""Sweep values under a CKKS table, exact per depth.

The MPC sweep prices a structure once as fixed + L x layer + (L - k) x ffn. Under CKKS that does not hold:
where bootstraps fall depends on the level the residual stream enters each layer at, so layer i's cost depends
on the layers before it. But that level is the walk's only state at a layer boundary (look-back never climbs
past a layer's last op, a residual add with two inputs), so a layer is a transition
    level in -> (its costs, level out)
priced once per (entry level, FFN kept or pruned) on a 1-layer graph, and a point with L layers, the k deepest
FFNs pruned, is the embedding, then L transitions chained from the fresh level, then the head priced at the
last level: exactly the full walk (tests/test_he.py checks it against full estimates).
"""
from __future__ import annotations

import dataclasses

import numpy as np


def _vector(rows: list[dict], columns: tuple, index: dict) -> np.ndarray:
    vec = np.zeros(len(columns))
    for r in rows:
        for m in ("params", "flops", "comm_bytes", "rounds", "compute_s"):
            if m in index:
                vec[index[m]] += r[m]
        for m in ("comm_bytes", "rounds", "compute_s"):
            key = f"{m}:{r['kind']}"
            if key in index:
                vec[index[key]] += r[m]
    return vec


class Transitions:
    """One structure's embedding, layer transitions and head, priced lazily per entry level."""

    def __init__(self, spec, table, network, columns: tuple):
        from pidse.model.estimate import estimate
        from pidse.cost.ckks.price import price_he

        self.table, self.network, self.columns = table, network, columns
        self.index = {c: i for i, c in enumerate(columns)}
        self.price = price_he
        self.parts = {}
        for pruned in (0, 1):
            one = spec.replace(model=dataclasses.replace(spec.model, layers=1),
                               ffn=dataclasses.replace(spec.ffn, prune_last=pruned))
            est = estimate(one, table=table, network=network)
            self.parts[pruned] = est
        est = self.parts[0]
        rows = est.ops
        first = next(i for i, r in enumerate(rows) if r["layer"] is not None)
        self.embed = _vector(rows[:first], columns, self.index)
        self.fresh_out = rows[first - 1]["level_out"]
        self.stack_in = rows[first - 1]["op"]  # the op feeding layer 0
        self.memo = {}

    def _walk(self, rows, edges, inputs):
        rows = [dict(r) for r in rows]
        self.price(rows, edges, self.table, self.network, inputs=inputs)
        return rows

    def layer(self, level: float, pruned: bool):
        """(cost vector, exit level, exit ciphertexts) of one layer entered at `level`."""
        key = ("layer", level, pruned)
        if key not in self.memo:
            est = self.parts[int(pruned)]
            rows = [r for r in est.ops if r["layer"] is not None]
            cts = self._cts(est)
            done = self._walk(rows, est.edges, {self.stack_in: (cts, level)})
            self.memo[key] = (_vector(done, self.columns, self.index), done[-1]["level_out"], cts)
        return self.memo[key]

    def head(self, level: float):
        key = ("head", level)
        if key not in self.memo:
            est = self.parts[0]
            last = [r for r in est.ops if r["layer"] is not None][-1]["op"]
            rows = [r for r in est.ops if r["layer"] is None and r["block"] == "head"]
            done = self._walk(rows, est.edges, {last: (self._cts(est), level)})
            self.memo[key] = _vector(done, self.columns, self.index)
        return self.memo[key]

    def _cts(self, est) -> int:
        from pidse.cost.ckks.ops import ct

        row = next(r for r in est.ops if r["kind"] == "embedding")
        return ct(row["shape"]["tokens"] * row["shape"]["dim"], self.table.slots)

    def point(self, layers: int, prune_last: int) -> np.ndarray:
        vec, level = self.embed.copy(), self.fresh_out
        for i in range(layers):
            cost, level, _ = self.layer(level, i >= layers - prune_last)
            vec += cost
        return vec + self.head(level)


def he_values(spec, table, depth: list, columns: tuple) -> np.ndarray:
    """Rows of `columns` for every (layers, prune_last) in `depth`, under CKKS table `table`."""
    from pidse.cost.mpc import resolve_network

    net = table.network or resolve_network("lan")  # prices do not depend on the network; latency is redone
    if spec.inference.generate > 1:  # decode steps repeat the layers: price every depth in full
        from pidse.model.estimate import estimate
        from pidse.search.sweep import with_depth

        return np.array([_vector(estimate(with_depth(spec, L, k), table=table, network=net).ops, columns,
                                 {c: i for i, c in enumerate(columns)}) for L, k in depth])
    tr = Transitions(spec, table, net, columns)
    return np.array([tr.point(int(L), int(k)) for L, k in depth]).reshape(len(depth), len(columns))
