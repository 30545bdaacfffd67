"""Issue 17 on cost tables, formulas, networks, calibration and published rows: one focused test per class of
bad input (each failed before the fix: a traceback, a hang, or a NaN/negative cost accepted with exit 0), and a
property-based fuzz over the same surfaces (fast here; many more examples with -m slow).

The bar everywhere: an InputError naming the file and key (one line, exit 2 on the command line), or a result
whose every cost is a finite number >= 0."""
from __future__ import annotations

import contextlib
import copy
import math
import signal
import string

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import assert_one_line_error, invoke, write_yaml
from hostile.cases_calibrate import CKKS_TEMPLATE, HEADER, PUBLISHED_HEADER, PUBLISHED_ROW, ROWS, TEMPLATE, TOTALS
from hostile.cases_tables import BASE, CKKS, OK_ENTRY, SPEC
from pidse.calibrate import calibrate_file
from pidse.calibrate.fit import fit_relative, read_rows
from pidse.calibrate.published import read_rows as read_published
from pidse.cost.formula import Formula, FormulaError
from pidse.cost.registry import load_table
from pidse.cost.setting import resolve_network
from pidse.errors import InputError
from pidse.model.estimate import estimate
from pidse.ops import formula_symbols
from pidse.schema import bandwidth_bps, int_list, name_list, seconds
from pidse.spec.load import load_spec

COSTS = ("comm_bytes", "rounds", "compute_s", "latency_s")


@contextlib.contextmanager
def within(limit_s: int):
    """Fail (rather than hang the suite) when the block runs longer than `limit_s`."""
    def alarm(signum, frame):
        raise TimeoutError(f"no answer within {limit_s} s")
    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(limit_s)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def table_file(tmp_path, data, name: str = "t.yaml"):
    return write_yaml(tmp_path / name, data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))


def with_formula(text, metric: str = "comm_bytes", kind: str = "softmax", **top) -> dict:
    data = copy.deepcopy(BASE)
    data["ops"][kind] = {**OK_ENTRY, metric: text}
    data.update(top)
    return data


def priced(tmp_path, data, **kwargs):
    """Load the table and price the tiny spec with it: the estimate, or the InputError raised."""
    spec = load_spec(write_yaml(tmp_path / "s.yaml", SPEC))
    with within(10):
        return estimate(spec, table=load_table(str(table_file(tmp_path, data))), **kwargs)


def bad(tmp_path, data, *needles, **kwargs) -> str:
    with pytest.raises(InputError) as err:
        priced(tmp_path, data, **kwargs)
    line = str(err.value)
    assert all(n in line for n in needles), line
    assert "\n" not in line
    return line


def test_the_corpus_bases_are_valid(tmp_path):
    """Every hostile case breaks one thing in these: they must price (else a case passes for another reason)."""
    for data in (BASE, CKKS):
        est = priced(tmp_path, data)
        assert all(math.isfinite(r[c]) and r[c] >= 0 for r in est.ops for c in COSTS)


# ---- table structure: wrong types crashed with TypeError/AttributeError ---------------------------------------
@pytest.mark.parametrize("top, needle", [
    ({"ops": [1, 2]}, "ops"),
    ({"ops": {1: dict(OK_ENTRY)}}, "ops.1"),
    ({"constants": [1, 2]}, "constants"),
    ({"constants": {"w": float("nan")}}, "constants.w"),
    ({"family": ["mpc"]}, "family"),
    ({"parties": 0}, "parties"),
], ids=["ops-list", "ops-int-key", "constants-list", "constants-nan", "family-list", "parties-zero"])
def test_mpc_table_of_wrong_types_is_one_line(tmp_path, top, needle):
    bad(tmp_path, {**BASE, **top}, "t.yaml", needle)


