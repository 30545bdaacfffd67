"""Published measurements against pidse: every row of a published-measurements CSV priced with the table that
models its system, at the paper's setting (its model, tokens, network, phase), in the paper's units.

Per-op rows are what tables are fitted to (a table says which in its sources); whole-model rows are only ever
compared, never fitted. How a row is read (which table, spec and ops) is pidse/data/published_map.yaml; a row that
cannot be expressed is kept with the reason. `compare()` returns one dict per row; pidse/report/validation.py
writes the report.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

from pidse.calibrate.csvfile import number, read_csv
from pidse.cost.family import COST_COLUMNS
from pidse.cost.formula import Formula, FormulaError
from pidse.cost.registry import list_tables, load_table, price_op
from pidse.cost.setting import Network, Setting, compute_scale, hardware_from, resolve_phase
from pidse.errors import InputError
from pidse.model.estimate import estimate
from pidse.resources import DATA_DIR
from pidse.spec.labels import label_map, resolve_label
from pidse.spec.load import load_spec, read_mapping

PUBLISHED_CSV = DATA_DIR / "published_ops.csv"
MAP_FILE = DATA_DIR / "published_map.yaml"
REQUIRED = ("id", "system", "model", "op", "comm_gb_published", "comm_unit", "comm_scope", "latency_s_published",
            "network", "online_offline")
SIZES = {"layers": "model.layers", "d_model": "model.d_model", "heads": "model.heads", "d_ff": "model.d_ff",
         "vocab": "model.vocab_size"}
# Number columns, where given: (lowest, highest, whole). A cell that is not such a number is an error in the
# file (its line and column named), not a row pidse cannot express.
NUMBERS = {**{col: (1, 2**31, True) for col in (*SIZES, "input_tokens", "generated_tokens")},
           "comm_gb_published": (0, 1e18, False), "rounds_published": (0, 1e18, False),
           "latency_s_published": (0, 1e12, False)}


class Unexpressed(Exception):
    """A row pidse cannot price, with the reason."""


@dataclass
class Rules:
    models: list
    ops: list
    settings: list

    @classmethod
    def load(cls, path: Path = MAP_FILE) -> "Rules":
        data = read_mapping(path)
        return cls(list(data["models"]), list(data["ops"]), list(data.get("settings") or []))

    def constants(self, row: dict, rule: dict) -> dict:
        """Table constants the paper ran this row with: the op rule's, then the system and model settings'."""
        out = dict(rule.get("constants") or {})
        for s in self.settings:
            if re.search(s["system"], row["system"]) and re.search(s["model"], row["model"], re.IGNORECASE):
                out.update(s.get("constants") or {})
        return out

    def scope(self, row: dict) -> str | None:
        """A setting's `scope` for this row, where the row's comm_scope column misleads."""
        found = [s["scope"] for s in self.settings if "scope" in s and re.search(s["system"], row["system"])
                 and re.search(s["model"], row["model"], re.IGNORECASE)]
        return found[-1] if found else None

    def hardware(self, row: dict, table) -> tuple:
        """(machine, compute scale): the machine a setting says the row ran on (another paper rerunning the
        system on its own), the table's compute re-priced to it by throughput; else the table's own."""
        found = [s for s in self.settings if "hardware" in s and re.search(s["system"], row["system"])
                 and re.search(s["model"], row["model"], re.IGNORECASE)]
        if not found or table.hardware is None:
            return table.hardware, 1.0
        machine = hardware_from(str(MAP_FILE), "settings.hardware", found[-1]["hardware"])
        try:
            return machine, compute_scale(table, machine, machine.summary(), f"{MAP_FILE.name} settings.hardware")
        except InputError as err:
            raise Unexpressed(str(err)) from None

    def spec_name(self, model: str) -> str:
        for rule in self.models:
            if re.search(rule["match"], model, re.IGNORECASE):
                return rule["spec"]
        raise Unexpressed(f"no spec for model {model!r}: no `models` rule of {MAP_FILE.name} matches it")

    def op_rule(self, text: str) -> tuple[dict, re.Match]:
        for rule in self.ops:
            found = re.search(rule["match"], text, re.IGNORECASE)
            if found:
                return rule, found
        raise Unexpressed(f"no rule in {MAP_FILE.name} reads the op {text!r}")


def read_rows(path: str | Path | None = None) -> list[dict]:
    path = Path(path or PUBLISHED_CSV)
    rows = []
    for line, row in read_csv(path, "published measurements", REQUIRED):
        for column, (low, high, whole) in NUMBERS.items():
            if (row.get(column) or "").strip():
                number(row[column], path, f"line {line}: {column}", low, high, whole)
        rows.append(row)
    return rows


def table_for(system: str, tables: dict):
    """The first shipped table whose `matches` regexes match the system name."""
    for table in tables.values():
        if any(re.search(p, system) for p in table.matches):
            return table
    raise Unexpressed(f"no cost table models {system!r} (no table's `matches:` names it)")


def network_of(text: str, table) -> Network:
    """The row's network as published ("1 Gbps, 0.5 ms ping", "377 MBps", "10GbE"); the table's where unstated.
    "GB/s" is read as Gbps, as published_ops.csv reads PUMA's "about 5GB/s". A table calibrated with an
    effective network (its paper's stated network could not explain its own numbers, as AERO's) keeps it."""
    own = table.network or Network("none", 1e9, 0.0)
    if (table.raw.get("fit") or {}).get("effective_network"):
        return own
    bw = None
    for pattern, factor in ((r"([\d.]+)\s*Gbps", 1e9), (r"([\d.]+)\s*Mbps", 1e6), (r"([\d.]+)\s*MBps", 8e6),
                            (r"([\d.]+)\s*GbE", 1e9), (r"([\d.]+)\s*GB/s", 1e9)):
        found = re.search(pattern, text)
        if found:
            bw = float(found.group(1)) * factor
            break
    rtt = re.search(r"([\d.]+)\s*ms", text)
    if bw is None and rtt is None:
        return own
    return Network("published", bw or own.bandwidth_bps, float(rtt.group(1)) / 1e3 if rtt else own.rtt_s)


def phase_of(text: str, table) -> str:
    text = text.lower()
    if "online" in text and "end-to-end" not in text:
        try:
            return resolve_phase(table, "online")
        except InputError as err:
            raise Unexpressed(f"the row is online-only but {table.name} cannot split phases ({err.expected})")
    return resolve_phase(table, None)


def aero_label_in(text: str) -> str | None:
    """An AERO architecture label named in `text` ("GPT-2 (SM+ScFuFFNi6)"), the longest that fits, or None."""
    for label in sorted({e.label for e in label_map().labels}, key=len, reverse=True):
        pattern = re.escape(label).replace("ScFuFFN", r"ScFuFFN(?:i\d+)?")
        found = re.search(r"(?:^|[\s(\[,;])(" + pattern + r")(?=$|[\s)\],;])", text)
        if found:
            return found.group(1)
    return None


def _spec(row: dict, rules: Rules):
    label = aero_label_in(f"{row['model']} {row['op']}")
    if label:  # an AERO design: its spec from the one label map, the row's sizes as overrides
        base_label = re.sub(r"ScFuFFNi\d+", "ScFuFFN", label)
        family = next(e.families[0] for e in label_map().labels if e.label == base_label)
        path, sets = resolve_label(family, label, row, f"row {row['id']}")
        base = str(path)
    else:
        base = rules.spec_name(row["model"])
        sets = [f"{key}={_cell(row, col, int)}" for col, key in SIZES.items() if (row.get(col) or "").strip()]
    tokens = _cell({"input_tokens": row.get("input_tokens") or row.get("context") or "128"}, "input_tokens", int)
    generated = _cell({"generated_tokens": row.get("generated_tokens") or "1"}, "generated_tokens", int)
    sets += [f"model.max_context={max(tokens + generated, 1024)}", f"inference.generate={generated}"]
    return load_spec(base, sets, tokens)


def _select(rows: list[dict], select, text: str) -> list[dict]:
    if select == "all":
        chosen = rows
    else:
        kinds, names = set(select.get("kinds", ())), select.get("names")
        chosen = [r for r in rows if r["kind"] in kinds or (names and re.search(names, r["op"]))]
    if "[per layer]" in text:
        chosen = [r for r in chosen if r["layer"] == 0]
    elif "all layers" in text.lower():
        chosen = [r for r in chosen if r["layer"] is not None]
    elif "[per instance]" in text:
        chosen = chosen[:1]
    if not chosen:
        raise Unexpressed(f"the op {text!r} selects no op of the model's graph")
    return chosen


def _micro(rule: dict, found: re.Match) -> dict:
    shape = {}
    for key, expr in rule["shape"].items():
        text = re.sub(r"\{(\d+)\}", lambda g: found.group(int(g.group(1))), str(expr))
        try:
            shape[key] = int(Formula(text)())
        except (FormulaError, TypeError):
            raise Unexpressed(f"shape {key} = {text!r} is not a number") from None
    return shape


def price_row(row: dict, table, rules: Rules) -> dict:
    """Predicted comm_bytes, rounds, compute_s and latency_s of the ops one published row measured."""
    machine, scale = rules.hardware(row, table)
    setting = Setting(network_of(row["network"], table), machine, phase_of(row["online_offline"], table), scale)
    rule, found = rules.op_rule(row["op"])
    ran = {k: v for k, v in rules.constants(row, rule).items() if k in getattr(table, "constants", {})}
    if ran:  # the configuration the paper ran this row in
        table = dataclasses.replace(table, constants={**table.constants, **ran})
    try:
        if "kind" in rule:  # a microbenchmark: one op of a stated shape
            ops = [price_op(table, rule["kind"], _micro(rule, found), setting)]
        else:  # the ops the row measured; the table need not price the others
            est = estimate(_spec(row, rules), table=table, setting=setting, allow_missing=True)
            ops = _select(est.per_step()[0], rule["select"], row["op"])  # every decode step's ops, as measured
    except InputError as err:
        raise Unexpressed(str(err)) from None
    missing = sorted({o["kind"] for o in ops if o["comm_bytes"] is None})
    if missing:
        raise Unexpressed(f"{table.name} has no cost for {', '.join(missing)} "
                          f"({'; '.join(str(table.unknown.get(k, 'not listed')) for k in missing)})")
    return {c: sum(o[c] for o in ops) for c in COST_COLUMNS} | {"n_ops": len(ops), "setting": setting}


def published_bytes(row: dict) -> float | None:
    text = (row.get("comm_gb_published") or "").strip()
    if not text:
        return None
    unit = 2.0 ** 30 if "GiB" in row["comm_unit"] or "2^30" in row["comm_unit"] else 1e9
    return _cell(row, "comm_gb_published", float) * unit


def _cell(row: dict, column: str, kind):
    """A number cell, or Unexpressed naming the column (a row of a user's file is never a traceback)."""
    text = (row.get(column) or "").strip()
    try:
        value = float(text)
    except ValueError:
        raise Unexpressed(f"{column} = {text[:40]!r} is not a number") from None
    if not value == value or value in (float("inf"), float("-inf")) or value < 0 or \
            (kind is int and value != int(value)):
        raise Unexpressed(f"{column} = {text[:40]!r} is not a {'whole' if kind is int else 'finite'} number >= 0")
    return kind(value)


def compare(path: str | Path | None = None, table: str | None = None) -> list[dict]:
    """One dict per row: published and predicted comm (bytes, in the row's scope), rounds, latency, and their
    ratios predicted / published; `why` for a row that cannot be expressed. With `table`, every row is priced
    with that table (a name or path) whatever its system."""
    rules = Rules.load()
    tables = {name: load_table(name) for name in list_tables()} if table is None else {}
    forced = None if table is None else load_table(table)
    out = []
    for row in read_rows(path):
        whole = row["op"].strip() == "whole-model"
        rec = {"id": row["id"], "system": row["system"], "model": row["model"], "op": row["op"],
               "whole_model": whole, "table": None, "why": None}
        try:
            chosen = forced or table_for(row["system"], tables)
            rec["table"] = chosen.name
            published = {"comm_pub": published_bytes(row),
                         "rounds_pub": _number(row.get("rounds_published"), "rounds_published"),
                         "latency_pub": _number(row.get("latency_s_published"), "latency_s_published")}
            pred = price_row(row, chosen, rules)
        except Unexpressed as err:
            out.append({**rec, "why": str(err)})
            continue
        scope = rules.scope(row) or ("per_party" if "party" in row["comm_scope"].lower()
                                     and "total" not in row["comm_scope"].lower() else "total")
        per_party = scope == "per_party"
        network_only = bool(re.search(r"comm(unication|\.)? time", row.get("note") or "", re.IGNORECASE))
        comm_pred = pred["comm_bytes"] / (chosen.parties if per_party else 1)
        rec.update(published, phase=pred["setting"].phase, network=pred["setting"].network, per_party=per_party,
                   comm_pred=comm_pred, rounds_pred=pred["rounds"], network_only=network_only,
                   latency_pred=pred["latency_s"] - (pred["compute_s"] if network_only else 0.0),
                   compute_pred=pred["compute_s"])
        for metric in ("comm", "rounds", "latency"):
            pub, pre = rec[f"{metric}_pub"], rec[f"{metric}_pred"]
            rec[f"{metric}_ratio"] = pre / pub if pub and pre is not None else None
        out.append(rec)
    return out


def _number(text, column: str) -> float | None:
    text = (text or "").strip()
    return _cell({column: text}, column, float) if text else None
