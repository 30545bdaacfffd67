"""The `pidse` command line: a thin shell over the Python API. Each command imports what it needs inside it, lazily,
so that `pidse --help` and one command do not pay for every other command's imports (numpy, sympy, pandas, ...)."""
from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from pidse.errors import InputError, user_errors
from pidse.schema import bandwidth_bps, int_list, name_list, seconds

app = typer.Typer(
    help="pidse: cost model and design-space exploration for private (MPC/HE) LLM inference.\n\n"
         "Start with `pidse estimate arch_specs/gpt2_sm_scfuffn.yaml`.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
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
):
    """Count parameters, MACs, FLOPs and nonlinear ops of an architecture, per op, layer and block;
    with --protocol, also communication, rounds and latency under MPC.

    Examples:

      pidse estimate arch_specs/gpt2_sm_ln_g.yaml --context 256 --flops-convention aero

      pidse estimate arch_specs/gpt2_sm_scfuffn.yaml -p aero-secretflow --baseline arch_specs/gpt2_sm_ln_g.yaml
    """
    from pidse.cost.registry import load_table
    from pidse.cost.setting import resolve_setting
    from pidse.model.estimate import estimate as run_estimate
    from pidse.report.render import render
    from pidse.spec.load import load_spec

    if protocol is None and (network or bandwidth or rtt or baseline or allow_missing or hardware or phase):
        raise InputError("--network/--bandwidth/--rtt/--hardware/--phase/--baseline/--allow-missing", None,
                         "--protocol TABLE as well: they only apply to priced estimates")
    table = load_table(protocol) if protocol else None
    setting = resolve_setting(table, network, bandwidth_bps(bandwidth), seconds(rtt), hardware, phase) \
        if table else None
    price = dict(convention=convention.value, table=table, setting=setting, allow_missing=allow_missing)
    result = run_estimate(load_spec(spec, set_, context), **price)
    base = run_estimate(load_spec(baseline, set_, context), **price) if baseline else None
    grouping = (by.value if by else ("op" if fmt in (Format.json, Format.csv) else "block"))
    typer.echo(render(result, fmt.value, grouping, base).rstrip("\n"))


@app.command()
@user_errors
def calibrate(
    data: Optional[Path] = typer.Argument(None, metavar="[DATA.csv]", help="Measured rows: spec (+ set) or AERO "
                                          "label, context, comm_bytes|comm_gb, latency_s|latency_min, network, "
                                          "weight, source. Not with --engine.", show_default=False),
    template: Optional[Path] = typer.Option(None, "--template", "-t", help="Cost table with coefficient symbols "
                                            "to fit (cost_tables/templates/*.yaml).", show_default=False),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the fitted table here (YAML). With "
                                       "--engine: default a new folder pidse-calibration in the working "
                                       "directory (never over a shipped table)."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Format of the residual table."),
    engine: Optional[str] = typer.Option(None, "--engine", metavar="NAME", help="Measure every op kind with a "
                                         "real engine instead of fitting DATA.csv: spu (SecretFlow SPU, the spu "
                                         "extra), tenseal (CKKS primitives with SEAL, the he extra)."),
    protocol: Optional[str] = typer.Option(None, "--protocol", "-p", metavar="NAME", help="The engine's "
                                           "protocol (spu: cheetah, semi2k, aby3)."),
    shapes: str = typer.Option("full", "--shapes", metavar="SET", help="Engine shapes: small (seconds) or full."),
    repeats: int = typer.Option(3, "--repeats", min=1, help="Engine: warm runs per shape (the median is kept)."),
    bootstrap: str = typer.Option("anchor", "--bootstrap", metavar="SOURCE", help="--engine tenseal: the "
                                  "bootstrap price from a published anchor (anchor), or timed here with "
                                  "desilofhe (desilofhe: ~3 min, ~7 GB of memory)."),
):
    """Fit a cost table's per-op coefficients to measured whole-model rows, or (--engine) measure every op
    kind with a real engine at several shapes and fit per-element, per-row and per-matrix terms.

    Non-negative fit (costs cannot be negative) of communication, then of latency with an effective
    bandwidth and RTT; flags data whose bytes could not cross the stated network in the time measured.

    Example: pidse calibrate cost_tables/data/aero-secretflow.csv -t cost_tables/templates/aero-secretflow.yaml
    -o cost_tables/aero-secretflow.yaml

    Example: pidse calibrate --engine spu --protocol semi2k --shapes small -o /tmp/spu-semi2k.yaml
    """
    if engine != "tenseal" and bootstrap != "anchor":
        raise InputError("--bootstrap", None, "only with --engine tenseal (the other engines have no bootstrap)")
    if engine is not None:
        from pidse.calibrate.engines import run_engine

        text, notes = run_engine(engine, protocol, shapes, repeats, out, fmt.value, bootstrap)
    elif data is None or template is None:
        raise InputError("pidse calibrate", None, "DATA.csv and --template TEMPLATE, or --engine NAME --protocol P")
    else:
        from pidse.calibrate import calibrate_file

        text, notes = calibrate_file(data, template, out, fmt.value)
    typer.echo(text.rstrip("\n"))
    for note in notes:
        typer.echo(note, err=True)


