"""Hostile input on the spec, HF config, design-space and perplexity-database surfaces (issue 17): one focused test
per class of failure, each of which failed before the fix, and a property-based fuzz suite over the same surfaces
(fast here; `pytest -m slow` runs many more examples).

The promise: bad input is one InputError line naming file, key and expectation (exit code 2 on the CLI), never a
traceback, a hang, a graph that grows with a pathological size, a NaN, or a silent acceptance."""
from __future__ import annotations

import dataclasses
import json
import sqlite3
import time

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import TINY, assert_one_line_error, invoke, tiny_spec, write_yaml
from pidse.errors import InputError
from pidse.spec.definition import validate
from pidse.spec.load import load_spec

MAX_LAYERS, MAX_OPS = 1024, 200_000  # pidse.spec.load's limits (README, "Bad input")

GPT2_HF = {"model_type": "gpt2", "n_layer": 2, "n_embd": 8, "n_head": 2, "vocab_size": 10, "n_positions": 16}
NEOX_HF = {"model_type": "gpt_neox", "num_hidden_layers": 2, "hidden_size": 8, "num_attention_heads": 2,
           "intermediate_size": 32, "vocab_size": 10, "max_position_embeddings": 16}
SPACE_BASE = "version: 1\nmodel: {layers: 2, heads: 2, d_model: 8, d_ff: 16, vocab_size: 10, max_context: 256}\n"
SPACE = {"version": 1, "base": "base.yaml", "contexts": {128: {"dataset": "codeparrot"}},
         "axes": {"act": {"G": {"ffn.activation": "gelu"}, "R": {"ffn.activation": "relu"}}},
         "ranges": {"layers": [2], "prune_last": [0]}}


def error_of(call, *args, **kwargs) -> InputError:
    with pytest.raises(InputError) as info:
        call(*args, **kwargs)
    line = str(info.value)
    assert "\n" not in line and len(line) <= 560, line
    return info.value


def spec_file(tmp_path, name="s.yaml", **sections):
    return write_yaml(tmp_path / name, tiny_spec(**sections))


def space_file(tmp_path, base_text=SPACE_BASE, **top):
    (tmp_path / "base.yaml").write_text(base_text)
    data = {**SPACE, **top}
    return write_yaml(tmp_path / "sp.yaml", data)


@pytest.fixture
def no_graph(monkeypatch):
    """Fail the test if any op graph is built: a size past its limit must be refused from the numbers alone."""
    import pidse.model.estimate as estimate
    import pidse.model.graph as graph

    def refuse(*args, **kwargs):
        raise AssertionError("an op graph was built for a spec past the limits")
    monkeypatch.setattr(graph, "trace", refuse)
    monkeypatch.setattr(estimate, "trace", refuse, raising=False)


# ---- unbounded sizes ---------------------------------------------------------------------------------------

def test_a_million_layers_is_refused_in_a_file_via_set_and_in_an_hf_config(tmp_path, no_graph):
    started = time.perf_counter()
    err = error_of(load_spec, spec_file(tmp_path, model={"layers": 1_000_000}))
    assert (err.key, err.got) == ("model.layers", 1_000_000) and f"{MAX_LAYERS:,}" in err.expected
    err = error_of(load_spec, spec_file(tmp_path), ["model.layers=1000000"])
    assert (err.source, err.key) == ("--set", "model.layers")
    hf = tmp_path / "config.json"
    hf.write_text(json.dumps({**GPT2_HF, "n_layer": 1_000_000}))
    assert "1,024" in str(error_of(load_spec, hf))
    assert time.perf_counter() - started < 2


def test_a_million_layers_in_a_space_range_is_refused(tmp_path):
    from pidse.search.space import load_space

    err = error_of(load_space, str(space_file(tmp_path, ranges={"layers": "1..1000000", "prune_last": [0]})))
    assert err.key == "ranges.layers" and "1,024" in err.expected


