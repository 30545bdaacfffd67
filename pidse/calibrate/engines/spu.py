"""Run JAX functions under SecretFlow SPU and read the engine's own link statistics.

Protocols: 2PC CHEETAH (OT + HE, no dealer), 2PC SEMI2K (Beaver triples from a trusted dealer that SPU
simulates locally: its bytes are the ONLINE phase only), 3PC ABY3 (replicated sharing). Ring FM64, SPU's
default 18 fraction bits. One `Session` = one `spu.api.Runtime` per party over in-memory links
(`libspu.link.create_mem`), the parties run as threads (the pattern of `spu.utils.simulation.Simulator`).

Where every number comes from (SPU 0.9.5; its Python link object exposes no counters):
  With `RuntimeConfig.enable_pphlo_profile` and `enable_hal_profile`, every party's `Runtime.run` ends by
  logging (libspu api.cc, printProfilingData)
      Link details: total send bytes X, recv bytes Y, send actions A, recv actions B
  = the difference of that party's link counters over this run (Cheetah's OT/HE sub-links share the parent's
  counters, so they are included), and one line per kernel (pphlo op, HAL function, MPC kernel)
      - NAME, executed N times, duration Ds, send bytes X recv bytes Y, send actions A, recv actions B
  We send SPU's log to a private file (`libspu.logging.setup_logging`, console off), run the parties, join
  them, and parse exactly the lines appended during that run: one Link line per party (checked; the lines
  name no party, so per-party figures are kept in descending order).
  - send_bytes:   sum over parties of `send bytes` (both directions: it equals the sum of `recv bytes`, checked)
  - messages:     each party's `send actions` (SPU counts messages, not round trips)
  - rounds:       ESTIMATE: the second-largest per-party message count (two parties: the smaller). A round
                  trip needs a message from at least two parties, so for ping-pong traffic this bounds the
                  round trips from above; SEMI2K/ABY3 exchange one message per party per round, so there it
                  is exact; CHEETAH streams many OT messages one way, where it can overcount the messages
                  the other party answers in one batch.
  - wall_s:       Python wall time from starting the party threads to joining them: compute of all parties
                  on THIS machine (shared cores) over a zero-latency link.
  - weight_share_bytes: sum of the `v2a` kernel lines. A server-held plaintext weight is given to SPU as the
                  server's PRIVATE input (`make_shares(W, VIS_SECRET, owner_rank=SERVER)` with
                  `experimental_enable_colocated_optimization`): CHEETAH multiplies it in plaintext against
                  encrypted shares (no v2a at all); SEMI2K converts it locally (v2a costs 0 bytes) and its
                  Beaver matmul then opens W - b at every run (kept in comm: that is SPU's protocol); ABY3 has
                  no private x secret kernel and secret-shares the weight (v2a) at every run. A deployment
                  shares the weights once, so v2a bytes are a one-time cost, reported apart and NOT in
                  `query_bytes` = send_bytes - weight_share_bytes.
  The first run of an executable in a session carries one-time setup (Cheetah's OT base setup and HE keys,
  a few MB, partly in the second run); `measure` runs it once, then warm runs, and reports their MEAN
  (median, min and max kept too); setup_bytes = first-run bytes - that mean. Why the mean: CHEETAH draws
  multiplication triples and OTs from buffers that it refills in batches (e.g. ~1.1 MB of HE traffic for a
  batch of triples), so a small op costs 36 KB in most runs and 1.2 MB in the run that refills; the median
  would drop the refills, which a model pays in proportion to what it consumes. Calibration therefore keeps
  CHEETAH's warm runs of buffer-consuming ops going until they moved 16 MB or processed 65,536 elements (many
  refills), and those of its HE matmuls (deterministic within 0.05%) until they agree within 1%; SEMI2K and
  ABY3 are deterministic (every warm run identical), so there mean = median.
"""
from __future__ import annotations

from pidse.errors import InputError
import re
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

PROTOCOLS = {"cheetah": 2, "semi2k": 2, "aby3": 3}  # name -> parties
SERVER = 1  # the rank that holds the model's weights; the client's input arrives secret-shared
ONLINE_ONLY = {"semi2k": "SEMI2K's Beaver triples come from a trusted dealer that SPU simulates without "
                         "network traffic: every byte here is the ONLINE phase only (the dealer's offline "
                         "traffic is not measured)"}

_LINK = re.compile(r"Link details: total send bytes (\d+), recv bytes (\d+), send actions (\d+), "
                   r"recv actions (\d+)")
