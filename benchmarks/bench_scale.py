"""Scale: how long pidse's commands take and how much memory they use, as ratios to `python -c "import numpy"`
and to torch's FlopCounterMode on HF GPT-2 (when torch and transformers are installed), measured in the same run.

    python benchmarks/bench_scale.py [--quick]

Every row is its own process (interpreter start and imports included, as a user runs it): the median of 3 runs
(1 with --quick) and the peak resident memory of that process. Bytecode is compiled first (compileall), as an
installed package has it, and the children may write it even where PYTHONDONTWRITEBYTECODE is set: otherwise
every run of pidse would recompile its modules while numpy's come compiled. A command that fails (a limit that
refuses it, say) prints its error line instead of numbers and the run goes on.

Rows: `pidse estimate` on GPT-2 (start-up bound); a long generation (Llama-2-7B, 512 generated tokens, PUMA),
also per step; a 70B-like model generating 512 tokens, as a table and as JSON; a sweep of about a million points
on the command line (the AERO space with layers 1..125 at one context, files written); in-process sweep
throughput; FlopCounterMode on a randomly initialised HF GPT-2 at 128 tokens (its own process: import, build,
count); and growth with layers, generated tokens and sweep size. Targets (issue "Scale"):
estimate on GPT-2 <= 2x numpy; the long generation <= 10x and <= 300 MB; the million-point sweep <= 100x and
<= 1.5 GB; the in-process sweep >= 1e6 points/s. Prints numbers only; nothing is asserted (timings are not tests).
"""
from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# The child runs the command and reports its wall time, its own peak memory (the largest child's) and exit code.
MEASURE = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
           "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True); "
           "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.returncode); "
           "print(p.stderr.strip().splitlines()[-1] if p.returncode and p.stderr.strip() else '')")
FLOP_COUNTER = """
import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import GPT2Config, GPT2LMHeadModel
model = GPT2LMHeadModel(GPT2Config()).eval()
with torch.no_grad(), FlopCounterMode(display=False) as counter:
    model(torch.zeros(1, 128, dtype=torch.long))
assert counter.get_total_flops() > 0
"""
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
WIDTH = 62


def run(argv: list[str], runs: int) -> tuple[float, float, str]:
    """(median seconds, peak MB, '') of `argv` in its own process, or (nan, nan, its error line) if it fails."""
    times, peaks = [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", MEASURE, *argv], capture_output=True, text=True, check=True,
                             env=ENV)
        numbers, error = (out.stdout.split("\n") + [""])[:2]
        seconds, kb, code = numbers.split()
        if code != "0":
            return float("nan"), float("nan"), error or f"exit {code}"
        times.append(float(seconds))
        peaks.append(int(kb) / 1024)
    return statistics.median(times), max(peaks), ""


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


def has_torch() -> bool:
    code = "import importlib.util as u, sys; sys.exit(not (u.find_spec('torch') and u.find_spec('transformers')))"
    return subprocess.run([sys.executable, "-c", code]).returncode == 0


