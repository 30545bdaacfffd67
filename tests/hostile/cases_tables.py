"""Hostile cost tables (MPC and CKKS), their formulas, extends chains, networks, hardware, the network options,
and `formula` / `scaling` over such tables. Each case's table is the small valid BASE (every op kind priced by
`elements`) or CKKS table with one thing broken."""
from __future__ import annotations

import copy

import yaml

from conftest import TINY_CKKS
from hostile import Case
from pidse.ops import OP_KINDS

SPEC = """version: 1
model: {layers: 2, heads: 2, d_model: 8, d_ff: 16, vocab_size: 10, max_context: 8}
inference: {context: 4}
"""
OK_ENTRY = {"comm_bytes": "elements", "rounds": 1, "compute_s": 0, "source": "s", "grade": "estimate"}
BASE = {"version": 1, "name": "t", "parties": 2, "protocol": "test", "network": "lan",
        "ops": {kind: dict(OK_ENTRY) for kind in OP_KINDS}}
CKKS = {**TINY_CKKS, "name": "c"}  # the tests' tiny CKKS table


def dump(data) -> str:
    return yaml.safe_dump(data, sort_keys=False, width=1 << 20)


def changed(base: dict, **top) -> str:
    """`base` with top-level keys replaced (a value of ... removes the key)."""
    data = copy.deepcopy(base)
    for key, value in top.items():
        if value is ...:
            data.pop(key, None)
        else:
            data[key] = value
    return dump(data)


def with_op(kind: str, entry, base: dict = BASE) -> str:
    data = copy.deepcopy(base)
    data["ops"][kind] = entry
    return dump(data)


def formula(text, metric: str = "comm_bytes", kind: str = "softmax") -> str:
    return with_op(kind, {**OK_ENTRY, metric: text})


def estimate(case_id: str, table: str, *extra, needles=(), files=None) -> Case:
    return Case(case_id, ("estimate", "{tmp}/s.yaml", "-p", "{tmp}/t.yaml", *extra),
                {"s.yaml": SPEC, "t.yaml": table, **(files or {})}, needles)


CASES = []

