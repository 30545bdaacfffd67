"""The training loop: AERO's recipe scaled down, divergence detection, evaluation, entropy tracking, results.

Recipe (the companion code's, scaled to a CPU): AdamW (betas 0.9, 0.95), peak lr 1e-3, weight decay 0.1 on
matrices only (not on biases, norm gains, FFN alpha/beta, temperatures or entropy thresholds), linear warmup over
the first 5% of steps, then linear ("polynomial", power 1) decay to 10% of the peak, gradient clipping at 1.0,
fp32, random windows of T + 1 tokens from the training stream.

A run diverges when a training loss or the gradient norm is not finite, or when a training loss exceeds
`explode` x ln(V) (default 2: twice what the uniform guess costs, far above any loss a working model has) for 25
steps in a row (a spike that recovers is not a divergence); training stops there and the run is recorded as
diverged, with no perplexity. Every `eval_every` steps (and at step 0 and the end) the loss on fixed validation
blocks and the attention entropy of every head (averaged over the validation sequences and query positions) are
recorded.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pidse import __version__
from pidse.errors import InputError
from pidse.spec.archkey import arch_key, describe_arch
from pidse.spec.definition import Spec
from pidse.train.data import VOCAB_SIZE, Corpus, sample_batch, validation_blocks
from pidse.train.entropy import EntropyRegularizer
from pidse.train.report import range_fractions
from pidse.train.model import GPT, lm_loss

AERO_LAMBDA, AERO_GAMMA = 1e-5, 0.2  # Algorithm 1's CodeParrot settings, used when the spec leaves them null


@dataclass
class TrainConfig:
    steps: int = 500
    batch: int = 16
    lr: float = 1e-3
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.1
    warmup: float = 0.05  # fraction of steps
    grad_clip: float = 1.0
    eval_every: int = 50
    eval_blocks: int = 128  # validation windows of T + 1 tokens
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    threads: int | None = None  # torch CPU threads (None: torch's default)
    explode: float = 2.0  # divergence: a training loss above explode x ln(V) ...
    patience: int = 25  # ... for this many steps in a row
    entropy_mode: str = "mean"  # Algorithm 1 as written ("mean") or the public code's ("per_query")
    theta_init: float = 0.5  # initial per-head entropy threshold (fraction of E_max)
    precision: str = "fp32"  # fp32, or bf16: autocast to bfloat16 (weights, optimizer and loss stay fp32)

    def identity(self) -> str:
        """8 hex digits over the settings that change the result (not device or threads). fp32 leaves the
        precision out, so that runs from before the setting existed keep their identity."""
        fields = {k: v for k, v in dataclasses.asdict(self).items() if k not in ("device", "threads")}
        if fields["precision"] == "fp32":
            del fields["precision"]
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:8]


PRECISIONS = ("fp32", "bf16")


def mixed_precision(cfg: TrainConfig, device: torch.device):
    """The context a forward pass runs in: bfloat16 autocast for bf16 (matmuls and most activations in bf16, the
    loss, softmax and norms as autocast keeps them), nothing for fp32."""
    if cfg.precision not in PRECISIONS:
        raise InputError("--precision", None, " or ".join(PRECISIONS), cfg.precision)
    if cfg.precision == "fp32":
        return contextlib.nullcontext()
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise InputError("--precision", None, f"fp32: {torch.cuda.get_device_name(device)} has no bfloat16", "bf16")
    return torch.autocast(device.type, dtype=torch.bfloat16)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError("--device", None, "cpu or auto: no CUDA device is available here", name)
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise InputError("--device", None, "auto, cpu, cuda or cuda:N", name)


def check_trainable(spec: Spec) -> None:
    if not spec.attention.causal:
        raise InputError(spec.source, "attention.causal", "true: pidse train trains causal language models", False)
    if spec.model.vocab_size < VOCAB_SIZE:
        raise InputError(spec.source, "model.vocab_size", f"at least {VOCAB_SIZE}, the byte-level tokenizer's "
                         f"vocabulary (train with --set model.vocab_size={VOCAB_SIZE})", spec.model.vocab_size)


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warmup to the peak, then linear decay to min_lr_ratio x peak at the last step."""
    warm = max(1, round(cfg.warmup * cfg.steps))
    if step < warm:
        return cfg.lr * (step + 1) / warm
    frac = (step - warm) / max(1, cfg.steps - warm)
    return cfg.lr * (1 - (1 - cfg.min_lr_ratio) * frac)


