"""Training grids (pidse train with several specs, seeds or a --space): the local executor and a real local Ray
cluster give the same perplexities, a killed worker is retried without a duplicate row, a run that keeps dying is
reported as failed after the others are stored, a finished grid trains nothing when run again, and a database
made before seeds were recorded opens with its rows. Needs the train extra; the Ray tests need the grid extra."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from conftest import assert_one_line_error, invoke, tiny_spec, write_yaml  # noqa: E402
from pidse.ppl.db import open_db  # noqa: E402
from pidse.spec.archkey import arch_key  # noqa: E402
from pidse.spec.load import load_spec  # noqa: E402
from pidse.train.grid import KILL_ENV  # noqa: E402

# Four tiny architectures (one layer, d=32): a few steps each train in well under a second; the time a grid takes
# here is its worker processes starting (torch's import) and, on Ray, the cluster.
SIZE = {"model": {"layers": 1, "heads": 2, "d_model": 32, "d_ff": 64, "vocab_size": 256, "max_context": 32},
        "inference": {"context": 32}}
ARCHS = {"gelu": {}, "relu": {"ffn": {"activation": "relu"}}, "rmsnorm": {"norm": {"kind": "rmsnorm"}},
         "temperature": {"attention": {"temperature": "learnable"}}}
RUN = ("--steps", 3, "--batch", 4, "--eval-every", 3, "--device", "cpu", "--workers", 2)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Spec files and a small Python corpus (named 'toy'), made once."""
    root = tmp_path_factory.mktemp("grid")
    (root / "toy").mkdir()
    for i in range(12):
        (root / "toy" / f"mod{i}.py").write_text("".join(f"def f{j}(x):\n    return x * {j} + {i}\n\n"
                                                         for j in range(60)))
    specs = [write_yaml(root / f"{name}.yaml", tiny_spec(**SIZE, **sections)) for name, sections in ARCHS.items()]
    return root, specs


def grid(files, tmp_path, *args, db=None, out=None):
    root, specs = files
    return invoke("train", *specs, *RUN, "--data", root / "toy", "--db", db or tmp_path / "ppl.sqlite",
                  "--out", out or tmp_path / "runs", *args)


def run_name(spec_file, seed: int, steps: int = 3) -> str:
    spec = load_spec(spec_file)
    return f"{spec.name}-{arch_key(spec)[:8]}-T32-s{seed}-n{steps}"


def trained(db) -> dict:
    """(arch_key, seed) -> ppl of the rows pidse train added."""
    with open_db(db, seed=False) as store:
        rows = [r for r in store.query(dataset="toy")]
    keys = [(r["arch_key"], r["seed"]) for r in rows]
    assert len(keys) == len(set(keys)), "a run stored twice"
    return {(r["arch_key"], r["seed"]): r["ppl"] for r in rows}


@pytest.fixture(scope="module")
def local_grid(files, tmp_path_factory):
    """4 architectures x 2 seeds on the local executor (2 worker processes)."""
    tmp = tmp_path_factory.mktemp("local")
    result = grid(files, tmp, "--seeds", "0,1")
    return result, tmp


def test_local_grid_stores_every_run_with_its_provenance(files, local_grid):
    result, tmp = local_grid
    assert result.exit_code == 0, result.output
    assert "8 ok, 0 diverged, 0 failed of 8 runs" in result.stdout
    assert "training 8 runs on toy (local executor, 2 at a time)" in result.stderr
    table = result.stdout.splitlines()
    assert table[0].split() == ["run", "arch", "T", "seed", "tokens", "ppl", "seconds", "attempts"]
    with open_db(tmp / "ppl.sqlite", seed=False) as store:
        rows = store.query(dataset="toy")
    assert len(rows) == 8
    assert sorted((r["arch_key"], r["seed"]) for r in rows) == sorted(
        (arch_key(load_spec(s)), seed) for s in files[1] for seed in (0, 1))
    for row in rows:
        prov = json.loads(row["provenance"])
        assert prov["steps"] == 3 and prov["device"] == "cpu" and prov["pidse"] == "0.1.0"
        assert prov["executor"] == "local" and prov["attempt"] == 1 and prov["host"]
        assert row["train_tokens"] == 3 * 4 * 32 and row["status"] == "ok" and row["family"] == "pidse train"
        assert f"seed {row['seed']}" in row["source"]
        run = json.loads((tmp / "runs" / run_name(files[1][0], 0) / "run.json").read_text())
        assert run["grid"] == {"executor": "local", "attempt": 1} and run["provenance"]["host"] == prov["host"]
    assert len(list((tmp / "runs").iterdir())) == 8
    ppl = trained(tmp / "ppl.sqlite")
    for spec in files[1]:  # the seed matters: two seeds, two models
        key = arch_key(load_spec(spec))
        assert ppl[key, 0] != ppl[key, 1]


