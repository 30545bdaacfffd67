"""The canonical architecture key: which specs are one trained model, whatever their spelling.

Measured perplexities (pidse.ppl.db) and swept specs meet on `arch_key(spec)`, never on a label string, so
`kv_heads: null` and `kv_heads: 12`, or projections [k, q, v, o] and [q, k, v, o], find the same runs.
"""
from __future__ import annotations

import hashlib
import json

from pidse.spec.definition import PROJECTIONS, Spec


def canonical_arch(spec: Spec) -> dict:
    """The fields that change inference cost or training, one spelling per model.

    Left out: name, label, description, source, inference.* and training.dataset/tokens (they are row columns),
    model.max_context (a limit, not a size). Defaults are resolved (kv_heads None = heads, head_dim None =
    d_model / heads), lists are put in one order, and fields with no effect are dropped: norm sites when there is
    no norm, d_ff when the FFN is fused to d x d or pruned everywhere, entropy weights without the regulariser.
    """
    m, n, a, f, e, t = spec.model, spec.norm, spec.attention, spec.ffn, spec.embeddings, spec.training
    has_ffn = f.prune_last < m.layers
    model = {"layers": m.layers, "heads": m.heads, "kv_heads": spec.kv_heads, "head_dim": spec.head_dim,
             "d_model": m.d_model, "vocab_size": m.vocab_size, "bias": m.bias,
             "parallel_residual": m.parallel_residual}
    if has_ffn and not f.fused:
        model["d_ff"] = m.d_ff
    sites = {s: getattr(n, s) for s in ("attention", "ffn", "final", "embedding")}
    norm = {"kind": n.kind, **sites} if n.kind != "none" and any(sites.values()) else {"kind": "none"}
    attention = {"kind": a.kind, "power": a.power, "temperature": a.temperature,
                 "projections": [p for p in PROJECTIONS if p in a.projections]}
    if not a.causal:  # only when off: the keys of every causal model stay as they were
        attention["causal"] = False
    if a.window is not None:  # keys below: only when set, so earlier keys stay as they were
        attention["window"] = a.window
    ffn = ({"activation": f.activation, "gated": f.gated, "scaled": f.scaled, "fused": f.fused,
            "prune_last": f.prune_last} if has_ffn else {"activation": "none"})
    if has_ffn and f.degree is not None:
        ffn["degree"] = f.degree
    if has_ffn and f.experts > 1:
        ffn.update(experts=f.experts, top_k=f.top_k)
    embeddings = {"positions": e.positions, "tied_head": e.tied_head}
    if e.positions == "rotary":
        embeddings["rotary_fraction"] = e.rotary_fraction
    for key in ("token_types", "position_offset"):  # only when set: earlier keys stay as they were
        if getattr(e, key):
            embeddings[key] = getattr(e, key)
    training = {"entropy_reg": t.entropy_reg, "weight_norm": t.weight_norm}
    if t.entropy_reg:
        training.update(entropy_lambda=t.entropy_lambda, entropy_gamma=t.entropy_gamma)
    if t.weight_norm != "none":
        training["weight_norm_on"] = [p for p in (*PROJECTIONS, "ffn") if p in t.weight_norm_on]
    arch = {"model": model, "norm": norm, "attention": attention, "ffn": ffn, "embeddings": embeddings,
            "training": training}
    if spec.pruning.schedule:  # tokens kept per layer change what is trained (the loss sees the kept tokens)
        arch["pruning"] = {"method": spec.pruning.method,
                           "schedule": [[s.after, s.keep] for s in spec.pruning.schedule]}
    return arch


def arch_key(spec: Spec) -> str:
    """16 hex digits of sha256 over the canonical fields: equal exactly when the architectures are."""
    text = json.dumps(canonical_arch(spec), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def describe_arch(spec: Spec) -> str:
    """A readable one-line summary of the canonical fields (for people; matching uses arch_key)."""
    c = canonical_arch(spec)
    m, n, a, f, e, t = (c[k] for k in ("model", "norm", "attention", "ffn", "embeddings", "training"))
    dims = f"L{m['layers']} H{m['heads']}" + (f"/kv{m['kv_heads']}" if m["kv_heads"] != m["heads"] else "")
    dims += f" d{m['d_model']}" + (f" hd{m['head_dim']}" if m["head_dim"] * m["heads"] != m["d_model"] else "")
    dims += (f" ff{m['d_ff']}" if "d_ff" in m else "") + f" V{m['vocab_size']}"
    dims += ("" if m["bias"] else " no-bias") + (" parallel" if m["parallel_residual"] else "")
    sites = [s for s in ("attention", "ffn", "final", "embedding") if n.get(s)]
    parts = [dims, "no-norm" if n["kind"] == "none" else f"{n['kind']}({','.join(sites)})",
             a["kind"] + (f"^{a['power']}" if a["power"] else "") + f"({''.join(a['projections'])})"
             + (" learnable-t" if a["temperature"] == "learnable" else "")
             + (" bidirectional" if a.get("causal") is False else "")
             + (f" window{a['window']}" if a.get("window") else "")]
    if f["activation"] == "none":
        parts.append("no-ffn")
    else:
        flags = [k for k in ("gated", "scaled", "fused") if f[k]] + ([f"prune{f['prune_last']}"]
                                                                     if f["prune_last"] else [])
        act = f["activation"] + (str(f["degree"]) if "degree" in f else "")
        moe = [f"moe{f['experts']}/top{f['top_k']}"] if "experts" in f else []
        parts.append(" ".join([f"ffn {act}", *flags, *moe]))
    parts.append(e["positions"] + (f" {e['rotary_fraction']:g}" if "rotary_fraction" in e else "")
                 + (" tied" if e["tied_head"] else " untied"))
    if t["entropy_reg"]:
        parts.append(f"ereg(lambda={t['entropy_lambda']:g}, gamma={t['entropy_gamma']:g})")
    if t["weight_norm"] != "none":
        parts.append(f"{t['weight_norm']}-norm({','.join(t['weight_norm_on'])})")
    if "pruning" in c:
        p = c["pruning"]
        parts.append(f"prune-{p['method']}(" + ", ".join(f"after {k}: keep {f:g}" for k, f in p["schedule"]) + ")")
    return ", ".join(parts)
