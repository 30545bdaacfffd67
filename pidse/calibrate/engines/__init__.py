"""Real engines that measure per-op costs for pidse's cost tables (optional extras; imported lazily).

  spu      SecretFlow SPU (`pip install -e '.[spu]'`): 2PC CHEETAH, 2PC SEMI2K, 3PC ABY3; see
           pidse.calibrate.engines.spu
  tenseal  CKKS primitives timed with SEAL through TenSEAL (`pip install -e '.[he]'`); see
           pidse.calibrate.engines.tenseal

run_engine(name, ...) is `pidse calibrate --engine NAME`: each engine measures, fits, writes its table and
returns its summary; ENGINES maps the names to them.
"""
from __future__ import annotations

from pidse.errors import InputError
from pidse.files import check_target, output_dir


def _spu(protocol, shapes, repeats, out, fmt, bootstrap) -> tuple[str, list[str]]:
    # lazy: the SPU engine modules bring numpy and, once measuring, SecretFlow SPU and jax (the heavy, optional
    # spu extra); spu.require names a missing extra or an unknown protocol before any of that is loaded
    from pidse.calibrate.engines import spu

    spu.require(protocol or "")
    from pidse.calibrate.engines import spu_calibrate

    if shapes not in spu_calibrate.SHAPES:
        raise InputError("--shapes", None, "one of " + ", ".join(spu_calibrate.SHAPES), shapes)
    path = check_target(out or _new_table_path(f"spu-{protocol}.yaml"))
    table = spu_calibrate.calibrate(protocol, shapes, repeats)
    text = spu_calibrate.summary(table, fmt)
    spu_calibrate.write(table, path)
    return text, [f"wrote {path}"]


def _tenseal(protocol, shapes, repeats, out, fmt, bootstrap) -> tuple[str, list[str]]:
    # lazy: the TenSEAL engine needs the heavy, optional he extra (TenSEAL/SEAL, desilofhe for --bootstrap)
    from pidse.calibrate.engines import tenseal

    path = out or _new_table_path("ckks-tenseal-cpu.yaml")
    return tenseal.calibrate(path, shapes, repeats, bootstrap), [f"wrote {path}"]


ENGINES = {"spu": _spu, "tenseal": _tenseal}


def run_engine(name: str, protocol: str | None = None, shapes: str = "full", repeats: int = 3, out=None,
               fmt: str = "table", bootstrap: str = "anchor") -> tuple[str, list[str]]:
    """Measure with engine `name`, fit and write its table (to `out`, or the shipped table's path). Returns the
    summary for stdout and the lines for stderr (the file written)."""
    if name not in ENGINES:
        raise InputError("--engine", None, "an engine name: " + ", ".join(ENGINES), name)
    return ENGINES[name](protocol, shapes, repeats, out, fmt, bootstrap)


def _new_table_path(name: str):
    """Without -o, a measured table goes to a new folder pidse-calibration in the working directory, never over
    a shipped table (copy it into cost_tables/ to ship it)."""
    return output_dir(None, "pidse-calibration", name, False) / name
