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
                                          "cores / --cpus-per-run, 1 with --device cuda; ray: what the cluster "
                                          "fits)."),
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
    from pidse.train.loop import TrainConfig, check_trainable, resolve_device
    from pidse.train.loop import train as run_training
    from pidse.train.loop import write_run

    seed_list, token_list = _seeds(seed, seeds), _numbers(tokens, "--tokens", float)
    specs = list(specs or [])
    if not specs and space is None:
        raise InputError("pidse train", None, "a SPEC to train, several, or --space NAME|FILE")
    if specs and space is not None:
        raise InputError("SPEC/--space", None, "one of them: spec files, or a design space's points")
    if len(specs) > 1 or space is not None or len(seed_list) > 1 or len(token_list) > 1 or executor == "ray":
        return train_grid(specs, space, set_, context, steps, token_list, seed_list, device=device, batch=batch,
                          lr=lr, eval_every=eval_every, threads=threads, entropy_mode=entropy_mode, out=out,
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
                               family="pidse train", seed=seed, provenance=provenance(result, "single", 1))
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
MAX_WORKERS = 1024  # runs at a time, GPUs per run
MAX_RETRIES = 100


def train_grid(specs, space, set_, context, steps, token_list, seed_list, *, device, batch, lr, eval_every, threads,
               entropy_mode, out, label, name, data, dataset, db, no_db, executor, address, gpus_per_run,
               cpus_per_run, workers, retries):
    """Several runs (pidse/train/grid.py): every option and run checked first, runs the database holds skipped,
    the rest trained on the executor and stored as each finishes; then one row per run, exit code 1 if any
    failed."""
    import contextlib
    import os
    import sys

    import torch

    from pidse.ppl.rows import spec_ref
    from pidse.spec.load import load_spec
    from pidse.train.data import DATASET, load_corpus, require_tokens
    from pidse.train.grid import (MAX_RUNS, LocalExecutor, RayExecutor, View, grid_tasks, run_grid, store_run,
                                  stored_keys, summary_table)
    from pidse.train.loop import TrainConfig, check_trainable, resolve_device

    gpus = _grid_options(executor, address, device, gpus_per_run, cpus_per_run, workers, retries, name, label, specs)
    runs_per_arch = len(seed_list) * len(token_list)
    if len(specs) * runs_per_arch > MAX_RUNS:
        raise InputError("pidse train", None, f"a grid of at most {MAX_RUNS:,} runs (specs x seeds x token budgets; "
                         f"this one has {len(specs) * runs_per_arch:,})")
    if space is not None:
        if set_:
            raise InputError("--set", None, "no overrides with --space (its points are the space's own: put them "
                             "in its contexts' set:)", set_[0])
        archs = _space_archs(space, context, runs_per_arch, MAX_RUNS)
    else:
        archs = [(spec, spec_ref(path, set_), label or spec.label, None)
                 for path in specs for spec in [load_spec(path, set_, context)]]
    corpus_name = dataset or (DATASET if data is None else data.resolve().name)  # as load_corpus names it
    for spec, _, _, wanted in archs:
        if wanted is not None and wanted != corpus_name:
            raise InputError(space, f"contexts.{spec.context}.dataset", f"{corpus_name}, the dataset these runs "
                             f"train on (train with --data DIR --dataset {wanted}, or a space over {corpus_name})",
                             wanted)
    cuda_elsewhere = executor == "ray" and device.startswith("cuda") and not torch.cuda.is_available()
    resolved = None if cuda_elsewhere else resolve_device(device)  # no GPU here: the cluster's are checked there
    for spec, _, _, _ in archs:
        check_trainable(spec)

    def steps_of(spec, tokens_, seed) -> int:
        return check_options(spec, steps=steps, tokens=tokens_, batch=batch, lr=lr, eval_every=eval_every,
                             threads=threads, seed=seed, label=label, name=None, dataset=dataset, out=out)

    tasks = grid_tasks(archs, token_list, seed_list, steps_of, batch)
    if resolved is not None:
        for spec in {t.arch_key: t.spec for t in tasks}.values():
            check_memory(spec, batch, resolved)
    data_dir = str(data.resolve()) if data else None
    corpus = load_corpus(data_dir, dataset)
    for T in sorted({t.spec.context for t in tasks}):
        require_tokens(corpus, T)
    cfg = TrainConfig(batch=batch, lr=lr, eval_every=eval_every, device=device, threads=threads or cpus_per_run,
                      entropy_mode=entropy_mode.value)
    from pidse.ppl.db import open_db
    from pidse.train.loop import write_run

    store = None if no_db else open_db(db)
    try:
        held = stored_keys(store, corpus.name) if store is not None else set()
        todo = [t for t in tasks if t.key(corpus.name, batch) not in held]
        skipped = len(tasks) - len(todo)
        if not todo:
            typer.echo(f"nothing to train: all {len(tasks)} runs are in the database")
            return
        if skipped:
            typer.echo(f"skipping {skipped} of {len(tasks)} runs already in the database", err=True)

        def finish(outcome) -> str | None:  # in this process, as each run arrives: its folder, then its row
            task, result = outcome.task, outcome.result
            result["name"], result["spec"], result["label"] = task.name, task.spec_ref, task.label or result["label"]
            result["grid"] = {"executor": executor.value, "attempt": outcome.attempts}
            write_run(result, out / task.name)
            return None if store is None else store_run(store, outcome, corpus.name, executor.value)

        # Ray's driver prints its workers' deaths on stdout, from a thread: to stderr here, with the progress
        with contextlib.redirect_stdout(sys.stderr):
            if executor == "local":
                default = 1 if device.startswith("cuda") else max(1, (os.cpu_count() or 1) // cpus_per_run)
                pool = LocalExecutor(workers or default)
            else:
                pool = RayExecutor(address, cpus_per_run, gpus, workers)
            typer.echo(f"training {len(todo)} runs on {corpus.name} ({executor.value} executor, "
                       f"{pool.workers or 'as many as the cluster fits'} at a time)", err=True)
            with View(len(todo)) as view:
                outcomes = run_grid(todo, pool, cfg, (data_dir, corpus.name, corpus.digest), finish, retries, view)
    finally:
        if store is not None:
            store.close()
    typer.echo(summary_table(outcomes, batch))
    failed = [o for o in outcomes if o.error]
    for o in failed:
        typer.echo(f"failed    {o.task.name} after {o.attempts} attempt(s): {o.error}")
    counts = {s: sum(o.result is not None and not o.error and o.result["status"] == s for o in outcomes)
              for s in ("ok", "diverged")}
    typer.echo(f"grid      {counts['ok']} ok, {counts['diverged']} diverged, {len(failed)} failed of {len(todo)} "
               f"runs" + (f" ({skipped} more already in the database)" if skipped else "")
               + ("" if no_db else ", each stored as it finished") + f"; run folders under {out}/")
    if failed:
        raise typer.Exit(1)


def _grid_options(executor, address, device, gpus_per_run, cpus_per_run, workers, retries, name, label,
                  specs) -> float:
    """The grid's own options, before any work; GPUs per run."""
    if executor == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise InputError("--executor ray", None, "Ray, from the grid extra: pip install -e '.[grid]'") from None
    if name is not None:
        raise InputError("--name", None, "no run name for a grid (its runs are named SPEC-ARCHKEY-T<T>-s<seed>-n"
                         "<steps>)", name)
    if label is not None and len(specs) != 1:
        raise InputError("--label", None, "one SPEC (a grid of several architectures labels each its own way)",
                         label)
    for option, value, high in (("--cpus-per-run", cpus_per_run, MAX_THREADS), ("--workers", workers, MAX_WORKERS)):
        if value is not None and not 1 <= value <= high:
            raise InputError(option, None, f"a positive integer up to {high:,}", value)
    if not 0 <= retries <= MAX_RETRIES:
        raise InputError("--retries", None, f"an integer from 0 to {MAX_RETRIES}", retries)
    cuda = device.startswith("cuda")
    gpus = (1.0 if cuda else 0.0) if gpus_per_run is None else gpus_per_run
    if not (math.isfinite(gpus) and 0 <= gpus <= MAX_WORKERS):
        raise InputError("--gpus-per-run", None, "a number of GPUs from 0 (a fraction shares one)", gpus_per_run)
    if executor == "local":
        for option, value in (("--gpus-per-run", gpus_per_run), ("--address", address)):
            if value is not None:
                raise InputError(option, None, "--executor ray (the local executor trains on --device, --workers "
                                 "runs at a time)", value)
    elif cuda and gpus == 0:
        raise InputError("--gpus-per-run", None, "a GPU or a fraction of one per run with --device cuda (Ray hides "
                         "the GPUs from a task without)", gpus_per_run)
    return gpus


def _space_archs(name: str, context, runs_per_arch: int, max_runs: int) -> list:
    """A design space's points as (spec, spec ref, label, the dataset its context joins): its architectures at its
    contexts (or at `context`), each named by its base spec and the --set items that make it."""
    import json

    from pidse.model.pieces import with_depth
    from pidse.ppl.rows import spec_ref
    from pidse.search.space import ContextSetting, load_space, space_path
    from pidse.spec.labels import aero_label
    from pidse.spec.load import read_mapping, validate

    design = load_space(name)
    contexts = [context] if context else list(design.contexts) or [128]
    points = math.prod(len(c) for c in design.axes.values()) * sum(len(design.prune_values(L))
                                                                     for L in design.layers) * len(contexts)
    if points * runs_per_arch > max_runs:
        raise InputError("--space", None, f"a grid of at most {max_runs:,} runs (points x seeds x token budgets; "
                         f"this one has {points * runs_per_arch:,})", name)
    base = (space_path(name).parent / read_mapping(space_path(name))["base"]).resolve()
    archs = []
    for T in contexts:
        setting = design.contexts.get(T, ContextSetting(T))
        for st in design.structures(T)[0]:
            items = [item for axis, choice in st.choices.items() for item in design.axes[axis][choice].items()]
            items += [*setting.overrides, ("inference.context", T)]
            for L in design.layers:
                for k in design.prune_values(L):
                    spec = validate(with_depth(st.spec, L, k))
                    sets = [f"{key}={json.dumps(value)}" for key, value in
                            [*items, ("model.layers", L), ("ffn.prune_last", k)]]
                    archs.append((spec, spec_ref(base, sets), aero_label(spec), setting.dataset))
    return archs


def _seeds(seed, seeds) -> list:
    if seed is not None and seeds is not None:
        raise InputError("--seed/--seeds", None, "one of them, not both")
    return _numbers(seeds, "--seeds", int) if seeds is not None else [0 if seed is None else seed]


def _numbers(text, option: str, kind) -> list:
    """A comma list of numbers (duplicates dropped); [None] when the option is not given."""
    if text is None:
        return [None]
    try:
        values = [kind(item) for item in text.split(",")]
    except ValueError:
        what = "integers" if kind is int else "numbers"
        raise InputError(option, None, f"a number, or {what} separated by commas", text) from None
    return list(dict.fromkeys(values))


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
