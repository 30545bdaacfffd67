"""Cost formulas: arithmetic strings over named shape symbols, e.g. "3370 * rows * cols + 2.1e6".

One text, two views of it:
  - numeric: compiled once to Python and evaluated on numbers or numpy arrays (fast, no sympy import);
  - symbolic: `Formula.sympy()` parses the same text with sympy, for closed forms and calibration.
The grammar is the arithmetic both agree on: numbers, names, + - * / **, parentheses and the functions in
FUNCTIONS. Anything else is rejected when the table is loaded, and so is anything that would not finish or not
be a number: only ASCII (Python reads the look-alike `ｍａｘ` as max, sympy as an unknown function), at most
MAX_CHARS characters nested at most MAX_DEPTH deep, functions with their number of arguments, every constant part
a finite real number, and at most degree MAX_DEGREE and MAX_TERMS terms when expanded (so `9**9**9**9`,
`x ** 10 ** 8` and `(a + b + c) ** 64` are refused: evaluating or expanding them would not finish). Evaluating a
formula never gives a NaN or an infinity: division by zero, overflow, log(0) or sqrt(-1) at some shape is a
FormulaError saying why.
"""
from __future__ import annotations

import ast
import math
from functools import cached_property

# name -> (numpy function, sympy name, fewest arguments, most arguments or None): numeric evaluation works on
# scalars and numpy arrays alike. numpy is imported only when a formula calls a function or gets arrays, so
# that plain arithmetic keeps `pidse estimate` quick.
FUNCTIONS = {
    "ceil": ("ceil", "ceiling", 1, 1),
    "floor": ("floor", "floor", 1, 1),
    "log2": ("log2", "log2", 1, 1),
    "log": ("log", "log", 1, 1),
    "sqrt": ("sqrt", "sqrt", 1, 1),
    "max": ("maximum", "Max", 2, None),
    "min": ("minimum", "Min", 2, None),
}
MAX_CHARS = 2000  # characters of one formula (the longest shipped one has 445)
MAX_DEPTH = 50  # nesting of its expression (shipped: 20)
MAX_DEGREE = 8  # its degree as a polynomial in the sizes (shipped: 6), a constant exponent counting as many
MAX_TERMS = 100  # its terms when expanded, e.g. (a + b + c) ** 4 has 15 (shipped: 20)
EXACT_BITS = 4096  # an integer power stays exact up to this many bits; beyond, it is computed in floating point
_ALLOWED = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Load, ast.Call,
            ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd)
_SCALARS = (int, float)


class FormulaError(ValueError):
    pass


def _quoted(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:40] + "..." + text[-15:])


