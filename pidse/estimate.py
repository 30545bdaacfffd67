"""The estimator: spec -> op graph -> one tidy row per op -> totals and breakdowns.

Rows are plain dicts so that `pidse estimate` stays fast (pandas is imported only by `Estimate.frame()`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pidse import counting
from pidse.graph import BLOCKS, build_graph
from pidse.spec import Spec

GROUPINGS = ("op", "kind", "layer", "block")
COUNT_COLUMNS = ("params", "macs", "flops")


@dataclass
class Estimate:
    spec: Spec
    convention: str
    ops: list[dict]  # one row per op node, in execution order
    graph: object = field(repr=False)

    @property
    def totals(self) -> dict:
        return {col: sum(row[col] for row in self.ops) for col in COUNT_COLUMNS}

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
            acc = groups.setdefault(row[by], {by: row[by], "ops": 0, **{c: 0 for c in COUNT_COLUMNS}})
            acc["ops"] += 1
            for col in COUNT_COLUMNS:
                acc[col] += row[col]
        return list(groups.values())

    def frame(self):
        """The op rows as a pandas DataFrame (shape symbols as columns), for notebooks and analysis."""
        import pandas as pd

        return pd.json_normalize(self.ops, sep="_")


def estimate(spec: Spec, convention: str = "dense") -> Estimate:
    if convention not in counting.CONVENTIONS:
        raise ValueError(f"unknown FLOPs convention {convention!r}; expected one of {counting.CONVENTIONS}")
    graph = build_graph(spec)
    rows = []
    for name, node in graph.nodes(data=True):
        row = {"op": name, **node}
        row["macs"] = counting.macs(node["kind"], node["shape"])
        row["flops"] = counting.flops(node, convention)
        rows.append(row)
    return Estimate(spec, convention, rows, graph)
