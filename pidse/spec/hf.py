"""Map a HuggingFace `config.json` to a spec mapping, offline (no transformers needed).

Families: gpt2, gpt_neox (Pythia), llama, mistral, qwen2, qwen3, gemma, gemma2, phi, phi3, opt, falcon, the
mixtures of experts mixtral and qwen3_moe, and the encoders bert and roberta; configs as published on the Hub
(transformers 4) or as transformers 5 writes them (`rope_parameters`, `layer_types`).

Sliding windows: a `sliding_window` that every layer uses (Mistral, Mixtral, Phi-3; Qwen2/Qwen3 with
`use_sliding_window` and `max_window_layers` 0) is `attention.window`; a window that the config switches off
(`use_sliding_window: false`, `max_window_layers` >= the layers, `sliding_window: null`) is none. pidse has one
window for every layer, so a window on some layers only is an InputError naming the key that chose them
(`max_window_layers`, `layer_types`), except Gemma-2, whose alternate sliding layers are its architecture: that
window is warned about and ignored (costs differ only for contexts over the window).

Mixtures of experts (MOE below): experts, top-k and the expert's intermediate size map to ffn.experts, ffn.top_k
and model.d_ff, with Mixtral's router (a softmax over the top-k logits). Shared experts (qwen2_moe, DeepSeek)
and dense layers among sparse ones (`mlp_only_layers`, `decoder_sparse_step`) are InputErrors.

pidse has one `model.bias` flag (every linear layer and every LayerNorm has a bias, or none has) and a fixed
block (norm, attention, norm, FFN). Where a model differs, the mapping never counts a parameter the model lacks
without saying so: it maps what pidse can express and warns, one line per difference (an `HFConfigWarning` whose
`params` is how many parameters the model has that pidse does not count; negative: counted but absent), about
every config field that is ignored and could change a cost. Structures pidse cannot approximate at all (cross-
attention, OPT's embedding projection, pruned heads) end in an InputError naming the key.

Exact without a warning (no count changes): post-LN placement (OPT-350m, BERT: the norm count is what costs; see
arch_specs/bert_base.yaml), fused projections (Phi-3's qkv_proj and gate_up_proj, Falcon's query_key_value),
rope scaling variants (public frequencies), attention scale constants (query_pre_attn_scalar, GPT-2's
scale_attn_*), Gemma's RMSNorm (1 + w) and its sqrt(d) embedding scale (a public multiply), Falcon's
apply_residual_connection_post_layernorm. Dropout, token ids, dtypes, epsilons and other training or generation
settings change no cost.

Encoders (bert, roberta) map like arch_specs/bert_base.yaml: a LayerNorm after the embeddings and two per layer,
no final norm, non-causal attention, and pidse's tied LM head over the last position (no parameters). Their
parameter count is that of transformers' `BertModel(config, add_pooling_layer=False)` (the encoder without the
pooler and without the MLM head's transform) less the token-type embeddings (warned).

The inference context defaults to 128 tokens like the shipped YAML specs (capped at the model's maximum);
`--context` or `--set inference.context=...` chooses another.
"""
from __future__ import annotations

import math
import re
import warnings
from pathlib import Path

from pidse.errors import InputError, cut, short
from pidse.schema import MAX_INT

ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu", "gelu_pytorch_tanh": "gelu", "gelu_fast": "gelu",
               "gelu_python": "gelu", "relu": "relu", "silu": "silu", "swish": "silu"}
DEFAULT_CONTEXT = 128  # the shipped YAML specs' inference.context

