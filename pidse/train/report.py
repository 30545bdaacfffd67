"""`pidse entropy`: what training runs did to their attention, in the style of AERO's figures.

From run records (pidse.train.loop.write_run):
  entropy_ranges.png    fraction of heads per entropy range, [0, max/4) ... [3max/4, max], one group per model
  entropy_heatmaps.png  layer x head entropy (fraction of E_max = log T) at the end of training, one panel per model
  entropy_training.png  mean head entropy per layer over training, one panel per model
  loss.png              validation loss over training, every model on one plot
  entropy.md            the summary table (also printed)
A diverged run has no final evaluation: its panels show the last evaluation before it diverged, and say so.
No torch needed: the records are JSON.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from pidse.errors import InputError
from pidse.report.text import grid
from pidse.spec.load import read_mapping

RANGES = ("[0, max/4)", "[max/4, max/2)", "[max/2, 3max/4)", "[3max/4, max]")
RANGE_COLORS = ("#b2182b", "#ef8a62", "#67a9cf", "#2166ac")


def read_run(path: str | Path) -> dict:
    """A run record from its folder or its run.json."""
    path = Path(path)
    if path.is_dir():
        path = path / "run.json"
    if not path.is_file():
        raise InputError(path, None, "a run folder written by `pidse train` (with a run.json)")
    data = read_mapping(path)  # the spec reader's JSON limits: size, nesting, numbers, duplicate keys
    if "history" not in data or "context" not in data:
        raise InputError(path, None, "a run record written by `pidse train`")
    try:  # a record the report cannot read is bad input now, not a traceback mid-report
        summary_rows([data])
        last_entropy(data)
    except (KeyError, TypeError, IndexError, ValueError, AttributeError) as err:
        raise InputError(path, None, f"a run record written by `pidse train` ({type(err).__name__} reading it)") \
            from None
    return data


def range_fractions(entropy, e_max: float) -> list[float]:
    """Fraction of heads in each of RANGES, from an array of head entropies (any shape) and E_max."""
    values = np.asarray(entropy, dtype=float).ravel() / e_max
    counts = np.bincount(np.searchsorted([0.25, 0.5, 0.75], values, side="right"), minlength=4)[:4]
    return [float(c) / max(values.size, 1) for c in counts]


def last_entropy(run: dict) -> tuple[np.ndarray, int]:
    """(layers x heads entropy of the last evaluation, its step): the final one, or the last before divergence."""
    last = run["history"]["evals"][-1]
    return np.asarray(last["entropy"], dtype=float), last["step"]


def title(run: dict) -> str:
    """The run's label, with its seed when that is not 0 (several seeds of one model stay apart)."""
    seed = (run.get("config") or {}).get("seed", 0)
    return (run.get("label") or run.get("spec_name") or run.get("name") or "run") + (f" seed {seed}" if seed else "")


def summary_rows(runs: list[dict]) -> list[dict]:
    rows = []
    for run in runs:
        e_max = math.log(run["context"])
        ent, step = last_entropy(run)
        frac = ent / e_max
        final = run.get("final") or {}
        div = run.get("diverged")
        rows.append({
            "model": title(run), "params": run["params"], "steps": run["steps_done"], "tokens": run["tokens_seen"],
            "status": "ok" if not div else f"diverged at step {div['step']} ({div['reason']})",
            "train_loss": final.get("train_loss"), "eval_loss": final.get("eval_loss"),
            "eval_ppl": final.get("eval_ppl"), "ranges": range_fractions(ent, e_max),
            "layer_mean": frac.mean(1).tolist(), "min_head": float(frac.min()), "entropy_step": step,
        })
    return rows


def ppl_text(ppl: float, decimals: int = 4) -> str:
    """A perplexity to print: fixed decimals, or 4 significant digits once it is too large for that to read."""
    return f"{ppl:.{decimals}f}" if ppl < 1e5 else f"{ppl:.4g}"


def render_table(rows: list[dict], markdown: bool = True) -> str:
    head = ["model", "status", "steps", "train loss", "eval loss", "eval ppl", *RANGES,
            "entropy/max by layer", "min head"]
    body = []
    for r in rows:
        num = (lambda v, f="{:.4f}": "-" if v is None else f.format(v))
        body.append([r["model"], r["status"], str(r["steps"]), num(r["train_loss"]), num(r["eval_loss"]),
                     "-" if r["eval_ppl"] is None else ppl_text(r["eval_ppl"], 3), *(f"{100 * x:.0f}%" for x in r["ranges"]),
                     " ".join(f"{x:.2f}" for x in r["layer_mean"]), f"{r['min_head']:.2f}"])
    return grid(head, body, markdown=markdown)


