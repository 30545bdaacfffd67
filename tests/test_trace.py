"""Tracing PyTorch models into pidse's op graph (pidse.trace): two independent paths to one graph, HuggingFace
models of many families, a custom module from a Python file through the CLI, the unsupported-op list and --map,
and bad input in one line.

Must-show 1: for every shipped spec `pidse train` can build, the PyTorch model it builds (pidse.train.model.GPT,
on the meta device) traced at T = 16 gives the spec graph's parameters, MACs, nonlinear-op inventory and op
multiset, every op in the same part, and under every MPC cost table the same communication, rounds and latency.
(This comparison found that the trained model's FFN residual added norm(x) instead of x; fixed, and
tests/test_train_axes.py checks the residual by hand.)
"""
from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from collections import Counter

import pytest

from conftest import DATA, ROOT, SHIPPED, assert_one_line_error, invoke, tiny_spec, write_yaml
from pidse.cost.registry import load_table
from pidse.errors import InputError
from pidse.model.estimate import Origin, estimate, estimate_graph
from pidse.ops import shape_values
from pidse.resources import TABLES_DIR
from pidse.spec.load import load_spec
from pidse.trace import check_supported, load_map, unsupported_text

HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_TRANSFORMERS = HAS_TORCH and importlib.util.find_spec("transformers") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed ([torch] or [train] extra)")
needs_transformers = pytest.mark.skipif(not HAS_TRANSFORMERS, reason="transformers is not installed ([test] extra)")

T = 16
EXAMPLE = ROOT / "examples" / "relu_attention.py"
EXAMPLE_MAP = ROOT / "examples" / "relu_attention_map.yaml"
HF = DATA / "trace" / "hf"
MPC_TABLES = sorted(p.stem for p in TABLES_DIR.glob("*.yaml") if load_table(p.stem).family == "mpc")


def trainable(path) -> bool:
    from pidse.train.data import VOCAB_SIZE  # check_trainable's rules, without importing torch at collection

    spec = load_spec(path)
    return spec.attention.causal and spec.model.vocab_size >= VOCAB_SIZE


TRAINABLE = [p.stem for p in SHIPPED if trainable(p)]


def op_key(node) -> tuple:
    """What an op is priced and counted by: kind, place, every formula symbol (shape, elements, kept, roles,
    power, degree) and its inventory symbol."""
    values = shape_values(node["kind"], node["shape"], node["attrs"])
    return (node["kind"], node["block"], node["layer"], tuple(sorted(values.items())), node["attrs"].get("symbol"))


def traced_gpt(spec, context=T):
    import torch

    from pidse.trace import trace
    from pidse.train.model import GPT

    with torch.device("meta"):
        model = GPT(spec)
    return trace(model, context)


def origin(traced) -> Origin:
    return Origin(traced.name, traced.source, traced.context)


# ---- must-show 1: the spec graph and the traced trained model agree ----------------------------------------------

def test_every_trainable_shipped_spec_is_compared():
    assert len(TRAINABLE) == 16 and "bert_base" not in TRAINABLE  # bert_base is an encoder: pidse train refuses it
    assert len(MPC_TABLES) == 17  # every shipped MPC table (puma-crypten the newest)


@needs_torch
@pytest.mark.parametrize("name", TRAINABLE)
def test_trained_model_traces_to_the_spec_graph(name):
    spec = load_spec(name, [], T)
    traced = traced_gpt(spec)
    assert traced.unsupported == [] and traced.notes == []
    ours, theirs = estimate_graph(traced.nodes, traced.edges, origin(traced)), estimate(spec)
    for column in ("params", "macs", "flops"):
        assert ours.totals[column] == theirs.totals[column], column
    assert traced.params == theirs.totals["params"]  # every parameter of the module counted once
    assert ours.nonlinear_ops == theirs.nonlinear_ops and ours.head_nonlinear_ops == theirs.head_nonlinear_ops
    assert Counter(map(op_key, traced.nodes.values())) == Counter(op_key(r) for r in theirs.ops)
    parts = Counter((n["kind"], n["layer"], n["part"]) for n in traced.nodes.values())
    assert parts == Counter((r["kind"], r["layer"], r["part"]) for r in theirs.ops)
    for table_name in MPC_TABLES:
        table = load_table(table_name)
        a = estimate_graph(traced.nodes, traced.edges, origin(traced), table=table, allow_missing=True)
        b = estimate(spec, table=table, allow_missing=True)
        assert a.uncosted == b.uncosted, table_name
        for column in ("comm_bytes", "rounds", "compute_s", "latency_s"):
            assert math.isclose(a.totals[column], b.totals[column], rel_tol=1e-9, abs_tol=1e-12), (table_name, column)


