"""Hostile specs: YAML files (sizes, types, limits, duplicate keys, aliases, nesting, extends chains, encodings),
`--set` and `--context` overrides, HuggingFace config.json files, and the `train` / `entropy` options. Each spec
case is the small valid TINY spec with one thing broken."""
from __future__ import annotations

import copy
import hashlib
import json

import yaml

from hostile import Case

TINY = {"version": 1, "model": {"layers": 2, "heads": 2, "d_model": 8, "d_ff": 16, "vocab_size": 10,
                                "max_context": 8}, "inference": {"context": 4}}
GPT2 = {"model_type": "gpt2", "n_layer": 2, "n_embd": 8, "n_head": 2, "vocab_size": 10, "n_positions": 16}
NEOX = {"model_type": "gpt_neox", "num_hidden_layers": 2, "hidden_size": 8, "num_attention_heads": 2,
        "intermediate_size": 32, "vocab_size": 10, "max_position_embeddings": 16}
LLAMA = {"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 8, "num_attention_heads": 2,
         "intermediate_size": 32, "vocab_size": 10, "max_position_embeddings": 16}
HUGE = 10**5000  # str() of it is itself an error in Python >= 3.11


def dump(data) -> str:
    return yaml.safe_dump(data, sort_keys=False, width=1 << 20)


def tiny(section: str | None = None, **values) -> str:
    """TINY with `values` set in `section` (or at the top level)."""
    data = copy.deepcopy(TINY)
    target = data.setdefault(section, {}) if section else data
    target.update(values)
    return dump(data)


def spec_case(id: str, text, *needles) -> Case:
    return Case(id, ("estimate", "{tmp}/s.yaml"), {"s.yaml": text}, ("s.yaml", *needles))


def set_case(id: str, override: str, *needles) -> Case:
    return Case(id, ("estimate", "{tmp}/s.yaml", "--set", override), {"s.yaml": dump(TINY)}, ("--set", *needles))


def hf_case(id: str, config, *needles, base=None) -> Case:
    """config.json: `base` (GPT2) updated with `config` (a dict), or raw text / bytes."""
    if isinstance(config, dict):
        config = json.dumps({**(base or GPT2), **config})
    return Case(id, ("estimate", "{tmp}/config.json"), {"config.json": config}, ("config.json", *needles))


CASES = []

# ---- sizes: every model size, every kind of bad value --------------------------------------------------------
BAD_SIZES = {"zero": 0, "negative": -1, "huge": 10**30, "float": 1e8, "string": "12", "bool": True,
             "list": [1], "nan": float("nan")}
for key in ("layers", "heads", "d_model", "d_ff", "vocab_size", "max_context"):
    for what, value in BAD_SIZES.items():
        CASES.append(spec_case(f"spec-{key}-{what}", tiny("model", **{key: value}), f"model.{key}"))
    CASES.append(spec_case(f"spec-{key}-5000-digits", tiny("model", **{key: 1}).replace(
        f"{key}: 1", f"{key}: {'9' * 5000}"), "digits"))
