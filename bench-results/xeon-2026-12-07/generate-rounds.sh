#!/bin/bash
# Prefill and decode beside llama.cpp: ROUNDS rounds of (each binary in BINS, then llama-cpp-python), at 200 and 1,000
# prompt tokens, one JSON line each.
cd /work/main
M=models/SmolLM2-135M-Instruct.Q4_1.gguf
for r in $(seq ${ROUNDS:-2}); do
  for p in 200 1000; do
    n=$([ $p = 200 ] && echo 128 || echo 16)
    for b in $BINS; do
      echo "{\"round\": $r, \"prompt\": $p, \"binary\": \"$b\", \"load\": $(cut -d' ' -f1 /proc/loadavg), \"tailor\": $($b bench generate --model $M --threads 2 --prompt-tokens $p --new-tokens $n --runs 3 --json 2>/dev/null | tail -1)}"
    done
    echo "{\"round\": $r, \"prompt\": $p, \"load\": $(cut -d' ' -f1 /proc/loadavg), \"llamacpp\": $(~/.cache/tailor/venv-ref/bin/python Tests/reference/bench_llamacpp.py $M --threads 2 --prompt-tokens $p --new-tokens $n --runs 3 2>/dev/null | tail -1)}"
  done
done
