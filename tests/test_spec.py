"""Spec loading: the shipped specs, inheritance, overrides, parameter counts and the error line's format."""
from __future__ import annotations

import dataclasses
import typing

import pytest

from conftest import SHIPPED, SPECS, TINY, write_yaml
from pidse.errors import InputError
from pidse.model.estimate import estimate
from pidse.schema import describe, suggest
from pidse.spec.load import load_spec


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_spec_loads(path):
    spec = load_spec(path)
    assert (spec.version, spec.name, spec.source) == (1, path.stem, str(path))
    assert spec.label and spec.description
    assert spec.context + spec.inference.generate - 1 <= spec.model.max_context


# Parameter counts, derived by hand per component (HF counts for the three real models).
# GPT-2 small (HF GPT2LMHeadModel, tied head): wte 50,257 x 768 = 38,597,376; wpe 1,024 x 768 = 786,432;
#   per layer: ln_1 2*768 = 1,536; q, k, v, o 4 x (768*768 + 768) = 2,362,368; ln_2 1,536;
#   up 768*3,072 + 3,072 = 2,362,368; down 3,072*768 + 768 = 2,360,064 -> 7,087,872; x12 = 85,054,464;
#   ln_f 1,536. Total 38,597,376 + 786,432 + 85,054,464 + 1,536 = 124,439,808.
GPT2 = 124_439_808
# Without LayerNorms (SM, SM+G, SM+R): 25 LNs x 1,536 = 38,400 fewer -> 124,401,408.
GPT2_NO_LN = GPT2 - 25 * 1_536
# ScFFN: alpha and beta, 2 scalars per layer, +24 -> 124,401,432.
GPT2_SCFFN = GPT2_NO_LN + 24
# Fused FFN: up + down (2,362,368 + 2,360,064 = 4,722,432) become one 768 x 768 layer (590,592):
#   4,131,840 fewer per layer, 49,582,080 over 12 -> 74,819,352.
FUSE_SAVING = 12 * (2_362_368 + 2_360_064 - 590_592)
# He & Hofmann: no V, O (2 x 590,592 x 12 = 14,174,208 fewer), one embedding LN (+1,536) -> 110,228,760.
SAS_SCFFN = GPT2_SCFFN - 14_174_208 + 1_536
# Pythia-70M (untied): embed_in and embed_out 50,304 x 512 = 25,755,648 each;
#   per layer: 2 LNs 2 x 1,024; qkv 512*1,536 + 1,536 = 787,968; dense 512*512 + 512 = 262,656;
#   fc 512*2,048 + 2,048 = 1,050,624; fc2 2,048*512 + 512 = 1,049,088 -> 3,152,384; x6 = 18,914,304;
#   final LN 1,024. Total 51,511,296 + 18,914,304 + 1,024 = 70,426,624.
PYTHIA_70M = 70_426_624
# TinyLlama-1.1B (untied, no biases, GQA 32/4 heads of 64): embed and lm_head 32,000 x 2,048 = 65,536,000 each;
#   per layer: q, o 2 x 2,048^2 = 8,388,608; k, v 2 x 2,048*256 = 1,048,576; gate, up, down 3 x 2,048*5,632 =
#   34,603,008; 2 RMSNorms 4,096 -> 44,044,288; x22 = 968,974,336; final norm 2,048.
#   Total 131,072,000 + 968,974,336 + 2,048 = 1,100,048,384.
TINYLLAMA = 1_100_048_384
# BERT-base as pidse models it (no pooler): wte 30,522 x 768 = 23,440,896; token types 2 x 768 = 1,536;
#   positions 512 x 768 = 393,216; embedding LN 1,536; 12 GPT-2-sized layers 85,054,464; no final LN, tied head.
#   Total 23,440,896 + 1,536 + 393,216 + 1,536 + 85,054,464 = 108,891,648 (HF bert-base-uncased without its pooler).
BERT_BASE = 108_891_648
# Llama-2-7B (HF meta-llama/Llama-2-7b-hf, untied, no biases): embed and lm_head 32,000 x 4,096 = 131,072,000 each;
#   per layer: q, k, v, o 4 x 4,096^2 = 67,108,864; gate, up, down 3 x 4,096*11,008 = 135,266,304;
#   2 RMSNorms 8,192 -> 202,383,360; x32 = 6,476,267,520; final norm 4,096.
#   Total 262,144,000 + 6,476,267,520 + 4,096 = 6,738,415,616.
LLAMA2_7B = 6_738_415_616
# Mistral-7B (GQA 32/8 heads of 128, d_ff 14,336, untied, no biases; the window has no weights): embed and lm_head
#   131,072,000 each; per layer: q, o 2 x 4,096^2 = 33,554,432; k, v 2 x 4,096*1,024 = 8,388,608; gate, up, down
#   3 x 4,096*14,336 = 176,160,768; 2 RMSNorms 8,192 -> 218,112,000; x32 = 6,979,584,000; final norm 4,096.
#   Total 262,144,000 + 6,979,584,000 + 4,096 = 7,241,732,096 (HF mistralai/Mistral-7B-v0.1).
MISTRAL_7B = 7_241_732_096
PARAMS = {
    "gpt2_sm_ln_g": GPT2,
    "gpt2_sm_ln_r": GPT2,  # activations have no weights
    "gpt2_sm_ln": GPT2,
    "gpt2_sm_g": GPT2_NO_LN,
    "gpt2_sm_r": GPT2_NO_LN,
    "gpt2_sm": GPT2_NO_LN,
    "gpt2_sm_scffn": GPT2_SCFFN,  # 124,401,432
    "gpt2_sm_scfuffn": GPT2_SCFFN - FUSE_SAVING,  # 74,819,352
    # + learnable temperature per head and position: 12 x 1,024 x 12 layers = 147,456 -> 74,966,808
    "gpt2_sm_t_scfuffn_ereg": GPT2_SCFFN - FUSE_SAVING + 147_456,
    "gpt2_sas_scffn": SAS_SCFFN,  # 110,228,760
    "gpt2_sas_scfuffn": SAS_SCFFN - FUSE_SAVING,  # 60,646,680
    "pythia_70m": PYTHIA_70M,
    "pythia_70m_psm": PYTHIA_70M,  # Power-Softmax has no parameters: the same as Pythia-70M
    "tinyllama_1.1b": TINYLLAMA,
    "bert_base": BERT_BASE,
    "llama2_7b": LLAMA2_7B,
    "mistral_7b": MISTRAL_7B,
}


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_params(path):
    assert path.stem in PARAMS, "derive the new spec's parameter count by hand and add it to PARAMS"
    assert estimate(load_spec(path)).totals["params"] == PARAMS[path.stem]


