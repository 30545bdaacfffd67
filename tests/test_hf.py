"""HuggingFace config.json -> spec, offline: 18 real models' published configs (tests/data/hf/NAME/config.json,
written by hand from the Hub), checked against transformers' own parameter counts where it is installed.

pidse counts embeddings + layers + final norm + LM head (a tied head: not again). transformers counts
`sum(p.numel() for p in model.parameters())` of the model built on the meta device (no weights, seconds):
AutoModelForCausalLM for decoders, and for the encoders (BERT, RoBERTa) `AutoModel(add_pooling_layer=False)`,
the encoder stack that pidse's graph follows (its tied LM head adds no parameter; the pooler and the MLM head's
transform are not in pidse's graph). Where pidse cannot express a part of the model, the mapping warns
(HFConfigWarning, one line each) with the parameters it leaves out, and the table checks that
pidse's count + the warned parameters = transformers' count.
"""
from __future__ import annotations

import json
import subprocess
import sys
import warnings

import pytest

from conftest import DATA, ROOT, SPECS, assert_one_line_error, invoke
from pidse.errors import InputError
from pidse.model.estimate import counted, estimate
from pidse.spec.hf import HFConfigWarning, _name, map_hf_config
from pidse.spec.load import load_spec

HF = DATA / "hf"

# (folder, pidse's count, transformers' count, the keys of the warnings). A difference is always warned, and the
# warned parameters add up to it.
TABLE = [
    ("gpt2", 124_439_808, 124_439_808, []),
    ("gpt2-medium", 354_823_168, 354_823_168, []),
    ("pythia-160m", 162_322_944, 162_322_944, []),
    ("Llama-2-7b-hf", 6_738_415_616, 6_738_415_616, []),
    ("TinyLlama-1.1B-intermediate-step-1431k-3T", 1_100_048_384, 1_100_048_384, []),
    ("Mistral-7B-v0.1", 7_241_732_096, 7_241_732_096, []),  # sliding_window: attention.window
    ("Mixtral-8x7B-v0.1", 46_702_792_704, 46_702_792_704, []),  # 8 experts, top 2
    ("Qwen2-0.5B", 494_005_120, 494_032_768, ["model_type"]),  # q, k, v biases
    ("Qwen3-0.6B", 596_042_752, 596_049_920, ["model_type"]),  # QK-norm
    ("gemma-2b", 2_506_172_416, 2_506_172_416, []),
    ("gemma-2-2b", 2_614_222_080, 2_614_341_888,  # sandwich norms
     ["model_type", "attn_logit_softcapping", "final_logit_softcapping", "sliding_window"]),
    ("phi-2", 2_779_632_640, 2_779_683_840, ["model_type", "model_type"]),  # shared LayerNorm; LM head bias
    ("Phi-3-mini-4k-instruct", 3_821_079_552, 3_821_079_552, []),  # sliding_window 2047 on every layer
    ("opt-125m", 125_239_296, 125_239_296, []),  # the 2 offset rows of positions: embeddings.position_offset
    ("falcon-rw-1b", 1_311_625_216, 1_311_625_216, ["alibi"]),
    ("falcon-7b", 6_921_570_752, 6_921_720_704, ["parallel_attn", "bias"]),  # LayerNorm biases
    ("bert-base-uncased", 108_891_648, 108_891_648, []),  # token types: embeddings.token_types
    ("roberta-base", 124_055_040, 124_055_040, []),  # padding offset rows and one token type
]
ENCODERS = {"bert", "roberta"}


