"""Where a table's costs are turned into time: a Setting is a network, the hardware compute runs on, and a phase;
`latency_s` is the one latency model every estimate, sweep, closed form, scaling table and plot uses.

    latency_s = compute_s + 8 * comm_bytes / bandwidth_bps + rounds * rtt_s

(batch 1, ops one after another, parallel inside an op). It works on numbers, numpy arrays and sympy expressions
alike, so the sweep's vectorised columns and `pidse formula`'s closed forms are the same model as an estimate.

Hardware: a table's compute_s is measured on the machine the table names. --hardware re-prices it by relative
throughput (pidse/data/hardware.yaml: threads x GHz for CPUs, fp32 TFLOP/s for GPUs; never across the two).
Phases: online, offline (a dealer's keys, preprocessing) and total, as far as a table separates them (its
`offline:` key); the default is the table's paper convention.
"""
from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass

from pidse.errors import InputError
from pidse.resources import DATA_DIR
from pidse.schema import BANDWIDTH_BPS, RTT_S, convert, suggest

NETWORKS_FILE = DATA_DIR / "networks.yaml"
HARDWARE_FILE = DATA_DIR / "hardware.yaml"
PHASES = ("online", "offline", "total")
# A table's `offline:` says what its op formulas cover: none (no offline phase: online = total, offline = 0),
# included (end-to-end totals the paper does not split), per_op (online formulas, and each op's `offline:`), or
# unknown (online formulas; the offline phase is not modelled).
OFFLINE_MODES = ("none", "included", "per_op", "unknown")
ALLOWED_PHASES = {"none": PHASES, "included": ("total",), "per_op": PHASES, "unknown": ("online",)}
UNITS = {"comm": ("GB", "GiB"), "scope": ("total", "per_party")}  # how a paper printed communication
HARDWARE_LIMITS = {"threads": (1, 1e6), "ghz": (0.01, 100.0), "tflops": (1e-3, 1e6)}  # beyond them: a typo


def latency_s(compute_s, comm_bytes, rounds, bandwidth_bps, rtt_s):
    """The latency model: compute, plus the bytes' time on the wire, plus one RTT per sequential round."""
    return compute_s + 8 * comm_bytes / bandwidth_bps + rounds * rtt_s


@dataclass(frozen=True)
class Network:
    name: str
    bandwidth_bps: float
    rtt_s: float
    source: str = ""

    def latency_s(self, comm_bytes, rounds, compute_s):
        return latency_s(compute_s, comm_bytes, rounds, self.bandwidth_bps, self.rtt_s)


@dataclass(frozen=True)
class Hardware:
    """A machine compute runs on: a CPU (threads x GHz) or a GPU (fp32 TFLOP/s)."""
    name: str
    kind: str  # cpu | gpu
    threads: int | None = None
    ghz: float | None = None
    tflops: float | None = None
    description: str = ""
    source: str = ""

    @property
    def throughput(self) -> float:
        return self.threads * self.ghz if self.kind == "cpu" else self.tflops

    def summary(self) -> str:
        threads = f"{self.threads} thread{'s' if self.threads != 1 else ''}"
        size = f"{threads} x {self.ghz:g} GHz" if self.kind == "cpu" else f"{self.tflops:g} TFLOP/s"
        return f"{self.name} ({self.kind}, {size})"


@dataclass(frozen=True)
class Setting:
    """The network, hardware and phase an estimate is priced for. `compute_scale` turns the table's measured
    compute_s into compute on `hardware` (1.0 on the table's own machine)."""
    network: Network
    hardware: Hardware | None = None  # None: the table's own machine (or a table that names none)
    phase: str = "online"
    compute_scale: float = 1.0

    def compute_s(self, measured_s):
        return measured_s if self.compute_scale == 1.0 else measured_s * self.compute_scale

    def latency_s(self, comm_bytes, rounds, compute_s):
        """Latency of an op whose compute_s is already priced for this setting's hardware."""
        return latency_s(compute_s, comm_bytes, rounds, self.network.bandwidth_bps, self.network.rtt_s)


