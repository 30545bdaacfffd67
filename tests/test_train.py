"""pidse train: the entropy regulariser by hand, every spec axis built with pidse's parameter count, a few-second
training run that must lower the loss, divergence detection, the CLI and the database row. Needs the train extra
(PyTorch); skipped without it."""
from __future__ import annotations

import json
import math

import pytest

torch = pytest.importorskip("torch")

from conftest import SHIPPED, assert_one_line_error, invoke, tiny_spec, write_yaml  # noqa: E402
from pidse.model.estimate import estimate  # noqa: E402
from pidse.spec.load import load_spec  # noqa: E402
from pidse.train.data import load_corpus, validation_blocks  # noqa: E402
from pidse.train.entropy import EntropyRegularizer, attention_entropy  # noqa: E402
from pidse.train import loop  # noqa: E402
from pidse.train.loop import Divergence, TrainConfig, lr_at, train  # noqa: E402
from pidse.train.model import GPT  # noqa: E402

LN2 = math.log(2)


# ---- the regulariser against hand-computed values ------------------------------------------------------------

def hand_attention():
    """Two layers, two heads, T = 2, batch 1 (causal: row 0 can only attend to key 0).
    Layer 0, both heads: rows [1, 0] and [0.5, 0.5]: row entropies 0 and ln 2, query-averaged ln2 / 2.
    Layer 1, both heads: rows [1, 0] and [1, 0]: entropy 0."""
    spread = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    peaked = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    return [torch.stack([spread, spread])[None], torch.stack([peaked, peaked])[None]]  # each (1, 2, 2, 2)


def test_attention_entropy_by_hand():
    layer0, layer1 = (attention_entropy(a) for a in hand_attention())
    assert torch.allclose(layer0, torch.tensor([[[0.0, LN2], [0.0, LN2]]]))  # -(0.5 ln 0.5) * 2 = ln 2
    assert torch.allclose(layer1, torch.zeros(1, 2, 2))  # 1 ln 1 = 0 and 0 ln 0 = 0


def regulariser(mode: str) -> EntropyRegularizer:
    reg = EntropyRegularizer(layers=2, heads=2, lam=1e-5, gamma=0.2, mode=mode)
    with torch.no_grad():
        reg.theta.copy_(torch.tensor([[0.1, 0.6], [0.5, 0.5]]))
    return reg


def test_regulariser_algorithm_1_by_hand():
    # E_max = ln 2 (T = 2); tol = 0.2 ln 2.
    # Layer 0 (E = ln2/2 = 0.5 ln 2 for both heads):
    #   head 0, theta 0.1: delta = 0.5 ln2 - 0.1 ln2 = 0.4 ln2 > tol -> (0.4 ln2)^2 = 0.16 ln2^2
    #   head 1, theta 0.6: delta = -0.1 ln2, |delta| <= tol -> 0
    #   layer loss = (0.16 + 0) / 2 = 0.08 ln2^2
    # Layer 1 (E = 0), theta 0.5: delta = -0.5 ln2 -> 0.25 ln2^2 for both heads; layer loss 0.25 ln2^2
    # L_entropy = (0.08 + 0.25) / 2 = 0.165 ln2^2 = 0.0792749...; the loss term is lambda times that.
    reg = regulariser("mean")
    ents = [attention_entropy(a) for a in hand_attention()]
    penalty = reg.penalty(ents)
    assert penalty.item() == pytest.approx(0.165 * LN2 ** 2, rel=1e-6)
    assert reg(ents).item() == pytest.approx(1e-5 * 0.165 * LN2 ** 2, rel=1e-6)
    # theta is learnable: d/dtheta_00 of (E - theta E_max)^2 / (2 heads x 2 layers) = -2 delta E_max / 4
    # = -2 (0.4 ln2) ln2 / 4 = -0.2 ln2^2; theta_01 sits inside the tolerance: gradient 0;
    # layer 1: -2 (-0.5 ln2) ln2 / 4 = +0.25 ln2^2 for both heads.
    penalty.backward()
    expected = torch.tensor([[-0.2, 0.0], [0.25, 0.25]]) * LN2 ** 2
    assert torch.allclose(reg.theta.grad, expected, atol=1e-7)


