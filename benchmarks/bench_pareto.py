"""Throughput of `pareto_mask` (and `break_even`) on random designs, in points per second.

    python benchmarks/bench_pareto.py [--runs 3] [--objectives 2 3 4]

Uniform random objectives: the front stays small (tens to hundreds of points), the usual case for a sweep.
The 2-objective path is a sort and a sweep, O(n log n), whatever the front; with more objectives the cost grows
with the front's size. Each number is the median of --runs runs. Prints numbers only; no assertion.
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


if __name__ == "__main__":
    main()