@pytest.mark.parametrize("changes, needle", [
    ({"params": [1]}, "params"),
    ({"params": {**CKKS["params"], "slots": 0}}, "params.slots"),
    ({"params": {**CKKS["params"], "levels_fresh": 10**9}}, "params.levels_fresh"),
    ({"primitives": {**CKKS["primitives"], "rot": {"seconds": float("nan"), "source": "s", "grade": "estimate"}}},
     "primitives.rot.seconds"),
    ({"ops": {"gelu": {"degree": 10**9}}}, "ops.gelu.degree"),
    ({"packing": 5}, "packing"),
], ids=["params-list", "slots-zero", "levels-huge", "seconds-nan", "degree-huge", "packing-number"])
def test_ckks_table_of_wrong_types_or_sizes_is_one_line(tmp_path, changes, needle):
    bad(tmp_path, {**CKKS, **changes}, "t.yaml", needle)


# ---- formulas: division by zero, argument counts, overflow, hangs, depth ---------------------------------------
@pytest.mark.parametrize("text", ["1/0", "elements / 0", "elements/(elements-elements)", "log(0)", "sqrt(-1)",
                                  "log(elements - elements)", "sqrt(0 - elements)", "(0 - elements)**0.5",
                                  "0**-1"])
def test_no_division_by_zero_or_non_real_value(tmp_path, text):
    line = bad(tmp_path, with_formula(text), "t.yaml", "ops.softmax")
    assert "L0.attn.softmax" in line or "comm_bytes" in line  # the op, or the entry's formula at load


@pytest.mark.parametrize("text, count", [("max()", "at least 2"), ("max(elements)", "at least 2"),
                                         ("ceil(1, 2, 3)", "1 argument"), ("log(elements, 2)", "1 argument")])
def test_function_argument_counts(text, count):
    with pytest.raises(FormulaError, match=count):
        Formula(text)


def test_max_and_min_take_two_or_more():
    assert Formula("max(rows, cols, 7)")(rows=3, cols=5) == 7
    assert Formula("min(rows, cols, 7)")(rows=3, cols=5) == 3


@pytest.mark.parametrize("text", ["2**(elements * 100)", "3**(elements * 1000)", "elements**elements",
                                  "1e29 * elements"])
def test_overflow_at_a_shape_names_the_entry_and_the_op(tmp_path, text):
    bad(tmp_path, with_formula(text), "ops.softmax", "L0.attn.softmax", "comm_bytes")


@pytest.mark.parametrize("text", ["10.0**400", "9**9**9**9", "10**10**8", "(10**300)**300", "9" * 1500,
                                  "1e999", "(elements + rows)**64", "((rows + cols)**8)**8"])
def test_huge_constants_and_exponents_are_refused_at_once(text):
    with within(2), pytest.raises(FormulaError):
        Formula(text)


@pytest.mark.parametrize("text", ["-" * 100_000 + "1", "-" * 1000 + "1", "(" * 300 + "1" + ")" * 300,
                                  " + ".join(["elements"] * 1000)])
def test_deep_or_long_formulas_are_refused(text):
    with within(2), pytest.raises(FormulaError):
        Formula(text)


@pytest.mark.parametrize("text", ["(elements + rows)**9", "(batch + cols + elements + kept + rows)**5",
                                  "(elements + rows + cols)**4 * (batch + kept + rows)**4"])
def test_formulas_sympy_cannot_expand_quickly_are_refused(text):
    with pytest.raises(FormulaError, match="terms when expanded"):
        Formula(text)


def test_table_constants_do_not_count_towards_the_degree():
    assert Formula("(a + b + c + d + e)**8 * elements", {"a", "b", "c", "d", "e"})
    with pytest.raises(FormulaError):
        Formula("(a + b + c + d + e)**8 * elements")


def largest_allowed_table() -> dict:
    """Every formula of every op kind at the limits: 84 terms of degree 6 ((four sizes)**6), or (three)**8."""
    data = copy.deepcopy(BASE)
    for kind in data["ops"]:
        sizes = sorted(formula_symbols(kind))
        text = "(" + " + ".join(sizes[:4]) + (")**6" if len(sizes) >= 4 else ")**8")
        data["ops"][kind] = {**OK_ENTRY, "comm_bytes": text, "rounds": text, "compute_s": text}
    return data