def test_generate_1e8_and_the_op_limit(tmp_path, no_graph):
    big = {"layers": 1000, "max_context": 2**24}
    err = error_of(load_spec, spec_file(tmp_path, model=big, inference={"context": 4, "generate": 10**8}))
    assert err.key == "inference.generate" and "16,777,216" in err.expected
    err = error_of(load_spec, spec_file(tmp_path, model=big, inference={"context": 4, "generate": 1000}))
    # 1000 layers x 24 ops x 1000 tokens: 24 million op-steps (decode templates keep the graph small; their
    # per-step sizes are what grows)
    assert err.key == "inference.generate" and "20,000,000 op-steps" in err.expected
    err = error_of(load_spec, spec_file(tmp_path, model={"layers": 1000}, ffn={"experts": 4096, "top_k": 2}))
    assert err.key == "ffn.experts"


def test_vocab_1e30_with_a_protocol_names_the_limit(tmp_path):
    result = invoke("estimate", spec_file(tmp_path, model={"vocab_size": 10**30}), "-p", "aero-secretflow")
    assert_one_line_error(result, "model.vocab_size", "16,777,216")


def test_a_spec_changed_in_python_is_held_to_the_same_limits(tmp_path, no_graph):
    spec = load_spec(spec_file(tmp_path))
    huge = spec.replace(model=dataclasses.replace(spec.model, layers=10**6))
    assert error_of(validate, huge).key == "model.layers"
    wrong = spec.replace(model=dataclasses.replace(spec.model, vocab_size="10"))
    assert error_of(validate, wrong).key == "model.vocab_size"


SHAPES = st.fixed_dictionaries({
    "layers": st.integers(1, 4), "generate": st.integers(1, 3), "experts": st.sampled_from([1, 2, 3]),
    "kind": st.sampled_from(["softmax", "linear", "relu"]), "parallel": st.booleans(), "gated": st.booleans(),
    "scaled": st.booleans(), "prune": st.booleans(), "norm": st.sampled_from(["layernorm", "none"]),
    "positions": st.sampled_from(["learned", "rotary"]), "embedding_norm": st.booleans()})


@settings(max_examples=60, deadline=None)
@given(SHAPES)
def test_op_bound_bounds_the_graph_it_is_checked_instead_of(shape):
    """validate refuses a spec from op_bound alone: it must never be below the graph's real size."""
    from pidse.model.graph import trace
    from pidse.schema import from_mapping
    from pidse.spec.definition import Spec, op_bound

    experts = {"experts": shape["experts"], "top_k": 1} if shape["experts"] > 1 else {}
    data = tiny_spec(model={"layers": shape["layers"], "max_context": 16, "parallel_residual": shape["parallel"]},
                     inference={"context": 4, "generate": shape["generate"]},
                     attention={"kind": shape["kind"]}, norm={"kind": shape["norm"], "embedding": shape[
                         "embedding_norm"]}, embeddings={"positions": shape["positions"]},
                     ffn={"gated": shape["gated"], "scaled": shape["scaled"], **experts},
                     pruning={"schedule": [{"after": 1, "keep": 0.5}] if shape["prune"] and shape["layers"] > 1
                              and shape["kind"] != "linear" else []})
    spec = validate(from_mapping(Spec, data, "s"))
    nodes, _ = trace(spec)
    assert len(nodes) <= op_bound(spec)


# ---- aliases, nesting, long numbers, extends chains ---------------------------------------------------------

LAUGHS = ("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
          + "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi")))


