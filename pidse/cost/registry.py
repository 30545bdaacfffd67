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
from pidse.spec.load import MAX_EXTENDS, read_mapping

FAMILIES: dict[str, Family] = {f.name: f for f in (mpc.FAMILY, ckks.FAMILY)}


def family_of(table) -> Family:
    """The plug-in that prices `table` (every table object carries its family's name)."""
    return FAMILIES[table.family]


def table_path(name: str) -> Path:
    path = Path(name)  # a name, or a path (a name with a suffix or a folder)
    if path.suffix in (".yaml", ".yml") or path.parent != Path("."):
        return path
    return TABLES_DIR / f"{name}.yaml"


def list_tables(family: str | None = None) -> list[str]:
    """Shipped table names; `family` (a name in FAMILIES) keeps only that family's tables."""
    names = sorted(p.stem for p in TABLES_DIR.glob("*.yaml"))
    if family is None:
        return names
    return [n for n in names if (read_table(TABLES_DIR / f"{n}.yaml").get("family") or "mpc") == family]


# A table that `extends:` another inherits everything but its identity; its `constants` and `ops` replace the
# parent's entry by entry (a whole op entry at a time: formulas, source and grade belong together).
NOT_INHERITED = ("name", "system", "matches", "description", "anchors")
MERGED = ("constants", "ops")


def read_table(path: Path, seen: tuple = ()) -> dict:
    """A table file's mapping with its `extends:` chain resolved (the parent's path relative to the file; at most
    MAX_EXTENDS files, each a .yaml or .yml table: never another kind of file, whose lines an error would quote)."""
    data = read_mapping(path)
    for key in MERGED:  # checked here, in the file that has them, before they are merged
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise InputError(path, key, "a mapping of names to entries", data[key])
    parent = data.pop("extends", None)
    if parent is None:
        return data
    expected = "the path of another cost table (.yaml or .yml), relative to this one"
    if not isinstance(parent, str) or not parent.strip() or Path(parent).suffix not in (".yaml", ".yml"):
        raise InputError(path, "extends", expected, parent)
    parent_path = _existing(path.parent / parent)
    if parent_path is None:
        raise InputError(path, "extends", expected, parent)
    if parent_path in seen or parent_path == path.resolve():
        raise InputError(path, "extends", "no cycle of extends", parent)
    if len(seen) + 2 > MAX_EXTENDS:
        raise InputError(path, "extends", f"a chain of at most {MAX_EXTENDS} table files", parent)
    base = read_table(parent_path, seen + (path.resolve(),))
    for key in NOT_INHERITED:
        base.pop(key, None)
    merged = {**base, **data}
    for key in MERGED:
        merged[key] = {**(base.get(key) or {}), **(data.get(key) or {})}
    return merged


def _existing(path: Path) -> Path | None:
    """`path` resolved if it is a file; None where it is not, or cannot be a path at all (a NUL byte, too long)."""
    try:
        path = path.resolve()
        return path if path.is_file() else None
    except (OSError, ValueError, RuntimeError):
        return None


def load_table(name: str):
    """Load a table by name (cost_tables/NAME.yaml) or path, validated by its family."""
    path = table_path(str(name))
    if not str(name).strip() or _existing(path) is None:
        raise InputError("--protocol", None, "a cost table name (" + ", ".join(list_tables()) + ") or a path to "
                         "a cost-table YAML", name)
    data = read_table(path)
    family = data.get("family") or "mpc"
    if not isinstance(family, str) or family not in FAMILIES:
        raise InputError(path, "family", "a protocol family: " + ", ".join(FAMILIES) + suggest(str(family), FAMILIES),
                         family)
    return FAMILIES[family].load(str(path), data)


def price_op(table, kind: str, shape: dict, setting, attrs: dict | None = None) -> dict:
    """One op of `kind` and `shape` priced alone under `setting`: its row with comm_bytes, rounds, compute_s,
    latency_s, source and grade (what a paper's microbenchmark measures)."""
    row = {"op": kind, "kind": kind, "shape": dict(shape), "attrs": dict(attrs or {}), "layer": None, "step": 0}
    family_of(table).price([row], [("input", kind)], table, setting)  # its input comes from outside the op
    return row