@pytest.mark.slow
def test_closed_forms_of_the_largest_formulas_allowed_finish(tmp_path):
    table = table_file(tmp_path, largest_allowed_table())
    spec = write_yaml(tmp_path / "s.yaml", SPEC)
    with within(10):
        assert invoke("formula", spec, "-p", table, "-m", "latency", "--by", "kind").exit_code == 0
    with within(10):
        assert invoke("scaling", spec, "-p", table, "-T", "2:4").exit_code == 0


def test_scaling_crossovers_of_a_high_degree_formula(tmp_path):
    """sympy's nroots does not converge on this T^16 polynomial (mpmath NoConvergence): solve_t falls back to
    bisection."""
    table = table_file(tmp_path, with_formula("(elements - rows)**8 + elements"))
    spec = write_yaml(tmp_path / "s.yaml", SPEC)
    result = invoke("scaling", spec, "-p", table, "-T", "2:4")
    assert result.exit_code == 0, result.output[-300:]


def test_integer_powers_stay_exact_while_small():
    assert Formula("rows ** 3")(rows=2**40) == 2**120  # exact: floating point would round it
    assert Formula("2 ** ceil(log2(rows))")(rows=5) == 8


# ---- a non-finite or negative cost is an error naming the table entry and the op -------------------------------
@pytest.mark.parametrize("data, needles", [
    (with_formula("-1e30"), ("ops.softmax.comm_bytes",)),
    (with_formula("0 - elements"), ("ops.softmax", "L0.attn.softmax")),
    (with_formula("w * elements", constants={"w": -3}), ("ops.softmax", "L0.attn.softmax")),
    (with_formula("-1", "rounds", "gelu"), ("ops.gelu.rounds",)),
    (with_formula("-1e-9 * m", "compute_s", "linear"), ("ops.linear", "L0.attn.q", "compute_s")),
], ids=["negative-constant", "negative-at-shape", "negative-table-constant", "negative-rounds", "negative-compute"])
def test_negative_costs_are_errors(tmp_path, data, needles):
    bad(tmp_path, data, *needles)


@pytest.mark.parametrize("network", [{"bandwidth_bps": 0, "rtt_s": 0.01}, {"bandwidth_bps": float("nan"), "rtt_s": 0},
                                     {"bandwidth_bps": -1e9, "rtt_s": 0}, {"bandwidth_bps": 1e9, "rtt_s": -1},
                                     {"bandwidth_bps": 1e9, "rtt_s": float("inf")}, {"bandwidth_bps": 1e-300,
                                                                                      "rtt_s": 0}],
                         ids=["zero", "nan", "negative", "negative-rtt", "inf-rtt", "tiny"])
def test_table_networks_are_finite_and_in_range(tmp_path, network):
    bad(tmp_path, {**BASE, "network": network}, "t.yaml", "network.")


@pytest.mark.parametrize("seconds_", [float("nan"), float("inf"), -1, {1: float("nan")}])
def test_ckks_seconds_are_finite_and_in_range(tmp_path, seconds_):
    primitives = {**CKKS["primitives"], "rot": {"seconds": seconds_, "source": "s", "grade": "estimate"}}
    bad(tmp_path, {**CKKS, "primitives": primitives}, "primitives.rot.seconds")


@pytest.mark.parametrize("option, value", [("--bandwidth", "nan"), ("--bandwidth", "0"), ("--bandwidth", "1e-300"),
                                           ("--bandwidth", "1e400"), ("--bandwidth", "9" * 100_000),
                                           ("--rtt", "inf"), ("--rtt", "-1ms"), ("--rtt", "nan")])
def test_network_options_are_finite_and_in_range(tmp_path, option, value):
    table = table_file(tmp_path, BASE)
    spec = write_yaml(tmp_path / "s.yaml", SPEC)
    assert_one_line_error(invoke("estimate", spec, "-p", table, option, value), option)


def test_python_api_network_values_are_checked_too():
    with pytest.raises(InputError, match="--bandwidth"):
        resolve_network("lan", bandwidth_bps=float("nan"))
    with pytest.raises(InputError, match="--rtt"):
        resolve_network("lan", rtt_s=float("inf"))


