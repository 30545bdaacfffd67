"""CKKS cost tables (`family: ckks`): scheme parameters, seconds per HE primitive, per-op algorithm choices.

A CKKS table replaces the MPC table's per-op formulas by three parts (see cost_tables/ckks-*.yaml):
  params      ring dimension N, slots, modulus chain (q0, scale and special-prime bits), levels of a fresh
              ciphertext and levels left after a bootstrap
  primitives  seconds per call of each primitive in PRIMITIVES, flat or level-dependent ({level: seconds}
              measured at a few levels, linear in between), each with source and grade (at most MAX_SECONDS);
              `unknown: why` where the table cannot price one (an estimate that needs it is then an error)
  ops         algorithm choices per op kind (softmax method, polynomial degrees, iteration counts), with sources;
              `<kind>: {unknown: why}` for an op kind the table cannot price (an estimate that uses it is then an
              error, or with --allow-missing the op is left uncosted)
How an op turns into primitive counts is ops.py beside this file; where bootstraps go is walk.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pidse.cost.family import GRADES
from pidse.cost.setting import number_in, table_mapping, table_metadata, table_network, table_scalars
from pidse.errors import InputError
from pidse.ops import OP_KINDS
from pidse.schema import reject_unknown, split_unknown, suggest

PRIMITIVES = ("encode", "pmul", "cmul", "rot", "rescale", "add", "bootstrap")
PRIMITIVE_NAMES = {"encode": "encode (plaintext)", "pmul": "plaintext x ciphertext multiply",
                   "cmul": "ciphertext x ciphertext multiply + relinearise", "rot": "rotation",
                   "rescale": "rescale", "add": "addition", "bootstrap": "bootstrapping"}
PARAM_KEYS = ("ring_dim", "slots", "log_q", "q0_bits", "scale_bits", "special_bits", "levels_fresh",
              "levels_after_bootstrap")
SOFTMAX_METHODS = ("nexus", "cho", "power")
# Per op kind: the settings a table may give (integers >= 1 unless CHOICES lists their words). softmax holds
# `method` and one mapping of SOFTMAX_SETTINGS per method (nexus, cho), so one table prices every variant.
SOFTMAX_SETTINGS = {"exp_degree", "goldschmidt_iterations", "inverse_domain", "rounds", "packing"}
OP_SETTINGS = {
    "softmax": {"method", "nexus", "cho"},
    "power_softmax": SOFTMAX_SETTINGS - {"exp_degree", "rounds"},
    "relu_softmax": SOFTMAX_SETTINGS - {"exp_degree", "rounds"},  # else power_softmax's (ops.py softmax)
    "gelu": {"degree"}, "relu": {"degree"}, "silu": {"degree"},
    "layernorm": {"method", "iterations", "degree"}, "rmsnorm": {"method", "iterations", "degree"},
}
CHOICES = {"method": ("newton", "poly"), "inverse_domain": ("sum", "mean"),
           "packing": ("rows_in_slots", "keys_across")}
# Limits on what a table may say (beyond them a value is a typo, or would make the depth walk run for ever).
PARAM_MAX = {"ring_dim": 2**20, "slots": 2**19, "log_q": 100_000, "q0_bits": 1000, "scale_bits": 1000,
             "special_bits": 1000, "levels_fresh": 100, "levels_after_bootstrap": 100}
MAX_SETTING = 1024  # an op setting: polynomial degree, iterations, rounds
MAX_SECONDS = 1e6  # one primitive call
MAX_LEVEL = 1000  # a level a primitive was measured at
MAX_KEY_BYTES = 1e15  # one-time keys
PACKING = {"scores": ("rows_in_slots", "keys_across"), "bootstraps": ("cheapest", "input")}
KEY_KEYS = ("switching_key_bytes", "rotation_keys", "bootstrap_key_bytes", "source")
SCALARS = {"version": int, "name": str, "description": str, "scheme": str, "system": str}
TOP_KEYS = {"version", "family", "name", "description", "scheme", "network", "params", "primitives", "keys",
            "ops", "packing", "derivation", "measurements", "notes", "system", "matches", "hardware", "offline",
            "units", "default_phase"}


@dataclass(frozen=True)
class Primitive:
    name: str
    points: tuple  # ((level, seconds), ...) by level: piecewise linear between, flat beyond the ends
    source: str
    grade: str

    @property
    def top_s(self) -> float:
        return self.points[-1][1]

    def seconds(self, level: float) -> float:
        import numpy as np

        levels, secs = zip(*self.points)
        return float(np.interp(level, levels, secs))


@dataclass(frozen=True)
class CkksTable:
    name: str
    description: str
    scheme: str
    network: object  # Network: default for the upload/download
    params: dict  # PARAM_KEYS -> int
    primitives: dict  # name -> Primitive
    ops: dict  # kind -> settings
    keys: dict = field(default_factory=dict)
    path: str = ""
    raw: dict = field(default_factory=dict, repr=False)
    family: str = "ckks"
    parties: int = 2  # client and server
    unknown: dict = field(default_factory=dict)  # primitive -> why it is not priced
    unknown_ops: dict = field(default_factory=dict)  # op kind -> why the table cannot price it
    system: str = ""  # the published system the table models
    matches: tuple = ()  # regexes on published measurements' `system` column
    hardware: object = None  # Hardware the primitive prices were measured on
    offline: str = "unknown"  # phases (pidse/cost/setting.py); one-time keys are reported apart
    offline_note: str = "evaluation keys are one-time and reported apart"
    default_phase: str | None = None
    units: dict = field(default_factory=lambda: {"comm": "GB", "scope": "total"})

    @property
    def protocol(self) -> str:  # what renderers print for an MPC table's protocol
        return self.scheme

    @property
    def slots(self) -> int:
        return self.params["slots"]

    def setting(self, kind: str, key: str, default=None):
        """An op's setting; `softmax.<method>.<key>` for the softmax variants (kind "nexus" or "cho")."""
        where = self.ops.get("softmax", {}).get(kind, {}) if kind in ("nexus", "cho") else self.ops.get(kind, {})
        return where.get(key, default)

    def op_unknown(self, kind: str, op: str = "") -> InputError:
        """The missing-cost error for an op kind the table cannot price (as an MPC table's missing entry)."""
        why = self.unknown_ops.get(kind, "not listed")
        used = f" (used by {op})" if op else ""
        return InputError(self.path, f"ops.{kind}", f"a cost for op kind '{kind}'{used}; the table has none "
                          f"({why}); pass --allow-missing to list such ops as uncosted")

    def ciphertext_bytes(self, level: int) -> float:
        """2 polynomials x N coefficients x log2(Q_level) bits (he.md: size = 2 N log2 Q)."""
        p = self.params
        return 2 * p["ring_dim"] * (p["q0_bits"] + level * p["scale_bits"]) / 8

    def seconds(self, primitive: str, level: float, op: str = "") -> float:
        prim = self.primitives.get(primitive)
        if prim is None:
            why = self.unknown.get(primitive, "not listed")
            used = f" (needed by {op})" if op else ""
            raise InputError(self.path, f"primitives.{primitive}", f"a cost for {PRIMITIVE_NAMES[primitive]}"
                             f"{used}; the table has none ({why}); pass --allow-missing to leave it uncosted")
        return prim.seconds(level)