def test_billion_laughs_is_refused_fast_with_a_short_line(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(LAUGHS + "version: 1\nmodel: {layers: *i}\n")
    started = time.perf_counter()
    err = error_of(load_spec, path)
    assert "200,000 values" in err.expected and time.perf_counter() - started < 2
    laughs = "[&a [x,x,x,x,x,x,x,x,x], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a], &c [*b,*b,*b,*b,*b,*b,*b,*b,*b], " \
             "&d [*c,*c,*c,*c,*c,*c,*c,*c,*c], &e [*d,*d,*d,*d,*d,*d,*d,*d,*d], [*e,*e,*e,*e,*e,*e,*e,*e,*e]]"
    assert "values" in error_of(load_spec, spec_file(tmp_path), [f"attention.projections={laughs}"]).expected


def test_a_value_echoed_in_an_error_is_cut_short():
    from pidse.errors import short

    nested = ["x"] * 9
    for _ in range(12):
        nested = [nested] * 9  # 9**13 items, shared: printing it whole would never end
    loop = []
    loop.append(loop)
    for value in (nested, loop, 10**5000, "s" * 10**6, {"k" * 1000: "v" * 1000}, b"\x00" * 10**6):
        text = short(value)
        assert len(text) <= 60 and "\n" not in text
    assert short(10**5000) == "a 5,001-digit integer"
    line = str(InputError("f.yaml", "a\nb" * 1000, "x" * 10_000, "y" * 10_000))
    assert "\n" not in line and len(line) <= 560


def test_an_extends_chain_1500_deep_is_refused(tmp_path):
    for i in range(1500):
        (tmp_path / f"c{i}.yaml").write_text(f"extends: c{i + 1}.yaml\n")
    write_yaml(tmp_path / "c1500.yaml", TINY)
    assert "chain of at most 32" in error_of(load_spec, tmp_path / "c0.yaml").expected


@pytest.mark.parametrize("text, expected", [
    ('{"a": ' * 100_000 + "1" + "}" * 100_000, "levels of nesting"),
    ("[" * 100_000 + "]" * 100_000, "levels of nesting"),
    ('{"model_type": "gpt2", "n_layer": ' + "9" * 5000 + "}", "digits"),
    ('{"model_type": "gpt2", "n_layer": NaN}', "NaN"),
])
def test_deep_json_and_long_integers_are_input_errors(tmp_path, text, expected):
    path = tmp_path / "config.json"
    path.write_text(text)
    assert expected in error_of(load_spec, path).expected


def test_a_5000_digit_integer_in_yaml_and_set(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("version: " + "9" * 5000 + "\n")
    assert "digits" in error_of(load_spec, path).expected
    assert "digits" in error_of(load_spec, spec_file(tmp_path), ["model.layers=" + "9" * 5000]).expected


# ---- HF configs: booleans are booleans, sizes are positive ---------------------------------------------------------

@pytest.mark.parametrize("base, key, value", [
    (GPT2_HF, "tie_word_embeddings", "false"),
    (NEOX_HF, "use_parallel_residual", "no"),
    (NEOX_HF, "attention_bias", 0),
    (GPT2_HF, "add_cross_attention", "false"),
    (GPT2_HF, "n_inner", 0),
    (GPT2_HF, "n_inner", -8),
    (GPT2_HF, "n_head", True),
])
def test_hf_values_are_type_checked(tmp_path, base, key, value):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**base, key: value}))
    assert error_of(load_spec, path).key == key


# ---- duplicate keys -----------------------------------------------------------------------------------------

def test_duplicate_keys_are_errors_in_yaml_json_and_set(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(TINY) + "version: 1\n")
    assert "each key once" in error_of(load_spec, path).expected
    path.write_text("version: 1\nmodel: {layers: 2, heads: 2, layers: 3}\n")
    assert "each key once" in error_of(load_spec, path).expected
    hf = tmp_path / "config.json"
    hf.write_text('{"model_type": "gpt2", "n_layer": 2, "n_layer": 3}')
    assert error_of(load_spec, hf).key == "n_layer"
    assert "each key once" in error_of(load_spec, spec_file(tmp_path), ["attention.projections={a: 1, a: 2}"]) \
        .expected


def test_yaml_merge_keys_may_still_be_overridden(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("version: 1\nsizes: &s {layers: 2, heads: 2, d_model: 8, d_ff: 16, vocab_size: 10, "
                    "max_context: 8}\n".replace("sizes: &s", "label: x\nmodel: &s") + "norm: {kind: layernorm}\n")
    assert load_spec(path).model.layers == 2
    from pidse.spec.load import parse_text

    data = parse_text("base: &b {a: 1, b: 2}\nchild: {<<: *b, a: 3}\n", "t.yaml")
    assert data["child"] == {"a": 3, "b": 2}


# ---- design spaces ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("top, key", [
    ({"base": 5}, "base"),
    ({"axes": [1, 2]}, "axes"),
    ({"contexts": [128]}, "contexts"),
    ({"ranges": [1]}, "ranges"),
    ({"networks": 5}, "networks"),
    ({"ranges": {"layers": []}}, "ranges.layers"),
    ({"ranges": {"layers": "²..3"}}, "ranges.layers"),
    ({"contexts": {128: {"set": {"model.layrs": 3}}}}, "contexts.128.set: model.layrs"),
    ({"axes": {"a": {"x": {"model.layers": 3}}}}, "axes.a.x: model.layers"),
])
def test_space_files_are_type_checked(tmp_path, top, key):
    from pidse.search.space import load_space

    assert error_of(load_space, str(space_file(tmp_path, **top))).key == key


