#!/usr/bin/env bash
# Reproduces reports/training.md's runs and plots: AERO's architectures as a tiny GPT (L=4, d=128, H=4, d_ff=512,
# T=128, byte-level vocabulary 256) on the Python standard library, same recipe and seed for every model.
# Usage: bash reports/training/run.sh [STEPS] (default 800); results also go to the perplexity database.
# About 4-15 minutes per model on 2 CPU cores, depending on what else runs; each run is independent of the others
# (the committed ones ran two at a time with --threads 1 and 2; threads change only float rounding).
set -euo pipefail
cd "$(dirname "$0")/../.."
STEPS=${1:-800}
OUT=reports/training/runs
TINY=(--set model.layers=4 --set model.d_model=128 --set model.heads=4 --set model.d_ff=512
      --set model.vocab_size=256 --set model.max_context=128 --set inference.context=128)
run() {  # run NAME SPEC [pidse train options...]
  local name=$1 spec=$2; shift 2
  pidse train "arch_specs/$spec" "${TINY[@]}" --steps "$STEPS" --threads 2 --out "$OUT" --name "$name" "$@"
}
run sm_ln_g        gpt2_sm_ln_g.yaml
run sm_ln_r        gpt2_sm_ln_r.yaml
run sm_g           gpt2_sm_g.yaml
run sm_r           gpt2_sm_r.yaml
run sm             gpt2_sm.yaml
run sm_scffn       gpt2_sm_scffn.yaml
run sm_t_scfuffn   gpt2_sm_scfuffn.yaml --set attention.temperature=learnable --label "SM(t)+ScFuFFN"
run ereg_sm_t_scfuffn gpt2_sm_t_scfuffn_ereg.yaml
# The public code's form of the regulariser (per query position, summed), and a second seed of the unregularised
# model to see how far two seeds of one model lie apart.
run ereg_pq_sm_t_scfuffn gpt2_sm_t_scfuffn_ereg.yaml --entropy-mode per_query --label "EReg(SM(t)+ScFuFFN) per-query"
run sm_t_scfuffn_s1 gpt2_sm_scfuffn.yaml --set attention.temperature=learnable --label "SM(t)+ScFuFFN" --seed 1
pidse entropy $OUT/sm_ln_g $OUT/sm_ln_r $OUT/sm_g $OUT/sm_r $OUT/sm $OUT/sm_scffn $OUT/sm_t_scfuffn \
    $OUT/ereg_sm_t_scfuffn $OUT/ereg_pq_sm_t_scfuffn $OUT/sm_t_scfuffn_s1 --out reports/training --overwrite --format markdown
# Depth check: the naive SM and SM+ScFFN at AERO's 12 layers, everything else as above.
TINY[1]=model.layers=12
run sm_L12       gpt2_sm.yaml
run sm_scffn_L12 gpt2_sm_scffn.yaml
pidse entropy $OUT/sm_L12 $OUT/sm_scffn_L12 --out reports/training/L12 --overwrite --format markdown
