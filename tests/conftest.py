"""Shared helpers: repository paths, a tiny-spec factory and CLI runners; and the run's settings, the same
from any working directory."""
from __future__ import annotations

import copy
import os
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pidse.cli import app
from pidse.cost.ckks.table import PRIMITIVES
from pidse.model.estimate import estimate
from pidse.spec.load import load_spec, merge

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "arch_specs"
DATA = Path(__file__).resolve().parent / "data"
SHIPPED = sorted(SPECS.glob("*.yaml"))

# Hypothesis keeps its example database (failures it replays) and its constants cache in ./.hypothesis of the
# working directory: keep them beside the tests instead, so a run replays the same examples from any folder
# (HYPOTHESIS_STORAGE_DIRECTORY still chooses another place).
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(ROOT / ".hypothesis"))


def pytest_configure(config):
    """pyproject.toml's [tool.pytest.ini_options] (-m 'not slow', the slow marker) applies only where pytest
    finds that file as its ini (`pytest` in the checkout, or given a path in it, from any folder). With another
    ini or none (`-c other.ini`, `-c /dev/null`) the default run still leaves the slow tests out; an explicit -m
    is kept (-m slow, or -m 'slow or not slow' for everything)."""
    if config.inipath is not None and Path(config.inipath).resolve() == ROOT / "pyproject.toml":
        return  # its addopts and markers are in force
    config.addinivalue_line("markers", "slow: long-running engine tests, excluded from the default run "
                                       "(run with -m slow)")
    if not config.option.markexpr:
        config.option.markexpr = "not slow"


# The tiny model every hand derivation starts from: L=2, H=2, d=8 (head dim 4), d_ff=16, V=10, T=4, and
# max_context 8 (so learned positions hold 8 x 8 = 64 params, and generate=3 fits: 4 + 3 - 1 <= 8).
# Everything else is the spec default: biases, pre-LN LayerNorms, softmax, GELU, learned positions, tied head.
TINY = {
    "version": 1,
    "model": {"layers": 2, "heads": 2, "d_model": 8, "d_ff": 16, "vocab_size": 10, "max_context": 8},
    "inference": {"context": 4},
}


# A tiny CKKS table: every primitive costs 1 s, so an op's compute_s is its number of calls. 16 slots; a fresh
# ciphertext has 6 levels, a bootstrapped one 4; ciphertext bytes = 2 x 32 x (60 + 40 x level) / 8.
TINY_CKKS = {
    "version": 1, "family": "ckks", "name": "tiny-ckks", "scheme": "test", "network": "lan",
    "params": {"ring_dim": 32, "slots": 16, "log_q": 300, "q0_bits": 60, "scale_bits": 40, "special_bits": 60,
               "levels_fresh": 6, "levels_after_bootstrap": 4},
    "packing": {"scores": "keys_across", "bootstraps": "cheapest"},
    "primitives": {p: {"seconds": 1.0, "source": "test", "grade": "estimate"} for p in PRIMITIVES},
    "ops": {"power_softmax": {"goldschmidt_iterations": 1}, "gelu": {"degree": 3}},
}


@pytest.fixture(scope="session")
def seeded(tmp_path_factory):
    """A seeded perplexity database made once; tests get a copy (`db_path`: seeding loads ~30 specs)."""
    from pidse.ppl.db import open_db

    path = tmp_path_factory.mktemp("seed") / "ppl.sqlite"
    open_db(path).close()  # closing the last connection checkpoints the WAL into the main file
    return path


@pytest.fixture
def db_path(tmp_path, seeded):
    path = tmp_path / "ppl.sqlite"
    shutil.copy(seeded, path)
    return path


def write_yaml(path: Path, data) -> Path:
    """Write `data` (a mapping, or raw text) to `path`, returning the path."""
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def tiny_spec(**sections) -> dict:
    """TINY with `sections` merged in key by key (a non-mapping value replaces the section)."""
    return merge(copy.deepcopy(TINY), sections)


@pytest.fixture
def tiny_file(tmp_path):
    """tiny_file(**sections) -> path of a YAML spec: tiny_spec(**sections)."""
    def make(name: str = "tiny", **sections) -> Path:
        return write_yaml(tmp_path / f"{name}.yaml", tiny_spec(**sections))
    return make


@pytest.fixture
def tiny(tiny_file):
    """tiny(**sections) -> (dense Estimate, aero Estimate) of the tiny spec with `sections` merged in."""
    def make(**sections):
        spec = load_spec(tiny_file(**sections))
        return estimate(spec, "dense"), estimate(spec, "aero")
    return make


def rows(est) -> dict:
    """Op rows of an estimate by node name, one per op per decode step (what its templates stand for)."""
    return {row["op"]: row for row in est.per_step()[0]}


runner = CliRunner()


def invoke(*args):
    """Run the `pidse` CLI in-process; every argument is turned into a string."""
    return runner.invoke(app, [str(a) for a in args])


def assert_one_line_error(result, *needles):
    """Bad input: exit code 2, exactly one line on stderr and nothing on stdout, naming every needle."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    for needle in needles:
        assert str(needle) in lines[0], (needle, lines[0])
    return lines[0]
