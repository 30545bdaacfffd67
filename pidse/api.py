"""The Python API for notebooks and scripts: names in, DataFrames out.

    import pidse
    r = pidse.estimate("gpt2_sm_scfuffn", protocol="aero-secretflow", context=256, overrides={"model.layers": 6})
    r.totals                     # one-row DataFrame: params, macs, flops, comm_bytes, rounds, compute_s, latency_s
    r.ops                        # one row per op
    r.by("kind")                 # per op kind (also "layer", "block", "stage", "part", "step")
    pidse.compare(["gpt2_sm_ln_g", "gpt2_sm_scfuffn"], baseline="gpt2_sm_ln_g", protocol="aero-secretflow",
                  context=[128, 256])

A spec is a shipped name, a path (YAML or HF config.json), a mapping (a spec's YAML as a dict) or a Spec, or a
PyTorch model to trace (an nn.Module, "FILE.py:FACTORY", a config.json with trace=True); a protocol is a table
name or path; network and hardware are preset names. The CLI is a thin shell over the same
functions.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from pidse.cost.registry import list_tables, load_table
from pidse.cost.setting import resolve_hardware, resolve_network, resolve_setting
from pidse.errors import InputError, cut
from pidse.model.estimate import COUNT_COLUMNS, Estimate, Origin, estimate_graph
from pidse.model.estimate import estimate as run_estimate
from pidse.ppl.db import open_db
from pidse.schema import from_mapping
from pidse.search.space import load_space
from pidse.search.sweep import sweep as run_sweep
from pidse.spec.definition import Spec, validate
from pidse.spec.load import apply_overrides, load_spec
from pidse.trace import check_supported, is_module, is_target
from pidse.trace import trace as trace_model

GROUPS = ("kind", "layer", "block", "stage", "part", "step")


def as_spec(spec, overrides=None, context: int | None = None) -> Spec:
    """A Spec from a name, path, mapping or Spec, with overrides ({dotted key: value} or ["key=value", ...])."""
    items = list(overrides.items()) if isinstance(overrides, dict) else list(overrides or ())
    if context is not None:
        items.append(("inference.context", int(context)))
    if isinstance(spec, (str, Path)):
        return load_spec(spec, items)
    if isinstance(spec, Spec):
        if not items:
            return spec
        spec = {k: v for k, v in dataclasses.asdict(spec).items() if k != "source"}
    if isinstance(spec, dict):
        data, _ = apply_overrides(spec, items)
        data.setdefault("name", "spec")
        return validate(from_mapping(Spec, data, "spec"))
    raise InputError("spec", None, "a shipped spec name, a path, a mapping or a Spec", type(spec).__name__)


class Result:
    """One estimate: `totals`, `ops` and `by(group)` as DataFrames; `estimate` is the underlying Estimate."""

    def __init__(self, est: Estimate):
        self.estimate = est

    @property
    def spec(self) -> Spec:
        return self.estimate.spec

    @property
    def totals(self):
        import pandas as pd  # lazy: pandas is a second of import on this machine

        row = {"spec": self.spec.name, "context": self.spec.context, **self.estimate.totals}
        if self.estimate.table is not None:
            machine = self.estimate.setting.hardware or self.estimate.table.hardware
            row.update(protocol=self.estimate.table.name, network=self.estimate.network.name,
                       hardware=machine.name if machine is not None else "", phase=self.estimate.setting.phase)
        return pd.DataFrame([row])

    @property
    def ops(self):
        """One row per op; a generation's decode steps as one template per op (`steps`: how many it stands for)."""
        return self.estimate.frame()

    def by(self, group: str = "kind"):
        """Costs summed per op kind, layer, block, stage, part (fixed / layer / ffn) or step (0: the prefill, then
        each decode step)."""
        if group not in GROUPS:
            raise InputError("by", None, "one of " + ", ".join(GROUPS), group)
        if group == "step":  # per step: from the templates' per-step values, in the CLI's exact sums
            import pandas as pd

            return pd.DataFrame(self.estimate.breakdown("step"))
        frame = self.ops
        columns = [c for c in self.estimate.columns if c in frame]
        return frame.groupby(group, dropna=False, sort=False)[columns].sum(min_count=1).reset_index()

    @property
    def unsupported(self):
        """A traced model's ops that could not be classified (op, calls, shape, where, params): left out of every
        count and cost, never counted as zero. Empty for a spec."""
        import pandas as pd

        rows = list(getattr(self.spec, "unsupported", ()))
        return pd.DataFrame(rows, columns=["op", "calls", "shape", "where", "params"])

    def __repr__(self) -> str:
        t = self.estimate.totals
        text = f"<pidse Result {self.spec.name}, T={self.spec.context}: {t['params'] / 1e6:.2f}M params, " \
               f"{t['flops'] / 1e9:.2f} GFLOPs"
        if self.estimate.table is not None:
            text += f", {self.estimate.table.name}: {t['comm_bytes'] / 1e9:.3f} GB, {t['rounds']:,.0f} rounds, " \
                    f"{t['latency_s']:.1f} s"
        return text + ">"

    def _repr_html_(self) -> str:
        return f"<p><b>{self.spec.name}</b> ({self.spec.label or 'no label'})</p>" + \
            self.totals.to_html(index=False) + self.by("kind").to_html(index=False)


