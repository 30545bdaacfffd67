"""`pidse calibrate --engine spu`: measure every op kind under SPU at several shapes, fit per-op formulas and
write a cost table (cost_tables/spu-<protocol>.yaml) with the SPU version, the shapes, the raw measurements,
the fit and its residuals.

The `full` grid spans small transformers (d 64..512, T 8..128: they keep the per-element, per-row and per-matrix
terms apart) and GPT-2 small's sizes (T 128, d 768, 12 heads, d_ff 3072: where the tables are used; see GPT2).
Per op kind, communication and wall time are fitted as non-negative combinations of per-element, per-row and
per-matrix (per-call) terms (pidse.calibrate.fit_relative: NNLS on relative error, so small shapes count as
much as big ones, and GPT-2-size shapes GPT2_WEIGHT times as much); rounds, estimated from SPU's message counts
(pidse.calibrate.engines.spu), are fitted the same way to a + b log2(cols) for ops that reduce along rows,
a + b batch for batched matmuls, a constant otherwise, and for CHEETAH (which sends a large transfer as many
messages) a per-element term on top.
"""
from __future__ import annotations

import datetime
import sys
import time

import numpy as np

from pidse.calibrate.engines import spu as S
from pidse.calibrate.engines.spu_ops import POWER, SCALE, program, reference
from pidse.calibrate.fit import fit_relative, write_fitted
from pidse.cost.formula import Formula
from pidse.cost.setting import this_machine
from pidse.ops import OP_KINDS, SHAPE_KEYS, shape_values
from pidse.report.text import csv_text, grid

# Feature terms (formulas over the kind's shape symbols) for comm_bytes and compute_s.
_MATRIX = {"linear": ["m*k", "k*n", "m*n", "1"], "lm_head": ["m*k", "k*n", "m*n", "1"],
           "embedding": ["tokens*vocab", "vocab*dim", "tokens*dim", "1"],
           "matmul": ["batch*m*k", "batch*k*n", "batch*m*n", "batch", "1"]}  # per head and per call
_ROWS = {"softmax": "batch*rows", "power_softmax": "batch*rows"}
_REDUCE = ("softmax", "power_softmax", "layernorm", "rmsnorm", "argmax")
KINDS = ("linear", "lm_head", "embedding", "matmul", "softmax", "power_softmax", "layernorm", "rmsnorm", "gelu",
         "relu", "silu", "mul", "add", "scale", "rope", "argmax")
# What a table says for an op kind it holds no measurement of: a measured table never guesses
NOT_RUN = "not measured in this calibration run"
NO_PROGRAM = ("not measured: pidse calibrate --engine spu has no SPU program for this op kind "
              "(pidse/calibrate/engines/spu_ops.py), and a measured table holds no estimates")


def unmeasured(kind: str) -> dict:
    """The entry of an op kind the run did not measure: `unknown`, with why."""
    return {"unknown": NOT_RUN if kind in KINDS else NO_PROGRAM}


def terms(kind: str) -> list[str]:
    return _MATRIX.get(kind) or ["elements", _ROWS.get(kind, "rows"), "1"]


def round_terms(kind: str, protocol: str = "") -> list[str]:
    base = ["1", "log2(cols)"] if kind in _REDUCE else ["1", "batch"] if kind == "matmul" else ["1"]
    # CHEETAH's message count grows with the op's size (its OT and HE traffic goes out in many messages: 33,164
    # for a 12 x 128 x 128 softmax), which log2(cols) alone misses by 100x at GPT-2 size
    return base + ["elements"] if protocol == "cheetah" else base


