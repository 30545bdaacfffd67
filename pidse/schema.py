"""Build frozen dataclasses from plain mappings, checking every key and type.

The dataclass definitions are the schema: field names are the allowed keys, type hints the allowed types,
defaults make a key optional. Unknown keys are errors with a "did you mean" hint, because a typo that is
silently ignored gives a wrong cost that looks right.
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
import types
import typing
from typing import Any, Literal

from pidse.errors import InputError


def suggest(word: str, choices) -> str:
    """' (did you mean 'x'?)' for the closest choice, or ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def reject_unknown(keys, allowed, source: str, what: str = "key", prefix: str = "",
                   list_allowed: bool = False) -> None:
    """InputError for the first key not in `allowed`: a typo that is silently ignored gives a wrong cost."""
    for name in keys:
        if name not in allowed:
            key = f"{prefix}.{name}" if prefix else str(name)
            listed = "; allowed: " + ", ".join(allowed) if list_allowed else ""
            raise InputError(source, key, f"a known {what}" + suggest(str(name), allowed) + listed)


def split_unknown(section, allowed, source: str, prefix: str, what: str) -> tuple[dict, dict]:
    """A cost table's section ({name: entry}) checked against `allowed`, split into the entries to price and
    those declared `unknown: why` ({name: why}): a name not in `allowed` is an InputError."""
    known, unknown = {}, {}
    for name, entry in (section or {}).items():
        if name not in allowed:
            raise InputError(source, f"{prefix}.{name}", f"{what} (" + ", ".join(allowed) + ")"
                             + suggest(name, allowed))
        if isinstance(entry, dict) and entry.get("unknown"):
            unknown[name] = str(entry["unknown"])
        else:
            known[name] = entry
    return known, unknown


def describe(hint) -> str:
    """A type hint in words, for error messages."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join("null" if a is type(None) else describe(a) for a in args)
    if origin is tuple:
        return f"a list of {describe(args[0])}"
    if dataclasses.is_dataclass(hint):
        return "a mapping"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(hint, str(hint))


def convert(hint, value: Any, source: str, key: str):
    """Check `value` against `hint`, returning it converted (lists to tuples, mappings to dataclasses)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return from_mapping(hint, value, source, key)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return convert(arg, value, source, key)
            except InputError:
                pass
        raise InputError(source, key, describe(hint), value)
    if origin is Literal:
        if any(value == a and type(value) is type(a) for a in args):
            return value
        hint_text = suggest(value, [str(a) for a in args]) if isinstance(value, str) else ""
        raise InputError(source, key, describe(hint) + hint_text, value)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise InputError(source, key, describe(hint), value)
        return tuple(convert(args[0], v, source, f"{key}[{i}]") for i, v in enumerate(value))
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint in (int, bool, str) and type(value) is hint:
        return value
    raise InputError(source, key, describe(hint), value)


def from_mapping(cls, data: Any, source: str, prefix: str = ""):
    """Instantiate dataclass `cls` from `data`, naming `source` and the dotted key in any error."""
    where = prefix or None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(source, where, "a mapping of keys to values", data)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init and not f.metadata.get("internal")}
    hints = _type_hints(cls)
    reject_unknown(data, fields, source, prefix=prefix, list_allowed=True)
    kwargs = {}
    for name, field in fields.items():
        key = f"{prefix}.{name}" if prefix else name
        if name in data:
            kwargs[name] = convert(hints[name], data[name], source, key)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise InputError(source, key, f"this key to be set ({describe(hints[name])})")
    return cls(**kwargs)


@functools.lru_cache(maxsize=None)
def _type_hints(cls) -> dict:
    return typing.get_type_hints(cls)


def field_hint(cls, path: list[str]):
    """The type hint at a dotted path in a dataclass schema, or InputError-ready (None, known keys)."""
    hint = cls
    for i, part in enumerate(path):
        if not dataclasses.is_dataclass(hint):
            return None, [], i
        types_ = _type_hints(hint)
        hints = {f.name: types_[f.name] for f in dataclasses.fields(hint) if not f.metadata.get("internal")}
        if part not in hints:
            return None, list(hints), i
        hint = hints[part]
    return hint, [], len(path)


def int_list(text: str, option: str) -> list[int]:
    """'128,256,512' -> [128, 256, 512]: positive integers, duplicates dropped in order; `option` names the
    command-line option in the error."""
    items = [t.strip() for t in text.split(",")]
    if not all(t.isdigit() and int(t) > 0 for t in items):
        raise InputError(option, None, "positive integers separated by commas, e.g. 128,256,512", text)
    return list(dict.fromkeys(int(t) for t in items))


def name_list(text: str | None, option: str) -> list[str]:
    """'a, b' -> ['a', 'b'] (None -> []): non-empty names, duplicates dropped in order."""
    if text is None:
        return []
    items = [t.strip() for t in text.split(",")]
    if not all(items):
        raise InputError(option, None, "names separated by commas", text)
    return list(dict.fromkeys(items))


_RATE = {"bps": 1.0, "kbps": 1e3, "mbps": 1e6, "gbps": 1e9, "tbps": 1e12, "b/s": 1.0, "kb/s": 8e3, "mb/s": 8e6,
         "gb/s": 8e9}
_TIME = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "min": 60.0}


def bandwidth_bps(text, option: str = "--bandwidth") -> float | None:
    """'100Mbps', '1 Gbps', '400MB/s' (bytes), or a bare number of bits per second -> bits per second."""
    return _with_unit(text, option, _RATE, "bits per second, e.g. 100Mbps, 1Gbps, 377MB/s or 1e9", lower=True)


def seconds(text, option: str = "--rtt") -> float | None:
    """'80ms', '0.5 ms', '2s', or a bare number of seconds -> seconds."""
    return _with_unit(text, option, _TIME, "a time, e.g. 80ms, 0.5ms or 0.08 (seconds)", lower=False)


def _with_unit(text, option: str, units: dict, expected: str, lower: bool) -> float | None:
    if text is None:
        return None
    raw = str(text).strip()
    number, unit = raw, ""
    for i in range(len(raw), 0, -1):  # the longest numeric prefix; the rest is the unit
        try:
            float(raw[:i])
        except ValueError:
            continue
        number, unit = raw[:i], raw[i:].strip()
        break
    key = unit.lower() if lower else unit
    table = {k.lower(): v for k, v in units.items()} if lower else units
    try:
        value = float(number) * (table[key] if unit else 1.0)
    except (KeyError, ValueError):
        raise InputError(option, None, expected, raw) from None
    if not value == value or value in (float("inf"), float("-inf")):  # NaN or infinite
        raise InputError(option, None, expected, raw)
    return value