def test_regulariser_per_query_mode_by_hand():
    # The public code's form: the penalty per query row, summed over rows.
    # Layer 0, head 0 (theta 0.1): row 0 E=0, delta -0.1 ln2 (inside tol) -> 0; row 1 E=ln2, delta 0.9 ln2 -> 0.81
    #          head 1 (theta 0.6): row 0 delta -0.6 ln2 -> 0.36; row 1 delta 0.4 ln2 -> 0.16; sum 0.52
    #          layer: (0.81 + 0.52) / 2 = 0.665 (times ln2^2)
    # Layer 1 (theta 0.5, E = 0 in both rows): 2 x 0.25 = 0.5 per head; layer 0.5
    # L_entropy = (0.665 + 0.5) / 2 = 0.5825 ln2^2
    reg = regulariser("per_query")
    penalty = reg.penalty([attention_entropy(a) for a in hand_attention()])
    assert penalty.item() == pytest.approx(0.5825 * LN2 ** 2, rel=1e-6)


def test_regulariser_batch_is_averaged():
    # Penalty per sequence (Algorithm 1 per attention matrix set), then the batch mean: two copies of the same
    # sequence give the same value, and a zero-penalty sequence halves it.
    reg = regulariser("mean")
    one = [attention_entropy(a) for a in hand_attention()]
    two = [torch.cat([e, e]) for e in one]
    assert reg.penalty(two).item() == pytest.approx(reg.penalty(one).item())
    with torch.no_grad():
        reg.theta.copy_(torch.tensor([[0.5, 0.5], [0.0, 0.0]]))  # every delta 0 for this sequence
    assert reg.penalty(one).item() == 0.0


# ---- the model: every axis, parameters as pidse counts them ------------------------------------------------

AXES = {
    "default": {},
    "rmsnorm": {"norm": {"kind": "rmsnorm"}},
    "no-norm": {"norm": {"kind": "none"}},
    "embedding-norm-only": {"norm": {"attention": False, "ffn": False, "final": False, "embedding": True}},
    "relu": {"ffn": {"activation": "relu"}},
    "silu-gated": {"ffn": {"activation": "silu", "gated": True}},
    "identity": {"ffn": {"activation": "identity"}},
    "scaled": {"norm": {"kind": "none"}, "ffn": {"activation": "identity", "scaled": True}},
    "fused-pruned": {"norm": {"kind": "none"}, "ffn": {"activation": "identity", "scaled": True, "fused": True,
                                                       "prune_last": 1}},
    "all-pruned": {"ffn": {"prune_last": 2}},
    "learnable-t": {"attention": {"temperature": "learnable"}},
    "power-softmax": {"attention": {"kind": "power_softmax", "power": 2}},
    "he-hofmann": {"attention": {"projections": ["q", "k"]}},
    "gqa-head-dim": {"model": {"kv_heads": 1, "head_dim": 3}},
    "rotary-none": {"embeddings": {"positions": "rotary", "rotary_fraction": 0.5}},
    "no-positions-untied": {"embeddings": {"positions": "none", "tied_head": False}},
    "parallel-no-bias": {"model": {"parallel_residual": True, "bias": False}},
}


@pytest.mark.parametrize("axis", AXES)
def test_every_axis_builds_with_pidse_param_count(tiny_file, axis):
    spec = load_spec(tiny_file(**AXES[axis]))
    model = GPT(spec)
    assert model.num_params() == estimate(spec).totals["params"]
    x = torch.randint(0, spec.model.vocab_size, (2, spec.context))
    out = model(x, entropy=True)
    assert out.logits.shape == (2, spec.context, spec.model.vocab_size)
    assert torch.isfinite(out.logits).all()
    assert len(out.entropies) == spec.model.layers
    assert all(e.shape == (2, spec.model.heads, spec.context) for e in out.entropies)
    out.logits.sum().backward()  # every axis trains: gradients flow


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_specs_build_with_pidse_param_count(path):
    spec = load_spec(path, ["model.layers=2"])
    with torch.device("meta"):  # shapes only: full-size vocabularies cost nothing
        model = GPT(spec)
    assert model.num_params() == estimate(spec).totals["params"]


