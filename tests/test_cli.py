"""`pidse estimate` through typer's CliRunner: bad input, output formats and groupings, --set and --context."""
from __future__ import annotations

import copy
import csv
import io
import json

import pytest

import pidse
from conftest import SHIPPED, SPECS, TINY, assert_one_line_error, invoke, tiny_spec, write_yaml
from pidse.model.estimate import estimate
from pidse.spec.load import load_spec


def tiny_without(section: str, key: str) -> dict:
    data = copy.deepcopy(TINY)
    del data[section][key]
    return data


# Each case: files to write (name -> mapping, text or bytes; s.yaml is the spec run), extra CLI arguments,
# and what the one error line must name: the file (or option), the key, what was expected.
ERRORS = [
    pytest.param({"s.yaml": "version: 1\nmodel: {layers: 2\n"}, [], ["s.yaml", "line 3", "well-formed YAML"],
                 id="malformed-yaml"),
    pytest.param({"s.yaml": b"version: 1\n\xff\xfe\n"}, [], ["s.yaml", "UTF-8"], id="not-utf8"),
    pytest.param({"s.yaml": "- 1\n- 2\n"}, [], ["s.yaml", "a mapping", "list"], id="not-a-mapping"),
    pytest.param({}, [], ["s.yaml", "an existing spec file"], id="missing-file"),
    pytest.param({"s.yaml": tiny_spec(ffn={"activaton": "relu"})}, [],
                 ["s.yaml", "ffn.activaton", "did you mean 'activation'"], id="unknown-key"),
    pytest.param({"s.yaml": {**TINY, "modle": {}}}, [], ["s.yaml", "modle", "did you mean 'model'"],
                 id="unknown-section"),
    pytest.param({"s.yaml": tiny_spec(ffn={"activation": "gelo"})}, [],
                 ["s.yaml", "ffn.activation", "did you mean 'gelu'"], id="unknown-choice"),
    pytest.param({"s.yaml": tiny_spec(model={"layers": "two"})}, [], ["s.yaml", "model.layers", "an integer",
                                                                     "'two'"], id="wrong-type"),
    pytest.param({"s.yaml": tiny_spec(model={"layers": True})}, [], ["s.yaml", "model.layers", "an integer"],
                 id="bool-is-not-an-integer"),
    pytest.param({"s.yaml": tiny_spec(ffn="relu")}, [], ["s.yaml", "ffn", "a mapping"], id="section-not-a-mapping"),
    pytest.param({"s.yaml": tiny_without("model", "vocab_size")}, [], ["s.yaml", "model.vocab_size", "to be set"],
                 id="missing-key"),
    pytest.param({"s.yaml": {**TINY, "version": 2}}, [], ["s.yaml", "version", "got 2"], id="version"),
    pytest.param({"s.yaml": tiny_spec(model={"heads": 3})}, [],
                 ["s.yaml", "model.heads", "a divisor of model.d_model (8)", "got 3"], id="heads-not-dividing"),
    pytest.param({"s.yaml": tiny_spec(model={"layers": 0})}, [], ["s.yaml", "model.layers", "a positive integer",
                                                                 "got 0"], id="zero-size"),
    pytest.param({"s.yaml": tiny_spec(model={"d_ff": -16})}, [], ["s.yaml", "model.d_ff", "a positive integer",
                                                                 "got -16"], id="negative-size"),
    pytest.param({"s.yaml": tiny_spec(model={"kv_heads": 3})}, [], ["s.yaml", "model.kv_heads",
                                                                   "a divisor of model.heads (2)"],
                 id="kv-heads-not-dividing"),
    pytest.param({"s.yaml": tiny_spec(attention={"projections": ["q", "v"]})}, [],
                 ["s.yaml", "attention.projections", "including q and k"], id="projections"),
    pytest.param({"s.yaml": tiny_spec(inference={"context": 9})}, [],
                 ["s.yaml", "inference.context", "model.max_context (8; ", "--set model.max_context=9", "got 9"], id="context-beyond-max"),
    pytest.param({"s.yaml": tiny_spec(inference={"context": 7, "generate": 3})}, [],
                 ["s.yaml", "inference.generate", "at most model.max_context - context + 1 (2)", "got 3"],
                 id="generate-beyond-max"),
    pytest.param({"s.yaml": TINY}, ["--set", "inference.generate=6"],
                 ["--set", "inference.generate", "(5)", "got 6"], id="set-generate-beyond-max"),
    pytest.param({"s.yaml": tiny_spec(ffn={"fused": True})}, [],
                 ["s.yaml", "ffn.fused", "ffn.activation is identity"], id="fused-with-activation"),
    pytest.param({"s.yaml": tiny_spec(ffn={"activation": "identity", "gated": True, "fused": True})}, [],
                 ["s.yaml", "ffn.fused", "ffn.gated is false"], id="fused-gated"),
    pytest.param({"s.yaml": tiny_spec(attention={"kind": "power_softmax", "power": 3})}, [],
                 ["s.yaml", "attention.power", "a positive even integer", "got 3"], id="power-odd"),
    pytest.param({"s.yaml": tiny_spec(attention={"kind": "power_softmax"})}, [],
                 ["s.yaml", "attention.power", "a positive even integer", "got None"], id="power-missing"),
    pytest.param({"s.yaml": tiny_spec(attention={"power": 2})}, [],
                 ["s.yaml", "attention.power", "unless attention.kind is power_softmax"], id="power-without-kind"),
    pytest.param({"s.yaml": tiny_spec(ffn={"prune_last": 3})}, [],
                 ["s.yaml", "ffn.prune_last", "0 to model.layers (2)"], id="prune-too-many"),
    pytest.param({"s.yaml": tiny_spec(embeddings={"rotary_fraction": 0})}, [],
                 ["s.yaml", "embeddings.rotary_fraction", "(0, 1]"], id="rotary-fraction"),
    pytest.param({"s.yaml": tiny_spec(inference={"batch": 0})}, [], ["s.yaml", "inference.batch", "got 0"],
                 id="batch"),
    pytest.param({"s.yaml": tiny_spec(ffn={"activation": "poly"})}, [],
                 ["s.yaml", "ffn.degree", "from 2 to 32 for activation poly", "got None"], id="poly-without-degree"),
    pytest.param({"s.yaml": tiny_spec(ffn={"degree": 3})}, [],
                 ["s.yaml", "ffn.degree", "unless ffn.activation is poly"], id="degree-without-poly"),
    pytest.param({"s.yaml": tiny_spec(ffn={"experts": 4})}, [], ["s.yaml", "ffn.top_k", "from 1 to ffn.experts (4)"],
                 id="experts-without-top-k"),
    pytest.param({"s.yaml": tiny_spec(ffn={"experts": 2, "top_k": 3})}, [], ["s.yaml", "ffn.top_k", "got 3"],
                 id="top-k-above-experts"),
    pytest.param({"s.yaml": tiny_spec(attention={"window": 2, "causal": False})}, [],
                 ["s.yaml", "attention.window", "with causal attention"], id="window-bidirectional"),
    pytest.param({"s.yaml": tiny_spec(pruning={"schedule": [{"after": 2, "keep": 0.5}]})}, [],
                 ["s.yaml", "pruning.schedule[0].after", "from 1 to model.layers - 1 (1)", "got 2"],
                 id="prune-after-last-layer"),
    pytest.param({"s.yaml": tiny_spec(pruning={"schedule": [{"after": 1, "keep": 0}]})}, [],
                 ["s.yaml", "pruning.schedule[0].keep", "(0, 1]"], id="prune-keep-zero"),
    pytest.param({"s.yaml": tiny_spec(pruning={"schedule": [{"after": 1}]})}, [],
                 ["s.yaml", "pruning.schedule[0].keep", "this key to be set"], id="prune-keep-missing"),
    pytest.param({"s.yaml": tiny_spec(attention={"kind": "linear"}, pruning={"schedule": [{"after": 1, "keep": 0.5}]})},
                 [], ["s.yaml", "pruning.schedule", "no token pruning with linear attention"], id="prune-linear"),
    pytest.param({"s.yaml": tiny_spec(attention={"kind": "2quadd"})}, [],
                 ["s.yaml", "attention.kind", "did you mean '2quad'"], id="attention-kind-typo"),
    pytest.param({"s.yaml": tiny_spec(training={"weight_norm": "spectral"})}, [],
                 ["s.yaml", "training.weight_norm_on"], id="weight-norm-without-layers"),
    pytest.param({"s.yaml": {"version": 1, "extends": "b.yaml"}, "b.yaml": {"version": 1, "extends": "s.yaml"}},
                 [], ["b.yaml", "extends", "no cycle", "'s.yaml'"], id="extends-cycle"),
    pytest.param({"s.yaml": {"version": 1, "extends": "s.yaml"}}, [], ["s.yaml", "extends", "no cycle"],
                 id="extends-self"),
    pytest.param({"s.yaml": {"version": 1, "extends": "nothere.yaml"}}, [],
                 ["s.yaml", "extends", "an existing spec file", "nothere.yaml"], id="extends-missing"),
    pytest.param({"s.yaml": {"version": 1, "extends": ["b.yaml"]}}, [], ["s.yaml", "extends", "a path"],
                 id="extends-not-a-path"),
    # --set and --context: validated like the file, and named as the source
    pytest.param({"s.yaml": TINY}, ["--set", "model.layrs=3"], ["--set", "model.layrs", "did you mean 'layers'"],
                 id="set-unknown-key"),
    pytest.param({"s.yaml": TINY}, ["--set", "modle.layers=3"], ["--set", "modle", "did you mean 'model'"],
                 id="set-unknown-section"),
    pytest.param({"s.yaml": TINY}, ["--set", "model.layers.x=3"], ["--set", "model.layers.x", "a spec key"],
                 id="set-too-deep"),
    pytest.param({"s.yaml": TINY}, ["--set", "model=3"], ["--set", "model", "a key inside it"],
                 id="set-whole-section"),
    pytest.param({"s.yaml": TINY}, ["--set", "layers"], ["--set", "layers", "dotted.key=value"],
                 id="set-without-value"),
    pytest.param({"s.yaml": TINY}, ["--set", "model.layers=x"], ["--set", "model.layers", "an integer", "'x'"],
                 id="set-wrong-type"),
    pytest.param({"s.yaml": TINY}, ["--set", "model.layers=0"], ["--set", "model.layers", "a positive integer"],
                 id="set-zero"),
    pytest.param({"s.yaml": TINY}, ["--set", "model.heads=3"], ["--set", "model.heads", "a divisor"],
                 id="set-validated"),
    pytest.param({"s.yaml": TINY}, ["--set", "attention.projections=[q, 3]"],
                 ["--set", "attention.projections[1]", "a string"], id="set-list-item"),
    pytest.param({"s.yaml": tiny_spec(ffn="relu")}, ["--set", "ffn.prune_last=1"], ["s.yaml", "ffn", "a mapping"],
                 id="set-into-bad-section"),  # the file's error, not a crash
    pytest.param({"s.yaml": TINY}, ["--context", "9"],
                 ["--context", "inference.context", "model.max_context (8; ", "--set model.max_context=9", "got 9"], id="context-beyond-max-cli"),
    pytest.param({"s.yaml": TINY}, ["--context", "0"], ["--context", "inference.context", "a positive integer"],
                 id="context-zero"),
]


