#!/bin/bash
# one round: tailor full, torch full
cd /work/main
out=/tmp/full; mkdir -p $out
for r in $(seq ${ROUNDS:-1}); do
  /usr/bin/time -v -o $out/tv-t.txt ${BIN:-/tmp/tailor-before} bench train --training-type full --model models/SmolLM2-135M-Instruct.Q4_1.gguf --data ../shared/datasets/gadgetgurus-train.jsonl --threads 2 --json 2>$out/t.err | tee -a $out/tailor.jsonl
  grep "Maximum resident" $out/tv-t.txt
  /usr/bin/time -v -o $out/tv-p.txt ~/.cache/tailor/venv-dpo/bin/python Tests/reference/bench_full_train.py models/SmolLM2-135M-Instruct.Q4_1.gguf ../shared/datasets/gadgetgurus-train.jsonl --threads 2 2>$out/p.err | tee -a $out/torch.jsonl
  grep "Maximum resident" $out/tv-p.txt
  cat /proc/loadavg
done
