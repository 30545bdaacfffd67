"""HuggingFace config.json -> spec, offline: GPT-2, GPT-NeoX (Pythia) and Llama configs as published on the Hub."""
from __future__ import annotations

import json

import pytest

from conftest import DATA, SPECS, assert_one_line_error, invoke
from pidse.model.estimate import estimate
from pidse.spec.load import load_spec

# (config.json, the hand-written spec it must equal, HF parameter count, name; counts derived in test_spec.py)
MODELS = [
    pytest.param("gpt2_config.json", "gpt2_sm_ln_g.yaml", 124_439_808, "gpt2_config", id="gpt2"),
    pytest.param("pythia_70m_config.json", "pythia_70m.yaml", 70_426_624, "pythia-70m", id="pythia-70m"),
    pytest.param("tinyllama_config.json", "tinyllama_1.1b.yaml", 1_100_048_384,
                 "TinyLlama-1.1B-intermediate-step-1431k-3T", id="tinyllama"),
]


@pytest.mark.parametrize("config, yaml_spec, params, name", MODELS)
def test_config_equals_spec(config, yaml_spec, params, name):
    hf, mine = load_spec(DATA / config, context=128), load_spec(SPECS / yaml_spec, context=128)
    for section in ("model", "norm", "attention", "ffn", "embeddings"):
        assert getattr(hf, section) == getattr(mine, section), section
    assert hf.name == name
    hf_est, mine_est = estimate(hf), estimate(mine)
    assert hf_est.totals["params"] == mine_est.totals["params"] == params
    assert hf_est.totals == mine_est.totals
    assert hf_est.nonlinear_ops == mine_est.nonlinear_ops


@pytest.mark.parametrize("config, context", [("gpt2_config.json", 1024), ("tinyllama_config.json", 2048)])
def test_config_context_defaults_to_max_positions(config, context):
    assert load_spec(DATA / config).context == context


def test_cli_reads_config():
    result = invoke("estimate", DATA / "pythia_70m_config.json", "--context", 64, "-f", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["totals"]["params"], out["context"]) == (70_426_624, 64)
    # Pythia: 6 layers x 8 heads of 64 x 64 scores; 2 LNs per layer (parallel residual keeps both)
    assert out["nonlinear_ops"] == "SM:48xR64x64 LN:12xR64x512 G:6xR64x2048"


def write_config(tmp_path, base: str, change=(), drop=()):
    """tmp_path/config.json: tests/data/`base` with keys changed or dropped."""
    config = json.loads((DATA / base).read_text()) | dict(change)
    for key in drop:
        del config[key]
    (tmp_path / "config.json").write_text(json.dumps(config))
    return tmp_path / "config.json"


def test_mistral_maps_like_llama(tmp_path):
    path = write_config(tmp_path, "tinyllama_config.json", {"model_type": "mistral"})
    assert estimate(load_spec(path)).totals["params"] == 1_100_048_384


# Each bad config is the GPT-2 config with one change; the error names config.json and the HF key.
BAD_CONFIGS = [
    pytest.param({"model_type": "bert"}, ["model_type", "bert", "gpt2, gpt_neox, llama"], id="unsupported-family"),
    pytest.param({"model_type": ["gpt2"]}, ["model_type"], id="family-not-a-string"),
    pytest.param({"n_embd": None}, ["n_embd", "an integer"], id="null-size"),
    pytest.param({"n_layer": "12"}, ["n_layer", "an integer", "'12'"], id="wrong-type"),
    pytest.param({"activation_function": "gelu_quick"}, ["activation_function", "gelu_quick"],
                 id="unsupported-activation"),
    pytest.param({"n_head": 5}, ["model.heads", "divisor"], id="heads-not-dividing"),  # validated as a spec
    pytest.param({"vocab_size": 0}, ["model.vocab_size", "positive"], id="zero-vocab"),
]


@pytest.mark.parametrize("change, needles", BAD_CONFIGS)
def test_bad_config(tmp_path, change, needles):
    path = write_config(tmp_path, "gpt2_config.json", change)
    assert_one_line_error(invoke("estimate", path), "config.json", *needles)


def test_missing_config_key(tmp_path):
    path = write_config(tmp_path, "gpt2_config.json", drop=["n_layer"])
    assert_one_line_error(invoke("estimate", path), "config.json", "n_layer", "this key in a gpt2 config")


def test_malformed_json(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "gpt2",\n "n_layer": 12,,\n}')
    assert_one_line_error(invoke("estimate", tmp_path / "config.json"), "config.json", "line 2", "JSON")
