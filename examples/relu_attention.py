"""A custom PyTorch model to price with `pidse estimate examples/relu_attention.py:build -p sigma`.

A small decoder whose attention uses a ReLU instead of a softmax (Wortsman et al. 2023: relu(q.k / sqrt(d)) / L,
no exponentials and no row sums to invert, which is what makes it cheap under MPC) and whose FFN is gated by a
sigmoid (GLU). pidse recognises the ReLU, the products and the public scalings; the sigmoid is not in its op
vocabulary, so the estimate lists `aten.sigmoid` as unsupported and stops, until a --map file names its kind:

    pidse estimate examples/relu_attention.py:build -p sigma                       # lists aten.sigmoid, exit 2
    pidse estimate examples/relu_attention.py:build -p sigma --allow-unsupported   # priced without it, listed
    pidse estimate examples/relu_attention.py:build -p sigma --map examples/relu_attention_map.yaml

The causal mask is a registered buffer, as in nanoGPT: pidse builds small tensors for real, so it sees which
scores the mask keeps.
"""
import math

import torch
from torch import nn


class ReluAttention(nn.Module):
    def __init__(self, d: int, heads: int, max_context: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.o = nn.Linear(d, d)
        self.register_buffer("causal", torch.tril(torch.ones(max_context, max_context, dtype=torch.bool)))

    def forward(self, x):
        B, T, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=-1)
        q, k, v = (t.view(B, T, self.heads, d // self.heads).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-2, -1) / math.sqrt(d // self.heads)
        weights = torch.relu(scores).masked_fill(~self.causal[:T, :T], 0.0) / T  # ReLU, not softmax
        return self.o((weights @ v).transpose(1, 2).reshape(B, T, d))


class GatedFFN(nn.Module):
    def __init__(self, d: int, hidden: int):
        super().__init__()
        self.gate, self.up, self.down = nn.Linear(d, hidden), nn.Linear(d, hidden), nn.Linear(hidden, d)

    def forward(self, x):
        return self.down(torch.sigmoid(self.gate(x)) * self.up(x))


class Block(nn.Module):
    def __init__(self, d: int, heads: int, max_context: int):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = ReluAttention(d, heads, max_context)
        self.ffn = GatedFFN(d, 4 * d)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


class ReluLM(nn.Module):
    def __init__(self, vocab: int = 512, d: int = 128, heads: int = 4, layers: int = 2, max_context: int = 1024):
        super().__init__()
        self.tokens = nn.Embedding(vocab, d)
        self.positions = nn.Embedding(max_context, d)
        self.blocks = nn.ModuleList(Block(d, heads, max_context) for _ in range(layers))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)

    def forward(self, ids):
        x = self.tokens(ids) + self.positions(torch.arange(ids.shape[1], device=ids.device))
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


def build(context: int = 128) -> nn.Module:
    """The model pidse traces (it passes the context it traces: here it sizes the position table)."""
    return ReluLM(max_context=max(1024, context))
