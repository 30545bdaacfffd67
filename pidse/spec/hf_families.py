"""One function per HuggingFace family (FAMILIES): a config (HFConfig) to pidse's spec mapping, with a warning
for every difference between the model and what pidse counts. pidse/spec/hf.py says what each family maps to."""
from __future__ import annotations

from pidse.errors import short
from pidse.spec.hf_config import MOE, HFConfig

def _decoder_sizes(c: HFConfig, head_dim_default=None) -> dict:
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


def _gpt2(c: HFConfig) -> dict:
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


def _gpt_neox(c: HFConfig) -> dict:
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


def _llama_like(c: HFConfig, head_dim_default=None, tied: bool = False, activation=("hidden_act", "silu")) -> dict:
    m = _decoder_sizes(c, head_dim_default)
    return {
        "model": m,
        "norm": {"kind": "rmsnorm"},
        "ffn": {"activation": c.activation(*activation), "gated": True},
        "embeddings": {"positions": "rotary", "rotary_fraction": c.rotary_fraction(_dims(m)[5], 1.0),
                       "tied_head": c.flag("tie_word_embeddings", tied)},
    }


def _split_biases(c: HFConfig, m: dict, attention: bool, mlp: bool) -> None:
    """model.bias from separate attention and MLP bias flags (RMSNorm models: norms have no bias either way)."""
    m["bias"] = attention and mlp
    L, _, dff, *_ = _dims(m)
    if attention and not mlp:
        c.warn("attention_bias", "true without mlp_bias: pidse has one bias flag for all linear layers, so the "
                                 "q, k, v, o biases are dropped (model.bias: false)", _attention_biases(m))
    if mlp and not attention:
        c.warn("mlp_bias", "true without attention_bias: pidse has one bias flag for all linear layers, so the "
                           "gate, up, down biases are dropped (model.bias: false)", L * (2 * dff + m["d_model"]))


def _llama(c: HFConfig) -> dict:
    data = _llama_like(c)
    _split_biases(c, data["model"], c.flag("attention_bias", False), c.flag("mlp_bias", False))
    return data


def _mistral(c: HFConfig) -> dict:
    """Mistral and Mixtral: Llama without bias flags (no biases at all), a window on every layer or none."""
    data = _llama_like(c)
    data["model"]["bias"] = False
    L = data["model"]["layers"]
    data["attention"] = c.window(L, L, "sliding_window", per_layer_types=False)
    if c.family in MOE:
        c.experts(data)
    return data


def _qwen_window(c: HFConfig, data: dict) -> None:
    """Qwen2/Qwen3: a window only with use_sliding_window, on the layers from max_window_layers on."""
    c.use("sliding_window", "layer_types", "max_window_layers")
    if c.flag("use_sliding_window", False):
        L = data["model"]["layers"]
        data["attention"] = c.window(L, L - c.get("max_window_layers", 28, least=0), "max_window_layers")


def _qwen2(c: HFConfig) -> dict:
    data = _llama_like(c)
    m = data["model"]
    m["bias"] = False
    c.warn("model_type", "qwen2 has biases on q, k, v (not o, not the MLP); pidse's one bias flag is false",
           _attention_biases(m, out_proj=False))
    _qwen_window(c, data)
    return data


def _qwen3(c: HFConfig) -> dict:
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


def _qwen3_moe(c: HFConfig, data: dict) -> None:
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


def _gemma(c: HFConfig) -> dict:
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


def _phi(c: HFConfig) -> dict:
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


def _phi3(c: HFConfig) -> dict:
    data = _llama_like(c)
    data["model"]["bias"] = False
    c.use("attention_bias")  # Phi3's projections have no biases whatever this says
    L = data["model"]["layers"]
    data["attention"] = c.window(L, L, "sliding_window", per_layer_types=False)
    return data


def _opt(c: HFConfig) -> dict:
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


def _falcon(c: HFConfig) -> dict:
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


def _bert(c: HFConfig) -> dict:
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
