"""The hostile-input corpus: bad inputs on every surface, each of which must end in exit code 2 with one clear
line on stderr (no traceback, no hang, no NaN or infinity, nothing accepted with exit 0).

A case is data: `Case(id, argv, files)`. `files` maps a file name to its content (str, or bytes for binary
junk); the runner writes them into a fresh folder and replaces `{tmp}` in argv with that folder's path. Each
surface's cases live in their own module here (cases_*.py), each exposing CASES; tests/test_hostile.py runs them
all in-process (default run) and, marked slow, each in its own process under a 10 s and 1 GB limit.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    id: str  # unique over the corpus: "<surface>-<what>"
    argv: tuple  # the pidse command line after `pidse`, with {tmp} for the case's folder
    files: dict = field(default_factory=dict)  # name -> content (str or bytes), written under {tmp}
    needles: tuple = ()  # words the one error line must contain (a key, a file name, the expectation)


def all_cases() -> list[Case]:
    """Every case of every cases_*.py module beside this file."""
    import importlib
    import pkgutil
    from pathlib import Path

    out = []
    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda i: i.name):
        if info.name.startswith("cases_"):
            out += importlib.import_module(f"hostile.{info.name}").CASES
    return out