# ---- MPC table structure ---------------------------------------------------------------------------------
STRUCTURE = {
    "ops-list": (changed(BASE, ops=[1, 2]), ("ops",)),
    "ops-int-key": ("name: t\nparties: 2\nprotocol: x\nops:\n  1: {comm_bytes: 1}\n", ("ops",)),
    "ops-string": (changed(BASE, ops="softmax"), ("ops",)),
    "ops-number": (changed(BASE, ops=5), ("ops",)),
    "ops-missing": (changed(BASE, ops=...), ("ops",)),
    "constants-list": (changed(BASE, constants=[1, 2]), ("constants",)),
    "constants-string": (changed(BASE, constants="w=3"), ("constants",)),
    "constants-nan": (changed(BASE, constants={"w": float("nan")}), ("constants.w",)),
    "constants-inf": (changed(BASE, constants={"w": float("inf")}), ("constants.w",)),
    "constants-neg-inf": (changed(BASE, constants={"w": float("-inf")}), ("constants.w",)),
    "constants-huge": (changed(BASE, constants={"w": 1e300}), ("constants.w",)),
    "constants-word": (changed(BASE, constants={"w": "eight"}), ("constants.w",)),
    "constants-bool": (changed(BASE, constants={"w": True}), ("constants.w",)),
    "constants-list-value": (changed(BASE, constants={"w": [1]}), ("constants.w",)),
    "constants-null": (changed(BASE, constants={"w": None}), ("constants.w",)),
    "constants-function-name": (changed(BASE, constants={"max": 3}), ("constants.max",)),
    "constants-shape-symbol-name": (changed(BASE, constants={"elements": 3}), ("constants.elements",)),
    "constants-many": (changed(BASE, constants={f"c{i}": i for i in range(5000)}, ops={"softmax": {
        **OK_ENTRY, "comm_bytes": "nope * elements"}}), ("ops.softmax.comm_bytes",)),
    "constants-space-name": (changed(BASE, constants={"a b": 3}), ("constants",)),
    "constants-underscore-name": (changed(BASE, constants={"_w": 3}), ("constants._w",)),
    "constants-int-name": ("name: t\nparties: 2\nprotocol: x\nconstants: {1: 2}\nops: {}\n", ("constants",)),
    "constants-fullwidth-name": (changed(BASE, constants={"ｗ": 3}), ("constants",)),
    "name-list": (changed(BASE, name=[1]), ("name",)),
    "name-missing": (changed(BASE, name=...), ("name",)),
    "parties-zero": (changed(BASE, parties=0), ("parties",)),
    "parties-negative": (changed(BASE, parties=-2), ("parties",)),
    "parties-word": (changed(BASE, parties="two"), ("parties",)),
    "parties-float": (changed(BASE, parties=2.5), ("parties",)),
    "parties-bool": (changed(BASE, parties=True), ("parties",)),
    "parties-huge": (changed(BASE, parties=10**30), ("parties",)),
    "protocol-mapping": (changed(BASE, protocol={"a": 1}), ("protocol",)),
    "ring-bits-word": (changed(BASE, ring_bits="sixty-four"), ("ring_bits",)),
    "description-list": (changed(BASE, description=[1, 2]), ("description",)),
    "version-word": (changed(BASE, version="one"), ("version",)),
    "unknown-top-key": (changed(BASE, opps={}), ("opps",)),
    "family-list": (changed(BASE, family=["mpc"]), ("family",)),
    "family-bogus": (changed(BASE, family="quantum"), ("family",)),
    "fit-string": (changed(BASE, fit="yes"), ("fit",)),
    "entry-number": (with_op("softmax", 5), ("ops.softmax",)),
    "entry-list": (with_op("softmax", [1, 2]), ("ops.softmax",)),
    "entry-missing-rounds": (with_op("softmax", {k: v for k, v in OK_ENTRY.items() if k != "rounds"}),
                             ("ops.softmax.rounds",)),
    "entry-grade-bogus": (with_op("softmax", {**OK_ENTRY, "grade": "excellent"}), ("ops.softmax.grade",)),
    "entry-grade-list": (with_op("softmax", {**OK_ENTRY, "grade": ["estimate"]}), ("ops.softmax.grade",)),
    "entry-source-missing": (with_op("softmax", {k: v for k, v in OK_ENTRY.items() if k != "source"}),
                             ("ops.softmax.source",)),
    "entry-source-mapping": (with_op("softmax", {**OK_ENTRY, "source": {"a": 1}}), ("ops.softmax.source",)),
    "entry-typo-key": (with_op("softmax", {**OK_ENTRY, "comm_byte": 1}), ("comm_byte",)),
    "entry-unknown-empty": (with_op("softmax", {"unknown": ""}), ("ops.softmax",)),
    "kind-typo": (with_op("sofmax", OK_ENTRY), ("ops.sofmax",)),
    "kind-fullwidth": (with_op("ｓｏｆｔｍａｘ", OK_ENTRY), ("ops.",)),
    "offline-per-op-missing": (changed(BASE, offline="per_op"), ("offline",)),
    "offline-bogus": (changed(BASE, offline="sometimes"), ("offline",)),
    "offline-entry-without-mode": (with_op("softmax", {**OK_ENTRY, "offline": {"comm_bytes": 1}}),
                                   ("ops.softmax.offline",)),
    "default-phase-without-per-op": (changed(BASE, default_phase="total"), ("default_phase",)),
    "units-bogus": (changed(BASE, units={"comm": "TB"}), ("units",)),
    "units-list": (changed(BASE, units=["GB"]), ("units",)),
    "matches-bad-regex": (changed(BASE, matches=["(unclosed"]), ("matches",)),
    "matches-number": (changed(BASE, matches=5), ("matches",)),
}
CASES += [estimate(f"table-{key}", text, needles=needles) for key, (text, needles) in STRUCTURE.items()]

# per_op offline formulas are checked like the online ones
PER_OP = copy.deepcopy(BASE)
PER_OP["offline"] = "per_op"
for entry in PER_OP["ops"].values():
    entry["offline"] = {"comm_bytes": 0, "rounds": 0, "compute_s": 0}
bad_offline = copy.deepcopy(PER_OP)
bad_offline["ops"]["softmax"]["offline"] = {"comm_bytes": "1/(elements-elements)", "rounds": 0, "compute_s": 0}
CASES.append(estimate("table-offline-divide-by-zero", dump(bad_offline), "--phase", "offline",
                      needles=("ops.softmax", "offline.comm_bytes")))