CASES += [
    spec_case("spec-layers-million", tiny("model", layers=1_000_000), "model.layers", "1,024"),
    spec_case("spec-layers-1025", tiny("model", layers=1025), "model.layers", "1,024"),
    spec_case("spec-vocab-1e30-priced", tiny("model", vocab_size=10**30), "model.vocab_size", "16,777,216"),
    Case("spec-vocab-1e30-with-protocol", ("estimate", "{tmp}/s.yaml", "-p", "aero-secretflow"),
         {"s.yaml": tiny("model", vocab_size=10**30)}, ("model.vocab_size",)),
    spec_case("spec-kv-heads-zero", tiny("model", kv_heads=0), "model.kv_heads"),
    spec_case("spec-head-dim-huge", tiny("model", head_dim=10**30), "model.head_dim"),
    spec_case("spec-generate-1e8-float", tiny("inference", generate=1e8), "inference.generate"),
    spec_case("spec-generate-1e8", dump({**TINY, "model": {**TINY["model"], "max_context": 2**24},
                                         "inference": {"context": 4, "generate": 10**8}}), "inference.generate"),
    spec_case("spec-generate-op-limit", dump({**TINY, "model": {**TINY["model"], "layers": 1000, "max_context": 10**6},
                                             "inference": {"context": 4, "generate": 1000}}), "inference.generate",
              "20,000,000 op-steps"),
    spec_case("spec-experts-op-limit", dump({**TINY, "model": {**TINY["model"], "layers": 1000},
                                            "ffn": {"experts": 4096, "top_k": 2}}), "ffn.experts", "ops"),
    spec_case("spec-generate-zero", tiny("inference", generate=0), "inference.generate"),
    spec_case("spec-batch-huge", tiny("inference", batch=65537), "inference.batch"),
    spec_case("spec-context-huge", tiny("inference", context=10**12), "inference.context"),
    spec_case("spec-context-negative", tiny("inference", context=-4), "inference.context"),
    spec_case("spec-experts-huge", tiny("ffn", experts=5000, top_k=2), "ffn.experts"),
    spec_case("spec-top-k-zero", tiny("ffn", experts=4, top_k=0), "ffn.top_k"),
    spec_case("spec-window-zero", tiny("attention", window=0), "attention.window"),
    spec_case("spec-power-odd", tiny("attention", kind="power_softmax", power=3), "attention.power"),
    spec_case("spec-power-huge", tiny("attention", kind="power_softmax", power=10**30), "attention.power"),
    spec_case("spec-degree-huge", tiny("ffn", activation="poly", degree=10**6), "ffn.degree"),
    spec_case("spec-prune-last-negative", tiny("ffn", prune_last=-1), "ffn.prune_last"),
    spec_case("spec-prune-last-deeper", tiny("ffn", prune_last=3), "ffn.prune_last"),
    spec_case("spec-rotary-nan", tiny("embeddings", positions="rotary", rotary_fraction=float("nan")),
              "embeddings.rotary_fraction"),
    spec_case("spec-rotary-inf", tiny("embeddings", positions="rotary", rotary_fraction=float("inf")),
              "embeddings.rotary_fraction"),
    spec_case("spec-token-types-negative", tiny("embeddings", token_types=-1), "embeddings.token_types"),
    spec_case("spec-keep-nan", tiny("pruning", schedule=[{"after": 1, "keep": float("nan")}]), "keep"),
    spec_case("spec-keep-zero", tiny("pruning", schedule=[{"after": 1, "keep": 0}]), "keep"),
    spec_case("spec-after-huge", tiny("pruning", schedule=[{"after": 10**30, "keep": 0.5}]), "after"),
    spec_case("spec-schedule-not-list", tiny("pruning", schedule={"after": 1}), "pruning.schedule"),
    spec_case("spec-tokens-nan", tiny("training", tokens=float("nan")), "training.tokens"),
    spec_case("spec-tokens-negative", tiny("training", tokens=-5.0), "training.tokens"),
    spec_case("spec-tokens-inf", tiny("training", tokens=float("inf")), "training.tokens"),
    spec_case("spec-tokens-huge-int", tiny("training", tokens=10**40), "training.tokens"),
    spec_case("spec-lambda-negative", tiny("training", entropy_lambda=-1.0), "training.entropy_lambda"),
    spec_case("spec-lambda-nan", tiny("training", entropy_lambda=float("nan")), "training.entropy_lambda"),
]