def test_extends_chain_merges_key_by_key():
    # gpt2_sm_t_scfuffn_ereg -> gpt2_sm_scfuffn -> gpt2_sm_scffn -> gpt2_sm -> gpt2_sm_ln_g
    base, spec = load_spec(SPECS / "gpt2_sm_ln_g.yaml"), load_spec(SPECS / "gpt2_sm_t_scfuffn_ereg.yaml")
    assert spec.model == base.model
    assert spec.norm.kind == "none"  # from gpt2_sm
    assert (spec.ffn.activation, spec.ffn.scaled, spec.ffn.fused) == ("identity", True, True)
    assert spec.attention.temperature == "learnable"
    # training: entropy keys added by the child, dataset kept from the root
    assert (spec.training.entropy_reg, spec.training.entropy_gamma, spec.training.dataset) == (True, 0.2,
                                                                                                  "codeparrot")
    assert spec.label == "EReg(SM(t)+ScFuFFN)"


def test_identity_is_not_inherited(tmp_path):
    write_yaml(tmp_path / "parent.yaml", {**TINY, "label": "P", "description": "the parent"})
    (tmp_path / "sub").mkdir()
    child = write_yaml(tmp_path / "sub" / "child.yaml", {"version": 1, "extends": "../parent.yaml",
                                                         "model": {"layers": 3}})
    spec = load_spec(child)
    assert (spec.name, spec.label, spec.description) == ("child", None, "")
    assert (spec.model.layers, spec.model.d_model) == (3, 8)  # one key overridden, the rest inherited


def test_defaults_and_derived_sizes(tiny_file):
    spec = load_spec(tiny_file(inference={"context": None}))
    assert spec.context == 8  # no context: max_context
    assert (spec.kv_heads, spec.head_dim) == (2, 4)  # heads, d_model / heads
    assert (spec.norm.kind, spec.attention.kind, spec.ffn.activation, spec.embeddings.positions) == (
        "layernorm", "softmax", "gelu", "learned")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.model.layers = 3  # type: ignore[misc]


