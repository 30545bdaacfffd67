"""One forward pass of an nn.Module recorded at the aten level: every op with the shapes it saw, which tensors are
secret, and which module each op ran in.

The module runs on the meta device (no weights, no values), so recording a 7B model takes as long as a small one.
A TorchDispatchMode sees every aten op: its tensor inputs become `Value`s, each marked secret when it derives from
the token ids (the client's input), public when it derives only from parameters, buffers and constants (the
server's plaintext, or what every party knows). A public value remembers the parameters it derives from (so each
parameter is counted once, by the first op that uses it) and tags from where it came from (`rotary`: computed by a
rotary-embedding module). Small public values that depend on no parameter (positions, causal masks) are also
computed for real on the CPU beside the meta pass (`known`): that is what tells a causal mask from a full one, and
what lets a model branch on such a value (`.item()`, `.all()`) although its tensors hold no data.

Forward hooks on every submodule record each module call (its name, class and the events it spans): what the
classifier (pidse.trace.classify) reads layer indices, linear roles and whole-module kinds from.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_map

from pidse.trace.rules import is_rotary

KNOWN_LIMIT = 1 << 22  # elements of a public value computed for real beside the meta pass (masks up to 2048^2)
SHAPE_ONLY = {"zeros_like", "ones_like", "empty_like", "full_like", "new_zeros", "new_ones", "new_empty",
              "new_full", "rand_like", "randn_like", "empty_strided", "scalar_tensor"}  # outputs depend on shapes only
# Ops whose output (a Python value, or a shape) depends on their input's values: the meta device cannot run them
DATA_DEPENDENT = {"_local_scalar_dense", "is_nonzero", "nonzero", "equal", "masked_select", "unique", "_unique2",
                  "unique_consecutive", "unique_dim", "allclose", "bincount", "repeat_interleave"}
RANDOM = ("rand", "normal", "bernoulli", "dropout", "multinomial", "uniform", "empty")


@dataclass
class Value:
    """One tensor the forward pass saw (an in-place op makes a new Value of the same tensor)."""
    vid: int
    shape: tuple
    secret: bool
    params: frozenset = frozenset()  # names of the parameters a public value derives from
    tags: frozenset = frozenset()
    known: object = None  # a CPU tensor with the value, for small public values free of parameters
    producer: int | None = None  # the event that made it
    origin: str = "op"  # op | param | buffer | input | constant
    name: str = ""  # a parameter's or buffer's name

    @property
    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n


@dataclass
class Ref:
    """A tensor argument of an event: the Value it was."""
    vid: int


@dataclass
class Event:
    index: int
    op: str  # the aten overload, e.g. aten.mm.default
    args: list  # positional arguments, tensors as Ref
    kwargs: dict
    ins: list  # vids of the tensor inputs, in order
    outs: list  # vids of the tensor outputs
    scope: tuple  # indices of the module calls it ran in, outermost first

    @property
    def name(self) -> str:
        """aten.mm.default -> aten.mm (the overload packet, what --map names)."""
        return self.op.rsplit(".", 1)[0] if self.op.count(".") >= 2 else self.op


@dataclass
class Call:
    """One call of one submodule."""
    index: int
    name: str  # the module's path in the model ("" for the root)
    cls: str  # its class's qualified name
    classes: tuple  # the class names of its MRO (a subclass of nn.LayerNorm is a LayerNorm)
    module: object = field(repr=False)
    parent: int | None
    start: int  # the first event inside it
    end: int = -1  # one past the last
    ins: list = field(default_factory=list)
    outs: list = field(default_factory=list)


@dataclass
class Recording:
    values: dict  # vid -> Value
    events: list
    calls: list
    output: list  # vids of the model output's tensors
    params: dict  # parameter name -> elements (every parameter, counted once, tied ones under their first name)
    inputs: list  # vids of the secret inputs
    layers: frozenset = frozenset()  # names of the ModuleLists / Sequentials that hold layers (children of one class)


class Recorder(TorchDispatchMode):
    def __init__(self, model: torch.nn.Module, known: dict | None = None):
        super().__init__()
        self.known_buffers = known or {}  # buffer name -> its value (a CPU tensor), for buffers built small
        self.values: dict = {}  # vid -> Value
        self.by_tensor: dict = {}  # id(tensor) -> vid (tensors are kept alive in `keep`, so ids stay unique)
        self.keep: list = []
        self.events: list = []
        self.calls: list = []
        self.stack: list = []
        self.rotary_depth = 0  # rotary-embedding module calls now running
        self.params = {}
        self.param_names = {}
        for name, p in model.named_parameters():
            self.param_names[id(p)] = name
            self.params[name] = p.numel()
        self.buffers = {}
        for mname, module in model.named_modules():
            rotary = is_rotary(type(module).__name__)
            for bname, b in module.named_buffers(recurse=False):
                self.buffers[id(b)] = (f"{mname}.{bname}" if mname else bname, rotary)

    # ---- values ----------------------------------------------------------------------------------------------
    def new(self, tensor, **kw) -> Value:
        vid = len(self.values)
        value = Value(vid, tuple(int(s) for s in tensor.shape), **kw)
        self.values[vid] = value
        self.by_tensor[id(tensor)] = vid
        self.keep.append(tensor)
        return value

    def value(self, tensor) -> Value:
        vid = self.by_tensor.get(id(tensor))
        if vid is not None:
            return self.values[vid]
        if id(tensor) in self.param_names:
            name = self.param_names[id(tensor)]
            return self.new(tensor, secret=False, params=frozenset([name]), origin="param", name=name)
        if id(tensor) in self.buffers:
            name, rotary = self.buffers[id(tensor)]
            known = self.known_buffers.get(name)
            if known is None and tensor.device.type == "cpu" and tensor.numel() <= KNOWN_LIMIT:
                known = tensor
            return self.new(tensor, secret=False, tags=frozenset(["rotary"] if rotary else ()), known=known,
                            origin="buffer", name=name)
        known = tensor if tensor.device.type == "cpu" and tensor.numel() <= KNOWN_LIMIT else None
        return self.new(tensor, secret=False, known=known, origin="constant")

    def secret_input(self, tensor) -> Value:
        return self.new(tensor, secret=True, origin="input")

    # ---- the dispatch ----------------------------------------------------------------------------------------
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        op = str(func)
        flat = tree_flatten((args, kwargs))[0]
        if any(isinstance(a, torch.Tensor) and a.device.type == "meta" for a in flat) and \
                any(isinstance(a, torch.Tensor) and a.device.type == "cpu" and a.dim() for a in flat):
            args, kwargs = tree_map(self.to_meta, (args, kwargs))  # a CPU constant the module kept: its value
        tensors = [a for a in tree_flatten((args, kwargs))[0] if isinstance(a, torch.Tensor)]
        ins = [self.value(t) for t in tensors]
        shape_only = op.split(".")[1] in SHAPE_ONLY
        secret = any(v.secret for v in ins) and not shape_only
        refs = tree_map(lambda a: Ref(self.value(a).vid) if isinstance(a, torch.Tensor) else a, (list(args), kwargs))
        try:
            out = func(*args, **kwargs)
        except (RuntimeError, NotImplementedError) as err:
            if op.split(".")[1] not in DATA_DEPENDENT and "meta" not in str(err).lower():
                raise  # the model's own error
            out = self.on_cpu(func, args, kwargs, ins, secret, op, err)  # a value the meta pass must know
        if not isinstance(out, (torch.Tensor, list, tuple)):  # .item(), bool(): a Python value
            if secret:
                raise TraceError(op, "a Python value computed from the secret input (a branch on secret data)")
            return out
        event = len(self.events)
        params = frozenset().union(*(v.params for v in ins)) if not (secret or shape_only) else frozenset()
        tags = frozenset().union(*(v.tags for v in ins)) if not shape_only else frozenset()
        if self.rotary_depth and not secret:
            tags |= {"rotary"}  # computed inside a rotary module: its angles
        outs = []
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                known = None if secret or params else self.known(func, args, kwargs, ins, t, shape_only)
                outs.append(self.new(t, secret=secret, params=params, tags=tags, known=known, producer=event).vid)
        self.events.append(Event(event, op, refs[0], refs[1], [v.vid for v in ins], outs, tuple(self.stack)))
        return out

    def to_meta(self, a):
        if not isinstance(a, torch.Tensor) or a.device.type != "cpu" or not a.dim():
            return a
        value = self.value(a)
        twin = a.to("meta")
        self.by_tensor[id(twin)] = value.vid
        self.keep.append(twin)
        return twin

    def known(self, func, args, kwargs, ins, out, shape_only=False):
        """The value of a public, parameter-free output, computed on the CPU from its inputs' values (None when an
        input's value is unknown, the output is large, or the op is random)."""
        if out.device.type == "cpu":
            return out if out.numel() <= KNOWN_LIMIT else None
        if out.numel() > KNOWN_LIMIT or any(word in str(func) for word in RANDOM):
            return None
        if not shape_only and any(v.known is None for v in ins):
            return None
        try:
            result = func(*self.to_cpu(args), **self.to_cpu(kwargs))
        except Exception:  # an op the CPU refuses is simply not known
            return None
        for t in tree_flatten(result)[0]:  # several outputs (max with indices): the first of the same shape
            if isinstance(t, torch.Tensor) and tuple(t.shape) == tuple(out.shape) and t.dtype == out.dtype:
                return t
        return None

    def to_cpu(self, tree):
        def swap(a):
            if isinstance(a, torch.Tensor):
                known = self.values[self.by_tensor[id(a)]].known
                return known if known is not None else torch.zeros(a.shape, dtype=a.dtype)  # shape-only ops
            if isinstance(a, torch.device) and a.type == "meta":
                return torch.device("cpu")
            return a
        return tree_map(swap, tree)

    def on_cpu(self, func, args, kwargs, ins, secret, op, err):
        """An op meta tensors cannot run (`.item()`, `nonzero`): run on the CPU when every input is known."""
        if secret:
            raise TraceError(op, "a shape or Python value computed from the secret input (data-dependent on "
                                 "secret data)") from None
        if any(v.known is None for v in ins):
            raise TraceError(op, "a value the meta pass cannot compute: " + str(err).splitlines()[0][:80]) from None
        result = func(*self.to_cpu(args), **self.to_cpu(kwargs))
        return tree_map(lambda t: t.to("meta") if isinstance(t, torch.Tensor) else t, result)

    # ---- module calls ----------------------------------------------------------------------------------------
    def enter(self, name: str, module, args, kwargs):
        index = len(self.calls)
        cls = type(module)
        call = Call(index, name, f"{cls.__module__}.{cls.__qualname__}", tuple(c.__name__ for c in cls.__mro__),
                    module, self.stack[-1] if self.stack else None, len(self.events))
        call.ins = [self.value(t).vid for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        self.calls.append(call)
        self.stack.append(index)
        self.rotary_depth += is_rotary(cls.__name__)

    def leave(self, output):
        index = self.stack.pop()
        call = self.calls[index]
        call.end = len(self.events)
        self.rotary_depth -= is_rotary(call.classes[0])
        call.outs = [self.value(t).vid for t in tree_flatten(output)[0] if isinstance(t, torch.Tensor)]


class TraceError(Exception):
    """The forward pass did something the trace cannot follow; pidse.trace turns it into an InputError."""

    def __init__(self, op: str, what: str):
        self.op, self.what = op, what
        super().__init__(f"{op}: {what}")


def record(model: torch.nn.Module, ids: torch.Tensor, forward, known: dict | None = None) -> Recording:
    """Run `forward(model, ids)` once under the recorder (ids: the secret token ids, on the meta device; `known`:
    the values of buffers, by name, that were built on the CPU)."""
    rec = Recorder(model, known)
    handles = []
    for name, module in model.named_modules():
        handles.append(module.register_forward_pre_hook(
            lambda m, a, k, name=name: rec.enter(name, m, a, k), with_kwargs=True))
        handles.append(module.register_forward_hook(lambda m, a, o: rec.leave(o), always_call=True))
    first = rec.secret_input(ids)
    try:
        with torch.no_grad(), rec:
            out = forward(model, ids)
    finally:
        for h in handles:
            h.remove()
    output = [rec.value(t).vid for t in tree_flatten(_plain(out))[0] if isinstance(t, torch.Tensor)]
    layers = frozenset(name for name, m in model.named_modules() if isinstance(m, (torch.nn.ModuleList,
                       torch.nn.Sequential)) and len(m) and len({type(child) for child in m.children()}) == 1)
    return Recording(rec.values, rec.events, rec.calls, output, rec.params, [first.vid], layers)


def _plain(out):
    """A model output as a pytree: HF's ModelOutput is a dict, a NamedTuple a tuple."""
    if hasattr(out, "to_tuple"):
        return out.to_tuple()
    return out