# Spec axes no shipped spec uses, at tiny sizes (trained-model parameters and graphs agree as for the shipped ones).
AXES = {
    "quad": {"ffn": {"activation": "quad"}},
    "poly": {"ffn": {"activation": "poly", "degree": 4}},
    "2quad": {"attention": {"kind": "2quad"}},
    "relu-attention": {"attention": {"kind": "relu"}},
    "gated-gelu": {"ffn": {"activation": "gelu", "gated": True}},
    "no-positions": {"embeddings": {"positions": "none"}},
    "untied": {"embeddings": {"tied_head": False}},
    "embedding-norm": {"norm": {"embedding": True, "final": False}},
    "rmsnorm-no-bias": {"norm": {"kind": "rmsnorm"}, "model": {"bias": False}},
    "prune-last-ffn": {"ffn": {"prune_last": 1}},
    "temperature": {"attention": {"temperature": "learnable"}},
    "head-dim": {"model": {"head_dim": 16}},
    "rotary-half": {"embeddings": {"positions": "rotary", "rotary_fraction": 0.5}, "model": {"kv_heads": 2}},
    "window-beyond-context": {"attention": {"window": 32}},
}
SMALL = {"model": {"layers": 2, "heads": 4, "d_model": 32, "d_ff": 64, "vocab_size": 300, "max_context": 64},
         "inference": {"context": T}}


def small_spec(tmp_path, **sections):
    data = tiny_spec(**SMALL)
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value}
    return load_spec(write_yaml(tmp_path / "s.yaml", data))


@needs_torch
@pytest.mark.parametrize("axes", list(AXES.values()), ids=list(AXES))
def test_other_axes_trace_to_the_spec_graph(tmp_path, axes):
    spec = small_spec(tmp_path, **axes)
    traced = traced_gpt(spec)
    theirs = estimate(spec)
    assert traced.unsupported == [] and traced.params == theirs.totals["params"]
    assert Counter(map(op_key, traced.nodes.values())) == Counter(op_key(r) for r in theirs.ops)


@needs_torch
def test_a_window_shorter_than_the_context_keeps_the_same_scores_on_more_columns(tmp_path):
    """The trained model computes every query's T scores and masks all but the W latest; the spec graph prices a
    banded kernel of min(T, W) keys. The softmax keeps the same scores (T = 16, W = 4: 4 x 16 - 4 x 3 / 2 = 58
    per head... by causal_kept: c = 3 queries see 1, 2, 3 keys, 13 see 4: 6 + 52 = 58), the matmuls differ."""
    spec = small_spec(tmp_path, attention={"window": 4})
    traced = traced_gpt(spec)
    softmax = [n for n in traced.nodes.values() if n["kind"] == "softmax"]
    assert [n["attrs"]["window"] for n in softmax] == [4, 4]
    assert shape_values("softmax", softmax[0]["shape"], softmax[0]["attrs"])["kept"] == 4 * 58
    spec_softmax = [r for r in estimate(spec).ops if r["kind"] == "softmax"][0]
    assert shape_values("softmax", spec_softmax["shape"], spec_softmax["attrs"])["kept"] == 4 * 58
    assert softmax[0]["shape"]["cols"] == 16 and spec_softmax["shape"]["cols"] == 4