bad_offline = copy.deepcopy(PER_OP)
bad_offline["ops"]["softmax"]["offline"] = {"comm_bytes": 0, "rounds": 0, "compute_s": 0, "extra": 1}
CASES.append(estimate("table-offline-unknown-key", dump(bad_offline), needles=("extra",)))

# ---- networks and hardware in a table ----------------------------------------------------------------------
NETWORKS = {
    "bogus-preset": "wan-typo",
    "nan-bandwidth": {"bandwidth_bps": float("nan"), "rtt_s": 0.01},
    "negative-bandwidth": {"bandwidth_bps": -1e9, "rtt_s": 0.01},
    "zero-bandwidth": {"bandwidth_bps": 0, "rtt_s": 0.01},
    "tiny-bandwidth": {"bandwidth_bps": 1e-300, "rtt_s": 0.01},
    "absurd-bandwidth": {"bandwidth_bps": 1e300, "rtt_s": 0.01},
    "inf-bandwidth": {"bandwidth_bps": float("inf"), "rtt_s": 0.01},
    "word-bandwidth": {"bandwidth_bps": "fast", "rtt_s": 0.01},
    "negative-rtt": {"bandwidth_bps": 1e9, "rtt_s": -0.01},
    "inf-rtt": {"bandwidth_bps": 1e9, "rtt_s": float("inf")},
    "nan-rtt": {"bandwidth_bps": 1e9, "rtt_s": float("nan")},
    "absurd-rtt": {"bandwidth_bps": 1e9, "rtt_s": 1e9},
    "missing-rtt": {"bandwidth_bps": 1e9},
    "unknown-key": {"bandwidth_bps": 1e9, "rtt_s": 0.01, "latency": 3},
    "list": [1e9, 0.01],
    "bool-bandwidth": {"bandwidth_bps": True, "rtt_s": 0.01},
}
CASES += [estimate(f"network-table-{key}", changed(BASE, network=value), needles=("network",))
          for key, value in NETWORKS.items()]
HARDWARE = {
    "inf-threads": {"kind": "cpu", "threads": float("inf"), "ghz": 2},
    "fractional-threads": {"kind": "cpu", "threads": 2.5, "ghz": 2},
    "zero-ghz": {"kind": "cpu", "threads": 2, "ghz": 0},
    "absurd-ghz": {"kind": "cpu", "threads": 2, "ghz": 1e12},
    "nan-tflops": {"kind": "gpu", "tflops": float("nan")},
    "word-tflops": {"kind": "gpu", "tflops": "lots"},
    "tpu": {"kind": "tpu"},
    "unknown-preset": "cray-1",
    "number": 5,
    "unknown-key": {"kind": "gpu", "tflops": 10, "watts": 300},
}
CASES += [estimate(f"hardware-table-{key}", changed(BASE, hardware=value), needles=("hardware",))
          for key, value in HARDWARE.items()]