def test_the_sweep_pools_the_grid_seeds(files, local_grid, tmp_path):
    """After the grid, `pidse sweep` over a space of two of its architectures: each point's ppl is the mean of its
    two seeds' perplexities, ppl_std their sample standard deviation (|a - b| / sqrt(2) for two), ppl_runs 2."""
    from pidse.search.space import load_space
    from pidse.search.sweep import sweep

    _, tmp = local_grid
    root, specs = files
    space = write_yaml(tmp_path / "space.yaml", {
        "version": 1, "base": str(specs[0]), "protocols": ["aero-secretflow"], "contexts": {32: {"dataset": "toy"}},
        "axes": {"act": {"G": {}, "R": {"ffn.activation": "relu"}}}, "ranges": {"layers": [1], "prune_last": [0]}})
    ppl = trained(tmp / "ppl.sqlite")
    with open_db(tmp / "ppl.sqlite", seed=False) as store:
        frame = sweep(load_space(str(space)), db=store)
    assert len(frame) == 2 and (frame["ppl_runs"] == 2).all()
    for spec, (_, row) in zip(specs[:2], frame.iterrows()):
        a, b = ppl[arch_key(load_spec(spec)), 0], ppl[arch_key(load_spec(spec)), 1]
        assert row["ppl"] == pytest.approx((a + b) / 2) and row["ppl_std"] == pytest.approx(abs(a - b) / 2**0.5)


def test_a_finished_grid_trains_nothing_again(files, local_grid):
    _, tmp = local_grid
    again = grid(files, tmp, "--seeds", "0,1")
    assert again.exit_code == 0, again.output
    assert again.stdout == "nothing to train: all 8 runs are in the database\n"
    assert len(trained(tmp / "ppl.sqlite")) == 8


def test_the_same_grid_with_another_recipe_trains_again(files, local_grid, tmp_path):
    # the resume key holds the training settings' identity: a new --lr (or --precision) is new runs, the old
    # settings are still skipped
    import shutil

    _, tmp = local_grid
    shutil.copy(tmp / "ppl.sqlite", tmp_path / "ppl.sqlite")
    root, specs = files
    common = (specs[0], *RUN, "--data", root / "toy", "--db", tmp_path / "ppl.sqlite", "--seeds", "0,1")
    same = invoke("train", *common, "--out", tmp_path / "same")
    assert same.stdout == "nothing to train: all 2 runs are in the database\n"
    other = invoke("train", *common, "--lr", "0.002", "--out", tmp_path / "other")
    assert other.exit_code == 0, other.output
    assert "training 2 runs" in other.stderr and "2 ok, 0 diverged, 0 failed of 2 runs" in other.stdout
    with open_db(tmp_path / "ppl.sqlite", seed=False) as store:
        sources = [r["source"] for r in store.query(dataset="toy") if r["arch_key"] == arch_key(load_spec(specs[0]))]
    assert len(sources) == 4 and sum("lr 0.002" in text for text in sources) == 2