@functools.lru_cache(maxsize=1)
def load_networks() -> dict[str, Network]:
    import yaml  # lazy: keeps `import pidse` and unpriced estimates quick

    data = yaml.safe_load(NETWORKS_FILE.read_text())
    return {name: Network(name, float(v["bandwidth_bps"]), float(v["rtt_s"]), v.get("source", ""))
            for name, v in data.items()}


def resolve_network(name: str | None = None, bandwidth_bps: float | None = None, rtt_s: float | None = None,
                    table=None) -> Network:
    """A preset by name (or the table's default), with --bandwidth / --rtt overriding its fields."""
    presets = load_networks()
    if name in (None, "table"):
        base = table.network if table and table.network else None
        if base is None and (bandwidth_bps is None or rtt_s is None):
            raise InputError("--network", None, "a preset name (" + ", ".join(presets) + "), or both "
                             "--bandwidth and --rtt, since the cost table names no default network")
        base = base or Network("custom", 0.0, 0.0)
    elif name in presets:
        base = presets[name]
    else:
        raise InputError("--network", None, "one of " + ", ".join(presets) + suggest(name, presets), name)
    if bandwidth_bps is not None:
        bandwidth_bps = number_in("--bandwidth", None, bandwidth_bps, BANDWIDTH_BPS,
                                  "a positive bandwidth in bits per second")
    if rtt_s is not None:
        rtt_s = number_in("--rtt", None, rtt_s, RTT_S, "a round-trip time in seconds")
    if bandwidth_bps is None and rtt_s is None:
        return base
    return Network(f"{base.name} (custom)" if base.name != "custom" else "custom",
                   bandwidth_bps if bandwidth_bps is not None else base.bandwidth_bps,
                   rtt_s if rtt_s is not None else base.rtt_s, base.source)


def resolve_setting(table, network: str | None = None, bandwidth_bps: float | None = None,
                    rtt_s: float | None = None, hardware: str | None = None, phase: str | None = None) -> Setting:
    """The Setting for pricing with `table`: its own network, machine and paper phase unless others are given."""
    net = resolve_network(network, bandwidth_bps, rtt_s, table)
    phase = resolve_phase(table, phase)
    own = table.hardware
    if hardware is None or (own is not None and hardware == own.name):
        return Setting(net, own, phase)
    target = resolve_hardware(hardware)
    return Setting(net, target, phase, compute_scale(table, target, hardware))


def compute_scale(table, target: Hardware, given: str, source: str = "--hardware") -> float:
    """The factor that re-prices `table`'s measured compute on `target` (relative throughput), between machines
    of one kind only; `given` is what the user named, `source` where."""
    own = table.hardware
    if own is None:
        raise InputError(source, None, f"a table that names its hardware: {table.name} does not say what "
                         "machine its compute_s was measured on, so it cannot be re-priced", given)
    if own.kind != target.kind:
        raise InputError(source, None, f"a {own.kind.upper()} like {table.name}'s {own.summary()}: pidse "
                         "re-prices compute between machines of one kind only", target.summary())
    return own.throughput / target.throughput


def resolve_phase(table, phase: str | None) -> str:
    """The phase to price: the table's paper convention by default; one its `offline:` mode allows otherwise."""
    mode = table.offline
    allowed = ALLOWED_PHASES[mode]
    if phase is None:
        return table.default_phase or allowed[0]
    if phase not in PHASES:
        raise InputError("--phase", None, "one of " + ", ".join(PHASES), phase)
    if phase not in allowed:
        why = {"included": "its costs are end-to-end totals its paper does not split into online and offline",
               "unknown": "it models the online phase only ("
                          + (table.offline_note or "its offline phase is not in its sources") + ")"}
        raise InputError("--phase", None, f"{' or '.join(allowed)} for {table.name}: {why[mode]}", phase)
    return phase


