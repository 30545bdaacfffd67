"""Calibration: cost tables from measurements.

  calibrate_file   `pidse calibrate DATA.csv -t TEMPLATE`: the template's `family:` key picks the method:
                   ckks -> seconds per primitive derived from a published run's totals (pidse.calibrate.ckks);
                   otherwise (MPC) per-op coefficients fitted to measured whole-model rows (pidse.calibrate.fit)
  engines          `pidse calibrate --engine NAME`: measure with a real engine (pidse.calibrate.engines.run_engine)
"""
from __future__ import annotations

from pathlib import Path

from pidse.calibrate import ckks, fit
from pidse.calibrate.csvfile import is_file
from pidse.errors import InputError
from pidse.files import check_target
from pidse.report.render import residual_report
from pidse.spec.load import read_mapping


def template_family(template) -> str | None:
    """The `family:` a template declares ("mpc" when it declares none), or None when it is not a file (the
    fit then reports the missing template)."""
    path = Path(template)
    family = read_mapping(path).get("family", "mpc") if is_file(path) else None
    if family is not None and not isinstance(family, str):
        raise InputError(path, "family", "a family pidse can calibrate: " + ", ".join(CALIBRATORS), family)
    return family


def _fit_formulas(data, template, out, fmt: str) -> tuple[str, list[str]]:
    """MPC: per-op coefficients fitted to measured rows."""
    result = fit.fit(template, fit.read_rows(data))
    notes = [f"warning: {warning}" for warning in result.warnings]
    if out:
        fit.write_table(result, out)
        notes.append(f"wrote {out}")
    return residual_report(result, fmt), notes


def _derive_primitives(data, template, out, fmt: str) -> tuple[str, list[str]]:
    """CKKS: seconds per primitive from a published run's totals."""
    return ckks.calibrate_published(data, template, out), []


# How each protocol family's templates are calibrated (the families themselves: pidse/cost/registry.py).
CALIBRATORS = {"mpc": _fit_formulas, "ckks": _derive_primitives}


def calibrate_file(data, template, out=None, fmt: str = "table") -> tuple[str, list[str]]:
    """Fit or derive the table `template` describes from the measurements in `data`, write it to `out` if
    given. Returns the summary for stdout and the lines for stderr (warnings, the file written)."""
    if out:
        try:
            check_target(out)  # a bad --out fails before the work, not after
        except OSError as err:
            raise InputError(out, None, f"a file that can be written ({err.strerror})") from None
    family = template_family(template) or "mpc"  # a missing template: the fit names it
    if family not in CALIBRATORS:
        raise InputError(template, "family", "a family pidse can calibrate: " + ", ".join(CALIBRATORS), family)
    return CALIBRATORS[family](data, template, out, fmt)