def test_hardware_is_finite_and_in_range(tmp_path):
    bad(tmp_path, {**BASE, "hardware": {"kind": "cpu", "threads": float("inf"), "ghz": 2}}, "hardware.threads")
    bad(tmp_path, {**BASE, "hardware": "cray-1"}, "t.yaml", "hardware")  # names the table, not --hardware


# ---- one behaviour for look-alike characters: refused by estimate and formula alike ---------------------------
def test_fullwidth_names_are_refused_by_estimate_and_formula(tmp_path):
    table = table_file(tmp_path, with_formula("ｍａｘ(elements, 1)"))
    spec = write_yaml(tmp_path / "s.yaml", SPEC)
    for command in ("estimate", "formula"):
        assert_one_line_error(invoke(command, spec, "-p", table), "ops.softmax.comm_bytes", "ASCII")


def test_formula_command_refuses_non_real_closed_forms(tmp_path):
    table = table_file(tmp_path, with_formula("sqrt(0 - elements)"))
    spec = write_yaml(tmp_path / "s.yaml", SPEC)
    assert_one_line_error(invoke("formula", spec, "-p", table), "ops.softmax.comm_bytes")


# ---- table files and extends chains --------------------------------------------------------------------------
def test_table_files_that_are_not_tables(tmp_path):
    (tmp_path / "dir.yaml").mkdir()
    (tmp_path / "bin.yaml").write_bytes(bytes(range(256)))
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "huge.yaml").write_text("# " + "x" * (5 << 20))
    for name in ("dir.yaml", "bin.yaml", "empty.yaml", "huge.yaml", "t" * 300 + ".yaml"):
        with pytest.raises(InputError):
            load_table(str(tmp_path / name))


@pytest.mark.parametrize("files, needle", [
    ({"t.yaml": "extends: u.yaml\nname: t\n", "u.yaml": "extends: t.yaml\nname: u\n"}, "no cycle"),
    ({"t.yaml": "extends: /etc/passwd\nname: t\n"}, ".yaml or .yml"),
    ({"t.yaml": "extends: \"a\\0b.yaml\"\nname: t\n"}, "extends"),
    ({"t.yaml": "extends: " + "x" * 5000 + ".yaml\nname: t\n"}, "extends"),
    ({"t.yaml": "extends: c1.yaml\nname: t\n",
      **{f"c{i}.yaml": f"extends: c{i + 1}.yaml\nname: c\n" for i in range(1, 60)}}, "at most"),
], ids=["cycle", "not-a-table", "nul", "long-name", "deep"])
def test_extends_chains(tmp_path, files, needle):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with within(10), pytest.raises(InputError, match=needle):
        load_table(str(tmp_path / "t.yaml"))


def test_extends_child_sections_are_checked_before_merging(tmp_path):
    table_file(tmp_path, BASE, "base.yaml")
    (tmp_path / "t.yaml").write_text("extends: base.yaml\nname: t\nops: [1, 2]\n")
    with pytest.raises(InputError, match="ops"):
        load_table(str(tmp_path / "t.yaml"))


# ---- calibration ------------------------------------------------------------------------------------------------
def fit_files(tmp_path, data_text=None, template=None):
    write_yaml(tmp_path / "s.yaml", SPEC)
    data = tmp_path / "d.csv"
    data.write_text(data_text if data_text is not None else HEADER + "\n".join(ROWS) + "\n")
    tpl = table_file(tmp_path, TEMPLATE if template is None else template, "tpl.yaml")
    return data, tpl


@pytest.mark.parametrize("column, value", [("comm_bytes", "nan"), ("comm_bytes", "inf"), ("weight", "nan"),
                                           ("latency_s", "-inf"), ("context", "4.5")])
def test_calibration_numbers_are_finite(tmp_path, column, value):
    header = HEADER.strip().split(",")
    cells = ROWS[0].split(",")
    cells[header.index(column)] = value
    data, _ = fit_files(tmp_path, HEADER + ",".join(cells) + "\n" + "\n".join(ROWS[1:]) + "\n")
    with pytest.raises(InputError, match=f"line 2: {column}"):
        read_rows(data)


