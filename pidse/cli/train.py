"""`pidse train` and `pidse entropy`: registered on the main app by pidse/cli/app.py with `register(app)`.

Each command imports what it needs inside it, lazily (torch, matplotlib, the database), so that the other
commands start without it; without the train extra, `pidse train` says so in one line.
"""
from __future__ import annotations

import math
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from pidse.errors import InputError, user_errors


class EntropyMode(str, Enum):
    mean = "mean"
    per_query = "per_query"


def train(
    spec: Path = typer.Argument(..., metavar="SPEC", help="Architecture spec to build and train.",
                                show_default=False),
    set_: List[str] = typer.Option([], "--set", metavar="KEY=VALUE", help="Override a spec value, as in "
                                   "`pidse estimate` (the tiny model: --set model.layers=4 --set model.d_model=128 "
                                   "--set model.heads=4 --set model.d_ff=512 --set model.vocab_size=256 "
                                   "--set model.max_context=128 --set inference.context=128)."),
    context: Optional[int] = typer.Option(None, "--context", "-T", metavar="T", help="Training sequence length "
                                          "T (overrides inference.context)."),
    steps: Optional[int] = typer.Option(None, "--steps", metavar="N", help="Optimizer steps (default 500)."),
    tokens: Optional[float] = typer.Option(None, "--tokens", metavar="N", help="Training tokens instead of "
                                           "--steps: steps = ceil(N / (batch x T))."),
    seed: int = typer.Option(0, "--seed", metavar="S", help="Seed of the initialisation and the data order."),
    device: str = typer.Option("auto", "--device", metavar="auto|cpu|cuda",
                               help="auto: a CUDA GPU when there is one, else the CPU."),
    batch: int = typer.Option(16, "--batch", metavar="B", help="Sequences per step."),
    lr: float = typer.Option(1e-3, "--lr", help="Peak learning rate (AdamW, 5% warmup, linear decay to 10%)."),
    eval_every: int = typer.Option(50, "--eval-every", metavar="N", help="Steps between validation losses "
                                   "and head entropies."),
    threads: Optional[int] = typer.Option(None, "--threads", metavar="N", help="CPU threads for torch."),
    entropy_mode: EntropyMode = typer.Option(EntropyMode.mean, "--entropy-mode",
                                             help="Entropy regulariser (when the spec's training.entropy_reg is "
                                                  "on): mean = Algorithm 1 on query-averaged entropy; per_query "
                                                  "= the public code's per-position penalty, summed."),
    out: Path = typer.Option(Path("runs"), "--out", "-o", metavar="DIR", help="Runs folder: writes DIR/NAME/"
                             "run.json."),
    label: Optional[str] = typer.Option(None, "--label", help="Label for the run and the database (default: "
                                        "the spec's), e.g. SM(t)+ScFuFFN for a spec changed with --set."),
    name: Optional[str] = typer.Option(None, "--name", help="Run name (default: SPEC-ARCHKEY-s<seed>-n<steps>)."),
    data: Optional[Path] = typer.Option(None, "--data", metavar="DIR", help="Train on the *.py files under DIR "
                                        "instead of the Python standard library."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Dataset name for the database (default "
                                          "python_stdlib, or DIR's name with --data)."),
    db: Optional[Path] = typer.Option(None, "--db", envvar="PIDSE_DB", metavar="FILE", show_default=False,
                                      help="Perplexity database (default $PIDSE_DB, else "
                                           "~/.local/share/pidse/ppl.sqlite)."),
    no_db: bool = typer.Option(False, "--no-db", help="Do not add the result to the database."),
):
    """Build the model SPEC describes and train it as a causal LM on Python source (offline); report loss,
    perplexity, divergence and per-head attention entropy; add the result to the perplexity database.

    Entropy regularisation (AERO's Algorithm 1) is on when the spec's training.entropy_reg is.

    Example: pidse train arch_specs/gpt2_sm_t_scfuffn_ereg.yaml --steps 300 --set model.layers=4 ...
    """
    try:
        import torch  # noqa: F401
    except ImportError:
        raise InputError("pidse train", None, "PyTorch, from the train extra: pip install -e '.[train]'") from None
    from pidse.spec.archkey import arch_key
    from pidse.spec.load import load_spec
    from pidse.train.data import load_corpus, require_tokens
    from pidse.train.loop import TrainConfig, check_trainable, resolve_device
    from pidse.train.loop import train as run_training
    from pidse.train.loop import write_run

    loaded = load_spec(spec, set_, context)
    check_trainable(loaded)
    resolved = resolve_device(device)  # a bad --device fails before the corpus is read
    steps = check_options(loaded, steps=steps, tokens=tokens, batch=batch, lr=lr, eval_every=eval_every,
                          threads=threads, seed=seed, label=label, name=name, dataset=dataset, out=out)
    check_memory(loaded, batch, resolved)
    cfg = TrainConfig(steps=steps, batch=batch, lr=lr, eval_every=eval_every, seed=seed, device=device,
                      threads=threads, entropy_mode=entropy_mode.value)
    corpus = load_corpus(str(data) if data else None, dataset)
    require_tokens(corpus, loaded.context)
    run_name = name or f"{loaded.name}-{arch_key(loaded)[:8]}-s{seed}-n{steps}"
    typer.echo(f"training {label or loaded.label or loaded.name} ({run_name}) on {corpus.name}: {steps} steps x {batch} x "
               f"{loaded.context} tokens", err=True)
    result = run_training(loaded, corpus, cfg, progress=lambda line: typer.echo(line, err=True))
    from pidse.ppl.rows import spec_ref

    result["name"], result["spec"] = run_name, spec_ref(spec, set_)
    result["label"] = label or result["label"]
    path = write_run(result, out / run_name)
    typer.echo(summary(result, path))
    if no_db:
        return
    from pidse.ppl.db import open_db

    ok = result["status"] == "ok"
    try:
        with open_db(db) as store:
            stored = store.add(spec, overrides=set_, context=result["context"], dataset=corpus.name,
                               train_tokens=result["train_tokens"], ppl=result["final"]["eval_ppl"] if ok else None,
                               status=result["status"], source=result["source"], label=result["label"],
                               family="pidse train")
    except InputError as err:  # the run is written; say why the row is not, and keep the exit code of a bad row
        typer.echo(f"error: not added to the database: {err}", err=True)
        raise typer.Exit(2)
    where = f"row {stored.added[0]} added" if stored.added else "already stored (duplicate skipped)"
    typer.echo(f"database  {where}: {corpus.name}, T={result['context']}, {result['train_tokens']:,} tokens")


# Limits on the training options (README, "Bad input"): far above a CPU run's, low enough that a typo fails
# at once instead of after hours or an exhausted memory.
MAX_STEPS = 10_000_000
MAX_TRAIN_BATCH = 4096
MAX_THREADS = 1024
MAX_LR = 1e6  # a divergence test trains at 1e4
MAX_SEED = 2**32 - 1  # numpy's seeds
MAX_TEXT = 200  # a run name or label


def check_options(spec, *, steps, tokens, batch, lr, eval_every, threads, seed, label, name, dataset,
                  out: Path) -> int:
    """Every training option against its limits, before the corpus is read or a model built; the steps to run
    (--steps, or --tokens / (batch x T), default 500)."""
    for option, value, high in (("--batch", batch, MAX_TRAIN_BATCH), ("--eval-every", eval_every, MAX_STEPS),
                                ("--steps", steps, MAX_STEPS), ("--threads", threads, MAX_THREADS)):
        if value is not None and not 1 <= value <= high:
            raise InputError(option, None, f"a positive integer up to {high:,}", value)
    if not 0 <= seed <= MAX_SEED:
        raise InputError("--seed", None, f"an integer from 0 to {MAX_SEED:,}", seed)
    if not (math.isfinite(lr) and 0 < lr <= MAX_LR):
        raise InputError("--lr", None, f"a learning rate above 0, at most {MAX_LR:g}", lr)
    if steps is not None and tokens is not None:
        raise InputError("--steps/--tokens", None, "one of them, not both")
    if tokens is not None:
        if not (math.isfinite(tokens) and tokens > 0):
            raise InputError("--tokens", None, "a positive number of tokens", tokens)
        steps = math.ceil(tokens / (batch * spec.context))
        if steps > MAX_STEPS:
            raise InputError("--tokens", None, f"at most {MAX_STEPS:,} steps' worth ({MAX_STEPS:,} x --batch "
                             f"{batch} x T {spec.context})", tokens)
    for option, value in (("--label", label), ("--name", name), ("--dataset", dataset)):
        if value is not None and not (value.strip() and value == value.strip() and len(value) <= MAX_TEXT
                                      and value.isprintable()):
            raise InputError(option, None, f"a text on one line of at most {MAX_TEXT} characters, without "
                             "surrounding spaces", value)
    if name is not None and (set(name) & set("/\\") or name in (".", "..")):
        raise InputError("--name", None, "a folder name (no / or \\), written under --out", name)
    if out.exists() and not out.is_dir():
        raise InputError("--out", None, "a folder for the runs (this is a file)", str(out))
    return steps or 500


def check_memory(spec, batch: int, device) -> None:
    """A model whose training fits the device: weights, gradients and AdamW's two moments (16 bytes per parameter)
    plus activations (a rough 4 bytes x batch x T x layers x (16 d_model + 2 heads x T)), against the machine's
    memory (or the GPU's). Fails at once rather than after the allocator has exhausted the machine."""
    import os

    import torch

    from pidse.model.estimate import estimate

    m, T = spec.model, spec.context
    params = estimate(spec).totals["params"]
    need = 16 * params + 4 * batch * T * m.layers * (16 * m.d_model + 2 * m.heads * T + 2 * m.d_ff)
    if device.type == "cuda":
        have, where = torch.cuda.get_device_properties(device).total_memory, "the GPU"
    else:
        import resource

        have, where = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), "this machine"
        limit = resource.getrlimit(resource.RLIMIT_AS)[0]  # a process limit (ulimit -v) below the machine's
        if limit != resource.RLIM_INFINITY and limit < have:
            have, where = limit, "this process's memory limit"
    if need > have:
        raise InputError(spec.source, "model", f"a model whose training fits {where} ({have / 1e9:.1f} GB): "
                         f"{params:,} parameters at --batch {batch} and T={T} need about {need / 1e9:.1f} GB")


