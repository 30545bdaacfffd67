"""Time CKKS primitives with TenSEAL (Microsoft SEAL through `tenseal.sealapi`; the `he` extra) and write a
`family: ckks` cost table (cost_tables/ckks-tenseal-cpu.yaml).

Per ring dimension N (2^13, 2^14, 2^15; 128-bit security chains of 60-bit outer and 40-bit scaling primes) every
primitive is timed at the top level (fresh) and at the bottom (the lowest level it can run at); the table keeps
medians, and every raw timing, repeat count and library version under `measurements`. The table's own
parameters are the largest N measured. SEAL has no bootstrapping: its cost comes from the template (a published
anchor, graded there), or with bootstrap="desilofhe" from one timed here (pidse/calibrate/engines/desilo.py). Keys: only
the rotation keys timed (one step) are made, keeping memory near 1 GB at 2^15.
"""
from __future__ import annotations

import copy
import datetime
import platform
import statistics
import time

from pidse.calibrate.ckks import write_table
from pidse.calibrate.engines import desilo  # desilofhe itself is imported inside it, only when asked for
from pidse.errors import InputError
from pidse.files import check_target
from pidse.report.text import grid
from pidse.resources import TABLES_DIR
from pidse.spec.load import read_mapping

TEMPLATE = TABLES_DIR / "templates" / "ckks-tenseal-cpu.yaml"
CHAINS = {8192: [60, 40, 40, 60], 16384: [60] + [40] * 7 + [60], 32768: [60] + [40] * 18 + [60]}
RING_DIMS = {"small": (8192,), "full": (8192, 16384, 32768)}
TIMED = ("encode", "pmul", "cmul", "rot", "rescale", "add")


def require():
    try:
        import tenseal  # noqa: F401
    except ImportError:
        raise InputError("--engine tenseal", None, "TenSEAL installed (pip install -e '.[he]')") from None