# ---- formulas ----------------------------------------------------------------------------------------------
FORMULAS = {
    "divide-by-zero-constant": "1/0",
    "divide-by-zero-at-shape": "elements/(elements-elements)",
    "max-no-arguments": "max()",
    "max-one-argument": "max(elements)",
    "ceil-three-arguments": "ceil(1, 2, 3)",
    "log-two-arguments": "log(elements, 2)",
    "sqrt-no-arguments": "sqrt()",
    "power-overflow-at-shape": "2**(elements * 100)",
    "power-overflow-three": "3**(elements * 1000)",
    "power-overflow-constant": "10.0**400",
    "power-tower": "9**9**9**9",
    "power-huge-exponent": "10**10**8",
    "power-of-power": "(10**300)**300",
    "product-overflow": "1e300 * 1e300 * elements",
    "exponent-symbol-both": "elements**elements",
    "degree-too-high": "(elements + rows)**64",
    "degree-nested": "((rows + cols)**8)**8",
    "minus-signs-100000": "-" * 100_000 + "1",
    "minus-signs-2000": "-" * 2000 + "1",
    "parentheses-300": "(" * 300 + "1" + ")" * 300,
    "long-formula": " + ".join(["elements"] * 1000),
    "log-zero": "log(0)",
    "log-zero-at-shape": "log(elements - elements)",
    "sqrt-negative": "sqrt(-1)",
    "sqrt-negative-at-shape": "sqrt(0 - elements)",
    "fractional-power-of-negative": "(-8)**(1/3)",
    "fractional-power-at-shape": "(0 - elements)**0.5",
    "zero-to-negative": "0**-1",
    "negative-constant": "-1e30",
    "negative-at-shape": "0 - elements",
    "absurd-at-shape": "1e29 * elements",
    "yaml-nan": float("nan"),
    "yaml-inf": float("inf"),
    "literal-1e999": "1e999",
    "name-nan": "nan",
    "name-inf": "inf * elements",
    "fullwidth-max": "ｍａｘ(elements, 1)",
    "fullwidth-symbol": "ｅｌｅｍｅｎｔｓ",
    "cyrillic-symbol": "еlements",  # a Cyrillic е
    "unknown-symbol": "elephants",
    "dunder-name": "__class__",
    "underscore-name": "_x * elements",
    "attribute": "elements.real",
    "import": "__import__('os').system('true')",
    "lambda": "lambda: 1",
    "subscript": "elements[0]",
    "comparison": "elements < 1",
    "conditional": "elements if 1 else 0",
    "modulo": "elements % 3",
    "floor-division": "elements // 3",
    "matmul": "elements @ elements",
    "invert": "~elements",
    "boolean": "True",
    "yaml-bool": True,
    "yaml-null": None,
    "yaml-list": [1, 2],
    "yaml-mapping": {"a": 1},
    "string-constant": "'abc'",
    "empty": "",
    "syntax-error": "elements * ",
    "keyword-argument": "max(elements, 1, initial=0)",
    "unknown-function": "exp(elements)",
    "huge-integer-literal": "9" * 1500,
    "long-name": "e" * 100 + " * elements",
}
CASES += [estimate(f"formula-{key}", formula(text), needles=("ops.softmax",)) for key, text in FORMULAS.items()]
CASES += [estimate(f"formula-rounds-{key}", formula(text, "rounds", "gelu"), needles=("ops.gelu",))
          for key, text in {"negative": "-1", "nan-at-shape": "sqrt(0 - rows)", "overflow": "2**(elements*99)"}.items()]
CASES += [estimate(f"formula-compute-{key}", formula(text, "compute_s", "linear"), needles=("ops.linear",))
          for key, text in {"negative": "-1e-9 * m", "divide-by-zero": "m / (k - k)"}.items()]
NEGATIVE_CONSTANT = with_op("softmax", {**OK_ENTRY, "comm_bytes": "w * elements"})
CASES.append(estimate("formula-negative-constant-at-shape",
                      NEGATIVE_CONSTANT.replace("network: lan", "network: lan\nconstants: {w: -3}"),
                      needles=("ops.softmax",)))

# the closed forms (`formula`) and the context table (`scaling`) meet the same formulas
CLOSED = {
    "divide-by-zero": "1/(elements - elements)",
    "log-zero": "log(elements - elements)",
    "sqrt-negative": "sqrt(0 - elements)",
    "fullwidth-max": "ｍａｘ(elements, 1)",
    "power-tower": "9**9**9**9",
    "degree-too-high": "(elements + rows)**64",
    "minus-signs": "-" * 100_000 + "1",
}
for key, text in CLOSED.items():
    CASES.append(Case(f"formula-command-{key}", ("formula", "{tmp}/s.yaml", "-p", "{tmp}/t.yaml"),
                      {"s.yaml": SPEC, "t.yaml": formula(text)}, ("ops.softmax",)))
    CASES.append(Case(f"scaling-{key}", ("scaling", "{tmp}/s.yaml", "-p", "{tmp}/t.yaml", "-T", "2:8"),
                      {"s.yaml": SPEC, "t.yaml": formula(text)}, ("ops.softmax",)))
