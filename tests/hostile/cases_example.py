"""A few seed cases (the surfaces' own modules hold the rest)."""
from hostile import Case

CASES = [
    Case("spec-missing-file", ("estimate", "{tmp}/nope.yaml"), needles=("nope.yaml",)),
    Case("spec-not-a-mapping", ("estimate", "{tmp}/s.yaml"), {"s.yaml": "- 1\n- 2\n"}, needles=("s.yaml",)),
    Case("set-unknown-key", ("estimate", "gpt2_sm", "--set", "model.layerz=3"), needles=("model.layerz",)),
]
