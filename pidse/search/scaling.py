"""How costs grow with context, and where one cost overtakes another (solved on the closed forms)."""
from __future__ import annotations

from dataclasses import dataclass

from pidse.model import symbolic


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
        roots = [complex(r) for r in sympy.Poly(diff, T).nroots()] if diff.has(T) else []
        real = sorted(r.real for r in roots if abs(r.imag) < 1e-9 * max(1.0, abs(r.real)) and r.real > lo)
        return real[0] if real else None
    f = sympy.lambdify(T, diff, "numpy")
    grid = np.geomspace(lo, hi, 400)
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
    import dataclasses

    from pidse.model.estimate import estimate

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
    from pidse.errors import InputError

    try:
        if ":" in text:
            parts = text.split(":")
            lo, hi = int(parts[0]), int(parts[1])
            factor = int(parts[2].lstrip("x")) if len(parts) > 2 else 2
            if lo <= 0 or hi < lo or factor < 2:
                raise ValueError
            out = [lo]
            while out[-1] * factor <= hi:
                out.append(out[-1] * factor)
            return out
        values = [int(t) for t in text.split(",") if t.strip()]
        if not values or min(values) <= 0:
            raise ValueError
        return values
    except ValueError:
        raise InputError("--context", None, "LO:HI (powers of two), LO:HI:xF, or a comma list of positive "
                         "integers", text) from None


def render(spec, rows: list[dict], crossings: list[Crossover], fmt: str = "table") -> str:
    """The scaling table (costs and the largest communication shares per context) and the crossovers."""
    import json

    from pidse.report.render import csv_text, duration, gigabytes, grid, si

    if fmt == "json":
        return json.dumps({"spec": spec.name, "rows": rows, "crossovers": [
            {"what": c.what, "context": c.context, "equation": c.equation, "otherwise": c.otherwise}
            for c in crossings]}, indent=2)
    if fmt == "csv":
        return csv_text(rows)
    priced = "comm_bytes" in rows[0]
    shares = sorted({k for r in rows for k in r if k.startswith("comm_pct:")},
                    key=lambda k: -max(r.get(k, 0) for r in rows))[:5]
    header = ["T", "FLOPs"] + (["comm", "rounds", "latency"] + [s.split(":")[1] + " %" for s in shares]
                               if priced else [])
    body = []
    for r in rows:
        cells = [str(r["context"]), si(r["flops"])]
        if priced:
            cells += [gigabytes(r["comm_bytes"]), f"{r['rounds']:,.0f}", duration(r["latency_s"])]
            cells += [f"{r.get(s, 0):.1f}" for s in shares]
        body.append(cells)
    markdown = fmt == "markdown"
    text = grid(header, body, markdown)
    bullet = "- " if markdown else "  "
    return f"{spec.name}: costs against context\n\n{text}\n\ncrossovers:\n" + "\n".join(
        bullet + c.line() for c in crossings) + "\n"


def plot(spec, rows: list[dict], crossings: list[Crossover], path, table=None, network=None) -> None:
    """Left: costs against T (log-log); right: each op kind's share of communication (or FLOPs by block)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    T = [r["context"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6), constrained_layout=True)
    if "comm_bytes" in rows[0]:
        left.plot(T, [r["comm_bytes"] / 1e9 for r in rows], "o-", label="communication (GB)")
        left.plot(T, [r["latency_s"] / 60 for r in rows], "s-", label="latency (min)")
        kinds = sorted({k.split(":")[1] for r in rows for k in r if k.startswith("comm_pct:")},
                       key=lambda k: -max(r.get(f"comm_pct:{k}", 0) for r in rows))
        top, rest = kinds[:6], kinds[6:]
        stacks = [[r.get(f"comm_pct:{k}", 0) for r in rows] for k in top]
        stacks.append([sum(r.get(f"comm_pct:{k}", 0) for k in rest) for r in rows])
        right.stackplot(T, stacks, labels=top + ["other"], alpha=0.85)
        right.set_ylabel("share of communication (%)")
        right.set_ylim(0, 100)
        subtitle = f"{table.name}, {network.name}" if table else ""
    else:
        left.plot(T, [r["flops"] / 1e9 for r in rows], "o-", label="FLOPs (G)")
        right.set_visible(False)
        subtitle = "counts only"
    from matplotlib.ticker import FuncFormatter

    plain = FuncFormatter(lambda v, _: f"{v:,.0f}")
    left.set_xscale("log", base=2)
    left.xaxis.set_major_formatter(plain)
    left.set_yscale("log")
    left.set_xlabel("context T (tokens)")
    left.grid(True, which="both", alpha=0.3)
    right.set_xscale("log", base=2)
    right.xaxis.set_major_formatter(plain)
    right.set_xlabel("context T (tokens)")
    for c in crossings:
        if c.context is not None and T[0] <= c.context <= T[-1]:
            for ax in (left, right):
                ax.axvline(c.context, color="0.3", ls="--", lw=0.8)
            left.annotate(c.what.split(" (")[0], (c.context, left.get_ylim()[1]), rotation=90, va="top",
                          ha="right", fontsize=7, color="0.25")
    left.legend(loc="upper left", fontsize=8)
    if right.get_visible():
        right.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, title="op kind")
    fig.suptitle(f"{spec.name}: how private-inference cost grows with context ({subtitle})", fontsize=11)
    fig.savefig(path, dpi=130)
    plt.close(fig)