@pytest.mark.parametrize("overrides, read, expected", [
    (["model.layers=18", "ffn.prune_last=6"], lambda s: (s.model.layers, s.ffn.prune_last), (18, 6)),
    (["model.layers=3", "model.layers=4"], lambda s: s.model.layers, 4),  # the last one wins
    (["attention.projections=[q, k]"], lambda s: s.attention.projections, ("q", "k")),
    (["model.kv_heads=1", "model.kv_heads=null"], lambda s: s.kv_heads, 2),
    (["embeddings.rotary_fraction=1"], lambda s: s.embeddings.rotary_fraction, 1.0),  # int accepted as number
    (["ffn.activation=relu"], lambda s: s.ffn.activation, "relu"),  # a section the file does not have
    (["label=mine"], lambda s: s.label, "mine"),
], ids=["two-keys", "last-wins", "list", "null", "int-as-number", "new-section", "top-level"])
def test_overrides(tiny_file, overrides, read, expected):
    assert read(load_spec(tiny_file(), overrides)) == expected


def test_context_argument(tiny_file):
    assert load_spec(tiny_file(), ["inference.context=2"], context=6).context == 6


@pytest.mark.parametrize("sections, overrides, context, source, key", [
    ({"model": {"heads": 3}}, [], None, "tiny.yaml", "model.heads"),  # the file's own error names the file
    ({}, ["model.heads=3"], None, "--set", "model.heads"),
    ({}, ["attention.projections=[q, 3]"], None, "--set", "attention.projections[1]"),  # an item of an override
    ({}, [], 9, "--context", "inference.context"),  # 9 > max_context 8
])
def test_error_names_its_source(tiny_file, sections, overrides, context, source, key):
    with pytest.raises(InputError) as info:
        load_spec(tiny_file(**sections), overrides, context)
    assert info.value.key == key
    assert info.value.source.endswith(source)


def test_hf_json_is_parsed_as_json(tmp_path):
    # Tab indentation is valid JSON but not YAML; 1e-05 is a number in JSON but a string in YAML 1.1.
    path = tmp_path / "config.json"
    path.write_text('{\n\t"model_type": "gpt2", "n_layer": 2, "n_head": 2, "n_embd": 8,\n\t"n_positions": 8, '
                    '"vocab_size": 10, "layer_norm_epsilon": 1e-05}\n')
    assert load_spec(path).model.layers == 2


def test_input_error_line():
    err = InputError("f.yaml", "model.layers", "a positive integer", 0)
    assert str(err) == "f.yaml: model.layers: expected a positive integer, got 0"
    err.source = "--set"  # rewritten after construction: the line follows
    assert str(err) == "--set: model.layers: expected a positive integer, got 0"
    assert str(InputError("f.yaml", None, "an existing spec file")) == "f.yaml: expected an existing spec file"


def test_suggest_and_describe():
    assert suggest("activaton", ["activation", "gated"]) == " (did you mean 'activation'?)"
    assert suggest("zzz", ["activation", "gated"]) == ""
    assert describe(typing.Literal["a", "b"]) == "one of 'a', 'b'"
    assert describe(int | None) == "an integer or null"
    assert describe(tuple[str, ...]) == "a list of a string"


def test_token_types_and_position_offset_are_parameters_only(tmp_path):
    # the tiny model (d 8, V 10, 8 positions): 2 token types add 2 x 8 = 16 weights, a position offset of 2 adds
    # 2 x 8 = 16; no op changes, so no cost does
    from conftest import tiny_spec, write_yaml

    base = estimate(load_spec(write_yaml(tmp_path / "a.yaml", tiny_spec())))
    more = estimate(load_spec(write_yaml(tmp_path / "b.yaml", tiny_spec(
        embeddings={"token_types": 2, "position_offset": 2}))))
    assert more.totals["params"] == base.totals["params"] + 16 + 16
    assert [r["kind"] for r in more.ops] == [r["kind"] for r in base.ops]
    with pytest.raises(Exception, match="embeddings.token_types"):
        load_spec(write_yaml(tmp_path / "c.yaml", tiny_spec(embeddings={"token_types": -1})))
