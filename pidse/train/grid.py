"""Training grids: many runs (architecture x seed x token budget), on local worker processes or a Ray cluster.

The driver (`run_grid`, called by `pidse train` with several specs, a --space or several seeds) hands tasks to an
executor, retries the runs whose worker died, and passes each finished run to `finish` in this process (the
CLI's: write run.json, add the database row in one transaction). Workers only train (`run_task`: the training
loop on one spec) and return the run record; they never write the database, so a killed worker or a lost node
leaves it valid, and the same grid run again skips what is stored (`stored_keys`).

The executors (local worker processes, Ray tasks) and the worker's side are in executors.py. A run whose worker
died is retried; one whose training raises (a bad spec, a corpus that differs on a worker, CUDA out of memory)
fails at once: the same error would come back.
"""
from __future__ import annotations

import os
import re
import socket
import time
from collections import deque
from dataclasses import dataclass, field, replace

from pidse import __version__
from pidse.errors import InputError
from pidse.ppl.rows import make_run
from pidse.spec.archkey import arch_key
from pidse.spec.definition import Spec
from pidse.train.report import ppl_text

MAX_RUNS = 10_000  # tasks in one grid
POLL_S = 0.5  # how often the driver looks for finished runs (and redraws the progress)
# Fault injection for the tests: NAME[:K] makes the worker of run NAME kill itself (SIGKILL) in its first K
# attempts (default 1), after building the model and its first evaluation.
KILL_ENV = "PIDSE_TEST_KILL_RUN"


@dataclass
class Task:
    """One run of a grid."""
    name: str  # its folder under --out; unique in the grid
    spec: Spec
    spec_ref: str  # the database's spec column: the file and its --set items
    label: str
    seed: int
    steps: int
    arch_key: str = ""

    def __post_init__(self):
        self.arch_key = self.arch_key or arch_key(self.spec)

    def config(self, cfg):
        """The training settings this run trains with: the grid's, at its seed and steps (the worker trains with
        them, and a resumed grid looks for their identity)."""
        return replace(cfg, seed=self.seed, steps=self.steps)

    def key(self, dataset: str, batch: int, config: str | None = None) -> tuple:
        """What a resumed grid looks for in the database: architecture, context, dataset, tokens, seed and the
        identity of the training settings (TrainConfig.identity: lr, batch, precision, ...), so that the same
        grid with another recipe trains again."""
        T = self.spec.context
        return self.arch_key, T, dataset, float(self.steps * batch * T), self.seed, config


@dataclass
class Outcome:
    """What became of a task: its run record, or why it failed after its last attempt."""
    task: Task
    attempts: int = 0
    result: dict | None = None
    error: str | None = None
    seconds: float = 0.0  # wall time of its last attempt, as the driver saw it


def grid_tasks(archs: list, budgets: list, seeds: list, steps_of, batch: int) -> list[Task]:
    """One task per architecture (spec, spec ref, label, _), token budget and seed, named
    SPEC-ARCHKEY-T<T>-s<seed>-n<steps>; `steps_of(spec, tokens, seed)` checks the options and gives the steps. Two
    entries that are one architecture (two spellings, two points of a space) are one task."""
    tasks, keys, owners = [], set(), {}
    for spec, ref, label, _ in archs:
        for tokens in budgets:
            for seed in seeds:
                task = Task("", spec, ref, label, seed, steps_of(spec, tokens, seed))
                if task.key("", batch) in keys:
                    continue
                keys.add(task.key("", batch))
                prefix = f"{spec.name}-{task.arch_key[:8]}"  # the whole key where 8 digits would name two
                short = task.arch_key[:8] if owners.setdefault(prefix, task.arch_key) == task.arch_key \
                    else task.arch_key
                task.name = f"{spec.name}-{short}-T{spec.context}-s{seed}-n{task.steps}"
                tasks.append(task)
    return tasks


CONFIG_IN_SOURCE = re.compile(r"\bconfig ([0-9a-f]{8})\b")  # as pidse.train.loop writes a run's source


def stored_keys(store, dataset: str) -> set:
    """Keys (as Task.key) of the runs the database holds for `dataset`: a resumed grid skips them. A run's
    training settings are read from its source ('... config 1a2b3c4d, cuda'); a row without them (published, or
    added by hand) matches no task."""
    keys = set()
    for r in store.query(dataset=dataset):
        found = CONFIG_IN_SOURCE.search(r["source"] or "")
        keys.add((r["arch_key"], r["context"], r["dataset"], r["train_tokens"], r["seed"],
                  found.group(1) if found else None))
    return keys