# Keys that change no inference cost in any family: ids, dtypes, dropout, init, epsilons, rope frequencies,
# generation defaults and other bookkeeping.
HARMLESS = frozenset("""
    _name_or_path architectures auto_map model_type transformers_version torch_dtype dtype use_cache
    bos_token_id eos_token_id pad_token_id sep_token_id decoder_start_token_id
    initializer_range init_std layer_norm_eps layer_norm_epsilon rms_norm_eps rope_theta rotary_emb_base
    rope_scaling rope_parameters attention_dropout attn_pdrop embd_pdrop resid_pdrop hidden_dropout dropout
    hidden_dropout_prob attention_probs_dropout_prob activation_dropout classifier_dropout layerdrop
    gradient_checkpointing id2label label2id num_labels problem_type finetuning_task tokenizer_class prefix
    task_specific_params return_dict output_attentions output_hidden_states torchscript use_bfloat16
    tf_legacy_loss chunk_size_feed_forward is_encoder_decoder tie_encoder_decoder cross_attention_hidden_size
    is_decoder add_cross_attention pruned_heads _attn_implementation _attn_implementation_autoset _commit_hash
    cache_implementation pretraining_tp original_max_position_embeddings
    max_length min_length max_new_tokens do_sample early_stopping num_beams num_beam_groups diversity_penalty
    temperature top_k top_p typical_p repetition_penalty length_penalty no_repeat_ngram_size
    encoder_no_repeat_ngram_size bad_words_ids num_return_sequences output_scores return_dict_in_generate
    forced_bos_token_id forced_eos_token_id remove_invalid_values exponential_decay_length_penalty
    suppress_tokens begin_suppress_tokens
""".split())


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

# Families pidse knows it cannot price: the key that shows why, and what pidse would need.
REFUSED = {
    "qwen2_moe": ("shared_expert_intermediate_size", "no shared expert (pidse's mixture of experts has only routed "
                                                     "experts; qwen2_moe adds a gated shared expert to every layer)"),
    "deepseek_v2": ("n_shared_experts", "no shared expert (pidse's mixture of experts has only routed experts)"),
    "deepseek_v3": ("n_shared_experts", "no shared expert (pidse's mixture of experts has only routed experts)"),
}


class HFConfigWarning(UserWarning):
    """A config field pidse ignores or cannot express, that could change a cost. `params`: the parameters the
    model has that pidse does not count (negative: pidse counts that many the model lacks)."""

    def __init__(self, message: str, params: int = 0):
        super().__init__(message)
        self.params = params


class _Config:
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


def _decoder_sizes(c: _Config, head_dim_default=None) -> dict:
    """The sizes of a Llama-like config (hidden_size, num_hidden_layers, ...)."""
    d, heads = c.get("hidden_size"), c.get("num_attention_heads")
    return {"layers": c.get("num_hidden_layers"), "heads": heads,
            "kv_heads": c.get("num_key_value_heads", None), "head_dim": c.get("head_dim", head_dim_default),
            "d_model": d, "d_ff": c.get("intermediate_size"), "vocab_size": c.get("vocab_size"),
            "max_context": c.get("max_position_embeddings")}


def _dims(m: dict) -> tuple[int, int, int, int, int, int]:
    """(layers, d_model, d_ff, heads, kv_heads, head_dim) of a model section."""
    heads = m["heads"]
    kv = m.get("kv_heads") or heads
    dh = m.get("head_dim") or m["d_model"] // max(heads, 1)  # heads <= 0: validation names model.heads
    return m["layers"], m["d_model"], m["d_ff"], heads, kv, dh


def _attention_biases(m: dict, out_proj: bool = True) -> int:
    L, d, _, H, KV, dh = _dims(m)
    return L * ((H + 2 * KV) * dh + (d if out_proj else 0))


def _gpt2(c: _Config) -> dict:
    c.use("n_ctx", "scale_attn_weights", "scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn",
          "summary_type", "summary_use_proj", "summary_activation", "summary_proj_to_labels",
          "summary_first_dropout", "n_special", "predict_special_tokens")
    d = c.get("n_embd")
    return {
        "model": {"layers": c.get("n_layer"), "heads": c.get("n_head"), "d_model": d,
                  "d_ff": c.get("n_inner", None) or 4 * d, "vocab_size": c.get("vocab_size"),
                  "max_context": c.get("n_positions")},
        "ffn": {"activation": c.activation("activation_function", "gelu_new")},
        "embeddings": {"positions": "learned", "tied_head": c.flag("tie_word_embeddings", True)},
    }


