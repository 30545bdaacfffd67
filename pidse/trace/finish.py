"""What the classifier settles once every event is seen: rope sizes, the head on the last position, the argmax,
matmul roles and which norms belong to the FFN."""
from __future__ import annotations

from pidse.trace.attention import matmul_roles

ROW_WISE = ("linear", "layernorm", "rmsnorm", "gelu", "relu", "silu", "poly", "mul", "add", "scale")


def finish(c) -> None:
    nodes = c.nodes
    for node in nodes.values():
        if "rope" in node:  # the rotated elements: the sums q cos + rotate(q) sin, else the products
            products, sums = node.pop("rope")
            elements = sums or products
            rows = c.tokens if elements % c.tokens == 0 else 1
            node["shape"] = {"rows": rows, "cols": elements // rows}
    head(c)
    matmul_roles(nodes, c.edges)
    succ: dict = {}
    for a, b in c.edges:
        succ.setdefault(a, []).append(b)
    for name, node in nodes.items():
        if node["kind"] in ("layernorm", "rmsnorm") and node["layer"] is not None:
            after = succ.get(name, [])
            if after and all(nodes[s]["part"] == "ffn" for s in after):
                node["part"] = "ffn"  # a norm that feeds only the FFN goes when the FFN is pruned
        node.pop("event", None)


def head(c) -> None:
    """The ops after the last layer run on each sequence's last position only; the last linear layer there is the
    LM head, and an argmax chooses the token (as in the spec graph)."""
    if c.last_layer_end is None:
        c.notes.append("no numbered layers (a ModuleList) found: every op priced on all positions, and no argmax")
        return
    tail = [n for n, node in c.nodes.items() if node["block"] == "head"]
    for name in tail:
        node = c.nodes[name]
        shape = node["shape"]
        key = "m" if "m" in shape else "rows"
        if node["kind"] in ROW_WISE and shape[key] == c.tokens:
            shape[key] = c.sequences
    linears = [n for n in tail if c.nodes[n]["kind"] == "linear"]
    if not linears:
        c.notes.append("no linear layer after the last layer: no LM head, no argmax")
        return
    lm = c.nodes[linears[-1]]
    lm["kind"] = "lm_head"
    lm["attrs"] = {"tied": lm["params"] == 0}
    name = "head.argmax" if "head.argmax" not in c.nodes else "head.argmax.2"
    c.nodes[name] = dict(kind="argmax", block="head", layer=None, stage="prefill", step=0, part="fixed",
                         shape={"rows": lm["shape"]["m"], "cols": lm["shape"]["n"]}, params=0, attrs={})
    c.edges.append((linears[-1], name))
