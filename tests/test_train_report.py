"""pidse entropy (plots and table from run records) and `pidse train` without PyTorch: no torch needed here."""
from __future__ import annotations

import json
import math
import sys

import pytest

from conftest import assert_one_line_error, invoke
from pidse.train.report import loss_limits, ppl_text, range_fractions, summary_rows

T = 16
E_MAX = math.log(T)


def record(label: str, entropy_fracs, diverged=None) -> dict:
    """A run record as `pidse train` writes it, with entropies given as fractions of E_max."""
    ent = [[f * E_MAX for f in layer] for layer in entropy_fracs]
    evals = [{"step": 0, "train_loss": None, "eval_loss": 5.5, "eval_ppl": math.exp(5.5),
              "entropy": [[0.8 * E_MAX] * len(entropy_fracs[0])] * len(entropy_fracs)},
             {"step": 10, "train_loss": 2.1, "eval_loss": 2.0, "eval_ppl": math.exp(2.0), "entropy": ent}]
    return {"label": label, "spec_name": label.lower(), "params": 1000, "context": T, "steps_done": 10,
            "tokens_seen": 10 * 4 * T, "diverged": diverged,
            "final": None if diverged else {"train_loss": 2.1, "eval_loss": 2.0, "eval_ppl": math.exp(2.0)},
            "history": {"train_loss": [5.0] * 10, "evals": evals}}


def write_run(folder, data) -> None:
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps(data))


def test_range_fractions_by_hand():
    # 8 heads at 0.1, 0.3, 0.3, 0.5, 0.6, 0.74, 0.75, 0.9 of E_max: ranges [0,.25): 1, [.25,.5): 2,
    # [.5,.75): 3 (0.5, 0.6, 0.74), [.75, 1]: 2 (0.75 is the lower edge of the last range, 0.9)
    values = [0.1, 0.3, 0.3, 0.5, 0.6, 0.74, 0.75, 0.9]
    assert range_fractions([v * E_MAX for v in values], E_MAX) == [1 / 8, 2 / 8, 3 / 8, 2 / 8]


def test_perplexity_text():
    assert ppl_text(7.26712) == "7.2671" and ppl_text(11.4771, 3) == "11.477"
    # an early evaluation of a big model (seen: 3.26e40 after 3 steps) reads as a number, not 41 digits
    assert ppl_text(3.2556645e40) == "3.256e+40" and ppl_text(99_999.0) == "99999.0000"


def test_loss_axes_leave_an_exploding_run_off_the_top():
    ok = [(0, 5.5), (50, 3.0), (100, 2.0)]
    exploded = [(0, 5.6), (50, 9e3), (100, 5e10)]  # a diverged run, seen on the GPU
    top, (low, high) = loss_limits([(ok, False), (exploded, True)], first=0)
    assert top == pytest.approx(1.15 * 5.6)  # the untrained loss, not 5e10
    assert (low, high) == pytest.approx((2.0 - 0.05, 3.0 + 0.05))  # the run that trained, 5% of its range
    # every run diverged: the zoom keeps the later points under the whole panel's top (3.3 and 3.0 here)
    top, (low, high) = loss_limits([(exploded, True), ([(0, 5.5), (50, 3.3), (100, 3e4)], True)], 0)
    assert (low, high) == pytest.approx((3.3 - 0.05 * 3.3, 3.3 + 0.05 * 3.3))
    assert loss_limits([([(0, 5.5)], False)], 0) == (pytest.approx(6.325), None)  # only the step-0 evaluation


def test_entropy_command_writes_plots_and_table(tmp_path):
    write_run(tmp_path / "runs/a", record("SM+LN+G", [[0.1, 0.3], [0.6, 0.9]]))
    write_run(tmp_path / "runs/b", record("SM", [[0.05, 0.1], [0.02, 0.01]],
                                          diverged={"step": 7, "reason": "training loss is nan"}))
    out = tmp_path / "report"
    result = invoke("entropy", tmp_path / "runs/a", tmp_path / "runs/b/run.json", "--out", out, "--markdown")
    assert result.exit_code == 0, result.output
    for name in ("entropy_ranges.png", "entropy_heatmaps.png", "entropy_training.png", "loss.png", "entropy.md"):
        assert (out / name).stat().st_size > 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("| model | status |")
    # a: one head per range (25% each); mean by layer 0.20 and 0.75; min head 0.10
    assert "| SM+LN+G | ok | 10 | 2.1000 | 2.0000 | 7.389 | 25% | 25% | 25% | 25% | 0.20 0.75 | 0.10 |" in lines
    # b: diverged, no loss; all four heads below max/4
    assert any(line.startswith("| SM | diverged at step 7 (training loss is nan) | 10 | - | - | - | 100% | 0% |")
               for line in lines)
    assert (out / "entropy.md").read_text().strip() == result.stdout.strip()


def test_entropy_command_defaults_to_a_new_folder(tmp_path, monkeypatch):
    # no --out: a new folder in the working directory, never beside (possibly committed) runs; an earlier
    # entropy.md in --out is replaced only with --overwrite
    monkeypatch.chdir(tmp_path)
    write_run(tmp_path / "a", record("SM+LN+R", [[0.5, 0.5]]))
    result = invoke("entropy", tmp_path / "a")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "pidse-entropy/entropy_heatmaps.png").is_file() and not (tmp_path / "a/entropy.md").exists()
    assert_one_line_error(invoke("entropy", tmp_path / "a", "--out", tmp_path / "pidse-entropy"), "--overwrite")
    assert summary_rows([json.loads((tmp_path / "a/run.json").read_text())])[0]["ranges"] == [0, 0, 1, 0]


def test_entropy_command_bad_run(tmp_path):
    assert_one_line_error(invoke("entropy", tmp_path), "run.json", "pidse train")
    (tmp_path / "run.json").write_text("{not json")
    assert_one_line_error(invoke("entropy", tmp_path / "run.json"), "well-formed JSON")


def test_train_without_torch_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    assert_one_line_error(invoke("train", tmp_path / "x.yaml"), "PyTorch", "pip install -e '.[train]'")
