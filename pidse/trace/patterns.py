"""Groups of aten events that become one op node: whole modules (GELU's tanh form, pidse's own trained modules,
--map entries) and LayerNorm / RMSNorm from their decompositions; and the shape helpers the classifier shares."""
from __future__ import annotations

from dataclasses import dataclass, field

from pidse.ops import SCORE_KINDS, SHAPE_KEYS
from pidse.spec.definition import QUAD_SHIFT
from pidse.trace.attention import mask_attrs
from pidse.trace.rules import MODULE_KINDS, PIDSE_MODULES


@dataclass
class Group:
    """Events that become one op node (emitted at the last of them; kind `local`: no node, a --map entry)."""
    kind: str
    shape: dict
    attrs: dict
    events: set
    last: int
    inputs: list = field(default_factory=list)  # secret vids read from outside the group
    outputs: list = field(default_factory=list)  # vids made inside it
    public: list = field(default_factory=list)  # public vids it reads (their parameters are the node's)


def find_groups(c) -> dict:
    """event index -> Group, for module calls of a known kind and norm decompositions."""
    groups: dict = {}
    consumers: dict = {}
    for e in c.rec.events:
        for vid in e.ins:
            consumers.setdefault(vid, []).append(e)
    for call in c.rec.calls:
        events = [e for e in c.rec.events[call.start:call.end] if e.index not in groups]
        if not events or not any(c.v[i].secret for e in events for i in e.ins):
            continue
        found = module_kind(c, call, events)
        if found is not None:
            claim(c, groups, Group(*found, {e.index for e in events}, events[-1].index))
    for e in c.rec.events:
        if e.index not in groups and e.name in ("aten.rsqrt", "aten.sqrt") and c.v[e.ins[0]].secret:
            group = norm_decomposition(c, e, consumers, groups)
            if group is not None:
                claim(c, groups, group)
    return groups


def claim(c, groups: dict, group: Group) -> None:
    made = {vid for i in group.events for vid in c.rec.events[i].outs}
    for i in sorted(group.events):
        e = c.rec.events[i]
        for vid in e.ins:
            v = c.v[vid]
            if vid in made:
                continue
            if v.secret and vid not in group.inputs:
                group.inputs.append(vid)
            elif not v.secret:
                group.public.append(vid)
        groups[i] = group
    group.outputs = sorted(made)


def module_kind(c, call, events):
    """(kind, shape, attrs) of a module call whose forward is one op, or None."""
    out = next((c.v[v] for v in call.outs if c.v[v].secret), None)
    if out is None:
        return None
    mapped = c.op_map["modules"].get(call.cls) or c.op_map["modules"].get(call.cls.rsplit(".", 1)[-1])
    if mapped:
        kind, attrs = mapped
        if kind == "local":
            return "local", {}, {}
    elif call.cls in PIDSE_MODULES:
        found = pidse_module(c, call)
        if found is None:
            return None
        kind, attrs = found
    else:
        kind = next((MODULE_KINDS[n] for n in call.classes if n in MODULE_KINDS), None)
        if kind is None:
            return None
        attrs = {}
    if kind in SCORE_KINDS:
        shape = batch_rows_cols(out.shape)
        masks = [("keep", c.v[v].known) for v in call.ins[1:2]]  # pidse's ScoreNorm(scores, visible)
        attrs = {"temperature": "fixed", **mask_attrs(c, masks, shape), **attrs}
    elif "batch" in SHAPE_KEYS[kind]:
        shape = batch_rows_cols(out.shape)
    else:
        shape = rows_cols(out.shape)
    return kind, shape, attrs