_EW = [(4, 64), (16, 64), (16, 128), (32, 128), (16, 256), (32, 512)]
_EW_KINDS = ("layernorm", "rmsnorm", "gelu", "relu", "silu", "mul", "add", "scale", "rope")
# GPT-2 small at T = 128 (d 768, 12 heads of 64, d_ff 3072; lm_head and embedding over an 8,192-token slice of its
# vocabulary, argmax over all 50,257): the sizes the tables are used at. Fitted at the small shapes alone, the
# tables missed there (CHEETAH: linear -35..-41%, matmul +217..+319%, softmax -11%).
GPT2 = {
    "linear": [(128, 768, 768), (128, 768, 3072), (128, 3072, 768)], "lm_head": [(1, 768, 8192)],
    "embedding": [(128, 8192, 768)], "matmul": [(12, 128, 64, 128), (12, 128, 128, 64)],
    "softmax": [(12, 128, 128)], "power_softmax": [(12, 128, 128)], "argmax": [(1, 50257)],
    **{k: [(128, 768), (128, 3072)] for k in _EW_KINDS},
}
# CHEETAH takes minutes a run there on 2 cores (GELU 128 x 3072 ~65 s, softmax 12 x 128 x 128 ~100 s), so it
# measures one or two per kind, its softmaxes at 4 heads (the same 128-long rows). Its linear is measured at
# 768 x 768 only and its embedding not at all: a bigger HE matmul keeps one party computing past the in-memory
# link's receive timeout (yacl's default 30 s; pidse.calibrate.engines.spu sets none).
GPT2_CHEETAH = {
    "linear": [(128, 768, 768)], "lm_head": GPT2["lm_head"], "matmul": GPT2["matmul"], "argmax": GPT2["argmax"],
    "softmax": [(4, 128, 128)], "power_softmax": [(4, 128, 128)],
    "gelu": [(128, 768), (128, 3072)], "silu": [(128, 768)],
    **{k: [(128, 768)] for k in ("layernorm", "rmsnorm", "scale", "rope")},
    **{k: [(128, 768), (128, 3072)] for k in ("relu", "mul", "add")},
}
GPT2_REPEATS = 1  # warm runs at GPT-2 size: CHEETAH's still go on to MIN_BYTES / MIN_ELEMENTS (below)
# a GPT-2-size shape counts three times as much as a small one in the fits: CHEETAH's HE matmuls are not linear
# in the sizes (ciphertext packing), and at weight 1 their fit missed GPT-2 size by up to 15% (at 3: 5-8%,
# the small shapes up to 25%, small transformers' totals within 7%)
GPT2_WEIGHT = 3
SHAPES = {
    "small": {  # seconds per protocol: what CI-sized checks and quick looks use
        "linear": [(4, 16, 16), (8, 32, 16), (4, 32, 64)], "lm_head": [(1, 16, 64), (1, 32, 128), (2, 16, 128)],
        "embedding": [(4, 32, 16), (8, 64, 16), (4, 64, 32), (8, 32, 64)],
        "matmul": [(1, 4, 8, 4), (2, 8, 8, 8), (2, 4, 16, 8)],
        "softmax": [(1, 4, 8), (2, 8, 8), (1, 8, 16)], "power_softmax": [(1, 4, 8), (2, 8, 8), (1, 8, 16)],
        "argmax": [(1, 16), (1, 64), (2, 32)],
        **{k: [(2, 16), (8, 16), (4, 64)] for k in _EW_KINDS},
    },
    # small transformers (d 64..128, T 16..32) and GPT-2 size; on 2 shared cores SEMI2K and ABY3 ~1.5 min,
    # CHEETAH ~15 min (it measures GPT2_CHEETAH in place of GPT2)
    "full": {
        "linear": [(8, 64, 64), (16, 64, 64), (16, 64, 256), (16, 256, 64), (32, 128, 128), (32, 128, 512),
                   (32, 512, 128), (32, 64, 192), (64, 256, 256), (128, 128, 256)] + GPT2["linear"],
        "lm_head": [(1, 64, 256), (1, 64, 512), (1, 128, 512), (1, 128, 1024), (1, 256, 256), (2, 64, 512)]
        + GPT2["lm_head"],
        "embedding": [(16, 128, 64), (16, 512, 32), (32, 256, 64), (8, 512, 128), (32, 128, 128), (16, 256, 256)]
        + GPT2["embedding"],
        "matmul": [(1, 16, 32, 16), (2, 16, 32, 16), (2, 16, 16, 32), (2, 32, 32, 32), (4, 16, 32, 16),
                   (4, 32, 16, 32), (1, 16, 64, 16), (2, 32, 64, 32)] + GPT2["matmul"],
        "softmax": [(1, 16, 16), (2, 16, 16), (2, 32, 32), (4, 16, 32), (1, 8, 64), (4, 32, 16)] + GPT2["softmax"],
        "power_softmax": [(1, 16, 16), (2, 16, 16), (2, 32, 32), (4, 16, 32), (1, 8, 64), (4, 32, 16)]
        + GPT2["power_softmax"],
        "argmax": [(1, 64), (1, 256), (1, 512), (1, 1024), (4, 128), (2, 512)] + GPT2["argmax"],
        **{k: _EW + GPT2[k] for k in _EW_KINDS},
    },
}


