"""The CKKS family: non-interactive inference under homomorphic encryption.

  table.py  scheme parameters, seconds per HE primitive, per-op algorithm choices (`family: ckks` tables)
  ops.py    per op kind, the HE steps it runs (levels consumed, primitive counts) under a stated packing
  walk.py   the depth walk over the whole graph, placing bootstraps where levels run out
  price.py  pricing a graph: expand, walk, price each primitive at its level, the client's traffic and keys
  depth.py  the sweep's values, exact per depth (a layer is a transition between entry levels)
"""
from pidse.cost.ckks import depth, price, table
from pidse.cost.family import Family

FAMILY = Family(
    "ckks", table.load_ckks, price.price, depth.depth_values, symbolic=None, interactive=False,
    comm_meaning="upload + download", columns=price.HE_COLUMNS, row_keys=("level_out",) + price.HE_COLUMNS,
    no_symbolic="an MPC cost table with per-op formulas: a CKKS table's costs come from a depth walk over the "
                "whole graph, not closed forms (use pidse estimate or pidse sweep)")
