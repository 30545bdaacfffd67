"""Pareto fronts: the designs that no other design beats on every objective at once.

`pareto_mask(values, directions)` marks the non-dominated rows (the paretoset idea: one function, one mask).
Row a dominates row b when a is at least as good in every objective and strictly better in at least one, so
identical rows never dominate each other: every copy of a front point is kept. A row with NaN in any objective
(e.g. a diverged run's perplexity) is never on the front and never dominates.

`break_even(measured, point_costs, directions)`: for designs without a measured perplexity, the perplexity each
would have to reach to join the measured front.
"""
from __future__ import annotations

import numpy as np

from pidse.errors import InputError

BLOCK = 1024  # points compared at once by the many-objective path
CELLS = 1 << 22  # bound on one broadcast comparison (points x rows x objectives), to bound memory


def pareto_mask(values, directions) -> np.ndarray:
    """Boolean mask of the non-dominated rows of `values` (points x objectives).

    directions: "min" or "max" per objective (a single string applies to all).
    Cost: O(n log n) for one or two objectives (a sort and a sweep); for more, a lexicographic sort and a
    vectorised block scan, O(n x front size): fast while the front is small, quadratic when every point is on it.
    """
    v = _minimised(values, directions, "values")
    mask = np.zeros(len(v), dtype=bool)
    rows = np.flatnonzero(~np.isnan(v).any(axis=1))
    if rows.size == 0:
        return mask
    w = v[rows]
    if w.shape[1] == 1:
        front = w[:, 0] == w[:, 0].min()
    elif w.shape[1] == 2:
        front = _front_2d(w)
    else:
        front = _front_nd(w)
    mask[rows[front]] = True
    return mask


