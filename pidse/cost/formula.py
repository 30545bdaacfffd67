"""Cost formulas: arithmetic strings over named shape symbols, e.g. "3370 * rows * cols + 2.1e6".

One text, two views of it:
  - numeric: compiled once to Python and evaluated on numbers or numpy arrays (fast, no sympy import);
  - symbolic: `Formula.sympy()` parses the same text with sympy, for closed forms and calibration.
The grammar is the arithmetic both agree on: numbers, names, + - * / **, parentheses and the functions in
FUNCTIONS. Anything else is rejected when the table is loaded.
"""
from __future__ import annotations

import ast
from functools import cached_property

# name -> (numpy function, sympy name): numeric evaluation works on scalars and numpy arrays alike. numpy is
# imported only when a formula calls a function, so that plain arithmetic keeps `pidse estimate` quick.
FUNCTIONS = {
    "ceil": ("ceil", "ceiling"),
    "floor": ("floor", "floor"),
    "log2": ("log2", "log2"),
    "log": ("log", "log"),
    "sqrt": ("sqrt", "sqrt"),
    "max": ("maximum", "Max"),
    "min": ("minimum", "Min"),
}
_ALLOWED = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Load, ast.Call,
            ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd)


class FormulaError(ValueError):
    pass


class Formula:
    def __init__(self, text: str | int | float):
        self.text = str(text).strip()
        try:
            tree = ast.parse(self.text, mode="eval")
        except SyntaxError:
            raise FormulaError(f"not an arithmetic formula: {self.text!r}") from None
        names = set()
        for node in ast.walk(tree):
            if not isinstance(node, _ALLOWED):
                raise FormulaError(f"{type(node).__name__} is not allowed in formula {self.text!r}")
            if isinstance(node, ast.Constant) and (isinstance(node.value, bool)
                                                   or not isinstance(node.value, (int, float))):
                raise FormulaError(f"only numbers are allowed as constants in {self.text!r}")
            if isinstance(node, ast.Call):
                if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
                    raise FormulaError(f"unknown function in {self.text!r}; allowed: {', '.join(FUNCTIONS)}")
            elif isinstance(node, ast.Name):
                names.add(node.id)
        self.calls = frozenset(n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call))
        self.symbols = frozenset(names - self.calls)
        self._code = compile(tree, "<formula>", "eval")

    def __call__(self, **values):
        missing = self.symbols - values.keys()
        if missing:
            raise FormulaError(f"formula {self.text!r} needs {', '.join(sorted(missing))}")
        scope = dict(values)
        if self.calls:
            import numpy as np

            scope.update({name: getattr(np, impl) for name, (impl, _) in FUNCTIONS.items()})
        return eval(self._code, {"__builtins__": {}}, scope)  # safe: the AST was whitelisted above

    def sympy(self):
        """The formula as a sympy expression (symbols are positive reals: sizes and coefficients)."""
        import sympy

        local = {name: getattr(sympy, sym_name) for name, (_, sym_name) in FUNCTIONS.items()
                 if sym_name != "log2"}
        local["log2"] = lambda x: sympy.log(x, 2)
        local.update({s: sympy.Symbol(s, positive=True) for s in self.symbols})
        return sympy.sympify(self.text, locals=local)

    @cached_property
    def is_constant(self) -> bool:
        return not self.symbols

    def __repr__(self) -> str:
        return f"Formula({self.text!r})"


def evaluate(formula: Formula, values: dict) -> float:
    """Evaluate with only the symbols the formula uses taken from `values`."""
    import numpy as np

    result = formula(**{s: values[s] for s in formula.symbols if s in values})
    return float(result) if np.ndim(result) == 0 else result

