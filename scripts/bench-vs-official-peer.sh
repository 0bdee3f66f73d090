#!/bin/bash
# Alternated rounds on the default model: `tailor bench train` (LoRA, 8 measured steps) with each binary in BINS, then
# the official peer (../shared/peers/train_torch.py, PyTorch + PEFT, 22 steps; its venv from
# Tests/reference/setup_dpo_venv.sh), ROUNDS (3) times; the load average beside each run. Appends to OUT.
#   BINS="/tmp/tailor-before /tmp/tailor-after" OUT=bench-results/<session>/train-vs-official-peer.log scripts/bench-vs-official-peer.sh
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:?set OUT to the log to append to}
BINS=${BINS:-$PWD/.build/release/tailor}
for r in $(seq "${ROUNDS:-3}"); do
  for b in $BINS; do
    echo "== $b round $r $(date +%T) load $(cut -d' ' -f1 /proc/loadavg)" >> "$OUT"
    "$b" bench train --json --steps 8 2>/dev/null | tail -1 >> "$OUT"
  done
  echo "== peer round $r $(date +%T) load $(cut -d' ' -f1 /proc/loadavg)" >> "$OUT"
  MODEL_DIR=models STEPS=22 DATA=../shared/datasets ~/.cache/tailor/venv-dpo/bin/python ../shared/peers/train_torch.py 2>&1 |
    grep -E "^RESULT|^step  2[12]" >> "$OUT"
done
echo DONE >> "$OUT"
