"""Build frozen dataclasses from plain mappings, checking every key and type.

The dataclass definitions are the schema: field names are the allowed keys, type hints the allowed types,
defaults make a key optional. Unknown keys are errors with a "did you mean" hint, because a typo that is
silently ignored gives a wrong cost that looks right.
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import re
import types
import typing
from typing import Any, Literal

from pidse.errors import InputError

MAX_INT = 2**53  # the largest integer any schema field takes (exact as a float): past it, sizes are nonsense
MAX_DEPTH = 32  # nesting levels of a parsed file or value
MAX_VALUES = 200_000  # values in a parsed file or value, each alias (YAML's &a/*a) counted as often as it is used


_SCIENTIFIC = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def bounded(lo, hi, **kwargs):
    """A dataclass field whose value (unless null) must lie in [lo, hi], each item of a list too: from_mapping
    checks it and the error names the limits. Keyword arguments go to dataclasses.field (default=...)."""
    return dataclasses.field(metadata={"bounds": (lo, hi)}, **kwargs)


def bounds_text(hint, lo, hi, item: bool = False) -> str:
    """'a positive integer up to 1,024' (', or null' when the hint allows it); `item`: what each item of a list
    must be."""
    args = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    base = args[0]
    if typing.get_origin(base) is tuple:
        base = typing.get_args(base)[0]
    text = f"a positive integer up to {hi:,}" if base is int and lo == 1 else \
        f"{'an integer' if base is int else 'a number'} from {lo:,} to {hi:,}"
    return text + (", or null" if type(None) in args and not item else "")


class DuplicateKeyError(ValueError):
    """A key given twice in one mapping of a file (its parser would silently keep the last)."""

    def __init__(self, key):
        super().__init__(f"duplicate key {key!r}")
        self.key = key


def unique_pairs(pairs) -> dict:
    """json's object_pairs_hook: a dict, or DuplicateKeyError for a key given twice."""
    out = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(key)
        out[key] = value
    return out


def check_tree(data, source: str, key: str | None = None) -> None:
    """InputError unless `data` (parsed YAML or JSON) nests at most MAX_DEPTH levels and holds at most MAX_VALUES
    values, counting every use of a YAML alias: a few lines of anchors can stand for billions of values (and a
    self-referencing alias for infinitely many), which any later walk over the data would expand."""
    memo: dict[int, tuple[int, int]] = {}  # id of a list or mapping -> (values, height)

    def walk(node, depth: int) -> tuple[int, int]:
        if not isinstance(node, (dict, list)):
            return 1, 0
        if id(node) in memo:
            count, height = memo[id(node)]
        else:
            if depth >= MAX_DEPTH:
                raise InputError(source, key, f"at most {MAX_DEPTH} levels of nesting")
            children = [*node.keys(), *node.values()] if isinstance(node, dict) else node
            count, height = 1, 0
            for child in children:
                n, h = walk(child, depth + 1)
                count, height = count + n, max(height, h + 1)
                if count > MAX_VALUES:
                    raise InputError(source, key, f"at most {MAX_VALUES:,} values (each use of a YAML "
                                     "alias counted)")
            memo[id(node)] = (count, height)
        if depth + height > MAX_DEPTH:
            raise InputError(source, key, f"at most {MAX_DEPTH} levels of nesting")
        return count, height

    walk(data, 0)


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
    if origin is dict:
        return f"a mapping of {_plural(args[0])} to {_plural(args[1])}"
    if dataclasses.is_dataclass(hint):
        return "a mapping"
    if hint is Any:
        return "a value"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(hint, str(hint))


