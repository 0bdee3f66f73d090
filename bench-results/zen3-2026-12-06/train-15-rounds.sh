#!/bin/bash
# #15's training goals on the Zen 3, with the session's last binary: full fine-tuning of the default model beside
# PyTorch (Tests/reference/bench_full_train.py, venv-dpo), then T5 at batch 4 (scripts/bench-t5.sh: LoRA and full,
# Tailor then PyTorch), ROUNDS (2) times each.
cd /work/main
D=bench-results/zen3-2026-12-06
BIN=${BIN:-/tmp/tailor-s19-v4}
PY=~/.cache/tailor/venv-dpo/bin/python
for r in $(seq ${ROUNDS:-2}); do
  /usr/bin/time -v -o /tmp/tv-t.txt $BIN bench train --training-type full --model models/SmolLM2-135M-Instruct.Q4_1.gguf --data ../shared/datasets/gadgetgurus-train.jsonl --threads 2 --json 2>/dev/null | tail -1 >> $D/train-full-tailor.jsonl
  grep "Maximum resident" /tmp/tv-t.txt >> $D/train-full-tailor.jsonl
  /usr/bin/time -v -o /tmp/tv-p.txt $PY Tests/reference/bench_full_train.py models/SmolLM2-135M-Instruct.Q4_1.gguf ../shared/datasets/gadgetgurus-train.jsonl --threads 2 2>/dev/null | tail -1 >> $D/train-full-torch.jsonl
  grep "Maximum resident" /tmp/tv-p.txt >> $D/train-full-torch.jsonl
done
PY=$PY TAILOR=$BIN WORK=/tmp/t5bench PAIRS=24 BATCH=4 ROUNDS=${ROUNDS:-2} MODES="lora full" OUT=$D/t5-b4.jsonl sh scripts/bench-t5.sh
echo DONE >> $D/t5-b4.jsonl
