"""Cost tables (per-op MPC cost formulas), network presets, and pricing an op graph's rows.

A cost table (cost_tables/NAME.yaml) gives, for every op kind, formulas over that op's shape symbols:
  comm_bytes  bytes sent over the network, TOTAL over all parties
  rounds      sequential round trips the op adds
  compute_s   local computation time
each with `source` and `grade` (measured | published | derived | estimate). A kind the table declares
`unknown` or does not list is an error when a graph uses it; it is never priced as zero.

Latency model (batch 1, ops run one after another, parallel inside an op):
  latency_s = compute_s + 8 * comm_bytes / bandwidth_bps + rounds * rtt_s
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from pidse.errors import InputError
from pidse.cost.formula import Formula, FormulaError
from pidse.model.graph import OP_KINDS
from pidse.resources import DATA_DIR, TABLES_DIR
from pidse.schema import reject_unknown, split_unknown

NETWORKS_FILE = DATA_DIR / "networks.yaml"
GRADES = ("measured", "published", "derived", "estimate")
METRICS = ("comm_bytes", "rounds", "compute_s")
COST_COLUMNS = ("comm_bytes", "rounds", "compute_s", "latency_s")


@dataclass(frozen=True)
class Network:
    name: str
    bandwidth_bps: float
    rtt_s: float
    source: str = ""

    def latency_s(self, comm_bytes, rounds, compute_s):
        return compute_s + 8.0 * comm_bytes / self.bandwidth_bps + rounds * self.rtt_s


@dataclass(frozen=True)
class CostEntry:
    kind: str
    formulas: dict  # metric -> Formula
    source: str
    grade: str


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

    def entry(self, kind: str, op: str = "") -> CostEntry:
        if kind in self.entries:
            return self.entries[kind]
        why = self.unknown.get(kind, "not listed")
        used = f" (used by {op})" if op else ""
        raise InputError(self.path, f"ops.{kind}", f"a cost entry for op kind '{kind}'{used}; the table has "
                         f"none ({why}); pass --allow-missing to list such ops as uncosted")


# ---- networks ------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def load_networks() -> dict[str, Network]:
    import yaml

    data = yaml.safe_load(NETWORKS_FILE.read_text())
    return {name: Network(name, float(v["bandwidth_bps"]), float(v["rtt_s"]), v.get("source", ""))
            for name, v in data.items()}


def resolve_network(name: str | None = None, bandwidth_bps: float | None = None, rtt_s: float | None = None,
                    table: CostTable | None = None) -> Network:
    """A preset by name (or the table's default), with --bandwidth / --rtt overriding its fields."""
    presets = load_networks()
    if name in (None, "table"):
        base = table.network if table and table.network else None
        if base is None and (bandwidth_bps is None or rtt_s is None):
            raise InputError("--network", None, "a preset name (" + ", ".join(presets) + "), or both "
                             "--bandwidth and --rtt, since the cost table names no default network")
        base = base or Network("custom", 0.0, 0.0)
    elif name in presets:
        base = presets[name]
    else:
        from pidse.schema import suggest

        raise InputError("--network", None, "one of " + ", ".join(presets) + suggest(name, presets), name)
    if bandwidth_bps is not None and bandwidth_bps <= 0:
        raise InputError("--bandwidth", None, "a positive bandwidth in bits per second", bandwidth_bps)
    if rtt_s is not None and rtt_s < 0:
        raise InputError("--rtt", None, "a round-trip time >= 0 in seconds", rtt_s)
    if bandwidth_bps is None and rtt_s is None:
        return base
    return Network(f"{base.name} (custom)" if base.name != "custom" else "custom",
                   bandwidth_bps if bandwidth_bps is not None else base.bandwidth_bps,
                   rtt_s if rtt_s is not None else base.rtt_s, base.source)


# ---- cost tables ---------------------------------------------------------------------------------------

def table_path(name: str) -> Path:
    path = Path(name)
    if path.suffix in (".yaml", ".yml") or path.parent != Path("."):
        return path
    return TABLES_DIR / f"{name}.yaml"


def list_tables(family: str | None = None) -> list[str]:
    """Shipped table names; `family` "mpc" or "ckks" keeps only those (a CKKS table says `family: ckks`)."""
    names = sorted(p.stem for p in TABLES_DIR.glob("*.yaml"))
    if family is None:
        return names
    import yaml

    return [n for n in names if (yaml.safe_load((TABLES_DIR / f"{n}.yaml").read_text()).get("family") or "mpc")
            == family]


def load_table(name: str) -> CostTable:
    """Load a table by name (cost_tables/NAME.yaml) or path; every formula is checked now, not mid-estimate."""
    from pidse.spec.load import read_mapping

    path = table_path(name)
    if not path.is_file():
        raise InputError("--protocol", None, "a cost table name (" + ", ".join(list_tables()) + ") or a path to "
                         "a cost-table YAML", name)
    data = read_mapping(path)
    src = str(path)
    if data.get("family") == "ckks":  # CKKS: primitives and scheme parameters instead of per-op formulas
        from pidse.cost.ckks.table import load_ckks

        return load_ckks(src, data)
    for key in ("name", "parties", "protocol", "ops"):
        if key not in data:
            raise InputError(src, key, "this key in a cost table")
    known = {"version", "name", "description", "parties", "protocol", "ring_bits", "fraction_bits", "network",
             "communication", "rounds_note", "online_only", "constants", "ops", "fit", "notes", "anchors"}
    reject_unknown(data, known, src, "cost-table key")
    constants = data.get("constants") or {}
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in constants.values()):
        raise InputError(src, "constants", "a mapping of names to numbers")

    known, unknown = split_unknown(data["ops"], OP_KINDS, src, "ops", "an op kind")
    entries = {kind: _entry(src, kind, spec, constants) for kind, spec in known.items()}
    network = data.get("network")
    if isinstance(network, str):
        if network not in load_networks():
            raise InputError(src, "network", "a network preset (" + ", ".join(load_networks()) + ") or "
                             "{bandwidth_bps, rtt_s}", network)
        network = resolve_network(network)
    elif isinstance(network, dict):
        try:
            network = Network(network.get("name", "table"), float(network["bandwidth_bps"]),
                              float(network["rtt_s"]), network.get("source", ""))
        except (KeyError, TypeError, ValueError):
            raise InputError(src, "network", "a preset name or {bandwidth_bps, rtt_s}", network) from None
    return CostTable(data["name"], data.get("description", ""), data["parties"], data["protocol"],
                     data.get("ring_bits"), data.get("fraction_bits"), network, entries, unknown, constants,
                     src, data)


