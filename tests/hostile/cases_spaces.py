"""Hostile design spaces (`pidse sweep --space FILE`): the file's types and keys, its base spec, its axes, contexts
and ranges, the limits on a sweep's size, and spaces none of whose points is valid. Each case is the small valid
SPACE with one thing broken."""
from __future__ import annotations

import copy

import yaml

from hostile import Case

BASE = """version: 1
model: {layers: 2, heads: 2, d_model: 8, d_ff: 16, vocab_size: 10, max_context: 256}
inference: {context: 4}
"""
SPACE = {"version": 1, "base": "base.yaml", "contexts": {128: {"dataset": "codeparrot"}},
         "axes": {"act": {"G": {"ffn.activation": "gelu"}, "R": {"ffn.activation": "relu"}}},
         "ranges": {"layers": [2], "prune_last": [0]}}


def dump(data) -> str:
    return yaml.safe_dump(data, sort_keys=False, width=1 << 20)


def space(**top) -> str:
    """SPACE with top-level keys replaced (a value of ... removes the key)."""
    data = copy.deepcopy(SPACE)
    for key, value in top.items():
        if value is ...:
            data.pop(key)
        else:
            data[key] = value
    return dump(data)


def case(id: str, text, *needles, files=None) -> Case:
    return Case(id, ("sweep", "--space", "{tmp}/sp.yaml", "--out", "{tmp}/out", "--db", "{tmp}/db.sqlite"),
                {"sp.yaml": text, "base.yaml": BASE, **(files or {})}, needles)


def ranges(**values) -> str:
    return space(ranges={**SPACE["ranges"], **values})


