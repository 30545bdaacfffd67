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
(k FFNs pruned): the sweep prices one layer per structure, and the formulas have sympy closed forms.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pidse.cost.family import GRADES, Family, Priced, accumulate
from pidse.cost.formula import Formula, FormulaError
from pidse.cost.setting import Network, Setting, table_metadata, table_network
from pidse.errors import InputError
from pidse.ops import OP_KINDS, PARTS, formula_symbols, part_count, shape_values
from pidse.schema import reject_unknown, split_unknown

METRICS = ("comm_bytes", "rounds", "compute_s")
TOP_KEYS = {"version", "family", "name", "description", "parties", "protocol", "ring_bits", "fraction_bits",
            "network", "communication", "rounds_note", "online_only", "constants", "ops", "fit", "notes", "anchors",
            "system", "matches", "hardware", "offline", "default_phase", "units"}


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


def load(src: str, data: dict) -> CostTable:
    """Validate an MPC table read from `src`: every formula is checked now, not mid-estimate."""
    for key in ("name", "parties", "protocol", "ops"):
        if key not in data:
            raise InputError(src, key, "this key in a cost table")
    reject_unknown(data, TOP_KEYS, src, "cost-table key")
    constants = data.get("constants") or {}
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in constants.values()):
        raise InputError(src, "constants", "a mapping of names to numbers")
    meta = table_metadata(src, data)
    known, unknown = split_unknown(data["ops"], OP_KINDS, src, "ops", "an op kind")
    entries = {kind: _entry(src, kind, spec, constants, meta["offline"] == "per_op") for kind, spec in known.items()}
    return CostTable(data["name"], data.get("description", ""), data["parties"], data["protocol"],
                     data.get("ring_bits"), data.get("fraction_bits"), table_network(src, data.get("network")),
                     entries, unknown, constants, src, data, **meta)


def _entry(src: str, kind: str, spec, constants: dict, per_op_offline: bool) -> CostEntry:
    where = f"ops.{kind}"
    if not isinstance(spec, dict):
        raise InputError(src, where, "a mapping with comm_bytes, rounds, compute_s, source, grade "
                         "(or `unknown: why`)", spec)
    allowed = formula_symbols(kind) | set(constants)
    reject_unknown(spec, set(METRICS) | {"source", "grade", "offline", "note"}, src, f"key of {where}")
    formulas = _formulas(src, where, spec, allowed)
    offline = None
    if per_op_offline:
        if not isinstance(spec.get("offline"), dict):
            raise InputError(src, f"{where}.offline", "the op's offline costs {comm_bytes, rounds, compute_s} "
                             "(the table says `offline: per_op`)", spec.get("offline"))
        offline = _formulas(src, f"{where}.offline", spec["offline"], allowed)
    elif "offline" in spec:
        raise InputError(src, f"{where}.offline", "no per-op offline costs unless the table says `offline: per_op`")
    if spec.get("grade") not in GRADES:
        raise InputError(src, f"{where}.grade", "one of " + ", ".join(GRADES), spec.get("grade"))
    if not spec.get("source"):
        raise InputError(src, f"{where}.source", "where the numbers come from")
    return CostEntry(kind, formulas, str(spec["source"]), spec["grade"], offline)


def _formulas(src: str, where: str, spec: dict, allowed: set) -> dict:
    formulas = {}
    for metric in METRICS:
        if metric not in spec:
            raise InputError(src, f"{where}.{metric}", "a formula (use 0 for a cost the op does not have)")
        try:
            formula = Formula(spec[metric])
        except FormulaError as err:
            raise InputError(src, f"{where}.{metric}", f"a formula over {', '.join(sorted(allowed))} ({err})")
        if not formula.symbols <= allowed:
            bad = ", ".join(sorted(formula.symbols - allowed))
            raise InputError(src, f"{where}.{metric}", f"only the symbols {', '.join(sorted(allowed))}", bad)
        formulas[metric] = formula
    return formulas


def _evaluate(formulas: dict, values: dict) -> dict:
    return {m: float(formulas[m](**{s: values[s] for s in formulas[m].symbols})) for m in METRICS}


def phase_cost(entry: CostEntry, values: dict, phase: str) -> dict:
    """One op's comm_bytes, rounds and compute_s in `phase` (online, offline or total; see setting.py)."""
    if entry.offline is None:  # the formulas are all there is: offline is zero where the table allows it
        cost = _evaluate(entry.formulas, values)
        return {m: 0.0 for m in METRICS} if phase == "offline" else cost
    if phase == "online":
        return _evaluate(entry.formulas, values)
    offline = _evaluate(entry.offline, values)
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
            row.update({c: None for c in METRICS + ("latency_s",)}, source=None, grade=None)
            continue
        entry = table.entry(kind, row["op"])
        values = {**table.constants, **shape_values(kind, row["shape"], row.get("attrs"))}
        cost = phase_cost(entry, values, setting.phase)
        cost["compute_s"] = setting.compute_s(cost["compute_s"])
        cost["latency_s"] = setting.latency_s(cost["comm_bytes"], cost["rounds"], cost["compute_s"])
        row.update(cost, source=f"{name}#ops.{kind}", grade=entry.grade)
    return Priced(uncosted)


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
            for row in rows:
                accumulate(out[j], row, index)
        return out
    rows, edges = pieces.one()
    price(rows, edges, table, any_setting)
    vectors = {part: np.zeros(len(columns)) for part in PARTS}
    for row in rows:
        accumulate(vectors[row["part"]], row, index)
    L, k = (np.array(v, dtype=float)[:, None] for v in zip(*depth))
    return (vectors["fixed"][None, :] + part_count("layer", L, k) * vectors["layer"][None, :]
            + part_count("ffn", L, k) * vectors["ffn"][None, :])


def symbolic(row: dict, table: CostTable, cache: dict) -> dict:
    """The op's comm_bytes, rounds and compute_s as sympy expressions in its (symbolic) shape: the same
    formula texts `price` evaluates, parsed by sympy (`cache` keeps each parsed formula)."""
    entry = table.entry(row["kind"], row["op"])
    values = {**table.constants, **shape_values(row["kind"], row["shape"], row["attrs"])}
    out = {}
    for metric in METRICS:
        key = (row["kind"], metric)
        if key not in cache:
            cache[key] = entry.formulas[metric].sympy()
        expr = cache[key]
        out[metric] = expr.subs({s: values[s.name] for s in expr.free_symbols})
    return out


FAMILY = Family("mpc", load, price, depth_values, symbolic, interactive=True,
                comm_meaning="total over parties")
