"""Throughput of the design-space sweep (pidse.sweep.sweep with the perplexity database), in points per second.

    python benchmarks/bench_sweep.py [--runs 3] [--contexts 128,256,512]

Two spaces generated from the default one (arch_specs/spaces/aero.yaml: the same axes, 126 valid structures per
context), with its numeric ranges widened: `large` has layers 1..40 and prune_last 0..layers (860 depths per
structure, 108,360 points per context) and `small` layers 1..12 (90 depths, 11,340 points per context, about
10x fewer). Each is swept at every context (costs, perplexity join, fronts, break-even perplexities; no files
written). Structures are priced once per context on a 1-layer graph, so the cost per point must not grow with
the number of points: the per-point time of `large` should be at most that of `small`, whose fixed cost
(pricing 126 structures x 3 contexts) is spread over fewer points. Target: `large` x 3 contexts within 10 s
on a 2-core machine. Each time is the median of --runs runs after one warm-up run (also printed: it pays
the imports); prints numbers only.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from pidse.ppl.db import open_db
from pidse.search.space import SPACES_DIR, load_space
from pidse.search.sweep import sweep

SPACES = {"small": "1..12", "large": "1..40"}


def write_space(folder: Path, name: str, layers: str) -> Path:
    """The default space with `ranges.layers` widened and every pruning depth; base made absolute."""
    source = SPACES_DIR / "aero.yaml"
    data = yaml.safe_load(source.read_text())
    data["base"] = str((source.parent / data["base"]).resolve())
    data["ranges"] = {"layers": layers, "prune_last": "0..layers"}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--contexts", default="128,256,512")
    args = parser.parse_args()
    contexts = [int(t) for t in args.contexts.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp) / "ppl.sqlite")  # seeded with the published perplexities
        print(f"{'space':<6} {'layers':>7} {'contexts':>8} {'points':>9} {'measured':>8} {'seconds':>8} "
              f"{'points/s':>10} {'us/point':>8} {'first run s':>11}")
        for name, layers in SPACES.items():
            space = load_space(str(write_space(Path(tmp), name, layers)))
            start = time.perf_counter()
            sweep(space, contexts, db=db)  # warm-up: imports, first-use caches
            cold = time.perf_counter() - start
            times, df = [], None
            for _ in range(args.runs):
                start = time.perf_counter()
                df = sweep(space, contexts, db=db)
                times.append(time.perf_counter() - start)
            seconds = statistics.median(times)
            measured = int((df["ppl_status"] != "unmeasured").sum())
            print(f"{name:<6} {layers:>7} {len(contexts):>8} {len(df):>9,} {measured:>8} {seconds:>8.2f} "
                  f"{len(df) / seconds:>10,.0f} {1e6 * seconds / len(df):>8.2f} {cold:>11.2f}")
        db.close()


if __name__ == "__main__":
    main()