def plan(protocol: str, shapes: str = "full") -> dict:
    """kind -> [(dims, at GPT-2 size)]: the grid `shapes` as `protocol` measures it (CHEETAH: GPT2_CHEETAH in
    place of GPT2)."""
    out = {}
    for kind, grid_dims in SHAPES[shapes].items():
        small = [(d, False) for d in grid_dims if d not in GPT2.get(kind, [])]
        big = [d for d in grid_dims if d in GPT2.get(kind, [])]
        if big and protocol == "cheetah":
            big = GPT2_CHEETAH.get(kind, [])
        out[kind] = small + [(d, True) for d in big]
    return out


def shape_dict(kind: str, dims: tuple) -> dict:
    return dict(zip(SHAPE_KEYS[kind], dims))


def _values(kind: str, shape: dict) -> dict:
    return shape_values(kind, shape)


def _eval(text: str, values: dict) -> float:
    f = Formula(text)
    return float(f(**{s: values[s] for s in f.symbols}))


# CHEETAH: warm runs keep going until they moved 16 MB or (ops that draw on its triple/OT buffers) processed
# 65,536 elements, so that its batched buffer refills average out (see pidse.calibrate.engines.spu); its HE matmuls are
# deterministic and stop when the runs agree within 1%
MIN_BYTES = {"cheetah": 16e6}
MIN_ELEMENTS = {"cheetah": 65536}
HE_KINDS = ("linear", "lm_head", "embedding", "matmul")


def measure_op(session: S.Session, kind: str, shape: dict, repeats: int = 3, seed: int = 0):
    """Measure one op; returns (Measurement, max abs error of SPU's output against plaintext JAX)."""
    prog = program(kind, shape, seed)
    names = [f"{kind}.{n}" for n, _, _ in prog.inputs]
    for (_, value, owner), name in zip(prog.inputs, names):
        session.put(name, value, owner)
    executable = session.compile(prog.fn, [a for _, a, _ in prog.inputs], names, [f"{kind}.out"])

    min_elements = 0 if kind in HE_KINDS else MIN_ELEMENTS.get(session.protocol, 0)
    result = session.measure(executable, repeats, MIN_BYTES.get(session.protocol, 0), min_elements,
                             shape_values(kind, shape)["elements"])
    got, want = np.asarray(session.reveal(f"{kind}.out")), np.asarray(reference(prog))
    error = float(np.abs(got.astype(np.float64) - want).max()) if got.size else 0.0
    session.drop(*names, f"{kind}.out")
    return result, error


def _weights(rows: list) -> list[float]:
    return [GPT2_WEIGHT if r.get("gpt2_size") else 1.0 for r in rows]


def _fit(kind: str, rows: list, target: str, feats: list[str]) -> tuple[dict, list]:
    values = [_values(kind, r["shape"]) for r in rows]
    y = np.array([float(r[target]) for r in rows])
    if not y.any():
        return {}, [0.0] * len(rows)
    features = [{t: _eval(t, v) for t in feats} for v in values]
    target = np.maximum(y, 1e-9)
    coefs = fit_relative(features, np.zeros(len(rows)), target, feats, weights=_weights(rows))
    # drop numerically-zero terms (NNLS leaves 1e-27-sized remnants): under 1e-6 of every measurement
    share = [max(c * f[t] / v for f, v in zip(features, target)) for t, c in zip(feats, coefs)]
    coef = {t: float(f"{c:.6g}") for t, c, sh in zip(feats, coefs, share) if sh > 1e-6}
    return coef, [sum(c * f[t] for t, c in coef.items()) for f in features]