# ---- types, keys, versions ---------------------------------------------------------------------------------
CASES += [
    spec_case("spec-version-2", tiny(version=2), "version"),
    spec_case("spec-version-string", tiny(version="1"), "version"),
    spec_case("spec-version-missing", dump({"model": TINY["model"]}), "version"),
    spec_case("spec-model-list", tiny(model=[1, 2]), "model"),
    spec_case("spec-model-missing", dump({"version": 1}), "model"),
    spec_case("spec-unknown-long-key", tiny("model", **{"x" * 100_000: 1}), "expected a known key"),
    spec_case("spec-key-with-newline", tiny("model", **{"lay\ners": 1}), "expected a known key"),
    spec_case("spec-key-integer", tiny("model").replace("layers: 2", "layers: 2\n  5: 1"), "model.5"),
    spec_case("spec-fullwidth-key", tiny("model", **{"ｌａｙｅｒｓ": 2}), "expected a known key"),
    spec_case("spec-cyrillic-a-in-kind", tiny("attention", kind="softmаx"), "attention.kind"),
    spec_case("spec-fullwidth-digits", tiny("model", layers="１２"), "model.layers"),
    spec_case("spec-kind-list", tiny("attention", kind=["softmax"]), "attention.kind"),
    spec_case("spec-projections-huge-list", tiny("attention", projections=["q"] * 100_000), "attention.projections"),
    spec_case("spec-projections-string", tiny("attention", projections="qkvo"), "attention.projections"),
    spec_case("spec-bias-string-false", tiny("model", bias="false"), "model.bias"),
    spec_case("spec-bias-yes-string", tiny("model").replace("max_context: 8", "max_context: 8\n  bias: 'no'"),
              "model.bias"),
    spec_case("spec-label-mapping", tiny(label={"a": 1}), "label"),
    spec_case("spec-name-list", tiny(name=[1]), "name"),
    spec_case("spec-date-version", "version: 2024-01-01\nmodel: {layers: 2}\n", "version"),
    spec_case("spec-bad-date", "version: 2024-13-45\n", "values it can read"),
]

# ---- the file itself: parsing, encodings, duplicates, aliases, nesting ------------------------------------------
LAUGHS = ("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
          + "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
          + "version: 1\nmodel: *i\n")
LAUGHS_IN_VALUE = ("version: 1\nmodel: {layers: 2, heads: 2, d_model: 8, d_ff: 16, vocab_size: 10, max_context: 8}\n"
                   "label: &a [x, x, x, x, x, x, x, x, x, x]\n"
                   + "attention: {projections: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]}\n"
                   + "norm: {kind: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]}\n"
                   + "ffn: {activation: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]}\n"
                   + "embeddings: {positions: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]}\n"
                   + "training: {dataset: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]}\n")
CASES += [
    spec_case("spec-empty-file", "", "a mapping"),
    spec_case("spec-only-comment", "# nothing\n", "a mapping"),
    spec_case("spec-scalar", "42\n", "a mapping"),
    spec_case("spec-binary-junk", bytes(range(256)) * 8, "UTF-8"),
    spec_case("spec-nul-byte", "version: 1\x00\n", "YAML"),
    spec_case("spec-tab-indent", "version: 1\nmodel:\n\tlayers: 2\n", "YAML"),
    spec_case("spec-unclosed-flow", "version: 1\nmodel: {layers: 2\n", "YAML"),
    spec_case("spec-bom-then-junk", "\ufeff: : :\n", "YAML"),
    spec_case("spec-too-large", "# " + "x" * (2**20 + 10) + "\n", "MiB"),
    spec_case("spec-duplicate-top-key", dump(TINY) + "version: 1\n", "each key once"),
    spec_case("spec-duplicate-nested-key", tiny("model").replace("layers: 2", "layers: 2\n  layers: 3"),
              "each key once"),
    spec_case("spec-duplicate-section", dump(TINY) + "model: {layers: 3}\n", "each key once"),
    spec_case("spec-duplicate-flow-key", "version: 1\nmodel: {layers: 2, layers: 3}\n", "each key once"),
    spec_case("spec-billion-laughs", LAUGHS, "values"),
    spec_case("spec-billion-laughs-in-values", LAUGHS_IN_VALUE, "expected"),
    spec_case("spec-recursive-alias", "version: 1\nmodel: &m {layers: *m}\n", "nesting"),
    spec_case("spec-recursive-list", "version: 1\nlabel: &l [*l]\n", "nesting"),
    spec_case("spec-deep-flow-nesting", "version: 1\nlabel: " + "[" * 200 + "]" * 200 + "\n", "nesting"),
    spec_case("spec-deep-flow-nesting-100k", "version: 1\nlabel: " + "[" * 100_000 + "]" * 100_000 + "\n", "YAML"),
    spec_case("spec-deep-block-nesting", "version: 1\nlabel:\n  " + "- " * 500 + "x\n", "nesting"),
    spec_case("spec-python-tag", "version: !!python/object/apply:os.system ['true']\n", "YAML"),
    spec_case("spec-unhashable-key", "version: 1\n? [a, b]\n: 1\n", "YAML"),
    Case("spec-path-is-folder", ("estimate", "{tmp}/d.yaml"), {"d.yaml/x": "x"}, ("d.yaml",)),
    Case("spec-dev-zero", ("estimate", "/dev/zero"), {}, ("/dev/zero",)),
    Case("spec-dev-stdin-json", ("estimate", "/dev/stdin"), {}, ("/dev/stdin",)),
    Case("spec-name-too-long", ("estimate", "{tmp}/" + "n" * 5000 + ".yaml"), {}, ("expected",)),
    spec_case("spec-extends-name-too-long", "extends: " + "n" * 5000 + ".yaml\n", "extends"),
    spec_case("spec-extends-nul", 'extends: "a\\0b.yaml"\n', "extends"),
    Case("spec-path-missing-weird-name", ("estimate", "{tmp}/no\nsuch.yaml"), {}, ("no\\nsuch.yaml",)),
]

