"""Closed-form costs: the same model as `pidse estimate`, with sympy symbols for the sizes.

One model, two views. The symbolic path runs the *same* graph builder on a spec whose sizes are symbols and
prices each op with the *same* cost-table formula texts (parsed by sympy instead of evaluated). Depth enters
through the homogeneous-layer decomposition the sweep uses: a 1-layer graph split into `fixed` (embedding,
head), `layer` and `ffn` parts, total = fixed + L * layer + (L - k) * ffn, k = ffn.prune_last. Tests substitute
numbers and compare with the numeric estimator for every shipped spec.
"""
from __future__ import annotations

import dataclasses
from functools import lru_cache

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
    m = spec.model
    model = dataclasses.replace(
        m, layers=1, heads=S["H"], d_model=S["d"], d_ff=S["d_ff"], vocab_size=S["V"],
        kv_heads=S["H_kv"] if m.kv_heads not in (None, m.heads) else S["H"],
        head_dim=S["d_h"] if m.head_dim not in (None, m.d_model // m.heads) else S["d"] / S["H"])
    return spec.replace(model=model, ffn=dataclasses.replace(spec.ffn, prune_last=0),
                        inference=dataclasses.replace(spec.inference, context=S["T"]))


def numbers(spec, network=None) -> dict:
    """The values of the symbols for `spec` (and a network): substitute them to get `pidse estimate`'s numbers."""
    S, m = symbols(), spec.model
    values = {S["T"]: spec.context, S["L"]: m.layers, S["d"]: m.d_model, S["H"]: m.heads, S["d_ff"]: m.d_ff,
              S["V"]: m.vocab_size, S["H_kv"]: spec.kv_heads, S["d_h"]: spec.head_dim}
    if network is not None:
        values.update({S["BW"]: network.bandwidth_bps, S["RTT"]: network.rtt_s})
    return values


def _op_costs(row: dict, table, formulas: dict) -> dict:
    """Symbolic cost of one op row: counts from the row, comm/rounds/compute from the table's formulas."""
    from pidse.cost.mpc import shape_values

    out = {"params": row["params"], "macs": row["macs"], "flops": row["flops"]}
    if table is not None:
        entry = table.entry(row["kind"], row["op"])
        values = {**table.constants, **shape_values(row["kind"], row["shape"], row["attrs"])}
        for metric, column in (("comm", "comm_bytes"), ("rounds", "rounds"), ("compute", "compute_s")):
            key = (row["kind"], column)
            if key not in formulas:
                formulas[key] = entry.formulas[column].sympy()
            expr = formulas[key]
            out[metric] = expr.subs({s: values[s.name] for s in expr.free_symbols})
    return out


def closed_forms(spec, table=None, convention: str = "dense", by: str | None = None) -> dict:
    """{group: {metric: sympy expression}} for the whole model (group "total") or per op kind / block.

    Metrics: params, macs, flops, and with a cost table comm, rounds, compute, latency (latency in BW and RTT).
    """
    import sympy

    from pidse.model.estimate import estimate

    S = symbols()
    k = spec.ffn.prune_last
    metrics = METRICS if table is not None else METRICS[:3]
    groups: dict = {}
    formulas: dict = {}
    for row in estimate(symbolic_spec(spec), convention).ops:
        part = 1 if row["layer"] is None else (S["L"] - k if ".ffn." in row["op"] else S["L"])
        costs = _op_costs(row, table, formulas)
        costs["latency"] = (costs["compute"] + 8 * costs["comm"] / S["BW"] + costs["rounds"] * S["RTT"]
                            if table is not None else None)
        group = "total" if by is None else row["kind" if by == "op" else by]
        acc = groups.setdefault(group, {m: sympy.Integer(0) for m in metrics})
        for metric in metrics:
            acc[metric] += part * costs[metric]
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


UNITS = {"params": "parameters", "macs": "multiply-accumulates", "flops": "FLOPs", "comm": "bytes, total over "
         "parties", "rounds": "sequential round trips", "compute": "seconds", "latency": "seconds"}
MEANINGS = {"T": "context", "L": "layers", "d": "d_model", "H": "heads", "d_ff": "FFN width", "V": "vocabulary",
            "H_kv": "K/V heads", "d_h": "head dim"}


def render(spec, metric: str, lines: list, latex: bool = False, network=None) -> str:
    """`metric = expression` lines (one per group), with the symbols' meanings and this spec's values."""
    import sympy

    used = sorted({s.name for _, e in lines for s in e.free_symbols}, key=list(symbols()).index)
    values = {s.name: v for s, v in numbers(spec, network).items()}
    legend = ", ".join(f"{n} = {values[n]:g} ({MEANINGS.get(n, n)})" if n in MEANINGS else
                       f"{n} = bandwidth bits/s" if n == "BW" else f"{n} = round-trip time s" for n in used)
    if latex:
        body = " \\\\\n".join(f"\\mathrm{{{metric}}}{'_{' + _tex(g) + '}' if g != 'total' else ''} &= "
                              f"{sympy.latex(e)}" for g, e in lines)
        return (f"% pidse formula: {metric} of {spec.name} ({UNITS[metric]}); {legend}\n"
                f"\\begin{{align*}}\n{body}\n\\end{{align*}}")
    width = max(len(str(g)) for g, _ in lines)
    out = [f"{metric} of {spec.name} ({UNITS[metric]})" + (f" on {network.name}" if network else "")]
    out += [f"  {metric} = {e}" if g == "total" else f"  {str(g).ljust(width)}  {e}" for g, e in lines]
    out.append(f"where {legend}" if legend else "(a constant)")
    return "\n".join(out)


def _tex(text) -> str:
    return "\\text{" + str(text).replace("_", "\\_") + "}"
