"""Pareto mask and break-even perplexity, checked by properties against brute force (ties, NaN and infinities
included). Speed is measured in benchmarks/bench_pareto.py (its last line: 300,000 points, 2 objectives, as a
ratio to a sort), not asserted here."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pidse.errors import InputError
from pidse.search.pareto import _front_nd, break_even, pareto_mask

# Few distinct values so that ties are common; NaN, infinities and a negative zero as edge cases.
SMALL = st.sampled_from([0.0, 1.0, 2.0, 3.0, -0.0, np.inf, -np.inf, np.nan])
ANY = st.one_of(SMALL, st.floats(allow_nan=True, allow_infinity=True, width=32))


def better(a: float, b: float, direction: str) -> bool:
    return a < b if direction == "min" else a > b


def dominates(a, b, directions) -> bool:
    """The definition, one objective at a time: as good everywhere and better somewhere; NaN never dominates."""
    if np.isnan(a).any():
        return False
    as_good = all(not better(y, x, d) for x, y, d in zip(a, b, directions))
    return as_good and any(better(x, y, d) for x, y, d in zip(a, b, directions))


def brute_mask(values, directions) -> np.ndarray:
    return np.array([not np.isnan(p).any() and not any(dominates(q, p, directions) for q in values)
                     for p in values], dtype=bool)


@st.composite
def problems(draw, max_n=30, max_k=4, elements=ANY):
    k = draw(st.integers(1, max_k))
    n = draw(st.integers(0, max_n))
    values = draw(hnp.arrays(np.float64, (n, k), elements=elements))
    directions = draw(st.lists(st.sampled_from(["min", "max"]), min_size=k, max_size=k))
    return values, directions


@settings(max_examples=200, deadline=None)
@given(problems())
def test_mask_equals_brute_force(problem):
    values, directions = problem
    assert (pareto_mask(values, directions) == brute_mask(values, directions)).all()


@settings(max_examples=100, deadline=None)
@given(problems(max_n=40, max_k=5, elements=SMALL), st.integers(1, 5))
def test_block_scan_equals_brute_force_for_any_block_size(problem, block):
    values, _ = problem
    finite = values[~np.isnan(values).any(axis=1)]
    assert (_front_nd(finite, block=block) == brute_mask(finite, ["min"] * values.shape[1])).all()


@settings(max_examples=100, deadline=None)
@given(problems(max_n=40), st.data())
def test_mask_is_invariant_to_row_order(problem, data):
    values, directions = problem
    perm = np.array(data.draw(st.permutations(range(len(values)))), dtype=int)
    assert (pareto_mask(values[perm], directions) == pareto_mask(values, directions)[perm]).all()


@settings(max_examples=100, deadline=None)
@given(problems(max_n=40))
def test_max_is_min_of_the_negation(problem):
    values, directions = problem
    flipped = ["max" if d == "min" else "min" for d in directions]
    assert (pareto_mask(-values, flipped) == pareto_mask(values, directions)).all()


@pytest.mark.parametrize("k, n", [(2, 3000), (3, 3000), (5, 1500)])
def test_larger_random_fronts_match_brute_force(k, n):
    rng = np.random.default_rng(k)
    first = rng.integers(0, 40, size=(n, 1))  # trade-offs against it make a large front; few values, many ties
    values = np.hstack([first, 40 - first + rng.integers(0, 6, size=(n, k - 1))]).astype(float)
    values[rng.random(n) < 0.01, 0] = np.nan
    finite = ~np.isnan(values).any(axis=1)
    v = values[finite]
    dominated = np.zeros(len(v), dtype=bool)
    for s in range(0, len(v), 250):  # numpy brute force, in chunks
        p = v[s:s + 250, None, :]
        dominated[s:s + 250] = ((v[None] <= p).all(axis=2) & (v[None] < p).any(axis=2)).any(axis=1)
    want = np.zeros(n, dtype=bool)
    want[np.flatnonzero(finite)[~dominated]] = True
    assert want.sum() >= 20
    assert (pareto_mask(values, "min") == want).all()


def test_ties_nan_and_explicit_cases():
    v = np.array([[1, 1], [1, 1], [0, 2], [np.nan, 0], [2, 0], [2, 0.5], [1, 2]], dtype=float)
    assert pareto_mask(v, ["min", "min"]).tolist() == [True, True, True, False, True, False, False]
    assert pareto_mask(v, ["max", "max"]).tolist() == [False, False, False, False, False, True, True]
    assert pareto_mask(np.array([[3.0], [1.0], [1.0], [np.nan]]), "min").tolist() == [False, True, True, False]
    assert pareto_mask(np.zeros((0, 3)), "min").tolist() == []
    assert pareto_mask([[np.inf, np.inf], [np.inf, np.inf]], "min").tolist() == [True, True]


def test_bad_arguments_are_input_errors():
    with pytest.raises(InputError, match="directions: expected 'min' or 'max' for each of the 2 objectives"):
        pareto_mask(np.zeros((3, 2)), ["min"])
    with pytest.raises(InputError, match="directions"):
        pareto_mask(np.zeros((3, 2)), ["min", "low"])
    with pytest.raises(InputError, match="values: expected a 2-D array"):
        pareto_mask(np.zeros(3), "min")
    with pytest.raises(InputError, match="measured: expected a 2-D array of 2 cost columns then perplexity"):
        break_even(np.zeros((3, 2)), np.zeros((4, 2)), "min")


def test_two_objectives_300k_points():
    # the 2-objective sort-and-sweep on bench_pareto.py's case (its speed is measured there); uniform points keep
    # a small front
    values = np.random.default_rng(0).random((300_000, 2))
    mask = pareto_mask(values, ["min", "max"])
    assert 0 < mask.sum() < 100
    # exactly the rows no front point dominates (a dominated row's dominator is itself dominated by a front point)
    p, q = values[:, None, :], values[mask][None, :, :]  # every row against every front point
    as_good = (q[..., 0] <= p[..., 0]) & (q[..., 1] >= p[..., 1])
    better = (q[..., 0] < p[..., 0]) | (q[..., 1] > p[..., 1])
    assert ((as_good & better).any(axis=1) == ~mask).all()


# ---- break-even perplexity ----------------------------------------------------------------------------------

def brute_break_even(measured, points, directions) -> np.ndarray:
    out = []
    for p in points:
        if np.isnan(p).any():
            out.append(np.nan)
            continue
        ppls = [m[-1] for m in measured if not np.isnan(m).any()
                and all(not better(y, x, d) for x, y, d in zip(m[:-1], p, directions))]
        out.append(min(ppls, default=np.inf))
    return np.array(out)


@st.composite
def break_even_problems(draw):
    c = draw(st.integers(1, 3))
    measured = draw(hnp.arrays(np.float64, (draw(st.integers(0, 15)), c + 1), elements=SMALL))
    points = draw(hnp.arrays(np.float64, (draw(st.integers(0, 15)), c), elements=SMALL))
    directions = draw(st.lists(st.sampled_from(["min", "max"]), min_size=c, max_size=c))
    return measured, points, directions


@settings(max_examples=200, deadline=None)
@given(break_even_problems())
def test_break_even_equals_brute_force(problem):
    measured, points, directions = problem
    np.testing.assert_array_equal(break_even(measured, points, directions),
                                  brute_break_even(measured, points, directions))


@settings(max_examples=200, deadline=None)
@given(break_even_problems())
def test_break_even_is_where_the_point_leaves_the_front(problem):
    """Just below b the point joins the measured front; just above it, it is dominated."""
    measured, points, directions = problem
    measured = measured[~np.isnan(measured).any(axis=1)]
    for p, b in zip(points, break_even(measured, points, directions)):
        if np.isnan(p).any() or not np.isfinite(b):
            continue
        for ppl, on_front in ((np.nextafter(b, -np.inf), True), (np.nextafter(b, np.inf), False)):
            values = np.vstack([measured, np.append(p, ppl)])
            assert pareto_mask(values, [*directions, "min"])[-1] == on_front


def test_break_even_explicit_ties():
    measured = np.array([[1.0, 1.0, 3.0], [2.0, 2.0, 2.5], [0.0, 5.0, 1.0], [1.0, 0.0, np.nan]])
    points = np.array([[1.0, 1.0], [2.0, 2.0], [0.5, 0.5], [3.0, 6.0], [np.nan, 1.0]])
    np.testing.assert_array_equal(break_even(measured, points, ["min", "min"]),
                                  [3.0, 2.5, np.inf, 1.0, np.nan])
    # identical costs and perplexity: a tie, so the point stays on the front at exactly b
    values = np.vstack([measured[:2], [1.0, 1.0, 3.0]])
    assert pareto_mask(values, "min")[-1]
