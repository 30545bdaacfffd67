"""The shipped cost tables: they load, their formulas are sympy-readable, every entry is graded and sourced,
hand-derived values at tiny shapes, and every table prices GPT-2 through the CLI (or fails with one line)."""
from __future__ import annotations

import json
import math
import re

import pytest

from conftest import SPECS, assert_one_line_error, invoke
from pidse.cost.family import GRADES
from pidse.cost.mpc import METRICS, price
from pidse.cost.registry import list_tables, load_table
from pidse.cost.setting import Network, Setting
from pidse.model.estimate import estimate
from pidse.ops import OP_KINDS, shape_values
from pidse.spec.load import load_spec

TABLES = list_tables("mpc")
LITERATURE = ("puma-aby3", "sigma-fss")  # built from ../shared/reference/mpc.md, not fitted
GPT2 = SPECS / "gpt2_sm_ln_g.yaml"
POWER_SOFTMAX = ["--set", "attention.kind=power_softmax", "--set", "attention.power=2"]


def test_literature_tables_are_shipped():
    assert set(LITERATURE) <= set(TABLES)


@pytest.mark.parametrize("name", TABLES)
def test_table_loads_and_formulas_parse_with_sympy(name):
    table = load_table(name)
    assert table.entries
    for kind, entry in table.entries.items():
        for metric in METRICS:
            formula = entry.formulas[metric]
            expr = formula.sympy()
            # The symbolic and numeric views agree at an arbitrary shape (every shape symbol = 7, elements = 49).
            values = {**table.constants, **{s: 7 for s in formula.symbols if s not in table.constants}}
            if "elements" in formula.symbols:
                values["elements"] = 49
            symbolic = float(expr.subs({sym: values[sym.name] for sym in expr.free_symbols}))
            assert math.isclose(symbolic, float(formula(**values)), rel_tol=1e-9), (name, kind, metric)


@pytest.mark.parametrize("name", TABLES)
def test_every_entry_is_graded_and_sourced_and_every_kind_accounted_for(name):
    table = load_table(name)
    for kind, entry in table.entries.items():
        assert entry.grade in GRADES, (name, kind)
        assert entry.source.strip(), (name, kind)
    for kind, why in table.unknown.items():
        assert why.strip(), (name, kind)  # `unknown: why`, never a bare flag
    # every op kind (the literature's axes too: poly, relu_softmax, topk, prune) is priced or explicitly unknown
    assert set(table.entries) | set(table.unknown) == set(OP_KINDS)


@pytest.mark.parametrize("name", LITERATURE)
def test_literature_sources_name_the_paper_and_its_grade(name):
    # mpc.md grades: P (paper/authors), R (reproduction), S (secondary), D (derived); "(R -> D)" = derived from R.
    table = load_table(name)
    for kind, entry in table.entries.items():
        assert re.search(r"PUMA|SPU|ABY3|SIGMA", entry.source), (kind, entry.source)
        assert re.search(r"\([PRSD]( -> D)?\)", entry.source), (kind, entry.source)
    assert table.raw.get("communication"), "the table must say what its communication counts"


def priced(name: str, kind: str, attrs: dict | None = None, **shape) -> dict:
    """One op of `kind` and `shape` priced with table `name` on an 8 bit/s network with no RTT (latency = bytes)."""
    row = {"op": "t", "kind": kind, "shape": shape, "attrs": attrs or {}}
    price([row], [], load_table(name), Setting(Network("test", 8.0, 0.0)))
    return row


