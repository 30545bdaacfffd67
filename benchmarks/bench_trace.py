"""Time tracing GPT-2 small (transformers, built without weights) against torch's own FlopCounterMode on the same
model, and against the few-seconds target.

    python benchmarks/bench_trace.py [--runs 3] [--context 128] [--config tests/data/hf/gpt2/config.json]

Times, each the median of --runs runs, for pidse's own GPT-2 small (pidse.train.model.GPT, both on the meta
device) and transformers' (FlopCounterMode on the CPU model with weights: HF's mask code reads values a meta tensor
lacks): pidse's trace of one forward pass (record every aten op, classify them into op nodes) against
FlopCounterMode's forward pass over the same model and tokens; then `pidse estimate CONFIG --trace -p sigma`
in-process (build, trace, count, price, render). Prints numbers and ratios only; no assertion, so it never fails a
build on a slow machine.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench_estimate import median_s  # noqa: E402  (benchmarks/ is the script's folder: on sys.path)

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 3.0  # "a few seconds at most" for tracing GPT-2 small


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--context", type=int, default=128)
    parser.add_argument("--config", type=Path, default=ROOT / "tests" / "data" / "hf" / "gpt2" / "config.json")
    args = parser.parse_args()

    start = time.perf_counter()
    import torch
    import transformers
    from torch.utils.flop_counter import FlopCounterMode

    from pidse.spec.load import load_spec
    from pidse.trace import load
    from pidse.train.model import GPT
    import_s = time.perf_counter() - start
    T, runs = args.context, args.runs

    def flop_count(model, call):
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            call(model)
        return counter.get_total_flops()

    def compare(title, model, call, flops_model, where):
        trace_s = median_s(lambda: load.trace_module(model, T, title), runs)
        flops_s = median_s(lambda: flop_count(flops_model, call), runs)
        traced = load.trace_module(model, T, title)
        print(f"{title}: {len(traced.nodes)} op nodes, {traced.params:,} parameters, T = {T}")
        print(f"  pidse trace, meta device (median of {runs}):  {trace_s:.3f} s  ({trace_s / TARGET_S:.2f} x the "
              f"{TARGET_S:g} s target)")
        print(f"  FlopCounterMode, {where} (median of {runs}): {flops_s:.3f} s")
        print(f"  trace / FlopCounterMode:                  {trace_s / flops_s:.2f} x")

    # pidse's own GPT-2 small (what `pidse train` builds): both on the meta device, the same model
    spec = load_spec("gpt2_sm_ln_g", [], T)
    with torch.device("meta"):
        gpt = GPT(spec)
    ids = torch.zeros(1, T, dtype=torch.long, device="meta")
    compare("pidse.train GPT-2 small (gpt2_sm_ln_g)", gpt, lambda m: m(ids), gpt, "meta device")

    # transformers' GPT-2 small. FlopCounterMode cannot run it on the meta device (its mask code reads values with
    # .item(), which pidse's trace computes on the side), so it counts the model built with weights, on the CPU.
    config = transformers.AutoConfig.from_pretrained(args.config.parent)

    def build(device):
        with torch.device(device):
            return transformers.AutoModelForCausalLM.from_config(config, attn_implementation="eager").eval()

    meta_s = median_s(lambda: build("meta"), runs)
    start = time.perf_counter()
    cpu = build("cpu")
    cpu_s = time.perf_counter() - start
    cpu_ids = torch.zeros(1, T, dtype=torch.long)
    compare("transformers GPT-2 small", build("meta"), lambda m: m(input_ids=cpu_ids, use_cache=False), cpu,
            "CPU with weights")
    print(f"  building it: meta device {meta_s:.3f} s, CPU with weights {cpu_s:.3f} s")

    from typer.testing import CliRunner

    from pidse.cli import app

    runner = CliRunner()
    command = ["estimate", str(args.config), "--trace", "-T", str(T), "-p", "sigma"]
    assert runner.invoke(app, command).exit_code == 0
    cli_s = median_s(lambda: runner.invoke(app, command), runs)
    print(f"pidse estimate {args.config.relative_to(ROOT)} --trace -p sigma, in-process (median of {runs}): "
          f"{cli_s:.3f} s  ({cli_s / TARGET_S:.2f} x the target; build, trace, count, price and render)")
    print(f"import torch + transformers + pidse.trace: {import_s:.3f} s (once per process)")


if __name__ == "__main__":
    main()
