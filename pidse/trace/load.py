"""Where a traced module comes from: a Python file and a factory in it (`model.py:build`), a HuggingFace config.json,
or an nn.Module in hand; each is built without weights and traced over T tokens.

Building: under a TorchFunctionMode every tensor constructor makes its tensor on the meta device, except small ones
(at most BUILD_LIMIT elements), which are made on the CPU and so keep their values: a causal mask a module
registers as a buffer, rotary frequencies. Initialising a parameter in place is skipped (its values are never
read). Then the trace runs on a copy with every parameter and buffer on the meta device (the buffers' values
remembered; a module passed in is left as it was). A 7B model builds
in about a second and takes no memory for its weights.

torch (and transformers) are imported inside these functions: `import pidse.trace` works without them.
"""
from __future__ import annotations

import copy
import importlib.util
import inspect
import sys
from pathlib import Path

from pidse.errors import InputError
from pidse.spec.load import read_mapping
from pidse.trace.classify import Traced, classify

BUILD_LIMIT = 1 << 20  # elements of a tensor built on the CPU (a 1024 x 1024 causal mask); larger: meta device
DEFAULT_CONTEXT = 128  # like the shipped specs' inference.context and the HF mapper's
MAX_CONTEXT = 1 << 16  # a traced pass keeps one T x T mask per softmax: far beyond this is no model's context


def need_torch(source: str):
    try:
        import torch
    except ImportError:
        raise InputError(source, None, "PyTorch installed to trace a model (pip install -e '.[torch]')") from None
    return torch


def trace_module(model, context: int = DEFAULT_CONTEXT, name: str = "model", source: str = "", op_map=None,
                 known: dict | None = None) -> Traced:
    """Trace `model` (an nn.Module, any device; moved to the meta device) over one sequence of `context` token ids
    (batch 1): its op nodes, edges, unsupported ops and notes."""
    torch = need_torch(source or name)
    from pidse.trace.record import TraceError, record

    if not isinstance(model, torch.nn.Module):
        raise InputError(source or name, None, "an nn.Module (torch.nn.Module)", type(model).__name__)
    context = check_context(context, source or name)
    known = dict(known or {})
    known.update({n: b.detach().clone() for n, b in model.named_buffers() if b.device.type == "cpu"})
    try:
        model = to_meta(model, torch).eval()
    except Exception as err:
        raise InputError(source or name, None, f"a module that copy.deepcopy can copy; it raised {_raised(err)}"
                         ) from None
    ids = torch.zeros(1, context, dtype=torch.long, device="meta")
    try:
        rec = record(model, ids, _forward(model), known)
    except TraceError as err:
        raise InputError(source or name, err.op, f"a forward pass the trace can follow; the model computes {err.what}"
                         ) from None
    except Exception as err:  # the model's own forward failed: name it, in one line
        raise InputError(source or name, "forward", f"a forward pass over {context} token ids on the meta device "
                         f"to run; it raised {_raised(err)}") from None
    traced = classify(rec, context, 1, op_map)
    traced.name, traced.source, traced.context = name, source or name, context
    return traced


def to_meta(model, torch):
    """A copy of `model` with every parameter and buffer on the meta device, tied parameters still one; the model
    itself is untouched and its weights are not copied."""
    memo: dict = {}
    for module in model.modules():
        for store, is_parameter in ((module._parameters, True), (module._buffers, False)):
            for t in store.values():
                if t is not None and id(t) not in memo:
                    twin = t.detach().to("meta")
                    memo[id(t)] = torch.nn.Parameter(twin, t.requires_grad) if is_parameter else twin
    return copy.deepcopy(model, memo)


def _forward(model):
    """How to call the model on token ids: HF models by keyword, without a KV cache and with an all-ones attention
    mask (public: no padding; without one, transformers looks for padding in the secret ids); any other module
    positionally."""
    transformers = sys.modules.get("transformers")
    if transformers is not None and isinstance(model, transformers.PreTrainedModel):
        import torch

        return lambda m, ids: m(input_ids=ids, attention_mask=torch.ones(ids.shape, dtype=torch.long),
                                use_cache=False)
    return lambda m, ids: m(ids)


def _raised(err: Exception, limit: int | None = None) -> str:
    """An exception in one line: its type and the first line of its message (cut to `limit` characters)."""
    first = str(err).splitlines()[0][:limit] if str(err) else ""
    return f"{type(err).__name__}: {first}"


def check_context(context, source: str) -> int:
    if isinstance(context, bool) or not isinstance(context, int) or not 1 <= context <= MAX_CONTEXT:
        raise InputError(source, "--context", f"an integer from 1 to {MAX_CONTEXT:,} (prompt tokens to trace)",
                         context)
    return context


