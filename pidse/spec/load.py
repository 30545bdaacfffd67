"""Architecture specs: YAML (or a HuggingFace config.json) -> validated, frozen `Spec` (pidse/spec/definition.py).

A spec file may `extends:` another (path relative to itself); mappings merge key by key, the child winning.
`--set a.b=value` overrides are applied after inheritance and validated like the file; an error caused by an
override names `--set` as its source.
"""
from __future__ import annotations

import dataclasses
import functools
import re
import sys
from pathlib import Path
from typing import Any

from pidse.errors import InputError, cut, short
from pidse.resources import SPECS_DIR
from pidse.schema import (MAX_DEPTH, DuplicateKeyError, check_tree, describe, field_hint, from_mapping, suggest,
                          unique_pairs)
from pidse.spec.definition import Spec, validate
from pidse.spec.hf import spec_mapping_from_hf_config

MAX_EXTENDS = 32  # files in an `extends:` chain
MAX_FILE_BYTES = 4 * 2**20  # a file pidse reads (a JSON config, a CSV)
MAX_YAML_BYTES = 2**20  # a YAML spec, space or table (libyaml builds YAML ~10x slower than JSON)


# ---- loading ---------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _yaml_loader():
    """libyaml's safe loader where PyYAML has it (parsing is most of a `pidse estimate` run in pure Python), made
    strict: a key given twice in one mapping is an error, where YAML would silently keep the last."""
    import yaml

    class StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        def construct_mapping(self, node, deep=False):
            if isinstance(node, yaml.MappingNode):
                seen = set()
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` then overriding is fine
                        continue
                    key = self.construct_object(key_node, deep=True)
                    try:
                        if key in seen:
                            raise _DuplicateYAMLKey(key, key_node.start_mark)
                        seen.add(key)
                    except TypeError:  # an unhashable key: PyYAML's own error follows
                        pass
            return super().construct_mapping(node, deep)

    return StrictLoader


class _DuplicateYAMLKey(Exception):
    def __init__(self, key, mark):
        super().__init__(key)
        self.key, self.line = key, mark.line + 1


def parse_text(text: str, source, json_syntax: bool = False, key: str | None = None):
    """YAML (or JSON) text -> data, every failure one InputError naming `source` (and `key`, for a --set value):
    malformed text, a key given twice, integers too long to read, nesting or aliases past the limits of
    pidse.schema.check_tree."""
    import json

    import yaml

    try:
        # JSON goes to the JSON parser: PyYAML rejects tab indentation and reads 1e-05 as a string.
        data = json.loads(text, object_pairs_hook=unique_pairs, parse_constant=_no_constant) if json_syntax \
            else yaml.load(text, Loader=_yaml_loader())
    except json.JSONDecodeError as err:
        raise InputError(source, f"line {err.lineno}", f"well-formed JSON ({err.msg})") from None
    except DuplicateKeyError as err:
        raise InputError(source, key or err.key, "each key once per mapping (given twice; JSON readers would keep "
                         "the last)") from None
    except _DuplicateYAMLKey as err:
        raise InputError(source, key or f"line {err.line}", f"each key once per mapping ({short(err.key)} is "
                         "given twice; YAML would keep the last)") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = key or (f"line {mark.line + 1}" if mark else None)
        problem = getattr(err, "problem", None) or "unparseable"
        raise InputError(source, where, f"well-formed {'JSON' if json_syntax else 'YAML'} ({problem})") from None
    except RecursionError:
        raise InputError(source, key, f"at most {MAX_DEPTH} levels of nesting") from None
    except ValueError as err:  # a 5,000-digit integer; NaN in JSON; a date like 2024-13-45
        if "integer string conversion" in str(err):
            digits = getattr(sys, "get_int_max_str_digits", lambda: 4300)()
            raise InputError(source, key, f"integers of at most {digits:,} digits") from None
        raise InputError(source, key, f"values it can read ({cut(str(err), 120)})") from None
    check_tree(data, str(source), key)
    return data


def is_file(path) -> bool:
    """Path.is_file, answering False rather than raising for a path the OS refuses (a name too long, a NUL)."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def read_mapping(path: Path) -> dict:
    """Parse a YAML/JSON file (at most MAX_FILE_BYTES) into a mapping, every failure one InputError line."""
    if not is_file(path):
        raise InputError(path, None, "an existing spec file (YAML, or a HuggingFace config.json)")
    syntax = "json" if path.suffix == ".json" else "yaml"
    limit = MAX_FILE_BYTES if syntax == "json" else MAX_YAML_BYTES
    try:
        with open(path, "rb") as handle:
            raw = handle.read(limit + 1)
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(path, None, "a UTF-8 text file") from None
    except OSError as err:
        raise InputError(path, None, f"a readable file ({err.strerror})") from None
    if len(raw) > limit:
        raise InputError(path, None, f"a {syntax.upper()} file of at most {limit // 2**20} MiB")
    data = parse_text(text, path, json_syntax=syntax == "json")
    if not isinstance(data, dict):
        raise InputError(path, None, "a mapping of keys to values at the top level", type(data).__name__)
    return data


def merge(base: dict, child: dict) -> dict:
    out = dict(base)
    for key, value in child.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def resolve_extends(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    """The spec file at `path` with the chain of files it `extends:` merged in (at most MAX_EXTENDS files, each a
    YAML spec: never another kind of file, whose lines an error would quote)."""
    data = read_mapping(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str) or not parent.strip() or "\0" in parent or len(parent) > 1024:
        raise InputError(path, "extends", "a path to another spec file", parent)
    parent_path = (path.parent / parent).resolve()
    if parent_path.suffix not in (".yaml", ".yml"):
        raise InputError(path, "extends", "a path to a YAML spec file (.yaml or .yml), relative to this one", parent)
    if not is_file(parent_path):  # name the file that points at it, not just the missing one
        raise InputError(path, "extends", "a path to an existing spec file, relative to this one", parent)
    if parent_path in seen or parent_path == path.resolve():
        raise InputError(path, "extends", "no cycle of extends", parent)
    if len(seen) + 2 > MAX_EXTENDS:
        raise InputError(path, "extends", f"a chain of at most {MAX_EXTENDS} spec files", parent)
    base = resolve_extends(parent_path, seen + (path.resolve(),))
    for key in ("name", "label", "description"):  # identity is not inherited
        base.pop(key, None)
    return merge(base, data)


_SCIENTIFIC = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def parse_override(text: str) -> tuple[list[str], Any]:
    import yaml

    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise InputError("--set", text, "dotted.key=value")
    try:
        value = yaml.load(raw, Loader=_yaml_loader()) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    except (_DuplicateYAMLKey, RecursionError, ValueError):
        value = parse_text(raw, "--set", key=key.strip())  # the same error, named
    check_tree(value, "--set", key.strip())
    if isinstance(value, str) and _SCIENTIFIC.fullmatch(value):  # YAML 1.1 reads "1e-5" as a string
        value = float(value)
    return key.strip().split("."), value


def apply_overrides(data: dict, overrides) -> tuple[dict, set[str]]:
    """Overrides are "a.b=value" strings (values parsed as YAML) or (dotted key, value) pairs."""
    data, keys = dict(data), set()
    for item in overrides:
        path, value = parse_override(item) if isinstance(item, str) else (item[0].split("."), item[1])
        hint, known, depth = field_hint(Spec, path)
        if hint is None:
            bad = ".".join(path[: depth + 1])
            hint_text = suggest(path[depth], known) if depth < len(path) and known else ""
            raise InputError("--set", bad, "a spec key" + hint_text)
        if dataclasses.is_dataclass(hint):
            raise InputError("--set", ".".join(path), f"a key inside it, not the whole mapping ({describe(hint)})")
        node = data
        for part in path[:-1]:
            if not isinstance(node.get(part, {}), (dict, type(None))):
                break  # the file has a non-mapping here: leave it, so that validation names the file's error
            node[part] = dict(node.get(part) or {})
            node = node[part]
        else:
            node[path[-1]] = value
        keys.add(".".join(path))
    return data, keys


def spec_path(name: str | Path) -> Path:
    """A spec path as given; a bare name that is no file (gpt2_sm_scfuffn) is the shipped spec of that name."""
    path = Path(name)
    shipped = SPECS_DIR / f"{path.name}.yaml"
    bare = path.parent == Path(".") and path.suffix not in (".yaml", ".yml", ".json")  # tinyllama_1.1b is bare
    if bare and not is_file(path) and not _is_dir(path) and is_file(shipped):
        return shipped
    return path


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def list_specs() -> list[str]:
    return sorted(p.stem for p in SPECS_DIR.glob("*.yaml"))


def load_spec(path: str | Path, overrides=(), context: int | None = None) -> Spec:
    """Load and validate a spec (or HuggingFace config.json), with `--set` overrides and an optional context."""
    path = spec_path(path)
    if not is_file(path):
        raise InputError(path, None, "an existing spec file (YAML, or a HuggingFace config.json), or a shipped "
                                     "spec's name: " + ", ".join(list_specs()))
    if path.suffix not in (".yaml", ".yml", ".json"):  # never another kind of file, whose lines an error would quote
        raise InputError(path, None, "a spec file named *.yaml or *.yml, or a HuggingFace config *.json")
    if path.suffix == ".json":
        data = spec_mapping_from_hf_config(read_mapping(path), str(path))
    else:
        data = resolve_extends(path)
    data, override_keys = apply_overrides(data, overrides)
    options = dict.fromkeys(override_keys, "--set")  # key -> the option that set it, named in its errors
    if context is not None:
        data, _ = apply_overrides(data, [f"inference.context={context}"])
        options["inference.context"] = "--context"
    data.setdefault("name", path.stem)
    try:
        spec = from_mapping(Spec, data, str(path))
        return validate(dataclasses.replace(spec, source=str(path)))
    except InputError as err:
        for key, option in options.items():  # the key itself, or an item of it (attention.projections[1])
            if err.key == key or str(err.key).startswith((key + ".", key + "[")):
                err.source = option
        raise