_KERNEL = re.compile(r"\] - (\S+), executed (\d+) times, duration ([0-9.eE+-]+)s, send bytes (\d+) recv bytes "
                     r"(\d+), send actions (\d+), recv actions (\d+)")
_LOG = {"path": None, "lock": threading.Lock()}


def require(protocol: str | None = None) -> None:
    """One clear line when the extra is missing or the protocol unknown (before any work)."""
    if protocol is not None and protocol not in PROTOCOLS:
        raise InputError("--protocol", None, "an SPU protocol: " + ", ".join(PROTOCOLS), protocol)
    try:
        import spu  # noqa: F401
    except ImportError:
        raise InputError("--engine", None, "SecretFlow SPU installed: pip install -e '.[spu]'", "spu") from None


def version() -> str:
    import spu

    return getattr(spu, "__version__", None) or spu.version.__version__


@dataclass(frozen=True)
class RunStats:
    """One run of one executable, from the log lines of all parties."""
    send_bytes: int  # summed over parties
    recv_bytes: int
    messages: tuple  # per party, descending (SPU's lines name no party)
    kernels: dict = field(default_factory=dict)  # kernel name -> send bytes summed over parties
    wall_s: float = 0.0

    @property
    def weight_share_bytes(self) -> int:
        return self.kernels.get("v2a", 0)

    @property
    def query_bytes(self) -> int:
        return self.send_bytes - self.weight_share_bytes

    @property
    def rounds(self) -> int:
        return self.messages[1] if len(self.messages) > 1 else self.messages[0]


def parse_run(text: str, parties: int, wall_s: float = 0.0) -> RunStats:
    """RunStats from the log lines one run appended; exactly one `Link details` line per party."""
    links = [tuple(int(v) for v in m.groups()) for m in _LINK.finditer(text)]
    if len(links) != parties:
        raise RuntimeError(f"SPU logged {len(links)} 'Link details' lines for one run of {parties} parties; "
                           "is profiling on (enable_pphlo_profile, enable_hal_profile)?")
    send, recv = sum(x[0] for x in links), sum(x[1] for x in links)
    if send != recv:
        raise RuntimeError(f"SPU link counters disagree: {send} bytes sent, {recv} received over all parties")
    kernels: dict = {}
    for m in _KERNEL.finditer(text):
        kernels[m.group(1)] = kernels.get(m.group(1), 0) + int(m.group(4))
    return RunStats(send, recv, tuple(sorted((x[2] for x in links), reverse=True)), kernels, wall_s)


@dataclass
class Measurement:
    """One executable in one session: its first run and its warm runs (means reported, see the module doc)."""
    first: RunStats
    warm: list

    def _mean(self, attr: str) -> float:
        return float(statistics.fmean(getattr(r, attr) for r in self.warm))

    @property
    def query_bytes(self) -> float:
        return self._mean("query_bytes")

    @property
    def median_bytes(self) -> float:
        return float(statistics.median(r.query_bytes for r in self.warm))

    @property
    def weight_share_bytes(self) -> float:
        return self._mean("weight_share_bytes")

    @property
    def setup_bytes(self) -> float:
        return max(0.0, self.first.send_bytes - self._mean("send_bytes"))

    @property
    def wall_s(self) -> float:
        return float(statistics.median(r.wall_s for r in self.warm))

    @property
    def typical(self) -> RunStats:
        """The warm run closest to the median bytes (its messages and rounds are reported)."""
        target = self.median_bytes
        return min(self.warm, key=lambda r: abs(r.query_bytes - target))

    @property
    def rounds(self) -> int:
        return self.typical.rounds

    def record(self) -> dict:
        """Raw numbers for a table's measurement record (plain types)."""
        warm = [r.query_bytes for r in self.warm]
        return {"comm_bytes": round(self.query_bytes, 1), "weight_share_bytes": round(self.weight_share_bytes, 1),
                "setup_bytes": round(self.setup_bytes, 1), "messages_per_party": list(self.typical.messages),
                "rounds": self.rounds, "wall_s": round(self.wall_s, 6), "warm_runs": len(warm),
                "warm_bytes_median": self.median_bytes, "warm_bytes_min": min(warm), "warm_bytes_max": max(warm),
                "first_run_bytes": self.first.send_bytes}


def _setup_logging() -> Path:
    """Route SPU's log to a private file once per process (console off); later runs read appended lines."""
    if _LOG["path"] is None:
        import spu.libspu as libspu

        path = Path(tempfile.mkdtemp(prefix="pidse-spu-")) / "spu.log"
        options = libspu.logging.LogOptions()
        options.enable_console_logger = False
        options.system_log_path = str(path)
        options.max_log_file_size = 1 << 40  # never rotate under us
        libspu.logging.setup_logging(options)
        _LOG["path"] = path
    return _LOG["path"]


