"""`pidse calibrate` and `pidse validate`: tables from measurements, and tables against measurements
(real engines, published rows). Each command imports what it needs inside it, lazily."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from pidse.cli.options import Format
from pidse.errors import InputError, user_errors


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
                                                "engine runs its protocol (a bare cheetah, semi2k or aby3 works "
                                                "too). With --published: price every row with this table instead "
                                                "of the table that models its system."),
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
        return _validate_published(spec, out, overwrite, protocol or table)
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


def _validate_published(data: Optional[Path], out: Optional[Path], overwrite: bool, table: Optional[str]) -> None:
    from pidse.calibrate.published import compare, read_rows
    from pidse.files import output_dir, write_text_atomic
    from pidse.report import validation

    command = "pidse validate --published" + (f" {data}" if data else "") + (f" -p {table}" if table else "") \
        + (f" --out {out}" if out else "") + (" --overwrite" if overwrite else "")
    read_rows(data)  # a malformed file fails before a folder is made for its report
    out = output_dir(out, "pidse-validation", "validation.md", overwrite)
    rows = compare(data, table)
    validation.plot(rows, out / "validation.png")
    write_text_atomic(out / "validation.md", validation.markdown(rows, command, "validation.png"))
    judged = validation.verdicts(rows)
    typer.echo(validation.grid(*validation.summary_grid(judged, "table"), markdown=False))
    typer.echo(f"wrote {out / 'validation.md'} and {out / 'validation.png'} ({len(rows)} rows, "
               f"{len(rows) - len(judged)} not expressible)", err=True)


def register(app: typer.Typer) -> None:
    """Add `calibrate`, `validate` to the main app."""
    app.command("calibrate")(user_errors(calibrate))
    app.command("validate")(user_errors(validate))
