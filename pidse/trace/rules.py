"""What the trace recognises: aten ops and module classes -> pidse op kinds, linear roles from module names, and
the user's own additions (`--map FILE`).

Plain data and small functions, no torch: the classifier (pidse.trace.classify) reads them.
"""
from __future__ import annotations

import re
from pathlib import Path

from pidse.errors import InputError
from pidse.ops import ATTR_SYMBOLS, SHAPE_KEYS
from pidse.spec.load import is_file, read_mapping  # YAML/JSON with pidse's limits and one-line errors

# Ops that move, copy or select secret data without computing on it: local under secret sharing, no protocol and
# no cost (a view, a transpose, a gather at public positions, a negation, a sum of shares).
LOCAL = frozenset("""
    view _unsafe_view reshape _reshape_alias transpose t permute expand expand_as unsqueeze squeeze slice select
    split split_with_sizes chunk unbind cat stack clone contiguous alias detach _to_copy to copy copy_ lift_fresh
    lift_fresh_copy index_select index _unsafe_index gather repeat repeat_interleave flip roll narrow as_strided
    neg constant_pad_nd pad movedim flatten unflatten diagonal tril triu sum cumsum real imag view_as_real
    view_as_complex slice_scatter select_scatter index_put index_copy scatter masked_fill where fill zero zeros_like
    ones_like empty_like new_zeros new_empty new_ones full_like dropout native_dropout nan_to_num _assert_async
""".split())
# Elementwise and row-wise ops with their own kind.
ACTIVATIONS = {"aten.gelu": "gelu", "aten.relu": "relu", "aten.silu": "silu"}
SOFTMAX = frozenset(["aten._softmax", "aten._safe_softmax", "aten.softmax"])
MATMUL = frozenset(["aten.mm", "aten.addmm", "aten.bmm", "aten.baddbmm", "aten.matmul", "aten.linear", "aten.dot"])
NORMS = {"aten.native_layer_norm": "layernorm", "aten.layer_norm": "layernorm", "aten.rms_norm": "rmsnorm",
         "aten._fused_rms_norm": "rmsnorm"}

# Module classes whose forward is one op of a kind, whatever aten ops it decomposes into (GELU's tanh form).
# Matched on the class name, or any class it derives from; pidse's own trained model (pidse.train.layers) by its
# qualified name, with a handler that reads the module's settings.
MODULE_KINDS = {
    "GELU": "gelu", "GELUActivation": "gelu", "NewGELUActivation": "gelu", "FastGELUActivation": "gelu",
    "QuickGELUActivation": "gelu", "GELUTanh": "gelu", "PytorchGELUTanh": "gelu", "AccurateGELUActivation": "gelu",
    "BloomGelu": "gelu", "GELUPytorchTanh": "gelu",
    "SiLU": "silu", "SiLUActivation": "silu", "ReLU": "relu",
}
PIDSE_MODULES = frozenset({"pidse.train.layers.PolyGELU", "pidse.train.layers.Quad", "pidse.train.layers.ScoreNorm"})

# Linear roles (pidse.ops.roles: q, k, v read the layer's input, k, v and a gate read what the projection before
# them read) from the last part of a module's name. A fused projection takes the role of its first part.
ROLE_NAMES = {
    "q": ("q", "q_proj", "query", "wq", "q_lin", "to_q"),
    "k": ("k", "k_proj", "key", "wk", "k_lin", "to_k"),
    "v": ("v", "v_proj", "value", "wv", "v_lin", "to_v"),
    "qkv": ("c_attn", "qkv_proj", "query_key_value", "qkv", "wqkv", "in_proj", "w_pack"),
    "o": ("o", "o_proj", "out_proj", "wo", "out_lin", "to_out", "attn_out"),
    "up": ("up", "up_proj", "fc1", "c_fc", "fc_in", "w3", "dense_h_to_4h", "lin1", "wi"),
    "gate": ("gate", "gate_proj", "w1"),
    "gate_up": ("gate_up_proj", "gate_up", "w13"),
    "down": ("down", "down_proj", "fc2", "fc_out", "w2", "dense_4h_to_h", "lin2"),
    "fused": ("fused",), "router": ("router",),
}
AMBIGUOUS = ("c_proj", "dense", "proj", "out", "output")  # o in an attention module, down in an FFN
ROLE_OF = {alias: role for role, aliases in ROLE_NAMES.items() for alias in aliases}
ATTENTION_WORDS = ("attn", "attention")
FFN_WORDS = ("mlp", "ffn", "feed_forward", "feedforward", "intermediate", "moe", "expert")


