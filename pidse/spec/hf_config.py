"""Reading a HuggingFace config for pidse/spec/hf.py: typed access to its keys (remembering which were used),
warnings about what a mapping ignores, refusals of what pidse cannot express, and the per-family facts the
readers need (activation names, default windows, mixture-of-experts keys)."""
from __future__ import annotations

import math

from pidse.errors import InputError
from pidse.schema import MAX_INT

ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu", "gelu_pytorch_tanh": "gelu", "gelu_fast": "gelu",
               "gelu_python": "gelu", "relu": "relu", "silu": "silu", "swish": "silu"}

# transformers' sliding_window where a config lacks the key (absent is not null: null means no window)
WINDOW_DEFAULTS = {"mistral": 4096, "qwen2": 4096, "qwen3": 4096, "gemma2": 4096}
LAYER_TYPES = ("full_attention", "sliding_attention")

# Mixture-of-experts families: (experts key, top-k key, the expert's intermediate size key), and the keys of
# training-only router settings (auxiliary loss, router logits output, jitter noise) that change no inference cost.
# Either family's expert count may be spelt num_experts or num_local_experts (transformers 5 writes the latter).
MOE = {"mixtral": ("num_local_experts", "num_experts_per_tok", "intermediate_size"),
       "qwen3_moe": ("num_experts", "num_experts_per_tok", "moe_intermediate_size")}
EXPERT_COUNT_KEYS = ("num_local_experts", "num_experts")
MOE_TRAINING = ("output_router_logits", "router_aux_loss_coef", "router_jitter_noise")


class HFConfigWarning(UserWarning):
    """A config field pidse ignores or cannot express, that could change a cost. `params`: the parameters the
    model has that pidse does not count (negative: pidse counts that many the model lacks)."""

    def __init__(self, message: str, params: int = 0):
        super().__init__(message)
        self.params = params