def store_run(store, outcome: Outcome, dataset: str, executor: str) -> str | None:
    """A finished run's database row, with its seed and provenance, in one transaction; None, or why it was not
    stored."""
    task, result = outcome.task, outcome.result
    ok = result["status"] == "ok"
    try:
        run = make_run(task.spec, task.spec_ref, context=result["context"], dataset=dataset, source=result["source"],
                       ppl=result["final"]["eval_ppl"] if ok else None, status=result["status"],
                       train_tokens=result["train_tokens"], label=result["label"], family="pidse train",
                       seed=task.seed, provenance=provenance(result, executor, outcome.attempts), where=task.name)
        store.store([(run, task.name)])
    except InputError as err:
        return f"not added to the database: {err}"
    return None


def doomed_runs() -> dict:
    """KILL_ENV parsed: run name -> attempts whose worker dies."""
    value = os.environ.get(KILL_ENV, "")
    name, _, times = value.rpartition(":")
    if not times.isdigit():
        name, times = value, "1"
    return {name: int(times)} if name else {}


def provenance(result: dict, executor: str, attempt: int) -> dict:
    """The database row's provenance: how and where the run was trained."""
    prov = result["provenance"]
    return {"steps": result["steps_done"], "device": prov["device"], "host": prov.get("host") or socket.gethostname(),
            "pidse": prov.get("pidse", __version__), "torch": prov.get("torch"), "executor": executor,
            "attempt": attempt, "seconds": prov.get("seconds")}


# ---- the driver ----------------------------------------------------------------------------------------------

@dataclass
class View:
    """Progress across the grid on stderr (rich): runs finished of all, running, failed, time left; and one line
    per event (a retry, a failure) above it."""
    total: int
    progress: object = field(default=None, repr=False)

    def __enter__(self):
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self.progress = Progress(TextColumn("grid"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[state]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                                 console=Console(stderr=True))
        self.progress.__enter__()
        self.bar = self.progress.add_task("grid", total=self.total, state="")
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def update(self, finished: int, running: int, failed: int) -> None:
        self.progress.update(self.bar, completed=finished, state=f"{running} running, {failed} failed")

    def say(self, line: str) -> None:
        self.progress.console.print(line, markup=False, highlight=False, soft_wrap=True)


def run_grid(tasks: list[Task], executor, cfg, corpus_ref: tuple, finish, retries: int = 2, view=None) -> list:
    """Run every task on `executor`; `finish(outcome)` keeps each finished run (in this process, as it arrives)
    and returns None, or why it could not (the run then counts as failed). A run whose worker died is retried up to
    `retries` times. Returns the outcomes in task order; the executor is closed, also when interrupted."""
    outcomes = {t.name: Outcome(t) for t in tasks}
    doomed = doomed_runs()
    queue, running, started = deque(tasks), {}, {}
    failed = 0
    try:
        while queue or running:
            while queue and executor.room():
                task = queue.popleft()
                outcome = outcomes[task.name]
                outcome.attempts += 1
                handle = executor.submit(task, cfg, corpus_ref, outcome.attempts <= doomed.get(task.name, 0))
                running[handle], started[handle] = task, time.perf_counter()
            for handle, kind, value in executor.wait(POLL_S):
                task = running.pop(handle)
                outcome = outcomes[task.name]
                outcome.seconds = time.perf_counter() - started.pop(handle)
                if kind == "ok":
                    outcome.result = value
                    outcome.error = finish(outcome)
                elif kind == "crashed" and outcome.attempts <= retries:
                    _say(view, f"{task.name}: attempt {outcome.attempts} lost: {value}; retrying")
                    queue.appendleft(task)
                    continue
                else:
                    outcome.error = value
                if outcome.error:
                    failed += 1
                    _say(view, f"{task.name}: failed after {outcome.attempts} attempt(s): {outcome.error}")
            if view is not None:
                finished = sum(o.result is not None or o.error is not None for o in outcomes.values())
                view.update(finished, len(running), failed)
    finally:
        executor.close()
    return list(outcomes.values())


def summary_table(outcomes: list, batch: int) -> str:
    """One row per run: label, architecture, context, seed, tokens, perplexity (or diverged / failed), seconds,
    attempts."""
    from pidse.report.text import grid

    rows = []
    for o in outcomes:
        t, r = o.task, o.result
        ppl = "failed" if o.error else "diverged" if r["status"] != "ok" else ppl_text(r['final']['eval_ppl'])
        rows.append([t.label or t.spec.name, t.arch_key[:8], str(t.spec.context), str(t.seed),
                     f"{t.steps * batch * t.spec.context:,}", ppl, f"{o.seconds:.1f}", str(o.attempts)])
    return grid(["run", "arch", "T", "seed", "tokens", "ppl", "seconds", "attempts"], rows, markdown=False)


def _say(view, line: str) -> None:
    if view is not None:
        view.say(line)
