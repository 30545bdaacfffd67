"""The op vocabulary graphs and cost tables share: op kinds, the shape symbols each is described by, and the
values a cost formula may use for one op (its shape, `elements`, a softmax's `kept`, a Power-Softmax's `power`,
a polynomial's `degree`, a router's `top`).

It sits below both the graph builder (pidse.model) and the protocol families (pidse.cost), which meet only here.
"""
from __future__ import annotations

import math
import sys

# kind -> the shape symbols it is described by.
SHAPE_KEYS = {
    "embedding": ("tokens", "vocab", "dim"),  # lookup of private token ids in a V x d table
    "linear": ("m", "k", "n"),  # secret activations (m x k) times server-held plaintext weights (k x n)
    "lm_head": ("m", "k", "n"),  # the vocabulary projection, a linear layer with n = V
    "matmul": ("batch", "m", "k", "n"),  # secret x secret: QK^T and A.V, batch = query heads
    "softmax": ("batch", "rows", "cols"),
    "power_softmax": ("batch", "rows", "cols"),
    "layernorm": ("rows", "cols"),
    "rmsnorm": ("rows", "cols"),
    "relu_softmax": ("batch", "rows", "cols"),  # MPCFormer's 2ReLU attention: relu(x) / sum relu(x) per row
    "gelu": ("rows", "cols"),
    "relu": ("rows", "cols"),
    "silu": ("rows", "cols"),
    "poly": ("rows", "cols"),  # a polynomial activation of degree `degree` (MPCFormer's Quad: degree 2)
    "mul": ("rows", "cols"),  # secret x secret elementwise product (gated FFN)
    "add": ("rows", "cols"),  # residual or position add
    "scale": ("rows", "cols"),  # multiply by public constants (1/sqrt(d_k), temperature, ScFFN alpha/beta)
    "rope": ("rows", "cols"),  # rotary position embedding: multiply by public cos/sin
    "argmax": ("rows", "cols"),  # choose the emitted token
    "topk": ("rows", "cols"),  # a mixture-of-experts router: choose `top` of `cols` expert logits per row
    "prune": ("batch", "rows", "cols", "kept"),  # token pruning: per sequence, keep `kept` of `rows` token rows
}
OP_KINDS = tuple(SHAPE_KEYS)
MAX_OPS = 200_000  # op-graph nodes a spec may have (pidse.spec.load.op_bound), about 1 KB and 20-100 us each
BLOCKS = ("embedding", "attention", "ffn", "norm", "head")
NORM_KINDS = ("layernorm", "rmsnorm")
# Where an op sits for depth-vectorised pricing: a model of L layers with its k deepest FFNs pruned runs the
# `fixed` ops once, the `layer` ops L times and the `ffn` ops L - k times.
PARTS = ("fixed", "layer", "ffn")
SCORE_KINDS = ("softmax", "power_softmax", "relu_softmax")


def part_count(part: str, layers, prune_last):
    """How many times a model of `layers` layers, its `prune_last` deepest FFNs pruned, runs an op of `part`
    (numbers, numpy arrays and sympy symbols alike)."""
    return {"fixed": 1, "layer": layers, "ffn": layers - prune_last}[part]


# Role symbols: 0/1 flags for protocols that treat ops of one kind differently by their place in the layer.
ROLE_SYMBOLS = {
    "linear": ("qkv", "input_reused"),  # qkv: an attention Q, K or V projection; input_reused: K, V (and a
                                        # gated FFN's gate) read the same input as the projection before them
    "matmul": ("scores",),  # 1 for Q K^T, 0 for A V
    "prune": ("sort",),  # 1: an oblivious sort keeps the top tokens (BOLT); 0: a threshold (CipherPrune)
}
# Symbols an op's attributes carry into its formulas: the exponent of a Power-Softmax (2 for 2Quad), the degree
# of a polynomial activation, the experts a router keeps.
ATTR_SYMBOLS = {"power_softmax": ("power",), "poly": ("degree",), "topk": ("top",)}


