"""Spec -> op graph: a networkx DiGraph with one node per op per layer, in execution order.

Every node carries:
  kind    one of OP_KINDS (what a cost table prices)
  block   embedding | attention | ffn | norm | head
  layer   layer index, or None outside the layers
  stage   prefill (the T prompt tokens) | decode (each further generated token, with a KV cache)
  step    0 for prefill, s for the s-th decode step
  part    fixed (outside the layers) | layer | ffn (a layer's FFN, pruned with it): an L-layer model with k FFNs
          pruned runs them 1, L and L - k times, which the sweep and the closed forms use
  shape   named sizes (see SHAPE_KEYS); the symbols cost-table formulas are written over
  params  weights owned by this op (counted once, on the prefill node)
  attrs   op details that do not change its shape (activation, temperature, power, ...)
The head (final norm, LM head, argmax) runs on the last position only: that is all that emitting a token needs.
"""
from __future__ import annotations

from pidse.ops import SHAPE_KEYS
from pidse.spec.load import Spec



class _Builder:
    """Records ops as plain data (networkx is slow to import; the DiGraph is made from this on demand)."""

    def __init__(self, spec: Spec):
        self.spec, self.nodes, self.edges = spec, {}, []
        self.step, self.stage = 0, "prefill"
        self.part = "layer"  # inside a layer: "ffn" while its FFN is built

    def op(self, name: str, kind: str, block: str, shape: dict, inputs=(), layer=None, params=0, **attrs) -> str:
        assert set(shape) == set(SHAPE_KEYS[kind]), (kind, shape)
        node = name if self.step == 0 else f"step{self.step}.{name}"
        part = "fixed" if layer is None else self.part
        self.nodes[node] = dict(kind=kind, block=block, layer=layer, stage=self.stage, step=self.step, part=part,
                                shape=shape, params=params if self.step == 0 else 0, attrs=attrs)
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

    # ---- one forward pass over m new tokens, attending over kv_len positions -------------------------------
    def forward(self, m: int, kv_len: int, prev_token: str | None) -> str:
        s = self.spec
        d, V = s.model.d_model, s.model.vocab_size
        e = s.embeddings  # token-type rows are a second lookup table: parameters, no secret cost
        x = self.op("embed.tokens", "embedding", "embedding", {"tokens": m, "vocab": V, "dim": d}, [prev_token],
                    params=(V + e.token_types) * d)
        if s.embeddings.positions == "learned":
            x = self.op("embed.positions", "add", "embedding", {"rows": m, "cols": d}, [x],
                        params=(s.model.max_context + e.position_offset) * d)
        if s.norm.embedding and s.norm.kind != "none":
            x = self.norm("embed.norm", "norm", m, x)
        for layer in range(s.model.layers):
            x = self.layer(layer, m, kv_len, x)
        return self.head(x)

    def layer(self, i: int, m: int, kv_len: int, x: str) -> str:
        s = self.spec
        d, H, KV, dh = s.model.d_model, s.model.heads, s.kv_heads, s.head_dim
        norms = s.norm.kind != "none"
        p, proj = f"L{i}.", s.attention.projections

        a = self.norm(p + "attn.norm", "norm", m, x, i) if norms and s.norm.attention else x
        q = self.linear(p + "attn.q", "attention", m, d, H * dh, a, i)
        k = self.linear(p + "attn.k", "attention", m, d, KV * dh, a, i)
        v = self.linear(p + "attn.v", "attention", m, d, KV * dh, a, i) if "v" in proj else a
        if s.embeddings.positions == "rotary":
            rotated = (H + KV) * dh * s.embeddings.rotary_fraction
            rotated = round(rotated) if isinstance(rotated, float) else rotated  # symbolic sizes stay exact
            q = k = self.op(p + "attn.rope", "rope", "attention", {"rows": m, "cols": rotated}, [q, k], i)
        cached = [f"L{i}.attn.k"] if self.step else []  # decode steps read the prefill's K/V cache
        scores = self.op(p + "attn.scores", "matmul", "attention", {"batch": H, "m": m, "k": dh, "n": kv_len},
                         [q, k] + cached, i, role="scores")
        learnable = s.attention.temperature == "learnable"
        scores = self.op(p + "attn.scale", "scale", "attention", {"rows": H * m, "cols": kv_len}, [scores], i,
                         H * s.model.max_context if learnable else 0, temperature=s.attention.temperature)
        probs = self.op(p + "attn.softmax", s.attention.kind, "attention", {"batch": H, "rows": m, "cols": kv_len},
                        [scores], i, temperature=s.attention.temperature, causal=s.attention.causal,
                        **({"power": s.attention.power} if s.attention.power else {}))
        cached = [f"L{i}.attn.v" if "v" in proj else None] if self.step else []
        ctx = self.op(p + "attn.context", "matmul", "attention", {"batch": H, "m": m, "k": kv_len, "n": dh},
                      [probs, v] + cached, i, role="context", values_projected="v" in proj)
        out = self.linear(p + "attn.o", "attention", m, H * dh, d, ctx, i) if "o" in proj else ctx

        if s.model.parallel_residual:
            ffn_out, skip = self.ffn(i, m, x)
            return self.op(p + "residual", "add", "attention", {"rows": m, "cols": d}, [skip, out, ffn_out], i)
        x = self.op(p + "attn.residual", "add", "attention", {"rows": m, "cols": d}, [x, out], i)
        ffn_out, skip = self.ffn(i, m, x)
        if ffn_out is None:
            return x
        self.part = "ffn"  # the FFN's residual add goes when the FFN is pruned
        out = self.op(p + "ffn.residual", "add", "ffn", {"rows": m, "cols": d}, [skip, ffn_out], i)
        self.part = "layer"
        return out

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
        d, dff, p = s.model.d_model, s.model.d_ff, f"L{i}."
        h = self.norm(p + "ffn.norm", "norm", m, x, i) if s.norm.kind != "none" and s.norm.ffn else x
        if f.fused:
            y = self.linear(p + "ffn.fused", "ffn", m, d, d, h, i)
        else:
            up = self.linear(p + "ffn.up", "ffn", m, d, dff, h, i)
            gate = self.linear(p + "ffn.gate", "ffn", m, d, dff, h, i) if f.gated else up
            if f.activation != "identity":
                gate = self.op(p + "ffn.act", f.activation, "ffn", {"rows": m, "cols": dff}, [gate], i)
            if f.gated:
                up = self.op(p + "ffn.mul", "mul", "ffn", {"rows": m, "cols": dff}, [gate, up], i)
            else:
                up = gate
            y = self.linear(p + "ffn.down", "ffn", m, dff, d, up, i)
        if f.scaled:  # beta * x + FFN(x) / alpha: two public scalings, one learnable scalar each
            y = self.op(p + "ffn.alpha", "scale", "ffn", {"rows": m, "cols": d}, [y], i, 1)
            x = self.op(p + "ffn.beta", "scale", "ffn", {"rows": m, "cols": d}, [x], i, 1)
        return y, x

    def head(self, x: str) -> str:
        s = self.spec
        d, V = s.model.d_model, s.model.vocab_size
        if s.norm.final and s.norm.kind != "none":
            x = self.norm("head.norm", "head", 1, x)
        logits = self.op("head.lm", "lm_head", "head", {"m": 1, "k": d, "n": V}, [x],
                         params=0 if s.embeddings.tied_head else d * V, tied=s.embeddings.tied_head)
        return self.op("head.argmax", "argmax", "head", {"rows": 1, "cols": V}, [logits])


def trace(spec: Spec) -> tuple[dict, list]:
    """The ops of `spec` as plain data: {name: attributes} in execution order, and (source, target) edges.
    Prefill of T tokens, then one decode step per further generated token."""
    b = _Builder(spec)
    T = spec.context
    token = b.forward(T, T, None)
    for step in range(1, spec.inference.generate):
        b.step, b.stage = step, "decode"
        token = b.forward(1, T + step, token)
    return b.nodes, b.edges


def to_networkx(nodes: dict, edges: list, name: str = ""):
    import networkx as nx

    graph = nx.DiGraph(spec=name)
    graph.add_nodes_from(nodes.items())
    graph.add_edges_from(edges)
    return graph


def build_graph(spec: Spec):
    """The op graph of `spec` as a networkx DiGraph, one node per op per layer, in execution order."""
    return to_networkx(*trace(spec), spec.name)