def test_a_base_specs_unknown_key_is_an_error_at_load(tmp_path):
    from pidse.search.space import load_space

    err = error_of(load_space, str(space_file(tmp_path, base_text=SPACE_BASE + "foo: 1\n")))
    assert (err.source.endswith("base.yaml"), err.key) == (True, "foo")


def test_a_space_whose_points_all_fail_says_why(tmp_path, monkeypatch):
    monkeypatch.setenv("PIDSE_DB", str(tmp_path / "db.sqlite"))
    path = space_file(tmp_path, axes={"a": {"x": {"ffn.activation": "bogus"}}})
    result = invoke("sweep", "--space", path, "--out", tmp_path / "out")
    assert_one_line_error(result, "sp.yaml", "ffn.activation", "no point of the space is valid", "'bogus'")


# ---- the perplexity database ----------------------------------------------------------------------------------

def test_a_csv_cell_over_the_csv_limit_is_one_line(tmp_path, db_path):
    csv_file = tmp_path / "runs.csv"
    csv_file.write_text("spec,context,dataset,ppl,source\ns.yaml,128,d,3," + "x" * 140_000 + "\n")
    assert_one_line_error(invoke("ppl", "import", csv_file, "--db", db_path), "runs.csv", "well-formed CSV")


@pytest.mark.parametrize("where", ["folder", "under-a-file", "dev-null"])
def test_db_paths_that_cannot_be_opened_are_one_line(tmp_path, where):
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("x")
    db = {"folder": tmp_path / "folder", "under-a-file": tmp_path / "file" / "db.sqlite",
          "dev-null": "/dev/null"}[where]
    assert_one_line_error(invoke("ppl", "list", "--db", db), str(db))


def corrupt_rows(path):
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA ignore_check_constraints = ON")
    conn.execute("UPDATE runs SET ppl = 'not-a-number' WHERE id = 3")
    conn.execute("UPDATE runs SET ppl = NULL WHERE id = 4")
    conn.execute("UPDATE runs SET train_tokens = 'many' WHERE id = 5")
    conn.commit()
    conn.close()


def test_corrupt_rows_are_reported_with_their_id_and_skipped_by_readers(tmp_path, db_path):
    from pidse.ppl.db import CorruptRowWarning, open_db
    from pidse.search.space import load_space
    from pidse.search.sweep import sweep

    corrupt_rows(db_path)
    with open_db(db_path) as db:
        with pytest.warns(CorruptRowWarning) as caught:
            rows = db.query()
        assert {r["id"] for r in rows}.isdisjoint({3, 4, 5}) and len(rows) > 10
        messages = [str(w.message) for w in caught]
        assert any(m.startswith("row 3: ppl") for m in messages) and any(m.startswith("row 5: train_tokens")
                                                                         for m in messages)
        with pytest.warns(CorruptRowWarning):
            frame = sweep(load_space("aero"), [128], db=db)  # crashed on the non-numeric ppl before
        assert len(frame) and frame["ppl"].dropna().between(1, 100).all()
    with pytest.warns(CorruptRowWarning):
        result = invoke("ppl", "list", "--db", db_path)
    assert result.exit_code == 0 and "not-a-number" not in result.stdout


def damage_page(path, page: int):
    data = bytearray(path.read_bytes())
    at = (page - 1) * 4096 + 8
    data[at:at + 32] = b"\xee" * 32  # the b-tree page's cell pointers
    path.write_bytes(bytes(data))


def big_database(path):
    from pidse.ppl.db import SCHEMA

    conn = sqlite3.connect(path)
    for statement in SCHEMA:
        conn.execute(statement)
    conn.executemany("INSERT INTO runs (arch_key, arch, spec, layers, heads, d_model, vocab_size, context, dataset, "
                     "ppl, status, source, added) VALUES (?, 'a', 's', 2, 2, 8, 10, 128, 'd', 3.5, 'ok', ?, "
                     "'2025-01-01')", [(f"{i:016x}", f"run {i} " + "x" * 100) for i in range(300)])
    conn.commit()
    pages = dict(conn.execute("SELECT name, rootpage FROM sqlite_master"))
    conn.close()
    return pages