def _gpt_neox(c: _Config) -> dict:
    m = {"layers": c.get("num_hidden_layers"), "heads": c.get("num_attention_heads"),
         "d_model": c.get("hidden_size"), "d_ff": c.get("intermediate_size"), "vocab_size": c.get("vocab_size"),
         "max_context": c.get("max_position_embeddings"),
         "parallel_residual": c.flag("use_parallel_residual", True)}
    L, d, dff, *_, dh = _dims(m)
    m["bias"] = c.flag("attention_bias", True)  # query_key_value and dense; the MLP and LayerNorms always have one
    if not m["bias"]:
        c.warn("attention_bias", "false leaves GPT-NeoX's MLP and LayerNorm biases, which pidse drops with the "
                                 "attention biases (model.bias: false)", L * (dff + d) + (2 * L + 1) * d)
    return {
        "model": m,
        "ffn": {"activation": c.activation("hidden_act", "gelu")},
        "embeddings": {"positions": "rotary", "rotary_fraction": c.rotary_fraction(dh, 0.25, "rotary_pct"),
                       "tied_head": c.flag("tie_word_embeddings", False)},
    }


def _llama_like(c: _Config, head_dim_default=None, tied: bool = False, activation=("hidden_act", "silu")) -> dict:
    m = _decoder_sizes(c, head_dim_default)
    return {
        "model": m,
        "norm": {"kind": "rmsnorm"},
        "ffn": {"activation": c.activation(*activation), "gated": True},
        "embeddings": {"positions": "rotary", "rotary_fraction": c.rotary_fraction(_dims(m)[5], 1.0),
                       "tied_head": c.flag("tie_word_embeddings", tied)},
    }


def _split_biases(c: _Config, m: dict, attention: bool, mlp: bool) -> None:
    """model.bias from separate attention and MLP bias flags (RMSNorm models: norms have no bias either way)."""
    m["bias"] = attention and mlp
    L, _, dff, *_ = _dims(m)
    if attention and not mlp:
        c.warn("attention_bias", "true without mlp_bias: pidse has one bias flag for all linear layers, so the "
                                 "q, k, v, o biases are dropped (model.bias: false)", _attention_biases(m))
    if mlp and not attention:
        c.warn("mlp_bias", "true without attention_bias: pidse has one bias flag for all linear layers, so the "
                           "gate, up, down biases are dropped (model.bias: false)", L * (2 * dff + m["d_model"]))


def _llama(c: _Config) -> dict:
    data = _llama_like(c)
    _split_biases(c, data["model"], c.flag("attention_bias", False), c.flag("mlp_bias", False))
    return data


def _mistral(c: _Config) -> dict:
    """Mistral and Mixtral: Llama without bias flags (no biases at all), a window on every layer or none."""
    data = _llama_like(c)
    data["model"]["bias"] = False
    L = data["model"]["layers"]
    data["attention"] = c.window(L, L, "sliding_window", per_layer_types=False)
    if c.family in MOE:
        c.experts(data)
    return data


def _qwen_window(c: _Config, data: dict) -> None:
    """Qwen2/Qwen3: a window only with use_sliding_window, on the layers from max_window_layers on."""
    c.use("sliding_window", "layer_types", "max_window_layers")
    if c.flag("use_sliding_window", False):
        L = data["model"]["layers"]
        data["attention"] = c.window(L, L - c.get("max_window_layers", 28, least=0), "max_window_layers")


def _qwen2(c: _Config) -> dict:
    data = _llama_like(c)
    m = data["model"]
    m["bias"] = False
    c.warn("model_type", "qwen2 has biases on q, k, v (not o, not the MLP); pidse's one bias flag is false",
           _attention_biases(m, out_proj=False))
    _qwen_window(c, data)
    return data


def _qwen3(c: _Config) -> dict:
    data = _llama_like(c, head_dim_default=128)
    m = data["model"]
    _split_biases(c, m, c.flag("attention_bias", False), False)
    L, *_, dh = _dims(m)
    c.warn("model_type", f"{c.family} applies RMSNorm to each head's q and k (QK-norm): 2 x {L} RMSNorms over "
                         f"{dh}-dim heads not modelled", 2 * L * dh)
    if c.family == "qwen3_moe":
        _qwen3_moe(c, data)
    else:
        _qwen_window(c, data)
    return data


def _qwen3_moe(c: _Config, data: dict) -> None:
    """Qwen3-MoE: Qwen3 with a mixture of experts in every layer; no sliding window."""
    c.use("sliding_window", "max_window_layers", "layer_types")
    if c.flag("use_sliding_window", False):
        c.refuse("use_sliding_window", "false (transformers 5 slides every qwen3_moe layer and ignores "
                                       "max_window_layers, which transformers 4 configs set: pidse cannot tell "
                                       "which layers the config means)")
    for key, value, expected in (("decoder_sparse_step", 1, "1 (every layer a mixture of experts)"),
                                 ("mlp_only_layers", [], "[] (pidse gives every layer the same FFN)")):
        if c.cfg.get(key) not in (None, value):
            c.refuse(key, expected)
        c.use(key)
    c.experts(data)
    if not c.flag("norm_topk_prob", False):
        c.warn("norm_topk_prob", f"false: the gates are a softmax over all {data['ffn']['experts']} router logits, "
                                 f"pidse prices Mixtral's softmax over the top {data['ffn']['top_k']}")


