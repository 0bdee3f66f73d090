#!/bin/bash
# The fifteenth session's sweep of every #15/#16 goal on the Intel Xeon (family 6 model 207), one binary (BIN), in order.
cd /work/main
D=bench-results/xeon-2026-12-07
B=${BIN:-/tmp/tailor-main}
echo "start $(date +%T)"
BINS="$B" OUT=$D/train-vs-official-peer.log ROUNDS=3 scripts/bench-vs-official-peer.sh
echo "serve $(date +%T)"
for i in 1 2 3; do echo "== $i $(date +%T) load $(cut -d' ' -f1 /proc/loadavg)"; $B bench serve --json 2>/dev/null | tail -1; done > $D/serve.log
echo "generate $(date +%T)"
BINS="$B" ROUNDS=2 bash bench-results/zen3-2026-12-07c/generate-rounds.sh > $D/generate.jsonl 2>&1
echo "job $(date +%T)"
.venv/bin/python Tests/reference/bench_job.py --bin $B --model models/SmolLM2-135M-Instruct.Q4_1.gguf --train ../shared/datasets/gadgetgurus-train.jsonl --validation ../shared/datasets/gadgetgurus-validation.jsonl > $D/job.log 2>&1
echo "gemma $(date +%T)"
ROUNDS=3 BIN=$B bash bench-results/zen3-2026-12-07c/gemma-round.sh > $D/gemma3-train.log 2>&1
echo "full $(date +%T)"
mkdir -p /tmp/full; ROUNDS=3 BIN=$B bash bench-results/zen4-2026-12-06g/train-full-round.sh > $D/train-full.log 2>&1
echo "t5 $(date +%T)"
TAILOR=$B PAIRS=24 BATCH=4 ROUNDS=3 OUT=$D/t5-train.jsonl sh scripts/bench-t5.sh > $D/t5.log 2>&1
echo "done $(date +%T)"
