"""Architecture specs: YAML (or a HuggingFace config.json) -> validated, frozen `Spec`.

A spec file may `extends:` another (path relative to itself); mappings merge key by key, the child winning.
`--set a.b=value` overrides are applied after inheritance and validated like the file; an error caused by an
override names `--set` as its source.
"""
from __future__ import annotations

import dataclasses
import functools
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pidse.errors import InputError, cut, short
from pidse.ops import MAX_OPS
from pidse.resources import SPECS_DIR
from pidse.schema import (MAX_DEPTH, DuplicateKeyError, bounded, check_bounds, check_tree, describe, field_hint,
                          from_mapping, suggest, unique_pairs)
from pidse.spec.hf import spec_mapping_from_hf_config

SPEC_VERSION = 1
PROJECTIONS = ("q", "k", "v", "o")

# Limits on every size a spec can give (README, "Bad input"): far above any published model, low enough that a
# typo or a hostile file cannot exhaust memory or time. The op graph has one node per op per layer per emitted
# token, so its size is bounded as a whole (MAX_OPS, checked by validate before any graph is built).
MAX_LAYERS = 1024
MAX_SIZE = 2**24  # widths, heads, vocabulary, context, window, generated tokens: 16,777,216
MAX_BATCH = 65536
MAX_EXPERTS = 4096
MAX_POWER = 64  # Power-Softmax exponent
# Decode steps are one template per op (pidse.steps) carrying per-step sizes: a generation's per-step values are
# bounded as op-steps (a few numbers each); building every step whole (CKKS pricing, a per-step graph) is
# bounded by MAX_OPS again, where it happens (pidse.steps.expand).
MAX_OP_STEPS = 20_000_000
MAX_EXTENDS = 32  # files in an `extends:` chain
MAX_FILE_BYTES = 4 * 2**20  # a file pidse reads (a JSON config, a CSV)
MAX_YAML_BYTES = 2**20  # a YAML spec, space or table (libyaml builds YAML ~10x slower than JSON)
# op_bound's counts: ops outside the layers per forward pass (embedding, positions, norms, LM head, argmax), ops
# per layer (norms, projections, rope, scores, softmax, residuals, FFN, scaling, a pruning step), and per expert
# of a mixture (up, gate, activation, product, down, gate weight) plus the router's four
OPS_FIXED, OPS_PER_LAYER, OPS_PER_EXPERT, OPS_ROUTER = 6, 24, 6, 4


@dataclass(frozen=True)
class Model:
    layers: int = bounded(1, MAX_LAYERS)
    heads: int = bounded(1, MAX_SIZE)
    d_model: int = bounded(1, MAX_SIZE)
    d_ff: int = bounded(1, MAX_SIZE)
    vocab_size: int = bounded(1, MAX_SIZE)
    max_context: int = bounded(1, MAX_SIZE)
    kv_heads: int | None = bounded(1, MAX_SIZE, default=None)  # grouped-query attention; None = heads, 1 = MQA
    head_dim: int | None = bounded(1, MAX_SIZE, default=None)  # None = d_model / heads
    bias: bool = True  # biases on linear layers and LayerNorms
    parallel_residual: bool = False  # GPT-NeoX/Pythia: x + attn(norm(x)) + ffn(norm(x))


@dataclass(frozen=True)
class Norm:
    kind: Literal["layernorm", "rmsnorm", "none"] = "layernorm"
    attention: bool = True  # before attention in every layer
    ffn: bool = True  # before the FFN in every layer
    final: bool = True  # before the LM head
    embedding: bool = False  # once, right after the embeddings


# Attention kinds: how scores become weights. softmax; power_softmax x^p / sum x^p; 2quad (MPCFormer)
# (x + 5)^2 / sum (x + 5)^2, a Power-Softmax with p = 2 after a public shift; relu (MPCFormer's 2ReLU)
# relu(x) / sum relu(x); linear: no nonlinearity, (Q K^T) V computed as Q (K^T V) (causal: running K^T V sums),
# each row scaled by 1 / (keys it sees), a public constant.
ATTENTION_KINDS = ("softmax", "power_softmax", "2quad", "relu", "linear")
QUAD_SHIFT = 5  # MPCFormer App. A.2: 2Quad = (x + c)^2 / sum (x + c)^2, c = 5


