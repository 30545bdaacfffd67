"""The pieces depth-vectorised pricing works on: one structure's graph at one layer, split by part.

Transformer layers are identical, so a model of L layers with its k deepest FFNs pruned runs the `fixed` ops
(embedding, head) once, the `layer` ops L times and the `ffn` ops L - k times (pidse.ops.part_count). The sweep
hands a Pieces to the table's family, which prices the one-layer graph once (MPC) or per entry level (CKKS); the
closed forms (pidse.model.symbolic) build the same one-layer graph with symbols for the sizes.
"""
from __future__ import annotations

import dataclasses

from pidse.model.estimate import counted
from pidse.spec.definition import Spec


def with_depth(spec: Spec, layers: int, prune_last: int) -> Spec:
    """`spec` with `layers` layers and its `prune_last` deepest FFNs pruned (other sizes kept: symbols too)."""
    return spec.replace(model=dataclasses.replace(spec.model, layers=int(layers)),
                        ffn=dataclasses.replace(spec.ffn, prune_last=int(prune_last)))


def one_layer(spec: Spec, pruned: bool = False) -> Spec:
    """`spec` cut to one layer, its FFN kept (or pruned)."""
    return with_depth(spec, 1, int(pruned))


@dataclasses.dataclass(frozen=True)
class Pieces:
    """A structure (a spec whose depth is yet to be chosen) and the counted graphs its pricing needs."""
    spec: Spec
    convention: str = "dense"

    @property
    def generate(self) -> int:
        """Tokens emitted: above 1, decode steps repeat the layers (a family may then price each depth whole)."""
        return self.spec.inference.generate

    @property
    def uniform(self) -> bool:
        """Whether every layer is the same: token pruning gives later layers fewer tokens (and a pruning step
        between two of them), so such a structure is priced depth by depth, whole."""
        return not self.spec.pruning.schedule

    def one(self, pruned: bool = False) -> tuple[list[dict], list]:
        """Fresh counted rows and edges of the one-layer graph (every row has its `part`)."""
        return counted(one_layer(self.spec, pruned), self.convention)

    def full(self, layers: int, prune_last: int) -> tuple[list[dict], list]:
        """Fresh counted rows and edges of the whole graph at that depth."""
        return counted(with_depth(self.spec, layers, prune_last), self.convention)