class Formula:
    def __init__(self, text: str | int | float, constants=frozenset()):
        """`constants`: names that stand for numbers (a table's constants): degree 0, not 1 like a size."""
        if isinstance(text, float) and not math.isfinite(text):
            raise FormulaError("a finite number")
        self.text = str(text).strip()
        if not self.text.isascii():
            raise FormulaError(f"ASCII characters only in {_quoted(self.text)} (a look-alike such as a fullwidth "
                               "letter reads differently to the two views of a formula)")
        if len(self.text) > MAX_CHARS:
            raise FormulaError(f"at most {MAX_CHARS:,} characters in a formula, not {len(self.text):,}")
        try:
            tree = ast.parse(self.text, mode="eval")
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            raise FormulaError(f"not an arithmetic formula: {_quoted(self.text)}") from None
        names = set()
        stack = [(tree, 0)]
        while stack:  # iterative: a deep expression must not blow the stack of the checker itself
            node, depth = stack.pop()
            if depth > MAX_DEPTH:
                raise FormulaError(f"an expression nested at most {MAX_DEPTH} deep in {_quoted(self.text)}")
            self._check_node(node)
            if isinstance(node, ast.Name):
                names.add(node.id)
            stack += [(child, depth + 1) for child in ast.iter_child_nodes(node)]
        self.calls = frozenset(n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call))
        self.symbols = frozenset(names - self.calls)
        self._degree, self._terms = 0.0, 1  # the largest of any part, as sympy expands it (see _fold)
        self._numbers = frozenset(constants)
        self._fold(tree.body)
        if self._degree > MAX_DEGREE or self._terms > MAX_TERMS:
            raise FormulaError(f"at most degree {MAX_DEGREE} and {MAX_TERMS} terms when expanded, in "
                               f"{_quoted(self.text)} (a closed form would take sympy too long)")
        self._code = compile(ast.fix_missing_locations(_Powers().visit(tree)), "<formula>", "eval")

    def _check_node(self, node) -> None:
        if not isinstance(node, _ALLOWED):
            raise FormulaError(f"{type(node).__name__} is not allowed in formula {_quoted(self.text)}")
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, _SCALARS):
                raise FormulaError(f"only numbers are allowed as constants in {_quoted(self.text)}")
            try:
                finite = math.isfinite(float(node.value))
            except OverflowError:  # an integer literal beyond floating point
                finite = False
            if not finite:
                raise FormulaError(f"finite numbers in {_quoted(self.text)}")
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
                raise FormulaError(f"unknown function in {_quoted(self.text)}; allowed: {', '.join(FUNCTIONS)}")
            name = node.func.id
            low, high = FUNCTIONS[name][2:]
            if len(node.args) < low or (high is not None and len(node.args) > high):
                count = f"{low}" if low == high else f"at least {low}"
                raise FormulaError(f"{name}() takes {count} argument{'s' if count != '1' else ''}, not "
                                   f"{len(node.args)}, in {_quoted(self.text)}")
        elif isinstance(node, ast.Name) and (node.id.startswith("_") or len(node.id) > 64):
            raise FormulaError(f"names that start with a letter and have at most 64 characters in "
                               f"{_quoted(self.text)}")

    def _fold(self, node) -> tuple[float | None, float, int]:
        """(the node's value where it is constant, else None; its degree and its number of terms as sympy
        expands it). A product adds degrees and multiplies terms, a constant power multiplies the degree and
        counts the monomials of that degree, a quotient is expanded as numerator and denominator apart, and a
        function (or a power with a variable exponent) is one factor whose arguments are expanded on their own.
        The largest of every part is kept in _degree and _terms. A constant part that is not a finite real
        number is an error now, not at every shape."""
        if isinstance(node, ast.Constant):
            return float(node.value), 0, 1
        if isinstance(node, ast.Name):
            return None, 0 if node.id in self._numbers else 1, 1
        if isinstance(node, ast.UnaryOp):
            value, degree, terms = self._fold(node.operand)
            return (None if value is None else -value if isinstance(node.op, ast.USub) else value), degree, terms
        if isinstance(node, ast.Call):
            values = [self._fold(a)[0] for a in node.args]
            if any(v is None for v in values):
                return None, 1, 1
            impl = {"ceil": math.ceil, "floor": math.floor, "log2": math.log2, "log": math.log, "sqrt": math.sqrt,
                    "max": max, "min": min}[node.func.id]
            return self._constant(lambda: impl(*values)), 0, 1
        (a, da, ta), (b, db, tb) = self._fold(node.left), self._fold(node.right)
        op = node.op
        if isinstance(op, ast.Pow):
            n = abs(b) if b is not None else 0
            if b is None or n != int(n) or (a is None and ta == 1):
                degree, terms = (da * n if b is not None else 1 if a is None or db else 0), 1
            elif ta > 1 and n > MAX_TERMS:
                degree, terms = da * n, MAX_TERMS + 1
            else:
                degree, terms = da * n, math.comb(ta + int(n) - 1, int(n))
        elif isinstance(op, ast.Mult):
            degree, terms = da + db, ta * tb
        elif isinstance(op, ast.Div):
            degree, terms = max(da, db), ta
        else:
            degree, terms = max(da, db), ta + tb
        terms = 1 if degree == 0 else min(terms, MAX_TERMS + 1)  # no size in it: a number once constants are in
        self._degree, self._terms = max(self._degree, degree), max(self._terms, terms, tb)
        if isinstance(op, ast.Div) and b == 0:
            raise FormulaError(f"no division by zero in {_quoted(self.text)}")
        if a is None or b is None:
            return None, degree, terms
        fn = {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b, ast.Div: lambda: a / b,
              ast.Pow: lambda: _pow(a, b)}[type(op)]
        return self._constant(fn), 0, 1

    def _constant(self, compute) -> float:
        try:
            value = compute()
        except (ArithmeticError, ValueError) as err:
            raise FormulaError(f"a constant part that is a finite real number in {_quoted(self.text)} "
                               f"({_reason(err)})") from None
        if not math.isfinite(value):
            raise FormulaError(f"a constant part that is a finite real number in {_quoted(self.text)} (it "
                               "overflows)")
        return float(value)

    def __call__(self, **values):
        missing = self.symbols - values.keys()
        if missing:
            raise FormulaError(f"formula {_quoted(self.text)} needs {', '.join(sorted(missing))}")
        scope = {**values, **self._functions}
        try:
            if not self.calls and all(type(v) in _SCALARS for v in values.values()):
                result = eval(self._code, {"__builtins__": {}}, scope)  # safe: the AST was whitelisted above
            else:
                import numpy as np

                with np.errstate(all="ignore"):  # numpy warns of 1/0 or log(0); the check below says why
                    result = eval(self._code, {"__builtins__": {}}, scope)
        except (ArithmeticError, ValueError, TypeError) as err:
            raise FormulaError(f"{_quoted(self.text)} has no value here ({_reason(err)})") from None
        _check_finite(result, self.text)
        return result

    def sympy(self):
        """The formula as a sympy expression (symbols are positive reals: sizes and coefficients)."""
        import sympy

        local = {name: getattr(sympy, spec[1]) for name, spec in FUNCTIONS.items() if spec[1] != "log2"}
        local["log2"] = lambda x: sympy.log(x, 2)
        local.update({s: sympy.Symbol(s, positive=True) for s in self.symbols})
        expr = sympy.sympify(self.text, locals=local)
        if expr.has(*not_real()):  # e.g. log(0 * x): sympy simplifies before the sizes are known
            raise FormulaError(f"{_quoted(self.text)} has no finite real value for some sizes (sympy reads it as "
                               f"{str(expr)[:40]})")
        return expr

    @cached_property
    def _functions(self) -> dict:
        """The names the compiled formula calls: _pow, and the FUNCTIONS it uses (numpy, imported now)."""
        return {"_pow": _pow, **{name: _numpy_function(name) for name in self.calls}}

    @cached_property
    def is_constant(self) -> bool:
        return not self.symbols

    def __repr__(self) -> str:
        return f"Formula({self.text!r})"