# Axes where the trained model computes something the spec graph prices differently, each listed by the trace
# (never silently different): (sections, the ops it cannot classify).
DIFFERENT = {
    # routing writes each token's gates at its secret expert indices (a scatter by secret positions)
    "mixture-of-experts": ({"ffn": {"experts": 4, "top_k": 2}}, ["aten.scatter"]),
    # token pruning sorts and gathers the rows at secret positions
    "token-pruning": ({"pruning": {"schedule": [{"after": 1, "keep": 0.5}]}}, ["aten.sort", "aten.gather"]),
    # linear attention: masked (Q K^T) V, and the entropy bookkeeping's |weights| / row sums, where the spec prices
    # Q (K^T V) with running sums
    "linear-attention": ({"attention": {"kind": "linear"}}, ["aten.abs", "aten.clamp_min", "aten.div"]),
}


@needs_torch
@pytest.mark.parametrize("axes, ops", list(DIFFERENT.values()), ids=list(DIFFERENT))
def test_axes_the_trained_model_computes_otherwise_are_listed(tmp_path, axes, ops):
    traced = traced_gpt(small_spec(tmp_path, **axes))
    assert [u["op"] for u in traced.unsupported] == ops


@needs_torch
def test_weight_normalisation_gains_are_training_parameters(tmp_path):
    """weight_norm wraps each chosen linear layer's weight as g * v / |v|: g (one per output) is a parameter of
    the trained model that inference folds into the weight, so the trace counts 32 (q) + 64 + 32 (up, down) = 128
    per layer more than the spec graph."""
    spec = small_spec(tmp_path, training={"weight_norm": "weight", "weight_norm_on": ["q", "ffn"]})
    traced = traced_gpt(spec)
    assert traced.params - estimate(spec).totals["params"] == 2 * (32 + 64 + 32)


# ---- hand-derived: a small module written out op by op -------------------------------------------------------------

def small_module():
    import torch
    from torch import nn

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(8))
            self.q, self.k, self.v = nn.Linear(8, 8), nn.Linear(8, 8, bias=False), nn.Linear(8, 8, bias=False)

        def forward(self, x):
            h = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.w  # RMSNorm, written out
            q, k, v = self.q(h), self.k(h), self.v(h)
            s = (q @ k.transpose(-2, -1)) * 0.5 * 0.5  # two public scalings: one op
            mask = torch.ones(x.shape[1], x.shape[1], dtype=torch.bool).tril()
            return x + s.masked_fill(~mask, float("-inf")).softmax(-1) @ v

    class Small(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(10, 8)
            self.layers = nn.ModuleList([Layer()])
            self.out = nn.Linear(8, 10, bias=False)

        def forward(self, ids):
            x = self.embed(ids)
            for layer in self.layers:
                x = layer(x)
            mu = x.mean(-1, keepdim=True)  # LayerNorm, written out with var and a division
            x = (x - mu) / torch.sqrt(x.var(-1, keepdim=True, unbiased=False) + 1e-5)
            return self.out(x)
    return Small()


@needs_torch
def test_a_small_module_by_hand():
    """T = 4, d = 8, V = 10, one layer. Embedding 4 tokens of 10 x 8 (80 params); the written-out RMSNorm: 4 x 8,
    8 params (w); q 4x8x8 + 8 bias = 72 params, k, v 64 each; QK^T 1 x 4x8x4; one scale 4 x 4; a causal softmax
    (kept 4 x 4 - 4 x 3 / 2 = 10); A.V 4x4x8; the residual add 4 x 8. After the layer, on the last position: the
    written-out LayerNorm 1 x 8 (no params), the LM head 1x8x10 (80 params), the argmax 1 x 10."""
    from pidse.trace import trace

    traced = trace(small_module(), 4)
    assert [(n["kind"], n["shape"], n["params"]) for n in traced.nodes.values()] == [
        ("embedding", {"tokens": 4, "vocab": 10, "dim": 8}, 80),
        ("rmsnorm", {"rows": 4, "cols": 8}, 8),
        ("linear", {"m": 4, "k": 8, "n": 8}, 72),
        ("linear", {"m": 4, "k": 8, "n": 8}, 64),
        ("linear", {"m": 4, "k": 8, "n": 8}, 64),
        ("matmul", {"batch": 1, "m": 4, "k": 8, "n": 4}, 0),
        ("scale", {"rows": 4, "cols": 4}, 0),
        ("softmax", {"batch": 1, "rows": 4, "cols": 4}, 0),
        ("matmul", {"batch": 1, "m": 4, "k": 4, "n": 8}, 0),
        ("add", {"rows": 4, "cols": 8}, 0),
        ("layernorm", {"rows": 1, "cols": 8}, 0),
        ("lm_head", {"m": 1, "k": 8, "n": 10}, 80),
        ("argmax", {"rows": 1, "cols": 10}, 0),
    ]
    nodes = list(traced.nodes.values())
    assert [n["attrs"]["role"] for n in nodes[2:5]] == ["q", "k", "v"] and nodes[2]["attrs"]["bias"] is True
    assert shape_values("softmax", nodes[7]["shape"], nodes[7]["attrs"])["kept"] == 10
    assert [n["attrs"].get("role") for n in (nodes[5], nodes[8])] == ["scores", "context"]
    assert [n["block"] for n in nodes] == ["embedding", "norm"] + ["attention"] * 8 + ["head"] * 3
    assert traced.params == 80 + 8 + 72 + 64 + 64 + 80


@needs_torch
def test_a_module_without_layers_is_priced_on_every_position():
    import torch

    from pidse.trace import trace

    traced = trace(torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Linear(4, 10)), 4)
    assert [(n["kind"], n["shape"]) for n in traced.nodes.values()] == [
        ("embedding", {"tokens": 4, "vocab": 10, "dim": 4}), ("linear", {"m": 4, "k": 4, "n": 10})]
    assert traced.notes == ["no numbered layers (a ModuleList) found: every op priced on all positions, and no "
                            "argmax"]