def formula_symbols(kind: str) -> set:
    """The size symbols a cost formula for `kind` may use (a table's constants come on top)."""
    extra = {"kept"} if kind in SCORE_KINDS else set()
    return (set(SHAPE_KEYS[kind]) | {"elements"} | extra | set(ROLE_SYMBOLS.get(kind, ()))
            | set(ATTR_SYMBOLS.get(kind, ())))


def causal_kept(rows, cols, window=None, positions=None):
    """Scores a causal mask keeps when the rows are the last `rows` of `cols` positions (query i of them sees
    cols - rows + i + 1 keys): rows * cols - rows (rows - 1) / 2; exact for ints and sympy symbols alike.

    With a sliding window of W keys the rows are the last of `positions` positions and query i sees
    min(positions - rows + i + 1, W): with a = positions - rows, the first c = clamp(W - a - 1, 0, rows) queries
    see a + i + 1 keys, the others W, so kept = c a + c (c + 1) / 2 + (rows - c) W."""
    if window is None:
        pairs = rows * (rows - 1)
        return rows * cols - (pairs // 2 if isinstance(pairs, int) else pairs / 2)
    a = positions - rows
    c = smallest(largest(window - a - 1, 0), rows)
    pairs = c * (c + 1)
    return c * a + (pairs // 2 if isinstance(pairs, int) or is_array(pairs) else pairs / 2) + (rows - c) * window


def is_array(value) -> bool:
    """Whether `value` is a numpy array: a size per decode step (pidse.steps). numpy is not imported to find out:
    no array exists before it is."""
    np = sys.modules.get("numpy")
    return np is not None and isinstance(value, np.ndarray)


def smallest(a, b):
    """min() for ints, per-step arrays and sympy expressions alike (a symbolic context against a window)."""
    if isinstance(a, int) and isinstance(b, int):
        return min(a, b)
    if is_array(a) or is_array(b):
        return sys.modules["numpy"].minimum(a, b)
    import sympy

    return sympy.Min(a, b)


def ceiling(x):
    """ceil() for numbers and sympy expressions alike (tokens kept by pruning a symbolic context)."""
    if isinstance(x, (int, float)):
        return math.ceil(x - 1e-9)  # 128 x 0.1 x 10 style products must not round up past the exact value
    import sympy

    return sympy.ceiling(x)


def largest(a, b):
    if isinstance(a, int) and isinstance(b, int):
        return max(a, b)
    if is_array(a) or is_array(b):
        return sys.modules["numpy"].maximum(a, b)
    import sympy

    return sympy.Max(a, b)


def shape_values(kind: str, shape: dict, attrs: dict | None = None) -> dict:
    """The symbols a formula may use for one op: its shape plus `elements` (the output elements) and, for a
    softmax, `kept` (the score elements its mask keeps: all of them unless the op is causal); a Power-Softmax
    adds its exponent `power`."""
    if kind in ("linear", "lm_head"):
        elements = shape["m"] * shape["n"]
    elif kind == "matmul":
        elements = shape["batch"] * shape["m"] * shape["n"]
    elif kind == "embedding":
        elements = shape["tokens"] * shape["dim"]
    else:
        elements = shape.get("batch", 1) * shape["rows"] * shape["cols"]
    attrs = attrs or {}
    values = {**shape, "elements": elements}
    if kind in ROLE_SYMBOLS:
        values.update(roles(kind, attrs))
    if kind in SCORE_KINDS:
        if attrs.get("causal", False):
            kept = causal_kept(shape["rows"], shape["cols"], attrs.get("window"), attrs.get("positions"))
            values["kept"] = shape["batch"] * kept
        else:
            values["kept"] = elements
    values.update({name: attrs[name] for name in ATTR_SYMBOLS.get(kind, ()) if name in attrs})
    return values


def roles(kind: str, attrs: dict) -> dict:
    """The role flags of one op (all 0 for an op outside the attention and FFN projections: a bare microbenchmark)."""
    role = attrs.get("role")
    if kind == "linear":
        return {"qkv": int(role in ("q", "k", "v")), "input_reused": int(role in ("k", "v", "gate"))}
    if kind == "prune":
        return {"sort": int(attrs.get("method") == "sort")}
    return {"scores": int(role == "scores")}