def _fit_rounds(kind: str, rows: list, protocol: str = "") -> tuple[dict, list]:
    """Rounds as the bytes are fitted (relative error, GPT-2-size rows weighted), coefficients to 0.01 (the
    per-element one, CHEETAH's, to 4 significant digits)."""
    feats = round_terms(kind, protocol)
    values = [_values(kind, r["shape"]) for r in rows]
    y = np.array([float(r["rounds"]) for r in rows])
    if not y.any():
        return {}, [0.0] * len(rows)
    features = [{t: _eval(t, v) for t in feats} for v in values]
    target = np.maximum(y, 1e-9)
    x = fit_relative(features, np.zeros(len(rows)), target, feats, weights=_weights(rows))
    share = [max(c * f[t] / v for f, v in zip(features, target)) for t, c in zip(feats, x)]  # as in _fit
    coef = {t: float(f"{c:.4g}") if t == "elements" else round(float(c), 2) for t, c, sh in zip(feats, x, share)
            if sh > 1e-6}
    coef = {t: c for t, c in coef.items() if c > 0}
    return coef, [sum(c * f[t] for t, c in coef.items()) for f in features]


def formula_text(coef: dict) -> str:
    parts = [f"{c:.6g}" if t == "1" else f"{c:.6g} * {t}" for t, c in coef.items()]
    return " + ".join(parts) if parts else "0"


def calibrate(protocol: str, shapes: str = "full", repeats: int = 3, kinds=KINDS, log=None) -> dict:
    """Measure, fit and return the cost table (a dict ready for YAML)."""
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    grid = plan(protocol, shapes)
    started = time.perf_counter()
    session = S.Session(protocol)
    # warm the session up (Cheetah's OT base setup, both directions) so per-op first runs show op setup only
    warmup = [measure_op(session, k, shape_dict(k, grid[k][0][0]), 1)[0] for k in ("scale", "relu")]
    session_setup = warmup[0].first.send_bytes + warmup[0].warm[0].send_bytes - 2 * warmup[0].warm[-1].send_bytes
    rows, ops, fit = [], {}, {}
    for kind in kinds:
        kind_rows = []
        for dims, gpt2 in grid[kind]:
            shape = shape_dict(kind, dims)
            t0 = time.perf_counter()
            m, error = measure_op(session, kind, shape, GPT2_REPEATS if gpt2 else repeats)
            row = {"kind": kind, "shape": shape, **m.record(), "max_abs_error": float(f"{error:.3g}")}
            if gpt2:
                row.update(gpt2_size=True, measure_s=round(time.perf_counter() - t0, 1))
            kind_rows.append(row)
            log(f"{protocol} {kind:<13} {str(dims):<18} {m.query_bytes:>14,.0f} B  rounds~{m.rounds:<5} "
                f"{m.wall_s:8.3f} s  err {error:.2g}")
        ops[kind], fit[kind] = fit_kind(protocol, kind, kind_rows)
        rows += kind_rows
    elapsed = time.perf_counter() - started
    return _table(protocol, shapes, repeats, session, ops, fit, rows, session_setup, elapsed)