# ---- extends ----------------------------------------------------------------------------------------------
CHAIN = {f"c{i}.yaml": f"extends: c{i + 1}.yaml\n" for i in range(1500)}
CHAIN["c1500.yaml"] = dump(TINY)
CASES += [
    Case("spec-extends-chain-1500", ("estimate", "{tmp}/c0.yaml"), CHAIN, ("extends", "32")),
    spec_case("spec-extends-etc-shadow", "version: 1\nextends: /etc/shadow\n", "extends"),
    spec_case("spec-extends-etc-passwd", "version: 1\nextends: /etc/passwd\n", "extends"),
    Case("spec-extends-secret-file", ("estimate", "{tmp}/s.yaml"),
         {"s.yaml": "extends: secret.txt\n", "secret.txt": "TOPSECRET: hunter2\n"}, ("extends",)),
    Case("spec-extends-secret-yaml-value", ("estimate", "{tmp}/s.yaml"),
         {"s.yaml": "extends: p.yaml\n", "p.yaml": dump(TINY) + "norm: {kind: [" + "S" * 5000 + "]}\n"},
         ("norm.kind",)),
    spec_case("spec-extends-folder", "extends: ..\n", "extends"),
    spec_case("spec-extends-missing", "extends: nope.yaml\n", "extends"),
    spec_case("spec-extends-self", "extends: s.yaml\n", "extends", "cycle"),
    Case("spec-extends-two-cycle", ("estimate", "{tmp}/a.yaml"), {"a.yaml": "extends: b.yaml\n",
                                                                 "b.yaml": "extends: a.yaml\n"}, ("cycle",)),
    spec_case("spec-extends-list", "extends: [a.yaml]\n", "extends"),
    spec_case("spec-extends-empty", "extends: ''\n", "extends"),
    Case("spec-extends-json", ("estimate", "{tmp}/s.yaml"), {"s.yaml": "extends: config.json\n",
                                                             "config.json": json.dumps(GPT2)}, ("extends",)),
    Case("spec-extends-parent-bad", ("estimate", "{tmp}/s.yaml"),
         {"s.yaml": "extends: p.yaml\n", "p.yaml": tiny("model", layers=-3)}, ("model.layers",)),
]