def _gemma(c: _Config) -> dict:
    key = "hidden_activation" if c.cfg.get("hidden_activation") is not None else "hidden_act"
    c.use("hidden_act", "hidden_activation")
    data = _llama_like(c, head_dim_default=256, tied=True, activation=(key, "gelu_pytorch_tanh"))
    m = data["model"]
    _split_biases(c, m, c.flag("attention_bias", False), False)
    if c.flag("use_bidirectional_attention", False):
        data["attention"] = {"causal": False}
    if c.family == "gemma2":
        L, d, *_ = _dims(m)
        c.warn("model_type", f"gemma2 adds an RMSNorm after attention and after the FFN: 2 x {L} RMSNorms not "
                             f"modelled", 2 * L * d)
        c.use("query_pre_attn_scalar")  # the score scale's constant: the same op
        cap = c.get("attn_logit_softcapping", 50.0, kind=float)
        if cap:
            c.warn("attn_logit_softcapping", f"{cap} ignored: tanh soft-capping of every attention score "
                                             f"(a tanh and two scalings over H x T x T per layer) not modelled")
        cap = c.get("final_logit_softcapping", 30.0, kind=float)
        if cap:
            c.warn("final_logit_softcapping", f"{cap} ignored: tanh soft-capping of the "
                                              f"{m['vocab_size']:,} logits not modelled")
        # even layers slide (transformers 4), or as layer_types says: the alternation is Gemma-2's architecture,
        # so it is warned about, not refused (costs differ only for contexts over the window)
        data["attention"] = {**data.get("attention", {}), **c.window(L, (L + 1) // 2, "sliding_window",
                                                                       partial="warn")}
    return data


