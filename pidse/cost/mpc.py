"""The MPC family: a cost table gives, for every op kind, formulas over that op's shape symbols
  comm_bytes  bytes sent over the network, TOTAL over all parties
  rounds      sequential round trips the op adds
  compute_s   local computation time
each with `source` and `grade` (measured | published | derived | estimate). A kind the table declares
`unknown` or does not list is an error when a graph uses it; it is never priced as zero. With `offline: per_op`
every op also has an `offline:` mapping of the same three formulas (a dealer's keys, preprocessing).
A table names the system it models (`system`, `matches`: regexes on published measurements' system names), the
machine its compute_s was measured on (`hardware`), its default network, its phases (`offline`) and how its paper
printed communication (`units`).

Ops are independent of one another, so a model of L identical layers costs fixed + L x layer + (L - k) x ffn
(k FFNs pruned): the sweep prices one layer per structure, and the formulas have sympy closed forms. A decode
template (pidse.steps) is priced once, its formulas evaluated on its per-step sizes as arrays.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pidse.cost.family import GRADES, Family, Priced, add_rows
from pidse.cost.formula import FUNCTIONS, Formula, FormulaError, not_real
from pidse.cost.setting import Network, Setting, table_mapping, table_metadata, table_network, table_scalars
from pidse.errors import InputError
from pidse.ops import OP_KINDS, PARTS, formula_symbols, is_array, part_count, shape_values
from pidse.schema import reject_unknown, split_unknown
from pidse.steps import floats, fold, shown

METRICS = ("comm_bytes", "rounds", "compute_s")
TOP_KEYS = {"version", "family", "name", "description", "parties", "protocol", "ring_bits", "fraction_bits",
            "network", "communication", "rounds_note", "online_only", "constants", "ops", "fit", "notes", "anchors",
            "system", "matches", "hardware", "offline", "default_phase", "units"}
SCALARS = {"version": int, "name": str, "description": str, "parties": int, "protocol": str, "ring_bits": int | None,
           "fraction_bits": int | None, "system": str, "communication": str, "rounds_note": str, "online_only": bool}
SHAPE_SYMBOLS = frozenset().union(*(formula_symbols(kind) for kind in OP_KINDS))  # a constant may not shadow one
PARTIES = (2, 100)
MAX_COST = 1e30  # one op's bytes, rounds or seconds: beyond, a formula is wrong (and sums would overflow)


@dataclass(frozen=True)
class CostEntry:
    kind: str
    formulas: dict  # metric -> Formula (the online phase, or everything where the table does not split phases)
    source: str
    grade: str
    offline: dict | None = None  # metric -> Formula for the offline phase (tables with `offline: per_op`)


@dataclass(frozen=True)
class CostTable:
    name: str
    description: str
    parties: int
    protocol: str
    ring_bits: int | None
    fraction_bits: int | None
    network: Network | None  # default network (a preset, or the effective one a calibration fitted)
    entries: dict  # kind -> CostEntry
    unknown: dict  # kind -> why it is not priced
    constants: dict = field(default_factory=dict)  # named numbers usable in formulas
    path: str = ""
    raw: dict = field(default_factory=dict, repr=False)
    family: str = "mpc"
    system: str = ""  # the published system the table models
    matches: tuple = ()  # regexes on published measurements' `system` column
    hardware: object = None  # Hardware compute_s was measured on, or None where the table does not say
    offline: str = "unknown"  # none | included | per_op | unknown (pidse/cost/setting.py)
    offline_note: str = ""
    default_phase: str | None = None
    units: dict = field(default_factory=lambda: {"comm": "GB", "scope": "total"})

    def entry(self, kind: str, op: str = "") -> CostEntry:
        if kind in self.entries:
            return self.entries[kind]
        why = self.unknown.get(kind, "not listed")
        used = f" (used by {op})" if op else ""
        raise InputError(self.path, f"ops.{kind}", f"a cost entry for op kind '{kind}'{used}; the table has "
                         f"none ({why}); pass --allow-missing to list such ops as uncosted")


def load(src: str, data: dict, coefficients: bool = False) -> CostTable:
    """Validate an MPC table read from `src`: every formula is checked now, not mid-estimate. `coefficients`:
    a calibration template, whose formulas may use any other names (the coefficients to fit)."""
    for key in ("name", "parties", "protocol", "ops"):
        if key not in data:
            raise InputError(src, key, "this key in a cost table")
    reject_unknown(data, TOP_KEYS | ({"calibration"} if coefficients else set()), src, "cost-table key")
    table_scalars(src, data, SCALARS)
    if not PARTIES[0] <= data["parties"] <= PARTIES[1]:
        raise InputError(src, "parties", f"an integer from {PARTIES[0]} to {PARTIES[1]}", data["parties"])
    constants = table_mapping(src, data, "constants")
    for name, value in constants.items():
        if not (name.isascii() and name.isidentifier() and not name.startswith("_")) or name in FUNCTIONS \
                or name in SHAPE_SYMBOLS:
            raise InputError(src, f"constants.{name}", "a name (letters, digits and _, starting with a letter; not "
                             "a function name or an op's shape symbol)")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not abs(value) <= MAX_COST:
            raise InputError(src, f"constants.{name}", f"a mapping of names to numbers (each from -{MAX_COST:g} to "
                             f"{MAX_COST:g})", value)
    table_mapping(src, data, "fit")  # a calibrated table's record (its effective network is read by validate)
    meta = table_metadata(src, data)
    known, unknown = split_unknown(table_mapping(src, data, "ops"), OP_KINDS, src, "ops", "an op kind")
    entries = {kind: _entry(src, kind, spec, set(constants), meta["offline"] == "per_op", coefficients)
               for kind, spec in known.items()}
    return CostTable(data["name"], data.get("description", ""), data["parties"], data["protocol"],
                     data.get("ring_bits"), data.get("fraction_bits"), table_network(src, data.get("network")),
                     entries, unknown, constants, src, data, **meta)


def _entry(src: str, kind: str, spec, constants: set, per_op_offline: bool, coefficients: bool) -> CostEntry:
    """One op's entry; with `coefficients` (a template), formulas may name anything besides the op's symbols and
    the table's constants."""
    where = f"ops.{kind}"
    if not isinstance(spec, dict):
        raise InputError(src, where, "a mapping with comm_bytes, rounds, compute_s, source, grade "
                         "(or `unknown: why`)", spec)
    allowed = None if coefficients else formula_symbols(kind) | constants
    reject_unknown(spec, set(METRICS) | {"source", "grade", "offline", "note"}, src, f"key of {where}", prefix=where)
    formulas = _formulas(src, where, spec, allowed, kind, constants)
    offline = None
    if per_op_offline:
        if not isinstance(spec.get("offline"), dict):
            raise InputError(src, f"{where}.offline", "the op's offline costs {comm_bytes, rounds, compute_s} "
                             "(the table says `offline: per_op`)", spec.get("offline"))
        reject_unknown(spec["offline"], METRICS, src, f"key of {where}.offline", prefix=f"{where}.offline")
        offline = _formulas(src, f"{where}.offline", spec["offline"], allowed, kind, constants)
    elif "offline" in spec:
        raise InputError(src, f"{where}.offline", "no per-op offline costs unless the table says `offline: per_op`")
    if not isinstance(spec.get("grade"), str) or spec["grade"] not in GRADES:
        raise InputError(src, f"{where}.grade", "one of " + ", ".join(GRADES), spec.get("grade"))
    if not spec.get("source") or not isinstance(spec["source"], str):
        raise InputError(src, f"{where}.source", "where the numbers come from (a text)", spec.get("source"))
    return CostEntry(kind, formulas, spec["source"], spec["grade"], offline)


