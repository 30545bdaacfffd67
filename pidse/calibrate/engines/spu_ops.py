"""pidse op kinds as JAX functions with the semantics of pidse's graph nodes (pidse.graph.SHAPE_KEYS).

Each kind is one function of its operands; `program(kind, shape)` adds inputs of that shape: activations
secret-shared (owner None), weights held by the server as its private input (owner SERVER), constants public
(closed over, so SPU sees them as public). Shared by calibration (one op at a time) and validation (a whole
model, node by node and as one program), so both measure the same code.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from pidse.calibrate.engines.spu import SERVER

EPS = 1e-5
SCALE = 0.3  # calibration's public factor for `scale` (not a power of two: a general fixed-point multiply)
POWER = 2  # Power-Softmax exponent measured for the table (graph attrs carry the model's own)


def linear(x, w, b=None):
    """x @ W (+ b): secret activations times the server's plaintext weights."""
    y = x @ w
    return y if b is None else y + b


def matmul(a, b):
    """Secret x secret batched matmul (QK^T, A.V): (batch, m, k) @ (batch, k, n)."""
    return a @ b


def softmax(x):
    import jax

    return jax.nn.softmax(x, axis=-1)


def power_softmax(x, power=POWER):
    """x^p / sum(x^p) over the last axis (p even)."""
    y = x ** power
    return y / y.sum(axis=-1, keepdims=True)


def layernorm(x, gamma, beta):
    import jax

    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    return centred * jax.lax.rsqrt(var + EPS) * gamma + beta


def rmsnorm(x, gamma):
    import jax

    return x * jax.lax.rsqrt((x * x).mean(axis=-1, keepdims=True) + EPS) * gamma


def activation(name):
    import jax

    return {"gelu": jax.nn.gelu, "relu": jax.nn.relu, "silu": jax.nn.silu}[name]  # jax.nn.gelu: tanh form


def scale(x, factor=SCALE):
    """Multiply by a public fixed-point constant: SPU's truncation."""
    return x * factor


def rope(x, positions):
    """Rotary embedding of (rows, cols) by public cos/sin of the row positions (cols even)."""
    import jax.numpy as jnp
    import numpy as np

    rows, cols = x.shape
    half = cols // 2
    freq = 1.0 / (10000.0 ** (np.arange(half) / half))
    angle = np.asarray(positions)[:rows, None] * freq[None, :]
    cos, sin = np.cos(angle).astype(np.float32), np.sin(angle).astype(np.float32)
    x1, x2 = x[:, :half], x[:, half:]
    return jnp.concatenate([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1)


def argmax(x):
    import jax.numpy as jnp

    return jnp.argmax(x, axis=-1)


@dataclass
class Program:
    """A function and its inputs: [(name, array, owner)], owner None = secret-shared, SERVER = private."""
    fn: object
    inputs: list


def program(kind: str, shape: dict, seed: int = 0) -> Program:
    """One op of `kind` at `shape` (pidse's shape symbols) with random inputs."""
    import numpy as np

    rng = np.random.default_rng(seed)

    def arr(*dims, spread=1.0):
        return (rng.standard_normal(dims) * spread).astype(np.float32)

    s = shape
    if kind in ("linear", "lm_head"):
        ins = [("x", arr(s["m"], s["k"]), None), ("w", arr(s["k"], s["n"], spread=1 / math.sqrt(s["k"])), SERVER)]
        if kind == "linear":
            ins.append(("b", arr(s["n"]), SERVER))
        return Program(linear, ins)
    if kind == "embedding":
        ids = rng.integers(0, s["vocab"], s["tokens"])
        onehot = np.eye(s["vocab"], dtype=np.float32)[ids]  # the client's private token ids, secret-shared
        return Program(linear, [("x", onehot, None), ("w", arr(s["vocab"], s["dim"]), SERVER)])
    if kind == "matmul":
        b = s["batch"]
        return Program(matmul, [("a", arr(b, s["m"], s["k"]), None),
                                ("b", arr(b, s["k"], s["n"], spread=1 / math.sqrt(s["k"])), None)])
    if kind in ("softmax", "power_softmax"):
        fn = softmax if kind == "softmax" else power_softmax
        return Program(fn, [("x", arr(s["batch"], s["rows"], s["cols"], spread=2.0), None)])
    rows, cols = s["rows"], s["cols"]
    x = ("x", arr(rows, cols), None)
    if kind == "layernorm":
        return Program(layernorm, [x, ("gamma", 1 + arr(cols, spread=0.1), SERVER), ("beta", arr(cols, spread=0.1), SERVER)])
    if kind == "rmsnorm":
        return Program(rmsnorm, [x, ("gamma", 1 + arr(cols, spread=0.1), SERVER)])
    if kind in ("gelu", "relu", "silu"):
        return Program(activation(kind), [x])
    if kind in ("mul", "add"):
        return Program((lambda a, b: a * b) if kind == "mul" else (lambda a, b: a + b), [x, ("y", arr(rows, cols), None)])
    if kind == "scale":
        return Program(scale, [x])
    if kind == "rope":
        return Program(lambda v: rope(v, np.arange(rows)), [x])
    if kind == "argmax":
        return Program(argmax, [x])
    raise ValueError(f"no SPU program for op kind {kind!r}")


def reference(prog: Program):
    """The plaintext result (float32 JAX on the CPU), to check SPU's output."""
    return prog.fn(*[a for _, a, _ in prog.inputs])