def _panels(n: int, width: float = 3.2, height: float = 2.8):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return plt, fig, axes.ravel()


def plot_ranges(runs: list[dict], path: Path) -> Path:
    plt, fig, (ax, *_) = _panels(1, width=max(6.0, 1.3 * len(runs) + 2), height=4.2)
    x = np.arange(len(runs))
    width = 0.2
    for i, (name, color) in enumerate(zip(RANGES, RANGE_COLORS)):
        values = [100 * range_fractions(last_entropy(r)[0], math.log(r["context"]))[i] for r in runs]
        bars = ax.bar(x + (i - 1.5) * width, values, width, label=name, color=color)
        ax.bar_label(bars, fmt="%.0f", fontsize=7, padding=1)
    ax.set_xticks(x, [title(r) + (" (diverged)" if r.get("diverged") else "") for r in runs], rotation=20,
                  ha="right", fontsize=8)
    ax.set_ylabel("heads (%)")
    ax.set_ylim(0, 112)
    ax.set_title("Fraction of attention heads per entropy range (E_max = log T)", fontsize=10)
    ax.legend(title="head entropy", fontsize=8, title_fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5),
              frameon=False)  # outside the axes: a bar at 100% never hides under it
    ax.grid(axis="y", alpha=0.3)
    return _save(plt, fig, path)


def plot_heatmaps(runs: list[dict], path: Path) -> Path:
    layers = max(len(last_entropy(r)[0]) for r in runs)
    plt, fig, axes = _panels(len(runs), width=3.3, height=max(3.0, 0.25 * layers + 1.4))
    image = None
    for ax, run in zip(axes, runs):
        ent, step = last_entropy(run)
        frac = ent / math.log(run["context"])
        image = ax.imshow(frac, vmin=0, vmax=1, cmap="viridis", aspect="auto")
        for (layer, head), value in np.ndenumerate(frac):
            ax.text(head, layer, f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if value < 0.6 else "black")
        ax.set_xticks(range(frac.shape[1]))
        ax.set_yticks(range(frac.shape[0]))
        ax.set_xlabel("head", fontsize=8)
        ax.set_ylabel("layer", fontsize=8)
        note = f"diverged; last eval step {step}" if run.get("diverged") else f"step {step}"
        ax.set_title(f"{title(run)}\n{note}", fontsize=8)
    height = fig.get_figheight()  # inches: the title sits a fixed distance above the panels' own titles
    fig.subplots_adjust(hspace=0.55, wspace=0.4, top=1 - 0.05 / height)
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="entropy / log T")
    uniform = _uniform_causal(runs[0]["context"])
    fig.suptitle("Attention entropy per layer and head (query-averaged, validation);\n"
                 f"uniform causal attention = {uniform:.2f}", fontsize=10, y=1 + 0.45 / height, va="bottom")
    return _save(plt, fig, path, tight=False)


def _uniform_causal(T: int) -> float:
    """Query-averaged entropy / log T of uniform causal attention: mean over i of log(i) / log(T), i = 1..T.
    The most a head can reach under a causal mask (0.80 at T = 128)."""
    return math.lgamma(T + 1) / T / math.log(T)


def plot_training(runs: list[dict], path: Path) -> Path:
    plt, fig, axes = _panels(len(runs))
    for ax, run in zip(axes, runs):
        evals = run["history"]["evals"]
        steps = [e["step"] for e in evals]
        layers = np.array([np.asarray(e["entropy"]).mean(1) for e in evals]) / math.log(run["context"])
        for layer in range(layers.shape[1]):  # colours run with depth (no colour repeats at 12 layers)
            ax.plot(steps, layers[:, layer], marker=".", label=f"layer {layer}",
                    color=plt.cm.viridis(0.9 * layer / max(layers.shape[1] - 1, 1)))
        ax.set_ylim(0, 1)
        ax.set_xlabel("step", fontsize=8)
        ax.set_ylabel("mean head entropy / log T", fontsize=8)
        ax.set_title(title(run) + (" (diverged)" if run.get("diverged") else ""), fontsize=9)
        ax.grid(alpha=0.3)
    deepest = max(axes[:len(runs)], key=lambda ax: len(ax.get_lines()))  # outside the panels: covers no curve
    fig.legend(*deepest.get_legend_handles_labels(), loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8,
               frameon=False)
    fig.suptitle("Attention entropy per layer over training", fontsize=10)
    return _save(plt, fig, path)


