"""A GPT built from a Spec: every architecture axis the spec supports, one module per part.

Axes: LayerNorm or RMSNorm before attention / FFN / the head / after the embeddings, or no norm at all;
softmax, Power-Softmax, MPCFormer's 2Quad and 2ReLU, or linear attention, with a fixed or learnable temperature
(AERO's SM(t)) and an optional sliding window; any subset of the Q, K, V, O projections that contains Q and K
(He & Hofmann: V and O are identity); grouped-query attention; learned, rotary or no positions; GELU / ReLU /
SiLU / identity / Quad / least-squares polynomial FFNs, gated or not, dense or a mixture of experts; AERO's
scaled FFN (beta * x + FFN(x) / alpha with learnable alpha, beta per layer); the fused d x d FFN; pruning the
FFNs of the k deepest layers; token pruning after chosen layers (BOLT, CipherPrune); parallel residuals; tied or
untied head; weight or spectral normalisation (AERO's ablation).

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

from pidse.ops import ceiling
from pidse.spec.definition import Spec
from pidse.train.entropy import attention_entropy
from pidse.train.layers import FFN, INIT_STD, Attention, MoE, apply_optional, norm_or_none


class Block(nn.Module):
    def __init__(self, spec: Spec, layer: int):
        super().__init__()
        self.attn_norm = norm_or_none(spec, spec.norm.attention)
        self.attn = Attention(spec)
        has_ffn = layer < spec.model.layers - spec.ffn.prune_last
        self.ffn_norm = norm_or_none(spec, spec.norm.ffn) if has_ffn else None
        self.ffn = (MoE if spec.ffn.experts > 1 else FFN)(spec) if has_ffn else None
        self.parallel = spec.model.parallel_residual

    def forward(self, x: torch.Tensor, pos: torch.Tensor):
        """(output, attention shares): see Attention.forward."""
        a, shares = self.attn(apply_optional(self.attn_norm, x), pos)
        if self.parallel:
            if self.ffn is None:
                return x + a, shares
            return self.ffn.skip(x) + a + self.ffn(apply_optional(self.ffn_norm, x)), shares
        x = x + a
        if self.ffn is None:
            return x, shares
        return self.ffn(apply_optional(self.ffn_norm, x), x), shares


def prune_tokens(x: torch.Tensor, pos: torch.Tensor, shares: torch.Tensor, keep: float):
    """Token pruning as trained (BOLT's sort and CipherPrune's threshold alike; the protocols differ only in
    how they pick obliviously): a token's importance is the attention it receives in this layer (`shares`,
    averaged over heads and queries); the ceil(keep x n) most important tokens go on, in their original order.
    The last token always stays: it predicts the next token. Returns their rows of x and original positions."""
    B, n, d = x.shape
    importance = shares.detach().mean((1, 2))  # (B, n): per key
    importance[:, -1] = float("inf")
    kept = importance.topk(ceiling(keep * n), dim=-1).indices.sort(-1).values  # (B, k)
    return x.gather(1, kept[..., None].expand(-1, -1, d)), pos.expand(B, n).gather(1, kept)


class Output(NamedTuple):
    logits: torch.Tensor  # (B, T, V); with token pruning (B, k, V), the k positions left
    entropies: list | None  # per layer, (B, H, n) attention entropy of each query row; None unless asked
    positions: torch.Tensor | None = None  # (B, k) original positions of the logits' rows; None: all T


def lm_loss(out: Output, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Next-token cross-entropy against `targets` (B, T). With token pruning only the positions left at the end
    are scored, each against its own original next token (the target at its original position): the pruned
    tokens predict nothing, so a pruned model's loss (and perplexity) is over fewer positions."""
    if out.positions is not None:
        targets = targets.gather(1, out.positions)
    return F.cross_entropy(out.logits.flatten(0, 1).float(), targets.flatten(), reduction=reduction)


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
        self.embed_norm = norm_or_none(spec, spec.norm.embedding)
        self.blocks = nn.ModuleList(Block(spec, i) for i in range(m.layers))
        self.final_norm = norm_or_none(spec, spec.norm.final)
        self.head = None if spec.embeddings.tied_head else nn.Linear(m.d_model, m.vocab_size, bias=False)
        self.cuts = {step.after: step.keep for step in spec.pruning.schedule}  # token pruning: layers -> keep
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
            outs = [block.attn.o] + (block.ffn.residual_outs() if block.ffn is not None else [])
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
                for linear in block.ffn.linears():
                    wrap(linear)

    def forward(self, idx: torch.Tensor, entropy: bool = False) -> Output:
        T = idx.shape[1]
        x = self.tokens(idx)
        if self.token_types is not None:
            x = x + self.token_types.weight[0]
        if self.positions is not None:
            x = x + self.positions(torch.arange(T, device=idx.device) + self.offset)
        x = apply_optional(self.embed_norm, x)
        pos = torch.arange(T, device=idx.device)  # original positions of the tokens present
        entropies = []
        for layer, block in enumerate(self.blocks, 1):
            x, shares = block(x, pos)
            entropies.append(attention_entropy(shares) if entropy else None)
            if layer in self.cuts:
                x, pos = prune_tokens(x, pos, shares, self.cuts[layer])
        x = apply_optional(self.final_norm, x)
        logits = self.head(x) if self.head is not None else x @ self.tokens.weight.T
        return Output(logits, entropies if entropy else None, pos if self.cuts else None)

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