# Hand derivations at tiny shapes. puma-aby3 constants (total over 3 parties): mul 24 B / 1 round, trunc 96 B /
# 3 rounds, comparison 192 B / 8 rounds, reciprocal 912 B / 32 rounds, rsqrt 1272 B / 44 rounds, exp_n 8.
# sigma-fss: reveal 16 B, softmax 118 B, GELU 36 B, LayerNorm 50 B per element.
HAND = [
    # linear m=2 k=3 n=4: 8 outputs x (24 + 96) = 960 B; 1 + 3 = 4 rounds.
    ("puma-aby3", "linear", {"m": 2, "k": 3, "n": 4}, 960, 4),
    # embedding 2 tokens x 8 dims: 16 outputs x 24 B (reshare, no truncation) = 384 B; 1 round.
    ("puma-aby3", "embedding", {"tokens": 2, "vocab": 50, "dim": 8}, 384, 1),
    # gelu 2 x 3: per element 3 x 192 + 4 x 120 + 2 x 96 + 3 x 24 = 1320 B -> 7920 B;
    # rounds max(8, 3 x 4) + 3 + 1 = 16.
    ("puma-aby3", "gelu", {"rows": 2, "cols": 3}, 7920, 16),
    # softmax one row of 4: max tree 3 x (192 + 24) = 648; per element 96 + 8 x 120 + 192 + 24 + 24 + 96 = 1392,
    # x 4 = 5568; reciprocal 912 -> 7128 B. Rounds 2 levels x 9 + 3 + 8 x 4 + 1 + 32 + 1 + 3 = 90.
    ("puma-aby3", "softmax", {"batch": 1, "rows": 1, "cols": 4}, 7128, 90),
    # layernorm 2 rows x 4: 8 x 3 x 120 = 2880, per row 2 x 96 + 1272 = 1464 -> 2928; 5808 B.
    # Rounds 3 + 4 + 3 + 44 + 2 x 4 = 62.
    ("puma-aby3", "layernorm", {"rows": 2, "cols": 4}, 5808, 62),
    # argmax over 5: 4 comparisons x (192 + 2 x 24) = 960 B; ceil(log2 5) = 3 levels x 9 = 27 rounds.
    ("puma-aby3", "argmax", {"rows": 1, "cols": 5}, 960, 27),
    # sigma linear m=2 n=4: 8 outputs x 2 reveals x 16 B = 256 B; 2 rounds.
    ("sigma-fss", "linear", {"m": 2, "k": 3, "n": 4}, 256, 2),
    # sigma softmax 2 x 3 x 4 = 24 scores x 118 B = 2832 B; 2 x ceil(log2 4) + 32 = 36 rounds.
    ("sigma-fss", "softmax", {"batch": 2, "rows": 3, "cols": 4}, 2832, 36),
    # sigma gelu 2 x 3 x 36 B = 216 B; 9 rounds.
    ("sigma-fss", "gelu", {"rows": 2, "cols": 3}, 216, 9),
    # sigma argmax over 5: 4 comparisons x 3 reveals x 16 B = 192 B; 2 x 3 = 6 rounds.
    ("sigma-fss", "argmax", {"rows": 1, "cols": 5}, 192, 6),
]


@pytest.mark.parametrize("name,kind,shape,comm,rounds", HAND)
def test_formulas_by_hand(name, kind, shape, comm, rounds):
    row = priced(name, kind, **shape)
    assert row["comm_bytes"] == pytest.approx(comm)
    assert row["rounds"] == rounds
    assert row["compute_s"] == 0
    # 8 bits/s and no RTT: latency in seconds = bytes.
    assert row["latency_s"] == pytest.approx(comm)


@pytest.mark.parametrize("power, comm, rounds", [
    # puma-aby3 power_softmax, one head, 2 queries x 4 keys (8 scores), p = 4: log2 4 = 2 squarings and the
    # normalising multiply, 3 x (24 + 96) = 360 B per score -> 2880 B, plus a 912 B reciprocal per row -> 1824:
    # 4704 B. Rounds 3 x (1 + 3) + 32 = 44. p = 2: 2 x 120 x 8 + 1824 = 3744 B, 2 x 4 + 32 = 40 rounds.
    (4, 4704, 44), (2, 3744, 40),
])
def test_puma_power_softmax_by_hand(power, comm, rounds):
    row = priced("puma-aby3", "power_softmax", {"power": power}, batch=1, rows=2, cols=4)
    assert (row["comm_bytes"], row["rounds"]) == (comm, rounds)


def test_shape_values_elements_match_the_hand_counts():
    assert shape_values("softmax", {"batch": 2, "rows": 3, "cols": 4})["elements"] == 24


@pytest.mark.parametrize("name", TABLES)
def test_cli_prices_gpt2(name):
    table = load_table(name)
    kinds = {row["kind"] for row in estimate(load_spec(GPT2)).ops}
    missing = sorted(kinds - set(table.entries))
    result = invoke("estimate", GPT2, "--protocol", name, "--format", "json")
    if missing:  # a table that cannot price a GPT-2 op fails in one line naming the table file and the op kind
        assert_one_line_error(result, f"{name}.yaml", f"ops.{missing[0]}")
        return
    assert result.exit_code == 0, result.output
    totals = json.loads(result.stdout)["totals"]
    assert totals["comm_bytes"] > 0 and totals["rounds"] > 0 and totals["latency_s"] > 0


@pytest.mark.parametrize("name", [n for n in TABLES if "power_softmax" in load_table(n).unknown])
def test_unknown_kind_fails_in_one_line_naming_table_and_kind(name):
    result = invoke("estimate", GPT2, "--protocol", name, *POWER_SOFTMAX)
    line = assert_one_line_error(result, f"cost_tables/{name}.yaml", "ops.power_softmax", "power_softmax")
    assert load_table(name).unknown["power_softmax"] in line  # the table's reason is shown


@pytest.mark.parametrize("name", LITERATURE)
def test_literature_tables_price_llama_and_bert(name):
    for spec in ("llama2_7b.yaml", "bert_base.yaml"):
        result = invoke("estimate", SPECS / spec, "--context", 8, "--protocol", name, "--format", "json")
        assert result.exit_code == 0, result.output


@pytest.mark.parametrize("name", LITERATURE)
def test_costs_grow_with_context(name):
    table = load_table(name)
    comm = [estimate(load_spec(GPT2, [], t), table=table).totals["comm_bytes"] for t in (16, 32, 64)]
    assert comm[0] < comm[1] < comm[2]
