"""The `pidse` command line: a thin shell over the Python API. Each command imports what it needs inside it, lazily,
so that `pidse --help` and one command do not pay for every other command's imports (numpy, sympy, pandas, ...).
And Typer builds a parser for every command an app has on each run, so `main` runs an app with only the command
its command line names (`app`, with all of them, is what tests and scripts invoke)."""
from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from pidse.cli.options import By, Convention, Format
from pidse.errors import InputError, user_errors
from pidse.files import check_plot
from pidse.schema import bandwidth_bps, int_list, seconds

SETTINGS = dict(
    help="pidse: cost model and design-space exploration for private (MPC/HE) LLM inference.\n\n"
         "Start with `pidse estimate arch_specs/gpt2_sm_scfuffn.yaml`.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app = typer.Typer(**SETTINGS)


def _version(value: bool):
    if value:
        from pidse import __version__
        typer.echo(f"pidse {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")):
    """pidse: cost model and design-space exploration for private (MPC/HE) LLM inference."""


@app.command()
@user_errors
def estimate(
    spec: Path = typer.Argument(..., help="Architecture spec (arch_specs/*.yaml), a HuggingFace config.json, or a "
                                "PyTorch model to trace: FILE.py:FACTORY (a function in FILE.py returning the "
                                "nn.Module; it may take a keyword `context`).", metavar="SPEC", show_default=False),
    context: Optional[int] = typer.Option(None, "--context", "-T", metavar="T", help="Prompt tokens T (overrides "
                                          "inference.context)."),
    set_: List[str] = typer.Option([], "--set", metavar="KEY=VALUE", help="Override a spec value by dotted path, e.g. "
                                   "--set model.layers=18 --set ffn.prune_last=6. Repeatable; validated like the file."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
    by: Optional[By] = typer.Option(None, "--by", help="Breakdown rows: every op (a generation's decode steps as "
                                    "one template per op), or summed per op kind, layer, block or step (the "
                                    "prefill, then each decode step). Default: block for table/markdown, op for "
                                    "json/csv."),
    convention: Convention = typer.Option(Convention.dense, "--flops-convention",
                                          help="dense: 2 FLOPs per MAC, full TxT scores. aero: AERO's own "
                                               "accounting (blocks only), reproduces its FLOPs columns."),
    protocol: Optional[str] = typer.Option(None, "--protocol", "-p", metavar="TABLE",
                                           help="Price every op with a cost table: a name in cost_tables/ "
                                                "(e.g. aero-secretflow) or a path. Adds comm, rounds, latency."),
    network: Optional[str] = typer.Option(None, "--network", "-n", metavar="PRESET",
                                          help="Network preset (lan, wan, wan-aero, ...). Default: the "
                                               "table's own (a calibrated table's fitted effective network)."),
    bandwidth: Optional[str] = typer.Option(None, "--bandwidth", metavar="RATE",
                                            help="Bandwidth overriding the network's: 100Mbps, 1Gbps, 377MB/s "
                                                 "(bytes), or bits per second."),
    rtt: Optional[str] = typer.Option(None, "--rtt", metavar="TIME", help="Round-trip time overriding the "
                                      "network's: 80ms, 0.5ms, or seconds."),
    hardware: Optional[str] = typer.Option(None, "--hardware", metavar="NAME",
                                           help="Price compute on this machine instead of the table's own: a "
                                                "preset (pidse list hardware) or this-machine. Re-priced by "
                                                "relative throughput (threads x GHz; GPU TFLOP/s)."),
    phase: Optional[str] = typer.Option(None, "--phase", metavar="PHASE",
                                        help="online, offline (a dealer's keys, preprocessing) or total, as far "
                                             "as the table separates them. Default: its paper's convention."),
    baseline: Optional[Path] = typer.Option(None, "--baseline", metavar="SPEC",
                                            help="Report savings against this spec (same context, --set, "
                                                 "table and network)."),
    allow_missing: bool = typer.Option(False, "--allow-missing", help="List ops the table cannot price as "
                                       "uncosted instead of failing (they are never counted as zero)."),
    trace: bool = typer.Option(False, "--trace", help="Trace a HuggingFace config.json's model with transformers "
                               "(built without weights) instead of mapping the config to a spec."),
    op_map: Optional[Path] = typer.Option(None, "--map", metavar="FILE", help="A traced model: YAML naming the op "
                                          "kind of aten ops (ops:) and module classes (modules:) the trace does "
                                          "not recognise."),
    allow_unsupported: bool = typer.Option(False, "--allow-unsupported", help="A traced model: price the ops the "
                                           "trace classified and list the others on stderr (never counted as "
                                           "zero) instead of failing."),
):
    """Count parameters, MACs, FLOPs and nonlinear ops of an architecture, per op, layer and block;
    with --protocol, also communication, rounds and latency under MPC.

    Examples:

      pidse estimate arch_specs/gpt2_sm_ln_g.yaml --context 256 --flops-convention aero

      pidse estimate arch_specs/gpt2_sm_scfuffn.yaml -p aero-secretflow --baseline arch_specs/gpt2_sm_ln_g.yaml

      pidse estimate examples/relu_attention.py:build -p sigma --map examples/relu_attention_map.yaml
    """
    from pidse.cost.setting import resolve_setting
    from pidse.model.estimate import estimate as run_estimate
    from pidse.report.render import render
    from pidse.spec.load import load_spec
    from pidse.trace import is_target

    _check_protocol(protocol)
    if protocol is not None and ("," in protocol or protocol == "all") and not Path(protocol).is_file():
        raise InputError("--protocol", None, "one cost table (several, or all: pidse compare SPEC -p A,B)", protocol)
    traced = trace or is_target(str(spec))
    if not traced and (op_map is not None or allow_unsupported):
        raise InputError("--map/--allow-unsupported", None, "a model to trace as well (FILE.py:FACTORY, or a "
                                                            "config.json with --trace)")
    if traced and set_:
        raise InputError("--set", None, "a spec: a traced model has no spec keys (change the model or its config)")
    if trace and spec.suffix != ".json":
        raise InputError("--trace", None, "a HuggingFace config.json as SPEC (a Python model is FILE.py:FACTORY)",
                         str(spec))
    if protocol is None and (network or bandwidth or rtt or allow_missing or hardware or phase):
        raise InputError("--network/--bandwidth/--rtt/--hardware/--phase/--allow-missing", None,
                         "--protocol TABLE as well: they only apply to priced estimates")
    if protocol:
        from pidse.cost.registry import load_table  # only a priced estimate loads the protocol families

    table = load_table(protocol) if protocol else None
    setting = resolve_setting(table, network, bandwidth_bps(bandwidth), seconds(rtt), hardware, phase) \
        if table else None
    price = dict(convention=convention.value, table=table, setting=setting, allow_missing=allow_missing)
    rules = None
    if op_map is not None:
        from pidse.trace import load_map

        rules = load_map(op_map)

    def load(target, hf: bool):
        if hf or is_target(str(target)):
            from pidse.api import estimate_traced

            est = estimate_traced(str(target), context, **price, op_map=rules, allow_unsupported=allow_unsupported,
                                  hf=hf)
            _trace_lines(est.spec)
            return est
        return run_estimate(load_spec(target, set_, context), **price)

    result = load(spec, trace)
    base = load(baseline, trace and baseline.suffix == ".json") if baseline else None
    grouping = (by.value if by else ("op" if fmt in (Format.json, Format.csv) else "block"))
    typer.echo(render(result, fmt.value, grouping, base).rstrip("\n"))


@app.command()
@user_errors
def compare(
    specs: List[str] = typer.Argument(..., metavar="SPEC...", help="Specs to compare: shipped names or paths.",
                                      show_default=False),
    context: Optional[str] = typer.Option(None, "--context", "-T", metavar="T[,T...]",
                                          help="Prompt tokens, one or a comma list (default: each spec's)."),
    protocol: Optional[str] = typer.Option(None, "--protocol", "-p", metavar="TABLE[,TABLE...]|all",
                                           help="Price with a cost table, several (one row per table: each at "
                                           "its paper's network and machine unless -n / --hardware say), or all "
                                           "shipped tables; without: counts only."),
    network: Optional[str] = typer.Option(None, "--network", "-n", metavar="PRESET", help="Network preset "
                                          "(default: each table's own)."),
    hardware: Optional[str] = typer.Option(None, "--hardware", metavar="NAME", help="Hardware preset."),
    phase: Optional[str] = typer.Option(None, "--phase", metavar="PHASE", help="online, offline or total (default: "
                                        "each table's paper convention); a table that gives no figure for it says "
                                        "so in its row."),
    baseline: Optional[str] = typer.Option(None, "--baseline", metavar="SPEC", help="Savings against this spec, "
                                           "under the same table (default: the first of several SPECs)."),
    set_: List[str] = typer.Option([], "--set", metavar="KEY=VALUE", help="Override a value in every spec."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
    plot: Optional[Path] = typer.Option(None, "--plot", metavar="FILE.png", help="Also draw communication and "
                                        "latency per table and spec (log axes) into FILE.png."),
):
    """Several architectures side by side: parameters and FLOPs, and with --protocol communication, rounds and
    latency, with savings against a baseline (the first spec unless --baseline is given). Several tables (or
    `-p all`) answer "what would this cost under each system?": one row per table; a table with no cost for some
    op of the spec says which instead of a number.

    Example: pidse compare gpt2_sm_ln_g gpt2_sm_scfuffn gpt2_sm_t_scfuffn_ereg -p aero-secretflow -T 128,256

    Example: pidse compare bert_base -p bumblebee,bolt,iron,sigma,puma,nexus
    """
    from pidse.api import compare as run_compare
    from pidse.report.compare import render as render_compare

    _check_protocol(protocol)
    contexts = int_list(context, "--context") if context else [None]
    tables = protocol if protocol in (None, "all") else [name.strip() for name in protocol.split(",")]
    if tables not in (None, "all") and (not all(tables) or len(set(tables)) < len(tables)):
        raise InputError("--protocol", None, "cost tables separated by commas, each once", protocol)
    default = specs[0] if len(specs) > 1 else None  # one spec against itself would only print 1.00s
    if plot is not None:
        if protocol is None:
            raise InputError("--plot", None, "--protocol as well: the plot draws costs", str(plot))
        check_plot(plot)
    if protocol is None and (network or hardware or phase):
        raise InputError("--network/--hardware/--phase", None, "--protocol TABLE as well: they only apply to "
                         "priced comparisons")
    frame = run_compare(specs, baseline or default, tables, contexts, network, hardware, set_, phase=phase)
    typer.echo(render_compare(frame, fmt.value).rstrip("\n"))
    if plot is not None:
        from pidse.report.compare import plot as plot_compare

        plot_compare(frame, plot)
        typer.echo(f"wrote {plot}", err=True)


class ListWhat(str, Enum):
    specs = "specs"
    tables = "tables"
    networks = "networks"
    hardware = "hardware"


@app.command("list")
@user_errors
def list_(
    what: ListWhat = typer.Argument(..., help="specs, tables, networks or hardware."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
):
    """List what pidse ships: architecture specs, cost tables (family, system, hardware, network, phases, and how
    many of the published measurements of its system it meets: pidse validate --published), network presets
    and hardware presets.

    Example: pidse list tables
    """
    from pidse.report.listing import render as render_list

    checks = None
    if what == ListWhat.tables:  # each table's published rows, priced now (pidse validate --published's rows)
        from pidse.calibrate.published import compare
        from pidse.report.validation import table_checks

        checks = table_checks(compare(None, None))
    typer.echo(render_list(what.value, fmt.value, checks).rstrip("\n"))


from pidse.cli.ppl import app as ppl_app  # noqa: E402  (sub-apps mount after the main app exists)

app.add_typer(ppl_app, name="ppl", help="The measured-perplexity database: list, add, import, export.")

from pidse.cli import analysis, measure, search, train  # noqa: E402  (their commands mount on the app)

for module in (measure, search, analysis, train):
    module.register(app)


def for_command(argv: list[str]) -> typer.Typer:
    """The app to run `argv` (the arguments after `pidse`) with: the command it names alone, or every command when
    it names none or an unknown one (help, the error for a typo with its suggestion)."""
    name = next((arg for arg in argv if not arg.startswith("-")), None)
    commands = [c for c in app.registered_commands if (c.name or c.callback.__name__) == name]
    groups = [g for g in app.registered_groups if g.name == name]
    if not commands and not groups:
        return app
    lean = typer.Typer(**SETTINGS)
    lean.registered_callback = app.registered_callback  # --version, -h
    lean.registered_commands, lean.registered_groups = commands, groups
    return lean


def _trace_lines(origin) -> None:
    """A traced model's notes and unsupported ops on stderr, one line each (stdout stays the report)."""
    from pidse.trace import unsupported_text

    for note in origin.notes:
        typer.echo(f"note: {origin.source}: {note}", err=True)
    for item in origin.unsupported:
        typer.echo(f"unsupported (not counted, not priced): {unsupported_text(item)}", err=True)


def _check_protocol(protocol: str | None) -> None:
    """`-p ""` is a mistake, not "no table": an unpriced estimate would look like an answer."""
    if protocol is not None and not protocol.strip():
        raise InputError("--protocol", None, "a cost table name (`pidse list tables`) or a path to one", protocol)


def _usage_error_in_one_line(self, file=None) -> None:
    """A usage error (a bad option value, an unknown command) as one line, like every other bad input: click
    prints the usage, a hint and the error on three."""
    command = self.ctx.command_path if self.ctx is not None else "pidse"
    typer.echo(f"error: {self.format_message()} (see `{command} --help`)", err=True)


def main():  # console-script entry point
    try:  # the click Typer runs on: vendored in recent Typer, the click package before
        from typer._click.exceptions import UsageError
    except ImportError:
        from click.exceptions import UsageError
    UsageError.show = _usage_error_in_one_line
    for_command(sys.argv[1:])(prog_name="pidse")


if __name__ == "__main__":
    sys.exit(main())
