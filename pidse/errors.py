"""The one error type users see: a clear line naming the file, the key and what was expected."""
from __future__ import annotations

import functools


class InputError(Exception):
    """Bad user input. The CLI prints `str(err)` on one line and exits with code 2."""

    def __init__(self, source: str, key: str | None, expected: str, got: object = ...):
        self.source, self.key, self.expected, self.got = str(source), key, expected, got
        super().__init__(self.line())

    def line(self) -> str:
        where = f"{self.source}: {self.key}" if self.key else self.source
        got = "" if self.got is ... else f", got {self.got!r}"
        return f"{where}: expected {self.expected}{got}"

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
    return wrapper