def break_even(measured, point_costs, directions) -> np.ndarray:
    """For each point, the highest perplexity at which it would still be on the front of the measured runs.

    measured: (m, c + 1) array, c cost columns then perplexity (lower is better) last; the front or all runs,
        the answer is the same. Rows with NaN (a diverged run has no perplexity) are ignored.
    point_costs: (n, c) costs of the unmeasured points; directions: "min"/"max" for each of the c costs.
    Returns b (n,): the minimum perplexity among measured runs whose every cost is at least as good as the
    point's; inf when there is none (the point is on the front at any perplexity); NaN when a cost is NaN.
    Ties, explicitly: with perplexity x < b the point is on the front, with x > b it is dominated. At x == b it is
    dominated by a run reaching b with a strictly better cost somewhere, and stays on the front (tied, as
    identical points do) only when every run reaching b has exactly the point's costs.
    """
    pc = _minimised(point_costs, directions, "point_costs")
    m = np.asarray(measured, dtype=float)
    if m.size == 0:
        m = m.reshape(0, pc.shape[1] + 1)
    if m.ndim != 2 or m.shape[1] != pc.shape[1] + 1:
        raise InputError("break_even", "measured", f"a 2-D array of {pc.shape[1]} cost columns then perplexity",
                         m.shape)
    mc, mp = _minimised(m[:, :-1], directions, "measured"), m[:, -1]
    valid = ~(np.isnan(mc).any(axis=1) | np.isnan(mp))
    mc, mp = mc[valid], mp[valid]
    # Only the measured front matters: a dominated run's dominator qualifies too, with a perplexity as low.
    front = pareto_mask(np.column_stack([mc, mp]), "min") if len(mp) else np.zeros(0, bool)
    mc, mp = mc[front], mp[front]
    if pc.shape[1] == 1:  # one cost: the least perplexity among runs at most as costly, by binary search
        return _break_even_1d(mc[:, 0], mp, pc[:, 0])
    out = np.full(len(pc), np.inf)
    step = max(1, CELLS // max(1, mc.size))
    for s in range(0, len(pc) if len(mp) else 0, step):
        covers = (mc[None, :, :] <= pc[s:s + step, None, :]).all(axis=2)  # run's costs all as good
        out[s:s + step] = np.where(covers, mp[None, :], np.inf).min(axis=1)
    out[np.isnan(pc).any(axis=1)] = np.nan
    return out


def _break_even_1d(cost: np.ndarray, ppl: np.ndarray, points: np.ndarray) -> np.ndarray:
    """break_even for one cost: runs sorted by cost, a running minimum of their perplexities, and each point's
    answer at the last run whose cost is <= its own (inf before the first; NaN for a NaN cost)."""
    order = np.argsort(cost, kind="stable")
    best = np.concatenate([[np.inf], np.minimum.accumulate(ppl[order])])
    out = best[np.searchsorted(cost[order], points, side="right")]
    out[np.isnan(points)] = np.nan
    return out


def _minimised(values, directions, name: str) -> np.ndarray:
    """values as float (n, k) with every objective turned into one to minimise."""
    v = np.asarray(values, dtype=float)
    if v.ndim != 2 or v.shape[1] == 0:
        raise InputError("pareto", name, "a 2-D array (points x objectives, at least one objective)", v.shape)
    dirs = [directions] * v.shape[1] if isinstance(directions, str) else list(directions)
    if len(dirs) != v.shape[1] or any(d not in ("min", "max") for d in dirs):
        raise InputError("pareto", "directions", f"'min' or 'max' for each of the {v.shape[1]} objectives",
                         directions)
    return v * np.where(np.array(dirs) == "max", -1.0, 1.0)


def _front_2d(w: np.ndarray) -> np.ndarray:
    """Sort by x then y; a point is on the front iff it has the least y among its equal-x group and a y strictly
    below every y of the groups with smaller x (those dominate it at an equal or lower y)."""
    order = np.lexsort((w[:, 1], w[:, 0]))
    x, y = w[order, 0], w[order, 1]
    n = len(x)
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = x[1:] != x[:-1]
    start = np.maximum.accumulate(np.where(new_group, np.arange(n), 0))
    best_y = np.minimum.accumulate(y)
    earlier = start > 0
    on_front = (y == y[start]) & (~earlier | (y < best_y[start - 1]))
    front = np.empty(n, dtype=bool)
    front[order] = on_front
    return front


def _front_nd(w: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """Scan in order of summed per-objective ranks: a dominator has every rank <= and one < (ties share a
    rank), so it comes strictly first, and the strongest points come early. Each block is checked against the
    front found so far (enough, by transitivity: a dominated point has a dominator on the front), then itself."""
    ranks = sum(np.unique(col, return_inverse=True)[1].astype(np.int64) for col in w.T)
    order = np.argsort(ranks, kind="stable")
    w = w[order]
    on_front = np.zeros(len(w), dtype=bool)
    front = w[:0]
    for s in range(0, len(w), block):
        idx = np.arange(s, min(s + block, len(w)))
        idx = idx[~_dominated(front, w[idx])]
        idx = idx[~_dominated(w[idx], w[idx])]
        on_front[idx] = True
        front = np.concatenate([front, w[idx]])
    result = np.empty(len(w), dtype=bool)
    result[order] = on_front
    return result


def _dominated(by: np.ndarray, points: np.ndarray) -> np.ndarray:
    """For each point, whether any row of `by` dominates it (all <=, some <). Rows of `by` are taken in growing
    chunks and dominated points dropped as they are found: the first (strongest) rows settle most points."""
    out = np.zeros(len(points), dtype=bool)
    alive = np.arange(len(points))
    s, step = 0, 16
    while s < len(by) and alive.size:
        step = min(2 * step, max(16, CELLS // (alive.size * points.shape[1])))
        b, p = by[s:s + step], points[alive]
        as_good, better = np.ones((len(p), len(b)), dtype=bool), np.zeros((len(p), len(b)), dtype=bool)
        for j in range(p.shape[1]):  # one 2-D comparison per objective: faster than reducing a short axis
            as_good &= b[None, :, j] <= p[:, j, None]
            better |= b[None, :, j] < p[:, j, None]
        hit = (as_good & better).any(axis=1)
        out[alive[hit]] = True
        alive, s = alive[~hit], s + step
    return out