def test_roles_from_module_names():
    from pidse.trace.rules import role

    assert role("model.layers.0.self_attn.k_proj", True) == ("k", None)
    assert role("transformer.h.3.attn.c_attn", True) == ("q", "qkv")  # fused Q/K/V: the first to read the input
    assert role("transformer.h.3.attn.c_proj", True) == ("o", None)
    assert role("transformer.h.3.mlp.c_proj", False) == ("down", None)
    assert role("model.layers.0.mlp.gate_up_proj", False) == ("up", "gate_up")
    assert role("blocks.0.ffn.gate", False) == ("gate", None)


# ---- must-show 2: HuggingFace configs of many families ---------------------------------------------------------------

FAMILIES = sorted(p.name for p in HF.iterdir())
UNMAPPED = {"bloom", "codegen", "gpt_bigcode", "gptj", "granite", "olmo", "olmo2", "stablelm", "starcoder2"}


def test_hf_families_include_ones_the_mapper_does_not_know():
    assert len(FAMILIES) >= 8 and len(UNMAPPED) >= 4 and UNMAPPED < set(FAMILIES)
    for family in UNMAPPED:
        with pytest.raises(InputError, match="model_type"):
            load_spec(HF / family / "config.json")


@pytest.fixture(scope="module")
def hf_params():
    """transformers' own parameter count (sum of p.numel(), tied weights once) of the model a config describes."""
    import torch
    import transformers

    def count(family) -> int:
        config = transformers.AutoConfig.from_pretrained(HF / family)
        with torch.device("meta"):
            model = transformers.AutoModelForCausalLM.from_config(config)
        return sum(p.numel() for p in model.parameters())
    return count


@needs_transformers
@pytest.mark.parametrize("family", FAMILIES)
def test_hf_family_traces_and_prices(hf_params, family):
    from pidse.api import estimate_traced

    est = estimate_traced(HF / family / "config.json", T, table=load_table("sigma"), hf=True,
                          allow_unsupported=family == "gemma2")
    assert est.totals["params"] == hf_params(family)
    assert est.totals["comm_bytes"] > 0 and est.totals["rounds"] > 0 and est.uncosted == []
    softmax = [r for r in est.ops if r["kind"] == "softmax"]
    assert softmax and all(r["attrs"]["causal"] for r in softmax)
    kinds = [r["kind"] for r in est.ops]
    assert kinds[-1] == "argmax" and kinds.count("lm_head") == 1
    assert est.spec.notes == ()
    if family == "gemma2":  # attention and final logit soft-capping: tanh, which pidse cannot price
        assert [(u["op"], u["calls"]) for u in est.spec.unsupported] == [("aten.tanh", 3)]
    else:
        assert est.spec.unsupported == ()
    if family == "mistral":  # sliding_window 8 < T: causal with a window
        assert {r["attrs"].get("window") for r in softmax} == {8}
    puma = estimate_traced(HF / family / "config.json", T, table=load_table("puma"), hf=True,
                           allow_unsupported=True)
    assert puma.totals["comm_bytes"] > 0


