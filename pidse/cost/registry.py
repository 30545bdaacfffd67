"""The protocol families, registered in one place, and loading a cost table by name or path.

A table's `family:` key (default `mpc`) picks the plug-in that validates and prices it; adding a kind of protocol
is adding a module with a FAMILY (see pidse/cost/family.py) and one line here.
"""
from __future__ import annotations

from pathlib import Path

from pidse.cost import ckks, mpc
from pidse.cost.family import Family
from pidse.errors import InputError
from pidse.resources import TABLES_DIR
from pidse.schema import suggest
from pidse.spec.load import read_mapping

FAMILIES: dict[str, Family] = {f.name: f for f in (mpc.FAMILY, ckks.FAMILY)}


def family_of(table) -> Family:
    """The plug-in that prices `table` (every table object carries its family's name)."""
    return FAMILIES[table.family]


def table_path(name: str) -> Path:
    path = Path(name)
    if path.suffix in (".yaml", ".yml") or path.parent != Path("."):
        return path
    return TABLES_DIR / f"{name}.yaml"


def list_tables(family: str | None = None) -> list[str]:
    """Shipped table names; `family` (a name in FAMILIES) keeps only that family's tables."""
    names = sorted(p.stem for p in TABLES_DIR.glob("*.yaml"))
    if family is None:
        return names
    import yaml  # lazy: only this listing reads every table

    return [n for n in names if (yaml.safe_load((TABLES_DIR / f"{n}.yaml").read_text()).get("family") or "mpc")
            == family]


def load_table(name: str):
    """Load a table by name (cost_tables/NAME.yaml) or path, validated by its family."""
    path = table_path(name)
    if not path.is_file():
        raise InputError("--protocol", None, "a cost table name (" + ", ".join(list_tables()) + ") or a path to "
                         "a cost-table YAML", name)
    data = read_mapping(path)
    family = data.get("family") or "mpc"
    if family not in FAMILIES:
        raise InputError(path, "family", "a protocol family: " + ", ".join(FAMILIES) + suggest(str(family), FAMILIES),
                         family)
    return FAMILIES[family].load(str(path), data)


def price_op(table, kind: str, shape: dict, setting, attrs: dict | None = None) -> dict:
    """One op of `kind` and `shape` priced alone under `setting`: its row with comm_bytes, rounds, compute_s,
    latency_s, source and grade (what a paper's microbenchmark measures)."""
    row = {"op": kind, "kind": kind, "shape": dict(shape), "attrs": dict(attrs or {}), "layer": None, "step": 0}
    family_of(table).price([row], [("input", kind)], table, setting)  # its input comes from outside the op
    return row
