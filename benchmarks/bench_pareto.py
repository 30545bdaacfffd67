"""Throughput of `pareto_mask` (and `break_even`) on random designs, in points per second.

    python benchmarks/bench_pareto.py [--runs 3] [--objectives 2 3 4]

Uniform random objectives: the front stays small (tens to hundreds of points), the usual case for a sweep.
The 2-objective path is a sort and a sweep, O(n log n), whatever the front; with more objectives the cost grows
with the front's size. Each number is the median of --runs runs. Prints numbers only; no assertion.

Last, the measurement tests/test_pareto.py used to time (speed is checked here, not in the tests): 300,000
uniform points, 2 objectives, directions min/max, seed 0, as a ratio to one np.lexsort of the same points (the
O(n log n) floor of a sort-and-sweep), so the number compares across machines. It ran ~0.15 s against the test's
old 2 s budget; an O(n^2) scan would take minutes, a ratio in the thousands.
"""
from __future__ import annotations

import argparse
import statistics
import timeit

import numpy as np

from pidse.search.pareto import break_even, pareto_mask

SIZES = (10_000, 100_000, 300_000)


def median_s(run, runs: int) -> float:
    return statistics.median(timeit.repeat(run, number=1, repeat=runs))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--objectives", type=int, nargs="+", default=[2, 3, 4])
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'function':<12} {'objectives':>10} {'points':>9} {'front':>6} {'seconds':>8} {'points/s':>12}")
    for k in args.objectives:
        for n in SIZES:
            values = rng.random((n, k))
            seconds = median_s(lambda: pareto_mask(values, "min"), args.runs)
            front = int(pareto_mask(values, "min").sum())
            print(f"{'pareto_mask':<12} {k:>10} {n:>9} {front:>6} {seconds:>8.3f} {n / seconds:>12,.0f}")
    measured = rng.random((100, 3))  # 100 measured runs: two costs and a perplexity
    for n in SIZES:
        points = rng.random((n, 2))
        seconds = median_s(lambda: break_even(measured, points, "min"), args.runs)
        print(f"{'break_even':<12} {2:>10} {n:>9} {'-':>6} {seconds:>8.3f} {n / seconds:>12,.0f}")
    guard(args.runs)


def guard(runs: int):
    """tests/test_pareto.py's former speed check, printed as seconds and as a ratio to a sort."""
    values = np.random.default_rng(0).random((300_000, 2))
    pareto_mask(values[:1000], "min")  # warm-up
    seconds = median_s(lambda: pareto_mask(values, ["min", "max"]), runs)
    sort_s = median_s(lambda: np.lexsort((values[:, 1], values[:, 0])), runs)
    front = int(pareto_mask(values, ["min", "max"]).sum())
    print()
    print(f"{'pareto_mask':<12} {'2 min/max':>10} {len(values):>9} {front:>6} {seconds:>8.3f} "
          f"{'ratio to np.lexsort':>20} {seconds / sort_s:>6.1f}x")


if __name__ == "__main__":
    main()
