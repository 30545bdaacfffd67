"""A recorded forward pass (pidse.trace.record) -> pidse op nodes: the plain-data nodes and edges the spec graph
builder makes (pidse.model.graph), plus the ops it could not classify.

One walk over the aten events, in order. Secret data flows from the token ids; an op with no secret input is the
server's or everyone's (weights, positions, masks) and costs nothing. An op with a secret input is:
  local       moved, copied, selected or summed (a view, a gather at public positions, a negation): no node
  a kind      linear (secret x a weight: plaintext), matmul (secret x secret), softmax (with the mask folded
              in: causal when its kept entries are causal_kept's), gelu / relu / silu, layernorm / rmsnorm (also
              from their decompositions: pow, mean, rsqrt, mul), mul (secret x secret), scale (x public), add,
              embedding (a lookup of secret ids), rope (products with a rotary module's angles), topk, argmax
  a module    a module class whose forward is one op of a kind (GELU's tanh form, a --map entry), whatever it
              decomposes into
  unsupported anything else: listed (op, calls, an example shape), never dropped silently
A linear layer's bias add and chains of public scalings (or of additions) fold into one op, as the spec graph has
them. The ops after the last layer run on the last position only (all that emitting a token needs), then an
argmax chooses the token, as in the spec graph.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from pidse.ops import SCORE_KINDS, SHAPE_KEYS
from pidse.trace import attention, finish, patterns, place
from pidse.trace.attention import mask_attrs
from pidse.trace.patterns import batch_rows_cols, numel, rows_cols
from pidse.trace.rules import ACTIVATIONS, ATTENTION_WORDS, LOCAL, MATMUL, NORMS, SOFTMAX, role

# where the index tensors of an indexing op are: (argument position, a list of them)
INDEX_ARGS = {"index": (1, True), "_unsafe_index": (1, True), "index_put": (1, True), "gather": (2, False),
              "index_select": (2, False), "scatter": (2, False), "index_copy": (2, False)}


@dataclass
class Traced:
    """What tracing a module gives: op nodes and edges (the spec graph's format), the ops it could not classify,
    and notes (one line each) on what it assumed."""
    nodes: dict
    edges: list
    unsupported: list = field(default_factory=list)  # {"op", "calls", "shape", "where", "params"}
    notes: list = field(default_factory=list)
    params: int = 0  # the module's parameters (each once)
    name: str = "model"
    source: str = ""  # what was traced: FILE.py:FACTORY, a config.json, a module's class
    context: int = 0  # the tokens traced


class Classifier:
    def __init__(self, rec, tokens: int, sequences: int = 1, op_map: dict | None = None):
        self.rec, self.v, self.tokens, self.sequences = rec, rec.values, tokens, sequences
        self.op_map = op_map or {"ops": {}, "modules": {}}
        self.nodes, self.edges, self.notes = {}, [], []
        self.src: dict = {}  # secret vid -> the op nodes it comes from
        self.fresh: dict = {}  # vid -> node name: a node's output reached through views only
        self.counted: set = set()  # parameter names already counted
        self.unsupported: dict = {}
        self.uses = Counter(vid for e in rec.events for vid in e.ins)
        self.rope: dict = {}  # (layer, attention call) -> rope node name
        self.partial: dict = {}  # vid -> rope node: a product with rotary angles not yet summed
        self.layer_of = [place.layer_index(c.name, rec.layers) for c in rec.calls]
        ends = [c.end for c in rec.calls if self.layer_of[c.index] is not None]
        self.last_layer_end = max(ends) if ends else None
        self.groups = patterns.find_groups(self)  # event index -> Group (modules, norm decompositions)
        self.masks = attention.find_masks(self)  # softmax event -> masks; the mask ops themselves are local

    # ---- the walk --------------------------------------------------------------------------------------------
    def run(self) -> Traced:
        for e in self.rec.events:
            group = self.groups.get(e.index)
            if group is not None:
                if e.index == group.last:
                    self.emit_group(group, e)
                continue
            self.event(e)
        finish.finish(self)
        params = sum(self.rec.params.values())
        unused = {n: c for n, c in self.rec.params.items() if n not in self.counted}
        if unused:
            self.notes.append(f"{sum(unused.values()):,} parameters no secret op reads ({', '.join(list(unused)[:4])}"
                              f"{', ...' if len(unused) > 4 else ''}): counted on no op")
        listed = [{"op": op, **info} for op, info in self.unsupported.items()]
        return Traced(self.nodes, self.edges, listed, self.notes, params)

    def event(self, e) -> None:
        ins = [self.v[i] for i in e.ins]
        secret = [v for v in ins if v.secret]
        if not secret:
            return
        name = e.name
        bare = name.split(".", 1)[1].rstrip("_") if "." in name else name
        mapped = self.op_map["ops"].get(name) or self.op_map["ops"].get(name.rstrip("_"))
        if mapped:
            return self.mapped(e, *mapped)
        if e.index in self.masks.get("local", ()):
            return self.local(e)
        if name in MATMUL:
            return self.matmul(e)
        if name in SOFTMAX:
            return self.softmax(e)
        if name in NORMS:
            return self.op(e, NORMS[name], rows_cols(self.v[e.ins[0]].shape), self.public(e))
        if name in ACTIVATIONS or (bare == "clamp" and _arg(e, 1, "min") == 0 and _arg(e, 2, "max") is None) \
                or bare == "clamp_min" and _arg(e, 1, "min") == 0:
            return self.op(e, ACTIVATIONS.get(name, "relu"), rows_cols(secret[0].shape))
        if bare == "embedding":
            return self.embedding(e)
        if bare in ("add", "sub", "rsub"):
            return self.add(e, secret)
        if bare in ("mul", "div"):
            return self.mul(e, secret, bare)
        if bare == "pow" and _arg(e, 1, "exponent") == 2 and len(secret) == 1:
            return self.op(e, "mul", rows_cols(secret[0].shape))
        if bare == "mean":
            return self.op(e, "scale", rows_cols(self.v[e.outs[0]].shape))
        if bare == "topk":
            return self.op(e, "topk", rows_cols(secret[0].shape), top=int(_arg(e, 1, "k")))
        if bare == "argmax":
            return self.op(e, "argmax", rows_cols(secret[0].shape))
        if bare in LOCAL and self.local_ok(e, bare):
            return self.local(e)
        self.unsupported_op(e, secret)

    # ---- kinds -----------------------------------------------------------------------------------------------
    def matmul(self, e) -> None:
        name = e.name
        operands = [self.v[r.vid] for r in e.args if hasattr(r, "vid")]
        a, b = (operands[1], operands[2]) if name in ("aten.addmm", "aten.baddbmm") else (operands[0], operands[1])
        extra = operands[0] if name in ("aten.addmm", "aten.baddbmm") else None
        if a.secret and b.secret:
            k = a.shape[-1]
            m = a.shape[-2] if len(a.shape) >= 2 else 1
            n = b.shape[-1] if len(b.shape) >= 2 else 1
            batch = numel(self.v[e.outs[0]].shape) // max(m * n, 1)
            self.op(e, "matmul", {"batch": batch, "m": m, "k": k, "n": n}, [extra] if extra else [])
            return
        secret, weight = (a, b) if a.secret else (b, a)
        out = self.v[e.outs[0]]
        if a.secret:  # x (.., m, k) @ W (k, n)
            k, n = a.shape[-1], out.shape[-1]
        else:  # W (n, k) @ x (k, m): the same products as x^T W^T
            k, n = b.shape[-2], out.shape[-2]
        m = numel(out.shape) // max(n, 1)
        call = self.rec.calls[e.scope[-1]] if e.scope else None
        the_role, fused = role(call.name if call else "", place.in_words(self, e, ATTENTION_WORDS))
        attrs = {"bias": extra is not None, "role": the_role, "module": call.name if call else ""}
        if fused:
            attrs["fused"] = fused
        self.op(e, "linear", {"m": m, "k": k, "n": n}, [weight] + ([extra] if extra else []), **attrs)

    def softmax(self, e) -> None:
        x = self.v[e.ins[0]]
        shape = batch_rows_cols(x.shape)
        self.op(e, "softmax", shape, **mask_attrs(self, self.masks.get(e.index, []), shape), temperature="fixed")

    def embedding(self, e) -> None:
        weight, ids = self.v[e.ins[0]], self.v[e.ins[1]]
        if weight.secret:
            return self.unsupported_op(e, [weight])
        self.op(e, "embedding", {"tokens": ids.numel, "vocab": weight.shape[0], "dim": weight.shape[-1]}, [weight])

    def add(self, e, secret) -> None:
        public = [self.v[i] for i in e.ins if not self.v[i].secret]
        out = self.v[e.outs[0]]
        if len(secret) == 2 and all(v.vid in self.partial for v in secret):  # rotary: q cos + rotate(q) sin
            return attention.rope_sum(self, e, secret)
        if public and not any(p.params for p in public) and not any(numel(p.shape) > 1 for p in public):
            return self.local(e)  # a public constant added: local
        if public and len(secret) == 1:
            node = self.fresh.get(secret[0].vid)
            if node and self.nodes[node]["kind"] in ("linear", "lm_head") and self.uses[secret[0].vid] == 1 \
                    and numel(public[0].shape) == self.nodes[node]["shape"]["n"]:
                self.nodes[node]["params"] += self.take(public)  # the linear layer's bias
                self.nodes[node]["attrs"]["bias"] = True
                return self.keep(e, node)
        if len(secret) == 2 or not public:
            for v in secret:  # a sum of sums is one addition of all the terms
                node = self.fresh.get(v.vid)
                if node and self.nodes[node]["kind"] == "add" and self.uses[v.vid] == 1 \
                        and self.nodes[node]["shape"] == rows_cols(out.shape):
                    self.link(node, [s for s in secret if s is not v])
                    return self.keep(e, node)
        self.op(e, "add", rows_cols(out.shape), public)

    def mul(self, e, secret, bare: str) -> None:
        public = [self.v[i] for i in e.ins if not self.v[i].secret]
        out = self.v[e.outs[0]]
        if len(secret) == 2:
            if bare == "div":
                return self.unsupported_op(e, secret)
            return self.op(e, "mul", rows_cols(out.shape))
        if bare == "div" and self.v[e.ins[0]] is not secret[0]:
            return self.unsupported_op(e, secret)  # public / secret: a reciprocal
        if any("rotary" in p.tags for p in public):
            return attention.rope_product(self, e, secret[0])
        node = self.fresh.get(secret[0].vid)
        if node and self.nodes[node]["kind"] == "scale" and self.uses[secret[0].vid] == 1 \
                and self.nodes[node]["shape"] == rows_cols(out.shape):
            self.nodes[node]["params"] += self.take(public)  # public scalings in a row: one product
            return self.keep(e, node)
        self.op(e, "scale", rows_cols(out.shape), public)

    def mapped(self, e, kind: str, attrs: dict) -> None:
        if kind == "local":
            return self.local(e)
        out = self.v[e.outs[0]]
        shape = batch_rows_cols(out.shape) if "batch" in SHAPE_KEYS[kind] else rows_cols(out.shape)
        if kind in SCORE_KINDS:
            attrs = {**mask_attrs(self, self.masks.get(e.index, []), shape), **attrs}
        self.op(e, kind, shape, self.public(e), **attrs)

    def local_ok(self, e, bare: str) -> bool:
        """A local op moves secret data by public positions only (a secret index or condition is no local op)."""
        if bare in INDEX_ARGS:
            position, many = INDEX_ARGS[bare]
            index = e.args[position] if len(e.args) > position else None
            refs = [r for r in (index if many else [index]) if hasattr(r, "vid")] if index is not None else []
            return not any(self.v[r.vid].secret for r in refs)
        if bare == "where":
            return not self.v[e.ins[0]].secret
        if bare == "masked_fill":
            return len(e.ins) < 2 or not self.v[e.ins[1]].secret
        return True

    # ---- nodes -----------------------------------------------------------------------------------------------
    def op(self, e, kind: str, shape: dict, public=(), **attrs) -> str:
        """A node of `kind` for event `e`: inputs from its secret operands, parameters from its public ones."""
        layer = place.layer(self, e)
        name = place.new_name(self, e, kind)
        block = place.block(self, e, kind, layer)
        self.nodes[name] = dict(kind=kind, block=block, layer=layer, stage="prefill", step=0,
                                part="fixed" if layer is None else ("ffn" if block == "ffn" else "layer"),
                                shape=shape, params=self.take(public), attrs=attrs)
        self.nodes[name]["event"] = e.index
        self.link(name, [self.v[i] for i in e.ins if self.v[i].secret])
        for vid in e.outs:
            self.src[vid] = (name,)
            self.fresh[vid] = name
        return name

    def emit_group(self, group, e) -> None:
        if group.kind == "local":  # a module the --map file calls local: it moves data, no op
            srcs = tuple(dict.fromkeys(s for i in group.inputs for s in self.src.get(i, ())))
            for vid in group.outputs:
                self.src[vid] = srcs
            return
        name = self.op(e, group.kind, group.shape, [self.v[i] for i in group.public], **group.attrs)
        self.link(name, [self.v[i] for i in group.inputs])
        for vid in group.outputs:
            self.src[vid] = (name,)
            self.fresh[vid] = name

    def link(self, name: str, values) -> None:
        for v in values:
            for src in self.src.get(v.vid, ()):
                if src != name and (src, name) not in self.edges:
                    self.edges.append((src, name))

    def keep(self, e, node: str) -> None:
        """The event's outputs are `node`'s (folded into it)."""
        self.link(node, [self.v[i] for i in e.ins if self.v[i].secret])
        for vid in e.outs:
            self.src[vid] = (node,)
            self.fresh[vid] = node

    def local(self, e) -> None:
        srcs = tuple(dict.fromkeys(s for i in e.ins for s in self.src.get(i, ())))
        single = [i for i in e.ins if self.v[i].secret]
        for vid in e.outs:
            if self.v[vid].secret:
                self.src[vid] = srcs
                if len(single) == 1 and single[0] in self.fresh and self.uses[single[0]] == 1:
                    self.fresh[vid] = self.fresh[single[0]]
                if len(single) == 1 and single[0] in self.partial:
                    self.partial[vid] = self.partial[single[0]]

    def take(self, values) -> int:
        """Parameters behind public operands that no op has counted yet (each parameter is counted once)."""
        names = set().union(*(v.params for v in values)) - self.counted if values else set()
        self.counted |= names
        return sum(self.rec.params[n] for n in names)

    def public(self, e) -> list:
        return [self.v[i] for i in e.ins if not self.v[i].secret]

    def unsupported_op(self, e, secret) -> None:
        call = self.rec.calls[e.scope[-1]] if e.scope else None
        where = f"{call.name or '(model)'} ({call.cls.rsplit('.', 1)[-1]})" if call else "(model)"
        info = self.unsupported.setdefault(e.name, {"calls": 0, "shape": secret[0].shape, "where": where,
                                                     "params": 0})
        info["calls"] += 1
        info["params"] += self.take(self.public(e))
        self.local(e)  # its outputs still come from its inputs (the graph stays connected)


def _arg(e, position: int, key: str):
    if key in e.kwargs:
        return e.kwargs[key]
    return e.args[position] if len(e.args) > position else None


def classify(rec, tokens: int, sequences: int = 1, op_map: dict | None = None) -> Traced:
    """The op nodes of a recorded forward pass over `sequences` sequences of `tokens` tokens in all."""
    return Classifier(rec, tokens, sequences, op_map).run()
