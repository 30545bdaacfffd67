"""Decode steps as templates: the row format the graph builder, the estimator, the protocol families and the
renderers share for generated tokens.

A generation prefills the T prompt tokens, then runs one decode step per further token, and the steps differ only
in the KV length (and in what a sliding window or a pruned cache makes of it). So the graph holds ONE decode
template per op instead of a copy per step: a row named `decode.<op>` whose `step` is the first step it stands
for and `steps` how many consecutive steps. Its shape and attrs entries that change from step to step are numpy
integer arrays over those steps; the others stay plain numbers. Counting and pricing evaluate on the arrays; each
numeric column of the row then holds the total over its steps, and `row["per_step"][column]` the value at each
step (an array, or one number where every step has the same).

Sums keep the order of the per-step rows (`ordered_sum`): the prefill's ops, then step 1's, then step 2's, ...
Float addition is not associative, and this order keeps every total and breakdown bit for bit what one row per op
per step gave. `expand` materialises those per-step rows when they are wanted (a CKKS depth walk, tests, a
networkx graph); totals, breakdowns and `by_step` never need them.

Edges of a template name template ops and prefill ops (the K/V cache every step reads). An edge from a template
op to one that comes before it in the template, or to itself, is a back edge: the previous step's token feeding
the next step's embedding. At step s it comes from step s - 1, whose ops at s = 0 are the prefill's.
"""
from __future__ import annotations

from pidse.errors import InputError
from pidse.ops import MAX_OPS, is_array

PREFIX = "decode."  # a template's op name: decode.<the op's name in the prefill>


def is_template(row: dict) -> bool:
    return "steps" in row


def name_at(op: str, step: int) -> str:
    """The name a (template or prefill) op has at `step`: the prefill's name at 0, else step<s>.<name>."""
    base = op[len(PREFIX):] if op.startswith(PREFIX) else op
    return base if step == 0 else f"step{step}.{base}"


def compact(value):
    """A per-step array whose steps all agree, as that one number (a window every step has filled)."""
    if is_array(value) and len(value) and (value == value[0]).all():
        return value[0].item()
    return value


def per_step(values: list):
    """One value per step (what a family priced step by step) as a template keeps it: one number where they all
    agree, else an array (float where every value is, else Python objects: exact ints, None for uncosted)."""
    first = values[0]
    if all(type(v) is type(first) and v == first for v in values):
        return first
    import numpy as np

    return np.array(values, dtype=float if all(type(v) is float for v in values) else object)


def exact(shape: dict) -> dict:
    """Array entries as arrays of Python ints, so that products of sizes are exact (no int64 overflow)."""
    return {k: v.astype(object) if is_array(v) else v for k, v in shape.items()}


def floats(values: dict) -> dict:
    """Array entries as float64, for cost formulas: float arithmetic cannot overflow silently as int64 does, and it
    is exact wherever the integer parts of a formula stay below 2**53 (every realistic size)."""
    return {k: v.astype(float) if is_array(v) else v for k, v in values.items()}


def _total(value, steps: int):
    """A template's total over its steps of a per-step value."""
    if value is None:
        return None
    if not is_array(value):
        return value * steps
    items = value.tolist()
    if any(v is None for v in items):
        return None  # some step left uncosted: the template's cost is unknown, never a partial sum
    return sum(items) if all(type(v) is int for v in items) else float(sum(items))


def fold(row: dict, values: dict) -> dict:
    """What to store on `row` for `values` (column -> value, arrays per step for a template): a template keeps the
    values per step in row["per_step"] and gets their totals; any other row gets `values` as they are."""
    if not is_template(row):
        return values
    row.setdefault("per_step", {}).update(values)
    return {k: _total(v, row["steps"]) for k, v in values.items()}


# ---- sums in the per-step rows' order ------------------------------------------------------------------------

def _matrix(templates: list[dict], col: str):
    """The templates' values of `col` as a (templates x steps) float matrix (an uncosted step adds 0.0: the same
    as skipping it, costs being >= 0)."""
    import numpy as np

    out = np.zeros((len(templates), templates[0]["steps"]))
    for i, row in enumerate(templates):
        value = row["per_step"][col]
        if value is None:
            continue
        if is_array(value) and value.dtype == object:
            value = np.array([0.0 if v is None else float(v) for v in value.tolist()])
        out[i] = value
    return out


def ordered_sum(rows: list[dict], col: str, start=0):
    """The sum of `col` over `rows` (None skipped), added one value at a time in execution order, each template
    spread over its steps: exactly what adding one row per op per step gave. `start` 0 adds as Python does (ints
    stay exact); a float `start` adds in floating point throughout, as a numpy vector does."""
    total, templates = start, []
    for row in rows:
        if is_template(row):
            templates.append(row)
        elif row[col] is not None:
            total = total + row[col]
    if not templates:
        return total
    if isinstance(total, int) and all(isinstance(r[col], int) for r in templates):
        return total + sum(r[col] for r in templates)  # whole numbers: exact in any order
    import numpy as np

    flat = _matrix(templates, col).T.ravel()  # step 1's ops in order, then step 2's, ...
    return float(np.add.accumulate(np.concatenate(([total], flat)))[-1])  # accumulate: strictly left to right


def group_sum(rows: list[dict], col: str):
    """ordered_sum for a breakdown: None if any row (any step) is uncosted, never a partial sum."""
    if any(r[col] is None for r in rows):
        return None
    return ordered_sum(rows, col)