def load_ckks(src: str, data: dict) -> CkksTable:
    """Validate a `family: ckks` table already read from `src` (see load_table in pidse/cost/registry.py)."""
    reject_unknown(data, TOP_KEYS, src, "CKKS-table key")
    for key in ("name", "params", "primitives", "ops"):
        if key not in data:
            raise InputError(src, key, "this key in a CKKS table")
    table_scalars(src, data, SCALARS)
    params = _params(src, table_mapping(src, data, "params"))
    packing = table_mapping(src, data, "packing")
    reject_unknown(packing, PACKING, src, "key of packing", prefix="packing")
    for key, value in packing.items():
        if value not in PACKING[key]:
            raise InputError(src, f"packing.{key}", "one of " + ", ".join(PACKING[key]), value)

    primitives = {}
    known, unknown = split_unknown(table_mapping(src, data, "primitives"), PRIMITIVES, src, "primitives",
                                   "a primitive")
    for name, spec in known.items():
        primitives[name] = _primitive(src, name, spec)
    missing = [p for p in PRIMITIVES if p not in primitives and p not in unknown]
    if missing:
        raise InputError(src, f"primitives.{missing[0]}", "a cost, or `unknown: why` (never a silent 0)")

    ops, unknown_ops = {}, {}
    for kind, spec in table_mapping(src, data, "ops").items():
        if kind in OP_KINDS and isinstance(spec, dict) and "unknown" in spec:
            if set(spec) != {"unknown"} or not spec["unknown"]:
                raise InputError(src, f"ops.{kind}", "`unknown: why` alone (or the op's settings)", spec)
            unknown_ops[kind] = str(spec["unknown"])
            continue
        if kind not in OP_SETTINGS:
            raise InputError(src, f"ops.{kind}", "an op kind with HE settings (" + ", ".join(OP_SETTINGS) + "), or "
                             "any op kind with `unknown: why`" + suggest(kind, OP_SETTINGS))
        _settings(src, f"ops.{kind}", spec, OP_SETTINGS[kind], kind)
        ops[kind] = dict(spec or {})

    keys = dict(table_mapping(src, data, "keys"))
    reject_unknown(keys, KEY_KEYS, src, "key of keys", prefix="keys")
    for key in KEY_KEYS[:3]:
        if keys.get(key) is not None:
            keys[key] = number_in(src, f"keys.{key}", keys[key], (0, MAX_KEY_BYTES), "a number")
    network = table_network(src, data.get("network"), presets_only=True)
    data = {**data, "packing": packing}  # ops.py and price.py read it from `raw`: a mapping, even if empty
    return CkksTable(data["name"], data.get("description", ""), data.get("scheme", "CKKS"), network,
                     params, primitives, ops, keys, src, data, unknown=unknown, unknown_ops=unknown_ops,
                     **table_metadata(src, data, "evaluation keys are one-time and reported apart"))