@dataclass(frozen=True)
class Attention:
    kind: Literal[ATTENTION_KINDS] = "softmax"
    power: int | None = bounded(2, MAX_POWER, default=None)  # Power-Softmax exponent p (even); power_softmax only
    temperature: Literal["fixed", "learnable"] = "fixed"  # learnable: AERO's SM(t), per head and position
    projections: tuple[str, ...] = PROJECTIONS  # He & Hofmann (SAS): [q, k]
    causal: bool = True  # a decoder's mask: query i sees keys <= i (false: bidirectional, BERT)
    window: int | None = bounded(1, MAX_SIZE, default=None)  # sliding window (Mistral): keys each query sees


@dataclass(frozen=True)
class FFN:
    # quad: MPCFormer's GeLU(x) ~ 0.125 x^2 + 0.25 x + 0.5; poly: a polynomial of `degree` (least squares to GELU)
    activation: Literal["gelu", "relu", "silu", "identity", "quad", "poly"] = "gelu"
    degree: int | None = bounded(2, 32, default=None)  # the polynomial's degree; only with activation poly
    gated: bool = False  # GLU form act(x W_gate) * (x W_up); silu + gated = SwiGLU
    scaled: bool = False  # AERO's ScFFN: beta * x + FFN(x) / alpha, learnable alpha, beta per layer
    fused: bool = False  # identity FFN folded into one d x d linear layer
    prune_last: int = bounded(0, MAX_LAYERS, default=0)  # remove the FFNs of the k deepest layers
    experts: int = bounded(1, MAX_EXPERTS, default=1)  # mixture of experts: expert FFNs per layer (1: dense)
    top_k: int | None = bounded(1, MAX_EXPERTS, default=None)  # experts per token (experts > 1; Mixtral: 2 of 8)


@dataclass(frozen=True)
class PruneStep:
    after: int = bounded(1, MAX_LAYERS)  # after this many layers (1: after the first layer)
    keep: float  # the share of the tokens still there that go on, in (0, 1]; ceil(keep x tokens) are kept


@dataclass(frozen=True)
class Pruning:
    """Token pruning: fewer tokens after chosen layers, plus the protocol that picks them (an op `prune`).
    sort: BOLT's word elimination (an oblivious bitonic sort on the attention each token receives);
    threshold: CipherPrune (each token's importance compared with a threshold, then oblivious compaction)."""
    method: Literal["sort", "threshold"] = "sort"
    schedule: tuple[PruneStep, ...] = ()


@dataclass(frozen=True)
class Embeddings:
    positions: Literal["learned", "rotary", "none"] = "learned"
    rotary_fraction: float = 1.0  # share of each head's dims that are rotated (Pythia: 0.25)
    tied_head: bool = True  # LM head shares the token-embedding matrix
    token_types: int = bounded(0, MAX_SIZE, default=0)  # segment (token-type) embedding rows (BERT 2, RoBERTa 1)
    position_offset: int = bounded(0, MAX_SIZE, default=0)  # position rows before the first (OPT 2, RoBERTa 2)


@dataclass(frozen=True)
class Inference:
    context: int | None = bounded(1, MAX_SIZE, default=None)  # prompt tokens T; None = model.max_context
    generate: int = bounded(1, MAX_SIZE, default=1)  # emitted tokens; 1 = prefill T and emit one (AERO's)
    batch: int = bounded(1, MAX_BATCH, default=1)  # sequences priced together


@dataclass(frozen=True)
class Training:
    """Metadata that changes no inference cost but identifies a trained model."""
    entropy_reg: bool = False  # AERO's entropy regularisation (Algorithm 1)
    entropy_lambda: float | None = None  # loss weight
    entropy_gamma: float | None = None  # tolerance fraction of log(T)
    weight_norm: Literal["none", "weight", "spectral"] = "none"  # AERO's normalisation ablations
    weight_norm_on: tuple[str, ...] = ()  # which linear layers are normalised: items of q, k, v, o, ffn
    dataset: str | None = None
    tokens: float | None = None  # training tokens


