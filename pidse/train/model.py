"""A GPT built from a Spec: every architecture axis the spec supports, one module per part.

Axes: LayerNorm or RMSNorm before attention / FFN / the head / after the embeddings, or no norm at all;
softmax or Power-Softmax attention with a fixed or learnable temperature (AERO's SM(t)); any subset of the
Q, K, V, O projections that contains Q and K (He & Hofmann: V and O are identity); grouped-query attention;
learned, rotary or no positions; GELU / ReLU / SiLU / identity FFNs, gated or not; AERO's scaled FFN
(beta * x + FFN(x) / alpha with learnable alpha, beta per layer); the fused d x d FFN; pruning the FFNs of the
k deepest layers; parallel residuals; tied or untied head; weight or spectral normalisation (AERO's ablation).

Parameters are exactly those `pidse estimate` counts for the same spec (tests check it), so a trained model
and a priced one are the same model. Initialisation follows GPT-2 / nanoGPT: N(0, 0.02) weights, zero biases,
residual output projections scaled by 1/sqrt(2L).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from pidse.spec.load import Spec
from pidse.train.entropy import attention_entropy

INIT_STD = 0.02


def make_norm(spec: Spec) -> nn.Module:
    d = spec.model.d_model
    if spec.norm.kind == "layernorm":
        return nn.LayerNorm(d, bias=spec.model.bias)
    return nn.RMSNorm(d)


def _norm_or_none(spec: Spec, site: bool) -> nn.Module | None:
    return make_norm(spec) if spec.norm.kind != "none" and site else None


def _apply(module: nn.Module | None, x: torch.Tensor) -> torch.Tensor:
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, heads, T, head_dim)
        T, r = x.shape[-2], self.dims
        rot, rest = x[..., :r], x[..., r:]
        x1, x2 = rot[..., : r // 2], rot[..., r // 2:]
        rotated = torch.cat([-x2, x1], dim=-1)
        rot = rot * self.cos[:T] + rotated * self.sin[:T]
        return torch.cat([rot, rest], dim=-1)


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
        self.kind, self.power = a.kind, a.power
        # AERO's SM(t): a temperature per head and query position, a_ij = softmax_j(q_i k_j / (t_i sqrt(d_k))).
        # Stored as log t (t = exp(log_t) stays positive), starting at t = 1, the plain softmax.
        self.log_t = nn.Parameter(torch.zeros(H, m.max_context)) if a.temperature == "learnable" else None
        self.rotary = (Rotary(dh, spec.embeddings.rotary_fraction, m.max_context)
                       if spec.embeddings.positions == "rotary" else None)

    def forward(self, x: torch.Tensor, entropy: bool = False):
        B, T, _ = x.shape
        H, KV, dh = self.heads, self.kv_heads, self.head_dim
        q = self.q(x).view(B, T, H, dh).transpose(1, 2)
        k = self.k(x).view(B, T, KV, dh).transpose(1, 2)
        v = (self.v(x) if self.v is not None else x).view(B, T, KV, dh).transpose(1, 2)
        if self.rotary is not None:
            q, k = self.rotary(q), self.rotary(k)
        if KV != H:
            k, v = k.repeat_interleave(H // KV, dim=1), v.repeat_interleave(H // KV, dim=1)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(dh)  # (B, H, T, T)
        if self.log_t is not None:
            scores = scores / self.log_t[:, :T, None].exp()
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        probs = self.normalise(scores, causal)
        y = (probs @ v).transpose(1, 2).reshape(B, T, H * dh)
        y = self.o(y) if self.o is not None else y
        return y, (attention_entropy(probs) if entropy else None)

    def normalise(self, scores: torch.Tensor, causal: torch.Tensor) -> torch.Tensor:
        if self.kind == "softmax":
            return scores.masked_fill(~causal, float("-inf")).softmax(-1)
        # Power-Softmax: a_ij = s_ij^p / sum_j s_ij^p (p even). Dividing a row by its largest |s| first changes
        # nothing mathematically and keeps s^p in range.
        scores = scores.masked_fill(~causal, 0.0)
        peak = scores.abs().amax(-1, keepdim=True).clamp_min(1e-6).detach()
        powered = (scores / peak) ** self.power * causal
        return powered / powered.sum(-1, keepdim=True).clamp_min(1e-12)


class FFN(nn.Module):
    """FFN(x) and the residual stream it is added to: (y, skip). Scaled: (FFN(x) / alpha, beta * x)."""

    def __init__(self, spec: Spec):
        super().__init__()
        m, f = spec.model, spec.ffn
        d, dff, bias = m.d_model, m.d_ff, m.bias
        self.fused = nn.Linear(d, d, bias=bias) if f.fused else None
        if not f.fused:
            self.up = nn.Linear(d, dff, bias=bias)
            self.gate = nn.Linear(d, dff, bias=bias) if f.gated else None
            self.down = nn.Linear(dff, d, bias=bias)
        self.activation = {"gelu": F.gelu, "relu": F.relu, "silu": F.silu, "identity": None}[f.activation]
        self.alpha = nn.Parameter(torch.ones(())) if f.scaled else None
        self.beta = nn.Parameter(torch.ones(())) if f.scaled else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.fused is not None:
            y = self.fused(x)
        else:
            h = self.gate(x) if self.gate is not None else self.up(x)
            if self.activation is not None:
                h = self.activation(h)
            if self.gate is not None:
                h = h * self.up(x)
            y = self.down(h)
        if self.alpha is not None:
            return y / self.alpha, self.beta * x
        return y, x

    def residual_out(self) -> nn.Linear:
        return self.fused if self.fused is not None else self.down


class Block(nn.Module):
    def __init__(self, spec: Spec, layer: int):
        super().__init__()
        self.attn_norm = _norm_or_none(spec, spec.norm.attention)
        self.attn = Attention(spec)
        has_ffn = layer < spec.model.layers - spec.ffn.prune_last
        self.ffn_norm = _norm_or_none(spec, spec.norm.ffn) if has_ffn else None
        self.ffn = FFN(spec) if has_ffn else None
        self.parallel = spec.model.parallel_residual

    def forward(self, x: torch.Tensor, entropy: bool = False):
        a, ent = self.attn(_apply(self.attn_norm, x), entropy)
        if self.parallel:
            if self.ffn is None:
                return x + a, ent
            y, skip = self.ffn(_apply(self.ffn_norm, x))
            return skip + a + y, ent
        x = x + a
        if self.ffn is None:
            return x, ent
        y, skip = self.ffn(_apply(self.ffn_norm, x))
        return skip + y, ent


class Output(NamedTuple):
    logits: torch.Tensor  # (B, T, V)
    entropies: list | None  # per layer, (B, H, T) attention entropy of each query row; None unless asked


class GPT(nn.Module):
    def __init__(self, spec: Spec):
        super().__init__()
        m, t = spec.model, spec.training
        self.spec = spec
        e = spec.embeddings
        self.tokens = nn.Embedding(m.vocab_size, m.d_model)
        # segment embeddings (BERT): one sequence, so every token gets type 0's row
        self.token_types = nn.Embedding(e.token_types, m.d_model) if e.token_types else None
        self.offset = e.position_offset  # learned position rows before the first position (OPT, RoBERTa)
        self.positions = nn.Embedding(m.max_context + self.offset, m.d_model) if e.positions == "learned" else None
        self.embed_norm = _norm_or_none(spec, spec.norm.embedding)
        self.blocks = nn.ModuleList(Block(spec, i) for i in range(m.layers))
        self.final_norm = _norm_or_none(spec, spec.norm.final)
        self.head = None if spec.embeddings.tied_head else nn.Linear(m.d_model, m.vocab_size, bias=False)
        self._init_weights()
        if t.weight_norm != "none":
            self._normalise_weights(t.weight_norm, set(t.weight_norm_on))

    def _init_weights(self):
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, 0.0, INIT_STD)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        residual_std = INIT_STD / math.sqrt(2 * len(self.blocks))
        for block in self.blocks:
            outs = [block.attn.o] + ([block.ffn.residual_out()] if block.ffn is not None else [])
            for linear in outs:
                if linear is not None:
                    nn.init.normal_(linear.weight, 0.0, residual_std)

    def _normalise_weights(self, kind: str, sites: set[str]):
        """AERO's weight / spectral normalisation ablation on the chosen linear layers."""
        from torch.nn.utils import parametrizations

        wrap = parametrizations.weight_norm if kind == "weight" else parametrizations.spectral_norm
        for block in self.blocks:
            for name in ("q", "k", "v", "o"):
                if name in sites and getattr(block.attn, name) is not None:
                    wrap(getattr(block.attn, name))
            if "ffn" in sites and block.ffn is not None:
                for name in ("fused", "up", "gate", "down"):
                    if getattr(block.ffn, name, None) is not None:
                        wrap(getattr(block.ffn, name))

    def forward(self, idx: torch.Tensor, entropy: bool = False) -> Output:
        T = idx.shape[1]
        x = self.tokens(idx)
        if self.token_types is not None:
            x = x + self.token_types.weight[0]
        if self.positions is not None:
            x = x + self.positions(torch.arange(T, device=idx.device) + self.offset)
        x = _apply(self.embed_norm, x)
        entropies = []
        for block in self.blocks:
            x, ent = block(x, entropy)
            entropies.append(ent)
        x = _apply(self.final_norm, x)
        logits = self.head(x) if self.head is not None else x @ self.tokens.weight.T
        return Output(logits, entropies if entropy else None)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def scales(self) -> dict:
        """Learned scalars worth reporting: per layer FFN alpha/beta, and the temperature range."""
        out = {}
        for i, block in enumerate(self.blocks):
            if block.ffn is not None and block.ffn.alpha is not None:
                out[f"L{i}.alpha"] = block.ffn.alpha.item()
                out[f"L{i}.beta"] = block.ffn.beta.item()
            if block.attn.log_t is not None:
                t = block.attn.log_t.detach().exp()
                out[f"L{i}.t_min"], out[f"L{i}.t_max"] = float(t.min()), float(t.max())
        return out
