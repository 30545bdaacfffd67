"""The `pidse` command line: a thin shell over the Python API. Heavy imports stay inside the commands."""
from __future__ import annotations

import functools
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from pidse.errors import InputError

app = typer.Typer(
    help="pidse: cost model and design-space exploration for private (MPC/HE) LLM inference.\n\n"
         "Start with `pidse estimate arch_specs/gpt2_sm_scfuffn.yaml`.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None,
)


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


class Convention(str, Enum):
    dense = "dense"
    aero = "aero"


def _version(value: bool):
    if value:
        from pidse import __version__
        typer.echo(f"pidse {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")):
    """pidse: cost model and design-space exploration for private (MPC/HE) LLM inference."""


def user_errors(command):
    """Bad input ends in one line on stderr and exit code 2, never a traceback."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except InputError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2)
    return wrapper


@app.command()
@user_errors
def estimate(
    spec: Path = typer.Argument(..., help="Architecture spec (arch_specs/*.yaml) or a HuggingFace config.json.",
                                metavar="SPEC", show_default=False),
    context: Optional[int] = typer.Option(None, "--context", "-T", metavar="T", help="Prompt tokens T (overrides "
                                          "inference.context)."),
    set_: List[str] = typer.Option([], "--set", metavar="KEY=VALUE", help="Override a spec value by dotted path, e.g. "
                                   "--set model.layers=18 --set ffn.prune_last=6. Repeatable; validated like the file."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
    by: Optional[By] = typer.Option(None, "--by", help="Breakdown rows: every op, or summed per op kind, layer "
                                    "or block. Default: block for table/markdown, op for json/csv."),
    convention: Convention = typer.Option(Convention.dense, "--flops-convention",
                                          help="dense: 2 FLOPs per MAC, full TxT scores. aero: AERO's own "
                                               "accounting (blocks only), reproduces its FLOPs columns."),
):
    """Count parameters, MACs, FLOPs and nonlinear ops of an architecture, per op, layer and block.

    Example: pidse estimate arch_specs/gpt2_sm_ln_g.yaml --context 256 --flops-convention aero
    """
    from pidse.estimate import estimate as run_estimate
    from pidse.render import render
    from pidse.spec import load_spec

    loaded = load_spec(spec, set_, context)
    grouping = (by.value if by else ("op" if fmt in (Format.json, Format.csv) else "block"))
    typer.echo(render(run_estimate(loaded, convention.value), fmt.value, grouping).rstrip("\n"))


def main():  # console-script entry point
    app(prog_name="pidse")


if __name__ == "__main__":
    sys.exit(main())