def _threads(target, parties: int) -> list:
    results, errors = [None] * parties, [None] * parties

    def wrap(rank):
        try:
            results[rank] = target(rank)
        except BaseException as err:  # re-raised in the caller
            errors[rank] = err

    threads = [threading.Thread(target=wrap, args=(r,)) for r in range(parties)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for err in errors:
        if err is not None:
            raise err
    return results


class Session:
    """One SPU runtime per party over in-memory links; values stay secret-shared between runs."""

    def __init__(self, protocol: str):
        import spu.api as api
        import spu.libspu as libspu

        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown SPU protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}")
        self.protocol, self.parties = protocol, PROTOCOLS[protocol]
        self._log = _setup_logging()
        config = libspu.RuntimeConfig(protocol=getattr(libspu.ProtocolKind, protocol.upper()),
                                      field=libspu.FieldType.FM64)
        config.enable_pphlo_profile = True
        config.enable_hal_profile = True
        config.experimental_enable_colocated_optimization = True  # server-held weights stay private
        self.config, self._libspu = config, libspu
        self.io = api.Io(self.parties, config)
        desc = libspu.link.Desc()
        for rank in range(self.parties):
            desc.add_party(f"id_{rank}", f"thread_{rank}")
        # every party's runtime handshakes with the others on construction, so they start together
        self.runtimes = _threads(lambda r: api.Runtime(libspu.link.create_mem(desc, r), config), self.parties)

    def settings(self) -> dict:
        c = self.config
        return {"protocol": self.protocol, "parties": self.parties, "field": "FM64", "ring_bits": 64,
                "fraction_bits": c.fxp_fraction_bits or 18, "server_rank": SERVER,
                "colocated_optimization": bool(c.experimental_enable_colocated_optimization)}

    def put(self, name: str, value, owner: int | None = None) -> None:
        """A secret-shared value (owner None), or a party's private input (owner = its rank)."""
        import numpy as np

        shares = self.io.make_shares(np.asarray(value), self._libspu.Visibility.VIS_SECRET,
                                     owner_rank=-1 if owner is None else owner)
        for rt, share in zip(self.runtimes, shares):
            rt.set_var(name, share)

    def reveal(self, name: str):
        """Reconstruct a value locally (for correctness checks; no link traffic)."""
        return self.io.reconstruct([rt.get_var(name) for rt in self.runtimes])

    def drop(self, *names: str) -> None:
        for rt in self.runtimes:
            for name in names:
                rt.del_var(name)

    def compile(self, fn, args: list, in_names: list, out_names: list):
        """Compile fn(*args) (JAX) to an SPU executable reading in_names and writing out_names."""
        import spu.utils.frontend as fe

        vis = [self._libspu.Visibility.VIS_SECRET] * len(args)
        executable, _ = fe.compile(fe.Kind.JAX, fn, tuple(args), {}, list(in_names), vis,
                                   lambda outs: list(out_names)[:len(outs)])
        return executable

    def run(self, executable) -> RunStats:
        """Run once on every party; the link statistics that run logged."""
        with _LOG["lock"]:
            start = self._log.stat().st_size if self._log.exists() else 0
            t0 = time.perf_counter()
            _threads(lambda r: self.runtimes[r].run(executable), self.parties)
            wall = time.perf_counter() - t0
            text = ""
            for _ in range(200):  # lines are flushed as logged; allow the file a moment
                with open(self._log, "rb") as fh:
                    fh.seek(start)
                    text = fh.read().decode(errors="replace")
                if len(_LINK.findall(text)) >= self.parties:
                    break
                time.sleep(0.01)
        return parse_run(text, self.parties, wall)

    def measure(self, executable, repeats: int = 3, min_bytes: float = 0, min_elements: float = 0,
                elements: float = 0, max_runs: int = 256) -> Measurement:
        """A first run, then at least `repeats` warm runs, and more (at most max_runs) until they moved
        `min_bytes` or processed `min_elements` (`elements` per run); with min_elements 0, until the warm runs
        agree within 1% or moved min_bytes."""
        first, warm = self.run(executable), []

        def settled():
            sizes = [r.send_bytes for r in warm]
            if sum(sizes) >= min_bytes or len(warm) >= max_runs:
                return True
            if min_elements:
                return elements * len(warm) >= min_elements
            return max(sizes) - min(sizes) <= 0.01 * max(sizes)
        while len(warm) < max(1, repeats) or not settled():
            warm.append(self.run(executable))
        return Measurement(first, warm)
