"""Options every command shares, with one meaning each (`--format`, `--by`, `--flops-convention`)."""
from __future__ import annotations

from enum import Enum


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


class By(str, Enum):
    op = "op"
    kind = "kind"
    layer = "layer"
    block = "block"
    step = "step"


class Convention(str, Enum):
    dense = "dense"
    aero = "aero"