@pytest.mark.parametrize("which", ["index", "data"])
def test_a_malformed_page_is_one_line_when_opened(tmp_path, which):
    path = tmp_path / "db.sqlite"
    pages = big_database(path)
    damage_page(path, pages["runs_identity"] if which == "index" else path.stat().st_size // 4096)
    before = path.read_bytes()
    spec = spec_file(tmp_path, model={"max_context": 256})
    result = invoke("ppl", "add", spec, "-T", "128", "--ppl", "3", "--source", "s", "--dataset", "d", "--db", path)
    assert_one_line_error(result, "db.sqlite", "quick_check")
    assert path.read_bytes() == before  # nothing written into a damaged file
    assert_one_line_error(invoke("ppl", "list", "--db", path), "db.sqlite", "quick_check")


def test_a_lock_held_past_the_timeout_says_another_writer_holds_it(tmp_path, db_path, monkeypatch):
    import pidse.ppl.db as ppl

    monkeypatch.setattr(ppl, "BUSY_TIMEOUT_S", 0.2)
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        spec = spec_file(tmp_path, model={"max_context": 256})
        result = invoke("ppl", "add", spec, "-T", "128", "--ppl", "3", "--source", "s", "--dataset", "d",
                        "--db", db_path)
        assert_one_line_error(result, "locked by another writer")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_the_database_guarantees_hold_for_rows_added_after_a_refused_write(tmp_path, db_path):
    """A refused row leaves the database as it was, and it takes writes again."""
    from pidse.ppl.db import open_db

    spec = spec_file(tmp_path, model={"max_context": 256})
    with open_db(db_path) as db:
        before = len(db.query())
        with pytest.raises(InputError):
            db.add(spec, context=128, ppl=3.0, source="a\nb", dataset="d")
        assert len(db.query()) == before
        assert len(db.add(spec, context=128, ppl=3.0, source="ok", dataset="d").added) == 1


# ---- no file's contents in an error ------------------------------------------------------------------------------

def test_errors_do_not_quote_other_files(tmp_path, db_path):
    secret = "TOPSECRET-" + "z" * 200
    (tmp_path / "secret.txt").write_text(f"{secret}: 1\n")
    (tmp_path / "secret.yaml").write_text(yaml.safe_dump({**TINY, "norm": {"kind": secret}}))
    (tmp_path / "a.yaml").write_text("extends: secret.txt\n")
    (tmp_path / "b.yaml").write_text("extends: secret.yaml\n")
    for spec in ("a.yaml", "b.yaml"):
        assert secret not in str(error_of(load_spec, tmp_path / spec))
    csv_file = tmp_path / "runs.csv"
    csv_file.write_text(f"spec,context,dataset,ppl,source\n{tmp_path / 'secret.txt'},128,d,3,s\n")
    result = invoke("ppl", "import", csv_file, "--db", db_path)
    assert secret[:20] not in assert_one_line_error(result, "spec")


# ---- train options ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, needle", [
    (["--lr", "nan"], "--lr"), (["--lr", "-1"], "--lr"), (["--batch", "10000000"], "--batch"),
    (["--steps", "0"], "--steps"), (["--tokens", "1e30"], "--tokens"), (["--seed", "-1"], "--seed"),
    (["--name", "../x"], "--name"), (["--set", "model.d_model=1000000", "--set", "model.heads=1000"], "fits"),
])
def test_train_options_are_checked_before_any_work(tmp_path, args, needle):
    pytest.importorskip("torch")
    spec = spec_file(tmp_path, model={"vocab_size": 256})
    result = invoke("train", spec, "--db", tmp_path / "db.sqlite", "--out", tmp_path / "runs", *args)
    assert_one_line_error(result, needle)
    assert not (tmp_path / "runs").exists()


def test_train_data_too_small_for_a_window(tmp_path):
    pytest.importorskip("torch")
    from pidse.train.data import is_validation

    names = {is_validation(f"m{i}.py", 5): f"m{i}.py" for i in range(200)}
    (tmp_path / "data").mkdir()
    for name in names.values():
        (tmp_path / "data" / name).write_text("x\n")
    result = invoke("train", spec_file(tmp_path, model={"vocab_size": 256}), "--data", tmp_path / "data",
                    "--db", tmp_path / "db.sqlite", "--out", tmp_path / "runs")
    assert_one_line_error(result, "--data", "tokens")