def optimizer(model: GPT, reg: EntropyRegularizer | None, cfg: TrainConfig, device) -> torch.optim.AdamW:
    decay, plain = [], []
    for name, p in model.named_parameters():
        (decay if p.ndim >= 2 and not name.endswith("log_t") else plain).append(p)
    if reg is not None:
        plain += list(reg.parameters())
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": plain, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.95), fused=device.type == "cuda")


@torch.no_grad()
def evaluate(model: GPT, val, batch: int, device, autocast=None) -> tuple[float, np.ndarray]:
    """Mean validation loss and per-head entropy (layers x heads, averaged over sequences and queries)."""
    model.eval()
    x_all, y_all = val
    total, count, ent_sum = 0.0, 0, None
    for i in range(0, len(x_all), batch):
        x = torch.from_numpy(x_all[i:i + batch]).to(device)
        y = torch.from_numpy(y_all[i:i + batch]).to(device)
        with autocast or contextlib.nullcontext():
            out = model(x, entropy=True)
            total += float(lm_loss(out, y, reduction="sum"))
        count += out.logits.shape[:2].numel()  # positions scored: fewer than y's with token pruning
        ent = torch.stack([e.sum((0, 2)) / e.shape[2] for e in out.entropies]).double().cpu().numpy()
        ent_sum = ent if ent_sum is None else ent_sum + ent
    model.train()
    return total / count, ent_sum / len(x_all)


class Divergence:
    """Decides, step by step, whether a run has diverged; `reason` says why.

    Diverged: a training loss or gradient norm that is not finite (at once), or a training loss above
    explode x ln(V) for `patience` steps in a row (a spike that comes back down is not a divergence).
    """

    def __init__(self, vocab_size: int, explode: float, patience: int = 25):
        self.limit = explode * math.log(vocab_size)
        self.explode, self.patience = explode, patience
        self.above = 0
        self.reason: str | None = None

    def check(self, loss: float, grad_norm: float | None = None) -> bool:
        self.above = self.above + 1 if math.isfinite(loss) and loss > self.limit else 0
        if not math.isfinite(loss):
            self.reason = f"training loss is {loss}"
        elif grad_norm is not None and not math.isfinite(grad_norm):
            self.reason = f"gradient norm is {grad_norm}"
        elif self.above >= self.patience:
            self.reason = (f"training loss above {self.explode:g} x ln(V) = {self.limit:.3g} for {self.patience} "
                           f"steps (last {loss:.3g})")
        return self.reason is not None


