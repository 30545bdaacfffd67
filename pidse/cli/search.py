"""`pidse sweep`: a design space priced, joined with measured perplexities, fronts marked, written to a folder.
It imports what it needs inside it, lazily."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from pidse.cli.options import Format
from pidse.errors import InputError, user_errors
from pidse.schema import int_list, name_list


def sweep(
    context: Optional[str] = typer.Option(None, "--context", "-T", metavar="T[,T...]",
                                          help="Contexts to sweep, comma-separated (default: the space's)."),
    space: str = typer.Option("aero", "--space", "-s", metavar="NAME|FILE",
                              help="Design space: a name in arch_specs/spaces/ or a path to a space YAML."),
    protocol: Optional[str] = typer.Option(None, "--protocol", "-p", metavar="TABLE[,TABLE...]",
                                           help="Cost tables, comma-separated (default: the space's)."),
    network: Optional[str] = typer.Option(None, "--network", "-n", metavar="PRESET[,PRESET...]",
                                          help="Network presets, comma-separated; `table` is the table's own "
                                               "(default: the space's)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", metavar="DIR", show_default=False,
                                       help="Folder for the points, sweep.md and the plots (default: a new folder "
                                            "pidse-sweep in the working directory)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier sweep in --out (its sweep.md "
                                   "and files of the same names)."),
    db: Optional[Path] = typer.Option(None, "--db", envvar="PIDSE_DB", metavar="FILE", show_default=False,
                                      help="Measured-perplexity database (default $PIDSE_DB, else "
                                           "~/.local/share/pidse/ppl.sqlite)."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Format of the summary printed to stdout."),
    points: str = typer.Option("auto", "--points", metavar="auto|csv|parquet",
                               help="File for every point: sweep.csv, or sweep.parquet (columnar; auto: above "
                                    "200,000 points)."),
):
    """Evaluate every point of a design space, join measured perplexities, mark the Pareto fronts
    (perplexity vs communication, vs latency) and write a CSV, a Markdown report and plots.

    Example: pidse sweep --context 128,256,512
    """
    from pidse.cost.registry import load_table
    from pidse.cost.setting import resolve_network
    from pidse.ppl.db import open_db
    from pidse.report.sweep import POINT_FORMATS, render_summary, write_outputs
    from pidse.search.space import load_space
    from pidse.search.sweep import sweep as run_sweep

    from pidse.files import output_dir

    if points not in POINT_FORMATS:
        raise InputError("--points", None, "one of " + ", ".join(POINT_FORMATS), points)
    design = load_space(space)
    contexts = int_list(context, "--context") if context else list(design.contexts) or [128]
    protocols = name_list(protocol, "--protocol") or design.protocols
    networks = name_list(network, "--network") or design.networks
    for name in protocols:  # bad names fail here, in one line, before any work
        table = load_table(name)
        for net in networks:
            resolve_network(name=net, table=table)
    design.check_points(contexts, protocols, networks, option="--context")  # the options may multiply the points

    bars = _Bars()

    given = (("--context", context), ("--space", None if space == "aero" else space), ("--protocol", protocol),
             ("--network", network), ("--out", out), ("--points", None if points == "auto" else points))
    command = " ".join(["pidse sweep"] + [f"{k} {v}" for k, v in given if v is not None]
                       + (["--overwrite"] if overwrite else []))
    out = output_dir(out, "pidse-sweep", "sweep.md", overwrite)
    _warn_networks(protocols, networks)
    with bars as bar, open_db(db) as store:
        df = run_sweep(design, contexts, protocols, networks, db=store, progress=bar)
        written = write_outputs(df, design, out, command, progress=bar, points=points)
    typer.echo(render_summary(df, fmt.value).rstrip("\n"))
    typer.echo(f"wrote {len(written)} files to {out}/ ({len(df):,} points): "
               + ", ".join(p.name for p in written), err=True)


class _Bars:
    """Progress bars with counts and time remaining (rich, on stderr): `bar(items, label)` wraps an iterable."""

    def __enter__(self):
        from rich.console import Console  # lazy: only long commands show bars
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), console=Console(stderr=True))
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def __call__(self, items, label: str):
        items = list(items)
        task = self.progress.add_task(label, total=len(items))
        for item in items:
            yield item
            self.progress.advance(task)


def _warn_networks(protocols: list, networks: list) -> None:
    """Latencies compared across tables on each table's own network are not like for like: say so."""
    from pidse.cost.registry import load_table

    if "table" not in networks or len(protocols) < 2:
        return
    own = {p: load_table(p).network for p in protocols}
    if len({(n.bandwidth_bps, n.rtt_s) for n in own.values() if n is not None}) > 1:
        typer.echo("warning: latencies use each table's own network (" + ", ".join(
            f"{p}: {n.name}" for p, n in own.items() if n is not None) + "); pass --network to compare them "
            "on one", err=True)


def register(app: typer.Typer) -> None:
    """Add `sweep` to the main app."""
    app.command("sweep")(user_errors(sweep))