@pytest.mark.parametrize("change, needle", [
    (lambda t: t.pop("ops"), "ops"),
    (lambda t: t["ops"]["softmax"].pop("rounds"), "ops.softmax.rounds"),
    (lambda t: t["calibration"].update(method="bogus"), "calibration.method"),
    (lambda t: t["calibration"].update(penalty="abc"), "calibration.penalty"),
    (lambda t: t["calibration"].update(penalty=float("nan")), "calibration.penalty"),
    (lambda t: t["calibration"].update(penalised=["k_nope"]), "calibration.penalised"),
    (lambda t: t["ops"]["softmax"].update(comm_bytes="c_a * 2**(elements * 100)"), "ops.softmax.comm_bytes"),
], ids=["no-ops", "no-rounds", "method-bogus", "penalty-word", "penalty-nan", "penalised-unknown", "overflow"])
def test_calibration_templates_are_validated(tmp_path, change, needle):
    template = copy.deepcopy(TEMPLATE)
    change(template)
    data, tpl = fit_files(tmp_path, template=template)
    with within(20), pytest.raises(InputError, match=needle.replace(".", r"\.")):
        calibrate_file(data, tpl)


def test_a_template_without_coefficients_is_refused_and_nothing_crashes_the_solver(tmp_path):
    data, tpl = fit_files(tmp_path, template=BASE)  # scipy's nnls freed memory twice on an empty matrix
    with pytest.raises(InputError, match="at least one coefficient"):
        calibrate_file(data, tpl)
    for method in ("lsq", "minimax"):
        assert fit_relative([{}], np.zeros(1), np.ones(1), [], method=method).shape == (0,)


@pytest.mark.parametrize("out", ["nope/fitted.yaml", ".", "f" * 300 + ".yaml"], ids=["missing-folder", "folder",
                                                                                     "long-name"])
def test_calibration_output_is_checked_first(tmp_path, out):
    data, tpl = fit_files(tmp_path)
    with pytest.raises(InputError):
        calibrate_file(data, tpl, tmp_path / out)


def test_ckks_derivation_rules_are_validated(tmp_path):
    write_yaml(tmp_path / "s.yaml", SPEC)
    (tmp_path / "d.csv").write_text("spec,set,context,quantity,seconds,source\n" + "\n".join(TOTALS) + "\n")
    for rule in ("nan * rot", "2 * rot * 3", "magic"):
        template = copy.deepcopy(CKKS_TEMPLATE)
        template["primitives"]["cmul"]["derive"] = rule
        tpl = table_file(tmp_path, template, "tpl.yaml")
        with pytest.raises(InputError, match="primitives.cmul"):
            calibrate_file(tmp_path / "d.csv", tpl)


# ---- published measurements ------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, needle", [
    (PUBLISHED_HEADER.replace(",op,", ",operation,") + ",".join(PUBLISHED_ROW.values()) + "\n", "op"),
    (PUBLISHED_HEADER + ",".join({**PUBLISHED_ROW, "note": "x" * 200_000}.values()) + "\n", "131,072"),
    (PUBLISHED_HEADER + ",".join({**PUBLISHED_ROW, "comm_gb_published": "lots"}.values()) + "\n",
     "comm_gb_published"),
    (PUBLISHED_HEADER + ",".join({**PUBLISHED_ROW, "layers": "nan"}.values()) + "\n", "layers"),
], ids=["missing-column", "huge-cell", "junk-number", "nan-size"])
def test_published_csv_errors(tmp_path, text, needle):
    path = tmp_path / "p.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=needle):
        read_published(path)


# ---- fuzz -----------------------------------------------------------------------------------------------------
JUNK = st.one_of(
    st.sampled_from([float("nan"), float("inf"), float("-inf"), -1, 0, 10**30, 2**64, 1e-300, True, None, "",
                     "nan", "１", "ｍａｘ", [], {}, [1, 2], {"a": 1}, "1/0", "9**9**9**9", "-" * 5000, "x" * 300]),
    st.integers(), st.floats(), st.text(max_size=30))