@app.command()
@user_errors
def validate(
    spec: Optional[Path] = typer.Argument(None, metavar="SPEC | [FILE]", show_default=False,
                                          help="Architecture spec (keep it small: SPU runs it); with --published, "
                                               "a CSV of published measurements (default: the shipped one)."),
    published: bool = typer.Option(False, "--published", help="Price every row of a published-measurements CSV "
                                   "with the table that models its system, and write validation.md and "
                                   "validation.png to --out."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", metavar="DIR", show_default=False,
                                       help="--published: the folder for validation.md and validation.png "
                                            "(default: a new folder pidse-validation in the working directory)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="--published: replace an earlier validation.md in "
                                   "--out."),
    engine: str = typer.Option("spu", "--engine", metavar="NAME", help="The engine that runs the model: spu."),
    protocol: Optional[str] = typer.Option(None, "--protocol", "-p", metavar="TABLE", show_default=False,
                                           help="The SPU table to check (spu-cheetah, spu-semi2k, spu-aby3); the "
                                                "engine runs its protocol. A bare cheetah, semi2k or aby3 works "
                                                "too."),
    table: Optional[str] = typer.Option(None, "--table", metavar="TABLE", help="Cost table to check (default "
                                        "spu-<protocol>)."),
    context: Optional[int] = typer.Option(None, "--context", "-T", metavar="T", help="Prompt tokens T."),
    set_: List[str] = typer.Option([], "--set", metavar="KEY=VALUE", help="Override a spec value."),
    repeats: int = typer.Option(2, "--repeats", min=1, help="Warm runs (the median is kept)."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table, markdown or json."),
):
    """Run a whole small transformer under a real engine and compare the bytes it measures with pidse's
    prediction, per op kind and in total (one-time setup and weight sharing reported apart).

    With --published: price every published measurement (per op and whole model) at its paper's setting and
    write a report of predicted against published (whole-model rows are compared, never fitted).

    Example: pidse validate arch_specs/gpt2_sm_ln_g.yaml -p semi2k --set model.layers=2 --set model.d_model=64
    --set model.heads=2 --set model.d_ff=256 --set model.vocab_size=512 -T 16

    Example: pidse validate --published
    """
    from pidse.spec.load import load_spec

    if published:
        return _validate_published(spec, out, overwrite)
    if spec is None or protocol is None:
        raise InputError("pidse validate", None, "SPEC and --protocol TABLE, or --published [FILE]")
    if protocol.startswith("spu-"):  # -p names the cost table, as everywhere; the engine runs its protocol
        table, protocol = table or protocol, protocol[len("spu-"):]
    if engine != "spu":
        raise InputError("--engine", None, "an engine name: spu", engine)
    from pidse.calibrate.engines import spu

    spu.require(protocol)
    loaded = load_spec(spec, set_, context)
    from pidse.calibrate.engines import spu_validate

    result = spu_validate.validate(loaded, protocol, table, repeats)
    typer.echo(spu_validate.render(result, "json" if fmt == Format.json else fmt.value).rstrip("\n"))


def _validate_published(data: Optional[Path], out: Optional[Path], overwrite: bool) -> None:
    from pidse.calibrate.published import compare
    from pidse.files import output_dir, write_text_atomic
    from pidse.report import validation

    command = "pidse validate --published" + (f" {data}" if data else "") + (f" --out {out}" if out else "") \
        + (" --overwrite" if overwrite else "")
    out = output_dir(out, "pidse-validation", "validation.md", overwrite)
    rows = compare(data)
    validation.plot(rows, out / "validation.png")
    write_text_atomic(out / "validation.md", validation.markdown(rows, command, "validation.png"))
    judged = validation.verdicts(rows)
    typer.echo(validation.grid(*validation.summary_grid(judged, "table"), markdown=False))
    typer.echo(f"wrote {out / 'validation.md'} and {out / 'validation.png'} ({len(rows)} rows, "
               f"{len(rows) - len(judged)} not expressible)", err=True)


@app.command()
@user_errors
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
                                       help="Folder for sweep.csv, sweep.md and the plots (default: a new folder "
                                            "pidse-sweep in the working directory)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier sweep in --out (its sweep.md "
                                   "and files of the same names)."),
    db: Optional[Path] = typer.Option(None, "--db", envvar="PIDSE_DB", metavar="FILE", show_default=False,
                                      help="Measured-perplexity database (default $PIDSE_DB, else "
                                           "~/.local/share/pidse/ppl.sqlite)."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Format of the summary printed to stdout."),
):
    """Evaluate every point of a design space, join measured perplexities, mark the Pareto fronts
    (perplexity vs communication, vs latency) and write a CSV, a Markdown report and plots.

    Example: pidse sweep --context 128,256,512
    """
    from pidse.cost.registry import load_table
    from pidse.cost.setting import resolve_network
    from pidse.ppl.db import open_db
    from pidse.report.sweep import render_summary, write_outputs
    from pidse.search.space import load_space
    from pidse.search.sweep import sweep as run_sweep

    from pidse.files import output_dir

    design = load_space(space)
    contexts = int_list(context, "--context") if context else list(design.contexts) or [128]
    protocols = name_list(protocol, "--protocol") or design.protocols
    networks = name_list(network, "--network") or design.networks
    for name in protocols:  # bad names fail here, in one line, before any work
        table = load_table(name)
        for net in networks:
            resolve_network(name=net, table=table)

    bars = _progress_bars()

    given = (("--context", context), ("--space", None if space == "aero" else space), ("--protocol", protocol),
             ("--network", network), ("--out", out))
    command = " ".join(["pidse sweep"] + [f"{k} {v}" for k, v in given if v is not None]
                       + (["--overwrite"] if overwrite else []))
    out = output_dir(out, "pidse-sweep", "sweep.md", overwrite)
    _warn_networks(protocols, networks)
    with bars as bar, open_db(db) as store:
        df = run_sweep(design, contexts, protocols, networks, db=store, progress=bar)
        written = write_outputs(df, design, out, command, progress=bar)
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