def fit_kind(protocol: str, kind: str, kind_rows: list) -> tuple[dict, dict]:
    """The table entry and the fit record of one op kind from its measured rows (annotated in place with the
    fitted values and the bytes' residual)."""
    comm, comm_fit = _fit(kind, kind_rows, "comm_bytes", terms(kind))
    wall, wall_fit = _fit(kind, kind_rows, "wall_s", terms(kind))
    rnd, rnd_fit = _fit_rounds(kind, kind_rows, protocol)
    for r, c, w, n in zip(kind_rows, comm_fit, wall_fit, rnd_fit):
        r["comm_bytes_fit"] = float(f"{c:.6g}")
        r["comm_error_pct"] = round(100 * (c / r["comm_bytes"] - 1), 3) if r["comm_bytes"] else 0.0
        r["rounds_fit"] = round(n, 2)
        r["wall_s_fit"] = float(f"{w:.4g}")
    entry = {"comm_bytes": formula_text(comm), "rounds": formula_text(rnd), "compute_s": formula_text(wall),
             "source": _source(kind, protocol, len(kind_rows)), "grade": "measured"}
    gpt2 = [abs(r["comm_error_pct"]) for r in kind_rows if r.get("gpt2_size")]
    record = {"comm_bytes": comm, "rounds": rnd, "compute_s": wall,
              "max_abs_comm_error_pct": max(abs(r["comm_error_pct"]) for r in kind_rows)}
    if gpt2:
        record["max_abs_comm_error_pct_gpt2_size"] = max(gpt2)
    return entry, record


def refit(table: dict) -> dict:
    """`table` refitted from its own measurements (after a change to the terms or weights; no SPU needed)."""
    import copy

    table = copy.deepcopy(table)
    protocol = table["fit"]["config"]["protocol"]
    for kind in table["fit"]["coefficients"]:
        rows = [r for r in table["fit"]["measurements"] if r["kind"] == kind]
        table["ops"][kind], table["fit"]["coefficients"][kind] = fit_kind(protocol, kind, rows)
    table["fit"]["terms"] = {k: {"comm_bytes": terms(k), "rounds": round_terms(k, protocol)}
                             for k in table["fit"]["coefficients"]}
    return table


def _source(kind: str, protocol: str, n: int) -> str:
    what = {"linear": "x @ W + b, W and b the server's private input",
            "lm_head": "x @ W, W the server's private input (no bias)",
            "embedding": "one-hot(token ids) (secret, the client's) @ E (the server's private input)",
            "matmul": "secret x secret batched matmul", "softmax": "jax.nn.softmax over the last axis",
            "power_softmax": f"x^{POWER} / sum(x^{POWER}) over the last axis (p = {POWER}; higher p costs more "
                             "multiplies)",
            "layernorm": "(x - mean) * rsqrt(var + eps) * gamma + beta, gamma/beta the server's private input",
            "rmsnorm": "x * rsqrt(mean(x^2) + eps) * gamma, gamma the server's private input",
            "gelu": "jax.nn.gelu (tanh form)", "relu": "jax.nn.relu", "silu": "jax.nn.silu",
            "mul": "secret x secret elementwise product", "add": "secret + secret (local)",
            "scale": f"x * {SCALE} (public fixed-point constant, then truncation)",
            "rope": "rotary embedding: public cos/sin products, two truncations per element",
            "argmax": "jnp.argmax over the last axis"}[kind]
    return f"SPU {S.version()} {protocol.upper()}, measured at {n} shapes, fitted (see fit): {what}"


