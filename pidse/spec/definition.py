"""What a spec is: its sections as frozen dataclasses (the YAML's keys and their types), the limits on every size
(README, "Bad input"), and the checks a loaded spec must pass (`validate`), including the bound on the size of its
op graph. pidse/spec/load.py reads files and overrides into it."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

from pidse.errors import InputError
from pidse.ops import MAX_OPS
from pidse.schema import bounded, check_bounds

SPEC_VERSION = 1
PROJECTIONS = ("q", "k", "v", "o")

# Limits on every size a spec can give (README, "Bad input"): far above any published model, low enough that a
# typo or a hostile file cannot exhaust memory or time. The op graph has one node per op per layer per emitted
# token, so its size is bounded as a whole (MAX_OPS, checked by validate before any graph is built).
MAX_LAYERS = 1024
MAX_SIZE = 2**24  # widths, heads, vocabulary, context, window, generated tokens: 16,777,216
MAX_BATCH = 65536
MAX_EXPERTS = 4096
MAX_POWER = 64  # Power-Softmax exponent
# Decode steps are one template per op (pidse.steps) carrying per-step sizes: a generation's per-step values are
# bounded as op-steps (a few numbers each); building every step whole (CKKS pricing, a per-step graph) is
# bounded by MAX_OPS again, where it happens (pidse.steps.expand).
MAX_OP_STEPS = 20_000_000
# op_bound's counts: ops outside the layers per forward pass (embedding, positions, norms, LM head, argmax), ops
# per layer (norms, projections, rope, scores, softmax, residuals, FFN, scaling, a pruning step), and per expert
# of a mixture (up, gate, activation, product, down, gate weight) plus the router's four
OPS_FIXED, OPS_PER_LAYER, OPS_PER_EXPERT, OPS_ROUTER = 6, 24, 6, 4


@dataclass(frozen=True)
class Model:
    layers: int = bounded(1, MAX_LAYERS)
    heads: int = bounded(1, MAX_SIZE)
    d_model: int = bounded(1, MAX_SIZE)
    d_ff: int = bounded(1, MAX_SIZE)
    vocab_size: int = bounded(1, MAX_SIZE)
    max_context: int = bounded(1, MAX_SIZE)
    kv_heads: int | None = bounded(1, MAX_SIZE, default=None)  # grouped-query attention; None = heads, 1 = MQA
    head_dim: int | None = bounded(1, MAX_SIZE, default=None)  # None = d_model / heads
    bias: bool = True  # biases on linear layers and LayerNorms
    parallel_residual: bool = False  # GPT-NeoX/Pythia: x + attn(norm(x)) + ffn(norm(x))


@dataclass(frozen=True)
class Norm:
    kind: Literal["layernorm", "rmsnorm", "none"] = "layernorm"
    attention: bool = True  # before attention in every layer
    ffn: bool = True  # before the FFN in every layer
    final: bool = True  # before the LM head
    embedding: bool = False  # once, right after the embeddings


# Attention kinds: how scores become weights. softmax; power_softmax x^p / sum x^p; 2quad (MPCFormer)
# (x + 5)^2 / sum (x + 5)^2, a Power-Softmax with p = 2 after a public shift; relu (MPCFormer's 2ReLU)
# relu(x) / sum relu(x); linear: no nonlinearity, (Q K^T) V computed as Q (K^T V) (causal: running K^T V sums),
# each row scaled by 1 / (keys it sees), a public constant.
ATTENTION_KINDS = ("softmax", "power_softmax", "2quad", "relu", "linear")
QUAD_SHIFT = 5  # MPCFormer App. A.2: 2Quad = (x + c)^2 / sum (x + c)^2, c = 5


@dataclass(frozen=True)
class Attention:
    kind: Literal[ATTENTION_KINDS] = "softmax"
    power: int | None = bounded(2, MAX_POWER, default=None)  # Power-Softmax exponent p (even); power_softmax only
    temperature: Literal["fixed", "learnable"] = "fixed"  # learnable: AERO's SM(t), per head and position
    projections: tuple[str, ...] = PROJECTIONS  # He & Hofmann (SAS): [q, k]
    causal: bool = True  # a decoder's mask: query i sees keys <= i (false: bidirectional, BERT)
    window: int | None = bounded(1, MAX_SIZE, default=None)  # sliding window (Mistral): keys each query sees


@dataclass(frozen=True)
class FFN:
    # quad: MPCFormer's GeLU(x) ~ 0.125 x^2 + 0.25 x + 0.5; poly: a polynomial of `degree` (least squares to GELU)
    activation: Literal["gelu", "relu", "silu", "identity", "quad", "poly"] = "gelu"
    degree: int | None = bounded(2, 32, default=None)  # the polynomial's degree; only with activation poly
    gated: bool = False  # GLU form act(x W_gate) * (x W_up); silu + gated = SwiGLU
    scaled: bool = False  # AERO's ScFFN: beta * x + FFN(x) / alpha, learnable alpha, beta per layer
    fused: bool = False  # identity FFN folded into one d x d linear layer
    prune_last: int = bounded(0, MAX_LAYERS, default=0)  # remove the FFNs of the k deepest layers
    experts: int = bounded(1, MAX_EXPERTS, default=1)  # mixture of experts: expert FFNs per layer (1: dense)
    top_k: int | None = bounded(1, MAX_EXPERTS, default=None)  # experts per token (experts > 1; Mixtral: 2 of 8)


@dataclass(frozen=True)
class PruneStep:
    after: int = bounded(1, MAX_LAYERS)  # after this many layers (1: after the first layer)
    keep: float  # the share of the tokens still there that go on, in (0, 1]; ceil(keep x tokens) are kept


@dataclass(frozen=True)
class Pruning:
    """Token pruning: fewer tokens after chosen layers, plus the protocol that picks them (an op `prune`).
    sort: BOLT's word elimination (an oblivious bitonic sort on the attention each token receives);
    threshold: CipherPrune (each token's importance compared with a threshold, then oblivious compaction)."""
    method: Literal["sort", "threshold"] = "sort"
    schedule: tuple[PruneStep, ...] = ()


@dataclass(frozen=True)
class Embeddings:
    positions: Literal["learned", "rotary", "none"] = "learned"
    rotary_fraction: float = 1.0  # share of each head's dims that are rotated (Pythia: 0.25)
    tied_head: bool = True  # LM head shares the token-embedding matrix
    token_types: int = bounded(0, MAX_SIZE, default=0)  # segment (token-type) embedding rows (BERT 2, RoBERTa 1)
    position_offset: int = bounded(0, MAX_SIZE, default=0)  # position rows before the first (OPT 2, RoBERTa 2)


@dataclass(frozen=True)
class Inference:
    context: int | None = bounded(1, MAX_SIZE, default=None)  # prompt tokens T; None = model.max_context
    generate: int = bounded(1, MAX_SIZE, default=1)  # emitted tokens; 1 = prefill T and emit one (AERO's)
    batch: int = bounded(1, MAX_BATCH, default=1)  # sequences priced together


@dataclass(frozen=True)
class Training:
    """Metadata that changes no inference cost but identifies a trained model."""
    entropy_reg: bool = False  # AERO's entropy regularisation (Algorithm 1)
    entropy_lambda: float | None = None  # loss weight
    entropy_gamma: float | None = None  # tolerance fraction of log(T)
    weight_norm: Literal["none", "weight", "spectral"] = "none"  # AERO's normalisation ablations
    weight_norm_on: tuple[str, ...] = ()  # which linear layers are normalised: items of q, k, v, o, ffn
    dataset: str | None = None
    tokens: float | None = None  # training tokens


@dataclass(frozen=True)
class Spec:
    version: int
    model: Model
    name: str = ""
    label: str | None = None  # e.g. AERO's "SM+LN+G"
    description: str = ""
    norm: Norm = field(default_factory=Norm)
    attention: Attention = field(default_factory=Attention)
    ffn: FFN = field(default_factory=FFN)
    embeddings: Embeddings = field(default_factory=Embeddings)
    pruning: Pruning = field(default_factory=Pruning)
    inference: Inference = field(default_factory=Inference)
    training: Training = field(default_factory=Training)
    source: str = field(default="", compare=False, metadata={"internal": True})  # the file it came from

    # Derived sizes, used by the graph builder.
    @property
    def kv_heads(self) -> int:
        return self.model.kv_heads or self.model.heads

    @property
    def head_dim(self) -> int:
        return self.model.head_dim or self.model.d_model // self.model.heads

    @property
    def context(self) -> int:
        return self.inference.context or self.model.max_context

    def replace(self, **sections) -> Spec:
        return dataclasses.replace(self, **sections)


def validate(spec: Spec) -> Spec:
    """Cross-field checks the types alone cannot express."""
    src, m = spec.source, spec.model
    if spec.version != SPEC_VERSION:
        raise InputError(src, "version", f"{SPEC_VERSION} (the spec format this pidse reads)", spec.version)
    check_bounds(spec, src)  # again: a Spec changed in Python (dataclasses.replace) skipped from_mapping
    if m.head_dim is None and m.d_model % m.heads:
        raise InputError(src, "model.heads", f"a divisor of model.d_model ({m.d_model}), or set model.head_dim",
                         m.heads)
    if m.heads % spec.kv_heads:
        raise InputError(src, "model.kv_heads", f"a divisor of model.heads ({m.heads})", m.kv_heads)

    a = spec.attention
    proj = a.projections
    if len(set(proj)) != len(proj) or not set(proj) <= set(PROJECTIONS) or not {"q", "k"} <= set(proj):
        raise InputError(src, "attention.projections", "distinct items of q, k, v, o including q and k",
                         list(proj))
    if {"v", "o"} - set(proj) and spec.model.heads * spec.head_dim != m.d_model:
        raise InputError(src, "attention.projections", "v and o when heads x head_dim != d_model", list(proj))
    if "v" not in proj and spec.kv_heads != m.heads:
        raise InputError(src, "attention.projections", "a v projection with grouped-query attention", list(proj))
    if a.kind == "power_softmax":
        if a.power is None or a.power % 2:
            raise InputError(src, "attention.power", f"a positive even integer (2 to {MAX_POWER}) for power_softmax",
                             a.power)
    elif a.power is not None:
        raise InputError(src, "attention.power", "no value unless attention.kind is power_softmax", a.power)
    if a.window is not None and not a.causal:
        raise InputError(src, "attention.window", "null, or a window with causal attention (a decoder's sliding "
                         "window)", a.window)
    if a.kind == "linear" and a.temperature == "learnable":
        raise InputError(src, "attention.temperature", "fixed with linear attention (it has no scores to "
                         "scale per position)", a.temperature)

    f = spec.ffn
    if not 0 <= f.prune_last <= m.layers:
        raise InputError(src, "ffn.prune_last", f"an integer from 0 to model.layers ({m.layers})", f.prune_last)
    if f.fused and (f.activation != "identity" or f.gated or f.experts > 1):
        raise InputError(src, "ffn.fused", "false unless ffn.activation is identity, ffn.gated is false and "
                         "ffn.experts is 1", f.fused)
    if f.activation == "poly":
        if f.degree is None:
            raise InputError(src, "ffn.degree", "an integer from 2 to 32 for activation poly", f.degree)
    elif f.degree is not None:
        raise InputError(src, "ffn.degree", "no value unless ffn.activation is poly (quad is degree 2)", f.degree)
    if f.experts > 1 and (f.top_k is None or not 1 <= f.top_k <= f.experts):
        raise InputError(src, "ffn.top_k", f"an integer from 1 to ffn.experts ({f.experts})", f.top_k)
    if f.experts == 1 and f.top_k is not None:
        raise InputError(src, "ffn.top_k", "no value unless ffn.experts is above 1", f.top_k)

    if spec.pruning.schedule and a.kind == "linear":
        raise InputError(src, "pruning.schedule", "no token pruning with linear attention (pruning ranks tokens "
                         "by the attention they receive; linear attention forms no scores)", "[...]")
    after = [step.after for step in spec.pruning.schedule]
    for i, step in enumerate(spec.pruning.schedule):
        key = f"pruning.schedule[{i}]"
        if not 1 <= step.after < m.layers or (i and step.after <= after[i - 1]):
            raise InputError(src, f"{key}.after", f"a layer count from 1 to model.layers - 1 ({m.layers - 1}), "
                             "increasing along the schedule", step.after)
        if not 0 < step.keep <= 1:
            raise InputError(src, f"{key}.keep", "a share in (0, 1]", step.keep)

    e = spec.embeddings
    if not 0 < e.rotary_fraction <= 1:
        raise InputError(src, "embeddings.rotary_fraction", "a number in (0, 1]", e.rotary_fraction)

    t = spec.training
    for key, low in (("tokens", "a positive number"), ("entropy_lambda", "a number >= 0"),
                     ("entropy_gamma", "a number >= 0")):
        value = getattr(t, key)
        if value is not None and not (value > 0 if key == "tokens" else value >= 0):
            raise InputError(src, f"training.{key}", low + ", or null", value)
    if (t.weight_norm == "none") != (not t.weight_norm_on) or not set(t.weight_norm_on) <= {*PROJECTIONS, "ffn"}:
        raise InputError(src, "training.weight_norm_on", "items of q, k, v, o, ffn, given exactly when "
                         "training.weight_norm is not none", list(t.weight_norm_on))

    inf = spec.inference
    room = m.max_context - spec.context  # positions left for generated tokens after the prompt
    if room < 0:
        raise InputError(src, "inference.context", f"at most model.max_context ({m.max_context}; to price a longer "
                         f"context as a what-if, add --set model.max_context={spec.context})", spec.context)
    if inf.generate - 1 > room:  # name generate when it, not the prompt, is what overflows the context
        raise InputError(src, "inference.generate", f"at most model.max_context - context + 1 ({room + 1})",
                         inf.generate)
    ops = op_bound(spec)
    if ops > MAX_OPS:
        key = "ffn.experts" if f.experts > 1 else "model.layers"
        got = {"ffn.experts": f.experts, "model.layers": m.layers}[key]
        raise InputError(src, key, f"an op graph of at most {MAX_OPS:,} ops (this spec's could have {ops:,}: "
                         f"{m.layers:,} layers x {ops_per_layer(spec):,} ops per forward pass, a prefill and a "
                         "decode template); lower model.layers or ffn.experts", got)
    steps = step_bound(spec)
    if steps > MAX_OP_STEPS:
        raise InputError(src, "inference.generate", f"at most {MAX_OP_STEPS:,} op-steps (ops per forward pass x "
                         f"generated tokens; this spec's could have {steps:,})", inf.generate)
    return spec


def ops_per_layer(spec: Spec) -> int:
    """An upper bound on the ops of one layer of one forward pass (see OPS_PER_LAYER)."""
    experts = spec.ffn.experts
    return OPS_PER_LAYER + (OPS_PER_EXPERT * experts + OPS_ROUTER if experts > 1 else 0)


def op_bound(spec: Spec) -> int:
    """An upper bound on the nodes of spec's op graph, from its sizes alone (nothing is built): a prefill and, when
    tokens are generated, one decode template (pidse.steps), each a forward pass over every layer."""
    return (2 if spec.inference.generate > 1 else 1) * (OPS_FIXED + spec.model.layers * ops_per_layer(spec))


def step_bound(spec: Spec) -> int:
    """An upper bound on the op-steps of a generation: the rows building every decode step whole would have."""
    return spec.inference.generate * (OPS_FIXED + spec.model.layers * ops_per_layer(spec))
