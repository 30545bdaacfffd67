"""Architecture specs: load and validate YAML (load.py) and HuggingFace configs (hf.py), canonical architecture
keys (archkey.py), AERO's label notation (labels.py)."""
