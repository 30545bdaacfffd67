"""Counts that need no protocol: MACs and FLOPs per op, and the nonlinear-op inventory in AERO's notation.

MACs come from a registry of per-kind counters (fvcore style); kinds without one do no multiply-accumulates
(elementwise and row-wise ops; an embedding lookup is a gather). FLOPs depend on a stated convention:

  dense  2 FLOPs per MAC everywhere, full T x T attention scores (no causal discount). The default.
  aero   reproduces the FFN and attention GFLOPs columns of AERO (arXiv 2410.13060) Tables 4-5: linear layers
         and QK^T at 2 FLOPs per MAC, A.V at 1 FLOP per MAC when values are projected and 0 when they are not
         (He & Hofmann's block), embeddings and the LM head excluded. This is the paper's own accounting,
         reverse-engineered from its columns (attention = 8Td^2 + 3T^2d, or 4Td^2 + 2T^2d without V and O).
"""
from __future__ import annotations

from pidse.steps import exact, is_template, occurrences

MACS = {
    "linear": lambda s: s["m"] * s["k"] * s["n"],
    "lm_head": lambda s: s["m"] * s["k"] * s["n"],
    "matmul": lambda s: s["batch"] * s["m"] * s["k"] * s["n"],
}
CONVENTIONS = ("dense", "aero")

# Ops that need a cryptographic protocol beyond linear algebra, with AERO's symbols (others are pidse's).
# An op may name its own symbol (attrs["symbol"]: 2Quad is a Power-Softmax with p = 2, Quad a degree-2 poly).
NONLINEAR_SYMBOLS = {"softmax": "SM", "power_softmax": "PSM", "relu_softmax": "2ReLU", "layernorm": "LN",
                     "rmsnorm": "RMS", "gelu": "G", "relu": "R", "silu": "SiLU", "poly": "Poly", "topk": "TopK",
                     "prune": "Prune", "argmax": "ARGMAX"}
KIND_ORDER = {kind: i for i, kind in enumerate(NONLINEAR_SYMBOLS)}


def macs(kind: str, shape: dict) -> int:
    """MACs of one op (of a decode template: per step, an array of exact ints where its sizes vary)."""
    counter = MACS.get(kind)
    return counter(exact(shape)) if counter else 0


def flops(node: dict, convention: str = "dense") -> int:
    n = macs(node["kind"], node["shape"])
    if convention == "dense":
        return 2 * n
    if convention == "aero":
        if node["block"] in ("embedding", "head"):
            return 0
        if node["attrs"].get("role") == "context":
            return n if node["attrs"].get("values_projected") else 0
        return 2 * n
    raise ValueError(f"unknown FLOPs convention {convention!r}; expected one of {CONVENTIONS}")


def instances(node: dict) -> tuple[int, int, int]:
    """(count, rows, cols) of a row-wise/elementwise op: a softmax over H heads is H instances; a pruning
    step is one instance per sequence over its token rows."""
    s = node["shape"]
    return s.get("batch", 1), s["rows"], s["cols"]


def inventory(nodes, include_head: bool = False) -> str:
    """AERO's notation, e.g. 'SM:144xR128x128 LN:24xR128x768 G:12xR128x3072'; rows that come in more than two
    widths (a softmax per decode step over a growing KV cache) are one entry with a range, 'SM:372xR1x129..159'.

    Like AERO's tables it covers the embedding and the transformer layers; the head (final norm on the last
    position, argmax) is inventoried on its own with include_head=True.
    """
    counts: dict[tuple[str, int, int], int] = {}
    order: dict[str, tuple] = {}  # symbol -> (its kind's place, after the kind's own symbol)
    for node in nodes:
        symbol = node["attrs"].get("symbol") or NONLINEAR_SYMBOLS.get(node["kind"])
        if node["kind"] not in NONLINEAR_SYMBOLS or (node["block"] == "head") != include_head:
            continue
        count, rows, cols = instances(node)
        for (r, c), times in occurrences(rows, cols, steps=node["steps"] if is_template(node) else 1):
            counts[(symbol, r, c)] = counts.get((symbol, r, c), 0) + count * times
        order.setdefault(symbol, (KIND_ORDER[node["kind"]], symbol != NONLINEAR_SYMBOLS[node["kind"]]))
    items = sorted(counts.items(), key=lambda kv: (order[kv[0][0]], kv[0][0], -kv[0][1], kv[0][2]))
    spans: dict[tuple[str, int], list] = {}  # decode steps: one softmax width per step, shown as a range
    for (sym, rows, cols), n in items:
        spans.setdefault((sym, rows), []).append((cols, n))
    parts = []
    for (sym, rows), entries in spans.items():
        if len(entries) > 2:
            widths = [c for c, _ in entries]
            parts.append(f"{sym}:{sum(n for _, n in entries)}xR{rows}x{min(widths)}..{max(widths)}")
        else:
            parts += [f"{sym}:{n}xR{rows}x{cols}" for cols, n in entries]
    return " ".join(parts)
