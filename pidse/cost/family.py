"""The interface every protocol family implements (a plug-in; pidse/cost/registry.py lists them).

A cost table's `family:` key names the family that loads and prices it. A family provides:
  load(src, data)                       validate a table read from `src` -> the family's table object
  price(rows, edges, table, setting, allow_missing)
                                        add comm_bytes, rounds, compute_s, latency_s, source, grade (and the
                                        family's own columns) to each op row, in place -> Priced
  depth_values(pieces, table, depth, columns)
                                        the sweep's values: one row of `columns` per (layers, prune_last) row
                                        of `depth` (an n x 2 array), for the structure whose graphs `pieces`
                                        builds
  symbolic(row, table, cache)           {comm_bytes|rounds|compute_s: sympy expression} for one op row whose
                                        shape holds symbols, or None where the family has no closed forms
and describes itself: whether it is interactive (MPC: rounds between parties; HE: the client talks to the
server once per pass), what its communication counts, and the per-op columns it adds.
Families see op rows (dicts with kind, shape, attrs, part, ...) and never import the graph builder. A
generation's decode steps come as templates (pidse.steps): one row per op whose sizes that grow with the KV cache
are arrays over the steps; a family prices them on those arrays (MPC) or step by step (`steps.expand`, CKKS) and
stores its values with `steps.fold`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from pidse.steps import ordered_sum

GRADES = ("measured", "published", "derived", "estimate")  # best first: a row is as good as its worst source
COST_COLUMNS = ("comm_bytes", "rounds", "compute_s", "latency_s")
SUMMED = ("params", "flops", "comm_bytes", "rounds", "compute_s")  # per-structure vectors the sweep combines
BY_KIND = ("comm_bytes", "rounds", "compute_s")


@dataclass(frozen=True)
class Family:
    name: str
    load: Callable
    price: Callable
    depth_values: Callable
    symbolic: Callable | None  # None: no closed forms (pidse formula / scaling refuse such a table)
    interactive: bool  # False: non-interactive (the client sends its input and gets its output, one round trip)
    comm_meaning: str  # what comm_bytes counts, for output
    columns: tuple = ()  # numeric per-op columns the family adds (summed in totals)
    row_keys: tuple = ()  # per-op keys it adds to JSON rows, in order
    no_symbolic: str = ""  # why the family has no closed forms


@dataclass
class Priced:
    """What pricing a graph returns besides the rows it fills in."""
    uncosted: list = field(default_factory=list)  # op kinds left uncosted (only with allow_missing)
    details: Any = None  # the family's own per-graph results (CKKS: the depth walk and its bootstraps)


def add_rows(vec, rows: list[dict], index: dict) -> None:
    """Add priced op rows into a vector over sweep columns (totals, and per op kind `metric:kind`). Each column adds
    its rows in execution order, decode templates step by step (pidse.steps.ordered_sum): the same float sums as
    adding one row per op per step into the vector."""
    kinds: dict = {}
    for row in rows:
        kinds.setdefault(row["kind"], []).append(row)
    for m in SUMMED:
        if m in index:
            vec[index[m]] = ordered_sum(rows, m, vec[index[m]])
    for m in BY_KIND:
        for kind, mine in kinds.items():
            key = f"{m}:{kind}"
            if key in index:
                vec[index[key]] = ordered_sum(mine, m, vec[index[key]])