# Published configs (tests/data/hf, test_hf.py's table): 7B models traced on the meta device in about a second each,
# with transformers' own parameter counts.
REAL = {"Llama-2-7b-hf": 6_738_415_616, "Mistral-7B-v0.1": 7_241_732_096, "falcon-7b": 6_921_720_704,
        "phi-2": 2_779_683_840}


@needs_transformers
@pytest.mark.parametrize("folder, params", list(REAL.items()), ids=list(REAL))
def test_published_configs_trace_with_transformers_counts(folder, params):
    from pidse.trace import trace

    traced = trace(DATA / "hf" / folder / "config.json", T, hf=True)
    assert sum(n["params"] for n in traced.nodes.values()) == traced.params == params
    assert traced.unsupported == [] and traced.notes == []


@needs_transformers
def test_mixtral_routing_is_listed_not_priced():
    """transformers' Mixtral sends each token to its experts by sorting and indexing on the router's (secret)
    choices: all listed, with the expert weights they read, never priced as zero."""
    from pidse.trace import trace

    traced = trace(DATA / "hf" / "Mixtral-8x7B-v0.1" / "config.json", T, hf=True)
    listed = {u["op"]: u for u in traced.unsupported}
    assert {"aten.sort", "aten.index", "aten._grouped_mm"} <= set(listed)
    held = sum(u["params"] for u in traced.unsupported)
    assert sum(n["params"] for n in traced.nodes.values()) + held == traced.params == 46_702_792_704


@needs_transformers
def test_hf_unsupported_ops_stop_the_estimate_in_one_line():
    config = HF / "gemma2" / "config.json"
    assert_one_line_error(invoke("estimate", config, "--trace", "-T", T), "gemma2/config.json", "aten.tanh: 3 calls",
                          "--map FILE", "--allow-unsupported")
    result = invoke("estimate", config, "--trace", "-T", T, "--allow-unsupported")
    assert result.exit_code == 0 and "gemma2" in result.stdout
    assert "unsupported (not counted, not priced): aten.tanh: 3 calls" in result.stderr


# ---- must-show 3: a custom module from a Python file, through the CLI -----------------------------------------------

@needs_torch
def test_example_lists_what_it_cannot_classify():
    line = assert_one_line_error(invoke("estimate", f"{EXAMPLE}:build", "-p", "sigma"), "relu_attention.py:build",
                                 "unsupported ops", "aten.sigmoid: 2 calls, e.g. (1, 128, 512)", "GatedFFN")
    assert "--allow-unsupported" in line


@needs_torch
def test_example_priced_with_the_unsupported_ops_listed():
    result = invoke("estimate", f"{EXAMPLE}:build", "-p", "sigma", "--allow-unsupported", "--by", "kind")
    assert result.exit_code == 0, result.output
    assert "relu_attention" in result.stdout and "R:2xR512x128" in result.stdout
    assert "UNSUPPORTED         aten.sigmoid x2: not counted, not priced" in result.stdout  # in the report too
    assert result.stderr.splitlines() == [
        "unsupported (not counted, not priced): aten.sigmoid: 2 calls, e.g. (1, 128, 512), in blocks.0.ffn "
        "(GatedFFN)"]


