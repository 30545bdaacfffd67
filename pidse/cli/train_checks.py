"""The options of `pidse train` (one run or a grid) checked against their limits before any work: README, "Bad
input"."""
from __future__ import annotations

import math
from pathlib import Path

from pidse.errors import InputError

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


def seed_list_of(seed, seeds) -> list:
    if seed is not None and seeds is not None:
        raise InputError("--seed/--seeds", None, "one of them, not both")
    return number_list(seeds, "--seeds", int) if seeds is not None else [0 if seed is None else seed]


def number_list(text, option: str, kind) -> list:
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
