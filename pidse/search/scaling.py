"""How costs grow with context, and where one cost overtakes another (solved on the closed forms)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from pidse.errors import InputError
from pidse.model import symbolic
from pidse.model.estimate import estimate
from pidse.schema import int_list
from pidse.spec.definition import MAX_SIZE


@dataclass
class Crossover:
    what: str
    context: float | None  # T where it happens; None when it does not for T >= 1
    equation: str  # the equation solved, as text
    otherwise: str = "never for T >= 1"  # what holds when there is no crossing

    def line(self) -> str:
        where = f"T = {self.context:,.0f}" if self.context is not None else self.otherwise
        return f"{self.what}: {where}   [{self.equation}]"


def _ahead(lhs, rhs) -> bool:
    """Whether lhs > rhs at T = 1 (who leads when the two never cross)."""
    T = symbolic.symbols()["T"]
    return float(lhs.subs(T, 1)) > float(rhs.subs(T, 1))


def _in_t(expr, spec, network=None):
    """Substitute every symbol but T."""
    S = symbolic.symbols()
    values = {s: v for s, v in symbolic.numbers(spec, network).items() if s != S["T"]}
    return expr.subs(values)


def solve_t(lhs, rhs, lo: float = 1.0, hi: float = 1e7) -> float | None:
    """The smallest T > lo where lhs = rhs: exact roots from sympy where it can, else bisection on a log grid."""
    import numpy as np
    import sympy

    T = symbolic.symbols()["T"]
    diff = sympy.expand(lhs - rhs)
    if diff.is_polynomial(T):  # exact roots; anything with log(T) goes to bisection (solve() can hang on it)
        from mpmath.libmp.libhyper import NoConvergence

        try:
            roots = [complex(r) for r in sympy.Poly(diff, T).nroots()] if diff.has(T) else []
        except NoConvergence:  # a high-degree polynomial (a table's formula of degree 8 is T^16): bisection below
            roots = None
        if roots is not None:
            real = sorted(r.real for r in roots if abs(r.imag) < 1e-9 * max(1.0, abs(r.real)) and r.real > lo)
            return real[0] if real else None
    f = sympy.lambdify(T, diff, "numpy")
    grid = np.geomspace(lo, hi, 400)
    with np.errstate(all="ignore"):  # an exponential formula overflows on the grid; its sign is still right
        values = np.asarray(f(grid), dtype=float) * np.ones_like(grid)
    change = np.nonzero(np.sign(values[:-1]) * np.sign(values[1:]) < 0)[0]
    if not len(change):
        return None
    a, b = grid[change[0]], grid[change[0] + 1]
    for _ in range(200):
        mid = (a + b) / 2
        if np.sign(f(mid)) == np.sign(f(a)):
            a = mid
        else:
            b = mid
    return (a + b) / 2


def crossovers(spec, table=None, network=None) -> list[Crossover]:
    """Attention FLOPs vs FFN FLOPs (AERO convention); with a table: when softmax becomes the largest share of
    communication, and when bandwidth time (8 * bytes / BW) overtakes round-trip time (rounds * RTT)."""
    import sympy

    out = []
    blocks = symbolic.closed_forms(spec, convention="aero", by="block")
    attn = _in_t(blocks.get("attention", {}).get("flops", sympy.Integer(0)), spec)
    ffn = _in_t(blocks.get("ffn", {}).get("flops", sympy.Integer(0)), spec)
    out.append(Crossover("attention FLOPs overtake FFN FLOPs (aero convention)", solve_t(attn, ffn),
                         f"{symbolic.rounded(attn)} = {symbolic.rounded(ffn)}",
                         "attention FLOPs are larger at every T" if _ahead(attn, ffn) else "never for T >= 1"))
    if table is None:
        return out
    kinds = symbolic.closed_forms(spec, table, by="op")
    comm = {k: _in_t(v["comm"], spec) for k, v in kinds.items()}
    if "softmax" in comm:
        T = symbolic.symbols()["T"]
        leads = lambda t: all(float(comm["softmax"].subs(T, t)) >= float(c.subs(T, t)) for c in comm.values())
        crossings = sorted(t for k, c in comm.items() if k != "softmax" for t in [solve_t(comm["softmax"], c)]
                           if t is not None)
        at = next((t for t in crossings if leads(t * 1.0001)), None) if leads(1e7) else None
        out.append(Crossover("softmax becomes the largest share of communication", at,
                             "softmax comm = the largest other op kind's comm"))
    total = symbolic.closed_forms(spec, table)["total"]
    S = symbolic.symbols()
    if network is not None:
        bw = _in_t(8 * total["comm"] / S["BW"], spec, network)
        rtt = _in_t(total["rounds"] * S["RTT"], spec, network)
        out.append(Crossover("bandwidth time overtakes round-trip time in latency", solve_t(bw, rtt),
                             f"8 * comm / BW = rounds * RTT on {network.name}",
                             "bandwidth time is larger at every T" if _ahead(bw, rtt) else "never for T >= 1"))
    return out


def scaling_table(spec, contexts, table=None, network=None) -> list[dict]:
    """Per context: FLOPs, and with a table comm, rounds, latency and each op kind's share of communication."""
    rows = []
    for T in contexts:  # a what-if past max_context: the position table grows with T
        positions = max(spec.model.max_context, T + spec.inference.generate - 1)
        s = spec.replace(inference=dataclasses.replace(spec.inference, context=T),
                         model=dataclasses.replace(spec.model, max_context=positions))
        est = estimate(s, table=table, network=network)
        row = {"context": T, **{k: est.totals[k] for k in est.columns}}
        if table is not None:
            for r in est.breakdown("kind"):
                row[f"comm_pct:{r['kind']}"] = 100 * r["comm_bytes"] / est.totals["comm_bytes"]
        rows.append(row)
    return rows


def parse_contexts(text: str) -> list[int]:
    """'128:32768' (powers of two between), '128:4096:x4' (step factor) or '128,256,512'."""
    try:
        if ":" in text:
            parts = text.split(":")
            if len(parts) > 3 or not all(p.strip().lstrip("x").isascii() and p.strip().lstrip("x").isdigit()
                                         for p in parts):
                raise ValueError
            lo, hi = int(parts[0]), int(parts[1])
            factor = int(parts[2].strip().lstrip("x")) if len(parts) > 2 else 2
            if lo <= 0 or hi < lo or factor < 2 or hi > MAX_SIZE:  # a context a spec may have
                raise ValueError
            out = [lo]
            while out[-1] * factor <= hi:
                out.append(out[-1] * factor)
            return out
        values = int_list(text, "--context")  # positive ASCII integers, no empty items
        if max(values) > MAX_SIZE:
            raise ValueError
        return values
    except ValueError:
        raise InputError("--context", None, "LO:HI (powers of two), LO:HI:xF, or a comma list of positive "
                         "integers", text) from None
