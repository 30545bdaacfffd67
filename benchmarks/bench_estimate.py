"""Time `pidse estimate` on GPT-2 small against the 1-second target.

    python benchmarks/bench_estimate.py [--runs 5] [--spec arch_specs/gpt2_sm_ln_g.yaml]

Reports the wall time of the command as a user runs it (a subprocess, interpreter start and imports included)
and of the in-process estimate (load, build the graph, count, render), each the median of --runs runs.
Prints numbers only; no assertion, so it never fails a build on a slow machine.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 1.0


def command(spec: Path) -> list[str]:
    """The installed `pidse` script beside this interpreter, else `python -m pidse.cli`."""
    script = Path(sys.executable).parent / "pidse"
    script = str(script) if script.exists() else shutil.which("pidse")
    return [script, "estimate", str(spec)] if script else [sys.executable, "-m", "pidse.cli", "estimate", str(spec)]


def median_s(run, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--spec", type=Path, default=ROOT / "arch_specs" / "gpt2_sm_ln_g.yaml")
    args = parser.parse_args()

    cmd = command(args.spec)
    subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)  # warm the OS file cache once
    cli_s = median_s(lambda: subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT), args.runs)

    from pidse.cli import app  # imported here so that the subprocess timing is not skewed by this process
    from typer.testing import CliRunner

    runner = CliRunner()
    in_process = lambda: runner.invoke(app, ["estimate", str(args.spec)])  # noqa: E731
    assert in_process().exit_code == 0
    api_s = median_s(in_process, args.runs)

    print(f"spec:                     {args.spec}")
    print(f"command:                  {' '.join(cmd[:2])} ...")
    print(f"subprocess (median of {args.runs}): {cli_s:.3f} s  ({cli_s / TARGET_S:.2f} x the {TARGET_S:g} s target)")
    print(f"in-process (median of {args.runs}): {api_s:.3f} s  ({api_s / TARGET_S:.2f} x the {TARGET_S:g} s target)")
    print(f"start-up and imports:     {cli_s - api_s:.3f} s")


if __name__ == "__main__":
    main()