def build(factory, source: str, **kwargs):
    """Call `factory(**kwargs)` with large tensors made on the meta device and small ones on the CPU; (module,
    the CPU buffers' values by name)."""
    torch = need_torch(source)
    from torch.overrides import TorchFunctionMode
    from torch.utils._device import _device_constructors

    constructors = _device_constructors()

    class SmallOnCPU(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func in constructors and kwargs.get("device") is None:
                meta = func(*args, **{**kwargs, "device": "meta"})
                if isinstance(meta, torch.Tensor) and meta.numel() > BUILD_LIMIT:
                    return meta
            elif args and isinstance(args[0], torch.nn.Parameter) and _in_place(func):
                return args[0]  # initialising a weight: its values are never read (it moves to the meta device)
            return func(*args, **kwargs)

    with SmallOnCPU():
        model = factory(**kwargs)
    if not isinstance(model, torch.nn.Module):
        raise InputError(source, None, "a factory that returns an nn.Module (torch.nn.Module)", type(model).__name__)
    known = {n: b.detach().clone() for n, b in model.named_buffers() if b.device.type == "cpu"}
    return model, known


def _in_place(func) -> bool:
    name = getattr(func, "__name__", "")
    return name.endswith("_") and not name.endswith("__")


# ---- FILE.py:FACTORY ---------------------------------------------------------------------------------------------

def split_target(target: str) -> tuple[Path, str] | None:
    """'path/model.py:build' -> (path, 'build'); None when `target` does not name a Python file."""
    text = str(target)
    path, sep, factory = text.rpartition(":")
    if not sep or not path.endswith(".py"):
        return (Path(text), "") if text.endswith(".py") else None
    return Path(path), factory


def trace_file(target: str, context: int | None = None, op_map=None) -> Traced:
    """Trace the module that `factory` in a Python file returns (`model.py:build`; the factory may take a keyword
    `context`, the tokens traced)."""
    path, factory_name = split_target(target)
    source = str(target)
    if not factory_name:
        raise InputError(source, None, "FILE.py:FACTORY, a Python file and the function in it that returns the "
                                        "model (e.g. examples/relu_attention.py:build)")
    if not path.is_file():
        raise InputError(path, None, "an existing Python file (FILE.py:FACTORY)")
    context = check_context(DEFAULT_CONTEXT if context is None else context, source)
    need_torch(source)
    module = _import_file(path)
    factory = getattr(module, factory_name, None)
    if factory is None or not callable(factory):
        found = [n for n, f in vars(module).items() if inspect.isfunction(f) and f.__module__ == module.__name__]
        raise InputError(path, factory_name, "a function in the file that returns the model" +
                         (f" (functions there: {', '.join(found[:8])})" if found else ""))
    kwargs = {"context": context} if _takes_context(factory) else {}
    try:
        model, known = build(factory, source, **kwargs)
    except InputError:
        raise
    except Exception as err:
        raise InputError(source, None, f"a factory that builds the model; it raised {_raised(err)}") from None
    return trace_module(model, context, path.stem, source, op_map, known)


def _takes_context(factory) -> bool:
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    return "context" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _import_file(path: Path):
    name = f"pidse_traced_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InputError(path, None, "a Python file Python can import")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # as an import would (dataclasses and pickling look their module up there)
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        raise InputError(path, None, f"a Python file that imports; it raised {_raised(err)}") from None
    return module


# ---- HuggingFace config.json -------------------------------------------------------------------------------------

def trace_hf_config(path, context: int | None = None, op_map=None) -> Traced:
    """Trace the transformers model a config.json describes (AutoModelForCausalLM, eager attention, no weights)."""
    path = Path(path)
    data = read_mapping(path)
    need_torch(str(path))
    try:
        import transformers
    except ImportError:
        raise InputError(path, None, "transformers installed to trace a HuggingFace config (pip install "
                                     "transformers)") from None
    model_type = data.get("model_type")
    if not isinstance(model_type, str) or not model_type:
        raise InputError(path, "model_type", "a transformers model type (gpt2, llama, ...)", model_type)
    fields = {k: v for k, v in data.items() if k != "model_type"}
    try:
        config = transformers.AutoConfig.for_model(model_type, **fields)
    except Exception as err:
        raise InputError(path, "model_type", f"a model type this transformers knows ({_raised(err, 120)})",
                         model_type)
    config._attn_implementation = "eager"  # scores, mask and softmax as ops (SDPA hides them in one kernel)
    limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    if context is None:
        context = min(DEFAULT_CONTEXT, limit) if isinstance(limit, int) and limit > 0 else DEFAULT_CONTEXT
    name = path.parent.name if path.name == "config.json" and path.parent.name else path.stem

    def factory():
        try:
            return transformers.AutoModelForCausalLM.from_config(config, attn_implementation="eager")
        except ValueError:  # no causal LM head for this model type (an encoder): the base model
            return transformers.AutoModel.from_config(config, attn_implementation="eager")
    try:
        model, known = build(factory, str(path))
    except InputError:
        raise
    except Exception as err:
        raise InputError(path, None, f"a config transformers can build a model from; it raised "
                                     f"{_raised(err, 160)}") from None
    return trace_module(model, check_context(context, str(path)), name, str(path), op_map, known)
