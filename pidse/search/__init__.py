"""Search over architectures: design spaces (space.py), the vectorised sweep with perplexities (sweep.py), Pareto
fronts (pareto.py), how costs scale with context (scaling.py)."""
