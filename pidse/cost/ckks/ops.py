"""Per op kind: the HE steps an op runs under CKKS, each with the levels it consumes and its primitive counts.

Packing (stated once, used everywhere): every activation tensor is packed densely, row-major, in
ceil(elements / slots) ciphertexts, a token's features contiguous. Attention scores follow the table's
`packing.scores`:
  rows_in_slots  as every other tensor (a score row contiguous): a row sum is log2(cols) rotations
  keys_across    one ciphertext group per key position, slot = (head, query): a row sum is ciphertext
                 additions and lands compact (one slot per row), so the inverse runs on ceil(batch*rows/slots)
                 ciphertexts; slots beyond batch*rows stay empty
An op is a short chain (sometimes a small DAG) of Steps; a step names its inputs ("in0", "in1": the op's
ciphertext inputs in graph order, or an earlier step), the levels it consumes and its counts per ciphertext
set. walk.py beside this file walks the steps of the whole graph and places the bootstraps; nothing here knows levels.
Embedding lookup and argmax run on the client (it embeds its tokens and decrypts the logits), as in NEXUS,
THOR and the Power-Softmax encrypted runs: no server steps.
Polynomial activations (`poly`, MPCFormer's Quad at degree 2) are one polynomial on every slot, priced by depth
and products like any other (poly_depth, poly_cmul); MPCFormer's 2ReLU (`relu_softmax`) is the table's ReLU
polynomial, then softmax's normalisation (row sum, Goldschmidt inverse, product); 2Quad is a Power-Softmax of
power 2 after a public shift. Ranking encrypted values against each other (a router's top-k, token pruning)
needs sign polynomials in comparison networks that no source in our notes prices: those kinds (UNPRICED) have
no steps here, and every CKKS table says `unknown: why` for them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from pidse.ops import shape_values

# OpenFHE Chebyshev series depth by degree (he.md, P): (highest degree, levels).
CHEBYSHEV_DEPTH = ((5, 4), (13, 5), (27, 6), (59, 7), (119, 8), (247, 9), (495, 10))
CLIENT_SIDE = ("embedding", "argmax")
UNPRICED = ("topk", "prune")  # no HE construction here: a table declares them `unknown: why`


@dataclass
class Step:
    name: str
    inputs: tuple  # "in<i>" (the op's i-th ciphertext input) or an earlier step's name
    depth: int  # levels consumed
    cts: int  # ciphertexts of its output
    counts: dict = field(default_factory=dict)  # primitive -> calls (bootstraps are the walk's)


def ct(elements, slots: int) -> int:
    return max(1, -(-int(elements) // slots))


def poly_depth(degree: int) -> int:
    """Levels to evaluate a degree-d polynomial: OpenFHE's Chebyshev table (he.md); degree 1-2 use d levels;
    past 495 each doubling of the degree adds one level (derived, the table's own step)."""
    if degree <= 2:
        return degree
    for top, levels in CHEBYSHEV_DEPTH:
        if degree <= top:
            return levels
    return 10 + math.ceil(math.log2((degree + 1) / 496))


def poly_cmul(degree: int) -> int:
    """Non-scalar multiplications of a baby-step giant-step (Paterson-Stockmeyer) evaluation: b - 1 baby powers
    (b = ceil(sqrt(d+1))), ceil(log2 g) giant powers and g - 1 products joining the g = ceil((d+1)/b)
    blocks; never more than the d - 1 of the plain power basis."""
    if degree <= 1:
        return 0
    b = math.ceil(math.sqrt(degree + 1))
    g = math.ceil((degree + 1) / b)
    return min(degree - 1, b - 1 + math.ceil(math.log2(g)) + g - 1)


def polynomial(name: str, src: str, degree: int, cts: int) -> Step:
    """A polynomial on every slot: its non-scalar products, one scalar multiply and one add per coefficient."""
    c = poly_cmul(degree)
    return Step(name, (src,), poly_depth(degree), cts,
                {"cmul": c * cts, "pmul": degree * cts, "add": degree * cts, "rescale": (c + 1) * cts})


def goldschmidt(name: str, src: str, iterations: int, cts: int) -> Step:
    """1/x by Goldschmidt on a bounded domain: scale into (0, 2) (1 level), then per iteration a <- a^2 and
    y <- y (1 + a), two products side by side (1 level each): depth k + 1, 2k - 1 products."""
    k = iterations
    return Step(name, (src,), k + 1, cts,
                {"pmul": cts, "cmul": (2 * k - 1) * cts, "add": 2 * k * cts, "rescale": 2 * k * cts})


def newton_invsqrt(name: str, src: str, iterations: int, cts: int) -> Step:
    """1/sqrt(x) by Newton: a linear first guess (1 level), then y <- y (3 - x y^2) / 2 per iteration, 3
    products over 2 levels (y^2 and x*y side by side, then their product: 3y - x y^3)."""
    k = iterations
    return Step(name, (src,), 1 + 2 * k, cts,
                {"pmul": cts, "cmul": 3 * k * cts, "add": (k + 1) * cts, "rescale": (3 * k + 1) * cts})


def split_deep(steps: list[Step], budget: int) -> list[Step]:
    """A step deeper than the levels left after a bootstrap cannot run between two bootstraps: cut it into
    ceil(depth / budget) consecutive parts with its counts shared out, so the walk bootstraps between them."""
    out = []
    for s in steps:
        parts = math.ceil(s.depth / budget) if s.depth > budget else 1
        if parts == 1:
            out.append(s)
            continue
        src = s.inputs
        for i in range(parts):
            depth = s.depth // parts + (1 if i < s.depth % parts else 0)
            name = s.name if i == parts - 1 else f"{s.name}.{i + 1}"
            out.append(Step(name, src, depth, s.cts, {p: n / parts for p, n in s.counts.items()}))
            src = (name,)
    return out


# ---- op kinds ----------------------------------------------------------------------------------------------

def score_cts(batch: int, rows: int, cols: int, table) -> int:
    return ct(batch * rows * cols, table.slots)


def keys_per_ct(batch: int, rows: int, table) -> int:
    """keys_across: key positions sharing one ciphertext (each holds every (head, query) pair once)."""
    return max(1, table.slots // (batch * rows))


def linear(shape: dict, attrs: dict, in_cts: list, table) -> list[Step]:
    """Plaintext weights, diagonal method with baby-step giant-step rotations, tokens batched in the slots:
    each plaintext-ciphertext product does `slots` multiply-accumulates, so ceil(m k n / slots) products, each
    with its weight diagonal encoded at the ciphertext's level (encoded per use: the encoded diagonals of a
    model do not fit in memory). Rotations: b - 1 baby steps per input ciphertext (b = ceil(sqrt(k))), one
    giant step per b products, and log2(k / n) rotate-and-sums when the layer narrows."""
    S = table.slots
    m, k, n = shape["m"], shape["k"], shape["n"]
    c_in, c_out = ct(m * k, S), ct(m * n, S)
    pmul = ct(m * k * n, S)
    b = math.ceil(math.sqrt(min(k, S)))
    rot = c_in * (b - 1) + math.ceil(pmul / b) + (c_out * math.ceil(math.log2(k / n)) if n < k else 0)
    bias = c_out if attrs.get("bias", True) else 0
    return [Step("matmul", ("in0",), 1, c_out, {"encode": pmul + bias, "pmul": pmul, "rot": rot,
                                                 "add": pmul + bias, "rescale": c_out})]


def matmul(shape: dict, attrs: dict, in_cts: list, table) -> list[Step]:
    """Ciphertext x ciphertext (QK^T, A.V), per head: every product uses each filled slot once and needs one
    rotation to align its operands. Under keys_across packing the score side fills batch*rows of each
    ciphertext's slots, so both matmuls do cols products per (head, query) ciphertext and inner index."""
    b, m, k, n = shape["batch"], shape["m"], shape["k"], shape["n"]
    S = table.slots
    cmul = ct(b * m * k * n, S)
    out = ct(b * m * n, S)
    inputs = tuple(f"in{i}" for i in range(max(1, len(in_cts))))
    return [Step("matmul", inputs, 1, out, {"cmul": cmul, "rot": cmul, "add": cmul, "rescale": out})]


def softmax(shape: dict, attrs: dict, in_cts: list, table, method: str) -> list[Step]:
    """Row-wise normalisation of the scores. nexus: exp as a Taylor polynomial, row sums, one Goldschmidt
    inverse, one product. power: x^p (p even: log2 p squarings; 2Quad's public shift x + c one scalar add), the
    row mean (1/cols is a public constant, folded into the inverse's scaling), one Goldschmidt inverse on a
    bounded domain, one product. relu (2ReLU): the table's ReLU polynomial in place of x^p, then the same
    normalisation, with relu_softmax's settings or else power_softmax's. cho (normalise-and-square): a
    low-degree exp of x / 2^r, normalised, then r rounds of square-and-normalise."""
    b, rows, cols = shape["batch"], shape["rows"], shape["cols"]
    S = table.slots
    n_s = score_cts(b, rows, cols, table)
    kind = {"power": "power_softmax", "relu": "relu_softmax"}.get(method, method)  # where its settings live

    def setting(key: str, default):
        if method == "relu":
            default = table.setting("power_softmax", key, default)
        return table.setting(kind, key, default)

    k = setting("goldschmidt_iterations", 3)
    if setting("inverse_domain", "mean") == "sum":  # sums of exps span ~cols x more
        k += math.ceil(math.log2(cols))
    if setting("packing", table.raw.get("packing", {}).get("scores", "rows_in_slots")) == "keys_across":
        r = keys_per_ct(b, rows, table)  # adds across ciphertexts, then log2(r) rotations inside one
        n_r = ct(b * rows * r, S)
        log = math.ceil(math.log2(r)) if r > 1 else 0
        sum_counts = {"add": n_s - n_r + log * n_r, "rot": log * n_r}
    else:
        n_r = n_s
        log = math.ceil(math.log2(cols))
        sum_counts = {"rot": log * n_s, "add": log * n_s}

    def normalise(tag: str, src: str) -> list[Step]:
        return [Step(f"sum{tag}", (src,), 0, n_r, dict(sum_counts)),
                goldschmidt(f"inverse{tag}", f"sum{tag}", k, n_r),
                Step(f"normalise{tag}", (src, f"inverse{tag}"), 1, n_s, {"cmul": n_s, "rescale": n_s})]

    if method == "power":
        p = attrs["power"]
        squarings = math.ceil(math.log2(p))
        products = squarings + bin(p).count("1") - 1
        counts = {"cmul": products * n_s, "rescale": products * n_s}
        if attrs.get("shift"):
            counts["add"] = n_s
        return [Step("power", ("in0",), squarings, n_s, counts), *normalise("", "power")]
    if method == "relu":
        return [polynomial("relu", "in0", table.setting("relu", "degree", 27), n_s), *normalise("", "relu")]
    steps = [polynomial("exp", "in0", table.setting(kind, "exp_degree", 8), n_s), *normalise("", "exp")]
    if method == "cho":
        for r in range(1, table.setting(kind, "rounds", 1) + 1):
            prev = steps[-1].name
            steps += [Step(f"square{r}", (prev,), 1, n_s, {"cmul": n_s, "rescale": n_s}),
                      *normalise(str(r), f"square{r}")]
    return steps


def norm(shape: dict, attrs: dict, in_cts: list, table, kind: str) -> list[Step]:
    """LayerNorm / RMSNorm per token (features contiguous): mean and variance by log2(cols) rotate-and-sums
    (the 1/cols folded into constants), the inverse square root on the replicated variance (Newton or a
    polynomial), one product; gamma and beta fold into the next linear layer's weights and bias."""
    rows, cols = shape["rows"], shape["cols"]
    cts = ct(rows * cols, table.slots)
    log = math.ceil(math.log2(cols))
    steps, centred = [], "in0"
    if kind == "layernorm":
        steps.append(Step("mean", ("in0",), 0, cts, {"rot": log * cts, "add": (log + 1) * cts}))
        centred = "mean"
    steps.append(Step("variance", (centred,), 1, cts, {"cmul": cts, "rot": log * cts, "add": log * cts,
                                                        "rescale": cts}))
    if table.setting(kind, "method", "newton") == "poly":
        steps.append(polynomial("invsqrt", "variance", table.setting(kind, "degree", 15), cts))
    else:
        steps.append(newton_invsqrt("invsqrt", "variance", table.setting(kind, "iterations", 3), cts))
    steps.append(Step("normalise", (centred, "invsqrt"), 1, cts, {"cmul": cts, "rescale": cts}))
    return steps


def priced(kind: str, table) -> bool:
    """Whether `table` can price op kind `kind` (ops.py has its steps and the table does not say unknown)."""
    return kind not in UNPRICED and kind not in table.unknown_ops


def stand_in(kind: str, shape: dict, attrs: dict, table) -> list[Step]:
    """An op the table cannot price (with --allow-missing): its first input passed on, no levels and no calls,
    in as many ciphertexts as its output needs, so that the walk goes on while the op stays uncosted."""
    if kind == "prune":
        elements = shape["batch"] * shape["kept"] * shape["cols"]
    elif kind == "topk":
        elements = shape["rows"] * attrs.get("top", shape["cols"])
    else:
        elements = shape_values(kind, shape, attrs)["elements"]
    return [Step("uncosted", ("in0",), 0, ct(elements, table.slots), {})]


def expand(kind: str, shape: dict, attrs: dict, in_cts: list, table) -> list[Step]:
    """The HE steps of one op (an empty list for client-side ops); the missing-cost error for a kind the table
    cannot price."""
    S = table.slots
    if not priced(kind, table):
        raise table.op_unknown(kind)
    if kind in CLIENT_SIDE:
        return []
    if kind in ("linear", "lm_head"):
        steps = linear(shape, attrs, in_cts, table)
    elif kind == "matmul":
        steps = matmul(shape, attrs, in_cts, table)
    elif kind == "softmax":
        steps = softmax(shape, attrs, in_cts, table, table.setting("softmax", "method", "nexus"))
    elif kind == "power_softmax":
        steps = softmax(shape, attrs, in_cts, table, "power")
    elif kind == "relu_softmax":
        steps = softmax(shape, attrs, in_cts, table, "relu")
    elif kind in ("layernorm", "rmsnorm"):
        steps = norm(shape, attrs, in_cts, table, kind)
    elif kind in ("gelu", "relu", "silu"):
        cts = ct(shape["rows"] * shape["cols"], S)
        steps = [polynomial("poly", "in0", table.setting(kind, "degree", 27), cts)]
    elif kind == "poly":  # public coefficients, the degree from the graph (Quad: 2)
        steps = [polynomial("poly", "in0", attrs["degree"], ct(shape["rows"] * shape["cols"], S))]
    else:
        cts = ct(shape["rows"] * shape["cols"], S)
        if kind == "add":  # residual: ciphertext adds; one input only: a plaintext (positions) added
            n = len(in_cts)
            counts = {"add": (n - 1) * cts} if n > 1 else {"encode": cts, "add": cts}
            steps = [Step("add", tuple(f"in{i}" for i in range(max(n, 1))), 0, cts, counts)]
        elif kind == "mul":  # gated FFN: act(gate) * up
            steps = [Step("mul", ("in0", "in1"), 1, cts, {"cmul": cts, "rescale": cts})]
        elif kind == "scale":  # a public constant: folded into the neighbouring weights or coefficients
            steps = [Step("fold", ("in0",), 0, cts, {})]
        elif kind == "rope":  # x cos + rotate_half(x) sin: 2 rotations, masks folded into 3 plaintexts
            steps = [Step("rope", tuple(f"in{i}" for i in range(len(in_cts))), 1, sum(in_cts),
                          {"encode": 3 * cts, "pmul": 3 * cts, "rot": 2 * cts, "add": 2 * cts, "rescale": cts})]
        else:
            raise ValueError(f"no HE expansion for op kind {kind!r}")
    return split_deep(steps, table.params["levels_after_bootstrap"])
