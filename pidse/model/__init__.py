"""The model of an architecture: its op graph (graph.py), counts (counting.py), one row per op with totals and
breakdowns (estimate.py), the one-layer pieces depth-vectorised pricing uses (pieces.py), closed forms (symbolic.py)."""
