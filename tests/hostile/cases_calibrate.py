"""Hostile calibration data and templates (`pidse calibrate`, MPC fit and CKKS derivation) and published
measurements (`pidse validate --published FILE`). Each case is the small valid DATA / TEMPLATE (or CKKS
template and totals, or published CSV) with one thing broken."""
from __future__ import annotations

import copy

from hostile import Case
from hostile.cases_tables import BASE, CKKS, SPEC, changed, dump

# ---- MPC: a template with three coefficients and measured rows of the tiny spec -----------------------------
TEMPLATE = copy.deepcopy(BASE)
TEMPLATE["ops"]["softmax"]["comm_bytes"] = "c_a * elements"
TEMPLATE["ops"]["gelu"]["comm_bytes"] = "c_g * elements"
TEMPLATE["ops"]["gelu"]["compute_s"] = "k_g * elements"
TEMPLATE["calibration"] = {"method": "lsq", "penalty": 0.01, "penalised": ["k_g"]}
HEADER = "spec,set,context,comm_bytes,latency_s,weight,network,source\n"
ROWS = ["s.yaml,,4,5000,0.1,1,lan,x", "s.yaml,,8,9000,0.2,1,lan,x", "s.yaml,model.layers=1,8,6000,0.15,1,lan,x"]


def data(*rows: str, header: str = HEADER) -> str:
    return header + "\n".join(rows) + "\n"


def row(**cells) -> str:
    """The first measured row with some cells replaced."""
    base = dict(zip(HEADER.strip().split(","), ROWS[0].split(",")))
    base.update(cells)
    return ",".join(str(v) for v in base.values())


def template(**changes) -> str:
    return changed(TEMPLATE, **changes)


def template_op(kind: str, **entry) -> str:
    data_ = copy.deepcopy(TEMPLATE)
    data_["ops"][kind] = {**data_["ops"][kind], **entry}
    for key, value in entry.items():
        if value is ...:
            del data_["ops"][kind][key]
    return dump(data_)


def calibration(**options) -> str:
    return template(calibration={**TEMPLATE["calibration"], **options})


def fit_case(case_id: str, data_text=None, template_text=None, *extra, needles=(), files=None) -> Case:
    files = {"s.yaml": SPEC, "d.csv": data(*ROWS) if data_text is None else data_text,
             "t.yaml": template() if template_text is None else template_text, **(files or {})}
    return Case(case_id, ("calibrate", "{tmp}/d.csv", "-t", "{tmp}/t.yaml", *extra), files, needles)


