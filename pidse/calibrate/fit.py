"""Fit a cost table's coefficients to measured whole-model rows.

A template is a cost table whose formulas may contain coefficient symbols: any name that is neither a shape
symbol nor a table constant, e.g. `c_trunc * m * n`. A coefficient may appear in several ops (one truncation
cost per element for every linear layer, matmul and public scaling), and every formula must be linear in its
coefficients. Then each measured row's total is a linear function of the coefficients, and:

  1. communication: weighted non-negative least squares (costs cannot be negative) on relative error, so a
     small model counts as much as a big one;
  2. latency, where given: measured = sum(compute) + 8 * comm_predicted / bandwidth + rounds * rtt, a second
     NNLS for the compute coefficients and an *effective* bandwidth and RTT. Rounds formulas may not contain
     coefficients (rounds x RTT would not be linear).
The fitted table records the data, the coefficients, and the residuals of every row.
"""
from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from pidse.calibrate.csvfile import is_file, number, read_csv
from pidse.cost import mpc
from pidse.cost.family import GRADES
from pidse.cost.formula import FormulaError
from pidse.cost.mpc import MAX_COST, METRICS
from pidse.cost.setting import load_networks
from pidse.errors import InputError
from pidse.files import dump_yaml, write_text_atomic
from pidse.model.estimate import estimate
from pidse.ops import formula_symbols, shape_values
from pidse.schema import BANDWIDTH_BPS, RTT_S, from_mapping, suggest
from pidse.spec.labels import resolve_label
from pidse.spec.load import load_spec, read_mapping

# What a measurement may say (beyond these it is a typo, and the fit's relative errors would overflow).
# (column, factor to bytes or seconds, lowest, highest), in the column's own unit.
COMM = (("comm_bytes", 1.0, 1.0, MAX_COST), ("comm_gb", 1e9, 1e-9, MAX_COST / 1e9))
LATENCY = (("latency_s", 1.0, 1e-9, 1e12), ("latency_min", 60.0, 1e-9, 1e10))
WEIGHT = (("weight", 1.0, 1e-6, 1e6),)
MAX_PENALTY = 1e6


@dataclass
class Row:
    """One measured configuration: a spec (with overrides) and what was measured."""
    name: str
    spec: object  # Spec
    comm_bytes: float
    latency_s: float | None
    network: str | None
    source: str
    weight: float = 1.0  # how much this row's relative error counts


@dataclass
class Fit:
    coefficients: dict  # name -> value (comm and compute coefficients)
    bandwidth_bps: float | None
    rtt_s: float | None
    residuals: list  # per row dicts
    table: dict  # the fitted cost table, ready to dump as YAML
    warnings: list


# ---- reading measurements ------------------------------------------------------------------------------

def read_rows(path: str | Path) -> list[Row]:
    """Measured rows from CSV. Columns: `spec` (+ optional `set`, ';'-separated overrides) or AERO's
    `family`,`arch` labels (+ `layers`,`heads`,`d_model`,`vocab`); `context`; `comm_bytes` or `comm_gb`;
    optional `latency_s` or `latency_min`; optional `network` (preset the measurement claims), `source`."""
    path = Path(path)
    rows = []
    presets = load_networks()
    for line, rec in read_csv(path, "measurements", ("context",)):
        where = f"line {line}"
        if rec.get("spec"):
            spec_path = (path.parent / rec["spec"]) if not is_file(rec["spec"]) else rec["spec"]
            overrides = [s for s in (rec.get("set") or "").split(";") if s.strip()]
        else:
            spec_path, overrides = resolve_label(rec.get("family") or "", rec.get("arch") or "", rec,
                                                 f"{path}: {where}")
        context = number(rec["context"], path, f"{where}: context", 1, 2**31, whole=True)
        comm = _number(rec, where, path, COMM)
        latency = _number(rec, where, path, LATENCY, required=False)
        weight = _number(rec, where, path, WEIGHT, required=False) or 1.0
        network = rec.get("network") or None
        if network is not None and network not in presets:
            raise InputError(path, f"{where}: network", "a network preset (" + ", ".join(presets) + ") or empty"
                             + suggest(network, presets), network)
        spec = load_spec(spec_path, overrides, context)
        name = rec.get("label") or rec.get("arch") or spec.name
        rows.append(Row(f"{name} T={context}", spec, comm, latency, network, rec.get("source", ""), weight))
    if not rows:
        raise InputError(path, None, "at least one measurement row")
    return rows


