#!/bin/bash
# Alternated rounds on the default model, this session's machine (AMD EPYC Zen 3, AVX2): SmolLM2 LoRA with the
# binaries in BINS (default: the build's), then the official peer (../shared/peers/train_torch.py).
# ROUNDS (3), OUT (this directory's train-vs-official-peer.log).
cd /work/main
OUT=${OUT:-bench-results/zen3-2026-12-06/train-vs-official-peer.log}
BINS=${BINS:-$PWD/.build/release/tailor}
for r in $(seq ${ROUNDS:-3}); do
  for b in $BINS; do
    echo "== $b round $r $(date +%T) load $(cut -d' ' -f1 /proc/loadavg)" >> $OUT
    $b bench train --json --steps 8 2>/dev/null | tail -1 >> $OUT
  done
  echo "== peer round $r $(date +%T) load $(cut -d' ' -f1 /proc/loadavg)" >> $OUT
  MODEL_DIR=models STEPS=22 DATA=../shared/datasets ~/.cache/tailor/venv-dpo/bin/python ../shared/peers/train_torch.py 2>&1 | grep -E "^RESULT|^step  2[12]" >> $OUT
done
echo DONE >> $OUT
