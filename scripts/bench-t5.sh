#!/bin/sh
# T5 training beside PyTorch (issue #15): Tailor LoRA, PyTorch LoRA, Tailor full, PyTorch full, interleaved, ROUNDS
# times, on PAIRS GadgetGurus pairs (prompt as document, completion as summary); one JSON line per run appended to
# bench-results/t5-train.jsonl (the load average at each start is in it). Model: a random t5-small-shaped checkpoint
# made in $WORK (not committed). See Tests/reference/bench_t5_train.py for what each side does and counts.
set -eu
cd "$(dirname "$0")/.."
PY=${PY:-$HOME/.cache/tailor/venv-ref/bin/python}
TAILOR=${TAILOR:-$PWD/.build/release/tailor}
WORK=${WORK:-/tmp/t5bench}
PAIRS=${PAIRS:-12}
ROUNDS=${ROUNDS:-2}
FIRST=${FIRST:-1}
OUT=${OUT:-bench-results/t5-train.jsonl}
B=Tests/reference/bench_t5_train.py
[ -f "$WORK/t5-small-random/model.safetensors" ] || "$PY" $B model "$WORK/t5-small-random"
"$PY" $B data ../shared/datasets/gadgetgurus-train.prompt-completion.jsonl "$WORK/pairs.jsonl" 200
commit=$(git rev-parse --short HEAD)
for round in $(seq "$FIRST" "$ROUNDS"); do
  for mode in lora full; do
    for side in tailor torch; do
      if [ $side = tailor ]; then args="tailor $TAILOR"; else args=torch; fi
      line=$("$PY" $B $args "$WORK/t5-small-random" "$WORK/pairs.jsonl" --mode $mode --pairs "$PAIRS" 2>"$WORK/$side-$mode-$round.log" | sed -n 's/^RESULT //p')
      echo "{\"round\": $round, \"commit\": \"$commit\", \"date\": \"$(date -u +%FT%TZ)\", \"result\": $line}" | tee -a "$OUT"
    done
  done
done
