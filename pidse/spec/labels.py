"""AERO's architecture notation, both directions: the one place that knows it.

spec -> label: aero_label() writes a spec in AERO's notation (SM+LN+G, SM+ScFuFFNi6, EReg(SM(t)+ScFuFFN),
H&H SM+ScFFN, ...); the sweep labels its points with it.

label -> spec: pidse/data/ppl_labels.yaml (LABELS_YAML) maps a published (family, arch label) onto a shipped spec
in arch_specs/ and its `--set` overrides. resolve_label() adds the rules every reader of such a row shares:
"ScFuFFNi<k>" is the "ScFuFFN" entry with `ffn.prune_last=<k>`; an entry with `dataset:` wins for that dataset;
the row's layers, heads and vocab become overrides where they differ from the spec (a vocab under rounded_vocab
is the paper's rounded "50K": the spec's exact vocabulary is kept); d_model must match. pidse.ppl reads the
published perplexity table through it, pidse.calibrate measured rows in the same (family, arch, dims) layout.

The two directions agree on every entry of the map, except where a family's labels say less (He & Hofmann's
block) or more (training-only weight normalisation) than the notation: see the comment above resolve_label().
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from pidse.errors import InputError, short
from pidse.resources import DATA_DIR, SPECS_DIR
from pidse.schema import from_mapping, suggest
from pidse.spec.definition import Spec
from pidse.spec.load import load_spec, read_mapping

LABELS_YAML = DATA_DIR / "ppl_labels.yaml"


# ---- spec -> label ---------------------------------------------------------------------------------------

def aero_label(spec: Spec, layers: int | None = None, prune_last: int | None = None) -> str:
    """AERO's notation for a spec: SM+LN+G, SM+ScFuFFNi6, EReg(SM(t)+ScFuFFN), H&H SM+ScFFN, ...

    `layers` and `prune_last` stand in for the spec's own (the sweep labels every depth without copying it).
    """
    a, n, f = spec.attention, spec.norm, spec.ffn
    layers = spec.model.layers if layers is None else layers
    prune_last = f.prune_last if prune_last is None else prune_last
    parts = [{"power_softmax": "PSM", "2quad": "2Quad", "relu": "2ReLU", "linear": "LinAttn"}.get(a.kind, "SM")]
    parts[0] += "(t)" if a.temperature == "learnable" else ""
    parts[0] += f"(w{a.window})" if a.window else ""
    if n.kind != "none" and (n.attention or n.ffn):
        parts.append({"layernorm": "LN", "rmsnorm": "RMS"}[n.kind])
    prune = f"i{prune_last}" if prune_last else ""
    if prune_last >= layers:
        parts.append("noFFN")
    elif f.activation != "identity":
        act = {"gelu": "G", "relu": "R", "silu": "S", "quad": "Quad", "poly": f"Poly{f.degree}"}[f.activation]
        parts.append(act + ("LU" if f.gated else "") + (f" MoE{f.experts}/{f.top_k}" if f.experts > 1 else "")
                     + (" Sc" if f.scaled else "") + prune)
    elif f.scaled or f.fused or prune:
        parts.append(("Sc" if f.scaled else "") + ("Fu" if f.fused else "") + "FFN" + prune)
    label = "+".join(parts)
    for step in spec.pruning.schedule:  # BOLT's W.E. after layer 1 keeping half: "+P1:0.5"
        if step.after < layers:
            label += f"+P{step.after}:{step.keep:g}"
    if spec.training.entropy_reg:
        label = f"EReg({label})"
    if set(a.projections) == {"q", "k"}:
        label = "H&H " + label
    if n.kind != "none" and not (n.attention or n.ffn) and (n.embedding or n.final):
        label += " (1 LN)" if n.kind == "layernorm" else " (1 norm)"
    return label


# ---- label -> spec ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LabelEntry:
    label: str
    families: tuple[str, ...]
    spec: str  # a file in arch_specs/
    overrides: tuple[str, ...] = ()
    dataset: str | None = None  # applies to this dataset only


@dataclass(frozen=True)
class LabelMap:
    version: int
    labels: tuple[LabelEntry, ...]
    rounded_vocab: tuple[int, ...] = ()


def label_map() -> LabelMap:
    return from_mapping(LabelMap, read_mapping(LABELS_YAML), str(LABELS_YAML))


# The round trip, aero_label(the spec an entry resolves to) == its label, holds for every entry except those of
# two families (tests/test_labels.py checks this rule on every entry and every published row):
#   he_hofmann: AERO names He & Hofmann's simplified block by the family, not in the label; aero_label marks its
#     q,k-only projections with "H&H " and its one remaining LayerNorm with " (1 LN)": "H&H SM+ScFFN (1 LN)".
#     (cost_tables/data/aero-secretflow.csv writes the family as a "He&Hofmann " prefix.)
#   ablation_norm: weight/spectral normalisation ("+WNorm(QK)", "+SNorm(FFN)", ...) and "(scaled)" are
#     training-only; the label without them is the aero_label of the inference architecture (SM, SM+ScFFN).
def resolve_label(family: str, label: str, dims: dict, where: str,
                  labels: LabelMap | None = None) -> tuple[Path, list[str]]:
    """A published (family, arch label) with its row's dims -> (spec file, `--set` overrides), per LABELS_YAML.

    `dims` is the row: text (or int) cells layers, heads, d_model and vocab, and an optional dataset. Errors are
    InputErrors naming `where` and the column. `labels` saves re-reading the map for every row of a file.
    """
    labels = labels or label_map()
    prune = re.search(r"ScFuFFNi(\d+)", label)
    base = label.replace(prune.group(0), "ScFuFFN") if prune else label
    entries = sorted((e for e in labels.labels if e.label == base and family in e.families
                      and e.dataset in (None, dims.get("dataset"))), key=lambda e: e.dataset is None)
    if not entries:
        known = sorted({e.label for e in labels.labels if family in e.families})
        raise InputError(where, "arch", f"a label of family {short(family)} in {LABELS_YAML.name}"
                         + suggest(base, known) + "; known: " + ", ".join(known), label)
    entry = entries[0]
    overrides = [*entry.overrides, *([f"ffn.prune_last={prune.group(1)}"] if prune else [])]
    try:
        spec = _entry_spec(entry.spec, tuple(overrides))
    except InputError as err:
        raise InputError(where, "spec", f"a loadable spec ({err})") from None
    if _int(dims, "d_model", where) != spec.model.d_model:
        raise InputError(where, "d_model", f"the spec's d_model ({spec.model.d_model}, {entry.spec})",
                         dims["d_model"])
    sizes = {"layers": _int(dims, "layers", where), "heads": _int(dims, "heads", where)}
    vocab = _int(dims, "vocab", where)
    if vocab not in labels.rounded_vocab:
        sizes["vocab_size"] = vocab
    overrides += [f"model.{k}={v}" for k, v in sizes.items() if v != getattr(spec.model, k)]
    return SPECS_DIR / entry.spec, overrides


@functools.lru_cache(maxsize=None)
def _entry_spec(file: str, overrides: tuple[str, ...]) -> Spec:
    """A map entry's spec (frozen, so shared): a file of 78 rows names some twenty."""
    return load_spec(SPECS_DIR / file, overrides)


def _int(row: dict, key: str, where: str) -> int:
    """A row's integer cell: ASCII digits (not '1_000', not other scripts' digits) or an int."""
    value = row.get(key)
    if type(value) is int or isinstance(value, str) and re.fullmatch(r"\s*[0-9]{1,18}\s*", value, re.ASCII):
        return int(value)
    raise InputError(where, key, "an integer", value)  # None: a short CSV row's missing cell