def _clock_text(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m{secs:02d}s"


def train(spec: Spec, corpus: Corpus, cfg: TrainConfig, progress=None) -> dict:
    """Train the model `spec` describes on `corpus`; returns the run record (see write_run)."""
    check_trainable(spec)
    device = resolve_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    T, V = spec.context, spec.model.vocab_size
    autocast = mixed_precision(cfg, device)
    model = GPT(spec).to(device)
    t = spec.training
    reg = None
    if t.entropy_reg:
        lam = AERO_LAMBDA if t.entropy_lambda is None else t.entropy_lambda
        gamma = AERO_GAMMA if t.entropy_gamma is None else t.entropy_gamma
        reg = EntropyRegularizer(spec.model.layers, spec.model.heads, lam, gamma, cfg.entropy_mode,
                                 cfg.theta_init).to(device)
    opt = optimizer(model, reg, cfg, device)
    val = validation_blocks(corpus.val, T, cfg.eval_blocks)
    guard = Divergence(V, cfg.explode, cfg.patience)
    losses, penalties, evals = [], [], []
    log = progress or (lambda line: None)

    def record_eval(step: int):
        eval_loss, ent = evaluate(model, val, cfg.batch, device, autocast)
        recent = losses[-max(1, cfg.eval_every):]
        evals.append({"step": step, "train_loss": float(np.mean(recent)) if recent else None,
                      "eval_loss": eval_loss, "eval_ppl": _ppl(eval_loss), "entropy": ent.tolist()})
        frac = ent.mean(1) / math.log(T)
        train_text = "-" if not recent else f"{evals[-1]['train_loss']:.4f}"
        elapsed = time.perf_counter() - clock
        eta = "" if not step else f"  ETA {_clock_text(elapsed / step * (cfg.steps - step))}"
        log(f"step {step:>5}/{cfg.steps}  train {train_text}  "
            f"eval {eval_loss:.4f} (ppl {_ppl(eval_loss) or float('nan'):.3f})  entropy/max by layer "
            + " ".join(f"{f:.2f}" for f in frac) + eta)
        return eval_loss

    started, clock = time.strftime("%Y-%m-%dT%H:%M:%S"), time.perf_counter()
    record_eval(0)
    step = 0
    for step in range(cfg.steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        x, y = (torch.from_numpy(a).to(device) for a in sample_batch(corpus.train, cfg.batch, T, rng))
        with autocast:
            out = model(x, entropy=reg is not None)
            loss = lm_loss(out, y)
            total = loss
            if reg is not None:
                penalty = reg.penalty(out.entropies)
                total = loss + reg.lam * penalty
                penalties.append(float(penalty.detach()))
        opt.zero_grad(set_to_none=True)
        total.backward()
        grad_norm = float(torch.nn.utils.clip_grad_norm_(
            list(model.parameters()) + (list(reg.parameters()) if reg else []), cfg.grad_clip))
        losses.append(float(loss.detach()))
        if guard.check(losses[-1], grad_norm):
            log(f"step {step + 1:>5}/{cfg.steps}  diverged: {guard.reason}")
            break
        opt.step()
        if (step + 1) % cfg.eval_every == 0 and step + 1 < cfg.steps:
            record_eval(step + 1)
    else:
        step = cfg.steps
        final_loss = record_eval(cfg.steps)
        if _ppl(final_loss) is None:  # no number for the database: a perplexity of inf is not a result
            guard.reason = (f"validation loss is {final_loss}" if not math.isfinite(final_loss) else
                            f"validation loss {final_loss:.4g}: its perplexity overflows")
    seconds = time.perf_counter() - clock
    diverged = guard.reason is not None
    final = evals[-1] if not diverged else None
    tail = losses[-max(1, cfg.steps // 10):]
    tokens = cfg.steps * cfg.batch * T
    result = {
        "name": None, "spec": None, "spec_name": spec.name, "label": spec.label, "arch_key": arch_key(spec),
        "arch": describe_arch(spec), "params": model.num_params(), "context": T, "vocab_size": V,
        "dataset": corpus.describe(), "config": {**dataclasses.asdict(cfg), "device": str(device)},
        "status": "diverged" if diverged else "ok",
        "diverged": {"step": step + 1, "reason": guard.reason} if diverged else None,
        "train_tokens": tokens, "steps_done": len(losses), "tokens_seen": len(losses) * cfg.batch * T,
        "final": None if final is None else {
            "train_loss": float(np.mean(tail)), "eval_loss": final["eval_loss"], "eval_ppl": final["eval_ppl"],
            "entropy": final["entropy"], "e_max": math.log(T),
            "entropy_ranges": range_fractions(final["entropy"], math.log(T))},
        "entropy_reg": None if reg is None else {
            "lambda": reg.lam, "gamma": reg.gamma, "mode": reg.mode, "theta_init": cfg.theta_init,
            "theta": reg.theta.detach().cpu().tolist(), "final_penalty": penalties[-1] if penalties else None},
        "scales": model.scales(),
        "history": {"train_loss": losses, "entropy_penalty": penalties, "evals": evals},
        "provenance": {"pidse": __version__, "torch": torch.__version__, "python": sys.version.split()[0],
                       "device": str(device), "threads": torch.get_num_threads(), "started": started,
                       "seconds": round(seconds, 1),
                       "tokens_per_s": round(len(losses) * cfg.batch * T / max(seconds, 1e-9))},
    }
    result["source"] = (f"local run: pidse {__version__}, {corpus.name} {corpus.digest} byte-level, seed {cfg.seed}, "
                        f"{cfg.steps} steps x {cfg.batch} x {T} = {tokens} tokens, lr {cfg.lr:g}, "
                        f"config {cfg.identity()}, {device.type}" + ("" if cfg.precision == "fp32" else
                                                                      f", {cfg.precision}"))
    return result


def _ppl(loss: float) -> float | None:
    return math.exp(loss) if math.isfinite(loss) and loss < 700 else None


def write_run(result: dict, folder: Path) -> Path:
    """runs/<name>/run.json: the whole record (config, provenance, history, entropies). Returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "run.json"
    path.write_text(json.dumps(result, indent=1, allow_nan=True) + "\n")
    return path