def test_train_data_refuses_a_tree_past_its_limits_before_reading_it(tmp_path, monkeypatch):
    import pidse.train.data as data

    for i in range(5):
        (tmp_path / f"d{i}").mkdir()
        (tmp_path / f"d{i}" / "m.py").write_text("x = 1\n")
    monkeypatch.setattr(data, "MAX_FOLDERS", 3)  # `--data /` walks 10,000 folders, about a second, then stops
    assert error_of(data.source_files, tmp_path).key is None
    monkeypatch.setattr(data, "MAX_FOLDERS", 100)
    monkeypatch.setattr(data, "MAX_CORPUS_BYTES", 10)
    assert "MiB" in error_of(data.source_files, tmp_path).expected


# ---- property-based fuzzing ------------------------------------------------------------------------------------

HOSTILE_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-10, 10), st.integers(-(10**40), 10**40),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["", "1e8", "nan", ".inf", "１２", "true", "softmax", "ｓｏｆｔｍａｘ", "0..layers", "1..3",
                     "x" * 300, "a\nb", "\u2028", "layernorm", "gelu", "q"]))
HOSTILE_VALUES = st.recursive(HOSTILE_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)
SPEC_KEYS = ["version", "model", "model.layers", "model.heads", "model.d_model", "model.vocab_size",
             "model.kv_heads", "model.bias", "attention", "attention.kind", "attention.power", "attention.window",
             "attention.projections", "ffn.activation", "ffn.degree", "ffn.experts", "ffn.top_k", "ffn.prune_last",
             "embeddings.rotary_fraction", "pruning.schedule", "inference.context", "inference.generate",
             "inference.batch", "training.tokens", "extends", "name", "label", "unknown", "model.unknown"]


def put(data: dict, dotted: str, value) -> dict:
    node = data
    *parents, leaf = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {}) if isinstance(node.get(part, {}), dict) else {}
    node[leaf] = value
    return data


def check_outcome(call, *args):
    """`call` returns or raises one short InputError line: nothing else."""
    try:
        return call(*args)
    except InputError as err:
        line = str(err)
        assert "\n" not in line and len(line) <= 560, line
        return None


def fuzz_spec(tmp_path, changes):
    import copy

    data = copy.deepcopy(TINY)
    for key, value in changes:
        put(data, key, value)
    path = tmp_path / "fuzz.yaml"
    try:
        path.write_text(yaml.safe_dump(data, allow_unicode=True))
    except yaml.YAMLError:
        return
    spec = check_outcome(load_spec, path)
    if spec is not None:
        from pidse.spec.definition import op_bound

        assert op_bound(spec) <= MAX_OPS and spec.model.layers <= MAX_LAYERS


def fuzz_text(tmp_path, text: str, suffix: str):
    path = tmp_path / f"fuzz{suffix}"
    path.write_text(text)
    check_outcome(load_spec, path)


def fuzz_override(tmp_path, key: str, raw: str):
    check_outcome(load_spec, spec_file(tmp_path), [f"{key}={raw}"])


def fuzz_hf(tmp_path, key: str, value):
    path = tmp_path / "config.json"
    try:
        path.write_text(json.dumps({**GPT2_HF, key: value}, allow_nan=True))
    except (ValueError, TypeError):
        return
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_outcome(load_spec, path)


def fuzz_space(tmp_path, key: str, value):
    import copy

    from pidse.search.space import load_space

    data = put(copy.deepcopy(SPACE), key, value)
    (tmp_path / "base.yaml").write_text(SPACE_BASE)
    try:
        write_yaml(tmp_path / "sp.yaml", data)
    except yaml.YAMLError:
        return
    space = check_outcome(load_space, str(tmp_path / "sp.yaml"))
    if space is not None:
        for context in list(space.contexts) or [128]:
            check_outcome(space.structures, context)


def fuzz_csv(tmp_path, column: str, cell: str):
    from pidse.ppl.rows import read_csv

    spec = spec_file(tmp_path, model={"max_context": 256})
    row = {"spec": str(spec), "context": "128", "dataset": "d", "train_tokens": "", "ppl": "3.5", "status": "ok",
           "source": "s", column: cell}
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(row)
    writer.writerow(row.values())
    path = tmp_path / "runs.csv"
    path.write_text(out.getvalue())
    check_outcome(read_csv, path)