def test_a_killed_worker_is_retried_and_stored_once(files, local_grid, tmp_path, monkeypatch):
    doomed = run_name(files[1][1], 1)
    monkeypatch.setenv(KILL_ENV, doomed)  # its first attempt's worker SIGKILLs itself mid-run
    result = grid(files, tmp_path, "--seeds", "0,1")
    assert result.exit_code == 0, result.output
    assert f"{doomed}: attempt 1 lost: its worker process died" in result.stderr
    attempts = [line.split()[-1] for line in result.stdout.splitlines()[2:10]]  # the table's last column
    assert sorted(attempts) == ["1"] * 7 + ["2"]
    assert json.loads((tmp_path / "runs" / doomed / "run.json").read_text())["grid"]["attempt"] == 2
    # deterministic per seed: the retried run and all the others have the first grid's perplexities
    assert trained(tmp_path / "ppl.sqlite") == trained(local_grid[1] / "ppl.sqlite")


def test_a_run_that_keeps_dying_fails_after_the_others_are_stored(files, tmp_path, monkeypatch):
    doomed = run_name(files[1][0], 0)
    monkeypatch.setenv(KILL_ENV, f"{doomed}:9")  # more than 1 + --retries attempts
    specs = files[1][:2]
    result = invoke("train", *specs, "--seeds", "0", *RUN, "--data", files[0] / "toy", "--db",
                    tmp_path / "ppl.sqlite", "--out", tmp_path / "runs", "--retries", 1)
    assert result.exit_code == 1, result.output
    assert f"failed    {doomed} after 2 attempt(s): its worker process died" in result.stdout
    assert "1 ok, 0 diverged, 1 failed of 2 runs" in result.stdout
    assert list(trained(tmp_path / "ppl.sqlite")) == [(arch_key(load_spec(specs[1])), 0)]
    monkeypatch.delenv(KILL_ENV)  # the partial grid resumes: only the failed run trains
    again = invoke("train", *specs, "--seeds", "0", *RUN, "--data", files[0] / "toy", "--db",
                   tmp_path / "ppl.sqlite", "--out", tmp_path / "runs")
    assert again.exit_code == 0, again.output
    assert "skipping 1 of 2 runs already in the database" in again.stderr
    assert "1 ok, 0 diverged, 0 failed of 1 runs (1 more already in the database)" in again.stdout
    assert len(trained(tmp_path / "ppl.sqlite")) == 2


def test_a_run_whose_training_raises_fails_at_once(files):
    from pidse.train.executors import LocalExecutor
    from pidse.train.grid import Task, run_grid
    from pidse.train.loop import TrainConfig

    root, specs = files
    finished = []
    task = Task("t", load_spec(specs[0]), str(specs[0]), None, 0, 3)
    (outcome,) = run_grid([task], LocalExecutor(1), TrainConfig(device="cpu"), (str(root / "toy"), "toy", "other"),
                          finished.append)
    assert outcome.attempts == 1 and outcome.result is None and finished == []  # no retry: it would fail again
    assert outcome.error.startswith("the corpus on ") and "differs from the driver's (digest other)" in outcome.error


def test_a_local_grid_spreads_its_runs_over_the_devices_it_is_given(files):
    # Two pools, two devices: the first pool trains on 'cpu', the second on 'meta' (which no training accepts, so
    # its run fails saying so). The grid's own device is 'cuda', which this run could not use either: the 'cpu'
    # run training shows that each pool's device replaced it.
    from pidse.train.data import load_corpus
    from pidse.train.executors import LocalExecutor
    from pidse.train.grid import Task, run_grid
    from pidse.train.loop import TrainConfig

    root, specs = files
    corpus = load_corpus(str(root / "toy"), "toy")
    tasks = [Task(f"t{seed}", load_spec(specs[0]), str(specs[0]), None, seed, 3) for seed in (0, 1)]
    executor = LocalExecutor(2, ["cpu", "meta"])
    first, second = run_grid(tasks, executor, TrainConfig(device="cuda", batch=4, eval_every=3),
                             (str(root / "toy"), "toy", corpus.digest), lambda outcome: None)
    assert first.error is None and first.result["provenance"]["device"] == "cpu"
    assert second.result is None and "auto, cpu, cuda or cuda:N" in second.error and "meta" in second.error


