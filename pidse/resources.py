"""Where pidse's shipped data lives: the repository's cost_tables/ and arch_specs/ in a checkout (an editable
install reads and writes them in place), the copies packed into the wheel otherwise (pyproject maps them to
pidse/shipped/)."""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _root(name: str) -> Path:
    checkout = _PACKAGE.parent / name
    return checkout if checkout.is_dir() else _PACKAGE / "shipped" / name


TABLES_DIR = _root("cost_tables")
SPECS_DIR = _root("arch_specs")
SPACES_DIR = SPECS_DIR / "spaces"
DATA_DIR = _PACKAGE / "data"  # networks, published perplexities and their labels (always in the package)
