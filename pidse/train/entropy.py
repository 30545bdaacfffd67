"""Attention entropy, AERO's entropy regulariser (Algorithm 1).

Entropies are in nats. The maximum is E_max = log(T) for a sequence of T tokens, as Algorithm 1 takes it (a causal
query at position i can reach only log(i + 1), so a head's query-averaged entropy stays below E_max).
"""
from __future__ import annotations

import math

import torch
from torch import nn

MODES = ("mean", "per_query")


def attention_entropy(probs: torch.Tensor) -> torch.Tensor:
    """Entropy of every attention row: (..., T, T) probabilities -> (..., T), -sum_j A_ij log A_ij.

    0 log 0 = 0. The clamp keeps the gradient finite where A_ij = 0 (masked keys): there d/dA (A log A) would be
    -inf, and the softmax backward would multiply it by A = 0 and give NaN.
    """
    probs = probs.float()  # under bf16 autocast too: a row's sum of p log p needs fp32's precision
    return -(probs * probs.clamp_min(1e-30).log()).sum(-1)


class EntropyRegularizer(nn.Module):
    """AERO's Algorithm 1, with learnable per-head thresholds theta (layers x heads).

        E_max = log(T); tol = gamma * E_max
        per layer l and head h: delta_h = E_h - theta_lh * E_max; penalty_h = delta_h^2 if |delta_h| > tol else 0
        layer loss = mean over heads; L_entropy = mean over layers; the training loss adds lambda * L_entropy.

    mode "mean" (Algorithm 1 as written): E_h is the head's entropy averaged over query positions,
    E_h = -(1/T) sum_i sum_j A_ij log A_ij, computed per sequence; the penalty is averaged over the batch.
    mode "per_query" (the public companion code): the penalty is taken per query position, with E_h,i the entropy of
    row i, and summed over positions (then averaged over heads, layers and the batch as above).
    theta starts at `theta_init` (0.5: the target band is [0.3, 0.7] E_max at gamma 0.2; AERO does not state
    its initialisation). theta belongs to training, not to the model: inference never computes it.
    """

    def __init__(self, layers: int, heads: int, lam: float, gamma: float, mode: str = "mean",
                 theta_init: float = 0.5):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.lam, self.gamma, self.mode = float(lam), float(gamma), mode
        self.theta = nn.Parameter(torch.full((layers, heads), float(theta_init)))

    def penalty(self, entropies: list[torch.Tensor]) -> torch.Tensor:
        """L_entropy (without lambda) from per-layer row entropies, each (batch, heads, T)."""
        T = entropies[0].shape[-1]
        e_max = math.log(T)
        tol = self.gamma * e_max
        layers = []
        for theta, ent in zip(self.theta, entropies):
            if self.mode == "mean":
                delta = ent.mean(-1) - theta * e_max  # (batch, heads)
                pen = torch.where(delta.abs() > tol, delta.square(), torch.zeros_like(delta))
            else:
                delta = ent - theta[:, None] * e_max  # (batch, heads, T)
                pen = torch.where(delta.abs() > tol, delta.square(), torch.zeros_like(delta)).sum(-1)
            layers.append(pen.mean(-1))  # mean over heads -> (batch,)
        return torch.stack(layers).mean(0).mean()  # mean over layers, then over the batch

    def forward(self, entropies: list[torch.Tensor]) -> torch.Tensor:
        """lambda * L_entropy: the term added to the cross-entropy loss."""
        return self.lam * self.penalty(entropies)

