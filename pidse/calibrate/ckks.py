"""CKKS tables from measurements: seconds per primitive derived from a published whole-model run, or measured by
an engine (pidse/calibrate/engines/tenseal.py), written as a `family: ckks` cost table.

Derivation from published per-primitive totals (template `primitives.<p>.derive`):
  total           seconds = the run's published total for that primitive / pidse's call count in the same run
  "<f> * <p>"     a fixed multiple of another primitive's seconds (e.g. cmul from rot: key switching dominates both)
  remainder       the run's published total time, less every other primitive, shared per call among these
pidse's counts come from its own expansion and depth walk of the same model at the same context (levels priced
flat: the published totals say nothing about levels). The written table records counts, totals and prices.
"""
from __future__ import annotations

import copy
import csv
import datetime
from pathlib import Path

from pidse.cost.ckks.table import PRIMITIVES, load_ckks
from pidse.cost.setting import resolve_network
from pidse.errors import InputError
from pidse.files import dump_yaml, write_text_atomic
from pidse.model.estimate import estimate
from pidse.report.text import grid
from pidse.spec.load import load_spec, read_mapping

DATA_COLUMNS = ("spec", "set", "context", "quantity", "seconds", "source")


def read_totals(path) -> tuple[dict, dict]:
    """(run: spec path, overrides, context; {quantity: (seconds, source)}) from a CSV of one published run."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, None, "an existing CSV of published totals (" + ", ".join(DATA_COLUMNS) + ")")
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or set(DATA_COLUMNS) - set(rows[0]):
        raise InputError(path, None, "columns " + ", ".join(DATA_COLUMNS))
    run = {(r["spec"], r["set"], r["context"]) for r in rows}
    if len(run) != 1:
        raise InputError(path, "spec", "one run (the same spec, set and context on every row)")
    spec, overrides, context = run.pop()
    totals = {}
    for line, r in enumerate(rows, start=2):
        if r["quantity"] not in PRIMITIVES + ("total",):
            raise InputError(path, f"line {line}", "quantity: total or a primitive (" + ", ".join(PRIMITIVES) + ")",
                             r["quantity"])
        try:
            totals[r["quantity"]] = (float(r["seconds"]), r["source"])
        except ValueError:
            raise InputError(path, f"line {line}", "seconds as a number", r["seconds"]) from None
    spec_path = Path(spec) if Path(spec).is_file() else path.parent / spec
    return {"spec": spec_path, "name": spec, "set": [s for s in overrides.split(";") if s.strip()],
            "context": int(context)}, totals


def count_calls(template: dict, run: dict) -> dict:
    """pidse's calls per primitive for the run (prices do not change counts: every primitive priced 1 s)."""
    unit = copy.deepcopy(template)
    unit["primitives"] = {p: {"seconds": 1.0, "source": "unit", "grade": "estimate"} for p in PRIMITIVES}
    table = load_ckks("template", unit)
    est = estimate(load_spec(run["spec"], run["set"], run["context"]), table=table,
                   network=resolve_network("lan"))
    return {p: float(sum(r["bootstraps" if p == "bootstrap" else f"n_{p}"] for r in est.ops)) for p in PRIMITIVES}


def derive(template_path, data_path) -> dict:
    """The template with every `derive:` primitive priced from the published totals, plus a `derivation` record."""
    template = read_mapping(Path(template_path))
    src = str(template_path)
    run, totals = read_totals(data_path)
    calls = count_calls(template, run)
    rules = {p: (spec or {}).get("derive") for p, spec in template["primitives"].items()}
    seconds = {}
    for p, rule in rules.items():
        if rule == "total":
            if p not in totals or not calls[p]:
                raise InputError(src, f"primitives.{p}.derive", f"a published total for {p} in {data_path} and "
                                 "calls of it in pidse's run")
            seconds[p] = totals[p][0] / calls[p]
    for p, rule in rules.items():
        if isinstance(rule, str) and "*" in rule:
            factor, other = (x.strip() for x in rule.split("*"))
            if other not in seconds:
                raise InputError(src, f"primitives.{p}.derive", "'<factor> * <primitive priced by total>'", rule)
            seconds[p] = float(factor) * seconds[other]
    rest = [p for p, rule in rules.items() if rule == "remainder"]
    if rest:
        if "total" not in totals:
            raise InputError(data_path, "quantity", "a `total` row for the remainder rule")
        left = totals["total"][0] - sum(calls[p] * s for p, s in seconds.items())
        per_call = left / sum(calls[p] for p in rest)
        if per_call <= 0:
            raise InputError(src, "primitives", "published totals that leave time for the remainder primitives",
                             left)
        seconds.update({p: per_call for p in rest})
    table = copy.deepcopy(template)
    for p, rule in rules.items():
        if rule is None:
            continue
        entry = table["primitives"][p]
        del entry["derive"]
        entry["seconds"] = float(f"{seconds[p]:.4g}")
    model = {p: calls[p] * seconds.get(p, 0.0) for p in PRIMITIVES}
    table["derivation"] = {
        "date": datetime.date.today().isoformat(),
        "run": {"spec": run["name"], "set": run["set"], "context": run["context"]},
        "published_s": {q: s for q, (s, _) in totals.items()},
        "sources": sorted({s for _, s in totals.values()}),
        "pidse_calls": calls,
        "rules": {p: r for p, r in rules.items() if r is not None},
        "model_s": {**{p: float(f"{v:.4g}") for p, v in model.items()}, "total": float(f"{sum(model.values()):.4g}")},
    }
    return table


def write_table(table: dict, path, what: str) -> None:
    """Write a CKKS table atomically, with a header naming how it was made."""
    header = f"# Generated by `pidse calibrate` ({what}); edit the template or re-measure rather than this file.\n"
    write_text_atomic(path, header + dump_yaml(table))


def calibrate_published(data, template, out=None) -> str:
    """`pidse calibrate DATA.csv -t CKKS-TEMPLATE`: derive, write to `out` if given, return a summary table."""
    table = derive(template, data)
    d = table["derivation"]
    body = [[p, f"{d['pidse_calls'][p]:,.0f}", f"{table['primitives'][p]['seconds']:.4g}",
             f"{d['model_s'][p]:.2f}", f"{d['published_s'][p]:.2f}" if p in d["published_s"] else "-",
             str(d["rules"].get(p, "-"))] for p in PRIMITIVES]
    body.append(["total", "", "", f"{d['model_s']['total']:.2f}", f"{d['published_s'].get('total', 0):.2f}", ""])
    text = grid(["primitive", "pidse calls", "seconds each", "model s", "published s", "rule"], body, False)
    if out:
        write_table(table, out, f"derived from published totals in {Path(data).name}")
        text += f"\nwrote {out}"
    return text
