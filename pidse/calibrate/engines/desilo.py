"""Time one CKKS bootstrap on this machine with desilofhe (the `he` extra), for the CPU table's bootstrap price.

SEAL (pidse/calibrate/engines/tenseal.py) has no bootstrapping. desilofhe's bootstrapping engine runs at N = 2^16 with
fixed parameters. Its regular bootstrap key does not fit in 24 GB (key generation fails past ~18 GB); the small
key (rotation keys derived on the fly from a roll key) needs ~7 GB and is the one measured here, so the time
includes that memory saving: ~170 s on one thread of this machine, against Lattigo's published 18 s at the same N
(he.md, A). The table's N is smaller, so the price is scaled by N log N, the bootstrapping work: a derived grade.
"""
from __future__ import annotations

from pidse.errors import InputError
import math
import platform
import resource
import statistics
import time


def require():
    try:
        import desilofhe  # noqa: F401
    except ImportError:

        raise InputError("--bootstrap desilofhe", None, "desilofhe installed (pip install -e '.[he]')") from None


def measure(repeats: int = 1, level_in: int = 3) -> dict:
    """Bootstrap a ciphertext at `level_in` `repeats` times on one thread; times, levels, accuracy, memory."""
    import importlib.metadata

    import desilofhe
    import numpy as np

    engine = desilofhe.Engine(mode="cpu", bootstrap=True, thread_count=1)
    secret = engine.create_secret_key()
    keys = (engine.create_relinearization_key(secret), engine.create_conjugation_key(secret),
            engine.create_roll_key(secret), engine.create_small_bootstrap_key(secret))
    values = np.random.default_rng(0).uniform(-1, 1, engine.slot_count)
    ct = engine.level_down(engine.encrypt(values, engine.create_public_key(secret)), level_in)
    raw = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = engine.bootstrap(ct, *keys)
        raw.append(time.perf_counter() - t0)
    return {"library": f"desilofhe {importlib.metadata.version('desilofhe')}", "ring_dim": 2 * engine.slot_count,
            "slots": engine.slot_count, "key": "small", "threads": 1, "level_in": level_in, "level_out": out.level, "median_s": statistics.median(raw),
            "raw_s": raw, "max_abs_error": float(np.max(np.abs(engine.decrypt(out, secret) - values))),
            "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "machine": platform.machine()}


def price(table: dict, measured: dict, date: str) -> None:
    """Set the table's bootstrap to the measured time scaled from the measured N to the table's (N log N), and
    keep the measurement under `measurements.bootstrap`."""
    n, m = table["params"]["ring_dim"], measured["ring_dim"]
    factor = n * math.log2(n) / (m * math.log2(m))
    table["primitives"]["bootstrap"] = {
        "seconds": float(f"{measured['median_s'] * factor:.4g}"),
        "source": f"measured by `pidse calibrate --engine tenseal --bootstrap desilofhe` ({date}): "
                  f"{measured['library']}, {measured['median_s']:.1f} s at N = {m} (small bootstrap key, one "
                  f"thread, level {measured['level_in']} -> {measured['level_out']}), x {factor:.3f} for "
                  f"N = {n} (work ~ N log N)",
        "grade": "derived"}
    table.setdefault("measurements", {})["bootstrap"] = measured
