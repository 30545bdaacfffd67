"""Pricing an op graph under CKKS: expand each op into HE steps, walk the levels (placing bootstraps), price
every primitive at the level it runs at, and account the client's traffic and one-time keys.

Non-interactive: the client uploads its encrypted, embedded prompt (charged to the embedding op) and downloads
the encrypted logits, mod-switched to the lowest level (charged to argmax, which it computes after decrypting):
one round trip per forward pass. Rows get the MPC cost columns (comm_bytes, rounds, compute_s, latency_s, under
the same latency model) plus HE_COLUMNS; `HeResult` holds the breakdowns only HE has.

A generation's decode templates (pidse.steps) are expanded to one row per op per step before the walk: where the
bootstraps fall depends on every op before, in order, so each step is walked as it runs. The per-step results are
then folded back onto the templates (their per-step values and totals); memory grows with the generated tokens.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from pidse.cost.ckks.ops import ct, expand, priced, stand_in
from pidse.cost.ckks.table import PRIMITIVES
from pidse.cost.ckks.walk import Walk
from pidse.cost.family import COST_COLUMNS, GRADES, Priced
from pidse.errors import InputError
from pidse.ops import shape_values
from pidse.steps import expand as expand_steps
from pidse.steps import fold, per_step, step_rows

HE_COLUMNS = ("levels", "bootstraps") + tuple(f"n_{p}" for p in PRIMITIVES[:-1]) \
    + tuple(f"{p}_s" for p in PRIMITIVES)


@dataclass
class HeResult:
    walk: Walk
    layers: list  # per layer: depth, bootstraps, bootstrap_s, positions
    boots: list  # every bootstrap: tensor, trigger, ciphertexts, layer
    keys_bytes: float | None
    uncosted: list = field(default_factory=list)
    rows: list = field(default_factory=list, repr=False)  # the rows walked: one per op per decode step

    def by_primitive(self, rows: list[dict]) -> dict:
        """Calls and seconds per primitive over the whole graph."""
        out = {}
        for p in PRIMITIVES:
            count = sum(r["bootstraps" if p == "bootstrap" else f"n_{p}"] for r in rows)
            secs = [r[f"{p}_s"] for r in rows]
            out[p] = {"count": count, "seconds": None if any(s is None for s in secs) else sum(secs)}
        return out


def price_he(rows: list[dict], edges: list, table, setting, allow_missing: bool = False,
             inputs: dict | None = None) -> HeResult:
    """Add cost and HE columns to each op row, in place (`edges`: the graph's (source, target) pairs, inputs
    in order). `inputs` ({op: (ciphertexts, level)}) stands in for ops outside `rows`: the sweep walks one
    layer from every level the residual stream can enter it at."""
    walk = Walk(table.params["levels_fresh"], table.params["levels_after_bootstrap"],
                table.raw.get("packing", {}).get("bootstraps", "cheapest") == "cheapest")
    for op, (cts, level) in (inputs or {}).items():
        walk.source(op, cts, level)
    preds: dict = {}
    for src, dst in edges:
        preds.setdefault(dst, []).append(src)
    downloads, missing = {}, set()
    for row in rows:
        op, kind = row["op"], row["kind"]
        inputs = [walk.outputs[p] for p in preds.get(op, ()) if p in walk.outputs]
        if kind == "embedding":
            walk.source(op, ct(row["shape"]["tokens"] * row["shape"]["dim"], table.slots))
            continue
        if not priced(kind, table):
            if not allow_missing:
                raise table.op_unknown(kind, op)
            missing.add(op)  # left uncosted; a stand-in keeps the walk going
            steps = stand_in(kind, row["shape"], row["attrs"], table)
        else:
            steps = expand(kind, row["shape"], row["attrs"], [walk.tensors[i].cts for i in inputs], table)
        walk.run(op, steps, inputs)
        if kind == "argmax":
            downloads[op] = inputs[0]

    per_op = {row["op"]: _blank() for row in rows}
    unknown = set()
    for op, step, tid in walk.steps:
        acc = per_op[op]
        level = max(walk.level_in(tid) - step.depth / 2, 0.0)  # a step's calls, priced at its middle level
        for prim, n in step.counts.items():
            acc[f"n_{prim}"] += n
            secs = _seconds(table, prim, level, op, n, allow_missing, unknown)
            acc[f"{prim}_s"] = _add(acc[f"{prim}_s"], None if secs is None else setting.compute_s(secs))
    for b in walk.boots:
        acc = per_op[b.trigger]
        acc["bootstraps"] += b.cts
        boot_s = _seconds(table, "bootstrap", table.params["levels_after_bootstrap"], b.trigger, b.cts,
                          allow_missing, unknown)
        acc["bootstrap_s"] = _add(acc["bootstrap_s"], None if boot_s is None else setting.compute_s(boot_s))

    uncosted = []
    name = Path(table.path).name
    depths = _critical_depths(walk)
    for row in rows:
        op, kind = row["op"], row["kind"]
        acc = per_op[op]
        acc["levels"] = depths.get(op, 0)
        row.update(acc)
        out = walk.outputs.get(op)
        row["level_out"] = None if out is None else walk.level_made(out)  # before a bootstrap placed on it
        comm = 0.0
        if kind == "embedding":
            comm = walk.tensors[walk.outputs[op]].cts * table.ciphertext_bytes(walk.tensors[walk.outputs[op]].level)
        elif op in downloads:
            comm = walk.tensors[downloads[op]].cts * table.ciphertext_bytes(0)
        rounds = 1.0 if kind == "embedding" else 0.0
        secs = [acc[f"{p}_s"] for p in PRIMITIVES]
        compute = None if any(s is None for s in secs) or op in missing else float(sum(secs))
        if setting.phase == "offline" and compute is not None:  # `offline: none`: no preprocessing to price (the
            comm, rounds, compute = 0.0, 0.0, 0.0               # one-time keys are reported apart)
            row.update({f"{p}_s": 0.0 for p in PRIMITIVES}, bootstrap_s=0.0)
        if compute is None and kind not in uncosted:
            uncosted.append(kind)
        source = f"{name}#primitives" + (f",ops.{kind}" if kind in table.ops else "")
        if not all(math.isfinite(v) for v in (comm, compute or 0.0)):  # bounded tables never get here
            raise InputError(table.path, "primitives", f"finite costs for op {op} (its ciphertexts and seconds "
                             "per call overflow)")
        row.update(comm_bytes=comm, rounds=rounds, compute_s=compute,
                   latency_s=None if compute is None else setting.latency_s(comm, rounds, compute),
                   source=None if op in missing else source, grade=_grade(table, acc))
        if compute is None:
            row.update(comm_bytes=None, rounds=None)
    layers, boots = _layers(rows, walk, table)
    return HeResult(walk, layers, boots, _keys(table, bool(walk.boots)), uncosted, rows)


def _blank() -> dict:
    acc = {"levels": 0, "bootstraps": 0}
    acc.update({f"n_{p}": 0 for p in PRIMITIVES[:-1]})
    acc.update({f"{p}_s": 0.0 for p in PRIMITIVES})
    return acc


def _add(a, b):
    return None if a is None or b is None else a + b


def _seconds(table, prim: str, level: float, op: str, n: float, allow_missing: bool, unknown: set):
    if not n:
        return 0.0
    try:
        return n * table.seconds(prim, level, op)
    except InputError:
        if not allow_missing:
            raise
        unknown.add(prim)
        return None


def _grade(table, acc: dict) -> str | None:
    used = [table.primitives[p].grade for p in PRIMITIVES
            if p in table.primitives and (acc["bootstraps"] if p == "bootstrap" else acc[f"n_{p}"])]
    return max(used, key=GRADES.index) if used else None


def _critical_depths(walk: Walk) -> dict:
    """Per op: levels on its longest path through its own steps."""
    local, out = {}, {}
    for op, step, tid in walk.steps:
        mine = [local[i] for i in walk.tensors[tid].inputs if walk.tensors[i].op == op and i in local]
        local[tid] = max(mine + [0]) + step.depth
        out[op] = max(out.get(op, 0), local[tid])
    return out


def _layers(rows: list[dict], walk: Walk, table) -> tuple[list, list]:
    """Per layer of the prefill: multiplicative depth (residual input to output, bootstraps ignored),
    bootstraps charged to its ops, and where every bootstrap falls."""
    layer_of = {r["op"]: r["layer"] for r in rows}
    boot_s = table.primitives.get("bootstrap")
    unit = None if boot_s is None else boot_s.top_s
    boots = []
    for b in walk.boots:
        t = walk.tensors[b.tensor]
        boots.append({"after": t.op + (f".{t.step}" if t.step else ""), "trigger": b.trigger,
                      "layer": layer_of.get(b.trigger), "ciphertexts": b.cts})
    out = []
    order = [r for r in rows if r["step"] == 0]
    layer_ids = list(dict.fromkeys(r["layer"] for r in order if r["layer"] is not None))
    for layer in layer_ids:
        ops = [r["op"] for r in order if r["layer"] == layer]
        first = next(i for i, r in enumerate(order) if r["op"] == ops[0])
        before = [walk.outputs[r["op"]] for r in order[:first] if r["op"] in walk.outputs]
        start = walk.tensors[before[-1]].depth_to if before else 0
        end = walk.tensors[walk.outputs[ops[-1]]].depth_to
        mine = [b for b in boots if b["layer"] == layer]
        count = sum(b["ciphertexts"] for b in mine)
        out.append({"layer": layer, "depth": end - start, "bootstraps": count,
                    "bootstrap_s": None if unit is None else count * unit,
                    "positions": [f"{b['after']} ({b['ciphertexts']} ct)" for b in mine]})
    return out, boots


def _keys(table, bootstraps: bool) -> float | None:
    """One-time evaluation keys: relinearisation + rotation keys, plus the bootstrapping keys if used."""
    k = table.keys
    if "switching_key_bytes" not in k:
        return None
    total = (1 + k.get("rotation_keys", 0)) * k["switching_key_bytes"]
    if bootstraps:
        if k.get("bootstrap_key_bytes") is None:
            return None
        total += k["bootstrap_key_bytes"]
    return float(total)


def op_alone(kind: str, shape: dict, attrs: dict, table, level: int) -> dict:
    """One op run by itself on inputs arriving at `level`: calls and seconds per primitive, bootstraps inside
    the op included (how a paper times one layer type in isolation, e.g. softmax variants)."""
    walk = Walk(table.params["levels_fresh"], table.params["levels_after_bootstrap"])
    steps = expand(kind, shape, attrs, [_input_cts(kind, shape, table)], table)
    src = walk.source("input", _input_cts(kind, shape, table), level)
    walk.run(kind, steps, [src] * 4)
    out = {p: {"count": 0.0, "seconds": 0.0} for p in PRIMITIVES}
    for _, step, tid in walk.steps:
        at = max(walk.level_in(tid) - step.depth / 2, 0.0)
        for prim, n in step.counts.items():
            out[prim]["count"] += n
            out[prim]["seconds"] += n * table.seconds(prim, at, kind)
    boots = sum(b.cts for b in walk.boots)
    out["bootstrap"] = {"count": boots, "seconds": boots * table.seconds("bootstrap", walk.budget, kind)}
    return out


def _input_cts(kind: str, shape: dict, table) -> int:
    return ct(shape_values(kind, shape)["elements"], table.slots)


def price(rows: list[dict], edges: list, table, setting, allow_missing: bool = False) -> Priced:
    """The family's pricing: the whole graph's walk, its bootstraps and breakdowns kept as the details. An edge
    from outside `rows` (an op priced alone: registry.price_op) is a fresh ciphertext input of the op's size.
    Decode templates are walked step by step (see the module's docstring)."""
    walked, walked_edges = expand_steps(rows, edges)
    by_op = {r["op"]: r for r in walked}
    inputs = {src: (_input_cts(by_op[dst]["kind"], by_op[dst]["shape"], table), table.params["levels_fresh"])
              for src, dst in walked_edges if src not in by_op and dst in by_op}
    he = price_he(walked, walked_edges, table, setting, allow_missing, inputs)
    for template, mine in step_rows(rows, walked):  # each template: its steps' values, and their totals
        template.update(fold(template, {c: per_step([r[c] for r in mine]) for c in COST_COLUMNS + HE_COLUMNS}))
        template["per_step"].update({k: per_step([r[k] for r in mine]) for k in ("level_out", "grade")})
        grades = [r["grade"] for r in mine if r["grade"] is not None]  # the template: its worst step's
        template.update(level_out=template["per_step"]["level_out"], source=mine[0]["source"],
                        grade=max(grades, key=GRADES.index) if grades else None)
    return Priced(he.uncosted, he)
