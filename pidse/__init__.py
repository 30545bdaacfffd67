"""pidse: cost model and design-space exploration for private (MPC/HE) LLM inference.

Python API (pidse/api.py; the CLI is a thin shell over it):
    import pidse
    r = pidse.estimate("gpt2_sm_ln_g", protocol="aero-secretflow", overrides={"model.layers": 18})
    r.totals, r.ops, r.by("kind")                   # DataFrames; r.estimate is the underlying Estimate
    pidse.compare(["gpt2_sm_ln_g", "gpt2_sm_scfuffn"], baseline="gpt2_sm_ln_g", protocol="aero-secretflow")
    pidse.sweep("aero", context=[128, 256])
`pidse.load_spec` and `pidse.build_graph` are shortcuts. How the packages fit together: README, "How pidse is built".
"""
__version__ = "0.1.0"


def __getattr__(name):  # lazy, so `import pidse` stays cheap
    import importlib

    if name in ("load_spec", "Spec"):
        return getattr(importlib.import_module("pidse.spec.load"), name)
    if name in ("estimate", "compare", "sweep", "Result"):
        return getattr(importlib.import_module("pidse.api"), name)
    if name == "build_graph":
        return importlib.import_module("pidse.model.graph").build_graph
    raise AttributeError(f"module 'pidse' has no attribute {name!r}")
