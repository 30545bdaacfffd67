"""`pidse list`: what pidse ships, as rows (specs, cost tables, networks, hardware) in any output format."""
from __future__ import annotations

import json

from pidse.cost.registry import family_of, list_tables, load_table
from pidse.cost.setting import load_hardware, load_networks, this_machine
from pidse.errors import InputError
from pidse.report.text import csv_text, grid
from pidse.spec.load import list_specs, load_spec

WHAT = ("specs", "tables", "networks", "hardware")


def rows(what: str, checks: dict | None = None) -> list[dict]:
    """`checks`: per table name, how its published rows compare (pidse.report.validation.table_checks)."""
    if what == "specs":
        out = []
        for name in list_specs():
            spec = load_spec(name)
            m = spec.model
            out.append({"name": name, "label": spec.label or "", "layers": m.layers, "d_model": m.d_model,
                        "heads": m.heads, "vocab": m.vocab_size, "context": spec.context,
                        "causal": spec.attention.causal})
        return out
    if what == "tables":
        out = []
        for name in list_tables():
            table = load_table(name)
            hw, net = table.hardware, table.network
            out.append({"name": name, "family": family_of(table).name, "system": table.system or "",
                        "parties": table.parties, "hardware": hw.summary() if hw else "not stated",
                        "network": "none" if net is None else
                        f"{net.name}: {net.bandwidth_bps / 1e9:g} Gbps, {net.rtt_s * 1e3:g} ms",
                        "phases": table.offline, "description": " ".join(table.description.split())})
            if checks is not None:
                out[-1]["published rows within target"] = checks.get(name) or "no published row"
        return out
    if what == "networks":
        return [{"name": n.name, "bandwidth_bps": n.bandwidth_bps, "rtt_s": n.rtt_s, "source": n.source}
                for n in load_networks().values()]
    if what == "hardware":
        presets = [this_machine(), *load_hardware().values()]
        return [{"name": h.name, "kind": h.kind, "threads": h.threads, "ghz": h.ghz, "tflops": h.tflops,
                 "description": h.description, "source": h.source} for h in presets]
    raise InputError("pidse list", None, "one of " + ", ".join(WHAT), what)


def render(what: str, fmt: str, checks: dict | None = None) -> str:
    data = rows(what, checks)
    if fmt == "json":
        return json.dumps(data, indent=2)
    if fmt == "csv":
        return csv_text(data)
    short = {"tables": ("name", "family", "system", "hardware", "network", "phases")
             + (("published rows within target",) if checks is not None else ()),
             "specs": ("name", "label", "layers", "d_model", "heads", "vocab", "context", "causal"),
             "networks": ("name", "bandwidth_bps", "rtt_s", "source"),
             "hardware": ("name", "kind", "threads", "ghz", "tflops", "description")}[what]
    body = [["-" if r[c] is None else (f"{r[c]:g}" if isinstance(r[c], float) else str(r[c])) for c in short]
            for r in data]
    return grid(list(short), body, markdown=fmt == "markdown")