def load_warned(path, **kwargs):
    """(spec, its HFConfigWarnings) of a config.json."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spec = load_spec(path, **kwargs)
    return spec, [w.message for w in caught if issubclass(w.category, HFConfigWarning)]


def warning_key(note) -> str:
    return str(note).split(":")[0]


@pytest.mark.parametrize("folder, params, hf_params, keys", TABLE)
def test_table_pidse(folder, params, hf_params, keys):
    spec, notes = load_warned(HF / folder / "config.json")
    assert spec.name == folder and spec.context == 128
    assert estimate(spec).totals["params"] == params
    assert [warning_key(n) for n in notes] == keys
    assert params + sum(n.params for n in notes) == hf_params


@pytest.fixture(scope="module")
def hf_count():
    """hf_count(folder) -> transformers' parameter count of the model built from that config on the meta device."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")

    def count(folder) -> int:
        cfg = transformers.AutoConfig.from_pretrained(folder)
        with torch.device("meta"):
            if cfg.model_type in ENCODERS:
                model = transformers.AutoModel.from_config(cfg, add_pooling_layer=False)
            else:
                model = transformers.AutoModelForCausalLM.from_config(cfg)
        return sum(p.numel() for p in model.parameters())  # tied weights appear once
    return count


@pytest.mark.parametrize("folder, params, hf_params, keys", TABLE)
def test_table_transformers(hf_count, folder, params, hf_params, keys):
    assert hf_count(HF / folder) == hf_params


def write_config(tmp_path, base, change=(), drop=(), name="model"):
    """tmp_path/name/config.json: tests/data/`base` (a config.json or a folder of tests/data/hf) with keys changed
    or dropped."""
    source = DATA / base if base.endswith(".json") else HF / base / "config.json"
    config = json.loads(source.read_text()) | dict(change)
    for key in drop:
        del config[key]
    (tmp_path / name).mkdir(exist_ok=True)
    path = tmp_path / name / "config.json"
    path.write_text(json.dumps(config))
    return path


# Variants the published configs do not exercise: pidse + warned parameters must still equal transformers.
VARIANTS = [
    pytest.param("TinyLlama-1.1B-intermediate-step-1431k-3T", {"attention_bias": True}, False, ["attention_bias"],
                 id="llama-attention-bias"),
    pytest.param("TinyLlama-1.1B-intermediate-step-1431k-3T", {"mlp_bias": True}, False, ["mlp_bias"],
                 id="llama-mlp-bias"),
    pytest.param("TinyLlama-1.1B-intermediate-step-1431k-3T", {"attention_bias": True, "mlp_bias": True}, True, [],
                 id="llama-both-biases"),
    pytest.param("Mistral-7B-v0.1", {"sliding_window": None}, False, [], id="mistral-no-window"),
    pytest.param("pythia-160m", {"attention_bias": False}, False, ["attention_bias"], id="neox-no-attention-bias"),
    pytest.param("pythia-160m", {"use_parallel_residual": False, "tie_word_embeddings": True}, True, [],
                 id="neox-sequential-tied"),
    pytest.param("Qwen3-0.6B", {"attention_bias": True}, False, ["attention_bias", "model_type"],
                 id="qwen3-attention-bias"),
    pytest.param("gemma-2b", {"attention_bias": True}, False, ["attention_bias"], id="gemma-attention-bias"),
    pytest.param("phi-2", {"qk_layernorm": True}, True, ["model_type", "model_type", "qk_layernorm"],
                 id="phi-qk-layernorm"),
    pytest.param("opt-125m", {"enable_bias": False}, False, ["enable_bias"],
                 id="opt-no-bias"),
    pytest.param("opt-125m", {"layer_norm_elementwise_affine": False}, True,
                 ["layer_norm_elementwise_affine"], id="opt-no-affine"),
    pytest.param("opt-125m", {"do_layer_norm_before": False}, True, [],
                 id="opt-post-ln"),
    pytest.param("falcon-rw-1b", {"parallel_attn": True}, True, ["parallel_attn", "alibi"], id="falcon-parallel"),
    pytest.param("falcon-rw-1b", {"new_decoder_architecture": True, "num_kv_heads": 8, "alibi": False,
                                  "bias": False}, False, ["bias"], id="falcon-new-architecture"),
    pytest.param("gpt2", {"tie_word_embeddings": False}, True, [], id="gpt2-untied"),
    pytest.param("bert-base-uncased", {"is_decoder": True, "type_vocab_size": 1}, True, [],
                 id="bert-decoder"),
]


