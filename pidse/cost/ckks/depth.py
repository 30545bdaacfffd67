"""Sweep values under a CKKS table, exact per depth.

The MPC sweep prices a structure once as fixed + L x layer + (L - k) x ffn. Under CKKS that does not hold:
where bootstraps fall depends on the level the residual stream enters each layer at, so layer i's cost depends
on the layers before it. But that level is the walk's only state at a layer boundary (look-back never climbs
past a layer's last op, a residual add with two inputs), so a layer is a transition
    level in -> (its costs, level out)
priced once per (entry level, FFN kept or pruned) on a 1-layer graph, and a point with L layers, the k deepest
FFNs pruned, is the embedding, then L transitions chained from the fresh level, then the head priced at the
last level: exactly the full walk (tests/test_he.py checks it against full estimates). `pieces`
(pidse.model.pieces) builds the 1-layer graphs and, for generations, each depth's whole graph; nothing here
builds graphs itself.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from pidse.cost.ckks.ops import ct
from pidse.cost.ckks.price import price_he
from pidse.cost.family import add_rows
from pidse.cost.setting import Network, Setting
from pidse.steps import expand

if TYPE_CHECKING:
    import numpy as np

ANY = Setting(Network("any", 1.0, 0.0))  # primitive prices do not depend on the network; the sweep redoes latency


def _vector(rows: list[dict], columns: tuple, index: dict) -> np.ndarray:
    import numpy as np  # lazy here and below: only the sweep needs it, and `pidse estimate` starts without it

    vec = np.zeros(len(columns))
    add_rows(vec, rows, index)
    return vec


class Transitions:
    """One structure's embedding, layer transitions and head, priced lazily per entry level."""

    def __init__(self, pieces, table, columns: tuple):
        self.table, self.columns = table, columns
        self.index = {c: i for i, c in enumerate(columns)}
        self.parts = {}
        for pruned in (0, 1):
            rows, edges = pieces.one(pruned=bool(pruned))
            price_he(rows, edges, table, ANY)
            self.parts[pruned] = (rows, edges)
        rows = self.parts[0][0]
        first = next(i for i, r in enumerate(rows) if r["layer"] is not None)
        self.embed = _vector(rows[:first], columns, self.index)
        self.fresh_out = rows[first - 1]["level_out"]
        self.stack_in = rows[first - 1]["op"]  # the op feeding layer 0
        self.memo = {}

    def _walk(self, rows, edges, inputs):
        rows = [dict(r) for r in rows]
        price_he(rows, edges, self.table, ANY, inputs=inputs)
        return rows

    def layer(self, level: float, pruned: bool):
        """(cost vector, exit level, exit ciphertexts) of one layer entered at `level`."""
        key = ("layer", level, pruned)
        if key not in self.memo:
            all_rows, edges = self.parts[int(pruned)]
            rows = [r for r in all_rows if r["layer"] is not None]
            cts = self._cts(all_rows)
            done = self._walk(rows, edges, {self.stack_in: (cts, level)})
            self.memo[key] = (_vector(done, self.columns, self.index), done[-1]["level_out"], cts)
        return self.memo[key]

    def head(self, level: float):
        key = ("head", level)
        if key not in self.memo:
            all_rows, edges = self.parts[0]
            last = [r for r in all_rows if r["layer"] is not None][-1]["op"]
            rows = [r for r in all_rows if r["layer"] is None and r["block"] == "head"]
            done = self._walk(rows, edges, {last: (self._cts(all_rows), level)})
            self.memo[key] = _vector(done, self.columns, self.index)
        return self.memo[key]

    def _cts(self, rows) -> int:
        row = next(r for r in rows if r["kind"] == "embedding")
        return ct(row["shape"]["tokens"] * row["shape"]["dim"], self.table.slots)

    def point(self, layers: int, prune_last: int) -> np.ndarray:
        vec, level = self.embed.copy(), self.fresh_out
        for i in range(layers):
            cost, level, _ = self.layer(level, i >= layers - prune_last)
            vec += cost
        return vec + self.head(level)


def depth_values(pieces, table, depth: list, columns: tuple) -> np.ndarray:
    """Rows of `columns` for every (layers, prune_last) in `depth`, under CKKS table `table`."""
    import numpy as np

    if pieces.generate > 1 or not pieces.uniform:  # decode steps repeat the layers, pruning makes them
        # differ: price every depth in full
        index = {c: i for i, c in enumerate(columns)}
        out = []
        for L, k in depth:
            rows, edges = expand(*pieces.full(L, k))  # the walk goes through every decode step in order
            price_he(rows, edges, table, ANY)
            out.append(_vector(rows, columns, index))
        return np.array(out)
    tr = Transitions(pieces, table, columns)
    return np.array([tr.point(int(L), int(k)) for L, k in depth]).reshape(len(depth), len(columns))
