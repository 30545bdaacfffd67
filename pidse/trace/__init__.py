"""Price any PyTorch model: trace an nn.Module (or a HuggingFace config) into pidse's op graph.

    record.py     one forward pass on the meta device, every aten op with its shapes, secret or public inputs and
                  the module it ran in (a TorchDispatchMode and forward hooks)
    classify.py   those ops -> the op nodes pidse.model.graph makes (kind, block, layer, part, shape, params,
                  attrs), and the ops it cannot classify
    patterns.py   groups of ops that are one node: whole modules, norm decompositions
    attention.py  masks (causal or not), rotary products, matmul roles;  place.py: layer, block and node names
    finish.py     what is settled at the end: the head on the last position, the argmax
    rules.py      what is recognised (aten ops, module classes, linear roles) and the --map YAML
    load.py       FILE.py:FACTORY, a config.json, an nn.Module: built without weights, then traced

The result (`Traced`) is priced like a spec's graph by pidse.model.estimate.estimate_graph. torch is imported
only when a model is traced: this package imports without it.
"""
from __future__ import annotations

import os
import sys

from pidse.errors import InputError
from pidse.trace import load
from pidse.trace.classify import Traced
from pidse.trace.rules import load_map


def is_target(spec) -> bool:
    """Whether `spec` names a Python file to trace (FILE.py:FACTORY)."""
    return isinstance(spec, (str, os.PathLike)) and load.split_target(str(spec)) is not None


def is_module(spec) -> bool:
    """Whether `spec` is an nn.Module (torch is not imported to find out: no module exists before it is)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(spec, torch.nn.Module)


def trace(target, context: int | None = None, op_map=None, hf: bool = False) -> Traced:
    """Trace `target`: an nn.Module, "FILE.py:FACTORY", or (`hf`) a HuggingFace config.json. `op_map`: a --map
    file's path, or its loaded form."""
    if op_map is not None and not isinstance(op_map, dict):
        op_map = load_map(op_map)
    if is_module(target):
        return load.trace_module(target, load.DEFAULT_CONTEXT if context is None else context,
                                 type(target).__name__, type(target).__name__, op_map)
    if hf:
        return load.trace_hf_config(target, context, op_map)
    return load.trace_file(str(target), context, op_map)


def unsupported_text(item: dict) -> str:
    """One unsupported op, fvcore style: `aten.sort: 2 calls, e.g. (1, 4, 16, 16), in blocks.0.attn (Attention)`."""
    calls = item["calls"]
    held = f", reading {item['params']:,} parameters" if item.get("params") else ""
    return f"{item['op']}: {calls} call{'s' if calls != 1 else ''}, e.g. {tuple(item['shape'])}, in " \
           f"{item['where']}{held}"


def check_supported(traced: Traced) -> None:
    """One line naming the ops the trace could not classify, unless there are none."""
    if not traced.unsupported:
        return
    listed = "; ".join(unsupported_text(u) for u in traced.unsupported)
    raise InputError(traced.source, "unsupported ops", f"ops pidse can classify; it cannot classify "
                     f"{len(traced.unsupported)}: {listed}. Name their kind with --map FILE, or price the rest with "
                     "--allow-unsupported (they are listed, never counted as zero)")


__all__ = ["Traced", "trace", "load_map", "check_supported", "unsupported_text", "is_target", "is_module"]
