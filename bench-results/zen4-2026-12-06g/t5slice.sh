#!/bin/sh
cd /work/main
for r in 1 2 3 4; do
  for s in 8192 32128; do
    b=/tmp/tailor-exp; [ $s = before ] && b=/tmp/tailor-before
    line=$(EXP_T5_SLICE=$s ~/.cache/tailor/venv-dpo/bin/python Tests/reference/bench_t5_train.py tailor $b /tmp/t5bench/t5-small-random /tmp/t5bench/pairs.jsonl --mode lora --pairs 48 --batch-size 4 2>/dev/null | sed -n 's/^RESULT //p')
    echo "$s $(echo $line | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["tokens_per_s"], r["seconds_per_step"], r["peak_rss_mib"])')"
  done
done