@needs_torch
def test_example_priced_with_a_map():
    result = invoke("estimate", f"{EXAMPLE}:build", "-p", "sigma", "--map", EXAMPLE_MAP, "-f", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["spec"] == "relu_attention" and data["context"] == 128 and result.stderr == ""
    assert "SiLU:2xR128x512" in data["nonlinear_ops"] and "R:2xR512x128" in data["nonlinear_ops"]
    kinds = Counter(op["kind"] for op in data["ops"])
    assert kinds["silu"] == 2 and kinds["relu"] == 2 and kinds["lm_head"] == kinds["argmax"] == 1
    # the map only adds ops: the estimate without the sigmoids costs less
    less = json.loads(invoke("estimate", f"{EXAMPLE}:build", "-p", "sigma", "--allow-unsupported", "-f",
                             "json").stdout)
    assert less["totals"]["comm_bytes"] < data["totals"]["comm_bytes"]
    assert data["unsupported"] == [] and less["unsupported"] == [
        {"op": "aten.sigmoid", "calls": 2, "shape": [1, 128, 512], "where": "blocks.0.ffn (GatedFFN)", "params": 0}]
    assert less["totals"]["params"] == data["totals"]["params"] == 791_040


@needs_torch
def test_map_names_a_module_class(tmp_path):
    path = write_yaml(tmp_path / "map.yaml", {"modules": {"GatedFFN": "gelu"}})  # a whole module as one op
    data = json.loads(invoke("estimate", f"{EXAMPLE}:build", "--map", path, "-T", 32, "-f", "json").stdout)
    ops = [op for op in data["ops"] if op["kind"] == "gelu"]
    assert [op["shape"] for op in ops] == [{"rows": 32, "cols": 128}] * 2
    assert data["totals"]["params"] == 791_040  # the FFNs' parameters stay counted, on the mapped op


@needs_torch
def test_map_calls_a_module_local(tmp_path):
    """A module mapped `local` costs nothing; its parameters stay in the model and a note says no op counts them:
    two FFNs of gate and up (128 x 512 + 512 = 66,048 each) and down (512 x 128 + 128 = 65,664): 2 x 197,760 =
    395,520."""
    path = write_yaml(tmp_path / "map.yaml", {"modules": {"GatedFFN": "local"}})
    result = invoke("estimate", f"{EXAMPLE}:build", "--map", path, "-T", 32, "-f", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["totals"]["params"] == 791_040 - 395_520
    assert result.stderr.startswith(f"note: {EXAMPLE}:build: 395,520 parameters no secret op reads (blocks.0.ffn")


@needs_torch
def test_python_api_traces_a_module_and_a_file():
    import pidse

    r = pidse.estimate(f"{EXAMPLE}:build", protocol="sigma", context=64, allow_unsupported=True)
    assert r.spec.name == "relu_attention" and r.totals.loc[0, "context"] == 64
    assert list(r.unsupported["op"]) == ["aten.sigmoid"]
    module = pidse.estimate(small_module(), context=4)
    assert module.totals.loc[0, "params"] == 368 and module.unsupported.empty
    with pytest.raises(InputError, match="overrides"):
        pidse.estimate(small_module(), overrides={"model.layers": 2})


@needs_transformers
def test_python_api_traces_a_config():
    import pidse

    r = pidse.estimate(HF / "llama" / "config.json", trace=True, protocol="sigma", context=T)
    assert r.spec.name == "llama" and r.totals.loc[0, "params"] == 125_248 and r.by("kind").shape[0] == 12


def test_unsupported_listing_is_fvcore_style():
    item = {"op": "aten.sort", "calls": 2, "shape": (1, 4, 16), "where": "blocks.0.attn (Attention)", "params": 0}
    assert unsupported_text(item) == "aten.sort: 2 calls, e.g. (1, 4, 16), in blocks.0.attn (Attention)"
    from pidse.trace import Traced

    traced = Traced({}, [], [item])
    traced.source = "m.py:build"
    with pytest.raises(InputError, match="m.py:build: unsupported ops: .*aten.sort: 2 calls"):
        check_supported(traced)


# ---- bad input: one line, exit 2 ------------------------------------------------------------------------------------

FACTORIES = {
    "raises": ("def build():\n    raise ValueError('no such size')\n", ["m.py:build", "ValueError: no such size"]),
    "not-a-module": ("def build():\n    return 42\n", ["m.py:build", "an nn.Module", "int"]),
    "no-factory": ("def other():\n    pass\n", ["m.py", "build", "functions there: other"]),
    "import-fails": ("import no_such_module_here\n", ["m.py", "ModuleNotFoundError"]),
    "forward-fails": ("import torch\ndef build():\n    return torch.nn.Linear(3, 3)\n",
                      ["m.py:build", "forward", "RuntimeError"]),
    "secret-branch": ("import torch\nclass M(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                      "        self.e = torch.nn.Embedding(5, 4)\n    def forward(self, ids):\n"
                      "        x = self.e(ids)\n        return x if x.sum() > 0 else -x\n"
                      "def build():\n    return M()\n", ["m.py:build", "secret"]),
}


@needs_torch
@pytest.mark.parametrize("text, needles", list(FACTORIES.values()), ids=list(FACTORIES))
def test_bad_factories(tmp_path, text, needles):
    (tmp_path / "m.py").write_text(text)
    assert_one_line_error(invoke("estimate", f"{tmp_path / 'm.py'}:build", "-T", 8), *needles)


BAD_MAPS = {
    "unknown-section": ({"opps": {}}, ["opps", "ops, modules"]),
    "unknown-kind": ({"ops": {"aten.sort": "sorting"}}, ["ops.aten.sort.kind", "one of", "sorting"]),
    "not-an-aten-op": ({"ops": {"sort": "argmax"}}, ["ops.sort", "aten op name"]),
    "missing-degree": ({"modules": {"P": "poly"}}, ["modules.P.degree", "an integer"]),
    "extra-key": ({"modules": {"P": {"kind": "gelu", "degree": 3}}}, ["modules.P.degree", "only kind"]),
    "not-a-mapping": ({"ops": ["aten.sort"]}, ["ops", "a mapping"]),
}


@pytest.mark.parametrize("data, needles", list(BAD_MAPS.values()), ids=list(BAD_MAPS))
def test_bad_map_files(tmp_path, data, needles):
    path = write_yaml(tmp_path / "map.yaml", data)
    with pytest.raises(InputError) as err:
        load_map(path)
    for needle in needles:
        assert needle in str(err.value)
    assert_one_line_error(invoke("estimate", f"{EXAMPLE}:build", "--map", path), "map.yaml", *needles[:1])


def test_a_good_map_file(tmp_path):
    path = write_yaml(tmp_path / "map.yaml", {"ops": {"aten.sigmoid.default": "silu"},
                                              "modules": {"PolyAct": {"kind": "poly", "degree": 3}}})
    assert load_map(path) == {"ops": {"aten.sigmoid": ("silu", {})},
                              "modules": {"PolyAct": ("poly", {"degree": 3, "symbol": "Poly3"})}}


@pytest.mark.parametrize("args, needles", [
    (["nowhere.py:build"], ["nowhere.py", "an existing Python file"]),
    ([f"{EXAMPLE}"], ["relu_attention.py", "FILE.py:FACTORY"]),
    ([f"{EXAMPLE}:build", "--set", "model.layers=2"], ["--set", "no spec keys"]),
    ([f"{EXAMPLE}:build", "-T", 0], ["--context", "an integer from 1"]),
    (["gpt2_sm_ln_g", "--map", "m.yaml"], ["--map/--allow-unsupported", "a model to trace"]),
    (["arch_specs/gpt2_sm_ln_g.yaml", "--trace"], ["--trace", "config.json"]),
    ([f"{EXAMPLE}:build", "--map", "nowhere.yaml"], ["nowhere.yaml", "an existing --map file"]),
], ids=["missing-file", "no-factory-named", "set", "context", "map-without-trace", "trace-a-yaml", "missing-map"])
def test_bad_trace_arguments(args, needles):  # each is found before torch is needed
    assert_one_line_error(invoke("estimate", *args), *needles)


BLOCK_TORCH = "import sys; sys.modules['torch'] = None; "  # `import torch` then raises ImportError
NO_TORCH = BLOCK_TORCH + "sys.argv = ['pidse'] + sys.argv[1:]; from pidse.cli import main; main()"


def test_without_torch_the_package_imports_and_tracing_is_one_line():
    blocked = BLOCK_TORCH + "import pidse.trace, pidse.api, pidse.trace.classify; print('ok')"
    run = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr
    run = subprocess.run([sys.executable, "-c", NO_TORCH, "estimate", f"{EXAMPLE}:build"], capture_output=True,
                         text=True, cwd=ROOT)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.splitlines() == [f"error: {EXAMPLE}:build: expected PyTorch installed to trace a model "
                                       "(pip install -e '.[torch]')"]
