"""The estimator: spec -> op graph -> one tidy row per op -> totals and breakdowns.

Rows are plain dicts so that `pidse estimate` stays fast (pandas is imported only by `Estimate.frame()`).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

from pidse.model import counting
from pidse.cost.mpc import COST_COLUMNS, price, resolve_network
from pidse.model.graph import BLOCKS, trace
from pidse.spec.load import Spec

GROUPINGS = ("op", "kind", "layer", "block")
COUNT_COLUMNS = ("params", "macs", "flops")


@dataclass
class Estimate:
    spec: Spec
    convention: str
    ops: list[dict]  # one row per op node, in execution order
    edges: list = field(repr=False)  # (source op, target op) data flow
    table: object = None  # CostTable when priced
    network: object = None  # Network when priced
    uncosted: list = field(default_factory=list)  # op kinds the table could not price (--allow-missing)
    he: object = None  # HeResult when priced by a CKKS table (pidse/he.py)

    @functools.cached_property
    def graph(self):
        """The op graph as a networkx DiGraph, nodes annotated with their counts and costs."""
        from pidse.model.graph import to_networkx

        return to_networkx({r["op"]: {k: v for k, v in r.items() if k != "op"} for r in self.ops}, self.edges,
                           self.spec.name)

    @property
    def columns(self) -> tuple[str, ...]:
        """The numeric columns of every row: counts, plus costs when priced."""
        from pidse.cost.ckks.price import HE_COLUMNS

        he = HE_COLUMNS if self.he is not None else ()
        return COUNT_COLUMNS + (COST_COLUMNS if self.table is not None else ()) + he

    @property
    def totals(self) -> dict:
        """Sums over ops. Uncosted ops (None) are skipped: check `uncosted` before trusting cost totals."""
        return {col: sum(row[col] for row in self.ops if row[col] is not None) for col in self.columns}

    @property
    def flops_by_block(self) -> dict:
        return {block: sum(r["flops"] for r in self.ops if r["block"] == block) for block in BLOCKS}

    @property
    def nonlinear_ops(self) -> str:
        return counting.inventory(self.ops)

    @property
    def head_nonlinear_ops(self) -> str:
        return counting.inventory(self.ops, include_head=True)

    def breakdown(self, by: str) -> list[dict]:
        """Rows summed per group (op: every op; kind; layer: None for ops outside the layers; block)."""
        if by == "op":
            return self.ops
        if by not in GROUPINGS:
            raise ValueError(f"unknown grouping {by!r}; expected one of {GROUPINGS}")
        groups: dict = {}
        for row in self.ops:
            acc = groups.setdefault(row[by], {by: row[by], "ops": 0, **{c: 0 for c in self.columns}})
            acc["ops"] += 1
            for col in self.columns:  # an uncosted op makes its group's cost unknown, never 0
                acc[col] = None if acc[col] is None or row[col] is None else acc[col] + row[col]
        return list(groups.values())

    def frame(self):
        """The op rows as a pandas DataFrame (shape symbols as columns), for notebooks and analysis."""
        import pandas as pd

        return pd.json_normalize(self.ops, sep="_")


def estimate(spec: Spec, convention: str = "dense", table=None, network=None,
             allow_missing: bool = False) -> Estimate:
    """Count (and, given a cost table and network, price) every op of `spec`'s graph."""
    if convention not in counting.CONVENTIONS:
        raise ValueError(f"unknown FLOPs convention {convention!r}; expected one of {counting.CONVENTIONS}")
    nodes, edges = trace(spec)
    rows = []
    for name, node in nodes.items():
        row = {"op": name, **node}
        row["macs"] = counting.macs(node["kind"], node["shape"])
        row["flops"] = counting.flops(node, convention)
        rows.append(row)
    if table is None:
        return Estimate(spec, convention, rows, edges)
    if network is None:
        network = resolve_network(table=table)
    if getattr(table, "family", "mpc") == "ckks":
        from pidse.cost.ckks.price import price_he

        he = price_he(rows, edges, table, network, allow_missing)
        return Estimate(spec, convention, rows, edges, table, network, he.uncosted, he)
    uncosted = price(rows, table, network, allow_missing)
    return Estimate(spec, convention, rows, edges, table, network, uncosted)