CASES = []
DATA = {
    "comm-gb-nan": (data(row(comm_bytes="", **{"comm_gb": "nan"}), header=HEADER.strip() + ",comm_gb\n"),
                    ("comm_gb",)),
    "comm-nan": (data(row(comm_bytes="nan"), *ROWS[1:]), ("comm_bytes",)),
    "comm-inf": (data(row(comm_bytes="inf"), *ROWS[1:]), ("comm_bytes",)),
    "comm-minus-inf": (data(row(comm_bytes="-inf"), *ROWS[1:]), ("comm_bytes",)),
    "comm-negative": (data(row(comm_bytes="-5000"), *ROWS[1:]), ("comm_bytes",)),
    "comm-zero": (data(row(comm_bytes="0"), *ROWS[1:]), ("comm_bytes",)),
    "comm-word": (data(row(comm_bytes="lots"), *ROWS[1:]), ("comm_bytes",)),
    "comm-overflow": (data(row(comm_bytes="1e400"), *ROWS[1:]), ("comm_bytes",)),
    "comm-absurd": (data(row(comm_bytes="1e40"), *ROWS[1:]), ("comm_bytes",)),
    "comm-tiny": (data(row(comm_bytes="1e-300"), *ROWS[1:]), ("comm_bytes",)),
    "comm-fullwidth": (data(row(comm_bytes="５０００"), *ROWS[1:]), ("comm_bytes",)),
    "comm-missing": (data(row(comm_bytes=""), *ROWS[1:]), ("comm_bytes",)),
    "weight-nan": (data(row(weight="nan"), *ROWS[1:]), ("weight",)),
    "weight-inf": (data(row(weight="inf"), *ROWS[1:]), ("weight",)),
    "weight-negative": (data(row(weight="-1"), *ROWS[1:]), ("weight",)),
    "weight-zero": (data(row(weight="0"), *ROWS[1:]), ("weight",)),
    "weight-word": (data(row(weight="heavy"), *ROWS[1:]), ("weight",)),
    "latency-nan": (data(row(latency_s="nan"), *ROWS[1:]), ("latency_s",)),
    "latency-inf": (data(row(latency_s="inf"), *ROWS[1:]), ("latency_s",)),
    "latency-negative": (data(row(latency_s="-0.1"), *ROWS[1:]), ("latency_s",)),
    "latency-min-word": (data(row(latency_s="", latency_min="soon"), *ROWS[1:],
                              header=HEADER.strip() + ",latency_min\n"), ("latency_min",)),
    "context-empty": (data(row(context=""), *ROWS[1:]), ("context",)),
    "context-word": (data(row(context="four"), *ROWS[1:]), ("context",)),
    "context-float": (data(row(context="4.5"), *ROWS[1:]), ("context",)),
    "context-zero": (data(row(context="0"), *ROWS[1:]), ("context",)),
    "context-negative": (data(row(context="-4"), *ROWS[1:]), ("context",)),
    "context-huge-digits": (data(row(context="9" * 5000), *ROWS[1:]), ("context",)),
    "context-beyond-spec": (data(row(context="100000"), *ROWS[1:]), ("context",)),
    "network-bogus": (data(row(network="wan-typo"), *ROWS[1:]), ("network",)),
    "spec-missing": (data(row(spec="nope.yaml"), *ROWS[1:]), ("nope.yaml",)),
    "set-typo": (data(row(set="model.layerz=1"), *ROWS[1:]), ("model.layerz",)),
    "label-unknown": (data("AERO,SM+XX,12,12,768,50257,128,1000", header="family,arch,layers,heads,d_model,vocab,"
                           "context,comm_bytes\n"), ("arch",)),
    "header-only": (HEADER, ("d.csv",)),
    "no-context-column": (data("s.yaml,5000", header="spec,comm_bytes\n"), ("context",)),
    "extra-cells": (data(row() + ",1,2,3", *ROWS[1:]), ("line 2",)),
    "huge-cell": (data(row(source="x" * 200_000), *ROWS[1:]), ("d.csv",)),
    "nul-byte": (data(row(source="a\0b"), *ROWS[1:]), ("d.csv",)),
    "too-many-rows": (data(*(ROWS[:1] * 1001)), ("rows",)),
    "empty-file": ("", ("d.csv",)),
    "binary-file": (bytes(range(256)) * 8, ("d.csv",)),
    "latin1-file": (data(row(source="caf\xe9"), *ROWS[1:]).encode("latin-1"), ("d.csv",)),
    "huge-file": (data(*ROWS) + "#" * (5 << 20), ("d.csv",)),
    "unquoted-quote": (data(row(source='"a'), *ROWS[1:]), ("d.csv",)),
}
CASES += [fit_case(f"calibrate-data-{key}", text, needles=needles) for key, (text, needles) in DATA.items()]
CASES += [
    Case("calibrate-data-missing", ("calibrate", "{tmp}/none.csv", "-t", "{tmp}/t.yaml"),
         {"t.yaml": template()}, ("none.csv",)),
    Case("calibrate-data-directory", ("calibrate", "{tmp}/d.csv", "-t", "{tmp}/t.yaml"),
         {"t.yaml": template(), "d.csv/x": "x"}, ("d.csv",)),
    Case("calibrate-no-template", ("calibrate", "{tmp}/d.csv"), {"d.csv": data(*ROWS)}, ("--template",)),
]