CASES += [
    Case("formula-command-network-bogus", ("formula", "{tmp}/s.yaml", "-p", "{tmp}/t.yaml", "-n", "wan-typo"),
         {"s.yaml": SPEC, "t.yaml": dump(BASE)}, ("--network",)),
    Case("formula-command-table-missing", ("formula", "{tmp}/s.yaml", "-p", "{tmp}/none.yaml"),
         {"s.yaml": SPEC}, ("--protocol",)),
    Case("scaling-table-nan-network", ("scaling", "{tmp}/s.yaml", "-p", "{tmp}/t.yaml", "-T", "2:8"),
         {"s.yaml": SPEC, "t.yaml": changed(BASE, network={"bandwidth_bps": float("nan"), "rtt_s": 0})},
         ("network",)),
    Case("compare-table-divide-by-zero", ("compare", "{tmp}/s.yaml", "-p", "{tmp}/t.yaml"),
         {"s.yaml": SPEC, "t.yaml": formula("elements/(rows-rows)")}, ("ops.softmax",)),
]

CASES += [
    estimate("formula-yaml-integer-5000-digits", dump(BASE).replace("comm_bytes: elements", "comm_bytes: " + "9" * 5000,
                                                                    1), needles=("t.yaml",)),
    estimate("table-constants-5000-digits", dump(BASE).replace("network: lan", "network: lan\nconstants: {w: "
                                                               + "9" * 5000 + "}"), needles=("t.yaml",)),
    Case("formula-command-ckks-table", ("formula", "{tmp}/s.yaml", "-p", "{tmp}/t.yaml"),
         {"s.yaml": SPEC, "t.yaml": dump(CKKS)}, ("family",)),
    Case("formula-command-metric-without-table", ("formula", "{tmp}/s.yaml", "-m", "latency"), {"s.yaml": SPEC},
         ("--metric",)),
]

# ---- table files and extends chains ---------------------------------------------------------------------
CHILD = "extends: {parent}\nname: child\n"
FILES = {
    "directory": ("estimate", {"t.yaml/x": "x"}, ("--protocol",)),
    "binary": ("estimate", {"t.yaml": bytes(range(256)) * 4}, ("t.yaml",)),
    "empty": ("estimate", {"t.yaml": ""}, ("t.yaml",)),
    "huge": ("estimate", {"t.yaml": "# " + "x" * (5 << 20) + "\n" + dump(BASE)}, ("t.yaml",)),
    "latin1": ("estimate", {"t.yaml": dump(BASE).encode() + "# caf\xe9\n".encode("latin-1")}, ("t.yaml",)),
    "top-level-list": ("estimate", {"t.yaml": "- 1\n- 2\n"}, ("t.yaml",)),
    "top-level-scalar": ("estimate", {"t.yaml": "just words\n"}, ("t.yaml",)),
    "bad-yaml": ("estimate", {"t.yaml": "name: [unclosed\n"}, ("t.yaml",)),
    "duplicate-key": ("estimate", {"t.yaml": dump(BASE) + "parties: 3\n"}, ("t.yaml",)),
    "extends-cycle": ("estimate", {"t.yaml": CHILD.format(parent="u.yaml"), "u.yaml": CHILD.format(parent="t.yaml")},
                      ("extends",)),
    "extends-self": ("estimate", {"t.yaml": CHILD.format(parent="t.yaml")}, ("extends",)),
    "extends-deep": ("estimate", {"t.yaml": CHILD.format(parent="c1.yaml"),
                                  **{f"c{i}.yaml": CHILD.format(parent=f"c{i + 1}.yaml") for i in range(1, 60)},
                                  "c60.yaml": dump(BASE)}, ("extends",)),
    "extends-not-yaml": ("estimate", {"t.yaml": CHILD.format(parent="/etc/passwd")}, ("extends",)),
    "extends-directory": ("estimate", {"t.yaml": CHILD.format(parent="d.yaml"), "d.yaml/x": "x"}, ("extends",)),
    "extends-missing": ("estimate", {"t.yaml": CHILD.format(parent="missing.yaml")}, ("extends",)),
    "extends-number": ("estimate", {"t.yaml": CHILD.format(parent="5")}, ("extends",)),
    "extends-list": ("estimate", {"t.yaml": CHILD.format(parent="[a.yaml]")}, ("extends",)),
    "extends-empty": ("estimate", {"t.yaml": CHILD.format(parent="''")}, ("extends",)),
    "extends-nul": ("estimate", {"t.yaml": CHILD.format(parent='"a\\0b.yaml"')}, ("extends",)),
    "extends-long-name": ("estimate", {"t.yaml": CHILD.format(parent="x" * 5000 + ".yaml")}, ("extends",)),
    "extends-binary-parent": ("estimate", {"t.yaml": CHILD.format(parent="b.yaml"), "b.yaml": b"\xff\xfe\x00" * 50},
                              ("b.yaml",)),
    "extends-parent-ops-list": ("estimate", {"t.yaml": CHILD.format(parent="b.yaml"),
                                             "b.yaml": changed(BASE, ops=[1, 2])}, ("ops",)),
    "extends-child-ops-list": ("estimate", {"t.yaml": CHILD.format(parent="b.yaml") + "ops: [1, 2]\n",
                                            "b.yaml": dump(BASE)}, ("ops",)),
    "extends-child-constants-number": ("estimate", {"t.yaml": CHILD.format(parent="b.yaml") + "constants: 0\n",
                                                    "b.yaml": dump(BASE)}, ("constants",)),
    "extends-child-breaks-formula": ("estimate", {"t.yaml": CHILD.format(parent="b.yaml") +
                                                  "ops:\n  softmax: {comm_bytes: 1/0, rounds: 1, compute_s: 0, "
                                                  "source: s, grade: estimate}\n",
                                                  "b.yaml": dump(BASE)}, ("ops.softmax",)),
}
for key, (command, files, needles) in FILES.items():
    CASES.append(Case(f"table-file-{key}", (command, "{tmp}/s.yaml", "-p", "{tmp}/t.yaml"),
                      {"s.yaml": SPEC, **files}, needles))
