"""Shared inputs of the cost-table tests: a one-layer tiny spec and a hand-made cost table priced by hand.

The tiny spec (GPT-2 defaults: pre-LN LayerNorms, biases, softmax, GELU, learned positions, tied head) has
L=1, H=2, d=8 (head dim 4), d_ff=16, V=10, T=4. Its 18 ops, in execution order, with their shapes:
  embed.tokens     embedding  tokens=4 vocab=10 dim=8
  embed.positions  add        rows=4 cols=8
  L0.attn.norm     layernorm  rows=4 cols=8                 (32 elements)
  L0.attn.q/k/v    linear     m=4 k=8 n=8                   (x3)
  L0.attn.scores   matmul     batch=2 m=4 k=4 n=4           (Q K^T per head)
  L0.attn.scale    scale      rows=8 cols=4                 (H*T rows, 32 elements)
  L0.attn.softmax  softmax    batch=2 rows=4 cols=4         (32 elements)
  L0.attn.context  matmul     batch=2 m=4 k=4 n=4           (A V per head)
  L0.attn.o        linear     m=4 k=8 n=8
  L0.attn.residual add        rows=4 cols=8
  L0.ffn.norm      layernorm  rows=4 cols=8
  L0.ffn.up        linear     m=4 k=8 n=16
  L0.ffn.act       gelu       rows=4 cols=16                (64 elements)
  L0.ffn.down      linear     m=4 k=16 n=8
  L0.ffn.residual  add        rows=4 cols=8
  head.norm        layernorm  rows=1 cols=8                 (last position only)
  head.lm          lm_head    m=1 k=8 n=10
  head.argmax      argmax     rows=1 cols=10
"""
from __future__ import annotations

import copy
from pathlib import Path

from conftest import write_yaml

TINY1 = {
    "version": 1,
    "model": {"layers": 1, "heads": 2, "d_model": 8, "d_ff": 16, "vocab_size": 10, "max_context": 8},
    "inference": {"context": 4},
}


def entry(comm, rounds, compute, source="hand-made test entry", grade="estimate") -> dict:
    return {"comm_bytes": comm, "rounds": rounds, "compute_s": compute, "source": source, "grade": grade}


# A hand-made table with round numbers. Its default network, 8 Mbit/s and 10 ms, makes the network time of
# B bytes exactly B microseconds (8 * B / 8e6 s).
HAND = {
    "version": 1,
    "name": "hand",
    "parties": 2,
    "protocol": "hand-made test protocol",
    "network": {"name": "hand-net", "bandwidth_bps": 8.0e6, "rtt_s": 0.01, "source": "test"},
    "constants": {"w": 8},
    "ops": {
        "embedding": entry("2 * tokens * dim + vocab", 1, 0),
        "linear": entry("w * m * n", 2, "1e-6 * m * k * n"),
        "lm_head": entry("w * m * n + 100", 2, "1e-6 * m * k * n"),
        "matmul": entry("16 * batch * m * n", 3, "2e-6 * batch * m * k * n"),
        "softmax": entry("100 * elements", "2 * log2(cols) + 1", "1e-4 * batch * rows"),
        "layernorm": entry("50 * elements + 10 * rows", "ceil(log2(cols))", 0),
        "rmsnorm": entry("40 * elements", 3, 0),
        "gelu": entry("200 * elements", 4, "1e-5 * elements"),
        "relu": entry("90 * elements", 2, 0),
        "silu": entry("300 * elements", 5, 0),
        "add": entry(0, 0, 0, grade="derived"),
        "scale": entry("8 * elements", 1, 0),
        "rope": entry("8 * elements", 1, 0),
        "argmax": entry("max(cols - 1, 0) * 90", "ceil(log2(cols))", 0),
        # no `mul`: a gated FFN (SwiGLU) cannot be priced with this table
    },
}