def summary(result: dict, path: Path) -> str:
    from pidse.train.report import RANGES, range_fractions

    prov, data = result["provenance"], result["dataset"]
    lines = [
        f"model     {result['label'] or result['spec_name']} (arch {result['arch_key']}): {result['arch']}, "
        f"{result['params']:,} params",
        f"data      {data['dataset']} {data['digest']} ({data['tokenizer']}): {data['train_tokens_available']:,} "
        f"train / {data['val_tokens']:,} validation tokens, T={result['context']}",
        f"trained   {result['steps_done']} steps, {result['tokens_seen']:,} tokens on {prov['device']} in "
        f"{prov['seconds']:.0f} s ({prov['tokens_per_s']:,} tokens/s)",
    ]
    if result["status"] == "ok":
        f = result["final"]
        lines.append(f"result    ok: train loss {f['train_loss']:.4f}, eval loss {f['eval_loss']:.4f}, "
                     f"eval ppl {f['eval_ppl']:.4f}")
    else:
        d = result["diverged"]
        lines.append(f"result    DIVERGED at step {d['step']}: {d['reason']}")
    evals = result["history"]["evals"]
    e_max = math.log(result["context"])
    import numpy as np

    ent = np.asarray(evals[-1]["entropy"])
    lines.append(f"entropy   at step {evals[-1]['step']}, mean head entropy / log T by layer: "
                 + " ".join(f"{x:.2f}" for x in ent.mean(1) / e_max))
    lines.append("heads     " + ", ".join(f"{r} {100 * x:.0f}%" for r, x in zip(RANGES,
                                                                            range_fractions(ent, e_max))))
    lines.append(f"wrote     {path}")
    return "\n".join(lines)


