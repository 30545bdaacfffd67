"""The HE-only parts of an estimate's output: time by primitive, by transformer op with bootstrapping apart (as
HE papers report it), depth and bootstraps per layer, the client's traffic and one-time keys. Plain data first
(`he_summary`, the JSON), text at the edge (`he_text`)."""
from __future__ import annotations

from pidse.cost.ckks.table import PRIMITIVE_NAMES, PRIMITIVES
from pidse.report.text import duration, gigabytes, grid, si


def he_summary(est) -> dict:
    he, table = est.details, est.table
    rows = he.rows  # one per op per decode step, as the walk priced them
    total = est.totals["compute_s"] or 0.0
    pct = (lambda s: None if s is None or not total else 100.0 * s / total)
    by_prim = {p: {**v, "pct": pct(v["seconds"])} for p, v in he.by_primitive(rows).items()}
    by_op: dict = {}
    for r in rows:
        if r["compute_s"] is None:
            continue
        acc = by_op.setdefault(r["kind"], {"ops": 0, "seconds": 0.0})
        acc["ops"] += 1
        acc["seconds"] += r["compute_s"] - r["bootstrap_s"]
    boot = by_prim["bootstrap"]["seconds"]
    by_op["bootstrapping"] = {"ops": by_prim["bootstrap"]["count"], "seconds": boot}
    for v in by_op.values():
        v["pct"] = pct(v["seconds"])
    upload = sum(r["comm_bytes"] or 0 for r in rows if r["kind"] == "embedding")
    return {
        "params": dict(table.params),
        "bootstraps": by_prim["bootstrap"]["count"],
        "bootstrap_s": boot,
        "by_primitive": by_prim,
        "by_op": by_op,
        "layers": he.layers,
        "upload_bytes": upload,
        "download_bytes": (est.totals["comm_bytes"] or 0.0) - upload,
        "keys_bytes": he.keys_bytes,
    }


def he_facts(est) -> list[tuple[str, str]]:
    s = he_summary(est)
    p = s["params"]
    depths = sorted({layer["depth"] for layer in s["layers"]})
    keys = "unknown (no bootstrapping-key size in the table)" if s["keys_bytes"] is None else \
        gigabytes(s["keys_bytes"]) + " one-time (relinearisation, rotation and bootstrapping keys)"
    return [
        ("CKKS", f"N = 2^{p['ring_dim'].bit_length() - 1}, {p['slots']:,} slots, {p['levels_fresh']} levels fresh, "
                 f"{p['levels_after_bootstrap']} after a bootstrap"),
        ("depth per layer", ", ".join(map(str, depths)) + " levels"),
        ("bootstraps", f"{s['bootstraps']:,.0f} ciphertexts"),
        ("client traffic", f"upload {gigabytes(s['upload_bytes'])}, download {gigabytes(s['download_bytes'])}"),
        ("keys", keys),
    ]


def he_text(est, markdown: bool) -> str:
    """Three grids: time by primitive, by transformer op (bootstrapping apart), depth and bootstraps per layer."""
    s = he_summary(est)
    fmt_s = (lambda v: "unknown" if v is None else duration(v))
    fmt_p = (lambda v: "-" if v is None else f"{v:.1f}")
    prim = [[PRIMITIVE_NAMES[p], si(s["by_primitive"][p]["count"]), fmt_s(s["by_primitive"][p]["seconds"]),
             fmt_p(s["by_primitive"][p]["pct"])] for p in PRIMITIVES]
    ops = [[k, str(int(v["ops"])), fmt_s(v["seconds"]), fmt_p(v["pct"])] for k, v in s["by_op"].items()]
    layers = [[str(layer["layer"]), str(layer["depth"]), str(layer["bootstraps"]),
               "; ".join(layer["positions"]) or "-"] for layer in s["layers"]]
    title = (lambda t: f"### {t}\n\n" if markdown else f"{t}\n")
    parts = [title("HE time by primitive") + grid(["primitive", "calls", "time", "time %"], prim, markdown),
             title("HE time by op kind (bootstrapping apart)") + grid(["kind", "ops", "time", "time %"], ops,
                                                                       markdown)]
    if layers:
        parts.append(title("Depth and bootstraps per layer (prefill)") +
                     grid(["layer", "depth", "bootstrapped ct", "bootstrapped after (ciphertexts)"], layers,
                          markdown))
    return "\n\n".join(parts)