def test_local_gpu_assignment_by_hand():
    from pidse.cli.grid import local_gpus
    from pidse.train.executors import LocalExecutor

    assert local_gpus("cuda", 4) == ["cuda:0", "cuda:1", "cuda:2", "cuda:3"] and local_gpus("auto", 2) == [
        "cuda:0", "cuda:1"]
    assert local_gpus("cuda:2", 4) == ["cuda:2"]  # a named GPU: every run there
    assert local_gpus("cpu", 4) == [] and local_gpus("auto", 0) == [] and local_gpus("cuda", 0) == []
    executor = LocalExecutor(4, ["cuda:0", "cuda:1", "cuda:2"])
    assert executor.next_device() == "cuda:0"
    executor.device_of = {"pool a": "cuda:0"}
    assert executor.next_device() == "cuda:1"
    executor.device_of = {"pool a": "cuda:0", "pool b": "cuda:1", "pool c": "cuda:2"}
    assert executor.next_device() == "cuda:0"  # a fourth pool shares the first GPU
    del executor.device_of["pool b"]  # its worker died: its GPU is the free one
    assert executor.next_device() == "cuda:1"


# ---- Ray ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ray_cluster():
    """A real local Ray cluster with two worker CPUs; pidse train's Ray executor uses it (and leaves it up)."""
    ray = pytest.importorskip("ray", reason="Ray is the grid extra: pip install -e '.[grid]'")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_grid_gives_the_local_perplexities_and_retries_a_killed_worker(files, local_grid, ray_cluster, tmp_path,
                                                                           monkeypatch):
    doomed = run_name(files[1][2], 0)
    monkeypatch.setenv(KILL_ENV, doomed)
    result = grid(files, tmp_path, "--seeds", "0,1", "--executor", "ray")
    assert result.exit_code == 0, result.output
    assert "8 ok, 0 diverged, 0 failed of 8 runs" in result.stdout
    assert f"{doomed}: attempt 1 lost: WorkerCrashedError" in result.stderr
    assert trained(tmp_path / "ppl.sqlite") == trained(local_grid[1] / "ppl.sqlite")  # the same, seed by seed
    with open_db(tmp_path / "ppl.sqlite", seed=False) as store:
        provenances = [json.loads(r["provenance"]) for r in store.query(dataset="toy")]
    assert {(p["executor"], p["device"], p["steps"], p["pidse"]) for p in provenances} == {("ray", "cpu", 3, "0.1.0")}
    assert all(p["host"] for p in provenances)
    assert sorted(p["attempt"] for p in provenances) == [1] * 7 + [2]


