#!/bin/sh
# T5 training beside PyTorch (issue #15): Tailor LoRA, PyTorch LoRA, Tailor full, PyTorch full, interleaved, ROUNDS
# times, on PAIRS GadgetGurus pairs (prompt as document, completion as summary) in batches of BATCH pairs; one JSON
# line per run appended to bench-results/t5-train.jsonl (the load average at each start is in it). Model: a random
# t5-small-shaped checkpoint made in $WORK (not committed). BEFORE=path/to/tailor adds a run of that binary before
# each Tailor run (before and after in the same rounds); MODES=lora or MODES=full runs one mode. See
# Tests/reference/bench_t5_train.py for what each side does and counts.
set -eu
cd "$(dirname "$0")/.."
PY=${PY:-$HOME/.cache/tailor/venv-ref/bin/python}
TAILOR=${TAILOR:-$PWD/.build/release/tailor}
WORK=${WORK:-/tmp/t5bench}
PAIRS=${PAIRS:-12}
ROUNDS=${ROUNDS:-2}
BATCH=${BATCH:-1}
MODES=${MODES:-lora full}
FIRST=${FIRST:-1}
OUT=${OUT:-bench-results/t5-train.jsonl}
B=Tests/reference/bench_t5_train.py
[ -f "$WORK/t5-small-random/model.safetensors" ] || "$PY" $B model "$WORK/t5-small-random"
"$PY" $B data ../shared/datasets/gadgetgurus-train.prompt-completion.jsonl "$WORK/pairs.jsonl" 200
commit=$(git rev-parse --short HEAD)
for round in $(seq "$FIRST" "$ROUNDS"); do
  # The sgemm peak of this moment (best of training-shaped products, as `tailor bench train` reports it), to set each
  # side's gflop_per_s against; the better of three calls (a single one read 205 against 298 in the next round).
  peak=$(for i in 1 2 3; do "$TAILOR" bench attention --lengths 64 --reps 1 --json 2>/dev/null |
         sed -n 's/.*"sgemm_peak_gflops":\([0-9.]*\).*/\1/p' | head -1; done | sort -g | tail -1)
  for mode in $MODES; do
    for side in ${BEFORE:+before} tailor torch; do
      case $side in before) args="tailor $BEFORE";; tailor) args="tailor $TAILOR";; *) args=torch;; esac
      line=$("$PY" $B $args "$WORK/t5-small-random" "$WORK/pairs.jsonl" --mode $mode --pairs "$PAIRS" --batch-size "$BATCH" 2>"$WORK/$side-$mode-$BATCH-$round.log" | sed -n 's/^RESULT //p')
      echo "{\"round\": $round, \"commit\": \"$commit\", \"binary\": \"$side\", \"batch\": $BATCH, \"sgemm_peak_gflops\": ${peak:-null}, \"date\": \"$(date -u +%FT%TZ)\", \"result\": $line}" | tee -a "$OUT"
    done
  done
done