FAST = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
SLOW = settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
SPEC_CHANGES = st.lists(st.tuples(st.sampled_from(SPEC_KEYS), HOSTILE_VALUES), min_size=1, max_size=3)
OVERRIDE = (st.sampled_from(SPEC_KEYS[2:]), st.one_of(st.text(max_size=40), st.sampled_from(
    ["[" * 50, "{a: 1, a: 2}", "&a [*a]", "9" * 5000, ".nan", "1e400", "!!binary AAAA", "[1, [2, [3]]]"])))
HF_KEYS = st.sampled_from(["n_layer", "n_embd", "n_head", "vocab_size", "n_positions", "n_inner", "model_type",
                           "tie_word_embeddings", "activation_function", "add_cross_attention", "_name_or_path",
                           "rotary_pct", "unknown"])
SPACE_KEYS = st.sampled_from(["version", "base", "name", "protocols", "networks", "contexts", "contexts.128",
                              "contexts.128.set", "contexts.128.train_tokens", "axes", "axes.act", "axes.act.G",
                              "axes.act.G.ffn.activation", "ranges", "ranges.layers", "ranges.prune_last",
                              "unknown"])
CSV_COLUMNS = st.sampled_from(["spec", "context", "dataset", "train_tokens", "ppl", "status", "source"])


@pytest.mark.parametrize("speed", [pytest.param(FAST, id="fast"),
                                   pytest.param(SLOW, id="slow", marks=pytest.mark.slow)])
def test_fuzz_specs(tmp_path_factory, speed):
    folder = tmp_path_factory.mktemp("fuzz")
    speed(given(SPEC_CHANGES)(lambda changes: fuzz_spec(folder, changes)))()


@pytest.mark.parametrize("speed", [pytest.param(FAST, id="fast"),
                                   pytest.param(SLOW, id="slow", marks=pytest.mark.slow)])
def test_fuzz_file_text(tmp_path_factory, speed):
    folder = tmp_path_factory.mktemp("fuzz")
    texts = st.one_of(st.text(max_size=200), st.sampled_from([LAUGHS, "{" * 60, "- " * 60 + "x", "a: &a [*a]"]))
    speed(given(texts, st.sampled_from([".yaml", ".json"]))(
        lambda text, suffix: fuzz_text(folder, text, suffix)))()


@pytest.mark.parametrize("speed", [pytest.param(FAST, id="fast"),
                                   pytest.param(SLOW, id="slow", marks=pytest.mark.slow)])
def test_fuzz_set_overrides(tmp_path_factory, speed):
    folder = tmp_path_factory.mktemp("fuzz")
    speed(given(*OVERRIDE)(lambda key, raw: fuzz_override(folder, key, raw)))()


@pytest.mark.parametrize("speed", [pytest.param(FAST, id="fast"),
                                   pytest.param(SLOW, id="slow", marks=pytest.mark.slow)])
def test_fuzz_hf_configs(tmp_path_factory, speed):
    folder = tmp_path_factory.mktemp("fuzz")
    speed(given(HF_KEYS, HOSTILE_VALUES)(lambda key, value: fuzz_hf(folder, key, value)))()


@pytest.mark.parametrize("speed", [pytest.param(FAST, id="fast"),
                                   pytest.param(SLOW, id="slow", marks=pytest.mark.slow)])
def test_fuzz_space_files(tmp_path_factory, speed):
    folder = tmp_path_factory.mktemp("fuzz")
    speed(given(SPACE_KEYS, HOSTILE_VALUES)(lambda key, value: fuzz_space(folder, key, value)))()


@pytest.mark.parametrize("speed", [pytest.param(FAST, id="fast"),
                                   pytest.param(SLOW, id="slow", marks=pytest.mark.slow)])
def test_fuzz_csv_cells(tmp_path_factory, speed):
    folder = tmp_path_factory.mktemp("fuzz")
    cells = st.one_of(st.text(max_size=40), st.sampled_from(["nan", "inf", "-1", "0", "1e400", "9" * 5000, "１２８",
                                                             "1_000", "diverged", "/etc/shadow", "x" * 600]))
    speed(given(CSV_COLUMNS, cells)(lambda column, cell: fuzz_csv(folder, column, cell)))()