def not_real() -> tuple:
    """sympy's values that are not finite real numbers (complex infinity, NaN, infinities, the imaginary unit)."""
    import sympy

    return sympy.zoo, sympy.nan, sympy.oo, -sympy.oo, sympy.I


class _Powers(ast.NodeTransformer):
    """a ** b -> _pow(a, b): an integer power is exact only while it stays small; beyond, floating point (whose
    overflow is an error, where Python would compute a number with millions of digits)."""

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Pow):
            return ast.Call(ast.Name("_pow", ast.Load()), [node.left, node.right], [])
        return node


def _pow(a, b):
    if type(a) is int and type(b) is int and 0 <= b and a.bit_length() * b <= EXACT_BITS:
        return a ** b
    if isinstance(a, _SCALARS) and isinstance(b, _SCALARS):  # numpy's float64 is a float too
        result = float(a) ** float(b)
        if isinstance(result, complex):
            raise ValueError("a negative number to a fractional power")
        return result
    import numpy as np

    return np.power(np.asarray(a, dtype=float), b)


def _numpy_function(name: str):
    import numpy as np

    impl = getattr(np, FUNCTIONS[name][0])
    if FUNCTIONS[name][3] is None:  # max, min: any number of arguments, pairwise
        def pairwise(*args):
            out = _as_float(args[0])
            for arg in args[1:]:
                out = impl(out, _as_float(arg))
            return out
        return pairwise
    return lambda x: impl(_as_float(x))


def _as_float(x):
    """numpy functions on a Python int beyond int64 fail obscurely: take it as a float (OverflowError if huge)."""
    return float(x) if type(x) is int else x


def _reason(err: Exception) -> str:
    if isinstance(err, ZeroDivisionError):
        return "division by zero"
    if isinstance(err, OverflowError):
        return "a number too large for floating point"
    text = str(err) or type(err).__name__
    if "math domain" in text:
        return "log or sqrt of a negative number or zero"
    return text[:80]


def _check_finite(result, text: str) -> None:
    if isinstance(result, _SCALARS):
        try:
            if math.isfinite(result):
                return
            bad = result
        except OverflowError:  # an exact integer beyond floating point
            bad = math.inf
    else:
        import numpy as np

        array = np.asarray(result, dtype=float)
        if np.isfinite(array).all():
            return
        bad = array[~np.isfinite(array)].flat[0]
    why = "not a number: 0/0, or log or sqrt of a negative number?" if bad != bad else \
        "an infinite value: division by zero, log(0) or an overflow?"
    raise FormulaError(f"{_quoted(text)} has no finite value here ({why})")


def evaluate(formula: Formula, values: dict) -> float:
    """Evaluate with only the symbols the formula uses taken from `values`."""
    import numpy as np

    result = formula(**{s: values[s] for s in formula.symbols if s in values})
    return float(result) if np.ndim(result) == 0 else result