CASES += [
    Case("table-name-blank", ("estimate", "{tmp}/s.yaml", "-p", " "), {"s.yaml": SPEC}, ("--protocol",)),
    Case("table-name-long", ("estimate", "{tmp}/s.yaml", "-p", "t" * 5000), {"s.yaml": SPEC}, ("--protocol",)),
    Case("table-name-typo", ("estimate", "{tmp}/s.yaml", "-p", "aero-secretflw"), {"s.yaml": SPEC}, ("--protocol",)),
    Case("table-path-long", ("estimate", "{tmp}/s.yaml", "-p", "{tmp}/" + "t" * 300 + ".yaml"), {"s.yaml": SPEC},
         ("--protocol",)),
]

# ---- the network options ------------------------------------------------------------------------------------
OPTIONS = {
    "bandwidth-nan": ("--bandwidth", "nan"),
    "bandwidth-nan-mbps": ("--bandwidth", "nanMbps"),
    "bandwidth-inf": ("--bandwidth", "inf"),
    "bandwidth-infinity": ("--bandwidth", "Infinity"),
    "bandwidth-negative": ("--bandwidth", "-100Mbps"),
    "bandwidth-zero": ("--bandwidth", "0"),
    "bandwidth-zero-gbps": ("--bandwidth", "0Gbps"),
    "bandwidth-tiny": ("--bandwidth", "1e-300"),
    "bandwidth-overflow": ("--bandwidth", "1e400"),
    "bandwidth-absurd": ("--bandwidth", "1e20Tbps"),
    "bandwidth-fullwidth": ("--bandwidth", "１００Mbps"),
    "bandwidth-unit-typo": ("--bandwidth", "100 Mbsp"),
    "bandwidth-empty": ("--bandwidth", ""),
    "bandwidth-long": ("--bandwidth", "9" * 100_000),
    "bandwidth-hex": ("--bandwidth", "0x10"),
    "bandwidth-above-limit": ("--bandwidth", "1001Tbps"),
    "bandwidth-bytes-overflow": ("--bandwidth", "1e300GB/s"),
    "bandwidth-only-unit": ("--bandwidth", "Mbps"),
    "bandwidth-two-numbers": ("--bandwidth", "100 200Mbps"),
    "rtt-above-limit": ("--rtt", "61min"),
    "rtt-micro-prefix-typo": ("--rtt", "5 ns"),
    "rtt-inf": ("--rtt", "inf"),
    "rtt-nan": ("--rtt", "nan"),
    "rtt-negative": ("--rtt", "-1ms"),
    "rtt-absurd": ("--rtt", "1e9s"),
    "rtt-unit-typo": ("--rtt", "5 fortnights"),
    "rtt-mixed-case-unit": ("--rtt", "5MS"),
    "rtt-long": ("--rtt", "1" * 50_000 + "ms"),
}
CASES += [estimate(f"option-{key}", dump(BASE), option, value, needles=(option,))
          for key, (option, value) in OPTIONS.items()]