def _number(rec, where, path, columns, required=True):
    """The first of `columns` ((name, factor, lowest, highest)) given in the row, times its factor."""
    for column, factor, low, high in columns:
        if rec.get(column) not in (None, ""):
            return number(rec[column], path, f"{where}: {column}", low, high) * factor
    if required:
        raise InputError(path, where, "one of the columns " + ", ".join(c[0] for c in columns))
    return None


# ---- the template ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Calibration:
    """A template's `calibration:` options (pidse/schema.py checks keys and types)."""
    method: Literal["lsq", "minimax"] = "lsq"
    penalty: float = 1e-3  # the ridge weight of each penalised term
    penalised: tuple[str, ...] = ()  # coefficients used only where they cut the error enough


class Template:
    """Cost formulas with coefficient symbols, split into per-coefficient feature functions. The template is
    validated as a cost table is (pidse.cost.mpc.load), its formulas free to name coefficients."""

    def __init__(self, path: str | Path):
        import sympy
        self.path = str(path)
        if not is_file(path):
            raise InputError(path, None, "an existing template: a cost table YAML whose formulas name coefficients")
        self.raw = read_mapping(Path(path))
        table = mpc.load(self.path, self.raw, coefficients=True)
        self.constants = table.constants
        self.terms: dict = {}  # (kind, metric) -> [(coef or None, numpy function of shape values)]
        self.coefficients: dict[str, str] = {}  # name -> metric family ("comm_bytes" / "compute_s")
        options = from_mapping(Calibration, self.raw.get("calibration"), self.path, "calibration")
        if not 0 <= options.penalty <= MAX_PENALTY:
            raise InputError(self.path, "calibration.penalty", f"a number from 0 to {MAX_PENALTY:g}", options.penalty)
        self.method = options.method
        self.unknown = set(table.unknown)
        for kind, entry in table.entries.items():
            shape_syms = formula_symbols(kind) | set(self.constants)
            for metric in METRICS:
                try:
                    expr = entry.formulas[metric].sympy()
                except FormulaError as err:
                    raise InputError(self.path, f"ops.{kind}.{metric}", f"a formula with a finite value ({err})") \
                        from None
                coefs = sorted((s for s in expr.free_symbols if s.name not in shape_syms), key=str)
                if metric == "rounds" and coefs:
                    raise InputError(self.path, f"ops.{kind}.rounds", "no coefficients (rounds x RTT is not "
                                     "linear); give rounds as a formula of the shape", str(expr))
                args = sorted((s for s in expr.free_symbols if s.name in shape_syms), key=str)
                parts = []
                for c in coefs:
                    term = sympy.diff(expr, c)
                    if term.free_symbols & set(coefs):
                        raise InputError(self.path, f"ops.{kind}.{metric}", f"a formula linear in its "
                                         f"coefficients ({c} is not)", str(expr))
                    parts.append((c.name, sympy.lambdify(args, term, "numpy"), args))
                    prev = self.coefficients.setdefault(c.name, metric)
                    if prev != metric:
                        raise InputError(self.path, f"ops.{kind}.{metric}", f"coefficient {c} used for one "
                                         f"metric only (it is also in {prev})")
                rest = expr.subs({c: 0 for c in coefs})
                parts.append((None, sympy.lambdify(args, rest, "numpy"), args))
                self.terms[(kind, metric)] = (expr, parts)
        if not self.coefficients:
            raise InputError(self.path, "ops", "formulas that name at least one coefficient to fit (a name that is "
                             "neither an op's shape symbol nor a table constant, e.g. c_gelu * elements)")
        for name in options.penalised:
            if name not in self.coefficients:
                raise InputError(self.path, "calibration.penalised", "names of the template's coefficients"
                                 + suggest(name, self.coefficients), name)
        self.penalised = {name: options.penalty for name in options.penalised}

    def features(self, row_ops: list[dict], metric: str) -> tuple[dict, float]:
        """For one model: {coefficient: summed feature}, and the coefficient-free remainder."""
        feats, rest = {}, 0.0
        for op in row_ops:
            kind = op["kind"]
            if kind in self.unknown or (kind, metric) not in self.terms:
                raise InputError(self.path, f"ops.{kind}", f"an entry: the data uses op kind '{kind}'")
            values = {**self.constants, **shape_values(kind, op["shape"], op.get("attrs"))}
            for coef, fn, args in self.terms[(kind, metric)][1]:
                value = self._value(fn, [values[a.name] for a in args], kind, metric, op["op"])
                if coef is None:
                    rest += value
                else:
                    feats[coef] = feats.get(coef, 0.0) + value
        return feats, rest

    def _value(self, fn, args: list, kind: str, metric: str, op: str) -> float:
        """One term at one op's shape: a finite number of at most MAX_COST, or an error naming the entry."""
        try:
            with np.errstate(all="ignore"):
                value = float(fn(*[float(a) for a in args]))  # floats: an integer power must not run for ever
        except (ArithmeticError, ValueError, TypeError):
            value = math.nan
        if not abs(value) <= MAX_COST:
            raise InputError(self.path, f"ops.{kind}.{metric}", f"a formula whose terms are finite and at most "
                             f"{MAX_COST:g} at every measured shape (op {op})")
        return value