TEMPLATES = {
    "ops-missing": (template(ops=...), ("ops",)),
    "ops-list": (template(ops=[1, 2]), ("ops",)),
    "rounds-missing": (template_op("softmax", rounds=...), ("ops.softmax.rounds",)),
    "comm-missing": (template_op("gelu", comm_bytes=...), ("ops.gelu.comm_bytes",)),
    "entry-number": (dump({**TEMPLATE, "ops": {**TEMPLATE["ops"], "gelu": 5}}), ("ops.gelu",)),
    "kind-typo": (dump({**TEMPLATE, "ops": {**TEMPLATE["ops"], "gleu": TEMPLATE["ops"]["gelu"]}}), ("ops.gleu",)),
    "method-bogus": (calibration(method="bogus"), ("calibration.method",)),
    "method-list": (calibration(method=["lsq"]), ("calibration.method",)),
    "penalty-word": (calibration(penalty="abc"), ("calibration.penalty",)),
    "penalty-nan": (calibration(penalty=float("nan")), ("calibration.penalty",)),
    "penalty-inf": (calibration(penalty=float("inf")), ("calibration.penalty",)),
    "penalty-negative": (calibration(penalty=-1), ("calibration.penalty",)),
    "penalty-absurd": (calibration(penalty=1e300), ("calibration.penalty",)),
    "penalised-unknown": (calibration(penalised=["k_nope"]), ("calibration.penalised",)),
    "penalised-string": (calibration(penalised="k_g"), ("calibration.penalised",)),
    "calibration-list": (template(calibration=[1]), ("calibration",)),
    "calibration-unknown-key": (calibration(methd="lsq"), ("calibration.methd",)),
    "nonlinear": (template_op("softmax", comm_bytes="c_a * c_a * elements"), ("ops.softmax.comm_bytes",)),
    "coefficient-in-exponent": (template_op("softmax", comm_bytes="2**c_a * elements"), ("ops.softmax.comm_bytes",)),
    "coefficient-in-rounds": (template_op("softmax", rounds="r_a * rows"), ("ops.softmax.rounds",)),
    "coefficient-two-metrics": (template_op("gelu", compute_s="c_g * elements"), ("ops.gelu.compute_s",)),
    "divide-by-zero": (template_op("softmax", comm_bytes="c_a * elements / 0"), ("ops.softmax.comm_bytes",)),
    "overflow-at-shape": (template_op("softmax", comm_bytes="c_a * 2**(elements * 100)"), ("ops.softmax",)),
    "nan-at-shape": (template_op("softmax", comm_bytes="c_a * sqrt(0 - elements)"), ("ops.softmax",)),
    "power-tower": (template_op("softmax", comm_bytes="c_a * 9**9**9**9"), ("ops.softmax.comm_bytes",)),
    "fullwidth": (template_op("softmax", comm_bytes="ｃ_a * elements"), ("ops.softmax.comm_bytes",)),
    "underscore-coefficient": (template_op("softmax", comm_bytes="_rtt * elements"), ("ops.softmax.comm_bytes",)),
    "grade-bogus": (template_op("softmax", grade="guess"), ("ops.softmax.grade",)),
    "family-list": (template(family=["mpc"]), ("family",)),
    "family-bogus": (template(family="quantum"), ("family",)),
    "unknown-top-key": (template(calibraton={}), ("calibraton",)),
    "parties-word": (template(parties="two"), ("parties",)),
    "no-coefficients": (dump({**BASE, "calibration": {"method": "minimax"}}), ("ops",)),
    "no-coefficients-lsq": (dump(BASE), ("ops",)),
    "empty": ("", ("t.yaml",)),
    "binary": (b"\x00\xff" * 100, ("t.yaml",)),
    "top-level-list": ("- 1\n", ("t.yaml",)),
}
CASES += [fit_case(f"calibrate-template-{key}", None, text, needles=needles)
          for key, (text, needles) in TEMPLATES.items()]
CASES += [
    Case("calibrate-template-missing", ("calibrate", "{tmp}/d.csv", "-t", "{tmp}/none.yaml"),
         {"s.yaml": SPEC, "d.csv": data(*ROWS)}, ("none.yaml",)),
    Case("calibrate-template-directory", ("calibrate", "{tmp}/d.csv", "-t", "{tmp}/t.yaml"),
         {"s.yaml": SPEC, "d.csv": data(*ROWS), "t.yaml/x": "x"}, ("t.yaml",)),
    fit_case("calibrate-out-missing-folder", None, None, "-o", "{tmp}/nope/fitted.yaml", needles=("fitted.yaml",)),
    fit_case("calibrate-out-directory", None, None, "-o", "{tmp}", needles=("folder",)),
    fit_case("calibrate-out-long-name", None, None, "-o", "{tmp}/" + "f" * 300 + ".yaml", needles=("fff",)),
    fit_case("calibrate-out-under-a-file", None, None, "-o", "{tmp}/s.yaml/fitted.yaml", needles=("fitted.yaml",)),
]

# ---- CKKS: seconds per primitive derived from a published run's totals -------------------------------------
CKKS_TEMPLATE = copy.deepcopy(CKKS)
CKKS_TEMPLATE["primitives"]["rot"] = {"derive": "total", "source": "s", "grade": "derived"}
CKKS_TEMPLATE["primitives"]["cmul"] = {"derive": "2 * rot", "source": "s", "grade": "derived"}
CKKS_TEMPLATE["primitives"]["add"] = {"derive": "remainder", "source": "s", "grade": "derived"}
TOTALS_HEADER = "spec,set,context,quantity,seconds,source\n"
TOTALS = ["s.yaml,,4,total,500,x", "s.yaml,,4,rot,30,x"]


