"""`pidse train` with several runs (a grid): the command line's side of pidse/train/grid.py. Every option and run is
checked first; the driver stores each run as it finishes."""
from __future__ import annotations

import math

import typer

from pidse.cli.train_checks import (MAX_RETRIES, MAX_THREADS, MAX_WORKERS, check_memory, check_options)
from pidse.errors import InputError


def train_grid(specs, space, set_, context, steps, token_list, seed_list, *, device, batch, lr, eval_every, threads,
               entropy_mode, precision, out, label, name, data, dataset, db, no_db, executor, address, gpus_per_run,
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
    from pidse.train.executors import LocalExecutor, RayExecutor
    from pidse.train.grid import MAX_RUNS, View, grid_tasks, run_grid, store_run, stored_keys, summary_table
    from pidse.train.loop import TrainConfig, check_trainable, mixed_precision, resolve_device

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
                      entropy_mode=entropy_mode.value, precision=precision)
    if resolved is not None:
        mixed_precision(cfg, resolved)
    from pidse.ppl.db import open_db
    from pidse.train.loop import write_run

    store = None if no_db else open_db(db)
    try:
        held = stored_keys(store, corpus.name) if store is not None else set()
        todo = [t for t in tasks if t.key(corpus.name, batch, t.config(cfg).identity()) not in held]
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
                gpus_here = local_gpus(device, torch.cuda.device_count() if torch.cuda.is_available() else 0)
                default = len(gpus_here) or max(1, (os.cpu_count() or 1) // cpus_per_run)
                pool = LocalExecutor(workers or default, gpus_here)
                if len(gpus_here) > 1:
                    typer.echo(f"spreading the runs over {len(gpus_here)} GPUs (cuda:0 to cuda:{len(gpus_here) - 1})",
                               err=True)
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


def local_gpus(device: str, count: int) -> list[str]:
    """The GPUs a local grid spreads its runs over: every one here for --device cuda (or auto, when there are
    GPUs), none for cpu or a named one (cuda:N trains every run there)."""
    if device in ("cuda", "auto") and count > 0:
        return [f"cuda:{i}" for i in range(count)]
    return [device] if device.startswith("cuda:") else []


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
    from pidse.search.space import ContextSetting, load_space
    from pidse.spec.labels import aero_label
    from pidse.spec.definition import validate

    design = load_space(name)
    contexts = [context] if context else list(design.contexts) or [128]
    points = design.architectures(contexts)
    if points * runs_per_arch > max_runs:
        raise InputError("--space", None, f"a grid of at most {max_runs:,} runs (points x seeds x token budgets; "
                         f"this one has {points * runs_per_arch:,})", name)
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
                    archs.append((spec, spec_ref(design.base_path, sets), aero_label(spec), setting.dataset))
    return archs