@pytest.mark.parametrize("files, args, needles", ERRORS)
def test_bad_input(tmp_path, files, args, needles):
    for name, content in files.items():
        if isinstance(content, bytes):
            (tmp_path / name).write_bytes(content)
        else:
            write_yaml(tmp_path / name, content)
    line = assert_one_line_error(invoke("estimate", tmp_path / "s.yaml", *args), *needles)
    assert line.startswith("error: ")


def estimate_json(*args) -> dict:
    result = invoke("estimate", *args, "-f", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_json_documented_keys(tiny_file):
    # README "JSON output": the keys of an unpriced estimate
    out = estimate_json(tiny_file())
    assert {"spec", "label", "source", "context", "generate", "flops_convention", "totals", "flops_by_block",
            "nonlinear_ops", "head_nonlinear_ops", "ops"} <= set(out)
    assert (out["spec"], out["context"], out["generate"], out["flops_convention"]) == ("tiny", 4, 1, "dense")
    # the tiny model's totals (derived in test_graph_counts.py)
    assert {k: out["totals"][k] for k in ("params", "macs", "flops")} == {"params": 1360, "macs": 4688,
                                                                          "flops": 9376}
    assert set(out["flops_by_block"]) == {"embedding", "attention", "ffn", "norm", "head"}
    assert out["nonlinear_ops"] == "SM:4xR4x4 LN:4xR4x8 G:2xR4x16"
    assert len(out["ops"]) == 35  # 2 embedding ops, 2 x 15 per layer, 3 head ops
    for op in out["ops"]:
        assert {"op", "kind", "layer", "block", "stage", "step", "shape", "attrs", "params", "macs", "flops"} <= set(op)
    assert "breakdown" not in out  # json defaults to per-op rows


@pytest.mark.parametrize("args, check", [
    # one more layer: 3 x 2 softmaxes, 3 x 2 LNs, 3 GELUs; params 1360 + 600 (one layer, test_graph_counts)
    (["--set", "model.layers=3"], lambda o: (o["nonlinear_ops"], o["totals"]["params"]) == (
        "SM:6xR4x4 LN:6xR4x8 G:3xR4x16", 1960)),
    (["--context", "2"], lambda o: (o["context"], o["nonlinear_ops"]) == (2, "SM:4xR2x2 LN:4xR2x8 G:2xR2x16")),
    (["--set", "inference.context=3"], lambda o: o["context"] == 3),
    (["--set", "ffn.activation=relu", "--set", "ffn.prune_last=1"],
     lambda o: o["nonlinear_ops"] == "SM:4xR4x4 LN:3xR4x8 R:1xR4x16"),
    # aero: per layer 4*512 + 256 + 128 + 2*1024 = 4480, x2, no head (test_graph_counts)
    (["--flops-convention", "aero"], lambda o: (o["totals"]["flops"], o["flops_by_block"]["head"]) == (8960, 0)),
])
def test_options_change_the_estimate(tiny_file, args, check):
    assert check(estimate_json(tiny_file(), *args))


def check_output(text: str, fmt: str, by: str, est):
    """`text` is `est` rendered as `fmt` with rows grouped `by`."""
    groups, totals = est.breakdown(by), est.totals
    if fmt == "json":
        out = json.loads(text)
        assert out["totals"]["flops"] == totals["flops"]
        assert len(out["ops"]) == len(est.ops)
        if by != "op":
            assert out["breakdown"]["by"] == by
            assert sum(r["flops"] for r in out["breakdown"]["rows"]) == totals["flops"]
    elif fmt == "csv":
        table = list(csv.DictReader(io.StringIO(text)))
        assert next(csv.reader(io.StringIO(text)))[0] == by
        assert len(table) == len(groups)
        assert sum(int(r["flops"]) for r in table) == totals["flops"]
    else:  # table / markdown: the facts, then one row per group under a header naming the grouping
        assert f"{totals['params']:,}" in text
        lines = text.splitlines()
        start = next(i for i, line in enumerate(lines) if line.lstrip("| ").startswith(by + " "))
        assert len(lines) - start == 2 + len(groups)  # header, rule, rows
        assert lines[0].startswith("### " if fmt == "markdown" else est.spec.name)


@pytest.mark.parametrize("fmt", ["table", "json", "csv", "markdown"])
@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_spec_in_every_format_and_grouping(path, fmt):
    est = estimate(load_spec(path, context=16))
    for by in ("op", "kind", "layer", "block"):
        result = invoke("estimate", path, "--context", 16, "-f", fmt, "--by", by)
        assert result.exit_code == 0, result.output
        check_output(result.stdout, fmt, by, est)


@pytest.mark.parametrize("fmt, by", [("table", "block"), ("markdown", "block"), ("json", "op"), ("csv", "op")])
def test_default_grouping(tiny_file, fmt, by):
    path = tiny_file()
    result = invoke("estimate", path, "-f", fmt)
    assert result.exit_code == 0, result.output
    assert result.stdout == invoke("estimate", path, "-f", fmt, "--by", by).stdout


def test_table_names_the_params():
    result = invoke("estimate", SPECS / "gpt2_sm_ln_g.yaml")
    assert result.exit_code == 0, result.output
    assert "124,439,808" in result.stdout
    assert "SM:144xR128x128 LN:24xR128x768 G:12xR128x3072" in result.stdout


def test_version():
    result = invoke("--version")
    assert (result.exit_code, result.stdout.strip()) == (0, f"pidse {pidse.__version__}")


def test_main_builds_only_the_command_it_runs():
    """Typer builds a parser for every command of the app it runs: `pidse estimate` runs an app with `estimate`
    alone; no command, or an unknown one, gets every command (help, "did you mean")."""
    from pidse.cli.app import app, for_command

    names = (lambda a: [c.name or c.callback.__name__ for c in a.registered_commands]  # noqa: E731
             + [g.name for g in a.registered_groups])
    assert names(for_command(["estimate", "gpt2_sm_ln_g", "-p", "bumblebee"])) == ["estimate"]
    assert names(for_command(["ppl", "list"])) == ["ppl"]
    assert names(for_command(["sweep", "--space", "aero"])) == ["sweep"]
    everything = set(names(app))
    assert {"estimate", "compare", "list", "ppl", "sweep", "formula", "calibrate", "train"} <= everything
    for argv in ([], ["--help"], ["--version"], ["estimat"]):
        assert set(names(for_command(argv))) == everything


@pytest.mark.parametrize("argv, needle", [
    (["estimate", "gpt2_sm", "-T", "abc"], "--context"),
    (["bogus"], "No such command"),
    (["estimate", "gpt2_sm", "--nope"], "--nope"),
])
def test_usage_errors_are_one_line_from_the_console_script(tmp_path, argv, needle):
    """click prints usage, a hint and the error on three lines; `pidse` (main) prints one, exit code 2."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "pidse", *argv], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], lines