def _table(protocol, shapes, repeats, session, ops, fit, rows, session_setup, elapsed) -> dict:
    parties = S.PROTOCOLS[protocol]
    names = {"cheetah": "2PC CHEETAH (OT + HE, semi-honest, no dealer)",
             "semi2k": "2PC SEMI2K (additive sharing, Beaver triples from a trusted dealer)",
             "aby3": "3PC ABY3 (replicated sharing, semi-honest, honest majority)"}
    online = S.ONLINE_ONLY.get(protocol)
    return {
        "version": 1,
        "name": f"spu-{protocol}",
        "description": f"Per-op costs measured under SecretFlow SPU {S.version()}, {names[protocol]}, FM64 ring "
                       f"with 18 fraction bits, SPU's default configuration; fitted per op kind to per-element, "
                       f"per-row and per-matrix terms. Generated by `pidse calibrate --engine spu --protocol "
                       f"{protocol} --shapes {shapes}`.",
        "parties": parties,
        "protocol": f"{names[protocol]}, SecretFlow SPU {S.version()}",
        "ring_bits": 64,
        "fraction_bits": session.settings()["fraction_bits"],
        "network": "puma-lan" if parties == 3 else "lan",
        "communication": "Total over all parties of the bytes SPU's own link counters report sent ('Link "
                         "details' profile lines; equal to the bytes received), per query: the mean of at "
                         f"least {repeats} warm runs after a first run"
                         + ("; more until they moved 16 MB or processed 65,536 elements (HE matmuls: until "
                            "they agree within 1%), so that CHEETAH's batched refills of its triple and OT "
                            "buffers (about 1.1 MB each) average out" if protocol == "cheetah" else
                            " (every warm run moves the same bytes)") + ". One-time costs are NOT included and are "
                         "recorded apart: first-run setup (OT base setup, HE keys) and sharing the server's "
                         "weights (ABY3 secret-shares a private weight at every SPU run; a deployment does it "
                         "once). " + (online + "." if online else "No offline phase is left out: "
                                      + ("CHEETAH generates its OT and HE correlations inline, and they are "
                                         "measured." if protocol == "cheetah" else
                                         "ABY3 needs no preprocessing beyond shared PRG seeds.")),
        "online_only": bool(online),
        "system": f"SecretFlow SPU {S.version()}, {protocol.upper()} (measured here)",
        "matches": [f"(?i)^(SecretFlow[- ])?SPU[- ]?({parties}PC[- ])?{protocol.upper()}"
                    + {"aby3": "(?! baseline)"}.get(protocol, "")],
        "hardware": _calibration_machine(),
        "offline": {"unknown": "SEMI2K's Beaver triples come from a trusted dealer whose traffic SPU does not "
                               "count"} if online else "none",
        "rounds_note": "SPU counts messages ('send actions'), not round trips. Rounds here are an ESTIMATE: "
                       "per run, the second-largest number of messages any party sent (two parties: the "
                       "smaller), fitted as a + b log2(cols) for ops that reduce along rows, a + b batch for "
                       "batched matmuls and a constant otherwise" + (", plus a per-element term: CHEETAH sends "
                       "a large transfer as many messages (tens of thousands for a GPT-2-size softmax)"
                       if protocol == "cheetah" else "") + ". For SEMI2K and ABY3 every party sends one message "
                       "per round, so this is the round count; for CHEETAH it bounds the round trips from above "
                       "(each needs a message from both sides) and can overcount batched OT traffic.",
        "ops": {k: ops.get(k) or unmeasured(k) for k in OP_KINDS},
        "notes": [
            "compute_s is the measured wall time of all parties as threads on this development machine (2 "
            "CPU cores, shared with other jobs) over an in-memory link: indicative only, not a server's speed.",
            "Weights (linear, lm_head, embedding table, LayerNorm/RMSNorm gains and biases) are the server's "
            "private input (make_shares owner_rank=1 with experimental_enable_colocated_optimization), never "
            "secret-shared by pidse; activations are secret-shared; constants are public.",
            "causal masking is a public additive mask (local): softmax is priced on the full rows x cols.",
        ],
        "fit": {
            "engine": "spu", "spu_version": S.version(), "date": datetime.date.today().isoformat(),
            "command": f"pidse calibrate --engine spu --protocol {protocol} --shapes {shapes}",
            "shapes": shapes, "repeats": repeats, "runtime_s": round(elapsed, 1), "config": session.settings(),
            "method": "per op kind: non-negative least squares on relative error (pidse.calibrate.fit_relative) "
                      "of bytes, of wall time and of rounds over the terms below, rows at GPT-2 size weighted "
                      "(gpt2_size.weight)",
            "terms": {k: {"comm_bytes": terms(k), "rounds": round_terms(k, protocol)} for k in ops},
            "gpt2_size": {"shapes": "rows marked gpt2_size: GPT-2 small at T = 128 (spu_calibrate.GPT2"
                                    + ("_CHEETAH" if protocol == "cheetah" else "") + ")",
                          "weight": GPT2_WEIGHT, "repeats": GPT2_REPEATS},
            "one_time": {"session_setup_bytes": session_setup,
                         "note": "first two runs of a fresh session over a warm one (CHEETAH's OT base setup in "
                                 "both directions); per-op first-run extra bytes are in measurements"},
            "coefficients": fit,
            "measurements": rows,
        },
    }


