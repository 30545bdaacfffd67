"""The estimator: spec -> op graph -> one tidy row per op (counted, then priced by the table's family) ->
totals and breakdowns.

Rows are plain dicts so that `pidse estimate` stays fast (pandas is imported only by `Estimate.frame()`).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

from pidse.cost.family import COST_COLUMNS
from pidse.cost.registry import family_of
from pidse.cost.setting import Network, Setting, resolve_setting
from pidse.model import counting
from pidse.model.graph import to_networkx, trace
from pidse.ops import BLOCKS
from pidse.spec.load import Spec

GROUPINGS = ("op", "kind", "layer", "block")
COUNT_COLUMNS = ("params", "macs", "flops")


@dataclass
class Estimate:
    spec: Spec
    convention: str
    ops: list[dict]  # one row per op node, in execution order
    edges: list = field(repr=False)  # (source op, target op) data flow
    table: object = None  # the cost table when priced
    setting: Setting | None = None  # network, hardware and phase when priced
    uncosted: list = field(default_factory=list)  # op kinds the table could not price (--allow-missing)
    details: object = None  # the family's own results (CKKS: the depth walk, bootstraps per layer)

    @property
    def network(self):
        return None if self.setting is None else self.setting.network

    @property
    def family(self):
        """The protocol family (plug-in) that priced this estimate, or None."""
        return None if self.table is None else family_of(self.table)

    @functools.cached_property
    def graph(self):
        """The op graph as a networkx DiGraph, nodes annotated with their counts and costs."""
        return to_networkx({r["op"]: {k: v for k, v in r.items() if k != "op"} for r in self.ops}, self.edges,
                           self.spec.name)

    @property
    def columns(self) -> tuple[str, ...]:
        """The numeric columns of every row: counts, plus costs (and the family's own columns) when priced."""
        if self.table is None:
            return COUNT_COLUMNS
        return COUNT_COLUMNS + COST_COLUMNS + self.family.columns

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
        import pandas as pd  # lazy: the command line never needs pandas for an estimate

        return pd.json_normalize(self.ops, sep="_")


def counted(spec: Spec, convention: str = "dense") -> tuple[list[dict], list]:
    """The graph of `spec` as op rows with their MACs and FLOPs, and its (source, target) edges."""
    if convention not in counting.CONVENTIONS:
        raise ValueError(f"unknown FLOPs convention {convention!r}; expected one of {counting.CONVENTIONS}")
    nodes, edges = trace(spec)
    rows = []
    for name, node in nodes.items():
        row = {"op": name, **node}
        row["macs"] = counting.macs(node["kind"], node["shape"])
        row["flops"] = counting.flops(node, convention)
        rows.append(row)
    return rows, edges


def estimate(spec: Spec, convention: str = "dense", table=None, network: Network | None = None,
             allow_missing: bool = False, setting: Setting | None = None) -> Estimate:
    """Count (and, given a cost table, price) every op of `spec`. Priced under `setting`, else on `network`
    with the table's hardware, else in the table's own setting."""
    rows, edges = counted(spec, convention)
    if table is None:
        return Estimate(spec, convention, rows, edges)
    setting = setting or (Setting(network) if network is not None else resolve_setting(table))
    priced = family_of(table).price(rows, edges, table, setting, allow_missing)
    return Estimate(spec, convention, rows, edges, table, setting, priced.uncosted, priced.details)