CASES = [
    # the list
    case("space-base-int", space(base=5), "sp.yaml", "base"),
    case("space-axes-list", space(axes=[1, 2]), "sp.yaml", "axes"),
    case("space-contexts-list", space(contexts=[128]), "sp.yaml", "contexts"),
    case("space-ranges-list", space(ranges=[1]), "sp.yaml", "ranges"),
    case("space-networks-int", space(networks=5), "sp.yaml", "networks"),
    case("space-layers-empty", ranges(layers=[]), "ranges.layers"),
    case("space-layers-superscript", ranges(layers="²..3"), "ranges.layers"),
    case("space-context-set-typo", space(contexts={128: {"set": {"model.layrs": 3}}}), "contexts.128.set",
         "model.layrs"),
    case("space-base-unknown-key", space(), "base.yaml", "foo", files={"base.yaml": BASE + "foo: 1\n"}),
    # base
    case("space-base-missing-key", space(base=...), "base"),
    case("space-base-list", space(base=["a.yaml"]), "base"),
    case("space-base-missing-file", space(base="nope.yaml"), "base", "nope.yaml"),
    case("space-base-etc-shadow", space(base="/etc/shadow"), "base"),
    case("space-base-folder", space(base=".."), "base"),
    case("space-base-json", space(base="config.json"), "base", files={"config.json": "{}"}),
    case("space-base-bad-value", space(), "base.yaml", "model.layers",
         files={"base.yaml": BASE.replace("layers: 2", "layers: 1000000")}),
    case("space-base-duplicate-key", space(), "base.yaml", "each key once",
         files={"base.yaml": BASE + "version: 1\n"}),
    case("space-base-extends-cycle", space(), "cycle", files={"base.yaml": "extends: base.yaml\n"}),
    case("space-base-not-mapping", space(), "base.yaml", files={"base.yaml": "- 1\n"}),
    # top level
    case("space-version-2", space(version=2), "version"),
    case("space-version-string", space(version="1"), "version"),
    case("space-unknown-key", space(axis={}), "axis", "space key"),
    case("space-protocols-int", space(protocols=5), "protocols"),
    case("space-protocols-empty", space(protocols=[]), "protocols"),
    case("space-protocols-ints", space(protocols=[1, 2]), "protocols"),
    case("space-protocols-blank", space(protocols=[""]), "protocols"),
    case("space-networks-empty", space(networks=[]), "networks"),
    case("space-name-list", space(name=[1]), "name"),
    case("space-description-mapping", space(description={"a": 1}), "description"),
    case("space-empty-file", "", "sp.yaml", "a mapping"),
    case("space-not-mapping", "- base.yaml\n", "sp.yaml", "a mapping"),
    case("space-binary", bytes(range(256)), "sp.yaml", "UTF-8"),
    case("space-duplicate-key", space() + "base: other.yaml\n", "sp.yaml", "each key once"),
    case("space-billion-laughs", "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcd", "bcde")) + "f: [*e, *e, *e, *e, *e]\n",
         "sp.yaml", "values"),
    case("space-deep-nesting", space(description="x").replace("description: x",
                                                              "description: " + "[" * 100 + "]" * 100), "nesting"),
    Case("space-path-folder", ("sweep", "--space", "{tmp}/d.yaml", "--out", "{tmp}/out"), {"d.yaml/x": "x"},
         ("--space",)),
    Case("space-name-missing", ("sweep", "--space", "no_such_space", "--out", "{tmp}/out"), {}, ("--space",)),
    # axes
    case("space-axes-int", space(axes=5), "axes"),
    case("space-axis-list", space(axes={"a": ["x"]}), "axes.a"),
    case("space-axis-empty", space(axes={"a": {}}), "axes.a"),
    case("space-choice-int", space(axes={"a": {"x": 5}}), "axes.a.x"),
    case("space-choice-list", space(axes={"a": {"x": ["ffn.activation", "relu"]}}), "axes.a.x"),
    case("space-choice-unknown-key", space(axes={"a": {"x": {"ffn.activaton": "relu"}}}), "axes.a.x",
         "ffn.activaton"),
    case("space-choice-sets-layers", space(axes={"a": {"x": {"model.layers": 3}}}), "axes.a.x", "ranges.layers"),
    case("space-choice-sets-prune", space(axes={"a": {"x": {"ffn.prune_last": 1}}}), "ranges.prune_last"),
    case("space-choice-bool-name", space().replace("G:", "on:").replace("R:", "off:"), "axes.act"),
    case("space-axis-int-name", space(axes={5: {"x": {}}}), "axes.5"),
    case("space-all-points-fail", space(axes={"a": {"x": {"ffn.activation": "bogus"}}}), "ffn.activation",
         "no point"),
    case("space-all-points-fail-fused", space(axes={"a": {"x": {"ffn.fused": True}}}), "ffn.fused", "no point"),
    case("space-all-points-fail-context", space(contexts={512: {}}), "inference.context", "no point"),
    case("space-too-many-structures", space(axes={f"a{i}": {"x": {}, "y": {"norm.ffn": False}} for i in range(13)}),
         "axes", "4,096"),
    # contexts
    case("space-context-name", space(contexts={"long": {}}), "contexts.long"),
    case("space-context-zero", space(contexts={0: {}}), "contexts.0"),
    case("space-context-negative", space(contexts={-5: {}}), "contexts.-5"),
    case("space-context-huge", space(contexts={10**12: {}}), "contexts"),
    case("space-context-float", space(contexts={1.5: {}}), "contexts"),
    case("space-context-setting-int", space(contexts={128: 5}), "contexts.128"),
    case("space-context-unknown-key", space(contexts={128: {"datset": "x"}}), "contexts.128.datset"),
    case("space-context-set-int", space(contexts={128: {"set": 5}}), "contexts.128.set"),
    case("space-context-set-layers", space(contexts={128: {"set": {"model.layers": 0}}}), "contexts.128.set",
         "ranges.layers"),
    case("space-context-tokens-nan", space(contexts={128: {"train_tokens": float("nan")}}), "train_tokens"),
    case("space-context-tokens-negative", space(contexts={128: {"train_tokens": -1.0}}), "train_tokens"),
    case("space-context-tokens-text", space(contexts={128: {"train_tokens": "abc"}}), "train_tokens"),
    case("space-context-tokens-huge", space(contexts={128: {"train_tokens": 10**40}}), "train_tokens"),
    case("space-context-dataset-list", space(contexts={128: {"dataset": ["x"]}}), "contexts.128.dataset"),
    # ranges
    case("space-layers-million", ranges(layers="1..1000000"), "ranges.layers", "1,024"),
    case("space-layers-reversed", ranges(layers="12..1"), "ranges.layers"),
    case("space-layers-zero", ranges(layers=[0]), "ranges.layers"),
    case("space-layers-negative", ranges(layers=[-1]), "ranges.layers"),
    case("space-layers-huge", ranges(layers=[10**30]), "ranges.layers"),
    case("space-layers-int", ranges(layers=5), "ranges.layers"),
    case("space-layers-float", ranges(layers=[1.5]), "ranges.layers"),
    case("space-layers-words", ranges(layers="a..b"), "ranges.layers"),
    case("space-layers-fullwidth", ranges(layers="１..３"), "ranges.layers"),
    case("space-layers-mapping", ranges(layers={"a": 1}), "ranges.layers"),
    case("space-layers-nested", ranges(layers=[[1]]), "ranges.layers"),
    case("space-prune-word", ranges(prune_last="all"), "ranges.prune_last"),
    case("space-prune-typo", ranges(prune_last="0..layer"), "ranges.prune_last"),
    case("space-prune-negative", ranges(prune_last=[-1]), "ranges.prune_last"),
    case("space-prune-deeper-than-layers", ranges(prune_last=[5]), "ranges.prune_last"),
    case("space-ranges-unknown-key", ranges(layrs=[1]), "ranges.layrs"),
    case("space-too-many-points",  # 4 structures x 525,824 depths = 2,103,296 points
         space(axes={"act": {a: {"ffn.activation": a} for a in ("gelu", "relu", "silu", "quad")}},
               ranges={"layers": "1..1024", "prune_last": "0..layers"}), "ranges", "2,000,000"),
    case("space-too-much-work-pruning",
         space(axes={"p": {"x": {"pruning.schedule": [{"after": 1, "keep": 0.5}]}}},
               ranges={"layers": "2..1024", "prune_last": [0]}), "ranges.layers", "2,000,000"),
    case("space-too-much-work-generate", space(contexts={128: {"set": {"inference.generate": 4}}},
                                               ranges={"layers": "1..1024", "prune_last": [0]}), "ranges.layers"),
]