def occurrences(*values, steps: int = 1) -> list[tuple[tuple, int]]:
    """The distinct combinations of `values` (numbers, or arrays over `steps` steps) and how many steps have each."""
    if not any(is_array(v) for v in values):
        return [(values, steps)]
    columns = [v.tolist() if is_array(v) else [v] * steps for v in values]
    found: dict = {}
    for combination in zip(*columns):
        found[combination] = found.get(combination, 0) + 1
    return list(found.items())


def count(rows: list[dict]) -> int:
    """Ops, counting a template once per step it stands for."""
    return sum(r.get("steps", 1) for r in rows)


def by_step(rows: list[dict], columns: tuple) -> list[dict]:
    """One row per step: the prefill (step 0), then every decode step, each summed over its ops in order (rows
    built step by step are grouped by their `step`)."""
    groups: dict = {}
    for row in rows:
        if not is_template(row):
            groups.setdefault(row["step"], []).append(row)
    out = [{"step": step, "ops": len(mine), **{c: group_sum(mine, c) for c in columns}}
           for step, mine in groups.items()]
    templates = [r for r in rows if is_template(r)]
    if not templates:
        return out
    first, n = templates[0]["step"], templates[0]["steps"]
    steps = [{"step": first + j, "ops": len(templates)} for j in range(n)]
    for c in columns:
        for j, value in enumerate(_step_sums(templates, c)):
            steps[j][c] = value
    return out + steps


def _step_sums(templates: list[dict], col: str) -> list:
    """Per step, the sum of `col` over the templates in op order (None where any op is uncosted at that step)."""
    n = templates[0]["steps"]
    if all(isinstance(r[col], int) for r in templates):  # exact ints
        sums = [0] * n
        for r in templates:
            value = r["per_step"][col]
            sums = [a + b for a, b in zip(sums, value.tolist() if is_array(value) else [value] * n)]
        return sums
    unknown = [False] * n
    for r in templates:
        value = r["per_step"][col]
        if value is None or (is_array(value) and value.dtype == object):
            marks = [True] * n if value is None else [v is None for v in value.tolist()]
            unknown = [a or b for a, b in zip(unknown, marks)]
    matrix = _matrix(templates, col)
    sums = matrix[0].copy()
    for row in matrix[1:]:  # op by op, as the per-step rows were added
        sums += row
    return [None if unknown[j] else float(v) for j, v in enumerate(sums)]


# ---- per-step rows, when they are wanted -----------------------------------------------------------------

def _at(value, j: int):
    """The value at the j-th step, as a Python number (numpy's int64 and float64 become int and float)."""
    if not is_array(value):
        return value
    item = value[j]
    return item.item() if type(item).__module__ == "numpy" else item


def _row_at(template: dict, step: int, j: int) -> dict:
    row = {k: v for k, v in template.items() if k not in ("steps", "per_step")}
    row.update(op=name_at(template["op"], step), step=step,
               shape={k: _at(v, j) for k, v in template["shape"].items()},
               attrs={k: _at(v, j) for k, v in template["attrs"].items()})
    row.update({k: _at(v, j) for k, v in template.get("per_step", {}).items()})
    return row


def expand(rows: list[dict], edges: list) -> tuple[list[dict], list]:
    """One row per op per step, and their edges: what building every decode step whole gives, with the values the
    templates were counted and priced with at each step. The prefill's rows are passed on as they are (the same
    dicts); rows and edges without templates are returned unchanged."""
    templates = [r for r in rows if is_template(r)]
    if not templates:
        return rows, edges
    flat = [r for r in rows if not is_template(r)]
    first, n = templates[0]["step"], templates[0]["steps"]
    if len(flat) + n * len(templates) > MAX_OPS:  # memory grows with the steps here, unlike the templates
        raise InputError("inference.generate", None, f"at most {MAX_OPS:,} ops once every decode step is built "
                         f"whole (CKKS pricing, a per-step graph or a published row walks each step; this "
                         f"generation has {len(flat) + n * len(templates):,}): fewer generated tokens or layers",
                         n + 1)
    for j in range(n):
        flat += [_row_at(t, first + j, j) for t in templates]
    order = {t["op"]: i for i, t in enumerate(templates)}
    inner = [(a, b) for a, b in edges if b in order]
    flat_edges = [(a, b) for a, b in edges if b not in order]
    for step in range(first, first + n):
        for a, b in inner:
            if a in order:  # a template op: this step's, or the previous step's across a back edge
                a = name_at(a, step if order[a] < order[b] else step - 1)
            flat_edges.append((a, name_at(b, step)))
    return flat, flat_edges


def step_rows(rows: list[dict], flat: list[dict]):
    """(template, its per-step rows in step order) for each template of `rows`, `flat` being expand's rows."""
    templates = [r for r in rows if is_template(r)]
    start = len(flat) - len(templates) * (templates[0]["steps"] if templates else 0)
    for i, template in enumerate(templates):
        yield template, flat[start + i::len(templates)]


# ---- output ------------------------------------------------------------------------------------------------

def shown(value):
    """A value for output: a per-step array as its range, `first..last` of its smallest and largest; mappings
    (shape, attrs) entry by entry."""
    if isinstance(value, dict):
        return {k: shown(v) for k, v in value.items()}
    if is_array(value):
        known = [v for v in value.tolist() if v is not None]
        return f"{min(known)}..{max(known)}" if known else None
    return value


def plain(row: dict) -> dict:
    """A row for output: per-step arrays as ranges, the per-step values left out (`--by step` shows them)."""
    if not is_template(row):
        return row
    return {k: shown(v) for k, v in row.items() if k != "per_step"}