def _plural(hint) -> str:
    """'integers', 'mappings or null': what each key or value of a mapping must be."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join("null" if a is type(None) else _plural(a) for a in args)
    if origin in (dict, tuple) or dataclasses.is_dataclass(hint):
        return "mappings" if origin is not tuple else "lists"
    text = describe(hint)
    return {"an integer": "integers", "a number": "numbers", "a string": "strings", "a value": "values"}.get(text,
                                                                                                           text)


def convert(hint, value: Any, source: str, key: str):
    """Check `value` against `hint`, returning it converted (lists to tuples, mappings to dataclasses)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return from_mapping(hint, value, source, key)
    if hint is Any:
        return value
    if origin is dict:
        if not isinstance(value, dict):
            raise InputError(source, key, describe(hint), value)
        return {convert(args[0], k, source, f"{key}.{k}"): convert(args[1], v, source, f"{key}.{k}")
                for k, v in value.items()}
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        specific = None  # an error beyond a type mismatch (a limit, an item, a key inside) is the one to report
        for arg in args:
            if arg is type(None):
                continue
            try:
                return convert(arg, value, source, key)
            except InputError as err:
                if specific is None and (err.expected != describe(arg) or err.key != key):
                    specific = err
        raise specific or InputError(source, key, describe(hint), value)
    if origin is Literal:
        if any(value == a and type(value) is type(a) for a in args):
            return value
        hint_text = suggest(value, [str(a) for a in args]) if isinstance(value, str) else ""
        raise InputError(source, key, describe(hint) + hint_text, value)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise InputError(source, key, describe(hint), value)
        return tuple(convert(args[0], v, source, f"{key}[{i}]") for i, v in enumerate(value))
    if hint is float and isinstance(value, str) and _SCIENTIFIC.fullmatch(value.strip()):
        value = float(value)  # YAML 1.1 reads 4.8e9 (no dot or no exponent sign) as a string
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, int) and abs(value) > MAX_INT:
            raise InputError(source, key, f"a number of at most 2^53 ({MAX_INT:,}) in size", value)
        if not math.isfinite(value):
            raise InputError(source, key, "a finite number", value)
        return float(value)
    if hint is int and type(value) is int and abs(value) > MAX_INT:
        raise InputError(source, key, f"an integer of at most 2^53 ({MAX_INT:,}) in size", value)
    if hint in (int, bool, str) and type(value) is hint:
        return value
    raise InputError(source, key, describe(hint), value)


def from_mapping(cls, data: Any, source: str, prefix: str = "", what: str = "key"):
    """Instantiate dataclass `cls` from `data`, naming `source` and the dotted key in any error (an unknown key
    as "a known <what>")."""
    where = prefix or None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(source, where, "a mapping of keys to values", data)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init and not f.metadata.get("internal")}
    hints = _type_hints(cls)
    reject_unknown(data, fields, source, what, prefix=prefix, list_allowed=True)
    kwargs = {}
    for name, field in fields.items():
        key = f"{prefix}.{name}" if prefix else name
        if name in data:
            bounds = field.metadata.get("bounds")
            if bounds and type(data[name]) in (int, list):  # 10**30 is out of bounds before it is too large
                raw = data[name] if type(data[name]) is int else tuple(data[name])
                _check_bounds(raw, hints[name], bounds, source, key)
            kwargs[name] = convert(hints[name], data[name], source, key)
            if bounds:
                _check_bounds(kwargs[name], hints[name], bounds, source, key)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise InputError(source, key, f"this key to be set ({describe(hints[name])})")
    return cls(**kwargs)


def _check_bounds(value, hint, bounds, source: str, key: str) -> None:
    lo, hi = bounds
    items = value if isinstance(value, tuple) else (value,)
    for i, item in enumerate(items):
        if type(item) in (int, float) and not lo <= item <= hi:  # other types passed another branch of a union
            where = f"{key}[{i}]" if isinstance(value, tuple) else key
            raise InputError(source, where, bounds_text(hint, lo, hi, isinstance(value, tuple)), item)


def check_bounds(obj, source: str, prefix: str = "") -> None:
    """The `bounded` limits of a dataclass instance and of the dataclasses inside it, for an object built or
    changed in Python (dataclasses.replace) rather than by from_mapping."""
    hints = _type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value, key = getattr(obj, f.name), f"{prefix}.{f.name}" if prefix else f.name
        if "bounds" in f.metadata:
            if not all(type(v) in (int, float) for v in (value if isinstance(value, tuple) else (value,))
                       if v is not None):
                raise InputError(source, key, describe(hints[f.name]), value)
            _check_bounds(value, hints[f.name], f.metadata["bounds"], source, key)
        for i, item in enumerate(value if isinstance(value, tuple) else (value,)):
            if dataclasses.is_dataclass(item) and not isinstance(item, type):
                check_bounds(item, source, f"{key}[{i}]" if isinstance(value, tuple) else key)


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


