"""Spec -> op graph: a networkx DiGraph with one node per op per layer, in execution order.

Every node carries:
  kind    one of OP_KINDS (what a cost table prices)
  block   embedding | attention | ffn | norm | head
  layer   layer index, or None outside the layers
  stage   prefill (the T prompt tokens) | decode (each further generated token, with a KV cache)
  step    0 for prefill, s for the s-th decode step (a decode template: the first step it stands for)
  steps   a decode template only: how many consecutive decode steps it stands for (pidse.steps)
  part    fixed (outside the layers) | layer | ffn (a layer's FFN, pruned with it): an L-layer model with k FFNs
          pruned runs them 1, L and L - k times, which the sweep and the closed forms use
  shape   named sizes (see SHAPE_KEYS); the symbols cost-table formulas are written over
  params  weights owned by this op (counted once, on the prefill node)
  attrs   op details that do not change its shape (activation, temperature, power, ...)
The head (final norm, LM head, argmax) runs on the last position only: that is all that emitting a token needs.

Decode steps differ only in the KV length, so by default they are built once, as templates (pidse.steps): the
same forward pass with the per-step sizes as arrays over the steps. `trace(spec, per_step=True)` builds every
step whole instead, what the templates stand for.
"""
from __future__ import annotations

from pidse.ops import SHAPE_KEYS, ceiling, smallest
from pidse.spec.definition import QUAD_SHIFT, Spec
from pidse.steps import PREFIX, compact