@functools.lru_cache(maxsize=1)
def load_hardware() -> dict[str, Hardware]:
    import yaml  # lazy, as for networks

    data = yaml.safe_load(HARDWARE_FILE.read_text())
    return {name: hardware_from(str(HARDWARE_FILE), name, value) for name, value in data.items()
            if name != "this-machine"}


def this_machine() -> Hardware:
    """This machine: its hardware threads and the highest clock /proc/cpuinfo reports."""
    threads = os.cpu_count() or 1
    try:
        with open("/proc/cpuinfo") as fh:
            mhz = [float(line.split(":")[1]) for line in fh if line.lower().startswith("cpu mhz")]
    except OSError:
        mhz = []
    if not mhz:
        raise InputError("--hardware", None, "a preset: this machine's clock cannot be read (no cpu MHz in "
                         "/proc/cpuinfo)", "this-machine")
    return Hardware("this-machine", "cpu", threads, round(max(mhz) / 1000, 2),
                    description="the machine pidse runs on", source="os.cpu_count() and /proc/cpuinfo")


def resolve_hardware(name: str) -> Hardware:
    if name == "this-machine":
        return this_machine()
    presets = load_hardware()
    if name not in presets:
        names = ["this-machine", *presets]
        raise InputError("--hardware", None, "one of " + ", ".join(names) + suggest(name, names), name)
    return presets[name]


def hardware_from(src: str, where: str, value) -> Hardware:
    """A hardware mapping ({kind: cpu, threads, ghz} or {kind: gpu, tflops}, plus description and source)."""
    expected = "{kind: cpu, threads, ghz} or {kind: gpu, tflops} (with description, source)"
    if not isinstance(value, dict) or value.get("kind") not in ("cpu", "gpu"):
        raise InputError(src, where, expected, value)
    unknown = set(value) - {"name", "kind", "threads", "ghz", "tflops", "description", "source"}
    if unknown:
        raise InputError(src, f"{where}.{sorted(map(str, unknown))[0]}", "one of name, kind, threads, ghz, tflops, "
                         "description, source")
    needs = ("threads", "ghz") if value["kind"] == "cpu" else ("tflops",)
    numbers = {}
    for key in needs:
        number = value.get(key)
        if isinstance(number, str) or (key == "threads" and not isinstance(number, int)):
            raise InputError(src, f"{where}.{key}", "a positive whole number" if key == "threads" else
                             "a positive number", number)
        numbers[key] = number_in(src, f"{where}.{key}", number, HARDWARE_LIMITS[key], "a positive number")
    return Hardware(str(value.get("name", where)), value["kind"], value.get("threads"), numbers.get("ghz"),
                    numbers.get("tflops"), str(value.get("description", "")), str(value.get("source", "")))


def table_hardware(src: str, value) -> Hardware | None:
    """A cost table's `hardware:` key: a preset name or a mapping (see hardware_from)."""
    if value is None:
        return None
    if isinstance(value, str):
        names = ["this-machine", *load_hardware()]
        if value not in names:
            raise InputError(src, "hardware", "a hardware preset (" + ", ".join(names) + ") or a mapping "
                             "{kind, threads, ghz | tflops}" + suggest(value, names), value)
        return resolve_hardware(value)
    return hardware_from(src, "hardware", value)


def table_scalars(src: str, data: dict, hints: dict) -> None:
    """A table's plain keys checked against type hints ({key: str | int | int | None ...}) with the spec
    schema's own converter: one error line naming the key and the type expected."""
    for key, hint in hints.items():
        if key in data:
            convert(hint, data[key], src, key)


def table_mapping(src: str, data: dict, key: str) -> dict:
    """A section of a table that maps names to entries (ops, constants, params, ...): {} where absent or
    empty, else a mapping whose keys are names (text)."""
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(src, key, "a mapping of names to entries", value)
    for name in value:
        if not isinstance(name, str):
            raise InputError(src, f"{key}.{name}", "a name (text) as the key", name)
    return value


