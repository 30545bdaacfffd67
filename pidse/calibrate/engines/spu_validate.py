"""`pidse validate --engine spu`: run a whole (small) transformer from a spec under SPU and compare the bytes
SPU measures with pidse's prediction from a cost table, per op kind and in total.

The model is written once, node by node, as a mirror of pidse.model.graph's builder (prefill of T tokens, then the
head on the last position): the same node ids, kinds and shapes (checked against build_graph), each node a
JAX function from pidse.calibrate.engines.spu_ops, weights random and held by the server as its private input. It runs
  - whole: the entire forward as ONE SPU program (the total SPU really spends), and
  - node by node: one SPU program per graph node in the same runtime, values staying secret-shared between
    them (the per-op-kind breakdown).
Both are run 1 + repeats times; warm medians are compared (see pidse.calibrate.engines.spu for what is counted).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from pidse.calibrate.engines import spu as S
from pidse.calibrate.engines import spu_ops as ops
from pidse.cost.registry import load_table, table_path
from pidse.cost.setting import resolve_network
from pidse.errors import InputError
from pidse.model.estimate import estimate
from pidse.model.graph import build_graph
from pidse.report.text import grid


@dataclass
class Step:
    node: str
    kind: str
    shape: dict
    fn: object
    args: list  # value names: model inputs, parameters or earlier nodes


@dataclass
class Model:
    steps: list = field(default_factory=list)
    inputs: dict = field(default_factory=dict)  # name -> (array, owner): the client's tokens and the weights


def build_model(spec, seed: int = 0) -> Model:
    """The prefill forward of `spec` as Steps mirroring pidse.model.graph (checked node for node)."""
    if spec.inference.generate != 1:
        raise InputError(spec.source, "inference.generate", "1 for `pidse validate` (it runs the prefill and the "
                         "head; decode steps are not built)", spec.inference.generate)
    if spec.embeddings.positions == "rotary" and spec.embeddings.rotary_fraction != 1:
        raise InputError(spec.source, "embeddings.rotary_fraction", "1 for `pidse validate`",
                         spec.embeddings.rotary_fraction)
    model = _Tape(spec, np.random.default_rng(seed)).forward()
    graph = build_graph(spec)
    want = [(n, a["kind"], a["shape"]) for n, a in graph.nodes(data=True)]
    got = [(s.node, s.kind, s.shape) for s in model.steps]
    if got != want:
        diff = next((g, w) for g, w in zip(got + [None] * len(want), want + [None] * len(got)) if g != w)
        raise RuntimeError(f"the SPU model does not mirror pidse's graph: {diff[0]} != {diff[1]}")
    return model


class _Tape:
    """pidse.graph._Builder's structure for one prefill, recording JAX steps instead of graph nodes."""

    def __init__(self, spec, rng):
        self.s, self.rng, self.m = spec, rng, Model()

    def param(self, name, *dims, spread=None, base=0.0):
        spread = spread if spread is not None else 1 / math.sqrt(dims[0])
        self.m.inputs[name] = ((base + self.rng.standard_normal(dims) * spread).astype(np.float32), S.SERVER)
        return name

    def op(self, node, kind, shape, fn, args):
        self.m.steps.append(Step(node, kind, shape, fn, list(args)))
        return node

    def norm(self, name, rows, x, last=False):
        s, d = self.s, self.s.model.d_model
        g = self.param(name + ".gamma", d, spread=0.1, base=1.0)
        if s.norm.kind == "rmsnorm":
            return self.op(name, "rmsnorm", {"rows": rows, "cols": d},
                           lambda v, g_: ops.rmsnorm(v[-rows:] if last else v, g_), [x, g])
        if s.model.bias:
            b = self.param(name + ".beta", d, spread=0.1)
            return self.op(name, "layernorm", {"rows": rows, "cols": d},
                           lambda v, g_, b_: ops.layernorm(v[-rows:] if last else v, g_, b_), [x, g, b])
        return self.op(name, "layernorm", {"rows": rows, "cols": d},
                       lambda v, g_: ops.layernorm(v[-rows:] if last else v, g_, 0.0), [x, g])

    def linear(self, name, m, k, n, x):
        w = self.param(name + ".w", k, n)
        if self.s.model.bias:
            return self.op(name, "linear", {"m": m, "k": k, "n": n}, ops.linear, [x, w, self.param(name + ".b", n)])
        return self.op(name, "linear", {"m": m, "k": k, "n": n}, ops.linear, [x, w])

    def forward(self) -> Model:
        s = self.s
        T, d, V = s.context, s.model.d_model, s.model.vocab_size
        ids = self.rng.integers(0, V, T)
        self.m.inputs["tokens"] = (np.eye(V, dtype=np.float32)[ids], None)  # the client's one-hot, secret-shared
        table = self.param("embed.table", V, d, spread=1.0)
        x = self.op("embed.tokens", "embedding", {"tokens": T, "vocab": V, "dim": d}, ops.linear, ["tokens", table])
        if s.embeddings.positions == "learned":
            pos = self.param("embed.positions.table", T, d, spread=0.1)
            x = self.op("embed.positions", "add", {"rows": T, "cols": d}, lambda a, b: a + b, [x, pos])
        if s.norm.embedding and s.norm.kind != "none":
            x = self.norm("embed.norm", T, x)
        for i in range(s.model.layers):
            x = self.layer(i, T, x)
        return self.head(x)

    def layer(self, i, T, x):
        import jax.numpy as jnp

        s = self.s
        d, H, KV, dh = s.model.d_model, s.model.heads, s.kv_heads, s.head_dim
        norms, p, proj = s.norm.kind != "none", f"L{i}.", s.attention.projections
        a = self.norm(p + "attn.norm", T, x) if norms and s.norm.attention else x
        q = self.linear(p + "attn.q", T, d, H * dh, a)
        k = self.linear(p + "attn.k", T, d, KV * dh, a)
        v = self.linear(p + "attn.v", T, d, KV * dh, a) if "v" in proj else a

        def heads(t, n):  # (T, n * dh) -> (n, T, dh), repeated to H heads (grouped-query attention)
            t = t.reshape(T, n, dh).transpose(1, 0, 2)
            return jnp.repeat(t, H // n, axis=0) if n != H else t

        if s.embeddings.positions == "rotary":
            qk = self.op(p + "attn.rope", "rope", {"rows": T, "cols": (H + KV) * dh},
                         lambda a_, b_: ops.rope(jnp.concatenate([a_, b_], axis=-1), np.arange(T)), [q, k])
            score_fn = (lambda r: heads(r[:, :H * dh], H) @ heads(r[:, H * dh:], KV).transpose(0, 2, 1))
            scores = self.op(p + "attn.scores", "matmul", {"batch": H, "m": T, "k": dh, "n": T}, score_fn, [qk])
        else:
            scores = self.op(p + "attn.scores", "matmul", {"batch": H, "m": T, "k": dh, "n": T},
                             lambda a_, b_: heads(a_, H) @ heads(b_, KV).transpose(0, 2, 1), [q, k])
        scores = self.op(p + "attn.scale", "scale", {"rows": H * T, "cols": T},
                         lambda t: ops.scale(t, 1 / math.sqrt(dh)), [scores])
        causal = np.tril(np.ones((T, T), dtype=bool))
        if s.attention.kind == "softmax":  # a public additive mask: local
            fn = lambda t: ops.softmax(t + np.where(causal, 0.0, -1e4).astype(np.float32))  # noqa: E731
        else:  # a public select after the power: local
            fn = lambda t: _masked_power_softmax(t, s.attention.power, causal)  # noqa: E731
        probs = self.op(p + "attn.softmax", s.attention.kind, {"batch": H, "rows": T, "cols": T}, fn, [scores])
        ctx = self.op(p + "attn.context", "matmul", {"batch": H, "m": T, "k": T, "n": dh},
                      lambda a_, b_: (a_ @ heads(b_, KV)).transpose(1, 0, 2).reshape(T, H * dh), [probs, v])
        out = self.linear(p + "attn.o", T, H * dh, d, ctx) if "o" in proj else ctx
        add = lambda *t: sum(t[1:], t[0])  # noqa: E731
        if s.model.parallel_residual:
            ffn_out, skip = self.ffn(i, T, x)
            return self.op(p + "residual", "add", {"rows": T, "cols": d}, add, [skip, out, ffn_out])
        x = self.op(p + "attn.residual", "add", {"rows": T, "cols": d}, add, [x, out])
        ffn_out, skip = self.ffn(i, T, x)
        if ffn_out is None:
            return x
        return self.op(p + "ffn.residual", "add", {"rows": T, "cols": d}, add, [skip, ffn_out])

    def ffn(self, i, T, x):
        s, f = self.s, self.s.ffn
        if i >= s.model.layers - f.prune_last:
            return None, x
        d, dff, p = s.model.d_model, s.model.d_ff, f"L{i}."
        h = self.norm(p + "ffn.norm", T, x) if s.norm.kind != "none" and s.norm.ffn else x
        if f.fused:
            y = self.linear(p + "ffn.fused", T, d, d, h)
        else:
            up = self.linear(p + "ffn.up", T, d, dff, h)
            gate = self.linear(p + "ffn.gate", T, d, dff, h) if f.gated else up
            if f.activation != "identity":
                gate = self.op(p + "ffn.act", f.activation, {"rows": T, "cols": dff}, ops.activation(f.activation),
                               [gate])
            if f.gated:
                up = self.op(p + "ffn.mul", "mul", {"rows": T, "cols": dff}, lambda a, b: a * b, [gate, up])
            else:
                up = gate
            y = self.linear(p + "ffn.down", T, dff, d, up)
        if f.scaled:  # public alpha, beta
            y = self.op(p + "ffn.alpha", "scale", {"rows": T, "cols": d}, lambda t: ops.scale(t, 0.5), [y])
            x = self.op(p + "ffn.beta", "scale", {"rows": T, "cols": d}, lambda t: ops.scale(t, 0.9), [x])
        return y, x

    def head(self, x) -> Model:
        s = self.s
        d, V = s.model.d_model, s.model.vocab_size
        normed = s.norm.final and s.norm.kind != "none"
        if normed:
            x = self.norm("head.norm", 1, x, last=True)
        if s.embeddings.tied_head:  # the same table, transposed: the server's private input again
            w = "head.table"
            self.m.inputs[w] = (self.m.inputs["embed.table"][0].T.copy(), S.SERVER)
        else:
            w = self.param("head.w", d, V)
        logits = self.op("head.lm", "lm_head", {"m": 1, "k": d, "n": V}, lambda t, w_: ops.linear(t[-1:], w_), [x, w])
        self.op("head.argmax", "argmax", {"rows": 1, "cols": V}, ops.argmax, [logits])
        return self.m


def _masked_power_softmax(t, power, causal):
    import jax.numpy as jnp

    y = jnp.where(causal, t ** power, 0.0)
    return y / y.sum(axis=-1, keepdims=True)


def plaintext(model: Model) -> dict:
    """Every value of the forward in plaintext JAX (shapes for compiling, and the reference output)."""
    values = {name: a for name, (a, _) in model.inputs.items()}
    for step in model.steps:
        values[step.node] = np.asarray(step.fn(*[values[a] for a in step.args]))
    return values


def whole_program(model: Model):
    names = list(model.inputs)

    def forward(*arrays):
        values = dict(zip(names, arrays))
        for step in model.steps:
            values[step.node] = step.fn(*[values[a] for a in step.args])
        return values[model.steps[-1].node]
    return forward, names


@dataclass
class Validation:
    spec: str
    protocol: str
    table: str
    rows: list  # per kind: kind, ops, measured_bytes, predicted_bytes, error_pct, measured_rounds, predicted_rounds
    whole_bytes: float
    node_bytes: float
    predicted_bytes: float
    weight_share_bytes: float
    setup_bytes: float
    wall_s: float
    output_ok: bool

    @property
    def error_pct(self) -> float:
        return 100 * (self.predicted_bytes / self.whole_bytes - 1)


def validate(spec, protocol: str, table_name: str | None = None, repeats: int = 2, seed: int = 0,
             session: S.Session | None = None) -> Validation:
    if table_name is None and not table_path(f"spu-{protocol}").is_file():
        raise InputError("--table", None, f"a table: cost_tables/spu-{protocol}.yaml is missing (make it with "
                         f"`pidse calibrate --engine spu --protocol {protocol}`)")
    table = load_table(table_name or f"spu-{protocol}")
    if table.parties != S.PROTOCOLS[protocol]:
        raise InputError(table.path, "parties", f"{S.PROTOCOLS[protocol]} for protocol {protocol}", table.parties)
    predicted = {row["op"]: row for row in estimate(spec, table=table, network=resolve_network("lan")).ops}
    model = build_model(spec, seed)
    values = plaintext(model)
    session = session or S.Session(protocol)
    for name, (array, owner) in model.inputs.items():
        session.put(name, array, owner)

    forward, names = whole_program(model)
    whole = session.measure(session.compile(forward, [values[n] for n in names], names, ["logits.argmax"]), repeats)
    got = np.asarray(session.reveal("logits.argmax"))
    output_ok = bool(np.array_equal(got.reshape(-1), values[model.steps[-1].node].reshape(-1)))

    executables = [session.compile(st.fn, [values[a] for a in st.args], st.args, [st.node]) for st in model.steps]
    passes = [[session.run(exe) for exe in executables] for _ in range(1 + repeats)]
    per_node = [S.Measurement(first, warm) for first, *warm in zip(*passes)]

    kinds: dict = {}
    for step, m in zip(model.steps, per_node):
        row = predicted[step.node]
        k = kinds.setdefault(step.kind, {"kind": step.kind, "ops": 0, "measured_bytes": 0.0, "predicted_bytes": 0.0,
                                         "measured_rounds": 0, "predicted_rounds": 0.0})
        k["ops"] += 1
        k["measured_bytes"] += m.query_bytes
        k["predicted_bytes"] += row["comm_bytes"]
        k["measured_rounds"] += m.rounds
        k["predicted_rounds"] += row["rounds"]
    rows = list(kinds.values())
    for r in rows:
        r["error_pct"] = 100 * (r["predicted_bytes"] / r["measured_bytes"] - 1) if r["measured_bytes"] else None
    return Validation(spec.name, protocol, table.path, rows, whole.query_bytes,
                      sum(m.query_bytes for m in per_node), sum(r["comm_bytes"] for r in predicted.values()),
                      whole.weight_share_bytes, whole.setup_bytes, whole.wall_s, output_ok)


def render(v: Validation, fmt: str = "table") -> str:
    import json

    if fmt == "json":
        return json.dumps({**v.__dict__, "error_pct": v.error_pct}, indent=2)
    body = [[r["kind"], r["ops"], f"{r['measured_bytes']:,.0f}", f"{r['predicted_bytes']:,.0f}",
             "-" if r["error_pct"] is None else f"{r['error_pct']:+.1f}", r["measured_rounds"],
             f"{r['predicted_rounds']:,.0f}"] for r in v.rows]
    node_err = 100 * (v.predicted_bytes / v.node_bytes - 1)
    body.append(["total (node by node)", sum(r["ops"] for r in v.rows), f"{v.node_bytes:,.0f}",
                 f"{v.predicted_bytes:,.0f}", f"{node_err:+.1f}", sum(r["measured_rounds"] for r in v.rows),
                 f"{sum(r['predicted_rounds'] for r in v.rows):,.0f}"])
    body.append(["total (whole program)", "", f"{v.whole_bytes:,.0f}", f"{v.predicted_bytes:,.0f}",
                 f"{v.error_pct:+.1f}", "", ""])
    head = ["kind", "ops", "measured B", "predicted B", "error %", "rounds~", "predicted rounds"]
    text = (f"{v.spec} under SPU {S.version()} {v.protocol.upper()}, predicted with {v.table}\n"
            f"  one-time (not in the totals): weight sharing {v.weight_share_bytes:,.0f} B, first-run setup "
            f"{v.setup_bytes:,.0f} B; whole-program warm wall time {v.wall_s:.2f} s; output "
            f"{'matches' if v.output_ok else 'DIFFERS from'} plaintext JAX\n\n")
    return text + grid(head, [[str(c) for c in r] for r in body], fmt == "markdown") + "\n"
