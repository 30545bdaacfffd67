"""The depth walk: every HE step of the graph in execution order, levels tracked per ciphertext tensor, and
bootstraps placed where a step would run out of levels.

Rules (greedy, deterministic):
  - the client's embedded input arrives fresh, at levels_fresh; a step's output level is the lowest level of
    its inputs minus the levels it consumes;
  - a step whose input has fewer levels than the step consumes bootstraps that input first. Where: the input
    itself or an ancestor up the chain of single-input steps (as far back as the levels from there still fit
    in levels_after_bootstrap), whichever has the fewest ciphertexts, the farthest back on a tie (it lifts
    more consumers). Bootstrapping the narrow residual stream beats bootstrapping a 4x wider FFN activation;
  - a bootstrapped tensor restarts at levels_after_bootstrap, and the levels of everything computed from it
    are recomputed (the bootstrap sits right where the tensor is produced).
A bootstrap costs one call per ciphertext of the tensor and is charged to the op whose step needed it.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Tensor:
    op: str
    step: str  # "" for the client's fresh input
    cts: int
    depth: int  # levels its step consumed
    inputs: tuple  # tensor ids
    level: float
    source: bool = False
    boot: bool = False  # bootstrapped right after it was produced
    depth_to: int = 0  # multiplicative depth from the client's input (bootstraps ignored)


@dataclass
class Boot:
    tensor: int  # the tensor bootstrapped
    trigger: str  # the op whose step needed the levels
    cts: int


@dataclass
class Walk:
    fresh: int  # levels of a fresh ciphertext
    budget: int  # levels after a bootstrap
    look_back: bool = True  # False: always bootstrap the input that ran short (no search up the chain)
    tensors: list = field(default_factory=list)
    boots: list = field(default_factory=list)
    outputs: dict = field(default_factory=dict)  # op -> its output tensor id
    steps: list = field(default_factory=list)  # (op, Step, tensor id) in execution order

    def source(self, op: str, cts: int, level: float | None = None) -> int:
        lvl = self.fresh if level is None else level
        self.tensors.append(Tensor(op, "", cts, 0, (), lvl, source=True))
        self.outputs[op] = len(self.tensors) - 1
        return self.outputs[op]

    def run(self, op: str, steps: list, inputs: list) -> int | None:
        """Walk one op's steps; `inputs` are the tensor ids of its ciphertext inputs in graph order."""
        local = {}
        for step in steps:
            ins = [inputs[int(n[2:])] if n[2:].isdigit() else local[n] for n in step.inputs]
            for t in dict.fromkeys(ins):
                if self.tensors[t].level < step.depth:
                    self.bootstrap(t, step.depth, op)
            level = min(self.tensors[t].level for t in ins) - step.depth
            depth_to = max(self.tensors[t].depth_to for t in ins) + step.depth
            self.tensors.append(Tensor(op, step.name, step.cts, step.depth, tuple(ins), level,
                                       depth_to=depth_to))
            local[step.name] = len(self.tensors) - 1
            self.steps.append((op, step, local[step.name]))
        if steps:
            self.outputs[op] = local[steps[-1].name]
        return self.outputs.get(op)

    def bootstrap(self, t: int, need: int, trigger: str) -> None:
        """Bootstrap `t` or the cheapest ancestor on its single-input chain from which `need` levels still fit."""
        candidates, c, levels = [(t, 0)], t, need
        while self.look_back:
            tc = self.tensors[c]
            if tc.source or tc.boot or len(set(tc.inputs)) != 1:
                break
            levels += tc.depth
            parent = tc.inputs[0]
            pt = self.tensors[parent]
            if levels > self.budget or pt.boot or (pt.source and pt.level >= self.budget):
                break  # (a source below the budget stands for a tensor computed elsewhere: the sweep's layers)
            candidates.append((parent, len(candidates)))
            c = parent
        best, _ = min(candidates, key=lambda cand: (self.tensors[cand[0]].cts, -cand[1]))
        self.tensors[best].boot = True
        self.boots.append(Boot(best, trigger, self.tensors[best].cts))
        self._relevel(best)

    def _relevel(self, start: int) -> None:
        for u in range(start, len(self.tensors)):
            tu = self.tensors[u]
            if tu.boot:
                tu.level = self.budget
            elif not tu.source:
                tu.level = min(self.tensors[i].level for i in tu.inputs) - tu.depth

    def level_made(self, tensor: int) -> float:
        """The level a tensor is produced at, before any bootstrap placed on it."""
        t = self.tensors[tensor]
        return self.level_in(tensor) - t.depth if t.inputs else (self.fresh if t.boot else t.level)

    def level_in(self, tensor: int) -> float:
        """The level a step started from: its output's level plus what it consumed (before any bootstrap)."""
        t = self.tensors[tensor]
        return min(self.tensors[i].level for i in t.inputs) if t.inputs else t.level
