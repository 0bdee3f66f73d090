#!/bin/sh
# T5 beside PyTorch with this session's last binary: batch 4 (the session's first binary alternated, 3 rounds), then
# batch 16 (the Hugging Face summarisation example's batch; 96 pairs, 2 rounds).
cd /work/main
export PY=$HOME/.cache/tailor/venv-dpo/bin/python WORK=/tmp/t5bench
TAILOR=/tmp/tailor-s18-final BEFORE=/tmp/tailor-s18-base PAIRS=24 BATCH=4 ROUNDS=3 MODES="lora full" \
  OUT=bench-results/zen4-2026-12-06h/t5-b4-final.jsonl sh scripts/bench-t5.sh
TAILOR=/tmp/tailor-s18-final PAIRS=96 BATCH=16 ROUNDS=2 MODES="lora full" \
  OUT=bench-results/zen4-2026-12-06h/t5-b16-final.jsonl sh scripts/bench-t5.sh
echo DONE > /tmp/t5-rounds.done