# ---- --set and --context ----------------------------------------------------------------------------------------
CASES += [
    set_case("set-layers-million", "model.layers=1000000", "model.layers", "1,024"),
    set_case("set-layers-1e8", "model.layers=1e8", "model.layers"),
    set_case("set-layers-nan", "model.layers=.nan", "model.layers"),
    set_case("set-layers-negative", "model.layers=-3", "model.layers"),
    set_case("set-layers-list", "model.layers=[1, 2]", "model.layers"),
    set_case("set-layers-mapping", "model.layers={a: 1}", "model.layers"),
    set_case("set-layers-5000-digits", "model.layers=" + "9" * 5000, "model.layers"),
    set_case("set-layers-empty", "model.layers=", "model.layers"),
    set_case("set-vocab-1e30", "model.vocab_size=" + "1" + "0" * 30, "model.vocab_size", "16,777,216"),
    set_case("set-generate-1e8", "inference.generate=100000000", "inference.generate"),
    set_case("set-batch-zero", "inference.batch=0", "inference.batch"),
    set_case("set-tokens-inf", "training.tokens=.inf", "training.tokens"),
    set_case("set-tokens-nan-word", "training.tokens=nan", "training.tokens"),
    set_case("set-keep-nan", "pruning.schedule=[{after: 1, keep: .nan}]", "keep"),
    set_case("set-no-equals", "model.layers", "model.layers"),
    set_case("set-empty-key", "=3", "=3"),
    set_case("set-unknown-section", "modle.layers=3", "modle"),
    set_case("set-whole-section", "model=5", "model"),
    set_case("set-below-leaf", "model.layers.x=1", "model.layers.x"),
    set_case("set-internal-field", "source=x", "source"),
    set_case("set-duplicate-flow-key", "attention.projections={a: 1, a: 2}", "each key once"),
    set_case("set-billion-laughs", "attention.projections=[&a [x,x,x,x,x,x,x,x,x,x], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,"
             "*a], &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b], &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c], &e [*d,*d,*d,*d,*d,*d,*d,"
             "*d,*d,*d], [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]]", "values"),
    set_case("set-deep-nesting", "attention.projections=" + "[" * 100 + "]" * 100, "nesting"),
    set_case("set-kind-fullwidth", "attention.kind=ｓｏｆｔｍａｘ", "attention.kind"),
    set_case("set-kind-newline", "attention.kind=soft\nmax", "attention.kind"),
    set_case("set-python-tag", "model.layers=!!python/name:os.system", "model.layers"),
    Case("context-zero", ("estimate", "{tmp}/s.yaml", "-T", "0"), {"s.yaml": dump(TINY)}, ("--context",)),
    Case("context-negative", ("estimate", "{tmp}/s.yaml", "--context", "-5"), {"s.yaml": dump(TINY)},
         ("--context",)),
    Case("context-huge", ("estimate", "{tmp}/s.yaml", "-T", "99999999999999"), {"s.yaml": dump(TINY)},
         ("--context", "16,777,216")),
    Case("context-over-max", ("estimate", "{tmp}/s.yaml", "-T", "9"), {"s.yaml": dump(TINY)}, ("--context",)),
    Case("baseline-bad", ("estimate", "{tmp}/s.yaml", "--baseline", "{tmp}/b.yaml"),
         {"s.yaml": dump(TINY), "b.yaml": tiny("model", layers=10**6)}, ("b.yaml", "model.layers")),
]