# The hand table on the tiny spec, op by op: (comm_bytes, rounds, compute_s).
HAND_TINY = {
    "embed.tokens": (2 * 4 * 8 + 10, 1, 0),  # 74 B
    "embed.positions": (0, 0, 0),
    "L0.attn.norm": (50 * 32 + 10 * 4, 3, 0),  # 1640 B; ceil(log2(8)) = 3 rounds
    "L0.attn.q": (8 * 4 * 8, 2, 1e-6 * 4 * 8 * 8),  # 256 B, 2.56e-4 s
    "L0.attn.k": (256, 2, 2.56e-4),
    "L0.attn.v": (256, 2, 2.56e-4),
    "L0.attn.scores": (16 * 2 * 4 * 4, 3, 2e-6 * 2 * 4 * 4 * 4),  # 512 B, 2.56e-4 s
    "L0.attn.scale": (8 * 32, 1, 0),  # 256 B
    "L0.attn.softmax": (100 * 32, 2 * 2 + 1, 1e-4 * 2 * 4),  # 3200 B, 5 rounds, 8e-4 s
    "L0.attn.context": (512, 3, 2.56e-4),
    "L0.attn.o": (256, 2, 2.56e-4),
    "L0.attn.residual": (0, 0, 0),
    "L0.ffn.norm": (1640, 3, 0),
    "L0.ffn.up": (8 * 4 * 16, 2, 1e-6 * 4 * 8 * 16),  # 512 B, 5.12e-4 s
    "L0.ffn.act": (200 * 64, 4, 1e-5 * 64),  # 12800 B, 6.4e-4 s
    "L0.ffn.down": (8 * 4 * 8, 2, 1e-6 * 4 * 16 * 8),  # 256 B, 5.12e-4 s
    "L0.ffn.residual": (0, 0, 0),
    "head.norm": (50 * 8 + 10 * 1, 3, 0),  # 410 B
    "head.lm": (8 * 1 * 10 + 100, 2, 1e-6 * 1 * 8 * 10),  # 180 B, 8e-5 s
    "head.argmax": (9 * 90, 4, 0),  # 810 B; ceil(log2(10)) = 4 rounds
}
# Totals, summed by hand from the lines above:
#   comm    74 + 1640 + 4*256 + 2*512 + 256 + 3200 + 1640 + 512 + 12800 + 256 + 410 + 180 + 810 = 23,826 B
#   rounds  1 + 3 + 4*2 + 3 + 1 + 5 + 3 + 3 + 2 + 4 + 2 + 3 + 2 + 4 = 44
#   compute 4*2.56e-4 + 2*2.56e-4 + 8e-4 + 2*5.12e-4 + 6.4e-4 + 8e-5 = 4.08e-3 s
#   latency on the table's network: 4.08e-3 + 23,826e-6 + 44 * 0.01 = 0.467906 s
HAND_TOTALS = {"comm_bytes": 23_826, "rounds": 44, "compute_s": 4.08e-3, "latency_s": 0.467906}


def hand_table(tmp_path: Path, name: str = "hand.yaml", **top) -> Path:
    """The hand table, with top-level keys replaced by `top` (a value of None deletes the key)."""
    data = copy.deepcopy(HAND)
    for key, value in top.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return write_yaml(tmp_path / name, data)


def tiny_spec(tmp_path: Path, name: str = "tiny1.yaml") -> Path:
    return write_yaml(tmp_path / name, TINY1)


def assert_priced_by_hand(row: dict, comm, rounds, compute) -> None:
    """One op priced on an 8 bit/s network with no RTT (so latency = compute + bytes) against a hand
    derivation: bytes, rounds, compute and latency."""
    import pytest

    assert row["comm_bytes"] == pytest.approx(comm, rel=1e-6, abs=1e-6)
    assert row["rounds"] == rounds
    assert row["compute_s"] == pytest.approx(compute, rel=1e-3, abs=1e-12)
    assert row["latency_s"] == pytest.approx(compute + comm, rel=1e-6, abs=1e-6)