@pytest.mark.parametrize("base, change, bias, keys", VARIANTS)
def test_variant_pidse(tmp_path, base, change, bias, keys):
    spec, notes = load_warned(write_config(tmp_path, base, change))
    assert spec.model.bias is bias
    assert [warning_key(n) for n in notes] == keys


@pytest.mark.parametrize("base, change, bias, keys", VARIANTS)
def test_variant_transformers(hf_count, tmp_path, base, change, bias, keys):
    spec, notes = load_warned(write_config(tmp_path, base, change))
    assert estimate(spec).totals["params"] + sum(n.params for n in notes) == hf_count(tmp_path / "model")


@pytest.mark.parametrize("folder", [row[0] for row in TABLE])
def test_transformers_5_config_maps_the_same(tmp_path, folder):
    """The config as transformers 5 writes it (rope_parameters, layer_types, head_dim spelled out) maps to the
    same spec, with the same warned parameters."""
    transformers = pytest.importorskip("transformers")
    v5 = transformers.AutoConfig.from_pretrained(HF / folder).to_json_string(use_diff=True)
    (tmp_path / folder).mkdir()
    (tmp_path / folder / "config.json").write_text(v5)
    (old, old_notes), (new, new_notes) = load_warned(HF / folder / "config.json"), load_warned(
        tmp_path / folder / "config.json")
    for section in ("model", "norm", "attention", "ffn", "embeddings", "inference"):
        assert getattr(old, section) == getattr(new, section), section
    assert [(warning_key(n), n.params) for n in new_notes] == [(warning_key(n), n.params) for n in old_notes]


# (config.json, the hand-written spec it must equal)
TWINS = [
    pytest.param("gpt2_config.json", "gpt2_sm_ln_g.yaml", id="gpt2"),
    pytest.param("pythia_70m_config.json", "pythia_70m.yaml", id="pythia-70m"),
    pytest.param("hf/TinyLlama-1.1B-intermediate-step-1431k-3T/config.json", "tinyllama_1.1b.yaml", id="tinyllama"),
    pytest.param("hf/Llama-2-7b-hf/config.json", "llama2_7b.yaml", id="llama2-7b"),
    pytest.param("hf/bert-base-uncased/config.json", "bert_base.yaml", id="bert-base"),
]


@pytest.mark.parametrize("config, yaml_spec", TWINS)
def test_config_equals_spec(config, yaml_spec):
    hf, mine = load_warned(DATA / config)[0], load_spec(SPECS / yaml_spec)
    for section in ("model", "norm", "attention", "ffn", "embeddings", "inference"):
        assert getattr(hf, section) == getattr(mine, section), section
    hf_est, mine_est = estimate(hf), estimate(mine)
    assert hf_est.totals == mine_est.totals
    assert hf_est.nonlinear_ops == mine_est.nonlinear_ops


def test_context_defaults_to_128_like_yaml_specs(tmp_path):
    assert load_spec(DATA / "gpt2_config.json").context == 128
    assert load_spec(DATA / "gpt2_config.json", context=1024).context == 1024
    assert load_spec(write_config(tmp_path, "gpt2", {"n_positions": 64})).context == 64  # capped at the maximum


def test_names(tmp_path):
    assert load_spec(DATA / "gpt2_config.json").name == "gpt2_config"  # no _name_or_path: the file's name
    assert load_warned(HF / "phi-2" / "config.json")[0].name == "phi-2"  # _name_or_path: microsoft/phi-2
    cache = tmp_path / "models--openai-community--gpt2" / "snapshots" / ("0123456789abcdef" * 3)[:40]
    cache.mkdir(parents=True)
    (cache / "config.json").write_text((HF / "gpt2" / "config.json").read_text())
    assert load_spec(cache / "config.json").name == "gpt2"  # a Hub cache: the repository's name
    gpt2 = json.loads((HF / "gpt2" / "config.json").read_text())
    assert _name(gpt2, "/config.json", "gpt2", {"layers": 12, "d_model": 768}) == "gpt2-12L-768d"