def _phi(c: _Config) -> dict:
    m = _decoder_sizes(c)
    m.update(bias=True, parallel_residual=True)
    L, d, _, H, _, dh = _dims(m)
    c.warn("model_type", "phi shares one LayerNorm between attention and the FFN (norm.ffn: false): same ops and "
                         "parameters, but pidse's FFN reads the un-normalised stream (HE depth one LayerNorm short)")
    c.warn("model_type", f"phi's LM head has a bias: its add over the {m['vocab_size']:,} logits not modelled",
           m["vocab_size"])
    if c.flag("qk_layernorm", False):
        c.warn("qk_layernorm", f"true ignored: 2 x {L} LayerNorms over each head's q and k not modelled",
               L * 2 * 2 * (d // max(H, 1)))
    return {
        "model": m,
        "norm": {"ffn": False},
        "ffn": {"activation": c.activation("hidden_act", "gelu_new")},
        "embeddings": {"positions": "rotary", "rotary_fraction": c.rotary_fraction(dh, 0.5),
                       "tied_head": c.flag("tie_word_embeddings", False)},
    }


def _phi3(c: _Config) -> dict:
    data = _llama_like(c)
    data["model"]["bias"] = False
    c.use("attention_bias")  # Phi3's projections have no biases whatever this says
    L = data["model"]["layers"]
    data["attention"] = c.window(L, L, "sliding_window", per_layer_types=False)
    return data


def _opt(c: _Config) -> dict:
    d = c.get("hidden_size")
    if c.get("word_embed_proj_dim", None) not in (None, d):
        c.refuse("word_embed_proj_dim", f"hidden_size ({d}): pidse has no projection between the embeddings and "
                                        "the layers")
    m = {"layers": c.get("num_hidden_layers"), "heads": c.get("num_attention_heads"), "d_model": d,
         "d_ff": c.get("ffn_dim"), "vocab_size": c.get("vocab_size"), "max_context": c.get("max_position_embeddings"),
         "bias": c.flag("enable_bias", True)}
    pre_ln = c.flag("do_layer_norm_before", True)  # post-LN (OPT-350m): same norms, and no final one
    final = not c.flag("_remove_final_layer_norm", False) and pre_ln
    L = m["layers"]
    affine = c.flag("layer_norm_elementwise_affine", True)
    model_ln, pidse_ln = (2 * d if affine else 0), (2 * d if m["bias"] else d)
    if model_ln != pidse_ln:  # pidse's LayerNorms have a bias exactly when its linear layers do
        key = "enable_bias" if affine else "layer_norm_elementwise_affine"
        c.warn(key, f"false: OPT's LayerNorms have {model_ln // d} x hidden_size parameters each, pidse's "
                    f"{pidse_ln // d} x", (2 * L + final) * (model_ln - pidse_ln))
    return {
        "model": m,
        "norm": {"final": final},
        "ffn": {"activation": c.activation("activation_function", "relu")},
        "embeddings": {"positions": "learned", "tied_head": c.flag("tie_word_embeddings", True),
                       "position_offset": 2},  # OPT's learned positions start at row 2
    }


def _falcon(c: _Config) -> dict:
    d, heads = c.get("hidden_size"), c.get("num_attention_heads")
    new = c.flag("new_decoder_architecture", False)
    parallel_attn = c.flag("parallel_attn", True)
    if new:
        kv = c.get("num_kv_heads", None) or heads
    else:
        c.use("num_kv_heads")  # transformers 5 writes num_kv_heads = heads; multi_query decides
        kv = 1 if c.flag("multi_query", True) else heads
    c.use("multi_query")
    m = {"layers": c.get("num_hidden_layers"), "heads": heads, "kv_heads": kv, "d_model": d,
         "d_ff": c.get("ffn_hidden_size", None) or 4 * d, "vocab_size": c.get("vocab_size"),
         "max_context": c.get("max_position_embeddings", 2048), "bias": c.flag("bias", False),
         "parallel_residual": new or parallel_attn}
    c.use("apply_residual_connection_post_layernorm")  # the residual taken after the norm: the same ops
    ln_count = c.get("num_ln_in_parallel_attn", None) or (2 if new else 1)
    shared = parallel_attn and ln_count == 1  # one input_layernorm feeds attention and the MLP
    L = m["layers"]
    if shared:
        c.warn("parallel_attn", "falcon shares one LayerNorm between attention and the MLP (norm.ffn: false): same "
                                "ops and parameters, but pidse's MLP reads the un-normalised stream (HE depth one "
                                "LayerNorm short)")
    if not m["bias"]:
        c.warn("bias", "false leaves Falcon's LayerNorm biases, which pidse drops with the linear biases",
               (L * (1 if shared else 2) + 1) * d)
    data = {"model": m, "ffn": {"activation": c.activation("activation", "gelu")},
            "embeddings": {"tied_head": c.flag("tie_word_embeddings", True)}}
    if shared:
        data["norm"] = {"ffn": False}
    if c.flag("alibi", False):
        data["embeddings"]["positions"] = "none"
        c.warn("alibi", "true: ALiBi's per-head linear bias on every attention score (an add over H x T x T per "
                        "layer) not modelled; positions: none")
    else:
        data["embeddings"].update(positions="rotary", rotary_fraction=c.rotary_fraction(d // max(heads, 1), 1.0))
    return data


def _bert(c: _Config) -> dict:
    d = c.get("hidden_size")
    rows = c.get("max_position_embeddings")
    m = {"layers": c.get("num_hidden_layers"), "heads": c.get("num_attention_heads"), "d_model": d,
         "d_ff": c.get("intermediate_size"), "vocab_size": c.get("vocab_size"), "max_context": rows, "bias": True}
    offset = 0
    if c.family == "roberta":  # positions start after the padding index: the first pad + 1 rows are never used
        offset = c.get("pad_token_id", 1, least=0) + 1
        m["max_context"] = rows - offset
    types = c.get("type_vocab_size", 2, least=0)  # segment embeddings: parameters (their lookup is public, folded in)
    kind = c.cfg.get("position_embedding_type", "absolute")
    c.use("position_embedding_type")
    if kind not in (None, "absolute"):
        c.warn("position_embedding_type", f"{short(kind)} ignored: relative position terms in every attention layer "
                                          "not modelled (pidse counts absolute learned positions)")
    return {
        "model": m,
        "norm": {"kind": "layernorm", "embedding": True, "attention": True, "ffn": True, "final": False},
        "attention": {"causal": c.flag("is_decoder", False)},
        "ffn": {"activation": c.activation("hidden_act", "gelu")},
        "embeddings": {"positions": "learned", "tied_head": c.flag("tie_word_embeddings", True),
                       "token_types": types, "position_offset": offset},
    }


FAMILIES = {"gpt2": _gpt2, "gpt_neox": _gpt_neox, "llama": _llama, "mistral": _mistral, "mixtral": _mistral,
            "qwen2": _qwen2, "qwen3": _qwen3, "qwen3_moe": _qwen3, "gemma": _gemma, "gemma2": _gemma, "phi": _phi,
            "phi3": _phi3, "opt": _opt, "falcon": _falcon, "bert": _bert, "roberta": _bert}


def _name(cfg: dict, source: str, family: str, model: dict) -> str:
    """The model's name: `_name_or_path`'s last part, else the folder of a config.json (the model's name in a
    Hub cache: models--org--NAME/snapshots/HASH), else the file's own name, else family and sizes."""
    named = cfg.get("_name_or_path")
    if isinstance(named, str) and named.strip("/. "):
        return cut(named.rstrip("/").split("/")[-1], 120)
    path = Path(source)
    if path.name != "config.json":
        return path.stem
    for folder in path.resolve().parents:
        if folder.name.startswith("models--"):
            return folder.name.split("--")[-1]
        if not re.fullmatch(r"[0-9a-f]{40}|snapshots", folder.name):
            if folder.name:
                return folder.name
            break
    return f"{family}-{model['layers']}L-{model['d_model']}d"


def map_hf_config(cfg: dict, source: str) -> tuple[dict, list[HFConfigWarning]]:
    """A spec mapping (ready for validation) from a HuggingFace config dict, and the warnings about what the
    mapping ignores or cannot express (not yet issued)."""
    family = cfg.get("model_type")
    if isinstance(family, str) and family in REFUSED:
        key, expected = REFUSED[family]
        raise InputError(source, key, expected, cfg.get(key, ...))
    if not isinstance(family, str) or family not in FAMILIES:
        raise InputError(source, "model_type", "a supported HuggingFace family: " + ", ".join(FAMILIES), family)
    c = _Config(cfg, source)
    if cfg.get("pruned_heads"):
        c.refuse("pruned_heads", "none (pidse gives every layer the same heads)")
    for key in ("add_cross_attention", "is_encoder_decoder"):
        if c.flag(key, False):
            c.refuse(key, "false (pidse models a single stack without cross-attention)")
    data = FAMILIES[family](c)
    m = data["model"] = {k: v for k, v in data["model"].items() if v is not None}
    if m.get("head_dim") is not None and m["head_dim"] * m["heads"] == m["d_model"]:
        del m["head_dim"]  # the defaults, written out (head_dim by transformers 5): the spec equals its YAML twin
    if m.get("kv_heads") == m["heads"]:
        del m["kv_heads"]
    if cfg.get("quantization_config") is not None:
        c.use("quantization_config")
        c.warn("quantization_config", "ignored: pidse prices the model's linear layers as given, not quantized")
    unknown = sorted(k for k in cfg if k not in c.used and k not in HARMLESS)
    if unknown:  # named on one line of a reasonable length, however many there are
        named = ", ".join(cut(k, 40) for k in unknown[:12]) + (f" and {len(unknown) - 12:,} more" if len(unknown) > 12
                                                              else "")
        c.warn(named, f"ignored ({family} keys pidse does not know; check they change no cost)")
    data.update(version=1, name=_name(cfg, source, family, data["model"]),
                description=f"mapped from HuggingFace {family} config {source}",
                inference={"context": min(DEFAULT_CONTEXT, data["model"]["max_context"])})
    return data, c.notes


def spec_mapping_from_hf_config(cfg: dict, source: str) -> dict:
    """A spec mapping (ready for validation) from a HuggingFace config dict. Each difference between the model
    and what pidse counts is issued as an HFConfigWarning (Python's `warnings`: one line on stderr each,
    `config.json:0: HFConfigWarning: key: ...`)."""
    data, notes = map_hf_config(cfg, source)
    for note in notes:
        warnings.warn_explicit(note, HFConfigWarning, source, 0)  # line 0: no source line is echoed
    return data