def _formulas(src: str, where: str, spec: dict, allowed: set | None, kind: str, constants: set) -> dict:
    over = f"a formula over the op's symbols ({', '.join(sorted(formula_symbols(kind)))}) and the table's constants"
    formulas = {}
    for metric in METRICS:
        if metric not in spec:
            raise InputError(src, f"{where}.{metric}", "a formula (use 0 for a cost the op does not have)")
        try:
            formula = Formula(spec[metric], constants)
            if formula.is_constant:
                _bounded(formula, float(formula()))
        except FormulaError as err:
            raise InputError(src, f"{where}.{metric}", f"{over}: {err}") from None
        if allowed is not None and not formula.symbols <= allowed:
            bad = ", ".join(sorted(formula.symbols - allowed))
            raise InputError(src, f"{where}.{metric}", f"only the symbols {_names(allowed)}", bad)
        formulas[metric] = formula
    return formulas


def _names(names, most: int = 24) -> str:
    names = sorted(names)
    return ", ".join(names[:most]) + (f", ... ({len(names)} in all)" if len(names) > most else "")


def _bounded(formula: Formula, value):
    """`value` as a float (a decode template's: as floats, one per step), each from 0 to MAX_COST."""
    if not is_array(value):
        value = float(value)
        if not 0 <= value <= MAX_COST:
            raise FormulaError(f"{formula.text[:60]!r} is {value:.3g}, and a cost is from 0 to {MAX_COST:g}")
        return value
    value = value.astype(float)
    outside = ~((0 <= value) & (value <= MAX_COST))
    if outside.any():
        _bounded(formula, value[outside][0])
    return value


def _evaluate(formulas: dict, values: dict, phase: str = "") -> dict:
    """Each metric's value: a finite number from 0 to MAX_COST, or a FormulaError naming the metric."""
    out = {}
    for m in METRICS:
        try:
            out[m] = _bounded(formulas[m], formulas[m](**{s: values[s] for s in formulas[m].symbols}))
        except FormulaError as err:
            raise FormulaError(f"{phase}{m}: {err}") from None
    return out