CASES += [
    estimate("option-network-bogus", dump(BASE), "-n", "lna", needles=("--network",)),
    estimate("option-hardware-bogus", dump(BASE), "--hardware", "cray-1", needles=("--hardware",)),
    estimate("option-phase-bogus", dump(BASE), "--phase", "midnight", needles=("--phase",)),
]
CONTEXT_LISTS = {"superscript": "²", "zero": "0", "negative": "-5", "float": "1e3", "huge": "9" * 5000,
                 "empty-item": "4,,8", "fullwidth": "４", "many": ",".join(["4"] * 5000), "words": "four"}
CASES += [Case(f"option-context-list-{key}", ("compare", "{tmp}/s.yaml", "-T", value), {"s.yaml": SPEC},
               ("--context",)) for key, value in CONTEXT_LISTS.items()]

# ---- CKKS tables -----------------------------------------------------------------------------------------------
def ckks_params(**changes) -> str:
    data = copy.deepcopy(CKKS)
    data["params"].update(changes)
    return dump(data)


def ckks_primitive(name: str, entry) -> str:
    data = copy.deepcopy(CKKS)
    data["primitives"][name] = entry
    return dump(data)


def ckks_op(kind: str, entry) -> str:
    data = copy.deepcopy(CKKS)
    data["ops"][kind] = entry
    return dump(data)