def test_attention_variants_by_hand(tiny_file):
    torch.manual_seed(0)
    plain = GPT(load_spec(tiny_file()))
    learnable = GPT(load_spec(tiny_file(attention={"temperature": "learnable"})))
    learnable.load_state_dict(plain.state_dict(), strict=False)
    x = torch.randint(0, 10, (1, 4))
    # t starts at 1 (log t = 0): the plain softmax
    assert torch.allclose(plain(x).logits, learnable(x).logits, atol=1e-6)
    # Power-Softmax p = 2 on scores [s0, s1] (masked after): a = s^2 / sum s^2, causal zeros stay zero
    attn = GPT(load_spec(tiny_file(attention={"kind": "power_softmax", "power": 2}))).blocks[0].attn
    scores = torch.tensor([[[[1.0, 5.0], [-1.0, 3.0]]]])
    probs = attn.normalise(scores, torch.ones(2, 2, dtype=torch.bool).tril())
    assert torch.allclose(probs, torch.tensor([[[[1.0, 0.0], [0.1, 0.9]]]]))  # 1/(1+9), 9/(1+9)


def test_scaled_ffn_is_beta_x_plus_ffn_over_alpha(tiny_file):
    spec = load_spec(tiny_file(norm={"kind": "none"}, ffn={"activation": "identity", "scaled": True}))
    ffn = GPT(spec).blocks[0].ffn
    with torch.no_grad():
        ffn.alpha.fill_(2.0)
        ffn.beta.fill_(3.0)
    x, residual = torch.randn(1, 4, 8), torch.randn(1, 4, 8)
    assert torch.allclose(ffn(x), ffn.down(ffn.up(x)) / 2)
    assert torch.allclose(ffn(x, residual), 3 * residual + ffn.down(ffn.up(x)) / 2)


# ---- training -------------------------------------------------------------------------------------------------