class _Builder:
    """Records ops as plain data (networkx is slow to import; the DiGraph is made from this on demand)."""

    def __init__(self, spec: Spec):
        self.spec, self.nodes, self.edges = spec, {}, []
        self.step, self.stage = 0, "prefill"
        self.steps = None  # building a decode template: the steps it stands for (a numpy array), else None
        self.part = "layer"  # inside a layer: "ffn" while its FFN is built
        self.probs = None  # the last attention weights: what token pruning ranks tokens by

    def op(self, name: str, kind: str, block: str, shape: dict, inputs=(), layer=None, params=0, **attrs) -> str:
        assert set(shape) == set(SHAPE_KEYS[kind]), (kind, shape)
        part = "fixed" if layer is None else self.part
        params = params if self.stage == "prefill" else 0  # weights are counted once, on the prefill's op
        if self.steps is not None:  # a decode template: sizes every step shares become plain numbers again
            node = PREFIX + name
            self.nodes[node] = dict(kind=kind, block=block, layer=layer, stage=self.stage, step=self.step,
                                    steps=len(self.steps), part=part, shape={k: compact(v) for k, v in shape.items()},
                                    params=params, attrs={k: compact(v) for k, v in attrs.items()})
        else:
            node = name if self.stage == "prefill" else f"step{self.step}.{name}"
            self.nodes[node] = dict(kind=kind, block=block, layer=layer, stage=self.stage, step=self.step,
                                    part=part, shape=shape, params=params, attrs=attrs)
        self.edges.extend((src, node) for src in dict.fromkeys(inputs) if src is not None)
        return node

    def norm(self, name: str, block: str, rows: int, x: str, layer=None) -> str:
        spec = self.spec
        d, kind = spec.model.d_model, spec.norm.kind
        params = d * (2 if kind == "layernorm" and spec.model.bias else 1)
        return self.op(name, kind, block, {"rows": rows, "cols": d}, [x], layer, params)

    def linear(self, name: str, block: str, m: int, k: int, n: int, x: str, layer=None) -> str:
        bias = self.spec.model.bias
        return self.op(name, "linear", block, {"m": m, "k": k, "n": n}, [x], layer, k * n + (n if bias else 0),
                       bias=bias, role=name.rsplit(".", 1)[-1])  # q, k, v, o, up, gate, down, fused

    # ---- one forward pass over m new tokens of each of the batch's sequences ------------------------------
    def forward(self, m: int, kv_len: int, prev_token: str | None) -> str:
        """`m` new tokens per sequence; layer i attends over kv_len positions, fewer where tokens were pruned
        before it (prefill: its kept tokens; decode: its pruned cache plus the generated tokens)."""
        s = self.spec
        d, V, B = s.model.d_model, s.model.vocab_size, s.inference.batch
        e = s.embeddings  # token-type rows are a second lookup table: parameters, no secret cost
        x = self.op("embed.tokens", "embedding", "embedding", {"tokens": B * m, "vocab": V, "dim": d}, [prev_token],
                    params=(V + e.token_types) * d)
        if s.embeddings.positions == "learned":
            x = self.op("embed.positions", "add", "embedding", {"rows": B * m, "cols": d}, [x],
                        params=(s.model.max_context + e.position_offset) * d)
        if s.norm.embedding and s.norm.kind != "none":
            x = self.norm("embed.norm", "norm", B * m, x)
        tokens = kept_tokens(s)
        for layer in range(s.model.layers):
            if self.stage == "prefill":  # this layer sees the tokens the pruning before it kept
                m = kv_len = tokens[layer]
            else:  # decode: one new token against this layer's (pruned) cache, at each step a template stands for
                kv_len = tokens[layer] + (self.step if self.steps is None else self.steps)
            x = self.layer(layer, m, kv_len, x)
            if self.stage == "prefill" and layer + 1 < s.model.layers and tokens[layer + 1] != tokens[layer]:
                x = self.op(f"L{layer}.prune", "prune", "attention",
                            {"batch": B, "rows": tokens[layer], "cols": d, "kept": tokens[layer + 1]},
                            [x, self.probs], layer, method=s.pruning.method)
        return self.head(x)

    def layer(self, i: int, m: int, kv_len: int, x: str) -> str:
        s = self.spec
        d, B = s.model.d_model, s.inference.batch
        norms = s.norm.kind != "none"
        p = f"L{i}."
        a = self.norm(p + "attn.norm", "norm", B * m, x, i) if norms and s.norm.attention else x
        out = self.attention(i, m, kv_len, a)
        if s.model.parallel_residual:
            ffn_out, skip = self.ffn(i, m, x)
            return self.op(p + "residual", "add", "attention", {"rows": B * m, "cols": d}, [skip, out, ffn_out], i)
        x = self.op(p + "attn.residual", "add", "attention", {"rows": B * m, "cols": d}, [x, out], i)
        ffn_out, skip = self.ffn(i, m, x)
        if ffn_out is None:
            return x
        self.part = "ffn"  # the FFN's residual add goes when the FFN is pruned
        out = self.op(p + "ffn.residual", "add", "ffn", {"rows": B * m, "cols": d}, [skip, ffn_out], i)
        self.part = "layer"
        return out

    def attention(self, i: int, m: int, kv_len: int, a: str) -> str:
        s = self.spec
        d, H, KV, dh, B = s.model.d_model, s.model.heads, s.kv_heads, s.head_dim, s.inference.batch
        p, proj, att = f"L{i}.", s.attention.projections, s.attention
        q = self.linear(p + "attn.q", "attention", B * m, d, H * dh, a, i)
        k = self.linear(p + "attn.k", "attention", B * m, d, KV * dh, a, i)
        v = self.linear(p + "attn.v", "attention", B * m, d, KV * dh, a, i) if "v" in proj else a
        if s.embeddings.positions == "rotary":
            rotated = (H + KV) * dh * s.embeddings.rotary_fraction
            rotated = round(rotated) if isinstance(rotated, float) else rotated  # symbolic sizes stay exact
            q = k = self.op(p + "attn.rope", "rope", "attention", {"rows": B * m, "cols": rotated}, [q, k], i)
        if att.kind == "linear":
            ctx = self.linear_attention(i, m, kv_len, q, k, v)
        else:
            ctx = self.score_attention(i, m, kv_len, q, k, v)
        return self.linear(p + "attn.o", "attention", B * m, H * dh, d, ctx, i) if "o" in proj else ctx

    def score_attention(self, i: int, m: int, kv_len: int, q: str, k: str, v: str) -> str:
        """softmax(Q K^T / sqrt(d_h)) V, or another normalisation of the scores; a sliding window bounds the
        keys each query sees."""
        s, att = self.spec, self.spec.attention
        H, dh, B = s.model.heads, s.head_dim, s.inference.batch
        p, proj = f"L{i}.", att.projections
        keys = kv_len if att.window is None else smallest(kv_len, att.window)
        cached = [f"L{i}.attn.k"] if self.stage == "decode" else []  # decode steps read the prefill's K/V cache
        scores = self.op(p + "attn.scores", "matmul", "attention", {"batch": B * H, "m": m, "k": dh, "n": keys},
                         [q, k] + cached, i, role="scores")
        learnable = att.temperature == "learnable"
        scores = self.op(p + "attn.scale", "scale", "attention", {"rows": B * H * m, "cols": keys}, [scores], i,
                         H * s.model.max_context if learnable else 0, temperature=att.temperature)
        kind, extra = SCORE_OPS[att.kind]
        if att.kind == "power_softmax":
            extra = {"power": att.power}
        if att.window is not None:
            extra = {**extra, "window": att.window, "positions": kv_len}
        self.probs = self.op(p + "attn.softmax", kind, "attention", {"batch": B * H, "rows": m, "cols": keys},
                             [scores], i, temperature=att.temperature, causal=att.causal, **extra)
        cached = [f"L{i}.attn.v" if "v" in proj else None] if self.stage == "decode" else []
        return self.op(p + "attn.context", "matmul", "attention", {"batch": B * H, "m": m, "k": keys, "n": dh},
                       [self.probs, v] + cached, i, role="context", values_projected="v" in proj)

    def linear_attention(self, i: int, m: int, kv_len: int, q: str, k: str, v: str) -> str:
        """(Q K^T) V without a nonlinearity, computed as Q (K^T V): no T x T scores. Bidirectional: one K^T V
        per head. Causal: query t needs sum_{j <= t} k_j v_j^T, so each position adds its outer product to a
        running d_h x d_h state (local additions; decode steps extend the prefill's state). Each output row is
        scaled by 1 / (sqrt(d_h) x keys it sees): a public constant."""
        s = self.spec
        H, KV, dh, B = s.model.heads, s.kv_heads, s.head_dim, s.inference.batch
        p, proj = f"L{i}.", s.attention.projections
        if s.attention.causal:
            state = self.op(p + "attn.kv", "matmul", "attention", {"batch": B * KV * m, "m": dh, "k": 1, "n": dh},
                            [k, v], i, role="kv_state")
            cached = [f"L{i}.attn.kv_sum"] if self.stage == "decode" else []
            state = self.op(p + "attn.kv_sum", "add", "attention", {"rows": B * KV * m, "cols": dh * dh},
                            [state] + cached, i)
            ctx = self.op(p + "attn.context", "matmul", "attention", {"batch": B * H * m, "m": 1, "k": dh, "n": dh},
                          [q, state], i, role="context", values_projected="v" in proj)
        else:
            state = self.op(p + "attn.kv", "matmul", "attention", {"batch": B * KV, "m": dh, "k": kv_len, "n": dh},
                            [k, v], i, role="kv_state")
            ctx = self.op(p + "attn.context", "matmul", "attention", {"batch": B * H, "m": m, "k": dh, "n": dh},
                          [q, state], i, role="context", values_projected="v" in proj)
        self.probs = None
        return self.op(p + "attn.scale", "scale", "attention", {"rows": B * m, "cols": H * dh}, [ctx], i,
                       temperature="fixed")

    def ffn(self, i: int, m: int, x: str) -> tuple[str | None, str]:
        """(FFN output or None when pruned, the residual stream to add it to)."""
        s, f = self.spec, self.spec.ffn
        if i >= s.model.layers - f.prune_last:
            return None, x
        self.part = "ffn"
        try:
            return self._ffn(i, m, x)
        finally:
            self.part = "layer"

    def _ffn(self, i: int, m: int, x: str) -> tuple[str, str]:
        s, f = self.spec, self.spec.ffn
        d, p, rows = s.model.d_model, f"L{i}.", s.inference.batch * m
        h = self.norm(p + "ffn.norm", "norm", rows, x, i) if s.norm.kind != "none" and s.norm.ffn else x
        if f.fused:
            y = self.linear(p + "ffn.fused", "ffn", rows, d, d, h, i)
        elif f.experts > 1:
            y = self.experts(i, rows, h)
        else:
            y = self.expert(p + "ffn.", i, rows, h)
        if f.scaled:  # beta * x + FFN(x) / alpha: two public scalings, one learnable scalar each
            y = self.op(p + "ffn.alpha", "scale", "ffn", {"rows": rows, "cols": d}, [y], i, 1)
            x = self.op(p + "ffn.beta", "scale", "ffn", {"rows": rows, "cols": d}, [x], i, 1)
        return y, x

    def expert(self, p: str, i: int, rows: int, h: str) -> str:
        """One (dense) FFN: up, optional gate, activation, down."""
        s, f = self.spec, self.spec.ffn
        d, dff = s.model.d_model, s.model.d_ff
        up = self.linear(p + "up", "ffn", rows, d, dff, h, i)
        gate = self.linear(p + "gate", "ffn", rows, d, dff, h, i) if f.gated else up
        if f.activation in POLY_DEGREE:
            degree = POLY_DEGREE[f.activation] or f.degree
            gate = self.op(p + "act", "poly", "ffn", {"rows": rows, "cols": dff}, [gate], i, degree=degree,
                           symbol="Quad" if f.activation == "quad" else f"Poly{degree}")
        elif f.activation != "identity":
            gate = self.op(p + "act", f.activation, "ffn", {"rows": rows, "cols": dff}, [gate], i)
        up = self.op(p + "mul", "mul", "ffn", {"rows": rows, "cols": dff}, [gate, up], i) if f.gated else gate
        return self.linear(p + "down", "ffn", rows, dff, d, up, i)

    def experts(self, i: int, rows: int, h: str) -> str:
        """A mixture-of-experts FFN (Mixtral's routing: the top-k router logits, a softmax over those k). Which
        expert a token goes to is secret, so every expert runs on every token and its output is weighted by the
        token's gate (zero unless chosen): E dense FFNs, E gate products, one sum."""
        s, f = self.spec, self.spec.ffn
        d, E, p = s.model.d_model, f.experts, f"L{i}.ffn."
        logits = self.linear(p + "router", "ffn", rows, d, E, h, i)
        top = self.op(p + "topk", "topk", "ffn", {"rows": rows, "cols": E}, [logits], i, top=f.top_k)
        gates = self.op(p + "gates", "softmax", "ffn", {"batch": 1, "rows": rows, "cols": f.top_k}, [top], i,
                        causal=False, temperature="fixed", symbol="Router-SM")
        weighted = [self.op(p + f"e{e}.weight", "mul", "ffn", {"rows": rows, "cols": d},
                            [self.expert(p + f"e{e}.", i, rows, h), gates], i) for e in range(E)]
        return self.op(p + "combine", "add", "ffn", {"rows": rows, "cols": d}, weighted, i)

    def head(self, x: str) -> str:
        """The last position of each sequence: final norm, LM head, argmax."""
        s = self.spec
        d, V, B = s.model.d_model, s.model.vocab_size, s.inference.batch
        if s.norm.final and s.norm.kind != "none":
            x = self.norm("head.norm", "head", B, x)
        logits = self.op("head.lm", "lm_head", "head", {"m": B, "k": d, "n": V}, [x],
                         params=0 if s.embeddings.tied_head else d * V, tied=s.embeddings.tied_head)
        return self.op("head.argmax", "argmax", "head", {"rows": B, "cols": V}, [logits])