def plot_loss(runs: list[dict], path: Path) -> Path:
    """Left: every evaluation from the first (the untrained model's loss, about log V nats, included); right: the
    same curves without that first evaluation, so that the differences between models show. One colour per model,
    one line style per seed; a diverged run's exploding loss leaves the top of the axes instead of flattening the
    others (`loss_limits`)."""
    plt, fig, axes = _panels(2, width=5.6, height=4.3)
    whole, zoom = axes[:2]
    curves = []  # (points, legend text, model, diverged)
    for run in runs:
        evals = run["history"]["evals"]
        pts = [(e["step"], e["eval_loss"]) for e in evals if e["eval_loss"] is not None
               and math.isfinite(e["eval_loss"])]
        if pts:
            diverged = bool(run.get("diverged"))
            model = run.get("label") or run.get("spec_name") or run.get("name") or "run"
            curves.append((pts, title(run) + (" (diverged)" if diverged else ""), model, diverged))
    first = min((pts[0][0] for pts, *_ in curves), default=0)
    models = list(dict.fromkeys(model for _, _, model, _ in curves))
    seen: dict[str, int] = {}
    for pts, label, model, _ in curves:
        colour = plt.get_cmap("tab10" if len(models) <= 10 else "tab20")(models.index(model) % 20)
        style = ("-", "--", ":", "-.")[seen.get(model, 0) % 4]
        seen[model] = seen.get(model, 0) + 1
        whole.plot(*zip(*pts), marker=".", color=colour, linestyle=style, label=label)
        later = [p for p in pts if p[0] > first]
        if later:
            zoom.plot(*zip(*later), marker=".", color=colour, linestyle=style)
    later_steps = sorted({p[0] for pts, *_ in curves for p in pts if p[0] > first})
    whole.set_title("Whole run, from the untrained model", fontsize=10)
    zoom.set_title(f"Zoom: from step {later_steps[0] if later_steps else first} (the step-{first} evaluation "
                   "left out)", fontsize=10)
    for ax in (whole, zoom):
        ax.set_xlabel("step")
        ax.set_ylabel("validation loss (nats per byte)")
        ax.grid(alpha=0.3)
    fig.suptitle("Validation loss over training", fontsize=11)
    if curves:
        zoom.set_xlim(whole.get_xlim())
        whole_top, zoom_range = loss_limits([(pts, div) for pts, _, _, div in curves], first)
        whole.set_ylim(0, whole_top)
        if zoom_range:
            zoom.set_ylim(*zoom_range)
        fig.legend(*whole.get_legend_handles_labels(), loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8,
                   frameon=False)
    return _save(plt, fig, path)


def loss_limits(curves: list[tuple[list, bool]], first: int) -> tuple[float, tuple[float, float] | None]:
    """Y limits of the loss panels from (points, diverged) curves: the whole run up to 1.15 x the largest
    first evaluation (the untrained model's loss; a run that explodes past it leaves the top); the zoom over the
    later evaluations of the runs that did not diverge (all runs' when every one diverged, cut at the whole run's
    top), with 5% margins."""
    top = 1.15 * max(pts[0][1] for pts, _ in curves)
    later = [y for pts, div in curves if not div for x, y in pts if x > first]
    later = later or [y for pts, _ in curves for x, y in pts if x > first and y <= top]
    if not later:
        return top, None
    low, high = min(later), max(later)
    pad = 0.05 * (high - low) or 0.05 * high
    return top, (low - pad, high + pad)


def _save(plt, fig, path: Path, tight: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if tight:
        fig.tight_layout()
    fig.savefig(path, dpi=130, bbox_inches="tight")
    plt.close(fig)
    return path


def write_report(runs: list[dict], out: Path) -> list[Path]:
    """Every plot and the table for `runs` into folder `out`."""
    out.mkdir(parents=True, exist_ok=True)
    table = render_table(summary_rows(runs))
    (out / "entropy.md").write_text(table + "\n")
    return [plot_ranges(runs, out / "entropy_ranges.png"), plot_heatmaps(runs, out / "entropy_heatmaps.png"),
            plot_training(runs, out / "entropy_training.png"), plot_loss(runs, out / "loss.png"),
            out / "entropy.md"]