# ---- fitting ----------------------------------------------------------------------------------------------

def fit_relative(features: list[dict], rest: np.ndarray, target: np.ndarray, names: list[str],
                 penalised: dict | None = None, method: str = "lsq", weights=None) -> np.ndarray:
    """Non-negative coefficients x for target ~ A x + rest, judged by relative error.

    lsq:     min ||r||^2 + sum_j lambda_j (x_j s_j)^2   (scipy.optimize.nnls)
    minimax: min max|r| + sum_j lambda_j x_j s_j        (a linear program, scipy.optimize.linprog)
    with r = w (A x + rest - target) / target, w the row weights. Columns are scaled (s_j = largest relative contribution) so a
    penalty means the same for every term: a penalised term is used only where it cuts the error enough.
    """
    if not names:  # nothing to fit (scipy's solvers must not see an empty matrix: nnls crashes on one)
        return np.zeros(0)
    w = np.ones(len(target)) if weights is None else np.asarray(weights, dtype=float)
    A = np.array([[f.get(n, 0.0) for n in names] for f in features]) * (w / target)[:, None]
    b = (target - rest) * w / target
    scale = np.maximum(np.abs(A).max(axis=0), 1e-300)
    A = A / scale
    lam = np.array([(penalised or {}).get(n, 0.0) for n in names])
    if method == "minimax":
        from scipy.optimize import linprog

        n, m = len(names), len(b)
        cost = np.concatenate([lam, [1.0]])  # variables: x (n), t
        ones = np.ones((m, 1))
        A_ub = np.vstack([np.hstack([A, -ones]), np.hstack([-A, -ones])])
        b_ub = np.concatenate([b, -b])
        result = linprog(cost, A_ub=A_ub, b_ub=b_ub, bounds=[(0, None)] * (n + 1), method="highs")
        if not result.success:
            raise RuntimeError(f"minimax calibration failed: {result.message}")
        return result.x[:n] / scale
    if method != "lsq":
        raise ValueError(f"unknown calibration method {method!r}; expected lsq or minimax")
    from scipy.optimize import nnls

    ridge = np.sqrt(lam[lam > 0])[:, None] * np.eye(len(names))[lam > 0]
    x, _ = nnls(np.vstack([A, ridge]), np.concatenate([b, np.zeros(len(ridge))]), maxiter=50 * len(names) + 500)
    return x / scale


