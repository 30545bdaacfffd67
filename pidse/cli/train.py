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

from pidse.cli.train_checks import check_memory, check_options, number_list, seed_list_of
from pidse.errors import InputError, user_errors


class EntropyMode(str, Enum):
    mean = "mean"
    per_query = "per_query"


class Precision(str, Enum):
    fp32 = "fp32"
    bf16 = "bf16"


class Executor(str, Enum):
    local = "local"
    ray = "ray"


def train(
    specs: Optional[List[Path]] = typer.Argument(None, metavar="SPEC...", help="Architecture spec to build and "
                                                 "train (several: a grid).", show_default=False),
    set_: List[str] = typer.Option([], "--set", metavar="KEY=VALUE", help="Override a spec value, as in "
                                   "`pidse estimate` (the tiny model: --set model.layers=4 --set model.d_model=128 "
                                   "--set model.heads=4 --set model.d_ff=512 --set model.vocab_size=256 "
                                   "--set model.max_context=128 --set inference.context=128)."),
    context: Optional[int] = typer.Option(None, "--context", "-T", metavar="T", help="Training sequence length "
                                          "T (overrides inference.context)."),
    steps: Optional[int] = typer.Option(None, "--steps", metavar="N", help="Optimizer steps (default 500)."),
    tokens: Optional[str] = typer.Option(None, "--tokens", metavar="N[,N...]", help="Training tokens instead of "
                                         "--steps: steps = ceil(N / (batch x T)); several: each budget (a grid)."),
    seed: Optional[int] = typer.Option(None, "--seed", metavar="S", help="Seed of the initialisation and the data "
                                       "order (default 0)."),
    seeds: Optional[str] = typer.Option(None, "--seeds", metavar="S,S,...", help="Several seeds, one run each "
                                        "(a grid)."),
    device: str = typer.Option("auto", "--device", metavar="auto|cpu|cuda",
                               help="auto: a CUDA GPU when there is one, else the CPU."),
    batch: int = typer.Option(16, "--batch", metavar="B", help="Sequences per step."),
    lr: float = typer.Option(1e-3, "--lr", help="Peak learning rate (AdamW, 5% warmup, linear decay to 10%)."),
    eval_every: int = typer.Option(50, "--eval-every", metavar="N", help="Steps between validation losses "
                                   "and head entropies."),
    threads: Optional[int] = typer.Option(None, "--threads", metavar="N", help="CPU threads for torch."),
    precision: Precision = typer.Option(Precision.fp32, "--precision", help="fp32, or bf16: bfloat16 autocast "
                                        "for GPUs that have it (weights, optimizer and loss stay fp32; the run's "
                                        "config and source say bf16)."),
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
    space: Optional[str] = typer.Option(None, "--space", metavar="NAME|FILE", help="Train every point of a design "
                                        "space (its architectures at its contexts, or at -T): a grid."),
    executor: Executor = typer.Option(Executor.local, "--executor", help="Where a grid trains: local = worker "
                                      "processes here; ray = Ray tasks on a cluster (the grid extra)."),
    address: Optional[str] = typer.Option(None, "--address", metavar="ADDR", help="The Ray cluster: auto, "
                                          "HOST:6379 or ray://HOST:10001 (default: a local Ray instance)."),
    gpus_per_run: Optional[float] = typer.Option(None, "--gpus-per-run", metavar="G", help="GPUs per run, on Ray "
                                                 "(default 1 with --device cuda, else 0)."),
    cpus_per_run: int = typer.Option(1, "--cpus-per-run", metavar="C", help="CPU cores per run of a grid: its "
                                     "torch threads (unless --threads), and Ray's num_cpus."),
    workers: Optional[int] = typer.Option(None, "--workers", metavar="N", help="Runs at a time (local: default "
                                          "cores / --cpus-per-run; with --device cuda one per GPU, the runs "
                                          "spread over every GPU here; ray: what the cluster fits)."),
    retries: int = typer.Option(2, "--retries", metavar="N", help="Attempts more for a run whose worker died "
                                "(killed, crashed, out of memory) before it counts as failed."),
):
    """Build the model SPEC describes and train it as a causal LM on Python source (offline); report loss,
    perplexity, divergence and per-head attention entropy; add the result to the perplexity database.

    Entropy regularisation (AERO's Algorithm 1) is on when the spec's training.entropy_reg is.

    A grid (several specs, --space, several --seeds or --tokens) trains one run per architecture, seed and token
    budget on local worker processes or a Ray cluster (--executor ray), skips runs the database already holds,
    retries runs whose worker died, and adds each finished run to the database as it arrives.

    Example: pidse train arch_specs/gpt2_sm_t_scfuffn_ereg.yaml --steps 300 --set model.layers=4 ...
    """
    try:
        import torch  # noqa: F401
    except ImportError:
        raise InputError("pidse train", None, "PyTorch, from the train extra: pip install -e '.[train]'") from None
    from pidse.spec.archkey import arch_key
    from pidse.spec.load import load_spec
    from pidse.train.data import load_corpus, require_tokens
    from pidse.train.grid import provenance
    from pidse.train.loop import TrainConfig, check_trainable, mixed_precision, resolve_device
    from pidse.train.loop import train as run_training
    from pidse.train.loop import write_run

    seed_list, token_list = seed_list_of(seed, seeds), number_list(tokens, "--tokens", float)
    specs = list(specs or [])
    if not specs and space is None:
        raise InputError("pidse train", None, "a SPEC to train, several, or --space NAME|FILE")
    if specs and space is not None:
        raise InputError("SPEC/--space", None, "one of them: spec files, or a design space's points")
    if len(specs) > 1 or space is not None or len(seed_list) > 1 or len(token_list) > 1 or executor == "ray":
        from pidse.cli.grid import train_grid

        return train_grid(specs, space, set_, context, steps, token_list, seed_list, device=device, batch=batch,
                          lr=lr, eval_every=eval_every, threads=threads, entropy_mode=entropy_mode,
                          precision=precision.value, out=out,
                          label=label, name=name, data=data, dataset=dataset, db=db, no_db=no_db, executor=executor,
                          address=address, gpus_per_run=gpus_per_run, cpus_per_run=cpus_per_run, workers=workers,
                          retries=retries)
    spec, seed, tokens = specs[0], seed_list[0], token_list[0]
    loaded = load_spec(spec, set_, context)
    check_trainable(loaded)
    resolved = resolve_device(device)  # a bad --device fails before the corpus is read
    steps = check_options(loaded, steps=steps, tokens=tokens, batch=batch, lr=lr, eval_every=eval_every,
                          threads=threads, seed=seed, label=label, name=name, dataset=dataset, out=out)
    check_memory(loaded, batch, resolved)
    cfg = TrainConfig(steps=steps, batch=batch, lr=lr, eval_every=eval_every, seed=seed, device=device,
                      threads=threads, entropy_mode=entropy_mode.value, precision=precision.value)
    mixed_precision(cfg, resolved)  # bf16 on a GPU without it fails before the corpus is read
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
                               family="pidse train", seed=seed, provenance=provenance(result, "single", 1))
    except InputError as err:  # the run is written; say why the row is not, and keep the exit code of a bad row
        typer.echo(f"error: not added to the database: {err}", err=True)
        raise typer.Exit(2)
    where = f"row {stored.added[0]} added" if stored.added else "already stored (duplicate skipped)"
    typer.echo(f"database  {where}: {corpus.name}, T={result['context']}, {result['train_tokens']:,} tokens")


def summary(result: dict, path: Path) -> str:
    from pidse.train.report import RANGES, ppl_text, range_fractions

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
                     f"eval ppl {ppl_text(f['eval_ppl'])}")
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
