"""pidse: cost model and design-space exploration for private (MPC/HE) LLM inference.

Python API (the CLI is a thin shell over it):
    from pidse.spec.load import load_spec
    from pidse.model.estimate import estimate
    est = estimate(load_spec("arch_specs/gpt2_sm_ln_g.yaml", ["model.layers=18"]))
    est.totals, est.nonlinear_ops, est.breakdown("kind"), est.frame(), est.graph
`pidse.load_spec` and `pidse.build_graph` are shortcuts. How the packages fit together: README, "How pidse is built".
"""
__version__ = "0.1.0"


def __getattr__(name):  # lazy, so `import pidse` stays cheap
    import importlib

    if name in ("load_spec", "Spec"):
        return getattr(importlib.import_module("pidse.spec.load"), name)
    if name == "build_graph":
        return importlib.import_module("pidse.model.graph").build_graph
    raise AttributeError(f"module 'pidse' has no attribute {name!r}")