def ckks_template(**primitives) -> str:
    data_ = copy.deepcopy(CKKS_TEMPLATE)
    for name, entry in primitives.items():
        if entry is ...:
            data_["primitives"].pop(name, None)
        else:
            data_["primitives"][name] = entry
    return dump(data_)


def ckks_case(case_id: str, totals=None, template_text=None, needles=()) -> Case:
    files = {"s.yaml": SPEC, "d.csv": TOTALS_HEADER + "\n".join(TOTALS) + "\n" if totals is None else totals,
             "t.yaml": ckks_template() if template_text is None else template_text}
    return Case(case_id, ("calibrate", "{tmp}/d.csv", "-t", "{tmp}/t.yaml"), files, needles)


def totals(*rows: str, header: str = TOTALS_HEADER) -> str:
    return header + "\n".join(rows) + "\n"


CKKS_DATA = {
    "seconds-nan": totals(TOTALS[0], "s.yaml,,4,rot,nan,x"),
    "seconds-inf": totals(TOTALS[0], "s.yaml,,4,rot,inf,x"),
    "seconds-negative": totals(TOTALS[0], "s.yaml,,4,rot,-30,x"),
    "seconds-word": totals(TOTALS[0], "s.yaml,,4,rot,thirty,x"),
    "seconds-absurd": totals(TOTALS[0], "s.yaml,,4,rot,1e300,x"),
    "quantity-bogus": totals(TOTALS[0], "s.yaml,,4,rotation,30,x"),
    "quantity-twice": totals(*TOTALS, "s.yaml,,4,rot,31,x"),
    "two-runs": totals(TOTALS[0], "s.yaml,,8,rot,30,x"),
    "context-word": totals("s.yaml,,four,total,500,x", "s.yaml,,four,rot,30,x"),
    "context-zero": totals("s.yaml,,0,total,500,x", "s.yaml,,0,rot,30,x"),
    "missing-columns": totals("s.yaml,4,total,500", header="spec,context,quantity,seconds\n"),
    "header-only": TOTALS_HEADER,
    "no-total-for-remainder": totals(TOTALS[1]),
    "no-rot-total": totals(TOTALS[0]),
    "remainder-left-negative": totals("s.yaml,,4,total,1,x", TOTALS[1]),
    "spec-missing": totals("none.yaml,,4,total,500,x", "none.yaml,,4,rot,30,x"),
    "huge-cell": totals(TOTALS[0], "s.yaml,,4,rot,30," + "x" * 200_000),
    "binary": bytes(range(256)),
}
CASES += [ckks_case(f"calibrate-ckks-data-{key}", text) for key, text in CKKS_DATA.items()]
CKKS_TEMPLATES = {
    "derive-bogus": (ckks_template(rot={"derive": "magic", "source": "s", "grade": "derived"}), ("primitives.rot",)),
    "derive-list": (ckks_template(rot={"derive": [1], "source": "s", "grade": "derived"}), ("primitives.rot",)),
    "derive-nan-factor": (ckks_template(cmul={"derive": "nan * rot", "source": "s", "grade": "derived"}),
                          ("primitives.cmul",)),
    "derive-inf-factor": (ckks_template(cmul={"derive": "1e999 * rot", "source": "s", "grade": "derived"}),
                          ("primitives.cmul",)),
    "derive-word-factor": (ckks_template(cmul={"derive": "two * rot", "source": "s", "grade": "derived"}),
                           ("primitives.cmul",)),
    "derive-unknown-primitive": (ckks_template(cmul={"derive": "2 * rotation", "source": "s", "grade": "derived"}),
                                 ("primitives.cmul",)),
    "derive-three-factors": (ckks_template(cmul={"derive": "2 * rot * 3", "source": "s", "grade": "derived"}),
                             ("primitives.cmul",)),
    "derive-from-remainder": (ckks_template(cmul={"derive": "2 * add", "source": "s", "grade": "derived"}),
                              ("primitives.cmul",)),
    "derive-extra-key": (ckks_template(rot={"derive": "total", "seconds": 1, "source": "s", "grade": "derived"}),
                         ("primitives.rot",)),
    "primitive-bogus": (ckks_template(rotate={"derive": "total", "source": "s", "grade": "derived"}),
                        ("primitives.rotate",)),
    "primitive-missing": (ckks_template(encode=...), ("primitives.encode",)),
    "primitives-list": (dump({**CKKS_TEMPLATE, "primitives": [1]}), ("primitives",)),
    "params-list": (dump({**CKKS_TEMPLATE, "params": [1]}), ("params",)),
    "slots-zero": (dump({**CKKS_TEMPLATE, "params": {**CKKS["params"], "slots": 0}}), ("params.slots",)),
    "seconds-nan": (ckks_template(pmul={"seconds": float("nan"), "source": "s", "grade": "estimate"}),
                    ("primitives.pmul",)),
    "family-list": (dump({**CKKS_TEMPLATE, "family": ["ckks"]}), ("family",)),
}
CASES += [ckks_case(f"calibrate-ckks-template-{key}", None, text, needles)
          for key, (text, needles) in CKKS_TEMPLATES.items()]