def _params(src: str, params: dict) -> dict:
    """The scheme parameters: integers within PARAM_MAX, slots <= ring_dim / 2, levels consistent."""
    reject_unknown(params, PARAM_KEYS, src, "parameter", prefix="params")
    for key in PARAM_KEYS:
        low = 1 if key in ("ring_dim", "slots", "levels_after_bootstrap") else 0
        if type(params.get(key)) is not int or not low <= params[key] <= PARAM_MAX[key]:
            raise InputError(src, f"params.{key}", f"an integer from {low} to {PARAM_MAX[key]:,}", params.get(key))
    if params["slots"] > params["ring_dim"] // 2 or not 1 <= params["levels_after_bootstrap"] <= params["levels_fresh"]:
        raise InputError(src, "params", "slots <= ring_dim / 2 and 1 <= levels_after_bootstrap <= levels_fresh")
    return {k: params[k] for k in PARAM_KEYS}


def _primitive(src: str, name: str, spec) -> Primitive:
    """One primitive's price: seconds per call (>= 0, at most MAX_SECONDS), flat or {level: seconds}."""
    where = f"primitives.{name}"
    if not isinstance(spec, dict) or spec.get("grade") not in GRADES or not spec.get("source"):
        raise InputError(src, where, "{seconds, source, grade} with grade one of " + ", ".join(GRADES))
    reject_unknown(spec, ("seconds", "source", "grade"), src, f"key of {where}", prefix=where)
    sec = spec.get("seconds")
    expected = f"seconds from 0 to {MAX_SECONDS:g}, or {{level: seconds, ...}} for a level-dependent cost"
    if isinstance(sec, dict):
        if not sec or not all(type(k) is int and 0 <= k <= MAX_LEVEL for k in sec):
            raise InputError(src, f"{where}.seconds", f"{{level: seconds, ...}} with levels from 0 to {MAX_LEVEL}",
                             sec)
        points = tuple(sorted((k, _number(v, src, f"{where}.seconds.{k}", expected)) for k, v in sec.items()))
    else:
        points = ((0, _number(sec, src, f"{where}.seconds", expected)),)
    return Primitive(name, points, str(spec["source"]), spec["grade"])


def _settings(src: str, where: str, spec, allowed: set, kind: str) -> None:
    if not isinstance(spec, dict):
        raise InputError(src, where, "a mapping of settings", spec)
    allowed = allowed | {"source"}
    for key, value in spec.items():
        at = f"{where}.{key}"
        if key not in allowed:
            raise InputError(src, at, "one of " + ", ".join(sorted(allowed)) + suggest(str(key), allowed))
        if key in ("nexus", "cho"):
            _settings(src, at, value, SOFTMAX_SETTINGS, key)
        elif key in CHOICES:
            choices = SOFTMAX_METHODS if (key, kind) == ("method", "softmax") else CHOICES[key]
            if value not in choices:
                raise InputError(src, at, "one of " + ", ".join(choices), value)
        elif key != "source" and (type(value) is not int or not 1 <= value <= MAX_SETTING):
            raise InputError(src, at, f"an integer from 1 to {MAX_SETTING:,}", value)


def _number(value, src: str, where: str, expected: str) -> float:
    """Seconds from 0 to MAX_SECONDS; YAML 1.1 reads 2.1e6 (no exponent sign) as a string, so numeric strings
    count. A NaN, an infinity or a negative number is an error naming the key."""
    try:
        return number_in(src, where, value, (0.0, MAX_SECONDS), "seconds")
    except InputError:
        raise InputError(src, where, expected, value) from None
