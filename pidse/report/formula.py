"""`pidse formula`'s output: closed forms as `metric = expression` lines or LaTeX, with the symbols' meanings."""
from __future__ import annotations

from pidse.model.symbolic import numbers, symbols


UNITS = {"params": "parameters", "macs": "multiply-accumulates", "flops": "FLOPs", "comm": "bytes, total over "
         "parties", "rounds": "sequential round trips", "compute": "seconds", "latency": "seconds"}
MEANINGS = {"T": "context", "L": "layers", "d": "d_model", "H": "heads", "d_ff": "FFN width", "V": "vocabulary",
            "H_kv": "K/V heads", "d_h": "head dim"}


def render(spec, metric: str, lines: list, latex: bool = False, network=None) -> str:
    """`metric = expression` lines (one per group), with the symbols' meanings and this spec's values."""
    import sympy  # lazy: sympy takes a third of a second to import

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
