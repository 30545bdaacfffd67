"""Where a table's costs are turned into time: a Setting is a network, the hardware compute runs on, and a phase;
`latency_s` is the one latency model every estimate, sweep, closed form, scaling table and plot uses.

    latency_s = compute_s + 8 * comm_bytes / bandwidth_bps + rounds * rtt_s

(batch 1, ops one after another, parallel inside an op). It works on numbers, numpy arrays and sympy expressions
alike, so the sweep's vectorised columns and `pidse formula`'s closed forms are the same model as an estimate.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

from pidse.errors import InputError
from pidse.resources import DATA_DIR
from pidse.schema import suggest

NETWORKS_FILE = DATA_DIR / "networks.yaml"
PHASES = ("online",)  # what every shipped table prices today (offline/dealer phases: see DESIGN.md)


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
    """What compute runs on. Today every table's compute_s is priced as measured, on the machine the table
    names (`speed` 1.0); re-pricing compute for other hardware scales it by 1 / speed."""
    name: str = "table"
    speed: float = 1.0  # relative throughput against the table's measurement machine
    source: str = "the machine the table's compute_s was measured on"

    def compute_s(self, measured_s):
        return measured_s if self.speed == 1.0 else measured_s / self.speed


@dataclass(frozen=True)
class Setting:
    """The network, hardware and phase an estimate is priced for."""
    network: Network
    hardware: Hardware = field(default_factory=Hardware)
    phase: str = "online"

    def latency_s(self, comm_bytes, rounds, compute_s):
        return latency_s(self.hardware.compute_s(compute_s), comm_bytes, rounds, self.network.bandwidth_bps,
                         self.network.rtt_s)


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
    if bandwidth_bps is not None and bandwidth_bps <= 0:
        raise InputError("--bandwidth", None, "a positive bandwidth in bits per second", bandwidth_bps)
    if rtt_s is not None and rtt_s < 0:
        raise InputError("--rtt", None, "a round-trip time >= 0 in seconds", rtt_s)
    if bandwidth_bps is None and rtt_s is None:
        return base
    return Network(f"{base.name} (custom)" if base.name != "custom" else "custom",
                   bandwidth_bps if bandwidth_bps is not None else base.bandwidth_bps,
                   rtt_s if rtt_s is not None else base.rtt_s, base.source)


def resolve_setting(table, network: str | None = None, bandwidth_bps: float | None = None,
                    rtt_s: float | None = None) -> Setting:
    """The Setting for pricing with `table`: its own network unless a preset or overrides are given."""
    return Setting(resolve_network(network, bandwidth_bps, rtt_s, table))


def table_network(src: str, value, presets_only: bool = False) -> Network | None:
    """A cost table's `network:` key: a preset name, or (unless presets_only) {bandwidth_bps, rtt_s}."""
    if value is None:
        return None
    expected = "a network preset (" + ", ".join(load_networks()) + ")" + ("" if presets_only else
                                                                          " or {bandwidth_bps, rtt_s}")
    if isinstance(value, str):
        if value not in load_networks():
            raise InputError(src, "network", expected, value)
        return resolve_network(value)
    if isinstance(value, dict) and not presets_only:
        try:
            return Network(value.get("name", "table"), float(value["bandwidth_bps"]), float(value["rtt_s"]),
                           value.get("source", ""))
        except (KeyError, TypeError, ValueError):
            raise InputError(src, "network", "a preset name or {bandwidth_bps, rtt_s}", value) from None
    raise InputError(src, "network", expected, value)