@dataclass(frozen=True)
class Spec:
    version: int
    model: Model
    name: str = ""
    label: str | None = None  # e.g. AERO's "SM+LN+G"
    description: str = ""
    norm: Norm = field(default_factory=Norm)
    attention: Attention = field(default_factory=Attention)
    ffn: FFN = field(default_factory=FFN)
    embeddings: Embeddings = field(default_factory=Embeddings)
    pruning: Pruning = field(default_factory=Pruning)
    inference: Inference = field(default_factory=Inference)
    training: Training = field(default_factory=Training)
    source: str = field(default="", compare=False, metadata={"internal": True})  # the file it came from

    # Derived sizes, used by the graph builder.
    @property
    def kv_heads(self) -> int:
        return self.model.kv_heads or self.model.heads

    @property
    def head_dim(self) -> int:
        return self.model.head_dim or self.model.d_model // self.model.heads

    @property
    def context(self) -> int:
        return self.inference.context or self.model.max_context

    def replace(self, **sections) -> Spec:
        return dataclasses.replace(self, **sections)


def validate(spec: Spec) -> Spec:
    """Cross-field checks the types alone cannot express."""
    src, m = spec.source, spec.model
    if spec.version != SPEC_VERSION:
        raise InputError(src, "version", f"{SPEC_VERSION} (the spec format this pidse reads)", spec.version)
    check_bounds(spec, src)  # again: a Spec changed in Python (dataclasses.replace) skipped from_mapping
    if m.head_dim is None and m.d_model % m.heads:
        raise InputError(src, "model.heads", f"a divisor of model.d_model ({m.d_model}), or set model.head_dim",
                         m.heads)
    if m.heads % spec.kv_heads:
        raise InputError(src, "model.kv_heads", f"a divisor of model.heads ({m.heads})", m.kv_heads)

    a = spec.attention
    proj = a.projections
    if len(set(proj)) != len(proj) or not set(proj) <= set(PROJECTIONS) or not {"q", "k"} <= set(proj):
        raise InputError(src, "attention.projections", "distinct items of q, k, v, o including q and k",
                         list(proj))
    if {"v", "o"} - set(proj) and spec.model.heads * spec.head_dim != m.d_model:
        raise InputError(src, "attention.projections", "v and o when heads x head_dim != d_model", list(proj))
    if "v" not in proj and spec.kv_heads != m.heads:
        raise InputError(src, "attention.projections", "a v projection with grouped-query attention", list(proj))
    if a.kind == "power_softmax":
        if a.power is None or a.power % 2:
            raise InputError(src, "attention.power", f"a positive even integer (2 to {MAX_POWER}) for power_softmax",
                             a.power)
    elif a.power is not None:
        raise InputError(src, "attention.power", "no value unless attention.kind is power_softmax", a.power)
    if a.window is not None and not a.causal:
        raise InputError(src, "attention.window", "null, or a window with causal attention (a decoder's sliding "
                         "window)", a.window)
    if a.kind == "linear" and a.temperature == "learnable":
        raise InputError(src, "attention.temperature", "fixed with linear attention (it has no scores to "
                         "scale per position)", a.temperature)

    f = spec.ffn
    if not 0 <= f.prune_last <= m.layers:
        raise InputError(src, "ffn.prune_last", f"an integer from 0 to model.layers ({m.layers})", f.prune_last)
    if f.fused and (f.activation != "identity" or f.gated or f.experts > 1):
        raise InputError(src, "ffn.fused", "false unless ffn.activation is identity, ffn.gated is false and "
                         "ffn.experts is 1", f.fused)
    if f.activation == "poly":
        if f.degree is None:
            raise InputError(src, "ffn.degree", "an integer from 2 to 32 for activation poly", f.degree)
    elif f.degree is not None:
        raise InputError(src, "ffn.degree", "no value unless ffn.activation is poly (quad is degree 2)", f.degree)
    if f.experts > 1 and (f.top_k is None or not 1 <= f.top_k <= f.experts):
        raise InputError(src, "ffn.top_k", f"an integer from 1 to ffn.experts ({f.experts})", f.top_k)
    if f.experts == 1 and f.top_k is not None:
        raise InputError(src, "ffn.top_k", "no value unless ffn.experts is above 1", f.top_k)

    if spec.pruning.schedule and a.kind == "linear":
        raise InputError(src, "pruning.schedule", "no token pruning with linear attention (pruning ranks tokens "
                         "by the attention they receive; linear attention forms no scores)", "[...]")
    after = [step.after for step in spec.pruning.schedule]
    for i, step in enumerate(spec.pruning.schedule):
        key = f"pruning.schedule[{i}]"
        if not 1 <= step.after < m.layers or (i and step.after <= after[i - 1]):
            raise InputError(src, f"{key}.after", f"a layer count from 1 to model.layers - 1 ({m.layers - 1}), "
                             "increasing along the schedule", step.after)
        if not 0 < step.keep <= 1:
            raise InputError(src, f"{key}.keep", "a share in (0, 1]", step.keep)

    e = spec.embeddings
    if not 0 < e.rotary_fraction <= 1:
        raise InputError(src, "embeddings.rotary_fraction", "a number in (0, 1]", e.rotary_fraction)

    t = spec.training
    for key, low in (("tokens", "a positive number"), ("entropy_lambda", "a number >= 0"),
                     ("entropy_gamma", "a number >= 0")):
        value = getattr(t, key)
        if value is not None and not (value > 0 if key == "tokens" else value >= 0):
            raise InputError(src, f"training.{key}", low + ", or null", value)
    if (t.weight_norm == "none") != (not t.weight_norm_on) or not set(t.weight_norm_on) <= {*PROJECTIONS, "ffn"}:
        raise InputError(src, "training.weight_norm_on", "items of q, k, v, o, ffn, given exactly when "
                         "training.weight_norm is not none", list(t.weight_norm_on))

    inf = spec.inference
    room = m.max_context - spec.context  # positions left for generated tokens after the prompt
    if room < 0:
        raise InputError(src, "inference.context", f"at most model.max_context ({m.max_context}; to price a longer "
                         f"context as a what-if, add --set model.max_context={spec.context})", spec.context)
    if inf.generate - 1 > room:  # name generate when it, not the prompt, is what overflows the context
        raise InputError(src, "inference.generate", f"at most model.max_context - context + 1 ({room + 1})",
                         inf.generate)
    ops = op_bound(spec)
    if ops > MAX_OPS:
        key = "ffn.experts" if f.experts > 1 else "model.layers"
        got = {"ffn.experts": f.experts, "model.layers": m.layers}[key]
        raise InputError(src, key, f"an op graph of at most {MAX_OPS:,} ops (this spec's could have {ops:,}: "
                         f"{m.layers:,} layers x {ops_per_layer(spec):,} ops per forward pass, a prefill and a "
                         "decode template); lower model.layers or ffn.experts", got)
    steps = step_bound(spec)
    if steps > MAX_OP_STEPS:
        raise InputError(src, "inference.generate", f"at most {MAX_OP_STEPS:,} op-steps (ops per forward pass x "
                         f"generated tokens; this spec's could have {steps:,})", inf.generate)
    return spec


