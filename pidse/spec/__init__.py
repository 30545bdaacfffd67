"""Architecture specs: what a spec is and the checks it passes (definition.py), loading YAML with `extends:` and
`--set` overrides (load.py), HuggingFace configs (hf.py, reading them in hf_config.py, one mapper per family in
hf_families.py), canonical architecture keys (archkey.py), AERO's label notation (labels.py)."""
