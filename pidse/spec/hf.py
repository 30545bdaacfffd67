"""Map a HuggingFace `config.json` (GPT-2, GPT-NeoX/Pythia, Llama/Mistral families) to a spec mapping, offline."""
from __future__ import annotations

from pidse.errors import InputError

ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu", "gelu_pytorch_tanh": "gelu", "gelu_fast": "gelu",
               "relu": "relu", "silu": "silu", "swish": "silu"}


class _Config:
    def __init__(self, cfg: dict, source: str):
        self.cfg, self.source = cfg, source

    def get(self, key: str, default=..., kind=int):
        if key not in self.cfg and default is ...:
            raise InputError(self.source, key, f"this key in a {self.cfg.get('model_type')} config")
        value = self.cfg.get(key)
        if value is None and default is not ...:  # absent or null (GPT-2's n_inner: null): the default
            return default
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not (type(value) is int if kind is int else is_number):  # a required key set to null included
            raise InputError(self.source, key, "an integer" if kind is int else "a number", value)
        return value

    def activation(self, key: str, default: str) -> str:
        name = self.cfg.get(key, default)
        if not isinstance(name, str) or name not in ACTIVATIONS:  # a list here must not become a TypeError
            raise InputError(self.source, key, "one of " + ", ".join(sorted(ACTIVATIONS)), name)
        return ACTIVATIONS[name]


def _gpt2(c: _Config) -> dict:
    d = c.get("n_embd")
    return {
        "model": {"layers": c.get("n_layer"), "heads": c.get("n_head"), "d_model": d,
                  "d_ff": c.get("n_inner", None) or 4 * d, "vocab_size": c.get("vocab_size"),
                  "max_context": c.get("n_positions")},
        "ffn": {"activation": c.activation("activation_function", "gelu_new")},
        "embeddings": {"positions": "learned", "tied_head": bool(c.cfg.get("tie_word_embeddings", True))},
    }


def _gpt_neox(c: _Config) -> dict:
    return {
        "model": {"layers": c.get("num_hidden_layers"), "heads": c.get("num_attention_heads"),
                  "d_model": c.get("hidden_size"), "d_ff": c.get("intermediate_size"),
                  "vocab_size": c.get("vocab_size"), "max_context": c.get("max_position_embeddings"),
                  "parallel_residual": bool(c.cfg.get("use_parallel_residual", True))},
        "ffn": {"activation": c.activation("hidden_act", "gelu")},
        "embeddings": {"positions": "rotary", "rotary_fraction": c.get("rotary_pct", 1.0, kind=float),
                       "tied_head": bool(c.cfg.get("tie_word_embeddings", False))},
    }


def _llama(c: _Config) -> dict:
    return {
        "model": {"layers": c.get("num_hidden_layers"), "heads": c.get("num_attention_heads"),
                  "kv_heads": c.get("num_key_value_heads", None), "head_dim": c.get("head_dim", None),
                  "d_model": c.get("hidden_size"), "d_ff": c.get("intermediate_size"),
                  "vocab_size": c.get("vocab_size"), "max_context": c.get("max_position_embeddings"),
                  "bias": bool(c.cfg.get("attention_bias", False) or c.cfg.get("mlp_bias", False))},
        "norm": {"kind": "rmsnorm"},
        "ffn": {"activation": c.activation("hidden_act", "silu"), "gated": True},
        "embeddings": {"positions": "rotary", "tied_head": bool(c.cfg.get("tie_word_embeddings", False))},
    }


FAMILIES = {"gpt2": _gpt2, "gpt_neox": _gpt_neox, "llama": _llama, "mistral": _llama}


def spec_mapping_from_hf_config(cfg: dict, source: str) -> dict:
    """A spec mapping (ready for validation) from a HuggingFace config dict."""
    family = cfg.get("model_type")
    if not isinstance(family, str) or family not in FAMILIES:
        raise InputError(source, "model_type", "a supported HuggingFace family: " + ", ".join(FAMILIES), family)
    data = FAMILIES[family](_Config(cfg, source))
    data["model"] = {k: v for k, v in data["model"].items() if v is not None}
    name = str(cfg.get("_name_or_path") or "").rstrip("/").split("/")[-1]
    data.update(version=1, description=f"mapped from HuggingFace {family} config {source}")
    if name:
        data["name"] = name
    return data
