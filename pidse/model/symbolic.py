"""Closed-form costs: the same model as `pidse estimate`, with sympy symbols for the sizes.

One model, two views. The symbolic path runs the *same* graph builder on a spec whose sizes are symbols and
prices each op through its family's symbolic view (the *same* cost-table formula texts, parsed by sympy instead
of evaluated), and latency with the one latency model. Depth enters through the parts the sweep uses: a 1-layer
graph whose ops are `fixed` (embedding, head), `layer` or `ffn`, total = fixed + L * layer + (L - k) * ffn,
k = ffn.prune_last. Tests substitute numbers and compare with the numeric estimator for every shipped spec.
"""
from __future__ import annotations

import dataclasses
from functools import lru_cache

from pidse.cost.registry import family_of
from pidse.cost.setting import latency_s
from pidse.errors import InputError
from pidse.model.estimate import counted
from pidse.model.pieces import one_layer
from pidse.ops import part_count

METRICS = ("params", "macs", "flops", "comm", "rounds", "compute", "latency")
_COLUMN = {"comm": "comm_bytes", "compute": "compute_s", "latency": "latency_s"}


@lru_cache(maxsize=1)
def symbols() -> dict:
    """T (context), L (layers), d (d_model), H (heads), d_ff, V (vocab); H_kv and d_h only when a spec sets
    them; BW (bandwidth, bits/s) and RTT (s) for latency."""
    import sympy

    names = ("T", "L", "d", "H", "d_ff", "V", "H_kv", "d_h", "BW", "RTT")
    return {n: sympy.Symbol(n, positive=True) for n in names}


def symbolic_spec(spec):
    """A 1-layer, un-pruned copy of `spec` with symbols for its sizes (never validated: symbols are not ints)."""
    S = symbols()
    one = one_layer(spec)
    m = one.model
    model = dataclasses.replace(
        m, heads=S["H"], d_model=S["d"], d_ff=S["d_ff"], vocab_size=S["V"],
        kv_heads=S["H_kv"] if m.kv_heads not in (None, m.heads) else S["H"],
        head_dim=S["d_h"] if m.head_dim not in (None, m.d_model // m.heads) else S["d"] / S["H"])
    return one.replace(model=model, inference=dataclasses.replace(spec.inference, context=S["T"]))


def numbers(spec, network=None) -> dict:
    """The values of the symbols for `spec` (and a network): substitute them to get `pidse estimate`'s numbers."""
    S, m = symbols(), spec.model
    values = {S["T"]: spec.context, S["L"]: m.layers, S["d"]: m.d_model, S["H"]: m.heads, S["d_ff"]: m.d_ff,
              S["V"]: m.vocab_size, S["H_kv"]: spec.kv_heads, S["d_h"]: spec.head_dim}
    if network is not None:
        values.update({S["BW"]: network.bandwidth_bps, S["RTT"]: network.rtt_s})
    return values


def closed_forms(spec, table=None, convention: str = "dense", by: str | None = None) -> dict:
    """{group: {metric: sympy expression}} for the whole model (group "total") or per op kind / block.

    Metrics: params, macs, flops, and with a cost table comm, rounds, compute, latency (latency in BW and RTT).
    """
    import sympy  # lazy: sympy takes a third of a second to import

    S = symbols()
    if spec.pruning.schedule:  # the closed forms are fixed + L x one layer: true only when layers are alike
        raise InputError(spec.source, "pruning.schedule", "no token pruning in closed forms (pruned layers see "
                         "fewer tokens, so the model is not L equal layers); `pidse estimate` prices it", "[...]")
    k = spec.ffn.prune_last
    metrics = METRICS if table is not None else METRICS[:3]
    family = None if table is None else family_of(table)
    if family is not None and family.symbolic is None:
        raise InputError(table.path, "family", family.no_symbolic, table.family)
    groups: dict = {}
    cache: dict = {}
    rows, _ = counted(symbolic_spec(spec), convention, per_step=True)  # a step per term: sizes are sympy, not arrays
    for row in rows:
        times = part_count(row["part"], S["L"], k)
        costs = {"params": row["params"], "macs": row["macs"], "flops": row["flops"]}
        if family is not None:
            cost = family.symbolic(row, table, cache)
            costs.update(comm=cost["comm_bytes"], rounds=cost["rounds"], compute=cost["compute_s"])
            costs["latency"] = latency_s(costs["compute"], costs["comm"], costs["rounds"], S["BW"], S["RTT"])
        group = "total" if by is None else row["kind" if by == "op" else by]
        acc = groups.setdefault(group, {m: sympy.Integer(0) for m in metrics})
        for metric in metrics:
            acc[metric] += times * costs[metric]
    return {g: {m: collect_t(e) for m, e in acc.items()} for g, acc in groups.items()}


def collect_t(expr):
    """Expanded and collected by powers of T (exact: rounding is for display only)."""
    import sympy

    return sympy.collect(sympy.expand(expr), symbols()["T"])


def rounded(expr, digits: int = 4):
    """For display: floats to `digits` significant digits, log(x)/log(2) shown as log2(x)."""
    import sympy

    short = {f: float(f"{float(f):.{digits}g}") for f in expr.atoms(sympy.Float)}
    expr = expr.xreplace({f: sympy.Integer(int(v)) if v.is_integer() else sympy.Float(v) for f, v in short.items()})
    log2 = sympy.Function("log2")
    expr = expr.replace(lambda e: e.is_Mul and sympy.log(2) ** -1 in e.args and any(
        isinstance(a, sympy.log) for a in e.args),
        lambda e: sympy.Mul(*[log2(a.args[0]) if isinstance(a, sympy.log) else a
                              for a in e.args if a != sympy.log(2) ** -1]))
    return collect_t(expr)


def evaluate(expr, spec, network=None) -> float:
    return float(expr.subs(numbers(spec, network)))