def entropy(
    runs: List[Path] = typer.Argument(..., metavar="RUN...", help="Run folders (or run.json files) written by "
                                      "`pidse train`.", show_default=False),
    out: Optional[Path] = typer.Option(None, "--out", "-o", metavar="DIR", help="Folder for the plots and "
                                       "entropy.md (default: a new folder pidse-entropy in the working "
                                       "directory)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier entropy.md and its plots in "
                                   "--out."),
    fmt: str = typer.Option("table", "--format", "-f", metavar="FORMAT", help="The summary table: table or "
                            "markdown."),
    markdown: bool = typer.Option(False, "--markdown", hidden=True, help="The same as --format markdown."),
):
    """Plot attention entropy of trained runs as AERO does: fraction of heads per entropy range ([0, max/4),
    ..., [3max/4, max]) per model, layer x head heatmaps, entropy per layer over training, and validation loss.

    Example: pidse entropy runs/* --out reports/training
    """
    from pidse.files import output_dir
    from pidse.train.report import read_run, render_table, summary_rows, write_report

    if fmt not in ("table", "markdown"):
        raise InputError("--format", None, "table or markdown", fmt)

    records = [read_run(r) for r in runs]
    written = write_report(records, output_dir(out, "pidse-entropy", "entropy.md", overwrite))
    typer.echo(render_table(summary_rows(records), markdown=markdown or fmt == "markdown"))
    typer.echo(f"wrote {', '.join(str(p) for p in written)}", err=True)


def register(app: typer.Typer) -> None:
    """Add `train` and `entropy` to the main app."""
    app.command("train")(user_errors(train))
    app.command("entropy")(user_errors(entropy))