def in_process_sweep(space: Path) -> tuple[int, float] | str:
    """(points, points per second) of `sweep()` on `space`, after a warm-up; or the error that refused it."""
    from pidse.errors import InputError
    from pidse.ppl.db import open_db
    from pidse.search.space import load_space
    from pidse.search.sweep import sweep

    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp) / "ppl.sqlite")
        try:
            design = load_space(str(space))
            sweep(design, [128], db=db)  # warm-up
        except InputError as err:
            return str(err)
        start = time.perf_counter()
        df = sweep(design, [128], db=db)
        return len(df), len(df) / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run per command, fewer growth points")
    args = parser.parse_args()
    runs = 1 if args.quick else 3
    compileall.compile_dir(ROOT / "pidse", quiet=1)
    run([sys.executable, "-c", "import numpy"], 1)  # warm the file cache
    base, _, _ = run([sys.executable, "-c", "import numpy"], max(runs, 5))
    torch_s = None
    if has_torch():
        torch_s, torch_mb, _ = run([sys.executable, "-c", FLOP_COUNTER], runs)
    print(f"numpy import: {base:.3f} s (the unit of `x numpy`)")
    if torch_s is not None:
        print(f"torch FlopCounterMode, HF GPT-2 at 128 tokens (import, build, count): {torch_s:.2f} s, "
              f"{torch_mb:.0f} MB (the unit of `x torch`)")
    print(f"\n{'what':<{WIDTH}} {'seconds':>8} {'x numpy':>8} {'x torch':>8} {'peak MB':>8}")

    def show(label, seconds, mb, error=""):
        if error:
            print(f"{label:<{WIDTH}} failed: {error[:160]}")
            return
        ratio = f"{seconds / torch_s:8.2f}" if torch_s else f"{'':>8}"
        print(f"{label:<{WIDTH}} {seconds:8.2f} {seconds / base:8.1f} {ratio} {mb:8.0f}", flush=True)

    def row(label, argv):
        show(label, *run(argv, runs))

    seventy = ["--set", "model.layers=80", "--set", "model.d_model=8192", "--set", "model.heads=64",
               "--set", "model.d_ff=28672", "--set", "inference.generate=512"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        row("estimate gpt2_sm_scfuffn", pidse("estimate", "gpt2_sm_scfuffn"))
        row("estimate gpt2_sm_scfuffn -p bumblebee", pidse("estimate", "gpt2_sm_scfuffn", "-p", "bumblebee"))
        row("formula gpt2_sm_ln_g -p bumblebee", pidse("formula", "gpt2_sm_ln_g", "-p", "bumblebee"))
        row("estimate llama2_7b -T 128 generate=512 -p puma-aby3",
            pidse("estimate", "llama2_7b", "-T", 128, "--set", "inference.generate=512", "-p", "puma-aby3"))
        row("  the same, --by step", pidse("estimate", "llama2_7b", "-T", 128, "--set", "inference.generate=512",
                                           "-p", "puma-aby3", "--by", "step"))
        row("estimate 70B-like (80 layers, d 8192) generate=512 -p puma-aby3",
            pidse("estimate", "llama2_7b", "-T", 128, *seventy, "-p", "puma-aby3"))
        row("  the same, --format json", pidse("estimate", "llama2_7b", "-T", 128, *seventy, "-p", "puma-aby3",
                                               "--format", "json"))
        space = big_space(tmp, "1..125")  # about a million points (1,008,000 when the issue was filed)
        row("sweep AERO space, layers 1..125, one context (files written)",
            pidse("sweep", "--space", space, "--out", tmp / "sweep", "--overwrite"))
        for layers in ("1..125", "1..40"):
            found = in_process_sweep(big_space(tmp, layers))
            label = f"in-process sweep(), layers {layers}"
            if isinstance(found, str):
                show(label, 0, 0, found)
            else:
                points, rate = found
                print(f"{label + f': {points:,} points':<{WIDTH}} {points / rate:8.2f} {'':>8} {'':>8} {'':>8}"
                      f"   {rate:,.0f} points/s", flush=True)

        print("\ngrowth")
        for layers in ([12, 48] if args.quick else [12, 24, 48, 96]):
            row(f"  estimate llama2_7b generate=128, {layers} layers -p puma-aby3",
                pidse("estimate", "llama2_7b", "-T", 128, "--set", f"model.layers={layers}", "--set",
                      "inference.generate=128", "-p", "puma-aby3"))
        for generate in ([64, 512] if args.quick else [64, 128, 256, 512, 1024, 2048]):
            row(f"  estimate llama2_7b generate={generate} -p puma-aby3",
                pidse("estimate", "llama2_7b", "-T", 128, "--set", f"inference.generate={generate}",
                      "-p", "puma-aby3"))
        for layers in (["1..40"] if args.quick else ["1..20", "1..40", "1..80"]):
            space = big_space(tmp, layers)
            row(f"  sweep layers {layers} (files written)", pidse("sweep", "--space", space, "--out",
                                                                   tmp / f"s{layers}", "--overwrite"))


if __name__ == "__main__":
    main()