FORMULA_TOKENS = st.sampled_from(["elements", "rows", "cols", "batch", "kept", "w", "1", "0", "2", "0.5", "1e300",
                                  "-", "+", "*", "/", "**", "(", ")", ",", "max(", "min(", "ceil(", "floor(",
                                  "log(", "log2(", "sqrt(", " ", "ｍ", "_", "9"])


def check_priced(tmp_path, data):
    """Either an InputError, or every cost of every op finite and >= 0."""
    try:
        est = priced(tmp_path, data)
    except InputError as err:
        assert "\n" not in str(err)
        return
    for row in est.ops:
        for c in COSTS:
            assert row[c] is None or (math.isfinite(row[c]) and row[c] >= 0), (row["op"], c, row[c])


def mutated(data: dict, draw) -> dict:
    """`data` with one value, anywhere in its nesting, replaced by junk (or a key added next to it)."""
    data = copy.deepcopy(data)
    node = data
    while True:
        key = draw(st.sampled_from(sorted(node, key=str)))
        if isinstance(node[key], dict) and node[key] and draw(st.booleans()):
            node = node[key]
            continue
        if draw(st.integers(0, 9)) == 0:
            node[draw(st.text(string.ascii_lowercase, min_size=1, max_size=8))] = draw(JUNK)
        else:
            node[key] = draw(JUNK)
        return data


def fuzz_formula(text: str):
    try:
        formula = Formula(text)
    except FormulaError:
        return
    with within(5):
        for value in (1, 7, 2**20):
            try:
                result = formula(**{s: value for s in formula.symbols})
            except FormulaError:
                continue
            assert math.isfinite(result)
        try:
            formula.sympy()
        except FormulaError:
            pass


def fuzz_options(text: str):
    for parse, low, high in ((bandwidth_bps, 1, 1e15), (seconds, 0, 3600)):
        try:
            value = parse(text)
        except InputError:
            continue
        assert low <= value <= high
    for parse in (int_list, name_list):
        try:
            parse(text, "--x")
        except InputError:
            pass


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SLOW = settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(st.lists(FORMULA_TOKENS, max_size=25).map("".join))
def test_fuzz_formulas(text):
    fuzz_formula(text)


@FAST
@given(st.one_of(st.text(max_size=40), st.sampled_from(["nan", "inf", "-1ms", "1e400Gbps", "0", "１００Mbps"])))
def test_fuzz_network_and_list_options(text):
    fuzz_options(text)


@FAST
@given(st.data())
def test_fuzz_mpc_tables(tmp_path, data):
    check_priced(tmp_path, mutated(BASE, data.draw))


@FAST
@given(st.data())
def test_fuzz_ckks_tables(tmp_path, data):
    check_priced(tmp_path, mutated(CKKS, data.draw))


@FAST
@given(st.data())
def test_fuzz_calibration_rows(tmp_path, data):
    cells = ROWS[0].split(",")
    i = data.draw(st.integers(0, len(cells) - 1))
    cells[i] = data.draw(st.one_of(st.text(alphabet=string.printable.replace(",", "").replace("\n", ""),
                                           max_size=12), st.sampled_from(["nan", "inf", "-1", "0", "1e999"])))
    csv_path, _ = fit_files(tmp_path, HEADER + ",".join(cells).replace('"', "") + "\n")
    try:
        rows = read_rows(csv_path)
    except InputError:
        return
    for row in rows:
        assert math.isfinite(row.comm_bytes) and row.comm_bytes > 0 and math.isfinite(row.weight)
        assert row.latency_s is None or math.isfinite(row.latency_s)


@pytest.mark.slow
@SLOW
@given(st.lists(FORMULA_TOKENS, max_size=60).map("".join))
def test_fuzz_formulas_slow(text):
    fuzz_formula(text)


@pytest.mark.slow
@SLOW
@given(st.text(max_size=80))
def test_fuzz_network_and_list_options_slow(text):
    fuzz_options(text)


@pytest.mark.slow
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_fuzz_tables_slow(tmp_path, data):
    check_priced(tmp_path, mutated(data.draw(st.sampled_from([BASE, CKKS])), data.draw))
