"""Where the runs of a training grid train, and the worker's side of a run (pidse/train/grid.py drives them).

Two executors, one interface (room, submit, wait, close):
  local  process pools from concurrent.futures ('spawn'), one single-worker pool per slot: a worker that dies
         breaks only its own pool (BrokenProcessPool), which is replaced; the run it held is retried, the others
         go on undisturbed.
  ray    one Ray task per attempt, with num_cpus / num_gpus; Ray's system errors (a worker crashed or was killed
         by its memory monitor, a node lost) are retried here the same way, so attempts are counted alike.
A run whose training raises (a bad spec, a corpus that differs on a worker, CUDA out of memory) fails at once:
the same error would come back.

The worker (`run_task`) trains one task and returns its run record; it never writes the database.
"""
from __future__ import annotations

import os
import signal
import socket
from dataclasses import replace
from typing import TYPE_CHECKING

from pidse.errors import InputError, cut

if TYPE_CHECKING:
    from pidse.train.grid import Task


class RunFailed(Exception):
    """A worker's training raised: one line, picklable (unlike some exceptions it may wrap)."""


# ---- the worker ----------------------------------------------------------------------------------------------

def run_task(task: Task, cfg, corpus_ref: tuple, die: bool = False) -> dict:
    """Train one task (in a worker process); the run record, its host added. `corpus_ref` is (folder or None for
    the standard library, dataset name, digest): a worker whose corpus differs from the driver's fails."""
    from pidse.train.data import load_corpus
    from pidse.train.loop import train

    host = socket.gethostname()

    def progress(line: str) -> None:
        if die:  # KILL_ENV: the worker dies mid-run, as one killed or out of memory would
            os.kill(os.getpid(), signal.SIGKILL)

    try:
        data, dataset, digest = corpus_ref
        corpus = load_corpus(data, dataset)
        if corpus.digest != digest:
            raise RunFailed(f"the corpus on {host} ({corpus.root}, digest {corpus.digest}) differs from the "
                            f"driver's (digest {digest}): the same Python, or the same --data, on every machine")
        result = train(task.spec, corpus, task.config(cfg), progress=progress)
    except RunFailed:
        raise
    except Exception as err:
        raise RunFailed(one_line(err)) from None
    result["provenance"]["host"] = host
    return result


def one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return cut(f"{type(err).__name__}: {text[0] if text else ''}".rstrip(": "), 300)


# ---- executors -----------------------------------------------------------------------------------------------

class LocalExecutor:
    """Runs on this machine: `workers` single-process pools ('spawn'), each reused until its worker dies. With
    `devices` (the GPUs of a multi-GPU machine), each pool trains on one of them, the least used when it starts,
    so that the runs spread over every GPU."""
    name = "local"

    def __init__(self, workers: int, devices: list[str] | None = None):
        import multiprocessing

        self.workers, self.context = workers, multiprocessing.get_context("spawn")
        self.devices = devices or []
        self.idle: list = []  # pools whose worker waits for a run
        self.busy: dict = {}  # future -> its pool
        self.device_of: dict = {}  # pool -> the device its runs train on (with `devices`)

    def room(self) -> bool:
        return len(self.busy) < self.workers

    def next_device(self) -> str:
        """The device a new pool trains on: the one the fewest live pools use (the first of those)."""
        load = {d: 0 for d in self.devices}
        for device in self.device_of.values():
            load[device] += 1
        return min(self.devices, key=lambda d: load[d])

    def submit(self, task, cfg, *args):
        from concurrent.futures import ProcessPoolExecutor

        if self.idle:
            pool = self.idle.pop()
        else:
            pool = ProcessPoolExecutor(1, mp_context=self.context)
            if self.devices:
                self.device_of[pool] = self.next_device()
        if pool in self.device_of:  # the device is not in the run's identity (TrainConfig.identity)
            cfg = replace(cfg, device=self.device_of[pool])
        future = pool.submit(run_task, task, cfg, *args)
        self.busy[future] = pool
        return future

    def wait(self, timeout: float) -> list:
        """[(handle, 'ok' | 'crashed' | 'error', result or reason)] of the runs that finished."""
        from concurrent.futures import FIRST_COMPLETED
        from concurrent.futures import wait as wait_futures
        from concurrent.futures.process import BrokenProcessPool

        done, _ = wait_futures(list(self.busy), timeout, return_when=FIRST_COMPLETED)
        out = []
        for future in done:
            pool = self.busy.pop(future)
            try:
                out.append((future, "ok", future.result()))
            except BrokenProcessPool:
                _stop(pool)
                self.device_of.pop(pool, None)
                out.append((future, "crashed", "its worker process died (killed, crashed or out of memory)"))
                continue
            except Exception as err:
                out.append((future, "error", str(err) if isinstance(err, RunFailed) else one_line(err)))
            self.idle.append(pool)
        return out

    def close(self) -> None:
        for pool in [*self.idle, *self.busy.values()]:
            _stop(pool)
        self.idle, self.busy, self.device_of = [], {}, {}


def _stop(pool) -> None:
    """Shut a pool down without waiting for a run it holds (an interrupted grid): its worker is killed."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):  # Python 3.14: pool.kill_workers()
        if process.is_alive():
            process.kill()
    pool.shutdown(wait=False, cancel_futures=True)


class RayExecutor:
    """Ray tasks with num_cpus / num_gpus each, on the cluster at `address` ('auto', 'ray://host:10001', ...),
    or on a local Ray instance started here when there is none (and stopped at the end)."""
    name = "ray"

    def __init__(self, address: str | None, cpus: float, gpus: float, workers: int | None):
        try:
            import ray
        except ImportError:
            raise InputError("--executor ray", None, "Ray, from the grid extra: pip install -e '.[grid]'") from None
        self.ray, self.workers, self.running = ray, workers, set()
        self.owned = not ray.is_initialized()
        if self.owned:
            try:
                ray.init(address=address, include_dashboard=False, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as err:
                raise InputError("--address", None, f"a Ray cluster to connect to ({one_line(err)})",
                                 address or "a local instance") from None
        # max_retries=0: a crashed attempt comes back here, where it is counted and retried like a local one
        self.remote = ray.remote(run_task).options(num_cpus=cpus, num_gpus=gpus, max_retries=0)

    def room(self) -> bool:
        return self.workers is None or len(self.running) < self.workers

    def submit(self, *args):
        ref = self.remote.remote(*args)
        self.running.add(ref)
        return ref

    def wait(self, timeout: float) -> list:
        ray = self.ray
        ready, _ = ray.wait(list(self.running), num_returns=len(self.running), timeout=timeout)
        out = []
        for ref in ready:
            self.running.discard(ref)
            try:
                out.append((ref, "ok", ray.get(ref)))
            except ray.exceptions.RayTaskError as err:  # the training raised: its RunFailed line
                cause = getattr(err, "cause", None)
                out.append((ref, "error", str(cause) if isinstance(cause, RunFailed) else one_line(cause or err)))
            except ray.exceptions.RayError as err:  # the worker or its node died
                out.append((ref, "crashed", one_line(err)))
        return out

    def close(self) -> None:
        for ref in self.running:
            self.ray.cancel(ref, force=True)
        self.running = set()
        if self.owned:
            self.ray.shutdown()
