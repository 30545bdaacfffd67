"""The one error type users see: a clear line naming the file, the key and what was expected.

The line never repeats a whole value or file: an echoed value (`got`) is cut short by `short` (strings, lists and
mappings to their first items, a huge integer to its number of digits), a key or source name to a few dozen
characters, and the line as a whole to LINE_CHARS; characters that would break it (newlines, controls) are escaped.
"""
from __future__ import annotations

import functools
import reprlib

VALUE_CHARS = 60  # an echoed value
KEY_CHARS = 80  # a key (a user's typo can be as long as a file)
SOURCE_CHARS = 240  # a file name or an option
LINE_CHARS = 560  # the whole line, "error: " included


class _Short(reprlib.Repr):
    """reprlib with small limits, that never expands a huge or self-referencing value (it visits at most a few
    items per level, a few levels deep) and names a huge integer by its size instead of converting it."""

    def __init__(self):
        super().__init__()
        self.maxlevel, self.maxstring, self.maxother, self.maxlong = 3, VALUE_CHARS, VALUE_CHARS, 40
        self.maxdict = self.maxlist = self.maxtuple = self.maxset = self.maxfrozenset = self.maxdeque = 4
        self.maxarray = 4

    def repr_int(self, x, level):
        if x.bit_length() > 128:  # str() of a 5,000-digit integer is itself an error
            return f"a {int(x.bit_length() * 0.30103) + 1:,}-digit integer"
        return super().repr_int(x, level)


_SHORT = _Short()


def short(value, limit: int = VALUE_CHARS) -> str:
    """A value as an error line may echo it: its repr, cut to about `limit` characters, on one line."""
    try:
        text = _SHORT.repr(value)
    except Exception:  # a value whose repr fails is named by its type
        text = f"<{type(value).__name__}>"
    return cut(text, limit)


def cut(text: str, limit: int) -> str:
    """`text` on one line (control characters escaped), at most `limit` characters (its middle elided)."""
    text = str(text)
    if not text.isprintable():
        text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
    if len(text) > limit:
        head = max(limit - 3, 0) * 2 // 3
        text = text[:head] + "..." + text[len(text) - (max(limit - 3, 0) - head):]
    return text


class InputError(Exception):
    """Bad user input. The CLI prints `str(err)` on one line and exits with code 2."""

    def __init__(self, source: str, key: str | None, expected: str, got: object = ...):
        self.source, self.key, self.expected, self.got = str(source), key, expected, got
        super().__init__(self.line())

    def line(self) -> str:
        source = cut(self.source, SOURCE_CHARS)
        where = f"{source}: {cut(self.key, KEY_CHARS)}" if self.key else source
        got = "" if self.got is ... else f", got {short(self.got)}"
        room = LINE_CHARS - len("error: ") - len(where) - len(got) - len(": expected ")
        return f"{where}: expected {cut(self.expected, max(room, 80))}{got}"

    def __str__(self) -> str:  # kept in sync with a source rewritten after construction
        return self.line()


def user_errors(command):
    """CLI decorator: bad input ends in one line on stderr and exit code 2, never a traceback."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        import typer

        try:
            return command(*args, **kwargs)
        except InputError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2)
        except OSError as err:  # a path the user gave that the system refuses (too long, no permission, ...)
            if err.filename is None:
                raise
            where = short(str(err.filename))
            typer.echo(f"error: {where}: expected a usable path ({err.strerror or type(err).__name__})", err=True)
            raise typer.Exit(2)
    return wrapper