def test_cli_reads_config():
    result = invoke("estimate", DATA / "pythia_70m_config.json", "--context", 64, "-f", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["totals"]["params"], out["context"]) == (70_426_624, 64)
    # Pythia: 6 layers x 8 heads of 64 x 64 scores; 2 LNs per layer (parallel residual keeps both)
    assert out["nonlinear_ops"] == "SM:48xR64x64 LN:12xR64x512 G:6xR64x2048"


def test_cli_warns_one_line_each():
    """Outside pytest's capture, each warning is one line on stderr; stdout stays the result."""
    config = HF / "gemma-2-2b" / "config.json"
    done = subprocess.run([sys.executable, "-c", "from pidse.cli import main; main()", "estimate", str(config),
                           "-f", "json"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["totals"]["params"] == 2_614_222_080
    lines = done.stderr.splitlines()
    assert len(lines) == 4 and all(f"{config}:0: HFConfigWarning: " in line for line in lines), lines
    assert "119,808 parameters not counted" in lines[0] and "attn_logit_softcapping: 50.0" in lines[1]


def test_warnings_are_python_warnings():
    with pytest.warns(HFConfigWarning, match=r"^model_type: qwen3 applies RMSNorm"):
        load_spec(HF / "Qwen3-0.6B" / "config.json")


def test_rotary_fraction_of_transformers_5(tmp_path):
    """transformers 5 keeps the partial rotary factor in rope_parameters (no rotary_pct); absent, GPT-NeoX's
    default is 0.25 and Phi's 0.5."""
    v5 = write_config(tmp_path, "pythia-160m", {"rope_parameters": {"rope_type": "default", "rope_theta": 10000,
                                                                    "partial_rotary_factor": 0.5}},
                      drop=["rotary_pct", "rotary_emb_base"])
    assert load_spec(v5).embeddings.rotary_fraction == 0.5
    bare = write_config(tmp_path, "pythia-160m", drop=["rotary_pct"], name="bare")
    assert load_spec(bare).embeddings.rotary_fraction == 0.25
    phi = write_config(tmp_path, "phi-2", {"rope_parameters": {"partial_rotary_factor": 0.4}},
                       drop=["partial_rotary_factor"], name="phi")
    assert load_warned(phi)[0].embeddings.rotary_fraction == 0.4
    assert load_warned(write_config(tmp_path, "phi-2", drop=["partial_rotary_factor"], name="phi-bare"))[0] \
        .embeddings.rotary_fraction == 0.5
    # transformers rotates int(head_dim x factor) dims: 64 x 0.3 -> 19 of 64
    odd = write_config(tmp_path, "pythia-160m", {"rotary_pct": 0.3}, name="odd")
    assert load_spec(odd).embeddings.rotary_fraction == 19 / 64


def test_gemma2_layer_types_count_sliding_layers(tmp_path):
    """Gemma-2's alternate sliding layers are warned about (its architecture); layer_types decides which slide."""
    full = write_config(tmp_path, "gemma-2-2b", {"layer_types": ["full_attention"] * 26})
    spec, notes = load_warned(full)
    assert "sliding_window" not in [warning_key(n) for n in notes] and spec.attention.window is None
    every = write_config(tmp_path, "gemma-2-2b", {"layer_types": ["sliding_attention"] * 26}, name="every")
    spec, notes = load_warned(every)
    assert "sliding_window" not in [warning_key(n) for n in notes] and spec.attention.window == 4096


def test_mistral_7b_maps_its_window():
    """Mistral-7B-v0.1 slides a 4096-key window over every layer: attention.window, no warning."""
    spec, notes = load_warned(HF / "Mistral-7B-v0.1" / "config.json")
    m = spec.model
    assert (m.layers, m.heads, m.kv_heads, m.d_model, m.d_ff, m.vocab_size, m.max_context, m.bias) == (
        32, 32, 8, 4096, 14336, 32000, 32768, False)
    assert spec.attention.window == 4096 and spec.attention.causal
    assert (spec.norm.kind, spec.ffn.activation, spec.ffn.gated, spec.embeddings.positions) == (
        "rmsnorm", "silu", True, "rotary")
    assert spec.ffn.experts == 1 and notes == []


# (change to the Mistral or Qwen2 config, the window pidse maps): transformers' rules for which layers slide.
WINDOWS = [
    pytest.param("mistral-tiny", {}, 32, id="mistral"),
    pytest.param("mistral-tiny", {"sliding_window": None}, None, id="mistral-null"),
    pytest.param("mistral-tiny", {"layer_types": ["sliding_attention"] * 2}, 32, id="mistral-layer-types-all"),
    pytest.param("Mixtral-8x7B-v0.1", {"sliding_window": 1024}, 1024, id="mixtral"),
    pytest.param("Qwen2-0.5B", {}, None, id="qwen2-off"),  # use_sliding_window: false
    pytest.param("Qwen2-0.5B", {"use_sliding_window": True, "sliding_window": 4096, "max_window_layers": 0}, 4096,
                 id="qwen2-every-layer"),
    pytest.param("Qwen2-0.5B", {"use_sliding_window": True, "sliding_window": 4096, "max_window_layers": 24}, None,
                 id="qwen2-no-layer"),
    pytest.param("Qwen2-0.5B", {"use_sliding_window": True, "sliding_window": 4096, "max_window_layers": 20,
                                "layer_types": ["sliding_attention"] * 24}, 4096, id="qwen2-layer-types-win"),
    pytest.param("Qwen3-0.6B", {"use_sliding_window": True, "sliding_window": 512, "max_window_layers": 0}, 512,
                 id="qwen3-every-layer"),
    pytest.param("Qwen3-0.6B", {"use_sliding_window": True, "sliding_window": 512}, None,
                 id="qwen3-max-window-layers-all"),  # its max_window_layers 28 = its layers: none slides
]


@pytest.mark.parametrize("base, change, window", WINDOWS)
def test_sliding_window(tmp_path, base, change, window):
    assert load_warned(write_config(tmp_path, base, change))[0].attention.window == window


def test_absent_sliding_window_is_transformers_default(tmp_path):
    """Absent is not null: a Mistral config without the key slides transformers' default 4096 keys, Mixtral none."""
    assert load_spec(write_config(tmp_path, "mistral-tiny", drop=["sliding_window"])).attention.window == 4096
    mixtral = write_config(tmp_path, "mixtral-tiny", drop=["sliding_window"], name="mixtral")
    assert load_spec(mixtral).attention.window is None
    transformers = pytest.importorskip("transformers")
    assert transformers.AutoConfig.from_pretrained(tmp_path / "model").sliding_window == 4096
    assert transformers.AutoConfig.from_pretrained(tmp_path / "mixtral").sliding_window is None


def test_window_bounds_the_attention():
    """The mapped window reaches the graph: mistral-tiny at 128 tokens attends over 32 keys, fewer MACs."""
    spec = load_spec(HF / "mistral-tiny" / "config.json")
    full = load_spec(HF / "mistral-tiny" / "config.json", overrides=["attention.window=null"])
    macs = [sum(row["macs"] for row in counted(s)[0]) for s in (spec, full)]
    assert spec.context == 128 and macs[0] < macs[1]


# Small configs written by hand with the families' real keys: a window, and mixtures of experts.
SMALL = [
    # (folder, window, experts, top_k, d_ff, the keys of the warnings)
    ("mistral-tiny", 32, 1, None, 176, []),
    ("mixtral-tiny", None, 4, 2, 112, []),
    ("qwen3-moe-tiny", None, 8, 2, 48, ["model_type"]),  # QK-norm
]


@pytest.mark.parametrize("folder, window, experts, top_k, d_ff, keys", SMALL)
def test_small_config_maps(folder, window, experts, top_k, d_ff, keys):
    spec, notes = load_warned(HF / folder / "config.json")
    assert (spec.attention.window, spec.ffn.experts, spec.ffn.top_k, spec.model.d_ff) == (window, experts, top_k,
                                                                                          d_ff)
    assert (spec.model.bias, spec.ffn.gated, spec.ffn.activation, spec.norm.kind) == (False, True, "silu",
                                                                                      "rmsnorm")
    assert [warning_key(n) for n in notes] == keys


@pytest.mark.parametrize("folder, window, experts, top_k, d_ff, keys", SMALL)
def test_small_config_params_equal_transformers(hf_count, folder, window, experts, top_k, d_ff, keys):
    """The graph's parameters (router d x E and E gated FFNs per layer for a mixture of experts) + the warned
    ones = transformers' model built from the same config."""
    spec, notes = load_warned(HF / folder / "config.json")
    params = sum(row["params"] for row in counted(spec)[0])
    assert params + sum(n.params for n in notes) == hf_count(HF / folder)


@pytest.mark.parametrize("folder", [row[0] for row in SMALL])
def test_small_config_transformers_5_maps_the_same(tmp_path, folder):
    test_transformers_5_config_maps_the_same(tmp_path, folder)


def test_qwen3_moe_norm_topk_prob_false_is_warned(tmp_path):
    spec, notes = load_warned(write_config(tmp_path, "qwen3-moe-tiny", {"norm_topk_prob": False}))
    assert spec.ffn.experts == 8 and [warning_key(n) for n in notes] == ["model_type", "norm_topk_prob"]
    assert "softmax over all 8 router logits" in str(notes[1])


def test_gemma_bidirectional_is_not_causal(tmp_path):
    path = write_config(tmp_path, "gemma-2b", {"use_bidirectional_attention": True})
    assert load_spec(path).attention.causal is False
    assert load_spec(HF / "gemma-2b" / "config.json").attention.causal is True
    assert load_warned(HF / "bert-base-uncased" / "config.json")[0].attention.causal is False


def test_unknown_keys_are_warned(tmp_path):
    path = write_config(tmp_path, "gpt2", {"n_experts": 8, "moe_top_k": 2})
    notes = load_warned(path)[1]
    assert [str(n) for n in notes] == ["moe_top_k, n_experts: ignored (gpt2 keys pidse does not know; check they "
                                       "change no cost)"]


def test_map_returns_notes_without_issuing():
    cfg = json.loads((HF / "Qwen3-0.6B" / "config.json").read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing issued
        data, notes = map_hf_config(cfg, "config.json")
    assert data["model"]["head_dim"] == 128 and [n.params for n in notes] == [7_168]


# Each bad config is the GPT-2 config (or the named one) with one change; the error names config.json and the key.
BAD_CONFIGS = [
    pytest.param("gpt2", {"model_type": "t5"}, ["model_type", "t5", "gpt2, gpt_neox, llama", "bert, roberta"],
                 id="unsupported-family"),
    pytest.param("gpt2", {"model_type": ["gpt2"]}, ["model_type"], id="family-not-a-string"),
    pytest.param("gpt2", {"n_embd": None}, ["n_embd", "an integer"], id="null-size"),
    pytest.param("gpt2", {"n_layer": "12"}, ["n_layer", "an integer", "'12'"], id="wrong-type"),
    pytest.param("gpt2", {"activation_function": "gelu_quick"}, ["activation_function", "gelu_quick"],
                 id="unsupported-activation"),
    pytest.param("gpt2", {"n_head": 5}, ["model.heads", "divisor"], id="heads-not-dividing"),  # validated as a spec
    pytest.param("gpt2", {"vocab_size": 0}, ["model.vocab_size", "positive"], id="zero-vocab"),
    pytest.param("gpt2", {"add_cross_attention": True}, ["add_cross_attention", "cross-attention"],
                 id="cross-attention"),
    pytest.param("bert-base-uncased", {"pruned_heads": {"0": [1]}}, ["pruned_heads", "same heads"],
                 id="pruned-heads"),
    pytest.param("opt-125m", {"word_embed_proj_dim": 512}, ["word_embed_proj_dim", "hidden_size (768)"],
                 id="opt-embedding-projection"),
    pytest.param("TinyLlama-1.1B-intermediate-step-1431k-3T", {"attention_bias": "yes"},
                 ["attention_bias", "true or false", "'yes'"], id="flag-not-a-bool"),
    pytest.param("pythia-160m", {"rope_parameters": {"partial_rotary_factor": 1.5}},
                 ["rope_parameters.partial_rotary_factor", "(0, 1]", "1.5"], id="rotary-factor-out-of-range"),
    # a sliding window on some layers only: pidse has one window for all
    pytest.param("Qwen2-0.5B", {"use_sliding_window": True, "sliding_window": 4096, "max_window_layers": 20},
                 ["max_window_layers", "all 24 layers or on none", "slides 4 of them", "got 20"],
                 id="qwen2-window-on-some-layers"),
    pytest.param("Qwen2-0.5B", {"use_sliding_window": True, "sliding_window": 4096,
                                "layer_types": ["full_attention", "sliding_attention"] * 12},
                 ["layer_types", "slides 12 of them"], id="qwen2-layer-types-some-layers"),
    pytest.param("Mistral-7B-v0.1", {"layer_types": ["full_attention"] * 32},
                 ["layer_types", "applies sliding_window to all layers"], id="mistral-layer-types-disagree"),
    pytest.param("Mistral-7B-v0.1", {"layer_types": ["sliding_attention"] * 3}, ["layer_types", "a list of 32"],
                 id="layer-types-wrong-length"),
    pytest.param("Mistral-7B-v0.1", {"sliding_window": 0}, ["sliding_window", "positive integer, or null"],
                 id="window-zero"),
    # mixtures of experts
    pytest.param("mixtral-tiny", {"num_experts_per_tok": 5}, ["num_experts_per_tok", "from 1 to num_local_experts (4)"],
                 id="mixtral-top-k-over-experts"),
    pytest.param("mixtral-tiny", {"num_local_experts": 1}, ["num_local_experts", "at least 2"],
                 id="mixtral-one-expert"),
    pytest.param("mixtral-tiny", {"num_local_experts": None}, ["num_local_experts", "an integer", "None"],
                 id="mixtral-no-experts"),
    pytest.param("qwen3-moe-tiny", {"mlp_only_layers": [1]}, ["mlp_only_layers", "same FFN"],
                 id="qwen3-moe-dense-layers"),
    pytest.param("qwen3-moe-tiny", {"decoder_sparse_step": 2}, ["decoder_sparse_step", "every layer"],
                 id="qwen3-moe-sparse-step"),
    pytest.param("qwen3-moe-tiny", {"use_sliding_window": True}, ["use_sliding_window", "max_window_layers"],
                 id="qwen3-moe-window"),
    pytest.param("qwen3-moe-tiny", {"model_type": "qwen2_moe", "shared_expert_intermediate_size": 96},
                 ["shared_expert_intermediate_size", "no shared expert", "got 96"], id="qwen2-moe-shared-expert"),
    pytest.param("qwen3-moe-tiny", {"model_type": "deepseek_v3", "n_shared_experts": 1},
                 ["n_shared_experts", "no shared expert"], id="deepseek-shared-expert"),
]


@pytest.mark.parametrize("base, change, needles", BAD_CONFIGS)
def test_bad_config(tmp_path, base, change, needles):
    path = write_config(tmp_path, base, change)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HFConfigWarning)
        assert_one_line_error(invoke("estimate", path), "config.json", *needles)


def test_missing_config_key(tmp_path):
    path = write_config(tmp_path, "gpt2", drop=["n_layer"])
    assert_one_line_error(invoke("estimate", path), "config.json", "n_layer", "this key in a gpt2 config")


def test_malformed_json(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "gpt2",\n "n_layer": 12,,\n}')
    assert_one_line_error(invoke("estimate", tmp_path / "config.json"), "config.json", "line 2", "JSON")


def test_input_error_is_raised_before_any_warning(tmp_path):
    path = write_config(tmp_path, "opt-125m", {"word_embed_proj_dim": 512})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputError):
            load_spec(path)
