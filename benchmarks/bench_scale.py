"""Scale: how long pidse's commands take and how much memory they use, as ratios to `python -c "import numpy"`
measured in the same run (and to torch's FlopCounterMode on HF GPT-2 when torch and transformers are installed).

    python benchmarks/bench_scale.py [--quick]

Each command runs in its own process, median of 3 runs (1 with --quick), peak resident memory of that process.
Rows: `pidse estimate` on GPT-2 (start-up bound); a long generation (Llama-2-7B, 512 generated tokens, PUMA); a
70B-like model generating 512 tokens; a 1,008,000-point sweep on the command line (files written); in-process
sweep throughput; and growth with layers, generated tokens and sweep size. Targets (issue "Scale"): estimate on
GPT-2 <= 2x numpy; the long generation <= 10x and <= 300 MB; the million-point sweep <= 100x and <= 1.5 GB; the
in-process sweep >= 1e6 points/s. Prints numbers only; nothing is asserted (timings are not tests).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
MEASURE = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
           "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode; "
           "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)")


def run(argv: list[str], runs: int) -> tuple[float, float]:
    """(median seconds, peak MB) of `argv` in its own process."""
    times, peaks = [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", MEASURE, *argv], capture_output=True, text=True, check=True)
        seconds, kb, code = out.stdout.split()
        if code != "0":
            raise SystemExit(f"failed ({code}): {' '.join(argv)}")
        times.append(float(seconds))
        peaks.append(int(kb) / 1024)
    return statistics.median(times), max(peaks)


def pidse(*args) -> list[str]:
    return [sys.executable, "-m", "pidse", *map(str, args)]


def big_space(folder: Path, layers: str) -> Path:
    """The default AERO space at one context with `ranges.layers` widened and every pruning depth."""
    source = ROOT / "arch_specs" / "spaces" / "aero.yaml"
    data = yaml.safe_load(source.read_text())
    data["base"] = str((source.parent / data["base"]).resolve())
    data["ranges"] = {"layers": layers, "prune_last": "0..layers"}
    data["contexts"] = {128: {"dataset": "codeparrot"}}
    path = folder / f"space_{layers.replace('..', '_')}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def flop_counter_seconds() -> float | None:
    """torch's FlopCounterMode over one forward of a randomly initialised HF GPT-2 at 128 tokens, in-process."""
    try:
        import torch
        from torch.utils.flop_counter import FlopCounterMode
        from transformers import GPT2Config, GPT2LMHeadModel
    except ImportError:
        return None
    start = time.perf_counter()
    model = GPT2LMHeadModel(GPT2Config()).eval()
    with torch.no_grad(), FlopCounterMode(display=False):
        model(torch.zeros(1, 128, dtype=torch.long))
    return time.perf_counter() - start


def in_process_points_per_s(space: Path) -> tuple[int, float]:
    from pidse.ppl.db import open_db
    from pidse.search.space import load_space
    from pidse.search.sweep import sweep

    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp) / "ppl.sqlite")
        design = load_space(str(space))
        sweep(design, [128], db=db)  # warm-up
        start = time.perf_counter()
        df = sweep(design, [128], db=db)
        return len(df), len(df) / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run per command, fewer growth points")
    args = parser.parse_args()
    runs = 1 if args.quick else 3
    base, _ = run([sys.executable, "-c", "import numpy"], runs)
    print(f"numpy import: {base:.3f} s (the unit of every ratio below)\n")
    print(f"{'what':<58} {'seconds':>8} {'x numpy':>8} {'peak MB':>8}")

    def row(label, argv):
        seconds, mb = run(argv, runs)
        print(f"{label:<58} {seconds:8.2f} {seconds / base:8.1f} {mb:8.0f}")
        return seconds, mb

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        row("estimate gpt2_sm_scfuffn", pidse("estimate", "gpt2_sm_scfuffn"))
        row("estimate gpt2_sm_scfuffn -p bumblebee", pidse("estimate", "gpt2_sm_scfuffn", "-p", "bumblebee"))
        row("formula gpt2_sm_ln_g -p bumblebee", pidse("formula", "gpt2_sm_ln_g", "-p", "bumblebee"))
        row("estimate llama2_7b -T 128 generate=512 -p puma-aby3",
            pidse("estimate", "llama2_7b", "-T", 128, "--set", "inference.generate=512", "-p", "puma-aby3"))
        seventy = ["--set", "model.layers=80", "--set", "model.d_model=8192", "--set", "model.heads=64",
                   "--set", "model.d_ff=28672", "--set", "inference.generate=512"]
        row("estimate 70B-like (80 layers, d 8192) generate=512 -p puma-aby3",
            pidse("estimate", "llama2_7b", "-T", 128, *seventy, "-p", "puma-aby3"))
        row("  the same, --format json", pidse("estimate", "llama2_7b", "-T", 128, *seventy, "-p", "puma-aby3",
                                               "--format", "json"))
        space = big_space(tmp, "1..125")
        row("sweep 1,008,000 points (files written)", pidse("sweep", "--space", space, "--out", tmp / "sweep",
                                                            "--overwrite"))
        points, rate = in_process_points_per_s(space)
        print(f"{'in-process sweep(): ' + f'{points:,} points':<58} {points / rate:8.2f} {'':>8} {'':>8}"
              f"   {rate:,.0f} points/s")
        torch_s = flop_counter_seconds()
        if torch_s is not None:
            print(f"{'torch FlopCounterMode, HF GPT-2 at 128 tokens (in-process)':<58} {torch_s:8.2f} "
                  f"{torch_s / base:8.1f}")

        print("\ngrowth")
        for layers in ([12, 48] if args.quick else [12, 24, 48, 96]):
            row(f"  estimate llama2_7b generate=128, {layers} layers -p puma-aby3",
                pidse("estimate", "llama2_7b", "-T", 128, "--set", f"model.layers={layers}", "--set",
                      "inference.generate=128", "-p", "puma-aby3"))
        for generate in ([64, 512] if args.quick else [64, 128, 256, 512, 1024]):
            row(f"  estimate llama2_7b generate={generate} -p puma-aby3",
                pidse("estimate", "llama2_7b", "-T", 128, "--set", f"inference.generate={generate}", "-p",
                      "puma-aby3"))
        for layers in (["1..40"] if args.quick else ["1..20", "1..40", "1..80"]):
            space = big_space(tmp, layers)
            row(f"  sweep layers {layers} (files written)", pidse("sweep", "--space", space, "--out",
                                                                   tmp / f"s{layers}", "--overwrite"))


if __name__ == "__main__":
    main()