# ---- published measurements: `pidse validate --published FILE` --------------------------------------------
PUBLISHED_HEADER = ("id,paper,table,system,parties,model,layers,d_model,heads,d_ff,vocab,input_tokens,"
                    "generated_tokens,op,comm_gb_published,comm_unit,comm_scope,rounds_published,latency_s_published,"
                    "network,online_offline,grade,source_quote,note\n")
PUBLISHED_ROW = dict(zip(PUBLISHED_HEADER.strip().split(","), [
    "19", "SIGMA", "Table 3", "SIGMA GPU (FSS 2PC + dealer)", "2", "BERT-tiny", "2", "128", "2", "512", "30522",
    "128", "1", "GeLU (all layers)", "0.003", "GiB (2^30 B)", "total over parties", "", "", "9.4 Gbps", "online only",
    "P", "quote", ""]))


def published(**cells) -> str:
    return PUBLISHED_HEADER + ",".join({**PUBLISHED_ROW, **cells}.values()) + "\n"


PUBLISHED = {
    "comm-word": (published(comm_gb_published="lots"), ("comm_gb_published",)),
    "comm-nan": (published(comm_gb_published="nan"), ("comm_gb_published",)),
    "comm-inf": (published(comm_gb_published="inf"), ("comm_gb_published",)),
    "comm-negative": (published(comm_gb_published="-0.003"), ("comm_gb_published",)),
    "comm-absurd": (published(comm_gb_published="1e300"), ("comm_gb_published",)),
    "rounds-negative": (published(rounds_published="-5"), ("rounds_published",)),
    "latency-nan": (published(latency_s_published="nan"), ("latency_s_published",)),
    "layers-word": (published(layers="two"), ("layers",)),
    "layers-float": (published(layers="2.5"), ("layers",)),
    "layers-zero": (published(layers="0"), ("layers",)),
    "input-tokens-huge": (published(input_tokens="9" * 40), ("input_tokens",)),
    "generated-tokens-nan": (published(generated_tokens="nan"), ("generated_tokens",)),
    "vocab-fullwidth": (published(vocab="３００"), ("vocab",)),
    "missing-column": (PUBLISHED_HEADER.replace(",op,", ",operation,") + ",".join(PUBLISHED_ROW.values()) + "\n",
                       ("op",)),
    "huge-cell": (published(note="x" * 200_000), ("line",)),
    "nul-byte": (published(note="a\0b"), ("published.csv",)),
    "extra-cells": (published().rstrip("\n") + ",1,2\n", ("line 2",)),
    "empty": ("", ("id",)),
    "binary": (bytes(range(256)) * 4, ("published.csv",)),
    "huge-file": (published() + "#" * (5 << 20), ("published.csv",)),
}
CASES += [Case(f"published-{key}", ("validate", "--published", "{tmp}/published.csv"), {"published.csv": text},
               needles) for key, (text, needles) in PUBLISHED.items()]
CASES += [
    Case("published-missing-file", ("validate", "--published", "{tmp}/none.csv"), {}, ("none.csv",)),
    Case("published-directory", ("validate", "--published", "{tmp}/p.csv"), {"p.csv/x": "x"}, ("p.csv",)),
    Case("published-table-bogus", ("validate", "--published", "{tmp}/published.csv", "-p", "nope"),
         {"published.csv": published()}, ("--protocol",)),
    Case("published-table-broken", ("validate", "--published", "{tmp}/published.csv", "-p", "{tmp}/t.yaml"),
         {"published.csv": published(), "t.yaml": dump({**BASE, "ops": [1]})}, ("ops",)),
    Case("published-out-is-a-file", ("validate", "--published", "{tmp}/published.csv", "-o", "{tmp}/published.csv"),
         {"published.csv": published()}, ("--out",)),
]