# ---- HuggingFace config.json -----------------------------------------------------------------------------------
CASES += [
    hf_case("hf-tie-string-false", {"tie_word_embeddings": "false"}, "tie_word_embeddings"),
    hf_case("hf-parallel-residual-no", {"use_parallel_residual": "no"}, "use_parallel_residual", base=NEOX),
    hf_case("hf-attention-bias-int", {"attention_bias": 1}, "attention_bias", base=LLAMA),
    hf_case("hf-cross-attention-string", {"add_cross_attention": "false"}, "add_cross_attention"),
    hf_case("hf-encoder-decoder", {"is_encoder_decoder": True}, "is_encoder_decoder"),
    hf_case("hf-n-inner-zero", {"n_inner": 0}, "n_inner"),
    hf_case("hf-n-inner-negative", {"n_inner": -4}, "n_inner"),
    hf_case("hf-n-layer-million", {"n_layer": 1_000_000}, "1,024"),
    hf_case("hf-n-layer-1e30", {"n_layer": 10**30}, "n_layer"),
    hf_case("hf-n-layer-float", {"n_layer": 12.0}, "n_layer"),
    hf_case("hf-n-layer-string", {"n_layer": "12"}, "n_layer"),
    hf_case("hf-n-layer-bool", {"n_layer": True}, "n_layer"),
    hf_case("hf-vocab-negative", {"vocab_size": -1}, "vocab_size"),
    hf_case("hf-n-embd-null", {"n_embd": None}, "n_embd"),
    hf_case("hf-5000-digit-int", '{"model_type": "gpt2", "n_layer": ' + "9" * 5000 + "}", "digits"),
    hf_case("hf-nested-100k", '{"a": ' * 100_000 + "1" + "}" * 100_000, "nesting"),
    hf_case("hf-nested-list-100k", "[" * 100_000 + "]" * 100_000, "nesting"),
    hf_case("hf-nested-40", {"x": json.loads('{"a": ' * 40 + "1" + "}" * 40)}, "nesting"),
    hf_case("hf-duplicate-key", '{"model_type": "gpt2", "n_layer": 2, "n_layer": 3}', "n_layer", "once"),
    hf_case("hf-nan", '{"model_type": "gpt2", "n_layer": NaN}', "NaN"),
    hf_case("hf-infinity", '{"model_type": "gpt2", "n_layer": Infinity}', "Infinity"),
    hf_case("hf-top-level-list", "[1, 2, 3]", "a mapping"),
    hf_case("hf-empty", "", "JSON"),
    hf_case("hf-truncated", json.dumps(GPT2)[:-5], "JSON"),
    hf_case("hf-binary", b"\x89PNG\r\n\x1a\n" + bytes(200), "UTF-8"),
    hf_case("hf-model-type-list", {"model_type": ["gpt2"]}, "model_type"),
    hf_case("hf-model-type-unknown", {"model_type": "gpt9"}, "model_type"),
    hf_case("hf-model-type-missing", {"model_type": None}, "model_type"),
    hf_case("hf-activation-list", {"activation_function": ["gelu"]}, "activation_function"),
    hf_case("hf-sliding-window-negative", {"sliding_window": -1}, "sliding_window", base={**LLAMA,
                                                                                     "model_type": "mistral"}),
    hf_case("hf-kv-heads-zero", {"num_key_value_heads": 0}, "num_key_value_heads", base=LLAMA),
    hf_case("hf-head-dim-zero", {"head_dim": 0}, "head_dim", base=LLAMA),
    hf_case("hf-rotary-nan-text", '{"model_type": "gpt_neox", "rotary_pct": NaN}', "NaN"),
    hf_case("hf-rotary-two", {"rotary_pct": 2}, "rotary_pct", base=NEOX),
    hf_case("hf-layer-types-wrong", {"layer_types": ["x"]}, "layer_types", base={**LLAMA, "model_type": "mistral"}),
    hf_case("hf-falcon-ffn-zero", {"model_type": "falcon", "hidden_size": 8, "num_attention_heads": 2,
                                   "num_hidden_layers": 2, "vocab_size": 10, "ffn_hidden_size": 0},
            "ffn_hidden_size"),
    hf_case("hf-mixtral-one-expert", {"num_local_experts": 1, "num_experts_per_tok": 1}, "num_local_experts",
            base={**LLAMA, "model_type": "mixtral"}),
    hf_case("hf-roberta-pad-negative", {"model_type": "roberta", "hidden_size": 8, "num_attention_heads": 2,
                                        "num_hidden_layers": 2, "intermediate_size": 16, "vocab_size": 10,
                                        "max_position_embeddings": 16, "pad_token_id": -1}, "pad_token_id"),
    hf_case("hf-huge-name-huge-vocab", {"_name_or_path": "n" * 100_000, "vocab_size": 10**20}, "vocab_size"),
]

