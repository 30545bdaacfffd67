"""Writing pidse's output files: one atomic writer and one YAML style.

write_text_atomic writes a temporary file in the target's folder and renames it over the target (os.replace),
so a crash or a full disk never leaves half a file where a cost table was. dump_yaml is the style of every
table pidse writes (keys in insertion order, lines up to 110 characters, Unicode kept), so a table regenerates
byte for byte.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml

from pidse.errors import InputError


def dump_yaml(data) -> str:
    """`data` as YAML text in pidse's table style."""
    return yaml.safe_dump(data, sort_keys=False, width=110, allow_unicode=True)


def check_target(path) -> Path:
    """`path` as a Path, if a file can be written there: its folder exists and it is not a folder itself (check
    before minutes of measuring, not after)."""
    path = Path(path)
    if not path.parent.is_dir():
        raise InputError(path, None, "an existing folder", str(path.parent))
    if path.is_dir():
        raise InputError(path, None, "a file to write, not a folder")
    return path


PLOT_SUFFIXES = (".png", ".svg", ".pdf")


def check_plot(path) -> Path:
    """A --plot FILE, checked before any work: a folder that exists, not a folder itself, and a suffix matplotlib
    writes (without one, matplotlib would add .png and write beside the name given)."""
    path = check_target(path)
    if path.suffix.lower() not in PLOT_SUFFIXES:
        raise InputError(path, None, "a plot file named " + ", ".join(f"*{s}" for s in PLOT_SUFFIXES[:-1])
                         + f" or *{PLOT_SUFFIXES[-1]}")
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path, text: str) -> None:
    """Write `text` to `path` atomically: a temporary file beside it, then os.replace. The folder must exist."""
    path = check_target(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the file gets the mode open() would give it
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def output_dir(out, default: str, marker: str, overwrite: bool) -> Path:
    """The folder a command writes its outputs to. Given (`--out`): used as it is, but a folder that already
    holds `marker` (the command's earlier output, a committed report) is refused unless `overwrite`. Not given:
    a new folder `default` (or `default-2`, `default-3`, ...) in the working directory, so that no command
    writes over anything by default."""
    if out is not None:
        out = Path(out)
        if out.exists() and not out.is_dir():
            raise InputError("--out", None, "a folder", str(out))
        if (out / marker).exists() and not overwrite:
            raise InputError("--out", None, f"a folder without an earlier {marker} (pass --overwrite to replace "
                             "it)", str(out))
    else:
        out, n = Path(default), 2
        while out.exists():
            out, n = Path(f"{default}-{n}"), n + 1
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError("--out", None, f"a folder that can be created ({err.strerror})", str(out)) from None
    return out