def ops_per_layer(spec: Spec) -> int:
    """An upper bound on the ops of one layer of one forward pass (see OPS_PER_LAYER)."""
    experts = spec.ffn.experts
    return OPS_PER_LAYER + (OPS_PER_EXPERT * experts + OPS_ROUTER if experts > 1 else 0)


def op_bound(spec: Spec) -> int:
    """An upper bound on the nodes of spec's op graph, from its sizes alone (nothing is built): a prefill and, when
    tokens are generated, one decode template (pidse.steps), each a forward pass over every layer."""
    return (2 if spec.inference.generate > 1 else 1) * (OPS_FIXED + spec.model.layers * ops_per_layer(spec))


def step_bound(spec: Spec) -> int:
    """An upper bound on the op-steps of a generation: the rows building every decode step whole would have."""
    return spec.inference.generate * (OPS_FIXED + spec.model.layers * ops_per_layer(spec))


# ---- loading ---------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _yaml_loader():
    """libyaml's safe loader where PyYAML has it (parsing is most of a `pidse estimate` run in pure Python), made
    strict: a key given twice in one mapping is an error, where YAML would silently keep the last."""
    import yaml

    class StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        def construct_mapping(self, node, deep=False):
            if isinstance(node, yaml.MappingNode):
                seen = set()
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` then overriding is fine
                        continue
                    key = self.construct_object(key_node, deep=True)
                    try:
                        if key in seen:
                            raise _DuplicateYAMLKey(key, key_node.start_mark)
                        seen.add(key)
                    except TypeError:  # an unhashable key: PyYAML's own error follows
                        pass
            return super().construct_mapping(node, deep)

    return StrictLoader


class _DuplicateYAMLKey(Exception):
    def __init__(self, key, mark):
        super().__init__(key)
        self.key, self.line = key, mark.line + 1


def parse_text(text: str, source, json_syntax: bool = False, key: str | None = None):
    """YAML (or JSON) text -> data, every failure one InputError naming `source` (and `key`, for a --set value):
    malformed text, a key given twice, integers too long to read, nesting or aliases past the limits of
    pidse.schema.check_tree."""
    import json

    import yaml

    try:
        # JSON goes to the JSON parser: PyYAML rejects tab indentation and reads 1e-05 as a string.
        data = json.loads(text, object_pairs_hook=unique_pairs, parse_constant=_no_constant) if json_syntax \
            else yaml.load(text, Loader=_yaml_loader())
    except json.JSONDecodeError as err:
        raise InputError(source, f"line {err.lineno}", f"well-formed JSON ({err.msg})") from None
    except DuplicateKeyError as err:
        raise InputError(source, key or err.key, "each key once per mapping (given twice; JSON readers would keep "
                         "the last)") from None
    except _DuplicateYAMLKey as err:
        raise InputError(source, key or f"line {err.line}", f"each key once per mapping ({short(err.key)} is "
                         "given twice; YAML would keep the last)") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = key or (f"line {mark.line + 1}" if mark else None)
        problem = getattr(err, "problem", None) or "unparseable"
        raise InputError(source, where, f"well-formed {'JSON' if json_syntax else 'YAML'} ({problem})") from None
    except RecursionError:
        raise InputError(source, key, f"at most {MAX_DEPTH} levels of nesting") from None
    except ValueError as err:  # a 5,000-digit integer; NaN in JSON; a date like 2024-13-45
        if "integer string conversion" in str(err):
            digits = getattr(sys, "get_int_max_str_digits", lambda: 4300)()
            raise InputError(source, key, f"integers of at most {digits:,} digits") from None
        raise InputError(source, key, f"values it can read ({cut(str(err), 120)})") from None
    check_tree(data, str(source), key)
    return data


def is_file(path) -> bool:
    """Path.is_file, answering False rather than raising for a path the OS refuses (a name too long, a NUL)."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def read_mapping(path: Path) -> dict:
    """Parse a YAML/JSON file (at most MAX_FILE_BYTES) into a mapping, every failure one InputError line."""
    if not is_file(path):
        raise InputError(path, None, "an existing spec file (YAML, or a HuggingFace config.json)")
    syntax = "json" if path.suffix == ".json" else "yaml"
    limit = MAX_FILE_BYTES if syntax == "json" else MAX_YAML_BYTES
    try:
        with open(path, "rb") as handle:
            raw = handle.read(limit + 1)
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(path, None, "a UTF-8 text file") from None
    except OSError as err:
        raise InputError(path, None, f"a readable file ({err.strerror})") from None
    if len(raw) > limit:
        raise InputError(path, None, f"a {syntax.upper()} file of at most {limit // 2**20} MiB")
    data = parse_text(text, path, json_syntax=syntax == "json")
    if not isinstance(data, dict):
        raise InputError(path, None, "a mapping of keys to values at the top level", type(data).__name__)
    return data


def merge(base: dict, child: dict) -> dict:
    out = dict(base)
    for key, value in child.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def resolve_extends(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    """The spec file at `path` with the chain of files it `extends:` merged in (at most MAX_EXTENDS files, each a
    YAML spec: never another kind of file, whose lines an error would quote)."""
    data = read_mapping(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str) or not parent.strip() or "\0" in parent or len(parent) > 1024:
        raise InputError(path, "extends", "a path to another spec file", parent)
    parent_path = (path.parent / parent).resolve()
    if parent_path.suffix not in (".yaml", ".yml"):
        raise InputError(path, "extends", "a path to a YAML spec file (.yaml or .yml), relative to this one", parent)
    if not is_file(parent_path):  # name the file that points at it, not just the missing one
        raise InputError(path, "extends", "a path to an existing spec file, relative to this one", parent)
    if parent_path in seen or parent_path == path.resolve():
        raise InputError(path, "extends", "no cycle of extends", parent)
    if len(seen) + 2 > MAX_EXTENDS:
        raise InputError(path, "extends", f"a chain of at most {MAX_EXTENDS} spec files", parent)
    base = resolve_extends(parent_path, seen + (path.resolve(),))
    for key in ("name", "label", "description"):  # identity is not inherited
        base.pop(key, None)
    return merge(base, data)


_SCIENTIFIC = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def parse_override(text: str) -> tuple[list[str], Any]:
    import yaml

    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise InputError("--set", text, "dotted.key=value")
    try:
        value = yaml.load(raw, Loader=_yaml_loader()) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    except (_DuplicateYAMLKey, RecursionError, ValueError):
        value = parse_text(raw, "--set", key=key.strip())  # the same error, named
    check_tree(value, "--set", key.strip())
    if isinstance(value, str) and _SCIENTIFIC.fullmatch(value):  # YAML 1.1 reads "1e-5" as a string
        value = float(value)
    return key.strip().split("."), value


def apply_overrides(data: dict, overrides) -> tuple[dict, set[str]]:
    """Overrides are "a.b=value" strings (values parsed as YAML) or (dotted key, value) pairs."""
    data, keys = dict(data), set()
    for item in overrides:
        path, value = parse_override(item) if isinstance(item, str) else (item[0].split("."), item[1])
        hint, known, depth = field_hint(Spec, path)
        if hint is None:
            bad = ".".join(path[: depth + 1])
            hint_text = suggest(path[depth], known) if depth < len(path) and known else ""
            raise InputError("--set", bad, "a spec key" + hint_text)
        if dataclasses.is_dataclass(hint):
            raise InputError("--set", ".".join(path), f"a key inside it, not the whole mapping ({describe(hint)})")
        node = data
        for part in path[:-1]:
            if not isinstance(node.get(part, {}), (dict, type(None))):
                break  # the file has a non-mapping here: leave it, so that validation names the file's error
            node[part] = dict(node.get(part) or {})
            node = node[part]
        else:
            node[path[-1]] = value
        keys.add(".".join(path))
    return data, keys


def spec_path(name: str | Path) -> Path:
    """A spec path as given; a bare name that is no file (gpt2_sm_scfuffn) is the shipped spec of that name."""
    path = Path(name)
    shipped = SPECS_DIR / f"{path.name}.yaml"
    bare = path.parent == Path(".") and path.suffix not in (".yaml", ".yml", ".json")  # tinyllama_1.1b is bare
    if bare and not is_file(path) and not _is_dir(path) and is_file(shipped):
        return shipped
    return path


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def list_specs() -> list[str]:
    return sorted(p.stem for p in SPECS_DIR.glob("*.yaml"))


def load_spec(path: str | Path, overrides=(), context: int | None = None) -> Spec:
    """Load and validate a spec (or HuggingFace config.json), with `--set` overrides and an optional context."""
    path = spec_path(path)
    if not is_file(path):
        raise InputError(path, None, "an existing spec file (YAML, or a HuggingFace config.json), or a shipped "
                                     "spec's name: " + ", ".join(list_specs()))
    if path.suffix not in (".yaml", ".yml", ".json"):  # never another kind of file, whose lines an error would quote
        raise InputError(path, None, "a spec file named *.yaml or *.yml, or a HuggingFace config *.json")
    if path.suffix == ".json":
        data = spec_mapping_from_hf_config(read_mapping(path), str(path))
    else:
        data = resolve_extends(path)
    data, override_keys = apply_overrides(data, overrides)
    options = dict.fromkeys(override_keys, "--set")  # key -> the option that set it, named in its errors
    if context is not None:
        data, _ = apply_overrides(data, [f"inference.context={context}"])
        options["inference.context"] = "--context"
    data.setdefault("name", path.stem)
    try:
        spec = from_mapping(Spec, data, str(path))
        return validate(dataclasses.replace(spec, source=str(path)))
    except InputError as err:
        for key, option in options.items():  # the key itself, or an item of it (attention.projections[1])
            if err.key == key or str(err.key).startswith((key + ".", key + "[")):
                err.source = option
        raise
