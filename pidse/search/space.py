"""Design spaces: YAML -> the structures and numeric ranges a sweep evaluates.

A space starts from a base spec and crosses named axes; each choice of an axis is a set of spec overrides
(dotted keys, as `--set`). Two numeric axes are special because the sweep prices them without building a graph:
`ranges.layers` (model.layers) and `ranges.prune_last` (ffn.prune_last; "0..layers" means every depth). Each
context may carry its own dataset, training tokens and overrides (AERO's T=512 runs use Languini's 16K vocab).
Combinations that do not validate (a fused FFN with a GELU) are skipped and counted.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

from pidse.errors import InputError
from pidse.resources import SPACES_DIR
from pidse.schema import reject_unknown
from pidse.spec.load import Spec, apply_overrides, from_mapping, read_mapping, resolve_extends, validate

TOP_KEYS = {"version", "name", "description", "base", "protocols", "networks", "contexts", "axes", "ranges"}


@dataclass(frozen=True)
class ContextSetting:
    context: int
    dataset: str | None = None
    train_tokens: float | None = None
    overrides: tuple = ()  # (dotted key, value) pairs


@dataclass
class Structure:
    """One combination of named choices: a spec whose layers and prune_last the ranges then vary."""
    spec: Spec
    choices: dict  # axis -> choice name


@dataclass
class Space:
    name: str
    description: str
    source: str
    protocols: list
    networks: list
    contexts: dict  # context -> ContextSetting
    axes: dict  # axis -> {choice: {dotted key: value}}
    layers: list
    prune_last: str | list  # "0..layers" or explicit values
    base: dict = field(repr=False, default_factory=dict)

    def structures(self, context: int) -> tuple[list[Structure], int]:
        """Every valid combination of named choices at `context` (its overrides applied), and how many were
        skipped as invalid."""
        setting = self.contexts.get(context, ContextSetting(context))
        names = list(self.axes)
        out, skipped = [], 0
        for combo in itertools.product(*(self.axes[a].items() for a in names)):
            overrides = [item for _, choice in combo for item in choice.items()]
            overrides += list(setting.overrides) + [("inference.context", context),
                                                    ("model.layers", max(self.layers))]
            try:
                data, _ = apply_overrides(self.base, overrides)
                spec = validate(from_mapping(Spec, data, self.source).replace(source=self.source))
            except InputError:
                skipped += 1
                continue
            out.append(Structure(spec, {a: c for a, (c, _) in zip(names, combo)}))
        return out, skipped

    def prune_values(self, layers: int) -> list[int]:
        if isinstance(self.prune_last, str):
            return list(range(0, layers + 1))
        return [k for k in self.prune_last if k <= layers]


def _range(text, where: str, source: str) -> list[int]:
    if isinstance(text, list) and all(type(v) is int and v >= 0 for v in text):
        return text
    if isinstance(text, str) and ".." in text:
        lo, hi = text.split("..", 1)
        if lo.strip().isdigit() and hi.strip().isdigit() and int(lo) <= int(hi):
            return list(range(int(lo), int(hi) + 1))
    raise InputError(source, where, "a list of non-negative integers or 'a..b'", text)


def space_path(name: str) -> Path:
    path = Path(name)
    return path if path.suffix in (".yaml", ".yml") or path.parent != Path(".") else SPACES_DIR / f"{name}.yaml"


def load_space(name: str = "aero") -> Space:
    path = space_path(name)
    src = str(path)
    if not path.is_file():
        raise InputError("--space", None, "a space name in arch_specs/spaces/ or a path to a space YAML", name)
    data = read_mapping(path)
    reject_unknown(data, TOP_KEYS, src, "space key")
    if "base" not in data:
        raise InputError(src, "base", "the spec every point starts from (a path relative to the space)")
    base = resolve_extends((path.parent / data["base"]).resolve())
    axes = data.get("axes") or {}
    for axis, choices in axes.items():
        if not isinstance(choices, dict) or not all(isinstance(c, dict) for c in choices.values()):
            raise InputError(src, f"axes.{axis}", "a mapping of choice names to mappings of spec overrides")
        for choice in choices.values():  # typos in axis keys must not silently do nothing
            apply_overrides(base, list(choice.items()))
    contexts = {}
    for ctx, setting in (data.get("contexts") or {}).items():
        setting = setting or {}
        if type(ctx) is not int or ctx <= 0:
            raise InputError(src, f"contexts.{ctx}", "a positive integer context length")
        unknown = set(setting) - {"dataset", "train_tokens", "set"}
        if unknown:
            raise InputError(src, f"contexts.{ctx}.{sorted(unknown)[0]}", "dataset, train_tokens or set")
        overrides = tuple((setting.get("set") or {}).items())
        tokens = setting.get("train_tokens")
        try:  # YAML 1.1 reads 4.8e9 as a string
            tokens = None if tokens is None else float(tokens)
        except ValueError:
            raise InputError(src, f"contexts.{ctx}.train_tokens", "a number", tokens) from None
        contexts[ctx] = ContextSetting(ctx, setting.get("dataset"), tokens, overrides)
    ranges = data.get("ranges") or {}
    layers = _range(ranges.get("layers", [base.get("model", {}).get("layers", 1)]), "ranges.layers", src)
    prune = ranges.get("prune_last", [0])
    if prune != "0..layers":
        prune = _range(prune, "ranges.prune_last", src)
    return Space(data.get("name", path.stem), data.get("description", ""), src,
                 list(data.get("protocols") or ["aero-secretflow"]), list(data.get("networks") or ["table"]),
                 contexts, axes, layers, prune, base)

