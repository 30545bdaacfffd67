"""`pidse ppl`: the measured-perplexity database from the command line, a thin shell over pidse.ppl.

Mounted by pidse/cli/app.py with `app.add_typer(ppl_app, name="ppl")`. Each command imports what it needs inside
it, lazily, so that the other commands start without it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Literal, Optional

import typer

from pidse.errors import InputError, user_errors

app = typer.Typer(
    help="Measured perplexities of trained architectures: list, add, import, export. An SQLite database at "
         "--db, $PIDSE_DB or ~/.local/share/pidse/ppl.sqlite, seeded with the published AERO numbers.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

DB = typer.Option(None, "--db", envvar="PIDSE_DB", metavar="FILE", show_default=False,
                  help="Database file (default $PIDSE_DB, else ~/.local/share/pidse/ppl.sqlite).")
SET = typer.Option([], "--set", metavar="KEY=VALUE", help="Override a spec value by dotted path, as in "
                   "`pidse estimate`, e.g. --set ffn.prune_last=6. Repeatable.")
TABLE_COLUMNS = ("id", "family", "label", "arch_key", "layers", "heads", "d_model", "vocab_size", "context",
                 "dataset", "train_tokens", "ppl", "source")


def _report(stored, what: str) -> None:
    ids = stored.added
    span = f" (rows {ids[0]}-{ids[-1]})" if len(ids) > 1 else f" (row {ids[0]})" if ids else ""
    typer.echo(f"{what}: {len(ids)} added{span}, {len(stored.duplicates)} duplicate(s) skipped")
    for line in stored.duplicates:
        typer.echo(f"duplicate: {line}", err=True)


@app.command("list")
@user_errors
def list_(
    arch: Optional[Path] = typer.Option(None, "--arch", metavar="SPEC", help="Only runs of this architecture "
                                        "(a spec file, with --set overrides); matched by canonical key."),
    set_: List[str] = SET,
    context: Optional[int] = typer.Option(None, "--context", "-T", metavar="T", help="Only this context."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Only this dataset."),
    fmt: Literal["table", "json", "csv", "markdown"] = typer.Option("table", "--format", "-f",
                                                                    help="Output format."),
    db: Optional[Path] = DB,
):
    """List measured runs; a diverged run shows `diverged`, never a number.

    Example: pidse ppl list --arch arch_specs/gpt2_sm_scfuffn.yaml --set ffn.prune_last=6
    """
    from pidse.ppl.db import arch_key, open_db
    from pidse.ppl.rows import write_csv
    from pidse.spec.load import load_spec

    if context is not None and context <= 0:
        raise InputError("--context", None, "a positive integer", context)
    if set_ and arch is None:
        raise InputError("--set", None, "--arch SPEC as well: overrides apply to its spec")
    key = arch_key(load_spec(arch, set_)) if arch else None
    with open_db(db) as store:
        rows = store.query(arch_key=key, context=context, dataset=dataset)
    if fmt == "json":
        typer.echo(json.dumps(rows, indent=2))
    elif fmt == "csv":
        write_csv(rows, typer.get_text_stream("stdout"))
    else:
        from pidse.report.text import grid, si

        body = [[_table_cell(row, c, si) for c in TABLE_COLUMNS] for row in rows]
        typer.echo(grid(list(TABLE_COLUMNS), body, markdown=fmt == "markdown") if rows else "no runs match")


def _table_cell(row: dict, column: str, si) -> str:
    value = row[column]
    if column == "ppl":
        return "diverged" if row["status"] == "diverged" else f"{value:g}"
    if column == "train_tokens":
        return "-" if value is None else si(value)
    return "-" if value is None else str(value)


@app.command()
@user_errors
def add(
    spec: Path = typer.Argument(..., metavar="SPEC", help="Spec file of the trained architecture.",
                                show_default=False),
    set_: List[str] = SET,
    ppl: Optional[float] = typer.Option(None, "--ppl", help="Measured perplexity (>= 1)."),
    diverged: bool = typer.Option(False, "--diverged", help="The run diverged: stored with no perplexity."),
    context: int = typer.Option(..., "--context", "-T", metavar="T", help="Training/evaluation context.",
                                show_default=False),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Dataset (default: the spec's "
                                          "training.dataset)."),
    tokens: Optional[float] = typer.Option(None, "--tokens", help="Training tokens, e.g. 2.1e9 (default: the "
                                           "spec's training.tokens; empty when unknown)."),
    source: str = typer.Option(..., "--source", help="Where the number comes from (paper and table, run id).",
                               show_default=False),
    label: Optional[str] = typer.Option(None, "--label", help="Readable label (default: the spec's label)."),
    family: Optional[str] = typer.Option(None, "--family", help="Group name, e.g. an ablation."),
    seed: Optional[int] = typer.Option(None, "--seed", metavar="S", help="The run's training seed: runs of one "
                                       "architecture with seeds are pooled by `pidse sweep` (mean and spread)."),
    db: Optional[Path] = DB,
):
    """Add one measured run (a perplexity, or --diverged).

    Example: pidse ppl add arch_specs/gpt2_sm_scfuffn.yaml --set ffn.prune_last=6 -T 128 --dataset codeparrot
    --tokens 2.1e9 --ppl 3.54 --source "my run 2025-01-02"
    """
    from pidse.ppl.db import open_db

    if (ppl is None) == (not diverged):
        raise InputError("ppl add", "--ppl", "a perplexity, or --diverged for a run that diverged (one of them)")
    with open_db(db) as store:
        stored = store.add(spec, overrides=set_, context=context, dataset=dataset, train_tokens=tokens,
                           ppl=ppl, status="diverged" if diverged else "ok", source=source, label=label,
                           family=family, seed=seed)
    _report(stored, "add")


@app.command("import")
@user_errors
def import_(
    file: Path = typer.Argument(..., metavar="FILE", help="CSV in the export layout (a spec column) or the "
                                "published layout (family, arch label, dims).", show_default=False),
    db: Optional[Path] = DB,
):
    """Import a CSV file in one transaction: every row is validated first, then all are added or none."""
    from pidse.ppl.db import open_db

    with open_db(db) as store:
        stored = store.import_csv(file)
    _report(stored, f"import {file}")


@app.command()
@user_errors
def export(
    file: Optional[Path] = typer.Argument(None, metavar="[FILE]", help="Output CSV (default: stdout).",
                                          show_default=False),
    db: Optional[Path] = DB,
):
    """Export every run as CSV (re-importable with `pidse ppl import`)."""
    from pidse.ppl.db import open_db

    with open_db(db) as store:
        store.export_csv(file if file is not None else typer.get_text_stream("stdout"))