def is_rotary(class_name: str) -> bool:
    """A module class that computes rotary angles (LlamaRotaryEmbedding, RoPE, pidse's Rotary): the values it
    makes (and its buffers) are tagged, and secret products with them are one rope op."""
    return bool(re.search(r"Rotary|rotary|RoPE|Rope(?![a-z])|^rope", class_name))


def role(name: str, in_attention: bool) -> tuple[str, str | None]:
    """(pidse role, the fused projection it stands for or None) of a linear layer called `name`. A fused
    Q/K/V projection is a Q projection (qkv 1, input_reused 0: the first to read the input), a fused gate and up
    projection an up projection."""
    last = re.sub(r"\d+$", "", name.rsplit(".", 1)[-1].lower()).rstrip("_") if name else ""
    found = ROLE_OF.get(last)
    if found == "qkv":
        return "q", "qkv"
    if found == "gate_up":
        return "up", "gate_up"
    if found:
        return found, None
    if last in AMBIGUOUS:
        return ("o" if in_attention else "down"), None
    return last or "linear", None


# ---- --map FILE ------------------------------------------------------------------------------------------------
# A kind the user may map an op or a module to: the ones sized by rows and columns (or batch, rows, columns), which
# the trace reads off the op's output; `local` says the op moves data only (no cost).
MAPPABLE = tuple(k for k, keys in SHAPE_KEYS.items() if keys in (("rows", "cols"), ("batch", "rows", "cols"))) \
    + ("local",)
MAP_KEYS = ("ops", "modules")
ATTR_RANGE = {"degree": (2, 32, False), "power": (2, 64, True), "top": (1, 4096, False)}  # as a spec allows them


def load_map(path) -> dict:
    """--map FILE: {"ops": {aten op: (kind, attrs)}, "modules": {class name: (kind, attrs)}}.

        ops:
          aten.sort: argmax           # an aten op (its name without overload, or with: aten.sort.default)
        modules:
          MyGate: silu                # a module class (its name, or module.qualified.Name)
          PolyAct: {kind: poly, degree: 3}
    """
    path = Path(path)
    if path.suffix not in (".yaml", ".yml", ".json"):
        raise InputError(path, None, "a --map file named *.yaml, *.yml or *.json")
    if not is_file(path):
        raise InputError(path, None, "an existing --map file (YAML naming op kinds: ops:, modules:)")
    data = read_mapping(path)
    unknown = [k for k in data if k not in MAP_KEYS]
    if unknown:
        raise InputError(path, str(unknown[0]), "one of " + ", ".join(MAP_KEYS))
    out = {}
    for section in MAP_KEYS:
        entries = data.get(section) or {}
        if not isinstance(entries, dict):
            raise InputError(path, section, "a mapping of names to op kinds", entries)
        out[section] = {}
        for name, entry in entries.items():
            where = f"{section}.{name}"
            if not isinstance(name, str) or not name or (section == "ops" and not name.startswith("aten.")):
                raise InputError(path, where, "an aten op name such as aten.sort" if section == "ops"
                                 else "a module class name", name)
            out[section][_map_key(name, section)] = _map_entry(path, where, entry)
    return out


def _map_key(name: str, section: str) -> str:
    if section == "ops" and name.count(".") >= 2:  # aten.sort.default -> aten.sort
        return name.rsplit(".", 1)[0]
    return name


def _map_entry(path, where: str, entry) -> tuple[str, dict]:
    if isinstance(entry, str):
        entry = {"kind": entry}
    if not isinstance(entry, dict) or "kind" not in entry:
        raise InputError(path, where, "an op kind (" + ", ".join(MAPPABLE) + ") or {kind: ..., ...}", entry)
    kind = entry["kind"]
    if kind not in MAPPABLE:
        raise InputError(path, f"{where}.kind", "one of " + ", ".join(MAPPABLE), kind)
    needed = ATTR_SYMBOLS.get(kind, ())
    attrs = {k: v for k, v in entry.items() if k != "kind"}
    for key in attrs:
        if key not in needed:
            raise InputError(path, f"{where}.{key}", f"only {', '.join(needed) or 'kind'} for {kind}")
    for key in needed:
        lo, hi, even = ATTR_RANGE[key]
        value = attrs.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi or (even and value % 2):
            raise InputError(path, f"{where}.{key}", f"an {'even ' if even else ''}integer from {lo} to {hi} "
                             f"({kind} needs its {key})", value)
    if kind == "poly":
        attrs["symbol"] = f"Poly{attrs['degree']}"
    return kind, attrs