def phase_cost(entry: CostEntry, values: dict, phase: str) -> dict:
    """One op's comm_bytes, rounds and compute_s in `phase` (online, offline or total; see setting.py)."""
    if entry.offline is None:  # the formulas are all there is: offline is zero where the table allows it
        cost = _evaluate(entry.formulas, values)
        return {m: 0.0 for m in METRICS} if phase == "offline" else cost
    if phase == "online":
        return _evaluate(entry.formulas, values)
    offline = _evaluate(entry.offline, values, "offline.")
    if phase == "offline":
        return offline
    online = _evaluate(entry.formulas, values)
    return {m: online[m] + offline[m] for m in METRICS}


def price(rows: list[dict], edges: list, table: CostTable, setting: Setting, allow_missing: bool = False) -> Priced:
    """Add comm_bytes, rounds, compute_s, latency_s, source and grade to each op row, in place (ops are priced
    one by one: `edges` is not needed). Kinds left uncosted (only with allow_missing) get None, never 0."""
    uncosted = []
    name = Path(table.path).name
    for row in rows:
        kind = row["kind"]
        if kind not in table.entries and allow_missing:
            if kind not in uncosted:
                uncosted.append(kind)
            row.update(fold(row, {c: None for c in METRICS + ("latency_s",)}), source=None, grade=None)
            continue
        entry = table.entry(kind, row["op"])
        values = {**table.constants, **floats(shape_values(kind, row["shape"], row.get("attrs")))}
        try:
            cost = phase_cost(entry, values, setting.phase)
        except FormulaError as err:
            raise InputError(table.path, f"ops.{kind}", f"finite costs from 0 to {MAX_COST:g} for op {row['op']} "
                             f"({_shape_text(shown(row['shape']))}); {err}") from None
        cost["compute_s"] = setting.compute_s(cost["compute_s"])
        cost["latency_s"] = setting.latency_s(cost["comm_bytes"], cost["rounds"], cost["compute_s"])
        row.update(fold(row, cost), source=f"{name}#ops.{kind}", grade=entry.grade)  # a template: its totals
    return Priced(uncosted)


def _shape_text(shape: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in list(shape.items())[:6])


def depth_values(pieces, table: CostTable, depth: list, columns: tuple):
    """One layer priced once, split by part, then fixed + L x layer + (L - k) x ffn for every (L, k); a
    structure whose layers differ (token pruning) is priced whole at each depth."""
    import numpy as np  # lazy: `pidse estimate` never needs it

    any_setting = Setting(Network("any", 1.0, 0.0))  # latency is recombined per network by the sweep
    index = {c: i for i, c in enumerate(columns)}
    if not pieces.uniform:
        out = np.zeros((len(depth), len(columns)))
        for j, (L, k) in enumerate(depth):
            rows, edges = pieces.full(L, k)
            price(rows, edges, table, any_setting)
            add_rows(out[j], rows, index)
        return out
    rows, edges = pieces.one()
    price(rows, edges, table, any_setting)
    vectors = {part: np.zeros(len(columns)) for part in PARTS}
    for part, vector in vectors.items():
        add_rows(vector, [row for row in rows if row["part"] == part], index)
    L, k = np.asarray(depth, dtype=float).reshape(-1, 2).T
    times = np.column_stack([np.broadcast_to(part_count(p, L, k), L.shape) for p in PARTS])  # depth x part
    parts = np.array([vectors[p] for p in PARTS])  # part x column
    cols = np.flatnonzero(parts.any(axis=0))  # a column no part has stays 0 at every depth
    out = np.zeros((len(L), len(columns)), order="F")  # column-major: how pandas and the sweep store columns
    out[:, cols] = times @ parts[:, cols]  # one small product (to the last bit or so of the elementwise sums)
    return out


def symbolic(row: dict, table: CostTable, cache: dict) -> dict:
    """The op's comm_bytes, rounds and compute_s as sympy expressions in its (symbolic) shape: the same
    formula texts `price` evaluates, parsed by sympy (`cache` keeps each parsed formula)."""
    entry = table.entry(row["kind"], row["op"])
    values = {**table.constants, **shape_values(row["kind"], row["shape"], row["attrs"])}
    out = {}
    for metric in METRICS:
        key = (row["kind"], metric)
        try:
            if key not in cache:
                cache[key] = entry.formulas[metric].sympy()
        except FormulaError as err:
            raise InputError(table.path, f"ops.{row['kind']}.{metric}", f"a formula with a real, finite value for "
                             f"every size ({err})") from None
        expr = cache[key]
        out[metric] = expr.subs({s: values[s.name] for s in expr.free_symbols})
        if out[metric].has(*not_real()):
            raise InputError(table.path, f"ops.{row['kind']}.{metric}", f"a formula with a real, finite value for "
                             f"every size (op {row['op']}: {entry.formulas[metric].text[:60]!r} is "
                             f"{str(out[metric])[:40]})")
    return out


FAMILY = Family("mpc", load, price, depth_values, symbolic, interactive=True,
                comm_meaning="total over parties")
