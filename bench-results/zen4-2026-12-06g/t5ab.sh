#!/bin/sh
# alternated Tailor-only T5 runs: $1 rounds, binaries in $BINS, mode $MODE
cd /work/main
for r in $(seq $1); do
  for b in $BINS; do
    line=$(~/.cache/tailor/venv-dpo/bin/python Tests/reference/bench_t5_train.py tailor $b /tmp/t5bench/t5-small-random /tmp/t5bench/pairs.jsonl --mode ${MODE:-lora} --pairs 24 --batch-size 4 2>/dev/null | sed -n 's/^RESULT //p')
    echo "$b $(echo $line | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["tokens_per_s"], r["seconds_per_step"], r["peak_rss_mib"])')"
  done
done