def fit(template_path: str | Path, rows: list[Row]) -> Fit:
    template = Template(template_path)
    ops = [estimate(r.spec).ops for r in rows]
    warnings = []

    # 1. communication
    comm_names = sorted(n for n, m in template.coefficients.items() if m == "comm_bytes")
    comm_feats, comm_rest = zip(*(template.features(o, "comm_bytes") for o in ops))
    measured_comm = np.array([r.comm_bytes for r in rows])
    weights = np.array([r.weight for r in rows])
    x = fit_relative(list(comm_feats), np.array(comm_rest), measured_comm, comm_names, method=template.method,
                     weights=weights)
    coefficients = dict(zip(comm_names, x))
    predicted_comm = np.array([rest + sum(coefficients[n] * f.get(n, 0.0) for n in comm_names)
                               for f, rest in zip(comm_feats, comm_rest)])

    # 2. latency, where measured
    compute_names = sorted(n for n, m in template.coefficients.items() if m == "compute_s")
    timed = [i for i, r in enumerate(rows) if r.latency_s is not None]
    bandwidth = rtt = None
    predicted_latency = [None] * len(rows)
    if timed:
        feats, rests = [], []
        for i in timed:
            f, rest = template.features(ops[i], "compute_s")
            rounds = template.features(ops[i], "rounds")[1]
            f = {**f, "_inv_bandwidth": 8.0 * predicted_comm[i], "_rtt": rounds}
            feats.append(f)
            rests.append(rest)
        names = compute_names + ["_inv_bandwidth", "_rtt"]
        measured = np.array([rows[i].latency_s for i in timed])
        y = dict(zip(names, fit_relative(feats, np.array(rests), measured, names, template.penalised,
                                         template.method, weights[timed])))
        bandwidth = 1.0 / y["_inv_bandwidth"] if y["_inv_bandwidth"] > 0 else math.inf
        rtt = y["_rtt"]
        coefficients.update({n: y[n] for n in compute_names})
        for i, f, rest in zip(timed, feats, rests):
            predicted_latency[i] = rest + sum(y[n] * f.get(n, 0.0) for n in names)
        if not (BANDWIDTH_BPS[0] <= bandwidth <= BANDWIDTH_BPS[1] and RTT_S[0] <= rtt <= RTT_S[1]):
            warnings.append("the latencies do not determine a network (fitted bandwidth "
                            f"{_rate_text(bandwidth)}, RTT {rtt:.3g} s): none written to the table")
            bandwidth = rtt = None
        else:
            warnings += _network_warnings(rows, timed, predicted_comm, bandwidth)
    elif compute_names:
        warnings.append("no latency measurements: compute coefficients left at 0 and no network fitted")
        coefficients.update({n: 0.0 for n in compute_names})

    residuals = []
    for i, r in enumerate(rows):
        res = {"row": r.name, "comm_bytes": r.comm_bytes, "comm_bytes_fit": float(predicted_comm[i]),
               "comm_error_pct": 100.0 * (predicted_comm[i] / r.comm_bytes - 1)}
        if r.latency_s is not None:
            res.update(latency_s=r.latency_s, latency_s_fit=float(predicted_latency[i]),
                       latency_error_pct=100.0 * (predicted_latency[i] / r.latency_s - 1))
        residuals.append(res)
    for name in template.coefficients:
        if name in coefficients and coefficients[name] == 0.0:
            warnings.append(f"coefficient {name} fitted to 0: the data do not support this term")
    table = _fitted_table(template, coefficients, bandwidth, rtt, rows, residuals, warnings)
    return Fit(coefficients, bandwidth, rtt, residuals, table, warnings)


def _network_warnings(rows, timed, predicted_comm, bandwidth) -> list[str]:
    """Flag measurements whose bytes could not have crossed the network they claim in the time they took."""
    presets = load_networks()
    worst = None
    for i in timed:
        claimed = presets.get(rows[i].network) if rows[i].network else None
        needed_bps = 8.0 * rows[i].comm_bytes / rows[i].latency_s
        if claimed and needed_bps > claimed.bandwidth_bps and (worst is None or needed_bps > worst[0]):
            worst = (needed_bps, rows[i], claimed)
    if worst is None:
        return []
    needed_bps, row, claimed = worst
    return [f"inconsistent network: {row.name} moved {row.comm_bytes / 1e9:.2f} GB in {row.latency_s / 60:.2f} "
            f"min, at least {needed_bps / 1e6:.0f} Mbps, but its stated network {claimed.name} has "
            f"{claimed.bandwidth_bps / 1e6:.0f} Mbps; the fitted effective bandwidth is {bandwidth / 1e6:.0f} Mbps"]


