"""The offline training corpus: Python source, split deterministically, byte-level tokens, fixed-length blocks.

AERO trains on CodeParrot (Python source from GitHub). Every machine with Python has Python source too: the
standard library. The corpus (dataset name `python_stdlib`) is every `*.py` file under
`sysconfig.get_paths()["stdlib"]`, leaving out site-packages and the test suites (test/, tests/, idle_test/:
large generated data, not code people write). Files are read in sorted order of their path relative to that
folder. A file goes to validation when the first 8 hex digits of sha256(relative path) mod 100 fall below
`val_percent` (5): the split depends on the path alone, so it is the same on every machine with the same files.

Tokenizer: byte-level (vocabulary 256, one token per byte of UTF-8 source), trained on nothing and identical
everywhere. Files are joined with the byte 0 (never in source) as an end-of-file token. Perplexity is therefore
per byte; it is comparable between runs on this corpus, not with AERO's per-BPE-token CodeParrot numbers, which
is why runs are stored under their own dataset name.

The corpus digest (sha256 over the file names and contents of both splits) identifies the exact data; the standard
library differs between Python versions, and the digest and version go into every run's provenance.
No downloads: `--data DIR` trains on any other folder of *.py files (a CodeParrot dump, say) the same way.
"""
from __future__ import annotations

import functools
import hashlib
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pidse.errors import InputError, cut

DATASET = "python_stdlib"
VOCAB_SIZE = 256  # byte-level
EOF_TOKEN = 0
MAX_FOLDERS = 10_000  # folders walked under --data (`--data /` is refused after them, in about a second)
MAX_FILES = 100_000  # *.py files
MAX_CORPUS_BYTES = 512 * 2**20
EXCLUDED_DIRS = frozenset({"site-packages", "dist-packages", "test", "tests", "idle_test", "__pycache__"})


@dataclass(frozen=True)
class Corpus:
    name: str  # the dataset name in the perplexity database
    root: str
    train: np.ndarray  # uint8 token stream
    val: np.ndarray
    train_files: int
    val_files: int
    digest: str  # 12 hex digits

    def describe(self) -> dict:
        return {"dataset": self.name, "root": self.root, "tokenizer": f"byte-level (vocab {VOCAB_SIZE})",
                "train_tokens_available": int(self.train.size), "val_tokens": int(self.val.size),
                "train_files": self.train_files, "val_files": self.val_files, "digest": self.digest,
                "python": f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"}


def stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def source_files(root: Path) -> list[str]:
    """Relative POSIX paths of the *.py files under root (outside EXCLUDED_DIRS), sorted; symlinked folders are
    not entered. At most MAX_FOLDERS folders are read and MAX_FILES files kept: `--data /` fails at once."""
    import os

    out, folders, size = [], 0, 0
    for folder, subfolders, names in os.walk(root):
        folders += 1
        if folders > MAX_FOLDERS:
            raise InputError("--data", None, f"a folder holding at most {MAX_FOLDERS:,} folders", str(root))
        subfolders[:] = [d for d in subfolders if d not in EXCLUDED_DIRS]
        rel = Path(folder).relative_to(root)
        for name in names:
            path = Path(folder) / name
            if name.endswith(".py") and path.is_file():
                out.append((rel / name).as_posix())
                size += path.stat().st_size
        if len(out) > MAX_FILES or size > MAX_CORPUS_BYTES:  # refused before anything is read
            raise InputError("--data", None, f"a folder holding at most {MAX_FILES:,} *.py files and "
                             f"{MAX_CORPUS_BYTES // 2**20:,} MiB of them", str(root))
    return sorted(out)


def is_validation(rel: str, val_percent: int) -> bool:
    return int(hashlib.sha256(rel.encode()).hexdigest()[:8], 16) % 100 < val_percent


@functools.lru_cache(maxsize=4)
def load_corpus(root: str | None = None, name: str | None = None, val_percent: int = 5) -> Corpus:
    """The corpus under `root` (default: this Python's standard library) as train and validation byte streams."""
    base = Path(root) if root else stdlib_root()
    try:
        folder = base.is_dir()
    except (OSError, ValueError):  # a name too long for the OS
        folder = False
    if not folder:
        raise InputError("--data", None, "a folder of Python source files", str(base))
    files = source_files(base)
    parts = {True: [], False: []}
    digest = hashlib.sha256()
    for rel in files:
        try:
            data = (base / rel).read_bytes()
        except OSError as err:
            raise InputError("--data", None, f"readable files ({cut(rel, 80)}: {err.strerror})", str(base)) \
                from None
        digest.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
        parts[is_validation(rel, val_percent)].append(data)
    if not parts[True] or not parts[False]:
        raise InputError("--data", None, f"Python files for both splits (found {len(files)} *.py files)",
                         str(base))
    eof = bytes([EOF_TOKEN])
    stream = {split: np.frombuffer(eof.join(chunks) + eof, dtype=np.uint8) for split, chunks in parts.items()}
    return Corpus(name or (DATASET if root is None else base.name), str(base), stream[False], stream[True],
                  len(parts[False]), len(parts[True]), digest.hexdigest()[:12])


def require_tokens(corpus: Corpus, T: int) -> None:
    """Both splits must hold a window of T + 1 tokens (training draws them at random, validation in order)."""
    if min(corpus.train.size, corpus.val.size) < T + 2:
        raise InputError("--data", None, f"more than {T + 1:,} tokens in each split, for windows of T + 1 (this "
                         f"corpus: {corpus.train.size:,} training and {corpus.val.size:,} validation bytes)",
                         corpus.root)


def sample_batch(stream: np.ndarray, batch: int, T: int, rng: np.random.Generator):
    """`batch` random windows of T + 1 tokens: (inputs, targets) int64 arrays of shape (batch, T)."""
    starts = rng.integers(0, stream.size - T - 1, size=batch)
    windows = np.stack([stream[s:s + T + 1] for s in starts]).astype(np.int64)
    return windows[:, :-1], windows[:, 1:]


def validation_blocks(stream: np.ndarray, T: int, count: int):
    """`count` fixed windows of T + 1 tokens spread evenly over the validation stream (non-overlapping when the
    stream is long enough): the same blocks for every run on the corpus."""
    count = max(1, min(count, (stream.size - 1) // T))
    starts = np.linspace(0, stream.size - T - 1, count).astype(np.int64)
    windows = np.stack([stream[s:s + T + 1] for s in starts]).astype(np.int64)
    return windows[:, :-1], windows[:, 1:]
