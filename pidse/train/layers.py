"""The parts a trained GPT is built of (pidse/train/model.py puts them together): norms, rotary positions, the
attention variants (softmax, Power-Softmax, 2Quad, 2ReLU, linear; temperature, window, grouped queries, the
projection subsets), the activations (GELU / ReLU / SiLU / identity / Quad / least-squares polynomials) and the
FFNs (gated or not, AERO's scaled and fused forms, a mixture of experts)."""
from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pidse.spec.definition import QUAD_SHIFT, Spec

INIT_STD = 0.02
RELU_EPS = 1e-6  # 2ReLU's denominator guard: a row whose scores are all <= 0 gets weights 0, not 0 / 0
POLY_RANGE, POLY_POINTS = 4.0, 4001  # poly activations: GELU fitted on [-4, 4], sampled this densely


def make_norm(spec: Spec) -> nn.Module:
    d = spec.model.d_model
    if spec.norm.kind == "layernorm":
        return nn.LayerNorm(d, bias=spec.model.bias)
    return nn.RMSNorm(d)


def norm_or_none(spec: Spec, site: bool) -> nn.Module | None:
    return make_norm(spec) if spec.norm.kind != "none" and site else None


def apply_optional(module: nn.Module | None, x: torch.Tensor) -> torch.Tensor:
    return x if module is None else module(x)