def _progress_bars() -> _Bars:
    return _Bars()


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


class Metric(str, Enum):
    params = "params"
    macs = "macs"
    flops = "flops"
    comm = "comm"
    rounds = "rounds"
    compute = "compute"
    latency = "latency"


class FormulaBy(str, Enum):
    block = "block"
    kind = "kind"
    op = "op"  # the same as kind (an earlier name)


class FormulaFormat(str, Enum):
    text = "text"
    latex = "latex"


@app.command()
@user_errors
def formula(
    spec: Path = typer.Argument(..., metavar="SPEC", help="Architecture spec or HuggingFace config.json.",
                                show_default=False),
    metric: Optional[Metric] = typer.Option(None, "--metric", "-m", show_default=False,
                                            help="Which cost (default: comm with --protocol, else flops). comm, "
                                                 "rounds, compute and latency need --protocol."),
    by: Optional[FormulaBy] = typer.Option(None, "--by", help="One formula per block or per op kind (kind; op is "
                                           "the same) (default: the whole model)."),
    protocol: Optional[str] = typer.Option(None, "--protocol", "-p", metavar="TABLE", help="Cost table."),
    network: Optional[str] = typer.Option(None, "--network", "-n", metavar="PRESET",
                                          help="Put this network's bandwidth and RTT into latency (default: "
                                               "keep them as symbols BW, RTT)."),
    set_: List[str] = typer.Option([], "--set", metavar="KEY=VALUE", help="Override a spec value."),
    convention: Convention = typer.Option(Convention.dense, "--flops-convention", help="FLOPs convention."),
    fmt: FormulaFormat = typer.Option(FormulaFormat.text, "--format", "-f", help="text, or LaTeX (align*)."),
):
    """The closed form of a cost in T (context), L (layers), d (d_model), H (heads), d_ff, V (vocab), collected
    by powers of T. The same model as `pidse estimate`, with symbols for the sizes.

    Example: pidse formula arch_specs/gpt2_sm_ln_g.yaml --metric comm -p aero-secretflow --by kind
    """
    from pidse.cost.registry import load_table
    from pidse.cost.setting import resolve_network
    from pidse.model import symbolic
    from pidse.report.formula import render as render_formula
    from pidse.spec.load import load_spec

    loaded = load_spec(spec, set_)
    metric = metric or (Metric.comm if protocol else Metric.flops)
    needs_table = metric.value in ("comm", "rounds", "compute", "latency")
    if needs_table and not protocol:
        raise InputError("--metric", None, f"--protocol TABLE as well: {metric.value} is priced by a cost table",
                         metric.value)
    table = load_table(protocol) if protocol else None
    forms = symbolic.closed_forms(loaded, table, convention.value, None if by is None else
                                  "op" if by == FormulaBy.kind else by.value)
    net = resolve_network(network, table=table) if network else None
    values = {} if net is None else {symbolic.symbols()["BW"]: net.bandwidth_bps, symbolic.symbols()["RTT"]: net.rtt_s}
    lines = [(group, symbolic.rounded(exprs[metric.value].subs(values))) for group, exprs in forms.items()]
    typer.echo(render_formula(loaded, metric.value, lines, latex=fmt == FormulaFormat.latex, network=net))


