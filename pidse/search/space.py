"""Design spaces: YAML -> the structures and numeric ranges a sweep evaluates.

A space starts from a base spec and crosses named axes; each choice of an axis is a set of spec overrides
(dotted keys, as `--set`). Two numeric axes are special because the sweep prices them without building a graph:
`ranges.layers` (model.layers) and `ranges.prune_last` (ffn.prune_last; "0..layers" means every depth). Each
context may carry its own dataset, training tokens and overrides (AERO's T=512 runs use Languini's 16K vocab).
Combinations that do not validate (a fused FFN with a GELU) are skipped and counted; a space none of whose
combinations validates is an error, the first combination's.

The file is read by the schema machinery (pidse.schema.from_mapping, SpaceFile below), like a spec: types,
unknown keys and limits are checked when it is loaded, as are the base spec and every override's key.
"""
from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pidse.errors import InputError
from pidse.resources import SPACES_DIR
from pidse.schema import bounded, from_mapping
from pidse.spec.definition import MAX_LAYERS, MAX_SIZE, Spec, op_bound, validate
from pidse.spec.load import apply_overrides, is_file, read_mapping, resolve_extends

SPACE_VERSION = 1
MAX_STRUCTURES = 4096  # combinations of the named axes
MAX_POINTS = 2_000_000  # rows of a sweep: structures x depths x contexts x protocols x networks (~2.5 GB)
MAX_SWEEP_OPS = 2_000_000  # op-graph nodes a sweep may build per context and table (pidse.spec.load.op_bound)
ALL_DEPTHS = "0..layers"


# ---- the file, as the schema machinery reads it -------------------------------------------------------------

@dataclass(frozen=True)
class ContextFile:
    dataset: str | None = None  # the measured perplexities to join
    train_tokens: float | None = bounded(1, 1e16, default=None)
    set: dict[str, Any] | None = None  # spec overrides at this context (dotted keys, as --set)


@dataclass(frozen=True)
class RangesFile:
    layers: tuple[int, ...] | str | None = bounded(1, MAX_LAYERS, default=None)  # null: the base spec's
    prune_last: tuple[int, ...] | str = bounded(0, MAX_LAYERS, default=(0,))


@dataclass(frozen=True)
class SpaceFile:
    base: str  # the spec every point starts from, relative to the space file
    version: int = SPACE_VERSION
    name: str | None = None
    description: str = ""
    protocols: tuple[str, ...] = ("aero-secretflow",)
    networks: tuple[str, ...] = ("table",)
    contexts: dict[int, ContextFile | None] = field(default_factory=dict)
    axes: dict[str, dict[str, dict[str, Any] | None]] = field(default_factory=dict)
    ranges: RangesFile = field(default_factory=RangesFile)