class Rotary(nn.Module):
    """Rotary positions on the first `dims` dims of each head (GPT-NeoX's rotate-half form)."""

    def __init__(self, head_dim: int, fraction: float, max_context: int, base: float = 10000.0):
        super().__init__()
        self.dims = max(2, int(round(head_dim * fraction)) // 2 * 2)
        inv = 1.0 / base ** (torch.arange(0, self.dims, 2).float() / self.dims)
        angles = torch.outer(torch.arange(max_context).float(), inv)
        angles = torch.cat([angles, angles], dim=-1)
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def forward(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:  # (B, heads, n, head_dim)
        r = self.dims
        rot, rest = x[..., :r], x[..., r:]
        x1, x2 = rot[..., : r // 2], rot[..., r // 2:]
        rotated = torch.cat([-x2, x1], dim=-1)
        cos, sin = self.cos[pos].unsqueeze(-3), self.sin[pos].unsqueeze(-3)  # (1 or B, 1, n, dims)
        rot = rot * cos + rotated * sin
        return torch.cat([rot, rest], dim=-1)


class ScoreNorm(nn.Module):
    """Attention weights from the scaled scores, by the spec's attention kind; masked keys get 0. A module of its
    own (no parameters) so that a trace (pidse.trace) sees one score normalisation, whatever ops it is written in."""

    def __init__(self, kind: str, power: int | None):
        super().__init__()
        self.kind, self.power = kind, power

    def forward(self, scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.kind == "softmax":
            return scores.masked_fill(~mask, float("-inf")).softmax(-1)
        if self.kind == "power_softmax":
            # a_ij = s_ij^p / sum_j s_ij^p (p even). Dividing a row by its largest |s| first changes nothing
            # mathematically and keeps s^p in range.
            scores = scores.masked_fill(~mask, 0.0)
            peak = scores.abs().amax(-1, keepdim=True).clamp_min(1e-6).detach()
            powered = (scores / peak) ** self.power * mask
            return powered / powered.sum(-1, keepdim=True).clamp_min(1e-12)
        if self.kind == "2quad":  # MPCFormer: (s + c)^2 / sum (s + c)^2
            quad = (scores + QUAD_SHIFT).square() * mask
            return quad / quad.sum(-1, keepdim=True).clamp_min(1e-12)
        if self.kind == "relu":  # MPCFormer's 2ReLU: relu(s) / sum relu(s)
            relu = scores.relu() * mask
            return relu / (relu.sum(-1, keepdim=True) + RELU_EPS)
        # linear: no nonlinearity, out_i = (1 / n_i) sum_j s_ij v_j over the n_i keys query i sees. The cost
        # model computes Q (K^T V) instead; masked (Q K^T) V is the same sum.
        return scores * mask / mask.sum(-1, keepdim=True)


class Attention(nn.Module):
    def __init__(self, spec: Spec):
        super().__init__()
        m, a = spec.model, spec.attention
        d, self.heads, self.kv_heads, self.head_dim = m.d_model, m.heads, spec.kv_heads, spec.head_dim
        H, KV, dh = self.heads, self.kv_heads, self.head_dim
        self.q = nn.Linear(d, H * dh, bias=m.bias)
        self.k = nn.Linear(d, KV * dh, bias=m.bias)
        self.v = nn.Linear(d, KV * dh, bias=m.bias) if "v" in a.projections else None
        self.o = nn.Linear(H * dh, d, bias=m.bias) if "o" in a.projections else None
        self.kind, self.power, self.window = a.kind, a.power, a.window
        self.score_norm = ScoreNorm(a.kind, a.power)
        # AERO's SM(t): a temperature per head and query position, a_ij = softmax_j(q_i k_j / (t_i sqrt(d_k))).
        # Stored as log t (t = exp(log_t) stays positive), starting at t = 1, the plain softmax.
        self.log_t = nn.Parameter(torch.zeros(H, m.max_context)) if a.temperature == "learnable" else None
        self.rotary = (Rotary(dh, spec.embeddings.rotary_fraction, m.max_context)
                       if spec.embeddings.positions == "rotary" else None)

    def forward(self, x: torch.Tensor, pos: torch.Tensor):
        """(output, attention shares (B, H, n, n)) of the n tokens present, at original positions `pos`: (n,), or
        (B, n) once tokens were pruned. The shares are what `shares` says: entropy and pruning read them."""
        B, T, _ = x.shape
        H, KV, dh = self.heads, self.kv_heads, self.head_dim
        q = self.q(x).view(B, T, H, dh).transpose(1, 2)
        k = self.k(x).view(B, T, KV, dh).transpose(1, 2)
        v = (self.v(x) if self.v is not None else x).view(B, T, KV, dh).transpose(1, 2)
        if self.rotary is not None:
            q, k = self.rotary(q, pos), self.rotary(k, pos)
        if KV != H:
            k, v = k.repeat_interleave(H // KV, dim=1), v.repeat_interleave(H // KV, dim=1)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(dh)  # (B, H, T, T)
        if self.log_t is not None:  # t of each query's original position: (H, n, 1), or (B, H, n, 1)
            scores = scores / self.log_t.T[pos].transpose(-1, -2).unsqueeze(-1).exp()
        weights = self.normalise(scores, self.visible(T, x.device))
        y = (weights @ v).transpose(1, 2).reshape(B, T, H * dh)
        y = self.o(y) if self.o is not None else y
        return y, self.shares(weights)

    def visible(self, n: int, device) -> torch.Tensor:
        """(n, n) mask of the keys each query sees: causal, and with a window only the `window` latest tokens.
        Pruning keeps tokens in their original order, so this is the causal mask by original position; the
        window counts the tokens still present (the W latest kept ones: the keys the cost model prices)."""
        i = torch.arange(n, device=device)
        behind = i[:, None] - i[None, :]  # how far key j lies behind query i
        mask = behind >= 0
        return mask & (behind < self.window) if self.window is not None else mask

    def normalise(self, scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Weights from the scaled scores; masked keys get 0 (see ScoreNorm)."""
        return self.score_norm(scores, mask)

    def shares(self, weights: torch.Tensor) -> torch.Tensor:
        """The weights as a distribution over keys, for the entropy and token pruning's importance: the weights
        themselves, except linear attention's, which are signed: there |q.k| normalised per row."""
        if self.kind != "linear":
            return weights
        size = weights.abs()
        return size / size.sum(-1, keepdim=True).clamp_min(1e-12)


# ---- FFN activations -------------------------------------------------------------------------------------

def quad(x: torch.Tensor) -> torch.Tensor:
    """MPCFormer's Quad: GeLU(x) ~ 0.125 x^2 + 0.25 x + 0.5."""
    return 0.125 * x * x + 0.25 * x + 0.5


class Quad(nn.Module):
    """`quad` as a module (no parameters), so that a trace sees one polynomial activation."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return quad(x)


@functools.lru_cache(maxsize=None)
def gelu_fit(degree: int) -> tuple[float, ...]:
    """The least-squares polynomial of `degree` to GELU on [-4, 4] (POLY_POINTS evenly spaced samples): its
    coefficients in x, lowest power first. numpy fits on the domain mapped to [-1, 1] (well conditioned)."""
    x = np.linspace(-POLY_RANGE, POLY_RANGE, POLY_POINTS)
    gelu = F.gelu(torch.from_numpy(x)).numpy()  # float64, exact (erf) GELU
    return tuple(np.polynomial.Polynomial.fit(x, gelu, degree).convert().coef.tolist())


class PolyGELU(nn.Module):
    """GELU's least-squares polynomial of a fixed degree: fixed coefficients, a buffer rather than a parameter
    (an architecture choice, not trained, and no parameter the cost model counts)."""

    def __init__(self, degree: int):
        super().__init__()
        self.register_buffer("coef", torch.tensor(gelu_fit(degree)), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.coef[-1].expand_as(x)
        for c in self.coef.flip(0)[1:]:  # Horner
            y = y * x + c
        return y


def make_activation(activation: str, degree: int | None):
    if activation == "poly":
        return PolyGELU(degree)
    if activation == "quad":
        return Quad()
    return {"gelu": F.gelu, "relu": F.relu, "silu": F.silu, "identity": None}[activation]


class FFN(nn.Module):
    """residual + FFN(x); scaled: beta * residual + FFN(x) / alpha. x is the FFN's (normalised) input, the
    residual the un-normalised stream: a pre-LN block is h + FFN(LN(h)), a parallel one x + Attn(LN(x)) + FFN(LN(x)).

    The body is one dense FFN: down(act(x W_up)), gated down(act(x W_gate) * x W_up), or the fused d x d layer.
    Subclasses replace the body (`build`, `body`) and keep the scaling."""

    def __init__(self, spec: Spec):
        super().__init__()
        self.build(spec)
        self.alpha = nn.Parameter(torch.ones(())) if spec.ffn.scaled else None
        self.beta = nn.Parameter(torch.ones(())) if spec.ffn.scaled else None

    def build(self, spec: Spec):
        m, f = spec.model, spec.ffn
        d, dff, bias = m.d_model, m.d_ff, m.bias
        self.fused = nn.Linear(d, d, bias=bias) if f.fused else None
        self.up = nn.Linear(d, dff, bias=bias) if not f.fused else None
        self.gate = nn.Linear(d, dff, bias=bias) if f.gated and not f.fused else None
        self.down = nn.Linear(dff, d, bias=bias) if not f.fused else None
        self.activation = make_activation(f.activation, f.degree)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        if self.fused is not None:
            return self.fused(x)
        h = self.gate(x) if self.gate is not None else self.up(x)
        if self.activation is not None:
            h = self.activation(h)
        if self.gate is not None:
            h = h * self.up(x)
        return self.down(h)

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        """The residual stream after the FFN, skip(residual) + FFN(x) (scaled: FFN(x) / alpha); FFN(x) alone
        without a residual (a parallel block adds it, with the attention's output, itself)."""
        y = self.body(x)
        if self.alpha is not None:
            y = y / self.alpha
        return y if residual is None else self.skip(residual) + y

    def skip(self, residual: torch.Tensor) -> torch.Tensor:
        """The residual stream the FFN's output is added to (scaled: beta x residual)."""
        return self.beta * residual if self.beta is not None else residual

    def linears(self) -> list[nn.Linear]:
        """The FFN's weight matrices (what weight / spectral normalisation wraps)."""
        return [lin for lin in (self.fused, self.up, self.gate, self.down) if lin is not None]

    def residual_outs(self) -> list[nn.Linear]:
        """The layers that write into the residual stream (GPT-2's scaled initialisation)."""
        return [self.fused if self.fused is not None else self.down]


class MoE(FFN):
    """Mixtral's mixture of experts: a router (d -> E linear) scores each token, a softmax over its top-k logits
    gives the chosen experts' gates, and the output is sum_chosen gate x expert(x), each expert a dense FFN body
    of the spec's form. Computed densely (every expert on every token, gates 0 for the unchosen): the same sum,
    and what the cost model prices, since which experts a token uses is secret. Scaling, if any, is per layer."""

    def build(self, spec: Spec):
        m, f = spec.model, spec.ffn
        self.router = nn.Linear(m.d_model, f.experts, bias=m.bias)
        self.top_k = f.top_k
        expert = spec.replace(ffn=dataclasses.replace(f, experts=1, top_k=None, scaled=False))
        self.experts = nn.ModuleList(FFN(expert) for _ in range(f.experts))

    def gates(self, x: torch.Tensor) -> torch.Tensor:
        """(..., E) gates: softmax over each token's top-k router logits, 0 for the other experts."""
        logits = self.router(x)
        top, chosen = logits.topk(self.top_k, dim=-1)
        return torch.zeros_like(logits).scatter(-1, chosen, top.softmax(-1))

    def body(self, x: torch.Tensor) -> torch.Tensor:
        gates = self.gates(x)
        return sum(gates[..., e, None] * expert.body(x) for e, expert in enumerate(self.experts))

    def linears(self) -> list[nn.Linear]:  # the experts' (the router is no FFN matrix)
        return [lin for expert in self.experts for lin in expert.linears()]

    def residual_outs(self) -> list[nn.Linear]:
        return [lin for expert in self.experts for lin in expert.residual_outs()]
