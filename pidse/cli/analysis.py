"""`pidse formula` and `pidse scaling`: closed forms in the sizes, and how costs grow with context.
Each command imports what it needs inside it, lazily (sympy takes a third of a second)."""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from pidse.cli.options import Convention, Format
from pidse.errors import InputError, user_errors
from pidse.files import check_plot


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

    if plot:
        check_plot(plot)
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


def register(app: typer.Typer) -> None:
    """Add `formula`, `scaling` to the main app."""
    app.command("formula")(user_errors(formula))
    app.command("scaling")(user_errors(scaling))