# attention kind -> (the op that turns scores into weights, its attributes); power_softmax adds its power
SCORE_OPS = {"softmax": ("softmax", {}), "power_softmax": ("power_softmax", {}),
             "2quad": ("power_softmax", {"power": 2, "shift": QUAD_SHIFT, "symbol": "2Quad"}),
             "relu": ("relu_softmax", {})}
POLY_DEGREE = {"quad": 2, "poly": None}  # polynomial activations (poly: ffn.degree)


def kept_tokens(spec: Spec) -> list:
    """Prompt tokens each layer processes: T, then ceil(keep x tokens) after each step of the pruning schedule
    that falls inside the model (a sweep's shallower copies skip the later steps)."""
    tokens, steps = [], {step.after: step.keep for step in spec.pruning.schedule}
    t = spec.context
    for layer in range(spec.model.layers):
        if layer in steps:
            t = ceiling(t * steps[layer])
        tokens.append(t)
    return tokens


def trace(spec: Spec, per_step: bool = False) -> tuple[dict, list]:
    """The ops of `spec` as plain data: {name: attributes} in execution order, and (source, target) edges.
    Prefill of T tokens, then the decode steps of the further generated tokens: one template per op standing for
    every step (its first input, the previous step's token, a back edge), or with `per_step` every step whole."""
    b = _Builder(spec)
    T, G = spec.context, spec.inference.generate
    token = b.forward(T, T, None)
    b.stage = "decode"
    if per_step:
        for step in range(1, G):
            b.step = step
            token = b.forward(1, T + step, token)
    elif G > 1:
        import numpy as np  # only a generation has per-step sizes

        b.step, b.steps = 1, np.arange(1, G)
        b.forward(1, T + b.steps, PREFIX + token)
    return b.nodes, b.edges


def to_networkx(nodes: dict, edges: list, name: str = ""):
    import networkx as nx

    graph = nx.DiGraph(spec=name)
    graph.add_nodes_from(nodes.items())
    graph.add_edges_from(edges)
    return graph


def build_graph(spec: Spec):
    """The op graph of `spec` as a networkx DiGraph, one node per op per layer (per decode step), in execution
    order."""
    return to_networkx(*trace(spec, per_step=True), spec.name)