def table_metadata(src: str, data: dict, unknown_offline: str = "the table does not say") -> dict:
    """What any family's table says about itself, as fields of its table object: the system it models, the
    published systems it `matches`, its hardware, phases (`offline`, `default_phase`) and `units`.
    `unknown_offline` is the reason given when the table does not say what its offline phase is."""
    offline, note = _offline(src, data.get("offline"), unknown_offline)
    return {"system": str(data.get("system") or ""), "matches": table_matches(src, data.get("matches")),
            "hardware": table_hardware(src, data.get("hardware")), "offline": offline, "offline_note": note,
            "default_phase": _default_phase(src, data.get("default_phase"), offline),
            "units": table_units(src, data.get("units"))}


def _offline(src: str, value, unknown_note: str) -> tuple[str, str]:
    """A table's `offline:` key -> (mode, note)."""
    if value is None:
        return "unknown", unknown_note
    if isinstance(value, dict) and set(value) == {"unknown"}:
        return "unknown", str(value["unknown"])
    if value in ("none", "included", "per_op"):
        return value, ""
    raise InputError(src, "offline", "none, included, per_op or {unknown: why}", value)


def _default_phase(src: str, value, offline: str) -> str | None:
    if value is None:
        return None
    if offline != "per_op" or value not in ("online", "total"):
        raise InputError(src, "default_phase", "online or total, with `offline: per_op` only", value)
    return value


def table_network(src: str, value, presets_only: bool = False) -> Network | None:
    """A cost table's `network:` key: a preset name, or (unless presets_only) {bandwidth_bps, rtt_s}."""
    if value is None:
        return None
    expected = "a network preset (" + ", ".join(load_networks()) + ")" + ("" if presets_only else
                                                                          " or {bandwidth_bps, rtt_s}")
    if isinstance(value, str):
        if value not in load_networks():
            raise InputError(src, "network", expected + suggest(value, load_networks()), value)
        return resolve_network(value)
    if not isinstance(value, dict) or presets_only:
        raise InputError(src, "network", expected, value)
    keys = ("name", "bandwidth_bps", "rtt_s", "source")
    for key in value:
        if key not in keys:
            raise InputError(src, f"network.{key}", "one of " + ", ".join(keys) + suggest(str(key), keys))
    for key in ("bandwidth_bps", "rtt_s"):
        if key not in value:
            raise InputError(src, f"network.{key}", "this key in a table's own network")
    return Network(str(value.get("name", "table")),
                   number_in(src, "network.bandwidth_bps", value["bandwidth_bps"], BANDWIDTH_BPS, "bits per second"),
                   number_in(src, "network.rtt_s", value["rtt_s"], RTT_S, "seconds"), str(value.get("source", "")))


def number_in(src: str, key: str | None, value, limits: tuple, what: str) -> float:
    """`value` as a float within `limits` (low, high), or an InputError naming the range: a NaN, an infinity, a
    negative or an absurd number is never priced. A numeric string counts: YAML 1.1 reads 1.0e9 as a number but
    1e9 as a string."""
    low, high = limits
    number = None
    if not isinstance(value, bool):
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            pass
    if number is None or not low <= number <= high:
        raise InputError(src, key, f"{what} from {low:g} to {high:g}", value)
    return number + 0.0  # -0.0 is 0


def table_matches(src: str, value) -> tuple:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(src, "matches", "a list of regular expressions on published system names", value)
    for pattern in value:
        try:
            re.compile(pattern)
        except re.error as err:
            raise InputError(src, "matches", f"valid regular expressions ({err})", pattern) from None
    return tuple(value)


def table_units(src: str, value) -> dict:
    units = {"comm": "GB", "scope": "total"}
    if value is None:
        return units
    if not isinstance(value, dict) or set(value) - set(UNITS):
        raise InputError(src, "units", "{comm: GB | GiB, scope: total | per_party}", value)
    for key, allowed in UNITS.items():
        if key in value and value[key] not in allowed:
            raise InputError(src, f"units.{key}", " or ".join(allowed), value[key])
    return {**units, **value}
