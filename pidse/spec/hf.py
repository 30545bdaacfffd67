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

import re
import warnings
from pathlib import Path

from pidse.errors import InputError, cut
from pidse.spec.hf_config import HFConfig, HFConfigWarning
from pidse.spec.hf_families import FAMILIES

__all__ = ["HFConfigWarning", "map_hf_config", "spec_mapping_from_hf_config"]

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

# Families pidse knows it cannot price: the key that shows why, and what pidse would need.
REFUSED = {
    "qwen2_moe": ("shared_expert_intermediate_size", "no shared expert (pidse's mixture of experts has only routed "
                                                     "experts; qwen2_moe adds a gated shared expert to every layer)"),
    "deepseek_v2": ("n_shared_experts", "no shared expert (pidse's mixture of experts has only routed experts)"),
    "deepseek_v3": ("n_shared_experts", "no shared expert (pidse's mixture of experts has only routed experts)"),
}


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
    c = HFConfig(cfg, source)
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