def pidse_module(c, call):
    """pidse's trained model (its parts in pidse.train.layers): its polynomial activations and score
    normalisations."""
    name, module = call.cls.rsplit(".", 1)[-1], call.module
    if name == "Quad":
        return "poly", {"degree": 2, "symbol": "Quad"}
    if name == "PolyGELU":
        degree = module.coef.numel() - 1
        return "poly", {"degree": degree, "symbol": f"Poly{degree}"}
    if name == "ScoreNorm":
        if module.kind == "power_softmax":
            return "power_softmax", {"power": module.power}
        if module.kind == "2quad":
            return "power_softmax", {"power": 2, "shift": QUAD_SHIFT, "symbol": "2Quad"}
        if module.kind == "relu":
            return "relu_softmax", {}
    return None  # softmax, linear attention: traced op by op


def norm_decomposition(c, rsqrt, consumers: dict, groups: dict):
    """LayerNorm or RMSNorm written out: [x - mean(x)], mean of squares (or var), + eps, rsqrt and x * r (or sqrt
    and x / s), then an optional gain (and bias) from parameters. None when the events around it are not one."""
    def made_by(vid, names):
        e = c.rec.events[c.v[vid].producer] if c.v[vid].producer is not None else None
        return e if e is not None and e.name in names and e.index not in groups else None

    claimed = [rsqrt]
    inner = rsqrt.ins[0]
    eps = made_by(inner, ("aten.add", "aten.add_"))
    if eps is not None and sum(c.v[i].secret for i in eps.ins) == 1:
        claimed.append(eps)
        inner = next(i for i in eps.ins if c.v[i].secret)
    stat = made_by(inner, ("aten.mean", "aten.var"))
    if stat is None:
        return None
    claimed.append(stat)
    if stat.name == "aten.var":
        kind, x = "layernorm", stat.ins[0]
    else:
        square = made_by(stat.ins[0], ("aten.pow", "aten.mul"))
        if square is None or (square.name == "aten.mul" and (len(square.ins) != 2 or square.ins[0] != square.ins[1])):
            return None
        claimed.append(square)
        x = square.ins[0]
        centre = made_by(x, ("aten.sub",))
        mean = centre is not None and made_by(centre.ins[1], ("aten.mean",))
        if centre is not None and mean and mean.ins[0] == centre.ins[0]:
            kind, x = "layernorm", centre.ins[0]
            claimed += [centre, mean]
        else:
            kind = "rmsnorm"
    uses = consumers.get(rsqrt.outs[0], [])
    divide = rsqrt.name == "aten.sqrt"
    if len(uses) != 1 or uses[0].name != ("aten.div" if divide else "aten.mul") or \
            (divide and uses[0].ins[-1] != rsqrt.outs[0]):
        return None
    out = uses[0]
    claimed.append(out)
    while True:  # casts, then a gain and a bias from parameters
        nxt = consumers.get(out.outs[0], [])
        if len(nxt) != 1 or nxt[0].index in groups:
            break
        step = nxt[0]
        public = [c.v[i] for i in step.ins if not c.v[i].secret]
        if step.name in ("aten._to_copy", "aten.to") or (step.name in ("aten.mul", "aten.add") and len(public) == 1
                                                         and public[0].params):
            claimed.append(step)
            out = step
            continue
        break
    if kind == "layernorm" and stat.name == "aten.var":  # (x - mean(x)) * rsqrt(var + eps)
        for e in claimed:
            if e.name in ("aten.mul", "aten.div"):
                centre = made_by(next(i for i in e.ins if i != rsqrt.outs[0]), ("aten.sub",))
                if centre is not None:
                    claimed.append(centre)
                    mean = made_by(centre.ins[1], ("aten.mean",))
                    if mean is not None:
                        claimed.append(mean)
                break
    events = {e.index for e in claimed}
    return Group(kind, rows_cols(c.v[x].shape), {}, events, max(events))


def rows_cols(shape: tuple) -> dict:
    cols = shape[-1] if shape else 1
    return {"rows": numel(shape) // max(cols, 1), "cols": cols}


def batch_rows_cols(shape: tuple) -> dict:
    rows, cols = (shape[-2] if len(shape) >= 2 else 1), (shape[-1] if shape else 1)
    return {"batch": numel(shape) // max(rows * cols, 1), "rows": rows, "cols": cols}


def numel(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n