# ---- train and entropy options ------------------------------------------------------------------------------
# one file name of each split (pidse.train.data.is_validation: sha256 of the name mod 100 below 5)
SPLIT = {int(hashlib.sha256(f"m{i}.py".encode()).hexdigest()[:8], 16) % 100 < 5: f"m{i}.py" for i in range(200)}
TRAINABLE = dump({**TINY, "model": {**TINY["model"], "vocab_size": 256}})


def train_case(id: str, *args, files=None, needles=()) -> Case:
    return Case(id, ("train", "{tmp}/s.yaml", "--db", "{tmp}/db.sqlite", "--out", "{tmp}/runs", *args),
                {"s.yaml": TRAINABLE, **(files or {})}, needles)


CASES += [
    train_case("train-lr-nan", "--lr", "nan", needles=("--lr",)),
    train_case("train-lr-inf", "--lr", "inf", needles=("--lr",)),
    train_case("train-lr-negative", "--lr", "-0.001", needles=("--lr",)),
    train_case("train-lr-zero", "--lr", "0", needles=("--lr",)),
    train_case("train-batch-zero", "--batch", "0", needles=("--batch",)),
    train_case("train-batch-huge", "--batch", "10000000", needles=("--batch", "4,096")),
    train_case("train-steps-zero", "--steps", "0", needles=("--steps",)),
    train_case("train-steps-huge", "--steps", "1000000000000", needles=("--steps",)),
    train_case("train-tokens-inf", "--tokens", "inf", needles=("--tokens",)),
    train_case("train-tokens-nan", "--tokens", "nan", needles=("--tokens",)),
    train_case("train-tokens-huge", "--tokens", "1e30", needles=("--tokens",)),
    train_case("train-steps-and-tokens", "--steps", "5", "--tokens", "100", needles=("--steps/--tokens",)),
    train_case("train-seed-negative", "--seed", "-1", needles=("--seed",)),
    train_case("train-seed-huge", "--seed", str(2**70), needles=("--seed",)),
    train_case("train-threads-zero", "--threads", "0", needles=("--threads",)),
    train_case("train-eval-every-zero", "--eval-every", "0", needles=("--eval-every",)),
    train_case("train-name-traversal", "--name", "../../escape", needles=("--name",)),
    train_case("train-name-newline", "--name", "a\nb", needles=("--name",)),
    train_case("train-label-huge", "--label", "L" * 5000, needles=("--label",)),
    train_case("train-dataset-blank", "--dataset", "  ", needles=("--dataset",)),
    train_case("train-out-is-file", "--out", "{tmp}/s.yaml", needles=("--out",)),
    train_case("train-device-bogus", "--device", "tpu", needles=("--device",)),
    train_case("train-data-missing", "--data", "{tmp}/nope", needles=("--data",)),
    train_case("train-data-file", "--data", "{tmp}/s.yaml", needles=("--data",)),
    train_case("train-data-empty", "--data", "{tmp}/empty", files={"empty/readme.txt": "x"},
               needles=("--data",)),
    train_case("train-data-too-small", "--data", "{tmp}/small",
               files={f"small/{SPLIT[True]}": "x\n", f"small/{SPLIT[False]}": "y\n"}, needles=("--data", "tokens")),
    train_case("train-model-too-large", "--set", "model.d_model=1000000", "--set", "model.heads=1000",
               needles=("fits",)),
    train_case("train-layers-million", "--set", "model.layers=1000000", needles=("model.layers",)),
    train_case("train-encoder", "--set", "attention.causal=false", needles=("attention.causal",)),
    Case("entropy-format-bogus", ("entropy", "{tmp}/run", "--format", "bogus"), {"run/run.json": "{}"},
         ("--format",)),
    Case("entropy-missing-run", ("entropy", "{tmp}/nope"), {}, ("nope",)),
    Case("entropy-not-a-run", ("entropy", "{tmp}/run"), {"run/run.json": "[1, 2]"}, ("run.json",)),
    Case("entropy-bad-json", ("entropy", "{tmp}/run"), {"run/run.json": "{"}, ("run.json",)),
]