SMALL = {"model": {"layers": 2, "heads": 2, "d_model": 32, "d_ff": 64, "vocab_size": 256, "max_context": 32},
         "inference": {"context": 32}}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A small Python corpus (half of the files in validation), so that the tests read little."""
    root = tmp_path_factory.mktemp("src")
    for i in range(12):
        (root / f"mod{i}.py").write_text("".join(f"def f{j}(x):\n    return x * {j} + {i}\n\n" for j in range(60)))
    return load_corpus(str(root), "toy", val_percent=50)


def small_spec(tmp_path, name="small", **sections):
    return load_spec(write_yaml(tmp_path / f"{name}.yaml", tiny_spec(**{**SMALL, **sections})))


def quick(**kw) -> TrainConfig:
    return TrainConfig(**{"steps": 40, "batch": 8, "lr": 3e-3, "eval_every": 20, "eval_blocks": 16,
                          "device": "cpu", **kw})


def test_a_few_seconds_of_training_lower_the_loss(tmp_path, corpus):
    result = train(small_spec(tmp_path), corpus, quick())
    evals = result["history"]["evals"]
    assert result["status"] == "ok" and result["diverged"] is None
    assert [e["step"] for e in evals] == [0, 20, 40]
    assert evals[-1]["eval_loss"] < evals[0]["eval_loss"] - 1.0  # from ~ln 256 = 5.5 towards the toy's few bits
    losses = result["history"]["train_loss"]
    assert sum(losses[-5:]) / 5 < losses[0] - 1.0
    assert result["final"]["eval_ppl"] == pytest.approx(math.exp(result["final"]["eval_loss"]))
    assert len(result["final"]["entropy"]) == 2 and len(result["final"]["entropy"][0]) == 2
    assert sum(result["final"]["entropy_ranges"]) == pytest.approx(1.0)
    assert result["train_tokens"] == 40 * 8 * 32


def test_bf16_training_lowers_the_loss_and_says_so(tmp_path, corpus):
    fp32 = train(small_spec(tmp_path), corpus, quick())
    bf16 = train(small_spec(tmp_path), corpus, quick(precision="bf16"))
    evals = bf16["history"]["evals"]
    assert bf16["status"] == "ok" and evals[-1]["eval_loss"] < evals[0]["eval_loss"] - 1.0
    # the same model and data in bfloat16: close to fp32, not equal
    assert bf16["final"]["eval_loss"] == pytest.approx(fp32["final"]["eval_loss"], rel=0.05)
    assert bf16["final"]["eval_loss"] != fp32["final"]["eval_loss"]
    assert bf16["source"].endswith(", cpu, bf16") and fp32["source"].endswith(", cpu")
    assert bf16["config"]["precision"] == "bf16"
    assert all(0 < e <= math.log(32) for row in bf16["final"]["entropy"] for e in row)  # fp32 entropies


def test_config_identity_leaves_fp32_out():
    # runs from before --precision existed keep their identity: these are the values TrainConfig gave then
    # (reports/training/runs/*/run.json name ced7a4dd for 800 steps)
    assert TrainConfig().identity() == "6c2deaef" and TrainConfig(steps=800).identity() == "ced7a4dd"
    assert TrainConfig(precision="bf16").identity() not in ("6c2deaef", TrainConfig(precision="fp32").identity())
    assert TrainConfig(device="cuda", threads=3).identity() == "6c2deaef"  # where it ran is not what it is


def test_entropy_regularised_training_learns_thresholds(tmp_path, corpus):
    spec = small_spec(tmp_path, norm={"kind": "none"}, attention={"temperature": "learnable"},
                      ffn={"activation": "identity", "scaled": True, "fused": True},
                      training={"entropy_reg": True, "entropy_lambda": 1e-2, "entropy_gamma": 0.2})
    result = train(spec, corpus, quick(steps=10, eval_every=10))
    reg = result["entropy_reg"]
    assert (reg["lambda"], reg["gamma"], reg["mode"]) == (1e-2, 0.2, "mean")
    assert reg["theta"] != [[0.5, 0.5], [0.5, 0.5]]  # the thresholds are trained
    assert len(result["history"]["entropy_penalty"]) == 10
    assert "L0.alpha" in result["scales"] and "L1.t_max" in result["scales"]


def test_divergence_detection_rules():
    guard = Divergence(vocab_size=256, explode=2.0)  # limit 2 ln 256 = 11.09
    assert not guard.check(5.0, 1.0) and guard.reason is None
    assert Divergence(256, 2.0).check(float("nan"))
    assert Divergence(256, 2.0).check(float("inf"))
    assert Divergence(256, 2.0).check(3.0, float("nan"))
    exploded = Divergence(256, 2.0, patience=3)  # above the limit 3 steps in a row
    assert not exploded.check(11.2) and not exploded.check(11.3)
    assert not exploded.check(4.0)  # came back down: a spike, the count restarts
    assert not exploded.check(11.2) and not exploded.check(11.2)
    assert exploded.check(11.2) and "2 x ln(V) = 11.1 for 3 steps" in exploded.reason


def test_huge_learning_rate_diverges(tmp_path, corpus):
    result = train(small_spec(tmp_path), corpus, quick(lr=1e4, steps=20))
    assert result["status"] == "diverged" and result["final"] is None
    assert result["diverged"]["step"] < 20
    assert result["steps_done"] == result["diverged"]["step"]


def test_injected_nan_diverges_at_the_first_step(tmp_path, corpus, monkeypatch):
    def poisoned(self):
        torch.nn.init.constant_(self.tokens.weight, float("nan"))
    monkeypatch.setattr(GPT, "_init_weights", poisoned)
    result = train(small_spec(tmp_path), corpus, quick())
    assert result["diverged"] == {"step": 1, "reason": "training loss is nan"}


def test_a_validation_loss_whose_perplexity_overflows_is_a_divergence(tmp_path, corpus, monkeypatch):
    # A GPT-2-sized model after one step evaluated at loss ~800 (seen on a GPU run): exp(800) is inf in float64,
    # so the run has no perplexity to store; it used to be "ok" with ppl None, which the database then refused.
    real = loop.evaluate
    calls = []

    def blown_up(*args):
        loss, ent = real(*args)
        calls.append(loss)
        return (800.0 if len(calls) == 2 else loss), ent
    monkeypatch.setattr(loop, "evaluate", blown_up)
    result = train(small_spec(tmp_path), corpus, quick(steps=5, eval_every=50))
    assert len(calls) == 2  # step 0 and the end
    assert result["status"] == "diverged" and result["final"] is None
    assert result["diverged"]["reason"] == "validation loss 800: its perplexity overflows"


def test_schedule_and_validation_blocks():
    cfg = TrainConfig(steps=100, lr=1e-3, warmup=0.05, min_lr_ratio=0.1)
    assert lr_at(0, cfg) == pytest.approx(2e-4)  # warmup 5 steps: 1/5 of the peak
    assert lr_at(4, cfg) == pytest.approx(1e-3)
    assert lr_at(100, cfg) == pytest.approx(1e-4)  # decayed to 10%
    stream = torch.arange(1000).numpy()
    x, y = validation_blocks(stream, 10, 5)
    assert x.shape == (5, 10) and (y[:, :-1] == x[:, 1:]).all()  # targets are inputs shifted by one
    assert x[0, 0] == 0 and y[-1, -1] == 999  # spread over the whole stream


def test_stdlib_corpus_is_deterministic():
    a = load_corpus()
    b = load_corpus.__wrapped__()  # re-read, bypassing the cache
    assert a.digest == b.digest and a.train_files == b.train_files and a.val_files > 0
    assert a.name == "python_stdlib" and a.train.max() < 256


# ---- the commands ------------------------------------------------------------------------------------------

def test_train_command_writes_the_run_and_the_database_row(tmp_path):
    spec = write_yaml(tmp_path / "small.yaml", tiny_spec(**SMALL))
    db = tmp_path / "ppl.sqlite"
    result = invoke("train", spec, "--tokens", 2000, "--batch", 4, "--eval-every", 4, "--device", "cpu",
                    "--out", tmp_path / "runs", "--name", "r", "--db", db, "--seed", 3)
    assert result.exit_code == 0, result.output
    assert "result    ok" in result.stdout and "database  row" in result.stdout
    run = json.loads((tmp_path / "runs/r/run.json").read_text())
    assert run["steps_done"] == 16  # ceil(2000 / (4 x 32))
    assert run["dataset"]["dataset"] == "python_stdlib" and run["config"]["seed"] == 3
    from pidse.ppl.db import open_db

    with open_db(db) as store:
        rows = store.query(dataset="python_stdlib")
    assert len(rows) == 1
    row = rows[0]
    assert row["arch_key"] == run["arch_key"] and row["context"] == 32 and row["train_tokens"] == 16 * 4 * 32
    assert row["ppl"] == pytest.approx(run["final"]["eval_ppl"])
    for needle in ("local run", "pidse 0.1.0", "seed 3", "16 steps", "2048 tokens", run["dataset"]["digest"]):
        assert needle in row["source"]
    # the same run again: the database keeps one row
    again = invoke("train", spec, "--tokens", 2000, "--batch", 4, "--eval-every", 4, "--device", "cpu",
                   "--out", tmp_path / "runs", "--name", "r", "--db", db, "--seed", 3)
    assert again.exit_code == 0 and "already stored" in again.stdout


def test_diverged_run_goes_into_the_database_without_a_perplexity(tmp_path):
    spec = write_yaml(tmp_path / "small.yaml", tiny_spec(**SMALL))
    db = tmp_path / "ppl.sqlite"
    result = invoke("train", spec, "--steps", 10, "--batch", 4, "--lr", 1e4, "--device", "cpu",
                    "--out", tmp_path / "runs", "--db", db)
    assert result.exit_code == 0, result.output
    assert "DIVERGED at step" in result.stdout
    from pidse.ppl.db import open_db

    with open_db(db) as store:
        (row,) = store.query(dataset="python_stdlib")
    assert row["status"] == "diverged" and row["ppl"] is None


def test_train_command_bad_input(tmp_path):
    spec = write_yaml(tmp_path / "small.yaml", tiny_spec(**SMALL))
    assert_one_line_error(invoke("train", write_yaml(tmp_path / "v10.yaml", tiny_spec()), "--no-db"),
                          "model.vocab_size", "256")
    assert_one_line_error(invoke("train", spec, "--steps", 5, "--tokens", 100, "--no-db"), "--steps/--tokens")
    assert_one_line_error(invoke("train", spec, "--device", "tpu", "--no-db"), "--device")
    assert_one_line_error(invoke("train", spec, "--set", "attention.causal=false", "--no-db"),
                          "attention.causal", "causal language models")
    if not torch.cuda.is_available():
        assert_one_line_error(invoke("train", spec, "--device", "cuda", "--no-db"), "--device", "no CUDA")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_same_training_on_cuda(tmp_path, corpus, precision):
    result = train(small_spec(tmp_path), corpus, quick(device="cuda", precision=precision))
    assert result["status"] == "ok" and result["provenance"]["device"].startswith("cuda")
    evals = result["history"]["evals"]
    assert evals[-1]["eval_loss"] < evals[0]["eval_loss"] - 1.0
