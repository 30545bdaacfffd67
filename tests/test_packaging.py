"""The wheel carries the shipped tables and specs, and a bare spec name finds them: a non-editable install
prices a shipped spec with a shipped table from any folder."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from conftest import ROOT, invoke
from pidse.spec.load import list_specs


@pytest.mark.parametrize("name", ["gpt2_sm_scfuffn", "tinyllama_1.1b"])  # a dot in the name is no suffix
def test_bare_spec_name_is_the_shipped_spec(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)  # no arch_specs/ here: the name alone must find it
    out = json.loads(invoke("estimate", name, "-f", "json").output)
    assert out["spec"] == name and out["source"].endswith(f"{name}.yaml")


def test_unknown_spec_name_lists_the_shipped_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("estimate", "gpt2_nothere")
    assert result.exit_code != 0 and len(result.output.strip().splitlines()) == 1
    assert "gpt2_nothere: expected an existing spec file" in result.output and "gpt2_sm_scfuffn" in result.output
    assert "pythia_70m_psm" in list_specs()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """Build the wheel from a copy of the source (the checkout stays clean) and unpack it into a folder."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("pidse", "cost_tables", "arch_specs"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(src),
                    "-w", str(dist)], check=True, capture_output=True)
    (path,) = dist.glob("pidse-*.whl")
    site = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(path) as z:
        z.extractall(site)
    return path, site


def test_wheel_ships_every_table_and_spec(wheel):
    path, _ = wheel
    names = set(zipfile.ZipFile(path).namelist())
    for folder in ("cost_tables", "arch_specs"):
        shipped = {f"pidse/shipped/{p.relative_to(ROOT)}" for p in (ROOT / folder).rglob("*")
                   if p.is_file() and p.suffix in (".yaml", ".csv")}
        assert shipped and shipped <= names, sorted(shipped - names)


def test_installed_wheel_prices_a_shipped_spec_from_anywhere(wheel, tmp_path):
    _, site = wheel
    env = dict(os.environ, PYTHONPATH=str(site))  # the unpacked wheel first: no checkout next to its package
    run = subprocess.run([sys.executable, "-c", "import pidse.cli, sys; sys.argv[0] = 'pidse'; pidse.cli.main()",
                          "estimate", "gpt2_sm_scfuffn", "-p", "aero-secretflow", "-f", "json"],
                         cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["source"].startswith(str(site)) and out["totals"]["comm_bytes"] > 0