def _rate_text(bps: float) -> str:
    return "unbounded" if bps == math.inf else f"{bps:.3g} bit/s"


def _overrides_text(spec) -> str:
    return f"context={spec.context}, layers={spec.model.layers}, vocab={spec.model.vocab_size}, " \
           f"prune_last={spec.ffn.prune_last}"


def _number_text(value: float) -> str:
    return f"{value:.6g}"


def _fitted_table(template, coefficients, bandwidth, rtt, rows, residuals, warnings) -> dict:
    raw = template.raw
    table = {k: v for k, v in raw.items() if k not in ("ops", "fit", "calibration")}
    ops = {}
    for kind, entry in raw["ops"].items():
        if kind in template.unknown:
            ops[kind] = entry
            continue
        out = {}
        fitted_here = False
        for metric in METRICS:
            expr = template.terms[(kind, metric)][0]
            subs = {s: coefficients[s.name] for s in expr.free_symbols if s.name in coefficients}
            fitted_here |= bool(subs)
            out[metric] = _formula_text(expr.subs(subs)) if subs else str(entry[metric])
        out["source"] = (f"fitted to {len(rows)} measured rows (see fit); template: {entry.get('source', '')}"
                         if fitted_here else entry.get("source", ""))
        out["grade"] = "derived" if fitted_here else entry.get("grade", "estimate")
        if out["grade"] not in GRADES:
            out["grade"] = "estimate"
        ops[kind] = out
    table["ops"] = ops
    if bandwidth is not None:
        table["network"] = {"name": f"{raw['name']}-effective", "bandwidth_bps": float(_number_text(bandwidth)),
                            "rtt_s": float(_number_text(rtt)),
                            "source": "effective network fitted to the measured latencies"}
    table["fit"] = {
        "date": datetime.date.today().isoformat(),
        "method": {"lsq": "non-negative least squares on relative error (scipy.optimize.nnls)",
                   "minimax": "non-negative minimax relative error (linear program, scipy.optimize.linprog)"}
        [template.method],
        "template": Path(template.path).name,
        "penalised": template.penalised,
        "coefficients": {k: float(_number_text(v)) for k, v in sorted(coefficients.items())},
        "effective_network": None if bandwidth is None else {"bandwidth_bps": float(_number_text(bandwidth)),
                                                             "rtt_s": float(_number_text(rtt))},
        "warnings": warnings,
        "data": [{"row": r.name, "spec": r.spec.source, "overrides": _overrides_text(r.spec), "weight": r.weight,
                  "source": r.source} for r in rows],
        "residuals": [{k: (round(float(v), 3) if k.endswith("pct") else
                           float(_number_text(v)) if isinstance(v, float) else v) for k, v in res.items()}
                      for res in residuals],
    }
    return table


def _formula_text(expr) -> str:
    """A sympy expression back to the formula grammar (ceil, log2, max, min), numbers to 6 digits."""
    import sympy

    expr = expr.xreplace({n: sympy.Float(_number_text(float(n))) for n in expr.atoms(sympy.Float)})
    text = sympy.pycode(expr, fully_qualified_modules=False, standard="python3")
    for py, ours in (("math.ceil", "ceil"), ("math.floor", "floor"), ("math.log2", "log2"),
                     ("math.log", "log"), ("math.sqrt", "sqrt")):
        text = text.replace(py, ours)
    return text


def write_fitted(table: dict, path: str | Path, rows: int) -> None:
    """Write a fitted table (fitted to `rows` measurements) atomically, with a header naming how it was made."""
    header = (f"# Generated by `pidse calibrate` from {rows} measured rows "
              f"({table['fit']['date']}); edit the template and re-run rather than this file.\n")
    write_text_atomic(path, header + dump_yaml(table))


def write_table(result: Fit, path: str | Path) -> None:
    """Write a fit's table atomically (a crash never leaves half a table)."""
    write_fitted(result.table, path, len(result.residuals))
