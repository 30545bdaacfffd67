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
import datetime
import math
from pathlib import Path

from pidse.calibrate.csvfile import is_file, number, read_csv
from pidse.cost.ckks.table import MAX_SECONDS, PRIMITIVES, load_ckks
from pidse.cost.setting import resolve_network, table_mapping
from pidse.errors import InputError
from pidse.files import dump_yaml, write_text_atomic
from pidse.model.estimate import estimate
from pidse.report.text import grid
from pidse.schema import reject_unknown
from pidse.spec.load import load_spec, read_mapping

DATA_COLUMNS = ("spec", "set", "context", "quantity", "seconds", "source")
MAX_TOTAL_S = 1e9  # a published total (about 30 years)
MAX_FACTOR = 1e6  # "<factor> * <primitive>"


def read_totals(path) -> tuple[dict, dict]:
    """(run: spec path, overrides, context; {quantity: (seconds, source)}) from a CSV of one published run."""
    path = Path(path)
    rows = read_csv(path, "published totals", DATA_COLUMNS)
    if not rows:
        raise InputError(path, None, "at least one row of published totals")
    run = {(r["spec"], r["set"], r["context"]) for _, r in rows}
    if len(run) != 1:
        raise InputError(path, "spec", "one run (the same spec, set and context on every row)")
    spec, overrides, context = run.pop()
    totals = {}
    for line, r in rows:
        quantity = r["quantity"]
        if quantity not in PRIMITIVES + ("total",):
            raise InputError(path, f"line {line}: quantity", "total or a primitive (" + ", ".join(PRIMITIVES) + ")",
                             quantity)
        if quantity in totals:
            raise InputError(path, f"line {line}: quantity", "each quantity once", quantity)
        totals[quantity] = (number(r["seconds"], path, f"line {line}: seconds", 0, MAX_TOTAL_S), r["source"])
    context = number(context, path, f"line {rows[0][0]}: context", 1, 2**31, whole=True)
    spec_path = Path(spec) if is_file(spec) else path.parent / spec
    return {"spec": spec_path, "name": spec, "set": [s for s in overrides.split(";") if s.strip()],
            "context": context}, totals


def count_calls(template: dict, run: dict, src: str = "template") -> dict:
    """pidse's calls per primitive for the run (prices do not change counts: every primitive priced 1 s)."""
    unit = copy.deepcopy(template)
    unit["primitives"] = {p: {"seconds": 1.0, "source": "unit", "grade": "estimate"} for p in PRIMITIVES}
    table = load_ckks(src, unit)
    est = estimate(load_spec(run["spec"], run["set"], run["context"]), table=table,
                   network=resolve_network("lan"))
    return {p: float(sum(r["bootstraps" if p == "bootstrap" else f"n_{p}"] for r in est.ops)) for p in PRIMITIVES}


def derivation_rules(src: str, template: dict) -> dict:
    """{primitive: rule} for the template's `derive:` primitives (the others keep the prices they give):
    'total', 'remainder', or (factor, primitive) for '<factor> * <primitive priced by total>'."""
    rules = {}
    for p, spec in table_mapping(src, template, "primitives").items():
        where = f"primitives.{p}"
        if p not in PRIMITIVES:
            raise InputError(src, where, "a primitive (" + ", ".join(PRIMITIVES) + ")")
        if not isinstance(spec, dict) or "derive" not in spec:
            continue
        reject_unknown(spec, ("derive", "source", "grade"), src, "key of a derived primitive", prefix=where)
        rule = spec["derive"]
        if rule in ("total", "remainder"):
            rules[p] = rule
            continue
        expected = "total, remainder, or '<factor> * <primitive priced by total>'"
        parts = [x.strip() for x in rule.split("*")] if isinstance(rule, str) else []
        if len(parts) != 2 or parts[1] not in PRIMITIVES:
            raise InputError(src, f"{where}.derive", expected, rule)
        factor = number(parts[0], src, f"{where}.derive", 0, MAX_FACTOR)
        rules[p] = (factor, parts[1])
    return rules


def derive(template_path, data_path) -> dict:
    """The template with every `derive:` primitive priced from the published totals, plus a `derivation` record."""
    template = read_mapping(Path(template_path))
    src = str(template_path)
    rules = derivation_rules(src, template)
    run, totals = read_totals(data_path)
    calls = count_calls(template, run, src)
    seconds = {}
    for p, rule in rules.items():
        if rule == "total":
            if p not in totals or not calls[p]:
                raise InputError(src, f"primitives.{p}.derive", f"a published total for {p} in {data_path} and "
                                 "calls of it in pidse's run")
            seconds[p] = totals[p][0] / calls[p]
    for p, rule in rules.items():
        if isinstance(rule, tuple):
            factor, other = rule
            if other not in seconds:
                raise InputError(src, f"primitives.{p}.derive", "'<factor> * <primitive priced by total>'",
                                 template["primitives"][p]["derive"])
            seconds[p] = factor * seconds[other]
    rest = [p for p, rule in rules.items() if rule == "remainder"]
    if rest:
        if "total" not in totals:
            raise InputError(data_path, "quantity", "a `total` row for the remainder rule")
        left = totals["total"][0] - sum(calls[p] * s for p, s in seconds.items())
        rest_calls = sum(calls[p] for p in rest)
        if not rest_calls:
            raise InputError(src, "primitives", "calls of the remainder primitives (" + ", ".join(rest) + ") in "
                             "pidse's run")
        per_call = left / rest_calls
        if per_call <= 0:
            raise InputError(src, "primitives", "published totals that leave time for the remainder primitives",
                             left)
        seconds.update({p: per_call for p in rest})
    for p, value in seconds.items():
        if not (math.isfinite(value) and value <= MAX_SECONDS):
            raise InputError(src, f"primitives.{p}.derive", f"a derived price from 0 to {MAX_SECONDS:g} s per call "
                             "(the published totals and pidse's calls give more)")
    table = copy.deepcopy(template)
    for p, rule in rules.items():
        entry = table["primitives"][p]
        del entry["derive"]
        entry["seconds"] = float(f"{seconds[p]:.4g}")
    load_ckks(src, table)  # the derived table is a valid table (every other part checked too)
    model = {p: calls[p] * seconds.get(p, 0.0) for p in PRIMITIVES}
    table["derivation"] = {
        "date": datetime.date.today().isoformat(),
        "run": {"spec": run["name"], "set": run["set"], "context": run["context"]},
        "published_s": {q: s for q, (s, _) in totals.items()},
        "sources": sorted({s for _, s in totals.values()}),
        "pidse_calls": calls,
        "rules": {p: template["primitives"][p]["derive"] for p in rules},
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