class _Seal:
    """One SEAL CKKS context at ring dimension N with the keys the timings need."""

    def __init__(self, n: int):
        import tenseal.sealapi as sa

        self.sa, self.n, self.chain = sa, n, CHAINS[n]
        parms = sa.EncryptionParameters(sa.SCHEME_TYPE.CKKS)
        parms.set_poly_modulus_degree(n)
        parms.set_coeff_modulus(sa.CoeffModulus.Create(n, self.chain))
        self.ctx = sa.SEALContext(parms, True, sa.SEC_LEVEL_TYPE.TC128)
        keygen = sa.KeyGenerator(self.ctx)
        public = sa.PublicKey()
        keygen.create_public_key(public)
        self.relin, self.galois = sa.RelinKeys(), sa.GaloisKeys()
        keygen.create_relin_keys(self.relin)
        keygen.create_galois_keys([3], self.galois)  # the Galois element of a 1-step rotation (3^1 mod 2N)
        self.encoder = sa.CKKSEncoder(self.ctx)
        self.encryptor = sa.Encryptor(self.ctx, public)
        self.ev = sa.Evaluator(self.ctx)
        self.scale = 2.0 ** self.chain[1]
        self.values = [0.5] * (n // 2)

    @property
    def levels(self) -> int:
        return len(self.chain) - 2  # scaling primes: a fresh ciphertext has this many rescales left

    def plain(self, parms_id=None):
        pt = self.sa.Plaintext()
        if parms_id is None:
            self.encoder.encode(self.values, self.scale, pt)
        else:
            self.encoder.encode(self.values, parms_id, self.scale, pt)
        return pt

    def cipher(self, level: int):
        """A fresh ciphertext mod-switched down to `level` rescales left."""
        ct = self.sa.Ciphertext()
        self.encryptor.encrypt(self.plain(), ct)
        for _ in range(self.levels - level):
            self.ev.mod_switch_to_next_inplace(ct)
        return ct

    def calls(self, level: int) -> dict:
        """primitive -> a zero-argument call doing one of it on ciphertexts at `level`."""
        sa, ev = self.sa, self.ev
        a, b = self.cipher(level), self.cipher(level)
        pid = a.parms_id()
        pt = self.plain(pid)
        out = sa.Ciphertext()

        def cmul():
            ev.multiply(a, b, out)
            ev.relinearize_inplace(out, self.relin)

        def rescale():
            ev.multiply_plain(a, pt, out)
            ev.rescale_to_next_inplace(out)

        return {"encode": lambda: self.plain(pid), "pmul": lambda: ev.multiply_plain(a, pt, out), "cmul": cmul,
                "rot": lambda: ev.rotate_vector(a, 1, self.galois, out), "rescale": rescale,
                "add": lambda: ev.add(a, b, out)}


def _timings(call, repeats: int) -> list[float]:
    call()  # warm-up
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        out.append(time.perf_counter() - t0)
    return out


def measure(ring_dims=RING_DIMS["full"], repeats: int = 5) -> dict:
    """{N: {"levels": L, "top"|"middle"|"bottom": {primitive: {"median_s", "raw_s", "level"}}}}. The bottom is level 1,
    the lowest a multiply runs at (its product then rescales to level 0; at level 0 the product's scale would
    exceed the last prime). The rescale call includes a pmul, whose median is subtracted."""
    out = {}
    for n in ring_dims:
        seal = _Seal(n)
        res = {"levels": seal.levels, "coeff_modulus_bits": seal.chain}
        for where, level in (("top", seal.levels), ("middle", (seal.levels + 1) // 2), ("bottom", 1)):
            calls = seal.calls(level)
            rows = {}
            for prim in TIMED:
                raw = _timings(calls[prim], repeats)
                rows[prim] = {"median_s": statistics.median(raw), "raw_s": raw, "level": level}
            rows["rescale"]["median_s"] = max(rows["rescale"]["median_s"] - rows["pmul"]["median_s"], 0.0)
            res[where] = rows
        out[n] = res
        del seal
    return out


def versions() -> dict:
    import tenseal

    return {"tenseal": tenseal.__version__, "python": platform.python_version(), "machine": platform.machine(),
            "processor": platform.processor() or "unknown"}


def table_from(measured: dict, repeats: int) -> dict:
    """The template with the largest N's medians as level-dependent primitive seconds."""
    table = copy.deepcopy(read_mapping(TEMPLATE))
    n = max(measured)
    m = measured[n]
    chain = m["coeff_modulus_bits"]
    after = min(table["params"]["levels_after_bootstrap"], m["levels"])  # --shapes small: a 2-level chain
    table["params"].update(ring_dim=n, slots=n // 2, log_q=sum(chain), q0_bits=chain[0], scale_bits=chain[1],
                           special_bits=chain[-1], levels_fresh=m["levels"], levels_after_bootstrap=after)
    date = datetime.date.today().isoformat()
    for prim in TIMED:
        table["primitives"][prim] = {
            "seconds": {m[w][prim]["level"]: float(f"{m[w][prim]['median_s']:.4g}")
                        for w in ("bottom", "middle", "top")},
            "source": f"measured by `pidse calibrate --engine tenseal` ({date}): SEAL via TenSEAL "
                      f"{versions()['tenseal']}, N = {n}, median of {repeats} warm runs, one thread",
            "grade": "measured"}
    table["measurements"] = {"date": date, "versions": versions(), "repeats": repeats,
                             "ring_dims": {int(k): v for k, v in measured.items()}}
    return table


def summary(measured: dict) -> str:
    header = ["N", "level"] + list(TIMED)
    body = [[str(n), f"{where} ({m[where]['add']['level']})"] + [f"{m[where][p]['median_s'] * 1e3:.3f} ms"
                                                               for p in TIMED]
            for n, m in measured.items() for where in ("top", "middle", "bottom")]
    return grid(header, body, markdown=False)


BOOTSTRAP_SOURCES = ("anchor", "desilofhe")


def calibrate(out, shapes: str = "full", repeats: int = 5, bootstrap: str = "anchor") -> str:
    """Measure, write the table to `out`, return the timing summary. bootstrap: `anchor` keeps the template's
    published price; `desilofhe` times one bootstrap here (pidse/calibrate/engines/desilo.py: ~3 min, ~7 GB)."""
    require()
    if shapes not in RING_DIMS:
        raise InputError("--shapes", None, "one of " + ", ".join(RING_DIMS), shapes)
    if bootstrap not in BOOTSTRAP_SOURCES:
        raise InputError("--bootstrap", None, "one of " + ", ".join(BOOTSTRAP_SOURCES), bootstrap)
    check_target(out)  # before minutes of timing, not after
    if bootstrap == "desilofhe":
        desilo.require()
    measured = measure(RING_DIMS[shapes], repeats)
    table = table_from(measured, repeats)
    text = summary(measured)
    if bootstrap == "desilofhe":
        booted = desilo.measure()
        desilo.price(table, booted, table["measurements"]["date"])
        text += (f"\nbootstrap: {booted['median_s']:.1f} s at N = {booted['ring_dim']} ({booted['library']}, "
                 f"small key) -> {table['primitives']['bootstrap']['seconds']} s at N = {table['params']['ring_dim']}")
    write_table(table, out, "measured with TenSEAL" + (" and desilofhe" if bootstrap == "desilofhe" else ""))
    return text
