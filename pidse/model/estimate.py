"""The estimator: spec -> op graph -> one tidy row per op (counted, then priced by the table's family) ->
totals and breakdowns.

Rows are plain dicts so that `pidse estimate` stays fast (pandas is imported only by `Estimate.frame()`). A
generation's decode steps are one template row per op (pidse.steps): totals and breakdowns add them step by step
in the order one row per op per step would have been added, so they are exactly those rows' sums; `per_step()`
materialises such rows when they are wanted.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

from pidse.cost.family import COST_COLUMNS
from pidse.cost.setting import Network, Setting, resolve_setting
from pidse.model import counting
from pidse.model.graph import to_networkx, trace
from pidse.ops import BLOCKS
from pidse.spec.definition import Spec
from pidse.steps import by_step, count, expand, fold, group_sum, ordered_sum, plain

GROUPINGS = ("op", "kind", "layer", "block", "step")
COUNT_COLUMNS = ("params", "macs", "flops")


@dataclass(frozen=True)
class Origin:
    """What an estimate of a graph no Spec built (a traced PyTorch model, pidse.trace) says about where it came
    from: the Spec fields a report reads. A trace is one forward pass over `context` tokens, emitting one token.
    `unsupported` and `notes` are the trace's: ops it could not classify (left out, never counted as zero) and
    what it assumed."""
    name: str
    source: str
    context: int
    label: str | None = None
    generate: int = 1
    batch: int = 1
    unsupported: tuple = ()
    notes: tuple = ()

    @property
    def inference(self):  # spec.inference.generate, as a Spec answers it
        return self


@dataclass
class Estimate:
    spec: Spec | Origin
    convention: str
    ops: list[dict]  # one row per op node (a generation: per decode template), in execution order
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
        return None if self.table is None else _family_of(self.table)

    @functools.cached_property
    def graph(self):
        """The op graph as a networkx DiGraph, nodes annotated with their counts and costs (one node per op per
        decode step)."""
        rows, edges = self.per_step()
        return to_networkx({r["op"]: {k: v for k, v in r.items() if k != "op"} for r in rows}, edges,
                           self.spec.name)

    def per_step(self) -> tuple[list[dict], list]:
        """Every op of every decode step as its own row (counts and costs included), and their edges: what the
        decode templates stand for. Memory grows with the generated tokens: totals and breakdowns never need it."""
        return expand(self.ops, self.edges)

    @property
    def columns(self) -> tuple[str, ...]:
        """The numeric columns of every row: counts, plus costs (and the family's own columns) when priced."""
        if self.table is None:
            return COUNT_COLUMNS
        return COUNT_COLUMNS + COST_COLUMNS + self.family.columns

    @functools.cached_property
    def totals(self) -> dict:
        """Sums over ops. Uncosted ops (None) are skipped: check `uncosted` before trusting cost totals."""
        return {col: ordered_sum(self.ops, col) for col in self.columns}

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
        """Rows summed per group (op: every op, a decode template once; kind; layer: None for ops outside the
        layers; block; step: the prefill as step 0, then each decode step). An uncosted op makes its group's cost
        unknown (None), never 0."""
        if by == "op":
            return self.ops
        if by not in GROUPINGS:
            raise ValueError(f"unknown grouping {by!r}; expected one of {GROUPINGS}")
        columns = self.columns
        if by == "step":
            return by_step(self.ops, columns)
        groups: dict = {}
        for row in self.ops:
            groups.setdefault(row[by], []).append(row)
        return [{by: key, "ops": count(rows), **{c: group_sum(rows, c) for c in columns}}
                for key, rows in groups.items()]

    def frame(self):
        """The op rows as a pandas DataFrame (shape symbols as columns), for notebooks and analysis; a decode
        template's sizes that grow with the steps as ranges (`129..639`)."""
        import pandas as pd  # lazy: the command line never needs pandas for an estimate

        return pd.json_normalize([plain(r) for r in self.ops], sep="_")


def counted(spec: Spec, convention: str = "dense", per_step: bool = False) -> tuple[list[dict], list]:
    """The graph of `spec` as op rows with their MACs and FLOPs, and its (source, target) edges; decode steps as
    templates, or with `per_step` every step whole."""
    if convention not in counting.CONVENTIONS:
        raise ValueError(f"unknown FLOPs convention {convention!r}; expected one of {counting.CONVENTIONS}")
    nodes, edges = trace(spec, per_step)
    return count_nodes(nodes, convention), edges


def count_nodes(nodes: dict, convention: str = "dense") -> list[dict]:
    """Op nodes ({name: attributes}, as pidse.model.graph.trace makes them) as op rows with their MACs and FLOPs."""
    rows = []
    for name, node in nodes.items():
        row = {"op": name, **node}
        row.update(fold(row, {"params": node["params"], "macs": counting.macs(node["kind"], node["shape"]),
                              "flops": counting.flops(node, convention)}))
        rows.append(row)
    return rows


def estimate(spec: Spec, convention: str = "dense", table=None, network: Network | None = None,
             allow_missing: bool = False, setting: Setting | None = None, per_step: bool = False) -> Estimate:
    """Count (and, given a cost table, price) every op of `spec`. Priced under `setting`, else on `network`
    with the table's hardware, else in the table's own setting. `per_step`: decode steps as one row per op per
    step instead of templates (the same numbers, memory growing with the generated tokens)."""
    rows, edges = counted(spec, convention, per_step)
    return _priced(spec, convention, rows, edges, table, network, allow_missing, setting)


def estimate_graph(nodes: dict, edges: list, origin: Origin, convention: str = "dense", table=None,
                   network: Network | None = None, allow_missing: bool = False,
                   setting: Setting | None = None) -> Estimate:
    """Count (and, given a cost table, price) op nodes that no Spec built (a traced model: pidse.trace), with the
    same counters and protocol families as a spec's graph."""
    if convention not in counting.CONVENTIONS:
        raise ValueError(f"unknown FLOPs convention {convention!r}; expected one of {counting.CONVENTIONS}")
    return _priced(origin, convention, count_nodes(nodes, convention), list(edges), table, network, allow_missing,
                   setting)


def _priced(spec, convention, rows, edges, table, network, allow_missing, setting) -> Estimate:
    if table is None:
        return Estimate(spec, convention, rows, edges)
    setting = setting or (Setting(network) if network is not None else resolve_setting(table))
    priced = _family_of(table).price(rows, edges, table, setting, allow_missing)
    return Estimate(spec, convention, rows, edges, table, setting, priced.uncosted, priced.details)


def _family_of(table):
    """The table's protocol family. Imported here, when a table is given: the families' modules (CKKS's walk
    among them) are a tenth of the start-up of an unpriced `pidse estimate`."""
    from pidse.cost.registry import family_of

    return family_of(table)
