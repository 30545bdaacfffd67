"""Golden outputs: every command's output over every shipped spec and table, written to a folder, so that a
refactor can be shown to change nothing (run it before and after, then compare the two folders).

    python benchmarks/golden.py write /tmp/golden-before      # every output, one file each
    python benchmarks/golden.py compare /tmp/golden-before /tmp/golden-after
    python benchmarks/golden.py reports                         # regenerate the committed reports in place;
                                                                # `git status reports/` then shows any change

What is written: `pidse estimate SPEC --format json` for every shipped spec, unpriced and under every shipped
table (an error's exit code and message where a table cannot price a spec), the same as a table `--by kind`;
`pidse formula` (comm and latency, whole model and by op kind) for every spec under every MPC table; `pidse
scaling` for every spec under every MPC table; and generations (GENERATIONS: 4 emitted tokens, with a sliding
window, token pruning, a mixture of experts and a batch) as JSON and `--by kind` tables, unpriced and under every
table. Commands run in-process through Typer's CliRunner, with
PYTHONHASHSEED fixed and the checkout's path written as <repo>, so that two checkouts' outputs compare.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT_COMMANDS = [  # the commands that made the committed reports (reports/training needs training runs)
    "pidse sweep --context 128,256,512 --out reports --overwrite",
    "pidse sweep --space he_vs_mpc --out reports/he_vs_mpc --overwrite",
    "pidse sweep --space aero_plus --out reports/aero_plus --overwrite",
    "pidse validate --published --out reports --overwrite",
    "pidse scaling arch_specs/gpt2_sm_ln_g.yaml -p aero-secretflow --plot reports/scaling_gpt2_sm_ln_g.png",
    f"{sys.executable} benchmarks/systems.py",
    f"{sys.executable} benchmarks/anchors.py > reports/anchors.md",
]


def _invoke(args: list[str]) -> str:
    from typer.testing import CliRunner

    from pidse.cli import app

    result = CliRunner().invoke(app, args, catch_exceptions=True)
    text = result.stdout
    if result.exit_code:
        err = getattr(result, "stderr", "") or ""
        text += f"\n[exit {result.exit_code}] {err.strip()} {result.exception!r}"
    return text


def _is_mpc(table: Path) -> bool:
    return "family: ckks" not in table.read_text()


# Generations: name -> (spec, --set overrides, options when priced); decode steps repeat every layer, so the
# specs are small and the variants those whose decode steps differ (a window the KV cache grows past, a pruned
# cache, experts, a batch), priced with --allow-missing so that tables without pruning or routing still show them.
GENERATIONS = {
    "gpt2_sm_ln_g_g4": ("gpt2_sm_ln_g", ["inference.generate=4"], []),
    "tinyllama_1.1b_g4": ("tinyllama_1.1b", ["inference.generate=4"], []),
    "gpt2_sm_ln_g_window": ("gpt2_sm_ln_g", ["model.layers=2", "inference.context=6", "inference.generate=5",
                                             "attention.window=8"], ["--allow-missing"]),
    "gpt2_sm_ln_g_pruned": ("gpt2_sm_ln_g", ["model.layers=3", "inference.generate=3",
                                             "pruning.schedule=[{after: 1, keep: 0.5}]"], ["--allow-missing"]),
    "tinyllama_1.1b_moe_batch": ("tinyllama_1.1b", ["model.layers=2", "inference.generate=3", "inference.batch=2",
                                                    "ffn.experts=4", "ffn.top_k=2"], ["--allow-missing"]),
}


def cases():
    specs = sorted((ROOT / "arch_specs").glob("*.yaml"))
    tables = sorted((ROOT / "cost_tables").glob("*.yaml"))
    for name, (spec, sets, priced) in GENERATIONS.items():
        base = ["estimate", str(ROOT / "arch_specs" / f"{spec}.yaml")] + [a for s in sets for a in ("--set", s)]
        yield f"generate__{name}.json", base + ["--format", "json"]
        for table in tables:
            yield f"generate__{name}__{table.stem}.json", base + ["-p", table.stem, *priced, "--format", "json"]
            yield f"generate__{name}__{table.stem}.txt", base + ["-p", table.stem, *priced, "--by", "kind"]
    for spec in specs:
        yield f"estimate__{spec.stem}.json", ["estimate", str(spec), "--format", "json"]
        for table in tables:
            base = ["estimate", str(spec), "-p", table.stem]
            yield f"estimate__{spec.stem}__{table.stem}.json", base + ["--format", "json"]
            yield f"estimate__{spec.stem}__{table.stem}.txt", base + ["--by", "kind"]
            if _is_mpc(table):
                for metric in ("comm", "latency"):
                    yield (f"formula__{spec.stem}__{table.stem}__{metric}.txt",
                           ["formula", str(spec), "-m", metric, "-p", table.stem])
                yield (f"formula__{spec.stem}__{table.stem}__comm_by_op.txt",
                       ["formula", str(spec), "-m", "comm", "-p", table.stem, "--by", "op"])
                yield (f"scaling__{spec.stem}__{table.stem}.txt",
                       ["scaling", str(spec), "-p", table.stem, "-T", "128:2048"])


def write(out: Path) -> None:
    if os.environ.get("PYTHONHASHSEED") != "0":  # set order must not vary between the two runs compared
        sys.exit(subprocess.run([sys.executable, *sys.argv], env={**os.environ, "PYTHONHASHSEED": "0"}).returncode)
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for name, args in cases():
        (out / name).write_text(_invoke(args).replace(str(ROOT), "<repo>"))
        n += 1
    print(f"wrote {n} outputs to {out}")


def compare(a: Path, b: Path) -> int:
    names = sorted({p.name for p in a.iterdir()} | {p.name for p in b.iterdir()})
    differ = [n for n in names if not (a / n).is_file() or not (b / n).is_file()
              or hashlib.sha256((a / n).read_bytes()).digest() != hashlib.sha256((b / n).read_bytes()).digest()]
    for n in differ:
        print(f"differs: {n}")
    print(f"{len(names) - len(differ)} of {len(names)} outputs byte-identical")
    return 1 if differ else 0


def reports() -> int:
    env = {**os.environ, "PIDSE_DB": str(Path(os.environ.get("TMPDIR", "/tmp")) / "pidse-golden.sqlite")}
    Path(env["PIDSE_DB"]).unlink(missing_ok=True)  # a fresh database: the published perplexities only
    for command in REPORT_COMMANDS:
        print(f"$ {command}", flush=True)
        subprocess.run(command, shell=True, cwd=ROOT, env=env, check=True, stdout=None if ">" in command
                       else subprocess.DEVNULL)
    return subprocess.run(["git", "status", "--porcelain", "reports"], cwd=ROOT).returncode


if __name__ == "__main__":
    verb = sys.argv[1] if len(sys.argv) > 1 else ""
    if verb == "write" and len(sys.argv) == 3:
        write(Path(sys.argv[2]))
    elif verb == "compare" and len(sys.argv) == 4:
        sys.exit(compare(Path(sys.argv[2]), Path(sys.argv[3])))
    elif verb == "reports":
        sys.exit(reports())
    else:
        sys.exit(__doc__)