def test_a_second_driver_joins_the_cluster_by_its_address(files, local_grid, ray_cluster, tmp_path):
    """`--address` as on a cluster (`ray start --head` there): a pidse process of its own connects to the running
    cluster, trains there, and leaves it running."""
    address = ray_cluster.get_runtime_context().gcs_address
    root, specs = files
    proc = subprocess.run([sys.executable, "-m", "pidse.cli", "train", str(specs[3]), "--seeds", "0,1", *map(str, RUN),
                           "--data", str(root / "toy"), "--db", str(tmp_path / "ppl.sqlite"), "--out",
                           str(tmp_path / "runs"), "--executor", "ray", "--address", address],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 ok, 0 diverged, 0 failed of 2 runs" in proc.stdout
    ours = trained(tmp_path / "ppl.sqlite")
    assert len(ours) == 2 and all(trained(local_grid[1] / "ppl.sqlite")[k] == v for k, v in ours.items())
    assert ray_cluster.is_initialized() and ray_cluster.cluster_resources().get("CPU") == 2  # still up


# ---- a design space -----------------------------------------------------------------------------------------

def test_space_grid_trains_the_points_the_sweep_joins(files, tmp_path):
    from pidse.search.space import load_space
    from pidse.search.sweep import sweep

    root, specs = files
    space = write_yaml(tmp_path / "space.yaml", {
        "version": 1, "base": str(specs[0]), "protocols": ["aero-secretflow"],
        "contexts": {32: {"dataset": "toy"}},
        "axes": {"act": {"G": {"ffn.activation": "gelu"}, "R": {"ffn.activation": "relu"}},
                 "ffn": {"standard": {}, "scaled": {"ffn.scaled": True}}},
        "ranges": {"layers": [1], "prune_last": [0]}})
    db = tmp_path / "ppl.sqlite"
    result = invoke("train", "--space", space, *RUN, "--data", root / "toy", "--db", db, "--out", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    assert "4 ok, 0 diverged, 0 failed of 4 runs" in result.stdout
    labels = [line[:10].strip() for line in result.stdout.splitlines()[2:6]]  # the run column: AERO's labels
    assert sorted(labels) == ["SM+LN+G", "SM+LN+G Sc", "SM+LN+R", "SM+LN+R Sc"]
    with open_db(db, seed=False) as store:
        frame = sweep(load_space(str(space)), db=store)
        assert (frame["ppl_status"] == "ok").all() and len(frame) == 4
        store.export_csv(tmp_path / "runs.csv", dataset="toy")
    with open_db(tmp_path / "again.sqlite", seed=False) as fresh:  # each row's spec reloads to its architecture
        assert len(fresh.import_csv(tmp_path / "runs.csv").added) == 4
        assert trained(tmp_path / "again.sqlite") == trained(db)


# ---- bad input: one line, before any work --------------------------------------------------------------------

@pytest.mark.parametrize("args, needles", [
    (["--seeds", "0,1", "--name", "x"], ["--name", "grid"]),
    (["--seeds", "0,1", "--gpus-per-run", "1"], ["--gpus-per-run", "--executor ray"]),
    (["--seeds", "0,1", "--address", "auto"], ["--address", "--executor ray"]),
    (["--seed", "1", "--seeds", "0,1"], ["--seed/--seeds"]),
    (["--seeds", "0,x"], ["--seeds", "integers"]),
    (["--seeds", "0,-1"], ["--seed", "-1"]),
    (["--tokens", "1000,abc"], ["--tokens"]),
    (["--seeds", ",".join(map(str, range(10_001)))], ["at most 10,000 runs"]),
    (["--seeds", "0,1", "--retries", "-1"], ["--retries"]),
    (["--seeds", "0,1", "--workers", "0"], ["--workers"]),
    (["--space", "tiny_stdlib"], ["SPEC/--space"]),
])
def test_grid_bad_input_is_one_line(files, tmp_path, args, needles):
    result = invoke("train", files[1][0], "--device", "cpu", "--db", tmp_path / "db.sqlite", "--out",
                    tmp_path / "runs", *args)
    assert_one_line_error(result, *needles)
    assert not (tmp_path / "runs").exists()


def test_space_over_another_dataset_is_refused(files, tmp_path):
    result = invoke("train", "--space", "tiny_stdlib", "--steps", 3, "--device", "cpu", "--data", files[0] / "toy",
                    "--db", tmp_path / "db.sqlite", "--out", tmp_path / "runs")
    assert_one_line_error(result, "contexts.128.dataset", "toy", "python_stdlib")


def test_ray_executor_without_ray_names_the_extra(files, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray: ImportError
    result = invoke("train", files[1][0], "--executor", "ray", "--no-db", "--out", tmp_path / "runs")
    assert_one_line_error(result, "--executor ray", "pip install -e '.[grid]'")


# ---- the database: seeds, provenance, an older file ---------------------------------------------------------

OLD_SCHEMA = (  # pidse's runs table before seeds were recorded
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        arch_key TEXT NOT NULL CHECK (length(arch_key) = 16),
        arch TEXT NOT NULL,
        spec TEXT NOT NULL,
        label TEXT,
        family TEXT,
        layers INTEGER NOT NULL CHECK (typeof(layers) = 'integer' AND layers > 0),
        heads INTEGER NOT NULL CHECK (typeof(heads) = 'integer' AND heads > 0),
        d_model INTEGER NOT NULL CHECK (typeof(d_model) = 'integer' AND d_model > 0),
        vocab_size INTEGER NOT NULL CHECK (typeof(vocab_size) = 'integer' AND vocab_size > 0),
        context INTEGER NOT NULL CHECK (typeof(context) = 'integer' AND context > 0),
        dataset TEXT NOT NULL CHECK (dataset <> ''),
        train_tokens REAL CHECK (train_tokens IS NULL OR train_tokens > 0),
        ppl REAL,
        status TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source <> ''),
        added TEXT NOT NULL,
        CHECK ((status = 'ok' AND ppl >= 1) OR (status = 'diverged' AND ppl IS NULL)))""",
    """CREATE UNIQUE INDEX runs_identity
        ON runs (arch_key, context, dataset, ifnull(train_tokens, 0), source)""",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)


def test_an_older_database_gains_the_columns_and_keeps_its_rows(files, tmp_path):
    spec = files[1][0]
    key = arch_key(load_spec(spec))
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        for statement in OLD_SCHEMA:
            conn.execute(statement)
        conn.execute("INSERT INTO runs (arch_key, arch, spec, label, family, layers, heads, d_model, vocab_size, "
                     "context, dataset, train_tokens, ppl, status, source, added) VALUES (?, 'a', ?, NULL, NULL, 1, "
                     "2, 32, 256, 32, 'toy', 384, 7.5, 'ok', 'old run', '2025-01-01')", (key, str(spec)))
    conn.close()
    with open_db(path, seed=False) as store:
        (old,) = store.query()
        assert (old["ppl"], old["source"], old["seed"], old["provenance"]) == (7.5, "old run", None, None)
        # two seeds of one architecture are two rows; the same seed again is a duplicate
        for seed in (0, 1, 1):
            store.add(spec, context=32, dataset="toy", train_tokens=384, ppl=7 + seed, source="new run", seed=seed,
                      provenance={"host": "h", "steps": 3})
        rows = store.query(arch_key=key)
        assert [(r["seed"], r["ppl"]) for r in rows] == [(None, 7.5), (0, 7.0), (1, 8.0)]
        assert json.loads(rows[1]["provenance"]) == {"host": "h", "steps": 3}
        assert store.query(seed=1)[0]["ppl"] == 8.0
    with sqlite3.connect(path) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(runs)")]
        index = [row[2] for row in conn.execute("PRAGMA index_xinfo(runs_identity)") if row[5]]
    conn.close()
    assert columns[-2:] == ["seed", "provenance"]
    assert len(index) == 6  # arch_key, context, dataset, tokens, source and seed (the last two as expressions)
    with open_db(path, seed=False) as store:  # opening it again changes nothing
        assert len(store.query()) == 3


def test_csv_without_and_with_seeds_imports(files, tmp_path):
    spec = files[1][0]
    old = tmp_path / "old.csv"
    old.write_text(f"spec,context,dataset,train_tokens,ppl,status,source\n{spec},32,toy,384,7.5,ok,old run\n")
    with open_db(tmp_path / "a.sqlite", seed=False) as store:
        assert len(store.import_csv(old).added) == 1
        store.add(spec, context=32, dataset="toy", train_tokens=384, ppl=7.0, source="new", seed=3,
                  provenance='{"host": "h"}')
        store.export_csv(tmp_path / "all.csv")
        rows = store.query()
    with open_db(tmp_path / "b.sqlite", seed=False) as fresh:
        assert len(fresh.import_csv(tmp_path / "all.csv").added) == 2
        assert fresh.query() == rows
    bad = tmp_path / "bad.csv"
    bad.write_text(f"spec,context,dataset,ppl,source,seed,provenance\n{spec},32,toy,7,s,1,not json\n")
    with open_db(tmp_path / "c.sqlite", seed=False) as store, pytest.raises(Exception, match="provenance"):
        store.import_csv(bad)


def test_a_single_run_records_its_seed_and_provenance(files, tmp_path):
    root, specs = files
    result = invoke("train", specs[0], "--seed", 5, "--steps", 2, "--batch", 4, "--eval-every", 2, "--device", "cpu",
                    "--data", root / "toy", "--db", tmp_path / "db.sqlite", "--out", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    assert "database  row" in result.stdout  # the single run's output, as before
    with open_db(tmp_path / "db.sqlite", seed=False) as store:
        (row,) = store.query(dataset="toy")
    prov = json.loads(row["provenance"])
    assert row["seed"] == 5 and prov["executor"] == "single" and prov["steps"] == 2 and prov["host"]