class HFConfig:
    """A HuggingFace config being mapped: typed reads of its keys (remembering which were used), warnings about
    what the mapping ignores, refusals of what pidse cannot express."""

    def __init__(self, cfg: dict, source: str):
        self.cfg, self.source, self.family = cfg, source, cfg.get("model_type")
        self.used: set[str] = set()
        self.notes: list[HFConfigWarning] = []

    def use(self, *keys: str) -> None:
        """Mark keys as read (or as known to change no cost in this family)."""
        self.used.update(keys)

    def get(self, key: str, default=..., kind=int, least: int = 1):
        """An integer, or (kind=float) a finite number; `default` where the key is absent or null (GPT-2's n_inner:
        null), else the key is required. An optional integer must be at least `least` (a size: 1), since a 0 there
        would otherwise read as its absence (GPT-2's n_inner: 0 is not 4 x n_embd); a required one goes as it is to
        validation, which names the spec key it sets and its limits."""
        self.use(key)
        if key not in self.cfg and default is ...:
            raise InputError(self.source, key, f"this key in a {self.family} config")
        value = self.cfg.get(key)
        if value is None and default is not ...:
            return default
        if kind is int:  # a required key set to null included
            if type(value) is not int:
                raise InputError(self.source, key, "an integer", value)
            if abs(value) > MAX_INT:
                raise InputError(self.source, key, f"an integer of at most 2^53 ({MAX_INT:,}) in size", value)
            if default is not ... and value < least:
                raise InputError(self.source, key, "a positive integer" if least == 1 else f"an integer >= {least}",
                                 value)
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InputError(self.source, key, "a finite number", value)
        return value

    def flag(self, key: str, default: bool) -> bool:
        self.use(key)
        value = self.cfg.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise InputError(self.source, key, "true or false", value)
        return value

    def activation(self, key: str, default: str) -> str:
        self.use(key)
        name = self.cfg.get(key)
        name = default if name is None else name
        if not isinstance(name, str) or name not in ACTIVATIONS:  # a list here must not become a TypeError
            raise InputError(self.source, key, "one of " + ", ".join(sorted(ACTIVATIONS)), name)
        return ACTIVATIONS[name]

    def refuse(self, key: str, expected: str) -> None:
        raise InputError(self.source, key, expected, self.cfg.get(key))

    def warn(self, key: str, text: str, params: int = 0) -> None:
        if params > 0:
            text += f" ({params:,} parameters not counted)"
        elif params < 0:
            text += f" ({-params:,} parameters counted that the model lacks)"
        self.notes.append(HFConfigWarning(f"{key}: {text}", params))

    def rotary_fraction(self, head_dim: int, default: float, legacy: str | None = None) -> float:
        """transformers 5 `rope_parameters.partial_rotary_factor`, else the transformers 4 key(s), else the
        family's default; as the share of whole rotated dims per head (transformers rotates int(dh * f))."""
        key, value = None, None
        for nested in ("rope_parameters", "rope_scaling"):
            rope = self.cfg.get(nested)
            self.use(nested)
            if isinstance(rope, dict) and rope.get("partial_rotary_factor") is not None:
                key, value = f"{nested}.partial_rotary_factor", rope["partial_rotary_factor"]
                break
        else:
            for flat in ("partial_rotary_factor", legacy):
                if flat and self.cfg.get(flat) is not None:
                    key, value = flat, self.cfg[flat]
                    break
        self.use("partial_rotary_factor", *([legacy] if legacy else []))
        if key is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            raise InputError(self.source, key, "a number in (0, 1]", value)
        rotated = int(head_dim * value)
        if head_dim <= 0:  # a bad size, which validation names
            return value
        if rotated == 0:
            raise InputError(self.source, key, f"a share of at least one of the head's {head_dim} dims", value)
        return value if rotated == head_dim * value else rotated / head_dim

    def window(self, layers: int, sliding: int, key: str, per_layer_types: bool = True,
               partial: str = "refuse") -> dict:
        """The attention section of a sliding window: {"window": W} when every layer slides, {} when none does.
        `sliding`: how many layers slide by the family's rule, which `key` sets; `layer_types` says instead where
        the family reads it (`per_layer_types`; Mistral's transformers class slides every layer whatever it says,
        so there it must agree). A window on some layers only (pidse has one for all) is an InputError naming the
        key that chose them, or with partial="warn" a warning and no window."""
        self.use("sliding_window", "layer_types")
        window = self.cfg.get("sliding_window", WINDOW_DEFAULTS.get(self.family))
        if window is not None and (type(window) is not int or window <= 0):
            raise InputError(self.source, "sliding_window", "a positive integer, or null (no window)", window)
        types = self.cfg.get("layer_types")
        if types is not None:
            if not (isinstance(types, list) and len(types) == layers and all(t in LAYER_TYPES for t in types)):
                self.refuse("layer_types", f"a list of {layers} items (num_hidden_layers), each one of "
                                           + ", ".join(LAYER_TYPES))
            if per_layer_types:
                sliding, key = types.count("sliding_attention"), "layer_types"
            elif window is not None and types.count("sliding_attention") != layers:
                self.refuse("layer_types", f"absent, or sliding_attention on every layer: transformers' "
                                           f"{self.family} applies sliding_window to all layers whatever "
                                           "layer_types says")
        sliding = min(max(sliding, 0), layers)
        if window is None or sliding == 0:
            return {}
        if sliding == layers:
            return {"window": window}
        if partial == "warn":
            self.warn("sliding_window", f"{window} on {sliding} of {layers} layers ignored: pidse attends over "
                                        f"every earlier position (attention costs differ for contexts over {window})")
            return {}
        raise InputError(self.source, key, f"a sliding window on all {layers} layers or on none (pidse has one "
                         f"attention.window for every layer; this config slides {sliding} of them)",
                         self.cfg.get(key, ...))

    def experts(self, data: dict) -> None:
        """A mixture-of-experts family's experts, top-k and expert size (MOE) into the spec mapping."""
        experts_key, top_key, size_key = MOE[self.family]
        self.use(*MOE_TRAINING, *EXPERT_COUNT_KEYS)
        spellings = (experts_key, *(k for k in EXPERT_COUNT_KEYS if k != experts_key))
        experts_key = next((k for k in spellings if self.cfg.get(k) is not None), experts_key)
        experts, top = self.get(experts_key), self.get(top_key)
        if experts < 2:
            self.refuse(experts_key, "at least 2 experts (pidse's mixture of experts)")
        if not 1 <= top <= experts:
            self.refuse(top_key, f"an integer from 1 to {experts_key} ({experts})")
        data["model"]["d_ff"] = self.get(size_key)
        data["ffn"].update(experts=experts, top_k=top)