def _entry(src: str, kind: str, spec, constants: dict) -> CostEntry:
    where = f"ops.{kind}"
    if not isinstance(spec, dict):
        raise InputError(src, where, "a mapping with comm_bytes, rounds, compute_s, source, grade "
                         "(or `unknown: why`)", spec)
    allowed = formula_symbols(kind) | set(constants)
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
    if spec.get("grade") not in GRADES:
        raise InputError(src, f"{where}.grade", "one of " + ", ".join(GRADES), spec.get("grade"))
    if not spec.get("source"):
        raise InputError(src, f"{where}.source", "where the numbers come from")
    return CostEntry(kind, formulas, str(spec["source"]), spec["grade"])


SCORE_KINDS = ("softmax", "power_softmax")


def formula_symbols(kind: str) -> set:
    """The size symbols a cost formula for `kind` may use (constants come on top)."""
    from pidse.model.graph import SHAPE_KEYS

    extra = {"kept", "power"} if kind == "power_softmax" else {"kept"} if kind in SCORE_KINDS else set()
    return set(SHAPE_KEYS[kind]) | {"elements"} | extra


def causal_kept(rows, cols):
    """Scores a causal mask keeps when the rows are the last `rows` of `cols` positions (query i of them sees
    cols - rows + i + 1 keys): rows * cols - rows (rows - 1) / 2; exact for ints and sympy symbols alike."""
    pairs = rows * (rows - 1)
    return rows * cols - (pairs // 2 if isinstance(pairs, int) else pairs / 2)


def shape_values(kind: str, shape: dict, attrs: dict | None = None) -> dict:
    """The symbols a formula may use for one op: its shape plus `elements` (the output elements) and, for a
    softmax, `kept` (the score elements its mask keeps: all of them unless the op is causal); a Power-Softmax
    adds its exponent `power`."""
    if kind in ("linear", "lm_head"):
        elements = shape["m"] * shape["n"]
    elif kind == "matmul":
        elements = shape["batch"] * shape["m"] * shape["n"]
    elif kind == "embedding":
        elements = shape["tokens"] * shape["dim"]
    else:
        elements = shape.get("batch", 1) * shape["rows"] * shape["cols"]
    if kind in SCORE_KINDS:
        causal = (attrs or {}).get("causal", False)
        kept = shape["batch"] * causal_kept(shape["rows"], shape["cols"]) if causal else elements
        values = {**shape, "elements": elements, "kept": kept}
        if kind == "power_softmax" and "power" in (attrs or {}):
            values["power"] = attrs["power"]
        return values
    return {**shape, "elements": elements}


def price(rows: list[dict], table: CostTable, network: Network, allow_missing: bool = False) -> list[str]:
    """Add comm_bytes, rounds, compute_s, latency_s, source and grade to each op row, in place.

    Returns the op kinds left uncosted (only with allow_missing); their cost columns are None, never 0.
    """
    uncosted = []
    for row in rows:
        kind = row["kind"]
        if kind not in table.entries and allow_missing:
            if kind not in uncosted:
                uncosted.append(kind)
            row.update({c: None for c in COST_COLUMNS}, source=None, grade=None)
            continue
        entry = table.entry(kind, row["op"])
        values = {**table.constants, **shape_values(kind, row["shape"], row.get("attrs"))}
        cost = {m: float(entry.formulas[m](**{s: values[s] for s in entry.formulas[m].symbols}))
                for m in METRICS}
        cost["latency_s"] = network.latency_s(cost["comm_bytes"], cost["rounds"], cost["compute_s"])
        row.update(cost, source=f"{Path(table.path).name}#ops.{kind}", grade=entry.grade)
    return uncosted