CKKS_CASES = {
    "params-list": (changed(CKKS, params=[1]), ("params",)),
    "params-string": (changed(CKKS, params="N=32"), ("params",)),
    "params-missing": (changed(CKKS, params=...), ("params",)),
    "ring-dim-negative": (ckks_params(ring_dim=-32), ("params.ring_dim",)),
    "ring-dim-huge": (ckks_params(ring_dim=2**40), ("params.ring_dim",)),
    "ring-dim-word": (ckks_params(ring_dim="big"), ("params.ring_dim",)),
    "ring-dim-nan": (ckks_params(ring_dim=float("nan")), ("params.ring_dim",)),
    "slots-zero": (ckks_params(slots=0), ("params.slots",)),
    "slots-above-half": (ckks_params(slots=32), ("params",)),
    "levels-huge": (ckks_params(levels_fresh=10**9), ("params.levels_fresh",)),
    "levels-after-bootstrap-zero": (ckks_params(levels_after_bootstrap=0), ("params.levels_after_bootstrap",)),
    "params-unknown-key": (ckks_params(ring_dimension=32), ("params.ring_dimension",)),
    "primitives-list": (changed(CKKS, primitives=[1]), ("primitives",)),
    "primitives-int-key": (changed(CKKS, primitives={1: {}}), ("primitives",)),
    "seconds-nan": (ckks_primitive("rot", {"seconds": float("nan"), "source": "s", "grade": "estimate"}),
                    ("primitives.rot.seconds",)),
    "seconds-inf": (ckks_primitive("rot", {"seconds": float("inf"), "source": "s", "grade": "estimate"}),
                    ("primitives.rot.seconds",)),
    "seconds-negative": (ckks_primitive("rot", {"seconds": -1, "source": "s", "grade": "estimate"}),
                         ("primitives.rot.seconds",)),
    "seconds-absurd": (ckks_primitive("rot", {"seconds": 1e30, "source": "s", "grade": "estimate"}),
                       ("primitives.rot.seconds",)),
    "seconds-word": (ckks_primitive("rot", {"seconds": "fast", "source": "s", "grade": "estimate"}),
                     ("primitives.rot.seconds",)),
    "seconds-bool": (ckks_primitive("rot", {"seconds": True, "source": "s", "grade": "estimate"}),
                     ("primitives.rot.seconds",)),
    "seconds-empty-levels": (ckks_primitive("rot", {"seconds": {}, "source": "s", "grade": "estimate"}),
                             ("primitives.rot.seconds",)),
    "seconds-negative-level": (ckks_primitive("rot", {"seconds": {-1: 1.0}, "source": "s", "grade": "estimate"}),
                               ("primitives.rot.seconds",)),
    "seconds-word-level": (ckks_primitive("rot", {"seconds": {"top": 1.0}, "source": "s", "grade": "estimate"}),
                           ("primitives.rot.seconds",)),
    "seconds-nan-at-level": (ckks_primitive("rot", {"seconds": {1: float("nan")}, "source": "s",
                                                    "grade": "estimate"}), ("primitives.rot.seconds",)),
    "primitive-missing-grade": (ckks_primitive("rot", {"seconds": 1.0, "source": "s"}), ("primitives.rot",)),
    "primitive-unknown-key": (ckks_primitive("rot", {"seconds": 1.0, "source": "s", "grade": "estimate", "x": 1}),
                              ("primitives.rot.x",)),
    "primitive-missing": (changed(CKKS, primitives={p: v for p, v in CKKS["primitives"].items() if p != "rot"}),
                          ("primitives.rot",)),
    "primitive-typo": (ckks_primitive("rott", {"seconds": 1.0, "source": "s", "grade": "estimate"}),
                       ("primitives.rott",)),
    "ops-list": (changed(CKKS, ops=[1]), ("ops",)),
    "ops-int-key": (changed(CKKS, ops={1: {"degree": 3}}), ("ops",)),
    "softmax-method-bogus": (ckks_op("softmax", {"method": "magic"}), ("ops.softmax.method",)),
    "gelu-degree-huge": (ckks_op("gelu", {"degree": 10**9}), ("ops.gelu.degree",)),
    "gelu-degree-zero": (ckks_op("gelu", {"degree": 0}), ("ops.gelu.degree",)),
    "gelu-degree-float": (ckks_op("gelu", {"degree": 2.5}), ("ops.gelu.degree",)),
    "layernorm-iterations-huge": (ckks_op("layernorm", {"method": "newton", "iterations": 10**8}),
                                  ("ops.layernorm.iterations",)),
    "power-softmax-iterations-huge": (ckks_op("power_softmax", {"goldschmidt_iterations": 10**7}),
                                      ("ops.power_softmax.goldschmidt_iterations",)),
    "cho-rounds-huge": (ckks_op("softmax", {"method": "cho", "cho": {"rounds": 10**8}}),
                        ("ops.softmax.cho.rounds",)),
    "nexus-packing-bogus": (ckks_op("softmax", {"method": "nexus", "nexus": {"packing": "diagonal"}}),
                            ("ops.softmax.nexus.packing",)),
    "nexus-settings-list": (ckks_op("softmax", {"method": "nexus", "nexus": [1]}), ("ops.softmax.nexus",)),
    "nexus-unknown-setting": (ckks_op("softmax", {"nexus": {"exp_degre": 8}}), ("ops.softmax.nexus.exp_degre",)),
    "op-settings-list": (ckks_op("gelu", [3]), ("ops.gelu",)),
    "op-unknown-with-more": (ckks_op("gelu", {"unknown": "why", "degree": 3}), ("ops.gelu",)),
    "packing-number": (changed(CKKS, packing=5), ("packing",)),
    "packing-scores-bogus": (changed(CKKS, packing={"scores": "diagonal"}), ("packing.scores",)),
    "packing-bootstraps-bogus": (changed(CKKS, packing={"bootstraps": "cheapst"}), ("packing.bootstraps",)),
    "packing-unknown-key": (changed(CKKS, packing={"layout": "x"}), ("packing.layout",)),
    "keys-list": (changed(CKKS, keys=[1]), ("keys",)),
    "keys-nan": (changed(CKKS, keys={"switching_key_bytes": float("nan")}), ("keys.switching_key_bytes",)),
    "keys-negative": (changed(CKKS, keys={"switching_key_bytes": -5}), ("keys.switching_key_bytes",)),
    "keys-unknown": (changed(CKKS, keys={"galois_keys": 5}), ("keys.galois_keys",)),
    "network-mapping": (changed(CKKS, network={"bandwidth_bps": 1e9, "rtt_s": 0}), ("network",)),
    "scheme-list": (changed(CKKS, scheme=[1]), ("scheme",)),
    "name-missing": (changed(CKKS, name=...), ("name",)),
}
CASES += [estimate(f"ckks-{key}", text, needles=needles) for key, (text, needles) in CKKS_CASES.items()]