@app.command()
@user_errors
def scaling(
    spec: Path = typer.Argument(..., metavar="SPEC", help="Architecture spec or HuggingFace config.json.",
                                show_default=False),
    context: str = typer.Option("128:32768", "--context", "-T", metavar="LO:HI",
                                help="Contexts: LO:HI (powers of two), LO:HI:xF, or a comma list."),
    protocol: Optional[str] = typer.Option(None, "--protocol", "-p", metavar="TABLE", help="Cost table."),
    network: Optional[str] = typer.Option(None, "--network", "-n", metavar="PRESET", help="Network preset "
                                          "(default: the table's)."),
    set_: List[str] = typer.Option([], "--set", metavar="KEY=VALUE", help="Override a spec value."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Write a PNG of costs and shares against T."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Output format of the table."),
):
    """How costs and each op kind's share grow with context, and the crossovers solved on the closed forms:
    attention vs FFN FLOPs, when softmax leads communication, when bandwidth time overtakes round trips.

    Example: pidse scaling arch_specs/gpt2_sm_ln_g.yaml -p aero-secretflow --plot reports/scaling_gpt2.png
    """
    from pidse.cost.registry import load_table
    from pidse.cost.setting import resolve_network
    from pidse.report import scaling as scaling_output
    from pidse.search import scaling as sc
    from pidse.spec.load import load_spec

    loaded = load_spec(spec, set_)
    contexts = sc.parse_contexts(context)
    table = load_table(protocol) if protocol else None
    net = resolve_network(network, table=table) if table else None
    rows = sc.scaling_table(loaded, contexts, table, net)
    crossings = sc.crossovers(loaded, table, net)
    typer.echo(scaling_output.render(loaded, rows, crossings, fmt.value).rstrip("\n"))
    beyond = [T for T in contexts if T > loaded.model.max_context]
    if beyond:
        typer.echo(f"note: T = {', '.join(f'{T:,}' for T in beyond)} exceed this model's max_context "
                   f"({loaded.model.max_context:,}): a what-if (learned positions grow with T)", err=True)
    if plot:
        scaling_output.plot(loaded, rows, crossings, plot, table, net)
        typer.echo(f"wrote {plot}", err=True)


@app.command()
@user_errors
def compare(
    specs: List[str] = typer.Argument(..., metavar="SPEC...", help="Specs to compare: shipped names or paths.",
                                      show_default=False),
    context: Optional[str] = typer.Option(None, "--context", "-T", metavar="T[,T...]",
                                          help="Prompt tokens, one or a comma list (default: each spec's)."),
    protocol: Optional[str] = typer.Option(None, "--protocol", "-p", metavar="TABLE",
                                           help="Price with a cost table (without: counts only)."),
    network: Optional[str] = typer.Option(None, "--network", "-n", metavar="PRESET", help="Network preset "
                                          "(default: the table's own)."),
    hardware: Optional[str] = typer.Option(None, "--hardware", metavar="NAME", help="Hardware preset."),
    baseline: Optional[str] = typer.Option(None, "--baseline", metavar="SPEC", help="Savings against this spec "
                                           "(default: the first SPEC)."),
    set_: List[str] = typer.Option([], "--set", metavar="KEY=VALUE", help="Override a value in every spec."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
):
    """Several architectures side by side: parameters and FLOPs, and with --protocol communication, rounds and
    latency, with savings against a baseline (the first spec unless --baseline is given).

    Example: pidse compare gpt2_sm_ln_g gpt2_sm_scfuffn gpt2_sm_t_scfuffn_ereg -p aero-secretflow -T 128,256
    """
    from pidse.api import compare as run_compare
    from pidse.report.compare import render as render_compare

    contexts = int_list(context, "--context") if context else [None]
    frame = run_compare(specs, baseline or specs[0], protocol, contexts, network, hardware, set_)
    typer.echo(render_compare(frame, fmt.value).rstrip("\n"))


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
    """List what pidse ships: architecture specs, cost tables (family, system, hardware, network, phases),
    network presets and hardware presets.

    Example: pidse list tables
    """
    from pidse.report.listing import render as render_list

    typer.echo(render_list(what.value, fmt.value).rstrip("\n"))


from pidse.cli.ppl import app as ppl_app  # noqa: E402  (sub-apps mount after the main app exists)

app.add_typer(ppl_app, name="ppl", help="The measured-perplexity database: list, add, import, export.")

from pidse.cli.train import register as register_train  # noqa: E402  (train, entropy; torch imported inside)

register_train(app)


def main():  # console-script entry point
    app(prog_name="pidse")


if __name__ == "__main__":
    sys.exit(main())
