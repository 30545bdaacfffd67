"""Measure perplexity: train the model a spec describes, with AERO's training-side ideas, and feed the database.

Needs the `train` extra (`pip install -e '.[train]'`, PyTorch). Modules, one job each:
  model.py    a GPT built from a Spec, covering every axis the spec supports
  layers.py   its parts: norms, rotary positions, the attention variants, activations, FFNs and experts
  entropy.py  attention entropy, AERO's entropy regulariser (Algorithm 1) and the entropy ranges of its figures
  data.py     the offline corpus (Python standard library source), its deterministic split, the byte tokenizer
  loop.py     the training loop: recipe, divergence detection, evaluation, the run folder and the database row
  report.py   `pidse entropy`: head-entropy ranges, layer x head heatmaps, entropy over training, a table
  grid.py     training grids: one task per (architecture, seed, token budget), the driver (retries, resume,
              progress; it stores each run)
  executors.py  where a grid's runs train (worker processes here, spread over the GPUs; Ray tasks) and the
              worker's side of a run
  (the commands are pidse/cli/train.py, grid.py and train_checks.py)
Nothing here imports torch at import time except model.py, layers.py, entropy.py and loop.py.
"""
