"""The hostile-input corpus (tests/hostile/): every case exits 2 with one clear line, in-process within 10 s, and
(slow) in its own process under a 10 s and 1 GB limit. See tests/hostile/__init__.py for the case format."""
from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import invoke
from hostile import all_cases

CASES = all_cases()
NON_FINITE = re.compile(r"(?<![A-Za-z])(nan|inf|-inf|infinity)(?![A-Za-z])", re.IGNORECASE)
TIME_LIMIT_S = 10
MEMORY_LIMIT = 1 << 30


def materialise(case, folder: Path) -> list[str]:
    for name, content in case.files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return [str(a).replace("{tmp}", str(folder)) for a in case.argv]


def check_line(case, code: int, stdout: str, stderr: str):
    assert "Traceback" not in stdout + stderr, (case.id, stderr[-2000:])
    assert code == 2, (case.id, code, stdout[-500:], stderr[-500:])
    assert stdout.strip() == "", (case.id, stdout[-500:])
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, (case.id, lines[:5])
    assert len(lines[0]) <= 600, (case.id, "an error line this long echoes too much", lines[0][:200])
    assert not NON_FINITE.search(lines[0]) or "expected" in lines[0], (case.id, lines[0])
    for needle in case.needles:
        assert needle in lines[0], (case.id, needle, lines[0])


def test_corpus_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_in_process(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may land in the checkout
    argv = materialise(case, tmp_path)
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIME_LIMIT_S)
    try:
        result = invoke(*argv)
    except _Timeout:
        pytest.fail(f"{case.id}: no answer within {TIME_LIMIT_S} s")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert not isinstance(result.exception, _Timeout), f"{case.id}: no answer within {TIME_LIMIT_S} s"
    check_line(case, result.exit_code, result.stdout, result.stderr)


def _limits():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_in_own_process(case, tmp_path):
    argv = materialise(case, tmp_path)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    try:
        done = subprocess.run([sys.executable, "-m", "pidse", *argv], capture_output=True, text=True, cwd=tmp_path,
                              timeout=TIME_LIMIT_S, preexec_fn=_limits, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{case.id}: no answer within {TIME_LIMIT_S} s")
    check_line(case, done.returncode, done.stdout, done.stderr)