def _calibration_machine() -> dict:
    """The machine the measurements ran on (compute_s is its time), as a table's `hardware:`."""
    hw = this_machine()
    return {"name": "pidse-calibration", "kind": "cpu", "threads": hw.threads, "ghz": hw.ghz,
            "description": f"the {hw.threads}-thread machine pidse calibrate --engine spu ran on",
            "source": "os.cpu_count() and /proc/cpuinfo at calibration"}


def _share(table: dict, kind: str, term: str, coef: float) -> float:
    """The largest share of an op's measured bytes that one fitted term contributes at the calibration shapes."""
    rows = [r for r in table["fit"]["measurements"] if r["kind"] == kind and r["comm_bytes"]]
    return max((coef * _eval(term, _values(kind, r["shape"])) / r["comm_bytes"] for r in rows), default=0.0)


def stability(a: dict, b: dict, threshold_pct: float = 5.0, material: float = 0.005) -> list[dict]:
    """Compare the comm coefficients of two calibrated tables: one row per (kind, term). A term is within when
    it changed by <= threshold_pct, or when it is immaterial: under `material` (0.5%) of the op's bytes at every
    calibration shape in both tables (NNLS may keep or drop such a term from one run to the next)."""
    out = []
    for kind, fa in a["fit"]["coefficients"].items():
        fb = b["fit"]["coefficients"].get(kind, {})
        for term in set(fa["comm_bytes"]) | set(fb.get("comm_bytes", {})):
            x, y = fa["comm_bytes"].get(term, 0.0), fb.get("comm_bytes", {}).get(term, 0.0)
            change = 100 * abs(y - x) / max(abs(x), abs(y)) if max(abs(x), abs(y)) else 0.0
            share = max(_share(a, kind, term, x), _share(b, kind, term, y))
            out.append({"kind": kind, "term": term, "first": x, "second": y, "change_pct": round(change, 3),
                        "max_share_pct": round(100 * share, 4),
                        "within": change <= threshold_pct or share < material})
    return out


def write(table: dict, path) -> None:
    """Write the table atomically, its header naming the measurements it was fitted to."""
    write_fitted(table, path, len(table["fit"]["measurements"]))


def summary(table: dict, fmt: str = "table") -> str:
    """Per op kind: shapes measured, the fitted bytes formula and its worst residual."""
    import json

    fit = table["fit"]
    if fmt == "json":
        return json.dumps({"table": table["name"], "coefficients": fit["coefficients"],
                           "measurements": fit["measurements"]}, indent=2)
    if fmt == "csv":

        keys = ["kind", "shape", "comm_bytes", "comm_bytes_fit", "comm_error_pct", "rounds", "rounds_fit", "wall_s",
                "weight_share_bytes", "setup_bytes", "max_abs_error"]
        return csv_text(({**r, "shape": " ".join(f"{k}={v}" for k, v in r["shape"].items())}
                         for r in fit["measurements"]), keys, ignore_extra=True)
    body = [[kind, str(sum(r["kind"] == kind for r in fit["measurements"])), f"{c['max_abs_comm_error_pct']:.2f}",
             table["ops"][kind]["comm_bytes"], table["ops"][kind]["rounds"]]
            for kind, c in fit["coefficients"].items()]
    text = grid(["kind", "shapes", "max |error| %", "comm_bytes", "rounds"], body, fmt == "markdown")
    return (f"{table['name']}: SPU {fit['spu_version']}, {len(fit['measurements'])} measurements "
            f"({fit['shapes']} shapes, {fit['repeats']} warm runs each) in {fit['runtime_s']:.0f} s\n\n{text}\n")
