"""When HE beats MPC: the same designs priced by an MPC table and a CKKS table, latency against bandwidth.

For one design, MPC takes c_M + 8 b_M / BW + n_M RTT (compute, bytes, rounds) and CKKS c_H + 8 b_H / BW + RTT
(one round trip, b_H the encrypted prompt and logits). CKKS is faster below the crossing bandwidth
    BW* = 8 (b_M - b_H) / (c_H - c_M - (n_M - 1) RTT)
and at every bandwidth when the denominator is <= 0 (MPC's compute and round trips alone exceed CKKS's time).
`he_vs_mpc(df, out)` draws it for each context of a sweep that has both kinds of table, and returns the files
and a Markdown section for the sweep report; a sweep without both returns nothing.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from pidse.cost.registry import family_of, load_table
from pidse.cost.setting import latency_s, load_networks
from pidse.report.plots import DPI, pyplot, aero_steps
from pidse.report.text import duration, grid

KEY = ["structure", "layers", "prune_last"]
DRAWN = 4  # designs per plot
PRESETS = ("lan", "wan", "wan-aero")  # networks marked and given a crossing, besides the sweep's own


def interactive(df) -> dict:
    """Per table of the sweep: whether its family is interactive (MPC) or not (HE: one round trip)."""
    return {p: family_of(load_table(p)).interactive for p in dict.fromkeys(df["protocol"])}


def crossing_bps(mpc, he, rtt_s: float):
    """Bandwidth below which CKKS is faster (inf: at any bandwidth; 0: never), per row pair."""
    num = 8 * (mpc["comm_bytes"].to_numpy() - he["comm_bytes"].to_numpy())
    den = he["compute_s"].to_numpy() - mpc["compute_s"].to_numpy() - (mpc["rounds"].to_numpy() - 1) * rtt_s
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den <= 0, np.inf, np.where(num <= 0, 0.0, num / den))
    return out


def pairs(df, context: int, mpc_name: str, he_name: str):
    """(MPC rows, CKKS rows) of one context, one row per design in the same order (any one network: compute,
    bytes and rounds do not depend on it)."""
    sub = df[df["context"] == context]
    rows = {}
    for name in (mpc_name, he_name):
        r = sub[sub["protocol"] == name]
        rows[name] = r[r["network"] == r["network"].iloc[0]].set_index(KEY).sort_index()
    common = rows[mpc_name].index.intersection(rows[he_name].index)
    return rows[mpc_name].loc[common], rows[he_name].loc[common]


def designs(mpc) -> list:
    """Index keys of the designs drawn: AERO's first, middle and final steps when present, else the first few."""
    steps = aero_steps(mpc.reset_index())
    if steps:
        picks = [steps[0], steps[len(steps) // 2], steps[-1]] if len(steps) > 2 else steps
        return list(dict.fromkeys(tuple(int(s[k]) for k in KEY) for s in picks))
    return list(mpc.index[:DRAWN])


def he_vs_mpc(df, out_dir) -> tuple[list, list]:
    kinds = interactive(df)
    mpcs = [p for p, chatty in kinds.items() if chatty]
    hes = [p for p, chatty in kinds.items() if not chatty]
    if not mpcs or not hes:
        return [], []
    nets = load_networks()
    rtts = {n: nets[n].rtt_s for n in dict.fromkeys(list(PRESETS) + list(df["network"])) if n in nets}
    rtt = rtts["wan"]
    written, lines = [], ["", "## When HE beats MPC", "",
                          "The same designs priced by an MPC table and a CKKS table. MPC's latency falls with "
                          "bandwidth (its gigabytes cross the network) and with RTT (its rounds); CKKS sends "
                          "only the encrypted prompt and logits in one round trip, so its latency is nearly its "
                          "compute. CKKS is faster below the crossing bandwidth "
                          "BW* = 8 (b_MPC - b_HE) / (c_HE - c_MPC - (rounds_MPC - 1) RTT), and at every "
                          "bandwidth when MPC's compute and round trips alone exceed CKKS's time (∞). "
                          f"Curves at RTT {rtt * 1e3:.0f} ms; the crossing column at each preset's own RTT."]
    for context in dict.fromkeys(df["context"]):
        for mpc_name in mpcs:
            for he_name in hes:
                mpc, he = pairs(df, int(context), mpc_name, he_name)
                if mpc.empty:
                    continue
                keys = designs(mpc)
                path = Path(out_dir) / f"he_vs_mpc_T{context}_{mpc_name}_{he_name}.png"
                _plot(mpc.loc[keys], he.loc[keys], rtt, rtts, path, context, mpc_name, he_name)
                written.append(path)
                header = ["design", f"{he_name}", f"{mpc_name} compute", "MPC bytes", "rounds"] + \
                    [f"BW* at {n} ({v * 1e3:g} ms)" for n, v in rtts.items()]
                body = []
                for key in keys:
                    m, h = mpc.loc[[key]], he.loc[[key]]
                    body.append([m["label"].iloc[0] + f" (L={key[1]})", duration(float(h["compute_s"].iloc[0])),
                                 duration(float(m["compute_s"].iloc[0])), f"{m['comm_bytes'].iloc[0] / 1e9:.2f} GB",
                                 f"{m['rounds'].iloc[0]:,.0f}"] +
                                [_bw(crossing_bps(m, h, r)[0]) for r in rtts.values()])
                share = {n: float(np.mean(crossing_bps(mpc, he, r) >= nets[n].bandwidth_bps)) for n, r in
                         rtts.items()}
                lines += ["", f"### T = {context}: {he_name} vs {mpc_name}", "",
                          f"![HE vs MPC, T={context}]({path.name})", "", grid(header, body, markdown=True), "",
                          "Designs of the sweep where CKKS is faster than MPC on each preset: " +
                          ", ".join(f"{n} {100 * s:.0f}%" for n, s in share.items()) + "."]
    return written, lines


def _bw(bps: float) -> str:
    if math.isinf(bps):
        return "∞"
    if bps <= 0:
        return "never"
    return f"{bps / 1e9:.2f} Gbps" if bps >= 1e9 else f"{bps / 1e6:.0f} Mbps"


def _rate(bps: float) -> str:
    """A tick of the bandwidth axis: 10 Mbps, 100 Mbps, 1 Gbps, 10 Gbps, ..."""
    for factor, unit in ((1e12, "Tbps"), (1e9, "Gbps"), (1e6, "Mbps"), (1e3, "kbps")):
        if bps >= factor:
            return f"{bps / factor:g} {unit}"
    return f"{bps:g} bps"


def _latency(row, bandwidth_bps, rtt_s):
    return latency_s(row["compute_s"], row["comm_bytes"], row["rounds"], bandwidth_bps, rtt_s)


def _plot(mpc, he, rtt, rtts, path, context, mpc_name, he_name) -> None:
    plt = pyplot()
    from matplotlib.ticker import FuncFormatter, NullLocator

    bw = np.logspace(7, 11, 200)  # 10 Mbps .. 100 Gbps
    fig, ax = plt.subplots(figsize=(10, 4.8))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    nets = load_networks()
    depths = sorted({int(key[1]) for key in mpc.index})
    for i, key in enumerate(mpc.index):
        m, h, c = mpc.loc[key], he.loc[key], colours[i % len(colours)]
        label = m["label"] + ("" if len(depths) == 1 else f" (L={key[1]})")  # one depth: named in the title
        lat_m = _latency(m, bw, rtt)
        lat_h = _latency(h, bw, rtt)
        ax.plot(bw, lat_m / 60, color=c, lw=1.8, label=f"{label}: MPC")
        ax.plot(bw, lat_h / 60, color=c, lw=1.8, ls="--", label=f"{label}: CKKS")
        for name in rtts:
            net = nets[name]
            ax.plot(net.bandwidth_bps, _latency(m, net.bandwidth_bps, net.rtt_s) / 60, "o", color=c, ms=4)
        cross = crossing_bps(mpc.loc[[key]], he.loc[[key]], rtt)[0]
        if 0 < cross < math.inf and bw[0] <= cross <= bw[-1]:
            y = _latency(h, cross, rtt) / 60
            ax.plot(cross, y, "x", color=c, ms=9, mew=2)
            ax.annotate(_bw(cross), (cross, y), textcoords="offset points", xytext=(4, 6), fontsize=7, color=c)
    for name in rtts:
        ax.axvline(nets[name].bandwidth_bps, color="#bbbbbb", lw=0.8, zorder=0)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _rate(v)))
    presets = ax.secondary_xaxis("top")  # the presets named above the frame, clear of the curves
    presets.set_xticks([nets[n].bandwidth_bps for n in rtts], list(rtts), fontsize=7, color="#666666")
    presets.xaxis.set_minor_locator(NullLocator())
    presets.tick_params(length=3, color="#bbbbbb")
    ax.set_xlabel("network bandwidth (log scale)")
    ax.set_ylabel("latency per inference (min)")
    layers = f", L={depths[0]}" if len(depths) == 1 else ""
    ax.set_title(f"CKKS ({he_name}) vs MPC ({mpc_name}), T={context}{layers}, RTT {rtt * 1e3:.0f} ms\n"
                 "x: crossing bandwidth (CKKS faster to its left); dots: MPC at the presets' own RTT",
                 fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.grid(True, which="major", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