# ---- the loaded space -----------------------------------------------------------------------------------------

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
    base_path: Path | None = None  # the base spec file (what a training grid records each point's spec against)
    _structures: dict = field(repr=False, default_factory=dict)  # context -> structures() (checked at load)

    def structures(self, context: int) -> tuple[list[Structure], int]:
        """Every valid combination of named choices at `context` (its overrides applied), and how many were
        skipped as invalid. None valid is an InputError: the first combination's error, saying so. Structures
        whose graphs the sweep builds depth by depth (token pruning, generated tokens) are bounded in total."""
        if context not in self._structures:
            self._structures[context] = self._build(context)
        return self._structures[context]

    def _build(self, context: int) -> tuple[list[Structure], int]:
        setting = self.contexts.get(context, ContextSetting(context))
        names = list(self.axes)
        out, skipped, first = [], 0, None
        for combo in itertools.product(*(self.axes[a].items() for a in names)):
            overrides = [item for _, choice in combo for item in choice.items()]
            overrides += list(setting.overrides) + [("inference.context", context),
                                                    ("model.layers", max(self.layers))]
            try:
                data, _ = apply_overrides(self.base, overrides)
                spec = validate(from_mapping(Spec, data, self.source).replace(source=self.source))
            except InputError as err:
                skipped += 1
                first = first or (err, {a: c for a, (c, _) in zip(names, combo)})
                continue
            out.append(Structure(spec, {a: c for a, (c, _) in zip(names, combo)}))
        if not out and first:
            err, choices = first
            which = ", ".join(f"{a}={c}" for a, c in choices.items()) or "the base spec"
            raise InputError(err.source, err.key, f"{err.expected} (no point of the space is valid at context "
                             f"{context}; the first, {which}, fails so)", err.got)
        self._check_work(out, context)
        return out, skipped

    def _check_work(self, structures: list[Structure], context: int) -> None:
        depths = [L for L in self.layers for _ in self.prune_values(L)]
        ops = 0
        for st in structures:  # op_bound is fixed + L x per layer: summed over the depths without a loop
            fixed = op_bound(st.spec.replace(model=_with_layers(st.spec, 0)))
            per_layer = op_bound(st.spec.replace(model=_with_layers(st.spec, 1))) - fixed
            whole = st.spec.pruning.schedule or st.spec.inference.generate > 1  # priced depth by depth
            ops += fixed * len(depths) + per_layer * sum(depths) if whole else fixed + per_layer
        if ops > MAX_SWEEP_OPS:
            raise InputError(self.source, "ranges.layers", f"a sweep of at most {MAX_SWEEP_OPS:,} op-graph nodes "
                             f"per context and table (at context {context} this space's could have {ops:,}: "
                             "token pruning and generated tokens price each depth whole); fewer layers, axes or "
                             "generated tokens", _short_list(self.layers))

    def prune_values(self, layers: int) -> list[int]:
        if isinstance(self.prune_last, str):
            return list(range(0, layers + 1))
        return [k for k in self.prune_last if k <= layers]

    def architectures(self, contexts=None) -> int:
        """Architectures the space holds at these contexts (structures x depths x contexts), before invalid
        combinations are skipped: what a training grid trains."""
        structures = math.prod(len(c) for c in self.axes.values())
        depths = sum(len(self.prune_values(L)) for L in self.layers)
        return structures * depths * len(contexts or self.contexts or [128])

    def points(self, contexts=None, protocols=None, networks=None) -> int:
        """Rows a sweep of this space would have: every architecture under every table and network."""
        return self.architectures(contexts) * len(protocols or self.protocols) * len(networks or self.networks)

    def check_points(self, contexts=None, protocols=None, networks=None, option: str | None = None) -> None:
        """InputError when a sweep with these contexts, tables and networks would have over MAX_POINTS rows."""
        n = self.points(contexts, protocols, networks)
        if n > MAX_POINTS:
            raise InputError(option or self.source, None if option else "ranges", f"a sweep of at most "
                             f"{MAX_POINTS:,} points (structures x depths x contexts x tables x networks; this "
                             f"one has {n:,})")


def _with_layers(spec: Spec, layers: int):
    return replace(spec.model, layers=layers)


def _short_list(values: list) -> str:
    return f"{values[0]}..{values[-1]}" if len(values) > 3 else str(values)


_RANGE = re.compile(r"\s*(\d{1,7})\s*\.\.\s*(\d{1,7})\s*", re.ASCII)


def _range(value, key: str, source: str, lo: int) -> list[int]:
    """A ranges entry: a list of integers (duplicates dropped) or 'a..b', within [lo, MAX_LAYERS]."""
    if isinstance(value, tuple):
        if not value:
            raise InputError(source, key, "a non-empty list of integers, or 'a..b'", [])
        return list(dict.fromkeys(value))
    match = _RANGE.fullmatch(value)
    a, b = (int(x) for x in match.groups()) if match else (None, None)
    if not match or not lo <= a <= b <= MAX_LAYERS:
        raise InputError(source, key, f"a list of integers or 'a..b' with {lo} <= a <= b <= {MAX_LAYERS:,}"
                         + (f", or {ALL_DEPTHS!r}" if key.endswith("prune_last") else ""), value)
    return list(range(a, b + 1))


def space_path(name: str) -> Path:
    path = Path(name)
    return path if path.suffix in (".yaml", ".yml") or path.parent != Path(".") else SPACES_DIR / f"{name}.yaml"


