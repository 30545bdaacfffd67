"""pidse train on the private-inference architecture axes (issue 14): Quad and polynomial FFN activations,
2Quad / 2ReLU / linear attention, sliding windows, mixtures of experts and token pruning. Each builds with the
parameters `pidse estimate` counts, trains (finite loss, gradients) and computes what its definition says.
Needs the train extra (PyTorch); skipped without it."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from conftest import invoke, tiny_spec, write_yaml  # noqa: E402
from pidse.model.estimate import counted  # noqa: E402
from pidse.spec.load import load_spec, merge  # noqa: E402
from pidse.train.loop import evaluate  # noqa: E402
from pidse.train.layers import gelu_fit  # noqa: E402
from pidse.train.model import GPT, lm_loss  # noqa: E402

T, V = 16, 16
BASE = {"model": {"layers": 2, "heads": 2, "d_model": 32, "d_ff": 64, "vocab_size": V, "max_context": T},
        "inference": {"context": T}}
PRUNE = {"model": {"layers": 3}, "pruning": {"method": "sort", "schedule": [{"after": 1, "keep": 0.5}]}}

AXES = {
    "quad": {"ffn": {"activation": "quad"}},
    "poly3": {"ffn": {"activation": "poly", "degree": 3}},
    "2quad": {"attention": {"kind": "2quad"}},
    "relu-attention": {"attention": {"kind": "relu"}},
    "linear-attention": {"attention": {"kind": "linear"}},
    "window": {"attention": {"window": 4}},
    "moe": {"ffn": {"experts": 4, "top_k": 2}},
    "moe-swiglu": {"ffn": {"experts": 4, "top_k": 2, "activation": "silu", "gated": True}},
    "prune-sort": PRUNE,
    # combinations that reach the position-dependent parts after a cut (rotary, SM(t), window, scaling)
    "prune-threshold-rotary-t-window": merge(PRUNE, {
        "pruning": {"method": "threshold", "schedule": [{"after": 1, "keep": 0.5}, {"after": 2, "keep": 0.3}]},
        "embeddings": {"positions": "rotary"}, "attention": {"kind": "2quad", "temperature": "learnable",
                                                             "window": 3}}),
    "moe-scaled-no-bias-batch": {"model": {"bias": False}, "inference": {"batch": 3},
                                 "ffn": {"experts": 3, "top_k": 1, "activation": "quad", "scaled": True}},
}


def make(tmp_path, name="axis", **sections):
    return load_spec(write_yaml(tmp_path / f"{name}.yaml", tiny_spec(**merge(BASE, sections))))


def tokens(seed=0, batch=2):
    return torch.randint(0, V, (batch, T), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("axis", AXES)
def test_axis_trains_with_pidse_param_count(tmp_path, axis):
    spec = make(tmp_path, **AXES[axis])
    torch.manual_seed(0)
    model = GPT(spec)
    rows, _ = counted(spec)
    assert model.num_params() == sum(row["params"] for row in rows)
    out = model(tokens(), entropy=True)
    loss = lm_loss(out, tokens(1))
    assert torch.isfinite(loss) and all(torch.isfinite(e).all() for e in out.entropies)
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


# ---- FFN activations ------------------------------------------------------------------------------------------

def test_quad_is_mpcformers_fixed_polynomial(tmp_path):
    act = GPT(make(tmp_path, ffn={"activation": "quad"})).blocks[0].ffn.activation
    x = torch.tensor([-2.0, 0.0, 1.0, 4.0])
    assert torch.allclose(act(x), torch.tensor([0.5, 0.5, 0.875, 3.5]))  # 0.125 x^2 + 0.25 x + 0.5


def test_poly_is_a_fixed_least_squares_fit_of_gelu(tmp_path):
    model = GPT(make(tmp_path, ffn={"activation": "poly", "degree": 3}))
    act = model.blocks[0].ffn.activation
    assert "blocks.0.ffn.activation.coef" in dict(model.named_buffers())  # a buffer: not a parameter
    assert not any("coef" in name for name, _ in model.named_parameters())
    x = np.linspace(-4, 4, 4001)
    gelu = F.gelu(torch.from_numpy(x)).numpy()
    highest_first = np.polyfit(x, gelu, 3)  # numpy's other least-squares route
    assert np.allclose(act.coef.numpy(), highest_first[::-1], atol=1e-6)
    grid = torch.linspace(-4, 4, 9)
    expected = torch.from_numpy(np.polyval(highest_first, grid.double().numpy())).float()
    assert torch.allclose(act(grid), expected, atol=1e-5)
    high = torch.tensor(gelu_fit(16), dtype=torch.float64)  # a higher degree fits GELU closely on [-4, 4]
    xs = torch.from_numpy(x)
    assert (sum(c * xs ** k for k, c in enumerate(high)) - torch.from_numpy(gelu)).abs().max() < 1e-3


# ---- attention ------------------------------------------------------------------------------------------------

def test_2quad_and_relu_weights_by_hand(tmp_path):
    scores = torch.tensor([[[[1.0, 5.0], [-1.0, 3.0]]]])
    mask = torch.ones(2, 2, dtype=torch.bool).tril()
    quad = GPT(make(tmp_path, attention={"kind": "2quad"})).blocks[0].attn
    # (s + 5)^2 over the visible keys: row 0 [36] -> [1, 0]; row 1 [16, 64] -> [0.2, 0.8]
    assert torch.allclose(quad.normalise(scores, mask), torch.tensor([[[[1.0, 0.0], [0.2, 0.8]]]]))
    relu = GPT(make(tmp_path, attention={"kind": "relu"})).blocks[0].attn
    # relu(s) / sum: row 0 [1] -> [1, 0]; row 1 [0, 3] -> [0, 1] (up to the eps in the denominator)
    assert torch.allclose(relu.normalise(scores, mask), torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]]), atol=1e-5)


@pytest.mark.parametrize("kind", ["2quad", "relu"])
def test_score_weights_are_rows_of_a_distribution(tmp_path, kind):
    torch.manual_seed(0)
    model = GPT(make(tmp_path, attention={"kind": kind}))
    x = torch.randn(2, T, 32) * 3
    _, shares = model.blocks[0].attn(x, torch.arange(T))
    sums = shares.sum(-1)
    assert (shares.triu(1) == 0).all()  # masked (future) keys get nothing
    if kind == "2quad":
        assert torch.allclose(sums, torch.ones_like(sums))
    else:  # 2ReLU: 1 (up to the eps guard: scores are small at initialisation), or 0 for a row of scores <= 0
        assert ((sums == 0) | ((sums > 0.99) & (sums < 1 + 1e-6))).all() and (sums > 0).any()


@pytest.mark.parametrize("window", [None, 2])
def test_linear_attention_equals_the_naive_sum(tmp_path, window):
    torch.manual_seed(0)
    attn = GPT(make(tmp_path, attention={"kind": "linear", "window": window})).blocks[0].attn
    n, H, dh = 5, 2, 16
    x = torch.randn(1, n, 32)
    got, _ = attn(x, torch.arange(n))
    with torch.no_grad():
        q, k, v = (lin(x)[0].view(n, H, dh) for lin in (attn.q, attn.k, attn.v))
        ctx = torch.zeros(n, H, dh)
        for i in range(n):
            keys = range(max(0, i - window + 1) if window else 0, i + 1)
            for h in range(H):
                total = sum((q[i, h] @ k[j, h]) / math.sqrt(dh) * v[j, h] for j in keys)
                ctx[i, h] = total / len(keys)  # 1 / (keys query i sees)
        expected = attn.o(ctx.reshape(1, n, H * dh))
    assert torch.allclose(got, expected, atol=1e-5)


def test_sliding_window_bounds_what_a_position_sees(tmp_path):
    # 2 layers of window 3: position i reads positions >= i - 2 x (3 - 1) = i - 4, and nothing before
    torch.manual_seed(0)
    model = GPT(make(tmp_path, attention={"window": 3}))
    x, i = tokens(), 12
    far, near = x.clone(), x.clone()
    far[:, :i - 4] = (far[:, :i - 4] + 1) % V
    near[:, i - 4] = (near[:, i - 4] + 1) % V
    base = model(x).logits[:, i]
    assert torch.allclose(model(far).logits[:, i], base, atol=1e-6)
    assert not torch.allclose(model(near).logits[:, i], base, atol=1e-6)
    full = GPT(make(tmp_path, "full"))  # without a window the far tokens matter
    assert not torch.allclose(full(far).logits[:, i], full(x).logits[:, i], atol=1e-6)


# ---- mixture of experts ---------------------------------------------------------------------------------------

def test_moe_with_every_expert_is_the_softmax_weighted_sum(tmp_path):
    torch.manual_seed(0)
    ffn = GPT(make(tmp_path, ffn={"experts": 4, "top_k": 4, "activation": "silu", "gated": True})).blocks[0].ffn
    x = torch.randn(2, 3, 32)
    y = ffn(x)
    gates = ffn.router(x).softmax(-1)
    expected = sum(gates[..., e, None] * expert.down(F.silu(expert.gate(x)) * expert.up(x))
                   for e, expert in enumerate(ffn.experts))
    assert torch.allclose(y, expected, atol=1e-6)


@pytest.mark.parametrize("sections", [{}, {"ffn": {"scaled": True}}, {"model": {"parallel_residual": True}}],
                         ids=["pre-LN", "scaled", "parallel"])
def test_ffn_adds_to_the_unnormalised_residual(tmp_path, sections):
    """A pre-LN block is h = x + Attn(LN1(x)), out = h + FFN(LN2(h)) (scaled FFN: beta h + FFN(LN2(h)) / alpha;
    parallel: x + Attn(LN1(x)) + FFN(LN2(x))): the residual around the FFN is the stream, not its normalisation."""
    torch.manual_seed(0)
    block = GPT(make(tmp_path, **sections)).blocks[0]
    with torch.no_grad():
        if block.ffn.alpha is not None:
            block.ffn.alpha.fill_(2.0), block.ffn.beta.fill_(0.5)
        x = torch.randn(2, T, 32)
        out, _ = block(x, torch.arange(T))
        a, _ = block.attn(block.attn_norm(x), torch.arange(T))
        h = x if block.parallel else x + a
        f = block.ffn.body(block.ffn_norm(h))
        alpha, beta = (2.0, 0.5) if block.ffn.alpha is not None else (1.0, 1.0)
        expected = beta * h + f / alpha + (a if block.parallel else 0)
    assert torch.allclose(out, expected, atol=1e-5)


def test_moe_routes_each_token_to_its_top_k(tmp_path):
    torch.manual_seed(0)
    ffn = GPT(make(tmp_path, ffn={"experts": 4, "top_k": 2})).blocks[0].ffn
    x = torch.randn(2, 5, 32)
    gates, logits = ffn.gates(x), ffn.router(x)
    assert ((gates > 0).sum(-1) == 2).all() and torch.allclose(gates.sum(-1), torch.ones(2, 5))
    top2 = logits.topk(2, -1).indices
    assert torch.equal(gates.gather(-1, top2) > 0, torch.ones_like(top2, dtype=torch.bool))
    expected = sum(gates[..., e, None] * expert.body(x) for e, expert in enumerate(ffn.experts))
    assert torch.allclose(ffn(x), expected)


# ---- token pruning --------------------------------------------------------------------------------------------

def test_pruning_keeps_the_most_attended_tokens_and_scores_only_them(tmp_path):
    torch.manual_seed(0)
    model = GPT(make(tmp_path, **PRUNE))
    seen = {}
    model.blocks[0].register_forward_hook(lambda mod, args, out: seen.update(shares=out[1]))
    x, y = tokens(), tokens(1)
    out = model(x)
    kept = math.ceil(0.5 * T)
    assert out.logits.shape == (2, kept, V) and out.positions.shape == (2, kept)
    importance = seen["shares"].mean((1, 2))  # attention each token receives in layer 1: heads, queries
    importance[:, -1] = float("inf")  # the last token always stays
    expected = importance.topk(kept, -1).indices.sort(-1).values
    assert torch.equal(out.positions, expected)  # in original order, ending at T - 1
    losses = lm_loss(out, y, reduction="none")
    assert losses.numel() == 2 * kept  # only the kept positions are scored ...
    picked = y.gather(1, out.positions)  # ... each against its own original next token
    assert torch.allclose(losses, F.cross_entropy(out.logits.flatten(0, 1), picked.flatten(), reduction="none"))
    # evaluation averages over the positions scored
    loss, ent = evaluate(model, (x.numpy(), y.numpy()), 2, torch.device("cpu"))
    assert loss == pytest.approx(float(losses.detach().mean()), rel=1e-5) and np.isfinite(ent).all()


def test_pruning_schedule_shrinks_step_by_step(tmp_path):
    spec = make(tmp_path, model={"layers": 3},
                pruning={"schedule": [{"after": 1, "keep": 0.5}, {"after": 2, "keep": 0.3}]})
    out = GPT(spec)(tokens(), entropy=True)
    assert [e.shape[-1] for e in out.entropies] == [16, 8, 3]  # 16, ceil(8), ceil(2.4)
    assert out.positions.shape == (2, 3) and (out.positions[:, -1] == T - 1).all()
    assert (out.positions.diff(dim=-1) > 0).all()


# ---- the command ----------------------------------------------------------------------------------------------

def test_train_command_on_a_pruned_moe_model(tmp_path):
    data = tmp_path / "src"  # a few files instead of the standard library: seconds less
    data.mkdir()
    for i in range(30):  # mod3.py falls in the 5% validation split
        (data / f"mod{i}.py").write_text("".join(f"def f{j}(x):\n    return x * {j} + {i}\n" for j in range(20)))
    spec = write_yaml(tmp_path / "pruned.yaml", tiny_spec(**merge(BASE, merge(PRUNE, {
        "model": {"vocab_size": 256}, "ffn": {"experts": 2, "top_k": 1, "activation": "quad"}}))))
    result = invoke("train", spec, "--steps", 3, "--batch", 2, "--eval-every", 2, "--device", "cpu",
                    "--out", tmp_path / "runs", "--name", "r", "--data", data, "--no-db")
    assert result.exit_code == 0, result.output
    run = json.loads((tmp_path / "runs/r/run.json").read_text())
    assert run["status"] == "ok" and run["steps_done"] == 3 and math.isfinite(run["final"]["eval_loss"])
    rows, _ = counted(load_spec(spec))
    assert run["params"] == sum(row["params"] for row in rows)
