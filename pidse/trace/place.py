"""Where an op sits: its layer (an index in a list of layers), its block (embedding, attention, ffn, norm, head)
and its node name, from the module calls it ran in and the ops it reads."""
from __future__ import annotations

from pidse.ops import SCORE_KINDS
from pidse.trace.rules import ATTENTION_WORDS, FFN_WORDS


def layer(c, e):
    """The layer of the innermost module call around event `e` that is in one, or None."""
    for call in reversed(e.scope):
        if c.layer_of[call] is not None:
            return c.layer_of[call]
    return None


def in_words(c, e, words) -> bool:
    """Whether a module call around `e` has one of `words` in its name or its class's (attn, mlp, ...)."""
    for index in e.scope:
        call = c.rec.calls[index]
        names = (call.name.rsplit(".", 1)[-1].lower(), call.classes[0].lower())
        if any(w in n for w in words for n in names):
            return True
    return False


def block(c, e, kind: str, layer) -> str:
    """embedding | attention | ffn | norm | head, as the spec graph's blocks."""
    if kind == "embedding":
        return "embedding"
    if layer is None and c.last_layer_end is not None:  # before the layers, or after them (the head)
        if e.index >= c.last_layer_end:
            return "head"
        return "norm" if kind in ("layernorm", "rmsnorm") else "embedding"
    if kind in ("layernorm", "rmsnorm"):
        return "norm"
    if in_words(c, e, ATTENTION_WORDS):
        return "attention"
    if in_words(c, e, FFN_WORDS):
        return "ffn"
    before = {c.nodes[s]["block"] for i in e.ins for s in c.src.get(i, ()) if c.nodes[s]["layer"] == layer}
    if layer is None and kind in ("add", "scale") and before <= {"embedding"}:
        return "embedding"  # no layers: what adds to or scales the embeddings
    if kind in ("matmul", "rope", *SCORE_KINDS):
        return "attention"
    return "ffn" if "ffn" in before or (layer is None and kind != "add") else "attention"


def new_name(c, e, kind: str) -> str:
    """The module's name for a layer of its own (a linear, a norm, an activation), else module.kind; unique."""
    call = c.rec.calls[e.scope[-1]] if e.scope else None
    base = (call.name + "." if call and call.name else "") + kind
    if call and call.name and (kind == "linear" or not any(True for _ in call.module.children())):
        base = call.name  # a layer of its own (a linear, a norm, an activation module): its name
    name, n = base, 1
    while name in c.nodes:
        n += 1
        name = f"{base}.{n}"
    return name


def layer_index(name: str, layers: frozenset):
    """The layer a module call belongs to: its index in the first list of layers on its path (a ModuleList or
    Sequential whose children are of one class): model.layers.3.mlp.experts.1 -> 3."""
    parts = name.split(".")
    for i, part in enumerate(parts):
        if part.isdigit() and ".".join(parts[:i]) in layers:
            return int(part)
    return None