def estimate(spec, protocol=None, network: str | None = None, hardware: str | None = None, phase: str | None = None,
             context: int | None = None, overrides=None, convention: str = "dense",
             allow_missing: bool = False, trace: bool = False, op_map=None,
             allow_unsupported: bool = False) -> Result:
    """Count (and, with a protocol, price) every op of `spec`; see the module docstring. `spec` may also be a
    PyTorch model to trace: an nn.Module, "FILE.py:FACTORY", or a HuggingFace config.json with `trace=True`
    (`op_map`: a --map file; `allow_unsupported`: price what the trace classified and list the rest)."""
    if trace or is_module(spec) or is_target(spec):
        if overrides:
            raise InputError("overrides", None, "no overrides for a traced model: it has no spec keys (change the "
                                                "model or its config)")
        if protocol is None and (network or hardware or phase):
            raise InputError("network/hardware/phase", None, "a protocol (cost table) as well")
        table = load_table(str(protocol)) if protocol is not None else None
        setting = resolve_setting(table, network, hardware=hardware, phase=phase) if table is not None else None
        return Result(estimate_traced(spec, context, convention, table, setting, allow_missing, op_map,
                                      allow_unsupported, hf=trace))
    loaded = as_spec(spec, overrides, context)
    if protocol is None:
        if network or hardware or phase:
            raise InputError("network/hardware/phase", None, "a protocol (cost table) as well")
        return Result(run_estimate(loaded, convention))
    table = load_table(str(protocol))
    setting = resolve_setting(table, network, hardware=hardware, phase=phase)
    return Result(run_estimate(loaded, convention, table, setting=setting, allow_missing=allow_missing))


def estimate_traced(target, context: int | None = None, convention: str = "dense", table=None, setting=None,
                    allow_missing: bool = False, op_map=None, allow_unsupported: bool = False,
                    hf: bool = False) -> Estimate:
    """Trace `target` (pidse.trace.trace) and count and price its ops like a spec's. Ops the trace cannot classify
    are an InputError naming them, unless `allow_unsupported` (then they are in `estimate.spec.unsupported`)."""
    traced = trace_model(target, context, op_map, hf)
    if not allow_unsupported:
        check_supported(traced)
    origin = Origin(traced.name, traced.source, traced.context, unsupported=tuple(traced.unsupported),
                    notes=tuple(traced.notes))
    return estimate_graph(traced.nodes, traced.edges, origin, convention, table, setting=setting,
                          allow_missing=allow_missing)


