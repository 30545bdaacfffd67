"""Attention, seen in the aten events: the public masks a softmax reads (causal, a window, or none: what the scores
it keeps say), rotary products (one rope op per attention call), and which matmul computes scores and which the
context."""
from __future__ import annotations

from pidse.ops import SCORE_KINDS, causal_kept
from pidse.trace import place
from pidse.trace.rules import SOFTMAX, is_rotary

VIEWS = frozenset(["aten.view", "aten._unsafe_view", "aten.reshape", "aten.expand", "aten._to_copy", "aten.clone",
                   "aten.contiguous", "aten.alias", "aten.detach", "aten.to", "aten.squeeze", "aten.unsqueeze"])
MASKED = -1e4  # an additive mask entry at or below this hides its score (-inf, or the dtype's minimum)


def find_masks(c) -> dict:
    """{softmax event: [(how, known value)], "local": events that only apply those masks}: the public masks
    between a softmax and the scores (a fill of -inf, an additive mask, a where), folded into it."""
    found: dict = {"local": set()}
    mapped = {name for name, (kind, _) in c.op_map["ops"].items() if kind in SCORE_KINDS}
    for e in c.rec.events:
        if (e.name not in SOFTMAX and e.name not in mapped) or not c.v[e.ins[0]].secret:
            continue
        masks, vid = [], e.ins[0]
        while c.v[vid].producer is not None:
            p = c.rec.events[c.v[vid].producer]
            secret = [i for i in p.ins if c.v[i].secret]
            public = [c.v[i] for i in p.ins if not c.v[i].secret]
            if len(secret) != 1:
                break
            if p.name in VIEWS:
                pass
            elif p.name == "aten.masked_fill" and len(p.ins) >= 2 and _fill(p) <= MASKED:
                masks.append(("fill", c.v[p.ins[1]].known))
            elif p.name in ("aten.add", "aten.add_") and public and not public[0].params and len(public[0].shape) >= 2:
                masks.append(("add", public[0].known))
            elif p.name == "aten.where" and p.ins[0] not in secret and _size(c.v[p.ins[0]].shape) > 1:
                masks.append(("keep", c.v[p.ins[0]].known))
            else:
                break
            if p.name not in VIEWS:
                found["local"].add(p.index)
            vid = secret[0]
        found[e.index] = masks
    return found


def _fill(e) -> float:
    value = e.args[2] if len(e.args) > 2 else e.kwargs.get("value", 0.0)
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def visible(masks: list, size: tuple):
    """The (rows, cols) scores the masks leave visible (True), or None when a mask's value is unknown."""
    rows, cols = size
    seen = None
    for how, value in masks:
        if value is None:
            return None
        m = value
        if m.dim() < 2:
            m = m.reshape(1, -1) if m.dim() == 1 else m.reshape(1, 1)
        m = m.reshape(-1, m.shape[-2], m.shape[-1])[0].expand(rows, cols)
        keep = m if how == "keep" else (~m if how == "fill" else m > MASKED)
        if how == "fill" and not m.dtype.is_floating_point:
            keep = ~m
        seen = keep if seen is None else seen & keep
    return seen


def mask_attrs(c, masks: list, shape: dict) -> dict:
    """causal (and window) from the public masks on the scores: the entries they keep, against
    pidse.ops.causal_kept."""
    if not masks:
        return {"causal": False}
    seen = visible(masks, (shape["rows"], shape["cols"]))
    if seen is None:
        c.notes.append("a softmax's mask has no known value: priced as unmasked")
        return {"causal": False}
    rows, cols = shape["rows"], shape["cols"]
    kept = int(seen.sum())
    if kept == rows * cols:
        return {"causal": False}
    if kept == causal_kept(rows, cols):
        return {"causal": True}
    window = int(seen.sum(-1).max())
    if kept == causal_kept(rows, cols, window, cols):
        return {"causal": True, "window": window, "positions": cols}
    c.notes.append(f"a softmax's mask keeps {kept} of {rows} x {cols} scores, neither all nor causal (with or "
                   "without a window): priced as unmasked")
    return {"causal": False}


def rope_product(c, e, secret) -> None:
    """q * cos (or rotate(q) * sin): a product with a rotary module's angles, one rope op per attention call."""
    outer = [i for i in e.scope if not is_rotary(c.rec.calls[i].classes[0])]
    key = (place.layer(c, e), outer[-1] if outer else None)  # q's and k's rotations are one op per attention call
    node = c.rope.get(key)
    if node is None:
        node = c.rope[key] = c.op(e, "rope", {"rows": c.tokens, "cols": 0})
        c.nodes[node]["rope"] = [0, 0]
    else:
        c.keep(e, node)
    c.nodes[node]["rope"][0] += c.v[e.outs[0]].numel
    for vid in e.outs:
        c.partial[vid] = node


def rope_sum(c, e, secret) -> None:
    node = c.partial[secret[0].vid]
    c.keep(e, node)
    c.nodes[node]["rope"][1] += c.v[e.outs[0]].numel


def matmul_roles(nodes: dict, edges: list) -> None:
    """A matmul after a softmax-like op is A.V (role context); one whose output reaches one, through public
    scalings only, is Q K^T (role scores)."""
    succ: dict = {}
    pred: dict = {}
    for a, b in edges:
        succ.setdefault(a, []).append(b)
        pred.setdefault(b, []).append(a)
    for name, node in nodes.items():
        if node["kind"] != "matmul":
            continue
        before = [nodes[p]["kind"] for p in pred.get(name, [])]
        if any(k in SCORE_KINDS for k in before):
            node["attrs"].update(role="context", values_projected=any(k in ("linear", "rope") for k in before))
        elif _reaches_scores(name, succ, nodes):
            node["attrs"]["role"] = "scores"


def _reaches_scores(name, succ, nodes) -> bool:
    frontier = list(succ.get(name, []))
    while frontier:
        n = frontier.pop()
        if nodes[n]["kind"] in SCORE_KINDS:
            return True
        if nodes[n]["kind"] == "scale":
            frontier += succ.get(n, [])
    return False


def _size(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n
