#!/bin/bash
# Prefill and decode beside llama.cpp (llama-cpp-python 0.3.36, venv-ref) at 44, 200 and 1,000 prompt tokens (1,000:
# 16 new tokens, 2 runs, as llama.cpp's context is 1,024), the binaries in BINS and llama.cpp alternated, ROUNDS (3)
# times; then `tailor bench serve` (16 requests over 4 adapters; time to first token while a job trains), each binary
# SERVE_ROUNDS (2) times, alternated.
cd /work/main
D=bench-results/zen3-2026-12-06
BINS=${BINS:-/tmp/tailor-s19-base /tmp/tailor-s19-final}
M=models/SmolLM2-135M-Instruct.Q4_1.gguf
PY=~/.cache/tailor/venv-ref/bin/python
for r in $(seq ${ROUNDS:-3}); do
  for n in 44 200 1000; do
    extra=""; [ $n = 1000 ] && extra="--new-tokens 16 --runs 2"
    for b in $BINS; do
      echo "{\"round\": $r, \"prompt\": $n, \"binary\": \"$b\", \"load\": $(cut -d' ' -f1 /proc/loadavg), \"tailor\": $($b bench generate --model $M --threads 2 --prompt-tokens $n $extra --json 2>/dev/null | tail -1)}" >> $D/generate2.jsonl
    done
    echo "{\"round\": $r, \"prompt\": $n, \"load\": $(cut -d' ' -f1 /proc/loadavg), \"llamacpp\": $($PY Tests/reference/bench_llamacpp.py $M --threads 2 --prompt-tokens $n $extra | tail -1)}" >> $D/generate2.jsonl
  done
done
for r in $(seq ${SERVE_ROUNDS:-2}); do
  for b in $BINS; do
    echo "{\"round\": $r, \"binary\": \"$b\", \"serve\": $($b bench serve --model $M --data ../shared/datasets/gadgetgurus-train.jsonl --json 2>/dev/null | tail -1)}" >> $D/serve2.jsonl
  done
done
echo DONE >> $D/serve2.jsonl
