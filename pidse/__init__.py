"""pidse: cost model and design-space exploration for private (MPC/HE) LLM inference.

Python API (the CLI is a thin shell over it):
    from pidse import load_spec, estimate
    est = estimate(load_spec("arch_specs/gpt2_sm_ln_g.yaml", ["model.layers=18"]))
    est.totals, est.nonlinear_ops, est.frame()
"""
__version__ = "0.1.0"


def __getattr__(name):  # lazy, so `import pidse` stays cheap
    if name in ("load_spec", "Spec"):
        from pidse import spec
        return getattr(spec, name)
    if name in ("estimate", "Estimate"):
        from pidse import estimate as module
        return getattr(module, name)
    if name == "build_graph":
        from pidse.graph import build_graph
        return build_graph
    raise AttributeError(f"module 'pidse' has no attribute {name!r}")