def load_space(name: str = "aero") -> Space:
    """Read and check a design space (a name in arch_specs/spaces/ or a path): its file against SpaceFile, its
    base spec, every override's key, its ranges and its size."""
    path = space_path(name)
    src = str(path)
    if not is_file(path):
        raise InputError("--space", None, "a space name in arch_specs/spaces/ or a path to a space YAML", name)
    spec_file = from_mapping(SpaceFile, read_mapping(path), src, what="space key")
    if spec_file.version != SPACE_VERSION:
        raise InputError(src, "version", f"{SPACE_VERSION} (the space format this pidse reads)", spec_file.version)
    for key in ("protocols", "networks"):
        if not getattr(spec_file, key) or not all(getattr(spec_file, key)):
            raise InputError(src, key, "a non-empty list of names", list(getattr(spec_file, key)))
    base_path = (path.parent / spec_file.base).resolve()
    if base_path.suffix not in (".yaml", ".yml") or not is_file(base_path):
        raise InputError(src, "base", "a path to an existing YAML spec file, relative to the space",
                         spec_file.base)
    base = resolve_extends(base_path)
    base.setdefault("name", base_path.stem)
    from_mapping(Spec, base, str(base_path))  # its keys, types and limits now, not as every point failing
    axes = {}
    for axis, choices in spec_file.axes.items():
        if not choices:
            raise InputError(src, f"axes.{axis}", "a mapping of choice names to mappings of spec overrides",
                             choices)
        axes[axis] = {}
        for choice, overrides in choices.items():
            axes[axis][choice] = overrides or {}
            _check_keys(base, overrides, src, f"axes.{axis}.{choice}")
    contexts = {}
    for ctx, setting in spec_file.contexts.items():
        setting = setting or ContextFile()
        if not 1 <= ctx <= MAX_SIZE:
            raise InputError(src, f"contexts.{ctx}", f"a positive context length up to {MAX_SIZE:,}", ctx)
        _check_keys(base, setting.set, src, f"contexts.{ctx}.set")
        contexts[ctx] = ContextSetting(ctx, setting.dataset, setting.train_tokens, tuple((setting.set or {}).items()))
    ranges = spec_file.ranges
    base_layers = base.get("model", {}).get("layers") if isinstance(base.get("model"), dict) else None
    layers = _range(ranges.layers if ranges.layers is not None else (base_layers,), "ranges.layers", src, 1)
    prune = ranges.prune_last
    prune = prune if prune == ALL_DEPTHS else _range(prune, "ranges.prune_last", src, 0)
    space = Space(spec_file.name or path.stem, spec_file.description, src, list(spec_file.protocols),
                  list(spec_file.networks), contexts, axes, layers, prune, base, base_path)
    if math.prod(len(c) for c in axes.values()) > MAX_STRUCTURES:
        raise InputError(src, "axes", f"at most {MAX_STRUCTURES:,} combinations of the axes' choices",
                         math.prod(len(c) for c in axes.values()))
    if not space.points():
        raise InputError(src, "ranges.prune_last", "at least one value up to a layer count of ranges.layers "
                         f"({_short_list(layers)})", list(prune) if isinstance(prune, list) else prune)
    space.check_points()
    for context in list(contexts) or [128]:  # a space with no valid point fails now, before any work
        space.structures(context)
    return space


def _check_keys(base: dict, overrides: dict | None, source: str, where: str) -> None:
    """Every override's key must be a spec key (a typo must not silently do nothing), and not one that the ranges
    set for every point (it would do nothing either); errors name `where`."""
    for key, ranged in (("model.layers", "ranges.layers"), ("ffn.prune_last", "ranges.prune_last")):
        if key in (overrides or {}):
            raise InputError(source, f"{where}: {key}", f"no {key} here: {ranged} sets it for every point",
                             overrides[key])
    try:
        apply_overrides(base, list((overrides or {}).items()))
    except InputError as err:
        raise InputError(source, f"{where}: {err.key}", err.expected, err.got) from None
