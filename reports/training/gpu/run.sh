#!/usr/bin/env bash
# The GPU path of `pidse train`, run once on a lent H200 (reports/training/gpu/README.md says what came out).
#  1. single run, --device cuda: the tiny SM+LN+G of reports/training.md (800 steps) against its CPU result
#  2. a local training grid on the GPU: the 6 baseline-and-ablation specs x seeds 0,1, tiny, 800 steps, 6 workers
#     sharing the one GPU (--device cuda; the local executor trains every worker on cuda:0)
#  3. AERO's shape: GPT-2 small (L=12, d=768, H=12, d_ff=3072, T=128) with the byte vocabulary, the four
#     LayerNorm/activation baselines, $BIG_STEPS steps, 4 workers on the GPU
# Usage: bash reports/training/gpu/run.sh OUTDIR [TINY_STEPS] [BIG_STEPS] [DEVICE] [CORPUS]
# CORPUS: a copy of the standard library reports/training.md trained on (Python 3.11.7's, digest 45554d8d50ac), so
# that the GPU's numbers compare with the CPU's; default: the running Python's standard library.
# Everything goes under OUTDIR (runs, the database, the tables); nothing is written into the checkout.
set -uo pipefail
cd "$(dirname "$0")/../../.."
OUTDIR=$1; TINY_STEPS=${2:-800}; BIG_STEPS=${3:-1500}; DEVICE=${4:-cuda}; CORPUS=${5:-}
mkdir -p "$OUTDIR"
export PIDSE_DB=$OUTDIR/ppl.sqlite PYTHONUNBUFFERED=1
if ! command -v pidse >/dev/null; then  # not installed (the GPU machine): run this checkout's package
  mkdir -p "$OUTDIR/bin"
  printf '#!/bin/sh\nPYTHONPATH=%s${PYTHONPATH:+:$PYTHONPATH} exec python3 -m pidse "$@"\n' "$PWD" > "$OUTDIR/bin/pidse"
  chmod +x "$OUTDIR/bin/pidse"; export PATH=$OUTDIR/bin:$PATH
fi
TINY=(--set model.layers=4 --set model.d_model=128 --set model.heads=4 --set model.d_ff=512
      --set model.vocab_size=256 --set model.max_context=128 --set inference.context=128)
BIG=(--set model.vocab_size=256 --set model.max_context=128 --set inference.context=128)
DATA=(); [ -n "$CORPUS" ] && DATA=(--data "$CORPUS" --dataset python_stdlib)
stamp() { echo "== $(date -u +%T) $*"; }

stamp "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1
python3 -c 'import torch, sys; print("python", sys.version.split()[0], "torch", torch.__version__,
  "cuda", torch.cuda.is_available() and torch.cuda.get_device_name(0))'

stamp "1. single run, --device $DEVICE"
timeout 120 pidse train arch_specs/gpt2_sm_ln_g.yaml "${TINY[@]}" "${DATA[@]}" --steps "$TINY_STEPS" --device "$DEVICE" \
    --out "$OUTDIR/single" --name sm_ln_g
echo "rc=$?"

stamp "2. grid, 6 specs x 2 seeds, --device $DEVICE --workers 6"
timeout 240 pidse train arch_specs/gpt2_sm_ln_g.yaml arch_specs/gpt2_sm_ln_r.yaml arch_specs/gpt2_sm_g.yaml \
    arch_specs/gpt2_sm_r.yaml arch_specs/gpt2_sm.yaml arch_specs/gpt2_sm_scffn.yaml "${TINY[@]}" "${DATA[@]}" \
    --steps "$TINY_STEPS" --seeds 0,1 --device "$DEVICE" --workers 6 --out "$OUTDIR/tiny"
echo "rc=$?"
stamp "2b. the same grid again: resumes, trains nothing"
timeout 60 pidse train arch_specs/gpt2_sm_ln_g.yaml arch_specs/gpt2_sm_ln_r.yaml arch_specs/gpt2_sm_g.yaml \
    arch_specs/gpt2_sm_r.yaml arch_specs/gpt2_sm.yaml arch_specs/gpt2_sm_scffn.yaml "${TINY[@]}" "${DATA[@]}" \
    --steps "$TINY_STEPS" --seeds 0,1 --device "$DEVICE" --workers 6 --out "$OUTDIR/tiny"
echo "rc=$?"

stamp "3. GPT-2 small shape, 4 baselines, $BIG_STEPS steps, --workers 4"
timeout 330 pidse train arch_specs/gpt2_sm_ln_g.yaml arch_specs/gpt2_sm_ln_r.yaml arch_specs/gpt2_sm_g.yaml \
    arch_specs/gpt2_sm_r.yaml "${BIG[@]}" "${DATA[@]}" --steps "$BIG_STEPS" --device "$DEVICE" --workers 4 --out "$OUTDIR/big"
echo "rc=$?"

stamp "tables"
pidse ppl list --dataset python_stdlib --format csv > "$OUTDIR/runs.csv"; cat "$OUTDIR/runs.csv"
pidse entropy "$OUTDIR"/big/* --out "$OUTDIR/big_entropy" --format markdown 2>&1 | head -30
stamp "done"