MAX_LIST_ITEMS = 1000  # items of a comma-separated option
MAX_OPTION_CHARS = 10_000  # characters of such an option
MAX_LIST_INT = 10**9  # a number in an integer list (the spec's own limits are checked where it is loaded)
MAX_NAME_CHARS = 200  # one name of a name list
BANDWIDTH_BPS = (1.0, 1e15)  # 1 bit/s to 1 Pbit/s
RTT_S = (0.0, 3600.0)  # 0 to one hour


def _items(text: str, option: str, expected: str) -> list[str]:
    if len(text) > MAX_OPTION_CHARS or text.count(",") >= MAX_LIST_ITEMS:
        raise InputError(option, None, f"{expected}, at most {MAX_LIST_ITEMS:,} items", text)
    return [t.strip() for t in text.split(",")]


def int_list(text: str, option: str) -> list[int]:
    """'128,256,512' -> [128, 256, 512]: positive integers (ASCII digits, at most MAX_LIST_INT), duplicates
    dropped in order; `option` names the command-line option in the error."""
    expected = f"positive integers up to {MAX_LIST_INT:,} separated by commas, e.g. 128,256,512"
    items = _items(text, option, expected)
    if not all(t.isascii() and t.isdigit() and len(t) <= 10 and 0 < int(t) <= MAX_LIST_INT for t in items):
        raise InputError(option, None, expected, text)
    return list(dict.fromkeys(int(t) for t in items))


def name_list(text: str | None, option: str) -> list[str]:
    """'a, b' -> ['a', 'b'] (None -> []): non-empty names, duplicates dropped in order."""
    if text is None:
        return []
    expected = f"names of at most {MAX_NAME_CHARS} characters separated by commas"
    items = _items(text, option, expected)
    if not all(items) or any(len(t) > MAX_NAME_CHARS or not t.isprintable() for t in items):
        raise InputError(option, None, expected, text)
    return list(dict.fromkeys(items))


_RATE = {"bps": 1.0, "kbps": 1e3, "mbps": 1e6, "gbps": 1e9, "tbps": 1e12, "b/s": 1.0, "kb/s": 8e3, "mb/s": 8e6,
         "gb/s": 8e9}
_TIME = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "min": 60.0}  # the micro sign, or Greek mu


def bandwidth_bps(text, option: str = "--bandwidth") -> float | None:
    """'100Mbps', '1 Gbps', '400MB/s' (bytes), or a bare number of bits per second -> bits per second, within
    BANDWIDTH_BPS."""
    return _with_unit(text, option, _RATE, "a positive bandwidth in bits per second, 1 bps to 1000 Tbps, e.g. "
                      "100Mbps, 1Gbps, 377MB/s or 1e9", lower=True, limits=BANDWIDTH_BPS)


def seconds(text, option: str = "--rtt") -> float | None:
    """'80ms', '0.5 ms', '2s', or a bare number of seconds -> seconds, within RTT_S."""
    return _with_unit(text, option, _TIME, "a time from 0 to 3600 s, e.g. 80ms, 0.5ms or 0.08 (seconds)",
                      lower=False, limits=RTT_S)


def _with_unit(text, option: str, units: dict, expected: str, lower: bool, limits: tuple) -> float | None:
    if text is None:
        return None
    raw = str(text).strip()
    if len(raw) > 40:  # the prefix search below is quadratic in the length
        raise InputError(option, None, expected, raw)
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
        if not number.isascii():  # float() reads fullwidth digits; a look-alike is refused, as in formulas
            raise ValueError(number)
        value = float(number) * (table[key] if unit else 1.0)
    except (KeyError, ValueError):
        raise InputError(option, None, expected, raw) from None
    if not limits[0] <= value <= limits[1]:  # also NaN and infinities
        raise InputError(option, None, expected, raw)
    return value + 0.0  # -0.0 is 0
