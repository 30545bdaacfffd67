"""Cost formulas: the whitelisted grammar, numeric evaluation by hand, and numeric == sympy on every shipped
table's formulas (property)."""
from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pytest
import sympy
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pidse.cost.mpc import METRICS
from pidse.cost.formula import Formula, FormulaError, evaluate
from pidse.ops import SHAPE_KEYS

TABLES = Path(__file__).resolve().parents[1] / "cost_tables"


@pytest.mark.parametrize("text", [
    "m.real",  # attribute access
    "(m).__class__",
    "__import__('os').system('true')",  # unknown function (and a string)
    "exp(m)",  # a real function, but not in FUNCTIONS
    "np.log(m)",  # attribute call
    "'abc'",  # string constant
    "m * 'x'",
    "lambda: 1",
    "lambda m: m",
    "m[0]",  # subscript
    "m if n else 1",
    "m < n",
    "[m, n]",
    "max(m, initial=0)",  # keyword arguments
    "m +",  # not even Python
    "",
    "m = 1",
])
def test_grammar_rejects(text):
    with pytest.raises(FormulaError):
        Formula(text)


@pytest.mark.parametrize("text", [True, "True", "False * elements"], ids=["yaml-bool", "True", "False-times"])
def test_grammar_rejects_booleans(text):
    with pytest.raises(FormulaError):
        Formula(text)


@pytest.mark.parametrize("text, values, expected", [
    # 3370 B per element of a 4 x 16 GELU plus a fixed 2.1e6: 3370 * 64 + 2.1e6 = 2,315,680
    ("3370 * rows * cols + 2.1e6", {"rows": 4, "cols": 16}, 2_315_680.0),
    ("6 * log2(cols) + 30", {"cols": 4}, 42.0),  # 6 * 2 + 30
    ("8 * log2(cols)", {"cols": 1024}, 80.0),
    ("ceil(log2(cols))", {"cols": 10}, 4.0),  # log2 10 = 3.32
    ("floor(m / 3)", {"m": 10}, 3.0),
    ("max(cols - 1, 0) * 90", {"cols": 1}, 0.0),
    ("min(m, n) + sqrt(k)", {"m": 3, "n": 5, "k": 16}, 7.0),  # 3 + 4
    ("log(m)", {"m": math.e ** 2}, 2.0),
    ("-m + +n ** 2 / 4", {"m": 1, "n": 6}, 8.0),  # -1 + 36 / 4
    ("0", {}, 0.0),
    (12.5, {}, 12.5),  # YAML numbers arrive as int/float
])
def test_numeric_by_hand(text, values, expected):
    assert evaluate(Formula(text), values) == pytest.approx(expected, rel=1e-12)


def test_symbols_exclude_function_names():
    f = Formula("c_gelu * elements + max(rows, cols) + ceil(log2(cols))")
    assert f.symbols == {"c_gelu", "elements", "rows", "cols"}
    assert not f.is_constant and Formula("3 * 4").is_constant


def test_missing_symbol_is_named():
    with pytest.raises(FormulaError, match="needs cols, rows"):
        Formula("rows * cols")(m=1)


def test_evaluate_ignores_unused_values_and_vectorises():
    f = Formula("2 * rows + 1")
    assert evaluate(f, {"rows": 3, "cols": 99, "unused": "text"}) == 7.0
    np.testing.assert_allclose(evaluate(f, {"rows": np.array([1, 2, 3])}), [3, 5, 7])


def test_sympy_view():
    r, c = sympy.symbols("rows cols", positive=True)
    assert Formula("max(cols - 1, 0) * 90").sympy() == sympy.Max(c - 1, 0) * 90
    assert sympy.simplify(Formula("6 * log2(cols) + 30").sympy() - (6 * sympy.log(c, 2) + 30)) == 0
    assert Formula("ceil(rows / 2)").sympy() == sympy.ceiling(r / 2)


# ---- property: the numeric and the symbolic view agree on every formula of every shipped table -----------

def shipped_formulas() -> list:
    """Each distinct formula text once, named after the first table entry that uses it."""
    found = {}
    for path in sorted(TABLES.glob("*.yaml")) + sorted((TABLES / "templates").glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        if data.get("family") == "ckks":  # CKKS tables hold primitive seconds, not formulas (tests/test_he.py)
            continue
        for kind, spec in data["ops"].items():
            if isinstance(spec, dict) and "unknown" not in spec:
                for metric in METRICS:
                    found.setdefault(str(spec[metric]), f"{path.parent.name}/{path.stem}:{kind}.{metric}")
    return [pytest.param(text, id=name) for text, name in found.items()]


FORMULAS = shipped_formulas()
# The op's integer values: its shape, `elements`, a softmax's `kept` scores and a Power-Softmax's exponent `power`
# (a positive integer in a spec; a float in (0, 1) would only probe sympy's float rounding of ceil(log2(power))).
SHAPE_SYMBOLS = {s for keys in SHAPE_KEYS.values() for s in keys} | {"elements", "kept", "power", "degree", "top",
                                                                     "sort"}


def test_shipped_formulas_were_found():
    # aero-secretflow alone prices 12 kinds (linear, lm_head, embedding, matmul, softmax, layernorm, gelu,
    # relu, add, scale, rope, argmax) with 3 formulas each; some texts repeat ('0', '3', lm_head = linear)
    assert len(FORMULAS) >= 20
    assert "c_gelu * elements" in {p.values[0] for p in FORMULAS}  # the template's too


@functools.lru_cache(maxsize=None)
def parsed(text):
    formula = Formula(text)
    return formula, formula.sympy()


@pytest.mark.parametrize("text", FORMULAS)
@settings(max_examples=6, deadline=None)
@given(data=st.data())
def test_numeric_equals_sympy(text, data):
    formula, expr = parsed(text)
    # op values are sizes and counts (positive integers); coefficients and table constants positive reals
    values = {s: data.draw(st.integers(1, 10**6) if s in SHAPE_SYMBOLS else st.floats(1e-3, 1e6), label=s)
              for s in sorted(formula.symbols)}
    numeric = evaluate(formula, values)
    symbolic = float(expr.subs({sym: values[sym.name] for sym in expr.free_symbols}))
    assert numeric == pytest.approx(symbolic, rel=1e-9, abs=1e-12)
