#!/bin/bash
# Gemma 3 270M LoRA beside PyTorch + PEFT: ROUNDS alternated rounds of Tailor then PyTorch.
cd /work/main
G=models/gemma-3-270m-q4_k_m.gguf D=../shared/datasets/gadgetgurus-train.jsonl
for r in $(seq ${ROUNDS:-3}); do
  /usr/bin/time -v -o /tmp/gt.txt ${BIN:-.build/release/tailor} bench train --model $G --data $D --steps 3 --warmup-steps 1 --threads 2 --json 2>/dev/null | tail -1
  grep "Maximum resident" /tmp/gt.txt
  /usr/bin/time -v -o /tmp/gp.txt ~/.cache/tailor/venv-dpo/bin/python scripts/bench_gemma3_torch.py $G $D --steps 3 --warmup-steps 1 --threads 2 2>/dev/null | tail -1
  grep "Maximum resident" /tmp/gp.txt
  cat /proc/loadavg
done