def compare(specs, baseline=None, protocol=None, context=None, network: str | None = None,
            hardware: str | None = None, overrides=None, convention: str = "dense", phase: str | None = None):
    """One row per (spec, context, protocol): totals side by side, with `x` columns (baseline / this, under the
    same protocol) when a baseline is given. `context` is one context or a list; `protocol` one table, a list, or
    "all" (every shipped table). With several tables, a table that cannot price a spec (no cost for some op, no
    figure for the `phase` asked, compute that cannot be re-priced on the `hardware` asked) gives that row no
    costs (NaN) and says why in `not_priced`, instead of failing: "what would this cost under each system?" has
    an answer for the systems that can price it."""
    import pandas as pd

    contexts = context if isinstance(context, (list, tuple)) else [context]
    tables = protocols(protocol)
    several = len(tables) > 1
    if several:  # a misspelt preset is one error, not a row per table
        if hardware is not None:
            resolve_hardware(hardware)
        if network is not None:
            resolve_network(network)
    rows = []
    for T in contexts:
        for table in tables:
            run = (lambda spec: _compared(spec, table, network, hardware, phase, T, overrides, convention, several))
            base = None if baseline is None else run(baseline)
            for spec in specs:
                row = run(spec)
                if base is not None:
                    for col in ("flops", "comm_bytes", "rounds", "latency_s"):
                        mine, theirs = row.get(col), base.get(col)
                        if mine and theirs is not None and mine == mine and theirs == theirs:
                            row[f"{col}_x"] = theirs / mine
                rows.append(row)
    return pd.DataFrame(rows)


def protocols(protocol) -> list:
    """[None] (counts only), one table, a list of tables, or "all": every shipped table, by name."""
    if protocol is None:
        return [None]
    if isinstance(protocol, str) and protocol == "all":
        return list_tables()
    names = list(protocol) if isinstance(protocol, (list, tuple)) else [protocol]
    if not names:
        raise InputError("protocol", None, "a cost table, a list of them, or all", protocol)
    return names


def _compared(spec, table, network, hardware, phase, context, overrides, convention, several: bool) -> dict:
    """One row of `compare`: totals and label; with several tables, `not_priced` says why a row has no costs (a
    partial sum would read as the cost): ops the table has no cost for, a phase it gives no figure for, or a
    machine its compute cannot be re-priced on."""
    why = ""
    try:
        r = estimate(spec, table, network, hardware, phase=phase, context=context, overrides=overrides,
                     convention=convention, allow_missing=several)
    except InputError as err:
        if not (several and err.source in ("--phase", "--hardware")):
            raise
        if err.source == "--phase":  # "online for T: it models the online phase only (sources)"
            why = f"no {phase} figure: " + err.expected.split(": ", 1)[-1].split(" (")[0]
        else:  # "a GPU like T's M (gpu, ...): pidse re-prices ..." or "a table that names its hardware: ..."
            why = f"not re-priced on {hardware}: needs " + err.expected.split(" (")[0].split(":")[0]
        why = cut(why, 100)
        r = estimate(spec, table, network, None if err.source == "--hardware" else hardware, context=context,
                     overrides=overrides, convention=convention, allow_missing=True)  # the row's other columns
    row = r.totals.iloc[0].to_dict()
    row["label"] = r.spec.label or ""
    if r.estimate.uncosted and not why:
        why = "no cost for " + ", ".join(r.estimate.uncosted)
    if several:
        row["not_priced"] = why
    if why:
        row["phase"] = phase or row.get("phase")
        for col in r.estimate.columns:
            if col not in COUNT_COLUMNS and col in row:
                row[col] = float("nan")
    return row


def sweep(space: str = "aero", context=None, protocol=None, network=None, db=None):
    """Every point of a design space (a name in arch_specs/spaces/ or a path) as one DataFrame, with measured
    perplexities from the database (`db`: a path; default $PIDSE_DB or ~/.local/share/pidse/ppl.sqlite) and the
    Pareto fronts. `context`, `protocol` and `network` take one value or a list; default: the space's."""
    design = load_space(space)
    listed = (lambda v: None if v is None else list(v) if isinstance(v, (list, tuple)) else [v])
    with open_db(db) as store:
        return run_sweep(design, listed(context), listed(protocol), listed(network), db=store)
